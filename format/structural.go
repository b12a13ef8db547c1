package format

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"

	"github.com/cartwatch/cartwatch/event"
)

// The two-stage row scan (simdcsv style) that the engine's file path uses.
//
// Stage 1 (scanStructural) makes one pass over a whole window of a chunk and
// writes three bitmaps with one bit per byte, interleaved by 64-byte block
// (mask[3k], mask[3k+1], mask[3k+2] cover data[64k:64k+64]):
//
//	C (comma):  the byte is ','
//	X (other):  the byte is < 0x2D and not ',': '\n', '\r', '"', ' ', controls
//	D (digit):  the byte is '0'-'9'
//
// The three bytes that structure a row (',', '"', '\n') are all below '-'
// (0x2D), and in 2019-Nov data almost no other byte is (the two spaces of
// event_time, which stage 2 does not look at, and the '\r' of CRLF lines). On
// amd64 it is AVX-512BW or AVX2 assembly (whichever the CPU has), 64 bytes
// per step; elsewhere, or without either, SWAR Go.
//
// Stage 2 (Parser.fastAt) parses a row from the bitmaps: the row's line end
// is its first X byte after event_time, and it is a plain row iff exactly
// seven C bits come before that; their positions (TrailingZeros64) are the
// field ends, so no byte of a text field is looked at, and a numeric field
// is validated by testing that its run of D bits is unbroken: a shift and a
// compare instead of a look at each digit. Any X byte before the line end
// (a '"', a space or control byte in a text field, a second '\r') makes the
// first X byte something other than '\n' or "\r\n", and stage 2 declines
// the row; it then goes to ParseRow, whose general path is exact. So, as with
// Parser.fast, stage 2 needs only to be exact on what it accepts; FuzzRows
// holds RowIter both to LineIter.Next + ParseRow and to the reference parser.
//
// The engine's plain path walks with NextNonView, which yields only the rows
// that are not views. Views in the time's common shape are taken in a run by
// viewRun, fastAt's view path as one loop (in AVX2 and BMI2 assembly where
// the CPU has them, viewRunAVX2; else in Go, viewRunGo), and anything it
// declines goes to fastAt.
//
// NOTE: replacing LineIter.Next's bytes.IndexByte for '\n' plus the per-field
// SWAR delimiter search (delim) removes the two largest items of the file
// run's CPU profile; see BenchmarkReadParse (walk=rows) and BenchmarkParseRow.
// Splitting the one "< 0x2D" bitmap into C and X, and adding D, took the
// comma checks (a load per field end) and the digit checks (a load and
// SWAR test per field) out of stage 2: BenchmarkRowScan.

// Bitmap word offsets within a block's three words.
const (
	maskC      = 0
	maskX      = 1
	maskD      = 2
	maskStride = 3
)

// scanStructural fills the three bitmaps of data into mask, which must have
// maskStride*(len(data)/64+1) words. As a sentinel, bit len(data) is set in
// C and in X (so a walk over either always stops, at len(data) if nothing
// comes first). Other bits past len(data) are zero.
func scanStructural(data []byte, mask []uint64) {
	nb := len(data) >> 6
	scanBlocks(data[:nb<<6], mask[:nb*maskStride])
	var tail [64]byte
	n := copy(tail[:], data[nb<<6:])
	// The copy's zero bytes are < 0x2D: clear their X bits below.
	scanBlocksGeneric(tail[:], mask[nb*maskStride:nb*maskStride+maskStride])
	live := uint64(1)<<n - 1
	end := uint64(1) << n
	m := mask[nb*maskStride : nb*maskStride+maskStride]
	m[maskC] = m[maskC]&live | end
	m[maskX] = m[maskX]&live | end
	m[maskD] &= live
}

// laneBits gathers the top bit of each byte of m (all other bits zero) into
// the low eight bits.
func laneBits(m uint64) uint64 {
	return (m >> 7) * 0x0102040810204080 >> 56
}

// classify8 returns the C, X and D bits of the eight bytes of w (little
// endian), exact in every lane: no carry or borrow crosses a lane, since
// each sum is of two 7-bit values.
func classify8(w uint64) (c, x, d uint64) {
	const lo7, hi = 0x7F7F7F7F7F7F7F7F, 0x8080808080808080
	v := w & lo7
	ascii := ^w & hi
	// Top bit of v+k is set iff v >= 0x80-k.
	lt2D := ^(v + (0x80-0x2D)*0x0101010101010101) & ascii
	comma := v ^ 0x2C2C2C2C2C2C2C2C // zero lanes are ','
	isComma := ^(comma + lo7) & ascii
	ge30 := (v + (0x80-0x30)*0x0101010101010101) & hi
	ge3A := (v + (0x80-0x3A)*0x0101010101010101) & hi
	digit := ge30 &^ ge3A & ascii
	c = laneBits(isComma & hi)
	return c, laneBits(lt2D&hi) &^ c, laneBits(digit)
}

