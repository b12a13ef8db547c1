package core

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/event"
)

// ev builds an event; the session is "s<user>-<time>" so alerts show which
// cart event they came from.
// normalized clears what differs between equal runs (the timings) and
// gives an empty top-spender list one form, so summaries compare with ==
// or reflect.DeepEqual.
func normalized(s *Summary) {
	s.ElapsedSeconds, s.EventsPerSecond = 0, 0
	if s.TopSpenders == nil {
		s.TopSpenders = []Spender{}
	}
}

func ev(t int64, typ event.EventType, uid, product uint64, cents int64) event.Event {
	e := event.Event{Time: t, Type: typ, UserID: uid, ProductID: product, PriceCents: cents}
	e.SetSession([]byte(fmt.Sprintf("s%d-%d", uid, t)))
	return e
}

const (
	V = event.EventView
	C = event.EventCart
	P = event.EventPurchase
	O = event.EventOther
)

// runEngine runs evs through the engine with opt and returns the alert
// lines and the summary with its timing fields zeroed.
func runEngine(t *testing.T, evs []event.Event, opt Options) (string, Summary) {
	t.Helper()
	var buf bytes.Buffer
	opt.Alerts = &buf
	sum, err := RunSlice(evs, opt)
	if err != nil {
		t.Fatal(err)
	}
	normalized(&sum)
	return buf.String(), sum
}

func refAlerts(out refOut) string {
	var b []byte
	for i := range out.alerts {
		b = out.alerts[i].AppendJSON(b)
		b = append(b, '\n')
	}
	return string(b)
}

// checkAgainstRef runs evs with 1, 2 and 8 shards (and small batches, so
// that watermarks cross batch boundaries) and compares each run with refRun.
func checkAgainstRef(t *testing.T, evs []event.Event, opt Options) (string, Summary) {
	t.Helper()
	ttl := int64(30 * 60)
	if opt.TTL != 0 {
		ttl = int64(opt.TTL / time.Second)
	}
	recovery := int64(24 * 3600)
	if opt.RecoveryWindow != 0 {
		recovery = max(int64(opt.RecoveryWindow/time.Second), 0)
	}
	ref := refRun(evs, ttl, int64(opt.Lateness/time.Second), opt.KeepAtEOF, opt.ExtendOnActivity, recovery)
	normalized(&ref.sum)
	wantAlerts := refAlerts(ref)
	var first string
	var firstSum Summary
	for _, shards := range []int{1, 2, 8} {
		for _, batchEvents := range []int{1, 7, 4096} {
			o := opt
			o.Shards, o.Parsers, o.BatchEvents = shards, 2, batchEvents
			got, sum := runEngine(t, evs, o)
			if got != wantAlerts {
				t.Fatalf("shards=%d batch=%d: alerts differ from the reference\ngot:\n%s\nwant:\n%s", shards, batchEvents, got, wantAlerts)
			}
			if !reflect.DeepEqual(sum, ref.sum) {
				t.Fatalf("shards=%d batch=%d: summary\ngot  %+v\nwant %+v", shards, batchEvents, sum, ref.sum)
			}
			first, firstSum = got, sum
			// The same events as Blocks of batchEvents rows, each one batch
			// (RunBlockSlice) and through RunBlocks' reader.
			for _, streamed := range []bool{false, true} {
				got, sum := runEngineBlocks(t, evs, batchEvents, streamed, o)
				if got != wantAlerts {
					t.Fatalf("blocks streamed=%v shards=%d batch=%d: alerts differ from the reference\ngot:\n%s\nwant:\n%s", streamed, shards, batchEvents, got, wantAlerts)
				}
				if !reflect.DeepEqual(sum, ref.sum) {
					t.Fatalf("blocks streamed=%v shards=%d batch=%d: summary\ngot  %+v\nwant %+v", streamed, shards, batchEvents, sum, ref.sum)
				}
			}
		}
	}
	return first, firstSum
}

