package core

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/format"
)

// This file is the engine's plumbing. One event's path:
//
//	reader   (runMapped in source_mmap.go for a regular file, RunReader in
//	         source.go for stdin and gzip, RunEvents / RunSlice below for
//	         in-process events) cuts the input into batches, in order;
//	workers  (parseBatch / routeBatch), several in parallel, parse each row,
//	         count it, and route carts and purchases (and, with
//	         --extend-on-activity, every event) to the shard that owns the
//	         user, each with the running maximum event time of its batch;
//	sequencer puts batches back in input order and stamps each with the
//	         maximum event time of all earlier batches, so that a shard knows
//	         the exact watermark in force before each of its events;
//	shards   (shard.apply in detector.go) apply events and fire deadlines;
//	merger   takes each batch back from every shard, sorts the batch's alerts
//	         into the output order and writes them, with the rejected rows.
//
// Batches are pointer-rich but recycled through a fixed pool, so the steady
// state allocates nothing per event.

// Options configures a run (RunFile, RunReader, RunEvents, RunSlice). The
// zero value of each field means its default. The output never depends on
// Shards, Parsers, ChunkBytes or BatchEvents.
// rowsPerUser is rows per user with a table record (one who carts or buys):
// 82 in the 2019-Nov month, so 100 sizes the table for the month without
// waste (its load stays under 1/2 either way).
const rowsPerUser = 100

type Options struct {
	TTL              time.Duration // cart lifetime after its last cart event; default 30m
	Lateness         time.Duration // allowed lateness; default 0
	KeepAtEOF        bool          // --at-eof keep: leave open carts open at the end
	ExtendOnActivity bool          // any event of a user with an open cart moves its deadline

	Shards      int // shard goroutines; default GOMAXPROCS
	Parsers     int // parse/route goroutines; default GOMAXPROCS
	ChunkBytes  int // bytes per file batch; default 4 MiB
	BatchEvents int // events per in-process batch; default 64k

	// ExpectedRows is a guess of the input's row count, 0 if unknown; it
	// sizes each shard's user table up front (about one user in 100 rows
	// carts or buys), which saves the table's regrowth on a large input.
	// A file's size stands in for it when it is 0.
	ExpectedRows int64

	Alerts    io.Writer // JSON lines, one per abandoned cart; nil discards them
	Rejects   io.Writer // "line<TAB>reason" per malformed row; nil: not written
	RejectLog io.Writer // the first MaxRejectLog reasons; nil: not written

	// useChan hands batches to the shards over buffered channels instead
	// of the SPSC rings (ring.go); only the benchmarks set it, as the
	// baseline the rings are measured against (results/engine.md).
	useChan bool
}

// MaxRejectLog is how many malformed rows are described on RejectLog.
const MaxRejectLog = 10

func (o *Options) ensureDefaults() error {
	if o.TTL == 0 {
		o.TTL = 30 * time.Minute
	}
	if o.TTL < time.Second || o.TTL%time.Second != 0 {
		return fmt.Errorf("ttl %v: must be a positive whole number of seconds", o.TTL)
	}
	if o.Lateness < 0 || o.Lateness%time.Second != 0 {
		return fmt.Errorf("lateness %v: must be a non-negative whole number of seconds", o.Lateness)
	}
	if o.Shards <= 0 {
		o.Shards = runtime.GOMAXPROCS(0)
	}
	if o.Shards > 1024 {
		return fmt.Errorf("shards %d: at most 1024", o.Shards)
	}
	if o.Parsers <= 0 {
		o.Parsers = runtime.GOMAXPROCS(0)
	}
	if o.ChunkBytes <= 0 {
		o.ChunkBytes = 4 << 20
	}
	if o.BatchEvents <= 0 {
		o.BatchEvents = 64 << 10
	}
	// A batch's line numbers and payload indexes are 32-bit (routed).
	if o.ChunkBytes > 1<<30 {
		return fmt.Errorf("chunk bytes %d: at most %d", o.ChunkBytes, 1<<30)
	}
	if o.BatchEvents > 1<<28 {
		return fmt.Errorf("batch events %d: at most %d", o.BatchEvents, 1<<28)
	}
	return nil
}

