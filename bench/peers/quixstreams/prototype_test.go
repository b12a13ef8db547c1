// Package quixstreams holds the tests of the QuixStreams peer's logic
// (prototype.py, run by python3 on a CSV file, without Kafka); the peer itself
// is app.py (README.md).
package quixstreams

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cartwatch/cartwatch/bench/peers/peercmp"
	"github.com/cartwatch/cartwatch/internal/testrows"
	"github.com/cartwatch/cartwatch/loadgen"
)

const header = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n"

// python3 returns the interpreter, or skips (fails under CI=true) without one.
func python3(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 is missing under CI")
		}
		t.Skip("SKIP: python3 is not on PATH")
	}
	return py
}

// prototype runs prototype.py on the CSV text in at ttlSeconds and reads its answer.
func prototype(t *testing.T, in []byte, ttlSeconds string) (string, peercmp.Answer) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(path, in, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "prototype")
	os.Mkdir(out, 0o755)
	cmd := exec.Command(python3(t), "prototype.py", path, ttlSeconds, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("prototype.py: %v\n%s", err, b)
	}
	ans, err := peercmp.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	return out, ans
}

// TestPrototypeEdges: a cart is reported only when its user comes back at
// last_cart_at + TTL or later (at exactly the deadline too), with abandoned_at
// the time of that return; a purchase before it converts; another cart event
// moves the deadline; a user who never comes back is never reported, however
// late other users' events are.
func TestPrototypeEdges(t *testing.T) {
	row := func(tm, typ, price, user string) string {
		return testrows.Row("2019-11-01 "+tm+" UTC", typ, "1000001", "2000000000000000001", "", "", price, user, "s-"+user) + "\n"
	}
	in := header +
		row("00:00:00", "cart", "10.00", "1") + // back 1 s before the deadline: still open, then silent
		row("00:00:00", "cart", "5.00", "2") + // back at the deadline: reported
		row("00:00:00", "cart", "7.00", "3") + // bought before the deadline: converted
		row("00:00:00", "cart", "1.10", "4") + // a second cart moves the deadline to 00:06:40
		row("00:00:00", "cart", "9.00", "5") + // silent
		row("00:01:40", "cart", "2.20", "4") +
		row("00:04:59", "view", "10.00", "1") +
		row("00:04:59", "purchase", "7.00", "3") +
		row("00:05:00", "view", "5.00", "2") +
		row("00:06:39", "view", "1.10", "4") +
		row("00:06:40", "view", "1.10", "4") +
		row("01:00:00", "view", "1.00", "6") // moves no one's cart
	_, got := prototype(t, []byte(in), "300")
	var want []string
	for _, a := range []peercmp.Alert{
		{UserID: 2, FirstCartAt: 1572566400, LastCartAt: 1572566400, AbandonedAt: 1572566400 + 300, Items: 1, ValueCents: 500},
		{UserID: 4, FirstCartAt: 1572566400, LastCartAt: 1572566400 + 100, AbandonedAt: 1572566400 + 400, Items: 2, ValueCents: 330},
	} {
		want = append(want, a.String())
	}
	var gotS []string
	for _, a := range got.Alerts {
		gotS = append(gotS, a.String())
	}
	if strings.Join(gotS, "\n") != strings.Join(want, "\n") {
		t.Errorf("alerts:\n%s\nwant:\n%s", strings.Join(gotS, "\n"), strings.Join(want, "\n"))
	}
	for k, v := range map[string]int64{"events": 12, "carts_opened": 5, "converted": 1, "abandoned": 2, "open_carts": 2,
		"abandoned_value_cents": 830, "unique_abandoning_users": 2, "spending_cents": 700} {
		if got.Counts[k] != v {
			t.Errorf("%s = %d, want %d", k, got.Counts[k], v)
		}
	}
}

// TestPrototypeRecall: on input in time order (the real sample, a synthetic
// day) at --ttl 5m, every cart the prototype reports is one of cartwatch
// run's (same user_id and last_cart_at), and the ones it misses are exactly
// the carts still open in its state at the end: the users who never came back.
func TestPrototypeRecall(t *testing.T) {
	dir := t.TempDir()
	cw := filepath.Join(dir, "cartwatch")
	if b, err := exec.Command("go", "build", "-o", cw, "github.com/cartwatch/cartwatch/cmd/cartwatch").CombinedOutput(); err != nil {
		t.Fatalf("go build cartwatch: %v\n%s", err, b)
	}
	var day bytes.Buffer
	cfg := loadgen.DefaultConfig()
	cfg.Rows, cfg.Days = 100_000, 1
	if _, err := loadgen.WriteCSV(&day, cfg, nil); err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]byte{"synthetic-day": day.Bytes()}
	if fh := testrows.OpenSample(t); fh != nil {
		fh.Close()
		b, err := os.ReadFile(testrows.SamplePath)
		if err != nil {
			t.Fatal(err)
		}
		inputs["sample"] = b
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			_, got := prototype(t, in, "300")
			path := filepath.Join(t.TempDir(), "in.csv")
			os.WriteFile(path, in, 0o644)
			want := filepath.Join(t.TempDir(), "cartwatch")
			os.Mkdir(want, 0o755)
			sum, err := exec.Command(cw, "run", "--ttl", "5m", "--summary", "json",
				"--alerts", filepath.Join(want, "alerts.jsonl"), path).Output()
			if err != nil {
				t.Fatalf("cartwatch run: %v", err)
			}
			os.WriteFile(filepath.Join(want, "summary.json"), sum, 0o644)
			wantAns, err := peercmp.ReadDir(want)
			if err != nil {
				t.Fatal(err)
			}
			r := peercmp.Compare(wantAns, got, true)
			if !r.Equal {
				t.Errorf("events: prototype %d, cartwatch %d", got.Counts["events"], wantAns.Counts["events"])
			}
			if len(r.Extra) > 0 {
				t.Errorf("%d carts the prototype reports are not cartwatch's, first %v", len(r.Extra), r.Extra[0])
			}
			open := got.Counts["open_carts"]
			if open == 0 || int64(r.WantAlerts-r.Matched) != open {
				t.Errorf("cartwatch reports %d carts the prototype does not; %d stay open in its state: want them equal and above 0",
					r.WantAlerts-r.Matched, open)
			}
			t.Logf("the prototype reports %d of cartwatch's %d abandoned carts; %d never", r.Matched, r.WantAlerts, open)
		})
	}
}
