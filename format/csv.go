package format

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strconv"

	"github.com/cartwatch/cartwatch/event"
	"github.com/valyala/fastjson"
)

// The row parser: one 2019-Nov CSV line in, one Event (or a Reason why the
// line is malformed) out, with no allocation.
//
// Columns, in order (the header of the 2019-Nov file):
//
//	event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session
//
// Every row is validated in full against rule 8 of docs/semantics.md, plus one
// extension: product_id must be a non-negative integer that fits in 64 bits,
// because alerts print products as JSON numbers. The exact checks:
//
//   - exactly 9 fields after RFC 4180 unquoting;
//   - event_time in one of the shapes ParseTime accepts;
//   - event_type non-empty; "view", "cart", "purchase" (exact, lower case)
//     map to their EventType, anything else is EventOther;
//   - product_id and user_id: one or more ASCII digits, value < 2^64 (leading
//     zeros allowed; no sign, no spaces);
//   - price: one or more digits, optionally '.' and one or two digits
//     (ReasonPrice: "" (empty), ".5", "5.", "+5", "-5.00", "1.234" and "1e3"
//     are malformed: a price must be written out in full), and at most
//     MaxPriceCents (ReasonPriceRange);
//   - category_id is not used by the detector and never rejects a row: it is
//     stored when it is a valid uint64, else 0;
//   - category_code, brand and user_session are free text (user_session is
//     stored up to SessionMax bytes; longer ones are truncated and counted in
//     Parser.Truncated; of category_code, the part before its first '.' is
//     stored up to event.CategoryMax bytes, event.Event.SetCategory).
//
//   - with Parser.MaxTime set, event_time no later than it (ReasonFuture).
//
// A row with a '"' byte anywhere takes a separate, exact RFC 4180 path
// (quoted fields, "" inside them, commas inside them); a row without one is
// split on commas by a single scan. One input line is one row: a quoted field
// cannot span lines, so an opening quote without its closing quote on the
// same line is malformed (ReasonQuote), and the next line is a row of its own.
//
// With a Header that is not in the 2019-Nov order (header.go), a row is split
// into all its fields, must have as many as the header, and the nine columns
// are taken from their places; the checks are the same.

// Reason says why a row is malformed. ReasonOK (0) means it is not. For
// ReasonFieldCount the number of fields found is carried in the upper bits,
// as is the column for the JSON reasons (json.go); compare r.Kind() with the
// Reason constants to group reasons.
type Reason uint32

const (
	ReasonOK          Reason = iota
	ReasonFieldCount         // not exactly 9 fields
	ReasonQuote              // broken RFC 4180 quoting
	ReasonTime               // event_time does not parse
	ReasonEventType          // event_type empty
	ReasonProductID          // product_id not a uint64 (extension of rule 8)
	ReasonPrice              // price not a non-negative decimal with <= 2 decimals
	ReasonUserID             // user_id not a uint64
	ReasonLineTooLong        // line longer than the line limit (default 1 MiB)
	ReasonFuture             // event_time later than Parser.MaxTime
	ReasonPriceRange         // price above MaxPriceCents

	// Reasons of JSON messages only (json.go); all but ReasonJSON carry
	// the column they name.
	ReasonJSON           // not one JSON object
	ReasonMissingField   // a required field missing
	ReasonFieldType      // a field that is not a string, a number or null
	ReasonDuplicateField // a field given twice

	NumReasons // number of reason kinds, for arrays of counters
)

// MaxPriceCents is the highest price a row may have, in cents: 10^10 base
// units (10,000,000,000.00). A higher one is malformed (ReasonPriceRange).
// It keeps every price far from the int64 range, so that the engine's sums
// of prices are exact up to 9.2 million prices at the limit, and pinned at
// the int64 maximum beyond (docs/semantics.md, rule 7).
const MaxPriceCents = 1_000_000_000_000

// NumFields is the number of columns of the 2019-Nov schema.
const NumFields = 9

