package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/kafka"
	"github.com/cartwatch/cartwatch/loadgen"
	"github.com/twmb/franz-go/pkg/kadm"
)

var kafkaCmd = &command{
	name:    "kafka",
	summary: "produce the synthetic stream into a Kafka topic; report rate and latency",
	about: `kafka produces loadgen's synthetic stream (the generator flags select it; by default
the full month) into --topic on one broker or a cluster, at --rate events/s or
as fast as the brokers take them, from --producers clients in parallel. The
stream is split among the clients by user, so each user's events keep their
order (the record key is the user_id; the timestamp the event time). The
topic is created when missing, with retention.ms=-1 (2019 event times would
be deleted within minutes by a time retention).

Every second, and for the whole run at the end, stdout gets the events
acknowledged per second, MB/s (key and value bytes, before compression) and
the produce latency from Produce to acknowledgement: p50, p99, p99.9 and max
from an HDR histogram (1 µs to 1 min, 3 significant digits; a slower produce
is recorded as 1 min and counted as clamped).

Exit status: 0 done; 1 a broker does not answer, a record failed, or --rate
was not held: fewer than 95 % of the asked events/s over the run (from the
first event to the last acknowledgement), said with the figures; 2 bad
usage; 130 interrupted (SIGINT, SIGTERM: stops producing, delivers what was
handed over, reports).`,
	newFlags: func() *flag.FlagSet { fs, _ := kafkaFlags(); return fs },
	run:      runKafka,
}

// kafkaOpts are the flags of loadgen kafka.
type kafkaOpts struct {
	cfg       loadgen.Config
	conn      kafka.Flags
	out       kafka.ProduceFlags
	producers int
}

// maxProducers bounds --producers: each is a client with its own
// connections and up to 65,536 records in flight.
const maxProducers = 64

// holdFraction is the share of --rate a run must reach to have held it.
const holdFraction = 0.95

func kafkaFlags() (*flag.FlagSet, *kafkaOpts) {
	fs := flag.NewFlagSet("kafka", flag.ContinueOnError)
	o := new(kafkaOpts)
	o.cfg.AddFlags(fs)
	o.conn.AddFlags(fs)
	o.out.AddFlags(fs)
	fs.IntVar(&o.producers, "producers", 1, fmt.Sprintf("`N` clients producing in parallel, 1 to %d; the stream is split among them by user", maxProducers))
	return fs, o
}

