package core

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Summary is the result of a run. Field names follow the --summary json keys.
type Summary struct {
	Events                int64     `json:"events"`
	Views                 int64     `json:"views"`
	Carts                 int64     `json:"carts"`
	Purchases             int64     `json:"purchases"`
	OtherEvents           int64     `json:"other_events"`
	Malformed             int64     `json:"malformed"`
	CartsOpened           int64     `json:"carts_opened"`
	Converted             int64     `json:"converted"`
	Abandoned             int64     `json:"abandoned"`
	AbandonedValueCents   int64     `json:"abandoned_value_cents"`
	DirectPurchases       int64     `json:"direct_purchases"`
	LatePurchases         int64     `json:"late_purchases"`
	SpendingCents         int64     `json:"spending_cents"`
	UniqueAbandoningUsers int64     `json:"unique_abandoning_users"`
	TopSpenders           []Spender `json:"top_spenders"`
	OpenCarts             int64     `json:"open_carts"`
	// The shop figures (docs/semantics.md, rules 9 to 11).
	RecoveredCarts      int64            `json:"recovered_carts"`
	RecoveredValueCents int64            `json:"recovered_value_cents"`
	CartToPurchase      Delays           `json:"cart_to_purchase"`
	TTLAdvisor          []TTLShare       `json:"ttl_advisor"`
	AbandonedByCategory []CategoryFigure `json:"abandoned_by_category"`
	AbandonedByHour     []HourFigure     `json:"abandoned_by_hour"`
	ElapsedSeconds      float64          `json:"elapsed_seconds"`
	EventsPerSecond     float64          `json:"events_per_second"`
	// Interrupted: the run was stopped (its context ended) before the end
	// of its input; the figures cover what was read, and open carts were
	// not abandoned at the end (rule 6). Only written when true.
	Interrupted bool `json:"interrupted,omitempty"`
}

// Delays is the cart-to-purchase delay of the converted and recovered
// carts (rule 10): their number, approximate quantiles and the histogram.
type Delays struct {
	Carts      int64         `json:"carts"`
	P50Seconds int64         `json:"p50_seconds"`
	P90Seconds int64         `json:"p90_seconds"`
	P99Seconds int64         `json:"p99_seconds"`
	Buckets    []DelayBucket `json:"buckets"`
}

// DelayBucket is one bucket of Delays: the carts whose delay d is
// FromSeconds <= d < ToSeconds (no upper bound when ToSeconds is 0).
type DelayBucket struct {
	FromSeconds int64 `json:"from_seconds"`
	ToSeconds   int64 `json:"to_seconds,omitempty"`
	Carts       int64 `json:"carts"`
}

// TTLShare is one line of the TTL advisor: of the converted and recovered
// carts, Caught had a delay below TTLSeconds (a TTL that long would have
// seen their purchase in time); Share is Caught over all of them (0 when
// there are none).
type TTLShare struct {
	TTLSeconds int64   `json:"ttl_seconds"`
	Caught     int64   `json:"caught"`
	Share      float64 `json:"share"`
}

// CategoryFigure is the abandoned items and value of one top-level category
// (rule 11); "unknown" holds the items without a category_code, "other"
// those of the categories after the first MaxCategories.
type CategoryFigure struct {
	Category   string `json:"category"`
	Items      int64  `json:"items"`
	ValueCents int64  `json:"value_cents"`
}

// HourFigure is the abandoned carts' items and value of one UTC hour of
// day (of their last cart event).
type HourFigure struct {
	Hour       int   `json:"hour"`
	Items      int64 `json:"items"`
	ValueCents int64 `json:"value_cents"`
}

// setCounters sets the figures of s that come from the tallies c.
func (s *Summary) setCounters(c *Counters) {
	s.Views, s.Carts, s.Purchases, s.OtherEvents = c.Views, c.Carts, c.Purchases, c.Others
	s.CartsOpened, s.Converted = c.CartsOpened, c.Converted
	s.Abandoned, s.AbandonedValueCents = c.Abandoned, c.AbandonedValue
	s.DirectPurchases, s.LatePurchases = c.Direct, c.Late
	s.SpendingCents, s.UniqueAbandoningUsers, s.OpenCarts = c.Spending, c.AbandoningUsers, c.OpenCarts
	s.RecoveredCarts, s.RecoveredValueCents = c.Recovered, c.RecoveredValue
	s.setDelays(&c.Delay)
	s.AbandonedByCategory = s.AbandonedByCategory[:0]
	unknown, other := c.ByCategory.Unknown, c.ByCategory.Other
	for i := range c.ByCategory.N {
		t := c.ByCategory.Tallies[i]
		// A category named "unknown" or "other" in the data is added to
		// the figure of that name: one name, one figure (as /metrics).
		switch name := string(c.ByCategory.Names[i].bytes()); name {
		case "unknown":
			unknown.add(t)
		case "other":
			other.add(t)
		default:
			s.AbandonedByCategory = append(s.AbandonedByCategory, CategoryFigure{name, t.Items, t.Value})
		}
	}
	for _, x := range []struct {
		name string
		t    Tally
	}{{"unknown", unknown}, {"other", other}} {
		if x.t.Items > 0 {
			s.AbandonedByCategory = append(s.AbandonedByCategory, CategoryFigure{x.name, x.t.Items, x.t.Value})
		}
	}
	// The most value first (ties: most items, then by name).
	slices.SortStableFunc(s.AbandonedByCategory, func(a, b CategoryFigure) int {
		if c := cmp.Compare(b.ValueCents, a.ValueCents); c != 0 {
			return c
		}
		return cmp.Compare(b.Items, a.Items)
	})
	s.AbandonedByHour = make([]HourFigure, 24)
	for h, t := range c.ByHour {
		s.AbandonedByHour[h] = HourFigure{h, t.Items, t.Value}
	}
}

