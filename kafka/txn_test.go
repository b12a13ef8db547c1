package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/core"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnRun is the engine over an ExactlyOnce Consumer whose alerts go to a
// topic through the session's client.
type txnRun struct {
	c    *Consumer
	sess *kgo.GroupTransactSession
	errc chan error
}

func startTxn(t *testing.T, addrs []string, cfg ConsumerConfig, alerts string, opts ...kgo.Opt) *txnRun {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = func(msg string) { t.Log(msg) }
	}
	cfg.ExactlyOnce, cfg.ClientOpts = true, []kgo.Opt{kgo.SeedBrokers(addrs...)}
	c := NewConsumer(cfg)
	// The heartbeat after c.Opts(): fast, so that rebalances come quickly.
	opts = append(append(append([]kgo.Opt{kgo.SeedBrokers(addrs...)}, c.Opts()...), kgo.HeartbeatInterval(100*time.Millisecond)), opts...)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StartSession(sess); err != nil {
		t.Fatal(err)
	}
	r := &txnRun{c: c, sess: sess, errc: make(chan error, 1)}
	sink := NewSink(sess.Client(), SinkConfig{Alerts: alerts, DLQ: cfg.Topic + ".dlq", Source: cfg.Topic})
	c.cfg.SinkErr = sink.Err
	go func() {
		_, err := core.Run(context.Background(), c, core.Options{TTL: time.Minute, Sink: sink, Checkpoint: c, MaxFuture: -1, Shards: 2, Parsers: 2}, nil)
		r.errc <- err
	}()
	t.Cleanup(func() {
		c.Close()
		sess.Close()
	})
	return r
}

func (r *txnRun) stop(t *testing.T) {
	t.Helper()
	r.c.Stop()
	select {
	case err := <-r.errc:
		if !errors.Is(err, ErrStopped) {
			t.Fatalf("run: %v, want ErrStopped", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the run did not stop")
	}
	r.c.Close()
	r.sess.Close()
}

// committedAlerts reads topic with read_committed up to its last stable
// offsets and returns its alerts as alertKeys does.
func committedAlerts(t *testing.T, addrs []string, topic string) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var ps []int32
	ends.Each(func(o kadm.ListedOffset) { ps = append(ps, o.Partition) })
	vals, err := readAll(ctx, []kgo.Opt{kgo.SeedBrokers(addrs...)}, topic, ps)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range vals {
		var m struct {
			ID    string    `json:"alert_id"`
			Last  time.Time `json:"last_cart_at"`
			Items int64     `json:"items"`
			Value int64     `json:"cart_value_cents"`
		}
		if err := json.Unmarshal(v, &m); err != nil {
			t.Fatalf("alert %s: %v", v, err)
		}
		out = append(out, fmt.Sprintf("%s last=%d items=%d value=%d", m.ID, m.Last.Unix(), m.Items, m.Value))
	}
	slices.Sort(out)
	return out
}

// readAll returns the values of the committed records of topic's
// partitions ps, read_committed up to their last stable offsets.
func readAll(ctx context.Context, opts []kgo.Opt, topic string, ps []int32) ([][]byte, error) {
	cl, err := kgo.NewClient(append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	want, end := map[int32]kgo.Offset{}, map[int32]int64{}
	for _, p := range ps {
		if e, ok := ends.Lookup(topic, p); ok && e.Offset > 0 {
			want[p], end[p] = kgo.NewOffset().AtStart(), e.Offset
		}
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: want})
	var out [][]byte
	for len(end) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				out = append(out, r.Value)
			}
			if e, ok := end[r.Partition]; ok && r.Offset+1 >= e {
				delete(end, r.Partition)
			}
		})
	}
	return out, nil
}

// mkTopics creates topics of n partitions.
func mkTopics(t *testing.T, addrs []string, n int32, topics ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopics(ctx, n, 1, nil, topics...); err != nil {
		t.Fatal(err)
	}
}

