package core

import (
	"runtime"
	"sync/atomic"
)

// handoff carries batches from the sequencer to one shard, in order: one
// goroutine pushes, one pops. The engine uses rings; the tests' baseline is
// a buffered channel (ring_test.go).
type handoff interface {
	push(b *batch)
	pop() (*batch, bool) // false once closed and drained
	close()
	len() int // batches waiting; safe from any goroutine
}

// ring is a bounded single-producer single-consumer queue of batches built
// on two atomic counters, with a channel only for sleeping when it is empty
// or full. It is the hand-off from the sequencer to each shard. A buffered
// channel measured the same inside the engine (BenchmarkEngineHandoff;
// results/notes/engine.md) and stays only as the benchmarks' baseline
// (Options.newHandoff). Safe for one pushing and one popping goroutine.
//
// A side that finds the ring empty (or full) yields at most spins times and
// then sleeps on its channel until the other side wakes it: it never spins
// a core that the other stages need.
type ring struct {
	buf  []*batch
	mask uint64
	_    [56]byte // keep head and tail on separate cache lines
	head atomic.Uint64
	_    [56]byte
	tail atomic.Uint64
	_    [56]byte

	closed      atomic.Bool
	consWaiting atomic.Bool
	prodWaiting atomic.Bool
	wake        chan struct{} // a token for a sleeping consumer
	space       chan struct{} // a token for a sleeping producer
}

func newRing(n int) *ring {
	size := 1
	for size < n {
		size <<= 1
	}
	return &ring{buf: make([]*batch, size), mask: uint64(size - 1),
		wake: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

// spins is how often a side yields before it goes to sleep: a few rounds
// catch a partner that is about to act without a channel operation, more
// only burn the core a partner may need (two cores, more goroutines).
const spins = 4

func (r *ring) push(b *batch) {
	t := r.tail.Load()
	for i := 0; t-r.head.Load() == uint64(len(r.buf)); i++ {
		if i < spins {
			runtime.Gosched()
			continue
		}
		r.prodWaiting.Store(true)
		if t-r.head.Load() < uint64(len(r.buf)) {
			r.prodWaiting.Store(false)
			break
		}
		<-r.space
		r.prodWaiting.Store(false)
	}
	r.buf[t&r.mask] = b
	r.tail.Store(t + 1)
	if r.consWaiting.Load() {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// len returns the batches waiting in r; safe from any goroutine. The head
// is read first: the tail can only have moved on since, never behind it.
func (r *ring) len() int {
	h := r.head.Load()
	return int(r.tail.Load() - h)
}

// close marks the end: pop returns false once the ring is drained.
func (r *ring) close() {
	r.closed.Store(true)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *ring) pop() (*batch, bool) {
	h := r.head.Load()
	for i := 0; ; i++ {
		if h < r.tail.Load() {
			b := r.buf[h&r.mask]
			r.buf[h&r.mask] = nil
			r.head.Store(h + 1)
			if r.prodWaiting.Load() {
				select {
				case r.space <- struct{}{}:
				default:
				}
			}
			return b, true
		}
		if r.closed.Load() && h == r.tail.Load() {
			return nil, false
		}
		if i < spins {
			runtime.Gosched()
			continue
		}
		r.consWaiting.Store(true)
		if h < r.tail.Load() || r.closed.Load() {
			r.consWaiting.Store(false)
			continue
		}
		<-r.wake
		r.consWaiting.Store(false)
	}
}
