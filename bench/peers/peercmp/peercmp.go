// Package peercmp checks a peer's answer against cartwatch's: the counts of
// the summary and the abandoned carts, as a multiset (exact mode) or as the
// share of cartwatch's carts the peer reports (recall mode, for a peer that
// by design misses some, such as the prototype's approach). The answers are
// output folders of the runners in bench/peers: alerts.jsonl (one JSON
// object per abandoned cart, cartwatch's alert keys) and summary.json
// (cartwatch's --summary json keys). It is not safe for concurrent use of
// one Report.
package peercmp

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Alert is the part of an abandoned cart the comparison reads. A time is
// Unix seconds; 0 when the peer does not write it.
type Alert struct {
	UserID      uint64
	FirstCartAt int64
	LastCartAt  int64
	AbandonedAt int64
	Items       int64
	ValueCents  int64
}

func (a Alert) String() string {
	t := func(s int64) string {
		if s == 0 {
			return "-"
		}
		return time.Unix(s, 0).UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("user_id=%d first_cart_at=%s last_cart_at=%s abandoned_at=%s items=%d cart_value_cents=%d",
		a.UserID, t(a.FirstCartAt), t(a.LastCartAt), t(a.AbandonedAt), a.Items, a.ValueCents)
}

// Answer is one system's output: its alerts in the order written and its
// summary's integer counts by key.
type Answer struct {
	Alerts []Alert
	Counts map[string]int64
}

// ReadDir reads dir/alerts.jsonl and dir/summary.json.
func ReadDir(dir string) (Answer, error) {
	var ans Answer
	f, err := os.Open(filepath.Join(dir, "alerts.jsonl"))
	if err != nil {
		return ans, err
	}
	defer f.Close()
	if ans.Alerts, err = ReadAlerts(f); err != nil {
		return ans, fmt.Errorf("%s: %w", f.Name(), err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		return ans, err
	}
	if ans.Counts, err = ParseSummary(b); err != nil {
		return ans, fmt.Errorf("%s: %w", filepath.Join(dir, "summary.json"), err)
	}
	return ans, nil
}

type alertJSON struct {
	UserID      *uint64         `json:"user_id"`
	FirstCartAt json.RawMessage `json:"first_cart_at"`
	LastCartAt  json.RawMessage `json:"last_cart_at"`
	AbandonedAt json.RawMessage `json:"abandoned_at"`
	Items       *int64          `json:"items"`
	ValueCents  *int64          `json:"cart_value_cents"`
}

// ReadAlerts reads one JSON object per line. user_id is required; times are
// RFC 3339 strings, "2006-01-02 15:04:05" (with or without " UTC") or Unix
// seconds as a number.
func ReadAlerts(r io.Reader) ([]Alert, error) {
	var out []Alert
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var j alertJSON
		if err := json.Unmarshal(b, &j); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if j.UserID == nil {
			return nil, fmt.Errorf("line %d: no user_id", line)
		}
		a := Alert{UserID: *j.UserID}
		for _, f := range []struct {
			raw json.RawMessage
			dst *int64
		}{{j.FirstCartAt, &a.FirstCartAt}, {j.LastCartAt, &a.LastCartAt}, {j.AbandonedAt, &a.AbandonedAt}} {
			t, err := parseTime(f.raw)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			*f.dst = t
		}
		if j.Items != nil {
			a.Items = *j.Items
		}
		if j.ValueCents != nil {
			a.ValueCents = *j.ValueCents
		}
		out = append(out, a)
	}
	return out, sc.Err()
}

func parseTime(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("time %s: want a string or Unix seconds", raw)
		}
		return n, nil
	}
	s = strings.TrimSuffix(s, " UTC")
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Unix(), nil
		}
	}
	return 0, fmt.Errorf("time %q: want RFC 3339 or 2006-01-02 15:04:05", s)
}

