package metrics

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/core"
	"github.com/cartwatch/cartwatch/internal/testrows"
	"github.com/cartwatch/cartwatch/kafka"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
)

type fakeConsumer kafka.ConsumerStats

func (f fakeConsumer) Stats() kafka.ConsumerStats { return kafka.ConsumerStats(f) }

type fakeSink kafka.SinkCounts

func (f fakeSink) Counts() kafka.SinkCounts { return kafka.SinkCounts(f) }

// runKnown runs the engine over made-up rows with two malformed ones, and
// returns the metrics of its Live (and of fixed Kafka figures) and its
// Summary.
func runKnown(t *testing.T) (*Metrics, core.Summary) {
	t.Helper()
	rows, _ := testrows.SyntheticRows(30000)
	rows = append(rows, "not,a,row\n2019-11-01 00:00:00 UTC,cart,1,2,,,-1.00,5,s\n"...)
	live := new(core.Live)
	src := core.ReaderSource(bytes.NewReader(rows))
	sum, err := core.Run(context.Background(), src, core.Options{TTL: 5 * time.Minute, Shards: 2, Parsers: 2,
		ChunkBytes: 256 << 10, MaxFuture: -1, Live: live}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Abandoned == 0 || sum.Purchases == 0 || sum.Malformed != 2 {
		t.Fatalf("the input does not exercise the figures: %+v", sum)
	}
	m := New(Sources{Live: live,
		Consumer: fakeConsumer{Records: 7, Partitions: []int32{0, 3}, PartLag: []int64{5, -1}, Commits: 2, CommitErrs: 1},
		Sink:     fakeSink{Alerts: 11, Rejects: 3, Failed: 1},
		Now:      func() time.Time { return time.Unix(1572566400+86400, 0) }})
	m.ObserveAlertLatency(1500 * time.Millisecond)
	m.ObserveAlertLatency(-time.Second)
	return m, sum
}

// values gathers m: each sample as "name{labels}" -> value (a histogram's
// count and sum as name_count, name_sum).
func values(t *testing.T, m *Metrics) (map[string]float64, []*dto.MetricFamily) {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, mt := range mf.Metric {
			var ls []string
			for _, l := range mt.Label {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			key := mf.GetName()
			if len(ls) > 0 {
				key += "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case mt.Counter != nil:
				out[key] = mt.Counter.GetValue()
			case mt.Gauge != nil:
				out[key] = mt.Gauge.GetValue()
			case mt.Histogram != nil:
				out[key+"_count"] = float64(mt.Histogram.GetSampleCount())
				out[key+"_sum"] = mt.Histogram.GetSampleSum()
			}
		}
	}
	return out, mfs
}

// TestMetricsMatchSummary: every figure exported equals the run's Summary
// (money in the currency's base unit), the Kafka figures their sources',
// the watermark the input's last event time, the lag the wall clock minus
// it; an unknown consumer lag is NaN.
func TestMetricsMatchSummary(t *testing.T) {
	m, sum := runKnown(t)
	got, _ := values(t, m)
	want := map[string]float64{
		`cartwatch_events_total{type="view"}`:                 float64(sum.Views),
		`cartwatch_events_total{type="cart"}`:                 float64(sum.Carts),
		`cartwatch_events_total{type="purchase"}`:             float64(sum.Purchases),
		`cartwatch_events_total{type="other"}`:                float64(sum.OtherEvents),
		"cartwatch_malformed_records_total":                   float64(sum.Malformed),
		"cartwatch_open_carts":                                float64(sum.OpenCarts),
		"cartwatch_carts_opened_total":                        float64(sum.CartsOpened),
		"cartwatch_carts_converted_total":                     float64(sum.Converted),
		"cartwatch_carts_abandoned_total":                     float64(sum.Abandoned),
		"cartwatch_abandoned_value_total":                     float64(sum.AbandonedValueCents) / 100,
		"cartwatch_abandoning_users_total":                    float64(sum.UniqueAbandoningUsers),
		"cartwatch_purchases_direct_total":                    float64(sum.DirectPurchases),
		"cartwatch_purchases_late_total":                      float64(sum.LatePurchases),
		"cartwatch_spending_total":                            float64(sum.SpendingCents) / 100,
		`cartwatch_shard_queue_batches{shard="0"}`:            0,
		`cartwatch_shard_queue_batches{shard="1"}`:            0,
		"cartwatch_kafka_records_consumed_total":              7,
		`cartwatch_kafka_consumer_lag_records{partition="0"}`: 5,
		"cartwatch_kafka_offset_commits_total":                2,
		"cartwatch_kafka_offset_commit_errors_total":          1,
		"cartwatch_kafka_alerts_produced_total":               11,
		"cartwatch_kafka_dlq_messages_total":                  3,
		"cartwatch_kafka_produce_failures_total":              1,
		"cartwatch_alert_latency_seconds_count":               2,
		"cartwatch_alert_latency_seconds_sum":                 1.5,
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, w)
		}
	}
	if g := got[`cartwatch_kafka_consumer_lag_records{partition="3"}`]; !math.IsNaN(g) {
		t.Errorf("the lag of a partition not fetched yet is %v, want NaN", g)
	}
	// The rows' last event time: SyntheticRows starts on Nov 1 and moves
	// a second every ~26 rows; the watermark is the highest, the lag the
	// fixed wall clock minus it.
	wm, ok := got[`cartwatch_watermark_timestamp_seconds{partition="0"}`]
	if !ok || wm < 1572566400 || wm > 1572566400+3600 {
		t.Fatalf("watermark %v (present %v), want within the rows' hour", wm, ok)
	}
	if lag := got[`cartwatch_event_time_lag_seconds{partition="0"}`]; lag != 1572566400+86400-wm {
		t.Errorf("event-time lag %v, want %v", lag, 1572566400+86400-wm)
	}
	for _, k := range []string{"cartwatch_build_info", "go_goroutines", "process_resident_memory_bytes"} {
		found := false
		for g := range got {
			found = found || strings.HasPrefix(g, k)
		}
		if !found {
			t.Errorf("%s is not exported", k)
		}
	}
}

// TestMetricsLint: the names and help pass client_golang's promlint (the
// naming practices: base units, _total counters, ...).
func TestMetricsLint(t *testing.T) {
	m, _ := runKnown(t)
	_, mfs := values(t, m)
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// TestPromtoolCheckMetrics: the /metrics page passes `promtool check
// metrics` (Debian's prometheus package). SKIP without promtool, FAIL
// under CI=true.
func TestPromtoolCheckMetrics(t *testing.T) {
	tool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not found (apt-get install -y prometheus); CI must have it")
		}
		t.Skip("SKIP: promtool not found (apt-get install -y prometheus)")
	}
	m, _ := runKnown(t)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "cartwatch_carts_abandoned_total ") {
		t.Fatalf("GET /metrics: %d\n%s", rec.Code, rec.Body.String())
	}
	cmd := exec.Command(tool, "check", "metrics")
	cmd.Stdin = rec.Body
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
