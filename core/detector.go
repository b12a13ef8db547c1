package core

import (
	"cmp"
	"math"
	"slices"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/wheel"
)

// This file is the detector: the per-user state machine of docs/semantics.md
// (rules 2 to 6), run by one shard goroutine over the users routed to it.
// Follow an event: pipeline.go parses and routes it, shard.apply below
// changes the user's cart and schedules its deadline on the shard's wheel,
// shard.advance fires the deadline as an Alert, and pipeline.go merges the
// alerts of all shards into the output order.

// noAbandon is userRec.lastAbandoned for a user with no reported cart: no
// purchase time is earlier, so no purchase counts as late.
const noAbandon = math.MinInt64

// addCents returns a+b for sums of prices in cents, pinned at
// math.MaxInt64 instead of wrapping to a negative value.
//
// NOTE: every money sum (a cart's value, a user's spending, the counters
// AbandonedValue and Spending, and the summary's totals of them) adds only
// prices, or sums of prices, and a price is never negative (rule 8; see
// event.Event.PriceCents). Adding b >= 0 wraps exactly when the result comes
// out below a, so that one compare catches it, and a sum, once pinned,
// stays pinned. A price is at most format.MaxPriceCents (10^12), so a sum
// reaches the pin only after 9.2 million prices at the limit: in real data
// never, but a crafted input could, and must not print a negative total.
func addCents(a, b int64) int64 {
	s := a + b
	if s < a && b >= 0 {
		return math.MaxInt64
	}
	return s
}

// partState is a shard's state for one source partition: the partition's
// users routed to this shard, their open carts and the wheel of their
// deadlines, and the partition's watermark as this shard has applied it.
// A partition's whole state is its partState in every shard, so it can be
// cut out, snapshotted and restored as a unit (docs/semantics.md,
// Partitions).
type partState struct {
	users *userTable
	open  *openIndex // user_id -> slot in carts, for the open carts only
	carts []cartRec
	// tn holds the carts' timers, tn[i] cart i's: its deadline and its
	// links on tm (wheel.Node), a slab beside carts, grown with it.
	tn   []wheel.Node
	free []uint32
	tm   *wheel.Wheel // the open carts' deadlines; nil until the first
	w    int64        // watermark the timers were last advanced to
	maxT int64        // the partition's highest event time (the sequencer's maxT) as of the last batch
	cnt  Counters
	// rows are the partition's input tallies, kept by shard 0 only (one
	// copy per partition) for its snapshots; the summary takes them from
	// the merger.
	rows rowTally
	// cats holds the open carts' items and value by category, a short
	// list per cart with more than one category (cartRec.cat), recycled
	// through catFree like carts.
	cats    []catEnt
	catFree []uint32
	// prods holds the open carts' products past the first
	// (cartRec.more), sess their sessions that are neither UUIDs nor
	// short (cartSessPool), each recycled through its free list.
	// catNames are the categories the carts' cat0 name (maxCatNames at
	// most; never forgotten).
	catNames []CategoryName
	prods    []prodEnt
	prodFree []uint32
	sess     [][event.SessionMax]byte
	sessFree []uint32
	// wides holds the user_id, times, tally and first product of the
	// carts where one does not fit in the record (cartWide), recycled
	// through wideFree.
	wides    []wideEnt
	wideFree []uint32
	// bigProds holds the products past the first whose id does not fit
	// in 32 bits (prodBig), recycled through bigFree.
	bigProds []uint64
	bigFree  []uint32
}

// catEnt is an open cart's items and value of one category.
type catEnt struct {
	next uint32 // the cart's next entry, +1; 0 = last
	name CategoryName
	t    Tally
}

func newPartState(userHint int) partState {
	return partState{users: newUserTable(userHint), open: newOpenIndex(), w: math.MinInt64, maxT: math.MinInt64}
}

// shard is the state of one shard: per partition, its users, open carts
// and wheel. Only the owning goroutine touches it.
//
// NOTE: the partition being applied is held by value in the embedded
// partState, so the hot path reads s.users, s.carts, s.tn as before the
// partitions existed; use swaps another partition in, once per batch (one
// copy of a few words). A file has one partition and never swaps.
type shard struct {
	ttl      int64
	extend   bool
	recovery int64 // Options.RecoveryWindow in seconds; 0 = off

	part int32 // the partition in partState
	partState
	parts    map[int32]*partState // every partition's state but while it is in partState
	userHint int
	retired  Counters // the tallies of the partitions dropped

	out      []Alert // alerts since the caller last took them, in output order
	spends   []Spend // purchases with running totals (spending on), since taken
	spending bool
	fired    []uint32
	warmSink uint64   // keeps warm's loads from being optimised away
	hashes   []uint64 // warm's HashUser of each cart and purchase of the batch, in order
}

