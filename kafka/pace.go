package kafka

import (
	"context"
	"time"
)

// Pacer spaces events out: at Rate events a second, or with their event
// time running Speedup times faster than the wall clock from the first
// event on, or not at all (both 0). A run that falls behind (a broker that
// slowed down) catches up as fast as it can: the schedule is kept on
// average, never shifted. Not safe for concurrent use.
//
// It reads the clock only when the events it already knows to be due are
// used up, so a fast run looks at the clock about once a millisecond, not
// once an event.
type Pacer struct {
	Rate    float64 // events per second; 0: no limit
	Speedup float64 // seconds of event time per second of wall time; 0: none

	started bool
	start   time.Time
	n       int64 // events let through
	free    int64 // with Rate: events below this number are due
	t0      int64 // with Speedup: the first event's time
	tFree   int64 // with Speedup: events at or before this time are due
	timer   *time.Timer
	now     func() time.Time // the clock; nil: time.Now (tests set it)
}

func (p *Pacer) clock() time.Time {
	if p.now != nil {
		return p.now()
	}
	return time.Now()
}

// Next returns 0 when the event with time t (Unix seconds; only Speedup
// reads it) may go now, and counts it; else how long to wait before
// asking again.
func (p *Pacer) Next(t int64) time.Duration {
	if !p.started {
		p.started, p.start, p.t0, p.tFree = true, p.clock(), t, t
	}
	switch {
	case p.Rate > 0:
		if p.n >= p.free {
			el := p.clock().Sub(p.start)
			p.free = int64(el.Seconds()*p.Rate) + 1
			if p.n >= p.free {
				due := time.Duration(float64(p.n) / p.Rate * float64(time.Second))
				return max(due-el, time.Microsecond)
			}
		}
	case p.Speedup > 0:
		if t > p.tFree {
			el := p.clock().Sub(p.start)
			p.tFree = p.t0 + int64(el.Seconds()*p.Speedup)
			if t > p.tFree {
				due := time.Duration(float64(t-p.t0) / p.Speedup * float64(time.Second))
				return max(due-el, time.Microsecond)
			}
		}
	}
	p.n++
	return 0
}

// Sleep waits d, or until ctx ends (then it returns ctx's cause).
func (p *Pacer) Sleep(ctx context.Context, d time.Duration) error {
	if p.timer == nil {
		p.timer = time.NewTimer(d)
	} else {
		p.timer.Reset(d)
	}
	select {
	case <-p.timer.C:
		return nil
	case <-ctx.Done():
		p.timer.Stop()
		return context.Cause(ctx)
	}
}

// Wait blocks until the event with time t may go (Next, Sleep).
func (p *Pacer) Wait(ctx context.Context, t int64) error {
	for {
		d := p.Next(t)
		if d == 0 {
			return nil
		}
		if err := p.Sleep(ctx, d); err != nil {
			return err
		}
	}
}

// Limited reports whether p spaces events at all.
func (p *Pacer) Limited() bool { return p.Rate > 0 || p.Speedup > 0 }
