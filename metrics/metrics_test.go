package metrics

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
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
	// Hand-made carts after the synthetic rows' 20 minutes, for the shop
	// figures (the synthetic users are too many to come back): user 7
	// converts 100 s after the cart, user 8's cart is abandoned at 00:35
	// and recovered by a purchase at 01:00 (a delay of 1,800 s), user 9's
	// is abandoned with an item of category "other" and one of "unknown".
	rows = append(rows, `2019-11-01 00:30:00 UTC,cart,1,2,electronics.x,,10.00,7,s7
2019-11-01 00:30:00 UTC,cart,1,2,,,5.00,8,s8
2019-11-01 00:30:00 UTC,cart,1,2,other.stuff,,2.50,9,s9
2019-11-01 00:30:00 UTC,cart,1,2,unknown,,1.25,9,s9
2019-11-01 00:31:40 UTC,purchase,1,2,electronics.x,,10.00,7,s7
2019-11-01 01:00:00 UTC,purchase,1,2,,,5.00,8,s8
`...)
	live := new(core.Live)
	src := core.ReaderSource(bytes.NewReader(rows))
	sum, err := core.Run(context.Background(), src, core.Options{TTL: 5 * time.Minute, Shards: 2, Parsers: 2,
		ChunkBytes: 256 << 10, MaxFuture: -1, Live: live}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Abandoned == 0 || sum.Purchases == 0 || sum.Malformed != 2 || sum.RecoveredCarts == 0 || sum.CartToPurchase.Carts < 2 {
		t.Fatalf("the input does not exercise the figures: %+v", sum)
	}
	m := New(Sources{Live: live,
		Consumer: fakeConsumer{Records: 7, Partitions: []int32{0, 3}, PartLag: []int64{5, -1}, Commits: 2, CommitErrs: 1, Restored: 4, Snapshots: 9},
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
				for _, b := range mt.Histogram.Bucket {
					out[fmt.Sprintf("%s_bucket{le=%q}", key, strconv.FormatFloat(b.GetUpperBound(), 'f', -1, 64))] = float64(b.GetCumulativeCount())
				}
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
		"cartwatch_carts_recovered_total":                     float64(sum.RecoveredCarts),
		"cartwatch_recovered_value_total":                     float64(sum.RecoveredValueCents) / 100,
		"cartwatch_cart_to_purchase_delay_seconds_count":      float64(sum.CartToPurchase.Carts),
		`cartwatch_shard_queue_batches{shard="0"}`:            0,
		`cartwatch_shard_queue_batches{shard="1"}`:            0,
		"cartwatch_kafka_records_consumed_total":              7,
		`cartwatch_kafka_consumer_lag_records{partition="0"}`: 5,
		"cartwatch_kafka_offset_commits_total":                2,
		"cartwatch_kafka_offset_commit_errors_total":          1,
		"cartwatch_kafka_partitions_restored_total":           4,
		"cartwatch_kafka_snapshots_written_total":             9,
		"cartwatch_kafka_alerts_produced_total":               11,
		"cartwatch_kafka_dlq_messages_total":                  3,
		"cartwatch_kafka_produce_failures_total":              1,
		"cartwatch_alert_latency_seconds_count":               2,
		"cartwatch_alert_latency_seconds_sum":                 1.5,
	}
	// The delay histogram: the bucket le="E-1" holds the summary's
	// buckets below E seconds, and at each TTL of the advisor its caught
	// carts.
	var cum int64
	for _, b := range sum.CartToPurchase.Buckets {
		cum += b.Carts
		if b.ToSeconds > 0 {
			want[fmt.Sprintf(`cartwatch_cart_to_purchase_delay_seconds_bucket{le="%d"}`, b.ToSeconds-1)] = float64(cum)
		}
	}
	for _, a := range sum.TTLAdvisor {
		if k := fmt.Sprintf(`cartwatch_cart_to_purchase_delay_seconds_bucket{le="%d"}`, a.TTLSeconds-1); want[k] != float64(a.Caught) {
			t.Errorf("%s: %v in the histogram, the advisor caught %d", k, want[k], a.Caught)
		}
	}
	// Categories and hours: every one of the summary's, and no other.
	series := func(prefix string) int {
		n := 0
		for k := range got {
			if strings.HasPrefix(k, prefix) {
				n++
			}
		}
		return n
	}
	// The summary lists a category named "unknown" (user 9's) apart from
	// the items without one; the metrics add them up under one label value.
	cats := map[string]core.Tally{}
	for _, c := range sum.AbandonedByCategory {
		t := cats[c.Category]
		t.Items, t.Value = t.Items+c.Items, t.Value+c.ValueCents
		cats[c.Category] = t
	}
	for c, t := range cats {
		want[fmt.Sprintf(`cartwatch_abandoned_items_by_category_total{category=%q}`, c)] = float64(t.Items)
		want[fmt.Sprintf(`cartwatch_abandoned_value_by_category_total{category=%q}`, c)] = float64(t.Value) / 100
	}
	for _, h := range sum.AbandonedByHour {
		want[fmt.Sprintf(`cartwatch_abandoned_items_by_hour_total{hour="%02d"}`, h.Hour)] = float64(h.Items)
		want[fmt.Sprintf(`cartwatch_abandoned_value_by_hour_total{hour="%02d"}`, h.Hour)] = float64(h.ValueCents) / 100
	}
	for _, c := range []struct {
		prefix string
		n      int
	}{
		{"cartwatch_abandoned_items_by_category_total{", len(cats)},
		{"cartwatch_abandoned_value_by_category_total{", len(cats)},
		{"cartwatch_abandoned_items_by_hour_total{", 24},
		{"cartwatch_abandoned_value_by_hour_total{", 24},
		{"cartwatch_cart_to_purchase_delay_seconds_bucket{", len(core.DelayEdges)}, // and +Inf, the count
	} {
		if n := series(c.prefix); n != c.n {
			t.Errorf("%d series %s...}, want %d", n, c.prefix, c.n)
		}
	}
	for _, k := range []string{`cartwatch_abandoned_items_by_category_total{category="electronics"}`,
		`cartwatch_abandoned_items_by_category_total{category="unknown"}`,
		`cartwatch_abandoned_items_by_category_total{category="other"}`} {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: the input does not exercise it", k)
		}
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, w)
		}
	}
	if g := got[`cartwatch_kafka_consumer_lag_records{partition="3"}`]; !math.IsNaN(g) {
		t.Errorf("the lag of a partition not fetched yet is %v, want NaN", g)
	}
	// The rows' last event time: the hand-made purchase at 01:00; the lag
	// is the fixed wall clock minus it.
	wm, ok := got[`cartwatch_watermark_timestamp_seconds{partition="0"}`]
	if !ok || wm != 1572566400+3600 {
		t.Fatalf("watermark %v (present %v), want the last row's time, 01:00", wm, ok)
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

// TestDelayBuckets: a hand-counted histogram as Prometheus reads it. The
// delays are whole seconds and a bucket holds [from, to), so the delays
// below E seconds are those <= E-1: 0 and 299 s are below the 5 m edge,
// 300 s is not; a delay past the last edge counts only in +Inf.
func TestDelayBuckets(t *testing.T) {
	var h core.DelayHistogram
	for _, d := range []int64{0, 299, 300, 419, 40 * 86400} {
		h.Observe(d)
	}
	var out dto.Metric
	if err := delayHistogram(&h).Write(&out); err != nil {
		t.Fatal(err)
	}
	got := map[float64]uint64{}
	for _, b := range out.Histogram.Bucket {
		got[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	f := func(le float64, want uint64) {
		t.Helper()
		if g, ok := got[le]; !ok || g != want {
			t.Errorf("le=%v: %d (present %v), want %d", le, g, ok, want)
		}
	}
	f(9, 1)
	f(299, 2)
	f(419, 4) // 7 m - 1 s: 300 and 419
	f(2591999, 4)
	if _, ok := got[300]; ok {
		t.Errorf("a bucket le=300: it would count the delay of 300 s, which is not below 5 m")
	}
	if c, s := out.Histogram.GetSampleCount(), out.Histogram.GetSampleSum(); c != 5 || s != 299+300+419+40*86400 {
		t.Errorf("count %d sum %v, want 5 and %d", c, s, 299+300+419+40*86400)
	}
}

// TestCategoryLabels: the category label has one value per name, a name
// "unknown" or "other" shares the special one's, and so there are at
// most core.MaxCategories+2 values.
func TestCategoryLabels(t *testing.T) {
	var c core.CategoryTallies
	name := func(s string) (n core.CategoryName) {
		n.Len = uint8(copy(n.Name[:], s))
		return n
	}
	for i, s := range []string{"apparel", "other", "unknown"} {
		c.Names[i], c.Tallies[i] = name(s), core.Tally{Items: int64(i + 1), Value: 100}
	}
	c.N = 3
	c.Unknown, c.Other = core.Tally{Items: 10, Value: 1000}, core.Tally{Items: 20, Value: 2000}
	got := fmt.Sprint(categories(&c))
	if want := "[{apparel {1 100}} {unknown {13 1100}} {other {22 2100}}]"; got != want {
		t.Errorf("categories: %s, want %s", got, want)
	}
	c = core.CategoryTallies{N: core.MaxCategories, Unknown: core.Tally{Items: 1}, Other: core.Tally{Items: 1}}
	for i := range c.N {
		c.Names[i], c.Tallies[i] = name(fmt.Sprintf("c%02d", i)), core.Tally{Items: 1}
	}
	if n := len(categories(&c)); n != core.MaxCategories+2 {
		t.Errorf("%d label values, want %d", n, core.MaxCategories+2)
	}
}
