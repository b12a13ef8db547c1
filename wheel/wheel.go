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

	nilIdx     = ^uint32(0) // end of a list
	freeBucket = ^uint16(0) // bucket of a slab entry that holds no timer
	signFlip   = uint64(1) << 63
	// maxNodes keeps every index below nilIdx and every handle's low half non-zero.
	maxNodes = int(nilIdx) - 1
)

// Handle names one scheduled timer. The zero Handle is never issued, so it
// can mean "no timer". A Handle goes stale when its timer fires or is
// cancelled; the wheel then rejects it, even after its slab entry is reused.
type Handle uint64

// node is one slab entry. It holds no pointers, so the garbage collector
// never scans the slab, and it is 32 bytes: two timers per cache line.
type node struct {
	deadline int64  // as given by the caller; reported to fire unchanged
	payload  uint64 // opaque to the wheel
	next     uint32 // towards older timers in the bucket; free-list link when free
	prev     uint32 // towards newer timers in the bucket
	gen      uint32 // bumped on every release so stale handles stop matching
	bucket   uint16 // level*numSlots+slot, overflowBucket, or freeBucket
}

// bucket is a doubly linked list of timers. Schedule pushes at head (newest);
// firing and cascading take from tail (oldest), so equal deadlines leave a
// bucket in the order they entered it.
type bucket struct {
	head, tail uint32
}

// Wheel is a hierarchical timing wheel over integer ticks. The zero value is
// not usable; call New. A Wheel is not safe for concurrent use.
type Wheel struct {
	nodes  []node
	free   uint32 // head of the free list threaded through node.next
	now    uint64 // current tick in key space (see key)
	live   int
	firing bool   // inside Advance: a nested Advance is ignored
	ovMin  uint64 // lower bound of the smallest key in the overflow list
	// next is a lower bound of the first key at which Advance has work (a
	// level-0 tick to fire, or a slot or the overflow list to cascade):
	// Advance to an earlier target only moves now.
	next    uint64
	bitmap  [numLevels]uint64
	buckets [numBuckets]bucket
}

// key maps an int64 tick onto uint64 so that unsigned order equals signed
// order; the level arithmetic then needs no special case for negative time.
func key(t int64) uint64 { return uint64(t) ^ signFlip }

func unkey(k uint64) int64 { return int64(k ^ signFlip) }

// New returns an empty wheel whose current time is now.
func New(now int64) *Wheel {
	w := &Wheel{free: nilIdx, now: key(now), next: ^uint64(0)}
	for i := range w.buckets {
		w.buckets[i] = bucket{nilIdx, nilIdx}
	}
	return w
}

// Grow makes room for n more timers without further slab growth.
func (w *Wheel) Grow(n int) {
	if n > 0 && cap(w.nodes)-len(w.nodes) < n {
		w.growTo(len(w.nodes) + n)
	}
}

func (w *Wheel) growTo(want int) {
	if want > maxNodes {
		panic(fmt.Sprintf("wheel: %d timers exceed the slab limit of %d", want, maxNodes))
	}
	c := max(2*cap(w.nodes), want, 64)
	c = min(c, maxNodes)
	nn := make([]node, len(w.nodes), c)
	copy(nn, w.nodes)
	w.nodes = nn
}

// Len returns the number of live (scheduled, not yet fired or cancelled) timers.
func (w *Wheel) Len() int { return w.live }

// Now returns the wheel's current time: the last Advance target, or inside
// a fire callback the deadline tick being fired.
func (w *Wheel) Now() int64 { return unkey(w.now) }

// Schedule adds a timer that fires at deadline with payload and returns its
// handle. A deadline at or before Now() fires at the next Advance, after
// every timer already due, as if it were due at Now(); fire still receives
// the deadline as given. O(1); it allocates only when the slab doubles.
func (w *Wheel) Schedule(deadline int64, payload uint64) Handle {
	i := w.alloc()
	n := &w.nodes[i]
	n.deadline = deadline
	n.payload = payload
	w.place(i, max(key(deadline), w.now))
	w.live++
	return Handle(uint64(n.gen)<<32 | uint64(i+1))
}

