package loadgen

import (
	"fmt"
	"slices"
	"unsafe"

	"github.com/cartwatch/cartwatch/event"
)

// Generator streams the synthetic month as parsed events, in time order:
// exactly the rows `loadgen generate` writes for the same Config. It is read
// by one goroutine; its workers start on the first Read or Next and stop at
// the end of the stream or on Close.
//
// The workers only generate and sort blocks; Read merges them straight into
// the caller's slice, so each event is written once, into memory the caller
// is about to read, instead of through an hour-sized buffer.
type Generator struct {
	m    *model
	p    *pipeline
	hour int  // next hour to start
	in   bool // merging an hour
	done bool
	srcs []*block
	pos  [spillHours + 1]int
	end  [spillHours + 1]int
	pf   [spillHours + 1]int // rows before pf[j] of source j are prefetched
	sec  uint32              // current second of the hour being merged
	j    int                 // current source within sec
	one  [1]event.Event
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
func (g *Generator) Read(dst []event.Event) int {
	n := 0
	for n < len(dst) {
		if !g.in && !g.startHour() {
			break
		}
		n += g.merge(dst[n:])
	}
	return n
}

// Next stores the next event in ev and reports whether there was one.
func (g *Generator) Next(ev *event.Event) bool {
	if g.Read(g.one[:]) == 0 {
		return false
	}
	*ev = g.one[0]
	return true
}

// startHour waits for the blocks of the next hour and sets up its merge.
func (g *Generator) startHour() bool {
	if g.done {
		return false
	}
	if g.p == nil {
		g.p = newPipeline(g.m, g.m.cfg.workers(), nil)
	}
	if g.hour == g.m.nBlocks {
		g.Close()
		return false
	}
	if _, ok := g.p.get(g.hour); !ok {
		g.done = true
		return false
	}
	g.srcs = g.p.sources(g.hour, g.srcs)
	for j, b := range g.srcs {
		k := g.hour - b.idx
		g.pos[j], g.end[j] = b.bounds[k], b.bounds[k+1]
		g.pf[j] = g.pos[j]
	}
	g.sec, g.j, g.in = uint32(g.hour*blockSecs), 0, true
	return true
}

// merge converts rows of the current hour into dst, in buildCSV's order,
// until dst is full or the hour is done, and returns how many.
func (g *Generator) merge(dst []event.Event) int {
	c := g.m.cat
	k := 0
	last := uint32((g.hour + 1) * blockSecs)
	for ; g.sec < last; g.sec, g.j = g.sec+1, 0 {
		for ; g.j < len(g.srcs); g.j++ {
			b := g.srcs[g.j]
			pos, end := g.pos[g.j], g.end[g.j]
			g.prefetch(b, pos, end)
			for pos < end && b.sorted[pos].t == g.sec {
				if k == len(dst) {
					g.pos[g.j] = pos
					return k
				}
				x := &b.sorted[pos]
				e := &dst[k]
				p := &c.prods[x.prod()]
				e.Time = MonthStart + int64(x.t)
				e.ProductID, e.CategoryID, e.PriceCents = p.id, p.category, p.priceCents
				tc := &tops[p.top]
				e.CategoryLen, e.Category = tc.n, tc.b
				e.Type = x.typ()
				if x.sess != noSession {
					// NOTE: the user_id from the session's line (prefetched)
					// rather than userID's hash: 7 % of the iterator's CPU.
					st := &b.sessions[x.sess]
					e.UserID = st.user()
					e.Session, e.SessionLen = *st.uuid(), event.SessionMax
				} else {
					e.UserID = userID(x.user)
					e.Session, e.SessionLen = [event.SessionMax]byte{}, 0
				}
				k++
				pos++
			}
			g.pos[g.j] = pos
		}
	}
	g.endHour()
	return k
}

// prefetch keeps the rows of source j = g.j from pfAhead to pfAhead+pfBatch
// ahead of pos prefetched (see pfAhead).
func (g *Generator) prefetch(b *block, pos, end int) {
	if pf := g.pf[g.j]; pf < end && pf < pos+pfAhead {
		to := min(end, pos+pfAhead+pfBatch)
		prefetchRecs(b.sorted[max(pf, pos):to], unsafe.Pointer(unsafe.SliceData(g.m.cat.prods)), prodShift,
			unsafe.Pointer(unsafe.SliceData(b.sessions)))
		g.pf[g.j] = to
	}
}

// endHour is the end of an hour's merge: it recycles what the hour alone
// still needed and moves on.
func (g *Generator) endHour() {
	g.in = false
	g.p.release(g.srcs)
	g.p.put(nil)
	g.hour++
}

// ReadBlock appends the next events, at most limit, to b as event.Block keeps
// them (a view's time, type and user_id only) and returns how many; it
// returns 0 only at the end of the stream. It is the stream of Read, for
// the engine's columnar input (cartwatch run --synthetic): the rows it
// leaves out of a view are the fields no rule reads.
func (g *Generator) ReadBlock(b *event.Block, limit int) int {
	b.Time = slices.Grow(b.Time, limit)
	b.Type = slices.Grow(b.Type, limit)
	b.UserID = slices.Grow(b.UserID, limit)
	n := 0
	for n < limit {
		if !g.in && !g.startHour() {
			break
		}
		n += g.mergeBlock(b, limit-n)
	}
	return n
}

// mergeBlock is merge appending to b's columns: at most limit rows.
func (g *Generator) mergeBlock(dst *event.Block, limit int) int {
	c := g.m.cat
	k := 0
	last := uint32((g.hour + 1) * blockSecs)
	for ; g.sec < last; g.sec, g.j = g.sec+1, 0 {
		for ; g.j < len(g.srcs); g.j++ {
			b := g.srcs[g.j]
			pos, end := g.pos[g.j], g.end[g.j]
			g.prefetch(b, pos, end)
			for pos < end && b.sorted[pos].t == g.sec {
				if k == limit {
					g.pos[g.j] = pos
					return k
				}
				x := &b.sorted[pos]
				typ := x.typ()
				var st *sessText
				uid := uint64(0)
				if x.sess != noSession {
					st = &b.sessions[x.sess]
					uid = st.user()
				} else {
					uid = userID(x.user)
				}
				dst.Time = append(dst.Time, MonthStart+int64(x.t))
				dst.Type = append(dst.Type, typ)
				dst.UserID = append(dst.UserID, uid)
				if typ != event.EventView {
					p := &c.prods[x.prod()]
					tc := &tops[p.top]
					r := event.BlockRest{ProductID: p.id, CategoryID: p.category, PriceCents: p.priceCents,
						CategoryLen: tc.n, Category: tc.b}
					if st != nil {
						r.Session, r.SessionLen = *st.uuid(), event.SessionMax
					}
					dst.Rest = append(dst.Rest, r)
				}
				k++
				pos++
			}
			g.pos[g.j] = pos
		}
	}
	g.endHour()
	return k
}

// NOTE: the merge reads, per row, a product record and a session text at
// random places of a 6 MB and a 1-6 MB table; nearly every read missed the
// cache, one at a time. Each source's rows pfAhead..pfAhead+pfBatch ahead of
// the merge are prefetched, a batch per assembly call, so the misses overlap.
const (
	pfAhead = 16
	pfBatch = 16
)

// Close stops the workers. Reading after Close returns no more events. It
// is needed only when the stream is abandoned before its end.
func (g *Generator) Close() error {
	g.done = true
	if g.p != nil {
		g.p.stop()
	}
	return nil
}

// String describes the configuration in flag form.
func (c Config) String() string {
	s := fmt.Sprintf("--rows %d --days %d --seed %d", c.totalRows(), c.Days, c.Seed)
	if c.NoGaps {
		s += " --no-gaps"
	}
	return s
}
