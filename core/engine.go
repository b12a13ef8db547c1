package core

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/format"
)

// This file is the engine: one loop for every source. One batch's path:
//
//	reader   (Run's goroutine) takes Records from the Source, in order, into
//	         a batch from the pool;
//	workers  (decode), several in parallel, parse or read each record,
//	         count it, and route carts and purchases (and, with
//	         --extend-on-activity, every event) to the shard that owns the
//	         user, each with the running maximum event time of its batch;
//	sequencer puts batches back in input order and stamps each with the
//	         maximum event time of all earlier batches of its partition and
//	         its first position, so that a shard knows the exact watermark in
//	         force before each of its events;
//	shards   (shard.apply in detector.go) apply events and fire deadlines,
//	         each in the state of the batch's partition;
//	merger   takes each batch back from every shard, sorts the batch's alerts
//	         into the output order and hands them to the Sink, with the
//	         rejected records, and recycles the batch.
//
// Batches are pointer-rich but recycled through a fixed pool, so the steady
// state allocates nothing per event.

// batchKind says what a batch carries through the pipeline.
type batchKind uint8

const (
	kindData    batchKind = iota
	kindBarrier           // a Checkpointer barrier: shards report, the merger flushes
	kindDrop              // a partition's state is dropped (Records.Drop)
	kindRestore           // a partition's state is restored (Records.Restore)
	kindEnd               // end of input: the shards finish (rule 6)
	kindAbort             // the run stops early: no end-of-input abandonment
)

// batch is the unit that travels the pipeline.
type batch struct {
	seq  int64
	kind batchKind
	rec  Records // the input, as the source handed it over

	// Set by the worker.
	routed   [][]routed  // per shard
	payloads [][]payload // per shard
	localMax int64       // max event time in the batch; math.MinInt64 if none
	lines    int64       // positions (lines, rows) the batch covers
	cnt      Counters    // Views, Carts, Purchases, Others only
	rows     int64       // valid records
	bad      int64       // malformed records
	rejects  []reject
	rejVals  []byte  // the raw messages of the rejects (Values input)
	offsets  []int64 // nil, or a copy of rec.Offsets (in offBuf): each record's position
	offBuf   []int64
	snap     *Snapshot // kindRestore: the decoded snapshot, read-only from here on
	err      error     // the batch could not be decoded: the run fails

	// Set by the sequencer.
	base      int64           // max event time of all earlier batches of the partition
	firstLine int64           // position of the batch's first record
	positions map[int32]int64 // a barrier: each partition's next position

	// Set by the shards.
	alerts [][]Alert
	spends [][]Spend // with Options.Spending

	hint *listHint // nil for the end-of-input marker
}

type reject struct {
	line   int64 // relative to the batch (b.pos gives its position)
	reason format.Reason
	lo, hi int32 // the raw record in batch.rejVals (messages), else 0, 0
}

// pos returns the position of the batch's record at index line (relative to
// the batch): its offset if the source gave offsets, else counted from the
// batch's first position.
func (b *batch) pos(line int64) int64 {
	if b.offsets != nil {
		return b.offsets[line]
	}
	return b.firstLine + line
}

// Progress is read by another goroutine while a run is going.
type Progress struct {
	Bytes atomic.Int64 // input bytes read so far, of the file as stored (compressed bytes for compressed input)
	Total atomic.Int64 // the input's size as stored; 0 when unknown (stdin, a pipe, in-process)
	Rows  atomic.Int64 // records (lines, rows) through the engine
}

// ErrNoValidRows is the error of a run whose input had no valid record.
var ErrNoValidRows = errors.New("no valid row in the input")