// TestRules has one case per rule of docs/semantics.md. Each case states
// what it expects (alert lines as "user@abandoned_at items value", and
// summary counters) and is also checked against the reference model.
func TestRules(t *testing.T) {
	f := func(name string, opt Options, evs []event.Event, wantAlerts string, check func(s Summary) string) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			got, sum := checkAgainstRef(t, evs, opt)
			var short []string
			for _, l := range strings.Split(strings.TrimSpace(got), "\n") {
				if l == "" {
					continue
				}
				var uid, items, value int64
				var ab string
				// The fields are in a fixed order; pick what the cases name.
				fmt.Sscanf(l[strings.Index(l, `"user_id":`)+10:], "%d", &uid)
				i := strings.Index(l, `"abandoned_at":"`) + 16
				ab = l[i : i+20]
				fmt.Sscanf(l[strings.Index(l, `"items":`)+8:], "%d", &items)
				fmt.Sscanf(l[strings.Index(l, `"cart_value_cents":`)+19:], "%d", &value)
				tm, _ := time.Parse(time.RFC3339, ab)
				short = append(short, fmt.Sprintf("%d@%d %d %d", uid, tm.Unix(), items, value))
			}
			if g := strings.Join(short, "; "); g != wantAlerts {
				t.Errorf("alerts: got %q, want %q", g, wantAlerts)
			}
			if check != nil {
				if msg := check(sum); msg != "" {
					t.Errorf("%s (summary %+v)", msg, sum)
				}
			}
		})
	}
	want := func(pairs ...any) func(Summary) string {
		return func(s Summary) string {
			m := map[string]int64{
				"carts_opened": s.CartsOpened, "converted": s.Converted, "abandoned": s.Abandoned,
				"direct": s.DirectPurchases, "late": s.LatePurchases, "spending": s.SpendingCents,
				"open": s.OpenCarts, "other": s.OtherEvents, "views": s.Views, "events": s.Events,
				"abandoned_value": s.AbandonedValueCents, "abandoners": s.UniqueAbandoningUsers,
				"recovered": s.RecoveredCarts, "recovered_value": s.RecoveredValueCents,
			}
			var bad []string
			for i := 0; i < len(pairs); i += 2 {
				k := pairs[i].(string)
				v := int64(pairs[i+1].(int))
				if m[k] != v {
					bad = append(bad, fmt.Sprintf("%s=%d, want %d", k, m[k], v))
				}
			}
			return strings.Join(bad, ", ")
		}
	}
	ttl5 := Options{TTL: 5 * time.Minute}

	// Rule 1: events apply per user in input order; users do not interact.
	f("r1-per-user", ttl5, []event.Event{
		ev(0, C, 1, 10, 100), ev(10, C, 2, 20, 200), ev(20, P, 1, 10, 100), ev(400, V, 3, 1, 1),
	}, "2@310 1 200", want("converted", 1, "abandoned", 1))

	// Rule 2: the watermark includes the event being applied, so a
	// purchase exactly at the deadline finds the cart already abandoned.
	f("r2-purchase-at-deadline", ttl5, []event.Event{
		ev(0, C, 1, 10, 100), ev(300, P, 1, 10, 100),
	}, "1@300 1 100", want("converted", 0, "abandoned", 1, "direct", 1))
	f("r2-purchase-before-deadline", ttl5, []event.Event{
		ev(0, C, 1, 10, 100), ev(299, P, 1, 10, 100),
	}, "", want("converted", 1, "abandoned", 0))
	// Another user's event moves the watermark for everybody.
	f("r2-other-user-moves-watermark", ttl5, []event.Event{
		ev(0, C, 1, 10, 100), ev(301, V, 2, 1, 1), ev(302, P, 1, 10, 100),
	}, "1@300 1 100", want("abandoned", 1, "late", 0, "direct", 1))
	// Lateness holds the watermark back.
	f("r2-lateness", Options{TTL: 5 * time.Minute, Lateness: time.Minute}, []event.Event{
		ev(0, C, 1, 10, 100), ev(330, V, 2, 1, 1), ev(320, P, 1, 10, 100),
	}, "", want("converted", 1))
	// A cart whose deadline is already behind the watermark is abandoned
	// before the next event applies, and sorts where it fell due.
	f("r2-late-cart", ttl5, []event.Event{
		ev(0, C, 5, 10, 100), ev(1000, V, 2, 1, 1), ev(100, C, 1, 11, 111), ev(150, P, 1, 11, 111),
	}, "5@300 1 100; 1@400 1 111", want("abandoned", 2, "late", 1, "converted", 0))
	// Deadlines that fall due at the same watermark come out by
	// (abandoned_at, user_id).
	f("r2-order", ttl5, []event.Event{
		ev(5, C, 9, 1, 1), ev(0, C, 7, 1, 1), ev(5, C, 3, 1, 1), ev(1000, V, 1, 1, 1),
	}, "7@300 1 1; 3@305 1 1; 9@305 1 1", want("abandoned", 3))

	// Rule 3: carts accumulate items and value; the deadline is last + TTL.
	f("r3-accumulate", ttl5, []event.Event{
		ev(0, C, 1, 10, 150), ev(200, C, 1, 11, 250), ev(450, C, 1, 10, 1),
	}, "1@750 3 401", want("carts_opened", 1, "abandoned", 1, "abandoned_value", 401))
	// After an abandonment a new cart event opens a new cart.
	f("r3-reopen", ttl5, []event.Event{
		ev(0, C, 1, 10, 150), ev(300, C, 1, 11, 250),
	}, "1@300 1 150; 1@600 1 250", want("carts_opened", 2, "abandoners", 1))

	// Rule 4: converted, direct, late; spending from every purchase.
	f("r4-purchases", ttl5, []event.Event{
		ev(0, C, 1, 10, 100), ev(10, P, 1, 10, 100), // converted
		ev(20, P, 2, 10, 1000), // direct
		ev(30, C, 3, 10, 100),
		ev(400, V, 4, 1, 1),   // abandons user 3 at 330
		ev(320, P, 3, 10, 7),  // late: 320 < 330
		ev(330, P, 3, 10, 5),  // direct: not earlier than 330
		ev(500, P, 1, 10, 50), // direct: user 1's cart was converted
	}, "3@330 1 100", want("converted", 1, "direct", 3, "late", 1, "spending", 1162))

	// Rule 5: views change nothing; other events are counted only.
	f("r5-view", ttl5, []event.Event{
		ev(0, C, 1, 10, 100), ev(200, V, 1, 10, 100), ev(250, O, 1, 10, 100),
	}, "1@300 1 100", want("views", 1, "other", 1, "events", 3))
	// With --extend-on-activity any event moves the deadline.
	f("r5-extend", Options{TTL: 5 * time.Minute, ExtendOnActivity: true}, []event.Event{
		ev(0, C, 1, 10, 100), ev(200, V, 1, 10, 100), ev(450, O, 1, 10, 100), ev(700, V, 2, 1, 1),
	}, "1@750 1 100", want("abandoned", 1))
	// An activity event whose new deadline is behind the watermark.
	f("r5-extend-late", Options{TTL: 5 * time.Minute, ExtendOnActivity: true, Lateness: 5 * time.Minute}, []event.Event{
		ev(0, C, 1, 10, 100), ev(550, V, 2, 1, 1), ev(10, V, 1, 1, 1),
	}, "1@310 1 100", want("abandoned", 1))

	// Rule 6: the end of input abandons every open cart, or keeps them.
	f("r6-eof", ttl5, []event.Event{ev(0, C, 2, 10, 100), ev(1, C, 1, 10, 100)},
		"2@300 1 100; 1@301 1 100", want("abandoned", 2, "open", 0))
	f("r6-keep", Options{TTL: 5 * time.Minute, KeepAtEOF: true}, []event.Event{ev(0, C, 2, 10, 100), ev(1, C, 1, 10, 100)},
		"", want("abandoned", 0, "open", 2))

	// Rule 9: a direct purchase within the recovery window after the
	// user's last abandoned cart recovers it, once; at the window's end
	// it is too late, and a late purchase recovers nothing.
	f("r9-recovered", ttl5, []event.Event{
		ev(0, C, 1, 10, 100), ev(0, C, 2, 10, 200), ev(10, C, 3, 10, 300),
		ev(400, P, 1, 10, 7),       // abandons the three carts; recovers 1's (100)
		ev(305, P, 3, 10, 5),       // late: 305 < 310
		ev(320, P, 3, 10, 5),       // recovers 3's (300)
		ev(500, P, 1, 10, 1),       // direct: 1's cart is recovered already
		ev(300+86400, P, 2, 10, 1), // direct: exactly at the window's end
	}, "1@300 1 100; 2@300 1 200; 3@310 1 300", want("direct", 4, "late", 1, "recovered", 2, "recovered_value", 400))
	// Each abandoned cart can be recovered once; a new abandoned cart
	// can be again.
	f("r9-once-per-cart", ttl5, []event.Event{
		ev(0, C, 1, 10, 100), ev(400, P, 1, 10, 1), ev(500, C, 1, 10, 50), ev(900, P, 1, 10, 1), ev(950, P, 1, 10, 1),
	}, "1@300 1 100; 1@800 1 50", want("direct", 3, "recovered", 2, "recovered_value", 150))
	f("r9-window", Options{TTL: 5 * time.Minute, RecoveryWindow: 100 * time.Second}, []event.Event{
		ev(0, C, 1, 10, 100), ev(0, C, 2, 10, 200), ev(399, P, 1, 10, 1), ev(400, P, 2, 10, 1),
	}, "1@300 1 100; 2@300 1 200", want("direct", 2, "recovered", 1, "recovered_value", 100))
	f("r9-off", Options{TTL: 5 * time.Minute, RecoveryWindow: -1}, []event.Event{
		ev(0, C, 1, 10, 100), ev(400, P, 1, 10, 1),
	}, "1@300 1 100", want("direct", 1, "recovered", 0))

	// Rule 10: the delay from a converted or recovered cart's last cart
	// event to its purchase; the advisor counts delays below each TTL (a
	// purchase at 5m is not seen in time by a TTL of 5m).
	f("r10-delay", Options{}, []event.Event{
		ev(0, C, 1, 10, 1), ev(0, C, 2, 10, 1), ev(0, C, 3, 10, 1), ev(0, C, 4, 10, 1),
		ev(100, C, 3, 10, 1),
		ev(299, P, 1, 10, 1),  // 299 s
		ev(300, P, 2, 10, 1),  // 300 s
		ev(1899, P, 3, 10, 1), // 1799 s from the last cart event
		ev(9000, P, 4, 10, 1), // 4's cart, abandoned at 1800, recovered: 9000 s
	}, "4@1800 1 1", func(s Summary) string {
		d := s.CartToPurchase
		var got []string
		for _, b := range d.Buckets {
			if b.Carts > 0 {
				got = append(got, fmt.Sprintf("[%d,%d):%d", b.FromSeconds, b.ToSeconds, b.Carts))
			}
		}
		for _, a := range s.TTLAdvisor {
			got = append(got, fmt.Sprintf("%d<%d", a.Caught, a.TTLSeconds))
		}
		got = append(got, fmt.Sprintf("n=%d p50=%d", d.Carts, d.P50Seconds))
		want := "[180,300):1 [300,420):1 [1200,1800):1 [7200,10800):1 1<300 2<900 3<1800 3<3600 3<7200 4<86400 n=4 p50=420"
		if g := strings.Join(got, " "); g != want || s.TTLAdvisor[0].Share != 0.25 {
			return fmt.Sprintf("delays %q (share %v), want %q (share 0.25)", g, s.TTLAdvisor[0].Share, want)
		}
		return ""
	})

	// Rule 11: abandoned items and value by each cart event's top-level
	// category (converted carts count nothing), and by the UTC hour of
	// the cart's last cart event.
	cat := func(e event.Event, code string) event.Event { e.SetCategory([]byte(code)); return e }
	f("r11-category", ttl5, []event.Event{
		cat(ev(0, C, 1, 10, 100), "electronics.smartphone"), cat(ev(10, C, 1, 11, 50), "appliances.kitchen.oven"),
		cat(ev(20, C, 1, 12, 30), "electronics.audio"), cat(ev(30, C, 1, 13, 5), ""),
		cat(ev(40, C, 2, 14, 70), "furniture"), ev(50, P, 2, 14, 70),
	}, "1@330 4 185", func(s Summary) string {
		got := fmt.Sprint(s.AbandonedByCategory)
		if want := "[{electronics 2 130} {appliances 1 50} {unknown 1 5}]"; got != want {
			return fmt.Sprintf("categories %s, want %s", got, want)
		}
		return ""
	})
	// A category named "unknown" (or "other") in the data and the items
	// without a category_code are one figure of that name.
	f("r11-unknown-named", ttl5, []event.Event{
		cat(ev(0, C, 1, 10, 100), "unknown.x"), cat(ev(10, C, 1, 11, 5), ""), cat(ev(20, C, 1, 12, 7), "other"),
	}, "1@320 3 112", func(s Summary) string {
		got := fmt.Sprint(s.AbandonedByCategory)
		if want := "[{unknown 2 105} {other 1 7}]"; got != want {
			return fmt.Sprintf("categories %s, want %s", got, want)
		}
		return ""
	})
	f("r11-hour", Options{}, []event.Event{
		ev(-1, C, 2, 10, 5), ev(3000, C, 1, 10, 10), ev(3700, C, 1, 10, 20),
	}, "2@1799 1 5; 1@5500 2 30", func(s Summary) string {
		var got []string
		for _, h := range s.AbandonedByHour {
			if h.Items > 0 {
				got = append(got, fmt.Sprint(h))
			}
		}
		if g, want := strings.Join(got, " "), "{1 2 30} {23 1 5}"; g != want {
			return fmt.Sprintf("hours %s, want %s", g, want)
		}
		return ""
	})

	// Rule 7: money is summed in integer cents.
	f("r7-cents", ttl5, []event.Event{ev(0, C, 1, 10, 10), ev(1, C, 1, 11, 20), ev(2, P, 2, 3, 30)},
		"1@301 2 30", want("abandoned_value", 30, "spending", 30))
}

