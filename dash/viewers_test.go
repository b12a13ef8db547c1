package dash

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Many viewers on loopback: what one tick costs with 1, 10 and 100 of
// them (the target: 100 viewers add at most 20 MiB of RSS and slow
// the engine by at most 3 %; the engine's side is measured with the
// engine, here only the dashboard's).
//
//	go test -run '^$' -bench Viewers -benchtime 300x ./dash
//
// ns/op is one tick, from taking the figures to the last viewer's read of
// them: at the default tick of 1 s, ns/op / 1e9 is the share of a core the
// viewers cost (server and clients: both are in this process). B/tick is
// what all viewers read per tick, rss-MiB the resident memory added by the
// Server and its viewers' connections (clients included: an upper bound).

// viewers are n clients of a Server's /events in this process.
type viewers struct {
	s     *Server
	ts    *httptest.Server
	n     int
	read  atomic.Int64  // bytes read by all
	evs   chan struct{} // one token per event read by a viewer
	last  []atomic.Pointer[[]byte]
	close func()
}

func watchN(tb testing.TB, s *Server, n int) *viewers {
	tb.Helper()
	v := &viewers{s: s, ts: httptest.NewServer(s), n: n, evs: make(chan struct{}, n), last: make([]atomic.Pointer[[]byte], n)}
	var wg sync.WaitGroup
	resps := make([]*http.Response, n)
	tr := &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: 0}
	cl := &http.Client{Transport: tr}
	for i := range n {
		resp, err := cl.Get(v.ts.URL + "/events")
		if err != nil {
			tb.Fatal(err)
		}
		resps[i] = resp
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := bufio.NewReaderSize(resp.Body, 16<<10)
			var ev []byte
			for {
				l, err := r.ReadSlice('\n')
				if err != nil {
					return
				}
				v.read.Add(int64(len(l)))
				if len(l) > 1 {
					ev = append(ev, l...)
					continue
				}
				if bytes.HasPrefix(ev, []byte("retry:")) {
					ev = ev[:0]
					continue
				}
				e := bytes.Clone(ev)
				v.last[i].Store(&e)
				ev = ev[:0]
				v.evs <- struct{}{}
			}
		}()
	}
	v.wait() // every viewer has its first figures
	v.close = func() {
		s.Close()
		for _, r := range resps {
			r.Body.Close()
		}
		v.ts.Close()
		wg.Wait()
		tr.CloseIdleConnections()
	}
	return v
}

// wait waits until each viewer has read one more event.
func (v *viewers) wait() {
	for range v.n {
		<-v.evs
	}
}

// tick sends one tick and waits until every viewer has read it.
func (v *viewers) tick() {
	v.s.tick1()
	v.wait()
}

// rssBytes is this process's resident memory (Linux); 0 elsewhere.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(f), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestHundredViewers: 100 viewers on loopback each read every tick's
// event byte for byte the same, and the source is called once per tick.
func TestHundredViewers(t *testing.T) {
	var src liveSource
	s := New(src.figs, Options{Tick: time.Hour}) // ticks by hand
	rss0 := rssBytes()
	v := watchN(t, s, 100)
	defer v.close()
	calls0, read0 := src.n.Load(), v.read.Load()
	const ticks = 5
	for range ticks {
		v.tick()
		first := v.last[0].Load()
		for i := range v.last {
			if got := v.last[i].Load(); !bytes.Equal(*got, *first) {
				t.Fatalf("viewer %d read %.80q, viewer 0 %.80q", i, *got, *first)
			}
		}
	}
	if calls := src.n.Load() - calls0; calls != ticks {
		t.Errorf("%d calls of the source for %d ticks to 100 viewers, want one a tick", calls, ticks)
	}
	t.Logf("100 viewers: %d bytes a tick in all; RSS %+.1f MiB (server and clients)",
		(v.read.Load()-read0)/ticks, float64(rssBytes()-rss0)/(1<<20))
}

func BenchmarkViewers(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var src liveSource
			runtime.GC()
			rss0 := rssBytes()
			s := New(src.figs, Options{Tick: time.Hour})
			v := watchN(b, s, n)
			defer v.close()
			read0 := v.read.Load()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				v.tick()
			}
			b.StopTimer()
			b.ReportMetric(float64(v.read.Load()-read0)/float64(b.N), "B/tick")
			b.ReportMetric(float64(rssBytes()-rss0)/(1<<20), "rss-MiB")
		})
	}
}
