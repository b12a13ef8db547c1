package wheel

import (
	"fmt"
	"math/bits"
)

const (
	slotBits  = 6
	numSlots  = 1 << slotBits // slots per level: one uint64 occupancy bitmap each
	slotMask  = numSlots - 1
	numLevels = 8
	// levelBits is how many low key bits the levels resolve; a key that
	// differs from now above them goes to the overflow list.
	levelBits = slotBits * numLevels

	overflowBucket = numLevels * numSlots
	numBuckets     = overflowBucket + 1

	signFlip = uint64(1) << 63

	// A link is a node index + 1, a bucket's sentinel, or 0 (no link: the
	// node is not on the wheel). The sentinels take the top numBuckets
	// values, so a node's neighbour on either side is either another node
	// or its own bucket, and unlinking needs no bucket number in the node.
	sentinel = ^uint32(0) - numBuckets + 1
	// MaxNodes is the number of nodes a slab may hold: every index + 1
	// stays below the sentinels.
	MaxNodes = int(sentinel) - 1
)

// Node is a timer: the wheel's part of one record of the caller's slab,
// 12 bytes, no pointers. The zero Node is not scheduled. A node is named
// by its index in the slab, so a caller's record needs no handle and the
// wheel no slab of its own: the caller keeps a []Node beside its records
// (the same index for both) and passes it to every call, as it may have
// moved since the last (a slab grown by append).
//
// NOTE: a scheduled node keeps only its deadline's low 32 bits (lo): its
// deadline is less than 2^32 ticks after Now() (136 years of seconds) and
// never before it, so Now() gives the rest. A deadline farther out, or
// already past when scheduled, is a far node: lo is farLo and its key is
// in the wheel's far map (the one allocation, for timers a stream of
// events never sets). Off the wheel, next holds the high 32 bits.
type Node struct {
	lo   uint32 // the deadline's key's low 32 bits, or farLo (then maybe in Wheel.far)
	next uint32 // towards older timers in the bucket (the tail), or its sentinel; off: the key's high 32 bits
	prev uint32 // towards newer timers (the head), or its sentinel; 0: not scheduled
}

// farLo marks a node whose key may be in Wheel.far: a near node's low 32
// bits may be farLo too, and then the map has no entry for it.
const farLo = ^uint32(0)

// Scheduled reports whether the node is on a wheel.
func (n *Node) Scheduled() bool { return n.prev != 0 }

// bucket is a doubly linked list of nodes. Schedule pushes at head (newest);
// firing and cascading take from tail (oldest), so equal deadlines leave a
// bucket in the order they entered it. An empty bucket's head and tail are
// its own sentinel.
type bucket struct {
	head, tail uint32
}

// Wheel is a hierarchical timing wheel over integer ticks whose timers are
// the caller's Nodes. The zero value is not usable; call New. A Wheel is
// not safe for concurrent use.
type Wheel struct {
	now   uint64 // current tick in key space (see key)
	live  int
	ovMin uint64 // lower bound of the smallest key in the overflow list
	// next is a lower bound of the first key at which Advance has work (a
	// level-0 tick to fire, or a slot or the overflow list to cascade):
	// Advance to an earlier target only moves now.
	next    uint64
	far     map[uint32]uint64 // the keys of the far nodes (Node)
	bitmap  [numLevels]uint64
	buckets [numBuckets]bucket
}

// key maps an int64 tick onto uint64 so that unsigned order equals signed
// order; the level arithmetic then needs no special case for negative time.
func key(t int64) uint64 { return uint64(t) ^ signFlip }

func unkey(k uint64) int64 { return int64(k ^ signFlip) }

func sent(b uint16) uint32 { return sentinel + uint32(b) }

// New returns an empty wheel whose current time is now.
func New(now int64) *Wheel {
	w := &Wheel{now: key(now), next: ^uint64(0)}
	for b := range w.buckets {
		w.buckets[b] = bucket{sent(uint16(b)), sent(uint16(b))}
	}
	return w
}

// Len returns the number of scheduled nodes.
func (w *Wheel) Len() int { return w.live }

// Now returns the wheel's current time: the last Advance target.
func (w *Wheel) Now() int64 { return unkey(w.now) }

// Deadline returns the deadline node i was last scheduled at, whether or
// not it is still scheduled (math.MinInt64 for a node never scheduled).
func (w *Wheel) Deadline(nodes []Node, i uint32) int64 {
	n := &nodes[i]
	if n.prev == 0 {
		return unkey(uint64(n.next)<<32 | uint64(n.lo))
	}
	return unkey(w.keyOf(nodes, i))
}

