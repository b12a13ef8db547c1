package dash

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The tests of the Server: the stream's events, one look at the source per
// tick whatever the number of viewers, none without viewers, the stopped
// event, Close, the page and its assets, the derived rates.

// counter is a source whose figures change at every call.
type counter struct{ calls atomic.Int64 }

func (c *counter) figs() Figures {
	n := c.calls.Add(1)
	return Figures{Title: "test", Phase: fmt.Sprint("call ", n), KPIs: &KPIs{AbandonedCarts: n},
		Carts: &Carts{Converted: 3, Abandoned: 1, Recovered: 1}}
}

// stream is one viewer of /events.
type stream struct {
	t    *testing.T
	resp *http.Response
	r    *bufio.Reader
}

func watch(t *testing.T, url string) *stream {
	t.Helper()
	resp, err := http.Get(url + "/events")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q, want text/event-stream", ct)
	}
	return &stream{t: t, resp: resp, r: bufio.NewReader(resp.Body)}
}

// next returns the next event's raw text (without the blank line) and its
// figures; the retry line is skipped. io.EOF at the stream's end.
func (s *stream) next() (string, Figures, error) {
	s.t.Helper()
	for {
		var ev strings.Builder
		for {
			l, err := s.r.ReadString('\n')
			if err != nil {
				return "", Figures{}, err
			}
			if l == "\n" {
				break
			}
			ev.WriteString(l)
		}
		text := ev.String()
		if strings.HasPrefix(text, "retry: ") {
			continue
		}
		i := strings.Index(text, "data: ")
		if i < 0 {
			s.t.Fatalf("event without data: %q", text)
		}
		var f Figures
		if err := json.Unmarshal([]byte(strings.TrimSuffix(text[i+len("data: "):], "\n")), &f); err != nil {
			s.t.Fatalf("event %q: %v", text, err)
		}
		return text, f, nil
	}
}

func serve(t *testing.T, s *Server) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close()
		ts.Close()
	})
	return ts
}

// TestEvents: a viewer gets the figures at once, then one event per tick,
// each newer than the one before, as JSON with the derived figures.
func TestEvents(t *testing.T) {
	var c counter
	ts := serve(t, New(c.figs, Options{Tick: 20 * time.Millisecond}))
	st := watch(t, ts.URL)
	if cc := st.resp.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control %q, want no-cache", cc)
	}
	var prev int64
	for i := 0; i < 5; i++ {
		text, f, err := st.next()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(text, "data: {") || strings.Contains(text, "event:") {
			t.Errorf("event %q: want one data line, no event name", text)
		}
		if f.KPIs == nil || f.KPIs.AbandonedCarts <= prev {
			t.Fatalf("event %d: %+v after %d: want newer figures", i, f.KPIs, prev)
		}
		prev = f.KPIs.AbandonedCarts
		if f.Stopped || f.Time == 0 || f.Title != "test" {
			t.Errorf("event %d: stopped %v, time %d, title %q", i, f.Stopped, f.Time, f.Title)
		}
		if f.Carts.AbandonmentRate != 0.25 || f.Carts.RecoveryRate != 1 {
			t.Errorf("rates %v %v, want 0.25 and 1", f.Carts.AbandonmentRate, f.Carts.RecoveryRate)
		}
		if f.Engine != nil || f.Kafka != nil || f.Latency != nil || f.TTLAdvisor != nil {
			t.Errorf("groups the source did not fill are there: %q", text)
		}
	}
}

// TestOneLookPerTick: many viewers cost one call of the source per tick,
// and every viewer gets the same bytes for a tick.
func TestOneLookPerTick(t *testing.T) {
	var c counter
	ts := serve(t, New(c.figs, Options{Tick: 30 * time.Millisecond}))
	const viewers, events = 8, 6
	got := make([][]string, viewers)
	var wg sync.WaitGroup
	for v := range viewers {
		st := watch(t, ts.URL)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range events {
				text, _, err := st.next()
				if err != nil {
					t.Error(err)
					return
				}
				got[v] = append(got[v], text)
			}
		}()
	}
	wg.Wait()
	distinct := map[string]int{}
	for _, evs := range got {
		for _, e := range evs {
			distinct[e]++
		}
	}
	// Each viewer's first event may be its own (taken at its connection
	// when the newest was more than a tick old); every other event is
	// shared by the viewers watching at its tick.
	calls := c.calls.Load()
	if calls > int64(len(distinct))+viewers+2 {
		t.Errorf("%d calls of the source for %d distinct events: the figures are taken per viewer, not per tick", calls, len(distinct))
	}
	shared := 0
	for _, n := range distinct {
		if n == viewers {
			shared++
		}
	}
	if shared < events-2 {
		t.Errorf("%d of the events reached all %d viewers byte for byte, want at least %d: %v", shared, viewers, events-2, distinct)
	}
}

// TestNoViewersNoLooks: without a viewer the source is not called.
func TestNoViewersNoLooks(t *testing.T) {
	var c counter
	serve(t, New(c.figs, Options{Tick: 5 * time.Millisecond}))
	time.Sleep(60 * time.Millisecond)
	if n := c.calls.Load(); n != 0 {
		t.Errorf("%d calls of the source without a viewer, want 0", n)
	}
}

