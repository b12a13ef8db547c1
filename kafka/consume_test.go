package kafka

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/core"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// These tests run the Consumer against franz-go's in-process cluster
// (kfake); kafkatest/ runs `cartwatch consume` against a real broker.

// fakeKafka starts an in-process cluster with topic of n partitions.
func fakeKafka(t *testing.T, topic string, n int32) []string {
	t.Helper()
	_, addrs := fakeCluster(t, topic, n)
	return addrs
}

// fakeCluster is fakeKafka with the cluster, for its control functions.
func fakeCluster(t *testing.T, topic string, n int32) (*kfake.Cluster, []string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(n, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()
}

// produceAt writes values to the partitions given, in order, and waits.
func produceAt(t *testing.T, addrs []string, topic string, part []int32, vals []string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(vals))
	for i, v := range vals {
		recs[i] = &kgo.Record{Topic: topic, Partition: part[i], Value: []byte(v)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// startConsumer makes a Consumer and its client; both end with the test.
func startConsumer(t *testing.T, addrs []string, cfg ConsumerConfig) (*Consumer, *kgo.Client) {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = func(msg string) { t.Log(msg) }
	}
	c := NewConsumer(cfg)
	opts := append(append([]kgo.Opt{kgo.SeedBrokers(addrs...)}, c.Opts()...), kgo.HeartbeatInterval(100*time.Millisecond))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(cl); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		cl.Close()
	})
	return c, cl
}

// got is what a fake engine (drive) saw of a Consumer's Records.
type got struct {
	mu      sync.Mutex
	kinds   []string           // "data p", "tick p t", "drop p", "barrier"
	vals    map[int32][]string // values in order, per partition
	offs    map[int32][]int64
	next    map[int32]int64 // the engine's positions
	mixed   []string        // values handed with another partition's
	stopped bool
}

func (g *got) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, v := range g.vals {
		n += len(v)
	}
	return n
}

func (g *got) snapshot() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.kinds)
}

// drive plays the engine's part for c until Next fails: it keeps the
// positions as the sequencer does and calls Done at every barrier (the
// values' first byte names the partition they were written to).
func drive(t *testing.T, c *Consumer) (*got, chan error) { return driveSlow(t, c, 0) }

// driveSlow is drive with an engine that takes doneDelay to pass each
// barrier.
func driveSlow(t *testing.T, c *Consumer, doneDelay time.Duration) (*got, chan error) {
	g := &got{vals: map[int32][]string{}, offs: map[int32][]int64{}, next: map[int32]int64{}}
	done := make(chan error, 1)
	go func() {
		var r core.Records
		for {
			r = core.Records{}
			err := c.Next(context.Background(), &r)
			if err != nil {
				g.mu.Lock()
				g.stopped = true
				g.mu.Unlock()
				done <- err
				return
			}
			g.mu.Lock()
			switch {
			case r.Values != nil:
				g.kinds = append(g.kinds, fmt.Sprintf("data %d", r.Partition))
				for i, v := range r.Values {
					if !strings.HasPrefix(string(v), fmt.Sprintf("%d/", r.Partition)) {
						g.mixed = append(g.mixed, string(v))
					}
					g.vals[r.Partition] = append(g.vals[r.Partition], string(v))
					g.offs[r.Partition] = append(g.offs[r.Partition], r.Offsets[i])
				}
				g.next[r.Partition] = r.Offsets[len(r.Offsets)-1] + 1
			case r.Tick != 0:
				g.kinds = append(g.kinds, fmt.Sprintf("tick %d %d", r.Partition, r.Tick))
			case r.Drop:
				g.kinds = append(g.kinds, fmt.Sprintf("drop %d", r.Partition))
				delete(g.next, r.Partition)
			case r.Barrier != 0:
				g.kinds = append(g.kinds, "barrier")
			}
			next := make(map[int32]int64, len(g.next))
			for p, n := range g.next {
				next[p] = n
			}
			g.mu.Unlock()
			if r.Values != nil {
				c.Release(&r)
			}
			if r.Barrier != 0 {
				time.Sleep(doneDelay)
				c.Done(r.Barrier, next)
			}
		}
	}()
	return g, done
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// committed returns the group's committed offsets of topic.
func committed(t *testing.T, addrs []string, group, topic string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	os, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	os.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil {
			out[o.Partition] = o.At
		}
	})
	return out
}

