package kafka

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/cartwatch/cartwatch/event"
)

// The record values: one event as a JSON object or as a CSV line, appended
// to the caller's buffer with no allocation.

// Format is the encoding of a record value.
type Format uint8

const (
	// JSON is one object per event, keyed by the CSV header's names:
	//
	//	{"event_time":"2019-11-01 00:00:14 UTC","event_type":"cart","product_id":1234567,
	//	 "category_id":2000000000000000001,"category_code":"electronics.gadget",
	//	 "brand":"acme","price":123.45,"user_id":500000001,"user_session":"00000000-..."}
	//
	// product_id, category_id and user_id are JSON integers (exact up to
	// 2^64-1: a reader must not take them through float64), price a number
	// with exactly two decimals, written from integer cents; event_time is
	// the 2019-Nov text form, in UTC. Strings are valid UTF-8: a byte that
	// is not part of valid UTF-8 is written as U+FFFD.
	JSON Format = iota
	// CSV is the event's line in the 2019-Nov schema (no header, no '\n'):
	// the nine columns in the file's order, the time and price in the
	// file's shapes, a field quoted (RFC 4180) when it holds a ',' or a '"'.
	// Text is written as it was read.
	CSV
)

// ParseFormat returns the Format named s: "json" or "csv".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "json":
		return JSON, nil
	case "csv":
		return CSV, nil
	}
	return 0, fmt.Errorf("--format %q: want json or csv", s)
}

// String returns "json" or "csv".
func (f Format) String() string {
	if f == CSV {
		return "csv"
	}
	return "json"
}

// AppendKey appends the record key of ev to dst: its user_id in decimal.
func AppendKey(dst []byte, ev *event.Event) []byte {
	return strconv.AppendUint(dst, ev.UserID, 10)
}

// Encoder appends events to a buffer as record values. The zero value
// writes JSON. It caches the date of the last event (events come in time
// order, so most share it): not safe for concurrent use.
type Encoder struct {
	Format Format

	day    int64    // the day date holds, in days since 1970-01-01
	date   [11]byte // "YYYY-MM-DD "
	dateOK bool
}

// Append appends ev as one value in e.Format to dst and returns it. t, when
// not nil, is the row's text as read (Text): its event_type spelling,
// category_code, brand and whole user_session are written instead of what
// ev keeps (the EventType's name, its top-level category, nothing, and the
// session cut to event.SessionMax bytes).
func (e *Encoder) Append(dst []byte, ev *event.Event, t *Text) []byte {
	var typ, code, brand, sess []byte
	if t != nil {
		typ, code, brand, sess = t.EventType, t.CategoryCode, t.Brand, t.Session
	} else {
		typ, code, sess = typeNames[ev.Type&3], ev.CategoryBytes(), ev.SessionBytes()
	}
	if e.Format == CSV {
		dst = e.appendTime(dst, ev.Time)
		dst = append(dst, ',')
		dst = appendCSVField(dst, typ)
		dst = append(dst, ',')
		dst = strconv.AppendUint(dst, ev.ProductID, 10)
		dst = append(dst, ',')
		dst = strconv.AppendUint(dst, ev.CategoryID, 10)
		dst = append(dst, ',')
		dst = appendCSVField(dst, code)
		dst = append(dst, ',')
		dst = appendCSVField(dst, brand)
		dst = append(dst, ',')
		dst = appendPrice(dst, ev.PriceCents)
		dst = append(dst, ',')
		dst = strconv.AppendUint(dst, ev.UserID, 10)
		dst = append(dst, ',')
		return appendCSVField(dst, sess)
	}
	dst = append(dst, `{"event_time":"`...)
	dst = e.appendTime(dst, ev.Time)
	dst = append(dst, `","event_type":`...)
	dst = appendJSONString(dst, typ)
	dst = append(dst, `,"product_id":`...)
	dst = strconv.AppendUint(dst, ev.ProductID, 10)
	dst = append(dst, `,"category_id":`...)
	dst = strconv.AppendUint(dst, ev.CategoryID, 10)
	dst = append(dst, `,"category_code":`...)
	dst = appendJSONString(dst, code)
	dst = append(dst, `,"brand":`...)
	dst = appendJSONString(dst, brand)
	dst = append(dst, `,"price":`...)
	dst = appendPrice(dst, ev.PriceCents)
	dst = append(dst, `,"user_id":`...)
	dst = strconv.AppendUint(dst, ev.UserID, 10)
	dst = append(dst, `,"user_session":`...)
	dst = appendJSONString(dst, sess)
	return append(dst, '}')
}

// typeNames are the event_type spellings of the EventTypes, as byte slices.
var typeNames = [4][]byte{[]byte("other"), []byte("view"), []byte("cart"), []byte("purchase")}

// appendTime appends Unix second t as "2019-11-01 00:00:00 UTC", the
// 2019-Nov shape.
func (e *Encoder) appendTime(dst []byte, t int64) []byte {
	day, sec := t/86400, t%86400
	if sec < 0 {
		day, sec = day-1, sec+86400
	}
	if !e.dateOK || day != e.day {
		y, m, d := civil(day)
		if y < 0 || y > 9999 {
			// Outside the years the row parser reads: the time package's
			// form (never taken by events that came from text).
			return time.Unix(t, 0).UTC().AppendFormat(dst, "2006-01-02 15:04:05 UTC")
		}
		e.date = [11]byte{byte('0' + y/1000), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-',
			byte('0' + m/10), byte('0' + m%10), '-', byte('0' + d/10), byte('0' + d%10), ' '}
		e.day, e.dateOK = day, true
	}
	hh, mm, ss := sec/3600, sec/60%60, sec%60
	dst = append(dst, e.date[:]...)
	return append(dst, byte('0'+hh/10), byte('0'+hh%10), ':', byte('0'+mm/10), byte('0'+mm%10), ':',
		byte('0'+ss/10), byte('0'+ss%10), ' ', 'U', 'T', 'C')
}

// civil returns the proleptic Gregorian date of day (days since
// 1970-01-01): Howard Hinnant's civil_from_days.
func civil(day int64) (y, m, d int64) {
	z := day + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	y = yoe + era*400
	if m <= 2 {
		y++
	}
	return y, m, d
}

// appendPrice appends cents as a decimal with exactly two decimals: 489.07,
// 0.50, 12.00.
func appendPrice(dst []byte, cents int64) []byte {
	u := uint64(cents)
	if cents < 0 {
		dst = append(dst, '-')
		u = -u // two's complement: exact for math.MinInt64 too
	}
	dst = strconv.AppendUint(dst, u/100, 10)
	r := u % 100
	return append(dst, '.', byte('0'+r/10), byte('0'+r%10))
}

// appendJSONString appends s as a JSON string: '"', '\\' and control
// bytes escaped, a byte that is not part of valid UTF-8 written as U+FFFD.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			const hex = "0123456789abcdef"
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendCSVField appends s as one CSV field: as it is, or quoted with its
// '"' doubled when it holds a ',', a '"', a '\r' or a '\n' (RFC 4180).
func appendCSVField(dst, s []byte) []byte {
	plain := true
	for _, c := range s {
		if c == ',' || c == '"' || c == '\r' || c == '\n' {
			plain = false
			break
		}
	}
	if plain {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for _, c := range s {
		if c == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}
