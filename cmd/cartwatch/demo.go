package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cartwatch/cartwatch/core"
	"github.com/cartwatch/cartwatch/dash"
	"github.com/cartwatch/cartwatch/kafka"
	"github.com/cartwatch/cartwatch/loadgen"
	"github.com/cartwatch/cartwatch/metrics"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// `cartwatch demo`: zero setup. It starts franz-go's in-process Kafka
// cluster (kfake), plays an input into a topic at a visible pace, consumes
// it with the parts of `cartwatch consume` (kafka.Consumer as the engine's
// Source and Checkpointer, kafka.Sink for the alerts, the dead letters and
// the spending totals) and prints live figures once a second. The files:
// demo.go (the command line, the start in order, the stop in reverse),
// demo_feed.go (the input into the events topic, and the Source that ends
// the run once every event is consumed and every cart has fallen due),
// demo_view.go (the figures, read from the Sink, the barriers and the
// alerts topic, and their view on the terminal).

// demoFlags is the parsed command line of `cartwatch demo`.
type demoFlags struct {
	input      string
	synthetic  bool
	speedup    float64
	duration   time.Duration
	ttl        time.Duration
	recovery   time.Duration // --recovery-window; in Options' terms after parsing
	partitions int
	http       string
}

// demoFlagGroups orders the flags in the help and in README.md's table
// (TestDemoHelpMatchesREADME keeps the two equal).
var demoFlagGroups = []flagGroup{
	{"input", []string{"input", "synthetic"}},
	{"pace", []string{"speedup", "duration"}},
	{"detection", []string{"ttl", "recovery-window"}},
	{"Kafka (in process)", []string{"partitions"}},
	{"observability", []string{"http"}},
}

// The demo's setting.
const (
	demoBrokers   = 3 // brokers of the in-process cluster
	demoRF        = 3 // replicas of each partition of its topics
	demoTopic     = kafka.DefaultTopic
	demoSpending  = "user-spending"
	demoGroup     = "cartwatch-demo"
	demoMaxParts  = 64
	demoDefaultTT = 5 * time.Minute

	// Default speedups (--speedup 0): the real sample's 56 minutes in
	// 84 s; the synthetic day's 24 hours in 2 minutes.
	demoSpeedupFile = 40
	demoSpeedupDay  = 720
)

// demoSample is where the real sample is, relative to the working
// directory or to the folder above the binary's (bin/cartwatch in a
// checkout beside ../shared).
var demoSample = filepath.Join("..", "shared", "data", "events_sample_nov.csv")

// demoDay is the synthetic day played when there is no sample: loadgen's
// --days 1 --scale 0.01, about 14,500 events.
var demoDay = loadgen.Config{Days: 1, Scale: 0.01, Seed: 1}

