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
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cartwatch/cartwatch/core"
	"github.com/cartwatch/cartwatch/dash"
	"github.com/cartwatch/cartwatch/kafka"
	"github.com/cartwatch/cartwatch/metrics"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// `cartwatch consume`: a consumer-group member that runs the engine over
// the partitions the group gives it and produces the alerts to a topic.
// The Kafka parts (the Source and Checkpointer, the Sink) are in package
// kafka (consume.go, sink.go); this file is the command line, the start
// (connecting, retrying, the topics), the status line and the stop.

// consumeFlags is the parsed command line of `cartwatch consume`.
type consumeFlags struct {
	kafka          kafka.Flags
	opt            core.Options
	topic          string
	group          string
	alertsTopic    string
	dlqTopic       string
	spendingTopic  string
	stateTopic     string
	checkpoint     time.Duration
	exactlyOnce    bool
	txnID          string
	sessionTimeout time.Duration
	instanceID     string
	rf             int
	clock          string
	idleTimeout    time.Duration
	commitInterval time.Duration
	maxFuture      time.Duration
	recovery       time.Duration
	status         time.Duration
	untilEnd       bool
	maxRate        float64
	http           string
	cpuprof        string
}

// consumeFlagGroups orders the flags in the help and in README.md's table
// (TestConsumeHelpMatchesREADME keeps the two equal).
var consumeFlagGroups = []flagGroup{
	{"Kafka", []string{"brokers", "timeout", "topic", "group", "alerts-topic", "dlq-topic", "spending-topic", "replication-factor", "session-timeout", "instance-id"}},
	{"state", []string{"state-topic", "checkpoint-interval", "exactly-once", "transactional-id"}},
	{"time", []string{"clock", "idle-timeout", "commit-interval", "until-end", "max-rate"}},
	{"detection", []string{"ttl", "lateness", "extend-on-activity", "max-future", "recovery-window"}},
	{"output", []string{"status-interval", "cpuprofile"}},
	{"parallelism (never changes the output)", []string{"shards", "parsers"}},
	{"observability", []string{"http"}},
	securityGroup,
}

// consumeArgs are the placeholders of consume's flag values in the help,
// where argNames (run's) has none.
var consumeArgs = map[string]string{
	"brokers": "ADDRS", "timeout": "DURATION", "topic": "TOPIC", "group": "NAME", "alerts-topic": "TOPIC",
	"dlq-topic": "TOPIC", "spending-topic": "TOPIC", "replication-factor": "N", "clock": "event|wall",
	"idle-timeout": "DURATION", "commit-interval": "DURATION", "state-topic": "TOPIC", "checkpoint-interval": "DURATION", "transactional-id": "ID", "session-timeout": "DURATION", "instance-id": "ID", "status-interval": "DURATION", "max-rate": "N", "cpuprofile": "FILE", "http": "ADDR",
}

// Limits of consume's durations.
const (
	minIdleTimeout    = time.Second // the busy partitions' watermarks reach the idle ones once a second
	minCommitInterval = 10 * time.Millisecond
	maxConsumeDur     = 24 * time.Hour
	// stopDeadline is how long a stop may take before the outputs and
	// the commit are given up (the process exits within stopDeadline plus
	// what leaving the group may take).
	stopDeadline = 7 * time.Second
)

