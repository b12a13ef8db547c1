package kafkatest

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/format"
	"github.com/cartwatch/cartwatch/internal/testrows"
	"github.com/cartwatch/cartwatch/kafka"
	"github.com/cartwatch/cartwatch/loadgen"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The tests of cartwatch produce and loadgen kafka: the binaries, built
// once per test run, against the cluster test.sh started.

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// TestMain removes the binaries bin built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// bin returns the path of the command name (cartwatch or loadgen), built
// from this tree.
func bin(t *testing.T, name string) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "kafkatest-bin")
		if binErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+string(os.PathSeparator), "./cmd/cartwatch", "./cmd/loadgen")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, name)
}

// run runs a built command with a deadline and returns its exit code,
// stdout and stderr.
func run(t *testing.T, timeout time.Duration, name string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin(t, name), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: still running after %v\nstderr:\n%s", name, strings.Join(args, " "), timeout, errb.String())
	}
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("%s: %v", name, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// topicName returns a fresh topic name and deletes the topic when the test
// ends (the command under test creates it).
func topicName(t *testing.T, adm *kadm.Client, prefix string) string {
	t.Helper()
	topic := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopic(ctx, topic); err != nil {
			t.Logf("delete topic %s: %v", topic, err)
		}
	})
	return topic
}

// want is one valid row of an input: its event and its text.
type want struct {
	ev   event.Event
	text [4]string // event_type, category_code, brand, user_session as read
}

// validRows parses data the way cartwatch run does (format.Parser, the
// header line skipped) and returns its valid rows in order and the number
// of malformed ones.
func validRows(t *testing.T, data []byte) ([]want, int) {
	t.Helper()
	p := format.Parser{MaxTime: time.Now().Add(24 * time.Hour).Unix()}
	var sp kafka.Splitter
	var rows []want
	bad := 0
	it := format.Lines(data)
	for it.Next() {
		line := it.Line()
		if it.Index() == 0 && bytes.HasPrefix(line, []byte("event_time,")) {
			continue
		}
		var w want
		if p.ParseRow(line, &w.ev, true) != format.ReasonOK {
			bad++
			continue
		}
		var tx kafka.Text
		if !sp.Split(line, nil, &tx) {
			t.Fatalf("valid row %q does not split", line)
		}
		w.text = [4]string{string(tx.EventType), string(tx.CategoryCode), string(tx.Brand), string(tx.Session)}
		rows = append(rows, w)
	}
	return rows, bad
}

// decodeValue reads a record value back with tools that are not the
// encoder's: encoding/json (numbers as their text) and the row parser.
func decodeValue(t *testing.T, f string, v []byte) want {
	t.Helper()
	var w want
	if f == "csv" {
		if r := format.ParseRow(v, &w.ev, true); r != format.ReasonOK {
			t.Fatalf("CSV value %q: %v", v, r)
		}
		var sp kafka.Splitter
		var tx kafka.Text
		sp.Split(v, nil, &tx)
		w.text = [4]string{string(tx.EventType), string(tx.CategoryCode), string(tx.Brand), string(tx.Session)}
		return w
	}
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	d.DisallowUnknownFields()
	var j struct {
		EventTime    string      `json:"event_time"`
		EventType    string      `json:"event_type"`
		ProductID    json.Number `json:"product_id"`
		CategoryID   json.Number `json:"category_id"`
		CategoryCode string      `json:"category_code"`
		Brand        string      `json:"brand"`
		Price        json.Number `json:"price"`
		UserID       json.Number `json:"user_id"`
		UserSession  string      `json:"user_session"`
	}
	if err := d.Decode(&j); err != nil {
		t.Fatalf("JSON value %q: %v", v, err)
	}
	if i := strings.IndexByte(j.Price.String(), '.'); i < 0 || len(j.Price)-i != 3 {
		t.Fatalf("JSON value %q: price %s has not two decimals", v, j.Price)
	}
	q := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	row := strings.Join([]string{j.EventTime, q(j.EventType), j.ProductID.String(), j.CategoryID.String(), q(j.CategoryCode),
		q(j.Brand), j.Price.String(), j.UserID.String(), q(j.UserSession)}, ",")
	if r := format.ParseRow([]byte(row), &w.ev, true); r != format.ReasonOK {
		t.Fatalf("JSON value %q as a row %q: %v", v, row, r)
	}
	w.text = [4]string{j.EventType, j.CategoryCode, j.Brand, j.UserSession}
	return w
}

