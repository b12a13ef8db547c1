package core

import (
	"encoding/binary"
	"math"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/wheel"
)

// This file holds the open cart's record, cartRec, and the side pools that
// hold what does not fit in it: the products past the first, the sessions
// that are neither a canonical UUID nor short, and the categories past the
// first (docs/architecture.md, "An open cart in memory").

// cartRec is an open cart, 48 bytes, and its timer a 12-byte wheel.Node at
// the same index in partState.tn. Carts live in a per-shard slab and
// are recycled through a free list, so opening a cart allocates nothing in
// steady state; the side pools recycle their entries the same way.
//
// NOTE: what an alert carries (docs/semantics.md, rule 3) is rebuilt from
// it exactly: products() and sessionOf() give the Alert's arrays back,
// byte for byte. Most carts hold one or two products, a UUID session and
// one category, and those take no side entry but the second product's.
//
// NOTE: the user_id, the last cart time, the value and the first product
// take 32 bits each, the first cart time (as its distance before the last)
// and the items 16 (20 bytes, not 48): in any real cart the user_id and
// the product id are below 2^32 (the month's reach 580 and 100 million), a
// time is after 1970 and before 2106 in seconds, a cart's first event less
// than 18 hours before its last, the items fewer than 65,536 and the value
// below $42,949,672.96. A cart where one does not fit (or whose last event
// is earlier than its first) is wide (cartWide): all six move, exact, to
// its entry in partState.wides and last holds its index, so nothing is
// ever cut (rule 7: the value still pins as addCents pins).
type cartRec struct {
	// uid is the user_id's low 32 bits; all of it is uidOf's.
	uid uint32
	// last is the last cart time in seconds since the Unix epoch, span
	// the first's distance before it (first = last - span); items, value
	// (cents) and prod0 (the first product, nprod >= 1) as in the Alert.
	// Read them through cartTimes, cartTally and prod0Of.
	last        uint32
	span, items uint16
	value       uint32
	prod0       uint32
	// session is the cart's user_session: a canonical UUID as its 16
	// bytes (cartUUID), a session of at most 16 bytes as they are, or the
	// index of its entry in partState.sess in the first 4 bytes
	// (cartSessPool).
	session [16]byte
	more    uint32 // the products past the first: prodEnt list, newest first, +1; 0 = none
	// cat is the cart's items by category: 0 while every item is of cat0
	// (whose tally is then the cart's items and value), else its catEnt
	// list, newest first, +1.
	cat uint32
	// cat0 is the first item's category, +1, in partState.catNames; 0 =
	// none: a name past the first maxCatNames starts the list at once, and
	// a cart restored from a version 1 snapshot has no category at all.
	cat0       uint8
	nprod      uint8
	sessionLen uint8
	flags      uint8
}

const (
	cartLive     uint8 = 1 << 0 // the slot holds an open cart
	cartUUID     uint8 = 1 << 1 // session holds a canonical UUID's 16 bytes
	cartSessPool uint8 = 1 << 2 // session holds an index in partState.sess
	cartWide     uint8 = 1 << 3 // user_id, times, tally and prod0 are in partState.wides[last]
)

// wideEnt is a wide cart's user_id, times, tally and first product in
// full.
type wideEnt struct {
	uid          uint64
	first, last  int64
	items, value int64
	prod0        uint64
}

// uidOf returns cart c's user_id.
func (s *partState) uidOf(c *cartRec) uint64 {
	if c.flags&cartWide != 0 {
		return s.wides[c.last].uid
	}
	return uint64(c.uid)
}

// cartTimes returns cart c's first and last cart times.
func (s *partState) cartTimes(c *cartRec) (first, last int64) {
	if c.flags&cartWide != 0 {
		w := &s.wides[c.last]
		return w.first, w.last
	}
	return int64(c.last) - int64(c.span), int64(c.last)
}

// cartTally returns cart c's items and value.
func (s *partState) cartTally(c *cartRec) Tally {
	if c.flags&cartWide != 0 {
		w := &s.wides[c.last]
		return Tally{w.items, w.value}
	}
	return Tally{int64(c.items), int64(c.value)}
}