// TestConsumerPartitionsApart: every record reaches the engine once, in
// offset order, in Records of its own partition only; the offsets the
// engine reports at a barrier are committed; Stop ends with a last barrier
// and ErrStopped.
func TestConsumerPartitionsApart(t *testing.T) {
	const topic, parts, per = "events", 3, 300
	addrs := fakeKafka(t, topic, parts)
	var ps []int32
	var vals []string
	for i := 0; i < per; i++ {
		for p := int32(0); p < parts; p++ {
			ps = append(ps, p)
			vals = append(vals, fmt.Sprintf("%d/%d", p, i))
		}
	}
	produceAt(t, addrs, topic, ps, vals)
	c, _ := startConsumer(t, addrs, ConsumerConfig{Topic: topic, Group: "g", CommitInterval: 50 * time.Millisecond})
	g, done := drive(t, c)
	waitUntil(t, 20*time.Second, "every record", func() bool { return g.count() == parts*per })
	waitUntil(t, 20*time.Second, "the offsets committed", func() bool {
		off := committed(t, addrs, "g", topic)
		return off[0] == per && off[1] == per && off[2] == per
	})
	c.Stop()
	select {
	case err := <-done:
		if !errors.Is(err, ErrStopped) {
			t.Fatalf("Next after Stop: %v, want ErrStopped", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next did not return after Stop")
	}
	if len(g.mixed) > 0 {
		t.Errorf("%d values handed with another partition's, e.g. %q", len(g.mixed), g.mixed[0])
	}
	for p := int32(0); p < parts; p++ {
		for i, v := range g.vals[p] {
			if want := fmt.Sprintf("%d/%d", p, i); v != want || g.offs[p][i] != int64(i) {
				t.Fatalf("partition %d: record %d is %q at offset %d, want %q at %d", p, i, v, g.offs[p][i], want, i)
			}
		}
	}
	k := g.snapshot()
	if k[len(k)-1] != "barrier" {
		t.Errorf("the last Records before ErrStopped is %q, want the last barrier", k[len(k)-1])
	}
	if s := c.Stats(); s.Records != parts*per || s.Lag != 0 || len(s.PartLag) != len(s.Partitions) || slices.ContainsFunc(s.PartLag, func(l int64) bool { return l != 0 }) {
		t.Errorf("Stats: %d records, lag %d (per partition %v of %v); want %d, 0", s.Records, s.Lag, s.PartLag, s.Partitions, parts*per)
	}
}

// TestConsumerDropOnRevoke: when a second member joins, the first hands
// out a barrier (whose offsets are committed before the partitions move)
// and then a Drop for each partition it gives away, and for no other; the
// new member starts after the committed offsets.
func TestConsumerDropOnRevoke(t *testing.T) {
	const topic, parts, per = "events", 4, 50
	addrs := fakeKafka(t, topic, parts)
	var ps []int32
	var vals []string
	for p := int32(0); p < parts; p++ {
		for i := 0; i < per; i++ {
			ps = append(ps, p)
			vals = append(vals, fmt.Sprintf("%d/%d", p, i))
		}
	}
	produceAt(t, addrs, topic, ps, vals)
	a, _ := startConsumer(t, addrs, ConsumerConfig{Topic: topic, Group: "g", CommitInterval: time.Hour})
	// A slow engine: the rebalance must wait for the revoke's barrier to
	// pass it and its offsets to be committed.
	ga, _ := driveSlow(t, a, 300*time.Millisecond)
	waitUntil(t, 20*time.Second, "every record at the first member", func() bool { return ga.count() == parts*per })
	before := len(ga.snapshot())

	b, _ := startConsumer(t, addrs, ConsumerConfig{Topic: topic, Group: "g", CommitInterval: time.Hour})
	gb, _ := drive(t, b)
	waitUntil(t, 30*time.Second, "the partitions split", func() bool {
		return len(b.Stats().Partitions) == parts/2 && len(a.Stats().Partitions) == parts/2
	})
	waitUntil(t, 10*time.Second, "the drops", func() bool {
		n := 0
		for _, k := range ga.snapshot() {
			if strings.HasPrefix(k, "drop") {
				n++
			}
		}
		return n == parts/2
	})
	after := ga.snapshot()[before:]
	var drops []string
	barrier := -1
	for i, k := range after {
		switch {
		case k == "barrier" && barrier < 0:
			barrier = i
		case strings.HasPrefix(k, "drop"):
			drops = append(drops, k)
			if barrier < 0 || i < barrier {
				t.Errorf("%s before the revoke's barrier: %v", k, after)
			}
		case strings.HasPrefix(k, "data"):
			t.Errorf("records after the revoke: %v", after)
		}
	}
	var want []string
	for _, p := range b.Stats().Partitions {
		want = append(want, fmt.Sprintf("drop %d", p))
	}
	slices.Sort(drops)
	if !slices.Equal(drops, want) {
		t.Errorf("the first member dropped %v, the second was assigned %v", drops, want)
	}
	// The revoked partitions were committed at their ends before they
	// moved (CommitInterval is an hour: only the revoke commits), so the
	// second member reads nothing.
	off := committed(t, addrs, "g", topic)
	for _, p := range b.Stats().Partitions {
		if off[p] != per {
			t.Errorf("partition %d committed at %d, want %d", p, off[p], per)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if n := gb.count(); n != 0 {
		t.Errorf("the second member read %d records, want 0 (all committed by the first)", n)
	}
}

// TestQueueTicks: an idle partition takes the highest time among the
// partitions that are not idle; when all are idle, all take the highest
// and go on with the wall clock; partitions with no known time take no
// part; with the wall clock every partition with records is at it.
func TestQueueTicks(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	idle := 10 * time.Second
	mk := func(wall bool) *Consumer {
		c := NewConsumer(ConsumerConfig{Topic: "x", IdleTimeout: idle, WallClock: wall})
		return c
	}
	set := func(c *Consumer, p int32, maxT int64, last time.Time) {
		pi := c.part(p)
		pi.owned, pi.epoch, pi.maxT, pi.lastData = true, 1, maxT, last
		c.setOwned()
	}
	ticks := func(c *Consumer, now time.Time) string {
		c.queue = c.queue[:0]
		c.queueTicks(now)
		var s []string
		for _, it := range c.queue {
			s = append(s, fmt.Sprintf("%d@%d", it.part, it.tick))
		}
		return strings.Join(s, " ")
	}
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s: ticks %q, want %q", what, got, want)
		}
	}

	c := mk(false)
	set(c, 0, 100, t0)                    // idle from t0+10s
	set(c, 1, 200, t0.Add(5*time.Second)) // idle from t0+15s
	set(c, 2, math.MinInt64, t0)          // no record yet
	check("all active", ticks(c, t0.Add(time.Second)), "")
	check("0 idle", ticks(c, t0.Add(idle)), "0@200")
	check("0 idle, again", ticks(c, t0.Add(idle+time.Second)), "")
	c.parts[1].maxT = 250 // a barrier reported more
	check("1 moved on", ticks(c, t0.Add(idle+2*time.Second)), "0@250")
	// Both idle: all at the highest, then one second per second.
	all := t0.Add(15 * time.Second)
	check("all idle", ticks(c, all), "")
	check("all idle +0.9s", ticks(c, all.Add(900*time.Millisecond)), "")
	check("all idle +1s", ticks(c, all.Add(time.Second)), "0@251 1@251")
	check("all idle +3.5s", ticks(c, all.Add(3500*time.Millisecond)), "0@253 1@253")
	// A record on 1: it is active again, 0 follows it.
	c.parts[1].lastData = all.Add(4 * time.Second)
	c.parts[1].maxT = 260
	check("1 active again", ticks(c, all.Add(4*time.Second)), "0@260")
	// All idle again: the wall clock from the highest, 260.
	all2 := all.Add(4*time.Second + idle)
	check("all idle again", ticks(c, all2), "")
	check("all idle again +2s", ticks(c, all2.Add(2*time.Second)), "0@262 1@262")

	// All idle, one behind: it takes the highest at once.
	c = mk(false)
	set(c, 0, 100, t0)
	set(c, 1, 300, t0)
	check("all idle, apart", ticks(c, t0.Add(idle)), "0@300")

	// Not owned: no tick.
	c.parts[0].owned = false
	c.setOwned()
	c.parts[0].maxT = 0
	check("not owned", ticks(c, t0.Add(idle+5*time.Second)), "1@305")

	c = mk(true)
	set(c, 0, t0.Unix(), t0)
	set(c, 1, math.MinInt64, t0)
	check("wall, same second", ticks(c, t0.Add(500*time.Millisecond)), "")
	check("wall", ticks(c, t0.Add(2*time.Second)), fmt.Sprintf("0@%d", t0.Unix()+2))
}

// captureSink keeps the alerts and rejects of a run.
type captureSink struct {
	mu      sync.Mutex
	alerts  []core.Alert
	rejects []core.Reject
}

func (s *captureSink) Alert(a *core.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alerts = append(s.alerts, *a)
	return nil
}

func (s *captureSink) Reject(r *core.Reject) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rj := *r
	rj.Value = slices.Clone(r.Value)
	s.rejects = append(s.rejects, rj)
	return nil
}

func (s *captureSink) Flush(bool) error { return nil }

func (s *captureSink) nAlerts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.alerts)
}

