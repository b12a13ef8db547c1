package dash

import (
	"bytes"
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"sync"
	"time"
)

//go:embed assets
var assets embed.FS

// DefaultTick is how often the figures are sent when Options.Tick is 0.
const DefaultTick = time.Second

// Options configure a Server.
type Options struct {
	// Tick is how often the figures are computed and sent to the
	// viewers. 0: DefaultTick.
	Tick time.Duration
}

// Server is the dashboard: an http.Handler serving the page at /, its
// assets under /assets/, the figures as server-sent events at /events
// and one snapshot as JSON at /figures.json. Its paths are relative, so
// it can be mounted under a prefix with http.StripPrefix.
//
// Once per tick, and only while someone watches, the Server calls the
// source once, encodes its Figures once and hands the same bytes to every
// viewer: a viewer costs one write per tick, not one look at the engine.
// A viewer that cannot keep up skips to the newest figures; it never
// holds back the others. Safe for concurrent use.
type Server struct {
	figs func() Figures
	tick time.Duration
	mux  *http.ServeMux

	figsMu sync.Mutex // one call of figs at a time

	mu      sync.Mutex
	viewers map[chan frame]struct{}
	last    frame // the newest frame sent (the stopped one after Stop); last.at is zero before the first
	stopped bool

	stop chan struct{} // closed by Stop or Close: the ticks end
	quit chan struct{} // closed by Close: every stream ends
	done chan struct{} // closed when the tick goroutine has returned
	once sync.Once     // closes quit
}

// frame is one server-sent event, ready to write.
type frame struct {
	b    []byte
	at   time.Time
	last bool // the stopped event: the stream ends after it
}

// New returns a Server whose figures come from figs, called at most once
// per tick from one goroutine at a time; it may return groups (pointers,
// slices) that the Server changes, so it returns fresh ones each time.
// Stop ends the figures with a stopped event; Close ends the Server.
func New(figs func() Figures, opt Options) *Server {
	if opt.Tick <= 0 {
		opt.Tick = DefaultTick
	}
	s := &Server{figs: figs, tick: opt.Tick, mux: http.NewServeMux(), viewers: map[chan frame]struct{}{},
		stop: make(chan struct{}), quit: make(chan struct{}), done: make(chan struct{})}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	s.mux.Handle("GET /{$}", http.HandlerFunc(s.page))
	s.mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(static)))
	s.mux.Handle("GET /events", http.HandlerFunc(s.events))
	s.mux.Handle("GET /figures.json", http.HandlerFunc(s.snapshot))
	go s.run()
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Stop takes the figures one last time, marked stopped, and sends them to
// every viewer as the stopped event; the streams then end, and a viewer
// who comes later gets that last snapshot. It waits for the ticks to end;
// calls after the first do nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		<-s.done
		return
	}
	s.stopped = true
	close(s.stop)
	s.mu.Unlock()
	<-s.done // no tick runs the source now

	f := s.take(true)
	s.mu.Lock()
	s.last = f
	for v := range s.viewers {
		send(v, f)
	}
	s.mu.Unlock()
}

// Close ends the ticks and every stream at once, without a stopped
// event (use Stop first for that). The handler keeps serving the page.
func (s *Server) Close() {
	s.mu.Lock()
	if !s.stopped {
		s.stopped = true
		close(s.stop)
	}
	s.mu.Unlock()
	s.once.Do(func() { close(s.quit) })
	<-s.done
}

// run computes and sends the figures every tick while someone watches.
func (s *Server) run() {
	defer close(s.done)
	t := time.NewTicker(s.tick)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.tick1()
	}
}

// tick1 is one tick: the figures, taken once if anyone watches, to every
// viewer.
func (s *Server) tick1() {
	s.mu.Lock()
	n := len(s.viewers)
	s.mu.Unlock()
	if n == 0 {
		return
	}
	f := s.take(false)
	s.mu.Lock()
	if !s.stopped {
		s.last = f
		for v := range s.viewers {
			send(v, f)
		}
	}
	s.mu.Unlock()
}

// send hands f to a viewer without waiting: a viewer still writing the
// previous frame gets f in its place (s.mu held: the only sender).
func send(v chan frame, f frame) {
	select {
	case v <- f:
		return
	default:
	}
	select {
	case <-v:
	default:
	}
	v <- f
}

// take calls the source and encodes its figures; last marks them stopped.
func (s *Server) take(last bool) frame {
	s.figsMu.Lock()
	defer s.figsMu.Unlock()
	fig := s.figs()
	fig.Stopped = last
	return s.encode(&fig, last)
}

// encode returns fig as a server-sent event: "data: {json}\n\n", or with
// "event: stopped" before it for the last one.
func (s *Server) encode(fig *Figures, last bool) frame {
	now := time.Now()
	fig.Time = now.UnixMilli()
	fig.fill()
	js, err := json.Marshal(fig)
	if err != nil {
		// Figures holds no type json cannot write, but a NaN rate could
		// come in from a source: say so on the page rather than fail.
		js, _ = json.Marshal(Figures{Title: fig.Title, Phase: "figures not encodable: " + err.Error(), Stopped: fig.Stopped, Time: fig.Time})
	}
	var b bytes.Buffer
	b.Grow(len(js) + 32)
	if last {
		b.WriteString("event: stopped\n")
	}
	b.WriteString("data: ")
	b.Write(js)
	b.WriteString("\n\n")
	return frame{b: b.Bytes(), at: now, last: last}
}

// current returns the newest frame, taking the figures now when the one
// kept is older than a tick (nobody was watching). After Stop it is the
// stopped frame, or, while Stop takes that, the last before it.
func (s *Server) current() frame {
	s.mu.Lock()
	if s.stopped || time.Since(s.last.at) < s.tick {
		defer s.mu.Unlock()
		return s.last
	}
	s.mu.Unlock()
	f := s.take(false)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return s.last
	}
	if f.at.After(s.last.at) {
		s.last = f
	}
	return s.last
}

// events streams the figures: the newest at once, then one per tick,
// until the stopped event, the viewer leaves or Close.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // a proxy in front must not hold the events back
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives a server's WriteTimeout; not every writer can say so

	// Registered before the first frame is taken, so the stopped event
	// cannot pass between the two: it is either the first frame or comes
	// on v (a tick in between may send a frame twice, which is harmless).
	v := make(chan frame, 1)
	s.mu.Lock()
	s.viewers[v] = struct{}{}
	s.mu.Unlock()
	f := s.current()
	defer func() {
		s.mu.Lock()
		delete(s.viewers, v)
		s.mu.Unlock()
	}()

	// EventSource reconnects this long after a dropped stream.
	if _, err := w.Write([]byte("retry: 2000\n\n")); err != nil {
		return
	}
	for {
		if f.b != nil {
			if _, err := w.Write(f.b); err != nil {
				return
			}
		}
		if err := rc.Flush(); err != nil || f.last {
			return
		}
		select {
		case f = <-v:
		case <-r.Context().Done():
			return
		case <-s.quit:
			return
		}
	}
}

// snapshot writes the newest figures as one JSON object.
func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	f := s.current()
	js := bytes.TrimSuffix(bytes.TrimPrefix(f.b, []byte("event: stopped\n")), []byte("\n\n"))
	js = bytes.TrimPrefix(js, []byte("data: "))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(append(js, '\n'))
}

// page serves the page itself.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	b, err := assets.ReadFile("assets/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}
