package format

import "encoding/binary"

// Event times are accepted in exactly two shapes:
//
//	2019-11-01 00:00:00 UTC          the 2019-Nov file's own format (fast path)
//	2019-11-01T00:00:00Z             RFC 3339, optionally with a fraction
//	2019-11-01T01:00:00.25+01:00     and/or a numeric offset
//
// Years run 0000-9999, days are checked against the month (leap years
// included), hours 00-23, minutes and seconds 00-59 (no leap seconds), offset
// hours 00-23 and minutes 00-59. A fraction is any run of at least one digit
// after a '.'; it is dropped, so the result is floor(t) in Unix seconds, which
// is what time.Time.Unix returns for the same text. Nothing else (lower-case
// 't'/'z', one-digit fields, ',' as fraction separator, which Go's lenient
// fallback in time.Parse tolerates) is accepted: the contract wants one
// unambiguous reading of every row.

// digit2 returns the value of the two ASCII digits at b[0:2] and whether both
// are digits.
func digit2(b []byte) (int, bool) {
	d0, d1 := b[0]-'0', b[1]-'0'
	return int(d0)*10 + int(d1), d0 < 10 && d1 < 10
}

// daysIn returns the number of days in month m (1-12) of year y.
func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the number of days from 1970-01-01 to y-m-d in the
// proleptic Gregorian calendar (Howard Hinnant's days_from_civil). It is pure
// integer arithmetic, so the fast path never touches package time.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := m + 9
	if m > 2 {
		mp = m - 3
	}
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// parseDate parses "YYYY-MM-DD" at b[0:10] into Unix seconds of its midnight.
func parseDate(b []byte) (int64, bool) {
	if len(b) < 10 || b[4] != '-' || b[7] != '-' {
		return 0, false
	}
	yh, ok1 := digit2(b[0:2])
	yl, ok2 := digit2(b[2:4])
	m, ok3 := digit2(b[5:7])
	d, ok4 := digit2(b[8:10])
	y := yh*100 + yl
	if !(ok1 && ok2 && ok3 && ok4) || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, false
	}
	return daysFromCivil(y, m, d) * 86400, true
}

// parseClock parses "HH:MM:SS" at b[0:8] into seconds since midnight.
func parseClock(b []byte) (int64, bool) {
	if len(b) < 8 || b[2] != ':' || b[5] != ':' {
		return 0, false
	}
	h, ok1 := digit2(b[0:2])
	m, ok2 := digit2(b[3:5])
	s, ok3 := digit2(b[6:8])
	if !(ok1 && ok2 && ok3) || h > 23 || m > 59 || s > 59 {
		return 0, false
	}
	return int64(h*3600 + m*60 + s), true
}

// ParseTime parses an event_time in either accepted shape (see above) into
// Unix seconds, UTC. It keeps no state; Parser.ParseRow uses a cached day
// instead for the common shape.
func ParseTime(b []byte) (int64, bool) {
	day, ok := parseDate(b)
	if !ok {
		return 0, false
	}
	return parseAfterDate(b, day)
}

// parseAfterDate parses b[10:] given the value of the date in b[0:10].
func parseAfterDate(b []byte, day int64) (int64, bool) {
	if len(b) < 19 {
		return 0, false
	}
	clock, ok := parseClock(b[11:19])
	if !ok {
		return 0, false
	}
	t := day + clock
	switch b[10] {
	case ' ':
		return t, len(b) == 23 && string(b[19:]) == " UTC"
	case 'T':
		return parseRFC3339Zone(b[19:], t)
	}
	return 0, false
}

// parseRFC3339Zone parses the optional fraction and the mandatory zone that
// follow the seconds of an RFC 3339 time, and applies the offset to t.
func parseRFC3339Zone(b []byte, t int64) (int64, bool) {
	if len(b) > 0 && b[0] == '.' {
		n := 1
		for n < len(b) && b[n]-'0' < 10 {
			n++
		}
		if n == 1 {
			return 0, false
		}
		b = b[n:]
	}
	if len(b) == 1 && b[0] == 'Z' {
		return t, true
	}
	if len(b) != 6 || (b[0] != '+' && b[0] != '-') || b[3] != ':' {
		return 0, false
	}
	h, ok1 := digit2(b[1:3])
	m, ok2 := digit2(b[4:6])
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return 0, false
	}
	off := int64(h*3600 + m*60)
	if b[0] == '+' {
		return t - off, true
	}
	return t + off, true
}

// timeCache remembers the last event_time seen, whole, and its date. In the
// 2019-Nov file about 26 rows share each second and the date changes once
// per ~1.4 M rows, so nearly every row is four compares, and most others
// pay only for the clock arithmetic.
type timeCache struct {
	// Bytes 0-7, 8-15 and 15-22 of the last time that parsed in full, and
	// its value; all zero before one has, which no time's bytes match.
	w0, w1, w2 uint64
	t          int64
	max        int64  // the limit t was checked against (Parser.MaxTime)
	lo         uint64 // bytes 0-7 of the cached "YYYY-MM-DD", little endian
	hi         uint16 // bytes 8-9
	valid      bool   // lo, hi and day hold a date that parsed
	day        int64  // Unix seconds at the cached date's midnight
}

// parse parses an event_time, consulting and refreshing the cache; false if
// it does not parse or, with max != 0, is later than max (the caller tells
// the two apart with ParseTime, on its slow path).
//
// NOTE: a time later than max is never cached, so a hit needs no compare
// with max itself, only that max is the one the cached time was checked
// against: the one compare Parser.MaxTime adds to the common row.
func (c *timeCache) parse(b []byte, max int64) (int64, bool) {
	if len(b) == 23 && b[10] == ' ' {
		// Fast path: the file's own shape. The same second as the last
		// row is three 8-byte compares (the last two overlap by a byte).
		w0 := binary.LittleEndian.Uint64(b[0:8])
		w1 := binary.LittleEndian.Uint64(b[8:16])
		w2 := binary.LittleEndian.Uint64(b[15:23])
		if w0 == c.w0 && w1 == c.w1 && w2 == c.w2 && max == c.max {
			return c.t, true
		}
		// The date: two loads compared with the cached ones; " UTC" is
		// one 4-byte compare.
		hi := uint16(w1)
		if !c.valid || w0 != c.lo || hi != c.hi {
			day, ok := parseDate(b)
			if !ok {
				return 0, false
			}
			c.lo, c.hi, c.day, c.valid = w0, hi, day, true
		}
		clock, ok := parseClock(b[11:19])
		if !ok || binary.LittleEndian.Uint32(b[19:23]) != utcSuffix {
			return 0, false
		}
		t := c.day + clock
		if max != 0 && t > max {
			return 0, false
		}
		c.w0, c.w1, c.w2, c.t, c.max = w0, w1, w2, t, max
		return t, true
	}
	t, ok := ParseTime(b)
	return t, ok && (max == 0 || t <= max)
}

// utcSuffix is " UTC" loaded little endian.
const utcSuffix = uint32(' ') | uint32('U')<<8 | uint32('T')<<16 | uint32('C')<<24
