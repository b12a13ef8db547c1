package wheel

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// collect advances w to now and returns what fired.
func collect(w *Wheel, now int64) []fired {
	var out []fired
	w.Advance(now, func(d int64, p uint64) { out = append(out, fired{d, p}) })
	return out
}

func wantFired(t *testing.T, got []fired, want ...fired) {
	t.Helper()
	if !equalFired(got, want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
}

func TestTiesFireInSchedulingOrder(t *testing.T) {
	w := New(0)
	// Filed from different "now"s, so at first they sit on different levels:
	// 1000 from 0 is at level 1; from 990 it is at level 0.
	w.Schedule(1000, 1)
	collect(w, 500)
	w.Schedule(1000, 2)
	collect(w, 990)
	w.Schedule(1000, 3)
	h := w.Schedule(1000, 4)
	w.Schedule(1000, 5)
	// A reschedule counts as a new scheduling, even to the same deadline.
	if !w.Reschedule(h, 1000) {
		t.Fatal("Reschedule of a live timer returned false")
	}
	wantFired(t, collect(w, 999))
	wantFired(t, collect(w, 1000), fired{1000, 1}, fired{1000, 2}, fired{1000, 3}, fired{1000, 5}, fired{1000, 4})
}

func TestPastDeadlinesFireAtNextAdvance(t *testing.T) {
	w := New(100)
	w.Schedule(100, 1)
	w.Schedule(50, 2)
	w.Schedule(math.MinInt64, 3)
	w.Schedule(101, 4)
	// Advance to Now() itself fires what is due; fire sees the deadline as given.
	wantFired(t, collect(w, 100), fired{100, 1}, fired{50, 2}, fired{math.MinInt64, 3})
	w.Schedule(7, 5)
	wantFired(t, collect(w, 101), fired{7, 5}, fired{101, 4})
	if w.Len() != 0 {
		t.Fatalf("Len %d after everything fired", w.Len())
	}
}

func TestAdvanceBackwardsIsNoOp(t *testing.T) {
	w := New(1000)
	w.Schedule(10, 1) // past: due at 1000
	wantFired(t, collect(w, 999))
	if w.Now() != 1000 || w.Len() != 1 {
		t.Fatalf("after Advance(999): Now %d Len %d, want 1000 and 1", w.Now(), w.Len())
	}
	wantFired(t, collect(w, 1000), fired{10, 1})
}

func TestHugeJumpsAndInt64Edges(t *testing.T) {
	w := New(math.MinInt64)
	w.Schedule(math.MaxInt64, 1)
	w.Schedule(0, 2)
	w.Schedule(-1, 3)
	w.Schedule(1<<60, 4)
	w.Schedule(math.MinInt64+1, 5)
	wantFired(t, collect(w, -2), fired{math.MinInt64 + 1, 5})
	wantFired(t, collect(w, 1<<60), fired{-1, 3}, fired{0, 2}, fired{1 << 60, 4})
	wantFired(t, collect(w, math.MaxInt64-1))
	wantFired(t, collect(w, math.MaxInt64), fired{math.MaxInt64, 1})
	// Nothing can be later than MaxInt64: a new timer there is due now.
	w.Schedule(math.MaxInt64, 6)
	wantFired(t, collect(w, math.MaxInt64), fired{math.MaxInt64, 6})
}

func TestIdleSkipOverThirtyDays(t *testing.T) {
	const day = 86400
	w := New(0)
	w.Schedule(30*day, 1)
	w.Schedule(30*day+1, 2)
	wantFired(t, collect(w, 30*day-1))
	wantFired(t, collect(w, 31*day), fired{30 * day, 1}, fired{30*day + 1, 2})
	// The cost side is BenchmarkIdleAdvance; here, that a 2^47-tick empty
	// jump neither fires nor loses anything.
	w.Schedule(1<<47+5, 3)
	wantFired(t, collect(w, 1<<47), []fired{}...)
	wantFired(t, collect(w, 1<<47+5), fired{1<<47 + 5, 3})
}

func TestStaleHandles(t *testing.T) {
	w := New(0)
	h1 := w.Schedule(10, 1)
	if !w.Cancel(h1) {
		t.Fatal("Cancel of a live timer returned false")
	}
	if w.Cancel(h1) || w.Reschedule(h1, 20) {
		t.Fatal("a cancelled handle was accepted")
	}
	// The freed entry is reused; the old handle must not reach the new timer.
	h2 := w.Schedule(10, 2)
	if uint32(h2) != uint32(h1) {
		t.Fatalf("expected slab reuse: h1 %#x h2 %#x", h1, h2)
	}
	if w.Cancel(h1) || w.Reschedule(h1, 5) {
		t.Fatal("a stale handle reached the timer that reused its entry")
	}
	wantFired(t, collect(w, 10), fired{10, 2})
	if w.Cancel(h2) || w.Reschedule(h2, 30) {
		t.Fatal("a fired handle was accepted")
	}
	for _, h := range []Handle{0, 1 << 40, math.MaxUint64} {
		if w.Cancel(h) || w.Reschedule(h, 1) {
			t.Fatalf("never-issued handle %#x accepted", h)
		}
	}
	if w.Len() != 0 {
		t.Fatalf("Len %d, want 0", w.Len())
	}
}

func TestFireMayUseTheWheel(t *testing.T) {
	w := New(0)
	var hs []Handle
	for i := range 4 {
		hs = append(hs, w.Schedule(10, uint64(i)))
	}
	far := w.Schedule(5000, 99)
	var got []fired
	var fire func(int64, uint64)
	fire = func(d int64, p uint64) {
		got = append(got, fired{d, p})
		switch p {
		case 0:
			if w.Now() != 10 {
				t.Errorf("Now() inside fire = %d, want 10", w.Now())
			}
			if w.Cancel(hs[0]) {
				t.Error("the firing timer's own handle was still live")
			}
			w.Cancel(hs[2])            // a later tie: must not fire
			w.Schedule(3, 10)          // past: fires in this Advance, after the ties at 10
			w.Schedule(12, 11)         // due before the target
			w.Reschedule(far, 11)      // pulled in from level 2
			w.Advance(1_000_000, fire) // nested: ignored
		}
	}
	w.Advance(20, fire)
	wantFired(t, got, fired{10, 0}, fired{10, 1}, fired{10, 3}, fired{3, 10}, fired{11, 99}, fired{12, 11})
	if w.Now() != 20 || w.Len() != 0 {
		t.Fatalf("after Advance(20): Now %d Len %d", w.Now(), w.Len())
	}
}

func TestZeroAllocsSteadyState(t *testing.T) {
	w := New(0)
	hs := make([]Handle, 1000)
	for i := range hs {
		hs[i] = w.Schedule(int64(i*37%5000), uint64(i))
	}
	now, i := int64(0), 0
	nop := func(int64, uint64) {}
	allocs := testing.AllocsPerRun(10000, func() {
		j := i % len(hs)
		if !w.Reschedule(hs[j], now+3600) {
			hs[j] = w.Schedule(now+3600, uint64(j))
		}
		w.Cancel(hs[(j+500)%len(hs)])
		hs[(j+500)%len(hs)] = w.Schedule(now+1800, 1)
		now++
		i++
		w.Advance(now, nop)
	})
	if allocs != 0 {
		t.Fatalf("%.2f allocs per steady-state step, want 0", allocs)
	}
}

// TestRandomAgainstModel runs random programs through runModel: long ones
// that build up a few thousand timers, and many short ones.
func TestRandomAgainstModel(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	budget := 400
	if testing.Short() {
		budget = 50
	}
	for run := range budget {
		n := 64 + rng.IntN(4096)
		if run%20 == 0 {
			n = 64 << 10
		}
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		// Bias a share of programs towards scheduling so they hold many timers.
		if run%3 == 0 {
			for i := 8; i < len(data); i += 4 {
				data[i] %= 3
			}
		}
		runModel(t, data)
		if t.Failed() {
			t.Fatalf("run %d (seed %d) failed", run, seed)
		}
	}
}

func FuzzWheel(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x08\x00\x10\x01\x18\x07\x00"))
	f.Add([]byte("seed: ties, past, overflow \x03\x00\x03\x01\x03\x05\x07\x06\x04\x09\x02"))
	rng := rand.New(rand.NewPCG(1, 2))
	for range 8 {
		b := make([]byte, 512)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		runModel(t, data)
	})
}
