package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cartwatch/cartwatch/core"
	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/format"
	"github.com/cartwatch/cartwatch/kafka"
	"github.com/cartwatch/cartwatch/loadgen"
	"github.com/twmb/franz-go/pkg/kadm"
)

// `cartwatch produce`: a CSV input (anything run reads) or the synthetic
// month into a Kafka topic, one record per valid row. The shared Kafka
// parts (flags, topic, encoders, the recycling producer, pacing) are in
// package kafka.

// produceFlags is the parsed command line of `cartwatch produce`.
type produceFlags struct {
	kafka     kafka.Flags
	out       kafka.ProduceFlags
	speedup   float64
	maxFuture time.Duration
	member    string
	synthetic bool
	gen       loadgen.Config
	input     string
}

// produceFlagGroups orders the flags in the help and in README.md's table
// (TestProduceHelpMatchesREADME keeps the two equal).
var produceFlagGroups = []flagGroup{
	{"Kafka", []string{"brokers", "timeout", "topic", "partitions", "replication-factor"}},
	{"records", []string{"format", "compression", "acks", "linger", "ack-timeout"}},
	{"pace (neither: as fast as the brokers take them)", []string{"rate", "speedup"}},
	{"input", []string{"member", "synthetic", "max-future"}},
	{"generator (only with --synthetic)", nil}, // loadgen.Config.AddFlags
	securityGroup,
}