// scanBlocksGeneric is stage 1 in portable Go, for each whole 64-byte block.
func scanBlocksGeneric(data []byte, mask []uint64) {
	for k := range len(mask) / maskStride {
		blk := data[k<<6 : k<<6+64]
		var c, x, d uint64
		for i := 0; i < 64; i += 8 {
			bc, bx, bd := classify8(binary.LittleEndian.Uint64(blk[i:]))
			c |= bc << i
			x |= bx << i
			d |= bd << i
		}
		m := mask[k*maskStride : k*maskStride+maskStride]
		m[maskC], m[maskX], m[maskD] = c, x, d
	}
}

// cursor walks the set bits of one of the stage-1 bitmaps in order.
//
// NOTE: popping bits off the current word (m &= m-1) keeps the chain from
// one field end to the next at one instruction; searching afresh from each
// field's start (shift, count, add) measured slower.
type cursor struct {
	mask []uint64
	k    int    // index in mask of the current word
	m    uint64 // its bits not yet returned
}

// newCursor returns a cursor over bitmap which (maskC or maskX) at the first
// bit >= i; i <= len(data).
func newCursor(mask []uint64, which, i int) cursor {
	k := i>>6*maskStride + which
	return cursor{mask: mask, k: k, m: mask[k] &^ (1<<(uint(i)&63) - 1)}
}

// next returns the index of the next set bit, or len(data) (the sentinel)
// when there is none; it must not be called after that.
func (c *cursor) next() int {
	for c.m == 0 {
		c.k += maskStride
		c.m = c.mask[c.k]
	}
	j := c.k/maskStride<<6 | bits.TrailingZeros64(c.m)
	c.m &= c.m - 1
	return j
}

// digitBits returns 64 bits of the D bitmap from bit a on.
func digitBits(mask []uint64, a int) uint64 {
	k, r := a>>6*maskStride+maskD, uint(a)&63
	return mask[k]>>r | mask[k+maskStride]<<1<<((63-r)&63)
}

// digitRun reports whether data[a:b] is 1-19 ASCII digits (what digitsAt
// accepts), from the D bitmap.
func digitRun(mask []uint64, a, b int) bool {
	return ones(digitBits(mask, a), 0, uint(b-a))
}

// priceRun reports whether priceAt accepts data[a:b] (a <= b), from the D
// bitmap.
func priceRun(data []byte, mask []uint64, a, b int) bool {
	return priceBits(digitBits(mask, a), data[a:b], 0)
}

// digits8 converts the n (1-8) bytes of w's top lanes, an 8-byte little-endian
// load that ends at a field's end, into their value; false unless all n are
// ASCII digits. The lanes before the field are set to '0' first, so the word
// is an 8-digit zero-padded number, converted in three multiply steps.
func digits8(w uint64, n int) (uint64, bool) {
	keep := ^uint64(0) << (8 * uint(8-n))
	w = w&keep | 0x3030303030303030&^keep
	// Every lane 0x30-0x3F, and still 0x3_ after adding 6: '0'-'9'. A carry
	// out of a lane spoils the next lane's high nibble only when this lane's
	// is already wrong, so the one compare is exact.
	ok := w&0xF0F0F0F0F0F0F0F0|(w+0x0606060606060606)>>4&0x0F0F0F0F0F0F0F0F == 0x3333333333333333
	w -= 0x3030303030303030
	w = w*10 + w>>8
	w = (w&0x00FF00FF00FF00FF)*100 + (w>>16)&0x00FF00FF00FF00FF
	return uint64(uint32((w&0xFFFF)*10000 + (w>>32)&0xFFFF)), ok
}

// digitsAt parses data[a:b], 1-19 ASCII digits, into a uint64 (19 digits
// cannot overflow). It needs a >= 8 (data before the field to load).
func digitsAt(data []byte, a, b int) (uint64, bool) {
	n := b - a
	switch {
	case n >= 1 && n <= 8:
		return digits8(binary.LittleEndian.Uint64(data[b-8:]), n)
	case n > 8 && n <= 16:
		hi, ok1 := digits8(binary.LittleEndian.Uint64(data[b-16:]), n-8)
		lo, ok2 := digits8(binary.LittleEndian.Uint64(data[b-8:]), 8)
		return hi*100000000 + lo, ok1 && ok2
	case n > 16 && n <= 19:
		// The 2019-Nov category_id: 19 digits, as three words (the
		// top one of 1-3 digits); below 2^64, so no overflow.
		hi, ok1 := digits8(binary.LittleEndian.Uint64(data[b-24:]), n-16)
		mid, ok2 := digits8(binary.LittleEndian.Uint64(data[b-16:]), 8)
		lo, ok3 := digits8(binary.LittleEndian.Uint64(data[b-8:]), 8)
		return (hi*100000000+mid)*100000000 + lo, ok1 && ok2 && ok3
	}
	return 0, false
}