func newDemoFlagSet(f *demoFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("cartwatch demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&f.input, "input", "", "play `FILE` (any input cartwatch run reads) instead of the sample")
	fs.BoolVar(&f.synthetic, "synthetic", false, "play loadgen's synthetic day (--days 1 --scale 0.01) even when the sample is there")
	fs.Float64Var(&f.speedup, "speedup", 0, fmt.Sprintf("play event time `X` times faster than real time; 0: %d for a file (the sample's 56 minutes in 84 s), %d for the synthetic day (24 hours in 2 minutes)",
		demoSpeedupFile, demoSpeedupDay))
	fs.DurationVar(&f.duration, "duration", 0, "stop after `DURATION`, with the summary so far; 0: when the input is played and every cart has fallen due")
	fs.DurationVar(&f.ttl, "ttl", demoDefaultTT, "a cart is abandoned this long after its last cart event (run's default is 30m; the sample is one hour, and with 30m most of its carts would only fall due at its end)")
	fs.DurationVar(&f.recovery, "recovery-window", 24*time.Hour, recoveryUsage)
	fs.StringVar(&f.http, "http", defaultHTTP, httpUsage+"; \"\": none")
	fs.IntVar(&f.partitions, "partitions", 4, fmt.Sprintf("`N` partitions of the events topic (and of the topics the alerts go to), 1 to %d", demoMaxParts))
	return fs
}

// parseDemoFlags parses and checks the arguments of `cartwatch demo`:
// every error it returns is a usageError, or flag.ErrHelp.
func parseDemoFlags(args []string) (*demoFlags, error) {
	f := &demoFlags{}
	fs := newDemoFlagSet(f)
	if err := parseFlagSet(fs, args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, usagef("unexpected argument %q: the demo plays --input FILE, the sample or a synthetic day (flags only)", fs.Arg(0))
	case f.input != "" && f.synthetic:
		return nil, usagef("--input %s and --synthetic: give one input, not both", f.input)
	case f.speedup < 0 || math.IsNaN(f.speedup) || math.IsInf(f.speedup, 0):
		return nil, usagef("--speedup %v: want a positive factor (1: real time, 60: an hour a minute), or 0 for the default", f.speedup)
	case f.duration < 0:
		return nil, usagef("--duration %v: want a positive duration, or 0 for no limit", f.duration)
	case f.partitions < 1 || f.partitions > demoMaxParts:
		return nil, usagef("--partitions %d: want 1 to %d", f.partitions, demoMaxParts)
	}
	if f.ttl <= 0 {
		return nil, usagef("--ttl %v: want a positive whole number of seconds, e.g. 5m", f.ttl)
	}
	var err error
	if f.recovery, err = recoveryWindow(f.recovery); err != nil {
		return nil, err
	}
	opt := core.Options{TTL: f.ttl, RecoveryWindow: f.recovery}
	if err := opt.Validate(); err != nil {
		return nil, usageError{err}
	}
	return f, nil
}

func printDemoHelp(w io.Writer) {
	fmt.Fprintf(w, `usage: cartwatch demo [flags]

Zero setup: starts an in-process Kafka cluster (franz-go's kfake, %d
brokers), plays clickstream events into topic %s at a visible pace, and
consumes them as cartwatch consume does (a consumer-group member running
the engine of cartwatch run; alerts to %s, malformed
messages to %s, each purchase's running total to
%s), printing live figures once a second on stdout.

The input: --input FILE, else the real sample %s
looked for from the working directory, then from the folder above the
binary's; else a synthetic day from loadgen (--days 1 --scale 0.01).

The demo ends when the input is played and every cart has fallen due (its
TTL after its last cart event, in event time, played at the same pace),
and prints the summary: for input in time order, as the sample is, that
of cartwatch run --ttl 5m on the same input.
--duration, SIGINT or SIGTERM stop it sooner: the summary so far, open
carts not abandoned, exit 0 (a second signal exits at once).

Exit codes: 0 done or stopped, 1 failed (unreadable input, no valid row,
a record not delivered), 2 bad command line.
`, demoBrokers, demoTopic, kafka.DefaultAlertsTopic, kafka.DLQTopic(demoTopic), demoSpending, demoSample)
	fs := newDemoFlagSet(&demoFlags{})
	printFlagGroups(w, groupFlags(fs, demoFlagGroups), flagTitle)
}

// findSample returns the real sample's path: from the working directory,
// then from the folder above the binary's (exe; "" to skip); "" and the
// places looked at when it is in neither.
func findSample(exe string) (string, []string) {
	var tried []string
	try := []string{demoSample}
	if exe != "" {
		if exe, err := filepath.EvalSymlinks(exe); err == nil {
			try = append(try, filepath.Join(filepath.Dir(filepath.Dir(exe)), demoSample))
		}
	}
	for _, p := range try {
		abs, err := filepath.Abs(p)
		if err != nil {
			continue
		}
		if st, err := os.Stat(abs); err == nil && st.Mode().IsRegular() {
			return abs, nil
		}
		tried = append(tried, abs)
	}
	return "", tried
}

// demoCmd is `cartwatch demo`.
func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseDemoFlags(args)
	var ln net.Listener
	if err == nil && f.http != "" {
		ln, err = listenHTTP(f.http)
	}
	if code, done := usageExit("demo", err, stdout, stderr, printDemoHelp); done {
		return code
	}
	if ln != nil {
		defer ln.Close() // until the server owns it
	}
	view := newDemoView(stdout, stderr)
	// fail ends the demo before it runs: a signal then is a stop.
	fail := func(err error) int {
		if ctx.Err() != nil {
			view.Log("stopped before the demo started")
			return exitOK
		}
		view.Logf("%v", err)
		return exitError
	}

	// The input first: a typo in a path costs no cluster.
	feed := &demoFeed{clock: &replayClock{}, done: make(chan struct{})}
	switch {
	case f.input != "":
		feed.name = f.input
	case !f.synthetic:
		exe, _ := os.Executable()
		path, tried := findSample(exe)
		if path == "" {
			view.Logf("no sample at %s: playing a synthetic day from loadgen instead (--days 1 --scale 0.01)", strings.Join(tried, " or "))
		}
		feed.name = path
	}
	speedup := f.speedup
	if feed.name != "" {
		if feed.src, err = core.OpenFile(feed.name, core.FileOptions{}); err != nil {
			return fail(err)
		}
		defer feed.src.Close()
		if speedup == 0 {
			speedup = demoSpeedupFile
		}
	} else {
		if feed.gen, err = loadgen.NewGenerator(demoDay); err != nil {
			return fail(err)
		}
		defer feed.gen.Close()
		feed.name = "a synthetic day (loadgen --days 1 --scale 0.01)"
		if speedup == 0 {
			speedup = demoSpeedupDay
		}
	}
	feed.clock.speedup = speedup

	// The cluster and its topics.
	started := time.Now()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(demoBrokers))
	if err != nil {
		return fail(fmt.Errorf("starting the in-process Kafka cluster: %w", err))
	}
	defer cluster.Close()
	seeds := cluster.ListenAddrs()
	kf := kafka.Flags{Brokers: strings.Join(seeds, ","), Timeout: kafka.DefaultTimeout}
	cl, err := kafka.Connect(ctx, &kf)
	if err != nil {
		return fail(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	dlq := kafka.DLQTopic(demoTopic)
	for _, t := range []string{demoTopic, kafka.DefaultAlertsTopic, dlq, demoSpending} {
		tctx, cancel := context.WithTimeout(ctx, kf.Timeout)
		_, err := kafka.EnsureTopic(tctx, adm, t, int32(f.partitions), demoRF)
		cancel()
		if err != nil {
			return fail(err)
		}
	}
	view.Logf("Kafka in process: %d brokers at %s; topic %s (%d partitions, %d replicas); playing %s at %gx",
		demoBrokers, kf.Brokers, demoTopic, f.partitions, demoRF, feed.name, speedup)

	// The consumer side, as `cartwatch consume` builds it.
	runCtx, runCancel := context.WithCancelCause(context.Background())
	defer runCancel(nil)
	flushCtx, flushCancel := context.WithCancelCause(context.Background())
	defer flushCancel(nil)
	sink := kafka.NewSink(cl, kafka.SinkConfig{Alerts: kafka.DefaultAlertsTopic, DLQ: dlq, Spending: demoSpending,
		Source: demoTopic, FlushCtx: flushCtx})
	cons := kafka.NewConsumer(kafka.ConsumerConfig{Topic: demoTopic, Group: demoGroup, SinkErr: sink.Err,
		Log: func(msg string) { view.Log(msg) }})
	ccl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, cons.Opts()...)...)
	if err != nil {
		return fail(err)
	}
	if err := cons.Start(ccl); err != nil { // no state topic: cannot fail
		return fail(err)
	}
	stats := newDemoStats()
	tee := &demoTee{Sink: sink, stats: stats, dlq: dlq, log: view.Logf, clock: feed.clock}
	opt := core.Options{TTL: f.ttl, RecoveryWindow: f.recovery, Spending: true, Sink: tee, Checkpoint: &demoCheckpoint{cons: cons, stats: stats}}
	var cur atomic.Pointer[demoRun] // the run, for the dashboard
	var board *dash.Server
	if ln != nil {
		opt.Live = new(core.Live)
		tee.met = metrics.New(metrics.Sources{Live: opt.Live, Consumer: cons, Sink: sink})
		// The dashboard (package dash) at /: the figures of the terminal
		// (d.figures, once d exists).
		board = newDemoBoard(&cur, &dash.LiveSource{Live: opt.Live, Consumer: cons})
		srv := serveHTTP(ln, newMux(tee.met, board))
		defer srv.stop()
		defer board.Close() // before the server's stop: the streams end
		view.Logf("serving /metrics on http://%s", ln.Addr())
		view.Logf("dashboard: http://%s/", ln.Addr())
	}
	// The feed draws the --max-future line (the default, 24h) at the
	// start, as `cartwatch run` does; the consumer draws it at each
	// message's arrival (docs/semantics.md, Kafka).
	feed.maxTime = time.Now().Add(24 * time.Hour).Unix()

	// The producer side: its own client, as a shop's producer would be.
	pf := kafka.ProduceFlags{Topic: demoTopic, Partitions: f.partitions, ReplicationFactor: demoRF, Format: "json",
		Compression: kafka.DefaultCompression, Acks: "all", Linger: 5 * time.Millisecond, AckTimeout: kafka.DefaultAckTimeout}
	pcl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, pf.Opts()...)...)
	if err != nil {
		return fail(err)
	}
	defer pcl.Close()
	feed.cl, feed.topic = pcl, demoTopic
	feed.p = kafka.NewProducer(pcl, kafka.ProducerOptions{Format: kafka.JSON})
	feed.pace = kafka.Pacer{Speedup: speedup}

	// The alerts, read back from their topic.
	rcl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(kafka.DefaultAlertsTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return fail(err)
	}
	defer rcl.Close()
	readCtx, readCancel := context.WithCancel(context.Background())
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		readAlerts(readCtx, rcl, stats, feed.clock)
	}()
	defer func() {
		readCancel()
		<-readDone
	}()

	src := &demoSource{cons: cons, feed: feed, stop: make(chan struct{}), ttl: int64(f.ttl / time.Second), seen: map[int32]bool{}}
	d := &demoRun{speedup: speedup, feed: feed, src: src, cons: cons, stats: stats,
		started: started, input: feed.name}
	view.Start(d.figures)
	cur.Store(d)

	// Stopping: SIGINT/SIGTERM (ctx), --duration, or a feed that failed.
	feedCtx, feedCancel := context.WithCancel(context.Background())
	defer feedCancel()
	var stopMu sync.Mutex
	var stoppedAt time.Time
	var giveUp *time.Timer
	stop := func(why string) {
		stopMu.Lock()
		defer stopMu.Unlock()
		if !stoppedAt.IsZero() {
			return
		}
		stoppedAt = time.Now()
		view.Logf("%s: stopping: delivering the alerts and committing the offsets (a second signal exits at once)", why)
		close(src.stop)
		feedCancel()
		cons.Stop()
		giveUp = time.AfterFunc(stopDeadline, func() {
			err := fmt.Errorf("the cluster did not take the last alerts and offsets within %v", stopDeadline)
			flushCancel(err)
			runCancel(err)
		})
	}
	defer func() {
		stopMu.Lock()
		defer stopMu.Unlock()
		if giveUp != nil {
			giveUp.Stop()
		}
	}()
	defer context.AfterFunc(ctx, func() {
		why := strings.TrimSuffix(context.Cause(ctx).Error(), ": "+context.Canceled.Error())
		if why == context.Canceled.Error() {
			why = "stop"
		}
		stop(why)
	})()
	if f.duration > 0 {
		t := time.AfterFunc(f.duration, func() { stop(fmt.Sprintf("--duration %v", f.duration)) })
		defer t.Stop()
	}
	feedDone := make(chan struct{})
	go func() {
		defer close(feedDone)
		if err := feed.run(feedCtx); err != nil {
			view.Logf("%v", err)
			stop("the input could not be played")
		}
	}()

	sum, runErr := core.Run(runCtx, src, opt, nil)
	feedCancel()
	<-feedDone
	d.ended.Store(true)

	// Stop in reverse: leave the group (bounded, as consume does), let the
	// alerts reader catch up with what the Sink delivered, end the view.
	left := make(chan struct{})
	go func() {
		ccl.Close()
		close(left)
	}()
	select {
	case <-left:
	case <-time.After(1500 * time.Millisecond):
	}
	stats.waitRead(sink.Counts().Alerts, 2*time.Second)
	view.Stop()
	if board != nil {
		board.Stop() // the page shows the final figures, stopped
	}

	early := src.early()
	ferr := feed.err()
	switch {
	case ferr != nil:
		runErr = errors.Join(ferr, runErr)
	case runErr != nil && errors.Is(runErr, kafka.ErrStopped) && sink.Err() == nil:
		runErr = nil
	case runErr == nil:
		runErr = sink.Err()
	}
	if runErr != nil {
		view.Logf("failed: %v", runErr)
		return exitError
	}
	// The rows the feed could not send as they were (an input whose
	// header is not the 2019-Nov one) are malformed rows all the same.
	sum.Malformed += feed.skipped
	sum.Interrupted = early
	if early {
		stopMu.Lock()
		took := time.Since(stoppedAt)
		stopMu.Unlock()
		view.Logf("stopped in %v", took.Round(time.Millisecond))
		fmt.Fprintf(stdout, "\nsummary so far (stopped before the end of the input):\n")
	} else {
		fmt.Fprintf(stdout, "\nsummary (that of cartwatch run --ttl %v, for input in time order):\n", shortDur(f.ttl))
	}
	if err := sum.WriteText(stdout); err != nil {
		view.Logf("writing the summary: %v", err)
		return exitError
	}
	return exitOK
}

// shortDur is d as the help writes durations: 5m, not 5m0s.
func shortDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
