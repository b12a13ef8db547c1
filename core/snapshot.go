package core

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/wheel"
)

// This file is a partition's snapshot: its state at a barrier, gathered
// from every shard (a partition's users are spread over all of them by
// user hash), written as bytes, read back, and restored into the shards of
// another run, which may have another number of them.
//
// Who does what: at a barrier each shard goroutine calls the Checkpointer's
// Shard; a Checkpointer that wants snapshots hands the ShardView to a
// Snapshotter there, which copies the shard's users and open carts of each
// partition flat into reused buffers: the only part of a checkpoint the
// engine waits for. In Done, on the merger's goroutine, the Snapshotter
// hands the copies over as a Cut; its owner (the Kafka Consumer's
// checkpoint goroutine) joins them into one Snapshot per partition, sorted
// by user (Cut.Snapshots), EncodeSnapshot writes each one, and Release
// gives the buffers back. Nothing of this runs per event: the cost is per
// barrier, in proportion to the state. A source restores a partition by
// sending its bytes as Records.Restore: a worker decodes them
// (DecodeSnapshot), the sequencer takes the partition's maximum event time
// and next position, and every shard takes the users and carts whose hash
// picks it (shard.restore).

// SnapshotVersion is the version EncodeSnapshot writes. DecodeSnapshot
// reads it and every earlier one.
const SnapshotVersion = 2

// snapshotMagic opens every snapshot.
const snapshotMagic = "CWsn"

// Errors of DecodeSnapshot, wrapped with what exactly is wrong.
var (
	ErrSnapshotMagic     = errors.New("snapshot: bad magic (not a cartwatch snapshot)")
	ErrSnapshotVersion   = errors.New("snapshot: unknown version")
	ErrSnapshotTruncated = errors.New("snapshot: truncated")
	ErrSnapshotChecksum  = errors.New("snapshot: checksum mismatch")
	ErrSnapshotCorrupt   = errors.New("snapshot: corrupt")
)

// Snapshot is one partition's state at a barrier: what a run needs to go
// on with the partition exactly as if it had never stopped.
type Snapshot struct {
	Partition int32
	// Next is the position of the partition's first record after the
	// barrier (Checkpointer.Done's next): the record to resume from.
	Next int64
	// MaxTime is the highest event time of the partition's records (and
	// ticks) so far, math.MinInt64 before any; Watermark is the watermark
	// its carts were last checked against (MaxTime minus the lateness).
	MaxTime, Watermark int64
	// Counters are the partition's tallies, summed over the shards, with
	// its input's counts by type (Views to Others); OpenCarts is not kept
	// (it is only set at the end of input).
	Counters Counters
	// Events and Malformed count the partition's valid and malformed
	// records so far.
	Events, Malformed int64

	users []userRec  // sorted by uid; flags without recUsed
	carts []openCart // open carts sorted by uid; their categories in cats
	cats  []catEnt   // the carts' items by category: each cart's list in a run, in its order
}

// Users returns the number of users with a record in the snapshot.
func (s *Snapshot) Users() int { return len(s.users) }

// OpenCarts returns the number of open carts in the snapshot.
func (s *Snapshot) OpenCarts() int { return len(s.carts) }

// Snapshotter gathers each partition's Snapshot at a barrier, in two
// steps that run in two places. Shard, on each shard goroutine while the
// shard waits, only copies the shard's records of each partition, flat and
// in table order, into buffers reused from one checkpoint to the next: no
// sort, no encoding, and no allocation once the buffers have grown to the
// state's size. Done, on the merger, hands the copies over as a Cut, at
// once; the Cut's owner sorts, merges and encodes them wherever it likes
// (a checkpoint goroutine, off the engine's path) and Releases the Cut, whose
// buffers the next barrier then reuses.
//
// A Checkpointer calls Shard from its own Shard method and Done from its
// Done, with the same arguments. It is safe for concurrent use: the shards
// call Shard at once, and a shard may pass the next barrier before the
// merger is done with this one, so copies are kept by barrier. One set of
// buffers is reused: a barrier whose shards copy while an earlier Cut is
// not Released yet gets new ones (the reuse is for a source that keeps
// one checkpoint in flight at a time; another is slower, never wrong).
type Snapshotter struct {
	mu   sync.Mutex
	free *cutBufs            // the buffers of the last Cut Released; nil: in use or none yet
	open map[uint64]*cutBufs // by barrier: the shards' copies before its Done
}

