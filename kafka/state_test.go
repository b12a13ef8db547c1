package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/core"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// stateRows are the records of the restore tests: 8 users over 2
// partitions (user u in partition u%2), carts and some purchases 5 s apart
// from 2019-11-01 00:00:00, then a view an hour later in each partition,
// which passes every deadline (TTL 1 minute).
func stateRows() (parts []int32, vals []string) {
	t0 := time.Date(2019, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 60 {
		u := i%8 + 1
		typ := "cart"
		if i%7 == 3 {
			typ = "purchase"
		}
		parts = append(parts, int32(u%2))
		vals = append(vals, cartJSON(t0.Add(time.Duration(i)*5*time.Second).Format("2006-01-02 15:04:05 UTC"), typ, u))
	}
	for p := range 2 {
		parts = append(parts, int32(p))
		vals = append(vals, cartJSON(t0.Add(time.Hour).Format("2006-01-02 15:04:05 UTC"), "view", 100+p))
	}
	return parts, vals
}

// stateRef is stateRows and the alerts (as alertKeys) of one member
// over all of them, on a kfake cluster of its own with topic in 2
// partitions: what a test's members, stopped, killed or rebalanced, must
// give between them.
func stateRef(t *testing.T, topic string) (parts []int32, vals, want []string) {
	t.Helper()
	parts, vals = stateRows()
	addrs := fakeKafka(t, topic, 2)
	produceAt(t, addrs, topic, parts, vals)
	ref, _ := runConsumer(t, addrs, ConsumerConfig{Topic: topic, Group: "ref", IdleTimeout: time.Hour}, int64(len(vals)))
	return parts, vals, alertKeys(ref)
}

// perPartition counts the rows of each partition.
func perPartition(parts []int32) map[int32]int64 {
	per := map[int32]int64{}
	for _, p := range parts {
		per[p]++
	}
	return per
}

// alertKeys are a run's alerts as comparable strings, sorted.
func alertKeys(as []core.Alert) []string {
	out := make([]string, len(as))
	for i := range as {
		a := &as[i]
		out[i] = fmt.Sprintf("%s last=%d items=%d value=%d", AppendAlertID(nil, a), a.LastCartAt, a.Items, a.ValueCents)
	}
	slices.Sort(out)
	return out
}

// runConsumer runs the engine over a Consumer of cfg until it has handed
// out want records, then stops it, leaves the group and returns its alerts
// and stats.
func runConsumer(t *testing.T, addrs []string, cfg ConsumerConfig, want int64) ([]core.Alert, ConsumerStats) {
	t.Helper()
	c, cl := startConsumer(t, addrs, cfg)
	sink := &captureSink{}
	errc := make(chan error, 1)
	go func() {
		_, err := core.Run(context.Background(), c, core.Options{TTL: time.Minute, Sink: sink, Checkpoint: c, MaxFuture: -1, Shards: 2, Parsers: 2}, nil)
		errc <- err
	}()
	waitUntil(t, 20*time.Second, fmt.Sprintf("%d records", want), func() bool { return c.Stats().Records >= want })
	c.Stop()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrStopped) {
			t.Fatalf("run: %v, want ErrStopped", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the run did not stop")
	}
	c.Close()
	cl.Close() // leaves the group
	st := c.Stats()
	if st.Records != want {
		t.Errorf("%d records handed out, want %d", st.Records, want)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	return slices.Clone(sink.alerts), st
}

// TestConsumerRestore: a member that keeps state (StateTopic) and stops
// after the first part of the records leaves each partition's snapshot
// and offset; the next member of the group restores them before the
// partitions' first records and goes on from the snapshot's offset, so the
// two runs' alerts are exactly those of one run over all the records: the
// carts left open at the stop fire in the second run, none is alerted
// twice. With the committed offsets moved back to 0 (a commit that failed
// after its snapshot was written), the member still starts from the
// snapshot's offset and reads nothing twice.
func TestConsumerRestore(t *testing.T) {
	f := func(rewind bool) {
		t.Helper()
		const topic = "events"
		parts, vals, want := stateRef(t, topic)
		const split = 36

		addrs := fakeKafka(t, topic, 2)
		produceAt(t, addrs, topic, parts[:split], vals[:split])
		cfg := ConsumerConfig{Topic: topic, Group: "g", IdleTimeout: time.Hour, StateTopic: "g-state",
			CheckpointInterval: 50 * time.Millisecond, ClientOpts: []kgo.Opt{kgo.SeedBrokers(addrs...)}}
		first, st := runConsumer(t, addrs, cfg, split)
		if st.Snapshots == 0 || st.Restored != 0 {
			t.Fatalf("first member: %d snapshots written, %d partitions restored; want some, none", st.Snapshots, st.Restored)
		}
		if rewind {
			cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
			if err != nil {
				t.Fatal(err)
			}
			var os kadm.Offsets
			os.Add(kadm.Offset{Topic: topic, Partition: 0, At: 0})
			os.Add(kadm.Offset{Topic: topic, Partition: 1, At: 0})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = kadm.NewClient(cl).CommitAllOffsets(ctx, "g", os)
			cancel()
			cl.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
		produceAt(t, addrs, topic, parts[split:], vals[split:])
		second, st := runConsumer(t, addrs, cfg, int64(len(vals)-split))
		if st.Restored != 2 {
			t.Errorf("second member restored %d partitions, want 2", st.Restored)
		}
		got := alertKeys(append(first, second...))
		if len(want) == 0 {
			t.Fatal("no alert in the reference run")
		}
		if !slices.Equal(got, want) {
			t.Errorf("rewind %v: alerts of the two members\n%v\nwant those of one run\n%v", rewind, got, want)
		}
	}
	f(false)
	f(true)
}

// engineRun is the engine running over a Consumer, for tests that stop it
// themselves.
type engineRun struct {
	c    *Consumer
	cl   *kgo.Client
	sink *captureSink
	errc chan error
}

func startEngine(t *testing.T, addrs []string, cfg ConsumerConfig) *engineRun {
	t.Helper()
	c, cl := startConsumer(t, addrs, cfg)
	e := &engineRun{c: c, cl: cl, sink: &captureSink{}, errc: make(chan error, 1)}
	go func() {
		_, err := core.Run(context.Background(), c, core.Options{TTL: time.Minute, Sink: e.sink, Checkpoint: c, MaxFuture: -1, Shards: 2, Parsers: 2}, nil)
		e.errc <- err
	}()
	return e
}

// stop stops the run and leaves the group; it returns the run's alerts.
func (e *engineRun) stop(t *testing.T) []core.Alert {
	t.Helper()
	e.c.Stop()
	select {
	case err := <-e.errc:
		if !errors.Is(err, ErrStopped) {
			t.Fatalf("run: %v, want ErrStopped", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the run did not stop")
	}
	e.c.Close()
	e.cl.Close()
	e.sink.mu.Lock()
	defer e.sink.mu.Unlock()
	return slices.Clone(e.sink.alerts)
}

// TestConsumerRestoreOnRebalance: a second member joining the group takes
// one of the first member's two partitions; the first writes its snapshot
// at the revoke's checkpoint and commits, the second restores it, and the
// two members' alerts over all the records are exactly those of one run:
// the moved partition's open carts fire at the second member, none twice.
func TestConsumerRestoreOnRebalance(t *testing.T) {
	const topic = "events"
	parts, vals, want := stateRef(t, topic)
	const split = 36

	addrs := fakeKafka(t, topic, 2)
	produceAt(t, addrs, topic, parts[:split], vals[:split])
	cfg := ConsumerConfig{Topic: topic, Group: "g", IdleTimeout: time.Hour, StateTopic: "g-state",
		CheckpointInterval: time.Hour, ClientOpts: []kgo.Opt{kgo.SeedBrokers(addrs...)}}
	a := startEngine(t, addrs, cfg)
	waitUntil(t, 20*time.Second, "the first member's records", func() bool { return a.c.Stats().Records == split })
	b := startEngine(t, addrs, cfg)
	waitUntil(t, 20*time.Second, "a partition each", func() bool {
		return len(a.c.Stats().Partitions) == 1 && len(b.c.Stats().Partitions) == 1
	})
	produceAt(t, addrs, topic, parts[split:], vals[split:])
	waitUntil(t, 20*time.Second, "every record", func() bool {
		return a.c.Stats().Records+b.c.Stats().Records == int64(len(vals))
	})
	if n := b.c.Stats().Restored; n != 1 {
		t.Errorf("the second member restored %d partitions, want 1", n)
	}
	got := alertKeys(append(a.stop(t), b.stop(t)...))
	if !slices.Equal(got, want) {
		t.Errorf("alerts of the two members\n%v\nwant those of one run\n%v", got, want)
	}
}
