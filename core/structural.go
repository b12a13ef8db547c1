package core

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// The two-stage row scan (simdcsv style) that the engine's file path uses.
//
// Stage 1 (scanStructural) makes one pass over a whole chunk and writes a
// bitmap with one bit per byte: set iff the byte is < 0x2D. The three bytes
// that structure a row (',', '"', '\n') are all below '-' (0x2D), and in
// 2019-Nov data almost no other byte is (the two spaces of event_time, which
// stage 2 does not look at, and the '\r' of CRLF lines). On amd64 it is
// SSE2 assembly, 64 bytes per step with no per-row call.
//
// Stage 2 (Parser.fastAt) parses a row by walking the set bits with
// TrailingZeros64: the eight commas and the line end of a row are eight or
// nine bit lookups, so no byte of the text fields is looked at, and the
// numeric fields have known lengths before their digits are read, which lets
// them be converted eight digits at a time with no branch on their length.
// Any candidate byte that is not a ',' (a '"', a space or control byte in a
// text field, ...) makes stage 2 decline the row; it then goes to
// ParseRow, whose general path is exact. So, as with Parser.fast, stage 2
// needs only to be exact on what it accepts; FuzzRows holds RowIter both to
// LineIter.Next + ParseRow and to the reference parser.
//
// NOTE: replacing LineIter.Next's bytes.IndexByte for '\n' plus the per-field
// SWAR delimiter search (delim) removes the two largest items of the file
// run's CPU profile; see BenchmarkReadParse (walk=rows) and BenchmarkParseRow.

const structLimit = 0x2D

// scanStructural fills mask[k] for k <= len(data)/64: bit j of mask[k] is
// set iff data[64k+j] < 0x2D, and, as a sentinel, bit len(data) is set (so
// mask must have len(data)/64+1 words): a walk over the bits always stops,
// at len(data) if nothing comes first. Other bits past len(data) are zero.
func scanStructural(data []byte, mask []uint64) {
	nb := len(data) >> 6
	scanBlocks(data[:nb<<6], mask[:nb])
	var w uint64
	tail := data[nb<<6:]
	i := 0
	for ; i+8 <= len(tail); i += 8 {
		w |= lowBits8(binary.LittleEndian.Uint64(tail[i:])) << i
	}
	for ; i < len(tail); i++ {
		if tail[i] < structLimit {
			w |= 1 << i
		}
	}
	mask[nb] = w | 1<<len(tail)
}

// lowBits8 returns an 8-bit mask of the bytes of w (little endian) that
// are < 0x2D. The test is exact in every lane (no borrow crosses lanes):
// (b&0x7F) + 0x53 has its top bit set iff b&0x7F >= 0x2D, and bytes >= 0x80
// are excluded by the "| w".
func lowBits8(w uint64) uint64 {
	m := ^((w&0x7F7F7F7F7F7F7F7F + 0x5353535353535353) | w) & swarHi
	// Gather the eight lane bits (bit 7 of each byte) into one byte.
	return (m >> 7) * 0x0102040810204080 >> 56
}

// scanBlocksGeneric is stage 1 in portable Go, for each whole 64-byte block.
func scanBlocksGeneric(data []byte, mask []uint64) {
	for k := range mask {
		blk := data[k<<6 : k<<6+64]
		var w uint64
		for i := 0; i < 64; i += 8 {
			w |= lowBits8(binary.LittleEndian.Uint64(blk[i:])) << i
		}
		mask[k] = w
	}
}

// cursor walks the set bits of a stage-1 bitmap in order.
//
// NOTE: popping bits off the current word (m &= m-1) keeps the chain from
// one field end to the next at one instruction; searching afresh from each
// field's start (shift, count, add) measured slower.
type cursor struct {
	mask []uint64
	k    int    // current word
	m    uint64 // its bits not yet returned
}

// newCursor returns a cursor at the first bit >= i; i <= len(data).
func newCursor(mask []uint64, i int) cursor {
	k := i >> 6
	return cursor{mask: mask, k: k, m: mask[k] &^ (1<<(uint(i)&63) - 1)}
}