// cutBufs are one barrier's copies, one shardBuf per shard.
type cutBufs struct {
	shards []*shardBuf
}

// shardBuf is one shard's copy of its part of every partition's state: the
// records of all partitions in three flat lists, each piece a range of
// them. Only shard i writes shards[i], during its Shard call.
type shardBuf struct {
	pieces []piece
	users  []userRec
	carts  []openCart
	cats   []catEnt
	took   time.Duration // how long the copy took (the shard's pause)
}

// piece is one partition's part in one shard: its header in sn, its
// records as ranges of the shardBuf's lists (sn's slices are set from them
// once the copy is done: the lists may move while they grow).
type piece struct {
	sn             Snapshot
	u0, u1, c0, c1 int
	k0, k1         int
}

// Shard copies shard i's part of every partition's state (v) at barrier id.
func (s *Snapshotter) Shard(id uint64, i int, v ShardView) {
	start := time.Now()
	s.mu.Lock()
	if s.open == nil {
		s.open = map[uint64]*cutBufs{}
	}
	cb := s.open[id]
	if cb == nil {
		cb = s.free
		if cb == nil {
			cb = &cutBufs{}
		}
		s.free = nil
		s.open[id] = cb
	}
	for len(cb.shards) <= i {
		cb.shards = append(cb.shards, &shardBuf{})
	}
	b := cb.shards[i]
	s.mu.Unlock()
	b.pieces, b.users, b.carts, b.cats = b.pieces[:0], b.users[:0], b.carts[:0], b.cats[:0]
	// The shard's partitions as ShardView.Partitions lists them, in map
	// order (Snapshots groups the pieces by partition): no list made.
	sh := v.s
	b.copyPart(sh.part, &sh.partState)
	for p, ps := range sh.parts {
		if p != sh.part {
			b.copyPart(p, ps)
		}
	}
	for k := range b.pieces {
		x := &b.pieces[k]
		x.sn.users, x.sn.carts, x.sn.cats = b.users[x.u0:x.u1:x.u1], b.carts[x.c0:x.c1:x.c1], b.cats[x.k0:x.k1:x.k1]
	}
	took := time.Since(start)
	s.mu.Lock() // the copy happens before Done's reads of it
	b.took = took
	s.mu.Unlock()
}

// copyPart appends partition p's records in this shard (ps) to b, flat, in
// the tables' order: each live cart with its category list, renumbered from
// the piece's first category.
func (b *shardBuf) copyPart(p int32, ps *partState) {
	b.pieces = append(b.pieces, piece{sn: Snapshot{Partition: p, MaxTime: ps.maxT, Watermark: ps.w, Counters: ps.cnt,
		Events: ps.rows.events, Malformed: ps.rows.malformed}})
	x := &b.pieces[len(b.pieces)-1]
	x.sn.Counters.Views += ps.rows.views
	x.sn.Counters.Carts += ps.rows.carts
	x.sn.Counters.Purchases += ps.rows.purchases
	x.sn.Counters.Others += ps.rows.others
	x.u0, x.c0, x.k0 = len(b.users), len(b.carts), len(b.cats)
	b.users = slices.Grow(b.users, ps.users.count)
	ps.users.each(func(r *userRec) {
		b.users = append(b.users, *r)
		b.users[len(b.users)-1].flags &^= recUsed
	})
	b.carts = slices.Grow(b.carts, ps.open.count)
	for i := range ps.carts {
		if ps.carts[i].live() {
			b.carts = append(b.carts, ps.wide(uint32(i), &b.cats, x.k0))
		}
	}
	x.u1, x.c1, x.k1 = len(b.users), len(b.carts), len(b.cats)
}

// Done hands over the copies of barrier id as a Cut, with next
// (Checkpointer.Done's: the partitions with a record so far, and their
// next positions). The merger calls Done once every shard has passed the
// barrier, so no copy is missing. It does no work in proportion to the
// state; the Cut's Snapshots does.
func (s *Snapshotter) Done(id uint64, next map[int32]int64) Cut {
	s.mu.Lock()
	defer s.mu.Unlock()
	cb := s.open[id]
	delete(s.open, id)
	for old := range s.open {
		if old < id {
			delete(s.open, old) // a barrier the merger passed without Done (a failing run)
		}
	}
	return Cut{s: s, bufs: cb, next: next}
}

