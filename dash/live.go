package dash

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/cartwatch/cartwatch/core"
	"github.com/cartwatch/cartwatch/kafka"
)

// LiveSource is the one adapter from a running engine to the page: it
// fills Figures from a core.Live (the carts' fates and rates, the KPIs the
// engine counts, categories, the TTL advisor, events/s), from a Kafka
// consumer's stats where there is one, and from the alerts it is shown.
// demo, consume and run all build their page with it; a command adds
// only what it alone knows (the demo: its replay's clock, top spenders
// and alert latency read back from the topic).
//
// Safe for concurrent use: Fill from the Server's tick, Alert from the
// engine's sink.
type LiveSource struct {
	// Live is the engine's; nil: no engine figures.
	Live *core.Live
	// Consumer is the Kafka consumer's; nil: no Kafka group (run).
	Consumer interface{ Stats() kafka.ConsumerStats }
	// Alerts: the command calls Alert for every alert, so the latest
	// alerts are known (an empty list before the first, not "—").
	Alerts bool
	// Now is the wall clock of the events/s; default time.Now.
	Now func() time.Time

	mu     sync.Mutex
	last   int64     // events at lastAt
	lastAt time.Time // zero: no look yet
	rate   float64
	alerts [LatestAlerts]Alert // a ring: the newest at (next-1) mod LatestAlerts
	next   int
	nalert int64
}

// LatestAlerts is how many alerts a LiveSource keeps for the page.
const LatestAlerts = 5

// minRateWindow is the shortest time events/s is measured over: a tick
// that comes early does not make the rate jump.
const minRateWindow = 900 * time.Millisecond

// Alert records a for the latest alerts; latency is the time from its
// deadline to the alert, negative when unknown (a run over a file). It
// copies what the page shows and allocates nothing.
func (s *LiveSource) Alert(a *core.Alert, latency time.Duration) {
	lat := -1.0
	if latency >= 0 {
		lat = latency.Seconds()
	}
	s.mu.Lock()
	s.alerts[s.next] = Alert{UserID: a.UserID, AbandonedAt: a.AbandonedAt, Items: a.Items, ValueCents: a.ValueCents,
		Partition: a.Partition, Latency: lat}
	s.next = (s.next + 1) % LatestAlerts
	s.nalert++
	s.mu.Unlock()
}

// Fill sets in f every group its sources know, in fresh values: KPIs
// (keeping f's top spenders), Engine, Carts, Categories, TTLAdvisor, the
// latest alerts when Alerts is set (or Alert was called), Kafka when there is a
// consumer, and EventTime when f has none (the highest watermark).
func (s *LiveSource) Fill(f *Figures) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	if s.Live != nil {
		lf := s.Live.Snapshot()
		s.fillLive(f, &lf, now())
	}
	if s.Consumer != nil {
		st := s.Consumer.Stats()
		f.Kafka = &Kafka{ConsumerLag: st.Lag, Partitions: st.Partitions}
	}
	s.mu.Lock()
	if s.Alerts || s.nalert > 0 {
		n := int(min(s.nalert, LatestAlerts))
		f.LatestAlerts = make([]Alert, n)
		for i := range n {
			f.LatestAlerts[i] = s.alerts[(s.next-1-i+2*LatestAlerts)%LatestAlerts]
		}
	}
	s.mu.Unlock()
}

// fillLive sets the groups that come from the engine's figures lf.
func (s *LiveSource) fillLive(f *Figures, lf *core.LiveFigures, now time.Time) {
	c := &lf.Counters
	var top []Spender
	if f.KPIs != nil {
		top = f.KPIs.TopSpenders
	}
	f.KPIs = &KPIs{AbandonedCarts: c.Abandoned, AbandonedValueCents: c.AbandonedValue, AbandoningUsers: c.AbandoningUsers,
		SpendingCents: c.Spending, TopSpenders: top}
	f.Engine = &Engine{EventsConsumed: lf.Events, EventsPerSecond: s.eventsPerSecond(lf.Events, now), Malformed: lf.Malformed,
		OpenCarts: c.OpenCarts}
	f.Carts = &Carts{Opened: c.CartsOpened, Converted: c.Converted, Abandoned: c.Abandoned, Recovered: c.Recovered,
		RecoveredValueCents: c.RecoveredValue}
	f.Categories = categories(&c.ByCategory)
	f.TTLAdvisor = ttlAdvisor(&c.Delay)
	if f.EventTime == 0 {
		for _, p := range lf.Partitions {
			f.EventTime = max(f.EventTime, p.Watermark)
		}
	}
}

// eventsPerSecond is the rate of events over the last look that was at
// least minRateWindow ago.
func (s *LiveSource) eventsPerSecond(events int64, now time.Time) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastAt.IsZero() {
		s.last, s.lastAt = events, now
		return 0
	}
	if el := now.Sub(s.lastAt); el >= minRateWindow {
		s.rate = float64(events-s.last) / el.Seconds()
		s.last, s.lastAt = events, now
	}
	return s.rate
}

// categories lists the abandoned items and value by category as the
// summary does (core.Summary's AbandonedByCategory): the names c keeps,
// "unknown" and "other" when they have items, the most value first (ties:
// most items, then c's byte order).
func categories(c *core.CategoryTallies) []Category {
	out := make([]Category, 0, c.N+2)
	for i := range c.N {
		n := &c.Names[i]
		out = append(out, Category{Name: string(n.Name[:n.Len]), Items: c.Tallies[i].Items, ValueCents: c.Tallies[i].Value})
	}
	if c.Unknown.Items > 0 {
		out = append(out, Category{"unknown", c.Unknown.Items, c.Unknown.Value})
	}
	if c.Other.Items > 0 {
		out = append(out, Category{"other", c.Other.Items, c.Other.Value})
	}
	slices.SortStableFunc(out, func(a, b Category) int {
		if r := cmp.Compare(b.ValueCents, a.ValueCents); r != 0 {
			return r
		}
		return cmp.Compare(b.Items, a.Items)
	})
	return out
}

// ttlAdvisor is the share of the delays h holds below each of
// core.AdvisorTTLs; nil while h holds none (no share to show).
func ttlAdvisor(h *core.DelayHistogram) []TTLShare {
	n := h.Total()
	if n == 0 {
		return nil
	}
	out := make([]TTLShare, len(core.AdvisorTTLs))
	for i, ttl := range core.AdvisorTTLs {
		out[i] = TTLShare{TTL: float64(ttl), Share: float64(h.Below(ttl)) / float64(n)}
	}
	return out
}