// routed is one event on its way to a shard: only what every event needs.
// A cart or purchase also has a payload; views (routed only with
// --extend-on-activity, and then nineteen in twenty events) have none, which
// halves the bytes each one costs to hand over.
//
// NOTE: 32 bytes, two to a cache line. With --extend-on-activity every row
// is one of these, written by a worker and read by a shard on the other
// core, so the hand-off is bound by their bytes; the shard recomputes the
// user's hash (a few multiplies) rather than receiving it.
type routed struct {
	t    int64  // event time
	uid  uint64 // user_id
	wm   int64  // max event time of the batch's rows up to and including this one
	line uint32 // line (file) or row (in-process) number relative to the batch
	xt   uint32 // payload index<<2 | event.EventType; a cart or purchase has a payload
}

func (r *routed) typ() event.EventType { return event.EventType(r.xt & 3) }

// x is the index of a cart's or purchase's payload: in its shard's list of
// the batch (Events), or in the Block's Rest.
func (r *routed) x() uint32 { return r.xt >> 2 }

// payload is the rest of a cart or purchase, as a Block keeps it. Routed
// from Events, each is copied into its shard's list of the batch; from a
// Block, the shards read the Block's Rest in place (x indexes it), so the
// router writes only the 32-byte routed.
type payload = event.BlockRest

type reject struct {
	line   int64 // relative to the batch
	reason format.Reason
}

// batch is the unit that travels the pipeline.
type batch struct {
	seq   int64
	final bool // the end-of-input marker: shards finish, nothing else

	// Input: a chunk of whole lines, or events (evs aliases either buf or
	// the caller's slice).
	chunk  *Chunk
	mapped Chunk // the chunk of a mapped file (chunk points here)
	evs    []event.Event
	buf    []event.Event
	blk    *event.Block // a event.Block instead of evs: blkBuf or the caller's
	blkBuf event.Block

	// Set by the worker.
	routed   [][]routed  // per shard
	payloads [][]payload // per shard
	localMax int64       // max event time in the batch; math.MinInt64 if none
	lines    int64       // lines (file) or rows (in-process) in the batch
	cnt      Counters    // Views, Carts, Purchases, Others
	rows     int64       // parsed rows
	bad      int64       // malformed rows
	rejects  []reject
	err      error // a event.Block that breaks its invariant

	// Set by the sequencer.
	base      int64 // max event time of all earlier batches
	firstLine int64 // absolute number of the batch's first line (1-based)

	// Set by the shards.
	alerts [][]Alert

	hint *listHint // nil for the end-of-input marker
}

// listHint is the longest per-shard list of routed events and of payloads
// any batch of the run has needed so far (the sequencer raises it), and the
// size a reused batch's lists are given before they are filled.
//
// NOTE: without it each batch of the pool grew its own lists by doubling,
// copying and dropping each smaller array: with --extend-on-activity that
// was three quarters of the bytes a 4 M-event run allocated.
type listHint struct{ routed, payloads atomic.Int64 }

func (h *listHint) raise(routed, payloads int) {
	if int64(routed) > h.routed.Load() {
		h.routed.Store(int64(routed))
	}
	if int64(payloads) > h.payloads.Load() {
		h.payloads.Store(int64(payloads))
	}
}

// Summary is the result of a run. Field names follow the --summary json keys.
type Summary struct {
	Events                int64     `json:"events"`
	Views                 int64     `json:"views"`
	Carts                 int64     `json:"carts"`
	Purchases             int64     `json:"purchases"`
	OtherEvents           int64     `json:"other_events"`
	Malformed             int64     `json:"malformed"`
	CartsOpened           int64     `json:"carts_opened"`
	Converted             int64     `json:"converted"`
	Abandoned             int64     `json:"abandoned"`
	AbandonedValueCents   int64     `json:"abandoned_value_cents"`
	DirectPurchases       int64     `json:"direct_purchases"`
	LatePurchases         int64     `json:"late_purchases"`
	SpendingCents         int64     `json:"spending_cents"`
	UniqueAbandoningUsers int64     `json:"unique_abandoning_users"`
	TopSpenders           []Spender `json:"top_spenders"`
	OpenCarts             int64     `json:"open_carts"`
	ElapsedSeconds        float64   `json:"elapsed_seconds"`
	EventsPerSecond       float64   `json:"events_per_second"`
}

// Progress is read by another goroutine while a run is going.
type Progress struct {
	Bytes atomic.Int64 // input bytes handed to the workers
	Rows  atomic.Int64 // rows (lines) through the merger
}

