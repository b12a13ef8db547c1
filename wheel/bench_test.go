package wheel

// Benchmarks: the Wheel beside the container/heap baseline (refHeap) and Go's
// runtime timers, at 1k, 100k, 1M and 10M live timers. Run them the way
// results/notes/wheel.md was produced with
//
//	./bench/wheel.sh
//
// or one pattern by hand, e.g.
//
//	go test ./wheel -run '^$' -bench 'RandomCancel' -count 5
//
// Expect 0 allocs/op from wheel and heap in every pattern (the wheel's Nodes
// and the heap's slabs are made during setup, which is not timed). Runtime timers cost about 140
// bytes each: the cart patterns keep 1.5 windows of them (2 GiB at 10M), so
// they stop at 1M; RandomCancel runs them at 10M (1.4 GiB) only with
// WHEEL_BENCH_RUNTIME_10M=1.
//
// Patterns (each op is described on its benchmark):
//   - Cart: carts scheduled in time order, 70% refreshed half-way through
//     their window, 50% cancelled by a purchase, the rest expiring.
//   - ScheduleCancel: the cart pattern where every cart is cancelled.
//   - Expiry: the cart pattern where every cart expires, advancing numSlots
//     ticks (one level-0 revolution) at a time.
//   - RandomCancel: cancel a random live timer, schedule a replacement.
//   - PointerChase: one dependent random load over the wheel's footprint,
//     the floor for RandomCancel.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
)

var benchSizes = []int{1_000, 100_000, 1_000_000, 10_000_000}

func sizeName(n int) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("n=%dM", n/1_000_000)
	case n >= 1_000:
		return fmt.Sprintf("n=%dk", n/1_000)
	}
	return fmt.Sprintf("n=%d", n)
}

func runtimeSizeOK(n int, pattern string) bool {
	return n < 10_000_000 || pattern == "RandomCancel" && os.Getenv("WHEEL_BENCH_RUNTIME_10M") == "1"
}

// slack is the slab headroom over the expected live count: the live set
// wobbles around n, and growing the slab inside the timed loop would show up
// as an allocation that belongs to setup.
func slack(n int64) int { return int(n + n/4 + 64) }

// cartMix is one shape of the cart workload. Cart i is scheduled at tick i
// with deadline i+window; if refreshed (probability refresh) it is
// rescheduled at tick i+window/2 to that tick+window; if purchased
// (probability purchase) it is cancelled at tick i+3*window/4; otherwise it
// expires. The window is sized so about n carts are live.
type cartMix struct {
	refresh, purchase float64
	advanceEvery      int64 // ticks between Advance calls
}

var (
	mixCart   = cartMix{refresh: 0.7, purchase: 0.5, advanceEvery: 1}
	mixCancel = cartMix{refresh: 0, purchase: 1, advanceEvery: 1}
	mixExpire = cartMix{refresh: 0, purchase: 0, advanceEvery: numSlots}
)

// flags decides cart i's fate from a hash of i, so wheel, heap and runtime
// timers see the same carts.
func (m cartMix) flags(i int64) (refresh, purchase bool) {
	x := uint64(i) * 0x9e3779b97f4a7c15
	return float64(x>>40&0xffff) < m.refresh*65536, float64(x>>16&0xffff) < m.purchase*65536
}

// window returns the cart window that keeps about n carts live: the mean
// lifetime is 3/4 window if purchased, else window, or 3/2 window if refreshed.
func (m cartMix) window(n int) int64 {
	life := m.purchase*0.75 + (1-m.purchase)*(m.refresh*1.5+(1-m.refresh))
	return max(int64(float64(n)/life), 8)
}

// state at tick 0 of cart i < 0: alive, and its deadline.
func (m cartMix) state(i, w int64) (alive bool, deadline int64) {
	refresh, purchase := m.flags(i)
	if purchase && i+3*w/4 < 0 {
		return false, 0
	}
	deadline = i + w
	if refresh && i+w/2 < 0 {
		deadline = i + w/2 + w
	}
	return deadline >= 0, deadline
}

func ringSize(w int64) int64 {
	r := int64(1)
	for r < w+w/2+2 {
		r <<= 1
	}
	return r
}

func nopFire(int64, uint64) {}

// cartEpoch is 2019-11-01T00:00:00Z in unix seconds: cart ticks are event
// time, and starting at 0 would put every deadline across the sign change of
// int64 (an overflow-list boundary) and time one huge re-file in the loop.
const cartEpoch = 1_572_566_400

