package core

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/format"
)

// Rule 7 at its limits: money sums never wrap to a negative value.

func TestAddCents(t *testing.T) {
	const max = math.MaxInt64
	for _, c := range []struct{ a, b, want int64 }{
		{0, 0, 0},
		{1, 2, 3},
		{max - 1, 1, max},
		{max - format.MaxPriceCents, format.MaxPriceCents, max},
		{max - format.MaxPriceCents + 1, format.MaxPriceCents, max},
		{max, 1, max},
		{max, max, max},
		{max / 2, max/2 + 2, max},
		{max, 0, max},
		{5, -2, 3}, // not a price, but plain addition below the limit
	} {
		if got := addCents(c.a, c.b); got != c.want {
			t.Errorf("addCents(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// TestSumsPinned: the summary's totals over several shards and partitions
// (engine.total), each close to the int64 maximum, are pinned there, never
// negative, and the text summary says so. In-process rows are held to the
// price limit like text (TestBlockLimits), so the shards' sums are set
// directly; TestSumsPinnedAtPriceLimit adds prices up to the pin.
func TestSumsPinned(t *testing.T) {
	const near = math.MaxInt64 - 1000
	for _, shards := range []int{1, 2, 8} {
		e, err := newEngine(Options{Shards: shards}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range e.shards {
			for _, p := range []int32{0, 1} {
				s.use(p)
				s.cnt.AbandonedValue, s.cnt.Spending = near, near
				r := s.users.upsert(uint64(10+i), event.HashUser(uint64(10+i)))
				r.spending, r.flags = near, recPurchaser
			}
		}
		var sum Summary
		e.total(&sum)
		if sum.AbandonedValueCents != math.MaxInt64 || sum.SpendingCents != math.MaxInt64 {
			t.Fatalf("shards=%d: %+v", shards, sum)
		}
		var text bytes.Buffer
		sum.WriteText(&text)
		if !strings.Contains(text.String(), "92,233,720,368,547,758.07 or more") {
			t.Fatalf("text summary does not say the sum is pinned:\n%s", text.String())
		}
	}
}

// raceEnabled is set by race_test.go under the race detector.
var raceEnabled bool

// TestSumsPinnedAtPriceLimit: prices at the row format's limit (10^12
// cents), added until a sum passes 2^63, on a shard directly: one user's
// cart value, its abandoned value, and another user's spending. With -short
// or -race (where 9.2 million events per sum take seconds) the sums start
// 1,000 prices below the limit instead of at 0.
func TestSumsPinnedAtPriceLimit(t *testing.T) {
	n := int64(math.MaxInt64/format.MaxPriceCents + 2) // enough to pass 2^63 from 0
	preload := testing.Short() || raceEnabled
	if preload {
		n = 1002
	}
	s := newShard(300, 0, false, 1<<10)
	pl := []payload{{ProductID: 1, PriceCents: format.MaxPriceCents}}
	cart := routed{t: 0, uid: 1, xt: uint32(event.EventCart)}
	buy := routed{t: 0, uid: 2, xt: uint32(event.EventPurchase)}
	h1, h2 := event.HashUser(1), event.HashUser(2)
	var prevValue, prevSpend int64
	for i := int64(0); i < n; i++ {
		s.apply(&cart, h1, pl, 0, i)
		s.apply(&buy, h2, pl, 0, i)
		idx, _ := s.open.get(1, &s.partState)
		if i == 0 && preload {
			start := int64(math.MaxInt64 - 1000*format.MaxPriceCents)
			s.setTally(&s.carts[idx], Tally{s.cartTally(&s.carts[idx]).Items, start})
			s.cnt.Spending, s.users.find(2, h2).spending = start, start
		}
		v, sp := s.cartTally(&s.carts[idx]).Value, s.cnt.Spending
		if v < prevValue || sp < prevSpend {
			t.Fatalf("event %d: cart value %d (was %d), spending %d (was %d)", i, v, prevValue, sp, prevSpend)
		}
		prevValue, prevSpend = v, sp
	}
	if prevValue != math.MaxInt64 || prevSpend != math.MaxInt64 {
		t.Fatalf("after %d prices: cart value %d, spending %d; want both pinned", n, prevValue, prevSpend)
	}
	if r := s.users.find(2, h2); r == nil || r.spending != math.MaxInt64 {
		t.Fatalf("user 2's spending: %+v", r)
	}
	// The pinned cart abandoned twice over (a second user's cart too)
	// keeps AbandonedValue pinned.
	s.apply(&routed{t: 0, uid: 3, xt: uint32(event.EventCart)}, event.HashUser(3), pl, 0, n)
	s.finish(false)
	if s.cnt.AbandonedValue != math.MaxInt64 || s.cnt.Abandoned != 2 {
		t.Fatalf("abandoned %d, value %d; want 2, pinned", s.cnt.Abandoned, s.cnt.AbandonedValue)
	}
}

// TestHugePriceMalformed: the three carts of 50000000000000000.00
// are malformed rows now (above 10^10), and the run's sums stay those of
// the good rows.
func TestHugePriceMalformed(t *testing.T) {
	rows := "2019-11-01 00:00:00 UTC,cart,1,2,,,50000000000000000.00,7,s1\n" +
		"2019-11-01 00:00:01 UTC,cart,1,2,,,50000000000000000.00,7,s1\n" +
		"2019-11-01 00:00:02 UTC,cart,1,2,,,50000000000000000.00,7,s1\n" +
		"2019-11-01 00:00:03 UTC,cart,1,2,,,10000000000.00,8,s2\n" +
		"2019-11-01 00:00:04 UTC,cart,1,2,,,10000000000.01,8,s2\n"
	alerts, sum, rejects := runText(t, []byte(rows), Options{})
	if sum.Malformed != 4 || sum.Carts != 1 || sum.AbandonedValueCents != format.MaxPriceCents {
		t.Fatalf("malformed %d carts %d abandoned value %d; want 4, 1, %d", sum.Malformed, sum.Carts, sum.AbandonedValueCents, int64(format.MaxPriceCents))
	}
	if !strings.Contains(rejects, "1\tprice above 10,000,000,000") || !strings.Contains(rejects, "5\tprice above 10,000,000,000") {
		t.Fatalf("rejects:\n%s", rejects)
	}
	if !strings.Contains(alerts, `"cart_value_cents":1000000000000,`) {
		t.Fatalf("alerts:\n%s", alerts)
	}
}
