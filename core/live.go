package core

import (
	"math"
	"slices"
	"sync"
)

// Live publishes a running engine's figures to other goroutines (a
// /metrics scrape, a dashboard's tick) while the run goes on. Set
// Options.Live to a new Live; nil costs nothing. A Live serves one run at
// a time: a run started with it starts its figures from zero.
//
// The engine publishes per batch, never per event: after each batch a shard
// copies the tallies of the partition it applied into its own slot, and the
// merger copies its event counts into its slot; Snapshot adds the slots up.
// Each slot has its own mutex, padded onto its own cache lines, so a shard
// contends with no other shard, only (briefly) with a Snapshot.
//
// NOTE: a slot copies Counters by value under a mutex rather than keeping
// atomic counters the shards bump as they go: the shards' hot path stays as
// it was (plain adds to a struct they own), and the copy is a few dozen
// words per batch of 64 k events.
type Live struct {
	mu     sync.Mutex // guards the fields below against bind
	shards []*liveShard
	merger *liveMerger
	queues []handoff // per shard, for the queue depth
}

// liveShard is one shard's slot.
type liveShard struct {
	_       [64]byte
	mu      sync.Mutex
	parts   map[int32]livePart
	retired Counters // the tallies of dropped partitions: counters never go back
	_       [64]byte
}

// livePart is one partition's state in one shard, as of its last batch.
type livePart struct {
	cnt  Counters // OpenCarts: the carts open now
	wm   int64    // the watermark the shard applied; math.MinInt64: none yet
	open int64
}

// liveMerger is the merger's slot: what the workers count per batch.
type liveMerger struct {
	_         [64]byte
	mu        sync.Mutex
	cnt       Counters // Views, Carts, Purchases, Others
	events    int64
	malformed int64
	_         [64]byte
}

// LiveFigures is one look at a running engine: the figures of its Summary
// so far, and what only a running engine has.
type LiveFigures struct {
	// Counters are the tallies of every shard and partition so far, the
	// events by type included; OpenCarts is the number of carts open now.
	Counters  Counters
	Events    int64 // valid records
	Malformed int64 // malformed records
	// Partitions holds each partition's watermark (Unix seconds), in
	// partition order: the lowest the shards have applied, the point up
	// to which every deadline of the partition has fired. A partition with
	// no event yet, or dropped, is left out.
	Partitions []LivePartition
	// QueueDepth holds per shard the batches waiting in its hand-off.
	QueueDepth []int
}

// LivePartition is one partition's watermark.
type LivePartition struct {
	Partition int32
	Watermark int64 // Unix seconds
}

// bind makes l the Live of engine e, with one slot per shard.
func (l *Live) bind(e *engine) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.shards = make([]*liveShard, e.nshard)
	for i := range l.shards {
		l.shards[i] = &liveShard{parts: map[int32]livePart{}}
	}
	l.merger = new(liveMerger)
	l.queues = e.toShard
}

// publishPart copies the state of s's current partition into slot i.
func (l *Live) publishPart(i int, s *shard) {
	l.shards[i].set(s.part, &s.partState)
}

// publishAll copies the state of every partition of s into slot i (the
// end of input changes them all).
func (l *Live) publishAll(i int, s *shard) {
	for _, p := range s.partitions() {
		if p == s.part {
			l.publishPart(i, s)
			continue
		}
		l.shards[i].set(p, s.parts[p])
	}
}

// set copies partition p's state ps into the slot. The end of input moves
// the watermark to +inf, which is no time: the slot keeps the last one.
func (sl *liveShard) set(p int32, ps *partState) {
	sl.mu.Lock()
	lp := sl.parts[p]
	lp.cnt, lp.open = ps.cnt, int64(ps.open.count)
	if ps.w != math.MaxInt64 {
		lp.wm = ps.w
	} else if _, ok := sl.parts[p]; !ok {
		lp.wm = math.MinInt64
	}
	sl.parts[p] = lp
	sl.mu.Unlock()
}

// dropPart moves partition p's tallies in slot i to the retired ones: its
// state is gone, its counts stay counted.
func (l *Live) dropPart(i int, p int32) {
	sl := l.shards[i]
	sl.mu.Lock()
	if lp, ok := sl.parts[p]; ok {
		lp.cnt.OpenCarts = 0
		sl.retired.Add(&lp.cnt)
		delete(sl.parts, p)
	}
	sl.mu.Unlock()
}

// publishMerged copies the merger's running counts into its slot.
func (l *Live) publishMerged(sum *Summary, rows *Counters) {
	m := l.merger
	m.mu.Lock()
	m.cnt.Views, m.cnt.Carts, m.cnt.Purchases, m.cnt.Others = rows.Views, rows.Carts, rows.Purchases, rows.Others
	m.events, m.malformed = sum.Events, sum.Malformed
	m.mu.Unlock()
}

// Snapshot returns the figures as the engine has published them so far
// (zero before the run starts; the last ones after it ends). Safe for
// concurrent use with the run and with other Snapshots.
func (l *Live) Snapshot() LiveFigures {
	l.mu.Lock()
	defer l.mu.Unlock()
	var f LiveFigures
	if l.merger == nil {
		return f
	}
	wm := map[int32]int64{}
	for _, sl := range l.shards {
		sl.mu.Lock()
		f.Counters.Add(&sl.retired)
		for p, lp := range sl.parts {
			c := lp.cnt
			c.OpenCarts = lp.open
			f.Counters.Add(&c)
			if w, ok := wm[p]; !ok || lp.wm < w {
				wm[p] = lp.wm
			}
		}
		sl.mu.Unlock()
	}
	m := l.merger
	m.mu.Lock()
	f.Counters.Views, f.Counters.Carts, f.Counters.Purchases, f.Counters.Others = m.cnt.Views, m.cnt.Carts, m.cnt.Purchases, m.cnt.Others
	f.Events, f.Malformed = m.events, m.malformed
	m.mu.Unlock()
	for p, w := range wm {
		if w != math.MinInt64 {
			f.Partitions = append(f.Partitions, LivePartition{Partition: p, Watermark: w})
		}
	}
	slices.SortFunc(f.Partitions, func(a, b LivePartition) int { return int(a.Partition) - int(b.Partition) })
	f.QueueDepth = make([]int, len(l.queues))
	for i, q := range l.queues {
		f.QueueDepth[i] = q.len()
	}
	return f
}