// keyOf returns the key of node i, which is scheduled.
func (w *Wheel) keyOf(nodes []Node, i uint32) uint64 {
	lo := nodes[i].lo
	if lo == farLo {
		if k, ok := w.far[i]; ok {
			return k
		}
	}
	return w.now + uint64(lo-uint32(w.now))
}

// Schedule puts node i of nodes on the wheel at deadline, moving it if it
// is scheduled already. For tie order a move counts as a new scheduling:
// the node fires after every node with the same deadline that was
// scheduled before it. A deadline at or before Now() fires at the next
// Advance, after every node already due, as if it were due at Now(); its
// Deadline stays as given. O(1); it allocates only for a deadline 2^32
// ticks or more after Now(), or before it.
//
// i must be below MaxNodes, and a node must be on one wheel at most.
func (w *Wheel) Schedule(nodes []Node, i uint32, deadline int64) {
	n := &nodes[i]
	if n.prev != 0 {
		w.unlink(nodes, i)
		if n.lo == farLo {
			delete(w.far, i)
		}
	} else {
		if i >= uint32(MaxNodes) {
			panic(fmt.Sprintf("wheel: node %d past the limit of %d", i, MaxNodes))
		}
		w.live++
	}
	k := key(deadline)
	if k-w.now < 1<<32 {
		n.lo = uint32(k)
		w.place(nodes, i, k)
		return
	}
	w.scheduleFar(nodes, i, k)
}

// scheduleFar places node i at key k, 2^32 or more after w.now or before
// it (the difference wraps).
func (w *Wheel) scheduleFar(nodes []Node, i uint32, k uint64) {
	n := &nodes[i]
	if w.far == nil {
		w.far = map[uint32]uint64{}
	}
	w.far[i] = k
	n.lo = farLo
	w.place(nodes, i, max(k, w.now))
}

// off marks node i, just taken off the wheel, as not scheduled, keeping
// its key.
func (w *Wheel) off(nodes []Node, i uint32) {
	n := &nodes[i]
	if n.lo == farLo {
		w.offFar(nodes, i)
		return
	}
	n.next, n.prev = uint32((w.now+uint64(n.lo-uint32(w.now)))>>32), 0
}

func (w *Wheel) offFar(nodes []Node, i uint32) {
	k := w.keyOf(nodes, i)
	delete(w.far, i)
	nodes[i].lo, nodes[i].next, nodes[i].prev = uint32(k), uint32(k>>32), 0
}

// Skip moves the wheel to now and returns true if that fires and cascades
// nothing; otherwise it returns false, changing nothing, and the caller
// calls Advance. It is one compare, inlined.
//
// NOTE: the engine advances before nearly every cart and purchase, and
// most advances have nothing to do: this test in the caller replaces the
// bitmap walk of each (-41 % instructions in Advance, cachegrind
// BenchmarkShard/extend=false) and the call (Advance, which a call to
// another function makes too costly to inline, does it first too).
func (w *Wheel) Skip(now int64) bool {
	k := key(now)
	if k >= w.next {
		return false
	}
	if k > w.now { // else before Now(): nothing to do
		w.now = k
	}
	return true
}

// Cancel takes node i off the wheel and reports whether it was on it; its
// Deadline is kept. O(1).
func (w *Wheel) Cancel(nodes []Node, i uint32) bool {
	if nodes[i].prev == 0 {
		return false
	}
	w.cancel(nodes, i)
	return true
}

func (w *Wheel) cancel(nodes []Node, i uint32) {
	w.unlink(nodes, i)
	w.off(nodes, i)
	w.live--
}

// Advance moves the wheel to now and appends to fired the index of every
// node whose deadline is at or before now, in deadline order, ties in
// scheduling order, taking them off the wheel (their Deadline is kept). If
// now is before Now(), Advance does nothing. Skipping idle time costs
// O(levels) through the occupancy bitmaps, however many ticks pass.
func (w *Wheel) Advance(nodes []Node, now int64, fired []uint32) []uint32 {
	target := key(now)
	if target < w.now || w.Skip(now) {
		return fired
	}
	for {
		// Level 0 slots hold exactly one tick each, and every occupied one
		// is at or after now within now's 64-tick block: the lowest set bit
		// is the next tick due.
		if m := w.bitmap[0]; m != 0 {
			t := w.now&^slotMask | uint64(bits.TrailingZeros64(m))
			if t > target {
				w.next = t
				break
			}
			w.now = t
			fired = w.fire(nodes, uint16(t&slotMask), fired)
			continue
		}
		l := 1
		for l < numLevels && w.bitmap[l] == 0 {
			l++
		}
		if l < numLevels {
			// Every occupied slot at level l lies strictly after now's slot
			// there, and all lower levels are empty, so the lowest one is
			// the next range that holds anything.
			shift := uint(l * slotBits)
			s := uint64(bits.TrailingZeros64(w.bitmap[l]))
			start := w.now&^(1<<(shift+slotBits)-1) | s<<shift
			if start > target {
				w.next = start
				break
			}
			w.now = start
			w.cascade(nodes, uint16(l*numSlots)+uint16(s))
			continue
		}
		if w.buckets[overflowBucket].tail == sent(overflowBucket) {
			w.next = ^uint64(0)
			break
		}
		start := w.ovMin &^ (1<<levelBits - 1)
		if start > target {
			w.next = start
			break
		}
		w.now = start
		w.cascade(nodes, overflowBucket)
	}
	// Nothing is due in (w.now, target], so every timer keeps its place:
	// target shares with w.now all the key bits above each timer's level.
	w.now = target
	return fired
}