// testClock is a wall clock the test moves.
type testClock struct{ ns atomic.Int64 }

func (c *testClock) Now() time.Time       { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Add(d time.Duration)  { c.ns.Add(int64(d)) }
func newTestClock(t time.Time) *testClock { c := &testClock{}; c.ns.Store(t.UnixNano()); return c }
func cartJSON(ts, typ string, user int) string {
	return fmt.Sprintf(`{"event_time":%q,"event_type":%q,"product_id":"1","price":"1.00","user_id":"%d"}`, ts, typ, user)
}

// TestConsumeIdleAlert: through the engine, a cart whose partition gets
// no later record is alerted once the partitions are idle and their time
// has moved past its deadline: first to the highest time of any partition,
// then with the wall clock. Before the idle timeout nothing fires.
func TestConsumeIdleAlert(t *testing.T) {
	const topic = "events"
	addrs := fakeKafka(t, topic, 2)
	clock := newTestClock(time.Unix(1_700_000_000, 0))
	c, _ := startConsumer(t, addrs, ConsumerConfig{Topic: topic, Group: "g", IdleTimeout: 10 * time.Second, Now: clock.Now})
	sink := &captureSink{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		core.Run(ctx, c, core.Options{TTL: time.Minute, Sink: sink, Checkpoint: c, MaxFuture: -1, Shards: 2, Parsers: 2}, nil)
	}()
	// Partition 0: a cart at 00:00:00 (deadline 00:01:00); partition 1:
	// a view at 00:00:30.
	produceAt(t, addrs, topic, []int32{0, 1}, []string{
		cartJSON("2019-11-01 00:00:00 UTC", "cart", 7),
		cartJSON("2019-11-01 00:00:30 UTC", "view", 8)})
	waitUntil(t, 20*time.Second, "both records", func() bool { return c.Stats().Records == 2 })
	// A barrier reports each partition's time.
	clock.Add(1500 * time.Millisecond)
	time.Sleep(2 * TickEvery)
	if n := sink.nAlerts(); n != 0 {
		t.Fatalf("%d alerts before the idle timeout", n)
	}
	// All idle: both at 00:00:30, still before the deadline.
	clock.Add(10 * time.Second)
	time.Sleep(4 * TickEvery)
	if n := sink.nAlerts(); n != 0 {
		t.Fatalf("%d alerts at 00:00:30", n)
	}
	// 29 s later: 00:00:59; one more: the deadline.
	clock.Add(29 * time.Second)
	time.Sleep(4 * TickEvery)
	if n := sink.nAlerts(); n != 0 {
		t.Fatalf("%d alerts at 00:00:59", n)
	}
	clock.Add(time.Second)
	waitUntil(t, 5*time.Second, "the alert", func() bool { return sink.nAlerts() == 1 })
	a := sink.alerts[0]
	if a.UserID != 7 || a.Partition != 0 || a.AbandonedAt != time.Date(2019, 11, 1, 0, 1, 0, 0, time.UTC).Unix() {
		t.Errorf("alert %+v, want user 7 of partition 0 abandoned at 00:01:00", a)
	}
	c.Stop()
}

// TestConsumeWallClock: with the wall clock a cart's time is its arrival,
// whatever its event_time, and it is alerted when the wall clock passes
// its deadline, with no other record.
func TestConsumeWallClock(t *testing.T) {
	const topic = "events"
	addrs := fakeKafka(t, topic, 2)
	start := time.Unix(1_700_000_000, 0)
	clock := newTestClock(start)
	c, _ := startConsumer(t, addrs, ConsumerConfig{Topic: topic, Group: "g", WallClock: true, Now: clock.Now})
	sink := &captureSink{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		core.Run(ctx, c, core.Options{TTL: time.Minute, WallClock: true, Sink: sink, Checkpoint: c, Shards: 2, Parsers: 2}, nil)
	}()
	produceAt(t, addrs, topic, []int32{1}, []string{cartJSON("2019-11-01 00:00:00 UTC", "cart", 7)})
	waitUntil(t, 20*time.Second, "the record", func() bool { return c.Stats().Records == 1 })
	clock.Add(59 * time.Second)
	time.Sleep(4 * TickEvery)
	if n := sink.nAlerts(); n != 0 {
		t.Fatalf("%d alerts 59 s after the cart", n)
	}
	clock.Add(time.Second)
	waitUntil(t, 5*time.Second, "the alert", func() bool { return sink.nAlerts() == 1 })
	a := sink.alerts[0]
	if a.UserID != 7 || a.LastCartAt != start.Unix() || a.AbandonedAt != start.Unix()+60 {
		t.Errorf("alert %+v, want user 7's cart at %d abandoned at %d", a, start.Unix(), start.Unix()+60)
	}
	c.Stop()
}

// TestConsumerNoCommitAfterFailedDelivery: when the sink has failed to
// deliver something, barriers commit nothing: the records are read again
// after a restart instead of their alerts being lost.
func TestConsumerNoCommitAfterFailedDelivery(t *testing.T) {
	const topic = "events"
	addrs := fakeKafka(t, topic, 1)
	produceAt(t, addrs, topic, []int32{0, 0, 0}, []string{"0/0", "0/1", "0/2"})
	failed := errors.New("alerts topic: not authorized")
	c, _ := startConsumer(t, addrs, ConsumerConfig{Topic: topic, Group: "g", CommitInterval: 20 * time.Millisecond,
		SinkErr: func() error { return failed }})
	g, _ := drive(t, c)
	waitUntil(t, 20*time.Second, "every record", func() bool { return g.count() == 3 })
	waitUntil(t, 5*time.Second, "a barrier after the records", func() bool {
		k := g.snapshot()
		return k[len(k)-1] == "barrier"
	})
	time.Sleep(200 * time.Millisecond)
	if off := committed(t, addrs, "g", topic); len(off) != 0 || c.Stats().Commits != 0 {
		t.Errorf("committed %v (%d commits) after a failed delivery, want nothing", off, c.Stats().Commits)
	}
}

// TestConsumerUntilEnd: with UntilEnd the Consumer stops by itself once
// every partition is read to the end offset it had at the assignment,
// including a partition with no records and one whose committed offset is
// already at its end; records written after the assignment are not waited
// for, and the last barrier commits the end offsets.
func TestConsumerUntilEnd(t *testing.T) {
	const topic, per = "events", 200
	addrs := fakeKafka(t, topic, 4)
	var ps []int32
	var vals []string
	for i := 0; i < per; i++ {
		for _, p := range []int32{0, 1, 3} {
			ps = append(ps, p)
			vals = append(vals, fmt.Sprintf("%d/%d", p, i))
		}
	}
	produceAt(t, addrs, topic, ps, vals) // partition 2 stays empty
	// Partition 3 was read to its end by an earlier run of the group.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: topic, Partition: 3, At: per})
	if _, err := kadm.NewClient(cl).CommitOffsets(ctx, "g", offs); err != nil {
		t.Fatal(err)
	}
	cl.Close()

	c, _ := startConsumer(t, addrs, ConsumerConfig{Topic: topic, Group: "g", UntilEnd: true})
	g, done := drive(t, c)
	select {
	case err := <-done:
		if !errors.Is(err, ErrStopped) {
			t.Fatalf("Next at the end: %v, want ErrStopped", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no stop at the end offsets: %d records read", g.count())
	}
	if n := g.count(); n != 2*per {
		t.Errorf("%d records read, want %d (partitions 0 and 1)", n, 2*per)
	}
	if n := len(g.vals[3]); n != 0 {
		t.Errorf("partition 3 was committed at its end, yet %d records were read again", n)
	}
	off := committed(t, addrs, "g", topic)
	if off[0] != per || off[1] != per || off[3] != per {
		t.Errorf("committed %v, want %d on partitions 0, 1 and 3", off, per)
	}
	s := c.Stats()
	if s.AtEnd.IsZero() || s.FirstData.IsZero() || s.AtEnd.Before(s.FirstData) {
		t.Errorf("Stats: first data %v, at end %v: want both, in that order", s.FirstData, s.AtEnd)
	}
}

// TestConsumerWithoutUntilEndKeepsGoing: the same input without UntilEnd
// is read and the Consumer waits for more (the run ends only by Stop).
func TestConsumerWithoutUntilEndKeepsGoing(t *testing.T) {
	const topic = "events"
	addrs := fakeKafka(t, topic, 2)
	produceAt(t, addrs, topic, []int32{0, 1}, []string{"0/0", "1/0"})
	c, _ := startConsumer(t, addrs, ConsumerConfig{Topic: topic, Group: "g"})
	g, done := drive(t, c)
	waitUntil(t, 20*time.Second, "every record", func() bool { return g.count() == 2 })
	select {
	case err := <-done:
		t.Fatalf("Next ended by itself: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	if !c.Stats().AtEnd.IsZero() {
		t.Error("Stats.AtEnd set without UntilEnd")
	}
	c.Stop()
	if err := <-done; !errors.Is(err, ErrStopped) {
		t.Fatalf("Next after Stop: %v", err)
	}
}

// TestConsumerLost: a partition lost without a revoke (the member fell out
// of the group) gets a Drop with no barrier before it, and no later
// barrier commits it (the group would refuse the commit, and its next
// owner reads again from the last commit); the partitions still owned go
// on being committed. kfake cannot make a member fall out of the group on
// cue, so the test calls the callback as kgo would.
func TestConsumerLost(t *testing.T) {
	const topic, per = "events", 100
	addrs := fakeKafka(t, topic, 2)
	var ps []int32
	var vals []string
	for i := 0; i < per; i++ {
		ps = append(ps, 0, 1)
		vals = append(vals, fmt.Sprintf("0/%d", i), fmt.Sprintf("1/%d", i))
	}
	produceAt(t, addrs, topic, ps, vals)
	c, cl := startConsumer(t, addrs, ConsumerConfig{Topic: topic, Group: "g", CommitInterval: time.Hour})
	g, done := drive(t, c)
	waitUntil(t, 20*time.Second, "every record", func() bool { return g.count() == 2*per })
	before := len(g.snapshot())

	c.onLost(context.Background(), cl, map[string][]int32{topic: {0}})
	waitUntil(t, 10*time.Second, "the drop", func() bool { return slices.Contains(g.snapshot(), "drop 0") })
	after := g.snapshot()[before:]
	if len(after) == 0 || after[0] != "drop 0" {
		t.Errorf("after the loss the engine got %v, want the drop of partition 0 first (no barrier: nothing to commit)", after)
	}
	if s := c.Stats(); !slices.Equal(s.Partitions, []int32{1}) {
		t.Errorf("owned after the loss: %v, want [1]", s.Partitions)
	}
	c.Stop() // its last barrier commits what is owned
	if err := <-done; !errors.Is(err, ErrStopped) {
		t.Fatalf("Next after Stop: %v", err)
	}
	off := committed(t, addrs, "g", topic)
	if _, ok := off[0]; ok {
		t.Errorf("partition 0 was committed at %d after it was lost", off[0])
	}
	if off[1] != per {
		t.Errorf("partition 1 committed at %d, want %d", off[1], per)
	}
}

// TestConsumerMaxRate: with MaxRate the records reach the engine no faster
// than the rate, in Records of a twentieth of a second's worth, and a run
// to the end offsets still ends.
func TestConsumerMaxRate(t *testing.T) {
	const topic, per, rate = "events", 200, 800.0
	addrs := fakeKafka(t, topic, 2)
	var ps []int32
	var vals []string
	for i := 0; i < per; i++ {
		for _, p := range []int32{0, 1} {
			ps = append(ps, p)
			vals = append(vals, fmt.Sprintf("%d/%d", p, i))
		}
	}
	produceAt(t, addrs, topic, ps, vals)
	c, _ := startConsumer(t, addrs, ConsumerConfig{Topic: topic, Group: "g", UntilEnd: true, MaxRate: rate})
	g, done := drive(t, c)
	select {
	case err := <-done:
		if !errors.Is(err, ErrStopped) {
			t.Fatalf("Next at the end: %v, want ErrStopped", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no stop at the end offsets: %d records read", g.count())
	}
	if n := g.count(); n != 2*per {
		t.Fatalf("%d records read, want %d", n, 2*per)
	}
	for p, v := range g.vals {
		if n := len(v); n != per {
			t.Errorf("partition %d: %d records, want %d", p, n, per)
		}
	}
	// The first Records goes at once, every later one when its turn comes.
	most := int(rate / 20)
	s := c.Stats()
	want := time.Duration(float64(2*per-most) / rate * float64(time.Second))
	if el := s.AtEnd.Sub(s.FirstData); el < want {
		t.Errorf("%d records handed out in %v at --max-rate %v: want at least %v", 2*per, el, rate, want)
	}
	// Each Records holds at most a twentieth of a second's records.
	data := 0
	for _, k := range g.snapshot() {
		if strings.HasPrefix(k, "data ") {
			data++
		}
	}
	if data < 2*per/most {
		t.Errorf("%d Records for %d records: want Records of at most %d", data, 2*per, most)
	}
}

// fetchCount counts the records kgo reads from the brokers.
type fetchCount struct{ n atomic.Int64 }

func (f *fetchCount) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	f.n.Add(int64(m.NumRecords))
}

// TestConsumerBacklogStaysInTopic: a member slower than its input (MaxRate)
// holds only a few fetches beyond what it has handed to the engine (the
// poll in its queue, the one the poller waits to hand over, the one kgo
// buffers); the backlog stays in the topic. bench/overload.sh measures the
// same on a real broker (results/reliability.md, Overload).
func TestConsumerBacklogStaysInTopic(t *testing.T) {
	const topic, parts, n, partBytes = "events", 4, 20000, 16 << 10
	addrs := fakeKafka(t, topic, parts)
	ps := make([]int32, n)
	vals := make([]string, n)
	pad := strings.Repeat("x", 90)
	for i := range vals {
		ps[i] = int32(i % parts)
		vals[i] = fmt.Sprintf("%d/%d %s", ps[i], i, pad)
	}
	// Small batches: a fetch returns whole batches.
	pcl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(4<<10), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]*kgo.Record, n)
	for i, v := range vals {
		recs[i] = &kgo.Record{Topic: topic, Partition: ps[i], Value: []byte(v)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := pcl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pcl.Close()

	c := NewConsumer(ConsumerConfig{Topic: topic, Group: "g", MaxRate: 2000, Log: func(msg string) { t.Log(msg) }})
	var fc fetchCount
	opts := append(append([]kgo.Opt{kgo.SeedBrokers(addrs...),
		kgo.FetchMaxBytes(parts * partBytes), kgo.FetchMaxPartitionBytes(partBytes), kgo.WithHooks(&fc)}, c.Opts()...),
		kgo.HeartbeatInterval(100*time.Millisecond))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(cl); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		cl.Close()
	})
	g, _ := drive(t, c)
	waitUntil(t, 20*time.Second, "records handed out", func() bool { return g.count() > 0 })
	// At most the partitions' fetch size a fetch, three fetches (and
	// one Records in the engine's hands).
	most := int64(3*parts*partBytes/(len(vals[0])) + 200)
	for range 10 {
		time.Sleep(150 * time.Millisecond)
		fetched, handed := fc.n.Load(), c.Stats().Records
		if fetched-handed > most {
			t.Fatalf("%d records fetched, %d handed to the engine: the member holds %d, want at most %d (three fetches); the backlog is %d",
				fetched, handed, fetched-handed, most, n-handed)
		}
	}
	if h := c.Stats().Records; h >= n/2 {
		t.Fatalf("%d of %d records handed out at MaxRate 2000 within 2 s", h, n)
	}
}

// TestFetchErrMsg: a poll error of the client (no topic: franz-go gives a
// group it cannot join so, with partition 0) names the input topic, not an
// empty one with a partition (the fault matrix's broker restart logged
// "fetching  partition 0: unable to join group session").
func TestFetchErrMsg(t *testing.T) {
	dial := errors.New("unable to join group session: unable to dial")
	for _, c := range []struct {
		topic string
		p     int32
		err   error
		want  string
	}{
		{"", 0, dial, "fetching in: unable to join group session: unable to dial"},
		{"", -1, dial, "fetching in: unable to join group session: unable to dial"},
		{"in", 3, dial, "fetching in partition 3: unable to join group session: unable to dial"},
		{"in", 3, fmt.Errorf("x: %w", kerr.UnknownTopicOrPartition), "topic in does not exist (yet): waiting for it"},
	} {
		if got := fetchErrMsg("in", c.topic, c.p, c.err); got != c.want {
			t.Errorf("fetchErrMsg(%q, %d, %v) = %q, want %q", c.topic, c.p, c.err, got, c.want)
		}
	}
}

// killedMember starts a member with cfg, waits until it owns every one of
// the topic's n partitions and kills it: its client closes with no
// LeaveGroup reaching the broker (fk refuses them from here on), as after
// a SIGKILL. It returns when the kill came.
func killedMember(t *testing.T, fk *kfake.Cluster, addrs []string, cfg ConsumerConfig, n int) time.Time {
	t.Helper()
	a, acl := startConsumer(t, addrs, cfg)
	drive(t, a)
	waitUntil(t, 20*time.Second, "the first member's partitions", func() bool { return len(a.Stats().Partitions) == n })
	fk.ControlKey(int16(kmsg.LeaveGroup), func(kmsg.Request) (kmsg.Response, error, bool) {
		fk.KeepControl()
		return nil, errors.New("killed: no LeaveGroup"), true
	})
	a.Close()
	acl.Close()
	return time.Now()
}

// TestConsumerSessionTimeout: a member killed holds its partitions until
// its session times out, ConsumerConfig.SessionTimeout: here 6 s (the
// brokers' least by default), where franz-go's default is 45 s. The next
// member gets them soon after.
func TestConsumerSessionTimeout(t *testing.T) {
	const topic, parts = "events", 2
	fk, addrs := fakeCluster(t, topic, parts)
	cfg := ConsumerConfig{Topic: topic, Group: "g", SessionTimeout: 6 * time.Second}
	killed := killedMember(t, fk, addrs, cfg, parts)
	b, _ := startConsumer(t, addrs, cfg)
	drive(t, b)
	waitUntil(t, 20*time.Second, "the partitions at the next member", func() bool { return len(b.Stats().Partitions) == parts })
	if d := time.Since(killed); d < 3*time.Second {
		t.Errorf("the partitions moved %v after the kill: sooner than the session timeout allows (was the member killed?)", d)
	}
}

// TestConsumerStaticMember: with an InstanceID (static membership), a
// member killed and started again with the same id takes its partitions
// back at once, not after its session timeout (30 s here): the broker
// swaps the new member in for the old one.
func TestConsumerStaticMember(t *testing.T) {
	const topic, parts = "events", 2
	fk, addrs := fakeCluster(t, topic, parts)
	cfg := ConsumerConfig{Topic: topic, Group: "g", SessionTimeout: 30 * time.Second, InstanceID: "member-1"}
	killed := killedMember(t, fk, addrs, cfg, parts)
	b, _ := startConsumer(t, addrs, cfg)
	drive(t, b)
	waitUntil(t, 10*time.Second, "the partitions back at the restarted member", func() bool { return len(b.Stats().Partitions) == parts })
	t.Logf("the partitions came back %v after the kill", time.Since(killed).Round(time.Millisecond))
}

// TestHeartbeatInterval: a third of the session timeout, at most 3 s.
func TestHeartbeatInterval(t *testing.T) {
	for _, c := range []struct{ session, want time.Duration }{
		{45 * time.Second, 3 * time.Second}, {10 * time.Second, 3 * time.Second},
		{6 * time.Second, 2 * time.Second}, {30 * time.Millisecond, 100 * time.Millisecond},
	} {
		if got := heartbeatInterval(c.session); got != c.want {
			t.Errorf("heartbeatInterval(%v) = %v, want %v", c.session, got, c.want)
		}
	}
}

// TestConsumerRebalanceNotHeldByPoll: a poll waiting for Next (the engine
// busy, or its merger waiting in an exactly-once checkpoint's End) does
// not hold up a rebalance: the member's revoke callback runs while Next is
// not called, and the records of the partition revoked that the poll holds
// are not queued. The poller used to hold the rebalance until Next took the
// poll; with the merger in End waiting for a heartbeat that only the
// rebalance brings back, nothing moved again (the 3-minute stall of the
// fault matrix's 3-node broker kill with --exactly-once).
func TestConsumerRebalanceNotHeldByPoll(t *testing.T) {
	const topic = "events"
	addrs := fakeKafka(t, topic, 2)
	produceAt(t, addrs, topic, []int32{0, 1}, []string{"a", "b"})
	revoked := make(chan string, 4)
	cfg := ConsumerConfig{Topic: topic, Group: "g", IdleTimeout: time.Hour, Log: func(msg string) {
		t.Log(msg)
		if strings.HasPrefix(msg, "revoked") {
			select {
			case revoked <- msg:
			default:
			}
		}
	}}
	c, _ := startConsumer(t, addrs, cfg)
	t.Cleanup(func() { c.Close() })
	var r core.Records
	if err := c.Next(context.Background(), &r); err != nil { // starts the poller
		t.Fatal(err)
	}
	c.Release(&r)
	// The next poll's records wait for a Next that does not come.
	produceAt(t, addrs, topic, []int32{0, 1, 0, 1}, []string{"c", "d", "e", "f"})
	time.Sleep(500 * time.Millisecond)

	other, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumerGroup("g"), kgo.ConsumeTopics(topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.HeartbeatInterval(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	go func() {
		for other.Context().Err() == nil {
			other.PollFetches(other.Context())
		}
	}()
	var msg string
	select {
	case msg = <-revoked:
	case <-time.After(10 * time.Second):
		t.Fatal("no revoke within 10 s while Next was not called: the poll held the rebalance")
	}
	// What Next hands out from here: the records queued before, the
	// revoke's barrier and Drop, then the waiting poll, whose records of
	// the revoked partition must not come after its Drop.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	dropped, after := map[int32]bool{}, 0
	for c.Next(ctx, &r) == nil {
		switch {
		case r.Drop:
			dropped[r.Partition] = true
		case len(r.Values) > 0 && dropped[r.Partition]:
			t.Errorf("records of partition %d at %v handed out after its Drop (%s)", r.Partition, r.Offsets, msg)
		case len(r.Values) > 0 && len(dropped) > 0:
			after += len(r.Values)
		}
		c.Release(&r)
		r = core.Records{}
	}
	if len(dropped) != 1 || after == 0 {
		t.Errorf("Drops of %v and %d records of the partition kept after them; want one Drop and the kept partition's records", dropped, after)
	}
}
