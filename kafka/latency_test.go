package kafka

import (
	"strings"
	"testing"
	"time"
)

// TestHistogramClamp: a value above the range is recorded as its top and
// counted, never dropped; below 1 µs counts as 1 µs; Merge carries the
// clamped count.
func TestHistogramClamp(t *testing.T) {
	h := NewHistogram(time.Second)
	for range 98 {
		h.Record(2 * time.Millisecond)
	}
	h.Record(5 * time.Second) // above the range
	h.Record(time.Hour)       // far above
	if h.Count() != 100 || h.Clamped != 2 {
		t.Fatalf("count %d clamped %d, want 100 and 2", h.Count(), h.Clamped)
	}
	if h.Max() != time.Second {
		t.Fatalf("max %v, want the top of the range, 1s", h.Max())
	}
	if q := h.Quantile(0.999); q != time.Second {
		t.Fatalf("p99.9 %v, want 1s (the clamped values)", q)
	}
	if p50 := h.Quantile(0.5); p50 < 1990*time.Microsecond || p50 > 2010*time.Microsecond {
		t.Fatalf("p50 %v, want 2ms within 3 significant digits", p50)
	}
	if s := h.String(); !strings.Contains(s, "max >= 1s (2 above") {
		t.Fatalf("String() = %q: the clamping is not said", s)
	}
	low := NewHistogram(time.Second)
	low.Record(0)
	low.Record(-time.Second)
	if low.Count() != 2 || low.Max() != time.Microsecond || low.Clamped != 0 {
		t.Fatalf("below 1µs: count %d max %v clamped %d", low.Count(), low.Max(), low.Clamped)
	}
	sum := NewHistogram(time.Second)
	sum.Merge(h)
	sum.Merge(low)
	if sum.Count() != 102 || sum.Clamped != 2 {
		t.Fatalf("merged: count %d clamped %d, want 102 and 2", sum.Count(), sum.Clamped)
	}
	if NewHistogram(0).String() != "no values" {
		t.Fatal("an empty histogram should say so")
	}
}

// TestLatencyMoveTo: what was recorded moves to the sum once.
func TestLatencyMoveTo(t *testing.T) {
	l := NewLatency(time.Second)
	l.Record(time.Millisecond)
	l.Record(2 * time.Second)
	sum := NewHistogram(time.Second)
	l.MoveTo(sum)
	l.MoveTo(sum)
	if sum.Count() != 2 || sum.Clamped != 1 {
		t.Fatalf("count %d clamped %d, want 2 and 1", sum.Count(), sum.Clamped)
	}
}