// checkTopic reads topic from the start and checks it against rows: every
// row exactly once, keyed by its user_id, with its event time as
// timestamp, each user's rows in input order in one partition.
func checkTopic(t *testing.T, c cluster, adm *kadm.Client, topic, valueFormat string, rows []want) {
	t.Helper()
	byUser := map[uint64][]want{}
	for _, w := range rows {
		byUser[w.ev.UserID] = append(byUser[w.ev.UserID], w)
	}
	next := map[uint64]int{} // the next row of each user to read
	userPart := map[uint64]int32{}
	got, bad := 0, 0
	fail := func(format string, a ...any) {
		bad++
		if bad <= 10 {
			t.Errorf(format, a...)
		}
	}
	ends := endOffsets(t, adm, topic)
	consumeAll(t, c, topic, ends, 60*time.Second, func(r *kgo.Record) {
		got++
		w := decodeValue(t, valueFormat, r.Value)
		uid := w.ev.UserID
		if string(r.Key) != strconv.FormatUint(uid, 10) {
			fail("%s/%d@%d: key %q, user_id %d", topic, r.Partition, r.Offset, r.Key, uid)
		}
		if ms := r.Timestamp.UnixMilli(); ms != w.ev.Time*1000 {
			fail("%s/%d@%d: timestamp %v, event time %v", topic, r.Partition, r.Offset, r.Timestamp.UTC(), time.Unix(w.ev.Time, 0).UTC())
		}
		if p, ok := userPart[uid]; ok && p != r.Partition {
			fail("user %d in partitions %d and %d", uid, p, r.Partition)
		}
		userPart[uid] = r.Partition
		k := next[uid]
		if k >= len(byUser[uid]) {
			fail("%s/%d@%d: user %d has %d rows, this is one more", topic, r.Partition, r.Offset, uid, len(byUser[uid]))
			return
		}
		if exp := byUser[uid][k]; w != exp {
			fail("%s/%d@%d: user %d's row %d is\n%+v, want\n%+v", topic, r.Partition, r.Offset, uid, k, w, exp)
		}
		next[uid]++
	})
	if got != len(rows) || bad != 0 {
		t.Fatalf("%s: read %d records (%d wrong), want the %d valid rows exactly once", topic, got, bad, len(rows))
	}
}

