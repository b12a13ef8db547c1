package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// cluster is the broker set test.sh started.
type cluster struct {
	brokers []string
	nodes   int
	ctl     string // deploy/kafka/kafka.sh
}

// need returns the cluster when it has at least minNodes brokers. A missing
// cluster skips the test with the reason, or fails it under CI=true; a cluster
// that is too small skips, because test.sh runs the 1-node and the 3-node
// phases one after the other and each phase runs every test.
func need(t *testing.T, minNodes int) cluster {
	t.Helper()
	c, reason := fromEnv()
	if reason != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no Kafka: %s", reason)
		}
		t.Skip(reason)
	}
	if c.nodes < minNodes {
		t.Skipf("needs a %d-node cluster, this run has %d (CARTWATCH_KAFKA_NODES); deploy/kafka/test.sh runs it in the 3-node phase", minNodes, c.nodes)
	}
	return c
}

func fromEnv() (cluster, string) {
	var missing []string
	for _, tool := range []string{"java", "mvn"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	b := os.Getenv("CARTWATCH_KAFKA_BROKERS")
	if b == "" {
		reason := "CARTWATCH_KAFKA_BROKERS is not set: run make test-kafka (deploy/kafka/test.sh starts the brokers and sets it)"
		if len(missing) > 0 {
			reason = strings.Join(missing, " and ") + " not on PATH (deploy/kafka needs Java 17+ and Maven); " + reason
		}
		return cluster{}, reason
	}
	n, err := strconv.Atoi(os.Getenv("CARTWATCH_KAFKA_NODES"))
	if err != nil || n < 1 {
		return cluster{}, fmt.Sprintf("CARTWATCH_KAFKA_NODES=%q is not a broker count", os.Getenv("CARTWATCH_KAFKA_NODES"))
	}
	return cluster{brokers: strings.Split(b, ","), nodes: n, ctl: os.Getenv("CARTWATCH_KAFKA_CTL")}, ""
}

// client returns a kgo client on the cluster, closed when the test ends.
func (c cluster) client(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.brokers...)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient(%v): %v", c.brokers, err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// ctlRun runs kafka.sh with args ("stop 2"), failing the test on error.
func (c cluster) ctlRun(t *testing.T, args ...string) {
	t.Helper()
	if c.ctl == "" {
		t.Fatalf("CARTWATCH_KAFKA_CTL is not set: cannot run kafka.sh %s", strings.Join(args, " "))
	}
	start := time.Now()
	out, err := exec.Command(c.ctl, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", c.ctl, strings.Join(args, " "), err, out)
	}
	t.Logf("kafka.sh %s: %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
}

// createTopic creates a uniquely named topic (tests can rerun on one cluster)
// and deletes it when the test ends.
func createTopic(t *testing.T, adm *kadm.Client, prefix string, partitions int32, rf int16, configs map[string]*string) string {
	t.Helper()
	var suffix [4]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		t.Fatal(err)
	}
	topic := prefix + "-" + hex.EncodeToString(suffix[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, partitions, rf, configs, topic); err != nil {
		t.Fatalf("create topic %s (%d partitions, RF %d): %v", topic, partitions, rf, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopic(ctx, topic); err != nil {
			t.Logf("delete topic %s: %v", topic, err)
		}
	})
	waitFor(t, 30*time.Second, "every partition of "+topic+" has a leader and a full ISR", func() error {
		return fullISR(adm, topic, int(rf), nil)
	})
	return topic
}

// fullISR reports an error unless every partition of topic has a leader
// (other than the excluded broker) and want in-sync replicas.
func fullISR(adm *kadm.Client, topic string, want int, notLeader map[int32]int32) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return err
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil || len(td.Partitions) == 0 {
		return fmt.Errorf("topic %s not loaded: %v", topic, td.Err)
	}
	for _, p := range td.Partitions.Sorted() {
		if p.Err != nil {
			return fmt.Errorf("partition %d: %w", p.Partition, p.Err)
		}
		if p.Leader < 0 {
			return fmt.Errorf("partition %d has no leader", p.Partition)
		}
		if old, ok := notLeader[p.Partition]; ok && p.Leader == old {
			return fmt.Errorf("partition %d is still led by broker %d", p.Partition, old)
		}
		if len(p.ISR) < want {
			return fmt.Errorf("partition %d ISR %v, want %d replicas", p.Partition, p.ISR, want)
		}
	}
	return nil
}

// waitFor polls cond until it returns nil, failing the test with the last
// error after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s: %v", timeout, what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// endOffsets returns the high watermark of every partition of topic.
func endOffsets(t *testing.T, adm *kadm.Client, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	lo, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = lo.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets of %s: %v", topic, err)
	}
	out := make(map[int32]int64)
	lo.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// consumeAll reads topic from the start until every partition reaches the
// given end offset, calling fn for each record. Extra options (a consumer
// group) are passed to the client.
func consumeAll(t *testing.T, c cluster, topic string, ends map[int32]int64, timeout time.Duration, fn func(*kgo.Record), opts ...kgo.Opt) {
	t.Helper()
	cl := c.client(t, append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	remaining := 0
	for _, e := range ends {
		if e > 0 {
			remaining++
		}
	}
	for remaining > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consuming %s: %d partition(s) not read to their end offsets %v after %v", topic, remaining, ends, timeout)
		}
		fs.EachError(func(tp string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("fetch %s/%d: %v", tp, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			fn(r)
			if r.Offset+1 == ends[r.Partition] {
				remaining--
			}
		})
	}
}
