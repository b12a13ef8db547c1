// Package metrics exports cartwatch's figures to Prometheus: the engine's
// (core.Live), the Kafka consumer's and sink's, the alert latency, the
// build, and the Go runtime and process. Everything but the alert latency
// is read at scrape time from the components that own it (const metrics,
// as Prometheus' own tsdb/head.go reads its head), so the engine does no
// metric work per event. Safe for concurrent use.
package metrics

import (
	"fmt"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/cartwatch/cartwatch/core"
	"github.com/cartwatch/cartwatch/internal/version"
	"github.com/cartwatch/cartwatch/kafka"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Sources are what the metrics read at each scrape; a nil one exports
// nothing (run has no Kafka side).
type Sources struct {
	Live     *core.Live
	Consumer interface{ Stats() kafka.ConsumerStats }
	Sink     interface{ Counts() kafka.SinkCounts }
	// Now is the wall clock of the event-time lag; default time.Now.
	Now func() time.Time
}

// Metrics is the registry of one process and the one metric recorded as
// it happens, the alert latency.
type Metrics struct {
	reg     *prometheus.Registry
	latency prometheus.Histogram
}

// LatencyBuckets are the classic buckets of cartwatch_alert_latency_seconds,
// for histogram_quantile over a Prometheus without native histograms:
// 1 ms to 2 min.
var LatencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}

// New returns the metrics of src, with the build info and the Go and
// process collectors.
func New(src Sources) *Metrics {
	if src.Now == nil {
		src.Now = time.Now
	}
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "cartwatch_alert_latency_seconds",
		Help: "Wall time from an alert's deadline to its production (handed to the Kafka producer).",
		// Both kinds: classic buckets for any Prometheus, native ones for
		// a server that scrapes them (finer, no bucket choice).
		Buckets:                         LatencyBuckets,
		NativeHistogramBucketFactor:     1.1,
		NativeHistogramMaxBucketNumber:  160,
		NativeHistogramMinResetDuration: time.Hour,
	})
	ver, rev := version.Build()
	m.reg.MustRegister(
		m.latency,
		&collector{src: src},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "cartwatch_build_info",
			Help:        "Always 1; the labels name the build: module version, VCS revision, Go version.",
			ConstLabels: prometheus.Labels{"version": ver, "revision": rev, "goversion": goVersion()},
		}, func() float64 { return 1 }),
	)
	return m
}

// Registry returns the registry, to register more or to gather.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the exposition format a scraper asks for.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// ObserveAlertLatency records one alert's latency (negative counts as 0).
// One Observe per alert: alerts are few next to events.
func (m *Metrics) ObserveAlertLatency(d time.Duration) {
	m.latency.Observe(max(0, d).Seconds())
}

// money converts integer cents to the currency's base unit, as the metrics
// export money (a float: exact to the cent up to 2^53 cents).
func money(cents int64) float64 { return float64(cents) / 100 }

