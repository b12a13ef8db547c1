package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/cartwatch/cartwatch/core"
	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/format"
	"github.com/cartwatch/cartwatch/kafka"
	"github.com/cartwatch/cartwatch/loadgen"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The demo's two ends of the events topic: demoFeed plays the input into
// it, as `cartwatch produce --speedup X` would; demoSource is the engine's
// Source, the kafka.Consumer of `cartwatch consume` with an end: once
// every record the feed sent has been consumed, it plays the carts' last
// TTL in event time (ticks, at the same pace) and ends the input, so the
// run ends as `cartwatch run` does (rule 6), with the same summary.

// replayClock maps event time to the wall clock of the replay: event time
// t plays at start + (t - t0) / speedup, where t0 is the first event's time
// (kafka.Pacer keeps this schedule on average).
type replayClock struct {
	speedup float64
	start   atomic.Int64 // wall clock (UnixNano) when the first event played; 0 before
	t0      atomic.Int64 // the first event's time
	maxT    atomic.Int64 // the highest event time played so far
}

// begin starts the clock at the first event, time t.
func (c *replayClock) begin(t int64) {
	c.t0.Store(t)
	c.maxT.Store(t)
	c.start.Store(time.Now().UnixNano())
}

func (c *replayClock) started() bool { return c.start.Load() != 0 }

// playAt returns when event time t plays (or played).
func (c *replayClock) playAt(t int64) time.Time {
	d := time.Duration(float64(t-c.t0.Load()) / c.speedup * float64(time.Second))
	return time.Unix(0, c.start.Load()).Add(d)
}

// eventAt returns the event time the replay has reached at now.
func (c *replayClock) eventAt(now time.Time) int64 {
	el := now.Sub(time.Unix(0, c.start.Load()))
	return c.t0.Load() + int64(el.Seconds()*c.speedup)
}

// demoFeed plays the input into the events topic: each valid row as
// `cartwatch produce` writes it (JSON, keyed by user_id, the event time as
// timestamp), paced by event time; each malformed row as the line it is,
// so the consumer rejects it to the dead-letter topic and counts it, as
// `cartwatch run` counts it.
type demoFeed struct {
	name    string             // the input, for the view
	src     core.Source        // a file, or
	gen     *loadgen.Generator // the synthetic day
	maxTime int64              // format.Parser.MaxTime, the engine's
	clock   *replayClock
	pace    kafka.Pacer
	p       *kafka.Producer
	cl      *kgo.Client // p's, for the malformed rows
	topic   string

	raw       atomic.Int64 // malformed rows sent as they are
	rawDone   atomic.Int64 // of them acknowledged or failed
	rawFailed atomic.Int64
	skipped   int64 // malformed rows left out (read after done)

	// Set before done is closed.
	done     chan struct{}
	complete bool  // the whole input was sent and acknowledged
	sent     int64 // records sent
	runErr   error
}

// run plays the input until its end or ctx's end (then it returns nil:
// a stop is no failure), then waits until every record sent is
// acknowledged. done is closed when it returns.
func (f *demoFeed) run(ctx context.Context) error {
	defer close(f.done)
	var err error
	if f.gen != nil {
		err = f.synthetic(ctx)
	} else {
		err = f.file(ctx)
	}
	stopped := ctx.Err() != nil
	if stopped && errors.Is(err, context.Canceled) {
		err = nil
	}
	fctx, cancel := context.WithTimeout(context.Background(), stopDeadline)
	defer cancel()
	if ferr := f.p.Flush(fctx); ferr != nil && err == nil {
		err = fmt.Errorf("playing %s: %w", f.name, ferr)
	}
	// The client's Flush waited for the malformed rows too; their
	// promises may still be running.
	for f.rawDone.Load() < f.raw.Load() && fctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	c := f.p.Counts()
	if perr := kafka.ProduceError(c, f.p.FirstError()); perr != nil && err == nil {
		err = fmt.Errorf("playing %s into %s: %w", f.name, f.topic, perr)
	}
	if n := f.rawFailed.Load(); n > 0 && err == nil {
		err = fmt.Errorf("playing %s into %s: %d malformed rows not delivered", f.name, f.topic, n)
	}
	f.sent = c.Acked + f.raw.Load() - f.rawFailed.Load()
	f.complete = err == nil && !stopped
	f.runErr = err
	return err
}

// finished reports whether run has ended; then complete, sent and runErr
// may be read.
func (f *demoFeed) finished() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// err is run's error once it has ended, else nil.
func (f *demoFeed) err() error {
	if f.finished() {
		return f.runErr
	}
	return nil
}

