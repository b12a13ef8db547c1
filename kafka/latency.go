package kafka

import (
	"fmt"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// DefaultLatencyMax is the top of the latency histograms' range: a produce
// that takes longer is recorded as this and counted as clamped.
const DefaultLatencyMax = time.Minute

// Histogram is an HDR histogram of durations in microseconds, from 1 µs to
// a fixed maximum with 3 significant digits, whose range is clamped: a
// value above the maximum is recorded as the maximum and counted in
// Clamped, so that a stall shows in the tail instead of being dropped (as
// hdrhistogram's RecordValue would drop it, with an error). Not safe for
// concurrent use (Latency is).
type Histogram struct {
	h       *hdrhistogram.Histogram
	max     int64 // µs
	Clamped int64 // values recorded as the maximum because they were above it
}

// NewHistogram returns an empty Histogram up to top (at least 1 ms).
func NewHistogram(top time.Duration) *Histogram {
	m := max(top.Microseconds(), 1000)
	return &Histogram{h: hdrhistogram.New(1, m, 3), max: m}
}

// Record adds one value: below 1 µs counts as 1 µs, above the maximum as
// the maximum (and in Clamped).
func (h *Histogram) Record(d time.Duration) {
	v := d.Microseconds()
	switch {
	case v < 1:
		v = 1
	case v > h.max:
		v = h.max
		h.Clamped++
	}
	h.h.RecordValue(v) // in range: cannot fail
}

// Merge adds o's values to h.
func (h *Histogram) Merge(o *Histogram) {
	h.h.Merge(o.h)
	h.Clamped += o.Clamped
}

// Reset empties h.
func (h *Histogram) Reset() {
	h.h.Reset()
	h.Clamped = 0
}

// Count returns the number of values recorded.
func (h *Histogram) Count() int64 { return h.h.TotalCount() }

// Quantile returns the value at quantile q (0.5, 0.99, 0.999; 1 is Max).
func (h *Histogram) Quantile(q float64) time.Duration {
	return time.Duration(min(h.h.ValueAtQuantile(q*100), h.max)) * time.Microsecond
}

// Max returns the largest value recorded (the maximum when one was clamped).
func (h *Histogram) Max() time.Duration {
	return time.Duration(min(h.h.Max(), h.max)) * time.Microsecond
}

// String returns "p50 1.2ms  p99 3.4ms  p99.9 5.6ms  max 7.8ms", with
// "max >= 1m0s (3 clamped)" when values were above the range, or "no
// values".
func (h *Histogram) String() string {
	if h.Count() == 0 {
		return "no values"
	}
	s := fmt.Sprintf("p50 %v  p99 %v  p99.9 %v  max ", roundDur(h.Quantile(0.5)), roundDur(h.Quantile(0.99)), roundDur(h.Quantile(0.999)))
	if h.Clamped > 0 {
		return s + fmt.Sprintf(">= %v (%d above the histogram's range, recorded as its top)", h.Max(), h.Clamped)
	}
	return s + roundDur(h.Max()).String()
}

// roundDur keeps 3 significant digits or so: 1.234ms, 12.3ms, 123ms.
func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d
}

// Latency is a Histogram that one goroutine records into while another
// takes what was recorded, every second: a mutex guards it, uncontended
// but for that one take a second.
type Latency struct {
	mu sync.Mutex
	h  *Histogram
}

// NewLatency returns an empty Latency up to top.
func NewLatency(top time.Duration) *Latency { return &Latency{h: NewHistogram(top)} }

// Record adds one value (Histogram.Record).
func (l *Latency) Record(d time.Duration) {
	l.mu.Lock()
	l.h.Record(d)
	l.mu.Unlock()
}

// MoveTo adds what l recorded since the last MoveTo to dst, and empties l.
func (l *Latency) MoveTo(dst *Histogram) {
	l.mu.Lock()
	dst.Merge(l.h)
	l.h.Reset()
	l.mu.Unlock()
}