// Cut is one barrier's copies, from Snapshotter.Done until Release: its
// owner alone reads them, from any one goroutine.
type Cut struct {
	s    *Snapshotter
	bufs *cutBufs // nil: no shard copied (no Shard call for the barrier)
	next map[int32]int64
}

// ShardTime is how long the slowest shard took to copy its part: how long
// the barrier paused the engine for the snapshots.
func (c *Cut) ShardTime() time.Duration {
	var d time.Duration
	if c.bufs != nil {
		for _, b := range c.bufs.shards {
			d = max(d, b.took)
		}
	}
	return d
}

// Users returns the number of user records copied, over every partition.
func (c *Cut) Users() int {
	n := 0
	if c.bufs != nil {
		for _, b := range c.bufs.shards {
			n += len(b.users)
		}
	}
	return n
}

// Snapshots returns the snapshot of every partition in next, in partition
// order, each with its next position: each shard's copies are sorted by
// user (one goroutine per shard), then merged. The Snapshots own their
// records (they outlive Release). Call it once, before Release.
func (c *Cut) Snapshots() []*Snapshot {
	if c.bufs == nil {
		return nil
	}
	var wg sync.WaitGroup
	for _, b := range c.bufs.shards {
		wg.Go(func() {
			for k := range b.pieces {
				x := &b.pieces[k].sn
				slices.SortFunc(x.users, func(a, b userRec) int { return cmp.Compare(a.uid, b.uid) })
				slices.SortFunc(x.carts, func(a, b openCart) int { return cmp.Compare(a.uid, b.uid) })
			}
		})
	}
	wg.Wait()
	at := map[int32][]*Snapshot{}
	for _, b := range c.bufs.shards {
		for k := range b.pieces {
			x := &b.pieces[k].sn
			at[x.Partition] = append(at[x.Partition], x)
		}
	}
	out := make([]*Snapshot, 0, len(at))
	for p, pieces := range at {
		if _, ok := c.next[p]; ok {
			out = append(out, joinPieces(p, pieces, c.next))
		}
	}
	slices.SortFunc(out, func(a, b *Snapshot) int { return cmp.Compare(a.Partition, b.Partition) })
	return out
}

// Release gives the Cut's buffers back to the Snapshotter for the next
// barrier. The Cut is not used after.
func (c *Cut) Release() {
	if c.bufs == nil {
		return
	}
	c.s.mu.Lock()
	if c.s.free == nil {
		c.s.free = c.bufs
	}
	c.s.mu.Unlock()
	c.bufs = nil
}

// joinPieces makes partition p's snapshot from its pieces, one per shard.
func joinPieces(p int32, pieces []*Snapshot, next map[int32]int64) *Snapshot {
	sn := &Snapshot{Partition: p, Next: next[p], MaxTime: math.MinInt64, Watermark: math.MinInt64}
	users := make([][]userRec, len(pieces))
	carts := make([][]openCart, len(pieces))
	for i, x := range pieces {
		// Every shard applies every batch of the partition, so all agree
		// on these; max is only the safe choice.
		sn.MaxTime = max(sn.MaxTime, x.MaxTime)
		sn.Watermark = max(sn.Watermark, x.Watermark)
		sn.Counters.Add(&x.Counters)
		sn.Events += x.Events
		sn.Malformed += x.Malformed
		users[i], carts[i] = x.users, x.carts
		// The piece's category lists move behind those before it.
		off := uint32(len(sn.cats))
		for k := range x.carts {
			if x.carts[k].cat != 0 {
				x.carts[k].cat += off
			}
		}
		for k := range x.cats {
			if x.cats[k].next != 0 {
				x.cats[k].next += off
			}
		}
		sn.cats = append(sn.cats, x.cats...)
	}
	sn.Counters.OpenCarts = 0
	sn.users = mergeByUID(users, func(u *userRec) uint64 { return u.uid })
	sn.carts = mergeByUID(carts, func(c *openCart) uint64 { return c.uid })
	return sn
}

