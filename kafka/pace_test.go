package kafka

import (
	"testing"
	"time"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// TestPacerRate: at 1,000 events/s, event n is due n ms after the first;
// one late look at the clock lets the due events through at once (the
// schedule is kept on average, not shifted).
func TestPacerRate(t *testing.T) {
	c := &fakeClock{t: time.Unix(1000, 0)}
	p := Pacer{Rate: 1000, now: c.now}
	if d := p.Next(0); d != 0 {
		t.Fatalf("first event: wait %v", d)
	}
	if d := p.Next(0); d != time.Millisecond {
		t.Fatalf("second event at once: wait %v, want 1ms", d)
	}
	c.t = c.t.Add(500 * time.Microsecond)
	if d := p.Next(0); d != 500*time.Microsecond {
		t.Fatalf("second event after 0.5ms: wait %v, want 0.5ms", d)
	}
	c.t = c.t.Add(10 * time.Millisecond) // 10.5 ms in: events 1..10 are due
	for i := 1; i <= 10; i++ {
		if d := p.Next(0); d != 0 {
			t.Fatalf("event %d after 10.5ms: wait %v", i, d)
		}
	}
	if d := p.Next(0); d != 500*time.Microsecond {
		t.Fatalf("event 11 after 10.5ms: wait %v, want 0.5ms", d)
	}
}

// TestPacerSpeedup: at 60x, an event a minute of event time after the
// first is due a second after it; events of a due second go at once.
func TestPacerSpeedup(t *testing.T) {
	c := &fakeClock{t: time.Unix(1000, 0)}
	p := Pacer{Speedup: 60, now: c.now}
	t0 := int64(1572566400)
	for _, et := range []int64{t0, t0, t0} {
		if d := p.Next(et); d != 0 {
			t.Fatalf("events at the first time: wait %v", d)
		}
	}
	if d := p.Next(t0 + 60); d != time.Second {
		t.Fatalf("a minute later in event time: wait %v, want 1s", d)
	}
	c.t = c.t.Add(time.Second)
	if d := p.Next(t0 + 60); d != 0 {
		t.Fatalf("after 1s: wait %v", d)
	}
	if d := p.Next(t0 + 30); d != 0 {
		t.Fatalf("an earlier event time: wait %v", d)
	}
	if d := p.Next(t0 + 90); d != 500*time.Millisecond {
		t.Fatalf("90s of event time after 1s: wait %v, want 0.5s", d)
	}
}

// TestPacerNone: no rate and no speedup let everything through.
func TestPacerNone(t *testing.T) {
	var p Pacer
	for i := range 1000 {
		if d := p.Next(int64(i) * 3600); d != 0 || p.Limited() {
			t.Fatalf("unpaced: wait %v", d)
		}
	}
}