// engine is one run.
type engine struct {
	opt      Options
	ttl, lat int64
	nshard   int
	prog     *Progress

	pool    chan *batch
	work    chan *batch
	parsed  chan *batch
	rings   []*ring       // sequencer -> shard i
	toShard []chan *batch // instead of rings when opt.useChan
	done    []chan *batch

	shards []*shard
	hint   *listHint // shared by the pool's batches
	blocks bool      // the input is Blocks: no payload lists
	// line0 is the line number of the first row: 1 for a file (the header,
	// if any, is a line), 2 for in-process events, the line each has in the
	// CSV loadgen writes.
	line0 int64
}

func newEngine(opt Options, prog *Progress) (*engine, error) {
	if err := opt.ensureDefaults(); err != nil {
		return nil, err
	}
	if prog == nil {
		prog = new(Progress)
	}
	e := &engine{opt: opt, ttl: int64(opt.TTL / time.Second), lat: int64(opt.Lateness / time.Second),
		nshard: opt.Shards, prog: prog, line0: 1}
	// The pool bounds the batches in flight, hence memory: enough for every
	// worker to hold one while the sequencer waits for a slow one and every
	// shard has a backlog of about two.
	npool := 2*opt.Parsers + 2*opt.Shards + 2
	e.pool = make(chan *batch, npool)
	hint := new(listHint)
	e.hint = hint
	for i := 0; i < npool; i++ {
		b := &batch{routed: make([][]routed, e.nshard), payloads: make([][]payload, e.nshard),
			alerts: make([][]Alert, e.nshard), hint: hint}
		e.pool <- b
	}
	// Every channel below can hold the whole pool, so no stage ever blocks
	// on a send; back-pressure comes from the reader waiting on the pool.
	e.work = make(chan *batch, npool)
	e.parsed = make(chan *batch, npool)
	e.done = make([]chan *batch, e.nshard)
	e.shards = make([]*shard, e.nshard)
	for i := range e.done {
		if opt.useChan {
			e.toShard = append(e.toShard, make(chan *batch, npool+1))
		} else {
			e.rings = append(e.rings, newRing(npool+1))
		}
		e.done[i] = make(chan *batch, npool+1)
		e.shards[i] = newShard(e.ttl, opt.ExtendOnActivity, max(1<<16, int(opt.ExpectedRows/rowsPerUser)/e.nshard))
	}
	return e, nil
}

// shardOf maps a user hash to a shard. It uses the top bits, the table the
// low ones, so the two stay independent.
func shardOf(h uint64, n int) int { return int((h >> 32) * uint64(n) >> 32) }

// watermark is W for a maximum event time m: m minus the lateness, with no
// event seen meaning -inf.
func (e *engine) watermark(m int64) int64 {
	if m == math.MinInt64 {
		return m
	}
	return m - e.lat
}

// run starts every stage, lets read feed e.work, and waits for the end.
// newWorker returns the step one worker goroutine applies to each batch
// (a closure, so a worker can own state such as its Parser).
func (e *engine) run(read func() error, newWorker func() func(*batch)) (Summary, error) {
	start := time.Now()
	var wg sync.WaitGroup
	var workers sync.WaitGroup
	for i := 0; i < e.opt.Parsers; i++ {
		workers.Add(1)
		process := newWorker()
		go func() {
			defer workers.Done()
			for b := range e.work {
				process(b)
				e.parsed <- b
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.sequence()
	}()
	for i := range e.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.runShard(i)
		}()
	}
	var sum Summary
	var mergeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		sum, mergeErr = e.merge()
	}()

	readErr := read()
	close(e.work)
	workers.Wait()
	close(e.parsed)
	wg.Wait()

	for _, s := range e.shards {
		sum.CartsOpened += s.cnt.CartsOpened
		sum.Converted += s.cnt.Converted
		sum.Abandoned += s.cnt.Abandoned
		sum.AbandonedValueCents += s.cnt.AbandonedValue
		sum.DirectPurchases += s.cnt.Direct
		sum.LatePurchases += s.cnt.Late
		sum.SpendingCents += s.cnt.Spending
		sum.UniqueAbandoningUsers += s.cnt.AbandoningUsers
		sum.OpenCarts += s.cnt.OpenCarts
	}
	top := make([]Spender, 0, 6)
	for _, s := range e.shards {
		top = s.topSpenders(top, 5)
	}
	sum.TopSpenders = top
	sum.ElapsedSeconds = time.Since(start).Seconds()
	if sum.ElapsedSeconds > 0 {
		sum.EventsPerSecond = float64(sum.Events) / sum.ElapsedSeconds
	}
	return sum, errors.Join(readErr, mergeErr)
}

