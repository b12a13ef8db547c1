package format

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// The header line: columns by name.
//
// An input may start with a header naming its columns. The 2019-Nov file
// has one, in the order of Columns; another export of the same data may
// order them differently, drop the unused ones, or add its own. ParseHeader
// reads the header into a map from the nine columns to the places of their
// fields in a row, and Parser.Header applies it to every row.
//
// How a source uses it: it reads the input's first line (without its '\n';
// a UTF-8 BOM removed) and calls ParseHeader once, before reading any row.
//
//   - (nil, nil): the line is not a header but the first row. The rows are
//     in the 2019-Nov order; the line is parsed like any other (line 1).
//   - (h, nil): the line is a header. The source skips it (it is still
//     line 1: the next row is line 2) and sets Parser.Header = h on every
//     Parser that parses the input's rows. A Header is read-only once made,
//     so all of them may share it.
//   - (nil, err): the input cannot be read as 2019-Nov rows (a required
//     column is missing, or named twice). The source reports err, naming
//     the input, before any row is read or any output created (exit 1).
//
// A first line longer than the line limit (Parser.MaxLine) is not a header:
// the source leaves it to the parser, which rejects it (ReasonLineTooLong).

// Columns are the nine columns of the 2019-Nov schema, in its order: the
// order of a canonical header and of an input without a header.
var Columns = [NumFields]string{"event_time", "event_type", "product_id", "category_id",
	"category_code", "brand", "price", "user_id", "user_session"}

// required[c] says whether column c must be in a header. The other four
// are optional: category_id is stored but never rejects a row, the detector
// uses neither category_code nor brand, and an empty user_session is valid;
// a missing one reads as empty. The five required are those rule 8 checks.
var required = [NumFields]bool{0: true, 1: true, 2: true, 6: true, 7: true}

// Header is a parsed header line: where each of the nine columns is in a
// row. Make one with ParseHeader.
type Header struct {
	col       [NumFields]int // the index of column c's field in a row; -1 if absent
	n         int            // the number of fields of a row (the header's columns)
	canonical bool           // exactly the nine columns, in the 2019-Nov order
}

// Canonical reports whether h is the 2019-Nov header: exactly the nine
// columns, in the order of Columns (names compared as ParseHeader does).
// Rows under a canonical header, or no header, are read by position on the
// parser's fast paths; any other header makes the parser split each row
// into its fields and pick the nine by the header's map, exactly but slower.
func (h *Header) Canonical() bool { return h.canonical }

// Index returns the position of column c (0 to NumFields-1, in the order of
// the 2019-Nov header) among a row's fields, or -1 if the header lacks it.
func (h *Header) Index(c int) int { return h.col[c] }

// Fields returns the number of fields a row under h has.
func (h *Header) Fields() int { return h.n }

// ParseHeader reads line, the first line of an input (without its '\n'; a
// trailing '\r' and a leading UTF-8 BOM are ignored), as a header.
//
// The line is a header unless its first field, unquoted, parses as an event
// time (ParseTime), or none of its fields is a column name: then it is the
// first row, and ParseHeader returns nil, nil. Fields are read as in a row
// (RFC 4180: "" inside quotes, commas inside quotes), then spaces and tabs
// around them and around their quotes are trimmed, and names compare
// ignoring case. Each of the nine columns may be anywhere; columns with
// other names are ignored (a row must still have a field for each).
//
// The header is an error if a required column (event_time, event_type,
// product_id, price, user_id) is missing, if one of the nine columns is
// named twice, if its quoting is broken, or if it has more than 4,095
// columns. category_id,
// category_code, brand and user_session may be missing: they read as empty.
func ParseHeader(line []byte) (*Header, error) {
	line = bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	names, bad := headerFields(line)
	if _, ok := ParseTime([]byte(names[0])); ok {
		return nil, nil
	}
	h := &Header{n: len(names)}
	for c := range h.col {
		h.col[c] = -1
	}
	known := false
	for i, name := range names {
		for c, col := range Columns {
			if !strings.EqualFold(name, col) {
				continue
			}
			known = true
			if h.col[c] >= 0 {
				return nil, fmt.Errorf("header has the %q column twice (columns: %s)", col, listColumns(names))
			}
			h.col[c] = i
		}
	}
	if !known {
		return nil, nil
	}
	if bad {
		return nil, fmt.Errorf("header has broken CSV quoting: %q", clip(string(line)))
	}
	var missing []string
	for c, col := range Columns {
		if required[c] && h.col[c] < 0 {
			missing = append(missing, fmt.Sprintf("%q", col))
		}
	}
	switch len(missing) {
	case 0:
	case 1:
		return nil, fmt.Errorf("header has no %s column (columns: %s)", missing[0], listColumns(names))
	default:
		return nil, fmt.Errorf("header has no %s columns (columns: %s)", strings.Join(missing, ", "), listColumns(names))
	}
	if h.n > maxFieldsShown {
		return nil, fmt.Errorf("header has %d columns, more than the %d supported", h.n, maxFieldsShown)
	}
	h.canonical = h.n == NumFields
	for c, i := range h.col {
		h.canonical = h.canonical && i == c
	}
	return h, nil
}

// headerFields splits a header line into its names: fields as in a row
// (splitFields' rules), with spaces and tabs trimmed around them and around
// their quotes (` "price" ` is price). bad reports broken quoting; the
// fields are then the line's text between commas, quotes stripped, good
// enough to tell whether the line was meant as a header.
func headerFields(line []byte) (names []string, bad bool) {
	const space = " \t"
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		var name []byte
		if i < len(line) && line[i] == '"' {
			i++
			for {
				j := bytes.IndexByte(line[i:], '"')
				if j < 0 {
					bad = true
					j = len(line) - i
				}
				name = append(name, line[i:i+j]...)
				i = min(i+j+1, len(line))
				if i < len(line) && line[i] == '"' {
					name = append(name, '"')
					i++
					continue
				}
				break
			}
			for i < len(line) && line[i] != ',' {
				if line[i] != ' ' && line[i] != '\t' {
					bad = true
				}
				i++
			}
		} else {
			j := bytes.IndexByte(line[i:], ',')
			if j < 0 {
				j = len(line) - i
			}
			name = line[i : i+j]
			if bytes.IndexByte(name, '"') >= 0 {
				bad = true
				name = bytes.ReplaceAll(name, []byte(`"`), nil)
			}
			i += j
		}
		names = append(names, string(bytes.Trim(name, space)))
		if i >= len(line) {
			return names, bad
		}
		i++ // the comma
	}
}

// listColumns writes a header's names for an error message, clipped.
func listColumns(names []string) string {
	return clip(strings.Join(names, ","))
}

// clip shortens s to at most 200 bytes for an error message, at a rune
// boundary.
func clip(s string) string {
	if len(s) <= 200 {
		return s
	}
	n := 200
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