// desc is a shorthand for a const metric's description.
func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// The descriptions of the metrics read at scrape time.
var (
	dEvents       = desc("cartwatch_events_total", "Valid events read, by event_type (view, cart, purchase, other).", "type")
	dMalformed    = desc("cartwatch_malformed_records_total", "Malformed records (rows or messages) skipped (docs/semantics.md, rule 8).")
	dOpenCarts    = desc("cartwatch_open_carts", "Carts open now.")
	dOpened       = desc("cartwatch_carts_opened_total", "Carts opened (a first cart event with no open cart).")
	dConverted    = desc("cartwatch_carts_converted_total", "Carts closed by a purchase before their deadline.")
	dAbandoned    = desc("cartwatch_carts_abandoned_total", "Carts abandoned (an alert each).")
	dAbValue      = desc("cartwatch_abandoned_value_total", "Value of the abandoned carts, in the currency's base unit (e.g. dollars, not cents).")
	dAbUsers      = desc("cartwatch_abandoning_users_total", "Users with at least one abandoned cart.")
	dDirect       = desc("cartwatch_purchases_direct_total", "Purchases by a user with no open cart, not late.")
	dLate         = desc("cartwatch_purchases_late_total", "Purchases after the deadline of the user's last abandoned cart.")
	dSpending     = desc("cartwatch_spending_total", "Price of every purchase, in the currency's base unit (e.g. dollars, not cents).")
	dRecovered    = desc("cartwatch_carts_recovered_total", "Abandoned carts recovered: a direct purchase by the user within --recovery-window of the alert (docs/semantics.md, rule 9).")
	dRecValue     = desc("cartwatch_recovered_value_total", "Value of the recovered carts as their alerts reported it, in the currency's base unit.")
	dDelay        = desc("cartwatch_cart_to_purchase_delay_seconds", "Cart-to-purchase delay of the converted and recovered carts (rule 10), counted in whole seconds: the bucket le=\"E-1\" holds the delays below E seconds, so le=\"299\" over the count is the share a --ttl 5m would catch.")
	dCatItems     = desc("cartwatch_abandoned_items_by_category_total", "Items (cart events) of abandoned carts by top-level category (rule 11): at most 64 names, then \"unknown\" and \"other\".", "category")
	dCatValue     = desc("cartwatch_abandoned_value_by_category_total", "Value of the abandoned items by top-level category (rule 11), in the currency's base unit.", "category")
	dHourItems    = desc("cartwatch_abandoned_items_by_hour_total", "Items of abandoned carts by the UTC hour of day (00 to 23) of the cart's last cart event (rule 11).", "hour")
	dHourValue    = desc("cartwatch_abandoned_value_by_hour_total", "Value of the abandoned items by the UTC hour of day (00 to 23) of the cart's last cart event, in the currency's base unit.", "hour")
	dWatermark    = desc("cartwatch_watermark_timestamp_seconds", "The partition's watermark: event time up to which every deadline has fired, Unix seconds.", "partition")
	dEventLag     = desc("cartwatch_event_time_lag_seconds", "Wall clock minus the partition's watermark.", "partition")
	dQueue        = desc("cartwatch_shard_queue_batches", "Batches waiting in the shard's hand-off.", "shard")
	dConsumed     = desc("cartwatch_kafka_records_consumed_total", "Kafka records handed to the engine.")
	dLag          = desc("cartwatch_kafka_consumer_lag_records", "Records of the partition not yet handed to the engine (high watermark of the last fetch minus the next offset).", "partition")
	dCommits      = desc("cartwatch_kafka_offset_commits_total", "Successful offset commits.")
	dCommitErrs   = desc("cartwatch_kafka_offset_commit_errors_total", "Offset commits that failed.")
	dRestored     = desc("cartwatch_kafka_partitions_restored_total", "Partitions restored from their last snapshot in the state topic at an assignment.")
	dSnapshots    = desc("cartwatch_kafka_snapshots_written_total", "Partition snapshots written to the state topic (and acknowledged) at checkpoints.")
	dCkptSeconds  = desc("cartwatch_kafka_checkpoint_seconds", "The last checkpoint's times: how long it paused the engine (pause: the slowest shard's copy of its records), the longest pause so far (pause_max), and its time off the engine (background: sort, merge, encode, written until acknowledged).", "what")
	dCkptUsers    = desc("cartwatch_kafka_checkpoint_users", "User records in the last checkpoint's snapshots.")
	dAlertsOut    = desc("cartwatch_kafka_alerts_produced_total", "Alerts produced to the alerts topic.")
	dDLQ          = desc("cartwatch_kafka_dlq_messages_total", "Malformed messages produced to the dead-letter topic.")
	dProduceFails = desc("cartwatch_kafka_produce_failures_total", "Records (alerts, dead letters, spending) the brokers did not take.")
)

