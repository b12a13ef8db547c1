package loadgen

import (
	"encoding/binary"
	"math"

	"github.com/cartwatch/cartwatch/event"
)

// rec is one generated row in compact form: 16 bytes, no pointers. Rows go
// through generation, sort and merge, so their size is memory traffic.
type rec struct {
	t    uint32 // seconds since MonthStart
	pt   uint32 // catalogue index, with the event.EventType in the top 2 bits
	user uint32 // user index
	sess uint32 // index into the block's session table, noSession for none
}

func mkrec(t, prod, user, sess uint32, typ event.EventType) rec {
	return rec{t: t, pt: prod | uint32(typ)<<30, user: user, sess: sess}
}

func (x *rec) prod() uint32         { return x.pt & (1<<30 - 1) }
func (x *rec) typ() event.EventType { return event.EventType(x.pt >> 30) }

const noSession = ^uint32(0)

// block holds the rows of the sessions that start in one hour, sorted by
// time and cut into the spillHours+1 output hours they fall in.
type block struct {
	idx      int
	raw      []rec // generation order; owned by the worker, not kept
	sorted   []rec
	bounds   [spillHours + 2]int // hour k of the block is sorted[bounds[k]:bounds[k+1]]
	sessions []sessText
	count    []uint32
	views    []rec // scratch: the current session's views
	carts    []rec // scratch: the current session's carts
}

// gen fills b with block i of the month, using raw as scratch (returned for
// reuse: only the sorted copy stays alive with the block). It depends only
// on m and i.
func (m *model) gen(b *block, i int, raw []rec) []rec {
	b.raw = raw
	r := rng{s: mix(m.cfg.Seed*0x9e3779b97f4a7c15 ^ mix(uint64(i)+1))}
	b.idx = i
	// The block has exactly quota rows: size the buffers once.
	if cap(b.raw) < int(m.quota[i]) {
		b.raw = make([]rec, 0, m.maxQuota)
	}
	b.raw = b.raw[:0]
	b.sessions = b.sessions[:0]
	quota := m.quota[i]
	base := uint32(i * blockSecs)
	empty := m.emptyAt[i]
	var n int64
	emit := func(x rec) {
		if n >= quota || x.t >= m.endSecond {
			return
		}
		if x.typ() == event.EventPurchase && m.gaps && inGap(x.t) {
			return
		}
		if empty {
			x.sess, empty = noSession, false
		}
		b.raw = append(b.raw, x)
		n++
		if n < quota && r.chance(m.pDupP) {
			b.raw = append(b.raw, x)
			n++
		}
	}
	for n < quota {
		sess := uint32(len(b.sessions))
		uuid := newUUID(&r)
		start := base + uint32(r.n(blockSecs))
		end := start + sessCap

		// Session shape: length, kind, carts and purchases.
		var length int
		switch x := r.u64(); {
		case x < m.pOneP:
			length = 1
		case x < m.pTwoP:
			length = 2
		default:
			length = 2 + int(ceil(lenTailDist.sample(&r)))
		}
		kind := r.u64()
		carts, buys := 0, 0
		switch {
		case kind < m.pSessC:
			carts, buys = 1+m.geom(&r, m.rhoCartP), 1+m.geom(&r, m.rhoBuyP)
		case kind < m.pSessB:
			carts = 1 + m.geom(&r, m.rhoCartP)
		case kind < m.pSessD:
			buys = 1 + m.geom(&r, m.rhoBuyP)
		}
		// Shoppers: cart and purchase sessions belong to the most active
		// users (the first shopperShare of the population), so carting
		// and purchasing concentrate on fewer users, as in the real file.
		pop := m.users
		if carts+buys > 0 {
			pop = m.shoppers
		}
		user := uint32(pop * pow15(r.f64()))
		b.sessions = append(b.sessions, newSessText(userID(user), &uuid))
		if r.chance(m.pBotP) {
			length = botMin + int(r.n(lenMax-botMin+1))
		}
		views := max(length-carts-buys, 1)
		// Long sessions are denser (bots, comparison shopping), so that
		// they fit in sessCap: scale the view gaps down.
		scale := 1.0
		if s := float64(views) * 222; s > 12000 {
			scale = 12000 / s
		}

		b.views = b.views[:0]
		t := start
		prod := m.cat.pick.sample(&r)
		for v := 0; v < views; v++ {
			if v > 0 {
				// At least a second apart: rows of one session in the same
				// second would often be exact duplicates, whose share is
				// set by pDuplicate alone.
				t += max(1, uint32(gapDist.sample(&r)*scale+0.5))
				if t > end {
					break
				}
				if !r.chance(m.pSameP) {
					prod = m.cat.pick.sample(&r)
				}
			}
			x := mkrec(t, prod, user, sess, event.EventView)
			if carts+buys > 0 { // only carts and purchases look back at views
				b.views = append(b.views, x)
			}
			emit(x)
		}
		b.carts = b.carts[:0]
		var lastCart uint32
		var usedViews uint64 // views (mod 64) already carted
		for c := 0; c < carts; c++ {
			// A cart follows the view of the same product.
			// A second cart off the same view is another product (an
			// accessory), else the two would often be exact duplicates.
			vi := int(r.n(uint64(len(b.views))))
			v := b.views[vi]
			prod := v.prod()
			if usedViews&(1<<(vi&63)) != 0 {
				prod = m.cat.pick.sample(&r)
			}
			usedViews |= 1 << (vi & 63)
			x := mkrec(min(v.t+uint32(cartLagDist.sample(&r)), end), m.buyable(&r, prod), user, sess, event.EventCart)
			lastCart = max(lastCart, x.t)
			b.carts = append(b.carts, x)
			emit(x)
		}
		if buys > 0 && carts > 0 {
			// Purchases of carted products, a log-normal delay after the
			// last cart, then a few seconds apart.
			t := lastCart + uint32(buyDelayDist.sample(&r))
			for k := 0; k < buys; k++ {
				x := b.carts[k%len(b.carts)]
				x = mkrec(min(t, end), x.prod(), user, sess, event.EventPurchase)
				emit(x)
				t += 1 + uint32(r.n(20))
			}
		} else if buys > 0 {
			v := b.views[r.n(uint64(len(b.views)))]
			t := v.t + uint32(buyLagDist.sample(&r))
			prod := m.buyable(&r, v.prod())
			for k := 0; k < buys; k++ {
				emit(mkrec(min(t, end), prod, user, sess, event.EventPurchase))
				t += 1 + uint32(r.n(20))
				prod = m.buyable(&r, m.cat.pick.sample(&r))
			}
		}
	}
	b.sort(base)
	raw, b.raw = b.raw, nil
	return raw
}