// benchCartWheel and benchCartHeap are the same loop over the two concrete
// types: a shared generic or interface version would add an indirect call
// per operation and blur the comparison.
func benchCartWheel(b *testing.B, n int, m cartMix) {
	w := m.window(n)
	// Cart i's node is ring slot i&mask: the slab is the ring.
	nodes := make([]Node, ringSize(w))
	mask := int64(len(nodes) - 1)
	tw := New(cartEpoch - 1)
	for i := -2 * w; i < 0; i++ {
		if ok, d := m.state(i, w); ok {
			tw.Schedule(nodes, uint32(i&mask), cartEpoch+d)
		}
	}
	live, ops := tw.Len(), 0
	t := int64(0)
	fired := 0
	var buf []uint32
	for b.Loop() {
		if t%m.advanceEvery == 0 {
			buf = tw.Advance(nodes, cartEpoch+t, buf[:0])
			fired += len(buf)
		}
		tw.Schedule(nodes, uint32(t&mask), cartEpoch+t+w)
		if j := t - w/2; j >= -2*w {
			if r, _ := m.flags(j); r && nodes[j&mask].Scheduled() {
				tw.Schedule(nodes, uint32(j&mask), cartEpoch+t+w)
				ops++
			}
		}
		if k := t - 3*w/4; k >= -2*w {
			if _, p := m.flags(k); p && tw.Cancel(nodes, uint32(k&mask)) {
				ops++
			}
		}
		t++
	}
	ops += int(t) + fired
	reportCart(b, live, ops)
}

func benchCartHeap(b *testing.B, n int, m cartMix) {
	w := m.window(n)
	ring := make([]Handle, ringSize(w))
	mask := int64(len(ring) - 1)
	th := newRefHeap(cartEpoch - 1)
	th.items = make([]heapItem, 0, slack(w))
	th.order = make([]int32, 0, slack(w))
	th.free = make([]int32, 0, slack(w))
	for i := -2 * w; i < 0; i++ {
		if ok, d := m.state(i, w); ok {
			ring[i&mask] = th.Schedule(cartEpoch+d, uint64(i))
		}
	}
	live, ops := th.Len(), 0
	t := int64(0)
	fired := 0
	fire := func(int64, uint64) { fired++ }
	for b.Loop() {
		if t%m.advanceEvery == 0 {
			th.Advance(cartEpoch+t, fire)
		}
		ring[t&mask] = th.Schedule(cartEpoch+t+w, uint64(t))
		if j := t - w/2; j >= -2*w {
			if r, _ := m.flags(j); r && th.Reschedule(ring[j&mask], cartEpoch+t+w) {
				ops++
			}
		}
		if k := t - 3*w/4; k >= -2*w {
			if _, p := m.flags(k); p && th.Cancel(ring[k&mask]) {
				ops++
			}
		}
		t++
	}
	ops += int(t) + fired
	reportCart(b, live, ops)
}

// benchCartRuntime runs the cart pattern on time.Timer. Runtime timers run on
// the wall clock, so windows are an hour long and never fire here; the tick a
// cart would expire it is stopped instead, which keeps the live set and the
// number of operations the same as for the wheel.
func benchCartRuntime(b *testing.B, n int, m cartMix) {
	w := m.window(n)
	ring := make([]*time.Timer, ringSize(w))
	mask := int64(len(ring) - 1)
	f := func() {}
	for i := range ring {
		ring[i] = time.AfterFunc(time.Hour, f)
		ring[i].Stop()
	}
	live := 0
	for i := -2 * w; i < 0; i++ {
		if ok, d := m.state(i, w); ok {
			ring[i&mask].Reset(time.Hour + time.Duration(d)*time.Microsecond)
			live++
		}
	}
	defer func() {
		for _, t := range ring {
			t.Stop()
		}
	}()
	ops := 0
	t := int64(0)
	for b.Loop() {
		// Stop what the wheel would have fired at this tick.
		if i := t - w; i >= -2*w {
			if r, p := m.flags(i); !r && !p && ring[i&mask].Stop() {
				ops++
			}
		}
		if i := t - w/2 - w; i >= -2*w {
			if r, p := m.flags(i); r && !p && ring[i&mask].Stop() {
				ops++
			}
		}
		ring[t&mask].Reset(time.Hour + time.Duration(t)*time.Microsecond)
		if j := t - w/2; j >= -2*w {
			if r, _ := m.flags(j); r {
				ring[j&mask].Reset(time.Hour + time.Duration(t)*time.Microsecond)
				ops++
			}
		}
		if k := t - 3*w/4; k >= -2*w {
			if _, p := m.flags(k); p && ring[k&mask].Stop() {
				ops++
			}
		}
		t++
	}
	ops += int(t)
	reportCart(b, live, ops)
}

