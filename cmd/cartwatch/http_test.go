package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cartwatch/cartwatch/dash"
)

// busyPort returns a loopback address something listens on until the test
// ends.
func busyPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// freePort returns a loopback address nothing listens on (just now).
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestRunHTTPBusy: run --http on a busy port exits 2 naming the flag
// before anything is read or written; an address without a host binds the
// loopback interface.
func TestRunHTTPBusy(t *testing.T) {
	out := filepath.Join(t.TempDir(), "alerts.json")
	busy := busyPort(t)
	code, stdout, stderr := runArgs("run", "--http", busy, "--alerts", out, "-")
	if code != exitUsage || !strings.Contains(stderr, "--http "+busy+": the port is busy") || stdout != "" {
		t.Errorf("run --http busy: exit %d, stderr %q; want exit 2 naming --http", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("run --http busy created %s", out)
	}

	if ln, err := listenHTTP(":0"); err != nil {
		t.Fatal(err)
	} else {
		if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
			t.Errorf("--http :0 binds %v, want the loopback interface", ip)
		}
		ln.Close()
	}

}

// getJSON decodes the JSON body of GET url into v.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// lastEvent reads a dashboard's event stream to its end and returns the
// figures of the stopped event, which must be the last.
func lastEvent(t *testing.T, body io.Reader) dash.Figures {
	t.Helper()
	r := bufio.NewReader(body)
	stopped := false
	var f dash.Figures
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			if !stopped {
				t.Fatalf("the stream ended without the stopped event (%v)", err)
			}
			return f
		}
		if l == "event: stopped\n" {
			stopped = true
		}
		if js, ok := strings.CutPrefix(l, "data: "); ok {
			f = dash.Figures{}
			if err := json.Unmarshal([]byte(js), &f); err != nil {
				t.Fatalf("%q: %v", js, err)
			}
			if stopped {
				return f
			}
		}
	}
}