// event paces and sends one valid event.
func (f *demoFeed) event(ctx context.Context, ev *event.Event, t *kafka.Text) error {
	if !f.clock.started() {
		f.clock.begin(ev.Time)
	}
	if err := f.pace.Wait(ctx, ev.Time); err != nil {
		return err
	}
	if ev.Time > f.clock.maxT.Load() {
		f.clock.maxT.Store(ev.Time)
	}
	return f.p.Produce(ctx, ev, t)
}

// malformed sends a malformed row as it is (no key, no pace).
func (f *demoFeed) malformed(line []byte) {
	f.raw.Add(1)
	r := &kgo.Record{Topic: f.topic, Value: bytes.Clone(line)}
	f.cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
		if err != nil {
			f.rawFailed.Add(1)
		}
		f.rawDone.Add(1)
	})
}

// file plays the rows of f.src, read as `cartwatch produce` reads them
// (format.Parser under the input's header).
func (f *demoFeed) file(ctx context.Context) (err error) {
	// A mapped file that shrinks under us faults on a lost page: the fault
	// becomes an error, as in the engine.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if x := recover(); x != nil {
			if e, ok := x.(error); ok {
				if _, ok := x.(interface{ Addr() uintptr }); ok {
					err = fmt.Errorf("%s changed while it was read (truncated or rewritten?): %w", f.name, e)
					return
				}
			}
			panic(x)
		}
	}()
	rel, _ := f.src.(interface{ Release(*core.Records) })
	p := format.Parser{MaxTime: f.maxTime}
	var (
		rec  core.Records
		sp   kafka.Splitter
		ev   event.Event
		text kafka.Text
	)
	for {
		rec.Text, rec.Skip, rec.Pos, rec.Block = nil, 0, core.PosNext, nil
		if err := f.src.Next(ctx, &rec); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading %s: %w", f.name, err)
		}
		p.Header = rec.Header
		// Under another header than the 2019-Nov one, a malformed row
		// would be read by the consumer in the 2019-Nov column order, and
		// could pass: it is left out and counted instead.
		raw := rec.Header == nil || rec.Header.Canonical()
		it := format.Lines(rec.Text)
		for {
			reason, ok := it.ParseNext(&p, &ev, true)
			if !ok {
				break
			}
			if reason != format.ReasonOK {
				if raw {
					f.malformed(it.Line())
				} else {
					f.skipped++
				}
				continue
			}
			tp := &text
			if !sp.Split(it.Line(), rec.Header, tp) {
				tp = nil
			}
			if err := f.event(ctx, &ev, tp); err != nil {
				return err
			}
		}
		if rel != nil {
			rel.Release(&rec)
		}
	}
}

// synthetic plays the generator's events.
//
// NOTE: each record carries the event's top-level category as its
// category_code (through a Text), so the consumer's figures by category
// are run's; kafka.Encoder writes none for an event without a Text.
func (f *demoFeed) synthetic(ctx context.Context) error {
	evs := make([]event.Event, 1024)
	var t kafka.Text
	for {
		n := f.gen.Read(evs)
		if n == 0 {
			return nil
		}
		for i := range evs[:n] {
			ev := &evs[i]
			t.EventType, t.CategoryCode, t.Session = demoTypeNames[ev.Type&3], ev.CategoryBytes(), ev.SessionBytes()
			if err := f.event(ctx, ev, &t); err != nil {
				return err
			}
		}
	}
}

// demoTypeNames are the event_type spellings of the EventTypes.
var demoTypeNames = [4][]byte{[]byte("other"), []byte("view"), []byte("cart"), []byte("purchase")}

// demoSource is the engine's Source: the Consumer's records until every
// record the feed sent has been consumed, then the tail (Ticks that move
// every partition's time on, at the replay's pace, until the last cart has
// fallen due), then the Consumer's stop (its last barrier and commit), and
// the end of input. A stop before that ends the run as consume's stop does
// (kafka.ErrStopped: nothing abandoned at the end). Next and Release are
// the engine reader's; stop is closed by the demo's stop.
type demoSource struct {
	cons *kafka.Consumer
	feed *demoFeed
	stop chan struct{}
	ttl  int64 // seconds

	phase    demoPhase
	parts    []int32 // partitions with records, for the ticks
	seen     map[int32]bool
	queue    []tailItem   // the tail's ticks and barriers
	tailT    atomic.Int64 // the event time the tail has reached
	tailEnd  int64
	barrier  uint64
	waitCtx  context.Context // ends when the feed ends (Next looks again)
	stopWait context.CancelCauseFunc
	wasEarly atomic.Bool
}

// tailItem is one Records of the tail: a Tick of a partition, or a
// barrier.
type tailItem struct {
	part    int32
	tick    int64
	barrier uint64
}

// demoPhase is where a demoSource is.
type demoPhase uint8

const (
	phasePlay  demoPhase = iota // the Consumer's records
	phaseTail                   // every record consumed: the carts fall due
	phaseDrain                  // the Consumer's stop
)

