package kafka

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestEnsureTopicLeadersSlow: a topic created whose partitions the broker
// does not take up within the deadline (every ListOffsets answered
// NOT_LEADER_FOR_PARTITION here; a loaded machine in the fault matrix) is
// made, with a warning, not an error: the first writes wait for the
// leaders. Both the outputs' topics (EnsureTopic) and the state topic
// (EnsureStateTopic). Before, `consume` exited 1 at its start.
func TestEnsureTopicLeadersSlow(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.ControlKey(int16(kmsg.ListOffsets), func(r kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := r.(*kmsg.ListOffsetsRequest)
		resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewListOffsetsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewListOffsetsResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.NotLeaderForPartition.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, ensure := range []struct {
		name string
		f    func(context.Context, *kadm.Client, string, int32, int16) (Topic, error)
	}{{"EnsureTopic", EnsureTopic}, {"EnsureStateTopic", EnsureStateTopic}} {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		tp, err := ensure.f(ctx, adm, "t-"+ensure.name, 3, 1)
		cancel()
		if err != nil {
			t.Errorf("%s: %v, want the topic made with a warning", ensure.name, err)
			continue
		}
		if !tp.Created || tp.Partitions != 3 || !strings.Contains(tp.Warning, "not all led yet") {
			t.Errorf("%s: %+v, want created, 3 partitions and a warning that they are not all led yet", ensure.name, tp)
		}
	}
}
