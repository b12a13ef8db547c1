package core

import (
	"bytes"

	"github.com/cartwatch/cartwatch/event"
)

// This file holds the detector's tallies (Counters) and the shop figures in
// them: recovered carts, the cart-to-purchase delay histogram, abandoned
// items and value by category and by hour (docs/semantics.md, "Shop
// figures"). Every one is a fixed-size value: a shard keeps one Counters per
// partition, the engine sums them with Add, and a copy of one is a snapshot
// (the metrics publish them per batch that way).

// Counters are the detector's tallies; a shard owns one per partition, the
// engine adds them up with Add. A Counters holds no pointers and has a fixed
// size, so it is copied and summed by value.
type Counters struct {
	Views, Carts, Purchases, Others int64
	CartsOpened, Converted          int64
	Abandoned, AbandonedValue       int64
	Direct, Late                    int64
	// Recovered counts direct purchases that recovered an abandoned cart
	// (Options.RecoveryWindow); RecoveredValue sums those carts' values as
	// their alerts reported them.
	Recovered, RecoveredValue int64
	Spending                  int64
	AbandoningUsers           int64
	OpenCarts                 int64

	// Delay is the cart-to-purchase delay of the converted and recovered
	// carts.
	Delay DelayHistogram
	// ByHour are the abandoned carts' items and value by the UTC hour of
	// their last cart event.
	ByHour [24]Tally
	// ByCategory are the abandoned items and value by the top-level
	// category of each cart event.
	ByCategory CategoryTallies
}

// Add adds o's tallies to c. Money sums are pinned at the int64 maximum
// (rule 7), and so is the delay sum.
func (c *Counters) Add(o *Counters) {
	c.Views += o.Views
	c.Carts += o.Carts
	c.Purchases += o.Purchases
	c.Others += o.Others
	c.CartsOpened += o.CartsOpened
	c.Converted += o.Converted
	c.Abandoned += o.Abandoned
	c.AbandonedValue = addCents(c.AbandonedValue, o.AbandonedValue)
	c.Direct += o.Direct
	c.Late += o.Late
	c.Recovered += o.Recovered
	c.RecoveredValue = addCents(c.RecoveredValue, o.RecoveredValue)
	c.Spending = addCents(c.Spending, o.Spending)
	c.AbandoningUsers += o.AbandoningUsers
	c.OpenCarts += o.OpenCarts
	c.Delay.Add(&o.Delay)
	for h := range c.ByHour {
		c.ByHour[h].add(o.ByHour[h])
	}
	c.ByCategory.Add(&o.ByCategory)
}

// Tally is a number of items (cart events) and their value in cents.
type Tally struct {
	Items int64
	Value int64 // cents, pinned at the int64 maximum (rule 7)
}

func (t *Tally) add(o Tally) {
	t.Items += o.Items
	t.Value = addCents(t.Value, o.Value)
}

// NumDelayBuckets is the number of buckets of a DelayHistogram.
const NumDelayBuckets = len(DelayEdges) + 1

// DelayEdges are the bucket edges of a DelayHistogram, in seconds: bucket i
// holds the delays d with DelayEdges[i-1] <= d < DelayEdges[i] (0 and no
// upper bound at the ends). Each of AdvisorTTLs is an edge, so the share of
// delays below it is exact.
var DelayEdges = [...]int64{
	10, 30, 60, 2 * 60, 3 * 60, 5 * 60, 7 * 60, 10 * 60, 15 * 60, 20 * 60, 30 * 60, 45 * 60,
	3600, 5400, 2 * 3600, 3 * 3600, 4 * 3600, 6 * 3600, 8 * 3600, 12 * 3600, 18 * 3600,
	24 * 3600, 36 * 3600, 2 * 86400, 3 * 86400, 5 * 86400, 7 * 86400, 14 * 86400, 30 * 86400,
}

// AdvisorTTLs are the TTLs of the TTL advisor, in seconds: 5m, 15m, 30m,
// 1h, 2h, 24h.
var AdvisorTTLs = [...]int64{5 * 60, 15 * 60, 30 * 60, 3600, 2 * 3600, 24 * 3600}

// DelayHistogram counts delays in whole seconds in the fixed buckets of
// DelayEdges. A negative delay (a purchase dated before the cart event,
// out-of-order input) counts as 0.
type DelayHistogram struct {
	Counts [NumDelayBuckets]int64
	Sum    int64 // seconds, pinned at the int64 maximum
}

