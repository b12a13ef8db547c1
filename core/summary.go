package core

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
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
	ElapsedSeconds        float64   `json:"elapsed_seconds"`
	EventsPerSecond       float64   `json:"events_per_second"`
	// Interrupted: the run was stopped (its context ended) before the end
	// of its input; the figures cover what was read, and open carts were
	// not abandoned at the end (rule 6). Only written when true.
	Interrupted bool `json:"interrupted,omitempty"`
}

// WriteJSON writes s as one JSON object and a newline.
func (s *Summary) WriteJSON(w io.Writer) error {
	out := *s
	if out.TopSpenders == nil {
		out.TopSpenders = []Spender{}
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
	line("elapsed", fmt.Sprintf("%.3f s (%s events/s)", s.ElapsedSeconds, group(int64(s.EventsPerSecond))))
	_, err := io.WriteString(w, b.String())
	return err
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
