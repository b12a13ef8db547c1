package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/dash"
	"github.com/cartwatch/cartwatch/internal/syncbuf"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The tests of `cartwatch consume` that need no real broker: the command
// line, an unreachable broker, and a whole run on franz-go's in-process
// cluster (kfake). kafkatest/ runs it against a real Kafka.

// startConsumeCmd runs `cartwatch consume args` in process until the
// returned stop is called; stop returns the exit code.
func startConsumeCmd(t *testing.T, args ...string) (stderr *syncbuf.Buffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	stderr = &syncbuf.Buffer{}
	var stdout syncbuf.Buffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, append([]string{"consume", "--http", ""}, args...), &stdout, stderr) }()
	var once sync.Once
	var c int
	stop = func() int {
		once.Do(func() {
			cancel(context.Canceled)
			select {
			case c = <-code:
			case <-time.After(15 * time.Second):
				t.Fatalf("consume still runs 15 s after its stop\n%s", stderr)
			}
		})
		return c
	}
	t.Cleanup(func() { stop() })
	return stderr, stop
}

func waitText(t *testing.T, buf *syncbuf.Buffer, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(buf.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %q in:\n%s", d, s, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConsumeFlags: every bad value exits 2 naming its flag, before any
// connection; --help goes to stdout.
func TestConsumeFlags(t *testing.T) {
	bad := []struct {
		want string
		args []string
	}{
		{"--brokers", []string{"--brokers", "nohost"}},
		{"--topic", []string{"--topic", "a b"}},
		{"--alerts-topic", []string{"--alerts-topic", "user-events"}},
		{"--dlq-topic", []string{"--dlq-topic", "cart-abandonment-alerts"}},
		{"--spending-topic", []string{"--spending-topic", "x/y"}},
		{"--group", []string{"--group", ""}},
		{"--replication-factor", []string{"--replication-factor", "0"}},
		{"--clock", []string{"--clock", "cpu"}},
		{"--idle-timeout", []string{"--idle-timeout", "500ms"}},
		{"--commit-interval", []string{"--commit-interval", "0"}},
		{"--checkpoint-interval", []string{"--checkpoint-interval", "1ms"}},
		{"--state-topic", []string{"--state-topic", "a b"}},
		{"--state-topic and --alerts-topic", []string{"--state-topic", "cart-abandonment-alerts"}},
		{"--state-topic and --topic", []string{"--state-topic", "user-events"}},
		{"--exactly-once with --state-topic none", []string{"--exactly-once", "--state-topic", "none"}},
		{"--status-interval", []string{"--status-interval", "-1s"}},
		{"--max-rate", []string{"--max-rate", "-5"}},
		{"--max-rate", []string{"--max-rate", "NaN"}},
		{"--ttl", []string{"--ttl", "0"}},
		{"--ttl", []string{"--ttl", "1.5s"}},
		{"--lateness", []string{"--lateness", "-1s"}},
		{"--shards", []string{"--shards", "100000"}},
		{"--parsers", []string{"--parsers", "-1"}},
		{"--frobnicate", []string{"--frobnicate"}},
		{"--idle-timeout", []string{"--idle-timeout", "ten"}},
		{"unexpected argument", []string{"file.csv"}},
		{"--http", []string{"--http", "localhost"}},
		{"the port is busy", []string{"--http", busyPort(t)}},
		{"--cpuprofile", []string{"--http", "", "--cpuprofile", filepath.Join(t.TempDir(), "no", "such", "dir.prof")}},
	}
	for _, b := range bad {
		code, stdout, stderr := runArgs(append([]string{"consume"}, b.args...)...)
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, b.want) {
			t.Errorf("consume %q: exit %d, stderr %q; want exit 2 naming %s", b.args, code, stderr, b.want)
		}
	}
	state := func(args []string, want string) {
		t.Helper()
		f, err := parseConsumeFlags(args)
		if err != nil {
			t.Fatalf("consume %q: %v", args, err)
		}
		if f.stateTopic != want {
			t.Errorf("consume %q: state topic %q, want %q", args, f.stateTopic, want)
		}
	}
	state(nil, "cartwatch-state")
	state([]string{"--group", "shop"}, "shop-state")
	state([]string{"--state-topic", "st"}, "st")
	state([]string{"--state-topic", "none"}, "")
	if f, err := parseConsumeFlags([]string{"--exactly-once", "--group", "shop"}); err != nil || !strings.HasPrefix(f.txnID, "shop-") {
		t.Errorf("--exactly-once --group shop: transactional id %q (%v), want shop-HOST-PID", f.txnID, err)
	}
	for _, args := range [][]string{{"consume", "--help"}, {"help", "consume"}, {"consume", "-h"}} {
		code, stdout, stderr := runArgs(args...)
		if code != exitOK || !strings.HasPrefix(stdout, "usage: cartwatch consume") || stderr != "" {
			t.Errorf("%q: exit %d, stdout %.40q, stderr %q", args, code, stdout, stderr)
		}
	}
}

// TestConsumeUnreachable: with no broker at the address, consume says so,
// naming it, and retries until it is stopped, then exits 0.
func TestConsumeUnreachable(t *testing.T) {
	stderr, stop := startConsumeCmd(t, "--brokers", "127.0.0.1:1")
	waitText(t, stderr, "retrying in 2s (attempt 2)", 20*time.Second)
	if code := stop(); code != exitOK {
		t.Errorf("exit %d after the stop, want 0\n%s", code, stderr)
	}
	s := stderr.String()
	for _, want := range []string{"no Kafka broker answers at 127.0.0.1:1", "retrying in 1s (attempt 1)", "stopped before a broker was reached"} {
		if !strings.Contains(s, want) {
			t.Errorf("stderr lacks %q:\n%s", want, s)
		}
	}
}

// TestConsumeKfake: a whole run on an in-process cluster: the alert of a
// cart that the watermark passes goes to the alerts topic (keyed by
// user_id, with fired_at and its partition), a malformed message to the
// dead-letter topic with its reason, partition and offset, the offsets
// are committed, and a stop exits 0.
func TestConsumeKfake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "events"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addrs := c.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic("events"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs := []*kgo.Record{
		{Partition: 1, Key: []byte("7"), Value: []byte(`{"event_time":"2019-11-01 00:00:00 UTC","event_type":"cart","product_id":"5","price":"1.50","user_id":"7","user_session":"s7"}`)},
		{Partition: 1, Value: []byte(`{"broken`)},
		{Partition: 1, Key: []byte("8"), Value: []byte(`2019-11-01 00:10:00 UTC,view,1,2,,,3.00,8,s8`)},
		{Partition: 0, Key: []byte("9"), Value: []byte(`{"eventTime":"2019-11-01 00:00:00 UTC","eventType":"cart","productId":6,"price":2,"userId":9}`)},
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	stderr, stop := startConsumeCmd(t, "--brokers", strings.Join(addrs, ","), "--topic", "events", "--group", "g",
		"--ttl", "5m", "--commit-interval", "100ms", "--checkpoint-interval", "100ms")
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(20 * time.Second)
	for {
		os, err := adm.FetchOffsets(ctx, "g")
		if err == nil {
			o0, _ := os.Lookup("events", 0)
			o1, _ := os.Lookup("events", 1)
			if o0.At == 1 && o1.At == 3 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("offsets not committed: %v %v\n%s", os, err, stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("exit %d, want 0\n%s", code, stderr)
	}

	read := func(topic string) []*kgo.Record {
		rd, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic))
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		var out []*kgo.Record
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		defer pcancel()
		for pctx.Err() == nil {
			rd.PollFetches(pctx).EachRecord(func(r *kgo.Record) { out = append(out, r) })
		}
		return out
	}
	alerts := read("cart-abandonment-alerts")
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want 1 (user 7's cart, which user 8's view at 00:10 passes; user 9's partition stays at 00:00)\n%s", len(alerts), stderr)
	}
	var a map[string]any
	if err := json.Unmarshal(alerts[0].Value, &a); err != nil {
		t.Fatal(err)
	}
	if string(alerts[0].Key) != "7" || a["user_id"] != 7.0 || a["abandoned_at"] != "2019-11-01T00:05:00Z" ||
		a["partition"] != 1.0 || a["cart_value_cents"] != 150.0 || a["user_session"] != "s7" {
		t.Errorf("alert %s keyed %q", alerts[0].Value, alerts[0].Key)
	}
	if f, _ := a["fired_at"].(string); len(f) != len("2006-01-02T15:04:05.000Z") {
		t.Errorf("fired_at %q, want RFC 3339 UTC with milliseconds", a["fired_at"])
	}
	dlq := read("events.dlq")
	if len(dlq) != 1 || string(dlq[0].Value) != `{"broken` {
		t.Fatalf("dead-letter topic: %d records, want the broken one\n%s", len(dlq), stderr)
	}
	h := map[string]string{}
	for _, x := range dlq[0].Headers {
		h[x.Key] = string(x.Value)
	}
	if h["partition"] != "1" || h["offset"] != "1" || h["topic"] != "events" || h["reason"] == "" {
		t.Errorf("dead letter headers %v", h)
	}
	for _, want := range []string{"assigned events partitions 0-1", "partition 1 offset 1: malformed message", "stopped in"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	// The state topic is made at the start, before the member joins the
	// group, not at its first assignment.
	if made, joined := strings.Index(stderr.String(), "created state topic g-state"), strings.Index(stderr.String(), "assigned events"); made < 0 || made > joined {
		t.Errorf("the state topic is not created before the first assignment:\n%s", stderr)
	}
}

// TestConsumeBrokerGone: when the brokers go away under a running consume,
// it says so and retries; a stop still ends it within 10 s.
func TestConsumeBrokerGone(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "events"))
	if err != nil {
		t.Fatal(err)
	}
	addrs := c.ListenAddrs()
	stderr, stop := startConsumeCmd(t, "--brokers", strings.Join(addrs, ","), "--topic", "events", "--group", "g")
	waitText(t, stderr, "assigned events partitions 0-1", 20*time.Second)
	c.Close()
	waitText(t, stderr, "cannot reach Kafka broker "+addrs[0], 20*time.Second)
	start := time.Now()
	code := stop()
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("stopped in %v, want at most 10 s", took)
	}
	t.Logf("exit %d in %v\n%s", code, time.Since(start), stderr)
}

