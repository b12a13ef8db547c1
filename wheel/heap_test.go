package wheel

import "container/heap"

// Handle names one timer of refHeap (and of slabWheel, the Wheel behind the
// same interface in the model test): a slab index + 1 and a generation, so
// that a stale handle is rejected even after its entry is reused. The zero
// Handle is never issued.
type Handle uint64

// refHeap is the container/heap reference model of the Wheel contract and the
// baseline of the benchmarks. It is written from the contract, not from the
// wheel: a timer's effective time is max(deadline, now when scheduled) and
// timers fire in (effective time, scheduling sequence) order. Its items live
// in a slab indexed by int32 with generations, so the baseline allocates no
// more than the wheel does and the benchmarks compare algorithms, not GC.
type refHeap struct {
	items  []heapItem
	order  []int32 // the binary heap, of indices into items
	free   []int32
	now    int64
	seq    uint64
	firing bool

	pending, popped int32
}

type heapItem struct {
	eff      int64
	seq      uint64
	deadline int64
	payload  uint64
	pos      int32 // index in order; -1 when free
	gen      uint32
}

func newRefHeap(now int64) *refHeap { return &refHeap{now: now} }

// container/heap's interface, over order.
func (r *refHeap) Len() int { return len(r.order) }
func (r *refHeap) Less(i, j int) bool {
	a, b := &r.items[r.order[i]], &r.items[r.order[j]]
	return a.eff < b.eff || a.eff == b.eff && a.seq < b.seq
}
func (r *refHeap) Swap(i, j int) {
	r.order[i], r.order[j] = r.order[j], r.order[i]
	r.items[r.order[i]].pos = int32(i)
	r.items[r.order[j]].pos = int32(j)
}

// Push and Pop pass the index through pending and popped instead of the any
// argument: boxing an int32 allocates, and the baseline should not.
func (r *refHeap) Push(any) {
	r.items[r.pending].pos = int32(len(r.order))
	r.order = append(r.order, r.pending)
}
func (r *refHeap) Pop() any {
	r.popped = r.order[len(r.order)-1]
	r.order = r.order[:len(r.order)-1]
	return nil
}

func (r *refHeap) Now() int64 { return r.now }

func (r *refHeap) Schedule(deadline int64, payload uint64) Handle {
	var i int32
	if n := len(r.free); n > 0 {
		i = r.free[n-1]
		r.free = r.free[:n-1]
	} else {
		r.items = append(r.items, heapItem{})
		i = int32(len(r.items) - 1)
	}
	it := &r.items[i]
	r.seq++
	it.eff, it.seq, it.deadline, it.payload = max(deadline, r.now), r.seq, deadline, payload
	r.pending = i
	heap.Push(r, nil)
	return Handle(uint64(it.gen)<<32 | uint64(i+1))
}

func (r *refHeap) lookup(h Handle) (int32, bool) {
	i := int64(uint32(h)) - 1
	if i < 0 || i >= int64(len(r.items)) {
		return 0, false
	}
	it := &r.items[i]
	if it.gen != uint32(h>>32) || it.pos < 0 {
		return 0, false
	}
	return int32(i), true
}

func (r *refHeap) Reschedule(h Handle, deadline int64) bool {
	i, ok := r.lookup(h)
	if !ok {
		return false
	}
	it := &r.items[i]
	r.seq++
	it.eff, it.seq, it.deadline = max(deadline, r.now), r.seq, deadline
	heap.Fix(r, int(it.pos))
	return true
}

func (r *refHeap) Cancel(h Handle) bool {
	i, ok := r.lookup(h)
	if !ok {
		return false
	}
	heap.Remove(r, int(r.items[i].pos))
	r.release(r.popped)
	return true
}

func (r *refHeap) release(i int32) {
	r.items[i].pos = -1
	r.items[i].gen++
	r.free = append(r.free, i)
}

func (r *refHeap) Advance(now int64, fire func(deadline int64, payload uint64)) {
	if now < r.now || r.firing {
		return
	}
	r.firing = true
	defer func() { r.firing = false }()
	for len(r.order) > 0 {
		it := &r.items[r.order[0]]
		if it.eff > now {
			break
		}
		r.now = it.eff
		d, p := it.deadline, it.payload
		heap.Pop(r)
		r.release(r.popped)
		fire(d, p)
	}
	r.now = now
}