func newProduceFlagSet(f *produceFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("cartwatch produce", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	f.kafka.AddFlags(fs)
	f.out.AddFlags(fs)
	fs.Float64Var(&f.speedup, "speedup", 0, "replay in event time, `X` times faster than real time (1: as it happened); not with --rate")
	fs.StringVar(&f.member, "member", "", "the member of a .zip input to read (default: its single .csv member)")
	fs.BoolVar(&f.synthetic, "synthetic", false, "produce loadgen's synthetic month instead of a file")
	fs.DurationVar(&f.maxFuture, "max-future", 24*time.Hour, "a row later than the wall clock plus this is malformed, as in cartwatch run; 0: none after now, negative: no limit")
	f.gen.AddFlags(fs)
	return fs
}

// parseProduceFlags parses and checks the arguments of `cartwatch
// produce`: every error it returns is a usageError, or flag.ErrHelp.
func parseProduceFlags(args []string) (*produceFlags, error) {
	f := &produceFlags{}
	fs := newProduceFlagSet(f)
	input, err := parseInputArgs(fs, args, &f.synthetic)
	if err != nil {
		return nil, err
	}
	f.input = input
	if given := f.gen.FlagsGiven(); len(given) > 0 && !f.synthetic {
		return nil, usagef("--%s: a generator flag, only with --synthetic", strings.Join(given, ", --"))
	}
	if f.member != "" && f.synthetic {
		return nil, usagef("--member %q: the member of a zip input, not with --synthetic", f.member)
	}
	if err := f.kafka.Validate(); err != nil {
		return nil, usageError{err}
	}
	if err := f.out.Validate(); err != nil {
		return nil, usageError{err}
	}
	switch {
	case f.speedup < 0 || math.IsNaN(f.speedup) || math.IsInf(f.speedup, 0):
		return nil, usagef("--speedup %v: want a positive factor (1: real time, 60: an hour a minute)", f.speedup)
	case f.speedup > 0 && f.out.Rate > 0:
		return nil, usagef("--rate and --speedup: give one pace, not both")
	}
	if f.synthetic {
		if err := f.gen.Validate(); err != nil {
			return nil, usageError{err}
		}
	}
	return f, nil
}

// maxTime is the latest event time a row may have (format.Parser.MaxTime),
// from --max-future as `run` reads it; 0 for no limit.
func (f *produceFlags) maxTime(now time.Time) int64 {
	if f.maxFuture < 0 {
		return 0
	}
	return now.Add(f.maxFuture).Unix()
}

func printProduceHelp(w io.Writer) {
	fmt.Fprint(w, `usage: cartwatch produce [flags] FILE|-
       cartwatch produce --synthetic [generator flags] [flags]

Replays clickstream CSV in the 2019-Nov schema (any input cartwatch run
reads: a file, compressed or not, or - for stdin) or, with --synthetic,
loadgen's month into a Kafka topic: one record per valid row, in input
order, keyed by user_id (so each user's events stay in order in one
partition), with the event time as the record's timestamp. Malformed rows
(the rows run rejects) are counted and skipped; the first 10 are named.

A missing topic is created with retention.ms=-1: Kafka's default 7-day
retention is counted from the record timestamps, and would delete 2019
events within minutes. An existing topic with a time retention gets a
warning. Records that fail are counted, and so are the records still
waiting when none has been acknowledged for --ack-timeout.

Every second stderr shows the records acknowledged so far and the rate; at
the end stdout has the totals and the average rate.

Exit codes: 0 done, 1 failed (no broker answers, authentication failed,
the topic cannot be created, unreadable input, no valid row, any record
failed), 2 bad command
line, 130 interrupted (SIGINT, SIGTERM: reading stops and the records read
so far are delivered; a second signal exits at once).
`)
	fs := newProduceFlagSet(&produceFlags{})
	printFlagGroups(w, groupFlags(fs, produceFlagGroups), flagTitle)
}

// produceCmd is `cartwatch produce`. The input is opened before the
// brokers are asked anything, so a typo in a path costs no topic.
func produceCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseProduceFlags(args)
	if code, done := usageExit("produce", err, stdout, stderr, printProduceHelp); done {
		return code
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "cartwatch produce: %v\n", err)
		if ctx.Err() != nil {
			return exitInterrupted
		}
		return exitError
	}
	for _, w := range f.kafka.Warnings() {
		fmt.Fprintf(stderr, "cartwatch produce: warning: %s\n", w)
	}

	var src core.Source
	var gen *loadgen.Generator
	if f.synthetic {
		if gen, err = loadgen.NewGenerator(f.gen); err != nil {
			return fail(err)
		}
		defer gen.Close()
	} else {
		if src, _, err = openSource(ctx, &runFlags{input: f.input, member: f.member}, nil); err != nil {
			return fail(err)
		}
		defer src.Close()
	}

	cl, err := kafka.Connect(ctx, &f.kafka, f.out.Opts()...)
	if err != nil {
		return fail(err)
	}
	defer cl.Close()
	tctx, cancel := context.WithTimeout(ctx, f.kafka.Timeout)
	topic, err := kafka.EnsureTopic(tctx, kadm.NewClient(cl), f.out.Topic, int32(f.out.Partitions), int16(f.out.ReplicationFactor))
	cancel()
	if err != nil {
		return fail(err)
	}
	if topic.Created {
		fmt.Fprintf(stderr, "cartwatch produce: created topic %s: %d partitions, replication factor %d, retention.ms=-1\n",
			topic.Name, topic.Partitions, f.out.ReplicationFactor)
	} else {
		fmt.Fprintf(stderr, "cartwatch produce: topic %s exists: %d partitions\n", topic.Name, topic.Partitions)
	}
	if topic.Warning != "" {
		fmt.Fprintf(stderr, "cartwatch produce: warning: %s\n", topic.Warning)
	}

	format, _ := kafka.ParseFormat(f.out.Format)
	pr := &replay{
		p:     kafka.NewProducer(cl, kafka.ProducerOptions{Format: format, AckTimeout: f.out.AckTimeout}),
		pace:  kafka.Pacer{Rate: f.out.Rate, Speedup: f.speedup},
		start: time.Now(),
	}
	st := startStatus(stderr, pr.p)
	pr.warn = st.Writer()
	stopNote := context.AfterFunc(ctx, func() {
		pr.stopped.Store(true)
		fmt.Fprintln(pr.warn, "cartwatch produce: interrupted: delivering the records read so far (interrupt again to exit at once)")
	})
	var readErr error
	if gen != nil {
		readErr = pr.synthetic(ctx, gen)
	} else {
		if in, ok := src.(interface{ Interrupt() }); ok {
			stopRead := context.AfterFunc(ctx, in.Interrupt)
			defer stopRead()
		}
		readErr = pr.file(ctx, src, f.maxTime(time.Now()))
	}
	// Deliver what was handed over, interrupted or not; --ack-timeout
	// bounds a wait without progress, and a second signal exits at once.
	var flushErr error
	if !errors.Is(readErr, kafka.ErrStalled) {
		flushErr = pr.p.Flush(context.Background())
	}
	end := time.Now()
	if flushErr != nil || readErr != nil {
		pr.p.Close() // the records still waiting fail
	}
	stopNote()
	st.Stop()
	interrupted := ctx.Err() != nil

	c := pr.p.Counts()
	rate := kafka.NewMeter(pr.start).Total(c, end)
	fmt.Fprintf(stdout, "cartwatch produce: %s events to %s in %v: %v",
		kafka.Thousands(c.Acked), topic.Name, rate.Elapsed.Round(time.Millisecond), rate)
	if !f.synthetic {
		fmt.Fprintf(stdout, "; %s malformed rows skipped", kafka.Thousands(pr.malformed))
	}
	fmt.Fprintf(stdout, "; %s failed\n", kafka.Thousands(c.Failed+c.Unfinished()))

	code := exitOK
	if err := kafka.ProduceError(c, pr.p.FirstError()); err != nil {
		fmt.Fprintf(stderr, "cartwatch produce: %v\n", err)
		code = exitError
	}
	if flushErr != nil {
		fmt.Fprintf(stderr, "cartwatch produce: %v\n", flushErr)
		code = exitError
	}
	switch {
	case interrupted:
		fmt.Fprintln(stderr, "cartwatch produce: interrupted: the input was not read to its end")
		return exitInterrupted
	case readErr != nil:
		fmt.Fprintf(stderr, "cartwatch produce: %v\n", readErr)
		return exitError
	case !f.synthetic && pr.valid == 0:
		fmt.Fprintf(stderr, "cartwatch produce: %v: nothing produced (%s malformed rows)\n", core.ErrNoValidRows, kafka.Thousands(pr.malformed))
		return exitError
	}
	return code
}