// TestConsumeHelpMatchesREADME: README.md's table of the flags of
// cartwatch consume is the help's list, flag by flag.
func TestConsumeHelpMatchesREADME(t *testing.T) {
	fs := newConsumeFlagSet(&consumeFlags{})
	_, section := checkREADMEFlags(t, "### cartwatch consume", "\n#", fs, groupFlags(fs, consumeFlagGroups), consumeFlagTitle)
	for _, s := range []string{"0 stopped", "1 failed", "2 bad command line"} {
		if !strings.Contains(section, s) {
			t.Errorf("README's cartwatch consume section does not give the exit code %q", s)
		}
	}
}

// TestConsumeDashboard: consume --http serves the dashboard at / with the
// engine's figures (dash.LiveSource): the carts, a category, the latest
// alert, the Kafka group; when consume stops, a viewer gets the stopped
// event with the phase "stopped".
func TestConsumeDashboard(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "events"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addrs := c.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic("events"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// User 7's cart of electronics falls due when user 8's view at 00:10
	// passes its deadline.
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Key: []byte("7"), Value: []byte(`2019-11-01 00:00:00 UTC,cart,5,2,electronics.phone,,1.50,7,s7`)},
		&kgo.Record{Key: []byte("8"), Value: []byte(`2019-11-01 00:10:00 UTC,view,1,2,,,3.00,8,s8`)},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	stderr, stop := startConsumeCmd(t, "--brokers", strings.Join(addrs, ","), "--topic", "events", "--group", "g",
		"--ttl", "5m", "--http", "127.0.0.1:0")
	re := regexp.MustCompile(`dashboard: http://([^/\s]+)/`)
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == ""; time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("consume did not log its dashboard's address:\n%s", stderr)
		}
	}
	var f dash.Figures
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		getJSON(t, "http://"+addr+"/figures.json", &f)
		if f.Carts != nil && f.Carts.Abandoned == 1 && len(f.LatestAlerts) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no abandoned cart on the page: %+v\n%s", f, stderr)
		}
	}
	if f.Phase != "consuming events" || f.Title != "cartwatch consume: events" || f.Kafka == nil || len(f.Kafka.Partitions) != 1 ||
		len(f.Categories) != 1 || f.Categories[0] != (dash.Category{Name: "electronics", Items: 1, ValueCents: 150}) ||
		f.LatestAlerts[0].UserID != 7 || f.KPIs == nil || f.KPIs.AbandonedValueCents != 150 || f.Engine.EventsConsumed != 2 {
		t.Errorf("the page's figures: %+v (kafka %+v, categories %+v, alerts %+v, kpis %+v)", f, f.Kafka, f.Categories, f.LatestAlerts, f.KPIs)
	}
	ev, err := http.Get("http://" + addr + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Body.Close()
	if code := stop(); code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if last := lastEvent(t, ev.Body); !last.Stopped || last.Phase != "stopped" || last.Carts == nil || last.Carts.Abandoned != 1 {
		t.Errorf("the last event: stopped %v, phase %q, carts %+v", last.Stopped, last.Phase, last.Carts)
	}
}
