package core

import (
	"math"
	"sort"
	"time"

	"github.com/cartwatch/cartwatch/event"
)

// refRun is the obviously simple implementation of docs/semantics.md the
// engine is checked against: one loop, a Go map of users, and before every
// event a scan of all open carts for the ones that are due, sorted by
// (deadline, user_id). It shares no code with the engine.
type refCart struct {
	uid             uint64
	first, last, dl int64
	items, value    int64
	products        []uint64
	session         string
	cats            map[string]*Tally // items and value by top-level category
}

// refLastAb is what refRun keeps of a user's last abandoned cart.
type refLastAb struct {
	at, last, value int64
	recovered       bool
}

type refOut struct {
	alerts []Alert
	sum    Summary
}

func refRun(evs []event.Event, ttl, lateness int64, keep, extend bool, recovery int64) refOut {
	var out refOut
	open := map[uint64]*refCart{}
	lastAb := map[uint64]*refLastAb{}
	var delays []int64
	byCat := map[string]*Tally{}
	var byHour [24]Tally
	spend := map[uint64]int64{}
	abandoners := map[uint64]bool{}
	maxT := int64(math.MinInt64)
	emit := func(c *refCart) {
		a := Alert{UserID: c.uid, FirstCartAt: c.first, LastCartAt: c.last, AbandonedAt: c.dl,
			Items: c.items, ValueCents: c.value, NProducts: uint8(len(c.products)), SessionLen: uint8(len(c.session))}
		copy(a.Products[:], c.products)
		copy(a.Session[:], c.session)
		out.alerts = append(out.alerts, a)
		out.sum.Abandoned++
		out.sum.AbandonedValueCents += c.value
		lastAb[c.uid] = &refLastAb{at: c.dl, last: c.last, value: c.value}
		h := time.Unix(c.last, 0).UTC().Hour()
		byHour[h].Items += c.items
		byHour[h].Value += c.value
		for name, t := range c.cats {
			if byCat[name] == nil {
				byCat[name] = &Tally{}
			}
			byCat[name].Items += t.Items
			byCat[name].Value += t.Value
		}
		abandoners[c.uid] = true
		delete(open, c.uid)
	}
	fireDue := func(w int64) {
		var due []*refCart
		for _, c := range open {
			if c.dl <= w {
				due = append(due, c)
			}
		}
		sort.Slice(due, func(i, j int) bool {
			if due[i].dl != due[j].dl {
				return due[i].dl < due[j].dl
			}
			return due[i].uid < due[j].uid
		})
		for _, c := range due {
			emit(c)
		}
	}
	for i := range evs {
		ev := &evs[i]
		out.sum.Events++
		maxT = max(maxT, ev.Time)
		w := maxT - lateness
		fireDue(w)
		c := open[ev.UserID]
		switch ev.Type {
		case event.EventView, event.EventOther:
			if ev.Type == event.EventView {
				out.sum.Views++
			} else {
				out.sum.OtherEvents++
			}
			if extend && c != nil {
				c.dl = ev.Time + ttl
			}
		case event.EventCart:
			out.sum.Carts++
			if c == nil {
				c = &refCart{uid: ev.UserID, first: ev.Time, cats: map[string]*Tally{}}
				open[ev.UserID] = c
				out.sum.CartsOpened++
			}
			c.items++
			c.value += ev.PriceCents
			c.last = ev.Time
			c.dl = ev.Time + ttl
			if len(c.products) < 16 {
				c.products = append(c.products, ev.ProductID)
			}
			c.session = string(ev.SessionBytes())
			name := string(ev.CategoryBytes())
			if c.cats[name] == nil {
				c.cats[name] = &Tally{}
			}
			c.cats[name].Items++
			c.cats[name].Value += ev.PriceCents
		case event.EventPurchase:
			out.sum.Purchases++
			out.sum.SpendingCents += ev.PriceCents
			spend[ev.UserID] += ev.PriceCents
			la := lastAb[ev.UserID]
			if c != nil {
				delete(open, ev.UserID)
				out.sum.Converted++
				delays = append(delays, ev.Time-c.last)
			} else if la != nil && ev.Time < la.at {
				out.sum.LatePurchases++
			} else {
				out.sum.DirectPurchases++
				if la != nil && !la.recovered && ev.Time < la.at+recovery {
					la.recovered = true
					out.sum.RecoveredCarts++
					out.sum.RecoveredValueCents += la.value
					delays = append(delays, ev.Time-la.last)
				}
			}
		}
		// A deadline already behind the watermark: abandoned before the
		// next event applies.
		fireDue(w)
	}
	if keep {
		out.sum.OpenCarts = int64(len(open))
	} else {
		fireDue(math.MaxInt64)
	}
	out.sum.UniqueAbandoningUsers = int64(len(abandoners))
	var top []Spender
	for u, v := range spend {
		top = append(top, Spender{u, v})
	}
	sort.Slice(top, func(i, j int) bool { return spenderBefore(top[i], top[j]) })
	if len(top) > 5 {
		top = top[:5]
	}
	out.sum.TopSpenders = top
	refDelays(&out.sum, delays)
	refCategories(&out.sum, byCat)
	for h, t := range byHour {
		out.sum.AbandonedByHour = append(out.sum.AbandonedByHour, HourFigure{h, t.Items, t.Value})
	}
	return out
}