// TestConsumerExactlyOnce: with ExactlyOnce, a member stopped after part of
// the records and the next member of the group, which restores the
// snapshots committed with the offsets, write to the alerts topic, as read
// with read_committed, exactly the alerts of one run over all the records.
func TestConsumerExactlyOnce(t *testing.T) {
	const topic, alerts = "events", "alerts"
	parts, vals, want := stateRef(t, topic)
	const split = 36

	addrs := fakeKafka(t, topic, 2)
	mkTopics(t, addrs, 2, alerts, topic+".dlq")
	produceAt(t, addrs, topic, parts[:split], vals[:split])
	cfg := ConsumerConfig{Topic: topic, Group: "g", IdleTimeout: time.Hour, StateTopic: "g-state", CheckpointInterval: 50 * time.Millisecond}
	cfg.TransactionalID = "g-1"
	a := startTxn(t, addrs, cfg, alerts)
	waitUntil(t, 20*time.Second, "the first member's records", func() bool { return a.c.Stats().Records == split })
	waitUntil(t, 20*time.Second, "a commit", func() bool { return a.c.Stats().Commits > 0 })
	a.stop(t)
	produceAt(t, addrs, topic, parts[split:], vals[split:])
	cfg.TransactionalID = "g-2"
	b := startTxn(t, addrs, cfg, alerts)
	waitUntil(t, 20*time.Second, "the second member's records", func() bool { return b.c.Stats().Records == int64(len(vals)-split) })
	b.stop(t)
	if n := b.c.Stats().Restored; n != 2 {
		t.Errorf("the second member restored %d partitions, want 2", n)
	}
	wantOneRun(t, addrs, alerts, want)
}

// TestConsumerExactlyOnceRebalance: a member processes every record, its
// alerts in a transaction not yet committed (no checkpoint for an hour);
// a second member joining takes one of its two partitions, which aborts
// that transaction (the session does it). The first member rewinds the
// partition it keeps to where it was last committed (here: its start) and
// processes it again, the second reads the other from there too, and the
// alerts committed at their stops are exactly those of one run: the
// aborted alerts come again, none is lost, none twice.
func TestConsumerExactlyOnceRebalance(t *testing.T) {
	const topic, alerts = "events", "alerts"
	parts, vals, want := stateRef(t, topic)
	per := perPartition(parts)

	addrs := fakeKafka(t, topic, 2)
	mkTopics(t, addrs, 2, alerts, topic+".dlq")
	produceAt(t, addrs, topic, parts, vals)
	cfg := ConsumerConfig{Topic: topic, Group: "g", IdleTimeout: time.Hour, StateTopic: "g-state", CheckpointInterval: time.Hour}
	cfg.TransactionalID = "g-1"
	a := startTxn(t, addrs, cfg, alerts)
	waitUntil(t, 20*time.Second, "every record", func() bool { return a.c.Stats().Records == int64(len(vals)) })
	cfg.TransactionalID = "g-2"
	b := startTxn(t, addrs, cfg, alerts)
	waitUntil(t, 20*time.Second, "a partition each", func() bool {
		return len(a.c.Stats().Partitions) == 1 && len(b.c.Stats().Partitions) == 1
	})
	kept := a.c.Stats().Partitions[0]
	waitUntil(t, 20*time.Second, "the kept partition read again and the moved one read", func() bool {
		return a.c.Stats().Records == int64(len(vals))+per[kept] && b.c.Stats().Records == per[1-kept]
	})
	a.stop(t)
	b.stop(t)
	wantOneRun(t, addrs, alerts, want)
}