// priceAt parses the price data[a:b]: 1-10 digits, optionally '.' and one
// or two digits, into cents (so at most 9999999999.99, below MaxPriceCents
// with no compare; 11 digits are left to parsePrice). a >= 16.
func priceAt(data []byte, a, b int) (int64, bool) {
	n := b - a
	var frac uint64
	switch {
	case n >= 4 && data[b-3] == '.':
		d1, d2 := data[b-2]-'0', data[b-1]-'0'
		if d1 > 9 || d2 > 9 {
			return 0, false
		}
		frac, b = uint64(d1)*10+uint64(d2), b-3
	case n >= 3 && data[b-2] == '.':
		d := data[b-1] - '0'
		if d > 9 {
			return 0, false
		}
		frac, b = uint64(d)*10, b-2
	}
	if b-a > 10 {
		return 0, false
	}
	x, ok := digitsAt(data, a, b)
	return int64(x*100 + frac), ok
}

// fastAt is stage 2: it parses the row starting at data[s] with mask, the
// stage-1 bitmaps of all of data, with two blocks of slack past its last
// one. The row ends at the first '\n' or at the end of data; a '\r' right
// before that end is dropped. fastAt returns the index of the end and
// whether it parsed the row; on false nothing is decided and the caller
// hands the line to ParseRow.
//
// The common row, a view that fits in the 128 bits after its event_time,
// takes the path written out here, on registers: the two first field ends
// are the low bits of the first C word, the last three the top bits of the
// 64 C bits below the line end (user_session and user_id are fixed-width in
// practice and price short), and its three numeric fields are checked
// against the D bits the same way. Every other row goes through finishAt.
//
// NOTE: extracting the five field ends a view needs from both ends of the
// row, instead of all seven in order with the two-word flattening and a
// select per field, took fastAt from ~470 to ~300 instructions a row
// (cachegrind, BenchmarkRowScan/views=time).
func (p *Parser) fastAt(data []byte, mask []uint64, s int, ev *event.Event, full bool) (int, bool) {
	n := len(data)
	// event_time: fixed width in the common shape; its two spaces are X
	// bits, so the bitmaps are read from after its comma.
	if n-s < 24 || data[s+23] != ',' || data[s+10] != ' ' {
		return 0, false
	}
	t, ok := p.tc.parse(data[s:s+23], p.MaxTime)
	if !ok {
		return 0, false
	}
	// The 128 bits of C and X that follow the time's comma. The line end
	// is the first X bit; there must be exactly seven C bits before it.
	//
	// NOTE: <<1<<l is <<(64-r) for r in 0-63 (0 when r is 0) with shift
	// counts the compiler can see are below 64: no fix-up code.
	i := s + 24
	k, r := i>>6*maskStride, uint(i)&63
	l := (63 - r) & 63
	m := mask[k : k+3*maskStride]
	c0, c1 := m[maskC]>>r|m[maskC+maskStride]<<1<<l, m[maskC+maskStride]>>r|m[maskC+2*maskStride]<<1<<l
	x0, x1 := m[maskX]>>r|m[maskX+maskStride]<<1<<l, m[maskX+maskStride]>>r|m[maskX+2*maskStride]<<1<<l
	var e uint // the line end, relative to i
	switch {
	case x0 != 0:
		e = uint(bits.TrailingZeros64(x0))
		if bits.OnesCount64(c0&(1<<(e&63)-1)) != 7 {
			return 0, false
		}
	case x1 != 0:
		e = 64 + uint(bits.TrailingZeros64(x1))
		if bits.OnesCount64(c0)+bits.OnesCount64(c1&(1<<(e&63)-1)) != 7 {
			return 0, false
		}
	default:
		return p.walkAt(data, mask, s, t, ev, full)
	}
	// Field ends 0 and 1 from the bottom of c0; 4, 5 and 6 from the top
	// of h, the 64 C bits below the line end (bit 63 is e-1). Seven
	// commas in all, so the two sets cannot meet.
	a0 := uint(bits.TrailingZeros64(c0)) // 64 if c0 is empty
	c0r := c0 & (c0 - 1)
	a1 := uint(bits.TrailingZeros64(c0r))
	h := top64(c0, c1, e)
	z6 := uint(bits.LeadingZeros64(h))
	h ^= 1 << ((63 - z6) & 63)
	z5 := uint(bits.LeadingZeros64(h))
	h ^= 1 << ((63 - z5) & 63)
	z4 := uint(bits.LeadingZeros64(h))
	if a1|z5|z4 >= 64 {
		// Fewer than two ends in the first word or three in the last
		// 64 bits: an odd row.
		return p.walkAt(data, mask, s, t, ev, full)
	}
	end := i + int(e)
	if full || a0 != 4 || binary.LittleEndian.Uint32(data[i:]) != viewWord || end == n || data[end] != '\n' {
		// Not a plain view ending in '\n': take the general route.
		base := end - 1
		var c [7]int
		c[0], c[1] = i+int(a0), i+int(a1)
		a2 := bits.TrailingZeros64(c0r & (c0r - 1))
		if a2 == 64 {
			return p.walkAt(data, mask, s, t, ev, full)
		}
		c[2] = i + a2
		c[4], c[5], c[6] = base-int(z4), base-int(z5), base-int(z6)
		// category_code's end: the fourth end from the bottom of c0, or
		// else the one below z4 in h.
		c0r2 := c0r & (c0r - 1)
		if a3 := bits.TrailingZeros64(c0r2 & (c0r2 - 1)); a3 < 64 {
			c[3] = i + a3
		} else if z3 := uint(bits.LeadingZeros64(h ^ 1<<((63-z4)&63))); z3 < 64 {
			c[3] = base - int(z3)
		} else {
			return p.walkAt(data, mask, s, t, ev, full)
		}
		if c[3] <= c[2] || c[3] >= c[4] {
			return p.walkAt(data, mask, s, t, ev, full)
		}
		return p.finishAt(data, mask, s, t, &c, end, ev, full)
	}
	if end-s > p.maxLine() {
		return 0, false // ParseRow says ReasonLineTooLong
	}
	// The D bits: product_id is bits [a0+1, a1) of d0; price and user_id
	// end in the top bits of dh, the 64 D bits below the line end.
	d0, d1 := m[maskD]>>r|m[maskD+maskStride]<<1<<l, m[maskD+maskStride]>>r|m[maskD+2*maskStride]<<1<<l
	dh := top64(d0, d1, e)
	if !ones(d0, a0+1, a1) || !ones(dh, 64-z5, 63-z6) || !priceBits(dh, data[end-int(z4):end-1-int(z5)], 64-z4) {
		return 0, false
	}
	if p.ViewUser {
		ev.UserID = runValue(data, end-int(z5), end-1-int(z6))
	}
	// category_id is never rejected and a view does not store it.
	ev.Time, ev.Type = t, event.EventView
	return end, true
}

