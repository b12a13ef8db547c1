package main

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
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
	stdin.Close()
	if code := run.exit(t, 20*time.Second); code != exitOK {
		t.Fatalf("run: exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "carts") {
		t.Errorf("no summary: %q", stdout.String())
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Errorf("still serving after the run ended")
	}
}
