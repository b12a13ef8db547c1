package kafka

import "bytes"

// Text is what a CSV row says that its event.Event does not keep: the
// spelling of event_type (an Event keeps only view, cart, purchase or
// other), category_code and brand (not kept at all) and the whole
// user_session (an Event keeps event.SessionMax bytes). The slices alias the
// row or the Splitter's buffer.
type Text struct {
	EventType, CategoryCode, Brand, Session []byte
}

// Splitter takes the Text out of CSV rows in the 2019-Nov column order. It
// keeps a buffer for unquoted fields: not safe for concurrent use.
type Splitter struct {
	buf []byte
}

// Split fills t from line (without its '\n'; a trailing '\r' is dropped), a
// row that format.Parser accepted without a Header (or with the canonical
// one): nine fields, quoted as RFC 4180 says. It reports false, leaving t
// as it was, for a line that is not such a row. t's slices are valid until
// the next Split.
//
// The rules are those of format.Parser's splitter, so that the text is the
// one the parser validated: a field is quoted only when its first byte is
// '"', inside it "" is one '"', the closing '"' is followed by ',' or the
// end of the line.
func (s *Splitter) Split(line []byte, t *Text) bool {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	var f [9][]byte
	if bytes.IndexByte(line, '"') < 0 {
		// The common row: no quotes, fields between commas.
		rest := line
		for i := 0; i < 8; i++ {
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
		f[8] = rest
	} else if !s.splitQuoted(line, &f) {
		return false
	}
	t.EventType, t.CategoryCode, t.Brand, t.Session = f[1], f[4], f[5], f[8]
	return true
}

// splitQuoted is Split's path for a line holding a '"': the fields are
// unquoted one after another into s.buf.
func (s *Splitter) splitQuoted(line []byte, f *[9][]byte) bool {
	if cap(s.buf) < len(line) {
		s.buf = make([]byte, 0, max(len(line), 256))
	}
	buf := s.buf[:0] // never grows: the fields are no longer than line
	var ends [9]int
	n, i := 0, 0
	for {
		if n == 9 {
			return false
		}
		if i < len(line) && line[i] == '"' {
			i++
			for {
				j := bytes.IndexByte(line[i:], '"')
				if j < 0 {
					return false
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
				return false
			}
		} else {
			j := bytes.IndexByte(line[i:], ',')
			if j < 0 {
				j = len(line) - i
			}
			if bytes.IndexByte(line[i:i+j], '"') >= 0 {
				return false
			}
			buf = append(buf, line[i:i+j]...)
			i += j
		}
		ends[n] = len(buf)
		n++
		if i >= len(line) {
			break
		}
		i++ // the comma
	}
	if n != 9 {
		return false
	}
	start := 0
	for k, end := range ends {
		f[k] = buf[start:end:end]
		start = end
	}
	s.buf = buf
	return true
}