// collector reads Sources at each scrape.
type collector struct{ src Sources }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dEvents, dMalformed, dOpenCarts, dOpened, dConverted, dAbandoned, dAbValue,
		dAbUsers, dDirect, dLate, dSpending, dRecovered, dRecValue, dDelay, dCatItems, dCatValue, dHourItems, dHourValue, dWatermark, dEventLag, dQueue, dConsumed, dLag, dCommits, dCommitErrs,
		dRestored, dSnapshots, dCkptSeconds, dCkptUsers, dAlertsOut, dDLQ, dProduceFails} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if l := c.src.Live; l != nil {
		f := l.Snapshot()
		n := &f.Counters
		counter(dEvents, float64(n.Views), "view")
		counter(dEvents, float64(n.Carts), "cart")
		counter(dEvents, float64(n.Purchases), "purchase")
		counter(dEvents, float64(n.Others), "other")
		counter(dMalformed, float64(f.Malformed))
		gauge(dOpenCarts, float64(n.OpenCarts))
		counter(dOpened, float64(n.CartsOpened))
		counter(dConverted, float64(n.Converted))
		counter(dAbandoned, float64(n.Abandoned))
		counter(dAbValue, money(n.AbandonedValue))
		counter(dAbUsers, float64(n.AbandoningUsers))
		counter(dDirect, float64(n.Direct))
		counter(dLate, float64(n.Late))
		counter(dSpending, money(n.Spending))
		counter(dRecovered, float64(n.Recovered))
		counter(dRecValue, money(n.RecoveredValue))
		ch <- delayHistogram(&n.Delay)
		for _, c := range categories(&n.ByCategory) {
			counter(dCatItems, float64(c.t.Items), c.name)
			counter(dCatValue, money(c.t.Value), c.name)
		}
		for h, t := range n.ByHour {
			hour := hourLabels[h]
			counter(dHourItems, float64(t.Items), hour)
			counter(dHourValue, money(t.Value), hour)
		}
		now := float64(c.src.Now().UnixNano()) / 1e9
		for _, p := range f.Partitions {
			part := strconv.Itoa(int(p.Partition))
			gauge(dWatermark, float64(p.Watermark), part)
			gauge(dEventLag, now-float64(p.Watermark), part)
		}
		for i, q := range f.QueueDepth {
			gauge(dQueue, float64(q), strconv.Itoa(i))
		}
	}
	if cons := c.src.Consumer; cons != nil {
		st := cons.Stats()
		counter(dConsumed, float64(st.Records))
		counter(dCommits, float64(st.Commits))
		counter(dCommitErrs, float64(st.CommitErrs))
		counter(dRestored, float64(st.Restored))
		counter(dSnapshots, float64(st.Snapshots))
		gauge(dCkptSeconds, st.CheckpointPause.Seconds(), "pause")
		gauge(dCkptSeconds, st.CheckpointPauseMax.Seconds(), "pause_max")
		gauge(dCkptSeconds, st.CheckpointWrite.Seconds(), "background")
		gauge(dCkptUsers, float64(st.CheckpointUsers))
		for i, p := range st.Partitions {
			lag := float64(st.PartLag[i])
			if lag < 0 {
				lag = math.NaN() // no fetch yet: unknown
			}
			gauge(dLag, lag, strconv.Itoa(int(p)))
		}
	}
	if s := c.src.Sink; s != nil {
		sc := s.Counts()
		counter(dAlertsOut, float64(sc.Alerts))
		counter(dDLQ, float64(sc.Rejects))
		counter(dProduceFails, float64(sc.Failed))
	}
}

// delayBounds are the upper bounds (le) of the delay histogram's buckets:
// each of core.DelayEdges minus one second. A bucket of core.DelayHistogram
// holds the whole-second delays d with from <= d < to, and for whole
// seconds d < to is d <= to-1, so the cumulative count below edge E is
// exactly Prometheus' count of d <= E-1. Using E itself as le would claim
// the delays of exactly E seconds, which the next bucket holds.
var delayBounds = func() (b [len(core.DelayEdges)]float64) {
	for i, e := range core.DelayEdges {
		b[i] = float64(e - 1)
	}
	return b
}()

// delayHistogram is h as a Prometheus histogram: cumulative counts at
// delayBounds, the last bucket in +Inf (the count).
func delayHistogram(h *core.DelayHistogram) prometheus.Metric {
	buckets := make(map[float64]uint64, len(delayBounds))
	var cum uint64
	for i, le := range delayBounds {
		cum += uint64(h.Counts[i])
		buckets[le] = cum
	}
	return prometheus.MustNewConstHistogram(dDelay, uint64(h.Total()), float64(h.Sum), buckets)
}

// hourLabels are the hour label's values, two digits so they sort.
var hourLabels = func() (l [24]string) {
	for h := range l {
		l[h] = fmt.Sprintf("%02d", h)
	}
	return l
}()

// category is one value of the category label and its tally.
type category struct {
	name string
	t    core.Tally
}

// categories returns the category label's values and their tallies: the
// names c keeps, "unknown" and "other" when they have items. A real
// category named "unknown" or "other" shares that value with the special
// one (two series with one label value would fail the scrape), so there
// are at most core.MaxCategories+2 values whatever the input.
func categories(c *core.CategoryTallies) []category {
	out := make([]category, 0, c.N+2)
	unknown, other := c.Unknown, c.Other
	for i := range c.N {
		name := string(c.Names[i].Name[:c.Names[i].Len])
		switch name {
		case "unknown":
			unknown = addTally(unknown, c.Tallies[i])
		case "other":
			other = addTally(other, c.Tallies[i])
		default:
			out = append(out, category{name, c.Tallies[i]})
		}
	}
	if unknown.Items > 0 {
		out = append(out, category{"unknown", unknown})
	}
	if other.Items > 0 {
		out = append(out, category{"other", other})
	}
	return out
}

// addTally adds two tallies, the value pinned at the int64 maximum as the
// engine pins its sums (rule 7).
func addTally(a, b core.Tally) core.Tally {
	a.Items += b.Items
	if a.Value > math.MaxInt64-b.Value {
		a.Value = math.MaxInt64
	} else {
		a.Value += b.Value
	}
	return a
}

// goVersion is the Go version the binary was built with.
func goVersion() string { return runtime.Version() }