// viewRun parses the run of views at data[s:] in the time's common shape:
// each is its event_time ("2019-11-01 00:00:00 UTC"), ",view,", and then
// its line end ('\n') 64-127 bytes later, with user_session and the two
// fields before it in the last 64 of those, and p.ViewUser is false. It
// takes such rows while each starts before stop, and returns the index
// after the last one's '\n', how many it took and their highest time
// (math.MinInt64 for none). It stops, deciding nothing, at the first other
// row: the caller asks fastAt. What it accepts fastAt(data, mask, s, ev,
// false) accepts too, with the same end and time (FuzzRows and the other
// tests of checkNonView, for both loops; TestViewRunTakesPlainViews: it
// takes every such view). data and mask are fastAt's; stop <= len(data).
//
// The loop (viewRunGo, viewRunAVX2) takes the rows of the time cache's
// second, the cached time's 23 bytes their first; at a view of another
// second viewRun refreshes the cache from it, as fastAt would, and runs
// the loop again from there.
//
// NOTE: a view costs what the loop costs. Parsing one view per call (the
// earlier viewAt, called from NextNonView's loop) spent about as many
// instructions on the call, the iterator's state and the time-cache
// checks as on the row; here the cached time, the row's position and the
// count stay in registers, the time, the comma after it, "view" and the
// comma after that are one compare, and the bitmaps are read from after
// that comma, so product_id starts at bit 0 and each numeric field is
// checked by one TrailingZeros64 of its digit bits (a run of digits that
// stops exactly at its comma). BenchmarkRowScan/views=skip, callgrind:
// 524 instructions a row with viewAt, 415 with viewRunGo, 316 with
// viewRunAVX2 (GOAMD64=v1 builds; viewRunGo is the one that gains most
// from v3: SHRX, TZCNT, LZCNT, POPCNT inline).
func (p *Parser) viewRun(data []byte, mask []uint64, s, stop int) (next int, views, maxTime int64) {
	c := &p.tc
	maxTime = math.MinInt64
	// An empty cache (w0 zero: no time has parsed) would match zero
	// bytes; a line limit below the longest row taken here is left to
	// fastAt, which reports it.
	if p.ViewUser || c.w0 == 0 || p.MaxTime != c.max || p.maxLine() < viewRunMaxLine {
		return s, 0, maxTime
	}
	// Each row's first 32 bytes are loaded whole.
	stop = min(stop, len(data)-32)
	asm := useViewRunAVX2 && len(mask) >= ((stop+29)>>6+3)*maskStride
	for s < stop {
		var v int64
		if asm {
			var tmpl [32]byte
			binary.LittleEndian.PutUint64(tmpl[0:], c.w0)
			binary.LittleEndian.PutUint64(tmpl[8:], c.w1)
			binary.LittleEndian.PutUint64(tmpl[15:], c.w2)
			binary.LittleEndian.PutUint64(tmpl[23:], viewTail)
			var n int
			s, n = viewRunAVX2(data, mask, s, stop, &tmpl)
			v = int64(n)
		} else {
			s, v = viewRunGo(data, mask, s, stop, c.w0, c.w1, c.w2)
		}
		if v > 0 {
			views, maxTime = views+v, max(maxTime, c.t)
		}
		if s >= stop {
			break
		}
		// A view in the next second (one row in 26 on the 2019-Nov
		// file) refreshes the cache, as fastAt would, and the loop
		// goes on from it; any other row is fastAt's.
		//
		// NOTE: the cache is only a cache: a time it holds changes no
		// row's result, so refreshing it from a row the loop then
		// declines is harmless.
		b := data[s : s+32 : s+32]
		w0, w1, w2 := binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint64(b[15:])
		if w0 == c.w0 && w1 == c.w1 && w2 == c.w2 || b[10] != ' ' || (binary.LittleEndian.Uint64(b[23:])^viewTail)&(1<<48-1) != 0 {
			break // b[10]: only the common shape is cached
		}
		if _, ok := c.parse(b[:23], p.MaxTime); !ok {
			break
		}
	}
	return s, views, maxTime
}