func newConsumeFlagSet(f *consumeFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("cartwatch consume", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	f.kafka.AddFlags(fs)
	fs.StringVar(&f.topic, "topic", kafka.DefaultTopic, "the topic of the events to read")
	fs.StringVar(&f.group, "group", kafka.DefaultGroup, "the consumer group: the instances of one group share the topic's partitions")
	fs.StringVar(&f.alertsTopic, "alerts-topic", kafka.DefaultAlertsTopic, "where the alerts go, keyed by user_id (created when missing, retention.ms=-1)")
	fs.StringVar(&f.dlqTopic, "dlq-topic", "", "where malformed messages go, with the reason, partition and offset in headers (default: the topic's name + .dlq)")
	fs.StringVar(&f.spendingTopic, "spending-topic", "", "if set, each purchase with its user's running total goes there, keyed by user_id")
	fs.StringVar(&f.stateTopic, "state-topic", "", "where each partition's state is kept (compacted, created with the input's partition count): a restart or a rebalance restores it; none: keep no state (default: the group's name + -state)")
	fs.DurationVar(&f.checkpoint, "checkpoint-interval", kafka.DefaultCheckpointInterval, "with state kept, how often each partition's snapshot is written and then its offset committed (--commit-interval is for --state-topic none)")
	fs.BoolVar(&f.exactlyOnce, "exactly-once", false, "each checkpoint's alerts, dead letters, spending records, snapshots and offsets are one Kafka transaction: read the outputs with isolation.level=read_committed and none is lost or doubled (default: at least once, repeats carry the same alert_id)")
	fs.StringVar(&f.txnID, "transactional-id", "", "with --exactly-once, this member's transactional id; the same id on a restart fences the old process at once (default: the group's name, the host name and the process id)")
	fs.IntVar(&f.rf, "replication-factor", 1, "replicas of each partition of the topics consume creates")
	fs.DurationVar(&f.sessionTimeout, "session-timeout", kafka.DefaultSessionTimeout, "a member that stops heartbeating (killed, hung, cut off) is out of the group after this long and its partitions move to the others; within the brokers' group.min/max.session.timeout.ms (6s to 30m by default)")
	fs.StringVar(&f.instanceID, "instance-id", "", "a static group member id (KIP-345), unique in the group and the same across restarts: a member started again with it takes its partitions back at once, without a rebalance; a stopped static member does not leave the group, so its partitions wait for it up to --session-timeout (default: none, a dynamic member)")
	fs.StringVar(&f.clock, "clock", "event", "deadlines in event time (the events' event_time) or wall time (when the messages arrive)")
	fs.DurationVar(&f.idleTimeout, "idle-timeout", kafka.DefaultIdleTimeout, "a partition with no record for this long is idle: its time follows the other partitions, or the wall clock when all are idle")
	fs.DurationVar(&f.commitInterval, "commit-interval", kafka.DefaultCommitInterval, "how often the offsets of what has been processed (and its alerts delivered) are committed")
	fs.DurationVar(&f.opt.TTL, "ttl", 30*time.Minute, "a cart is abandoned this long after its last cart event (5m was the prototype's window)")
	fs.DurationVar(&f.opt.Lateness, "lateness", 0, "allowed lateness: the watermark is the highest event time seen minus this")
	fs.BoolVar(&f.opt.ExtendOnActivity, "extend-on-activity", false, "any event of a user with an open cart moves its deadline to that event's time + ttl")
	fs.DurationVar(&f.maxFuture, "max-future", 24*time.Hour, "a message later than the wall clock plus this is malformed (time in the future); 0: none after now, negative: no limit")
	fs.BoolVar(&f.untilEnd, "until-end", false, "stop once the partitions this instance is assigned are read up to the end offsets they had when assigned (benchmarks, backfills); open carts stay open")
	fs.Float64Var(&f.maxRate, "max-rate", 0, "hand at most N records a second to the engine (a member held back on purpose: sharing a machine, overload tests); the rest waits in the topic; 0: no limit")
	fs.DurationVar(&f.recovery, "recovery-window", 24*time.Hour, recoveryUsage)
	fs.StringVar(&f.cpuprof, "cpuprofile", "", "write a CPU profile of the whole run to FILE (go tool pprof)")
	fs.DurationVar(&f.status, "status-interval", 5*time.Second, "a status line on stderr this often (records/s, alerts, malformed, lag); 0: none")
	fs.IntVar(&f.opt.Shards, "shards", 0, fmt.Sprintf("session table shards, one goroutine each, 1 to %d (0: GOMAXPROCS)", core.MaxShards))
	fs.IntVar(&f.opt.Parsers, "parsers", 0, fmt.Sprintf("decoding goroutines, 1 to %d (0: GOMAXPROCS)", core.MaxParsers))
	fs.StringVar(&f.http, "http", defaultHTTP, httpUsage+"; \"\": none")
	return fs
}

// parseConsumeFlags parses and checks the arguments of `cartwatch
// consume`: every error it returns is a usageError, or flag.ErrHelp.
func parseConsumeFlags(args []string) (*consumeFlags, error) {
	f := &consumeFlags{}
	fs := newConsumeFlagSet(f)
	if err := parseFlagSet(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q: consume reads --topic (flags only)", fs.Arg(0))
	}
	if err := f.kafka.Validate(); err != nil {
		return nil, usageError{err}
	}
	if f.dlqTopic == "" {
		f.dlqTopic = kafka.DLQTopic(f.topic)
	}
	for _, t := range []struct{ flag, name string }{{"topic", f.topic}, {"alerts-topic", f.alertsTopic}, {"dlq-topic", f.dlqTopic}} {
		if err := kafka.CheckTopic(t.flag, t.name); err != nil {
			return nil, usageError{err}
		}
	}
	if f.spendingTopic != "" {
		if err := kafka.CheckTopic("spending-topic", f.spendingTopic); err != nil {
			return nil, usageError{err}
		}
	}
	outs := []struct{ flag, name string }{{"alerts-topic", f.alertsTopic}, {"dlq-topic", f.dlqTopic}, {"spending-topic", f.spendingTopic}}
	for i, o := range outs {
		if o.name == f.topic {
			return nil, usagef("--%s %s: the topic consume reads; an output there would be read again", o.flag, o.name)
		}
		for _, p := range outs[:i] {
			if o.name != "" && o.name == p.name {
				return nil, usagef("--%s and --%s are both %s: give each output its own topic", p.flag, o.flag, o.name)
			}
		}
	}
	if f.group == "" {
		return nil, usagef("--group \"\": want a consumer group name")
	}
	switch f.stateTopic {
	case "":
		f.stateTopic = kafka.StateTopic(f.group)
	case "none":
		f.stateTopic = ""
	}
	if f.stateTopic != "" {
		if err := kafka.CheckTopic("state-topic", f.stateTopic); err != nil {
			return nil, usageError{err}
		}
		for _, o := range []struct{ flag, name string }{{"topic", f.topic}, {"alerts-topic", f.alertsTopic}, {"dlq-topic", f.dlqTopic}, {"spending-topic", f.spendingTopic}} {
			if o.name == f.stateTopic {
				return nil, usagef("--state-topic and --%s are both %s: give the state its own topic", o.flag, o.name)
			}
		}
	}
	if f.exactlyOnce && f.stateTopic == "" {
		return nil, usagef("--exactly-once with --state-topic none: the transactions carry the state; keep it")
	}
	if f.exactlyOnce && f.txnID == "" {
		host, _ := os.Hostname()
		f.txnID = fmt.Sprintf("%s-%s-%d", f.group, host, os.Getpid())
	}
	if f.checkpoint < minCommitInterval || f.checkpoint > maxConsumeDur {
		return nil, usagef("--checkpoint-interval %v: want 10ms to 24h", f.checkpoint)
	}
	if f.sessionTimeout < time.Second || f.sessionTimeout > 30*time.Minute {
		return nil, usagef("--session-timeout %v: want 1s to 30m (and within the brokers' group.min/max.session.timeout.ms)", f.sessionTimeout)
	}
	if f.rf < 1 || f.rf > math.MaxInt16 {
		return nil, usagef("--replication-factor %d: want at least 1 (and at most the number of brokers)", f.rf)
	}
	switch f.clock {
	case "event":
	case "wall":
		f.opt.WallClock = true
	default:
		return nil, usagef("--clock %q: want event or wall", f.clock)
	}
	if f.idleTimeout < minIdleTimeout || f.idleTimeout > maxConsumeDur {
		return nil, usagef("--idle-timeout %v: want 1s to 24h", f.idleTimeout)
	}
	if f.commitInterval < minCommitInterval || f.commitInterval > maxConsumeDur {
		return nil, usagef("--commit-interval %v: want 10ms to 24h", f.commitInterval)
	}
	if f.maxRate < 0 || math.IsNaN(f.maxRate) || math.IsInf(f.maxRate, 0) {
		return nil, usagef("--max-rate %v: want records a second, 0 for no limit", f.maxRate)
	}
	if f.status < 0 {
		return nil, usagef("--status-interval %v: want a duration, 0 for none", f.status)
	}
	if f.opt.TTL <= 0 {
		return nil, usagef("--ttl %v: want a positive whole number of seconds, e.g. 30m", f.opt.TTL)
	}
	switch {
	case f.maxFuture == 0:
		f.opt.MaxFuture = time.Nanosecond
	case f.maxFuture < 0:
		f.opt.MaxFuture = -1
	default:
		f.opt.MaxFuture = f.maxFuture
	}
	var err error
	if f.opt.RecoveryWindow, err = recoveryWindow(f.recovery); err != nil {
		return nil, err
	}
	if err := f.opt.Validate(); err != nil {
		return nil, usageError{err}
	}
	return f, nil
}

func printConsumeHelp(w io.Writer) {
	fmt.Fprint(w, `usage: cartwatch consume [flags]

Joins consumer group --group on the brokers, reads --topic (each message
a JSON object, header-named or camelCase keys, or a CSV line in the
2019-Nov schema) and runs the detection of cartwatch run on the
partitions the group assigns to this instance, each with its own
watermark and state. Start more instances with the same --group to share
the partitions. The rules: docs/semantics.md.

Alerts go to --alerts-topic, keyed by user_id: the JSON of cartwatch run
plus "fired_at" (wall clock), "partition" (the source partition) and
"alert_id" (partition, user, first cart and deadline: the same when a
replay sends the alert again).
Malformed messages go to --dlq-topic and are skipped. Every
--checkpoint-interval each partition's state goes to --state-topic, and
then its offset is committed, once the alerts before it are delivered; a
partition assigned after a restart or a rebalance starts from its last
state. After a crash, the alerts since the last checkpoint may come again,
with the same alert_id. (--state-topic none: no state, offsets every
--commit-interval, a partition that moves loses its open carts.)
With --exactly-once each checkpoint's outputs, snapshots and offsets are
one Kafka transaction: a reader with isolation.level=read_committed sees
every alert once; a crash or a rebalance aborts the open transaction and
its partitions go on from the last committed checkpoint.

A broker that cannot be reached is retried with backoff; a failed TLS
handshake or SASL authentication is exit 1 at once. SIGINT or
SIGTERM stops fetching, delivers the alerts, commits the offsets and
exits 0 (a second signal exits at once).

With --until-end it stops by itself once its partitions are read up to
the end offsets they had when assigned, and prints the records/s from
the first record to there.

Exit codes: 0 stopped by a signal or at the end (--until-end), 1 failed
(authentication failed, a topic cannot be created, alerts cannot be
delivered), 2 bad command line.
`)
	fs := newConsumeFlagSet(&consumeFlags{})
	printFlagGroups(w, groupFlags(fs, consumeFlagGroups), consumeFlagTitle)
}

func consumeFlagTitle(fl *flag.Flag) string {
	if a, ok := consumeArgs[fl.Name]; ok {
		return "--" + fl.Name + " " + a
	}
	return flagTitle(fl)
}

// logger writes "cartwatch consume: ..." lines to w, one at a time.
type logger struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *logger) Log(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "cartwatch consume: %s\n", msg)
}

