package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cartwatch/cartwatch/core"
	"github.com/cartwatch/cartwatch/kafka"
	"github.com/cartwatch/cartwatch/metrics"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The demo's figures and their view. The engine tells its figures through
// the seams consume already has: the Sink sees every alert and every
// purchase with its user's running total (demoTee), the barriers show each
// shard's open carts (demoCheckpoint), and the alerts are read back from
// their topic (readAlerts), which also times them.

// demoStats gathers the figures; its methods are safe for concurrent use
// (the engine's merger and shards write, the view reads once a second).
type demoStats struct {
	mu         sync.Mutex
	abandoned  int64
	abValue    int64
	abUsers    map[uint64]struct{}
	spending   int64
	spent      map[uint64]int64 // each buyer's running total
	malformed  int64
	openCarts  map[int]int64 // per shard, at its last barrier
	read       int64         // alerts read back
	latest     []demoAlert   // the last 3 read back, newest first
	latency    *kafka.Histogram
	readSignal chan struct{} // a token after each alert read back
}

// demoAlert is an alert as the view shows it.
type demoAlert struct {
	UserID      uint64        `json:"user_id"`
	AbandonedAt int64         `json:"abandoned_at"` // its deadline, Unix seconds
	Items       int64         `json:"items"`
	ValueCents  int64         `json:"cart_value_cents"`
	Partition   int32         `json:"partition"`
	Latency     time.Duration `json:"latency_ns"` // from its deadline's play to its read back
}

// demoLatest is how many alerts the view shows.
const demoLatest = 3

func newDemoStats() *demoStats {
	return &demoStats{abUsers: map[uint64]struct{}{}, spent: map[uint64]int64{}, openCarts: map[int]int64{},
		latency: kafka.NewHistogram(time.Minute), readSignal: make(chan struct{}, 1)}
}

// addSat adds two non-negative sums of cents, pinned at the int64 maximum
// as the engine pins its own (rule 7).
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// demoTee is the run's Sink: the Kafka Sink of consume, whose alerts,
// malformed messages and purchases also count in the figures.
type demoTee struct {
	*kafka.Sink
	stats *demoStats
	dlq   string
	log   func(format string, a ...any)
	clock *replayClock
	met   *metrics.Metrics // nil without --http
}

// Alert counts a, produces it, and records its latency: from the moment
// the replay played its deadline to now.
func (t *demoTee) Alert(a *core.Alert) error {
	s := t.stats
	s.mu.Lock()
	s.abandoned++
	s.abValue = addSat(s.abValue, a.ValueCents)
	s.abUsers[a.UserID] = struct{}{}
	s.mu.Unlock()
	err := t.Sink.Alert(a)
	if t.met != nil && t.clock.started() {
		t.met.ObserveAlertLatency(time.Since(t.clock.playAt(a.AbandonedAt)))
	}
	return err
}

func (t *demoTee) Reject(r *core.Reject) error {
	s := t.stats
	s.mu.Lock()
	s.malformed++
	n := s.malformed
	s.mu.Unlock()
	if n <= demoLatest {
		t.log("partition %d offset %d: malformed message (%v): to %s", r.Partition, r.Pos, r.Reason, t.dlq)
	}
	return t.Sink.Reject(r)
}

func (t *demoTee) Spend(sp *core.Spend) error {
	s := t.stats
	s.mu.Lock()
	s.spending = addSat(s.spending, sp.PriceCents)
	s.spent[sp.UserID] = sp.TotalCents
	s.mu.Unlock()
	return t.Sink.Spend(sp)
}

// demoCheckpoint is the run's Checkpointer: the Consumer's, and at every
// barrier each shard's open carts for the view. The tail's own barriers
// (demoBarrier) are not the Consumer's.
type demoCheckpoint struct {
	cons  *kafka.Consumer
	stats *demoStats
}

func (c *demoCheckpoint) Shard(id uint64, i int, v core.ShardView) {
	n := 0
	for _, p := range v.Partitions() {
		if st, ok := v.Part(p); ok {
			n += st.OpenCarts()
		}
	}
	c.stats.mu.Lock()
	c.stats.openCarts[i] = int64(n)
	c.stats.mu.Unlock()
	if id&demoBarrier == 0 {
		c.cons.Shard(id, i, v)
	}
}

func (c *demoCheckpoint) Done(id uint64, next map[int32]int64) {
	if id&demoBarrier == 0 {
		c.cons.Done(id, next)
	}
}