// fire takes every node off the level-0 bucket b, oldest first, appending
// them to fired.
func (w *Wheel) fire(nodes []Node, b uint16, fired []uint32) []uint32 {
	s := sent(b)
	hi := uint32(w.now >> 32) // a near node's key is w.now
	for v := w.buckets[b].tail; v != s; {
		i := v - 1
		n := &nodes[i]
		fired = append(fired, i)
		v = n.prev
		if n.lo != farLo {
			n.next, n.prev = hi, 0
		} else {
			w.offFar(nodes, i)
		}
		w.live--
	}
	w.buckets[b] = bucket{s, s}
	w.bitmap[0] &^= 1 << (b & slotMask)
	return fired
}

// cascade re-files every node of bucket b (a level >= 1 slot whose range
// now has reached, or the overflow list) relative to the new now, oldest
// first, so equal deadlines keep their order in the lower buckets.
func (w *Wheel) cascade(nodes []Node, b uint16) {
	s := sent(b)
	v := w.buckets[b].tail
	w.buckets[b] = bucket{s, s}
	if b < overflowBucket {
		w.bitmap[b>>slotBits] &^= 1 << (b & slotMask)
	} else {
		w.ovMin = ^uint64(0)
	}
	for v != s {
		older := nodes[v-1].prev
		// Only level 0 ever holds a clamped past deadline, so here the
		// node's key is the effective one and is >= w.now.
		w.place(nodes, v-1, w.keyOf(nodes, v-1))
		v = older
	}
}

// levelOf maps bits.Len64(key ^ now) to the level a key is filed on: the
// highest 6-bit group in which key and now differ; numLevels means overflow.
// A table lookup replaces a division on the Schedule path.
var levelOf = func() (t [65]uint8) {
	for n := range t {
		t[n] = uint8(min(max(n-1, 0)/slotBits, numLevels))
	}
	return t
}()

// place files node i under key k (>= w.now) at the head of its bucket.
func (w *Wheel) place(nodes []Node, i uint32, k uint64) {
	l := uint(levelOf[bits.Len64(k^w.now)])
	// Advance has work at this key's level-0 tick, or where the slot (or
	// the overflow list) it goes to starts.
	if st := k &^ (1<<(l*slotBits) - 1); st < w.next {
		w.next = st
	}
	var b uint16
	if l >= numLevels {
		if w.buckets[overflowBucket].head == sent(overflowBucket) || k < w.ovMin {
			w.ovMin = k
		}
		b = overflowBucket
	} else {
		s := uint(k>>(l*slotBits)) & slotMask
		b = uint16(l<<slotBits | s)
		w.bitmap[l] |= 1 << s
	}
	n := &nodes[i]
	bk := &w.buckets[b]
	h := bk.head
	n.prev, n.next = sent(b), h
	bk.head = i + 1
	if h >= sentinel {
		bk.tail = i + 1
	} else {
		nodes[h-1].prev = i + 1
	}
}

// unlink takes node i out of its bucket, leaving its links for the caller.
func (w *Wheel) unlink(nodes []Node, i uint32) {
	n := &nodes[i]
	p, x := n.prev, n.next
	if p >= sentinel {
		w.buckets[p-sentinel].head = x
	} else {
		nodes[p-1].next = x
	}
	if x >= sentinel {
		w.buckets[x-sentinel].tail = p
		// Both neighbours are the bucket's sentinel: it is empty now.
		if p == x && p-sentinel < overflowBucket {
			b := p - sentinel
			w.bitmap[b>>slotBits] &^= 1 << (b & slotMask)
		}
	} else {
		nodes[x-1].prev = p
	}
}