func (l *logger) Logf(format string, a ...any) { l.Log(fmt.Sprintf(format, a...)) }

// consumeCmd is `cartwatch consume`: it runs until a signal (ctx's end) or
// a failure.
func consumeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseConsumeFlags(args)
	var ln net.Listener
	if err == nil && f.http != "" {
		ln, err = listenHTTP(f.http)
	}
	if code, done := usageExit("consume", err, stdout, stderr, printConsumeHelp); done {
		return code
	}
	log := &logger{w: stderr}
	if f.cpuprof != "" {
		pf, err := os.Create(f.cpuprof)
		if err != nil {
			fmt.Fprintf(stderr, "cartwatch consume: --cpuprofile: %v\n", err)
			return exitUsage
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			fmt.Fprintf(stderr, "cartwatch consume: --cpuprofile: %v\n", err)
			return exitUsage
		}
		defer pprof.StopCPUProfile()
	}
	var met *metrics.Metrics
	var late lateSources
	var live *dash.LiveSource
	var ph phase
	ph.set("connecting to the brokers")
	if ln != nil {
		// Served from the start (the process is up before a broker is
		// reached); the figures come as their sources start.
		f.opt.Live = new(core.Live)
		met = metrics.New(metrics.Sources{Live: f.opt.Live, Consumer: &late.cons, Sink: &late.sink})
		live = &dash.LiveSource{Live: f.opt.Live, Consumer: &late.cons, Alerts: true}
		board := newBoard("cartwatch consume: "+f.topic, &ph, live)
		srv := serveHTTP(ln, newMux(met, board))
		defer srv.stop()
		// Before the server's stop: the stopped event (with the phase the
		// command ended in) whatever the way out, then the streams end.
		defer func() {
			board.Stop()
			board.Close()
		}()
		log.Logf("serving /metrics on http://%s", ln.Addr())
		log.Logf("dashboard: http://%s/", ln.Addr())
	}
	fail := func(err error) int {
		log.Log(err.Error())
		ph.set("failed: " + err.Error())
		return exitError
	}
	for _, w := range f.kafka.Warnings() {
		log.Log("warning: " + w)
	}
	hook := &kafka.ConnectLog{Log: log.Log}
	// Runs after the clients' deferred Close: a dial still in flight then
	// logs nothing once consume has returned.
	defer hook.Stop()

	// The producing client; reaching a broker is retried until a signal.
	hook.Mute.Store(true)
	cl, err := connectRetry(ctx, f, log, kgo.WithHooks(hook))
	hook.Mute.Store(false)
	if ctx.Err() != nil {
		log.Log("stopped before a broker was reached")
		ph.set("stopped before a broker was reached")
		return exitOK
	}
	if err != nil {
		return fail(err)
	}
	defer cl.Close()

	// The topics: the input's partition count sizes those consume makes.
	adm := kadm.NewClient(cl)
	tctx, cancel := context.WithTimeout(ctx, f.kafka.Timeout)
	nparts, err := kafka.TopicPartitions(tctx, adm, f.topic)
	cancel()
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		log.Logf("topic %s does not exist (yet): waiting for it (cartwatch produce creates it)", f.topic)
		nparts = 1
	case err != nil && ctx.Err() == nil:
		return fail(err)
	}
	for _, t := range []string{f.alertsTopic, f.dlqTopic, f.spendingTopic} {
		if t == "" || ctx.Err() != nil {
			continue
		}
		tctx, cancel := context.WithTimeout(ctx, f.kafka.Timeout)
		tp, err := kafka.EnsureTopic(tctx, adm, t, int32(nparts), int16(f.rf))
		cancel()
		if err != nil && ctx.Err() == nil {
			return fail(err)
		}
		if tp.Created {
			log.Logf("created topic %s (%d partitions, retention.ms=-1)", t, tp.Partitions)
		}
		if tp.Warning != "" {
			log.Log("warning: " + tp.Warning)
		}
	}
	if ctx.Err() != nil {
		log.Log("stopped before consuming")
		return exitOK
	}

	// The group member, on a client of its own.
	runCtx, runCancel := context.WithCancelCause(context.Background())
	defer runCancel(nil)
	flushCtx, flushCancel := context.WithCancelCause(context.Background())
	defer flushCancel(nil)
	seeds, _ := f.kafka.Seeds()
	copts, err := f.kafka.ClientOpts()
	if err != nil {
		return fail(err)
	}
	var sink *kafka.Sink
	cons := kafka.NewConsumer(kafka.ConsumerConfig{Topic: f.topic, Group: f.group, IdleTimeout: f.idleTimeout,
		CommitInterval: f.commitInterval, WallClock: f.opt.WallClock, Lateness: f.opt.Lateness,
		SinkErr: func() error { return sink.Err() }, Log: log.Log, UntilEnd: f.untilEnd, MaxRate: f.maxRate,
		StateTopic: f.stateTopic, CheckpointInterval: f.checkpoint, StateReplication: int16(f.rf), ClientOpts: copts,
		ExactlyOnce: f.exactlyOnce, TransactionalID: f.txnID, SessionTimeout: f.sessionTimeout, InstanceID: f.instanceID})
	// The state topic, made or checked before the member joins the group:
	// an assignment then only reads the snapshots.
	tctx, cancel = context.WithTimeout(ctx, f.kafka.Timeout)
	err = cons.PrepareState(tctx, adm)
	cancel()
	if err != nil && ctx.Err() == nil {
		return fail(err)
	}
	mopts := append(append(copts, kgo.WithHooks(hook)), cons.Opts()...)
	var ccl *kgo.Client // the group member's client
	var leave func()    // closes it (leaves the group)
	sinkCl := cl        // the alerts' producer
	if f.exactlyOnce {
		// Alerts, snapshots and offsets in one transaction per checkpoint:
		// the session's client does everything.
		sess, err := kgo.NewGroupTransactSession(mopts...)
		if err != nil {
			return fail(err)
		}
		if err := cons.StartSession(sess); err != nil {
			sess.Close()
			return fail(err)
		}
		leave, sinkCl = sess.Close, sess.Client()
	} else {
		ccl, err = kgo.NewClient(mopts...)
		if err != nil {
			return fail(err)
		}
		if err := cons.Start(ccl); err != nil {
			ccl.Close()
			return fail(err)
		}
		leave = ccl.Close
	}
	sink = kafka.NewSink(sinkCl, kafka.SinkConfig{Alerts: f.alertsTopic, DLQ: f.dlqTopic, Spending: f.spendingTopic,
		Source: f.topic, FlushCtx: flushCtx})
	late.cons.p.Store(cons)
	late.sink.p.Store(sink)
	log.Logf("consuming %s in group %s at %s; alerts to %s, malformed messages to %s", f.topic, f.group,
		strings.Join(seeds, ","), f.alertsTopic, f.dlqTopic)

	f.opt.Sink = &rejectNote{Sink: sink, log: log, dlq: f.dlqTopic, met: met, live: live}
	f.opt.Checkpoint = cons
	f.opt.Spending = f.spendingTopic != ""

	// The stop: fetching ends, the last barrier's alerts are delivered and
	// its offsets committed; after stopDeadline the outputs are given up.
	var stoppedAt time.Time
	var stopMu sync.Mutex
	stopNote := context.AfterFunc(ctx, func() {
		stopMu.Lock()
		stoppedAt = time.Now()
		stopMu.Unlock()
		why := strings.TrimSuffix(context.Cause(ctx).Error(), ": "+context.Canceled.Error())
		if errors.Is(context.Cause(ctx), context.Canceled) && why == context.Canceled.Error() {
			why = "stop"
		}
		log.Logf("%s: stopping: delivering the alerts and committing the offsets (a second signal exits at once)", why)
		ph.set("stopping: delivering the alerts and committing the offsets")
		cons.Stop()
		time.AfterFunc(stopDeadline, func() {
			err := fmt.Errorf("the brokers did not take the last alerts and offsets within %v", stopDeadline)
			flushCancel(err)
			runCancel(err)
		})
	})
	defer stopNote()

	statusDone := make(chan struct{})
	var statusWG sync.WaitGroup
	if f.status > 0 {
		statusWG.Add(1)
		go func() {
			defer statusWG.Done()
			consumeStatus(log, f, cons, sink, statusDone)
		}()
	}

	ph.set("consuming " + f.topic)
	_, runErr := core.Run(runCtx, cons, f.opt, nil)
	close(statusDone)
	statusWG.Wait()

	// Leave the group (its partitions go to the other instances at once),
	// bounded: a broker that went away must not hold the exit.
	left := make(chan struct{})
	go func() {
		leave()
		close(left)
	}()
	select {
	case <-left:
	case <-time.After(1500 * time.Millisecond):
		log.Log("leaving the group took too long: its partitions move when the session times out")
	}

	st, sc := cons.Stats(), sink.Counts()
	summary := fmt.Sprintf("%s records, %s alerts, %s malformed (to %s), %s offset commits",
		kafka.Thousands(st.Records), kafka.Thousands(sc.Alerts), kafka.Thousands(sc.Rejects), f.dlqTopic, kafka.Thousands(st.Commits))
	if errors.Is(runErr, kafka.ErrStopped) && sink.Err() == nil {
		if f.untilEnd && !st.AtEnd.IsZero() {
			ph.set("done: read to the end offsets")
			log.Logf("read to the end offsets: %s", summary)
			if d := st.AtEnd.Sub(st.FirstData); d > 0 {
				log.Logf("%s records/s from the first record to the end offsets (%v)",
					kafka.Thousands(int64(float64(st.Records)/d.Seconds()+0.5)), d.Round(time.Millisecond))
			}
			return exitOK
		}
		stopMu.Lock()
		took := time.Since(stoppedAt)
		stopMu.Unlock()
		ph.set("stopped")
		log.Logf("stopped in %v: %s", took.Round(time.Millisecond), summary)
		return exitOK
	}
	if runErr == nil || errors.Is(runErr, kafka.ErrStopped) {
		runErr = sink.Err()
	}
	ph.set(fmt.Sprintf("failed: %v", runErr))
	log.Logf("failed: %v (offsets committed up to the last delivered alerts; %s)", runErr, summary)
	return exitError
}