// readAlerts reads the alerts topic until ctx ends: each alert counts, and
// its latency is the time from the moment the replay played its deadline
// to now (the watermark of its partition passing the deadline, the
// engine, the Sink, the brokers and this read).
func readAlerts(ctx context.Context, cl *kgo.Client, s *demoStats, clock *replayClock) {
	var a struct {
		UserID      uint64    `json:"user_id"`
		AbandonedAt time.Time `json:"abandoned_at"`
		Items       int64     `json:"items"`
		ValueCents  int64     `json:"cart_value_cents"`
		Partition   int32     `json:"partition"`
	}
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		now := time.Now()
		fs.EachRecord(func(r *kgo.Record) {
			if err := json.Unmarshal(r.Value, &a); err != nil {
				return
			}
			da := demoAlert{UserID: a.UserID, AbandonedAt: a.AbandonedAt.Unix(), Items: a.Items, ValueCents: a.ValueCents,
				Partition: a.Partition, Latency: -1}
			if clock.started() {
				da.Latency = max(0, now.Sub(clock.playAt(da.AbandonedAt)))
			}
			s.mu.Lock()
			s.read++
			s.latest = append([]demoAlert{da}, s.latest[:min(len(s.latest), demoLatest-1)]...)
			if da.Latency >= 0 {
				s.latency.Record(da.Latency)
			}
			s.mu.Unlock()
		})
		select {
		case s.readSignal <- struct{}{}:
		default:
		}
	}
}

// waitRead waits until n alerts have been read back, or d has passed.
func (s *demoStats) waitRead(n int64, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		s.mu.Lock()
		read := s.read
		s.mu.Unlock()
		if read >= n {
			return
		}
		select {
		case <-s.readSignal:
		case <-t.C:
			return
		}
	}
}

// demoFigures is one look at the demo: what the view prints each second,
// and what the dashboard shows (dashFigures, demo_dash.go).
type demoFigures struct {
	Input           string         `json:"input"`
	Speedup         float64        `json:"speedup"`
	Elapsed         time.Duration  `json:"elapsed_ns"`
	Phase           string         `json:"phase"`
	EventTime       int64          `json:"event_time"` // the replay's, Unix seconds; 0 before the first event
	Consumed        int64          `json:"events_consumed"`
	EventsPerSecond float64        `json:"events_per_second"`
	Malformed       int64          `json:"malformed"`
	OpenCarts       int64          `json:"open_carts"`
	Abandoned       int64          `json:"abandoned"`
	AbandonedValue  int64          `json:"abandoned_value_cents"`
	AbandoningUsers int64          `json:"unique_abandoning_users"`
	Spending        int64          `json:"spending_cents"`
	TopSpenders     []core.Spender `json:"top_spenders"`
	AlertsRead      int64          `json:"alerts_read_back"`
	LatestAlerts    []demoAlert    `json:"latest_alerts"`
	LatencyCount    int64          `json:"alert_latency_count"` // alerts timed
	LatencyP50      time.Duration  `json:"alert_latency_p50_ns"`
	LatencyP90      time.Duration  `json:"alert_latency_p90_ns"`
	LatencyP99      time.Duration  `json:"alert_latency_p99_ns"`
	LatencyMax      time.Duration  `json:"alert_latency_max_ns"`
	Partitions      []int32        `json:"partitions"`
	Lag             int64          `json:"consumer_lag"` // records not yet consumed; -1: unknown
}

// demoRun is what demoRun.figures reads.
type demoRun struct {
	speedup float64
	input   string
	started time.Time
	feed    *demoFeed
	src     *demoSource
	cons    *kafka.Consumer
	stats   *demoStats

	ended atomic.Bool // the run is over

	mu   sync.Mutex
	rate demoRateWindow
}

// demoRateWindow turns the consumed count into events per second over
// the last second or so.
type demoRateWindow struct {
	last   int64
	lastAt time.Time
	rate   float64
}