// engine is one run.
type engine struct {
	opt      Options
	ttl, lat int64
	recovery int64 // seconds; 0 = off
	nshard   int
	// rowCnt sums the batches' counts by event type; the merger owns it
	// until it returns.
	rowCnt Counters
	prog   *Progress
	sink   Sink
	// spendSink is sink as a SpendSink, with Options.Spending.
	spendSink SpendSink
	maxTime   int64 // latest valid event time (MaxFuture); math.MaxInt64 for none

	pool    chan *batch
	work    chan *batch
	parsed  chan *batch
	toShard []handoff // sequencer -> shard i: rings (ring.go)
	done    []chan *batch

	shards []*shard
	hint   *listHint // shared by the pool's batches
	blocks bool      // the input is Blocks: no payload lists
	end    batchKind // kindEnd or kindAbort: how the input stopped (set before work closes)

	// Set by the merger.
	firstRejects []Reject // the first few, for ErrNoValidRows
}

func newEngine(opt Options, prog *Progress) (*engine, error) {
	if err := opt.ensureDefaults(); err != nil {
		return nil, err
	}
	if prog == nil {
		prog = new(Progress)
	}
	e := &engine{opt: opt, ttl: int64(opt.TTL / time.Second), lat: int64(opt.Lateness / time.Second),
		recovery: max(int64(opt.RecoveryWindow/time.Second), 0), nshard: opt.Shards, prog: prog, sink: opt.sink(), maxTime: math.MaxInt64, end: kindEnd}
	if ss, ok := e.sink.(SpendSink); ok && opt.Spending {
		e.spendSink = ss
	}
	if opt.MaxFuture > 0 {
		e.maxTime = opt.Now().Add(opt.MaxFuture).Unix()
	}
	// The pool bounds the batches in flight, hence memory: enough for every
	// worker to hold one while the sequencer waits for a slow one and every
	// shard has a backlog of about two.
	npool := 2*opt.Parsers + 2*opt.Shards + 2
	e.pool = make(chan *batch, npool)
	e.hint = new(listHint)
	for i := 0; i < npool; i++ {
		e.pool <- e.newBatch()
	}
	// Every channel below can hold the whole pool, so no stage ever blocks
	// on a send; back-pressure comes from the reader waiting on the pool.
	e.work = make(chan *batch, npool)
	e.parsed = make(chan *batch, npool)
	e.done = make([]chan *batch, e.nshard)
	e.shards = make([]*shard, e.nshard)
	for i := range e.done {
		if opt.newHandoff != nil {
			e.toShard = append(e.toShard, opt.newHandoff(npool+1))
		} else {
			e.toShard = append(e.toShard, newRing(npool+1))
		}
		e.done[i] = make(chan *batch, npool+1)
		e.shards[i] = newShard(e.ttl, e.recovery, opt.ExtendOnActivity, max(1<<16, int(opt.ExpectedRows/rowsPerUser)/e.nshard))
		e.shards[i].spending = opt.Spending
	}
	if opt.Live != nil {
		opt.Live.bind(e)
	}
	return e, nil
}