// connectRetry reaches a broker (each attempt waits up to --timeout; at
// once for a refused connection), retrying with backoff (1 s doubling to
// 30 s) and logging each failure, until ctx ends. An error that is not an
// unreachable broker is returned at once.
func connectRetry(ctx context.Context, f *consumeFlags, log *logger, opts ...kgo.Opt) (*kgo.Client, error) {
	kf := f.kafka
	wait := time.Second
	for attempt := 1; ; attempt++ {
		cl, err := kafka.Connect(ctx, &kf, opts...)
		if ctx.Err() != nil {
			if cl != nil { // reached just as the run was stopped
				cl.Close()
			}
			return nil, context.Cause(ctx)
		}
		if err == nil {
			return cl, nil
		}
		if !errors.Is(err, kafka.ErrUnreachable) {
			return nil, err
		}
		log.Logf("%v; retrying in %v (attempt %d)", err, wait, attempt)
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// consumeStatus writes a status line every --status-interval until done.
func consumeStatus(log *logger, f *consumeFlags, cons *kafka.Consumer, sink *kafka.Sink, done chan struct{}) {
	t := time.NewTicker(f.status)
	defer t.Stop()
	last, lastAt := int64(0), time.Now()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			st, sc := cons.Stats(), sink.Counts()
			rate := float64(st.Records-last) / now.Sub(lastAt).Seconds()
			last, lastAt = st.Records, now
			lag := "?"
			if st.Lag >= 0 {
				lag = kafka.Thousands(st.Lag)
			}
			ckpt := ""
			if st.Snapshots > 0 {
				ckpt = fmt.Sprintf("; last checkpoint %s users: engine paused %v (at most %v so far), written in %v",
					kafka.Thousands(st.CheckpointUsers), st.CheckpointPause.Round(10*time.Microsecond),
					st.CheckpointPauseMax.Round(10*time.Microsecond), st.CheckpointWrite.Round(time.Millisecond))
			}
			log.Logf("%s records/s, %s records, %s alerts, %s malformed, lag %s, partitions %s%s",
				kafka.Thousands(int64(rate+0.5)), kafka.Thousands(st.Records), kafka.Thousands(sc.Alerts),
				kafka.Thousands(sc.Rejects), lag, kafka.PartList(st.Partitions), ckpt)
		}
	}
}