// figures returns the demo's figures now; safe for concurrent use.
func (d *demoRun) figures() demoFigures {
	now := time.Now()
	st := d.cons.Stats()
	fig := demoFigures{Input: d.input, Speedup: d.speedup, Elapsed: now.Sub(d.started), Consumed: st.Records,
		Partitions: st.Partitions, Lag: st.Lag}
	d.mu.Lock()
	if d.rate.lastAt.IsZero() {
		d.rate.lastAt = d.started
	}
	if el := now.Sub(d.rate.lastAt); el >= 900*time.Millisecond {
		d.rate.rate = float64(st.Records-d.rate.last) / el.Seconds()
		d.rate.last, d.rate.lastAt = st.Records, now
	}
	fig.EventsPerSecond = d.rate.rate
	d.mu.Unlock()

	c := d.feed.clock
	tail := false
	if c.started() {
		fig.EventTime = c.maxT.Load()
		if t := d.src.tailT.Load(); t > fig.EventTime {
			fig.EventTime, tail = t, true
		}
	}
	switch {
	case d.src.early():
		fig.Phase = "stopped"
	case d.ended.Load():
		fig.Phase = "done: the input is played and every cart has fallen due"
	case !c.started():
		fig.Phase = "starting"
	case tail:
		fig.Phase = "input played: the last carts fall due"
	default:
		fig.Phase = "playing"
	}

	s := d.stats
	s.mu.Lock()
	fig.Malformed = s.malformed
	for _, n := range s.openCarts {
		fig.OpenCarts += n
	}
	fig.Abandoned, fig.AbandonedValue, fig.AbandoningUsers = s.abandoned, s.abValue, int64(len(s.abUsers))
	fig.Spending = s.spending
	fig.TopSpenders = topSpenders(s.spent, 5)
	fig.AlertsRead = s.read
	fig.LatestAlerts = slices.Clone(s.latest)
	if fig.LatencyCount = s.latency.Count(); fig.LatencyCount > 0 {
		fig.LatencyP50, fig.LatencyP90, fig.LatencyP99, fig.LatencyMax = s.latency.Quantile(0.5), s.latency.Quantile(0.9),
			s.latency.Quantile(0.99), s.latency.Max()
	}
	s.mu.Unlock()
	return fig
}

// topSpenders returns the n highest totals, ties to the smaller user_id
// (the summary's order).
func topSpenders(spent map[uint64]int64, n int) []core.Spender {
	top := make([]core.Spender, 0, n+1)
	for u, c := range spent {
		sp := core.Spender{UserID: u, SpendingCents: c}
		if len(top) == n && spenderCmp(sp, top[n-1]) > 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(top, sp, spenderCmp)
		top = slices.Insert(top, i, sp)
		if len(top) > n {
			top = top[:n]
		}
	}
	return top
}

// spenderCmp orders spenders by spending descending, then user_id.
func spenderCmp(a, b core.Spender) int {
	if c := cmp.Compare(b.SpendingCents, a.SpendingCents); c != 0 {
		return c
	}
	return cmp.Compare(a.UserID, b.UserID)
}

// cents writes integer cents as 1,234.56.
func cents(c int64) string {
	if c == math.MaxInt64 {
		return kafka.Thousands(c/100) + " or more"
	}
	return fmt.Sprintf("%s.%02d", kafka.Thousands(c/100), c%100)
}

// clockText writes event time t as 2019-11-01 00:12:34 UTC.
func clockText(t int64) string {
	if t == 0 {
		return "-"
	}
	return time.Unix(t, 0).UTC().Format("2006-01-02 15:04:05 UTC")
}