// TestStop: Stop sends every viewer the stopped event with the last
// figures, marked stopped, and ends the stream; a viewer who comes later
// gets that event at once; /figures.json says stopped.
func TestStop(t *testing.T) {
	var c counter
	s := New(c.figs, Options{Tick: 10 * time.Millisecond})
	ts := serve(t, s)
	st := watch(t, ts.URL)
	if _, _, err := st.next(); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	stopped := func(st *stream) Figures {
		t.Helper()
		for {
			text, f, err := st.next()
			if err != nil {
				t.Fatalf("no stopped event before %v", err)
			}
			if !strings.HasPrefix(text, "event: stopped\ndata: ") {
				continue // a tick sent before the stop
			}
			if !f.Stopped {
				t.Errorf("the stopped event's figures are not marked stopped: %q", text)
			}
			if _, _, err := st.next(); err != io.EOF {
				t.Errorf("after the stopped event: %v, want the end of the stream", err)
			}
			return f
		}
	}
	last := stopped(st)
	if late := stopped(watch(t, ts.URL)); late.Phase != last.Phase {
		t.Errorf("a later viewer's last figures %q, want %q", late.Phase, last.Phase)
	}
	calls := c.calls.Load()
	time.Sleep(50 * time.Millisecond)
	if n := c.calls.Load(); n != calls {
		t.Errorf("the source was called %d times after Stop", n-calls)
	}
	resp, err := http.Get(ts.URL + "/figures.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var f Figures
	if err := json.NewDecoder(resp.Body).Decode(&f); err != nil {
		t.Fatal(err)
	}
	if !f.Stopped || f.Phase != last.Phase {
		t.Errorf("/figures.json after Stop: stopped %v, phase %q; want true, %q", f.Stopped, f.Phase, last.Phase)
	}
	s.Stop() // a second Stop does nothing
}

// TestClose: Close ends every stream without a stopped event.
func TestClose(t *testing.T) {
	var c counter
	s := New(c.figs, Options{Tick: 10 * time.Millisecond})
	ts := serve(t, s)
	st := watch(t, ts.URL)
	if _, _, err := st.next(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for {
		text, _, err := st.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(text, "event: stopped") {
			t.Fatalf("Close sent a stopped event")
		}
	}
}

// TestViewerGone: a viewer that leaves is forgotten, and the source is
// no longer called for it.
func TestViewerGone(t *testing.T) {
	var c counter
	s := New(c.figs, Options{Tick: 5 * time.Millisecond})
	ts := serve(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	bufio.NewReader(resp.Body).ReadString('\n')
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.viewers)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d viewers still registered after the only one left", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSendReplaces: a viewer still writing gets the newest frame in place
// of the one waiting, and the sender never blocks.
func TestSendReplaces(t *testing.T) {
	v := make(chan frame, 1)
	for i := range 3 {
		send(v, frame{b: []byte{byte(i)}})
	}
	if f := <-v; f.b[0] != 2 {
		t.Errorf("the viewer got frame %d, want the newest, 2", f.b[0])
	}
	select {
	case f := <-v:
		t.Errorf("a second frame %d waits", f.b[0])
	default:
	}
}

// TestPage: / is the page, every asset it names is served from the
// binary, and other paths are not found.
func TestPage(t *testing.T) {
	var c counter
	ts := serve(t, New(c.figs, Options{}))
	get := func(path string) (int, string, string) {
		t.Helper()
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	code, ct, page := get("/")
	if code != 200 || !strings.HasPrefix(ct, "text/html") || !strings.Contains(page, `id="kpi-abandoned"`) {
		t.Fatalf("/: %d %q:\n%.300s", code, ct, page)
	}
	refs := regexp.MustCompile(`(?:src|href)="(assets/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 4 {
		t.Fatalf("the page names %d assets, want the script, styles and uPlot's", len(refs))
	}
	for _, m := range refs {
		if code, _, body := get("/" + m[1]); code != 200 || len(body) == 0 {
			t.Errorf("%s: %d, %d bytes", m[1], code, len(body))
		}
		if strings.Contains(m[1], "//") {
			t.Errorf("%s: not from the binary", m[1])
		}
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Errorf("the page loads something from the network")
	}
	for _, p := range []string{"/nope", "/assets/nope.js"} {
		if code, _, _ := get(p); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, code)
		}
	}
}

// TestMountedUnderPrefix: the page's paths are relative, so the handler
// works under a prefix.
func TestMountedUnderPrefix(t *testing.T) {
	var c counter
	s := New(c.figs, Options{})
	mux := http.NewServeMux()
	mux.Handle("/dash/", http.StripPrefix("/dash", s))
	ts := httptest.NewServer(mux)
	defer ts.Close()
	defer s.Close()
	for _, p := range []string{"/dash/", "/dash/assets/app.js", "/dash/figures.json"} {
		resp, err := http.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
}

// TestRates: the derived rates against hand-computed ones.
func TestRates(t *testing.T) {
	f := func(conv, ab, rec int64, wantAb, wantRec float64) {
		t.Helper()
		fig := Figures{Carts: &Carts{Converted: conv, Abandoned: ab, Recovered: rec, AbandonmentRate: 9, RecoveryRate: 9}}
		fig.fill()
		if fig.Carts.AbandonmentRate != wantAb || fig.Carts.RecoveryRate != wantRec {
			t.Errorf("converted %d abandoned %d recovered %d: rates %v %v, want %v %v", conv, ab, rec,
				fig.Carts.AbandonmentRate, fig.Carts.RecoveryRate, wantAb, wantRec)
		}
	}
	f(0, 0, 0, 0, 0)
	f(3, 1, 0, 0.25, 0)
	f(0, 4, 1, 1, 0.25)
	f(1, 1, 1, 0.5, 1)
	var none Figures
	none.fill() // no Carts: nothing to fill
}
