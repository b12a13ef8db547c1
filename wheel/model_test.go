package wheel

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"
)

// The model test drives a Wheel and the refHeap reference model with one
// operation sequence decoded from bytes (random in TestRandomAgainstModel,
// fuzzed in FuzzWheel) and fails at the first difference in what fired, in
// return values, in Len or in Now.

type fired struct {
	deadline int64
	payload  uint64
}

// timers is the API both implementations share; the model test uses it
// through an interface, the benchmarks call each concrete type directly.
type timers interface {
	Schedule(deadline int64, payload uint64) Handle
	Reschedule(h Handle, deadline int64) bool
	Cancel(h Handle) bool
	Advance(now int64, fire func(deadline int64, payload uint64))
	Len() int
	Now() int64
}

// side is one implementation plus its own handles, indexed by timer id (the
// payload), and what it fired since the last comparison.
type side struct {
	t       timers
	handles []Handle
	fired   []fired
	reentry uint64 // every reentry-th fired payload acts on the wheel from fire; 0: never
	fire    func(int64, uint64)
}

func newSide(t timers) *side {
	s := &side{t: t}
	s.fire = func(d int64, p uint64) {
		s.fired = append(s.fired, fired{d, p})
		if s.reentry == 0 || p%s.reentry != 0 {
			return
		}
		// The action depends only on the payload and this side's own state,
		// so both sides take the same one if they agree so far.
		now := s.t.Now()
		switch p % 4 {
		case 0: // past, present or near future: fires within this Advance if due
			s.schedule(now + int64(p%7) - 3)
		case 1:
			s.t.Cancel(s.handles[p*7%uint64(len(s.handles))])
		case 2:
			s.t.Reschedule(s.handles[p*13%uint64(len(s.handles))], now+int64(p%70))
		case 3: // must be ignored
			s.t.Advance(now+1000, s.fire)
		}
	}
	return s
}

func (s *side) schedule(d int64) {
	s.handles = append(s.handles, s.t.Schedule(d, uint64(len(s.handles))))
}

// byteSource hands out the fuzz input; once it runs dry it returns zeros,
// which decode as small steps, so every input is a valid program.
type byteSource struct{ b []byte }

func (s *byteSource) u8() uint8 {
	if len(s.b) == 0 {
		return 0
	}
	v := s.b[0]
	s.b = s.b[1:]
	return v
}

func (s *byteSource) u64() uint64 {
	var buf [8]byte
	n := copy(buf[:], s.b)
	s.b = s.b[n:]
	return binary.LittleEndian.Uint64(buf[:])
}

// delta picks a time offset from several scales so that programs exercise
// every level, cascades, the overflow list and past deadlines.
func (s *byteSource) delta() int64 {
	c := s.u8()
	switch c % 8 {
	case 0, 1:
		return int64(c >> 3) // 0..31: level 0, ties
	case 2:
		return int64(s.u8()) << (c >> 3 % 8) // up to level 2
	case 3:
		return int64(s.u64() % (1 << 24))
	case 4:
		return int64(s.u64() % (1 << 52)) // beyond the levels: overflow
	case 5:
		return -int64(c >> 3) // past
	case 6:
		return int64(s.u64()) // anywhere, wrapping
	default:
		return int64(s.u8())
	}
}

// extremes are absolute deadlines at the edges of int64 and of now.
func extreme(c uint8, now int64) int64 {
	switch c % 6 {
	case 0:
		return math.MinInt64
	case 1:
		return math.MaxInt64
	case 2:
		return math.MaxInt64 - 1
	case 3:
		return now - 1
	case 4:
		return now
	default:
		return now + 1<<48 // first tick of a later overflow epoch, roughly
	}
}

// runModel interprets data as a program and checks the wheel against the model.
func runModel(t testing.TB, data []byte) {
	src := &byteSource{b: data}
	start := int64(src.u64() % (1 << 40))
	if src.u8()%4 == 0 {
		start = -start
	}
	ws, ms := newSide(New(start)), newSide(newRefHeap(start))
	both := [2]*side{ws, ms}
	for step := 0; len(src.b) > 0; step++ {
		op := src.u8()
		var desc string
		var rw, rm bool
		switch op % 10 {
		case 0, 1, 2:
			d := ws.t.Now() + src.delta()
			desc = fmt.Sprintf("Schedule(%d)", d)
			ws.schedule(d)
			ms.schedule(d)
		case 3:
			d := extreme(src.u8(), ws.t.Now())
			desc = fmt.Sprintf("Schedule(%d)", d)
			ws.schedule(d)
			ms.schedule(d)
		case 4, 5:
			if len(ws.handles) == 0 {
				continue
			}
			id := int(src.u8()) % len(ws.handles)
			d := ws.t.Now() + src.delta()
			desc = fmt.Sprintf("Reschedule(id %d, %d)", id, d)
			rw = ws.t.Reschedule(ws.handles[id], d)
			rm = ms.t.Reschedule(ms.handles[id], d)
		case 6:
			if len(ws.handles) == 0 {
				continue
			}
			id := int(src.u8()) % len(ws.handles)
			desc = fmt.Sprintf("Cancel(id %d)", id)
			rw = ws.t.Cancel(ws.handles[id])
			rm = ms.t.Cancel(ms.handles[id])
		case 7, 8:
			d := ws.t.Now() + src.delta()
			desc = fmt.Sprintf("Advance(%d)", d)
			ws.t.Advance(d, ws.fire)
			ms.t.Advance(d, ms.fire)
		case 9:
			r := uint64(src.u8() % 8)
			if r == 1 {
				r = 0 // reentry on every fire would starve the program of its own ops
			}
			desc = fmt.Sprintf("reentry=%d", r)
			ws.reentry, ms.reentry = r, r
			// A forged handle, never issued, must be rejected by both.
			h := Handle(src.u64())
			if okw, okm := ws.t.Cancel(h), ms.t.Cancel(h); okw != okm {
				t.Fatalf("step %d: Cancel(forged %#x): wheel %v, model %v", step, h, okw, okm)
			}
		}
		if rw != rm {
			t.Fatalf("step %d %s: wheel returned %v, model %v", step, desc, rw, rm)
		}
		if !equalFired(ws.fired, ms.fired) {
			t.Fatalf("step %d %s: fired differ\nwheel: %v\nmodel: %v", step, desc, ws.fired, ms.fired)
		}
		for _, s := range both {
			s.fired = s.fired[:0]
		}
		if ws.t.Len() != ms.t.Len() || ws.t.Now() != ms.t.Now() || len(ws.handles) != len(ms.handles) {
			t.Fatalf("step %d %s: wheel Len %d Now %d ids %d; model Len %d Now %d ids %d", step, desc,
				ws.t.Len(), ws.t.Now(), len(ws.handles), ms.t.Len(), ms.t.Now(), len(ms.handles))
		}
	}
	// Drain: everything left must fire, identically, when time runs out.
	ws.t.Advance(math.MaxInt64, ws.fire)
	ms.t.Advance(math.MaxInt64, ms.fire)
	if !equalFired(ws.fired, ms.fired) {
		t.Fatalf("final drain: fired differ\nwheel: %v\nmodel: %v", ws.fired, ms.fired)
	}
	if ws.t.Len() != 0 || ms.t.Len() != 0 || ws.t.Now() != math.MaxInt64 {
		t.Fatalf("final drain: wheel Len %d Now %d, model Len %d", ws.t.Len(), ws.t.Now(), ms.t.Len())
	}
}

func equalFired(a, b []fired) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