// Reschedule moves a live timer to deadline, keeping its handle and payload.
// For tie order it counts as newly scheduled: it fires after every timer with
// the same deadline that was scheduled or rescheduled before it. It returns
// false, changing nothing, if h is stale or unknown. O(1).
func (w *Wheel) Reschedule(h Handle, deadline int64) bool {
	i, ok := w.lookup(h)
	if !ok {
		return false
	}
	w.unlink(i)
	w.nodes[i].deadline = deadline
	w.place(i, max(key(deadline), w.now))
	return true
}

// Cancel removes a live timer. It returns false, changing nothing, if h is
// stale or unknown. O(1).
func (w *Wheel) Cancel(h Handle) bool {
	i, ok := w.lookup(h)
	if !ok {
		return false
	}
	w.unlink(i)
	w.release(i)
	w.live--
	return true
}

// Advance moves the wheel to now and calls fire for every timer whose
// deadline is at or before now, in deadline order, ties in scheduling order.
// A timer's handle is already stale when fire sees it.
//
// fire may call Schedule, Reschedule and Cancel on this wheel: a timer it
// schedules with a deadline at or before now fires within this same Advance
// (one due at or before the tick being fired goes after the timers already
// due at that tick), and one it cancels before its turn does not fire. A
// nested Advance from inside fire returns at once and does nothing.
//
// fire must not be nil when anything can be due. If now is before Now(),
// Advance does nothing. Skipping idle time costs
// O(levels) through the occupancy bitmaps, however many ticks pass.
func (w *Wheel) Advance(now int64, fire func(deadline int64, payload uint64)) {
	target := key(now)
	if target < w.now || w.firing {
		return
	}
	if target < w.next {
		// NOTE: the engine advances before nearly every cart and purchase,
		// and most advances have nothing to fire or cascade: this test
		// replaces the bitmap walk of each (Advance -41 % instructions,
		// cachegrind BenchmarkShard/extend=false).
		w.now = target
		return
	}
	w.firing = true
	// A panicking fire must not leave the wheel refusing every later Advance.
	defer func() { w.firing = false }()
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
			w.fireBucket(uint16(t&slotMask), fire)
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
			w.cascade(uint16(l*numSlots) + uint16(s))
			continue
		}
		if w.buckets[overflowBucket].tail == nilIdx {
			w.next = ^uint64(0)
			break
		}
		start := w.ovMin &^ (1<<levelBits - 1)
		if start > target {
			w.next = start
			break
		}
		w.now = start
		w.cascade(overflowBucket)
	}
	// Nothing is due in (w.now, target], so every timer keeps its place:
	// target shares with w.now all the key bits above each timer's level.
	w.now = target
}

// fireBucket fires the level-0 bucket b oldest first, re-reading the bucket
// after each call because fire may add to it, cancel from it or grow the slab.
func (w *Wheel) fireBucket(b uint16, fire func(int64, uint64)) {
	for {
		bk := &w.buckets[b]
		i := bk.tail
		if i == nilIdx {
			return
		}
		// Pop the oldest entry: it has no older neighbour (next).
		n := &w.nodes[i]
		if p := n.prev; p == nilIdx {
			bk.head, bk.tail = nilIdx, nilIdx
			w.bitmap[0] &^= 1 << (b & slotMask)
		} else {
			bk.tail = p
			w.nodes[p].next = nilIdx
		}
		d, p := n.deadline, n.payload
		w.release(i)
		w.live--
		fire(d, p)
	}
}