// viewRunGo is viewRun's loop in Go: it takes the views whose time is the
// cached one (w0, w1, w2: the cache's words) while each starts before stop
// (<= len(data)-32), and returns the index after the last and how many.
func viewRunGo(data []byte, mask []uint64, s, stop int, w0, w1, w2 uint64) (int, int64) {
	n := len(data)
	views := int64(0)
	for s < stop {
		b := data[s : s+32 : s+32]
		// NOTE: ^ and | bind alike, left to right: each ^ in brackets.
		if (binary.LittleEndian.Uint64(b[0:])^w0)|(binary.LittleEndian.Uint64(b[8:])^w1)|(binary.LittleEndian.Uint64(b[15:])^w2)|
			(binary.LittleEndian.Uint64(b[23:])^viewTail)&(1<<48-1) != 0 {
			break
		}
		// The 128 bits of C, X and D from product_id's first byte on.
		i := s + 29
		k, r := i>>6*maskStride, uint(i)&63
		l := (63 - r) & 63
		m := mask[k : k+3*maskStride : k+3*maskStride]
		x0 := m[maskX]>>r | m[maskX+maskStride]<<1<<l
		x1 := m[maskX+maskStride]>>r | m[maskX+2*maskStride]<<1<<l
		if x0 != 0 || x1 == 0 {
			break // a line end in the first 64 bytes, or none in 128: fastAt's
		}
		// The line end e, relative to i, is the first X bit: it must be
		// '\n', with six commas before it.
		sh := uint(bits.TrailingZeros64(x1))
		e := 64 + sh
		end := i + int(e)
		c0 := m[maskC]>>r | m[maskC+maskStride]<<1<<l
		c1 := m[maskC+maskStride]>>r | m[maskC+2*maskStride]<<1<<l
		if end >= n || data[end] != '\n' {
			break
		}
		// product_id ends at the first comma; price and user_id at the
		// second and first below the last (user_session's start), found
		// in h, the 64 C bits below e (bit 63 is e-1).
		a1 := uint(bits.TrailingZeros64(c0))
		h := c0>>sh | c1<<1<<(63-sh)
		z6 := uint(bits.LeadingZeros64(h))
		h ^= 1 << ((63 - z6) & 63)
		z5 := uint(bits.LeadingZeros64(h))
		h ^= 1 << ((63 - z5) & 63)
		z4 := uint(bits.LeadingZeros64(h))
		// Six commas before e: the fourth from the bottom is the third
		// from the top (z4). The first three are in c0 (else fastAt
		// decides); the fourth is in c0 or, when c0 has no more (t is
		// 64), the first in c1.
		//
		// NOTE: not OnesCount64: built for GOAMD64=v1 it tests for
		// POPCNT at run time and else calls a function, and the loop
		// spilled its registers around that call on every row.
		r2 := c0 & (c0 - 1)
		r2 &= r2 - 1
		t := uint(bits.TrailingZeros64(r2 & (r2 - 1)))
		t += uint(bits.TrailingZeros64(c1)) & -(t >> 6)
		if z4 >= 64 || r2 == 0 || t != e-1-z4 || a1-1 >= 19 {
			break
		}
		// Each numeric field is its run of D bits, which stops at the
		// comma after it (not a digit): the run is all of the field
		// iff its length is the field's. dh: the D bits below e.
		d0 := m[maskD]>>r | m[maskD+maskStride]<<1<<l
		d1 := m[maskD+maskStride]>>r | m[maskD+2*maskStride]<<1<<l
		dh := d0>>sh | d1<<1<<(63-sh)
		un := z5 - z6 - 1 // user_id's length
		pn := z4 - z5 - 1 // price's length
		pw := dh >> ((64 - z4) & 63)
		q := uint(bits.TrailingZeros64(^pw)) // price's digits before any '.'
		if uint(bits.TrailingZeros64(^d0)) != a1 || uint(bits.TrailingZeros64(^(dh>>((64-z5)&63)))) != un || un-1 >= 19 || q-1 >= 10 {
			break
		}
		if q != pn {
			// A '.' and one or two digits to the price's end.
			f := pn - q - 1
			if f-1 >= 2 || data[end-int(z4)+int(q)] != '.' || uint(bits.TrailingZeros64(^(pw>>((q+1)&63)))) != f {
				break
			}
		}
		views++
		s = end + 1
	}
	return s, views
}