// next returns the index of the next byte < 0x2D, or len(data) (the
// sentinel) when there is none; it must not be called after that.
func (c *cursor) next() int {
	for c.m == 0 {
		c.k++
		c.m = c.mask[c.k]
	}
	j := c.k<<6 | bits.TrailingZeros64(c.m)
	c.m &= c.m - 1
	return j
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
		var x uint64
		for _, c := range data[a:b] {
			d := c - '0'
			if d > 9 {
				return 0, false
			}
			x = x*10 + uint64(d)
		}
		return x, true
	}
	return 0, false
}

// isDigits8 reports whether the top n (1-8) lanes of w are ASCII digits,
// like digits8 without the conversion.
func isDigits8(w uint64, n int) bool {
	keep := ^uint64(0) << (8 * uint(8-n))
	w = w&keep | 0x3030303030303030&^keep
	return w&0xF0F0F0F0F0F0F0F0|(w+0x0606060606060606)>>4&0x0F0F0F0F0F0F0F0F == 0x3333333333333333
}

// digitsOK reports whether data[a:b] is 1-19 ASCII digits: what digitsAt
// accepts. It needs a >= 24.
func digitsOK(data []byte, a, b int) bool {
	switch n := b - a; {
	case n >= 1 && n <= 8:
		return isDigits8(binary.LittleEndian.Uint64(data[b-8:]), n)
	case n > 8 && n <= 16:
		return isDigits8(binary.LittleEndian.Uint64(data[b-16:]), n-8) &&
			isDigits8(binary.LittleEndian.Uint64(data[b-8:]), 8)
	case n > 16 && n <= 19:
		return isDigits8(binary.LittleEndian.Uint64(data[b-24:]), n-16) &&
			isDigits8(binary.LittleEndian.Uint64(data[b-16:]), 8) &&
			isDigits8(binary.LittleEndian.Uint64(data[b-8:]), 8)
	}
	return false
}

// priceOK reports whether priceAt accepts data[a:b]. a >= 24.
func priceOK(data []byte, a, b int) bool {
	switch n := b - a; {
	case n >= 4 && data[b-3] == '.':
		if data[b-2]-'0' > 9 || data[b-1]-'0' > 9 {
			return false
		}
		b -= 3
	case n >= 3 && data[b-2] == '.':
		if data[b-1]-'0' > 9 {
			return false
		}
		b -= 2
	}
	return b-a <= 16 && digitsOK(data, a, b)
}

// priceAt parses the price data[a:b]: 1-16 digits (so no overflow check is
// needed), optionally '.' and one or two digits, into cents. a >= 16.
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
	if b-a > 16 {
		return 0, false
	}
	x, ok := digitsAt(data, a, b)
	return int64(x*100 + frac), ok
}