func reportCart(b *testing.B, live, ops int) {
	b.ReportMetric(float64(live), "live")
	if ops > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(ops), "ns/timer-op")
	}
}

func benchMix(b *testing.B, m cartMix) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			b.Run("wheel", func(b *testing.B) { b.ReportAllocs(); benchCartWheel(b, n, m) })
			b.Run("heap", func(b *testing.B) { b.ReportAllocs(); benchCartHeap(b, n, m) })
			if runtimeSizeOK(n, "cart") {
				b.Run("runtime", func(b *testing.B) { b.ReportAllocs(); benchCartRuntime(b, n, m) })
			}
		})
	}
}

// BenchmarkCart: op = one cart's share of the work: one schedule, 0.7
// reschedules, 0.5 cancels, 0.5 fires and one Advance by one tick.
// ns/timer-op divides the same time by the timer operations done.
func BenchmarkCart(b *testing.B) { benchMix(b, mixCart) }

// BenchmarkScheduleCancel: op = one schedule, one cancel of the cart
// scheduled 3/4 of a window earlier, and one (empty) Advance by one tick.
func BenchmarkScheduleCancel(b *testing.B) { benchMix(b, mixCancel) }

// BenchmarkExpiry: op = one schedule and one fired timer; the wheel advances
// numSlots ticks at a time, so each Advance fires a whole level-0 revolution.
// The runtime row is benchExpiryRuntime, which fires timers for real.
func BenchmarkExpiry(b *testing.B) {
	m := mixExpire
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			b.Run("wheel", func(b *testing.B) { b.ReportAllocs(); benchCartWheel(b, n, m) })
			b.Run("heap", func(b *testing.B) { b.ReportAllocs(); benchCartHeap(b, n, m) })
			if runtimeSizeOK(n, "Expiry") {
				b.Run("runtime", func(b *testing.B) { b.ReportAllocs(); benchExpiryRuntime(b, n) })
			}
		})
	}
}

// benchExpiryRuntime: op = one time.AfterFunc timer reset and fired for real.
// Timers are reset in batches of n with deadlines spread over 1 ms, and the
// batch is waited for; the wait for the first deadline (1 ms per batch) is
// included, so at small n this row measures mostly the clock, not the timers.
func benchExpiryRuntime(b *testing.B, n int) {
	var wg sync.WaitGroup
	f := func() { wg.Done() }
	ts := make([]*time.Timer, n)
	for i := range ts {
		ts[i] = time.AfterFunc(time.Hour, f)
		ts[i].Stop()
	}
	b.ResetTimer()
	for done := 0; done < b.N; {
		batch := min(n, b.N-done)
		wg.Add(batch)
		for i := range batch {
			ts[i].Reset(time.Millisecond + time.Duration(i%1000)*time.Microsecond)
		}
		wg.Wait()
		done += batch
	}
}

// randomCancelDeadlines spreads deadlines over 2^30 ticks, so timers sit on
// levels 0 to 5 in proportion to the ranges those levels cover.
func randomCancelDeadlines(rng *rand.Rand) []int64 {
	d := make([]int64, 4096)
	for i := range d {
		d[i] = 1 + rng.Int64N(1<<30)
	}
	return d
}