// prod0Of returns cart c's first product.
func (s *partState) prod0Of(c *cartRec) uint64 {
	if c.flags&cartWide != 0 {
		return s.wides[c.last].prod0
	}
	return uint64(c.prod0)
}

// widen moves cart c's times, tally and first product to a wide entry.
func (s *partState) widen(c *cartRec) {
	if c.flags&cartWide != 0 {
		return
	}
	first, last := s.cartTimes(c)
	e := wideEnt{uint64(c.uid), first, last, int64(c.items), int64(c.value), uint64(c.prod0)}
	var k uint32
	if n := len(s.wideFree); n > 0 {
		k = s.wideFree[n-1]
		s.wideFree = s.wideFree[:n-1]
		s.wides[k] = e
	} else {
		s.wides = append(s.wides, e)
		k = uint32(len(s.wides) - 1)
	}
	c.last, c.span, c.items, c.value, c.prod0 = k, 0, 0, 0, 0
	c.flags |= cartWide
}

// fits32 reports whether t (a time or an amount) fits in 32 bits unsigned.
func fits32(t int64) bool { return uint64(t) <= math.MaxUint32 }

// fits16 reports whether n (a span or a count) fits in 16 bits unsigned.
func fits16(n int64) bool { return uint64(n) <= math.MaxUint16 }

// setTimes sets cart c's first and last cart times.
//
// NOTE: with last in 32 bits unsigned, last-first cannot wrap into
// [0, 2^16) unless it is there: first is exact whatever its sign.
func (s *partState) setTimes(c *cartRec, first, last int64) {
	if c.flags&cartWide == 0 && fits32(last) && fits16(last-first) {
		c.last, c.span = uint32(last), uint16(last-first)
		return
	}
	s.widen(c)
	w := &s.wides[c.last]
	w.first, w.last = first, last
}

// setTally sets cart c's items and value.
func (s *partState) setTally(c *cartRec, t Tally) {
	if c.flags&cartWide == 0 && fits16(t.Items) && fits32(t.Value) {
		c.items, c.value = uint16(t.Items), uint32(t.Value)
		return
	}
	s.widen(c)
	w := &s.wides[c.last]
	w.items, w.value = t.Items, t.Value
}

// addItemWide adds a cart event at t of price cents to cart c (rule 3)
// when c is wide or the event makes it so; shard.apply does the others.
func (s *partState) addItemWide(c *cartRec, t, price int64) {
	s.widen(c)
	w := &s.wides[c.last]
	w.items++
	w.value = addCents(w.value, price)
	w.last = t
}

func (c *cartRec) live() bool { return c.flags&cartLive != 0 }

// prodEnt is one product past a cart's first, 8 bytes: the id in 32 bits
// (every real one fits, as prod0's), a larger one in partState.bigProds.
type prodEnt struct {
	id   uint32 // the product, or with prodBig in next its index in partState.bigProds
	next uint32 // the cart's previous product, +1 (0 = its second), | prodBig
}

// prodBig marks a prodEnt whose id is in partState.bigProds.
const prodBig = 1 << 31

// openCart is an open cart with its lists in full, as a Snapshot holds it.
type openCart struct {
	uid        uint64
	first      int64
	last       int64
	deadline   int64
	items      int64
	value      int64
	cat        uint32 // first of its items by category in the Snapshot's cats, +1; 0 = none
	nprod      uint8
	sessionLen uint8
	products   [MaxProducts]uint64
	session    [event.SessionMax]byte
}

// newCart fills slot idx with a new open cart of uid at t, of the
// category of p.
func (s *partState) newCart(idx uint32, uid uint64, t int64, p *payload) {
	c := &s.carts[idx]
	*c = cartRec{uid: uint32(uid), last: uint32(t), flags: cartLive, cat0: s.catID(&CategoryName{p.CategoryLen, p.Category})}
	if !fits32(t) || uid > math.MaxUint32 {
		s.setWide(c, uid)
		s.setTimes(c, t, t)
	}
}

