package dash

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/internal/browser"
	"github.com/chromedp/chromedp"
)

// The page in a real browser (headless Chromium through chromedp; SKIP
// without it, a failure under CI=true): the KPIs update live, the stopped
// state shows and stays, the banner says so when the server goes away,
// and the page fits a phone's screen.

// liveSource's figures change at every call; no Kafka group, so the
// page has figures to show as "—".
type liveSource struct{ n atomic.Int64 }

func (l *liveSource) figs() Figures {
	n := l.n.Add(1)
	return Figures{
		Title: "browser test", Phase: "playing", EventTime: 1572566400 + 60*n,
		KPIs: &KPIs{AbandonedCarts: 10 * n, AbandonedValueCents: 123456 * n, AbandoningUsers: 7 * n, SpendingCents: 99 * n,
			TopSpenders: []Spender{{UserID: 512000001, SpendingCents: 50000}, {UserID: 512000002, SpendingCents: 4000}}},
		LatestAlerts: []Alert{{UserID: 512000003, AbandonedAt: 1572566400, Items: 2, ValueCents: 1999, Partition: 1, Latency: 0.25}},
		Engine:       &Engine{EventsConsumed: 1000 * n, EventsPerSecond: float64(100 + n%7), OpenCarts: 40 + n%5},
		Latency:      &Latency{Count: n, P50: 0.2, P90: 0.4, P99: 0.9, Max: 1.5},
		Carts:        &Carts{Converted: 30, Abandoned: 10 * n, Recovered: n},
		Categories:   []Category{{Name: "electronics", Items: 9, ValueCents: 90000}, {Name: "unknown", Items: 3, ValueCents: 1500}},
		TTLAdvisor:   []TTLShare{{300, 0.4}, {900, 0.55}, {1800, 0.7}, {3600, 0.8}, {7200, 0.9}, {86400, 1}},
	}
}

const (
	stateIs = `document.getElementById("status").dataset.state === %q`
	banner  = `(() => { const b = document.getElementById("banner"); return b.hidden ? "" : b.textContent })()`
)

func state(s string) string { return strings.Replace(stateIs, "%q", `"`+s+`"`, 1) }

func bannerText(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](banner))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBrowserLive: the KPIs update without a reload, a figure no source
// fills shows as "—", and after Stop the page says the processor has
// stopped, and still does when the server is gone.
func TestBrowserLive(t *testing.T) {
	ctx := browser.New(t, 1280, 900)
	var src liveSource
	s := New(src.figs, Options{Tick: 100 * time.Millisecond})
	ts := serve(t, s)
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL)); err != nil {
		t.Fatal(err)
	}
	browser.WaitFor(t, ctx, 10*time.Second, "the live state", state("live"))
	first := browser.Text(t, ctx, "kpi-abandoned")
	browser.WaitFor(t, ctx, 10*time.Second, "the abandoned carts KPI to change from "+first,
		`document.getElementById("kpi-abandoned").textContent !== "`+first+`"`)
	if b := bannerText(t, ctx); b != "" {
		t.Errorf("a banner while live: %q", b)
	}
	for id, want := range map[string]string{"kpi-lag": "—", "run-title": "browser test", "kpi-recovery-rate": "%"} {
		if got := browser.Text(t, ctx, id); !strings.Contains(got, want) {
			t.Errorf("#%s: %q, want %q in it", id, got, want)
		}
	}
	if v := browser.Text(t, ctx, "kpi-abandoned-value"); !strings.Contains(v, ",") || !strings.Contains(v, ".") {
		t.Errorf("abandoned value %q: want cents as 1,234.56", v)
	}
	for _, sel := range []string{"#spenders tr", "#alerts tr", "#categories tr", "#chart-eps canvas", "#chart-ttl canvas"} {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("`+sel+`").length`))
		if err != nil || n == 0 {
			t.Errorf("%s: %d elements (%v)", sel, n, err)
		}
	}

	s.Stop()
	browser.WaitFor(t, ctx, 10*time.Second, "the stopped state", state("stopped"))
	if b := bannerText(t, ctx); !strings.Contains(b, "stopped") {
		t.Errorf("banner %q: want it to say the processor has stopped", b)
	}
	if title, _ := chromedp.Run(ctx, chromedp.Title()); !strings.HasPrefix(title, "stopped") {
		t.Errorf("title %q: want it to start with stopped", title)
	}
	// The processor's end is not a lost connection: the page does not
	// try again, and says stopped once the server is gone.
	s.Close()
	ts.CloseClientConnections()
	ts.Close()
	time.Sleep(3 * time.Second)
	if st := browser.Text(t, ctx, "status"); st != "stopped" {
		t.Errorf("state %q after the server went away, want stopped", st)
	}
}

// TestBrowserDisconnected: when the server goes away without a stopped
// event, the page says it is reconnecting, then that it is disconnected.
func TestBrowserDisconnected(t *testing.T) {
	ctx := browser.New(t, 1280, 900)
	var src liveSource
	s := New(src.figs, Options{Tick: 100 * time.Millisecond})
	ts := serve(t, s)
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL)); err != nil {
		t.Fatal(err)
	}
	browser.WaitFor(t, ctx, 10*time.Second, "the live state", state("live"))
	s.Close()
	ts.CloseClientConnections()
	ts.Close()
	browser.WaitFor(t, ctx, 5*time.Second, "the reconnecting state", state("reconnecting")+` || `+state("disconnected"))
	if b := bannerText(t, ctx); !strings.Contains(b, "reconnecting") && !strings.Contains(b, "Disconnected") {
		t.Errorf("banner %q: want it to say the connection dropped", b)
	}
	browser.WaitFor(t, ctx, 15*time.Second, "the disconnected state", state("disconnected"))
	if b := bannerText(t, ctx); !strings.Contains(b, "Disconnected") {
		t.Errorf("banner %q: want Disconnected", b)
	}
	if v := browser.Text(t, ctx, "kpi-abandoned"); v == "—" {
		t.Errorf("the last figures are gone from the page")
	}
}

// TestBrowserPhone: on a phone's screen the page needs no sideways
// scrolling and the KPIs sit two to a row.
func TestBrowserPhone(t *testing.T) {
	ctx := browser.New(t, 390, 844)
	var src liveSource
	ts := serve(t, New(src.figs, Options{Tick: 100 * time.Millisecond}))
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(ts.URL)); err != nil {
		t.Fatal(err)
	}
	browser.WaitFor(t, ctx, 10*time.Second, "the live state", state("live"))
	time.Sleep(300 * time.Millisecond) // a few ticks drawn
	over, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if over > 0 {
		t.Errorf("the page is %d px wider than a 390 px screen", over)
	}
	cols, err := chromedp.Run(ctx, chromedp.Evaluate[int](`getComputedStyle(document.querySelector(".kpis")).gridTemplateColumns.split(" ").length`))
	if err != nil {
		t.Fatal(err)
	}
	if cols != 2 {
		t.Errorf("%d KPI columns on a phone, want 2", cols)
	}
}
