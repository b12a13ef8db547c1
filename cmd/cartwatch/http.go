package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/cartwatch/cartwatch/metrics"
)

// The --http server of run, consume and demo: one http.ServeMux with
// /metrics (package metrics) and, at /, the dashboard's handler.

// defaultHTTP is --http's default for consume and demo (run serves nothing
// unless given --http).
const defaultHTTP = "127.0.0.1:8080"

// httpUsage is the help of --http.
const httpUsage = "serve /metrics (Prometheus) and the dashboard at / on `ADDR` (host:port; no host: 127.0.0.1; 0.0.0.0:PORT for every interface)"

// listenHTTP binds --http's address before the command does any work, so a
// busy port is a bad command line (exit 2) and nothing has started. An
// address without a host binds the loopback interface: the metrics and the
// page are served to other machines only when asked to.
func listenHTTP(addr string) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, usagef("--http %q: want host:port, e.g. %s", addr, defaultHTTP)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		if errors.Is(err, errAddrInUse) {
			return nil, usagef("--http %s: the port is busy (another cartwatch?); give another, e.g. --http 127.0.0.1:0 for any free one", addr)
		}
		return nil, usagef("--http %s: %v", addr, err)
	}
	return ln, nil
}

var errAddrInUse = syscall.EADDRINUSE

// httpServer serves a command's mux on its listener until stopped.
type httpServer struct {
	srv  *http.Server
	done chan error
}

// newMux is the one mux of a command: /metrics and, when root is not nil
// (tests), the dashboard at /.
func newMux(m *metrics.Metrics, root http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	if root != nil {
		// The dashboard (package dash) mounts here, and only here.
		mux.Handle("/", root)
	}
	return mux
}

// serveHTTP serves h on ln in a goroutine of its own.
func serveHTTP(ln net.Listener, h http.Handler) *httpServer {
	s := &httpServer{srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, done: make(chan error, 1)}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return s
}

// stop shuts the server down gracefully: no new connections, the requests
// in flight (a scrape) get up to a second, then every connection is closed
// (a dashboard's event stream never ends by itself).
func (s *httpServer) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
	if err := <-s.done; err != nil {
		return fmt.Errorf("--http: %w", err)
	}
	return nil
}