// TestConsumerExactlyOnceAbortBrokerAway: the transaction coordinator is
// away when a member aborts (the rebalance of TestConsumerExactlyOnceRebalance
// here; a snapshot write that failed in the fault matrix's broker restart):
// every EndTxn and InitProducerID is refused for a while, longer than the
// member's client retries them (two tries here, where a real outage outlasts
// franz-go's default twenty). The member waits for the coordinator, saying
// so, aborts, rewinds and goes on: it does not exit, and the alerts committed
// are exactly those of one run. Before the fix the member failed ("aborting
// the transaction: ...").
func TestConsumerExactlyOnceAbortBrokerAway(t *testing.T) {
	const topic, alerts = "events", "alerts"
	parts, vals, want := stateRef(t, topic)
	per := perPartition(parts)

	fk, addrs := fakeCluster(t, topic, 2)
	mkTopics(t, addrs, 2, alerts, topic+".dlq")
	produceAt(t, addrs, topic, parts, vals)
	// The outage: from the first EndTxn that aborts, for 2 s, every
	// EndTxn and InitProducerID gets its connection closed.
	out := &outage{away: 2 * time.Second, why: "the coordinator is away", from: func(req kmsg.Request) bool {
		e, ok := req.(*kmsg.EndTxnRequest)
		return ok && !e.Commit
	}}
	out.control(fk, kmsg.EndTxn, kmsg.InitProducerID)

	cfg := ConsumerConfig{Topic: topic, Group: "g", IdleTimeout: time.Hour, StateTopic: "g-state", CheckpointInterval: time.Hour}
	cfg.TransactionalID = "g-1"
	var waited atomic.Int32
	cfg.Log = func(msg string) {
		t.Log(msg)
		if strings.Contains(msg, "aborting the transaction") && strings.Contains(msg, "trying again in") {
			waited.Add(1)
		}
	}
	few := []kgo.Opt{kgo.RequestRetries(2), kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond })}
	a := startTxn(t, addrs, cfg, alerts, few...)
	waitUntil(t, 20*time.Second, "every record", func() bool { return a.c.Stats().Records == int64(len(vals)) })
	cfg.TransactionalID, cfg.Log = "g-2", nil
	b := startTxn(t, addrs, cfg, alerts)
	waitUntil(t, 20*time.Second, "a partition each", func() bool {
		return len(a.c.Stats().Partitions) == 1 && len(b.c.Stats().Partitions) == 1
	})
	kept := a.c.Stats().Partitions[0]
	waitUntil(t, 30*time.Second, "the kept partition read again and the moved one read", func() bool {
		select {
		case err := <-a.errc:
			t.Fatalf("the member ended while the coordinator was away: %v", err)
		default:
		}
		return a.c.Stats().Records == int64(len(vals))+per[kept] && b.c.Stats().Records == per[1-kept]
	})
	a.stop(t)
	b.stop(t)
	out.check(t, &waited, "the coordinator")
	wantOneRun(t, addrs, alerts, want)
}

// TestConsumerExactlyOnceRestoreBrokerAway: the reads of an assignment
// (where the partitions start, their snapshots) meet a broker that is away:
// every ListOffsets is refused for a while from the first, longer than the
// member's client retries it (the 3-node fault matrix: a broker killed, its
// partitions not yet led by another). The member waits, saying so, and
// goes on; the alerts committed are one run's. Before the fix it exited
// ("start offsets of events: ...").
func TestConsumerExactlyOnceRestoreBrokerAway(t *testing.T) {
	const topic, alerts = "events", "alerts"
	parts, vals, want := stateRef(t, topic)
	fk, addrs := fakeCluster(t, topic, 2)
	mkTopics(t, addrs, 2, alerts, topic+".dlq", "g-state")
	produceAt(t, addrs, topic, parts, vals)
	out := &outage{away: 1500 * time.Millisecond, why: "the leader is away"}
	out.control(fk, kmsg.ListOffsets)
	cfg := ConsumerConfig{Topic: topic, Group: "g", IdleTimeout: time.Hour, StateTopic: "g-state", CheckpointInterval: 50 * time.Millisecond}
	cfg.TransactionalID = "g-1"
	var waited atomic.Int32
	cfg.Log = func(msg string) {
		t.Log(msg)
		if strings.Contains(msg, "trying again in") {
			waited.Add(1)
		}
	}
	few := []kgo.Opt{kgo.RequestRetries(2), kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond })}
	a := startTxn(t, addrs, cfg, alerts, few...)
	waitUntil(t, 30*time.Second, "every record", func() bool {
		select {
		case err := <-a.errc:
			t.Fatalf("the member ended while the broker was away: %v", err)
		default:
		}
		return a.c.Stats().Records == int64(len(vals))
	})
	a.stop(t)
	out.check(t, &waited, "the broker")
	wantOneRun(t, addrs, alerts, want)
}

