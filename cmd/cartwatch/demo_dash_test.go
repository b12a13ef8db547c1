package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/dash"
	"github.com/cartwatch/cartwatch/internal/browser"
	"github.com/cartwatch/cartwatch/internal/syncbuf"
	"github.com/chromedp/chromedp"
)

// The demo's dashboard: its stream follows the run and ends with the
// stopped event, whose figures are the summary's; and the page in a real browser (SKIP without
// Chromium), which also takes results/dashboard.png when asked.

// startDemo runs `cartwatch demo args` in process and returns the
// dashboard's address once the demo has logged it, and wait, which
// returns its exit code when it ends (the test's end stops it).
func startDemo(t *testing.T, args ...string) (addr string, stdout, stderr *syncbuf.Buffer, wait func() int) {
	t.Helper()
	stdout, stderr = &syncbuf.Buffer{}, &syncbuf.Buffer{}
	code := make(chan int, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { code <- run(ctx, append([]string{"demo", "--http", "127.0.0.1:0"}, args...), stdout, stderr) }()
	var once sync.Once
	c := -1
	wait = func() int {
		once.Do(func() {
			select {
			case c = <-code:
			case <-time.After(time.Minute):
				t.Errorf("the demo still runs after a minute")
			}
		})
		return c
	}
	t.Cleanup(func() {
		cancel()
		wait()
	})
	re := regexp.MustCompile(`dashboard: http://([^/\s]+)/`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], stdout, stderr, wait
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not log its dashboard's address:\n%s", stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDemoDashboardStream: the dashboard of a running demo streams
// changing figures, and the last event is the stopped one, with the
// abandoned carts of the summary and the phase of the end.
func TestDemoDashboardStream(t *testing.T) {
	addr, stdout, stderr, wait := startDemo(t, "--input", demoHour(t), "--speedup", "1500", "--ttl", "5m")
	resp, err := (&http.Client{Timeout: time.Minute}).Get("http://" + addr + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	var figs []dash.Figures
	stopped := false
	for !stopped {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("the stream ended without the stopped event (%v) after %d events\n%s", err, len(figs), stderr)
		}
		stopped = stopped || l == "event: stopped\n"
		if js, ok := strings.CutPrefix(l, "data: "); ok {
			var f dash.Figures
			if err := json.Unmarshal([]byte(js), &f); err != nil {
				t.Fatalf("%q: %v", js, err)
			}
			figs = append(figs, f)
		}
		if stopped {
			if l, err = r.ReadString('\n'); err != nil {
				t.Fatalf("the stopped event has no data: %v", err)
			}
			var f dash.Figures
			if err := json.Unmarshal([]byte(strings.TrimPrefix(l, "data: ")), &f); err != nil {
				t.Fatalf("the stopped event's data %q: %v", l, err)
			}
			figs = append(figs, f)
		}
	}
	if c := wait(); c != exitOK {
		t.Fatalf("demo exit %d\n%s", c, stderr)
	}
	last := figs[len(figs)-1]
	if !last.Stopped || !strings.HasPrefix(last.Phase, "done") || last.Title == "" {
		t.Errorf("the last figures: stopped %v, phase %q, title %q; want stopped, done", last.Stopped, last.Phase, last.Title)
	}
	m := regexp.MustCompile(`(?m)^  abandoned +(\S+)$`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("no summary:\n%s", stdout)
	}
	want, _ := strconv.ParseInt(strings.ReplaceAll(m[1], ",", ""), 10, 64)
	if last.KPIs == nil || last.KPIs.AbandonedCarts != want || want == 0 {
		t.Errorf("the last figures' abandoned carts %+v, want the summary's %d", last.KPIs, want)
	}
	if last.Engine == nil || last.Engine.Malformed != 2 || last.Kafka == nil || len(last.LatestAlerts) == 0 {
		t.Errorf("the last figures lack what the demo knows: %+v %+v %+v", last.Engine, last.Kafka, last.LatestAlerts)
	}
	// The engine's figures (dash.LiveSource): the carts' fates as the
	// summary counts them, categories, the TTL advisor.
	m = regexp.MustCompile(`(?m)^  converted +(\S+)$`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("no converted carts in the summary:\n%s", stdout)
	}
	conv, _ := strconv.ParseInt(strings.ReplaceAll(m[1], ",", ""), 10, 64)
	if c := last.Carts; c == nil || c.Abandoned != want || c.Converted != conv || c.AbandonmentRate <= 0 {
		t.Errorf("the last figures' carts %+v, want the summary's %d abandoned, %d converted", c, want, conv)
	}
	if len(last.Categories) == 0 || len(last.TTLAdvisor) != 6 || last.TTLAdvisor[5].Share <= 0 {
		t.Errorf("the last figures lack the engine's categories or TTL advisor: %+v %+v", last.Categories, last.TTLAdvisor)
	}
	// An event taken before the run had started has no engine figures
	// (the page shows "—"): count it as -1 consumed.
	consumed := func(f dash.Figures) int64 {
		if f.Engine == nil {
			return -1
		}
		return f.Engine.EventsConsumed
	}
	changed := false
	for _, f := range figs[1:] {
		changed = changed || consumed(f) != consumed(figs[0])
	}
	if len(figs) < 3 || !changed {
		t.Errorf("%d events, consumed changed %v: want the figures to follow the run", len(figs), changed)
	}
}

// TestDemoDashboardBrowser: the page of a running demo in headless
// Chromium: the figures update without a reload, and when the demo ends
// the page says the processor has stopped, with its last figures.
//
// CARTWATCH_SCREENSHOT=FILE plays the synthetic day instead, at a pace a
// viewer would watch, and writes a screenshot of the page to FILE while it
// runs (results/dashboard.png, shown in README.md):
//
//	CARTWATCH_SCREENSHOT=$PWD/results/dashboard.png go test -run TestDemoDashboardBrowser -v ./cmd/cartwatch
func TestDemoDashboardBrowser(t *testing.T) {
	shot := os.Getenv("CARTWATCH_SCREENSHOT")
	ctx := browser.New(t, 1280, 1000)
	args := []string{"--input", demoHour(t), "--speedup", "600", "--ttl", "5m"}
	if shot != "" {
		// loadgen's made-up day, not the real sample: no row of the sample
		// goes into the repository, not even as a picture.
		args = []string{"--synthetic", "--speedup", "1440", "--duration", "45s"}
	}
	addr, _, stderr, wait := startDemo(t, args...)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+addr+"/")); err != nil {
		t.Fatal(err)
	}
	browser.WaitFor(t, ctx, 10*time.Second, "the live state", `document.getElementById("status").dataset.state === "live"`)
	first := browser.Text(t, ctx, "event-time")
	browser.WaitFor(t, ctx, 10*time.Second, "the event time to move on from "+first,
		`document.getElementById("event-time").textContent !== "`+first+`"`)
	if shot != "" {
		browser.WaitFor(t, ctx, 40*time.Second, "alerts on the page", `document.querySelectorAll("#alerts tr td.num").length > 0`)
		time.Sleep(20 * time.Second) // the time charts fill
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(shot, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", shot, len(png))
	}
	browser.WaitFor(t, ctx, 60*time.Second, "the stopped state", `document.getElementById("status").dataset.state === "stopped"`)
	if c := wait(); c != exitOK {
		t.Fatalf("demo exit %d\n%s", c, stderr)
	}
	if v := browser.Text(t, ctx, "kpi-abandoned"); v == "—" || v == "0" {
		t.Errorf("abandoned carts %q at the end: want the final count", v)
	}
	// The engine's figures (dash.LiveSource): a category row, the TTL
	// advisor drawn, the rates.
	browser.WaitFor(t, ctx, 5*time.Second, "a category row", `document.querySelectorAll("#categories tr td.num").length > 0`)
	browser.WaitFor(t, ctx, 5*time.Second, "the TTL advisor chart",
		`!document.getElementById("chart-ttl").hidden && document.querySelector("#chart-ttl canvas") !== null && document.getElementById("ttl-empty").hidden`)
	for _, id := range []string{"kpi-abandonment-rate", "kpi-recovery-rate"} {
		if v := browser.Text(t, ctx, id); !strings.Contains(v, "%") {
			t.Errorf("#%s %q at the end: want a rate", id, v)
		}
	}
}
