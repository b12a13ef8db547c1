package dash

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/core"
	"github.com/cartwatch/cartwatch/internal/testrows"
	"github.com/cartwatch/cartwatch/kafka"
)

// The adapter from a running engine to the page (LiveSource): its figures
// at the end of a run are the run's Summary, the hand-made carts show as
// counted by hand, events/s follows the clock, the latest alerts come
// newest first.

// knownRows are made-up rows (20 minutes of them) with hand-made carts
// after them: user 7 converts 100 s after the cart, user 8's cart is
// abandoned and recovered 1,800 s after it, user 9's cart of "apparel"
// and "zoo" items is abandoned; and one malformed row.
func knownRows() []byte {
	rows, _ := testrows.SyntheticRows(20000)
	return append(rows, `2019-11-01 00:30:00 UTC,cart,1,2,electronics.x,,10.00,7,s7
2019-11-01 00:30:00 UTC,cart,1,2,,,5.00,8,s8
2019-11-01 00:30:00 UTC,cart,1,2,apparel.shoes,,2.50,9,s9
2019-11-01 00:30:00 UTC,cart,1,2,zoo,,1.25,9,s9
2019-11-01 00:31:40 UTC,purchase,1,2,electronics.x,,10.00,7,s7
2019-11-01 01:00:00 UTC,purchase,1,2,,,5.00,8,s8
2019-11-01 01:00:00 UTC,cart,1,2,,,-1.00,5,s
`...)
}

type fakeConsumer kafka.ConsumerStats

func (f fakeConsumer) Stats() kafka.ConsumerStats { return kafka.ConsumerStats(f) }

// TestLiveSourceMatchesSummary: at the end of a run, every figure the
// adapter fills equals the Summary's (the rates as the Server derives
// them), the TTL advisor's shares the summary's, and the categories the
// summary's list in its order.
func TestLiveSourceMatchesSummary(t *testing.T) {
	live := new(core.Live)
	sum, err := core.Run(context.Background(), core.ReaderSource(bytes.NewReader(knownRows())), core.Options{TTL: 5 * time.Minute,
		Shards: 2, Parsers: 2, ChunkBytes: 64 << 10, MaxFuture: -1, Live: live}, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := &LiveSource{Live: live, Consumer: fakeConsumer{Partitions: []int32{0, 2}, Lag: 42}}
	f := Figures{KPIs: &KPIs{TopSpenders: []Spender{{UserID: 1, SpendingCents: 2}}}}
	src.Fill(&f)
	f.fill()

	// By hand: user 8's cart is recovered (5.00), users 7 and 8 have
	// delays of 100 s and 1,800 s; the synthetic users never come back.
	if sum.RecoveredCarts != 1 || sum.RecoveredValueCents != 500 || sum.CartToPurchase.Carts != 2 || sum.Malformed != 1 {
		t.Fatalf("the input does not give the hand-counted figures: %+v", sum)
	}
	want := Figures{
		EventTime: 1572566400 + 3600,
		KPIs: &KPIs{AbandonedCarts: sum.Abandoned, AbandonedValueCents: sum.AbandonedValueCents,
			AbandoningUsers: sum.UniqueAbandoningUsers, SpendingCents: sum.SpendingCents, TopSpenders: f.KPIs.TopSpenders},
		Engine: &Engine{EventsConsumed: sum.Events, Malformed: sum.Malformed, OpenCarts: sum.OpenCarts},
		Kafka:  &Kafka{ConsumerLag: 42, Partitions: []int32{0, 2}},
		Carts: &Carts{Opened: sum.CartsOpened, Converted: sum.Converted, Abandoned: sum.Abandoned, Recovered: 1,
			RecoveredValueCents: 500,
			AbandonmentRate:     float64(sum.Abandoned) / float64(sum.Abandoned+sum.Converted),
			RecoveryRate:        1 / float64(sum.Abandoned)},
	}
	for _, c := range sum.AbandonedByCategory {
		want.Categories = append(want.Categories, Category{c.Category, c.Items, c.ValueCents})
	}
	for _, a := range sum.TTLAdvisor {
		want.TTLAdvisor = append(want.TTLAdvisor, TTLShare{float64(a.TTLSeconds), a.Share})
	}
	// 100 s and 1,800 s: one of two below 5 m, 15 m and 30 m (1,800 is
	// not below 30 m), both below 1 h and more.
	if got := fmt.Sprint(want.TTLAdvisor); got != "[{300 0.5} {900 0.5} {1800 0.5} {3600 1} {7200 1} {86400 1}]" {
		t.Errorf("the summary's TTL advisor %s, not the hand-counted one", got)
	}
	if !slices.ContainsFunc(want.Categories, func(c Category) bool { return c.Name == "zoo" && c.Items == 1 && c.ValueCents == 125 }) {
		t.Errorf("the summary's categories %v lack user 9's zoo item", want.Categories)
	}
	check := func(name string, got, want any) {
		t.Helper()
		if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); g != w {
			t.Errorf("%s:\n got %s\nwant %s", name, g, w)
		}
	}
	check("event time", f.EventTime, want.EventTime)
	check("KPIs", *f.KPIs, *want.KPIs)
	check("engine", *f.Engine, *want.Engine)
	check("kafka", *f.Kafka, *want.Kafka)
	check("carts", *f.Carts, *want.Carts)
	check("categories", f.Categories, want.Categories)
	check("TTL advisor", f.TTLAdvisor, want.TTLAdvisor)
	if f.LatestAlerts != nil || f.Latency != nil {
		t.Errorf("figures the adapter was not given: %+v %+v", f.LatestAlerts, f.Latency)
	}
}