// cascade re-files every timer of bucket b (a level >= 1 slot whose range
// now has reached, or the overflow list) relative to the new now, oldest
// first, so equal deadlines keep their order in the lower buckets.
func (w *Wheel) cascade(b uint16) {
	i := w.buckets[b].tail
	w.buckets[b] = bucket{nilIdx, nilIdx}
	if b < overflowBucket {
		w.bitmap[b>>slotBits] &^= 1 << (b & slotMask)
	} else {
		w.ovMin = ^uint64(0)
	}
	for i != nilIdx {
		n := &w.nodes[i]
		older := n.prev
		// Only level 0 ever holds a clamped past deadline, so here the
		// caller's deadline is the effective one and is >= w.now.
		w.place(i, key(n.deadline))
		i = older
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

// place files slab entry i under key k (>= w.now) at the head of its bucket.
func (w *Wheel) place(i uint32, k uint64) {
	l := uint(levelOf[bits.Len64(k^w.now)])
	// Advance has work at this key's level-0 tick, or where the slot (or
	// the overflow list) it goes to starts.
	if st := k &^ (1<<(l*slotBits) - 1); st < w.next {
		w.next = st
	}
	if l >= numLevels {
		w.placeOverflow(i, k)
		return
	}
	s := uint(k>>(l*slotBits)) & slotMask
	b := uint16(l<<slotBits | s)
	w.bitmap[l] |= 1 << s
	w.push(b, i)
}

func (w *Wheel) placeOverflow(i uint32, k uint64) {
	if w.buckets[overflowBucket].head == nilIdx || k < w.ovMin {
		w.ovMin = k
	}
	w.push(overflowBucket, i)
}

func (w *Wheel) push(b uint16, i uint32) {
	n := &w.nodes[i]
	bk := &w.buckets[b]
	h := bk.head
	n.bucket = b
	n.prev = nilIdx
	n.next = h
	bk.head = i
	if h == nilIdx {
		bk.tail = i
	} else {
		w.nodes[h].prev = i
	}
}

// unlink takes slab entry i out of its bucket.
func (w *Wheel) unlink(i uint32) {
	n := &w.nodes[i]
	bk := &w.buckets[n.bucket]
	if n.prev == nilIdx {
		bk.head = n.next
	} else {
		w.nodes[n.prev].next = n.next
	}
	if n.next == nilIdx {
		bk.tail = n.prev
	} else {
		w.nodes[n.next].prev = n.prev
	}
	if bk.head == nilIdx {
		w.emptied(n.bucket)
	}
}

// emptied clears the occupancy bit of bucket b, which just became empty.
func (w *Wheel) emptied(b uint16) {
	if b < overflowBucket {
		w.bitmap[b>>slotBits] &^= 1 << (b & slotMask)
	}
}

// alloc takes a slab entry, from the free list if it can (the fast path
// stays small enough to inline).
func (w *Wheel) alloc() uint32 {
	if i := w.free; i != nilIdx {
		w.free = w.nodes[i].next
		return i
	}
	return w.allocSlow()
}

func (w *Wheel) allocSlow() uint32 {
	if len(w.nodes) == cap(w.nodes) {
		w.growTo(len(w.nodes) + 1)
	}
	w.nodes = w.nodes[:len(w.nodes)+1]
	return uint32(len(w.nodes) - 1)
}

// release returns slab entry i to the free list and invalidates its handle.
// The generation is 32 bits: a handle kept across 2^32 reuses of one entry
// would match again, far beyond any timer's lifetime in practice.
func (w *Wheel) release(i uint32) {
	n := &w.nodes[i]
	n.gen++
	n.bucket = freeBucket
	n.next = w.free
	w.free = i
}

func (w *Wheel) lookup(h Handle) (uint32, bool) {
	i := uint32(h) - 1
	if uint64(i) >= uint64(len(w.nodes)) {
		return 0, false
	}
	n := &w.nodes[i]
	if n.gen != uint32(h>>32) || n.bucket == freeBucket {
		return 0, false
	}
	return i, true
}