// TestProduceSample: cartwatch produce of the real sample into a new
// 3-partition topic, in JSON (with three malformed rows added, which are
// skipped), in CSV, and from a copy whose header puts the columns in
// another order (with one more, every field quoted): every valid row
// arrives exactly once, keyed by user_id, in file order per user in one
// partition, decoding to the same event and text, timestamped with its
// event time; the topics have retention.ms=-1.
func TestProduceSample(t *testing.T) {
	c := need(t, 1)
	sample, err := os.ReadFile(testrows.SamplePath)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("real sample missing under CI: %v", err)
		}
		t.Skipf("real sample not available: %v", err)
	}
	// Three malformed rows in the middle: a year in the future, a price
	// with three decimals, a missing field.
	lines := bytes.SplitAfter(sample, []byte("\n"))
	mid := len(lines) / 2
	var poisoned []byte
	for i, l := range lines {
		if i == mid {
			poisoned = append(poisoned, "9999-01-01 00:00:00 UTC,view,1,2,a,b,5.10,7,s\n"+
				"2019-11-01 00:00:00 UTC,cart,1,2,a,b,5.101,7,s\n2019-11-01 00:00:00 UTC,cart,1,2,a,b,5.10,7\n"...)
		}
		poisoned = append(poisoned, l...)
	}
	in := filepath.Join(t.TempDir(), "poisoned.csv")
	if err := os.WriteFile(in, poisoned, 0o644); err != nil {
		t.Fatal(err)
	}
	// The sample with its columns in another order, one more column, and
	// every field quoted: the header maps them by name.
	moved := filepath.Join(t.TempDir(), "moved.csv")
	{
		recs, err := csv.NewReader(bytes.NewReader(sample)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		order := []int{7, 6, 0, -1, 1, 2, 8, 5, 3, 4} // user_id, price, event_time, extra, ...
		var b bytes.Buffer
		for i, rec := range recs {
			var out []string
			for _, k := range order {
				switch {
				case k >= 0:
					out = append(out, `"`+strings.ReplaceAll(rec[k], `"`, `""`)+`"`)
				case i == 0:
					out = append(out, "extra")
				default:
					out = append(out, `"x,y"`)
				}
			}
			if i == 0 { // a header is not quoted
				for j := range out {
					out[j] = strings.Trim(out[j], `"`)
				}
			}
			b.WriteString(strings.Join(out, ",") + "\n")
		}
		if err := os.WriteFile(moved, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	adm := kadm.NewClient(c.client(t))
	rf := strconv.Itoa(min(c.nodes, 3))
	for _, tc := range []struct{ name, format, input, want string }{
		{"json", "json", in, in},
		{"csv", "csv", testrows.SamplePath, testrows.SamplePath},
		{"header", "csv", moved, testrows.SamplePath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, _ := os.ReadFile(tc.want)
			rows, malformed := validRows(t, data)
			topic := topicName(t, adm, "kafkatest-produce-"+tc.name)
			code, stdout, stderr := run(t, 2*time.Minute, "cartwatch", "produce", "--brokers", strings.Join(c.brokers, ","),
				"--topic", topic, "--partitions", "3", "--replication-factor", rf, "--format", tc.format, tc.input)
			t.Logf("stdout: %s", stdout)
			if code != 0 {
				t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
			}
			if wantLine := fmt.Sprintf("%s malformed rows skipped", kafka.Thousands(int64(malformed))); !strings.Contains(stdout, wantLine) {
				t.Errorf("stdout %q lacks %q", stdout, wantLine)
			}
			if tc.name == "json" && (malformed != 3 || !strings.Contains(stderr, fmt.Sprintf("line %d: ", mid+1))) {
				t.Errorf("%d malformed rows, stderr %q: want 3, the first at line %d", malformed, stderr, mid+1)
			}
			checkTopic(t, c, adm, topic, tc.format, rows)

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			md, err := adm.ListTopics(ctx, topic)
			if err != nil || len(md[topic].Partitions) != 3 {
				t.Errorf("topic %s: %d partitions (%v), want 3", topic, len(md[topic].Partitions), err)
			}
			rcs, err := adm.DescribeTopicConfigs(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			rc, _ := rcs.On(topic, nil)
			retention := "missing"
			for _, cfg := range rc.Configs {
				if cfg.Key == "retention.ms" && cfg.Value != nil {
					retention = *cfg.Value
				}
			}
			if retention != "-1" {
				t.Errorf("topic %s: retention.ms=%s, want -1", topic, retention)
			}
		})
	}
}

// TestProduceRetentionWarning: an existing topic with the broker's default
// time retention (7 days) is used, with a warning that names it.
func TestProduceRetentionWarning(t *testing.T) {
	c := need(t, 1)
	adm := kadm.NewClient(c.client(t))
	topic := createTopic(t, adm, "kafkatest-retention", 2, int16(min(c.nodes, 3)), nil)
	code, stdout, stderr := run(t, time.Minute, "cartwatch", "produce", "--brokers", strings.Join(c.brokers, ","),
		"--topic", topic, "--synthetic", "--rows", "500")
	if code != 0 || !strings.Contains(stderr, "warning: topic "+topic) || !strings.Contains(stderr, "retention.ms=604800000") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s\nwant exit 0 and a warning naming the topic's retention", code, stdout, stderr)
	}
	if ends := endOffsets(t, adm, topic); ends[0]+ends[1] != 500 {
		t.Fatalf("end offsets %v, want 500 records", ends)
	}
}

// TestProduceRate: --rate 2000 for 6,000 events takes about 3 s (a wide
// band: the machine is shared), and stderr shows a status line a second.
func TestProduceRate(t *testing.T) {
	c := need(t, 1)
	adm := kadm.NewClient(c.client(t))
	topic := topicName(t, adm, "kafkatest-rate")
	start := time.Now()
	code, stdout, stderr := run(t, time.Minute, "cartwatch", "produce", "--brokers", strings.Join(c.brokers, ","),
		"--topic", topic, "--partitions", "3", "--replication-factor", strconv.Itoa(min(c.nodes, 3)),
		"--synthetic", "--rows", "6000", "--rate", "2000")
	took := time.Since(start)
	t.Logf("%v: %s", took.Round(time.Millisecond), stdout)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if took < 2500*time.Millisecond || took > 5*time.Second {
		t.Errorf("6,000 events at --rate 2000 took %v, want 2.5 to 5 s", took)
	}
	if n := strings.Count(stderr, "events acked"); n < 2 {
		t.Errorf("%d status lines in a ~3 s run, want a line a second:\n%s", n, stderr)
	}
	if ends := endOffsets(t, adm, topic); ends[0]+ends[1]+ends[2] != 6000 {
		t.Errorf("end offsets %v, want 6,000 records", ends)
	}
}

var ackedRE = regexp.MustCompile(`loadgen kafka: ([0-9,]+) events acked`)

// TestLoadgenKafka: loadgen kafka --rows 20000 from 3 producers against the
// cluster completes; its count is what a consumer reads, and each user's
// events are in one partition, in the generator's order.
func TestLoadgenKafka(t *testing.T) {
	c := need(t, 1)
	adm := kadm.NewClient(c.client(t))
	topic := topicName(t, adm, "kafkatest-loadgen")
	code, stdout, stderr := run(t, 2*time.Minute, "loadgen", "kafka", "--brokers", strings.Join(c.brokers, ","),
		"--topic", topic, "--partitions", "6", "--replication-factor", strconv.Itoa(min(c.nodes, 3)),
		"--rows", "20000", "--producers", "3")
	t.Logf("stdout:\n%s", stdout)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	m := ackedRE.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no 'N events acked' in stdout")
	}
	acked, _ := strconv.Atoi(strings.ReplaceAll(m[1], ",", ""))
	if !strings.Contains(stdout, "latency: p50 ") || !strings.Contains(stdout, "p99.9") {
		t.Errorf("no latency percentiles in stdout")
	}

	cfg := loadgen.DefaultConfig()
	cfg.Rows = 20000
	g, err := loadgen.NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var rows []want
	var e event.Event
	for g.Next(&e) {
		rows = append(rows, want{ev: e, text: [4]string{e.Type.String(), string(e.CategoryBytes()), "", string(e.SessionBytes())}})
	}
	if acked != len(rows) {
		t.Errorf("loadgen says %d events acked, the generator has %d", acked, len(rows))
	}
	checkTopic(t, c, adm, topic, "json", rows)
}

