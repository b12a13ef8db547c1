package kafkatest

import (
	"encoding/json"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// killPoints picks where the kill tests cut the sample (rows [0,a) before
// the checkpoint, [a,b) processed after it and before the kill), from two
// alerts x and y of want (run's): cart y opens before a and fires after b
// (so it is lost unless the state survives the kill), cart x is open at a
// and fires before b (so its alert is sent before the kill and again by
// the replay from the checkpoint). It fails the test when the sample has
// no such pair.
func killPoints(t *testing.T, want []string) (a, b int) {
	t.Helper()
	type cart struct{ first, at time.Time }
	var cs []cart
	for _, w := range want {
		var m struct {
			First time.Time `json:"first_cart_at"`
			At    time.Time `json:"abandoned_at"`
		}
		if err := json.Unmarshal([]byte(w), &m); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, cart{m.First, m.At})
	}
	const margin = 20 * time.Second // for each partition's own watermark
	_, rows := sample(t)
	for _, x := range cs {
		for _, y := range cs {
			ta := latest(x.first, y.first).Add(margin)
			tb := x.at.Add(margin)
			if ta.Add(margin).After(x.at) || tb.Add(margin).After(y.at) {
				continue
			}
			a = slices.IndexFunc(rows, func(r []string) bool { return rowTime(r) >= ta.Unix() })
			b = slices.IndexFunc(rows, func(r []string) bool { return rowTime(r) >= tb.Unix() })
			if a > 0 && b > a {
				t.Logf("cut at rows %d and %d (%v, %v): cart of %v open, cart of %v fires between", a, b, ta, tb, y.first, x.first)
				return a, b
			}
		}
	}
	t.Fatal("no two carts in the sample to cut between")
	return 0, 0
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// rowTime is a sample row's event time, Unix seconds.
func rowTime(r []string) int64 {
	tm, err := time.Parse("2006-01-02 15:04:05 MST", r[0])
	if err != nil {
		return 0
	}
	return tm.Unix()
}

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
	a, b := killPoints(t, want)
	args := []string{"--topic", topic, "--group", group, "--alerts-topic", alerts, "--ttl", "5m", "--checkpoint-interval", "5s"}

	produceRows(t, c, topic, keys[:a], vals[:a])
	ends := endOffsets(t, adm, topic)
	p := startConsume(t, c, "first consume", args...)
	waitCommitted(t, adm, group, topic, ends, 40*time.Second)
	// More records, processed but (most likely: the next checkpoint is 5 s
	// after the last) not yet checkpointed: then the kill. Cart y of
	// killPoints is open and x has fired since the checkpoint.
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

// TestConsumeExactlyOnceKillRestore: `cartwatch consume --exactly-once`
// killed with SIGKILL after some committed checkpoints, with records
// processed (and alerts produced, uncommitted) since, and started again
// with the same transactional id: the alerts topic read with
// read_committed holds exactly the alerts of `cartwatch run --at-eof
// keep`, none lost and none twice.
func TestConsumeExactlyOnceKillRestore(t *testing.T) {
	c := need(t, 1)
	want := sampleRun(t, "5m")
	adm := kadm.NewClient(c.client(t))
	topic, alerts, group := testNames(t, adm, "eoskill", 3)
	keys, vals := sampleValues(t)
	a, b := killPoints(t, want)
	args := []string{"--topic", topic, "--group", group, "--alerts-topic", alerts, "--ttl", "5m", "--checkpoint-interval", "5s",
		"--exactly-once", "--transactional-id", group + "-member"}

	produceRows(t, c, topic, keys[:a], vals[:a])
	ends := endOffsets(t, adm, topic)
	p := startConsume(t, c, "first consume", args...)
	waitCommitted(t, adm, group, topic, ends, 40*time.Second)
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

	var recs []*kgo.Record
	consumeAll(t, c, alerts, endOffsets(t, adm, alerts), 30*time.Second, func(r *kgo.Record) {
		if !r.Attrs.IsControl() {
			recs = append(recs, r)
		}
	}, kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	got := alertSet(t, recs)
	t.Logf("%d committed alerts read back, %d expected", len(got), len(want))
	sameSet(t, "consume --exactly-once killed and restarted (read_committed)", got, want)
}