// DefaultMaxLine is the longest line, in bytes without its '\n', that is
// parsed; a longer one is one malformed row (ReasonLineTooLong).
const DefaultMaxLine = 1 << 20

// A ReasonFieldCount carries the number of fields seen in bits 8-19 and the
// number expected in bits 20-31 (0 for NumFields, so that without a header
// the value is what it always was).
const (
	reasonKindBits  = 8
	reasonCountBits = 12
	maxFieldsShown  = 1<<reasonCountBits - 1 // also the most columns a Header may have
)

// fieldCount returns a ReasonFieldCount carrying n, the number of fields
// seen, for a row that should have NumFields.
func fieldCount(n int) Reason { return fieldCountWant(n, NumFields) }

// fieldCountWant returns a ReasonFieldCount carrying n, the number of fields
// seen, and want (at most maxFieldsShown), the number expected.
func fieldCountWant(n, want int) Reason {
	if want == NumFields {
		want = 0
	}
	return ReasonFieldCount | Reason(min(n, maxFieldsShown))<<reasonKindBits |
		Reason(want)<<(reasonKindBits+reasonCountBits)
}

// Kind returns r without its detail bits: one of the Reason constants.
func (r Reason) Kind() Reason { return r & (1<<reasonKindBits - 1) }

// Fields returns the number of fields a ReasonFieldCount row had (capped at
// 4,095), or 0 for other reasons.
func (r Reason) Fields() int {
	if r.Kind() != ReasonFieldCount {
		return 0
	}
	return int(r>>reasonKindBits) & maxFieldsShown
}

// FieldsWanted returns the number of fields a ReasonFieldCount row should
// have had: NumFields, or the number of columns of the input's Header; 0
// for other reasons.
func (r Reason) FieldsWanted() int {
	if r.Kind() != ReasonFieldCount {
		return 0
	}
	if w := int(r >> (reasonKindBits + reasonCountBits)); w != 0 {
		return w
	}
	return NumFields
}

// String returns a short human text, e.g. "9 fields expected, got 7".
func (r Reason) String() string {
	switch r.Kind() {
	case ReasonOK:
		return "ok"
	case ReasonFieldCount:
		got := strconv.Itoa(r.Fields())
		if r.Fields() == maxFieldsShown {
			got += " or more"
		}
		return strconv.Itoa(r.FieldsWanted()) + " fields expected, got " + got
	case ReasonQuote:
		return "bad CSV quoting"
	case ReasonTime:
		return "event_time is not a time (want 2019-11-01 00:00:00 UTC or RFC 3339)"
	case ReasonEventType:
		return "empty event_type"
	case ReasonProductID:
		return "product_id is not a non-negative 64-bit integer"
	case ReasonPrice:
		return "price is not a non-negative decimal with at most 2 decimals"
	case ReasonUserID:
		return "user_id is not a non-negative 64-bit integer"
	case ReasonLineTooLong:
		return "line longer than 1 MiB"
	case ReasonFuture:
		return "event_time is in the future (later than now + --max-future)"
	case ReasonPriceRange:
		return "price above 10,000,000,000"
	case ReasonJSON, ReasonMissingField, ReasonFieldType, ReasonDuplicateField:
		return r.jsonString()
	}
	return "unknown reason " + strconv.Itoa(int(r))
}