// fastAt is stage 2: it parses the row starting at data[s] with mask, the
// stage-1 bitmap of all of data, with two words of slack past its last
// one. The row ends at the first '\n' or at the end
// of data; a '\r' right before that end is dropped. fastAt returns the index
// of the end and whether it parsed the row; on false nothing is decided and
// the caller hands the line to ParseRow.
func (p *Parser) fastAt(data []byte, mask []uint64, s int, ev *Event, full bool) (int, bool) {
	n := len(data)
	// event_time: fixed width in the common shape; its two spaces are
	// candidates in the bitmap, so the walk starts after its comma.
	if n-s < 24 || data[s+23] != ',' || data[s+10] != ' ' {
		return 0, false
	}
	t, ok := p.tc.parse(data[s : s+23])
	if !ok {
		return 0, false
	}
	// c[k] ends field k+1: c[0:7] must be commas, c[7] is the line end.
	// They are the first eight set bits of the 128 bits of the bitmap that
	// follow the time's comma (w0, w1); a row too long for that takes the
	// cursor walk.
	var c [8]int
	i := s + 24
	k, r := i>>6, uint(i)&63
	w0, w1 := mask[k]>>r|mask[k+1]<<(64-r), mask[k+1]>>r|mask[k+2]<<(64-r)
	// NOTE: the first eight bits of each word are extracted
	// unconditionally, the second word's after the first word's count
	// (simdjson's flattening): each step depends on the one before only
	// through w &= w-1, so the steps overlap. Popping one bit at a time
	// from whichever word holds it was a chain of five dependent
	// instructions a bit.
	var pos [16]int
	p0 := min(bits.OnesCount64(w0), 8)
	for q := range 8 {
		pos[q] = bits.TrailingZeros64(w0) // 64 when w0 runs out
		w0 &= w0 - 1
	}
	for q := range 8 {
		pos[(p0+q)&15] = 64 + bits.TrailingZeros64(w1) // 128 when w1 runs out
		w1 &= w1 - 1
	}
	for q := range c {
		c[q] = i + pos[q]
	}
	if c[7] >= i+128 {
		cur := newCursor(mask, i)
		for q := range c[:7] {
			// NOTE: stop at the first non-comma: past the sentinel the
			// cursor would run off the bitmap.
			if c[q] = cur.next(); c[q] >= n || data[c[q]] != ',' {
				return 0, false
			}
		}
		c[7] = cur.next()
	}
	for _, j := range c[:7] {
		if j >= n || data[j] != ',' {
			return 0, false
		}
	}
	// The line end: '\n', end of data (the sentinel), or '\r' before
	// either.
	end := c[7]
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
	var typ EventType
	switch tl := c[0] - (s + 24); {
	case tl == 4 && binary.LittleEndian.Uint32(data[s+24:]) == viewWord:
		typ = EventView
	case tl == 4 && binary.LittleEndian.Uint32(data[s+24:]) == cartWord:
		typ = EventCart
	case tl == 0:
		return 0, false
	default:
		typ = eventType(data[s+24 : c[0]])
	}
	store := full || typ != EventView
	var product uint64
	var price int64
	var ok1, ok2 bool
	if store {
		product, ok1 = digitsAt(data, c[0]+1, c[1])
		price, ok2 = priceAt(data, c[4]+1, c[5])
	} else {
		// A view stores neither: checking the bytes is enough, and
		// cheaper than converting them.
		ok1 = digitsOK(data, c[0]+1, c[1])
		ok2 = priceOK(data, c[4]+1, c[5])
	}
	user, ok3 := digitsAt(data, c[5]+1, c[6])
	if !(ok1 && ok2 && ok3) {
		return 0, false
	}
	ev.Time, ev.Type, ev.UserID = t, typ, user
	if !store {
		// category_id is never rejected and a view does not store it.
		return end, true
	}
	// A category_id that is not a number is allowed, but rare enough to
	// leave to parseGeneral (which also takes 20-digit ones).
	category, ok := digitsAt(data, c[1]+1, c[2])
	if !ok {
		return 0, false
	}
	ev.ProductID, ev.CategoryID, ev.PriceCents = product, category, price
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
// exactly what LineIter.Next followed by p.ParseRow yields (FuzzRows).
type RowIter struct {
	p      *Parser
	data   []byte
	mask   []uint64
	lim    int // stage 1 has run over data[:lim]
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
// time.
func (p *Parser) Rows(data []byte) RowIter {
	// Two words of slack: fastAt reads two words past the one it starts in.
	nw := len(data)>>6 + 3
	if cap(p.mask) < nw {
		p.mask = make([]uint64, nw)
	}
	return RowIter{p: p, data: data, mask: p.mask[:nw]}
}

// scan runs stage 1 over the next window. lim stays a multiple of 64 until
// it reaches len(data), so each window starts on a whole bitmap word (the
// one holding the previous window's sentinel).
func (it *RowIter) scan() {
	hi := min(it.lim+rowWindow, len(it.data))
	scanStructural(it.data[it.lim:hi], it.mask[it.lim>>6:hi>>6+1])
	it.lim = hi
}

// Next parses the next non-blank line into ev and returns its Reason; ok is
// false at the end of the data. A blank line (empty, or a lone '\r') is
// counted but not yielded.
func (it *RowIter) Next(ev *Event, full bool) (r Reason, ok bool) {
	for it.pos < len(it.data) {
		s := it.pos
		if it.lim-s < rowAhead && it.lim < len(it.data) {
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

// Line returns the current line without its '\n' (a '\r' before it is kept).
// It aliases the data.
func (it *RowIter) Line() []byte { return it.data[it.lo:it.hi] }

// Index returns the 0-based index of the current line among all lines of the
// data, blank lines included.
func (it *RowIter) Index() int { return it.n - 1 }

// Count returns the number of lines consumed so far, blank lines included:
// after Next has returned false, the data's line count.
func (it *RowIter) Count() int { return it.n }
