package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Topic is what EnsureTopic found or made.
type Topic struct {
	Name       string
	Partitions int
	// Created is true when EnsureTopic created the topic (with
	// retention.ms=-1), false when it existed.
	Created bool
	// Warning, when not empty, is a sentence for the user: the existing
	// topic has a time retention that deletes 2019 events within minutes,
	// or the created topic's partitions were not all led in time.
	Warning string
}

// EnsureTopic creates topic with partitions and replication factor rf and
// retention.ms=-1 when it does not exist, and waits until every partition
// has a leader. For a topic that exists it reads retention.ms and sets
// Topic.Warning when it is not -1 (the package doc says why). Each request
// is bounded by ctx.
func EnsureTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32, rf int16) (Topic, error) {
	t := Topic{Name: topic}
	// Create first, look second: the admin client caches metadata for 5 s
	// (kgo.MetadataMinAge), and a look before the creation would cache
	// "no such topic" and make the wait for leaders below last that long.
	forever := "-1"
	resp, err := adm.CreateTopic(ctx, partitions, rf, map[string]*string{"retention.ms": &forever}, topic)
	switch {
	case err == nil:
		t.Created = true
		t.Partitions, t.Warning = createdLeaders(ctx, adm, topic, partitions)
		return t, nil
	case errors.Is(err, kerr.TopicAlreadyExists):
	default:
		// Not allowed to create topics (ACLs) is fine for one that exists.
		if n, lerr := partitionsOf(ctx, adm, topic); lerr == nil {
			t.Partitions = n
			break
		}
		if resp.ErrMessage != "" {
			return t, fmt.Errorf("create topic %s (%d partitions, replication factor %d): %w: %s", topic, partitions, rf, err, resp.ErrMessage)
		}
		return t, fmt.Errorf("create topic %s (%d partitions, replication factor %d): %w", topic, partitions, rf, err)
	}
	if t.Partitions == 0 {
		if t.Partitions, err = partitionsOf(ctx, adm, topic); err != nil {
			return t, err
		}
	}
	t.Warning, err = retentionWarning(ctx, adm, topic)
	return t, err
}

// partitionsOf returns the partition count of topic, or an error wrapping
// kerr.UnknownTopicOrPartition when it does not exist.
func partitionsOf(ctx context.Context, adm *kadm.Client, topic string) (int, error) {
	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("topic %s: metadata: %w", topic, err)
	}
	td, ok := tds[topic]
	if !ok {
		return 0, fmt.Errorf("topic %s: %w", topic, kerr.UnknownTopicOrPartition)
	}
	if td.Err != nil {
		return 0, fmt.Errorf("topic %s: %w", topic, td.Err)
	}
	return len(td.Partitions), nil
}

// waitLeaders polls a topic just created until the leader of every
// partition answers for it (a ListOffsets request, which only the leader
// serves). The metadata says who leads as soon as the controller decides;
// the broker takes the partition up a little later, and records sent
// before get NOT_LEADER_FOR_PARTITION and wait for a metadata refresh.
func waitLeaders(ctx context.Context, adm *kadm.Client, topic string) (int, error) {
	for {
		lo, err := adm.ListEndOffsets(ctx, topic)
		n := 0
		if err == nil {
			lo.Each(func(o kadm.ListedOffset) {
				n++
				if o.Err != nil && err == nil {
					err = o.Err
				}
			})
			if err == nil && n == 0 {
				err = kerr.UnknownTopicOrPartition
			}
		}
		if err == nil {
			return n, nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("topic %s created, but its partitions are not all led yet: %v (%w)", topic, err, context.Cause(ctx))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// createdLeaders waits (waitLeaders) for the leaders of a topic just made
// with partitions partitions. A wait that outlasts ctx is a warning, not
// an error: the topic is there, and the first writes to a partition not
// led yet wait for it (the producer retries NOT_LEADER_FOR_PARTITION).
// A broker slow to take new partitions up (a loaded machine: the fault
// matrix's members on 2 shared cores) made `consume` exit 1 at its start.
func createdLeaders(ctx context.Context, adm *kadm.Client, topic string, partitions int32) (int, string) {
	n, err := waitLeaders(ctx, adm, topic)
	if err != nil {
		return int(partitions), fmt.Sprintf("%v; going on: the first writes wait for the leaders", err)
	}
	return n, ""
}

// retentionWarning reads topic's retention.ms and returns a warning unless
// it is -1.
func retentionWarning(ctx context.Context, adm *kadm.Client, topic string) (string, error) {
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return "", fmt.Errorf("topic %s: read its config: %w", topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return "", fmt.Errorf("topic %s: read its config: %w", topic, err)
	}
	for _, c := range rc.Configs {
		if c.Key != "retention.ms" || c.Value == nil {
			continue
		}
		ms, err := strconv.ParseInt(*c.Value, 10, 64)
		if err != nil || ms < 0 {
			return "", nil
		}
		return fmt.Sprintf("topic %s deletes records %v after their timestamp (retention.ms=%d), and these carry their event times: "+
			"events from 2019 are deleted at the broker's next retention check, within minutes. Set retention.ms=-1: "+
			"kafka-configs.sh --bootstrap-server BROKER --alter --entity-type topics --entity-name %s --add-config retention.ms=-1",
			topic, retentionText(ms), ms, topic), nil
	}
	return "", nil
}

// retentionText is ms as "7 days", "12 hours" or a Duration.
func retentionText(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + " days"
	case d >= 2*time.Hour && d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + " hours"
	}
	return d.String()
}