// TestLoadgenKafkaRateNotHeld: a rate no broker holds exits 1, saying by
// how much it fell short.
func TestLoadgenKafkaRateNotHeld(t *testing.T) {
	c := need(t, 1)
	adm := kadm.NewClient(c.client(t))
	topic := topicName(t, adm, "kafkatest-loadgen-rate")
	code, stdout, stderr := run(t, 2*time.Minute, "loadgen", "kafka", "--brokers", strings.Join(c.brokers, ","),
		"--topic", topic, "--partitions", "3", "--replication-factor", strconv.Itoa(min(c.nodes, 3)),
		"--rows", "20000", "--rate", "1e12")
	if code != 1 || !strings.Contains(stderr, "could not hold --rate") || !strings.Contains(stdout, "asked 1,000,000,000,000 events/s, achieved") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 1 and the shortfall", code, stdout, stderr)
	}
}

// TestBrokerDown: against a port nobody listens on, both commands exit 1
// at once with an error naming the address.
func TestBrokerDown(t *testing.T) {
	need(t, 1)
	addr := "127.0.0.1:1" // a privileged port no broker of ours uses
	for _, args := range [][]string{{"cartwatch", "produce", "--synthetic", "--rows", "10"}, {"loadgen", "kafka", "--rows", "10"}} {
		start := time.Now()
		code, _, stderr := run(t, 30*time.Second, args[0], append(args[1:], "--brokers", addr)...)
		if code != 1 || !strings.Contains(stderr, "no Kafka broker answers at "+addr) {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("%v: %v to give up", args, d)
		}
	}
}