func (e *engine) newBatch() *batch {
	b := &batch{routed: make([][]routed, e.nshard), payloads: make([][]payload, e.nshard),
		alerts: make([][]Alert, e.nshard), spends: make([][]Spend, e.nshard), hint: e.hint}
	b.rec.reset()
	return b
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

// Run runs the engine over src until its end, an error, or ctx's end, and
// closes src. On ctx's end it stops reading, writes the alerts already due,
// and returns the summary so far with Interrupted set and an error wrapping
// ctx's cause. An input with no valid record returns an error wrapping
// ErrNoValidRows that names the first reject reasons.
func Run(ctx context.Context, src Source, opt Options, prog *Progress) (Summary, error) {
	defer src.Close()
	if sz, ok := src.(sizer); ok && opt.ExpectedRows == 0 {
		opt.ExpectedRows = sz.expectedRows()
	}
	e, err := newEngine(opt, prog)
	if err != nil {
		return Summary{}, err
	}
	if c, ok := src.(chunkSizer); ok {
		c.setChunkBytes(e.opt.ChunkBytes, e.opt.Parsers+2)
	}
	return e.run(ctx, src)
}

// run starts every stage, reads src on the calling goroutine, and waits for
// the end.
func (e *engine) run(ctx context.Context, src Source) (Summary, error) {
	start := time.Now()
	// rctx ends the reading: the caller's ctx, or the merger on a batch
	// that cannot be decoded.
	rctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	if in, ok := src.(interrupter); ok {
		defer context.AfterFunc(rctx, in.Interrupt)()
	}
	rel, _ := src.(releaser)

	var wg sync.WaitGroup
	var workers sync.WaitGroup
	for i := 0; i < e.opt.Parsers; i++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			e.decodeLoop(rel)
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
		sum, mergeErr = e.merge(stop)
	}()

	readErr := e.read(rctx, src)
	if readErr != nil {
		e.end = kindAbort
	}
	close(e.work)
	workers.Wait()
	close(e.parsed)
	wg.Wait()

	e.total(&sum)
	sum.ElapsedSeconds = time.Since(start).Seconds()
	if sum.ElapsedSeconds > 0 {
		sum.EventsPerSecond = float64(sum.Events) / sum.ElapsedSeconds
	}
	if ctx.Err() != nil {
		sum.Interrupted = true
		return sum, fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
	if err := errors.Join(readErr, mergeErr); err != nil {
		if c := context.Cause(rctx); c != nil && errors.Is(readErr, c) {
			err = c // the reader only saw the merger's stop
		}
		return sum, err
	}
	if sum.Events == 0 {
		var head []byte
		if h, ok := src.(headSource); ok {
			head = h.headBytes()
		}
		return sum, e.noValidRows(sum, head)
	}
	return sum, nil
}

// read hands the source's Records to the workers until the end of input,
// an error, or ctx's end.
func (e *engine) read(ctx context.Context, src Source) (err error) {
	// A mapped file that shrinks under the run faults on the next read of
	// a lost page: a panic, not a crash, on this goroutine (the workers do
	// the same), and an error of the run.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = faultError(r)
		}
	}()
	for seq := int64(0); ; seq++ {
		var b *batch
		select {
		case b = <-e.pool:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		b.rec.reset()
		err := src.Next(ctx, &b.rec)
		if err == nil && ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		if err != nil {
			e.pool <- b
			if err == io.EOF {
				return nil
			}
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return err
		}
		b.kind = kindData
		switch {
		case !b.rec.empty():
		case b.rec.Barrier != 0:
			b.kind = kindBarrier
		case b.rec.Drop:
			b.kind = kindDrop
		case b.rec.Restore != nil:
			b.kind = kindRestore
		}
		if seq == 0 {
			e.seedHint(&b.rec)
		}
		b.seq = seq
		e.work <- b
	}
}

// alertCompare is the total output order of alerts (docs/semantics.md,
// Order of alerts); the partition breaks the ties of carts of different
// partitions that fall due together at the end of input.
func alertCompare(a, b *Alert) int {
	switch {
	case alertLess(a, b):
		return -1
	case alertLess(b, a):
		return 1
	}
	return cmp.Compare(a.Partition, b.Partition)
}

// faultError turns a recovered memory fault into the run's error; any other
// panic goes on.
func faultError(r any) error {
	if err, ok := r.(error); ok {
		if _, ok := r.(interface{ Addr() uintptr }); ok {
			return fmt.Errorf("the input file changed while it was read (truncated or rewritten?): %w", err)
		}
	}
	panic(r)
}

// decodeLoop is one worker: it decodes each batch for the shards.
func (e *engine) decodeLoop(rel releaser) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	var p format.Parser
	p.MaxTime = e.maxTime
	for b := range e.work {
		e.decode(&p, b, rel)
		e.parsed <- b
	}
}