// viewRunMaxLine bounds the rows viewRun takes: 29 bytes before
// product_id and at most 127 after, so a line limit of this much or more
// never rejects one of them.
const viewRunMaxLine = 29 + 128

// viewTail is ",view," loaded little endian (the low 48 bits of a load).
const viewTail = uint64(',') | uint64('v')<<8 | uint64('i')<<16 | uint64('e')<<24 | uint64('w')<<32 | uint64(',')<<40

// runValue is digitsAt for data[a:b] already known to be 1-19 ASCII digits
// (a >= 16): the conversion without the checks.
func runValue(data []byte, a, b int) uint64 {
	switch n := b - a; {
	case n == 9:
		// The common user_id: one digit, then eight converted with
		// constant shifts.
		return uint64(data[a]-'0')*100000000 + value8(binary.LittleEndian.Uint64(data[b-8:]), 8)
	case n <= 8:
		return value8(binary.LittleEndian.Uint64(data[b-8:]), n)
	case n <= 16:
		return value8(binary.LittleEndian.Uint64(data[b-16:]), n-8)*100000000 +
			value8(binary.LittleEndian.Uint64(data[b-8:]), 8)
	}
	x, _ := digitsAt(data, a, b)
	return x
}

// value8 is digits8 without the check: w's top n lanes are known digits.
func value8(w uint64, n int) uint64 {
	w = w>>(8*uint(8-n)&63)<<(8*uint(8-n)&63) - 0x3030303030303030&(^uint64(0)<<(8*uint(8-n)&63))
	w = w*10 + w>>8
	w = (w&0x00FF00FF00FF00FF)*100 + (w>>16)&0x00FF00FF00FF00FF
	return uint64(uint32((w&0xFFFF)*10000 + (w>>32)&0xFFFF))
}

// top64 returns the 64 bits of (lo, hi), a 128-bit little-endian bitmap,
// that end below bit e (1 <= e < 128): bit 63 of the result is bit e-1.
func top64(lo, hi uint64, e uint) uint64 {
	if e >= 64 {
		sh := (e - 64) & 63
		return lo>>sh | hi<<1<<((63-sh)&63)
	}
	return lo << ((64 - e) & 63)
}

// ones reports whether bits [a, b) of w are all set, with 1 <= b-a <= 19
// and b <= 64: a digit run that digitsAt accepts.
func ones(w uint64, a, b uint) bool {
	n := b - a
	return n-1 < 19 && b <= 64 && (^w>>(a&63))<<((64-n)&63) == 0
}

// priceBits reports whether priceAt accepts field, whose D bits start at bit
// a of w: 1-10 digits, optionally then '.' and one or two digits.
func priceBits(w uint64, field []byte, a uint) bool {
	n := uint(len(field))
	if n-1 >= 13 {
		return false
	}
	run := uint64(1)<<(n&63) - 1
	switch hole := run &^ (w >> (a & 63)); {
	case hole == 0:
		return n <= 10
	case n >= 4 && hole == 1<<((n-3)&63):
		return field[n-3] == '.'
	case n >= 3 && n <= 12 && hole == 1<<((n-2)&63):
		return field[n-2] == '.'
	}
	return false
}

// walkAt is fastAt for a row too long for its 128-bit window: the field
// ends come from cursors over the bitmaps.
func (p *Parser) walkAt(data []byte, mask []uint64, s int, t int64, ev *event.Event, full bool) (int, bool) {
	i := s + 24
	xc := newCursor(mask, maskX, i)
	end := xc.next()
	cc := newCursor(mask, maskC, i)
	var c [7]int
	for q := range c {
		if c[q] = cc.next(); c[q] >= end {
			return 0, false
		}
	}
	if cc.next() < end {
		return 0, false
	}
	return p.finishAt(data, mask, s, t, &c, end, ev, full)
}