// TestEnsureTopicReady: records produced the moment EnsureTopic has created
// a topic are acknowledged at once. (Before, the broker had not taken up
// every partition yet; the first records got NOT_LEADER_FOR_PARTITION and
// waited 5 s for franz-go's next metadata query.)
func TestEnsureTopicReady(t *testing.T) {
	c := need(t, 1)
	f := kafka.ProduceFlags{Partitions: 12, Format: "json", Compression: "none", Acks: "all", AckTimeout: time.Minute}
	for i := range 3 {
		cl := c.client(t)
		adm := kadm.NewClient(cl)
		f.Topic = topicName(t, adm, fmt.Sprintf("kafkatest-ready%d", i))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if _, err := kafka.EnsureTopic(ctx, adm, f.Topic, 12, int16(min(c.nodes, 3))); err != nil {
			cancel()
			t.Fatal(err)
		}
		cancel()
		pc := c.client(t, f.Opts()...)
		p := kafka.NewProducer(pc, kafka.ProducerOptions{})
		start := time.Now()
		for u := range 240 { // users spread over every partition
			ev := event.Event{Time: 1572566400, Type: event.EventView, UserID: uint64(u)}
			if err := p.Produce(context.Background(), &ev, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 2*time.Second || p.Counts().Acked != 240 {
			t.Errorf("topic %d: 240 records took %v to be acknowledged (%+v), want well under the 5 s of a metadata wait", i, d, p.Counts())
		}
	}
}

var producedRE = regexp.MustCompile(`(?:cartwatch produce|loadgen kafka): ([0-9,]+) events`)

// TestInterrupt: SIGINT stops cartwatch produce and loadgen kafka; they
// deliver what they had handed over, report it, and exit 130; the topic
// holds exactly the events they report.
func TestInterrupt(t *testing.T) {
	c := need(t, 1)
	adm := kadm.NewClient(c.client(t))
	for _, args := range [][]string{{"cartwatch", "produce", "--synthetic"}, {"loadgen", "kafka", "--producers", "2"}} {
		topic := topicName(t, adm, "kafkatest-interrupt-"+args[0])
		cmd := exec.Command(bin(t, args[0]), append(args[1:], "--brokers", strings.Join(c.brokers, ","), "--topic", topic,
			"--partitions", "3", "--replication-factor", strconv.Itoa(min(c.nodes, 3)), "--rows", "1000000", "--rate", "5000")...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		time.Sleep(2500 * time.Millisecond) // past the topic's creation, some records out
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("%v: still running 30 s after SIGINT\nstderr:\n%s", args, errb.String())
		}
		if code := cmd.ProcessState.ExitCode(); code != 130 {
			t.Fatalf("%v: exit %d after SIGINT, want 130\nstdout:\n%s\nstderr:\n%s", args, code, out.String(), errb.String())
		}
		m := producedRE.FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("%v: no count in stdout %q", args, out.String())
		}
		n, _ := strconv.ParseInt(strings.ReplaceAll(m[1], ",", ""), 10, 64)
		var total int64
		for _, e := range endOffsets(t, adm, topic) {
			total += e
		}
		if n == 0 || n >= 1000000 || total != n || !strings.Contains(out.String(), "; 0 failed") {
			t.Fatalf("%v: reported %d events, the topic holds %d; want the same, some and not all, none failed:\n%s", args, n, total, out.String())
		}
		t.Logf("%v: %d events delivered before the interrupt", args, n)
	}
}