// mergeByUID merges runs sorted by uid (a user is in one run only) into
// one, pairwise: log2(len(runs)) passes over the items.
func mergeByUID[T any](runs [][]T, uid func(*T) uint64) []T {
	if len(runs) == 0 {
		return nil
	}
	if len(runs) == 1 {
		return slices.Clone(runs[0]) // the snapshot owns its records
	}
	for len(runs) > 1 {
		var next [][]T
		for i := 0; i < len(runs); i += 2 {
			if i+1 == len(runs) {
				next = append(next, runs[i])
				continue
			}
			a, b := runs[i], runs[i+1]
			m := make([]T, 0, len(a)+len(b))
			for len(a) > 0 && len(b) > 0 {
				if uid(&a[0]) < uid(&b[0]) {
					m, a = append(m, a[0]), a[1:]
				} else {
					m, b = append(m, b[0]), b[1:]
				}
			}
			next = append(next, append(append(m, a...), b...))
		}
		runs = next
	}
	return runs[0]
}

// tally adds batch b's input tallies to the partition's counters (shard 0
// only keeps them: one copy per partition).
func (s *shard) tally(b *batch) {
	s.rows.views += b.cnt.Views
	s.rows.carts += b.cnt.Carts
	s.rows.purchases += b.cnt.Purchases
	s.rows.others += b.cnt.Others
	s.rows.events += b.rows
	s.rows.malformed += b.bad
}

// rowTally is a partition's input tallies (partState.rows).
type rowTally struct{ views, carts, purchases, others, events, malformed int64 }

// restore replaces the state of sn's partition in shard i of n with the
// snapshot's users and open carts that HashUser places in shard i, and its
// watermark; shard 0 takes the partition's counters. The carts' timers are
// put on new timers at their deadlines, all after the watermark.
func (s *shard) restore(sn *Snapshot, i, n int) {
	// The state replaced is forgotten, not retired as a drop's: the
	// snapshot's counters are the partition's history.
	if sn.Partition == s.part {
		s.partState = newPartState(s.userHint)
	}
	delete(s.parts, sn.Partition)
	s.use(sn.Partition)
	s.partState = newPartState(len(sn.users)/n + len(sn.users)/(4*n))
	s.w, s.maxT = sn.Watermark, sn.MaxTime
	if i == 0 {
		s.cnt = sn.Counters
		s.rows = rowTally{views: s.cnt.Views, carts: s.cnt.Carts, purchases: s.cnt.Purchases,
			others: s.cnt.Others, events: sn.Events, malformed: sn.Malformed}
		s.cnt.Views, s.cnt.Carts, s.cnt.Purchases, s.cnt.Others = 0, 0, 0, 0
	}
	for k := range sn.users {
		u := &sn.users[k]
		h := event.HashUser(u.uid)
		if shardOf(h, n) != i {
			continue
		}
		r := s.users.upsert(u.uid, h)
		*r = *u
		r.flags |= recUsed
	}
	for k := range sn.carts {
		c := &sn.carts[k]
		h := event.HashUser(c.uid)
		if shardOf(h, n) != i {
			continue
		}
		s.users.upsert(c.uid, h) // present already (decodeBody checks); cheap
		idx := s.allocCart()
		s.open.put(c.uid, idx, &s.partState)
		s.putCart(idx, c, sn.cats)
		if s.tm == nil {
			s.tm = wheel.New(s.w)
		}
		s.tm.Schedule(s.tn, idx, c.deadline)
	}
}

// decodeRestore decodes a Records.Restore for the worker.
func decodeRestore(r *Records) (*Snapshot, error) {
	sn, err := DecodeSnapshot(r.Restore)
	if err != nil {
		return nil, fmt.Errorf("restoring partition %d: %w", r.Partition, err)
	}
	if sn.Partition != r.Partition {
		return nil, fmt.Errorf("restoring partition %d: the snapshot is of partition %d", r.Partition, sn.Partition)
	}
	return sn, nil
}

