package format

import (
	"github.com/cartwatch/cartwatch/event"
	"github.com/valyala/fastjson"
)

// The message decoder: one Kafka message value in, one Event (or a Reason
// why the message is malformed) out, with no allocation once the parser's
// buffers have grown.
//
// A value whose first byte other than JSON whitespace (space, tab, CR, LF)
// is '{' is one JSON object; any other value is one CSV line (ParseRow; one
// trailing '\n' is dropped). The JSON object holds the nine fields of a row:
//
//   - Keys are the CSV header's names (event_time, user_id, ...) or their
//     camelCase (eventTime, userId, ...), compared ignoring ASCII case, so
//     "UserID" is user_id too. Other keys are ignored. A field given twice,
//     in either spelling, is malformed (ReasonDuplicateField).
//   - event_time, event_type, product_id, price and user_id are required
//     (ReasonMissingField); category_id, category_code, brand and
//     user_session may be missing: they read as empty, as a missing optional
//     column of a header does (the same table: required in header.go).
//   - A value is a string or a number, and is read exactly as the same text
//     in a CSV field, by the same code (Parser.fill): a string's text after
//     JSON unescaping, a number's text as written. So "12.30", 12.30, 12.3
//     and 12 are prices (1230, 1230, 1230 and 1200 cents), 1e3, -5 and
//     12.345 are not (ReasonPrice); 18446744073709551615 is a user_id exact
//     to the unit, 18446744073709551616, 1.0 and -1 are not (ReasonUserID).
//     No number ever goes through float64. null reads as an empty field
//     (an empty event_type or price is malformed, an empty brand is not).
//     An object, an array, true or false is ReasonFieldType.
//   - Anything that is not one JSON object (broken JSON, text after the
//     object, a number that breaks JSON's grammar such as 007 or NaN) is
//     ReasonJSON. The JSON is read by fastjson, which checks the structure
//     and the numbers but not every detail of strings: a control character
//     or an unknown escape inside a string is kept as written. A flat
//     object of plain values is read by a scanner instead (jsonflat.go),
//     which agrees with fastjson's path wherever it answers.
//   - A value longer than the line limit (Parser.MaxLine, 1 MiB) is
//     ReasonLineTooLong, whether JSON or CSV.

// The message reasons (ReasonJSON, ReasonMissingField, ReasonFieldType,
// ReasonDuplicateField: csv.go lists every kind) carry the column they name
// (its index in the 2019-Nov order) in bits 8-15, and ReasonFieldType the
// JSON type found (fastjson.Type) in bits 16-23.

// camelColumns are Columns (header.go) in camelCase, the other spelling of
// a JSON key. A JSON object must have the columns a header must (required).
var camelColumns = [NumFields]string{"eventTime", "eventType", "productId", "categoryId",
	"categoryCode", "brand", "price", "userId", "userSession"}

// fieldReason returns reason kind k carrying column c and JSON type t.
func fieldReason(k Reason, c int, t fastjson.Type) Reason {
	return k | Reason(c)<<reasonKindBits | Reason(t)<<(reasonKindBits+8)
}

// column returns the column a message reason names, as its key.
func (r Reason) column() string {
	c := int(r>>reasonKindBits) & 0xff
	if c >= NumFields {
		return "?"
	}
	return Columns[c]
}

// jsonString returns the text of a message reason, or "" for other kinds.
func (r Reason) jsonString() string {
	switch r.Kind() {
	case ReasonJSON:
		return "not a JSON object"
	case ReasonMissingField:
		return "missing field " + r.column()
	case ReasonFieldType:
		t := fastjson.Type(r >> (reasonKindBits + 8) & 0xff)
		return r.column() + " is " + jsonTypeName(t) + ", want a string or a number"
	case ReasonDuplicateField:
		return "field " + r.column() + " given twice"
	}
	return ""
}

func jsonTypeName(t fastjson.Type) string {
	switch t {
	case fastjson.TypeObject:
		return "an object"
	case fastjson.TypeArray:
		return "an array"
	case fastjson.TypeTrue:
		return "true"
	case fastjson.TypeFalse:
		return "false"
	}
	return "of JSON type " + t.String()
}

// ParseMessage decodes one message value into ev: a JSON object if its
// first byte other than JSON whitespace is '{' (ParseJSON), else one CSV
// line (ParseRow, after dropping one trailing '\n'). full is as for
// ParseRow. msg is not retained.
func (p *Parser) ParseMessage(msg []byte, ev *event.Event, full bool) Reason {
	for _, c := range msg {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return p.ParseJSON(msg, ev, full)
		}
		break
	}
	if n := len(msg); n > 0 && msg[n-1] == '\n' {
		msg = msg[:n-1]
	}
	return p.ParseRow(msg, ev, full)
}

