package core

import (
	"encoding/binary"
	"math"
	"math/bits"
	"unsafe"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/format"
)

// This file is the engine's router: the part of the worker step that hands
// each event to the shard that owns its user. A Block (event.Block, the
// columnar in-process input) is routed here whole; CSV text is parsed and
// routed row by row in decode_csv.go through routeEvent.
//
// NOTE: nineteen rows in twenty are views, and without --extend-on-activity
// all a view does is raise the batch's maximum event time. Routed from
// []Event, each view still streams its 80-byte Event through the cache
// (routeBatch was a quarter of the engine's CPU, bound by memory bandwidth);
// from a Block it costs the 8 bytes of its time and the byte of its type.

// routed is one event on its way to a shard: only what every event needs.
// A cart or purchase also has a payload; views (routed only with
// --extend-on-activity, and then nineteen in twenty events) have none, which
// halves the bytes each one costs to hand over.
//
// NOTE: 32 bytes, two to a cache line. With --extend-on-activity every row
// is one of these, written by a worker and read by a shard on the other
// core, so the hand-off is bound by their bytes; the shard recomputes the
// user's hash (a few multiplies) rather than receiving it.
type routed struct {
	t    int64  // event time
	uid  uint64 // user_id
	wm   int64  // max event time of the batch's rows up to and including this one
	line uint32 // line (file) or row (in-process) number relative to the batch
	xt   uint32 // payload index<<2 | event.EventType; a cart or purchase has a payload
}

func (r *routed) typ() event.EventType { return event.EventType(r.xt & 3) }

// x is the index of a cart's or purchase's payload: in its shard's list of
// the batch (Events), or in the Block's Rest.
func (r *routed) x() uint32 { return r.xt >> 2 }

// payload is the rest of a cart or purchase, as a Block keeps it. Routed
// from Events, each is copied into its shard's list of the batch; from a
// Block, the shards read the Block's Rest in place (x indexes it), so the
// router writes only the 32-byte routed.
type payload = event.BlockRest

// routeEvent counts ev and, when a shard needs it, appends it to its shard's
// list. m is the batch's running max time, including ev.
func (e *engine) routeEvent(b *batch, ev *event.Event, m int64, line int64) {
	if !e.count(b, ev.Type) {
		return
	}
	i := shardOf(event.HashUser(ev.UserID), e.nshard)
	r := routed{t: ev.Time, uid: ev.UserID, wm: m, line: uint32(line), xt: uint32(ev.Type)}
	if ev.Type == event.EventCart || ev.Type == event.EventPurchase {
		r.xt |= uint32(len(b.payloads[i])) << 2
		b.payloads[i] = append(b.payloads[i], payload{ProductID: ev.ProductID, CategoryID: ev.CategoryID,
			PriceCents: ev.PriceCents, SessionLen: ev.SessionLen, Session: ev.Session,
			CategoryLen: ev.CategoryLen, Category: ev.Category})
	}
	b.routed[i] = append(b.routed[i], r)
}

// count adds a row of type typ to b's counts and reports whether a shard
// needs it: a cart or purchase always, any other row only with
// --extend-on-activity. routeEvent and routeRow share it.
func (e *engine) count(b *batch, typ event.EventType) bool {
	switch typ {
	case event.EventView:
		b.cnt.Views++
	case event.EventCart:
		b.cnt.Carts++
		return true
	case event.EventPurchase:
		b.cnt.Purchases++
		return true
	default:
		b.cnt.Others++
	}
	return e.opt.ExtendOnActivity
}

// allViews is eight EventView bytes read as one little-endian word.
const allViews = 0x0101010101010101 * uint64(event.EventView)

// max8 is the largest of t[0..7], as a tree: four independent comparisons,
// then two, then one, rather than a chain of seven.
func max8(t []int64) int64 {
	t = t[:8]
	return max(max(max(t[0], t[1]), max(t[2], t[3])), max(max(t[4], t[5]), max(t[6], t[7])))
}

// routeBlock is the worker step for a Block.
func (e *engine) routeBlock(b *batch) {
	b.reset()
	blk := b.rec.Block
	// The readers checked it already; the route below reads the type
	// column through unsafe, so it does not rely on that.
	if err := blk.Check(); err != nil {
		b.err = err
		return
	}
	n := len(blk.Time)
	b.lines, b.rows = int64(n), int64(n)
	if e.opt.ExtendOnActivity {
		b.localMax = e.routeBlockAll(b, blk)
	} else {
		b.localMax = e.routeBlockRest(b, blk)
	}
	// The limits rule 8 puts on text hold for in-process rows too. A Block
	// that breaks one (never loadgen's) is routed again, row by row, with
	// the offending rows as rejects; the common Block pays one compare and
	// a look at its carts' and purchases' prices.
	if b.err == nil && (b.localMax > e.maxTime || pricesOver(blk.Rest)) {
		e.routeBlockChecked(b, blk)
	}
}

// pricesOver reports whether any row of rest has a price above
// format.MaxPriceCents.
func pricesOver(rest []event.BlockRest) bool {
	for i := range rest {
		if rest[i].PriceCents > format.MaxPriceCents || rest[i].PriceCents < 0 {
			return true
		}
	}
	return false
}

