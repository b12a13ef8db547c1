package core

import "math/bits"

// timers is the timing wheel of one partition's open carts in a shard:
// wheel.Wheel's hierarchical wheel (8 levels of 64 slots over the deadline's
// bits, occupancy bitmaps, an overflow list, the same Advance), with the
// carts themselves as its nodes. A cart's bucket links (tnext, tprev,
// tbucket: 10 bytes) are in its cartRec and its deadline is the cart's, so a
// timer costs no slab entry of its own: wheel.Wheel's node (32 bytes) and
// the cart's handle (8) took 40 bytes a cart.
//
// NOTE: it keeps no tie order: a shard sorts the carts fired by one
// advance into (deadline, user_id) order (shard.cartOrder), so only which
// carts fire matters, and that is every timer whose deadline is at or
// before the target. Every method takes the slab its indices name.
type timers struct {
	now   uint64 // current tick in key space (wheel's key)
	live  int
	ovMin uint64 // lower bound of the smallest key in the overflow list
	// next is a lower bound of the first key at which advance has work:
	// advancing to an earlier target only moves now.
	next    uint64
	bitmap  [tLevels]uint64
	buckets [tBuckets]tBucket
}

const (
	tSlotBits  = 6
	tSlots     = 1 << tSlotBits
	tSlotMask  = tSlots - 1
	tLevels    = 8
	tLevelBits = tSlotBits * tLevels
	tOverflow  = tLevels * tSlots
	tBuckets   = tOverflow + 1
	tNil       = ^uint32(0)
	tSignFlip  = uint64(1) << 63
)

// tBucket is a doubly linked list of carts; place pushes at head.
type tBucket struct{ head, tail uint32 }

// tKey maps an int64 deadline onto uint64 so that unsigned order equals
// signed order.
func tKey(t int64) uint64 { return uint64(t) ^ tSignFlip }

// tLevelOf maps bits.Len64(key ^ now) to the level a key is filed on;
// tLevels means overflow.
var tLevelOf = func() (t [65]uint8) {
	for n := range t {
		t[n] = uint8(min(max(n-1, 0)/tSlotBits, tLevels))
	}
	return t
}()

func newTimers(now int64) *timers {
	w := &timers{now: tKey(now), next: ^uint64(0)}
	for i := range w.buckets {
		w.buckets[i] = tBucket{tNil, tNil}
	}
	return w
}

// schedule puts cart i, which has no timer, at its deadline (after now).
func (w *timers) schedule(carts []cartRec, i uint32) {
	carts[i].flags |= cartTimer
	w.place(carts, i, max(tKey(carts[i].deadline), w.now))
	w.live++
}

// reschedule moves cart i's timer to its deadline, which changed.
func (w *timers) reschedule(carts []cartRec, i uint32) {
	w.unlink(carts, i)
	w.place(carts, i, max(tKey(carts[i].deadline), w.now))
}

// cancel removes cart i's timer.
func (w *timers) cancel(carts []cartRec, i uint32) {
	w.unlink(carts, i)
	carts[i].flags &^= cartTimer
	w.live--
}

// advance moves the wheel to now and appends to fired every cart whose
// deadline is at or before it, taking their timers off.
func (w *timers) advance(carts []cartRec, now int64, fired []uint32) []uint32 {
	target := tKey(now)
	if target < w.now {
		return fired
	}
	if target < w.next {
		w.now = target
		return fired
	}
	for {
		if m := w.bitmap[0]; m != 0 {
			t := w.now&^tSlotMask | uint64(bits.TrailingZeros64(m))
			if t > target {
				w.next = t
				break
			}
			w.now = t
			b := &w.buckets[t&tSlotMask]
			for i := b.tail; i != tNil; i = carts[i].tprev {
				carts[i].flags &^= cartTimer
				fired = append(fired, i)
				w.live--
			}
			*b = tBucket{tNil, tNil}
			w.bitmap[0] &^= 1 << (t & tSlotMask)
			continue
		}
		l := 1
		for l < tLevels && w.bitmap[l] == 0 {
			l++
		}
		if l < tLevels {
			shift := uint(l * tSlotBits)
			s := uint64(bits.TrailingZeros64(w.bitmap[l]))
			start := w.now&^(1<<(shift+tSlotBits)-1) | s<<shift
			if start > target {
				w.next = start
				break
			}
			w.now = start
			w.cascade(carts, uint16(l*tSlots)+uint16(s))
			continue
		}
		if w.buckets[tOverflow].tail == tNil {
			w.next = ^uint64(0)
			break
		}
		start := w.ovMin &^ (1<<tLevelBits - 1)
		if start > target {
			w.next = start
			break
		}
		w.now = start
		w.cascade(carts, tOverflow)
	}
	w.now = target
	return fired
}

// cascade re-files every cart of bucket b (a level >= 1 slot whose range
// now has reached, or the overflow list) relative to the new now.
func (w *timers) cascade(carts []cartRec, b uint16) {
	i := w.buckets[b].tail
	w.buckets[b] = tBucket{tNil, tNil}
	if b < tOverflow {
		w.bitmap[b>>tSlotBits] &^= 1 << (b & tSlotMask)
	} else {
		w.ovMin = ^uint64(0)
	}
	for i != tNil {
		older := carts[i].tprev
		w.place(carts, i, tKey(carts[i].deadline))
		i = older
	}
}

// place files cart i under key k (>= w.now) at the head of its bucket.
func (w *timers) place(carts []cartRec, i uint32, k uint64) {
	l := uint(tLevelOf[bits.Len64(k^w.now)])
	if st := k &^ (1<<(l*tSlotBits) - 1); st < w.next {
		w.next = st
	}
	var b uint16
	if l >= tLevels {
		if w.buckets[tOverflow].head == tNil || k < w.ovMin {
			w.ovMin = k
		}
		b = tOverflow
	} else {
		s := uint(k>>(l*tSlotBits)) & tSlotMask
		b = uint16(l<<tSlotBits | s)
		w.bitmap[l] |= 1 << s
	}
	c := &carts[i]
	bk := &w.buckets[b]
	h := bk.head
	c.tbucket, c.tprev, c.tnext = b, tNil, h
	bk.head = i
	if h == tNil {
		bk.tail = i
	} else {
		carts[h].tprev = i
	}
}

// unlink takes cart i out of its bucket.
func (w *timers) unlink(carts []cartRec, i uint32) {
	c := &carts[i]
	bk := &w.buckets[c.tbucket]
	if c.tprev == tNil {
		bk.head = c.tnext
	} else {
		carts[c.tprev].tnext = c.tnext
	}
	if c.tnext == tNil {
		bk.tail = c.tprev
	} else {
		carts[c.tnext].tprev = c.tprev
	}
	if bk.head == tNil && c.tbucket < tOverflow {
		w.bitmap[c.tbucket>>tSlotBits] &^= 1 << (c.tbucket & tSlotMask)
	}
}
