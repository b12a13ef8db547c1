package wheel

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// testWheel is a Wheel and a slab of nodes for the tests: node i's payload is i.
type testWheel struct {
	*Wheel
	nodes []Node
}

func newTW(now int64, n int) *testWheel { return &testWheel{New(now), make([]Node, n)} }

func (w *testWheel) sched(i uint32, d int64) { w.Schedule(w.nodes, i, d) }

// collect advances w to now and returns what fired.
func (w *testWheel) collect(now int64) []fired {
	var out []fired
	for _, i := range w.Advance(w.nodes, now, nil) {
		if w.nodes[i].Scheduled() {
			panic("a fired node is still scheduled")
		}
		out = append(out, fired{w.Deadline(w.nodes, i), uint64(i)})
	}
	return out
}

func wantFired(t *testing.T, got []fired, want ...fired) {
	t.Helper()
	if !equalFired(got, want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
}

func TestTiesFireInSchedulingOrder(t *testing.T) {
	w := newTW(0, 6)
	// Filed from different "now"s, so at first they sit on different levels:
	// 1000 from 0 is at level 1; from 990 it is at level 0.
	w.sched(1, 1000)
	w.collect(500)
	w.sched(2, 1000)
	w.collect(990)
	w.sched(3, 1000)
	w.sched(4, 1000)
	w.sched(5, 1000)
	// A move counts as a new scheduling, even to the same deadline.
	w.sched(4, 1000)
	wantFired(t, w.collect(999))
	wantFired(t, w.collect(1000), fired{1000, 1}, fired{1000, 2}, fired{1000, 3}, fired{1000, 5}, fired{1000, 4})
}

func TestPastDeadlinesFireAtNextAdvance(t *testing.T) {
	w := newTW(100, 6)
	w.sched(1, 100)
	w.sched(2, 50)
	w.sched(3, math.MinInt64)
	w.sched(4, 101)
	// Advance to Now() itself fires what is due; a fired node keeps the
	// deadline as given.
	wantFired(t, w.collect(100), fired{100, 1}, fired{50, 2}, fired{math.MinInt64, 3})
	w.sched(5, 7)
	wantFired(t, w.collect(101), fired{7, 5}, fired{101, 4})
	if w.Len() != 0 {
		t.Fatalf("Len %d after everything fired", w.Len())
	}
}

func TestAdvanceBackwardsIsNoOp(t *testing.T) {
	w := newTW(1000, 2)
	w.sched(1, 10) // past: due at 1000
	wantFired(t, w.collect(999))
	if w.Now() != 1000 || w.Len() != 1 {
		t.Fatalf("after Advance(999): Now %d Len %d, want 1000 and 1", w.Now(), w.Len())
	}
	wantFired(t, w.collect(1000), fired{10, 1})
}

func TestHugeJumpsAndInt64Edges(t *testing.T) {
	w := newTW(math.MinInt64, 7)
	w.sched(1, math.MaxInt64)
	w.sched(2, 0)
	w.sched(3, -1)
	w.sched(4, 1<<60)
	w.sched(5, math.MinInt64+1)
	wantFired(t, w.collect(-2), fired{math.MinInt64 + 1, 5})
	wantFired(t, w.collect(1<<60), fired{-1, 3}, fired{0, 2}, fired{1 << 60, 4})
	wantFired(t, w.collect(math.MaxInt64-1))
	wantFired(t, w.collect(math.MaxInt64), fired{math.MaxInt64, 1})
	// Nothing can be later than MaxInt64: a new timer there is due now.
	w.sched(6, math.MaxInt64)
	wantFired(t, w.collect(math.MaxInt64), fired{math.MaxInt64, 6})
}

func TestIdleSkipOverThirtyDays(t *testing.T) {
	const day = 86400
	w := newTW(0, 4)
	w.sched(1, 30*day)
	w.sched(2, 30*day+1)
	wantFired(t, w.collect(30*day-1))
	wantFired(t, w.collect(31*day), fired{30 * day, 1}, fired{30*day + 1, 2})
	// The cost side is BenchmarkIdleAdvance; here, that a 2^47-tick empty
	// jump neither fires nor loses anything.
	w.sched(3, 1<<47+5)
	wantFired(t, w.collect(1<<47), []fired{}...)
	wantFired(t, w.collect(1<<47+5), fired{1<<47 + 5, 3})
}

// TestCancelAndReuse: Cancel takes a node off (once), keeps its deadline;
// a node that fired or was cancelled is scheduled again like a new one;
// Schedule of a scheduled node moves it, on every level and the overflow
// list, and leaves no trace where it was.
func TestCancelAndReuse(t *testing.T) {
	w := newTW(0, 4)
	if w.Cancel(w.nodes, 0) {
		t.Fatal("Cancel of a node never scheduled returned true")
	}
	w.sched(0, 10)
	if !w.nodes[0].Scheduled() || !w.Cancel(w.nodes, 0) {
		t.Fatal("Cancel of a scheduled node returned false")
	}
	if w.nodes[0].Scheduled() || w.Deadline(w.nodes, 0) != 10 || w.Cancel(w.nodes, 0) || w.Len() != 0 {
		t.Fatalf("after Cancel: %+v, Len %d", w.nodes[0], w.Len())
	}
	wantFired(t, w.collect(10))
	w.sched(0, 20)
	w.sched(1, 20)
	wantFired(t, w.collect(20), fired{20, 0}, fired{20, 1})
	if w.Cancel(w.nodes, 1) {
		t.Fatal("Cancel of a fired node returned true")
	}
	// Moves across levels and the overflow list, each the only node of
	// its bucket (whose bit must clear) or not.
	for _, d := range []int64{21, 100, 5000, 1 << 30, 1 << 50, 1 << 62, 22} {
		w.sched(0, d)
		w.sched(2, d)
		w.sched(1, d+1)
	}
	w.sched(3, 1<<50)
	w.Cancel(w.nodes, 3)
	if w.Len() != 3 {
		t.Fatalf("Len %d, want 3", w.Len())
	}
	wantFired(t, w.collect(1<<62), fired{22, 0}, fired{22, 2}, fired{23, 1})
	if w.Len() != 0 {
		t.Fatalf("Len %d after the last fired", w.Len())
	}
	wantFired(t, w.collect(math.MaxInt64))
}

func TestZeroAllocsSteadyState(t *testing.T) {
	w := newTW(0, 1000)
	for i := range w.nodes {
		w.sched(uint32(i), int64(i*37%5000))
	}
	now, i := int64(0), 0
	var fired []uint32
	allocs := testing.AllocsPerRun(10000, func() {
		j := uint32(i % len(w.nodes))
		w.sched(j, now+3600)
		k := (j + 500) % uint32(len(w.nodes))
		w.Cancel(w.nodes, k)
		w.sched(k, now+1800)
		now++
		i++
		fired = w.Advance(w.nodes, now, fired[:0])
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