// sequence restores input order and stamps each batch with the maximum event
// time before it, then hands it to every shard.
func (e *engine) sequence() {
	pending := make([]*batch, cap(e.pool))
	next := int64(0)
	maxT := int64(math.MinInt64)
	line := e.line0
	dispatch := func(b *batch) {
		if b.hint != nil {
			for i := range b.routed {
				b.hint.raise(len(b.routed[i]), len(b.payloads[i]))
			}
		}
		b.base = maxT
		b.firstLine = line
		line += b.lines
		maxT = max(maxT, b.localMax)
		if e.rings != nil {
			for _, r := range e.rings {
				r.push(b)
			}
			return
		}
		for _, c := range e.toShard {
			c <- b
		}
	}
	for b := range e.parsed {
		pending[b.seq%int64(len(pending))] = b
		for {
			i := next % int64(len(pending))
			p := pending[i]
			if p == nil || p.seq != next {
				break
			}
			pending[i] = nil
			next++
			dispatch(p)
		}
	}
	// The end-of-input marker: it comes from no pool slot, so it never
	// blocks, and carries the shards' end-of-input alerts to the merger.
	fin := &batch{seq: next, final: true, localMax: math.MinInt64, routed: make([][]routed, e.nshard),
		payloads: make([][]payload, e.nshard),
		alerts:   make([][]Alert, e.nshard)}
	dispatch(fin)
	for _, r := range e.rings {
		r.close()
	}
	for _, c := range e.toShard {
		close(c)
	}
}

// runShard applies every batch's events for shard i in input order.
func (e *engine) runShard(i int) {
	s := e.shards[i]
	var next func() (*batch, bool)
	if e.rings != nil {
		next = e.rings[i].pop
	} else {
		c := e.toShard[i]
		next = func() (*batch, bool) { b, ok := <-c; return b, ok }
	}
	outMax := 0
	for b, ok := next(); ok; b, ok = next() {
		if b.final {
			s.finish(e.opt.KeepAtEOF)
		} else {
			e.applyBatch(s, b, i)
		}
		// As with listHint: a batch's alert list starts as long as the
		// longest this shard has filled.
		outMax = max(outMax, len(s.out))
		b.alerts[i], s.out = s.out, b.alerts[i][:0]
		if cap(s.out) < outMax {
			s.out = make([]Alert, 0, outMax+outMax/8)
		}
		e.done[i] <- b
	}
	close(e.done[i])
}

// applyBatch applies batch b's events for shard i to s, in input order, and
// then the batch's last watermark.
func (e *engine) applyBatch(s *shard, b *batch, i int) {
	evs, pl := b.routed[i], b.payloads[i]
	if b.blk != nil {
		pl = b.blk.Rest
	}
	s.warm(evs)
	hs, k := s.hashes, 0
	for j := range evs {
		r := &evs[j]
		w := e.watermark(max(b.base, r.wm))
		if r.typ() < event.EventCart {
			// NOTE: a view or other event (routed only with
			// --extend-on-activity) of a user with no open cart,
			// nearly all of them, changes nothing but the
			// watermark: decided here, without the apply call.
			if w > s.w {
				s.advance(w)
			}
			if idx, ok := s.open.get(r.uid); ok {
				s.extendCart(idx, r.t, b.firstLine+int64(r.line))
			}
			continue
		}
		s.apply(r, hs[k], pl, w, b.firstLine+int64(r.line))
		k++
	}
	// The whole batch has been seen: its last watermark holds for
	// this shard too, so deadlines behind it fire now rather than
	// at the shard's next event (the same alerts, sooner).
	s.advance(e.watermark(max(b.base, b.localMax)))
}