// setWide makes cart c, just opened for uid, wide if uid needs it.
func (s *partState) setWide(c *cartRec, uid uint64) {
	if uid > math.MaxUint32 {
		s.widen(c)
		s.wides[c.last].uid = uid
	}
}

// maxCatNames bounds partState.catNames: real data has a dozen top-level
// categories, and a crafted input with more only makes its carts start
// their category list at once.
const maxCatNames = 64

// catID returns name's index in s.catNames, +1, adding it if there is
// room; 0 if there is not.
func (s *partState) catID(name *CategoryName) uint8 {
	for i := range s.catNames {
		if s.catNames[i] == *name {
			return uint8(i + 1)
		}
	}
	if len(s.catNames) == maxCatNames {
		return 0
	}
	s.catNames = append(s.catNames, *name)
	return uint8(len(s.catNames))
}

// addProduct adds product id to cart idx's list, past MaxProducts dropped.
func (s *partState) addProduct(idx uint32, id uint64) {
	c := &s.carts[idx]
	switch {
	case c.nprod == 0:
		if c.flags&cartWide == 0 && id <= math.MaxUint32 {
			c.prod0 = uint32(id)
		} else {
			s.widen(c)
			s.wides[c.last].prod0 = id
		}
	case c.nprod < MaxProducts:
		var k uint32
		if n := len(s.prodFree); n > 0 {
			k = s.prodFree[n-1]
			s.prodFree = s.prodFree[:n-1]
		} else {
			s.prods = append(s.prods, prodEnt{})
			k = uint32(len(s.prods) - 1)
		}
		e := prodEnt{id: uint32(id), next: c.more}
		if id > math.MaxUint32 {
			e = prodEnt{id: s.bigProd(id), next: c.more | prodBig}
		}
		s.prods[k] = e
		c.more = k + 1
	default:
		return
	}
	c.nprod++
}

// products returns cart c's products, first added first, and zeros past
// them.
func (s *partState) products(c *cartRec) (ps [MaxProducts]uint64) {
	if c.nprod == 0 {
		return ps
	}
	ps[0] = s.prod0Of(c)
	j := int(c.nprod) - 1
	for k := c.more; k != 0; {
		e := s.prods[k-1]
		if e.next&prodBig == 0 {
			ps[j] = uint64(e.id)
		} else {
			ps[j] = s.bigProds[e.id]
		}
		k = e.next &^ prodBig
		j--
	}
	return ps
}

// bigProd returns the index of a new bigProds entry holding id.
func (s *partState) bigProd(id uint64) uint32 {
	if n := len(s.bigFree); n > 0 {
		k := s.bigFree[n-1]
		s.bigFree = s.bigFree[:n-1]
		s.bigProds[k] = id
		return k
	}
	s.bigProds = append(s.bigProds, id)
	return uint32(len(s.bigProds) - 1)
}

// setSession makes sess (n bytes) cart idx's session.
//
// NOTE: a cart's events nearly always carry the session it holds already,
// so a UUID is first compared with the held one in its text form (sameUUID:
// about half the instructions of parseUUID, which then only runs for a new
// cart or a changed session).
func (s *partState) setSession(idx uint32, sess *[event.SessionMax]byte, n uint8) {
	c := &s.carts[idx]
	if n == event.SessionMax && c.flags&cartUUID != 0 && sameUUID(&c.session, sess) {
		return
	}
	c.sessionLen = n
	if u, ok := parseUUID(sess); n == event.SessionMax && ok {
		s.freeSession(c)
		c.session = u
		c.flags |= cartUUID
		return
	}
	c.flags &^= cartUUID
	if n <= uint8(len(c.session)) {
		s.freeSession(c)
		c.session = [16]byte(sess[:16])
		return
	}
	if c.flags&cartSessPool == 0 {
		var k uint32
		if m := len(s.sessFree); m > 0 {
			k = s.sessFree[m-1]
			s.sessFree = s.sessFree[:m-1]
		} else {
			s.sess = append(s.sess, [event.SessionMax]byte{})
			k = uint32(len(s.sess) - 1)
		}
		c.flags |= cartSessPool
		c.session = [16]byte{byte(k), byte(k >> 8), byte(k >> 16), byte(k >> 24)}
	}
	s.sess[sessIndex(c)] = *sess
}

