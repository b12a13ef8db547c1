// Command gobaseline is the obvious Go program for cartwatch's detection
// contract (docs/semantics.md, default flags): one goroutine, encoding/csv, a
// built-in map of users and a container/heap of cart deadlines. It is a peer
// in the perf report (bench/peers/README.md), not part of cartwatch: it
// imports nothing of the project, so it measures what a careful first
// version costs.
//
//	gobaseline [--ttl 30m] [--max-future 24h] [--alerts FILE] INPUT.csv|-
//
// It writes one JSON line per abandoned cart (cartwatch's alert format) to
// --alerts and the summary (cartwatch's --summary json keys) to stdout.
package main

import (
	"bufio"
	"container/heap"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The columns the contract reads, found in the header by name.
var columns = []string{"event_time", "event_type", "product_id", "price", "user_id", "user_session"}

const (
	maxPriceCents = 1_000_000_000_000 // 10,000,000,000.00 (rule 7)
	maxProducts   = 16                // products listed per alert (rule 3)
	maxSession    = 36                // bytes of user_session kept
)

type cart struct {
	first, last, deadline int64
	items, value          int64
	products              []uint64
	session               string
}

type user struct {
	cart        *cart
	lastAlertAt int64 // abandoned_at of the last reported cart; 0: none
	spending    int64
	abandoned   bool // has had a cart abandoned
	purchased   bool // has made a purchase (a top spender candidate)
}

// timer is one scheduled deadline. A cart's deadline moves with each cart
// event; the old entries stay in the heap and are skipped when they surface
// (the cart is gone or its deadline is another).
type timer struct {
	deadline int64
	uid      uint64
}

type timers []timer

func (h timers) Len() int { return len(h) }
func (h timers) Less(i, j int) bool {
	if h[i].deadline != h[j].deadline {
		return h[i].deadline < h[j].deadline
	}
	return h[i].uid < h[j].uid
}
func (h timers) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timers) Push(x any)   { *h = append(*h, x.(timer)) }
func (h *timers) Pop() any     { old := *h; t := old[len(old)-1]; *h = old[:len(old)-1]; return t }
func (h timers) peek() timer   { return h[0] }
func (h *timers) push(t timer) { heap.Push(h, t) }
func (h *timers) pop() timer   { return heap.Pop(h).(timer) }
func (h timers) isEmpty() bool { return len(h) == 0 }

// Alert is one abandoned cart, in the keys and order of cartwatch's alerts.
type Alert struct {
	UserID      uint64   `json:"user_id"`
	Session     string   `json:"user_session"`
	FirstCartAt string   `json:"first_cart_at"`
	LastCartAt  string   `json:"last_cart_at"`
	AbandonedAt string   `json:"abandoned_at"`
	Items       int64    `json:"items"`
	ValueCents  int64    `json:"cart_value_cents"`
	Products    []uint64 `json:"products"`
}

// Spender is one of the top spenders.
type Spender struct {
	UserID        uint64 `json:"user_id"`
	SpendingCents int64  `json:"spending_cents"`
}

// Summary has the keys of cartwatch's --summary json.
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
}

// Config is the contract's parameters at cartwatch's defaults.
type Config struct {
	TTL       time.Duration // --ttl
	MaxFuture time.Duration // --max-future: negative is no limit
	Now       time.Time     // the wall clock the future limit counts from
}

