package core

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/format"
	"github.com/cartwatch/cartwatch/internal/testrows"
)

// TestSteadyStateAllocs: once the pools, tables and wheel have grown, the
// per-event work allocates nothing: parsing and routing a chunk, applying
// carts, purchases and views (with --extend-on-activity) with expiries, and
// formatting alerts. (A whole run's fixed set-up is not per event; the
// benchmarks report it as allocs/event.)
func TestSteadyStateAllocs(t *testing.T) {
	e, err := newEngine(Options{Shards: 2, ExtendOnActivity: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	for i := 0; i < 2000; i++ {
		typ := []string{"view", "cart", "view", "purchase", "remove_from_cart"}[i%5]
		fmt.Fprintf(&text, "2019-11-01 00:%02d:%02d UTC,%s,%d,2,a.b,brand,%d.%02d,%d,00000000-1111-2222-3333-444444444444\n",
			i/60%60, i%60, typ, 1000+i%37, i%500, i%100, 500000+i%301)
	}
	b := &batch{routed: make([][]routed, 2), payloads: make([][]payload, 2), alerts: make([][]Alert, 2)}
	b.rec.Text = text.Bytes()
	var p format.Parser
	parse := func() { e.parseBatch(&p, b) }
	parse()
	if n := testing.AllocsPerRun(20, parse); n != 0 {
		t.Errorf("parseBatch of 2,000 rows: %v allocs per chunk, want 0", n)
	}

	// The same rows as messages, JSON of both shapes and CSV lines, with
	// offsets.
	mb := &batch{routed: make([][]routed, 2), payloads: make([][]payload, 2), alerts: make([][]Alert, 2)}
	for i, line := range bytes.Split(bytes.TrimSuffix(text.Bytes(), []byte("\n")), []byte("\n")) {
		m := line
		if i%3 != 0 {
			m = testrows.JSONRow(strings.Split(string(line), ","), i%2 == 0, i%3 == 1)
		}
		mb.rec.Values = append(mb.rec.Values, m)
		mb.rec.Offsets = append(mb.rec.Offsets, int64(1000+2*i))
	}
	decodeMsgs := func() { e.decodeMessages(&p, mb) }
	decodeMsgs()
	if mb.err != nil || mb.rows != 2000 || len(mb.routed[0])+len(mb.routed[1]) != 2000 {
		t.Fatalf("decodeMessages: err %v, %d rows", mb.err, mb.rows)
	}
	if n := testing.AllocsPerRun(20, decodeMsgs); n != 0 {
		t.Errorf("decodeMessages of 2,000 messages: %v allocs per batch, want 0", n)
	}

	// The Block route of the same rows, both ways.
	var evs []event.Event
	for k := range b.routed[0] {
		r := &b.routed[0][k]
		evs = append(evs, event.Event{Time: r.t, Type: r.typ(), UserID: r.uid})
	}
	for i := 0; i < 200; i++ {
		evs = append(evs, event.Event{Time: int64(i), Type: event.EventView, UserID: uint64(i)})
	}
	var blk event.Block
	blk.AppendEvents(evs)
	for _, extend := range []bool{false, true} {
		eb, err := newEngine(Options{Shards: 2, ExtendOnActivity: extend}, nil)
		if err != nil {
			t.Fatal(err)
		}
		eb.blocks = true
		bb := &batch{routed: make([][]routed, 2), payloads: make([][]payload, 2), alerts: make([][]Alert, 2)}
		bb.rec.Block = &blk
		route := func() { eb.routeBlock(bb) }
		route()
		if bb.err != nil || bb.rows != int64(len(evs)) {
			t.Fatalf("routeBlock: err %v, %d rows", bb.err, bb.rows)
		}
		if n := testing.AllocsPerRun(20, route); n != 0 {
			t.Errorf("routeBlock of %d rows, extend=%v: %v allocs per block, want 0", len(evs), extend, n)
		}
	}

	s := e.shards[0]
	round := int64(0)
	var out []byte
	apply := func() {
		// One hour of events per round, so every cart of the previous
		// round expires: steady state opens, converts, extends and
		// abandons carts all the time.
		base := round * 3600
		for k := range b.routed[0] {
			r := b.routed[0][k]
			r.t += base
			s.apply(&r, event.HashUser(r.uid), b.payloads[0], base+r.wm, int64(r.line))
		}
		s.advance(base + 3599)
		for i := range s.out {
			out = s.out[i].AppendJSON(out[:0])
		}
		s.out = s.out[:0]
		round++
	}
	for i := 0; i < 5; i++ {
		apply()
	}
	if s.cnt.Abandoned == 0 || s.cnt.Converted == 0 {
		t.Fatalf("the rounds do not exercise the detector: %+v", s.cnt)
	}
	if n := testing.AllocsPerRun(20, apply); n != 0 {
		t.Errorf("shard.apply of %d events: %v allocs per round, want 0", len(b.routed[0]), n)
	}
}
