package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/internal/syncbuf"
)

// TestPrometheusScrapesDemo: Debian's prometheus, started on loopback with
// a 1 s scrape interval, scrapes a running `cartwatch demo --http`; its
// query API returns the expected series, and the events counted rise.
// SKIP without prometheus, FAIL under CI=true.
func TestPrometheusScrapesDemo(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("prometheus not found (apt-get install -y prometheus); CI must have it")
		}
		t.Skip("SKIP: prometheus not found (apt-get install -y prometheus)")
	}
	if testing.Short() {
		t.Skip("SKIP: -short")
	}
	demoAddr, promAddr := freePort(t), freePort(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `global:
  scrape_interval: 1s
scrape_configs:
  - job_name: cartwatch
    static_configs:
      - targets: [%q]
`, demoAddr), 0o644); err != nil {
		t.Fatal(err)
	}

	// The demo: the synthetic day, at a pace that keeps it running for the
	// test (24 h in ~40 s), stopped when the test is done.
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncbuf.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"demo", "--synthetic", "--speedup", "2000", "--http", demoAddr}, &stdout, &stderr)
	}()
	defer func() {
		cancel()
		select {
		case c := <-code:
			if c != exitOK {
				t.Errorf("demo: exit %d\n%s", c, stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Errorf("the demo did not stop")
		}
	}()

	cmd := exec.Command(prom, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	var promLog syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &promLog, &promLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()

	// query returns the value of each series of q, by its labels.
	query := func(q string) (map[string]float64, error) {
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var r struct {
			Status string
			Data   struct {
				Result []struct {
					Metric map[string]string
					Value  [2]any
				}
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return nil, err
		}
		if r.Status != "success" {
			return nil, fmt.Errorf("status %s", r.Status)
		}
		out := map[string]float64{}
		for _, s := range r.Data.Result {
			v, _ := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
			out[fmt.Sprint(s.Metric)] = v
		}
		return out, nil
	}
	total := func() float64 {
		r, err := query(`sum(cartwatch_events_total)`)
		if err != nil || len(r) != 1 {
			return -1
		}
		for _, v := range r {
			return v
		}
		return -1
	}

	// Wait for the first events through the engine, then for more.
	var first float64
	deadline := time.Now().Add(60 * time.Second)
	for first = total(); first <= 0 && time.Now().Before(deadline); first = total() {
		time.Sleep(500 * time.Millisecond)
	}
	if first <= 0 {
		t.Fatalf("prometheus has no cartwatch_events_total after 60 s\nprometheus:\n%s\ndemo:\n%s", promLog.String(), stderr.String())
	}
	var later float64
	for later = total(); later <= first && time.Now().Before(deadline.Add(20*time.Second)); later = total() {
		time.Sleep(500 * time.Millisecond)
	}
	if later <= first {
		t.Errorf("cartwatch_events_total did not rise: %v, then %v", first, later)
	}
	for _, q := range []string{
		`cartwatch_events_total{type="cart"}`, "cartwatch_open_carts", "cartwatch_carts_opened_total",
		"cartwatch_watermark_timestamp_seconds", "cartwatch_kafka_consumer_lag_records",
		"cartwatch_kafka_records_consumed_total", "cartwatch_shard_queue_batches", "cartwatch_alert_latency_seconds_count",
		"cartwatch_build_info", "go_goroutines", "process_resident_memory_bytes",
		`rate(cartwatch_kafka_records_consumed_total[5s])`,
	} {
		r, err := query(q)
		if err != nil || len(r) == 0 {
			t.Errorf("query %s: %v, %d series", q, err, len(r))
		}
	}
}
