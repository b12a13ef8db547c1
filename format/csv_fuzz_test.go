package format

import (
	"bytes"
	"encoding/csv"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/internal/testrows"
)

// The reference parser: rule 8 written as plainly as possible with
// encoding/csv, regexp, strconv, math/big and time.Parse, sharing no code
// with csv.go or timeparse.go. FuzzParseRow holds the fast parser to it.

var (
	refUTCShape     = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$`)
	refRFC3339Shape = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-](\d{2}):(\d{2}))$`)
	refDigits       = regexp.MustCompile(`^\d+$`)
	refPriceShape   = regexp.MustCompile(`^(\d+)(?:\.(\d{1,2}))?$`)
)

// refParseTime parses an event_time: time.Parse for the calendar, a regexp
// for the strict shape (time.Parse alone also takes "1:02", ",5" and +24:00).
func refParseTime(s string) (int64, bool) {
	if refUTCShape.MatchString(s) {
		t, err := time.Parse("2006-01-02 15:04:05 UTC", s)
		return t.Unix(), err == nil
	}
	if m := refRFC3339Shape.FindStringSubmatch(s); m != nil {
		if m[3] != "" {
			h, _ := strconv.Atoi(m[3])
			mm, _ := strconv.Atoi(m[4])
			if h > 23 || mm > 59 {
				return 0, false
			}
		}
		t, err := time.Parse(time.RFC3339, s)
		return t.Unix(), err == nil
	}
	return 0, false
}

func refUint64(s string) (uint64, bool) {
	if !refDigits.MatchString(s) {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false // ParseUint returns MaxUint64 on overflow
	}
	return v, true
}

func refPrice(s string) (int64, bool) {
	m := refPriceShape.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	frac := m[2]
	for len(frac) < 2 {
		frac += "0"
	}
	c, ok := new(big.Int).SetString(m[1]+frac, 10)
	if !ok || c.Cmp(big.NewInt(1e12)) > 0 { // rule 8: at most 10^10 base units
		return 0, false
	}
	return c.Int64(), true
}

// refParseRow parses one line (no '\n') as the fast parser with full=true
// would. The line must not be blank.
func refParseRow(line string) (event.Event, bool) {
	var ev event.Event
	r := csv.NewReader(strings.NewReader(line + "\n"))
	r.FieldsPerRecord = -1
	rec, err := r.Read()
	if err != nil || len(rec) != 9 {
		return ev, false
	}
	var ok bool
	if ev.Time, ok = refParseTime(rec[0]); !ok {
		return ev, false
	}
	if rec[1] == "" {
		return ev, false
	}
	ev.Type = map[string]event.EventType{"view": event.EventView, "cart": event.EventCart, "purchase": event.EventPurchase}[rec[1]]
	if ev.ProductID, ok = refUint64(rec[2]); !ok {
		return ev, false
	}
	ev.CategoryID, _ = refUint64(rec[3])
	top, _, _ := strings.Cut(rec[4], ".")
	ev.CategoryLen = uint8(copy(ev.Category[:], top))
	if ev.PriceCents, ok = refPrice(rec[6]); !ok {
		return ev, false
	}
	if ev.UserID, ok = refUint64(rec[7]); !ok {
		return ev, false
	}
	s := rec[8]
	if len(s) > event.SessionMax {
		s = s[:event.SessionMax]
	}
	ev.SessionLen = uint8(copy(ev.Session[:], s))
	return ev, true
}

// fuzzMaxTime is the Parser.MaxTime of the fuzz targets' limited modes:
// 2019-11-01 00:00:14 UTC, the time of testrows.Good, so that seeds sit on
// both sides of it.
const fuzzMaxTime = 1572566414

func FuzzParseRow(f *testing.F) {
	seeds := []string{
		testrows.Row(testrows.Good...),
		testrows.Row(testrows.Good...) + "\r",
		testrows.With(0, "2019-11-30T23:59:59.5+05:30"),
		testrows.With(0, "2019-11-01 00:00:15 UTC"),
		testrows.With(0, "2019-11-01T00:00:15Z"),
		testrows.With(6, "10000000000.00"),
		testrows.With(6, "10000000000.01"),
		testrows.With(1, "view"),
		testrows.With(1, "remove_from_cart"),
		testrows.With(6, "0"),
		testrows.With(6, "1.234"),
		testrows.With(6, ".5"),
		testrows.With(7, "18446744073709551616"),
		testrows.With(4, `"a,b ""c"""`),
		testrows.With(8, `"x""y"`),
		testrows.With(8, `"abc`),
		testrows.With(3, ""),
		"a,b,c",
		`"",,,,,,,,`,
		"2019-11-01 00:00:00 UTC,view,1,2,,,0,3,",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if bytes.IndexByte(line, '\n') >= 0 {
			return // not a line
		}
		if len(bytes.TrimSuffix(line, []byte{'\r'})) == 0 {
			return // blank: the reader skips it, ParseRow never sees it
		}
		want0, wantOK0 := refParseRow(string(line))
		for _, mode := range []struct {
			full, viewUser bool
			maxTime        int64
		}{{true, false, 0}, {false, false, 0}, {false, true, 0}, {true, false, fuzzMaxTime}, {false, false, fuzzMaxTime}} {
			full := mode.full
			want, wantOK := want0, wantOK0 && (mode.maxTime == 0 || want0.Time <= mode.maxTime)
			p := Parser{ViewUser: mode.viewUser, MaxTime: mode.maxTime}
			var ev event.Event
			r := p.ParseRow(line, &ev, full)
			if (r == ReasonOK) != wantOK {
				t.Fatalf("ParseRow(%q, full=%v) = %v; reference ok=%v", line, full, r, wantOK)
			}
			if r.String() == "" {
				t.Fatalf("reason %d has no text", r)
			}
			if wantOK0 && !wantOK && r != ReasonFuture {
				t.Fatalf("ParseRow(%q, MaxTime %d) = %v, want %v", line, mode.maxTime, r, ReasonFuture)
			}
			if !wantOK {
				continue
			}
			got, want := ev, want
			if !full && want.Type == event.EventView {
				// Only Time, Type and (with ViewUser) UserID are stored.
				if !mode.viewUser {
					want.UserID = 0
				}
				got = event.Event{Time: ev.Time, Type: ev.Type, UserID: ev.UserID}
				want = event.Event{Time: want.Time, Type: want.Type, UserID: want.UserID}
			}
			if got != want {
				t.Fatalf("ParseRow(%q, full=%v)\n got %+v\nwant %+v", line, full, got, want)
			}
			// The general path alone must agree too: it is what rows
			// the fast path declines get.
			g := Parser{ViewUser: mode.viewUser, MaxTime: mode.maxTime}
			var gev event.Event
			gline := bytes.TrimSuffix(line, []byte{'\r'})
			if r := g.parseGeneral(gline, &gev, full); r != ReasonOK {
				t.Fatalf("parseGeneral(%q, full=%v) = %v, fast path ok", line, full, r)
			}
			if !full && want.Type == event.EventView {
				gev = event.Event{Time: gev.Time, Type: gev.Type, UserID: gev.UserID}
			}
			if gev != want {
				t.Fatalf("parseGeneral(%q, full=%v)\n got %+v\nwant %+v", line, full, gev, want)
			}
		}
	})
}
