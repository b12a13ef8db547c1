package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// The Grafana dashboard's check: each PromQL query may name only metrics
// the binary exports. A tokenizer stands in for the PromQL parser
// (github.com/prometheus/prometheus would bring a server's dependencies
// into go.sum for one test); TestMetricNames tests it.

var (
	promStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promRanges   = regexp.MustCompile(`\[[^\]]*\]`)
	promLabels   = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promOffset   = regexp.MustCompile(`\boffset\s+-?[0-9a-z]+`)
	promVars     = regexp.MustCompile(`\$\{?\w+\}?`)
	promNumbers  = regexp.MustCompile(`(?i)(^|[^\w:])(?:0x[0-9a-f]+|[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?|inf|nan)\b`)
	promIdents   = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	promKeywords = []string{"and", "or", "unless", "bool", "by", "without", "on", "ignoring", "group_left", "group_right", "offset"}
)

// metricNames returns the metric names a PromQL expression selects, in
// order: every identifier that is not a function or aggregation (followed
// by "("), a keyword, a label (in braces or a by/on list), a string, a
// number, a range or a Grafana variable.
func metricNames(expr string) []string {
	s := promStrings.ReplaceAllString(expr, " ")
	s = promVars.ReplaceAllString(s, " ")
	s = promMatchers.ReplaceAllString(s, " ")
	s = promRanges.ReplaceAllString(s, " ")
	s = promLabels.ReplaceAllString(s, " ")
	s = promOffset.ReplaceAllString(s, " ")
	s = promNumbers.ReplaceAllString(s, "$1 ")
	var out []string
	for _, m := range promIdents.FindAllStringSubmatch(s, -1) {
		if m[1] != "" || slices.Contains(promKeywords, m[0]) {
			continue
		}
		out = append(out, m[0])
	}
	return out
}

func TestMetricNames(t *testing.T) {
	f := func(expr string, want ...string) {
		t.Helper()
		if got := metricNames(expr); !slices.Equal(got, want) {
			t.Errorf("metricNames(%q) = %q, want %q", expr, got, want)
		}
	}
	f("up", "up")
	f(`cartwatch_open_carts{job="cartwatch", partition=~"1|2"}`, "cartwatch_open_carts")
	f(`sum by (type) (rate(cartwatch_events_total[$__rate_interval]))`, "cartwatch_events_total")
	f(`histogram_quantile(0.99, sum without (shard) (rate(a_bucket[5m] offset 1h)))`, "a_bucket")
	f(`a / on(partition) group_left(x) b > bool 1e3`, "a", "b")
	f(`sum(rate(a[1m])) / ignoring (le) sum(b) * 100 or vector(0) unless c`, "a", "b", "c")
	f(`label_replace(a, "dst", "$1", "src", "(.*)")`, "a")
	f(`max_over_time(x:rate5m[1h:5m]) - 0.5 + Inf`, "x:rate5m")
	f(`increase(cartwatch_abandoned_value_total[${__range}])`, "cartwatch_abandoned_value_total")
}

// exported returns the names a scrape of the metrics holds, with a
// histogram's _bucket, _sum and _count.
func exported(mfs []*dto.MetricFamily) map[string]bool {
	names := map[string]bool{}
	for _, mf := range mfs {
		n := mf.GetName()
		names[n] = true
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[n+s] = true
			}
		}
	}
	return names
}

// TestGrafanaQueries: every query of deploy/grafana/cartwatch.json names
// metrics the binary exports, and at least one.
func TestGrafanaQueries(t *testing.T) {
	b, err := os.ReadFile("../deploy/grafana/cartwatch.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	m, _ := runKnown(t)
	_, mfs := values(t, m)
	have := exported(mfs)
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			names := metricNames(tg.Expr)
			if len(names) == 0 {
				t.Errorf("panel %q: query %q names no metric", p.Title, tg.Expr)
			}
			for _, name := range names {
				n++
				if !have[name] {
					t.Errorf("panel %q: query %q names %s, which cartwatch does not export", p.Title, tg.Expr, name)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no query in the dashboard")
	}
	// A bucket named by its le must be one the binary exports: the TTL
	// advisor's le="299" is the delays below 5 m, a le="300" would select
	// nothing.
	les := map[string]bool{}
	for _, mf := range mfs {
		for _, mt := range mf.Metric {
			for _, b := range mt.GetHistogram().GetBucket() {
				les[mf.GetName()+"/"+strconv.FormatFloat(b.GetUpperBound(), 'f', -1, 64)] = true
			}
		}
	}
	bucketLE := regexp.MustCompile(`(\w+)_bucket\{[^}]*\ble="([^"]*)"`)
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range bucketLE.FindAllStringSubmatch(tg.Expr, -1) {
				if !les[m[1]+"/"+m[2]] {
					t.Errorf("panel %q: query %q selects the bucket le=%q of %s, which cartwatch does not export", p.Title, tg.Expr, m[2], m[1])
				}
			}
		}
	}
	for _, want := range []string{"cartwatch_events_total", "cartwatch_kafka_consumer_lag_records", "cartwatch_open_carts",
		"cartwatch_abandoned_value_total", "cartwatch_alert_latency_seconds_bucket", "cartwatch_carts_recovered_total",
		"cartwatch_recovered_value_total", "cartwatch_cart_to_purchase_delay_seconds_bucket",
		"cartwatch_abandoned_value_by_category_total"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
}
