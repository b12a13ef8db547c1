package loadgen

import (
	"fmt"

	"github.com/cartwatch/cartwatch/core"
)

// Generator streams the synthetic month as parsed events, in time order:
// exactly the rows `loadgen generate` writes for the same Config. It is read
// by one goroutine; its workers start on the first Read or Next and stop at
// the end of the stream or on Close.
type Generator struct {
	m    *model
	p    *pipeline
	cur  *hourOut
	pos  int
	hour int
	done bool
}

// NewGenerator validates cfg and builds the model (the product catalogue is
// built once per seed and shared).
func NewGenerator(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Generator{m: newModel(cfg)}, nil
}

// Rows returns the number of events the Generator produces in total.
func (g *Generator) Rows() int64 { return g.m.rows }

// Config returns the configuration the Generator was built from.
func (g *Generator) Config() Config { return g.m.cfg }

// Read fills dst with the next events and returns how many it wrote; it
// returns 0 only at the end of the stream.
func (g *Generator) Read(dst []core.Event) int {
	n := 0
	for n < len(dst) {
		if !g.fill() {
			break
		}
		k := copy(dst[n:], g.cur.ev[g.pos:])
		g.pos += k
		n += k
	}
	return n
}

// Next stores the next event in ev and reports whether there was one.
func (g *Generator) Next(ev *core.Event) bool {
	if !g.fill() {
		return false
	}
	*ev = g.cur.ev[g.pos]
	g.pos++
	return true
}

// fill makes sure g.cur has an unread event, fetching the next hour.
func (g *Generator) fill() bool {
	for g.cur == nil || g.pos == len(g.cur.ev) {
		if g.done {
			return false
		}
		if g.cur != nil {
			g.p.put(g.cur)
			g.cur = nil
		}
		if g.p == nil {
			g.p = newPipeline(g.m, g.m.cfg.workers(), g.m.buildEvents)
		}
		if g.hour == g.m.nBlocks {
			g.Close()
			return false
		}
		out, ok := g.p.get(g.hour)
		if !ok {
			g.done = true
			return false
		}
		g.hour++
		g.cur, g.pos = out, 0
	}
	return true
}

// Close stops the workers. Reading after Close returns no more events. It
// is needed only when the stream is abandoned before its end.
func (g *Generator) Close() error {
	g.done = true
	if g.p != nil {
		g.p.stop()
	}
	return nil
}

// buildEvents turns hour h into core.Events.
func (m *model) buildEvents(out *hourOut, srcs []*block, h int) {
	n := hourRows(srcs, h)
	if cap(out.ev) < n {
		out.ev = make([]core.Event, n, n+n/4)
	}
	ev := out.ev[:n]
	i := 0
	c := m.cat
	mergeHour(srcs, h, func(x *rec, b *block) {
		e := &ev[i]
		i++
		e.Time = MonthStart + int64(x.t)
		e.UserID = userID(x.user)
		p := &c.prods[x.prod]
		e.ProductID, e.CategoryID, e.PriceCents = p.id, p.category, p.priceCents
		e.Type = x.typ
		if x.sess != noSession {
			e.Session = b.sessions[x.sess]
			e.SessionLen = core.SessionMax
		} else {
			e.SessionLen = 0
		}
	})
	out.ev, out.rows = ev, n
}

// String describes the configuration in flag form.
func (c Config) String() string {
	s := fmt.Sprintf("--rows %d --days %d --seed %d", c.totalRows(), c.Days, c.Seed)
	if c.NoGaps {
		s += " --no-gaps"
	}
	return s
}