func newShard(ttl, recovery int64, extend bool, userHint int) *shard {
	s := &shard{ttl: ttl, recovery: recovery, extend: extend, partState: newPartState(userHint), parts: map[int32]*partState{}}
	// Later partitions start small and grow: the first one is sized for
	// the whole input, which is right for a file (one partition).
	s.userHint = minTableSize
	return s
}

// use makes partition p's state the one the shard applies to, creating it
// empty on its first use.
func (s *shard) use(p int32) {
	if p == s.part {
		return
	}
	if cur := s.parts[s.part]; cur != nil {
		*cur = s.partState
	} else {
		cur := new(partState)
		*cur = s.partState
		s.parts[s.part] = cur
	}
	if next := s.parts[p]; next != nil {
		s.partState = *next
	} else {
		s.partState = newPartState(s.userHint)
		s.parts[p] = new(partState)
	}
	s.part = p
}

// drop forgets partition p's state (a revoked partition): its users, open
// carts and their timers, its watermark. Nothing is reported. Its tallies
// stay counted in retired (less its open carts, which are gone).
func (s *shard) drop(p int32) {
	ps := s.parts[p]
	if p == s.part {
		ps = &s.partState
	}
	if ps != nil {
		c := ps.cnt
		c.OpenCarts = 0
		s.retired.Add(&c)
	}
	if p == s.part {
		s.partState = newPartState(s.userHint)
	}
	delete(s.parts, p)
}

// eachPart calls f for the state of every partition the shard has seen.
func (s *shard) eachPart(f func(ps *partState)) {
	f(&s.partState)
	for p, ps := range s.parts {
		if p != s.part {
			f(ps)
		}
	}
}

// partitions returns the partitions the shard holds state for, in order.
func (s *shard) partitions() []int32 {
	ps := []int32{s.part}
	for p := range s.parts {
		if p != s.part {
			ps = append(ps, p)
		}
	}
	slices.Sort(ps)
	return ps
}

// cartOrder orders two carts (slots in s.carts) the way alerts are written:
// by deadline (abandoned_at), then user_id.
func (s *shard) cartOrder(a, b uint32) int {
	if c := cmp.Compare(s.tm.Deadline(s.tn, a), s.tm.Deadline(s.tn, b)); c != 0 {
		return c
	}
	return cmp.Compare(s.uidOf(&s.carts[a]), s.uidOf(&s.carts[b]))
}

// advance moves the watermark to w and abandons every cart whose deadline is
// <= w (rule 2), appending their alerts to s.out in (deadline, user_id) order.
func (s *shard) advance(w int64) {
	if w <= s.w {
		return
	}
	s.w = w
	if s.tm == nil {
		return // no cart was ever scheduled
	}
	if s.tm.Skip(w) {
		return // nothing is due (nearly every advance)
	}
	s.fired = s.tm.Advance(s.tn, w, s.fired)
	if len(s.fired) == 0 {
		return
	}
	// The output order within one advance is (deadline, user_id); the
	// wheel fires ties in scheduling order.
	if len(s.fired) > 1 {
		slices.SortFunc(s.fired, s.cartOrder)
	}
	for _, idx := range s.fired {
		d := s.tm.Deadline(s.tn, idx)
		s.abandon(idx, d, d, 0, s.uidOf(&s.carts[idx]))
	}
	s.fired = s.fired[:0]
}

// abandon reports cart idx, due at deadline and off the wheel, as an Alert
// with the given order key and frees it.
func (s *shard) abandon(idx uint32, deadline, keyR int64, kind uint8, tie uint64) {
	c := &s.carts[idx]
	uid := s.uidOf(c)
	first, last := s.cartTimes(c)
	t := s.cartTally(c)
	s.out = append(s.out, Alert{
		UserID: uid, FirstCartAt: first, LastCartAt: last, AbandonedAt: deadline,
		Items: t.Items, ValueCents: t.Value, NProducts: c.nprod, SessionLen: c.sessionLen,
		Products: s.products(c), Session: s.sessionOf(c), Partition: s.part,
		keyR: keyR, keyKind: kind, keyTie: tie,
	})
	s.cnt.Abandoned++
	s.cnt.AbandonedValue = addCents(s.cnt.AbandonedValue, t.Value)
	s.cnt.ByHour[hourOf(last)].add(t)
	if c.cat == 0 {
		if c.cat0 != 0 {
			s.cnt.ByCategory.add(&s.catNames[c.cat0-1], t)
		}
	} else {
		for k := c.cat; k != 0; {
			e := &s.cats[k-1]
			s.cnt.ByCategory.add(&e.name, e.t)
			k = e.next
		}
	}
	s.open.del(uid, &s.partState)
	r := s.users.find(uid, event.HashUser(uid))
	r.lastAbandoned = deadline
	r.abandonedValue = t.Value
	r.abandonedGap = gap32(deadline - last)
	r.flags &^= recRecovered
	if r.flags&recAbandoner == 0 {
		r.flags |= recAbandoner
		s.cnt.AbandoningUsers++
	}
	s.freeCart(idx)
}