// finishAt completes fastAt for any row once its seven field ends c and its
// first X byte end are known.
func (p *Parser) finishAt(data []byte, mask []uint64, s int, t int64, c *[7]int, end int, ev *event.Event, full bool) (int, bool) {
	// The line end: '\n', end of data (the sentinel), or '\r' before
	// either.
	n := len(data)
	sessEnd := end
	if end < n {
		switch data[end] {
		case '\n':
		case '\r':
			if end+1 < n && data[end+1] != '\n' {
				return 0, false
			}
			end++
		default:
			return 0, false
		}
	}
	if end-s > p.maxLine() {
		return 0, false // ParseRow says ReasonLineTooLong
	}
	// event_type.
	i := s + 24
	var typ event.EventType
	switch tl := c[0] - i; {
	case tl == 4 && binary.LittleEndian.Uint32(data[i:]) == viewWord:
		typ = event.EventView
	case tl == 4 && binary.LittleEndian.Uint32(data[i:]) == cartWord:
		typ = event.EventCart
	case tl == 0:
		return 0, false
	default:
		typ = eventType(data[i:c[0]])
	}
	if !full && typ == event.EventView {
		// A view stores neither product nor price, and its user only
		// when asked: checking the digit runs is enough.
		if !digitRun(mask, c[0]+1, c[1]) || !priceRun(data, mask, c[4]+1, c[5]) {
			return 0, false
		}
		if p.ViewUser {
			user, ok := digitsAt(data, c[5]+1, c[6])
			if !ok {
				return 0, false
			}
			ev.UserID = user
		} else if !digitRun(mask, c[5]+1, c[6]) {
			return 0, false
		}
		// category_id is never rejected and a view does not store it.
		ev.Time, ev.Type = t, typ
		return end, true
	}
	product, ok1 := digitsAt(data, c[0]+1, c[1])
	price, ok2 := priceAt(data, c[4]+1, c[5])
	user, ok3 := digitsAt(data, c[5]+1, c[6])
	// A category_id that is not a number is allowed, but rare enough to
	// leave to parseGeneral (which also takes 20-digit ones).
	category, ok4 := digitsAt(data, c[1]+1, c[2])
	if !(ok1 && ok2 && ok3 && ok4) {
		return 0, false
	}
	ev.Time, ev.Type, ev.UserID = t, typ, user
	ev.ProductID, ev.CategoryID, ev.PriceCents = product, category, price
	ev.SetCategory(data[c[2]+1 : c[3]])
	if !ev.SetSession(data[c[6]+1 : sessEnd]) {
		p.Truncated++
	}
	return end, true
}

// "view" and "cart" loaded little endian.
const (
	viewWord = uint32('v') | uint32('i')<<8 | uint32('e')<<16 | uint32('w')<<24
	cartWord = uint32('c') | uint32('a')<<8 | uint32('r')<<16 | uint32('t')<<24
)

// RowIter walks and parses the rows of a chunk with the two-stage scan. Use
// it as
//
//	it := p.Rows(c.Data)
//	for {
//		r, ok := it.Next(&ev, full)
//		if !ok {
//			break
//		}
//		... it.Index() ...
//	}
//	lines := it.Count()
//
// Line, Index and Count mean what they mean for LineIter, and Next yields
// exactly what LineIter.Next followed by p.ParseRow yields (FuzzRows). With
// a p.Header not in the 2019-Nov order, Next takes every row to ParseRow
// (its columns mapped by name), without the scan.
type RowIter struct {
	p      *Parser
	data   []byte
	mask   []uint64
	lim    int // stage 1 has run over data[:lim]
	scanTo int // stage 1 is to run up to here: len(data), or 0 (see Rows)
	pos    int
	n      int // lines consumed, blank ones included
	lo, hi int // current line
}

// Stage 1 runs a window of rowWindow bytes ahead of stage 2, refilled when
// a row starts within rowAhead bytes of its end.
//
// NOTE: one stage-1 pass over a whole 1 MiB chunk first, then stage 2,
// read the chunk back from L3 (data and bitmap outgrow L2); a 16 KiB window
// stays in L1.
const (
	rowWindow = 16 << 10
	rowAhead  = 1 << 10
)

// Rows returns an iterator over the rows of data. The bitmap lives in p and
// is reused by the next call to Rows, so a Parser serves one RowIter at a
// time. Rows reads p.Header: set it before.
func (p *Parser) Rows(data []byte) RowIter {
	if p.mapped() {
		// NOTE: stage 1 never runs (scanTo 0), so fastAt sees no data
		// and declines every row: each goes to ParseRow, which maps
		// the columns. Deciding here costs the common row nothing.
		return RowIter{p: p, data: data}
	}
	// Two blocks of slack: fastAt reads two blocks past the one it starts in.
	nw := (len(data)>>6 + 3) * maskStride
	if cap(p.mask) < nw {
		p.mask = make([]uint64, nw)
	}
	return RowIter{p: p, data: data, mask: p.mask[:nw], scanTo: len(data)}
}

