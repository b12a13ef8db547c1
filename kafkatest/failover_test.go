package kafkatest

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFailoverAcksAll needs the 3-node cluster. It creates a topic with
// replication factor 3 and min.insync.replicas=2, keeps producing with
// acks=all, stops the broker leading partition 0 (first with SIGTERM, a
// controlled shutdown; then, after restarting it, with SIGKILL, a crash), and
// checks that production goes on once the leadership has moved, that no
// delivery failed, and that every acknowledged record is consumed exactly once.
func TestFailoverAcksAll(t *testing.T) {
	c := need(t, 3)
	const partitions = 6
	adm := kadm.NewClient(c.client(t))
	minISR := "2"
	topic := createTopic(t, adm, "kafkatest-failover", partitions, 3, map[string]*string{"min.insync.replicas": &minISR})

	p := startProducer(t, c, topic, partitions)
	defer p.stop()
	p.waitAcked(t, 2000, 30*time.Second)

	for _, mode := range []string{"stop", "kill"} {
		leader := leaderOf(t, adm, topic, 0)
		before := p.acked.Load()
		start := time.Now()
		c.ctlRun(t, mode, strconv.Itoa(int(leader)))
		// SIGKILL: the controller notices only when the broker's session
		// times out (broker.session.timeout.ms, 9 s by default).
		waitFor(t, 60*time.Second, "partition leadership to leave broker "+strconv.Itoa(int(leader)), func() error {
			return fullISR(adm, topic, 2, map[int32]int32{0: leader})
		})
		moved, moved0 := p.acked.Load(), p.part0.Load()
		t.Logf("%s broker %d (leader of partition 0): leadership moved after %v to %d; %d records acked meanwhile",
			mode, leader, time.Since(start).Round(time.Millisecond), leaderOf(t, adm, topic, 0), moved-before)
		// Production continues with two of three replicas alive: 2000 more
		// acks, and partition 0 (the one that lost its leader) among them.
		p.waitAcked(t, moved+2000, 60*time.Second)
		waitFor(t, 60*time.Second, "300 more acks on partition 0", func() error {
			if got := p.part0.Load() - moved0; got < 300 {
				return fmt.Errorf("%d acks on partition 0 since its leader moved (%d on all)", got, p.acked.Load()-moved)
			}
			return nil
		})
		p.checkNoErrors(t)
		c.ctlRun(t, "start", strconv.Itoa(int(leader)))
		waitFor(t, 60*time.Second, "broker "+strconv.Itoa(int(leader))+" back in every ISR", func() error {
			return fullISR(adm, topic, 3, nil)
		})
	}
	p.stop()
	p.checkNoErrors(t)
	acked := p.ackedIDs()
	t.Logf("%d records acked with acks=all through two leader failures", len(acked))

	ends := endOffsets(t, adm, topic)
	seen := make(map[uint64]int, len(acked))
	consumeAll(t, c, topic, ends, 60*time.Second, func(r *kgo.Record) {
		seen[binary.BigEndian.Uint64(r.Value)]++
	})
	lost, dup := 0, 0
	for id := range acked {
		switch seen[id] {
		case 0:
			lost++
		case 1:
		default:
			dup++
		}
	}
	if lost != 0 || dup != 0 {
		t.Fatalf("of %d acked records %d were not consumed and %d more than once (%d distinct consumed)", len(acked), lost, dup, len(seen))
	}
	if len(seen) != len(acked) {
		// Every delivery succeeded, so nothing unacknowledged may be in the log.
		t.Fatalf("consumed %d distinct records, %d were acked", len(seen), len(acked))
	}
}

// leaderOf returns the current leader of topic/partition.
func leaderOf(t *testing.T, adm *kadm.Client, topic string, partition int32) int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	pd, ok := md.Topics[topic].Partitions[partition]
	if !ok || pd.Leader < 0 {
		t.Fatalf("%s/%d has no leader: %+v", topic, partition, pd)
	}
	return pd.Leader
}

// producer sends records with sequential ids round-robin over all partitions
// at a bounded rate (so a failover window holds thousands, not millions, of
// records) and remembers which ids were acknowledged.
type producer struct {
	cl     *kgo.Client
	done   chan struct{}
	exited chan struct{}
	once   sync.Once
	acked  atomic.Int64
	part0  atomic.Int64 // acks on partition 0, the one whose leader is stopped

	mu     sync.Mutex
	ids    map[uint64]struct{}
	errs   int
	errOne error
}

func startProducer(t *testing.T, c cluster, topic string, partitions int32) *producer {
	p := &producer{
		cl: c.client(t, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			// Retry through the failover instead of failing records: the
			// default (no delivery timeout) already does; bound it so a
			// broken cluster fails the test rather than hanging it.
			kgo.RecordDeliveryTimeout(45*time.Second)),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
		ids:    make(map[uint64]struct{}),
	}
	go func() {
		defer close(p.exited)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var id uint64
		for {
			select {
			case <-p.done:
				return
			case <-tick.C:
			}
			for range 5 { // about 5,000 records/s
				v := make([]byte, 8)
				binary.BigEndian.PutUint64(v, id)
				p.cl.Produce(context.Background(), &kgo.Record{Partition: int32(id % uint64(partitions)), Value: v}, p.delivered)
				id++
			}
		}
	}()
	return p
}

func (p *producer) delivered(r *kgo.Record, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.errs++
		if p.errOne == nil {
			p.errOne = err
		}
		return
	}
	p.ids[binary.BigEndian.Uint64(r.Value)] = struct{}{}
	p.acked.Add(1)
	if r.Partition == 0 {
		p.part0.Add(1)
	}
}

// stop ends the produce loop and waits for every buffered record's outcome.
func (p *producer) stop() {
	p.once.Do(func() {
		close(p.done)
		<-p.exited
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		_ = p.cl.Flush(ctx) // a timeout shows up as unacked records
	})
}

func (p *producer) waitAcked(t *testing.T, n int64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for p.acked.Load() < n {
		if time.Now().After(deadline) {
			p.mu.Lock()
			errs, e := p.errs, p.errOne
			p.mu.Unlock()
			t.Fatalf("only %d of %d records acked after %v (%d delivery errors, first: %v)", p.acked.Load(), n, timeout, errs, e)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *producer) checkNoErrors(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.errs != 0 {
		t.Fatalf("%d records failed delivery with acks=all, first: %v", p.errs, p.errOne)
	}
}

func (p *producer) ackedIDs() map[uint64]struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ids
}
