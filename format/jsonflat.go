package format

import (
	"encoding/binary"
	"math/bits"
)

// ParseJSON's fast path: a scanner for the one shape nearly every message
// has, a flat JSON object whose values are plain strings, numbers or null.
// It finds the same nine fields fastjson's tree and Visit would (json.go),
// without building the tree: fastjson parses every value into a tree, unescapes
// every key, and copies the message first; here the fields are slices of msg
// itself.
//
// The scanner gives up (ok false) on anything it does not fully understand,
// and ParseJSON then takes the fastjson path, which is the decoder and the
// judge of everything else: a '\' in a key or a string (escapes), a value
// that is an object, an array, true or false, a number outside JSON's
// grammar (fastjson takes more, json.go's jsonNumber decides), a field given
// twice, text after the object, any broken JSON. So it never answers
// ReasonJSON, ReasonDuplicateField or ReasonFieldType; when it does answer,
// its fields are the ones fastjson's path finds (then both paths check the
// required fields and fill the Event with the same code), and FuzzJSONFlat
// holds the two paths to the same Reason and Event on every input.
//
// What it accepts is a subset of what fastjson accepts, token by token:
// whitespace is fastjson's (skipWS: space, tab, CR, LF) wherever fastjson
// skips it; a string ends at the first '"' when it holds no '\' (fastjson's
// parseRawString then returns the same bytes, unescaping nothing); a number
// is JSON's grammar, delimited by whitespace, ',' or '}' (none of which
// fastjson's parseRawNumber takes into a number); null is "null" so
// delimited.

// scanFlat scans msg, one flat JSON object, into f (slices of msg; a
// missing or null field is nil) and returns the fields seen, or ok false
// when the fastjson path must decide.
func scanFlat(msg []byte, f *[NumFields][]byte) (seen uint16, ok bool) {
	// NOTE: "if msg[i] <= ' ' { skipWS }" at each place whitespace may
	// be: producers mostly write none, and the test inline costs less than
	// the call it saves. A byte below ' ' that is not whitespace stops
	// skipWS where it is, and the test that follows fails on it.
	i := skipWS(msg, 0)
	if i == len(msg) || msg[i] != '{' {
		return 0, false
	}
	if i++; i < len(msg) && msg[i] <= ' ' {
		i = skipWS(msg, i)
	}
	if i < len(msg) && msg[i] == '}' {
		// {}: no fields (ParseJSON reports the first required one
		// missing).
		return 0, skipWS(msg, i+1) == len(msg)
	}
	for k := 0; ; k++ {
		// The key: a string without '\'.
		if i == len(msg) || msg[i] != '"' {
			return 0, false
		}
		c := k
		if n := orderedKey(msg, i, k); n > 0 {
			i += n
		} else {
			ks := i + 1
			if i = stringEnd(msg, ks); i < 0 {
				return 0, false
			}
			c = jsonField(msg[ks:i])
			i++
		}
		if i < len(msg) && msg[i] <= ' ' {
			i = skipWS(msg, i)
		}
		if i == len(msg) || msg[i] != ':' {
			return 0, false
		}
		if i++; i < len(msg) && msg[i] <= ' ' {
			i = skipWS(msg, i)
		}
		if i == len(msg) {
			return 0, false
		}
		// The value, by how often each comes.
		var v []byte
		switch ch := msg[i]; {
		case ch == '"':
			vs := i + 1
			if i = stringEnd(msg, vs); i < 0 {
				return 0, false
			}
			v = msg[vs:i:i]
			i++
		case ch-'0' <= 9 || ch == '-':
			vs := i
			if i = scanNumber(msg, i); i < 0 {
				return 0, false
			}
			v = msg[vs:i:i]
		case ch == 'n':
			if len(msg)-i < 4 || string(msg[i:i+4]) != "null" {
				return 0, false
			}
			i += 4
		default:
			return 0, false // an object, an array, true, false or not JSON
		}
		if c >= 0 {
			if seen&(1<<c) != 0 {
				return 0, false // given twice
			}
			seen |= 1 << c
			f[c] = v
		}
		// Then ',' or the end.
		if i < len(msg) && msg[i] <= ' ' {
			i = skipWS(msg, i)
		}
		if i == len(msg) {
			return 0, false
		}
		if msg[i] == ',' {
			if i++; i < len(msg) && msg[i] <= ' ' {
				i = skipWS(msg, i)
			}
			continue
		}
		if msg[i] != '}' {
			return 0, false // a number or null run into other text
		}
		if skipWS(msg, i+1) != len(msg) {
			return 0, false // text after the object
		}
		return seen, true
	}
}

