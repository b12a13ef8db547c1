package kafkatest

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKeyedExactlyOnceInOrder produces 100,000 keyed records to a
// 12-partition topic and consumes them in a consumer group: every record must
// arrive exactly once, each key on one partition, each key's records in the
// order they were produced. It runs on whatever cluster test.sh started
// (1 node: RF 1; 3 nodes: RF 3).
func TestKeyedExactlyOnceInOrder(t *testing.T) {
	c := need(t, 1)
	const (
		records    = 100_000
		keys       = 997 // prime, so keys do not line up with the 12 partitions
		partitions = 12
	)
	rf := int16(min(c.nodes, 3))
	adm := kadm.NewClient(c.client(t))
	topic := createTopic(t, adm, "kafkatest-keyed", partitions, rf, nil)

	// Value: key index and that key's sequence number, 8 bytes each. The
	// default partitioner hashes the key (murmur2, as the Java client does),
	// and the idempotent producer (franz-go's default) keeps per-partition
	// order across retries, which is what gives per-key order.
	prod := c.client(t, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	var (
		mu         sync.Mutex
		produceErr error
		keyPart    = make(map[uint64]int32, keys)
		wg         sync.WaitGroup
	)
	seq := make([]uint64, keys)
	start := time.Now()
	for i := range records {
		k := uint64(i*7919) % keys // spread consecutive records over many keys
		v := make([]byte, 16)
		binary.BigEndian.PutUint64(v, k)
		binary.BigEndian.PutUint64(v[8:], seq[k])
		seq[k]++
		wg.Add(1)
		prod.Produce(context.Background(), &kgo.Record{Key: fmt.Appendf(nil, "user-%d", k), Value: v},
			func(r *kgo.Record, err error) {
				defer wg.Done()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if produceErr == nil {
						produceErr = err
					}
					return
				}
				k := binary.BigEndian.Uint64(r.Value)
				if p, ok := keyPart[k]; ok && p != r.Partition {
					if produceErr == nil {
						produceErr = fmt.Errorf("key %d produced to partitions %d and %d", k, p, r.Partition)
					}
				}
				keyPart[k] = r.Partition
			})
	}
	wg.Wait()
	if produceErr != nil {
		t.Fatalf("produce: %v", produceErr)
	}
	t.Logf("produced %d records (%d keys) to %s in %v", records, keys, topic, time.Since(start).Round(time.Millisecond))

	ends := endOffsets(t, adm, topic)
	var total int64
	for _, e := range ends {
		total += e
	}
	if len(ends) != partitions || total != records {
		t.Fatalf("end offsets %v: %d partitions holding %d records, want %d holding %d", ends, len(ends), total, partitions, records)
	}

	start = time.Now()
	next := make([]uint64, keys) // next expected sequence number per key
	got, bad := 0, 0
	consumeAll(t, c, topic, ends, 90*time.Second, func(r *kgo.Record) {
		got++
		if len(r.Value) != 16 {
			bad++
			t.Errorf("%s/%d@%d: value of %d bytes, want 16", r.Topic, r.Partition, r.Offset, len(r.Value))
			return
		}
		k, s := binary.BigEndian.Uint64(r.Value), binary.BigEndian.Uint64(r.Value[8:])
		if string(r.Key) != fmt.Sprintf("user-%d", k) || k >= keys {
			bad++
			t.Errorf("%s/%d@%d: key %q does not match value key %d", r.Topic, r.Partition, r.Offset, r.Key, k)
			return
		}
		if p := keyPart[k]; p != r.Partition {
			t.Errorf("key %d read from partition %d, produced to %d", k, r.Partition, p)
		}
		if s != next[k] {
			// Lower: a duplicate; higher: a gap or reordering.
			bad++
			if bad <= 10 {
				t.Errorf("key %d: got sequence %d at %d/%d, want %d", k, s, r.Partition, r.Offset, next[k])
			}
			return
		}
		next[k]++
	}, kgo.ConsumerGroup(topic+"-group"))
	t.Logf("consumed %d records in a consumer group in %v", got, time.Since(start).Round(time.Millisecond))

	if got != records || bad != 0 {
		t.Fatalf("consumed %d records (%d out of order, duplicated or malformed), want %d exactly once", got, bad, records)
	}
	for k := range next {
		if next[k] != seq[k] {
			t.Fatalf("key %d: consumed %d records, produced %d", k, next[k], seq[k])
		}
	}
}
