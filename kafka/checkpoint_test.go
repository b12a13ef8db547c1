package kafka

import (
	"context"
	"errors"
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

// These tests are the order of a checkpoint's steps (docs/semantics.md,
// "Snapshots"): the engine goes on while a checkpoint is written, the
// barrier's offsets are committed only once its snapshots are
// acknowledged, one checkpoint is in flight at a time, and a snapshot
// write that fails commits nothing.

// stateProduces watches the produce requests of a kfake cluster to the
// state topic (by name, or by id from Produce v13 on).
type stateProduces struct {
	c    *kfake.Cluster
	name string
	id   [16]byte
}

// newStateProduces makes the state topic of ConsumerConfig cfg (as
// PrepareState would) and returns a watcher of its produce requests.
func newStateProduces(t *testing.T, c *kfake.Cluster, addrs []string, cfg ConsumerConfig) *stateProduces {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	if _, err := EnsureStateTopic(ctx, adm, cfg.StateTopic, 1, 1); err != nil {
		t.Fatal(err)
	}
	td, err := adm.ListTopics(ctx, cfg.StateTopic)
	if err != nil {
		t.Fatal(err)
	}
	return &stateProduces{c: c, name: cfg.StateTopic, id: td[cfg.StateTopic].ID}
}

// control runs fn on each produce request to the state topic; fn's
// results are the control function's (handled false: the cluster takes
// the request as usual).
func (s *stateProduces) control(fn func(req *kmsg.ProduceRequest) (kmsg.Response, error, bool)) {
	s.c.ControlKey(int16(kmsg.Produce), func(r kmsg.Request) (kmsg.Response, error, bool) {
		req := r.(*kmsg.ProduceRequest)
		for _, t := range req.Topics {
			if t.Topic == s.name || t.TopicID == s.id {
				return fn(req)
			}
		}
		return nil, nil, false
	})
}

// runEngine runs the engine over c (started) into sink until the test
// ends; the returned func stops it and waits.
func runEngine(t *testing.T, c *Consumer, sink core.Sink) func() {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := core.Run(context.Background(), c, core.Options{TTL: time.Minute, Sink: sink, Checkpoint: c,
			MaxFuture: -1, Shards: 2, Parsers: 2}, nil)
		errc <- err
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			c.Stop()
			select {
			case err := <-errc:
				if !errors.Is(err, ErrStopped) {
					t.Errorf("run: %v, want ErrStopped", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("the run did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// TestConsumerCommitsAfterSnapshotAck: while a checkpoint's snapshot is
// being written (the state topic's produce held unanswered), the engine
// goes on (an alert due after the barrier is delivered), no second
// checkpoint starts, and nothing is committed; once the write is
// acknowledged, the barrier's offset is committed, and later ones follow.
func TestConsumerCommitsAfterSnapshotAck(t *testing.T) {
	const topic = "events"
	c, addrs := fakeCluster(t, topic, 1)
	cfg := ConsumerConfig{Topic: topic, Group: "g", IdleTimeout: time.Hour, StateTopic: "g-state",
		CheckpointInterval: 20 * time.Millisecond, CommitInterval: 20 * time.Millisecond,
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(addrs...)}}
	sp := newStateProduces(t, c, addrs, cfg)
	var writes atomic.Int32
	held, release := make(chan struct{}), make(chan struct{})
	sp.control(func(*kmsg.ProduceRequest) (kmsg.Response, error, bool) {
		if writes.Add(1) == 1 {
			close(held)
			c.SleepControl(func() { <-release })
		}
		return nil, nil, false
	})
	var released sync.Once
	t.Cleanup(func() { released.Do(func() { close(release) }) })

	t0 := time.Date(2019, 11, 1, 0, 0, 0, 0, time.UTC)
	produceAt(t, addrs, topic, []int32{0}, []string{cartJSON(t0.Format("2006-01-02 15:04:05 UTC"), "cart", 1)})
	cons, _ := startConsumer(t, addrs, cfg)
	sink := &captureSink{}
	stop := runEngine(t, cons, sink)
	select {
	case <-held:
	case <-time.After(20 * time.Second):
		t.Fatal("no snapshot was written")
	}
	// A view an hour later passes the cart's deadline: its alert comes
	// out of the engine while the checkpoint before it is being written.
	produceAt(t, addrs, topic, []int32{0}, []string{cartJSON(t0.Add(time.Hour).Format("2006-01-02 15:04:05 UTC"), "view", 2)})
	waitUntil(t, 20*time.Second, "the alert after the checkpoint's barrier", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return len(sink.alerts) == 1
	})
	time.Sleep(200 * time.Millisecond) // ten checkpoint intervals
	if n := writes.Load(); n != 1 {
		t.Errorf("%d snapshot writes while the first is in flight, want 1", n)
	}
	if off := committed(t, addrs, "g", topic); len(off) != 0 || cons.Stats().Commits != 0 {
		t.Fatalf("committed %v (%d commits) before the snapshot was acknowledged, want nothing", off, cons.Stats().Commits)
	}
	released.Do(func() { close(release) })
	waitUntil(t, 20*time.Second, "the offsets committed", func() bool { return committed(t, addrs, "g", topic)[0] == 2 })
	st := cons.Stats()
	if st.Snapshots < 2 || st.CheckpointUsers != 1 || st.CheckpointWrite <= 0 {
		t.Errorf("stats %+v: want 2 snapshots or more, of 1 user (the view makes none), with a write time", st)
	}
	stop()
}

// TestConsumerSnapshotWriteFails: while the state topic refuses the
// snapshots, no offset is committed (the records are read again after a
// restart, from the last snapshot that was written); once it takes them,
// the next checkpoint, due at the interval with no new record, commits.
func TestConsumerSnapshotWriteFails(t *testing.T) {
	const topic = "events"
	c, addrs := fakeCluster(t, topic, 1)
	cfg := ConsumerConfig{Topic: topic, Group: "g", IdleTimeout: time.Hour, StateTopic: "g-state",
		CheckpointInterval: 20 * time.Millisecond, CommitInterval: 20 * time.Millisecond,
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(addrs...)}}
	sp := newStateProduces(t, c, addrs, cfg)
	var refused atomic.Int32
	var refuse atomic.Bool
	refuse.Store(true)
	sp.control(func(req *kmsg.ProduceRequest) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !refuse.Load() {
			return nil, nil, false
		}
		refused.Add(1)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			t := kmsg.NewProduceResponseTopic()
			t.Topic, t.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				p := kmsg.NewProduceResponseTopicPartition()
				p.Partition, p.ErrorCode = rp.Partition, kerr.TopicAuthorizationFailed.Code
				t.Partitions = append(t.Partitions, p)
			}
			resp.Topics = append(resp.Topics, t)
		}
		return resp, nil, true
	})

	parts, vals := stateRows()
	var ps []int32
	var vs []string
	for i := range parts {
		if parts[i] == 0 {
			ps, vs = append(ps, 0), append(vs, vals[i])
		}
	}
	produceAt(t, addrs, topic, ps, vs)
	cons, _ := startConsumer(t, addrs, cfg)
	stop := runEngine(t, cons, &captureSink{})
	waitUntil(t, 20*time.Second, "every record and two refused snapshot writes", func() bool {
		return cons.Stats().Records == int64(len(vs)) && refused.Load() >= 2
	})
	time.Sleep(100 * time.Millisecond)
	if off, st := committed(t, addrs, "g", topic), cons.Stats(); len(off) != 0 || st.Commits != 0 || st.Snapshots != 0 {
		t.Fatalf("committed %v (%d commits, %d snapshots) while the snapshots were refused, want nothing", off, st.Commits, st.Snapshots)
	}
	refuse.Store(false)
	waitUntil(t, 20*time.Second, "the offsets committed once the snapshots are taken", func() bool {
		return committed(t, addrs, "g", topic)[0] == int64(len(vs))
	})
	stop()
}
