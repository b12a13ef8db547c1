package wheel

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"
)

// The model test drives a Wheel (through slabWheel) and the refHeap
// reference model with one operation sequence decoded from bytes (random in
// TestRandomAgainstModel, fuzzed in FuzzWheel) and fails at the first
// difference in what fired (deadline, payload and order), in return values,
// in Len or in Now.

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

// slabWheel is a Wheel over a slab of its own behind the timers interface:
// a Handle is a node index + 1 and a generation, and a node that fired or
// was cancelled is reused by a later Schedule, as the engine reuses a cart's
// slot. It fires after Advance returns, in the order Advance appended.
type slabWheel struct {
	w     *Wheel
	nodes []Node
	pay   []uint64
	gen   []uint32
	free  []uint32
	buf   []uint32
	skip  bool
	dl    []int64 // each node's deadline as last scheduled, for check
}

func newSlabWheel(now int64) *slabWheel { return &slabWheel{w: New(now)} }

func (s *slabWheel) Schedule(deadline int64, payload uint64) Handle {
	var i uint32
	if n := len(s.free); n > 0 {
		i = s.free[n-1]
		s.free = s.free[:n-1]
	} else {
		i = uint32(len(s.nodes))
		s.nodes = append(s.nodes, Node{})
		s.pay = append(s.pay, 0)
		s.gen = append(s.gen, 0)
		s.dl = append(s.dl, 0)
	}
	if s.nodes[i].Scheduled() {
		panic("a free node is on the wheel")
	}
	s.pay[i] = payload
	s.dl[i] = deadline
	s.w.Schedule(s.nodes, i, deadline)
	return Handle(uint64(s.gen[i])<<32 | uint64(i+1))
}

// lookup returns the node of a live handle.
func (s *slabWheel) lookup(h Handle) (uint32, bool) {
	i := uint32(h) - 1
	if uint64(i) >= uint64(len(s.nodes)) || s.gen[i] != uint32(h>>32) || !s.nodes[i].Scheduled() {
		return 0, false
	}
	return i, true
}

func (s *slabWheel) release(i uint32) {
	s.gen[i]++
	s.free = append(s.free, i)
}

func (s *slabWheel) Reschedule(h Handle, deadline int64) bool {
	i, ok := s.lookup(h)
	if ok {
		s.dl[i] = deadline
		s.w.Schedule(s.nodes, i, deadline)
	}
	return ok
}

func (s *slabWheel) Cancel(h Handle) bool {
	i, ok := s.lookup(h)
	if !ok {
		return false
	}
	if !s.w.Cancel(s.nodes, i) {
		panic("Cancel of a scheduled node returned false")
	}
	s.release(i)
	return true
}

func (s *slabWheel) Advance(now int64, fire func(int64, uint64)) {
	// Every other time the way the engine calls it: Skip first, Advance
	// only when Skip says there is work.
	s.skip = !s.skip
	if s.skip && s.w.Skip(now) {
		return
	}
	s.buf = s.w.Advance(s.nodes, now, s.buf[:0])
	for _, i := range s.buf {
		if s.nodes[i].Scheduled() {
			panic("a fired node is still on the wheel")
		}
		s.release(i)
	}
	for _, i := range s.buf {
		fire(s.w.Deadline(s.nodes, i), s.pay[i])
	}
}

// check fails t if Deadline differs from the deadline last scheduled for
// a few nodes picked by seed, scheduled or not.
func (s *slabWheel) check(t testing.TB, seed uint64) {
	for k := range min(len(s.nodes), 8) {
		i := uint32((seed*0x9e3779b97f4a7c15 + uint64(k)*7919) % uint64(len(s.nodes)))
		if d := s.w.Deadline(s.nodes, i); d != s.dl[i] {
			t.Fatalf("node %d (scheduled %v): Deadline %d, scheduled at %d", i, s.nodes[i].Scheduled(), d, s.dl[i])
		}
	}
}

func (s *slabWheel) Len() int   { return s.w.Len() }
func (s *slabWheel) Now() int64 { return s.w.Now() }

// side is one implementation plus its own handles, indexed by timer id (the
// payload), and what it fired since the last comparison.
type side struct {
	t       timers
	handles []Handle
	fired   []fired
	fire    func(int64, uint64)
}

func newSide(t timers) *side {
	s := &side{t: t}
	s.fire = func(d int64, p uint64) { s.fired = append(s.fired, fired{d, p}) }
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
	ws, ms := newSide(newSlabWheel(start)), newSide(newRefHeap(start))
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
			// A handle never issued must be rejected by both.
			h := Handle(src.u64())
			rw, rm = ws.t.Cancel(h), ms.t.Cancel(h)
			desc = fmt.Sprintf("Cancel(forged %#x)", h)
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
		ws.t.(*slabWheel).check(t, uint64(step))
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
