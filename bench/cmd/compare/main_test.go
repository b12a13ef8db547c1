package main

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/cartwatch/cartwatch/bench/benchrec"
)

func run(ms ...benchrec.Measurement) *benchrec.Run {
	for i := range ms {
		ms[i].Fill()
	}
	return &benchrec.Run{Measurements: ms}
}

func fig(name, unit string, samples ...float64) benchrec.Measurement {
	return benchrec.Measurement{Suite: "s", System: "cartwatch", Name: name, Unit: unit, Samples: samples}
}

// TestCompareStatistics: the U test's exact p-values on known samples, and
// the delta and its direction.
func TestCompareStatistics(t *testing.T) {
	f := func(old, cur []float64, unit string, wantP float64, wantChanged, wantBetter bool, wantDelta float64) {
		t.Helper()
		rows := Compare(run(fig("x", unit, old...)), run(fig("x", unit, cur...)), 0.05)
		if len(rows) != 1 {
			t.Fatalf("%d rows, want 1", len(rows))
		}
		r := rows[0]
		if math.Abs(r.P-wantP) > 5e-4 {
			t.Errorf("%v vs %v: p = %.4f, want %.4f", old, cur, r.P, wantP)
		}
		if r.Changed != wantChanged || r.Better != wantBetter {
			t.Errorf("%v vs %v: changed %v better %v, want %v %v", old, cur, r.Changed, r.Better, wantChanged, wantBetter)
		}
		if math.Abs(r.Delta-wantDelta) > 1e-9 {
			t.Errorf("%v vs %v: delta %.4f%%, want %.4f%%", old, cur, r.Delta, wantDelta)
		}
	}
	// 5 against 5, every new sample below every old one: the exact two-sided
	// p-value of the U test is 2/C(10,5) = 2/252.
	f([]float64{10, 11, 12, 13, 14}, []float64{5, 6, 7, 8, 9}, "s", 2.0/252, true, true, -(1-7.0/12)*100)
	// The same for a rate: lower is worse.
	f([]float64{10, 11, 12, 13, 14}, []float64{5, 6, 7, 8, 9}, "events/s", 2.0/252, true, false, -(1-7.0/12)*100)
	// Interleaved samples: no difference (p = 1 for identical rank sums).
	f([]float64{1, 3, 5, 7, 9}, []float64{9, 7, 5, 3, 1}, "s", 1, false, false, 0)
	// 3 against 3 can never reach p < 0.05 (the least is 2/20 = 0.1).
	f([]float64{10, 11, 12}, []float64{1, 2, 3}, "s", 0.1, false, false, -(1-2.0/11)*100)
}

func TestCompareUnmatched(t *testing.T) {
	old := run(fig("a", "s", 1, 2, 3, 4, 5), fig("gone", "s", 1, 1, 1, 1, 1))
	cur := run(fig("a", "s", 1, 2, 3, 4, 5), fig("new", "s", 2, 2, 2, 2, 2))
	var b bytes.Buffer
	if err := write(&b, Compare(old, cur, 0.05), false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"s cartwatch gone [s]", "only in old", "s cartwatch new [s]", "only in new", "~", "3 [1-5]"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