// refDelays sets the delay figures of sum from the list of delays: buckets
// by a scan of the edges, the advisor by counting.
func refDelays(sum *Summary, delays []int64) {
	var h DelayHistogram
	d := &sum.CartToPurchase
	d.Carts = int64(len(delays))
	for i := range NumDelayBuckets {
		b := DelayBucket{}
		if i > 0 {
			b.FromSeconds = DelayEdges[i-1]
		}
		if i < len(DelayEdges) {
			b.ToSeconds = DelayEdges[i]
		}
		for _, x := range delays {
			x = max(x, 0)
			if x >= b.FromSeconds && (b.ToSeconds == 0 || x < b.ToSeconds) {
				b.Carts++
			}
		}
		h.Counts[i] = b.Carts
		d.Buckets = append(d.Buckets, b)
	}
	// The quantiles are a reading of the buckets; TestDelayQuantile
	// checks that reading.
	d.P50Seconds, d.P90Seconds, d.P99Seconds = h.Quantile(0.5), h.Quantile(0.9), h.Quantile(0.99)
	for _, ttl := range AdvisorTTLs {
		a := TTLShare{TTLSeconds: ttl}
		for _, x := range delays {
			if x < ttl {
				a.Caught++
			}
		}
		if len(delays) > 0 {
			a.Share = float64(a.Caught) / float64(len(delays))
		}
		sum.TTLAdvisor = append(sum.TTLAdvisor, a)
	}
}

// refCategories sets sum's categories: the first MaxCategories names in
// byte order, the rest as "other", no name as "unknown" (a name "unknown"
// or "other" in the data added to those); the most value
// first, then the most items, then names in order, unknown, other.
func refCategories(sum *Summary, byCat map[string]*Tally) {
	var names []string
	for name := range byCat {
		if name != "" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var other, unknown Tally
	if t := byCat[""]; t != nil {
		unknown = *t
	}
	for i, name := range names {
		t := byCat[name]
		switch {
		case i >= MaxCategories || name == "other":
			other.Items += t.Items
			other.Value += t.Value
		case name == "unknown": // one name, one figure
			unknown.Items += t.Items
			unknown.Value += t.Value
		default:
			sum.AbandonedByCategory = append(sum.AbandonedByCategory, CategoryFigure{name, t.Items, t.Value})
		}
	}
	if unknown.Items > 0 {
		sum.AbandonedByCategory = append(sum.AbandonedByCategory, CategoryFigure{"unknown", unknown.Items, unknown.Value})
	}
	if other.Items > 0 {
		sum.AbandonedByCategory = append(sum.AbandonedByCategory, CategoryFigure{"other", other.Items, other.Value})
	}
	sort.SliceStable(sum.AbandonedByCategory, func(i, j int) bool {
		a, b := sum.AbandonedByCategory[i], sum.AbandonedByCategory[j]
		if a.ValueCents != b.ValueCents {
			return a.ValueCents > b.ValueCents
		}
		return a.Items > b.Items
	})
}