// TestSetTxnOffsets: the transaction's offset commit is exactly the
// barrier's offsets, whatever franz-go put there from its polls.
func TestSetTxnOffsets(t *testing.T) {
	f := func(req *kmsg.TxnOffsetCommitRequest, offs map[int32]kgo.EpochOffset, want string) {
		t.Helper()
		setTxnOffsets(req, "events", offs)
		var b []string
		for _, tp := range req.Topics {
			for _, p := range tp.Partitions {
				b = append(b, fmt.Sprintf("%s/%d@%d", tp.Topic, p.Partition, p.Offset))
			}
		}
		if got := strings.Join(b, " "); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	polled := func() *kmsg.TxnOffsetCommitRequest {
		req := kmsg.NewPtrTxnOffsetCommitRequest()
		tp := kmsg.NewTxnOffsetCommitRequestTopic()
		tp.Topic = "events"
		for p, o := range []int64{500, 700} {
			pp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			pp.Partition, pp.Offset = int32(p), o
			tp.Partitions = append(tp.Partitions, pp)
		}
		req.Topics = append(req.Topics, tp)
		return req
	}
	f(polled(), map[int32]kgo.EpochOffset{0: {Offset: 120}, 1: {Offset: 80}}, "events/0@120 events/1@80")
	f(polled(), map[int32]kgo.EpochOffset{1: {Offset: 80}}, "events/1@80")
	f(polled(), nil, "")
	f(kmsg.NewPtrTxnOffsetCommitRequest(), map[int32]kgo.EpochOffset{2: {Offset: 9}}, "events/2@9")
}

// TestQueueFetchRedelivered: records at offsets already queued come again
// when franz-go's GroupTransactSession moves the fetch position back to
// the committed offsets, which it does whenever a transaction ends
// without committing, also after a rewind's seek has fetched on from
// there (the fault matrix's exactly-once group kill at 75 %: 2 wrong
// alerts, the records since the last checkpoint twice in the restored
// state). They are dropped; after a rewind the records from its seek on
// are taken again, once.
func TestQueueFetchRedelivered(t *testing.T) {
	c := NewConsumer(ConsumerConfig{Topic: "events", ExactlyOnce: true, StateTopic: "g-state"})
	pi := c.part(0)
	pi.owned, pi.epoch = true, 1
	c.setOwned()
	c.base[0] = 0
	fetch := func(from, to int64) {
		var recs []*kgo.Record
		for o := from; o < to; o++ {
			recs = append(recs, &kgo.Record{Topic: "events", Partition: 0, Offset: o, Value: []byte(strconv.FormatInt(o, 10))})
		}
		fs := kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: "events", Partitions: []kgo.FetchPartition{{Partition: 0, Records: recs}}}}}}
		c.queueFetch(polled{fs: fs, gen: c.seekGen, fences: c.fencesOf(fs)})
	}
	queued := func() string {
		var s []string
		for _, it := range c.queue[c.qhead:] {
			switch it.kind {
			case itemData:
				s = append(s, fmt.Sprintf("%d-%d", it.offs[0], it.offs[len(it.offs)-1]))
			case itemBarrier:
				s = append(s, "barrier")
			case itemDrop:
				s = append(s, "drop")
			}
		}
		return strings.Join(s, " ")
	}
	check := func(what, want string) {
		t.Helper()
		if got := queued(); got != want {
			t.Errorf("%s: queued %q, want %q", what, got, want)
		}
	}
	fetch(0, 10)
	fetch(10, 20)
	check("in order", "0-9 10-19")
	fetch(5, 25) // the position moved back to 5
	check("re-delivered from 5", "0-9 10-19 20-24")
	// Everything queued is handed out; a rewind to 0 (no snapshot: the
	// assignment's committed offset) takes the records from 0 once.
	c.qhead = len(c.queue)
	c.queueRewind()
	check("the rewind", "barrier drop")
	c.qhead = len(c.queue)
	fetch(0, 8)
	fetch(0, 12) // the abort's reset to the committed offset, after the seek
	check("after the rewind", "0-7 8-11")
}