// TestLiveSourceEmpty: before any purchased cart there is no TTL advisor
// (no share to show, "—"), and without a Live or a consumer their groups
// stay nil.
func TestLiveSourceEmpty(t *testing.T) {
	var f Figures
	(&LiveSource{Live: new(core.Live)}).Fill(&f)
	if f.TTLAdvisor != nil || f.Kafka != nil || f.Carts == nil || len(f.Categories) != 0 {
		t.Errorf("a Live before its run: advisor %v, kafka %v, carts %v, categories %v", f.TTLAdvisor, f.Kafka, f.Carts, f.Categories)
	}
	f = Figures{}
	(&LiveSource{}).Fill(&f)
	if f.KPIs != nil || f.Engine != nil || f.Carts != nil || f.LatestAlerts != nil {
		t.Errorf("no Live: %+v", f)
	}
	f = Figures{}
	(&LiveSource{Alerts: true}).Fill(&f)
	if f.LatestAlerts == nil || len(f.LatestAlerts) != 0 {
		t.Errorf("alerts known, none yet: %#v, want an empty list", f.LatestAlerts)
	}
}

// TestLiveSourceRate: events/s is measured over at least minRateWindow:
// the first look gives 0, a look sooner than that keeps the last rate.
func TestLiveSourceRate(t *testing.T) {
	var s LiveSource
	t0 := time.Unix(1000, 0)
	f := func(events int64, at time.Duration, want float64) {
		t.Helper()
		if got := s.eventsPerSecond(events, t0.Add(at)); got != want {
			t.Errorf("%d events at %v: %v/s, want %v", events, at, got, want)
		}
	}
	f(100, 0, 0)
	f(2100, 2*time.Second, 1000)
	f(9999, 2500*time.Millisecond, 1000) // too soon: the last rate
	f(4100, 4*time.Second, 1000)         // over the 2 s since the last measure
}

// TestLiveSourceAlerts: the latest LatestAlerts alerts, newest first.
func TestLiveSourceAlerts(t *testing.T) {
	var s LiveSource
	for i := range 7 {
		s.Alert(&core.Alert{UserID: uint64(i), ValueCents: 100, Partition: 3}, time.Duration(i)*time.Second-time.Second)
	}
	var f Figures
	s.Fill(&f)
	var got []string
	for _, a := range f.LatestAlerts {
		got = append(got, fmt.Sprint(a.UserID, "/", a.Latency))
	}
	if fmt.Sprint(got) != "[6/5 5/4 4/3 3/2 2/1]" {
		t.Errorf("latest alerts (user/latency) %v, want users 6 to 2", got)
	}
	s = LiveSource{}
	s.Alert(&core.Alert{UserID: 1}, -1)
	f = Figures{}
	s.Fill(&f)
	if len(f.LatestAlerts) != 1 || f.LatestAlerts[0].Latency != -1 {
		t.Errorf("one alert, latency unknown: %+v", f.LatestAlerts)
	}
}
