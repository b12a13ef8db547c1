package kafka

import (
	"fmt"
	"strconv"
	"time"
)

// Meter turns a Producer's counts, taken now and then, into rates: over
// the last interval (Tick) and since the start (Total). Rates count
// acknowledged records and their key and value bytes (before
// compression). Not safe for concurrent use.
type Meter struct {
	start, last time.Time
	prev        Counts
}

// NewMeter starts a Meter at now.
func NewMeter(now time.Time) *Meter { return &Meter{start: now, last: now} }

// Rate is a number of events and bytes over a time.
type Rate struct {
	Events  int64
	Bytes   int64
	Elapsed time.Duration
}

// EventsPerSec returns events per second (0 for no time).
func (r Rate) EventsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Events) / r.Elapsed.Seconds()
}

// MBPerSec returns megabytes (10^6 bytes) per second.
func (r Rate) MBPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Bytes) / 1e6 / r.Elapsed.Seconds()
}

// String returns "12,345 events/s  3.4 MB/s".
func (r Rate) String() string {
	return fmt.Sprintf("%s events/s  %.1f MB/s", Thousands(int64(r.EventsPerSec()+0.5)), r.MBPerSec())
}

// Tick returns the rate since the last Tick (or the start).
func (m *Meter) Tick(c Counts, now time.Time) Rate {
	r := Rate{Events: c.Acked - m.prev.Acked, Bytes: c.Bytes - m.prev.Bytes, Elapsed: now.Sub(m.last)}
	m.prev, m.last = c, now
	return r
}

// Total returns the rate since the start.
func (m *Meter) Total(c Counts, now time.Time) Rate {
	return Rate{Events: c.Acked, Bytes: c.Bytes, Elapsed: now.Sub(m.start)}
}

// Thousands returns n with commas between groups of three digits:
// 1,234,567.
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	if neg {
		out = append(out, '-')
	}
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