func runKafka(args []string, stdout, stderr io.Writer) int {
	c := lookup("kafka")
	fs, o := kafkaFlags()
	pos, code := c.parse(fs, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	if len(pos) > 0 {
		return c.usageError(stderr, "unexpected argument %q (kafka takes only flags)", pos[0])
	}
	for _, err := range []error{o.cfg.Validate(), o.conn.Validate(), o.out.Validate()} {
		if err != nil {
			return c.usageError(stderr, "%v", err)
		}
	}
	if o.producers < 1 || o.producers > maxProducers {
		return c.usageError(stderr, "--producers %d: want 1 to %d", o.producers, maxProducers)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return loadKafka(ctx, o, stdout, stderr)
}

// loadKafka is one run of loadgen kafka.
func loadKafka(ctx context.Context, o *kafkaOpts, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "loadgen kafka: %v\n", err)
		if ctx.Err() != nil {
			return exitInterrupted
		}
		return exitError
	}
	for _, w := range o.conn.Warnings() {
		fmt.Fprintf(stderr, "loadgen kafka: warning: %s\n", w)
	}
	format, _ := kafka.ParseFormat(o.out.Format)
	ws := make([]*worker, o.producers)
	defer func() {
		for _, w := range ws {
			if w != nil {
				w.p.Close()
			}
		}
	}()
	for i := range ws {
		cl, err := kafka.Connect(ctx, &o.conn, o.out.Opts()...)
		if err != nil {
			return fail(err)
		}
		if i == 0 {
			tctx, cancel := context.WithTimeout(ctx, o.conn.Timeout)
			topic, err := kafka.EnsureTopic(tctx, kadm.NewClient(cl), o.out.Topic, int32(o.out.Partitions), int16(o.out.ReplicationFactor))
			cancel()
			if err != nil {
				cl.Close()
				return fail(err)
			}
			if topic.Created {
				fmt.Fprintf(stderr, "loadgen kafka: created topic %s: %d partitions, replication factor %d, retention.ms=-1\n",
					topic.Name, topic.Partitions, o.out.ReplicationFactor)
			}
			if topic.Warning != "" {
				fmt.Fprintf(stderr, "loadgen kafka: warning: %s\n", topic.Warning)
			}
		}
		lat := kafka.NewLatency(kafka.DefaultLatencyMax)
		ws[i] = newWorker(kafka.NewProducer(cl, kafka.ProducerOptions{Format: format, AckTimeout: o.out.AckTimeout, Latency: lat}), lat)
	}
	g, err := loadgen.NewGenerator(o.cfg)
	if err != nil {
		return fail(err)
	}
	defer g.Close()

	r := newReporter(ws, stdout)
	var wg sync.WaitGroup
	var stopped atomic.Bool
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx, &stopped)
		}()
	}
	stopNote := context.AfterFunc(ctx, func() {
		stopped.Store(true)
		fmt.Fprintln(stderr, "loadgen kafka: interrupted: delivering what was handed over")
	})
	r.start()
	dispatch(ctx, g, ws, kafka.Pacer{Rate: o.out.Rate}, &stopped)
	for _, w := range ws {
		close(w.in)
	}
	wg.Wait()
	// Flush every client at once: the run ends with the last
	// acknowledgement.
	flushErrs := make([]error, len(ws))
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w.err == nil || !errors.Is(w.err, kafka.ErrStalled) {
				flushErrs[i] = w.p.Flush(context.Background())
			}
		}()
	}
	wg.Wait()
	end := time.Now()
	stopNote()
	for i, w := range ws {
		if w.err != nil || flushErrs[i] != nil {
			w.p.Close() // records still waiting fail
		}
	}
	total, c, first := r.finish(end)

	code := exitOK
	var errs []error
	for i, w := range ws {
		if w.err != nil && !errors.Is(w.err, context.Canceled) && ctx.Err() == nil {
			errs = append(errs, w.err)
		}
		if flushErrs[i] != nil {
			errs = append(errs, flushErrs[i])
		}
	}
	if err := kafka.ProduceError(c, first); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(stderr, "loadgen kafka: %v\n", err)
		code = exitError
	}
	if ctx.Err() != nil {
		return exitInterrupted
	}
	if asked := o.out.Rate; asked > 0 {
		got := total.EventsPerSec()
		pct := 100 * got / asked
		fmt.Fprintf(stdout, "rate: asked %s events/s, achieved %s events/s (%.1f %%)\n",
			kafka.Thousands(int64(asked+0.5)), kafka.Thousands(int64(got+0.5)), pct)
		if got < holdFraction*asked {
			fmt.Fprintf(stderr, "loadgen kafka: could not hold --rate %s: achieved %s events/s, %.1f %% of it (%.1f %% short)\n",
				kafka.Thousands(int64(asked+0.5)), kafka.Thousands(int64(got+0.5)), pct, 100-pct)
			code = exitError
		}
	}
	return code
}

// batchEvents is how many events the dispatcher hands a worker at once.
const batchEvents = 1024

// worker is one producing client: it takes batches of events from the
// dispatcher and hands them to its Producer.
type worker struct {
	p    *kafka.Producer
	lat  *kafka.Latency
	in   chan []event.Event // batches to produce
	free chan []event.Event // batches produced, back to the dispatcher
	cur  []event.Event      // the batch the dispatcher is filling
	err  error              // why the worker stopped producing (read after it ends)
}

// batchesInFlight per worker: one being produced, one queued, one being
// filled, so neither side waits for the other in the steady state.
const batchesInFlight = 3

func newWorker(p *kafka.Producer, lat *kafka.Latency) *worker {
	w := &worker{p: p, lat: lat, in: make(chan []event.Event, batchesInFlight), free: make(chan []event.Event, batchesInFlight)}
	for range batchesInFlight - 1 {
		w.free <- make([]event.Event, 0, batchEvents)
	}
	w.cur = make([]event.Event, 0, batchEvents)
	return w
}