// routeBlockChecked routes blk row by row, rejecting a row later than the
// run's time limit (format.ReasonFuture) and a cart, purchase or other
// event whose price is out of range (format.ReasonPriceRange).
func (e *engine) routeBlockChecked(b *batch, blk *event.Block) {
	b.reset()
	n := len(blk.Time)
	b.lines = int64(n)
	m := int64(math.MinInt64)
	k := 0
	for j := 0; j < n; j++ {
		t, typ, uid := blk.Time[j], blk.Type[j], blk.UserID[j]
		var price int64
		if typ != event.EventView {
			if k == len(blk.Rest) {
				b.err = event.ErrBlockRest
				return
			}
			price = blk.Rest[k].PriceCents
			k++
		}
		switch {
		case t > e.maxTime:
			b.bad++
			b.rejects = append(b.rejects, reject{line: int64(j), reason: format.ReasonFuture})
			continue
		case price > format.MaxPriceCents || price < 0:
			b.bad++
			b.rejects = append(b.rejects, reject{line: int64(j), reason: format.ReasonPriceRange})
			continue
		}
		b.rows++
		m = max(m, t)
		if typ == event.EventView {
			b.cnt.Views++
			if e.opt.ExtendOnActivity {
				s := shardOf(event.HashUser(uid), e.nshard)
				b.routed[s] = append(b.routed[s], routed{t: t, uid: uid, wm: m, line: uint32(j), xt: uint32(event.EventView)})
			}
			continue
		}
		e.routeRow(b, j, typ, uid, t, m, k-1)
	}
	if k != len(blk.Rest) {
		b.err = event.ErrBlockRest
	}
	b.localMax = m
}

// routeBlockRest routes the carts and purchases of blk (without
// --extend-on-activity) and returns the block's maximum time.
//
// NOTE: it reads the type column eight rows at a time. A word of eight
// views (two words in three on the 2019-Nov month) only raises the maximum
// time, by max8; in any other word the rows that are not views are found
// by their non-zero bytes in word ^ allViews.
func (e *engine) routeBlockRest(b *batch, blk *event.Block) int64 {
	n := len(blk.Time)
	times, uids := blk.Time[:n], blk.UserID[:n]
	types := unsafe.Slice((*byte)(unsafe.SliceData(blk.Type)), n)
	rest := blk.Rest
	m := int64(math.MinInt64)
	k := 0 // next entry of rest
	views := int64(0)
	i := 0
	for ; i+8 <= n; i += 8 {
		x := binary.LittleEndian.Uint64(types[i:]) ^ allViews
		t := times[i : i+8 : i+8]
		if x == 0 {
			m = max(m, max8(t))
			views += 8
			continue
		}
		views += 8
		j := 0
		for x != 0 {
			views--
			p := bits.TrailingZeros64(x) >> 3
			for ; j <= p; j++ {
				m = max(m, t[j])
			}
			x &^= 0xff << (p * 8)
			if k == len(rest) {
				b.err = event.ErrBlockRest
				return m
			}
			e.routeRow(b, i+p, event.EventType(types[i+p]), uids[i+p], t[p], m, k)
			k++
		}
		for ; j < 8; j++ {
			m = max(m, t[j])
		}
	}
	for ; i < n; i++ {
		m = max(m, times[i])
		if event.EventType(types[i]) == event.EventView {
			views++
			continue
		}
		if k == len(rest) {
			b.err = event.ErrBlockRest
			return m
		}
		e.routeRow(b, i, event.EventType(types[i]), uids[i], times[i], m, k)
		k++
	}
	if k != len(rest) {
		b.err = event.ErrBlockRest
	}
	b.cnt.Views += views
	return m
}

// routeBlockAll routes every row of blk (--extend-on-activity) and returns
// the block's maximum time.
func (e *engine) routeBlockAll(b *batch, blk *event.Block) int64 {
	n := len(blk.Time)
	times, types, uids := blk.Time[:n], blk.Type[:n], blk.UserID[:n]
	rest := blk.Rest
	m := int64(math.MinInt64)
	k := 0
	views := int64(0)
	ns := e.nshard
	for j := range times {
		t, typ := times[j], types[j]
		m = max(m, t)
		if typ == event.EventView {
			// As in routeBatch: a view's routing is written out here.
			views++
			s := shardOf(event.HashUser(uids[j]), ns)
			b.routed[s] = append(b.routed[s], routed{t: t, uid: uids[j], wm: m, line: uint32(j),
				xt: uint32(event.EventView)})
			continue
		}
		if k == len(rest) {
			b.err = event.ErrBlockRest
			return m
		}
		e.routeRow(b, j, typ, uids[j], t, m, k)
		k++
	}
	if k != len(rest) {
		b.err = event.ErrBlockRest
	}
	b.cnt.Views += views
	return m
}

// routeRow counts row j of a Block, which is not a view and has Rest entry
// k, and routes it when a shard needs it: the Block form of routeEvent.
// The shard finds a cart's or purchase's other fields at Rest[k].
func (e *engine) routeRow(b *batch, j int, typ event.EventType, uid uint64, t, m int64, k int) {
	if !e.count(b, typ) {
		return
	}
	if typ != event.EventCart && typ != event.EventPurchase {
		typ = event.EventOther // an unknown type byte counts, and is routed, as an other event
	}
	i := shardOf(event.HashUser(uid), e.nshard)
	b.routed[i] = append(b.routed[i], routed{t: t, uid: uid, wm: m, line: uint32(j), xt: uint32(k)<<2 | uint32(typ)})
}