// decode is the worker step: the decoder of the batch's Records.
func (e *engine) decode(p *format.Parser, b *batch, rel releaser) {
	defer func() {
		if r := recover(); r != nil {
			b.reset()
			b.err = faultError(r)
		}
	}()
	switch {
	case b.kind == kindRestore:
		b.reset()
		b.snap, b.err = decodeRestore(&b.rec)
		if rel != nil {
			rel.Release(&b.rec)
		}
		b.rec.Restore = nil
	case b.kind != kindData:
		b.reset()
	case b.rec.empty():
		// A tick (or nothing): the partition's time moves on.
		b.reset()
		if b.rec.Tick != 0 {
			b.localMax = b.rec.Tick
		}
	case b.rec.Block != nil:
		e.routeBlock(b)
	case b.rec.Values != nil:
		e.decodeMessages(p, b)
		// As for text: the values can go back to the source.
		if rel != nil {
			rel.Release(&b.rec)
		}
		b.rec.Values, b.rec.Offsets = nil, nil
	default:
		p.Header = b.rec.Header
		e.parseBatch(p, b)
		// Routed events hold copies of what they need: the text can go
		// back to the source before the shards see the batch.
		if rel != nil {
			rel.Release(&b.rec)
		}
		b.rec.Text = nil
	}
}

// partSeq is what the sequencer keeps per partition.
type partSeq struct {
	maxT int64 // max event time of the partition's batches so far
	next int64 // position of the partition's next record
}

