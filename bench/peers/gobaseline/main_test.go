package main

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/bench/peers/peercmp"
	"github.com/cartwatch/cartwatch/internal/testrows"
	"github.com/cartwatch/cartwatch/loadgen"
)

// TestMatchesCartwatch runs the baseline and `cartwatch run` on the same
// inputs at --ttl 5m and 30m and wants the same alerts, byte for byte, and
// the same counts (peercmp): the real sample, a synthetic day from loadgen,
// and that day with rows moved out of order (late carts, late purchases).
func TestMatchesCartwatch(t *testing.T) {
	dir := t.TempDir()
	cw := filepath.Join(dir, "cartwatch")
	build := exec.Command("go", "build", "-o", cw, "github.com/cartwatch/cartwatch/cmd/cartwatch")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build cartwatch: %v\n%s", err, out)
	}
	var day bytes.Buffer
	cfg := loadgen.DefaultConfig()
	cfg.Rows, cfg.Days = 100_000, 1
	if _, err := loadgen.WriteCSV(&day, cfg, nil); err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]byte{"synthetic-day": day.Bytes(), "synthetic-day-shuffled": shuffle(day.Bytes(), 40, 97, 2500),
		"edges": edges()}
	if fh := testrows.OpenSample(t); fh != nil {
		fh.Close()
		b, err := os.ReadFile(testrows.SamplePath)
		if err != nil {
			t.Fatal(err)
		}
		inputs["sample"] = b
	}
	for name, in := range inputs {
		path := filepath.Join(dir, name+".csv")
		if err := os.WriteFile(path, in, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, ttl := range []time.Duration{5 * time.Minute, 30 * time.Minute} {
			t.Run(name+"/"+ttl.String(), func(t *testing.T) {
				want := filepath.Join(dir, "want")
				os.RemoveAll(want)
				os.Mkdir(want, 0o755)
				run := exec.Command(cw, "run", "--ttl", ttl.String(), "--summary", "json",
					"--alerts", filepath.Join(want, "alerts.jsonl"), path)
				sum, err := run.Output()
				if err != nil {
					t.Fatalf("cartwatch run: %v", err)
				}
				os.WriteFile(filepath.Join(want, "summary.json"), sum, 0o644)

				var alerts bytes.Buffer
				got, err := Run(bytes.NewReader(in), &alerts, Config{TTL: ttl, MaxFuture: 24 * time.Hour, Now: time.Now()})
				if err != nil {
					t.Fatal(err)
				}
				wantAlerts, _ := os.ReadFile(filepath.Join(want, "alerts.jsonl"))
				if !bytes.Equal(alerts.Bytes(), wantAlerts) {
					t.Errorf("alerts differ from cartwatch's (%d and %d bytes)", alerts.Len(), len(wantAlerts))
				}
				var wantSum Summary
				if err := json.Unmarshal(sum, &wantSum); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got.TopSpenders, wantSum.TopSpenders) {
					t.Errorf("top_spenders %v, cartwatch %v", got.TopSpenders, wantSum.TopSpenders)
				}
				wantAns, err := peercmp.ReadDir(want)
				if err != nil {
					t.Fatal(err)
				}
				gotAns := peercmp.Answer{Counts: counts(t, got)}
				if gotAns.Alerts, err = peercmp.ReadAlerts(&alerts); err != nil {
					t.Fatal(err)
				}
				if r := peercmp.Compare(wantAns, gotAns, false); !r.Equal {
					var b strings.Builder
					r.Write(&b, "gobaseline", 5)
					t.Errorf("not the same answer:\n%s", b.String())
				}
				if c := wantAns.Counts; c["abandoned"] == 0 || c["converted"] == 0 || (name == "edges" && (c["late_purchases"] == 0 || c["other_events"] == 0)) {
					t.Errorf("input finds no abandoned or converted cart: %v", wantAns.Counts)
				}
				if strings.HasSuffix(name, "shuffled") && (wantAns.Counts["late_purchases"] == 0 || sorted(wantAns.Alerts)) {
					t.Errorf("shuffled input has no late purchase or no late cart: %v", wantAns.Counts)
				}
			})
		}
	}
}