// gap32 is abandoned_at - last_cart_at for userRec.abandonedGap, clamped
// to the int32 range (68 years): a delay computed from a clamped gap lands
// in the same bucket of DelayHistogram as the true one, since the recovery
// window is at most MaxRecoveryWindow and a negative delay counts as 0.
func gap32(d int64) int32 {
	return int32(min(max(d, math.MinInt32), math.MaxInt32))
}

// setDeadline puts cart idx on the wheel at deadline d (moving it if it is
// on it), or abandons it at once when d is already behind the watermark
// (rule 2's parenthesis); line is the event's input line, the tie-breaker
// of such an alert.
func (s *shard) setDeadline(idx uint32, d int64, line int64) {
	if d <= s.w {
		if s.tn[idx].Scheduled() {
			s.tm.Cancel(s.tn, idx)
		}
		s.abandon(idx, d, s.w, 1, uint64(line))
		return
	}
	if s.tm == nil {
		s.tm = wheel.New(s.w)
	}
	s.tm.Schedule(s.tn, idx, d)
}

// warm loads the user-table slot of every cart and purchase of a batch
// before the batch is applied.
//
// NOTE: the table is far bigger than the cache (a million users), so each
// cart or purchase misses on its user's slot; applied one by one, the misses
// come one after another. These loads do not depend on each other, so the
// CPU overlaps them, and apply then finds the slots in cache. Views (routed
// under --extend-on-activity, nineteen events in twenty) are skipped. Carts
// warm the record too, though only abandon and purchase use it: moving its
// creation from the cart to the abandon (one miss fewer per converted cart)
// measured slower, as an advance fires too few carts at a time to overlap
// misses.
//
// The hashes are kept in s.hashes, one per cart and purchase in order, for
// apply to use rather than recompute.
func (s *shard) warm(evs []routed) {
	recs, mask := s.users.recs, s.users.mask
	hs := s.hashes[:0]
	var sink uint64
	for j := range evs {
		if evs[j].typ() >= event.EventCart {
			h := event.HashUser(evs[j].uid)
			hs = append(hs, h)
			sink += recs[h&mask].uid
		}
	}
	s.hashes = hs
	s.warmSink += sink
}