// buyable returns p, or another popular product when p has a zero price:
// zero-price products are never carted or purchased in the real file.
func (m *model) buyable(r *rng, p uint32) uint32 {
	for m.cat.prods[p].priceCents == 0 {
		p = m.cat.pick.sample(r)
	}
	return p
}

func (m *model) geom(r *rng, rho uint64) int {
	k := 0
	for k < 50 && r.u64() < rho {
		k++
	}
	return k
}

func inGap(t uint32) bool {
	at := MonthStart + int64(t)
	return (at > pubPurchaseGaps[0][0] && at < pubPurchaseGaps[0][1]) ||
		(at > pubPurchaseGaps[1][0] && at < pubPurchaseGaps[1][1])
}

// sort orders raw by second into sorted with a stable counting sort, so rows
// of the same second keep their generation order (a duplicate stays next to
// its original).
func (b *block) sort(base uint32) {
	const span = (spillHours + 1) * blockSecs
	if cap(b.count) < span+1 {
		b.count = make([]uint32, span+1)
	}
	cnt := b.count[:span+1]
	clear(cnt)
	for i := range b.raw {
		cnt[b.raw[i].t-base+1]++
	}
	for s := 1; s <= span; s++ {
		cnt[s] += cnt[s-1]
	}
	for k := range b.bounds {
		b.bounds[k] = int(cnt[k*blockSecs])
	}
	if cap(b.sorted) < len(b.raw) {
		b.sorted = make([]rec, len(b.raw))
	}
	b.sorted = b.sorted[:len(b.raw)]
	for i := range b.raw {
		k := b.raw[i].t - base
		b.sorted[cnt[k]] = b.raw[i]
		cnt[k]++
	}
}

func ceil(x float64) float64 {
	i := float64(int64(x))
	if i < x {
		return i + 1
	}
	return i
}

// pow15 is u^userAlpha for userAlpha = 1.5.
func pow15(u float64) float64 { return u * math.Sqrt(u) }