// merge collects each batch from every shard, writes its alerts and rejects
// in order, and recycles it.
func (e *engine) merge() (Summary, error) {
	var sum Summary
	var werr error
	var aw, rw *bufio.Writer
	if e.opt.Alerts != nil {
		aw = bufio.NewWriterSize(e.opt.Alerts, 256<<10)
	}
	if e.opt.Rejects != nil {
		rw = bufio.NewWriterSize(e.opt.Rejects, 64<<10)
	}
	var order []*Alert
	var line []byte
	logged := 0
	for {
		var b *batch
		for i := range e.done {
			x, ok := <-e.done[i]
			if !ok {
				goto end
			}
			b = x
		}
		sum.Views += b.cnt.Views
		sum.Carts += b.cnt.Carts
		sum.Purchases += b.cnt.Purchases
		sum.OtherEvents += b.cnt.Others
		sum.Events += b.rows
		sum.Malformed += b.bad
		if b.err != nil && werr == nil {
			werr = fmt.Errorf("batch %d: %w", b.seq, b.err)
		}
		e.prog.Rows.Add(b.lines)
		for _, r := range b.rejects {
			if logged < MaxRejectLog && e.opt.RejectLog != nil {
				fmt.Fprintf(e.opt.RejectLog, "line %d: malformed row skipped: %v\n", b.firstLine+r.line, r.reason)
				logged++
			}
			if rw != nil {
				line = strconv.AppendInt(line[:0], b.firstLine+r.line, 10)
				line = append(line, '\t')
				line = append(line, r.reason.String()...)
				line = append(line, '\n')
				rw.Write(line)
			}
		}
		order = order[:0]
		for i := range b.alerts {
			for j := range b.alerts[i] {
				order = append(order, &b.alerts[i][j])
			}
		}
		if len(order) > 0 && aw != nil {
			// Each shard's alerts are already in order; a batch's alerts
			// are few next to its rows, so one sort is simpler than a
			// k-way merge and costs as little.
			if e.nshard > 1 {
				slices.SortFunc(order, func(a, b *Alert) int {
					if alertLess(a, b) {
						return -1
					}
					if alertLess(b, a) {
						return 1
					}
					return 0
				})
			}
			for _, a := range order {
				line = a.AppendJSON(line[:0])
				line = append(line, '\n')
				if _, err := aw.Write(line); err != nil && werr == nil {
					werr = fmt.Errorf("writing alerts: %w", err)
				}
			}
		}
		if !b.final {
			b.rejects = b.rejects[:0]
			e.pool <- b
		}
	}
end:
	if e.opt.RejectLog != nil && sum.Malformed > int64(logged) {
		fmt.Fprintf(e.opt.RejectLog, "... %d malformed rows in all (use --rejects FILE for every line)\n", sum.Malformed)
	}
	if aw != nil {
		if err := aw.Flush(); err != nil && werr == nil {
			werr = fmt.Errorf("writing alerts: %w", err)
		}
	}
	if rw != nil {
		if err := rw.Flush(); err != nil && werr == nil {
			werr = fmt.Errorf("writing rejects: %w", err)
		}
	}
	return sum, werr
}

// reset empties b's per-shard lists for reuse, at least as long as the
// longest the run has needed (with an eighth to spare).
func (b *batch) reset() {
	nr, np := 0, 0
	if b.hint != nil {
		nr, np = int(b.hint.routed.Load()), int(b.hint.payloads.Load())
	}
	for i := range b.routed {
		if cap(b.routed[i]) < nr {
			b.routed[i] = make([]routed, 0, nr+nr/8)
		}
		if cap(b.payloads[i]) < np {
			b.payloads[i] = make([]payload, 0, np+np/8)
		}
		b.routed[i] = b.routed[i][:0]
		b.payloads[i] = b.payloads[i][:0]
	}
	b.localMax = math.MinInt64
	b.lines, b.rows, b.bad = 0, 0, 0
	b.cnt = Counters{}
	b.rejects = b.rejects[:0]
	b.err = nil
}

// seedHint sizes the batches' lists for rows events per batch before the
// first is routed (the sequencer raises the sizes from there): every event
// goes to a shard with --extend-on-activity, else carts and purchases, 6 %
// of the 2019-Nov rows, for which an eighth is room. Payload lists are only
// needed with Events; a Block's shards read its Rest.
//
// NOTE: without it the batches routed before the sequencer had seen one
// grew their lists by doubling: 6 % of the CPU of a 4 M-event run with
// --extend-on-activity.
func (e *engine) seedHint(rows int) {
	per := rows / e.nshard
	r := per / 8
	if e.opt.ExtendOnActivity {
		r = per
	}
	p := per / 8
	if e.blocks {
		p = 0
	}
	e.hint.raise(r, p)
}

