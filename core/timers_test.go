package core

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTimersAgainstModel drives timers with random schedules, reschedules
// (earlier and later), cancels and advances, over deadlines near now, far
// (the upper levels, the overflow list) and negative, and checks each
// advance fires exactly the carts a plain scan says are due.
func TestTimersAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 200 {
		now := []int64{0, -1 << 40, 1_572_566_400, math.MaxInt64 - 1<<50}[round%4]
		tm := newTimers(now)
		carts := make([]cartRec, 1+rng.IntN(300))
		on := map[uint32]bool{}
		deadline := func() int64 {
			span := []int64{1, 64, 4096, 1 << 20, 1 << 36, 1 << 50}[rng.IntN(6)]
			d := now + 1 + rng.Int64N(span)
			if d <= now { // wrapped
				d = math.MaxInt64
			}
			return d
		}
		for step := range 2000 {
			i := uint32(rng.IntN(len(carts)))
			switch op := rng.IntN(10); {
			case op < 4:
				carts[i].deadline = deadline()
				if on[i] {
					tm.reschedule(carts, i)
				} else {
					tm.schedule(carts, i)
					on[i] = true
				}
			case op < 5:
				if on[i] {
					tm.cancel(carts, i)
					delete(on, i)
				}
			default:
				target := now + rng.Int64N([]int64{2, 100, 5000, 1 << 22, 1 << 40}[rng.IntN(5)])
				if target < now {
					target = math.MaxInt64
				}
				var want []uint32
				for k := range on {
					if carts[k].deadline <= target {
						want = append(want, k)
					}
				}
				got := tm.advance(carts, target, nil)
				slices.Sort(want)
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Fatalf("round %d step %d: advance to %d fired %v, want %v", round, step, target, got, want)
				}
				for _, k := range got {
					delete(on, k)
					if carts[k].flags&cartTimer != 0 {
						t.Fatalf("cart %d fired but still marked on the timers", k)
					}
				}
				now = target
			}
			if tm.live != len(on) {
				t.Fatalf("round %d step %d: %d live, want %d", round, step, tm.live, len(on))
			}
		}
	}
}