func sessIndex(c *cartRec) uint32 {
	return uint32(c.session[0]) | uint32(c.session[1])<<8 | uint32(c.session[2])<<16 | uint32(c.session[3])<<24
}

// freeSession gives back cart c's session pool entry, if it has one.
func (s *partState) freeSession(c *cartRec) {
	if c.flags&cartSessPool != 0 {
		s.sessFree = append(s.sessFree, sessIndex(c))
		c.flags &^= cartSessPool
	}
}

// sessionOf returns cart c's session, zeros past its length.
func (s *partState) sessionOf(c *cartRec) (sess [event.SessionMax]byte) {
	switch {
	case c.flags&cartUUID != 0:
		formatUUID(&c.session, &sess)
	case c.flags&cartSessPool != 0:
		sess = s.sess[sessIndex(c)]
		clear(sess[c.sessionLen:])
	default:
		copy(sess[:c.sessionLen], c.session[:])
	}
	return sess
}

// parseUUID returns the 16 bytes of a canonical UUID (lower-case hex,
// 8-4-4-4-12) and whether b is one; any other text (upper case, braces) is
// not, as formatUUID could not give it back.
//
// NOTE: every cart event parses its session, so the 32 digits are checked
// and converted 8 at a time in a uint64 (hex8), not one table lookup each
// (which took a fifth of BenchmarkShard's instructions).
func parseUUID(b *[event.SessionMax]byte) (u [16]byte, ok bool) {
	if b[8] != '-' || b[13] != '-' || b[18] != '-' || b[23] != '-' {
		return u, false
	}
	le := binary.LittleEndian
	x0, ok0 := hex8(le.Uint64(b[0:]))
	x1, ok1 := hex8(uint64(le.Uint32(b[9:])) | uint64(le.Uint32(b[14:]))<<32)
	x2, ok2 := hex8(uint64(le.Uint32(b[19:])) | uint64(le.Uint32(b[24:]))<<32)
	x3, ok3 := hex8(le.Uint64(b[28:]))
	le.PutUint32(u[0:], x0)
	le.PutUint32(u[4:], x1)
	le.PutUint32(u[8:], x2)
	le.PutUint32(u[12:], x3)
	return u, ok0 && ok1 && ok2 && ok3
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// hex8 converts 8 lower-case hex digits (little-endian in x: the first
// digit in the low byte) to the 4 bytes they spell, the first in the low
// byte, and reports whether all 8 were such digits.
func hex8(x uint64) (uint32, bool) {
	// For bytes below 0x80, adding 0x80-c sets a byte's top bit exactly
	// when it is >= c, and carries into no other byte.
	ge0 := x + (0x80-'0')*ones
	ge9 := x + (0x80-'9'-1)*ones
	gea := x + (0x80-'a')*ones
	gef := x + (0x80-'f'-1)*ones
	digit, alpha := ge0&^ge9&highs, gea&^gef&highs
	ok := x&highs == 0 && digit|alpha == highs
	// A digit's value is its low nibble; a letter's is its low nibble + 9.
	n := x&(0x0f*ones) + (alpha>>7)*9
	// Byte 2i of t is digit 2i's value << 4 | digit 2i+1's; then the
	// even bytes are gathered.
	t := (n<<4 | n>>8) & 0x00ff00ff00ff00ff
	t = (t | t>>8) & 0x0000ffff0000ffff
	t = t | t>>16
	return uint32(t), ok
}

// sameUUID reports whether b is u as a canonical UUID, formatUUID's text,
// without writing it.
func sameUUID(u *[16]byte, b *[event.SessionMax]byte) bool {
	le := binary.LittleEndian
	x0, x1 := unhex8(le.Uint32(u[0:])), unhex8(le.Uint32(u[4:]))
	x2, x3 := unhex8(le.Uint32(u[8:])), unhex8(le.Uint32(u[12:]))
	return x0 == le.Uint64(b[0:]) && x3 == le.Uint64(b[28:]) &&
		x1 == uint64(le.Uint32(b[9:]))|uint64(le.Uint32(b[14:]))<<32 &&
		x2 == uint64(le.Uint32(b[19:]))|uint64(le.Uint32(b[24:]))<<32 &&
		b[8] == '-' && b[13] == '-' && b[18] == '-' && b[23] == '-'
}

// formatUUID writes u as a canonical UUID.
func formatUUID(u *[16]byte, b *[event.SessionMax]byte) {
	le := binary.LittleEndian
	x0, x1 := unhex8(le.Uint32(u[0:])), unhex8(le.Uint32(u[4:]))
	x2, x3 := unhex8(le.Uint32(u[8:])), unhex8(le.Uint32(u[12:]))
	le.PutUint64(b[0:], x0)
	b[8] = '-'
	le.PutUint32(b[9:], uint32(x1))
	b[13] = '-'
	le.PutUint32(b[14:], uint32(x1>>32))
	b[18] = '-'
	le.PutUint32(b[19:], uint32(x2))
	b[23] = '-'
	le.PutUint32(b[24:], uint32(x2>>32))
	le.PutUint64(b[28:], x3)
}

// unhex8 is hex8 backwards: 4 bytes to their 8 lower-case hex digits.
func unhex8(v uint32) uint64 {
	// Spread the 4 bytes to the even bytes, then each byte's two nibbles
	// to two bytes, the high nibble first.
	t := uint64(v)
	t = (t | t<<16) & 0x0000ffff0000ffff
	t = (t | t<<8) & 0x00ff00ff00ff00ff
	n := (t>>4 | t<<8) & (0x0f * ones)
	// '0' + n, and 'a'-'0'-10 more for n >= 10 (n + 0x76 has its top bit
	// set exactly then).
	return n + '0'*ones + ((n+0x76*ones)&highs)>>7*('a'-'0'-10)
}

// addCat adds a cart event's price to open cart idx's tally of its
// category. It must come before the event's item is added to the cart's
// items and value: a cart's first second category turns cat0 into a list
// entry with the cart's tally so far.
func (s *partState) addCat(idx uint32, p *payload) {
	name := CategoryName{p.CategoryLen, p.Category}
	c := &s.carts[idx]
	if c.cat == 0 && c.cat0 != 0 {
		if s.catNames[c.cat0-1] == name {
			return
		}
		c.cat = s.newCat(0, s.catNames[c.cat0-1], s.cartTally(c))
	}
	for k := c.cat; k != 0; {
		e := &s.cats[k-1]
		if e.name == name {
			e.t.add(Tally{1, p.PriceCents})
			return
		}
		k = e.next
	}
	c.cat = s.newCat(c.cat, name, Tally{1, p.PriceCents})
}

// newCat returns a new catEnt, +1, recycled if it can.
func (s *partState) newCat(next uint32, name CategoryName, t Tally) uint32 {
	var k uint32
	if n := len(s.catFree); n > 0 {
		k = s.catFree[n-1]
		s.catFree = s.catFree[:n-1]
	} else {
		s.cats = append(s.cats, catEnt{})
		k = uint32(len(s.cats) - 1)
	}
	s.cats[k] = catEnt{next: next, name: name, t: t}
	return k + 1
}

// eachCat calls f for each of cart c's categories, newest first.
func (s *partState) eachCat(c *cartRec, f func(name *CategoryName, t Tally)) {
	if c.cat == 0 {
		if c.cat0 != 0 {
			f(&s.catNames[c.cat0-1], s.cartTally(c))
		}
		return
	}
	for k := c.cat; k != 0; k = s.cats[k-1].next {
		f(&s.cats[k-1].name, s.cats[k-1].t)
	}
}

func (s *partState) allocCart() uint32 {
	if n := len(s.free); n > 0 {
		idx := s.free[n-1]
		s.free = s.free[:n-1]
		return idx
	}
	if n := len(s.carts); n == cap(s.carts) {
		// NOTE: the slabs grow by 1/8, not append's 1/4 past 256
		// entries: with millions of carts open the spare room is then at
		// most 1/8 of the slab (it was up to 12 of 88 bytes a cart), for
		// twice the copies on the way up, paid once per new peak.
		c := n + n/8 + 64
		carts, tn := make([]cartRec, n, c), make([]wheel.Node, n, c)
		copy(carts, s.carts)
		copy(tn, s.tn)
		s.carts, s.tn = carts, tn
	}
	s.carts = append(s.carts, cartRec{})
	s.tn = append(s.tn, wheel.Node{})
	return uint32(len(s.carts) - 1)
}

// freeCart gives back slot idx and its side entries; its timer must be off
// the wheel.
func (s *partState) freeCart(idx uint32) {
	c := &s.carts[idx]
	c.flags &^= cartLive
	for k := c.cat; k != 0; k = s.cats[k-1].next {
		s.catFree = append(s.catFree, k-1)
	}
	c.cat = 0
	for k := c.more; k != 0; k = s.prods[k-1].next &^ prodBig {
		if e := s.prods[k-1]; e.next&prodBig != 0 {
			s.bigFree = append(s.bigFree, e.id)
		}
		s.prodFree = append(s.prodFree, k-1)
	}
	c.more = 0
	if c.flags&cartWide != 0 {
		s.wideFree = append(s.wideFree, c.last)
		c.flags &^= cartWide
	}
	s.freeSession(c)
	s.free = append(s.free, idx)
}

// wide returns cart idx in full, its categories appended to *cats and
// numbered from entry k0 of it.
func (s *partState) wide(idx uint32, cats *[]catEnt, k0 int) openCart {
	c := &s.carts[idx]
	first, last := s.cartTimes(c)
	t := s.cartTally(c)
	x := openCart{uid: s.uidOf(c), first: first, last: last, deadline: s.tm.Deadline(s.tn, idx), items: t.Items,
		value: t.Value, nprod: c.nprod, sessionLen: c.sessionLen, products: s.products(c), session: s.sessionOf(c)}
	s.eachCat(c, func(name *CategoryName, t Tally) {
		if n := len(*cats) - k0; x.cat == 0 {
			x.cat = uint32(n + 1)
		} else {
			(*cats)[len(*cats)-1].next = uint32(n + 1)
		}
		*cats = append(*cats, catEnt{name: *name, t: t})
	})
	return x
}

// putCart fills slot idx with the open cart x, whose categories are in
// cats; its timer (at x.deadline) is the caller's.
func (s *partState) putCart(idx uint32, x *openCart, cats []catEnt) {
	s.carts[idx] = cartRec{uid: uint32(x.uid), flags: cartLive}
	s.setWide(&s.carts[idx], x.uid)
	s.setTimes(&s.carts[idx], x.first, x.last)
	s.setTally(&s.carts[idx], Tally{x.items, x.value})
	for _, p := range x.products[:x.nprod] {
		s.addProduct(idx, p)
	}
	s.setSession(idx, &x.session, x.sessionLen)
	c := &s.carts[idx]
	switch k := x.cat; {
	case k == 0:
	case cats[k-1].next == 0 && cats[k-1].t == (Tally{x.items, x.value}) && s.catID(&cats[k-1].name) != 0:
		c.cat0 = s.catID(&cats[k-1].name)
	default:
		// The list is rebuilt newest first, as addCat keeps it.
		var es []uint32
		for j := k; j != 0; j = cats[j-1].next {
			es = append(es, j-1)
		}
		for i := len(es) - 1; i >= 0; i-- {
			c.cat = s.newCat(c.cat, cats[es[i]].name, cats[es[i]].t)
		}
	}
}