// Parser parses rows. The zero value is ready to use. A Parser is not safe
// for concurrent use: give each parsing goroutine its own (it caches the date
// of the last row, which is why it exists at all).
type Parser struct {
	// MaxLine is the line limit in bytes (without '\n', with a trailing
	// '\r'); 0 means DefaultMaxLine. Keep it equal to ReaderOptions.MaxLine.
	MaxLine int

	// Truncated counts stored user_sessions longer than SessionMax bytes.
	Truncated uint64

	// ViewUser makes a view parsed with full false store its UserID too
	// (what --extend-on-activity needs); without it such a view stores
	// only Time and Type, its user_id checked but not converted.
	ViewUser bool

	// MaxTime, in Unix seconds, is the latest event_time a row may have; a
	// later one is malformed (ReasonFuture). 0 means no limit.
	MaxTime int64

	// Header is the input's header (ParseHeader), or nil for an input
	// without one. nil or a canonical header (the 2019-Nov order) reads
	// rows by position on the fast paths; any other maps the columns by
	// name on the general path (parseMapped). Set it before Rows.
	Header *Header

	tc      timeCache
	scratch []byte   // unquoted copy of a quoted row; grows, never shrinks
	ends    []int    // where each field of the last splitFields call ends in scratch
	mask    []uint64 // stage-1 bitmap of the data of the last Rows call

	js  fastjson.Parser // ParseJSON's, reused: its buffers only grow
	num []byte          // the text of the last JSON message's numbers
}

// mapped reports whether rows must be read through p.Header's column map.
func (p *Parser) mapped() bool {
	return p.Header != nil && !p.Header.canonical
}

// ParseRow parses line (without its '\n'; one trailing '\r' is dropped) into
// ev, with a fresh Parser: no date cache. Prefer Parser.ParseRow in loops.
func ParseRow(line []byte, ev *event.Event, full bool) Reason {
	var p Parser
	return p.ParseRow(line, ev, full)
}

