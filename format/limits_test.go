package format

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/internal/testrows"
)

// Tests of the sanity limits on every parse path: event_time no later than
// Parser.MaxTime (ReasonFuture), price at most MaxPriceCents
// (ReasonPriceRange); and of the one-line-one-record rule.

// pathRow is a row for eachPath: its nine fields, unquoted, in the 2019-Nov
// order.
type pathRow []string

// eachPath parses row on every path a row can take, with a Parser set up by
// setup, in each storing mode, and checks that each gives want; on ReasonOK
// it also checks the stored time and (when stored) price. The paths:
//
//	ParseRow   the entry point (fast, then general when fast declines)
//	fast       Parser.fast alone: it may decline, but what it accepts must be right
//	general    Parser.parseGeneral alone
//	quoted     the row with its brand quoted: the RFC 4180 path
//	rows       RowIter (stage 1 + fastAt, ParseRow for what it declines), twice in a row
//	fastAt     Parser.fastAt alone, like fast
//	parseNext  LineIter.ParseNext
//	mapped     a header with price and user_id swapped, and the row so written
func eachPath(t *testing.T, row pathRow, setup func(*Parser), want Reason, wantTime, wantPrice int64) {
	t.Helper()
	line := testrows.Row(row...)
	quoted := append(pathRow(nil), row...)
	quoted[5] = `"` + quoted[5] + `"`
	swapped := append(pathRow(nil), row...)
	swapped[6], swapped[7] = swapped[7], swapped[6]
	hcols := Columns
	hcols[6], hcols[7] = hcols[7], hcols[6]
	h, err := ParseHeader([]byte(strings.Join(hcols[:], ",")))
	if err != nil || h == nil || h.Canonical() {
		t.Fatalf("swapped header: %v, %v", h, err)
	}
	for _, mode := range []struct{ full, viewUser bool }{{false, false}, {false, true}, {true, false}} {
		full := mode.full
		newParser := func() *Parser {
			p := &Parser{ViewUser: mode.viewUser}
			setup(p)
			return p
		}
		check := func(path string, r Reason, ev *event.Event, declined bool) {
			t.Helper()
			if declined {
				return
			}
			if r != want {
				t.Fatalf("%s %+v: %q: %v, want %v", path, mode, line, r, want)
			}
			if r != ReasonOK {
				return
			}
			if ev.Time != wantTime {
				t.Fatalf("%s %+v: %q: time %d, want %d", path, mode, line, ev.Time, wantTime)
			}
			if (full || ev.Type != event.EventView) && ev.PriceCents != wantPrice {
				t.Fatalf("%s %+v: %q: price %d, want %d", path, mode, line, ev.PriceCents, wantPrice)
			}
		}
		var ev event.Event
		check("ParseRow", newParser().ParseRow([]byte(line), &ev, full), &ev, false)
		ev = event.Event{}
		end, ok := newParser().fast([]byte(line), &ev, full)
		check("fast", ReasonOK, &ev, !ok || end != len(line))
		ev = event.Event{}
		check("general", newParser().parseGeneral([]byte(line), &ev, full), &ev, false)
		ev = event.Event{}
		check("quoted", newParser().ParseRow([]byte(testrows.Row(quoted...)), &ev, full), &ev, false)

		data := []byte(line + "\n" + line + "\n")
		p := newParser()
		it := p.Rows(data)
		for k := 0; k < 2; k++ {
			ev = event.Event{}
			r, ok := it.Next(&ev, full)
			if !ok {
				t.Fatalf("rows: no row %d", k)
			}
			check("rows", r, &ev, false)
		}
		ev = event.Event{}
		mask := scanned(data)
		end, ok = newParser().fastAt(data, mask, 0, &ev, full)
		check("fastAt", ReasonOK, &ev, !ok || end != len(line))

		lit := Lines(data)
		p = newParser()
		for k := 0; k < 2; k++ {
			ev = event.Event{}
			r, ok := lit.ParseNext(p, &ev, full)
			if !ok {
				t.Fatalf("parseNext: no row %d", k)
			}
			check("parseNext", r, &ev, false)
		}

		p = newParser()
		p.Header = h
		ev = event.Event{}
		check("mapped", p.ParseRow([]byte(testrows.Row(swapped...)), &ev, full), &ev, false)
		it = p.Rows([]byte(testrows.Row(swapped...) + "\n"))
		ev = event.Event{}
		r, _ := it.Next(&ev, full)
		check("mapped rows", r, &ev, false)
	}
}

