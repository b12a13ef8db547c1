package core

import (
	"fmt"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/cartwatch/cartwatch/event"
)

// TestRoutedSize: a routed event is handed over at two to a cache line (see
// routed); a field added to it should be a measured choice.
func TestRoutedSize(t *testing.T) {
	if n := unsafe.Sizeof(routed{}); n != 32 {
		t.Errorf("routed is %d bytes, want 32", n)
	}
}

// TestRingOrder pushes numbered batches through a small ring (so both sides
// sleep) and checks every one arrives once, in order.
func TestRingOrder(t *testing.T) {
	r := newRing(4)
	const n = 100000
	bs := make([]batch, 64)
	go func() {
		for i := 0; i < n; i++ {
			b := &bs[i%len(bs)]
			b.seq = int64(i)
			r.push(b)
			if i%1000 == 0 {
				time.Sleep(time.Microsecond) // let the consumer go to sleep
			}
		}
		r.close()
	}()
	want := int64(0)
	for {
		b, ok := r.pop()
		if !ok {
			break
		}
		// The producer may have reused the slot only after 60 more pushes,
		// which the 4-slot ring forbids before we pop; so seq is exact.
		if b.seq%int64(len(bs)) != want%int64(len(bs)) {
			t.Fatalf("got slot of %d, want %d", b.seq, want)
		}
		want++
	}
	if want != n {
		t.Fatalf("popped %d, want %d", want, n)
	}
}

// TestEngineChan: the engine gives the same output over rings (the
// default) and over channels.
func TestEngineChan(t *testing.T) {
	var evs []event.Event
	for i := 0; i < 5000; i++ {
		evs = append(evs, ev(int64(i), []event.EventType{V, C, P, C}[i%4], uint64(i*7%97), uint64(i), int64(i)))
	}
	a, sa := runEngine(t, evs, Options{BatchEvents: 64, Shards: 3})
	b, sb := runEngine(t, evs, Options{BatchEvents: 64, Shards: 3, newHandoff: newChanHandoff})
	if a != b || fmt.Sprint(sa) != fmt.Sprint(sb) || sa.Abandoned == 0 {
		t.Fatalf("channel output differs")
	}
}

// BenchmarkHandoff: one batch pointer from a producer to a consumer goroutine,
// ring against buffered channel of the same capacity.
//
//	go test ./core -run '^$' -bench Handoff -count 10
func BenchmarkHandoff(b *testing.B) {
	var x batch
	b.Run("ring", func(b *testing.B) {
		r := newRing(16)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, ok := r.pop(); ok; _, ok = r.pop() {
			}
		}()
		for i := 0; i < b.N; i++ {
			r.push(&x)
		}
		r.close()
		wg.Wait()
	})
	b.Run("chan", func(b *testing.B) {
		c := make(chan *batch, 16)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range c {
			}
		}()
		for i := 0; i < b.N; i++ {
			c <- &x
		}
		close(c)
		wg.Wait()
	})
}

// chanHandoff is the buffered-channel hand-off, the baseline of the rings.
type chanHandoff chan *batch

func newChanHandoff(n int) handoff { return chanHandoff(make(chan *batch, n)) }

func (c chanHandoff) push(b *batch) { c <- b }
func (c chanHandoff) close()        { close(c) }
func (c chanHandoff) len() int      { return len(c) }
func (c chanHandoff) pop() (*batch, bool) {
	b, ok := <-c
	return b, ok
}