// ParseRow validates line (without its '\n'; one trailing '\r' is dropped)
// and fills ev. It returns ReasonOK or why the row is malformed; on a
// malformed row ev is partly written and must not be used.
//
// When full is false and the row is a view, only Time and Type are stored,
// and UserID if p.ViewUser (the row is still validated in full); the other
// fields of ev keep whatever they held. Otherwise every field is stored. line is not retained.
func (p *Parser) ParseRow(line []byte, ev *event.Event, full bool) Reason {
	if len(line) > p.maxLine() {
		return ReasonLineTooLong
	}
	if p.mapped() {
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		return p.parseMapped(line, ev, full)
	}
	// NOTE: fast drops the trailing '\r' itself. The end check keeps a
	// stray '\n' inside line (the contract excludes it) from ending the row
	// early; parseGeneral treats it as data.
	//
	// ParseRow keeps the one-pass fast rather than the two-stage scan of
	// structural.go: on one line at a time the bitmap pass costs more than
	// it saves (+7 % CPU per row in BenchmarkParseRow, +14 % with full).
	if end, ok := p.fast(line, ev, full); ok && end == len(line) {
		return ReasonOK
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return p.parseGeneral(line, ev, full)
}

// parseGeneral is the reference-shaped path: split the line into its fields
// (unquoting if it holds a '"'), then validate each. ParseRow takes it only
// when the fast path declines a row, so that malformed rows get their exact
// Reason and unusual but valid rows still parse.
func (p *Parser) parseGeneral(line []byte, ev *event.Event, full bool) Reason {
	if bytes.IndexByte(line, '"') >= 0 {
		return p.parseQuoted(line, ev, full)
	}
	var f [NumFields][]byte
	rest := line
	for i := 0; i < NumFields-1; i++ {
		j := bytes.IndexByte(rest, ',')
		if j < 0 {
			return fieldCount(i + 1)
		}
		f[i] = rest[:j]
		rest = rest[j+1:]
	}
	if bytes.IndexByte(rest, ',') >= 0 {
		return fieldCount(NumFields + bytes.Count(rest, []byte{','}))
	}
	f[NumFields-1] = rest
	return p.fill(&f, ev, full)
}

// parseMapped is the path for an input whose Header is not in the 2019-Nov
// order: the row must have exactly as many fields as the header, and the
// nine columns are picked by the header's map (a missing optional column
// reads as empty). Exact, allocation-free once p.ends has grown, not fast.
func (p *Parser) parseMapped(line []byte, ev *event.Event, full bool) Reason {
	h := p.Header
	n, r := p.splitFields(line, h.n)
	if r != ReasonOK {
		return r
	}
	if n != h.n {
		return fieldCountWant(n, h.n)
	}
	var f [NumFields][]byte
	for c, i := range h.col {
		if i >= 0 {
			f[c] = p.field(i)
		}
	}
	return p.fill(&f, ev, full)
}

// fill validates the nine unquoted fields and stores them in ev.
func (p *Parser) fill(f *[NumFields][]byte, ev *event.Event, full bool) Reason {
	t, ok := p.tc.parse(f[0], p.MaxTime)
	if !ok {
		if _, ok := ParseTime(f[0]); ok {
			return ReasonFuture
		}
		return ReasonTime
	}
	typ := eventType(f[1])
	if len(f[1]) == 0 {
		return ReasonEventType
	}
	product, ok := parseUint64(f[2])
	if !ok {
		return ReasonProductID
	}
	price, r := parsePrice(f[6])
	if r != ReasonOK {
		return r
	}
	user, ok := parseUint64(f[7])
	if !ok {
		return ReasonUserID
	}
	ev.Time, ev.Type = t, typ
	if !full && typ == event.EventView {
		if p.ViewUser {
			ev.UserID = user
		}
		return ReasonOK
	}
	ev.UserID = user
	ev.ProductID = product
	ev.PriceCents = price
	ev.CategoryID, _ = parseUint64(f[3])
	ev.SetCategory(f[4])
	if !ev.SetSession(f[8]) {
		p.Truncated++
	}
	return ReasonOK
}

// eventType maps an event_type to its EventType; an unknown one is EventOther.
func eventType(b []byte) event.EventType {
	switch string(b) {
	case "view":
		return event.EventView
	case "cart":
		return event.EventCart
	case "purchase":
		return event.EventPurchase
	}
	return event.EventOther
}

// parseUint64 parses one or more ASCII digits into a uint64, rejecting
// anything else and values >= 2^64. It avoids strconv, whose generality
// (bases, underscores, error values) costs more than the field itself.
func parseUint64(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	if len(b) < 20 {
		// NOTE: 19 digits cannot overflow: 10^19-1 < 2^64.
		var x uint64
		for _, c := range b {
			d := c - '0'
			if d > 9 {
				return 0, false
			}
			x = x*10 + uint64(d)
		}
		return x, true
	}
	var x uint64
	for _, c := range b {
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		if x > (1<<64-1)/10 || (x == (1<<64-1)/10 && d > (1<<64-1)%10) {
			return 0, false
		}
		x = x*10 + uint64(d)
	}
	return x, true
}

// parsePrice parses a price (digits, optionally '.' and one or two digits)
// into integer cents; no float is ever involved. A price of that shape above
// MaxPriceCents is ReasonPriceRange, any other shape ReasonPrice.
func parsePrice(b []byte) (int64, Reason) {
	i := 0
	var x uint64
	for ; i < len(b); i++ {
		d := b[i] - '0'
		if d > 9 {
			break
		}
		// NOTE: x stops growing past MaxPriceCents (it is then out of
		// range whatever follows), so it cannot wrap; the digits are
		// still read, for the shape.
		if x <= MaxPriceCents {
			x = x*10 + uint64(d)
		}
	}
	if i == 0 {
		return 0, ReasonPrice
	}
	var frac uint64
	switch len(b) - i {
	case 0:
	case 2:
		d := b[i+1] - '0'
		if b[i] != '.' || d > 9 {
			return 0, ReasonPrice
		}
		frac = uint64(d) * 10
	case 3:
		d1, d2 := b[i+1]-'0', b[i+2]-'0'
		if b[i] != '.' || d1 > 9 || d2 > 9 {
			return 0, ReasonPrice
		}
		frac = uint64(d1)*10 + uint64(d2)
	default:
		return 0, ReasonPrice
	}
	if x > MaxPriceCents/100 || x*100+frac > MaxPriceCents {
		return 0, ReasonPriceRange
	}
	return int64(x*100 + frac), ReasonOK
}

// parseQuoted is the exact RFC 4180 path for a row holding a '"': it splits
// the row with splitFields, then validates the fields like the fast path.
func (p *Parser) parseQuoted(line []byte, ev *event.Event, full bool) Reason {
	n, r := p.splitFields(line, NumFields)
	if r != ReasonOK {
		return r
	}
	if n != NumFields {
		return fieldCount(n)
	}
	var f [NumFields][]byte
	buf, start := p.scratch, 0
	for i, end := range p.ends[:NumFields] {
		f[i] = buf[start:end:end]
		start = end
	}
	return p.fill(&f, ev, full)
}

// splitFields splits line (no '\n'; a trailing '\r' already dropped) into
// its fields, unquoted one after another into p.scratch, and returns how
// many there are, or ReasonQuote. The first keep of them can then be had
// from p.field. Its rules are those of encoding/csv with LazyQuotes off: a
// field is quoted only if its first byte is '"'; inside it "" is one '"' and
// ',' is data; the closing '"' must be followed by ',' or the end of the
// line; a '"' in an unquoted field is malformed. A line is one record: an
// opening '"' whose closing '"' is not on the line is malformed.
//
// NOTE: it records where each field ends in p.scratch rather than the
// field itself: storing slices (pointers) in the Parser costs a write
// barrier check each, measured +7 % instructions on the quoted path.
func (p *Parser) splitFields(line []byte, keep int) (int, Reason) {
	if cap(p.scratch) < len(line) {
		p.scratch = make([]byte, 0, max(len(line), 256))
	}
	if cap(p.ends) < keep {
		p.ends = make([]int, keep)
	}
	buf := p.scratch[:0] // never grows: the fields are no longer than line
	ends := p.ends[:keep]
	n := 0 // fields seen
	i := 0
	for {
		if i < len(line) && line[i] == '"' {
			i++
			for {
				j := bytes.IndexByte(line[i:], '"')
				if j < 0 {
					return n, ReasonQuote // unterminated
				}
				buf = append(buf, line[i:i+j]...)
				i += j + 1
				if i < len(line) && line[i] == '"' {
					buf = append(buf, '"')
					i++
					continue
				}
				break
			}
			if i < len(line) && line[i] != ',' {
				return n, ReasonQuote // text after the closing quote
			}
		} else {
			j := bytes.IndexByte(line[i:], ',')
			if j < 0 {
				j = len(line) - i
			}
			field := line[i : i+j]
			if bytes.IndexByte(field, '"') >= 0 {
				return n, ReasonQuote // bare quote
			}
			buf = append(buf, field...)
			i += j
		}
		if n < keep {
			ends[n] = len(buf)
		}
		n++
		if i >= len(line) {
			break
		}
		i++ // the comma
	}
	p.scratch = buf
	return n, ReasonOK
}

// SplitFields splits line (no '\n'; a trailing '\r' already dropped) into
// its fields by the rules the parser reads rows with (splitFields: RFC 4180
// as encoding/csv without LazyQuotes, one line one record), keeping the
// first keep of them for Field, and returns how many fields the line has,
// or ReasonQuote. For callers that need a row's text the parser does not
// store in an Event (kafka.Splitter).
func (p *Parser) SplitFields(line []byte, keep int) (int, Reason) { return p.splitFields(line, keep) }

// Field returns field i (below SplitFields' keep and count) of the row
// SplitFields last split, unquoted. It aliases the Parser's buffer, valid
// until its next use.
func (p *Parser) Field(i int) []byte { return p.field(i) }

// field returns field i (below the keep and the count of the last
// splitFields) of the row splitFields last split. It aliases p.scratch.
func (p *Parser) field(i int) []byte {
	start := 0
	if i > 0 {
		start = p.ends[i-1]
	}
	return p.scratch[start:p.ends[i]:p.ends[i]]
}

// fast is the one-pass parser of ParseRow and LineIter.ParseNext (the
// engine's RowIter uses the two-stage scan of structural.go instead). It
// parses the common row in one left-to-right scan, with no quotes, the
// file's own time shape and ids of at most 19 digits. buf starts with the row
// and may continue past it: the row ends at the first '\n' or at the end of
// buf, and a '\r' before that end is dropped. fast returns the index of that
// end (of the '\n', or len(buf)) and whether it parsed the row. On false
// nothing is decided: the caller hands the line to parseGeneral, which either
// accepts it too (an RFC 3339 time, a 20-digit id, a quoted field) or names
// what is wrong. So fast needs only to be exact on what it accepts; the fuzz
// test holds both paths to the reference parser.
//
// NOTE: compared with splitting on bytes.IndexByte (nine calls a row, each
// with its setup cost on ~15-byte fields) the scan lets the numeric parsers
// find their own terminating comma, and tests text fields for ',', '"' and
// '\n' eight bytes at a time (delim), so that LineIter.ParseNext needs no
// separate search for the end of the line. See BenchmarkParseRow
// (path=split) and BenchmarkReadParse (walk=next).
func (p *Parser) fast(buf []byte, ev *event.Event, full bool) (int, bool) {
	// event_time: fixed width in the common shape.
	if len(buf) < 24 || buf[23] != ',' || buf[10] != ' ' {
		return 0, false
	}
	t, ok := p.tc.parse(buf[:23], p.MaxTime)
	if !ok {
		return 0, false
	}
	// event_type: the three known spellings by fixed compares, in order of
	// frequency (94 % of rows are views).
	i := 24
	var typ event.EventType
	switch {
	case hasPrefixAt(buf, i, "view,"):
		typ, i = event.EventView, i+5
	case hasPrefixAt(buf, i, "cart,"):
		typ, i = event.EventCart, i+5
	case hasPrefixAt(buf, i, "purchase,"):
		typ, i = event.EventPurchase, i+9
	default:
		j := delim(buf, i)
		if j == i || j == len(buf) || buf[j] != ',' {
			return 0, false
		}
		typ = eventType(buf[i:j])
		i = j + 1
	}
	product, i, ok := uintField(buf, i)
	if !ok {
		return 0, false
	}
	store := full || typ != event.EventView
	var category uint64
	if store {
		// A category_id that is not a number is allowed, but rare enough
		// to leave to parseGeneral (which also takes 20-digit ones).
		if category, i, ok = uintField(buf, i); !ok {
			return 0, false
		}
	} else if i, ok = textField(buf, i); !ok {
		return 0, false
	}
	// category_code, brand.
	code := i
	if i, ok = textField(buf, i); !ok {
		return 0, false
	}
	codeEnd := i - 1
	if i, ok = textField(buf, i); !ok {
		return 0, false
	}
	price, i, ok := priceField(buf, i)
	if !ok {
		return 0, false
	}
	user, i, ok := uintField(buf, i)
	if !ok {
		return 0, false
	}
	// user_session: the rest of the line, with no ',' and no '"'.
	end := delim(buf, i)
	if end < len(buf) && buf[end] != '\n' {
		return 0, false
	}
	if end > p.maxLine() {
		return 0, false // ParseRow says ReasonLineTooLong
	}
	ev.Time, ev.Type = t, typ
	if !store {
		if p.ViewUser {
			ev.UserID = user
		}
		return end, true
	}
	ev.UserID = user
	ev.ProductID, ev.CategoryID, ev.PriceCents = product, category, price
	ev.SetCategory(buf[code:codeEnd])
	session := buf[i:end]
	if n := len(session); n > 0 && session[n-1] == '\r' {
		session = session[:n-1]
	}
	if !ev.SetSession(session) {
		p.Truncated++
	}
	return end, true
}

// maxLine returns the line limit in force.
func (p *Parser) maxLine() int {
	if p.MaxLine == 0 {
		return DefaultMaxLine
	}
	return p.MaxLine
}

// textField skips the text field at buf[i:] and returns the index after its
// ','; false if a '"' or '\n' or the end of buf comes first.
func textField(buf []byte, i int) (int, bool) {
	j := delim(buf, i)
	return j + 1, j < len(buf) && buf[j] == ','
}

// hasPrefixAt reports whether line[i:] starts with s.
func hasPrefixAt(line []byte, i int, s string) bool {
	return len(line)-i >= len(s) && string(line[i:i+len(s)]) == s
}

// uintField parses 1-19 digits at line[i:] followed by ',' and returns the
// value and the index after the comma. 20 digits are left to parseUint64.
//
// NOTE: a plain byte loop. Taking eight digits at a time with SWAR
// arithmetic (uintFieldSWAR in the tests) measured 40 % slower on the id
// columns' widths (7, 19 and 9 digits): the loop's multiply-add chain is
// shorter than the SWAR combine steps. See BenchmarkUintField.
func uintField(line []byte, i int) (uint64, int, bool) {
	start := i
	var x uint64
	for ; i < len(line); i++ {
		d := line[i] - '0'
		if d > 9 {
			break
		}
		x = x*10 + uint64(d)
	}
	if n := i - start; n == 0 || n > 19 || i == len(line) || line[i] != ',' {
		return 0, start, false
	}
	return x, i + 1, true
}

// priceField parses a price at line[i:] followed by ',': 1-10 digits,
// optionally '.' and 1-2 digits, so at most 9999999999.99, below
// MaxPriceCents with no compare; an 11-digit price (10000000000.00 is
// allowed) is left to parsePrice.
func priceField(line []byte, i int) (int64, int, bool) {
	start := i
	var x int64
	for ; i < len(line); i++ {
		d := line[i] - '0'
		if d > 9 {
			break
		}
		x = x*10 + int64(d)
	}
	if n := i - start; n == 0 || n > 10 || i == len(line) {
		return 0, 0, false
	}
	x *= 100
	if line[i] == '.' {
		switch {
		case i+2 < len(line) && line[i+1]-'0' < 10 && line[i+2] == ',':
			return x + int64(line[i+1]-'0')*10, i + 3, true
		case i+3 < len(line) && line[i+1]-'0' < 10 && line[i+2]-'0' < 10 && line[i+3] == ',':
			return x + int64(line[i+1]-'0')*10 + int64(line[i+2]-'0'), i + 4, true
		}
		return 0, 0, false
	}
	return x, i + 1, line[i] == ','
}

const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

// delim returns the index of the first ',', '"' or '\n' in buf[i:], or
// len(buf) if there is none.
//
// NOTE: all three bytes are below '-' (0x2D), and in this data almost no
// other byte is: digits, letters, '.', '_' and the UUIDs' '-' are not (the
// real sample's only others are the spaces of event_time, which is not
// scanned here, and the '\r' of CRLF, one extra check a line). So one
// SWAR "byte < 0x2D" test per eight bytes (3 operations, against 11 for
// testing the three bytes separately) finds candidates, and each candidate
// is checked exactly. The test is exact in its lowest flagged lane; a borrow
// can only flag lanes above a flagged one (and only bytes <= 0x2D), which
// the check then skips.
func delim(buf []byte, i int) int {
	for ; i+8 <= len(buf); i += 8 {
		w := binary.LittleEndian.Uint64(buf[i:])
		for m := (w - swarLo*0x2D) &^ w & swarHi; m != 0; m &= m - 1 {
			j := i + bits.TrailingZeros64(m)>>3
			if c := buf[j]; c == ',' || c == '"' || c == '\n' {
				return j
			}
		}
	}
	for ; i < len(buf); i++ {
		if c := buf[i]; c == ',' || c == '"' || c == '\n' {
			return i
		}
	}
	return i
}
