package main

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/dash"
)

// TestRunHTTP: run --http serves /metrics while it runs (on a pipe that
// stays open) with the figures so far, and stops serving when it ends.
func TestRunHTTP(t *testing.T) {
	addr := freePort(t)
	cmd := cartwatchCmd(t, "run", "--http", addr, "--chunk-size", "65536", "--progress", "off", "-")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	run := startWait(t, cmd)
	// More than the first chunk (1 MiB from a pipe): the engine counts it
	// and waits for the rest.
	header := strings.SplitN(csvIn, "\n", 2)[0] + "\n"
	if _, err := io.WriteString(stdin, header+cartRows(25_000)); err != nil {
		t.Fatal(err)
	}
	carts := regexp.MustCompile(`(?m)^cartwatch_events_total\{type="cart"\} (\S+)$`)
	var body string
	n := 0.0
	for deadline := time.Now().Add(20 * time.Second); n == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		if m := carts.FindStringSubmatch(body); m != nil {
			n, _ = strconv.ParseFloat(m[1], 64)
		}
	}
	if n == 0 || !strings.Contains(body, "cartwatch_build_info{") || !strings.Contains(body, `cartwatch_watermark_timestamp_seconds{partition="0"}`) {
		t.Fatalf("GET /metrics during the run: no carts counted\n%.3000s", body)
	}
	// The dashboard at /, its figures from the engine, and a viewer who
	// stays gets the stopped event when the run ends.
	if resp, err := http.Get("http://" + addr + "/"); err != nil || resp.StatusCode != 200 ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / during the run: %v %v", resp, err)
	}
	var during dash.Figures
	getJSON(t, "http://"+addr+"/figures.json", &during)
	if during.Engine == nil || during.Engine.EventsConsumed == 0 || during.Carts == nil || during.Carts.Opened == 0 ||
		during.Phase != "running" || !strings.HasPrefix(during.Title, "cartwatch run") {
		t.Errorf("the figures during the run: %+v, engine %+v, carts %+v", during, during.Engine, during.Carts)
	}
	ev, err := http.Get("http://" + addr + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Body.Close()
	stdin.Close()
	if code := run.exit(t, 20*time.Second); code != exitOK {
		t.Fatalf("run: exit %d\n%s", code, stderr.String())
	}
	last := lastEvent(t, ev.Body)
	if !last.Stopped || !strings.HasPrefix(last.Phase, "done") || last.Carts == nil || last.Carts.Opened != 25_000 {
		t.Errorf("the last event: stopped %v, phase %q, carts %+v; want stopped, done, 25,000 carts opened", last.Stopped, last.Phase, last.Carts)
	}
	if !strings.Contains(stdout.String(), "carts") {
		t.Errorf("no summary: %q", stdout.String())
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Errorf("still serving after the run ended")
	}
}