// TestQueueFetchAfterLostRewind: a rewind while the partitions are lost
// (the broker restarted, the member out of the group) seeks none of them;
// the poll in flight then returns, after they are assigned again, with
// their records from the restored offsets, and they are queued. Dropping
// the whole poll as older than the rewind lost them (the fetch position
// had moved past them): lost and extra alerts, or a partition that never
// reached its end, in the fault matrix's exactly-once broker restart. A
// partition the rewind did seek still drops its records from before the
// seek, and records of a partition not owned are not queued.
func TestQueueFetchAfterLostRewind(t *testing.T) {
	c := NewConsumer(ConsumerConfig{Topic: "events", ExactlyOnce: true, StateTopic: "g-state"})
	assign := func(ps ...int32) {
		for _, p := range ps {
			pi := c.part(p)
			*pi = partInfo{owned: true, epoch: pi.epoch + 1, fence: pi.fence + 1, maxT: math.MinInt64, hw: -1, queued: -1, end: -1} // as onAssigned
			c.base[p] = 0
		}
		c.setOwned()
	}
	// polledNow is a poll of generation gen returning now: the records
	// of partitions p from..to each, the fences as they are.
	polledNow := func(gen int64, from, to int64, ps ...int32) polled {
		var fps []kgo.FetchPartition
		for _, p := range ps {
			var recs []*kgo.Record
			for o := from; o < to; o++ {
				recs = append(recs, &kgo.Record{Topic: "events", Partition: p, Offset: o, Value: []byte("x")})
			}
			fps = append(fps, kgo.FetchPartition{Partition: p, Records: recs})
		}
		fs := kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: "events", Partitions: fps}}}}
		return polled{fs: fs, gen: gen, fences: c.fencesOf(fs)}
	}
	poll := func(gen int64, p int32, from, to int64) { c.queueFetch(polledNow(gen, from, to, p)) }
	queued := func() string {
		var s []string
		for _, it := range c.queue[c.qhead:] {
			if it.kind == itemData {
				s = append(s, fmt.Sprintf("p%d:%d-%d", it.part, it.offs[0], it.offs[len(it.offs)-1]))
			}
		}
		c.qhead = len(c.queue)
		return strings.Join(s, " ")
	}
	check := func(what, want string) {
		t.Helper()
		if got := queued(); got != want {
			t.Errorf("%s: queued %q, want %q", what, got, want)
		}
	}
	// applySeek without a client: the seek is taken, the poll's
	// generation returned.
	applySeek := func() int64 {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.seekReq = nil
		return c.seekGen
	}

	assign(0, 1)
	inFlight := applySeek() // the poller's generation as it starts a poll
	c.queueRewind()         // seeks 0 and 1 to 0
	poll(inFlight, 0, 40, 50)
	check("a sought partition's records fetched before the seek", "")
	inFlight = applySeek()
	poll(inFlight, 0, 0, 10)
	check("after the seek", "p0:0-9")

	// Lost: the partitions go, the rewind seeks nothing; the poll that
	// started before it returns after the partitions are assigned again.
	c.disown([]int32{0, 1})
	inFlight = applySeek()
	c.queueRewind()
	poll(inFlight, 1, 5, 9)
	check("a partition not owned", "")
	assign(0, 1)
	c.part(0).from = 10 // restored from a snapshot of offset 10
	poll(inFlight, 0, 10, 20)
	poll(inFlight, 1, 0, 4)
	check("the poll in flight across the lost rewind", "p0:10-19 p1:0-3")

	// A poll taken before a rebalance reaches Next after it (the poller no
	// longer holds the rebalance until Next takes the poll): the records
	// of the partitions revoked, lost or assigned again since are not
	// queued, the others' are.
	pf := polledNow(inFlight, 20, 30, 0, 1)
	c.queueCtrl(ctrlMsg{parts: []int32{0}}) // revoked: its barrier and Drop are queued
	c.queueFetch(pf)
	check("a poll from before a revoke", "p1:20-29")
	pf = polledNow(inFlight, 30, 40, 1)
	c.disown([]int32{1})
	assign(1)
	c.queueFetch(pf)
	check("a poll from before a loss and a new assignment", "")
}