// The format (version 2; version 1 lacks what is marked v2), all integers
// little-endian:
//
//	magic     4 bytes "CWsn"
//	version   uvarint
//	partition uvarint (the int32's bits)
//	length    uvarint: bytes of the body
//	checksum  4 bytes: CRC-32C (Castagnoli) of the body
//	body:
//	  next, maxtime, watermark   varint each
//	  counters                   uvarint each, in snapCounters' order
//	  shop counters (v2)         uvarint each, in shopCounters' order; then the
//	                             categories: uvarint count, each a category
//	  users                      uvarint count, then per user in uid order:
//	    uid                      uvarint: the first in full, then the gap to the previous (> 0)
//	    flags                    uvarint: 1 abandoned a cart, 2 purchased, 4 (v2) recovered
//	    spending                 uvarint, if purchased
//	    last abandoned_at        varint, maxtime minus it, if abandoned
//	    its value, its gap (v2)  uvarint, varint (abandoned_at - last_cart_at), if abandoned
//	  carts                      uvarint count, then per open cart in uid order:
//	    uid                      as for users; every cart's user is among the users
//	    last_cart_at             varint, maxtime minus it
//	    first_cart_at            varint, last_cart_at minus it
//	    deadline                 varint, it minus last_cart_at; after the watermark
//	    items, value             uvarint each
//	    products                 uvarint count (<= MaxProducts), then each uvarint
//	    session                  uvarint length (<= event.SessionMax), then the bytes
//	    categories (v2)          uvarint count, then each a category, in the cart's order
//	  a category                 uvarint length (<= event.CategoryMax), the name, items, value (uvarints)
//
// Times are written as differences from the partition's latest, so a month
// of seconds takes one to three bytes, not five. Users and carts are in uid
// order, so the same state gives the same bytes whatever the shard count.
// A varint is zig-zag signed (encoding/binary); the differences wrap as
// int64 arithmetic does, which the reader undoes exactly.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// snapCounters lists the Counters a snapshot keeps, in their order.
func snapCounters(sn *Snapshot) [14]*int64 {
	c := &sn.Counters
	return [...]*int64{&c.Views, &c.Carts, &c.Purchases, &c.Others, &sn.Events, &sn.Malformed,
		&c.CartsOpened, &c.Converted, &c.Abandoned, &c.AbandonedValue, &c.Direct, &c.Late,
		&c.Spending, &c.AbandoningUsers}
}

// maxSnapHeader bounds the header's size: magic, three uvarints, checksum.
const maxSnapHeader = 4 + 3*binary.MaxVarintLen64 + 4

// EncodeSnapshot appends sn in the current format (SnapshotVersion) to dst.
func EncodeSnapshot(dst []byte, sn *Snapshot) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, maxSnapHeader)...)
	bodyAt := len(dst)
	dst = appendBody(dst, sn)
	body := dst[bodyAt:]
	var h [maxSnapHeader]byte
	hdr := append(h[:0], snapshotMagic...)
	hdr = binary.AppendUvarint(hdr, SnapshotVersion)
	hdr = binary.AppendUvarint(hdr, uint64(uint32(sn.Partition)))
	hdr = binary.AppendUvarint(hdr, uint64(len(body)))
	hdr = binary.LittleEndian.AppendUint32(hdr, crc32.Checksum(body, castagnoli))
	// The body was written after room for the longest header: move it
	// down to the real one (one copy per snapshot).
	n := copy(dst[start:], hdr)
	m := copy(dst[start+n:], body)
	return dst[:start+n+m]
}

