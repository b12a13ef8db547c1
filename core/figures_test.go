package core

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestCategoryPadding: CategoryTallies.add looks for an equal value first
// (the bytes past Len included), yet a name is one name by its bytes: a
// name with other bytes past its length (a Block built by hand) adds to the
// same entry, and the entries stay in byte order.
func TestCategoryPadding(t *testing.T) {
	name := func(s string, pad byte) (n CategoryName) {
		n.Len = uint8(copy(n.Name[:], s))
		for i := int(n.Len); i < len(n.Name); i++ {
			n.Name[i] = pad
		}
		return n
	}
	var c CategoryTallies
	for i, s := range []string{"kids", "auto", "kids", "zoo", "auto", "kids"} {
		n := name(s, byte(i))
		c.add(&n, Tally{1, int64(len(s))})
	}
	var got []string
	for i := range c.N {
		got = append(got, fmt.Sprintf("%s=%v", c.Names[i].bytes(), c.Tallies[i]))
	}
	if want := []string{"auto={2 8}", "kids={3 12}", "zoo={1 3}"}; !slices.Equal(got, want) {
		t.Fatalf("tallies %q, want %q", got, want)
	}
}

// TestCategoryBound: a CategoryTallies keeps the first MaxCategories names in
// byte order and puts the rest in Other, whatever the order of the
// additions and however they are split into tallies summed with Add (the
// shards and partitions of a run).
func TestCategoryBound(t *testing.T) {
	const names = MaxCategories + 30
	type item struct {
		name CategoryName
		t    Tally
	}
	var items []item
	for i := range 400 {
		var n CategoryName
		k := (i * 37) % (names + 1)
		if k > 0 {
			n.Len = uint8(copy(n.Name[:], fmt.Sprintf("c%03d", k)))
		}
		items = append(items, item{n, Tally{1, int64(k)}})
	}
	// The answer: names c001..c064 by name, c065.. in Other.
	var want CategoryTallies
	var total Tally
	for _, it := range items {
		total.add(it.t)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := range 50 {
		rng.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
		parts := make([]CategoryTallies, 1+rng.IntN(8))
		for _, it := range items {
			parts[rng.IntN(len(parts))].add(&it.name, it.t)
		}
		var got CategoryTallies
		for i := range parts {
			got.Add(&parts[i])
		}
		if got.N != MaxCategories {
			t.Fatalf("iter %d: %d names, want %d", iter, got.N, MaxCategories)
		}
		for i := range got.N {
			if n := string(got.Names[i].bytes()); n != fmt.Sprintf("c%03d", i+1) {
				t.Fatalf("iter %d: name %d is %q", iter, i, n)
			}
		}
		sum := got.Unknown
		sum.add(got.Other)
		for i := range got.N {
			sum.add(got.Tallies[i])
		}
		if sum != total {
			t.Fatalf("iter %d: the tallies add up to %+v, want %+v", iter, sum, total)
		}
		if iter == 0 {
			want = got
		} else if got != want {
			t.Fatalf("iter %d: %+v, want %+v", iter, got, want)
		}
	}
}

// TestDelayBuckets: bucket edges are exclusive above, every advisor TTL is
// an edge, and Below counts exactly the delays under it.
func TestDelayBuckets(t *testing.T) {
	if !slices.IsSorted(DelayEdges[:]) {
		t.Fatal("DelayEdges not sorted")
	}
	for _, ttl := range AdvisorTTLs {
		if !slices.Contains(DelayEdges[:], ttl) {
			t.Errorf("advisor TTL %d is not a bucket edge", ttl)
		}
	}
	var h DelayHistogram
	for _, d := range []int64{-5, 0, 9, 10, 299, 300, 301, 86399, 86400, 1 << 40} {
		h.Observe(d)
	}
	f := func(edge, want int64) {
		t.Helper()
		if got := h.Below(edge); got != want {
			t.Errorf("Below(%d) = %d, want %d", edge, got, want)
		}
	}
	f(10, 3)
	f(300, 5)
	f(86400, 8)
	if n := h.Total(); n != 10 {
		t.Errorf("Total = %d", n)
	}
}

// TestDelayQuantile: the rank ceil(q*n) placed linearly in its bucket.
func TestDelayQuantile(t *testing.T) {
	f := func(delays []int64, q float64, want int64) {
		t.Helper()
		var h DelayHistogram
		for _, d := range delays {
			h.Observe(d)
		}
		if got := h.Quantile(q); got != want {
			t.Errorf("Quantile(%v) of %v = %d, want %d", q, delays, got, want)
		}
	}
	f(nil, 0.5, 0)
	f([]int64{400}, 0.5, 420)                    // [300,420), rank 1 of 1
	f([]int64{300, 301, 302, 303}, 0.5, 360)     // rank 2 of 4 in [300,420)
	f([]int64{1, 2, 3, 3600}, 0.99, 5400)        // rank 4: [3600,5400)
	f([]int64{1, 40 * 86400}, 1, 30*86400)       // the last bucket: its lower edge
	f([]int64{100, 100, 100, 100, 100}, 0.2, 72) // [60,120), rank 1 of 5: 60 + 60/5
}