// shuffle puts a CSV's data rows out of time order: each moves up to window
// rows away, and every every-th row comes by rows later (at a synthetic
// day's rate of about a row a second, later than either TTL: late carts).
func shuffle(csv []byte, window, every, by int) []byte {
	lines := bytes.SplitAfter(csv, []byte("\n"))
	rng := rand.New(rand.NewSource(1))
	for i := 1; i+window < len(lines); i += window {
		part := lines[i : i+window]
		rng.Shuffle(len(part), func(a, b int) { part[a], part[b] = part[b], part[a] })
	}
	out := lines[:1:1]
	var held [][]byte
	for i, l := range lines[1:] {
		if i%every == 0 {
			held = append(held, l)
		} else {
			out = append(out, l)
		}
		if len(held) > 0 && i%every == by%every && i >= by {
			out = append(out, held[0])
			held = held[1:]
		}
	}
	return bytes.Join(append(out, held...), nil)
}

// edges is a few rows on the contract's edges at either TTL: a late cart
// (abandoned at once) and its user's next cart in the same second (a new
// cart), purchases one second before and exactly at the abandoned_at of the
// user's last alert (late, then direct), a purchase of price 0, an event
// type other than the three.
func edges() []byte {
	row := func(tm, typ string, user, price string) string {
		return testrows.Row("2019-11-01 "+tm+" UTC", typ, "1004", "2053013555631882655", "", "acme", price, user,
			"00000000-1111-2222-3333-44444444444"+user[len(user)-1:]) + "\n"
	}
	return []byte("event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n" +
		row("00:10:00", "cart", "3", "1.00") + row("00:10:00", "cart", "5", "2.00") + row("00:10:00", "cart", "6", "3.00") +
		row("01:00:00", "view", "1", "0") +
		row("00:00:00", "cart", "2", "4.00") + row("01:00:00", "cart", "2", "5.00") + row("01:00:00", "cart", "2", "6.00") +
		row("00:15:00", "purchase", "3", "7.00") + row("00:40:00", "purchase", "5", "8.00") + row("00:14:59", "purchase", "6", "0") +
		row("01:00:00", "remove_from_cart", "7", "1.00") + row("01:00:01", "purchase", "2", "9.00"))
}

// sorted tells whether alerts are in (abandoned_at, user_id) order, which
// only a late cart breaks.
func sorted(as []peercmp.Alert) bool {
	for i := 1; i < len(as); i++ {
		a, b := as[i-1], as[i]
		if a.AbandonedAt > b.AbandonedAt || (a.AbandonedAt == b.AbandonedAt && a.UserID > b.UserID) {
			return false
		}
	}
	return true
}

func counts(t *testing.T, s Summary) map[string]int64 {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	m, err := peercmp.ParseSummary(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestParseCents pins the price rule (rule 8) the baseline applies.
func TestParseCents(t *testing.T) {
	f := func(s string, want int64, ok bool) {
		t.Helper()
		got, gotOK := parseCents(s)
		if gotOK != ok || (ok && got != want) {
			t.Errorf("parseCents(%q) = %d, %v; want %d, %v", s, got, gotOK, want, ok)
		}
	}
	f("0", 0, true)
	f("5.1", 510, true)
	f("489.07", 48907, true)
	f("1000", 100000, true)
	f("10000000000.00", 1_000_000_000_000, true)
	f("10000000000.01", 0, false)
	f("-5.00", 0, false)
	f("abc", 0, false)
	f("1.234", 0, false)
	f(".5", 0, false)
	f("5.", 0, false)
	f("+5", 0, false)
	f("", 0, false)
}