// replay is one run of produce: the reading loop's state.
type replay struct {
	p       *kafka.Producer
	pace    kafka.Pacer
	start   time.Time
	warn    io.Writer
	stopped atomic.Bool // ctx ended: set once, read per event (cheaper than ctx.Err)

	valid, malformed int64
}

// maxRejectsShown is how many malformed rows are named on stderr.
const maxRejectsShown = 10

// file produces every valid row of src, in order: the Records of CSV text
// are cut into lines and parsed by format.Parser, the parser of run.
func (r *replay) file(ctx context.Context, src core.Source, maxTime int64) (err error) {
	// A mapped file that shrinks under us faults on a lost page: the
	// fault becomes a panic here, and the panic an error (as in the engine).
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if x := recover(); x != nil {
			if e, ok := x.(error); ok {
				if _, ok := x.(interface{ Addr() uintptr }); ok {
					err = fmt.Errorf("the input file changed while it was read (truncated or rewritten?): %w", e)
					return
				}
			}
			panic(x)
		}
	}()
	rel, _ := src.(interface{ Release(*core.Records) })
	p := format.Parser{MaxTime: maxTime}
	var (
		rec  core.Records
		sp   kafka.Splitter
		ev   event.Event
		text kafka.Text
		base int64 // lines before rec
	)
	for {
		rec.Text, rec.Skip, rec.Pos, rec.Block = nil, 0, core.PosNext, nil
		if err := src.Next(ctx, &rec); err != nil {
			if errors.Is(err, io.EOF) || r.stopped.Load() {
				return nil
			}
			return err
		}
		if rec.Block != nil {
			return errors.New("produce: the input gave a Block, not CSV text") // no file source does
		}
		p.Header = rec.Header
		it := format.Lines(rec.Text)
		for {
			reason, ok := it.ParseNext(&p, &ev, true)
			if !ok {
				break
			}
			if reason != format.ReasonOK {
				r.reject(base+int64(rec.Skip)+int64(it.Index())+1, reason)
				continue
			}
			r.valid++
			tp := &text
			if !sp.Split(it.Line(), rec.Header, tp) {
				tp = nil // cannot be (the parser read this row): the Event alone
			}
			if err := r.produce(ctx, &ev, tp); err != nil {
				return r.stopErr(err)
			}
		}
		base += int64(rec.Skip) + int64(it.Count())
		if rel != nil {
			rel.Release(&rec)
		}
	}
}

