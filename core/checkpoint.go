package core

// This file is the barrier mechanism the checkpoints of the reliability
// work build on. A source emits a barrier as Records with only Barrier set;
// it travels the pipeline in input order like any batch, so when a shard
// meets it, every record before it has been applied to the shard's state
// and none after: the shards' states at their barriers, with the positions
// the sequencer stamped on it, are one consistent cut of the run.

// Checkpointer is told of each barrier as it passes the engine. One that
// wants each partition's state as bytes hands Shard's arguments to a
// Snapshotter and takes the snapshots from it in Done (snapshot.go).
type Checkpointer interface {
	// Shard is called by shard goroutine i when it reaches barrier id. It
	// may read the shard's state through v during the call only; the shard
	// waits for it.
	Shard(id uint64, i int, v ShardView)
	// Done is called by the merger once every shard has passed barrier id
	// and every output before it has been given to the Sink and flushed.
	// next holds, per partition seen so far, the position of its first
	// record after the barrier.
	Done(id uint64, next map[int32]int64)
}

// ShardView reads one shard's state at a barrier.
type ShardView struct{ s *shard }

// Partitions returns the partitions the shard holds state for, in order.
func (v ShardView) Partitions() []int32 { return v.s.partitions() }

// Part returns partition p's state in the shard; ok is false if it has none.
func (v ShardView) Part(p int32) (st PartView, ok bool) {
	if p == v.s.part {
		return PartView{&v.s.partState}, true
	}
	ps := v.s.parts[p]
	return PartView{ps}, ps != nil
}

// PartView reads one partition's state in one shard.
type PartView struct{ ps *partState }

// OpenCarts returns the number of open carts.
func (v PartView) OpenCarts() int { return v.ps.open.count }

// Users returns the number of users with a record (who carted or bought).
func (v PartView) Users() int { return v.ps.users.count }

// Watermark returns the watermark the partition's state has reached in
// this shard (math.MinInt64 before any).
func (v PartView) Watermark() int64 { return v.ps.w }

// Counters returns the partition's tallies in this shard.
func (v PartView) Counters() Counters { return v.ps.cnt }