// setDelays sets CartToPurchase and TTLAdvisor from the histogram h.
func (s *Summary) setDelays(h *DelayHistogram) {
	n := h.Total()
	s.CartToPurchase = Delays{Carts: n, P50Seconds: h.Quantile(0.5), P90Seconds: h.Quantile(0.9),
		P99Seconds: h.Quantile(0.99), Buckets: make([]DelayBucket, NumDelayBuckets)}
	var from int64
	for i, c := range h.Counts {
		b := DelayBucket{FromSeconds: from, Carts: c}
		if i < len(DelayEdges) {
			b.ToSeconds = DelayEdges[i]
			from = DelayEdges[i]
		}
		s.CartToPurchase.Buckets[i] = b
	}
	s.TTLAdvisor = make([]TTLShare, len(AdvisorTTLs))
	for i, ttl := range AdvisorTTLs {
		caught := h.Below(ttl)
		var share float64
		if n > 0 {
			share = float64(caught) / float64(n)
		}
		s.TTLAdvisor[i] = TTLShare{ttl, caught, share}
	}
}

// WriteJSON writes s as one JSON object and a newline.
func (s *Summary) WriteJSON(w io.Writer) error {
	out := *s
	if out.TopSpenders == nil {
		out.TopSpenders = []Spender{}
	}
	if out.AbandonedByCategory == nil {
		out.AbandonedByCategory = []CategoryFigure{}
	}
	if out.TTLAdvisor == nil { // a Summary not filled by a run
		out.setDelays(&DelayHistogram{})
	}
	if out.AbandonedByHour == nil {
		out.AbandonedByHour = make([]HourFigure, 24)
		for h := range out.AbandonedByHour {
			out.AbandonedByHour[h].Hour = h
		}
	}
	b, err := json.Marshal(&out)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteText writes s for a reader.
func (s *Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	line := func(k string, v string) { fmt.Fprintf(&b, "%-24s %s\n", k, v) }
	n := func(k string, v int64) { line(k, group(v)) }
	if s.Interrupted {
		line("interrupted", "yes: partial results, open carts not abandoned")
	}
	n("events", s.Events)
	n("  views", s.Views)
	n("  carts", s.Carts)
	n("  purchases", s.Purchases)
	n("  other events", s.OtherEvents)
	n("malformed rows", s.Malformed)
	n("carts opened", s.CartsOpened)
	n("  converted", s.Converted)
	n("  abandoned", s.Abandoned)
	n("  still open", s.OpenCarts)
	line("abandoned value", money(s.AbandonedValueCents))
	n("abandoning users", s.UniqueAbandoningUsers)
	n("direct purchases", s.DirectPurchases)
	n("late purchases", s.LatePurchases)
	line("spending", money(s.SpendingCents))
	for i, t := range s.TopSpenders {
		line(fmt.Sprintf("top spender %d", i+1), fmt.Sprintf("user %d, %s", t.UserID, money(t.SpendingCents)))
	}
	n("recovered carts", s.RecoveredCarts)
	line("recovered value", money(s.RecoveredValueCents))
	d := &s.CartToPurchase
	if d.Carts > 0 {
		line("cart to purchase", fmt.Sprintf("%s carts: median %s, p90 %s, p99 %s",
			group(d.Carts), span(d.P50Seconds), span(d.P90Seconds), span(d.P99Seconds)))
		line("TTL advisor", "a TTL of ... sees this share of those purchases in time")
		for _, a := range s.TTLAdvisor {
			line("  "+span(a.TTLSeconds), fmt.Sprintf("%5.1f %%  (%s of %s)", 100*a.Share, group(a.Caught), group(d.Carts)))
		}
	} else {
		line("cart to purchase", "no converted or recovered carts")
	}
	if len(s.AbandonedByCategory) > 0 {
		line("abandoned by category", "items, value")
		for _, c := range s.AbandonedByCategory {
			line("  "+c.Category, fmt.Sprintf("%s, %s", group(c.Items), money(c.ValueCents)))
		}
	}
	if s.Abandoned > 0 {
		line("abandoned by hour (UTC)", "items, value (hour of the last cart event; hours with none left out)")
		for _, h := range s.AbandonedByHour {
			if h.Items == 0 {
				continue
			}
			line(fmt.Sprintf("  %02d:00", h.Hour), fmt.Sprintf("%s, %s", group(h.Items), money(h.ValueCents)))
		}
	}
	line("elapsed", fmt.Sprintf("%.3f s (%s events/s)", s.ElapsedSeconds, group(int64(s.EventsPerSecond))))
	_, err := io.WriteString(w, b.String())
	return err
}

// span writes seconds as a short duration: 45s, 5m, 1h30m, 24h, 3d.
func span(sec int64) string {
	switch {
	case sec < 60:
		return fmt.Sprintf("%ds", sec)
	case sec >= 2*86400 && sec%86400 == 0:
		return fmt.Sprintf("%dd", sec/86400)
	}
	d := time.Duration(sec * int64(time.Second)).String()
	if strings.HasSuffix(d, "m0s") {
		d = d[:len(d)-2]
	}
	if strings.HasSuffix(d, "h0m") {
		d = d[:len(d)-2]
	}
	return d
}

// group writes n with thousands separators: 67,501,979.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// money writes integer cents as dollars, exactly: 1234567 -> "12,345.67".
// A sum pinned at the int64 maximum (rule 7) says so.
func money(c int64) string {
	s := fmt.Sprintf("%s.%02d", group(c/100), c%100)
	if c == math.MaxInt64 {
		s += " or more (the int64 limit)"
	}
	return s
}
