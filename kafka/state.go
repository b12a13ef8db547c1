package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// This file is the state topic of `cartwatch consume` (docs/semantics.md,
// "Kafka: cartwatch consume" and "Snapshots"): a compacted topic with the
// input's partition count where partition P holds partition P's snapshots
// (core.EncodeSnapshot), keyed by "P", the last one the state to restore.
// The Consumer writes one per owned partition at each checkpoint barrier,
// on its checkpoint goroutine (consume.go), acknowledged before the
// barrier's offsets are committed, and reads the
// last one of each partition it is assigned before the partition's first
// record.

// DefaultCheckpointInterval is how often a Consumer that keeps state
// writes its partitions' snapshots (and commits their offsets). The engine
// waits only for the shards' flat copy of their records (core's
// BenchmarkSnapshotGather op=shard); the sort, merge, encoding and write
// run on the Consumer's checkpoint goroutine.
const DefaultCheckpointInterval = 10 * time.Second

// MaxSnapshotBytes bounds one snapshot record (compressed, zstd): the
// state topic's max.message.bytes, the state producer's batch size and
// the state reader's fetch size. 64 MiB holds a partition of several
// million users (a user is about 10 bytes, an open cart about 30, before
// compression).
const MaxSnapshotBytes = 64 << 20

// StateTopic is the default state topic of group: "<group>-state".
func StateTopic(group string) string { return group + "-state" }

// stateTopicConfigs are the configs a state topic is created with: only the
// last snapshot of each partition is needed (compact), none expires, and a
// snapshot fits in one record.
func stateTopicConfigs() map[string]*string {
	compact, forever, size := "compact", "-1", strconv.Itoa(MaxSnapshotBytes)
	return map[string]*string{"cleanup.policy": &compact, "retention.ms": &forever, "max.message.bytes": &size}
}

// EnsureStateTopic creates the state topic with partitions (the input's
// count), replication factor rf and stateTopicConfigs when it does not
// exist, and checks that one that exists has at least that many
// partitions: partition P's snapshots are in its partition P.
func EnsureStateTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32, rf int16) (Topic, error) {
	t := Topic{Name: topic}
	resp, err := adm.CreateTopic(ctx, partitions, rf, stateTopicConfigs(), topic)
	switch {
	case err == nil:
		t.Created = true
		t.Partitions, t.Warning = createdLeaders(ctx, adm, topic, partitions)
		return t, nil
	case errors.Is(err, kerr.TopicAlreadyExists):
	default:
		if n, lerr := partitionsOf(ctx, adm, topic); lerr == nil {
			t.Partitions = n
			break
		}
		return t, fmt.Errorf("create state topic %s (%d partitions, replication factor %d): %w %s", topic, partitions, rf, err, resp.ErrMessage)
	}
	if t.Partitions == 0 {
		if t.Partitions, err = partitionsOf(ctx, adm, topic); err != nil {
			return t, err
		}
	}
	if t.Partitions < int(partitions) {
		return t, fmt.Errorf("state topic %s has %d partitions, fewer than the input's %d: "+
			"give the group a new one (--state-topic) or add partitions to it", topic, t.Partitions, partitions)
	}
	return t, nil
}

// stateProducerOpts are the options of the client that writes snapshots:
// each to the partition of its input partition, zstd, one record per
// batch up to MaxSnapshotBytes.
func stateProducerOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.ZstdCompression()),
		kgo.ProducerBatchMaxBytes(MaxSnapshotBytes),
		kgo.MaxBufferedBytes(4 * MaxSnapshotBytes),
	}
}

// stateKey is partition p's key in the state topic.
func stateKey(p int32) []byte { return strconv.AppendInt(nil, int64(p), 10) }

// readState returns the last snapshot of each partition of parts in the
// state topic (its partition p, the last record keyed p): it reads each
// from its start offset to the end offset it has now. With committed
// (read_committed) the end is the last stable offset and the snapshots of
// aborted transactions are skipped; control records are kept so the
// reader sees the offset of a transaction's last marker. A partition with
// no snapshot is not in the map.
func readState(ctx context.Context, opts []kgo.Opt, topic string, parts []int32, committed bool) (map[int32][]byte, error) {
	ropts := append(slices.Clone(opts), kgo.FetchMaxPartitionBytes(MaxSnapshotBytes), kgo.FetchMaxBytes(MaxSnapshotBytes),
		kgo.KeepControlRecords())
	if committed {
		ropts = append(ropts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(ropts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var ends kadm.ListedOffsets
	if committed {
		ends, err = adm.ListCommittedOffsets(ctx, topic)
	} else {
		ends, err = adm.ListEndOffsets(ctx, topic)
	}
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("end offsets of state topic %s: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("start offsets of state topic %s: %w", topic, err)
	}
	want, end := map[int32]kgo.Offset{}, map[int32]int64{}
	for _, p := range parts {
		e, ok := ends.Lookup(topic, p)
		if !ok {
			return nil, fmt.Errorf("state topic %s has no partition %d", topic, p)
		}
		s, _ := starts.Lookup(topic, p)
		if e.Offset > s.Offset {
			want[p], end[p] = kgo.NewOffset().At(s.Offset), e.Offset
		}
	}
	out := map[int32][]byte{}
	if len(want) == 0 {
		return out, nil
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: want})
	for len(end) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("reading state topic %s: %w (partitions %v not read to their end)", topic, err, slices.Sorted(maps.Keys(end)))
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("reading state topic %s partition %d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			e, ok := end[r.Partition]
			if !ok {
				return
			}
			if !r.Attrs.IsControl() && string(r.Key) == string(stateKey(r.Partition)) {
				out[r.Partition] = r.Value
			}
			if r.Offset+1 >= e {
				delete(end, r.Partition)
			}
		})
	}
	return out, nil
}