func appendBody(dst []byte, sn *Snapshot) []byte {
	dst = binary.AppendVarint(dst, sn.Next)
	dst = binary.AppendVarint(dst, sn.MaxTime)
	dst = binary.AppendVarint(dst, sn.Watermark)
	for _, f := range snapCounters(sn) {
		dst = binary.AppendUvarint(dst, uint64(*f))
	}
	for _, f := range shopCounters(&sn.Counters) {
		dst = binary.AppendUvarint(dst, uint64(*f))
	}
	bc := &sn.Counters.ByCategory
	dst = binary.AppendUvarint(dst, uint64(bc.N))
	for k := range bc.N {
		dst = appendCategory(dst, &bc.Names[k], bc.Tallies[k])
	}
	dst = binary.AppendUvarint(dst, uint64(len(sn.users)))
	prev := uint64(0)
	for k := range sn.users {
		u := &sn.users[k]
		dst = binary.AppendUvarint(dst, u.uid-prev)
		prev = u.uid
		dst = binary.AppendUvarint(dst, uint64(u.flags>>1))
		if u.flags&recPurchaser != 0 {
			dst = binary.AppendUvarint(dst, uint64(u.spending))
		}
		if u.flags&recAbandoner != 0 {
			dst = binary.AppendVarint(dst, sn.MaxTime-u.lastAbandoned)
			dst = binary.AppendUvarint(dst, uint64(u.abandonedValue))
			dst = binary.AppendVarint(dst, int64(u.abandonedGap))
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(sn.carts)))
	prev = 0
	for k := range sn.carts {
		c := &sn.carts[k]
		dst = binary.AppendUvarint(dst, c.uid-prev)
		prev = c.uid
		dst = binary.AppendVarint(dst, sn.MaxTime-c.last)
		dst = binary.AppendVarint(dst, c.last-c.first)
		dst = binary.AppendVarint(dst, c.deadline-c.last)
		dst = binary.AppendUvarint(dst, uint64(c.items))
		dst = binary.AppendUvarint(dst, uint64(c.value))
		dst = binary.AppendUvarint(dst, uint64(c.nprod))
		for _, p := range c.products[:c.nprod] {
			dst = binary.AppendUvarint(dst, p)
		}
		dst = binary.AppendUvarint(dst, uint64(c.sessionLen))
		dst = append(dst, c.session[:c.sessionLen]...)
		n := 0
		for k := c.cat; k != 0; k = sn.cats[k-1].next {
			n++
		}
		dst = binary.AppendUvarint(dst, uint64(n))
		for k := c.cat; k != 0; k = sn.cats[k-1].next {
			dst = appendCategory(dst, &sn.cats[k-1].name, sn.cats[k-1].t)
		}
	}
	return dst
}

// shopCounters lists the Counters of version 2 on (docs/semantics.md, rules
// 9 to 11) but ByCategory, in their order.
func shopCounters(c *Counters) (fs [3 + NumDelayBuckets + 2*24 + 4]*int64) {
	n := copy(fs[:], []*int64{&c.Recovered, &c.RecoveredValue, &c.Delay.Sum})
	for i := range c.Delay.Counts {
		fs[n] = &c.Delay.Counts[i]
		n++
	}
	for h := range c.ByHour {
		fs[n], fs[n+1] = &c.ByHour[h].Items, &c.ByHour[h].Value
		n += 2
	}
	copy(fs[n:], []*int64{&c.ByCategory.Unknown.Items, &c.ByCategory.Unknown.Value,
		&c.ByCategory.Other.Items, &c.ByCategory.Other.Value})
	return fs
}

// appendCategory appends a category's name and tally.
func appendCategory(dst []byte, name *CategoryName, t Tally) []byte {
	dst = binary.AppendUvarint(dst, uint64(name.Len))
	dst = append(dst, name.Name[:name.Len]...)
	dst = binary.AppendUvarint(dst, uint64(t.Items))
	return binary.AppendUvarint(dst, uint64(t.Value))
}