// orderedKey returns the length of the k-th column's key, quoted, in
// either spelling, if b[i:] starts with it, or 0. Producers write the
// columns in their order, so most keys are read by this one test: two
// 8-byte loads compared under masks, where finding the closing quote and
// comparing the key as a string cost several times more. It needs 16
// bytes from i on (a key so near the end goes the other way).
func orderedKey(b []byte, i, k int) int {
	if k >= NumFields || len(b)-i < 16 {
		return 0
	}
	lo, hi := binary.LittleEndian.Uint64(b[i:]), binary.LittleEndian.Uint64(b[i+8:])
	for s := range quotedKeys {
		q := &quotedKeys[s][k]
		if lo&q.mask[0] == q.word[0] && hi&q.mask[1] == q.word[1] {
			return q.n
		}
	}
	return 0
}

// quotedKey is a key with its quotes ("user_id", 2 to 16 bytes) as two
// little-endian words, and masks for its bytes.
type quotedKey struct {
	word, mask [2]uint64
	n          int
}

// quotedKeys are the columns' keys in both spellings (Columns and
// camelColumns), quoted.
var quotedKeys = func() (q [2][NumFields]quotedKey) {
	for s, names := range [2]*[NumFields]string{&Columns, &camelColumns} {
		for c, name := range names {
			var b, m [16]byte
			n := copy(b[:], `"`+name+`"`)
			if n != len(name)+2 {
				panic("format: column name " + name + " longer than 14 bytes")
			}
			for j := range n {
				m[j] = 0xff
			}
			q[s][c] = quotedKey{n: n,
				word: [2]uint64{binary.LittleEndian.Uint64(b[:]), binary.LittleEndian.Uint64(b[8:])},
				mask: [2]uint64{binary.LittleEndian.Uint64(m[:]), binary.LittleEndian.Uint64(m[8:])}}
		}
	}
	return q
}()

// stringEnd returns the index of the first '"' from i on in b, or -1 if a
// '\\' comes first or there is none.
func stringEnd(b []byte, i int) int {
	// NOTE: eight bytes at a time (SWAR): the values are 10 to 40 bytes
	// long, too short for the call into bytes.IndexByte to pay, and a
	// byte loop tests two values and a bound at every byte. A byte of x
	// equal to '"' or '\\' is a zero byte of x^q or x^s; hasZero's lowest
	// set bit marks the first one exactly (the bits above it may be false
	// positives, which is why only the lowest is read).
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
		q    = '"' * ones
		s    = '\\' * ones
	)
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		xq, xs := x^q, x^s
		if m := (xq-ones)&^xq&high | (xs-ones)&^xs&high; m != 0 {
			i += bits.TrailingZeros64(m) / 8
			if b[i] != '"' {
				return -1
			}
			return i
		}
	}
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			return i
		case '\\':
			return -1
		}
	}
	return -1
}

// skipWS returns the index of the first byte from i on in b that is not
// JSON whitespace (space, tab, CR, LF), or len(b).
func skipWS(b []byte, i int) int {
	if i < len(b) && b[i] > ' ' {
		return i // the common case: no whitespace
	}
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// scanNumber returns the end of the number starting at b[i] by JSON's
// grammar (RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?), or -1
// when there is none, or when it runs into a byte other than whitespace,
// ',' or '}' (what fastjson would read further, or fail on).
func scanNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	j := i
	for i < len(b) && b[i]-'0' <= 9 {
		i++
	}
	if i == j || b[j] == '0' && i > j+1 {
		return -1 // no digit, or a leading zero
	}
	if i < len(b) && b[i] == '.' {
		i++
		j = i
		for i < len(b) && b[i]-'0' <= 9 {
			i++
		}
		if i == j {
			return -1
		}
	}
	if i < len(b) && b[i]|0x20 == 'e' {
		if i++; i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j = i
		for i < len(b) && b[i]-'0' <= 9 {
			i++
		}
		if i == j {
			return -1
		}
	}
	if i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n', ',', '}':
		default:
			return -1
		}
	}
	return i
}