// TestConsumerExactlyOnceCommitWaitNoted: a checkpoint's commit that the
// brokers hold (the first EndTxn that commits sleeps in the coordinator)
// is said in the log while it waits, and nothing is lost or doubled once
// it returns. Without the note the member went silent (a 3-minute stall
// in the fault matrix gave no line at all).
func TestConsumerExactlyOnceCommitWaitNoted(t *testing.T) {
	const topic, alerts = "events", "alerts"
	parts, vals, want := stateRef(t, topic)
	fk, addrs := fakeCluster(t, topic, 2)
	mkTopics(t, addrs, 2, alerts, topic+".dlq")
	produceAt(t, addrs, topic, parts, vals)

	defer func(d time.Duration) { txnWaitNote = d }(txnWaitNote)
	txnWaitNote = 100 * time.Millisecond
	const held = 800 * time.Millisecond
	var slept atomic.Bool
	fk.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		fk.KeepControl()
		if e, ok := req.(*kmsg.EndTxnRequest); ok && e.Commit && slept.CompareAndSwap(false, true) {
			fk.SleepControl(func() { time.Sleep(held) })
		}
		return nil, nil, false
	})

	cfg := ConsumerConfig{Topic: topic, Group: "g", IdleTimeout: time.Hour, StateTopic: "g-state",
		CheckpointInterval: 200 * time.Millisecond, TransactionalID: "g-1"}
	var notes atomic.Int32
	cfg.Log = func(msg string) {
		t.Log(msg)
		if strings.Contains(msg, "committing the checkpoint's transaction: still waiting after") {
			notes.Add(1)
		}
	}
	a := startTxn(t, addrs, cfg, alerts)
	waitUntil(t, 20*time.Second, "every record and a commit held", func() bool {
		return a.c.Stats().Records == int64(len(vals)) && slept.Load()
	})
	a.stop(t)
	if notes.Load() == 0 {
		t.Errorf("the commit was held %v and no line said it waits (every %v)", held, txnWaitNote)
	}
	wantOneRun(t, addrs, alerts, want)
}

// wantOneRun checks that the alerts committed to topic alerts are want,
// those of one uninterrupted run: none lost, none twice.
func wantOneRun(t *testing.T, addrs []string, alerts string, want []string) {
	t.Helper()
	got := committedAlerts(t, addrs, alerts)
	if !slices.Equal(got, want) {
		t.Errorf("committed alerts\n%v\nwant those of one run\n%v", got, want)
	}
}

// outage refuses the requests it controls on a kfake cluster (closing
// their connections) for away, from the first request from accepts (nil:
// any).
type outage struct {
	away    time.Duration
	why     string
	from    func(kmsg.Request) bool
	mu      sync.Mutex
	until   time.Time
	refused int
}

// control puts the outage on the keys of fk.
func (o *outage) control(fk *kfake.Cluster, keys ...kmsg.Key) {
	down := func(req kmsg.Request) (kmsg.Response, error, bool) {
		fk.KeepControl()
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.until.IsZero() && (o.from == nil || o.from(req)) {
			o.until = time.Now().Add(o.away)
		}
		if time.Now().Before(o.until) {
			o.refused++
			return nil, errors.New(o.why), true
		}
		return nil, nil, false
	}
	for _, k := range keys {
		fk.ControlKey(int16(k), down)
	}
}

// check fails the test if the outage never came or no log line (waited)
// said the member waits for who.
func (o *outage) check(t *testing.T, waited *atomic.Int32, who string) {
	t.Helper()
	o.mu.Lock()
	n := o.refused
	o.mu.Unlock()
	if n == 0 {
		t.Fatal("no request was refused: the outage never came")
	}
	if waited.Load() == 0 {
		t.Errorf("no log line said the member waits for %s", who)
	}
}