// synthetic produces the generator's events.
func (r *replay) synthetic(ctx context.Context, g *loadgen.Generator) error {
	evs := make([]event.Event, 4096)
	for {
		n := g.Read(evs)
		if n == 0 {
			return nil
		}
		for i := range evs[:n] {
			if err := r.produce(ctx, &evs[i], nil); err != nil {
				return r.stopErr(err)
			}
		}
	}
}

// stopErr is the reading loop's error for err from produce: none when the
// run was interrupted.
func (r *replay) stopErr(err error) error {
	if r.stopped.Load() {
		return nil
	}
	return err
}

// produce paces and hands over one event.
func (r *replay) produce(ctx context.Context, ev *event.Event, t *kafka.Text) error {
	if r.stopped.Load() {
		return context.Canceled
	}
	if r.pace.Limited() {
		if err := r.pace.Wait(ctx, ev.Time); err != nil {
			return err
		}
	}
	return r.p.Produce(ctx, ev, t)
}

func (r *replay) reject(line int64, reason format.Reason) {
	r.malformed++
	if r.malformed <= maxRejectsShown {
		fmt.Fprintf(r.warn, "cartwatch produce: line %d: %v: skipped\n", line, reason)
	}
	if r.malformed == maxRejectsShown+1 {
		fmt.Fprintln(r.warn, "cartwatch produce: more malformed rows: counted, not named")
	}
}

// statusEvery is how often the status line is written (the tests shorten
// it).
var statusEvery = time.Second

// status writes a line every statusEvery on stderr: records acknowledged,
// and the rate over the last interval. On a terminal the line is redrawn
// in place (and warnings clear it first); elsewhere each is a line of its
// own, for logs.
type status struct {
	w    io.Writer
	tty  bool
	p    *kafka.Producer
	done chan struct{}
	wg   sync.WaitGroup

	mu    sync.Mutex
	drawn bool
}

func startStatus(w io.Writer, p *kafka.Producer) *status {
	_, tty := termWidth(asFile(w))
	s := &status{w: w, tty: tty, p: p, done: make(chan struct{})}
	s.wg.Add(1)
	go s.loop()
	return s
}

func (s *status) loop() {
	defer s.wg.Done()
	m := kafka.NewMeter(time.Now())
	t := time.NewTicker(statusEvery)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			c := s.p.Counts()
			line := fmt.Sprintf("produce: %s events acked  %v  %s in flight", kafka.Thousands(c.Acked), m.Tick(c, now),
				kafka.Thousands(c.Produced-c.Acked-c.Failed))
			if c.Failed > 0 {
				line += fmt.Sprintf("  %s failed", kafka.Thousands(c.Failed))
			}
			s.mu.Lock()
			if s.tty {
				fmt.Fprintf(s.w, "\r%s\033[K", line)
				s.drawn = true
			} else {
				fmt.Fprintln(s.w, line)
			}
			s.mu.Unlock()
		}
	}
}

// Stop ends the status line, erasing it on a terminal.
func (s *status) Stop() {
	close(s.done)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clear()
}

func (s *status) clear() {
	if s.drawn {
		io.WriteString(s.w, "\r\033[K")
		s.drawn = false
	}
}

// Writer returns a writer for warnings that never share a line with the
// status.
func (s *status) Writer() io.Writer { return statusWriter{s} }

type statusWriter struct{ s *status }

func (sw statusWriter) Write(b []byte) (int, error) {
	sw.s.mu.Lock()
	defer sw.s.mu.Unlock()
	sw.s.clear()
	return sw.s.w.Write(b)
}