// TestMaxTime: a row later than Parser.MaxTime is ReasonFuture on every
// path; MaxTime itself is fine; 0 means no limit.
func TestMaxTime(t *testing.T) {
	const at = 1572566414 // 2019-11-01 00:00:14 UTC, testrows.Good's time
	for _, typ := range []string{"view", "cart"} {
		for _, tm := range []string{"2019-11-01 00:00:14 UTC", "2019-11-01T00:00:14Z", "2019-11-01T01:00:14.5+01:00"} {
			row := pathRow(append([]string(nil), testrows.Good...))
			row[0], row[1] = tm, typ
			name := fmt.Sprintf("%s/%s", typ, tm)
			t.Run(name, func(t *testing.T) {
				limit := func(max int64) func(*Parser) { return func(p *Parser) { p.MaxTime = max } }
				eachPath(t, row, limit(at), ReasonOK, at, 12345)
				eachPath(t, row, limit(at-1), ReasonFuture, 0, 0)
				eachPath(t, row, limit(0), ReasonOK, at, 12345)
				eachPath(t, row, limit(1), ReasonFuture, 0, 0)
			})
		}
	}
	// A far-future row is malformed, not only one a second late.
	row := pathRow(append([]string(nil), testrows.Good...))
	row[0] = "9999-01-01 00:00:00 UTC"
	eachPath(t, row, func(p *Parser) { p.MaxTime = at + 86400 }, ReasonFuture, 0, 0)
	// A bad time stays ReasonTime.
	row[0] = "2019-11-01 00:00:61 UTC"
	eachPath(t, row, func(p *Parser) { p.MaxTime = at }, ReasonTime, 0, 0)
}

// TestMaxTimeCache: the date cache never lets a row through that the limit
// in force rejects: a time accepted (and cached) under one MaxTime is
// checked again when MaxTime changes, and a rejected time is not cached.
func TestMaxTimeCache(t *testing.T) {
	const at = 1572566414
	line := []byte(testrows.Row(testrows.Good...))
	data := append(append([]byte(nil), line...), '\n')
	var p Parser
	var ev event.Event
	steps := []struct {
		max  int64
		want Reason
	}{{0, ReasonOK}, {at, ReasonOK}, {at - 1, ReasonFuture}, {at - 1, ReasonFuture}, {at, ReasonOK}, {0, ReasonOK}, {at - 1, ReasonFuture}}
	for i, s := range steps {
		p.MaxTime = s.max
		if r := p.ParseRow(line, &ev, true); r != s.want {
			t.Fatalf("step %d ParseRow MaxTime %d: %v, want %v", i, s.max, r, s.want)
		}
		it := p.Rows(data)
		if r, _ := it.Next(&ev, false); r != s.want {
			t.Fatalf("step %d RowIter MaxTime %d: %v, want %v", i, s.max, r, s.want)
		}
	}
}

// TestPriceLimit: 10000000000.00 is the highest price; a cent more is
// ReasonPriceRange on every path.
func TestPriceLimit(t *testing.T) {
	const at = 1572566414
	for _, typ := range []string{"view", "cart", "purchase"} {
		for _, c := range []struct {
			price string
			want  Reason
			cents int64
		}{
			{"10000000000.00", ReasonOK, MaxPriceCents},
			{"10000000000", ReasonOK, MaxPriceCents},
			{"10000000000.0", ReasonOK, MaxPriceCents},
			{"9999999999.99", ReasonOK, MaxPriceCents - 1},
			{"9999999999", ReasonOK, MaxPriceCents - 100},
			{"010000000000.00", ReasonOK, MaxPriceCents},
			{"10000000000.01", ReasonPriceRange, 0},
			{"10000000000.1", ReasonPriceRange, 0},
			{"10000000001", ReasonPriceRange, 0},
			{"50000000000000000.00", ReasonPriceRange, 0},
			{"92233720368547758.08", ReasonPriceRange, 0},
			{"99999999999999999999999999", ReasonPriceRange, 0},
			{"10000000000.001", ReasonPrice, 0},
		} {
			row := pathRow(append([]string(nil), testrows.Good...))
			row[1], row[6] = typ, c.price
			t.Run(typ+"/"+c.price, func(t *testing.T) {
				eachPath(t, row, func(*Parser) {}, c.want, at, c.cents)
			})
		}
	}
}

// TestQuoteStaysOnItsLine: one line is one record. A quote opened and not
// closed makes only its own line malformed; the next line, even one that
// closes the quote, is a row of its own.
func TestQuoteStaysOnItsLine(t *testing.T) {
	good := testrows.Row(testrows.Good...)
	data := []byte(testrows.With(4, `"electronics`) + "\n" + // opens a quote
		good + "\n" +
		testrows.With(5, `"acme`) + "\n" + // opens another
		`gadget",acme,1,2,3,4,5,6,7` + "\n" + // would close it, as the next line of one record
		good + "\n")
	want := []Reason{ReasonQuote, ReasonOK, ReasonQuote, ReasonQuote, ReasonOK}
	var p Parser
	it := p.Rows(data)
	for i, w := range want {
		var ev event.Event
		r, ok := it.Next(&ev, true)
		if !ok || r != w || it.Index() != i {
			t.Fatalf("RowIter line %d: %v, %v (index %d), want %v", i+1, r, ok, it.Index(), w)
		}
		if r == ReasonOK && ev.UserID != 500000001 {
			t.Fatalf("RowIter line %d: %+v", i+1, ev)
		}
	}
	if _, ok := it.Next(new(event.Event), true); ok || it.Count() != len(want) {
		t.Fatalf("RowIter: more than %d lines (count %d)", len(want), it.Count())
	}
	li := Lines(data)
	for i, w := range want {
		var ev event.Event
		r, ok := li.ParseNext(&p, &ev, true)
		if !ok || r != w || li.Index() != i {
			t.Fatalf("LineIter line %d: %v, %v, want %v", i+1, r, ok, w)
		}
	}
}