// routeEvent counts ev and, when a shard needs it, appends it to its shard's
// list. m is the batch's running max time, including ev.
func (e *engine) routeEvent(b *batch, ev *event.Event, m int64, line int64) {
	if !e.count(b, ev.Type) {
		return
	}
	i := shardOf(event.HashUser(ev.UserID), e.nshard)
	r := routed{t: ev.Time, uid: ev.UserID, wm: m, line: uint32(line), xt: uint32(ev.Type)}
	if ev.Type == event.EventCart || ev.Type == event.EventPurchase {
		r.xt |= uint32(len(b.payloads[i])) << 2
		b.payloads[i] = append(b.payloads[i], payload{ProductID: ev.ProductID, CategoryID: ev.CategoryID,
			PriceCents: ev.PriceCents, SessionLen: ev.SessionLen, Session: ev.Session})
	}
	b.routed[i] = append(b.routed[i], r)
}

// count adds a row of type typ to b's counts and reports whether a shard
// needs it: a cart or purchase always, any other row only with
// --extend-on-activity. routeEvent and routeRow share it.
func (e *engine) count(b *batch, typ event.EventType) bool {
	switch typ {
	case event.EventView:
		b.cnt.Views++
	case event.EventCart:
		b.cnt.Carts++
		return true
	case event.EventPurchase:
		b.cnt.Purchases++
		return true
	default:
		b.cnt.Others++
	}
	return e.opt.ExtendOnActivity
}

// routeBatch is the worker step for in-process events.
func (e *engine) routeBatch(b *batch) {
	b.reset()
	m := int64(math.MinInt64)
	evs := b.evs
	if e.opt.ExtendOnActivity {
		// NOTE: as below, views (and other events, routed the same way)
		// stay out of the routeEvent call: their routing is written out here,
		// and the counts go to locals rather than through b.
		views, others := int64(0), int64(0)
		n := e.nshard
		for k := range evs {
			ev := &evs[k]
			m = max(m, ev.Time)
			switch ev.Type {
			case event.EventView:
				views++
			case event.EventOther:
				others++
			default:
				e.routeEvent(b, ev, m, int64(k))
				continue
			}
			i := shardOf(event.HashUser(ev.UserID), n)
			b.routed[i] = append(b.routed[i], routed{t: ev.Time, uid: ev.UserID, wm: m, line: uint32(k),
				xt: uint32(ev.Type)})
		}
		b.cnt.Views += views
		b.cnt.Others += others
	} else {
		// NOTE: nineteen rows in twenty are views, which only raise the
		// maximum time and a counter here; keeping them out of the routeEvent
		// call (too big to inline) halves the cost per row.
		views := int64(0)
		for k := range evs {
			ev := &evs[k]
			m = max(m, ev.Time)
			if ev.Type == event.EventView {
				views++
				continue
			}
			e.routeEvent(b, ev, m, int64(k))
		}
		b.cnt.Views += views
	}
	b.localMax = m
	b.lines = int64(len(evs))
	b.rows = int64(len(evs))
}

// RunEvents runs the engine over the events read returns (0 at the end), as
// loadgen.Generator.Read does. Event numbers stand in for line numbers.
func RunEvents(read func(dst []event.Event) int, opt Options, prog *Progress) (Summary, error) {
	e, err := newEngine(opt, prog)
	if err != nil {
		return Summary{}, err
	}
	e.line0 = 2
	e.seedHint(e.opt.BatchEvents)
	seq := int64(0)
	reader := func() error {
		for {
			b := <-e.pool
			if len(b.buf) < e.opt.BatchEvents {
				b.buf = make([]event.Event, e.opt.BatchEvents)
			}
			n := read(b.buf[:e.opt.BatchEvents])
			if n == 0 {
				e.pool <- b
				return nil
			}
			b.evs = b.buf[:n]
			b.seq = seq
			seq++
			e.work <- b
		}
	}
	return e.run(reader, func() func(*batch) { return e.routeBatch })
}

// RunSlice runs the engine over evs, which it only reads (used by tests and
// the engine benchmark: batches alias evs, so no event is copied on input).
func RunSlice(evs []event.Event, opt Options) (Summary, error) {
	e, err := newEngine(opt, nil)
	if err != nil {
		return Summary{}, err
	}
	e.line0 = 2
	e.seedHint(min(len(evs), e.opt.BatchEvents))
	reader := func() error {
		for seq := int64(0); len(evs) > 0; seq++ {
			b := <-e.pool
			n := min(len(evs), e.opt.BatchEvents)
			b.evs, evs = evs[:n:n], evs[n:]
			b.seq = seq
			e.work <- b
		}
		return nil
	}
	return e.run(reader, func() func(*batch) { return e.routeBatch })
}
