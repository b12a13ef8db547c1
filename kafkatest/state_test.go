package kafkatest

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestConsumeKillRestore: `cartwatch consume` (state kept, the default)
// killed with SIGKILL after some checkpoints, with records processed since
// the last one, and started again gives, with the alerts of the killed
// run, those of `cartwatch run --at-eof keep`: none lost (the open carts
// came back from the snapshots), and an alert sent twice (its records were
// replayed from the last checkpoint) carries the same alert_id both times.
func TestConsumeKillRestore(t *testing.T) {
	c := need(t, 1)
	want := sampleRun(t, "5m")
	adm := kadm.NewClient(c.client(t))
	topic, alerts, group := testNames(t, adm, "killrestore", 3)
	keys, vals := sampleValues(t)
	a, b := len(vals)*2/5, len(vals)*7/10
	args := []string{"--topic", topic, "--group", group, "--alerts-topic", alerts, "--ttl", "5m", "--checkpoint-interval", "2s"}

	produceRows(t, c, topic, keys[:a], vals[:a])
	ends := endOffsets(t, adm, topic)
	p := startConsume(t, c, "first consume", args...)
	waitCommitted(t, adm, group, topic, ends, 40*time.Second)
	// More records, processed but (most likely) not yet checkpointed:
	// then the kill.
	produceRows(t, c, topic, keys[a:b], vals[a:b])
	time.Sleep(500 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	p.done <- nil

	produceRows(t, c, topic, keys[b:], vals[b:])
	ends = endOffsets(t, adm, topic)
	q := startConsume(t, c, "second consume", args...)
	waitCommitted(t, adm, group, topic, ends, 90*time.Second) // the killed member holds its partitions until its session times out
	q.stop(t)
	if !strings.Contains(q.stderr.String(), "restored partition") {
		t.Errorf("the second consume restored no partition")
	}

	recs := readAll(t, c, adm, alerts)
	got := alertSet(t, recs)
	ids := map[string]string{} // alert_id -> the alert
	var distinct []string
	for i, r := range recs {
		var m struct {
			ID string `json:"alert_id"`
		}
		json.Unmarshal(r.Value, &m)
		if m.ID == "" {
			t.Fatalf("alert %s: no alert_id", r.Value)
		}
		if prev, ok := ids[m.ID]; ok {
			if prev != got[i] {
				t.Errorf("alert_id %s on two alerts:\n%s\n%s", m.ID, prev, got[i])
			}
			continue
		}
		ids[m.ID] = got[i]
		distinct = append(distinct, got[i])
	}
	t.Logf("%d alerts read back, %d distinct (%d repeated after the kill), %d expected", len(got), len(distinct), len(got)-len(distinct), len(want))
	sameSet(t, "consume killed and restarted (repeats removed by alert_id)", distinct, want)
}