// sequence restores input order and stamps each batch with the maximum event
// time of its partition before it and its first position, then hands it to
// every shard.
func (e *engine) sequence() {
	pending := make([]*batch, cap(e.pool))
	next := int64(0)
	parts := map[int32]*partSeq{}
	dispatch := func(b *batch) {
		if b.kind == kindData {
			for i := range b.routed {
				b.hint.raise(len(b.routed[i]), len(b.payloads[i]))
			}
			ps := parts[b.rec.Partition]
			if ps == nil {
				ps = &partSeq{maxT: math.MinInt64, next: 1}
				parts[b.rec.Partition] = ps
			}
			if b.rec.Pos >= 0 {
				ps.next = b.rec.Pos
			}
			b.base = ps.maxT
			b.firstLine = ps.next
			ps.next += b.lines
			if n := len(b.offsets); n > 0 {
				b.firstLine, ps.next = b.offsets[0], b.offsets[n-1]+1
			}
			ps.maxT = max(ps.maxT, b.localMax)
		}
		if b.kind == kindDrop {
			delete(parts, b.rec.Partition)
		}
		if b.kind == kindRestore && b.err == nil {
			parts[b.rec.Partition] = &partSeq{maxT: b.snap.MaxTime, next: max(b.snap.Next, 1)}
		}
		if b.kind == kindBarrier {
			b.positions = make(map[int32]int64, len(parts))
			for p, ps := range parts {
				b.positions[p] = ps.next
			}
		}
		for _, h := range e.toShard {
			h.push(b)
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
	// blocks, and carries the shards' last alerts to the merger.
	fin := &batch{seq: next, kind: e.end, localMax: math.MinInt64, routed: make([][]routed, e.nshard),
		payloads: make([][]payload, e.nshard), alerts: make([][]Alert, e.nshard), spends: make([][]Spend, e.nshard)}
	dispatch(fin)
	for _, h := range e.toShard {
		h.close()
	}
}

// runShard applies every batch's events for shard i in input order.
func (e *engine) runShard(i int) {
	s := e.shards[i]
	in := e.toShard[i]
	live := e.opt.Live
	outMax := 0
	for b, ok := in.pop(); ok; b, ok = in.pop() {
		switch b.kind {
		case kindData:
			if b.err == nil {
				s.use(b.rec.Partition)
				e.applyBatch(s, b, i)
				if live != nil {
					live.publishPart(i, s)
				}
				if i == 0 {
					s.tally(b)
				}
			}
		case kindRestore:
			if b.err == nil {
				s.restore(b.snap, i, e.nshard)
				if live != nil {
					live.publishPart(i, s)
				}
			}
		case kindBarrier:
			if cp := e.opt.Checkpoint; cp != nil {
				cp.Shard(b.rec.Barrier, i, ShardView{s})
			}
		case kindDrop:
			s.drop(b.rec.Partition)
			if live != nil {
				live.dropPart(i, b.rec.Partition)
			}
		case kindEnd:
			s.finish(e.opt.KeepAtEOF)
			if live != nil {
				live.publishAll(i, s)
			}
		case kindAbort:
			s.finish(true)
			if live != nil {
				live.publishAll(i, s)
			}
		}
		// As with listHint: a batch's alert list starts as long as the
		// longest this shard has filled.
		outMax = max(outMax, len(s.out))
		b.alerts[i], s.out = s.out, b.alerts[i][:0]
		if cap(s.out) < outMax {
			s.out = make([]Alert, 0, outMax+outMax/8)
		}
		if e.opt.Spending {
			b.spends[i], s.spends = s.spends, b.spends[i][:0]
		}
		e.done[i] <- b
	}
	close(e.done[i])
}

// applyBatch applies batch b's events for shard i to s, in input order, and
// then the batch's last watermark.
func (e *engine) applyBatch(s *shard, b *batch, i int) {
	evs, pl := b.routed[i], b.payloads[i]
	if b.rec.Block != nil {
		pl = b.rec.Block.Rest
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
			if !s.open.mayHave(r.uid) {
				continue
			}
			if idx, ok := s.open.get(r.uid, &s.partState); ok {
				s.extendCart(idx, r.t, b.pos(int64(r.line)))
			}
			continue
		}
		s.apply(r, hs[k], pl, w, b.pos(int64(r.line)))
		k++
	}
	// The whole batch has been seen: its last watermark holds for
	// this shard too, so deadlines behind it fire now rather than
	// at the shard's next event (the same alerts, sooner).
	s.maxT = max(s.maxT, b.base, b.localMax)
	s.advance(e.watermark(s.maxT))
}

// merge collects each batch from every shard, hands its rejects and alerts
// to the sink in order, and recycles it. A batch that could not be decoded
// stops the reading (stop) and fails the run.
func (e *engine) merge(stop context.CancelCauseFunc) (Summary, error) {
	var sum Summary
	var werr error
	fail := func(err error) {
		if werr == nil {
			werr = err
			stop(err)
		}
	}
	var order []*Alert
	for {
		var b *batch
		for i := range e.done {
			x, ok := <-e.done[i]
			if !ok {
				goto end
			}
			b = x
		}
		if b.err != nil {
			fail(b.err)
		}
		e.rowCnt.Add(&b.cnt)
		sum.Events += b.rows
		sum.Malformed += b.bad
		if b.kind == kindRestore && b.snap != nil {
			// The restored partition's input so far counts as this run's:
			// the summary is the one of a run never interrupted.
			c := &b.snap.Counters
			e.rowCnt.Views += c.Views
			e.rowCnt.Carts += c.Carts
			e.rowCnt.Purchases += c.Purchases
			e.rowCnt.Others += c.Others
			sum.Events += b.snap.Events
			sum.Malformed += b.snap.Malformed
		}
		e.prog.Rows.Add(b.lines)
		if e.opt.Live != nil {
			e.opt.Live.publishMerged(&sum, &e.rowCnt)
		}
		for _, r := range b.rejects {
			rj := Reject{Partition: b.rec.Partition, Pos: b.pos(r.line), Reason: r.reason}
			if r.hi > r.lo {
				rj.Value = b.rejVals[r.lo:r.hi]
			}
			if len(e.firstRejects) < 3 {
				rj := rj
				rj.Value = nil
				e.firstRejects = append(e.firstRejects, rj)
			}
			if err := e.sink.Reject(&rj); err != nil {
				fail(err)
			}
		}
		if e.spendSink != nil {
			e.spendOut(b, fail)
		}
		order = order[:0]
		for i := range b.alerts {
			for j := range b.alerts[i] {
				order = append(order, &b.alerts[i][j])
			}
		}
		if len(order) > 0 {
			// Each shard's alerts are already in order; a batch's alerts
			// are few next to its rows, so one sort is simpler than a
			// k-way merge and costs as little.
			if e.nshard > 1 {
				slices.SortFunc(order, alertCompare)
			}
			for _, a := range order {
				if err := e.sink.Alert(a); err != nil {
					fail(err)
				}
			}
		}
		switch b.kind {
		case kindBarrier:
			if err := e.sink.Flush(false); err != nil {
				fail(err)
			}
			// A barrier is done only when everything before it was
			// delivered: after a failed write or flush, never (the run
			// is failing, and positions committed past an alert that was
			// not delivered would lose it).
			if cp := e.opt.Checkpoint; cp != nil && werr == nil {
				cp.Done(b.rec.Barrier, b.positions)
			}
		case kindEnd, kindAbort:
			continue // not from the pool
		}
		b.rejects = b.rejects[:0]
		b.positions = nil
		b.snap = nil
		e.pool <- b
	}
end:
	if err := e.sink.Flush(true); err != nil {
		fail(err)
	}
	return sum, werr
}

// spendOut hands batch b's purchases with their users' running totals to
// the spend sink, in input order.
func (e *engine) spendOut(b *batch, fail func(error)) {
	var all []*Spend
	for i := range b.spends {
		for j := range b.spends[i] {
			all = append(all, &b.spends[i][j])
		}
	}
	slices.SortFunc(all, func(a, b *Spend) int { return cmp.Compare(a.Pos, b.Pos) })
	for _, sp := range all {
		if err := e.spendSink.Spend(sp); err != nil {
			fail(err)
		}
	}
}

// total adds the merger's row counts and the shards' tallies to sum.
func (e *engine) total(sum *Summary) {
	cnt := e.rowCnt
	for _, s := range e.shards {
		s.eachPart(func(ps *partState) { cnt.Add(&ps.cnt) })
		cnt.Add(&s.retired)
	}
	sum.setCounters(&cnt)
	top := make([]Spender, 0, 6)
	for _, s := range e.shards {
		top = s.topSpenders(top, 5)
	}
	sum.TopSpenders = top
}

// noValidRows is the error of a run that found no valid record.
// head, the input's first bytes when the source knows them, names the
// likely cause (format.Diagnose).
func (e *engine) noValidRows(sum Summary, head []byte) error {
	var msg string
	if sum.Malformed == 0 {
		msg = fmt.Sprintf("%v: the input is empty (or only a header)", ErrNoValidRows)
	} else {
		msg = fmt.Sprintf("%v: all %d rows are malformed; the first:", ErrNoValidRows, sum.Malformed)
		for i, r := range e.firstRejects {
			if i > 0 {
				msg += ";"
			}
			msg += fmt.Sprintf(" line %d: %v", r.Pos, r.Reason)
		}
	}
	if cause := format.Diagnose(head); cause != "" && head != nil {
		msg += "\nlikely cause: " + cause
	}
	return &noRowsError{msg: msg}
}

type noRowsError struct{ msg string }

func (e *noRowsError) Error() string { return e.msg }
func (e *noRowsError) Unwrap() error { return ErrNoValidRows }

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
	b.offsets = nil
	b.err = nil
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

// rowBytesHint is about the mean length of a 2019-Nov row, to guess a
// chunk's row count before it is parsed (the batch lists' first size).
const rowBytesHint = 128

// seedHint sizes the batches' lists from the run's first Records before the
// first is routed (the sequencer raises the sizes from there): every event
// goes to a shard with --extend-on-activity, else carts and purchases, 6 %
// of the 2019-Nov rows, for which an eighth is room. Payload lists are only
// needed for text; a Block's shards read its Rest.
//
// NOTE: without it the batches routed before the sequencer had seen one
// grew their lists by doubling: 6 % of the CPU of a 4 M-event run with
// --extend-on-activity.
func (e *engine) seedHint(r *Records) {
	rows := len(r.Text) / rowBytesHint
	if r.Values != nil {
		rows = len(r.Values)
	}
	if r.Block != nil {
		rows = r.Block.Len()
		e.blocks = true
	}
	per := rows / e.nshard
	n := per / 8
	if e.opt.ExtendOnActivity {
		n = per
	}
	p := per / 8
	if e.blocks {
		p = 0
	}
	e.hint.raise(n, p)
}