// run produces every batch it is given; after an error (a stalled cluster,
// the end of ctx) it only hands batches back, and sets stopped so the
// dispatcher ends.
func (w *worker) run(ctx context.Context, stopped *atomic.Bool) {
	for b := range w.in {
		if w.err == nil {
			for i := range b {
				if err := w.p.Produce(ctx, &b[i], nil); err != nil {
					w.err = err
					stopped.Store(true)
					break
				}
			}
		}
		w.free <- b[:0]
	}
}

// send hands the batch being filled to the worker and takes a free one.
func (w *worker) send() {
	w.in <- w.cur
	w.cur = <-w.free
}

// dispatch reads the generator and splits its events among the workers by
// user (so each user's events go through one client, in order), paced by
// pace. Before each pause it hands over the partial batches, so that a
// slow rate does not hold events back until a batch is full.
func dispatch(ctx context.Context, g *loadgen.Generator, ws []*worker, pace kafka.Pacer, stopped *atomic.Bool) {
	n := uint64(len(ws))
	evs := make([]event.Event, 4096)
	flush := func() {
		for _, w := range ws {
			if len(w.cur) > 0 {
				w.send()
			}
		}
	}
	defer flush()
	for !stopped.Load() {
		k := g.Read(evs)
		if k == 0 {
			return
		}
		for i := range evs[:k] {
			ev := &evs[i]
			for d := pace.Next(ev.Time); d > 0; d = pace.Next(ev.Time) {
				flush()
				if pace.Sleep(ctx, d) != nil || stopped.Load() {
					return
				}
			}
			w := ws[event.HashUser(ev.UserID)%n]
			w.cur = append(w.cur, *ev)
			if len(w.cur) == batchEvents {
				w.send()
			}
		}
	}
}

// reporter prints a line every second: the interval's rate and latency,
// summed over the workers.
type reporter struct {
	ws    []*worker
	out   io.Writer
	begin time.Time
	done  chan struct{}
	wg    sync.WaitGroup

	mu       sync.Mutex // the sums, between the ticker and finish
	total    *kafka.Histogram
	interval *kafka.Histogram
	meter    *kafka.Meter
}

func newReporter(ws []*worker, out io.Writer) *reporter {
	return &reporter{ws: ws, out: out, done: make(chan struct{}),
		total: kafka.NewHistogram(kafka.DefaultLatencyMax), interval: kafka.NewHistogram(kafka.DefaultLatencyMax)}
}

func (r *reporter) counts() (kafka.Counts, error) {
	var c kafka.Counts
	var first error
	for _, w := range r.ws {
		c.Add(w.p.Counts())
		if err := w.p.FirstError(); err != nil && first == nil {
			first = err
		}
	}
	return c, first
}

func (r *reporter) start() {
	r.begin = time.Now()
	r.meter = kafka.NewMeter(r.begin)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-r.done:
				return
			case now := <-t.C:
				r.tick(now)
			}
		}
	}()
}

// tick prints the interval since the last one.
func (r *reporter) tick(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, _ := r.counts()
	rate := r.meter.Tick(c, now)
	r.interval.Reset()
	for _, w := range r.ws {
		w.lat.MoveTo(r.interval)
	}
	r.total.Merge(r.interval)
	line := fmt.Sprintf("%6.1fs  %v  latency %v", now.Sub(r.begin).Seconds(), rate, r.interval)
	if c.Failed > 0 {
		line += fmt.Sprintf("  %s failed", kafka.Thousands(c.Failed))
	}
	fmt.Fprintln(r.out, line)
}

// finish stops the ticker and prints the whole run; it returns the run's
// rate and counts, and the first record error.
func (r *reporter) finish(end time.Time) (kafka.Rate, kafka.Counts, error) {
	close(r.done)
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	c, first := r.counts()
	r.interval.Reset()
	for _, w := range r.ws {
		w.lat.MoveTo(r.interval)
	}
	r.total.Merge(r.interval)
	total := r.meter.Total(c, end)
	fmt.Fprintf(r.out, "loadgen kafka: %s events acked in %v: %v; %s failed\nlatency: %v\n",
		kafka.Thousands(c.Acked), total.Elapsed.Round(time.Millisecond), total, kafka.Thousands(c.Failed+c.Unfinished()), r.total)
	return total, c, first
}