// apply applies one routed event under watermark w (already lateness-
// adjusted); h is HashUser(ev.uid), pl holds the payloads of its batch,
// line is its input line number.
func (s *shard) apply(ev *routed, h uint64, pl []payload, w int64, line int64) {
	if w > s.w {
		s.advance(w)
	}
	switch ev.typ() {
	case event.EventCart:
		// The user record must exist before the cart can be abandoned.
		p := &pl[ev.x()]
		s.users.upsert(ev.uid, h)
		idx, ok := s.open.get(ev.uid, &s.partState)
		if !ok {
			idx = s.allocCart()
			s.open.put(ev.uid, idx, &s.partState)
			s.newCart(idx, ev.uid, ev.t, p)
			s.cnt.CartsOpened++
		}
		s.addCat(idx, p) // before the item counts: see addCat
		s.addProduct(idx, p.ProductID)
		s.setSession(idx, &p.Session, p.SessionLen)
		// The item (rule 3), in the record's bits when it fits (price
		// is >= 0 and at most format.MaxPriceCents: the sum cannot wrap;
		// the span from the first time cannot either: see setTimes).
		c := &s.carts[idx]
		v := uint64(c.value) + uint64(p.PriceCents)
		span := ev.t - (int64(c.last) - int64(c.span))
		if c.flags&cartWide == 0 && fits32(ev.t) && fits16(span) && c.items < math.MaxUint16 && v <= math.MaxUint32 {
			c.items++
			c.value = uint32(v)
			c.last, c.span = uint32(ev.t), uint16(span)
		} else {
			s.addItemWide(c, ev.t, p.PriceCents)
		}
		s.setDeadline(idx, ev.t+s.ttl, line)
	case event.EventPurchase:
		price := pl[ev.x()].PriceCents
		s.cnt.Spending = addCents(s.cnt.Spending, price)
		r := s.users.upsert(ev.uid, h)
		r.spending = addCents(r.spending, price)
		if s.spending {
			s.spends = append(s.spends, Spend{Partition: s.part, Pos: line, UserID: ev.uid, Time: ev.t,
				PriceCents: price, TotalCents: r.spending})
		}
		r.flags |= recPurchaser
		idx, open := s.open.get(ev.uid, &s.partState)
		switch {
		case open:
			s.open.del(ev.uid, &s.partState)
			c := &s.carts[idx]
			s.tm.Cancel(s.tn, idx)
			_, last := s.cartTimes(c)
			s.cnt.Delay.Observe(ev.t - last)
			s.freeCart(idx)
			s.cnt.Converted++
		case ev.t < r.lastAbandoned:
			s.cnt.Late++
		default:
			s.cnt.Direct++
			// A recovery: the first direct purchase within the window
			// after the user's last reported cart (not late, so
			// ev.t >= r.lastAbandoned).
			if r.flags&(recAbandoner|recRecovered) == recAbandoner && ev.t-r.lastAbandoned < s.recovery {
				r.flags |= recRecovered
				s.cnt.Recovered++
				s.cnt.RecoveredValue = addCents(s.cnt.RecoveredValue, r.abandonedValue)
				s.cnt.Delay.Observe(ev.t - (r.lastAbandoned - int64(r.abandonedGap)))
			}
		}
	default:
		// Views and other events reach a shard only with
		// --extend-on-activity; the router counts every row by type.
		// (runShard takes them before apply; tests come here.)
		if !s.extend {
			return
		}
		if idx, ok := s.open.get(ev.uid, &s.partState); ok {
			s.extendCart(idx, ev.t, line)
		}
	}
}

// extendCart moves the deadline of open cart idx to t + TTL for an event at t of
// its user (rule 5, --extend-on-activity); line is the event's input line.
func (s *shard) extendCart(idx uint32, t int64, line int64) {
	s.setDeadline(idx, t+s.ttl, line)
}

// finish ends the input (rule 6) in every partition: with keep the open
// carts are only counted, otherwise every one is abandoned in (deadline,
// user_id) order.
func (s *shard) finish(keep bool) {
	for _, p := range s.partitions() {
		s.use(p)
		s.finishPart(keep)
	}
}

func (s *shard) finishPart(keep bool) {
	s.w = math.MaxInt64
	var open []uint32
	for i := range s.carts {
		if s.carts[i].live() {
			open = append(open, uint32(i))
		}
	}
	if keep {
		s.cnt.OpenCarts = int64(len(open))
		return
	}
	slices.SortFunc(open, s.cartOrder)
	for _, idx := range open {
		d := s.tm.Deadline(s.tn, idx)
		s.abandon(idx, d, d, 0, s.uidOf(&s.carts[idx]))
	}
}

// Spender is one entry of the top spenders list.
type Spender struct {
	UserID        uint64 `json:"user_id"`
	SpendingCents int64  `json:"spending_cents"`
}

// spenderBefore orders spenders by spending descending, ties to the smaller
// user_id.
func spenderBefore(a, b Spender) bool {
	if a.SpendingCents != b.SpendingCents {
		return a.SpendingCents > b.SpendingCents
	}
	return a.UserID < b.UserID
}

// topSpenders adds this shard's users, of every partition, to top, keeping
// the best n.
func (s *shard) topSpenders(top []Spender, n int) []Spender {
	s.eachPart(func(ps *partState) { top = ps.topSpenders(top, n) })
	return top
}

func (s *partState) topSpenders(top []Spender, n int) []Spender {
	s.users.each(func(r *userRec) {
		if r.flags&recPurchaser == 0 {
			return
		}
		sp := Spender{r.uid, r.spending}
		if len(top) == n && !spenderBefore(sp, top[n-1]) {
			return
		}
		i := len(top)
		if len(top) < n {
			top = append(top, sp)
		} else {
			i = n - 1
			top[i] = sp
		}
		for ; i > 0 && spenderBefore(top[i], top[i-1]); i-- {
			top[i], top[i-1] = top[i-1], top[i]
		}
	})
	return top
}