// delayBucket returns the bucket of a delay of d seconds.
func delayBucket(d int64) int {
	lo, hi := 0, len(DelayEdges) // the first edge > d, by bisection
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if DelayEdges[m] <= d {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// Observe counts a delay of d seconds.
func (h *DelayHistogram) Observe(d int64) {
	d = max(d, 0)
	h.Counts[delayBucket(d)]++
	h.Sum = addCents(h.Sum, d)
}

// Add adds o's counts to h.
func (h *DelayHistogram) Add(o *DelayHistogram) {
	for i := range h.Counts {
		h.Counts[i] += o.Counts[i]
	}
	h.Sum = addCents(h.Sum, o.Sum)
}

// Total returns the number of delays counted.
func (h *DelayHistogram) Total() int64 {
	var n int64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Below returns the number of delays d < edge; edge must be one of
// DelayEdges (else the buckets below the largest edge <= edge count).
func (h *DelayHistogram) Below(edge int64) int64 {
	var n int64
	for i, e := range DelayEdges {
		if e > edge {
			break
		}
		n += h.Counts[i]
	}
	return n
}

// Quantile returns the q-quantile (0 < q <= 1) of the delays in seconds,
// approximately: the rank ceil(q*n) placed linearly inside its bucket; in
// the last bucket, its lower edge. 0 when there are none.
func (h *DelayHistogram) Quantile(q float64) int64 {
	n := h.Total()
	if n == 0 {
		return 0
	}
	rank := int64(q * float64(n))
	if float64(rank) < q*float64(n) {
		rank++
	}
	rank = min(max(rank, 1), n)
	var cum int64
	for i, c := range h.Counts {
		if cum+c < rank {
			cum += c
			continue
		}
		var lo int64
		if i > 0 {
			lo = DelayEdges[i-1]
		}
		if i == len(DelayEdges) {
			return lo
		}
		return lo + (DelayEdges[i]-lo)*(rank-cum)/c
	}
	return 0 // not reached
}

// MaxCategories bounds the categories a CategoryTallies names.
const MaxCategories = 64

// CategoryName is a top-level category as event.Event carries it.
type CategoryName struct {
	Len  uint8
	Name [event.CategoryMax]byte
}

func (n *CategoryName) bytes() []byte { return n.Name[:n.Len] }

// CategoryTallies are items and value by top-level category: the first
// MaxCategories names in byte order, each with its tally, sorted; Unknown
// for the items without a category_code and Other for the names after the
// first MaxCategories.
//
// NOTE: which names keep an entry depends only on the set of names added,
// not on the order or on how the additions are split between tallies that
// are summed (shards, partitions): a name among the first MaxCategories of
// the whole run is among the first of any part of it, so it is never moved
// to Other, and any other name ends in Other once the parts are summed. A
// "first names seen" rule would make the output depend on the sharding.
type CategoryTallies struct {
	N       int // entries in use
	Names   [MaxCategories]CategoryName
	Tallies [MaxCategories]Tally
	Unknown Tally
	Other   Tally
}

// add adds t to the tally of the category name.
func (c *CategoryTallies) add(name *CategoryName, t Tally) {
	if name.Len == 0 {
		c.Unknown.add(t)
		return
	}
	// Most additions are to a name already here, stored as it came (as
	// event.TopCategory zero-fills it): a scan for an equal value finds it
	// without a call to bytes.Compare per step of the search below.
	for i := range c.N {
		if c.Names[i] == *name {
			c.Tallies[i].add(t)
			return
		}
	}
	key := name.bytes()
	lo, hi := 0, c.N
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch bytes.Compare(c.Names[m].bytes(), key) {
		case 0:
			c.Tallies[m].add(t)
			return
		case -1:
			lo = m + 1
		default:
			hi = m
		}
	}
	if c.N == MaxCategories {
		if lo == c.N {
			c.Other.add(t)
			return
		}
		c.N--
		c.Other.add(c.Tallies[c.N]) // the last name makes room
	}
	copy(c.Names[lo+1:c.N+1], c.Names[lo:c.N])
	copy(c.Tallies[lo+1:c.N+1], c.Tallies[lo:c.N])
	c.Names[lo], c.Tallies[lo] = *name, t
	c.N++
}

// Add adds o's tallies to c.
func (c *CategoryTallies) Add(o *CategoryTallies) {
	for i := range o.N {
		c.add(&o.Names[i], o.Tallies[i])
	}
	c.Unknown.add(o.Unknown)
	c.Other.add(o.Other)
}

// hourOf returns the UTC hour of day of the Unix time t.
func hourOf(t int64) int {
	s := t % 86400
	if s < 0 {
		s += 86400
	}
	return int(s / 3600)
}
