package core

import (
	"fmt"
	"math"
	"time"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/format"
)

// The message decoder: the worker step for Records of Values, one record
// per message (a Kafka record's value), each a JSON object or one CSV line
// (format.Parser.ParseMessage, format/json.go). Each is checked against
// rule 8, counted and routed exactly as parseBatch does a CSV row; its
// position is its offset (Records.Offsets) or its index from the batch's
// first position.

// decodeMessages is the worker step for messages.
func (e *engine) decodeMessages(p *format.Parser, b *batch) {
	b.reset()
	vals := b.rec.Values
	if offs := b.rec.Offsets; offs != nil {
		if len(offs) != len(vals) {
			b.err = fmt.Errorf("source error: %d offsets for %d values", len(offs), len(vals))
			return
		}
		// A copy: the source may reuse its offsets once the batch is
		// decoded, and the shards and the merger read them after.
		b.offBuf = append(b.offBuf[:0], offs...)
		b.offsets = b.offBuf
	}
	m := int64(math.MinInt64)
	var ev event.Event
	// As in parseBatch: a view stores only what the shards need.
	const full = false
	extend := e.opt.ExtendOnActivity
	p.ViewUser = extend
	views, n := int64(0), e.nshard
	wall := e.opt.WallClock
	// A message is in the future against the time it arrived: a consumer
	// runs for longer than --max-future, and a limit fixed at its start
	// would come to reject live traffic.
	if b.rec.Arrival != 0 && e.opt.MaxFuture > 0 {
		defer func(old int64) { p.MaxTime = old }(p.MaxTime)
		p.MaxTime = b.rec.Arrival + int64(e.opt.MaxFuture/time.Second)
	}
	for i, v := range vals {
		r := p.ParseMessage(v, &ev, full)
		if r != format.ReasonOK {
			// The raw message goes with the reject (a dead-letter
			// topic): copied, as the source may reuse it; rejects are
			// rare, so the copy costs nothing on the common path.
			b.bad++
			lo := len(b.rejVals)
			b.rejVals = append(b.rejVals, v...)
			b.rejects = append(b.rejects, reject{line: int64(i), reason: r, lo: int32(lo), hi: int32(len(b.rejVals))})
			continue
		}
		if wall {
			ev.Time = b.rec.Arrival
		}
		b.rows++
		m = max(m, ev.Time)
		if ev.Type == event.EventView {
			views++
			if extend {
				s := shardOf(event.HashUser(ev.UserID), n)
				b.routed[s] = append(b.routed[s], routed{t: ev.Time, uid: ev.UserID, wm: m,
					line: uint32(i), xt: uint32(event.EventView)})
			}
			continue
		}
		e.routeEvent(b, &ev, m, int64(i))
	}
	b.cnt.Views += views
	b.lines = int64(len(vals))
	b.localMax = m
}