// BenchmarkRandomCancel: op = cancel a live timer chosen in a random order
// over the whole live set, then schedule a replacement at a random deadline,
// so the live set stays at n. Time does not advance.
func BenchmarkRandomCancel(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			b.Run("wheel", func(b *testing.B) {
				b.ReportAllocs()
				rng := rand.New(rand.NewPCG(1, uint64(n)))
				dl := randomCancelDeadlines(rng)
				tw := New(0)
				nodes := make([]Node, n)
				for i := range nodes {
					tw.Schedule(nodes, uint32(i), dl[i&4095]+int64(i))
				}
				// The replacement is the cancelled node itself, so walking
				// a shuffled order visits the slab in a fixed random order.
				order := make([]uint32, n)
				for i := range order {
					order[i] = uint32(i)
				}
				rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				i := 0
				for b.Loop() {
					j := order[i%n]
					tw.Cancel(nodes, j)
					tw.Schedule(nodes, j, dl[i&4095])
					i++
				}
			})
			b.Run("heap", func(b *testing.B) {
				b.ReportAllocs()
				rng := rand.New(rand.NewPCG(1, uint64(n)))
				dl := randomCancelDeadlines(rng)
				th := newRefHeap(0)
				th.items = make([]heapItem, 0, n)
				th.order = make([]int32, 0, n)
				th.free = make([]int32, 0, n)
				hs := make([]Handle, n)
				for i := range hs {
					hs[i] = th.Schedule(dl[i&4095]+int64(i), uint64(i))
				}
				rng.Shuffle(len(hs), func(i, j int) { hs[i], hs[j] = hs[j], hs[i] })
				i := 0
				for b.Loop() {
					j := i % n
					th.Cancel(hs[j])
					hs[j] = th.Schedule(dl[i&4095], uint64(i))
					i++
				}
			})
			if !runtimeSizeOK(n, "RandomCancel") {
				return
			}
			b.Run("runtime", func(b *testing.B) {
				b.ReportAllocs()
				rng := rand.New(rand.NewPCG(1, uint64(n)))
				dl := randomCancelDeadlines(rng)
				f := func() {}
				ts := make([]*time.Timer, n)
				for i := range ts {
					ts[i] = time.AfterFunc(time.Hour+time.Duration(dl[i&4095]), f)
				}
				defer func() {
					for _, t := range ts {
						t.Stop()
					}
				}()
				rng.Shuffle(len(ts), func(i, j int) { ts[i], ts[j] = ts[j], ts[i] })
				i := 0
				for b.Loop() {
					t := ts[i%n]
					t.Stop()
					t.Reset(time.Hour + time.Duration(dl[i&4095]))
					i++
				}
			})
		})
	}
}

// chaseNode has the wheel's Node size, so the chase covers the same bytes.
type chaseNode struct {
	next uint32
	_    [8]byte
}

var chaseSink uint32

// BenchmarkPointerChase: op = one dependent load at a random place in n
// 12-byte entries (one random cycle, Sattolo's algorithm): the latency of one
// random memory access over the wheel's footprint at n timers.
func BenchmarkPointerChase(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			b.ReportAllocs()
			rng := rand.New(rand.NewPCG(2, uint64(n)))
			perm := make([]uint32, n)
			for i := range perm {
				perm[i] = uint32(i)
			}
			for i := n - 1; i > 0; i-- {
				j := rng.IntN(i)
				perm[i], perm[j] = perm[j], perm[i]
			}
			nodes := make([]chaseNode, n)
			for i := range n {
				nodes[perm[i]].next = perm[(i+1)%n]
			}
			perm = nil
			runtime.GC()
			p := uint32(0)
			for b.Loop() {
				p = nodes[p].next
			}
			chaseSink = p
		})
	}
}

// BenchmarkIdleAdvance: op = Advance by 30 days of seconds with nothing due,
// 1000 timers parked on the top level and in the overflow list.
func BenchmarkIdleAdvance(b *testing.B) {
	const month = 30 * 86400
	b.Run("wheel", func(b *testing.B) {
		b.ReportAllocs()
		nodes := make([]Node, 1000)
		park := func(w *Wheel) {
			for i := range 500 {
				w.Schedule(nodes, uint32(i), 1<<46+int64(i))         // top level
				w.Schedule(nodes, uint32(500+i), 1<<60+int64(i)<<20) // overflow
			}
		}
		w := New(0)
		park(w)
		now := int64(0)
		var fired []uint32
		for b.Loop() {
			if now += month; now >= 1<<45 { // start over before reaching the parked timers
				now, w = month, New(0)
				clear(nodes)
				park(w)
			}
			fired = w.Advance(nodes, now, fired[:0])
		}
		if w.Len() != 1000 || len(fired) != 0 {
			b.Fatalf("Len %d, want 1000: something fired", w.Len())
		}
	})
	b.Run("heap", func(b *testing.B) {
		b.ReportAllocs()
		park := func(t *refHeap) {
			for i := range 500 {
				t.Schedule(1<<46+int64(i), uint64(i))     // top level
				t.Schedule(1<<60+int64(i)<<20, uint64(i)) // overflow
			}
		}
		h := newRefHeap(0)
		park(h)
		now := int64(0)
		for b.Loop() {
			if now += month; now >= 1<<45 {
				now, h = month, newRefHeap(0)
				park(h)
			}
			h.Advance(now, nopFire)
		}
		if h.Len() != 1000 {
			b.Fatalf("Len %d, want 1000: something fired", h.Len())
		}
	})
}