// DecodeSnapshot reads a snapshot EncodeSnapshot wrote, of this version or
// an earlier one. Its errors wrap ErrSnapshotMagic, ErrSnapshotVersion,
// ErrSnapshotTruncated, ErrSnapshotChecksum or ErrSnapshotCorrupt and say
// what is wrong. Memory is bounded by len(b): every count is checked
// against the bytes left before anything is allocated for it.
func DecodeSnapshot(b []byte) (*Snapshot, error) {
	if len(b) < len(snapshotMagic) {
		if string(b) == snapshotMagic[:len(b)] {
			return nil, fmt.Errorf("%w: %d bytes, not even the magic", ErrSnapshotTruncated, len(b))
		}
		return nil, fmt.Errorf("%w: starts %q", ErrSnapshotMagic, b)
	}
	if string(b[:4]) != snapshotMagic {
		return nil, fmt.Errorf("%w: starts %q, want %q", ErrSnapshotMagic, b[:4], snapshotMagic)
	}
	d := snapReader{b: b, off: 4, short: ErrSnapshotTruncated}
	version := d.uvarint("version")
	if d.err == nil && (version == 0 || version > SnapshotVersion) {
		return nil, fmt.Errorf("%w %d (this build reads 1 to %d; a newer cartwatch wrote it?)",
			ErrSnapshotVersion, version, SnapshotVersion)
	}
	part := d.uvarint("partition")
	if d.err == nil && part > math.MaxUint32 {
		d.fail("partition %d out of range", part)
	}
	n := d.uvarint("body length")
	if d.err != nil {
		return nil, d.err
	}
	if len(b)-d.off < 4 {
		return nil, fmt.Errorf("%w: header ends at byte %d of %d", ErrSnapshotTruncated, d.off, len(b))
	}
	sum := binary.LittleEndian.Uint32(b[d.off:])
	body := b[d.off+4:]
	switch {
	case uint64(len(body)) < n:
		return nil, fmt.Errorf("%w: body of %d bytes, %d present", ErrSnapshotTruncated, n, len(body))
	case uint64(len(body)) > n:
		return nil, fmt.Errorf("%w: %d bytes after the body of %d", ErrSnapshotCorrupt, uint64(len(body))-n, n)
	}
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, fmt.Errorf("%w: CRC-32C of the body %08x, header says %08x", ErrSnapshotChecksum, got, sum)
	}
	sn := &Snapshot{Partition: int32(uint32(part))}
	if err := decodeBody(body, sn, version); err != nil {
		return nil, fmt.Errorf("partition %d: %w", sn.Partition, err)
	}
	return sn, nil
}

func decodeBody(body []byte, sn *Snapshot, version uint64) error {
	// The body's length and checksum are right: one that ends early was
	// written so, not cut short on the way.
	d := snapReader{b: body, short: ErrSnapshotCorrupt}
	sn.Next = d.varint("next position")
	sn.MaxTime = d.varint("max time")
	sn.Watermark = d.varint("watermark")
	for _, f := range snapCounters(sn) {
		*f = d.count("counter")
	}
	shop := version >= 2
	if shop {
		for _, f := range shopCounters(&sn.Counters) {
			*f = d.count("counter")
		}
		bc := &sn.Counters.ByCategory
		n := d.uvarint("categories")
		if n > MaxCategories {
			d.fail("%d categories, at most %d", n, MaxCategories)
			n = 0
		}
		bc.N = int(n)
		for k := range bc.N {
			bc.Tallies[k] = d.category(&bc.Names[k])
			if k > 0 && bytes.Compare(bc.Names[k-1].bytes(), bc.Names[k].bytes()) >= 0 {
				d.fail("categories not in order at %q", bc.Names[k].bytes())
			}
		}
	}
	// A user takes at least 2 bytes, a cart 9: counts are capped by the
	// bytes left, so a length field cannot make us allocate more.
	nu := d.length("users", 2)
	sn.users = make([]userRec, 0, nu)
	prev := uint64(0)
	for k := 0; k < nu && d.err == nil; k++ {
		u := userRec{uid: d.uid(prev, k, "user id"), lastAbandoned: noAbandon}
		prev = u.uid
		fl := d.uvarint("user flags")
		known := uint64(recAbandoner|recPurchaser) >> 1 // version 1
		if shop {
			known |= uint64(recRecovered) >> 1
		}
		if fl&^known != 0 {
			d.fail("user %d: unknown flags %#x", u.uid, fl)
		}
		u.flags = uint32(fl) << 1
		if u.flags&recPurchaser != 0 {
			u.spending = d.count("spending")
		}
		if u.flags&recAbandoner != 0 {
			u.lastAbandoned = sn.MaxTime - d.varint("last abandoned_at")
			if shop {
				u.abandonedValue = d.count("abandoned value")
				g := d.varint("abandoned gap")
				if g != int64(int32(g)) {
					d.fail("user %d: abandoned gap %d out of range", u.uid, g)
				}
				u.abandonedGap = int32(g)
			}
		}
		sn.users = append(sn.users, u)
	}
	nc := d.length("carts", 9)
	sn.carts = make([]openCart, 0, nc)
	prev = 0
	ui := 0
	for k := 0; k < nc && d.err == nil; k++ {
		c := openCart{uid: d.uid(prev, k, "cart's user id")}
		prev = c.uid
		c.last = sn.MaxTime - d.varint("last_cart_at")
		c.first = c.last - d.varint("first_cart_at")
		c.deadline = c.last + d.varint("deadline")
		c.items = d.count("items")
		c.value = d.count("value")
		np := d.uvarint("products")
		if np > MaxProducts {
			d.fail("cart of user %d: %d products, at most %d", c.uid, np, MaxProducts)
			break
		}
		c.nprod = uint8(np)
		for j := range c.nprod {
			c.products[j] = d.uvarint("product")
		}
		sl := d.uvarint("session length")
		if sl > event.SessionMax || sl > uint64(len(d.b)-d.off) {
			d.fail("cart of user %d: session of %d bytes", c.uid, sl)
			break
		}
		c.sessionLen = uint8(copy(c.session[:], d.b[d.off:d.off+int(sl)]))
		d.off += int(sl)
		if shop {
			// A category takes at least 3 bytes.
			nc := d.length("cart categories", 3)
			for j := range nc {
				if j == 0 {
					c.cat = uint32(len(sn.cats) + 1)
				} else {
					sn.cats[len(sn.cats)-1].next = uint32(len(sn.cats) + 1)
				}
				var e catEnt
				e.t = d.category(&e.name)
				sn.cats = append(sn.cats, e)
			}
		}
		if d.err != nil {
			break
		}
		if c.items < 1 {
			d.fail("cart of user %d has no items", c.uid)
		}
		if c.deadline <= sn.Watermark {
			d.fail("cart of user %d due at %d, not after the watermark %d", c.uid, c.deadline, sn.Watermark)
		}
		for ui < len(sn.users) && sn.users[ui].uid < c.uid {
			ui++
		}
		if ui == len(sn.users) || sn.users[ui].uid != c.uid {
			d.fail("cart of user %d, who has no user record", c.uid)
		}
		sn.carts = append(sn.carts, c)
	}
	if d.err == nil && d.off != len(d.b) {
		d.fail("%d bytes after the carts", len(d.b)-d.off)
	}
	return d.err
}