// ParseJSON decodes msg, one JSON object (see the top of this file), into
// ev and checks it against rule 8 exactly as ParseRow checks a CSV row. It
// returns ReasonOK or why the message is malformed; on a malformed message
// ev is partly written and must not be used. full is as for ParseRow. msg
// is not retained.
func (p *Parser) ParseJSON(msg []byte, ev *event.Event, full bool) Reason {
	if len(msg) > p.maxLine() {
		return ReasonLineTooLong
	}
	var f [NumFields][]byte
	seen, ok := scanFlat(msg, &f)
	if !ok {
		return p.parseJSONTree(msg, ev, full)
	}
	return p.fillJSON(&f, seen, ev, full)
}

// fillJSON checks that the fields seen hold the required ones and fills ev
// from f: the last step of both paths.
func (p *Parser) fillJSON(f *[NumFields][]byte, seen uint16, ev *event.Event, full bool) Reason {
	for c := range required {
		if required[c] && seen&(1<<c) == 0 {
			return fieldReason(ReasonMissingField, c, 0)
		}
	}
	return p.fill(f, ev, full)
}

// parseJSONTree is ParseJSON by fastjson's tree: the path of every message
// the fast path (scanFlat, jsonflat.go) does not take, and the judge of
// what JSON is.
func (p *Parser) parseJSONTree(msg []byte, ev *event.Event, full bool) Reason {
	v, err := p.js.ParseBytes(msg)
	if err != nil {
		return ReasonJSON
	}
	o, err := v.Object()
	if err != nil {
		return ReasonJSON
	}
	var f [NumFields][]byte
	var seen uint16
	r := ReasonOK
	// NOTE: the numbers' text is copied into p.num; a slice taken before
	// p.num grows still reads the right bytes from the old array.
	p.num = p.num[:0]
	o.Visit(func(key []byte, v *fastjson.Value) {
		if r != ReasonOK {
			return
		}
		c := jsonField(key)
		if c < 0 {
			return
		}
		if seen&(1<<c) != 0 {
			r = fieldReason(ReasonDuplicateField, c, 0)
			return
		}
		seen |= 1 << c
		switch t := v.Type(); t {
		case fastjson.TypeString:
			f[c], _ = v.StringBytes()
		case fastjson.TypeNumber:
			start := len(p.num)
			p.num = v.MarshalTo(p.num)
			if !jsonNumber(p.num[start:]) {
				r = ReasonJSON
				return
			}
			f[c] = p.num[start:len(p.num):len(p.num)]
		case fastjson.TypeNull:
			f[c] = nil
		default:
			r = fieldReason(ReasonFieldType, c, t)
		}
	})
	if r != ReasonOK {
		return r
	}
	return p.fillJSON(&f, seen, ev, full)
}

// jsonField returns the column a JSON key names, or -1.
func jsonField(key []byte) int {
	switch string(key) {
	case "event_time", "eventTime":
		return 0
	case "event_type", "eventType":
		return 1
	case "product_id", "productId":
		return 2
	case "category_id", "categoryId":
		return 3
	case "category_code", "categoryCode":
		return 4
	case "brand":
		return 5
	case "price":
		return 6
	case "user_id", "userId":
		return 7
	case "user_session", "userSession":
		return 8
	}
	// Other cases (UserID, EVENT_TIME): rare, so a plain search.
	for c := range Columns {
		if foldEqual(key, Columns[c]) || foldEqual(key, camelColumns[c]) {
			return c
		}
	}
	return -1
}

// foldEqual reports whether key is name ignoring ASCII case (only: the
// Unicode folds of bytes.EqualFold would take "user_\u017Fession", with a
// long s, for user_session). name is lower case but for ASCII capitals.
func foldEqual(key []byte, name string) bool {
	if len(key) != len(name) {
		return false
	}
	for i := range key {
		a, b := key[i], name[i]
		if a-'A' < 26 {
			a += 'a' - 'A'
		}
		if b-'A' < 26 {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// jsonNumber reports whether b is a number by JSON's grammar (RFC 8259):
// fastjson accepts more (leading zeros, NaN, Inf, "1-2").
func jsonNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() bool {
		j := i
		for i < len(b) && b[i]-'0' <= 9 {
			i++
		}
		return i > j
	}
	switch {
	case i == len(b):
		return false
	case b[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(b)
}