// sessText is the end of every CSV line of a session, ",user_id,uuid\n",
// rendered once per session instead of once per row. It is one 64-byte
// cache line, its length in the last byte, so that rendering can copy all
// 64 bytes with fixed-size moves and keep n of them. The session's user_id
// also sits in binary in the 8 bytes before the length (the text is at most
// 51 bytes), for the Generator, which reads this line for the uuid anyway.
type sessText struct {
	b [sessTextLen]byte
}

const (
	sessTextLen = 64
	sessUserAt  = sessTextLen - 9
)

func newSessText(user uint64, uuid *[36]byte) sessText {
	var t sessText
	b := append(t.b[:0:sessUserAt], ',')
	if user-1e8 < 9e8 {
		// NOTE: nine digits (every user_id of the model) as one digit and
		// eight at once: the digit loop was 60 % of newSessText's
		// instructions (cachegrind, a day of the month).
		b = append(b, byte('0'+user/1e8))
		b = binary.LittleEndian.AppendUint64(b, digits8(uint32(user%1e8)))
	} else {
		b = appendUint(b, user)
	}
	b = append(b, ',')
	b = append(b, uuid[:]...)
	b = append(b, '\n')
	binary.LittleEndian.PutUint64(t.b[sessUserAt:], user)
	t.b[sessTextLen-1] = uint8(len(b))
	return t
}

// digits8 returns the eight decimal digits of x < 10^8, the first in the
// low byte: x splits into 4-digit halves, each half into 2-digit quarters
// and each quarter into digits, every split done on all lanes at once with
// a multiply by a reciprocal (exact below 10^4 and 100).
func digits8(x uint32) uint64 {
	v := uint64(x/10000) | uint64(x%10000)<<32
	q := (v * 5243 >> 19) & 0x0000007F0000007F // lane / 100
	v = q | (v-q*100)<<16
	q = (v * 103 >> 10) & 0x000F000F000F000F // lane / 10
	v = q | (v-q*10)<<8
	return v | 0x3030303030303030
}

// len is the length of the text.
func (t *sessText) len() int { return int(t.b[sessTextLen-1]) }

// uuid returns the session's user_session.
func (t *sessText) uuid() *[36]byte { return (*[36]byte)(t.b[t.len()-37:]) }

// user returns the session's user_id.
func (t *sessText) user() uint64 { return binary.LittleEndian.Uint64(t.b[sessUserAt:]) }

// newUUID draws a random (version 4) UUID in its 36-character text form:
// the bytes of two draws, a's then c's, each as two lowercase hex digits,
// dashes after the 4th, 6th, 8th and 10th byte.
//
// NOTE: four bytes at a time as SWAR (hex8) rather than a table lookup a
// nibble: newUUID was 7 % of the iterator's CPU profile.
func newUUID(r *rng) [36]byte {
	a, c := r.u64(), r.u64()
	a = a&^(0xf0<<48) | 0x40<<48 // byte 6: version 4
	c = c&^0xc0 | 0x80           // byte 8: variant 10
	var s [36]byte
	h1, h3 := hex8(uint32(a>>32)), hex8(uint32(c>>32))
	h2 := hex8(uint32(c))
	binary.LittleEndian.PutUint64(s[0:], hex8(uint32(a)))
	s[8] = '-'
	binary.LittleEndian.PutUint32(s[9:], uint32(h1))
	s[13] = '-'
	binary.LittleEndian.PutUint32(s[14:], uint32(h1>>32))
	s[18] = '-'
	binary.LittleEndian.PutUint32(s[19:], uint32(h2))
	s[23] = '-'
	binary.LittleEndian.PutUint32(s[24:], uint32(h2>>32))
	binary.LittleEndian.PutUint64(s[28:], h3)
	return s
}

// hex8 returns the lowercase hex text of the four bytes of x, low byte
// first and each byte's high digit first, as eight bytes little endian.
func hex8(x uint32) uint64 {
	v := uint64(x)
	v = (v | v<<16) & 0x0000FFFF0000FFFF
	v = (v | v<<8) & 0x00FF00FF00FF00FF // byte j in 16-bit lane j
	v = v>>4&0x000F000F000F000F | (v&0x000F000F000F000F)<<8
	letter := (v + 0x0606060606060606) >> 4 & 0x0101010101010101 // digit >= 10
	return v + 0x3030303030303030 + letter*('a'-'0'-10)
}