// snapReader reads a snapshot's fields; the first error sticks, and every
// read after it returns 0.
type snapReader struct {
	b     []byte
	off   int
	err   error
	short error // the error of bytes that end inside a field
}

func (d *snapReader) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrSnapshotCorrupt, fmt.Sprintf(format, args...))
	}
}

func (d *snapReader) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		if n == 0 {
			d.err = fmt.Errorf("%w: ends in the %s at byte %d", d.short, what, d.off)
		} else {
			d.fail("%s at byte %d overflows 64 bits", what, d.off)
		}
		return 0
	}
	d.off += n
	return v
}

func (d *snapReader) varint(what string) int64 {
	u := d.uvarint(what)
	return int64(u>>1) ^ -int64(u&1) // zig-zag, as binary.Varint
}

// category reads a category's name into name, and its tally.
func (d *snapReader) category(name *CategoryName) Tally {
	n := d.uvarint("category length")
	if d.err == nil && (n > event.CategoryMax || n > uint64(len(d.b)-d.off)) {
		d.fail("category of %d bytes", n)
	}
	if d.err != nil {
		return Tally{}
	}
	name.Len = uint8(copy(name.Name[:], d.b[d.off:d.off+int(n)]))
	d.off += int(n)
	return Tally{Items: d.count("category items"), Value: d.count("category value")}
}

// count reads a non-negative int64.
func (d *snapReader) count(what string) int64 {
	v := d.uvarint(what)
	if v > math.MaxInt64 {
		d.fail("%s %d out of range", what, v)
		return 0
	}
	return int64(v)
}

// length reads a count of items of at least min bytes each.
func (d *snapReader) length(what string, min int) int {
	v := d.uvarint(what)
	if d.err == nil && v > uint64((len(d.b)-d.off)/min) {
		d.fail("%d %s in %d bytes", v, what, len(d.b)-d.off)
		return 0
	}
	return int(v)
}

// uid reads item k's user id, given the previous one: the gap must be > 0.
func (d *snapReader) uid(prev uint64, k int, what string) uint64 {
	gap := d.uvarint(what)
	if k > 0 && (gap == 0 || prev+gap < prev) {
		d.fail("%s not increasing after %d", what, prev)
	}
	return prev + gap
}