func latText(d time.Duration) string {
	switch {
	case d < 0:
		return "-"
	case d < 10*time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// render returns the panel of fig, each line cut to width (0: no limit).
func (fig *demoFigures) render(width int) []string {
	var ls []string
	add := func(format string, a ...any) { ls = append(ls, fmt.Sprintf(format, a...)) }
	add("cartwatch demo   %s   %gx   %s", fig.Input, fig.Speedup, fig.Elapsed.Round(time.Second))
	add("event time       %s   %s", clockText(fig.EventTime), fig.Phase)
	add("events           %s consumed   %s/s   %s malformed (to %s)", kafka.Thousands(fig.Consumed),
		kafka.Thousands(int64(fig.EventsPerSecond+0.5)), kafka.Thousands(fig.Malformed), kafka.DLQTopic(demoTopic))
	add("carts            %s open   %s abandoned, %s, by %s users", kafka.Thousands(fig.OpenCarts),
		kafka.Thousands(fig.Abandoned), cents(fig.AbandonedValue), kafka.Thousands(fig.AbandoningUsers))
	add("spending         %s", cents(fig.Spending))
	for i, t := range fig.TopSpenders {
		add("  top %d          user %d   %s", i+1, t.UserID, cents(t.SpendingCents))
	}
	lat := "-"
	if fig.LatencyMax > 0 || fig.AlertsRead > 0 {
		lat = fmt.Sprintf("p50 %s  p99 %s  max %s", latText(fig.LatencyP50), latText(fig.LatencyP99), latText(fig.LatencyMax))
	}
	add("alerts           %s read back from %s   latency %s", kafka.Thousands(fig.AlertsRead), kafka.DefaultAlertsTopic, lat)
	for _, a := range fig.LatestAlerts {
		items := "items"
		if a.Items == 1 {
			items = "item"
		}
		add("  user %-10d abandoned at %s   %d %s   %s   partition %d   latency %s", a.UserID,
			time.Unix(a.AbandonedAt, 0).UTC().Format("15:04:05"), a.Items, items, cents(a.ValueCents), a.Partition, latText(a.Latency))
	}
	if width > 0 {
		for i, l := range ls {
			if len(l) >= width {
				ls[i] = l[:width-1]
			}
		}
	}
	return ls
}

// line returns fig as one line, for a log.
func (fig *demoFigures) line() string {
	s := fmt.Sprintf("demo %s: event time %s, %s events (%s/s), %s open carts, %s abandoned (%s, %s users), spending %s, %s alerts read back",
		fig.Elapsed.Round(time.Second), clockText(fig.EventTime), kafka.Thousands(fig.Consumed), kafka.Thousands(int64(fig.EventsPerSecond+0.5)),
		kafka.Thousands(fig.OpenCarts), kafka.Thousands(fig.Abandoned), cents(fig.AbandonedValue), kafka.Thousands(fig.AbandoningUsers),
		cents(fig.Spending), kafka.Thousands(fig.AlertsRead))
	if fig.AlertsRead > 0 {
		s += fmt.Sprintf(" (latency p50 %s, max %s)", latText(fig.LatencyP50), latText(fig.LatencyMax))
	}
	return s
}

// demoView prints the figures once a second on stdout: on a terminal a
// panel redrawn in place, elsewhere one line a second; at the end the
// whole panel once. Log lines go to stderr, above the panel.
type demoView struct {
	stdout, stderr io.Writer
	tty            bool

	mu    sync.Mutex
	drawn int // lines of the panel on the screen
	figs  func() demoFigures
	done  chan struct{}
	wg    sync.WaitGroup
}

// demoEvery is how often the view prints (the tests do not wait for it).
const demoEvery = time.Second

func newDemoView(stdout, stderr io.Writer) *demoView {
	_, tty := termWidth(asFile(stdout))
	return &demoView{stdout: stdout, stderr: stderr, tty: tty, done: make(chan struct{})}
}

// Log writes one line to stderr, above the panel.
func (v *demoView) Log(msg string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.erase()
	fmt.Fprintf(v.stderr, "cartwatch demo: %s\n", msg)
}

func (v *demoView) Logf(format string, a ...any) { v.Log(fmt.Sprintf(format, a...)) }

// erase takes the panel off the screen (mu held).
func (v *demoView) erase() {
	if v.drawn > 0 {
		fmt.Fprintf(v.stdout, "\033[%dF\033[J", v.drawn)
		v.drawn = 0
	}
}

// Start prints figs every demoEvery until Stop.
func (v *demoView) Start(figs func() demoFigures) {
	v.figs = figs
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		t := time.NewTicker(demoEvery)
		defer t.Stop()
		for {
			select {
			case <-v.done:
				return
			case <-t.C:
				v.print(false)
			}
		}
	}()
}

// print prints the figures: the panel (a terminal, or final), else a line.
func (v *demoView) print(final bool) {
	fig := v.figs()
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.tty && !final {
		fmt.Fprintln(v.stdout, fig.line())
		return
	}
	width := 0
	if v.tty {
		width, _ = termWidth(asFile(v.stdout))
	}
	ls := fig.render(width)
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\033[%dF", v.drawn)
	}
	for _, l := range ls {
		b.WriteString(l)
		if v.tty {
			b.WriteString("\033[K")
		}
		b.WriteByte('\n')
	}
	if v.tty {
		b.WriteString("\033[J")
	}
	io.WriteString(v.stdout, b.String())
	v.drawn = 0
	if v.tty && !final {
		v.drawn = len(ls)
	}
}

// Stop ends the ticks and prints the panel one last time.
func (v *demoView) Stop() {
	if v.figs == nil {
		return
	}
	close(v.done)
	v.wg.Wait()
	if !v.tty {
		fmt.Fprintln(v.stdout)
	}
	v.print(true)
}