func main() {
	cfg := Config{Now: time.Now()}
	flag.DurationVar(&cfg.TTL, "ttl", 30*time.Minute, "a cart is abandoned this long after its last cart event")
	flag.DurationVar(&cfg.MaxFuture, "max-future", 24*time.Hour, "a row later than now plus this is malformed (negative: no limit)")
	alertsPath := flag.String("alerts", "", "write one JSON line per abandoned cart to `FILE` (- for stdout)")
	flag.Parse()
	if flag.NArg() != 1 || cfg.TTL <= 0 {
		fmt.Fprintln(os.Stderr, "usage: gobaseline [--ttl D] [--max-future D] [--alerts FILE] INPUT.csv|-")
		os.Exit(2)
	}
	in := os.Stdin
	if p := flag.Arg(0); p != "-" {
		f, err := os.Open(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gobaseline:", err)
			os.Exit(1)
		}
		defer f.Close()
		in = f
	}
	alerts := io.Discard
	switch *alertsPath {
	case "":
	case "-":
		alerts = os.Stdout
	default:
		f, err := os.Create(*alertsPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gobaseline:", err)
			os.Exit(1)
		}
		defer f.Close()
		alerts = f
	}
	start := time.Now()
	sum, err := Run(in, alerts, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gobaseline:", err)
		os.Exit(1)
	}
	sum.ElapsedSeconds = time.Since(start).Seconds()
	sum.EventsPerSecond = float64(sum.Events) / sum.ElapsedSeconds
	out := os.Stdout
	if *alertsPath == "-" {
		out = os.Stderr
	}
	b, _ := json.Marshal(sum)
	fmt.Fprintf(out, "%s\n", b)
}

// Run reads CSV rows from in and writes the alerts to out as JSON lines.
func Run(in io.Reader, out io.Writer, cfg Config) (Summary, error) {
	var sum Summary
	ttl := int64(cfg.TTL / time.Second)
	maxTime := int64(math.MaxInt64)
	if cfg.MaxFuture >= 0 {
		maxTime = cfg.Now.Add(cfg.MaxFuture).Unix()
	}
	r := csv.NewReader(bufio.NewReaderSize(in, 1<<20))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	w := bufio.NewWriterSize(out, 1<<20)
	enc := json.NewEncoder(w)

	users := map[uint64]*user{}
	var due timers
	watermark := int64(math.MinInt64)
	emit := func(uid uint64, u *user) error {
		c := u.cart
		u.cart = nil
		u.lastAlertAt = c.deadline
		if !u.abandoned {
			u.abandoned = true
			sum.UniqueAbandoningUsers++
		}
		sum.Abandoned++
		sum.AbandonedValueCents = addCents(sum.AbandonedValueCents, c.value)
		return enc.Encode(Alert{UserID: uid, Session: c.session, FirstCartAt: stamp(c.first),
			LastCartAt: stamp(c.last), AbandonedAt: stamp(c.deadline), Items: c.items,
			ValueCents: c.value, Products: c.products})
	}
	// fire abandons every open cart whose deadline is at most w, in
	// (deadline, user_id) order.
	fire := func(w int64) error {
		for !due.isEmpty() && due.peek().deadline <= w {
			t := due.pop()
			if u := users[t.uid]; u != nil && u.cart != nil && u.cart.deadline == t.deadline {
				if err := emit(t.uid, u); err != nil {
					return err
				}
			}
		}
		return nil
	}

	col := map[string]int{"event_time": 0, "event_type": 1, "product_id": 2, "price": 6, "user_id": 7, "user_session": 8}
	nfields := 9
	first := true
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		var perr *csv.ParseError
		if errors.As(err, &perr) && perr.Err != csv.ErrFieldCount {
			sum.Malformed++
			continue
		} else if err != nil && perr == nil {
			return sum, err
		}
		if first {
			first = false
			if len(rec) > 0 {
				rec[0] = strings.TrimPrefix(rec[0], "\ufeff")
			}
			if hdr, ok := header(rec); ok {
				col, nfields = hdr, len(rec)
				continue
			}
		}
		if len(rec) != nfields {
			sum.Malformed++
			continue
		}
		t, ok := parseTime(rec[col["event_time"]])
		typ := rec[col["event_type"]]
		product, okP := parseUint(rec[col["product_id"]])
		price, okC := parseCents(rec[col["price"]])
		uid, okU := parseUint(rec[col["user_id"]])
		if !ok || t > maxTime || typ == "" || !okP || !okC || !okU {
			sum.Malformed++
			continue
		}
		sum.Events++
		if t > watermark {
			watermark = t
			if err := fire(watermark); err != nil {
				return sum, err
			}
		}
		switch typ {
		case "view":
			sum.Views++
			continue
		case "cart":
			sum.Carts++
			u := users[uid]
			if u == nil {
				u = &user{}
				users[uid] = u
			}
			if u.cart == nil {
				u.cart = &cart{first: t}
				sum.CartsOpened++
			}
			c := u.cart
			c.items++
			c.value = addCents(c.value, price)
			c.last = t
			c.deadline = t + ttl
			if len(c.products) < maxProducts {
				c.products = append(c.products, product)
			}
			var s string
			if i := col["user_session"]; i >= 0 {
				s = rec[i]
			}
			if len(s) > maxSession {
				s = s[:maxSession]
			}
			c.session = s
			if c.deadline <= watermark {
				// Late beyond the watermark: abandoned before the next event.
				if err := emit(uid, u); err != nil {
					return sum, err
				}
			} else {
				due.push(timer{c.deadline, uid})
			}
		case "purchase":
			sum.Purchases++
			sum.SpendingCents = addCents(sum.SpendingCents, price)
			u := users[uid]
			if u == nil {
				u = &user{}
				users[uid] = u
			}
			u.spending = addCents(u.spending, price)
			u.purchased = true
			switch {
			case u.cart != nil:
				u.cart = nil
				sum.Converted++
			case u.abandoned && t < u.lastAlertAt:
				sum.LatePurchases++
			default:
				sum.DirectPurchases++
			}
		default:
			sum.OtherEvents++
		}
	}
	if err := fire(math.MaxInt64); err != nil {
		return sum, err
	}
	var top []Spender
	for uid, u := range users {
		if u.purchased {
			top = append(top, Spender{uid, u.spending})
		}
	}
	sort.Slice(top, func(i, j int) bool {
		if top[i].SpendingCents != top[j].SpendingCents {
			return top[i].SpendingCents > top[j].SpendingCents
		}
		return top[i].UserID < top[j].UserID
	})
	sum.TopSpenders = top[:min(5, len(top))]
	return sum, w.Flush()
}