// rejectNote is the Kafka sink that also logs the first malformed
// messages (all go to the dead-letter topic).
type rejectNote struct {
	*kafka.Sink
	log  *logger
	dlq  string
	seen int
	met  *metrics.Metrics // nil without --http
	live *dash.LiveSource // the page's latest alerts; nil without --http
}

// Alert produces a and records its latency: the wall clock now minus its
// deadline read as a wall-clock time. That is the alert's delay for live
// traffic (event times near the wall clock, or --clock wall); for a replay
// of old events it is their age, past the last bucket.
func (n *rejectNote) Alert(a *core.Alert) error {
	if err := n.Sink.Alert(a); err != nil {
		return err
	}
	if n.met != nil {
		lat := time.Since(time.Unix(a.AbandonedAt, 0))
		n.met.ObserveAlertLatency(lat)
		n.live.Alert(a, max(0, lat))
	}
	return nil
}

// lateSources are consume's metric sources, which come after its server
// starts: until then they read as zero.
type lateSources struct {
	cons lateConsumer
	sink lateSink
}

type lateConsumer struct {
	p atomic.Pointer[kafka.Consumer]
}

func (l *lateConsumer) Stats() kafka.ConsumerStats {
	if c := l.p.Load(); c != nil {
		return c.Stats()
	}
	return kafka.ConsumerStats{}
}

type lateSink struct{ p atomic.Pointer[kafka.Sink] }

func (l *lateSink) Counts() kafka.SinkCounts {
	if s := l.p.Load(); s != nil {
		return s.Counts()
	}
	return kafka.SinkCounts{}
}

func (n *rejectNote) Reject(r *core.Reject) error {
	if err := n.Sink.Reject(r); err != nil {
		return err
	}
	n.seen++
	if n.seen <= core.MaxRejectLog {
		n.log.Logf("partition %d offset %d: malformed message (%v) sent to %s", r.Partition, r.Pos, r.Reason, n.dlq)
		if n.seen == core.MaxRejectLog {
			n.log.Log("... further malformed messages are counted in the status line")
		}
	}
	return nil
}
