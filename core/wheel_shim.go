package core

import "container/heap"

// TEMPORARY: a heap with the wheel/ package's API, used until wheel/ lands;
// the engine names the timer only through timerWheel and newTimerWheel.

type timerWheel = heapWheel

func newTimerWheel(now int64) *timerWheel { return &heapWheel{now: now, pos: map[uint64]int{}} }

type hwItem struct {
	deadline int64
	payload  uint64
	h        uint64
}

type heapWheel struct {
	now   int64
	next  uint64
	items []hwItem
	pos   map[uint64]int
}

func (w *heapWheel) Len() int           { return len(w.items) }
func (w *heapWheel) Less(i, j int) bool { return w.items[i].deadline < w.items[j].deadline }
func (w *heapWheel) Swap(i, j int) {
	w.items[i], w.items[j] = w.items[j], w.items[i]
	w.pos[w.items[i].h] = i
	w.pos[w.items[j].h] = j
}
func (w *heapWheel) Push(x any) {
	it := x.(hwItem)
	w.pos[it.h] = len(w.items)
	w.items = append(w.items, it)
}
func (w *heapWheel) Pop() any {
	it := w.items[len(w.items)-1]
	w.items = w.items[:len(w.items)-1]
	delete(w.pos, it.h)
	return it
}
func (w *heapWheel) Now() int64 { return w.now }

func (w *heapWheel) Schedule(deadline int64, payload uint64) uint64 {
	w.next++
	heap.Push(w, hwItem{deadline, payload, w.next})
	return w.next
}

func (w *heapWheel) Reschedule(h uint64, deadline int64) bool {
	i, ok := w.pos[h]
	if !ok {
		return false
	}
	w.items[i].deadline = deadline
	heap.Fix(w, i)
	return true
}

func (w *heapWheel) Cancel(h uint64) bool {
	i, ok := w.pos[h]
	if !ok {
		return false
	}
	heap.Remove(w, i)
	return true
}

func (w *heapWheel) Advance(now int64, fire func(deadline int64, payload uint64)) {
	if now > w.now {
		w.now = now
	}
	for len(w.items) > 0 && w.items[0].deadline <= w.now {
		it := heap.Pop(w).(hwItem)
		fire(it.deadline, it.payload)
	}
}
