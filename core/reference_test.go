package core

import (
	"math"
	"sort"

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
}

type refOut struct {
	alerts []Alert
	sum    Summary
}

func refRun(evs []event.Event, ttl, lateness int64, keep, extend bool) refOut {
	var out refOut
	open := map[uint64]*refCart{}
	lastAb := map[uint64]int64{}
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
		lastAb[c.uid] = c.dl
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
				c = &refCart{uid: ev.UserID, first: ev.Time}
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
		case event.EventPurchase:
			out.sum.Purchases++
			out.sum.SpendingCents += ev.PriceCents
			spend[ev.UserID] += ev.PriceCents
			if c != nil {
				delete(open, ev.UserID)
				out.sum.Converted++
			} else if la, ok := lastAb[ev.UserID]; ok && ev.Time < la {
				out.sum.LatePurchases++
			} else {
				out.sum.DirectPurchases++
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
	return out
}
