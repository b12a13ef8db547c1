package core

import (
	"math"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/format"
)

// The CSV decoder: the worker step for Records of CSV text. The rows are
// parsed by format.Parser (format/), which checks each against rule 8.

// parseBatch is the worker step for CSV text: every line is checked against
// rule 8 and counted; views only raise the batch's maximum time (unless
// --extend-on-activity), carts and purchases are routed to their shard.
func (e *engine) parseBatch(p *format.Parser, b *batch) {
	b.reset()
	skip := int64(b.rec.Skip)
	m := int64(math.MinInt64)
	var ev event.Event
	// A view needs only its time and type, and with --extend-on-activity
	// its user, so the parser may skip storing its other fields (it still
	// validates them).
	const full = false
	extend := e.opt.ExtendOnActivity
	p.ViewUser = extend
	it := p.Rows(b.rec.Text)
	views, n := int64(0), e.nshard
	if !extend {
		// The plain path: the views (94 % of rows) are counted and
		// raise m inside the row walk; only the other rows come out.
		for {
			v, r, ok := it.NextNonView(&ev, &m)
			views += v
			if !ok {
				break
			}
			if r != format.ReasonOK {
				b.bad++
				b.rejects = append(b.rejects, reject{line: skip + int64(it.Index()), reason: r})
				continue
			}
			b.rows++
			m = max(m, ev.Time)
			e.routeEvent(b, &ev, m, skip+int64(it.Index()))
		}
		b.rows += views
		b.cnt.Views += views
		b.lines = skip + int64(it.Count())
		b.localMax = m
		return
	}
	for {
		r, ok := it.Next(&ev, full)
		if !ok {
			break
		}
		if r != format.ReasonOK {
			b.bad++
			b.rejects = append(b.rejects, reject{line: skip + int64(it.Index()), reason: r})
			continue
		}
		b.rows++
		m = max(m, ev.Time)
		if ev.Type == event.EventView {
			// As in routeBatch: views (94 % of rows) stay out of the
			// routeEvent call, too big to inline; with
			// --extend-on-activity their routing is written out here.
			views++
			i := shardOf(event.HashUser(ev.UserID), n)
			b.routed[i] = append(b.routed[i], routed{t: ev.Time, uid: ev.UserID, wm: m,
				line: uint32(skip + int64(it.Index())), xt: uint32(event.EventView)})
			continue
		}
		e.routeEvent(b, &ev, m, skip+int64(it.Index()))
	}
	b.cnt.Views += views
	b.lines = skip + int64(it.Count())
	b.localMax = m
}
