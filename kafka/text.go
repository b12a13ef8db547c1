package kafka

import (
	"bytes"

	"github.com/cartwatch/cartwatch/format"
)

// Text is what a CSV row says that its event.Event does not keep: the
// spelling of event_type (an Event keeps only view, cart, purchase or
// other), category_code and brand (not kept at all) and the whole
// user_session (an Event keeps event.SessionMax bytes). The slices alias the
// row or the Splitter's buffer.
type Text struct {
	EventType, CategoryCode, Brand, Session []byte
}

// Splitter takes the Text out of CSV rows. It keeps a buffer for unquoted
// fields: not safe for concurrent use.
type Splitter struct {
	p format.Parser // its field splitter only
}

// The columns of Text, by their place in the 2019-Nov order
// (format.Columns).
const (
	colEventType    = 1
	colCategoryCode = 4
	colBrand        = 5
	colSession      = 8
)

// Split fills t from line (without its '\n'; a trailing '\r' is dropped), a
// row that format.Parser accepted under the input's header h: nil or
// canonical for the 2019-Nov column order, else the columns by name (one
// the header lacks reads as empty). It reports false, leaving t as it was,
// for a line that is not such a row. t's slices are valid until the next
// Split.
//
// The rules are those of format.Parser's splitter, so that the text is the
// one the parser validated: a field is quoted only when its first byte is
// '"', inside it "" is one '"', the closing '"' is followed by ',' or the
// end of the line.
func (s *Splitter) Split(line []byte, h *format.Header, t *Text) bool {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if h != nil && h.Canonical() {
		h = nil
	}
	if h != nil || bytes.IndexByte(line, '"') >= 0 {
		return s.splitFields(line, h, t)
	}
	// The common row: the file's order, no quotes, fields between commas.
	var f [format.NumFields][]byte
	rest := line
	for i := 0; i < format.NumFields-1; i++ {
		j := bytes.IndexByte(rest, ',')
		if j < 0 {
			return false
		}
		f[i] = rest[:j:j]
		rest = rest[j+1:]
	}
	if bytes.IndexByte(rest, ',') >= 0 {
		return false
	}
	f[format.NumFields-1] = rest
	t.EventType, t.CategoryCode, t.Brand, t.Session = f[colEventType], f[colCategoryCode], f[colBrand], f[colSession]
	return true
}

// splitFields is Split's general path (quotes, or a header's order): the
// row is split by format.Parser's own splitter and the columns picked by h.
func (s *Splitter) splitFields(line []byte, h *format.Header, t *Text) bool {
	want := format.NumFields
	if h != nil {
		want = h.Fields()
	}
	if n, r := s.p.SplitFields(line, want); r != format.ReasonOK || n != want {
		return false
	}
	field := func(c int) []byte {
		k := c
		if h != nil {
			if k = h.Index(c); k < 0 {
				return nil
			}
		}
		return s.p.Field(k)
	}
	t.EventType, t.CategoryCode, t.Brand, t.Session = field(colEventType), field(colCategoryCode), field(colBrand), field(colSession)
	return true
}