// header maps the columns by name when rec is a header line.
func header(rec []string) (map[string]int, bool) {
	if len(rec) == 0 {
		return nil, false
	}
	if _, ok := parseTime(rec[0]); ok {
		return nil, false
	}
	col := map[string]int{}
	for i, name := range rec {
		col[strings.ToLower(strings.TrimSpace(name))] = i
	}
	for _, c := range columns[:5] {
		if _, ok := col[c]; !ok {
			return nil, false
		}
	}
	if _, ok := col["user_session"]; !ok {
		col["user_session"] = -1
	}
	return col, true
}

func parseTime(s string) (int64, bool) {
	t, err := time.Parse("2006-01-02 15:04:05 UTC", s)
	if err != nil {
		if t, err = time.Parse(time.RFC3339, s); err != nil {
			return 0, false
		}
	}
	return t.Unix(), true
}

func parseUint(s string) (uint64, bool) {
	if s == "" || s[0] == '+' {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

// parseCents reads a price written out in full: digits, then '.' and one or
// two digits (rule 8), as integer cents.
func parseCents(s string) (int64, bool) {
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || (dot && (len(frac) < 1 || len(frac) > 2)) {
		return 0, false
	}
	w, ok := parseUint(whole)
	if !ok || w > maxPriceCents/100 {
		return 0, false
	}
	var f uint64
	if dot {
		if f, ok = parseUint(frac); !ok {
			return 0, false
		}
		if len(frac) == 1 {
			f *= 10
		}
	}
	c := int64(w*100 + f)
	return c, c <= maxPriceCents
}

// addCents adds two non-negative sums of cents, staying at the int64
// maximum instead of wrapping (rule 7).
func addCents(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func stamp(t int64) string { return time.Unix(t, 0).UTC().Format(time.RFC3339) }