// demoBarrier marks the tail's own barriers, which the Consumer did not
// hand out (demoCheckpoint keeps them from it).
const demoBarrier = 1 << 63

// errLookAgain ends a wait of the Consumer's Next so that Next looks at
// the feed again.
var errLookAgain = errors.New("look again")

// tailStep is how often the tail moves the partitions' time on.
const tailStep = 250 * time.Millisecond

func (s *demoSource) stopped() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// early reports whether the run was stopped before its end of input.
func (s *demoSource) early() bool { return s.wasEarly.Load() }

// Next implements core.Source.
func (s *demoSource) Next(ctx context.Context, r *core.Records) error {
	for {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		switch s.phase {
		case phasePlay:
			if s.stopped() {
				s.wasEarly.Store(true)
				s.phase = phaseDrain
				continue
			}
			if s.allConsumed() {
				s.startTail()
				continue
			}
			cctx, cancel := s.consumeCtx(ctx)
			err := s.cons.Next(cctx, r)
			cancel()
			if errors.Is(err, errLookAgain) && ctx.Err() == nil {
				continue
			}
			if err == nil && r.Values != nil && !s.seen[r.Partition] {
				s.seen[r.Partition] = true
				s.parts = append(s.parts, r.Partition)
			}
			return err
		case phaseTail:
			if s.stopped() {
				s.wasEarly.Store(true)
				s.phase = phaseDrain
				continue
			}
			if len(s.queue) > 0 {
				q := s.queue[0]
				s.queue = s.queue[1:]
				r.Partition, r.Tick, r.Barrier = q.part, q.tick, q.barrier
				return nil
			}
			if s.tailT.Load() >= s.tailEnd {
				s.cons.Stop()
				s.phase = phaseDrain
				continue
			}
			s.tailTicks(ctx)
		case phaseDrain:
			err := s.cons.Next(ctx, r)
			if errors.Is(err, kafka.ErrStopped) && !s.early() {
				return io.EOF
			}
			return err
		}
	}
}

// allConsumed reports whether the feed sent its whole input and the
// Consumer has handed out every record of it.
func (s *demoSource) allConsumed() bool {
	f := s.feed
	return f.finished() && f.complete && s.cons.Stats().Records >= f.sent
}

// consumeCtx is the context of a Consumer.Next: it ends with ctx, and
// while the feed runs also when the feed ends (a Next waiting for records
// must come back to see that every record is in); after, every tailStep.
func (s *demoSource) consumeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.feed.finished() {
		return context.WithTimeoutCause(ctx, tailStep, errLookAgain)
	}
	if s.waitCtx == nil {
		s.waitCtx, s.stopWait = context.WithCancelCause(ctx)
		go func() {
			select {
			case <-s.feed.done:
				s.stopWait(errLookAgain)
			case <-s.waitCtx.Done():
			}
		}()
	}
	return s.waitCtx, func() {}
}

// startTail begins the tail: every cart's deadline is at most the last
// event time plus the TTL (rule 3), so ticks up to there fire them all.
func (s *demoSource) startTail() {
	s.phase = phaseTail
	if s.stopWait != nil {
		s.stopWait(errLookAgain)
	}
	c := s.feed.clock
	if !c.started() || len(s.parts) == 0 {
		s.tailEnd = math.MinInt64 // nothing was played
		s.tailT.Store(math.MinInt64)
		return
	}
	s.tailT.Store(c.maxT.Load())
	s.tailEnd = c.maxT.Load() + s.ttl
}

// tailTicks waits for the next step of the tail (or the stop), then
// queues a Tick for every partition at the event time the replay has
// reached, and a barrier (the view reads the open carts there).
func (s *demoSource) tailTicks(ctx context.Context) {
	t := min(s.tailEnd, s.feed.clock.eventAt(time.Now()))
	if t <= s.tailT.Load() {
		timer := time.NewTimer(tailStep)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-s.stop:
			return
		case <-ctx.Done():
			return
		}
		t = min(s.tailEnd, s.feed.clock.eventAt(time.Now()))
		if t <= s.tailT.Load() {
			return
		}
	}
	for _, p := range s.parts {
		s.queue = append(s.queue, tailItem{part: p, tick: t})
	}
	s.barrier++
	s.queue = append(s.queue, tailItem{barrier: demoBarrier | s.barrier})
	s.tailT.Store(t)
}

// Release implements the engine's releaser: the Consumer's buffers go back
// to it.
func (s *demoSource) Release(r *core.Records) { s.cons.Release(r) }

// Close implements core.Source.
func (s *demoSource) Close() error {
	if s.stopWait != nil {
		s.stopWait(nil)
	}
	return s.cons.Close()
}