// ParseSummary takes the integer values of a summary object (other values,
// such as top_spenders or elapsed_seconds, are left out).
func ParseSummary(b []byte) (map[string]int64, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for k, v := range m {
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out, nil
}

// CountKeys are the summary counts compared, in report order. The first two
// are required of every peer: the rows it read (a reader that silently drops
// rows looks fast) and the carts it found abandoned.
var CountKeys = []string{"events", "abandoned", "carts_opened", "converted", "abandoned_value_cents",
	"views", "carts", "purchases", "other_events", "malformed", "direct_purchases", "late_purchases",
	"spending_cents", "unique_abandoning_users", "open_carts"}

const requiredCounts = 2

// Count is one summary figure of both answers; Have is false when the peer
// does not report it.
type Count struct {
	Key      string `json:"key"`
	Want     int64  `json:"cartwatch"`
	Got      int64  `json:"peer"`
	Have     bool   `json:"have"`
	Equal    bool   `json:"equal"`
	Compared bool   `json:"compared"` // counted in Report.Equal
}

// Report is the outcome of one comparison.
type Report struct {
	Recall     bool     `json:"recall"`
	Counts     []Count  `json:"counts"`
	Key        []string `json:"alert_key"` // the alert fields compared
	WantAlerts int      `json:"want_alerts"`
	GotAlerts  int      `json:"got_alerts"`
	Matched    int      `json:"matched"`    // cartwatch's alerts the peer reports
	Missing    []Alert  `json:"-"`          // cartwatch's, not the peer's, in cartwatch's order
	Extra      []Alert  `json:"-"`          // the peer's, not cartwatch's, in the peer's order
	SameOrder  bool     `json:"same_order"` // the alerts in the same order (exact mode)
	Equal      bool     `json:"equal"`
}

// Compare checks got (a peer) against want (cartwatch). In exact mode the
// alerts are compared as a multiset on user_id, abandoned_at, items and
// cart_value_cents, plus first_cart_at and last_cart_at when the peer writes
// them; Equal needs every count the peer reports and the multiset equal. In
// recall mode an alert is the same cart when user_id and last_cart_at agree
// (the peer's abandoned_at is its own), and Equal needs only the same events.
func Compare(want, got Answer, recall bool) Report {
	r := Report{Recall: recall, WantAlerts: len(want.Alerts), GotAlerts: len(got.Alerts)}
	r.Equal = true
	for i, k := range CountKeys {
		w, okW := want.Counts[k]
		g, okG := got.Counts[k]
		c := Count{Key: k, Want: w, Got: g, Have: okG, Equal: okW && okG && w == g}
		c.Compared = okW && (i < requiredCounts || okG) && (!recall || k == "events")
		if c.Compared && !c.Equal {
			r.Equal = false
		}
		r.Counts = append(r.Counts, c)
	}
	withFirst, withLast := true, true
	for _, a := range got.Alerts {
		withFirst = withFirst && a.FirstCartAt != 0
		withLast = withLast && a.LastCartAt != 0
	}
	key := func(a Alert) Alert {
		if recall {
			return Alert{UserID: a.UserID, LastCartAt: a.LastCartAt}
		}
		if !withFirst {
			a.FirstCartAt = 0
		}
		if !withLast {
			a.LastCartAt = 0
		}
		return a
	}
	switch {
	case recall:
		r.Key = []string{"user_id", "last_cart_at"}
	default:
		r.Key = []string{"user_id", "abandoned_at", "items", "cart_value_cents"}
		if withFirst {
			r.Key = append(r.Key, "first_cart_at")
		}
		if withLast {
			r.Key = append(r.Key, "last_cart_at")
		}
	}
	have := map[Alert]int{}
	for _, a := range got.Alerts {
		have[key(a)]++
	}
	for _, a := range want.Alerts {
		if k := key(a); have[k] > 0 {
			have[k]--
			r.Matched++
		} else {
			r.Missing = append(r.Missing, a)
		}
	}
	for _, a := range got.Alerts {
		if k := key(a); have[k] > 0 {
			have[k]--
			r.Extra = append(r.Extra, a)
		}
	}
	if !recall {
		r.Equal = r.Equal && len(r.Missing) == 0 && len(r.Extra) == 0
		r.SameOrder = len(want.Alerts) == len(got.Alerts)
		for i := 0; r.SameOrder && i < len(want.Alerts); i++ {
			r.SameOrder = key(want.Alerts[i]) == key(got.Alerts[i])
		}
	}
	return r
}

// Write prints the report: each count, the alerts, up to show differing
// alerts of each side, and the verdict line "equal: yes" or "equal: no".
func (r *Report) Write(w io.Writer, peer string, show int) {
	fmt.Fprintf(w, "%-24s %15s %15s  %s\n", "count", "cartwatch", peer, "equal")
	for _, c := range r.Counts {
		got, eq := "-", "not reported"
		if c.Have {
			got = strconv.FormatInt(c.Got, 10)
			eq = map[bool]string{true: "yes", false: "no"}[c.Equal]
			if !c.Compared {
				eq += " (not compared)"
			}
		}
		fmt.Fprintf(w, "%-24s %15d %15s  %s\n", c.Key, c.Want, got, eq)
	}
	if r.Recall {
		pct := 0.0
		if r.WantAlerts > 0 {
			pct = 100 * float64(r.Matched) / float64(r.WantAlerts)
		}
		fmt.Fprintf(w, "alerts: %s reports %d of cartwatch's %d abandoned carts (%.1f %%), and %d that cartwatch does not (same cart: %s)\n",
			peer, r.Matched, r.WantAlerts, pct, len(r.Extra), strings.Join(r.Key, ", "))
	} else {
		fmt.Fprintf(w, "alerts: cartwatch %d, %s %d; %d only in cartwatch, %d only in %s; same order: %s (compared on %s)\n",
			r.WantAlerts, peer, r.GotAlerts, len(r.Missing), len(r.Extra), peer,
			map[bool]string{true: "yes", false: "no"}[r.SameOrder], strings.Join(r.Key, ", "))
	}
	list := func(title string, as []Alert) {
		if len(as) == 0 || show <= 0 {
			return
		}
		fmt.Fprintf(w, "%s (first %d of %d):\n", title, min(show, len(as)), len(as))
		for _, a := range as[:min(show, len(as))] {
			fmt.Fprintf(w, "  %s\n", a)
		}
	}
	list("only in cartwatch", r.Missing)
	list("only in "+peer, r.Extra)
	verdict := "no"
	if r.Equal {
		verdict = "yes"
	}
	if r.Recall {
		verdict += fmt.Sprintf(" (recall mode: the same events; %d of %d abandoned carts reported)", r.Matched, r.WantAlerts)
	}
	fmt.Fprintf(w, "equal: %s\n", verdict)
}