// TestProductsCap: products lists the first 16 cart events' products.
func TestProductsCap(t *testing.T) {
	var evs []event.Event
	for i := 0; i < 20; i++ {
		evs = append(evs, ev(int64(i), C, 1, uint64(100+i), 1))
	}
	got, _ := checkAgainstRef(t, evs, Options{})
	if !strings.Contains(got, `"items":20,`) || !strings.Contains(got, `[100,101,102,103,104,105,106,107,108,109,110,111,112,113,114,115]`) {
		t.Fatalf("got %s", got)
	}
}

// TestRandomAgainstReference compares the engine with the reference on
// random streams: few users (so carts collide), out-of-order times, all
// options.
func TestRandomAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 60; iter++ {
		n := 50 + rng.IntN(400)
		users := 1 + rng.IntN(30)
		var evs []event.Event
		tm := int64(1572566400)
		for i := 0; i < n; i++ {
			tm += int64(rng.IntN(40))
			t := tm - int64(rng.IntN(8)*rng.IntN(100)) // sometimes late
			typ := []event.EventType{V, V, V, C, C, P, O}[rng.IntN(7)]
			evs = append(evs, ev(t, typ, uint64(rng.IntN(users))*7919, uint64(rng.IntN(50)), int64(rng.IntN(10000))))
		}
		// Categories: few, or more than MaxCategories (some long, cut
		// to event.CategoryMax), some empty.
		ncat := []int{3, MaxCategories + 20}[rng.IntN(2)]
		for i := range evs {
			if k := rng.IntN(ncat + 1); k > 0 {
				evs[i].SetCategory(fmt.Appendf(nil, "cat%02d-%s.sub", k, strings.Repeat("x", k%20)))
			}
		}
		opt := Options{
			RecoveryWindow:   []time.Duration{0, -1, time.Duration(1+rng.IntN(3000)) * time.Second}[rng.IntN(3)],
			TTL:              time.Duration(60+rng.IntN(600)) * time.Second,
			Lateness:         time.Duration(rng.IntN(3)*60) * time.Second,
			KeepAtEOF:        rng.IntN(4) == 0,
			ExtendOnActivity: rng.IntN(2) == 0,
		}
		t.Run(fmt.Sprint(iter), func(t *testing.T) { checkAgainstRef(t, evs, opt) })
	}
}

func TestHashUserIsXXHash(t *testing.T) {
	for _, u := range []uint64{0, 1, 500000001, 1<<64 - 1, 0x0123456789abcdef} {
		var b [8]byte
		for i := range b {
			b[i] = byte(u >> (8 * i))
		}
		if got, want := event.HashUser(u), xxhashSum64(b[:]); got != want {
			t.Errorf("HashUser(%d) = %x, xxhash.Sum64 = %x", u, got, want)
		}
	}
}