// scan runs stage 1 over the next window. lim stays a multiple of 64 until
// it reaches len(data), so each window starts on a whole bitmap word (the
// one holding the previous window's sentinel).
func (it *RowIter) scan() {
	hi := min(it.lim+rowWindow, len(it.data))
	scanStructural(it.data[it.lim:hi], it.mask[it.lim>>6*maskStride:(hi>>6+1)*maskStride])
	it.lim = hi
}

// Next parses the next non-blank line into ev and returns its Reason; ok is
// false at the end of the data. A blank line (empty, or a lone '\r') is
// counted but not yielded.
func (it *RowIter) Next(ev *event.Event, full bool) (r Reason, ok bool) {
	for it.pos < len(it.data) {
		s := it.pos
		if it.lim-s < rowAhead && it.lim < it.scanTo {
			it.scan()
		}
		// The bitmap ends at lim (its sentinel), so a row that reaches lim
		// before len(data) is not known to end there: ParseRow takes it.
		if end, ok := it.p.fastAt(it.data[:it.lim], it.mask, s, ev, full); ok && (end < it.lim || it.lim == len(it.data)) {
			it.lo, it.hi = s, end
			it.pos = min(end+1, len(it.data))
			it.n++
			return ReasonOK, true
		}
		end := len(it.data)
		if j := bytes.IndexByte(it.data[s:], '\n'); j >= 0 {
			end = s + j
		}
		it.pos = min(end+1, len(it.data))
		it.n++
		line := it.data[s:end]
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			continue
		}
		it.lo, it.hi = s, end
		return it.p.ParseRow(line, ev, full), true
	}
	return ReasonOK, false
}

// NextNonView is Next(ev, false) for a caller that needs of a view only its
// time: every view it parses is counted in the returned views and raises
// *maxTime (a time past it), and is not yielded; it returns at the next row
// that is not such a view (another event type, or a malformed row: r is its
// Reason, ev, Line and Index are its own) or, with ok false, at the end of
// the data, having counted the views before either. The rows yielded, their
// order relative to the views, and Count are Next's; *maxTime is what a
// max over Next's views in order would be.
//
// NOTE: the engine's plain path (no --extend-on-activity) wants nothing
// else of a view (94 % of rows), so the per-row round trip through Next
// and its caller's loop is work per view that this loop skips: the row
// walk's position, line count and running maximum stay in registers.
func (it *RowIter) NextNonView(ev *event.Event, maxTime *int64) (views int64, r Reason, ok bool) {
	data, pos, n, m := it.data, it.pos, it.n, *maxTime
	for pos < len(data) {
		s := pos
		if it.lim-s < rowAhead && it.lim < it.scanTo {
			it.scan()
		}
		// The views of the last row's second, up to the next refill.
		stop := len(data)
		if it.lim < it.scanTo {
			stop = it.lim - rowAhead
		}
		if next, v, t := it.p.viewRun(data[:it.lim], it.mask, s, stop); v > 0 {
			pos, n, views, m = next, n+int(v), views+v, max(m, t)
			continue
		}
		end, ok := it.p.fastAt(data[:it.lim], it.mask, s, ev, false)
		if ok && (end < it.lim || it.lim == len(data)) {
			pos = min(end+1, len(data))
			n++
			if ev.Type == event.EventView {
				views++
				m = max(m, ev.Time)
				continue
			}
			it.lo, it.hi = s, end
			it.pos, it.n, *maxTime = pos, n, m
			return views, ReasonOK, true
		}
		end = len(data)
		if j := bytes.IndexByte(data[s:], '\n'); j >= 0 {
			end = s + j
		}
		pos = min(end+1, len(data))
		n++
		line := data[s:end]
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			continue
		}
		it.lo, it.hi = s, end
		it.pos, it.n = pos, n
		r := it.p.ParseRow(line, ev, false)
		if r == ReasonOK && ev.Type == event.EventView {
			views++
			m = max(m, ev.Time)
			continue
		}
		*maxTime = m
		return views, r, true
	}
	it.pos, it.n, *maxTime = pos, n, m
	return views, ReasonOK, false
}

// Line returns the current line without its '\n' (a '\r' before it is kept).
// It aliases the data.
func (it *RowIter) Line() []byte { return it.data[it.lo:it.hi] }

// Index returns the 0-based index of the current line among all lines of the
// data, blank lines included.
func (it *RowIter) Index() int { return it.n - 1 }

// Count returns the number of lines consumed so far, blank lines included:
// after Next has returned false, the data's line count.
func (it *RowIter) Count() int { return it.n }
