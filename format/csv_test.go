package format

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/internal/testrows"
)

// row builds a synthetic 2019-Nov line from its nine fields.
func TestParseRowOK(t *testing.T) {
	f := func(line string, full bool, want event.Event) {
		t.Helper()
		var p Parser
		var ev event.Event
		if r := p.ParseRow([]byte(line), &ev, full); r != ReasonOK {
			t.Fatalf("ParseRow(%q) = %v, want ok", line, r)
		}
		if ev != want {
			t.Fatalf("ParseRow(%q)\n got %+v\nwant %+v", line, ev, want)
		}
	}
	cart := event.Event{Time: 1572566414, UserID: 500000001, ProductID: 1234567, CategoryID: 2000000000000000001,
		PriceCents: 12345, Type: event.EventCart}
	cart.SetSession([]byte(testrows.Good[8]))
	cart.SetCategory([]byte(testrows.Good[4]))
	f(testrows.Row(testrows.Good...), false, cart)
	f(testrows.Row(testrows.Good...)+"\r", false, cart) // CRLF
	f(testrows.Row(testrows.Good...), true, cart)

	// RFC 3339 times, with offset and fraction (floored).
	f(testrows.With(0, "2019-11-01T00:00:14Z"), false, cart)
	f(testrows.With(0, "2019-11-01T01:30:14+01:30"), false, cart)
	f(testrows.With(0, "2019-10-31T23:00:14-01:00"), false, cart)
	f(testrows.With(0, "2019-11-01T00:00:14.999999999999Z"), false, cart)

	// Prices.
	price := func(s string, cents int64) {
		t.Helper()
		e := cart
		e.PriceCents = cents
		f(testrows.With(6, s), false, e)
	}
	price("0", 0)
	price("5.1", 510)
	price("1000", 100000)
	price("489.07", 48907)
	price("007.50", 750)
	// The limit, 10^10 base units, on the fast path (up to 10 digits
	// before the '.') and the general one (more).
	price("9999999999.99", MaxPriceCents-1)
	price("10000000000.00", MaxPriceCents)
	price("10000000000", MaxPriceCents)
	price("0000000000010000000000.0", MaxPriceCents)

	// Event types.
	typ := func(s string, want event.EventType) {
		t.Helper()
		e := cart
		e.Type = want
		f(testrows.With(1, s), true, e)
	}
	typ("purchase", event.EventPurchase)
	typ("remove_from_cart", event.EventOther)
	typ("View", event.EventOther)

	// Ids: leading zeros, the 64-bit edge.
	e := cart
	e.UserID = 1<<64 - 1
	f(testrows.With(7, "18446744073709551615"), false, e)
	e = cart
	e.ProductID = 7
	f(testrows.With(2, "0007"), false, e)

	// category_id never rejects.
	e = cart
	e.CategoryID = 0
	f(testrows.With(3, ""), false, e)
	f(testrows.With(3, "x12"), false, e)
	f(testrows.With(3, "18446744073709551616"), false, e)

	// Empty user_session (10 rows of the real month have one).
	e = cart
	e.Session = [event.SessionMax]byte{}
	e.SetSession(nil)
	f(testrows.With(8, ""), false, e)

	// A view with full=false stores Time and Type only, and UserID with
	// ViewUser.
	view := event.Event{Time: 1572566414, Type: event.EventView}
	f(testrows.With(1, "view"), false, view)
	vp := Parser{ViewUser: true}
	var vev event.Event
	if r := vp.ParseRow([]byte(testrows.With(1, "view")), &vev, false); r != ReasonOK || vev != (event.Event{Time: 1572566414, UserID: 500000001, Type: event.EventView}) {
		t.Fatalf("ParseRow with ViewUser = %v, %+v", r, vev)
	}
	full := cart
	full.Type = event.EventView
	f(testrows.With(1, "view"), true, full)

	// Quoted fields (RFC 4180).
	f(`"2019-11-01 00:00:14 UTC","cart","1234567",2000000000000000001,"electronics.gadget","acme","123.45","500000001","`+testrows.Good[8]+`"`, false, cart)
	quoted := cart
	quoted.SetCategory([]byte(`a,b "c"`))
	f(testrows.With(4, `"a,b ""c"""`), false, quoted)
	f(testrows.With(5, `""`), false, cart)
	e = cart
	e.Session = [event.SessionMax]byte{}
	e.SetSession([]byte(`x"y,z`))
	f(testrows.With(8, `"x""y,z"`), false, e)
	f(testrows.With(8, `"x""y,z"`)+"\r", false, e)
}

func TestParseRowMalformed(t *testing.T) {
	f := func(line string, want Reason) {
		t.Helper()
		var p Parser
		var ev event.Event
		for _, full := range []bool{false, true} {
			if r := p.ParseRow([]byte(line), &ev, full); r != want {
				t.Fatalf("ParseRow(%q, full=%v) = %v (%d), want %v (%d)", line, full, r, r, want, want)
			}
		}
	}
	// Field count.
	f("", fieldCount(1))
	f("a,b,c,d,e,f,g", fieldCount(7))
	f(testrows.Row(testrows.Good[:8]...), fieldCount(8))
	f(testrows.Row(testrows.Good...)+",", fieldCount(10))
	f(testrows.Row(testrows.Good...)+",x,y", fieldCount(11))
	f(`"a,b",c`, fieldCount(2))
	f(testrows.Row(testrows.Good...)+`,"x"`, fieldCount(10))

	// Quoting.
	f(testrows.With(4, `"abc`), ReasonQuote)
	f(testrows.With(4, `"abc"d`), ReasonQuote)
	f(testrows.With(4, `ab"c`), ReasonQuote)
	f(testrows.With(8, `"abc`), ReasonQuote)
	f(testrows.With(8, `abc"`), ReasonQuote)

	// Time.
	for _, s := range []string{"", "2019-11-01", "2019-11-01 00:00:14", "2019-11-01 00:00:14 utc",
		"2019-11-01 00:00:14 GMT", "2019-11-01 24:00:00 UTC", "2019-11-01 00:60:00 UTC",
		"2019-11-01 00:00:60 UTC", "2019-11-31 00:00:00 UTC", "2019-02-29 00:00:00 UTC",
		"2019-13-01 00:00:00 UTC", "2019-00-01 00:00:00 UTC", "2019-11-00 00:00:00 UTC",
		"2019-11-01 0:00:14 UTC", "2019/11/01 00:00:14 UTC", "2019-11-01 00:00:14.5 UTC",
		"2019-11-01t00:00:14Z", "2019-11-01T00:00:14z", "2019-11-01T00:00:14", "2019-11-01T00:00:14.Z",
		`"2019-11-01T00:00:14,5Z"`, "2019-11-01T00:00:14+24:00", "2019-11-01T00:00:14+01:60",
		"2019-11-01T00:00:14+0100", "2019-11-01T00:00:14 Z", " 2019-11-01 00:00:14 UTC",
		"2019-11-01 00:00:14 UTC ", "x019-11-01 00:00:14 UTC", "2019-11-01 00:0a:14 UTC"} {
		f(testrows.With(0, s), ReasonTime)
	}
	f(testrows.With(1, ""), ReasonEventType)
	for _, s := range []string{"", "-1", "+1", "1.0", " 1", "1 ", "abc", "18446744073709551616", "99999999999999999999"} {
		f(testrows.With(2, s), ReasonProductID)
		f(testrows.With(7, s), ReasonUserID)
	}
	for _, s := range []string{"", "-5.00", "abc", "1.234", ".5", "5.", "+5", "1e3", " 5", "5 ", "5,0",
		"1..2", "1.2.3", "99999999999999999999999.999", "10000000000.001", "1e11"} {
		if strings.Contains(s, ",") {
			continue
		}
		f(testrows.With(6, s), ReasonPrice)
	}
	// Above 10^10 base units: written well, out of range.
	for _, s := range []string{"10000000000.01", "10000000000.1", "10000000001", "92233720368547758.07",
		"92233720368547758.08", "99999999999999999999999", "000010000000000.01"} {
		f(testrows.With(6, s), ReasonPriceRange)
	}
	// The first bad field in column order is the one reported.
	f(testrows.Row("x", "", "x", "x", "", "", "x", "x", ""), ReasonTime)
	f(testrows.Row(testrows.Good[0], "", "x", "x", "", "", "x", "x", ""), ReasonEventType)
}

func TestParseRowLineTooLong(t *testing.T) {
	p := Parser{MaxLine: 100}
	var ev event.Event
	long := testrows.With(4, strings.Repeat("a", 100))
	if r := p.ParseRow([]byte(long), &ev, true); r != ReasonLineTooLong {
		t.Fatalf("ParseRow(%d bytes, MaxLine 100) = %v, want %v", len(long), r, ReasonLineTooLong)
	}
	var def Parser
	if r := def.ParseRow([]byte(long), &ev, true); r != ReasonOK {
		t.Fatalf("ParseRow(%d bytes, default MaxLine) = %v, want ok", len(long), r)
	}
	huge := []byte(testrows.With(4, strings.Repeat("a", DefaultMaxLine)))
	if r := def.ParseRow(huge, &ev, true); r != ReasonLineTooLong {
		t.Fatalf("ParseRow(%d bytes) = %v, want %v", len(huge), r, ReasonLineTooLong)
	}
}

func TestParseRowSessionTruncated(t *testing.T) {
	var p Parser
	var ev event.Event
	s := strings.Repeat("s", event.SessionMax+4)
	if r := p.ParseRow([]byte(testrows.With(8, s)), &ev, false); r != ReasonOK {
		t.Fatalf("got %v", r)
	}
	if string(ev.SessionBytes()) != s[:event.SessionMax] || p.Truncated != 1 {
		t.Fatalf("session %q, Truncated %d; want %q, 1", ev.SessionBytes(), p.Truncated, s[:event.SessionMax])
	}
	// A view with full=false does not store the session, so nothing is truncated.
	f := append([]string(nil), testrows.Good...)
	f[1], f[8] = "view", s
	if r := p.ParseRow([]byte(testrows.Row(f...)), &ev, false); r != ReasonOK || p.Truncated != 1 {
		t.Fatalf("view: %v, Truncated %d; want ok, 1", r, p.Truncated)
	}
}

func TestReasonString(t *testing.T) {
	f := func(r Reason, want string) {
		t.Helper()
		if got := r.String(); got != want {
			t.Fatalf("%d.String() = %q, want %q", r, got, want)
		}
	}
	f(ReasonOK, "ok")
	f(fieldCount(7), "9 fields expected, got 7")
	f(fieldCount(1<<30), "9 fields expected, got 4095 or more")
	f(fieldCountWant(9, 10), "10 fields expected, got 9")
	f(fieldCountWant(12, 4095), "4095 fields expected, got 12")
	f(ReasonFuture, "event_time is in the future (later than now + --max-future)")
	f(ReasonPriceRange, "price above 10,000,000,000")
	f(ReasonPrice, "price is not a non-negative decimal with at most 2 decimals")
	for r := ReasonOK; r < NumReasons; r++ {
		if s := r.String(); s == "" || strings.HasPrefix(s, "unknown") {
			t.Fatalf("reason %d has no text", r)
		}
		if r.Kind() != r {
			t.Fatalf("reason %d: Kind %d", r, r.Kind())
		}
	}
	if fieldCount(7).Kind() != ReasonFieldCount || fieldCount(7).Fields() != 7 || ReasonPrice.Fields() != 0 {
		t.Fatal("Kind/Fields do not round-trip")
	}
	if r := fieldCountWant(4000, 4095); r.Kind() != ReasonFieldCount || r.Fields() != 4000 || r.FieldsWanted() != 4095 || ReasonPrice.FieldsWanted() != 0 {
		t.Fatal("Kind/Fields/FieldsWanted do not round-trip")
	}
	// Without a header the value is what it was before FieldsWanted.
	if fieldCount(7) != ReasonFieldCount|7<<8 || fieldCount(7).FieldsWanted() != NumFields {
		t.Fatalf("fieldCount(7) = %#x", uint32(fieldCount(7)))
	}
}

func TestParseTimeDays(t *testing.T) {
	// The arithmetic day count against package time over every day of
	// four centuries, leap rules included, and a few far dates.
	for y := 1800; y <= 2200; y++ {
		for m := 1; m <= 12; m++ {
			for d := 1; d <= daysIn(y, m); d++ {
				s := fmt.Sprintf("%04d-%02d-%02dT12:34:56Z", y, m, d)
				got, ok := ParseTime([]byte(s))
				if want := refTime(t, s); !ok || got != want {
					t.Fatalf("ParseTime(%q) = %d, %v; want %d", s, got, ok, want)
				}
			}
		}
	}
	for _, s := range []string{"0000-01-01T00:00:00Z", "0000-03-01 00:00:00 UTC", "9999-12-31T23:59:59Z", "1969-12-31 23:59:59 UTC", "2000-02-29 00:00:00 UTC"} {
		got, ok := ParseTime([]byte(s))
		if want := refTime(t, s); !ok || got != want {
			t.Fatalf("ParseTime(%q) = %d, %v; want %d", s, got, ok, want)
		}
	}
}

func refTime(t *testing.T, s string) int64 {
	t.Helper()
	v, ok := refParseTime(s)
	if !ok {
		t.Fatalf("reference rejects %q", s)
	}
	return v
}

func TestParseRowRealSample(t *testing.T) {
	fh := testrows.OpenSample(t)
	defer fh.Close()
	var p Parser
	var ev event.Event
	sc := bufio.NewScanner(fh)
	var rows, bad int
	var types [4]int
	for n := 1; sc.Scan(); n++ {
		if n == 1 && strings.HasPrefix(sc.Text(), "event_time,") {
			continue
		}
		rows++
		r := p.ParseRow(sc.Bytes(), &ev, true)
		if r != ReasonOK {
			bad++
			t.Errorf("line %d: %v", n, r)
			continue
		}
		types[ev.Type]++
		// Cross-check every row against the reference parser.
		want, ok := refParseRow(sc.Text())
		if !ok || want != ev {
			t.Fatalf("line %d: fast %+v, reference %+v (ok %v)", n, ev, want, ok)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if rows != 10000 || bad != 0 || types[event.EventView] != 9805 || types[event.EventCart] != 93 || types[event.EventPurchase] != 102 || p.Truncated != 0 {
		t.Fatalf("rows %d malformed %d view/cart/purchase %d/%d/%d truncated %d; want 10000 0 9805/93/102 0",
			rows, bad, types[event.EventView], types[event.EventCart], types[event.EventPurchase], p.Truncated)
	}
}

// splitLines returns the lines of b without their '\n'.
func splitLines(b []byte) [][]byte {
	lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	return lines
}

func TestParseRowZeroAlloc(t *testing.T) {
	data, _ := testrows.SyntheticRows(1000)
	lines := splitLines(data)
	quoted := []byte(testrows.With(4, `"a,b ""c"""`))
	var p Parser
	var ev event.Event
	for _, full := range []bool{false, true} {
		i := 0
		allocs := testing.AllocsPerRun(10000, func() {
			if p.ParseRow(lines[i%len(lines)], &ev, full) != ReasonOK {
				t.Fatal("malformed synthetic row")
			}
			i++
		})
		if allocs != 0 {
			t.Fatalf("full=%v: %v allocs per row", full, allocs)
		}
	}
	p.ParseRow(quoted, &ev, true) // grows the scratch buffer once
	if allocs := testing.AllocsPerRun(1000, func() { p.ParseRow(quoted, &ev, true) }); allocs != 0 {
		t.Fatalf("quoted row: %v allocs per row", allocs)
	}
}

// BenchmarkParseRow measures the row parser on synthetic 2019-Nov lines
// (about 130 bytes each); MB/s counts line bytes, ns/row is per line. path=scan
// is ParseRow (the one-pass fast path); path=split is the baseline it
// replaced, the bytes.IndexByte field split that malformed or unusual rows
// still take. Expect 0 allocs/op. Compare the two with
//
//	go test -run XXX -bench BenchmarkParseRow -count 10 ./core/ > parse.txt
//	benchstat -col /path parse.txt
func BenchmarkParseRow(b *testing.B) {
	data, _ := testrows.SyntheticRows(1 << 16)
	lines := splitLines(data)
	for _, full := range []bool{false, true} {
		for _, path := range []string{"scan", "split"} {
			b.Run(fmt.Sprintf("full=%v/path=%s", full, path), func(b *testing.B) {
				var p Parser
				var ev event.Event
				parse := p.ParseRow
				if path == "split" {
					parse = p.parseGeneral
				}

				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				cpu := testrows.StartCPU()
				for b.Loop() {
					for _, l := range lines {
						if parse(l, &ev, full) != ReasonOK {
							b.Fatal("malformed synthetic row")
						}
					}
				}
				cpu.Report(b, len(lines), len(data))
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(lines)), "ns/row")
			})
		}
	}
	b.Run("quoted", func(b *testing.B) {
		// Every field quoted: the slow RFC 4180 path.
		var q []byte
		for _, l := range lines[:4096] {
			q = append(q, '"')
			q = append(q, bytes.ReplaceAll(l, []byte(","), []byte(`","`))...)
			q = append(q, '"', '\n')
		}
		ql := splitLines(q)
		var p Parser
		var ev event.Event
		b.ReportAllocs()
		b.SetBytes(int64(len(q)))
		cpu := testrows.StartCPU()
		for b.Loop() {
			for _, l := range ql {
				if p.ParseRow(l, &ev, true) != ReasonOK {
					b.Fatal("malformed quoted row")
				}
			}
		}
		cpu.Report(b, len(ql), len(q))
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(ql)), "ns/row")
	})
}

func TestUintField(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for k := 0; k < 200000; k++ {
		n := rng.Intn(23)
		digits := make([]byte, n)
		for i := range digits {
			digits[i] = byte('0' + rng.Intn(10))
		}
		pre := strings.Repeat("x", rng.Intn(9))
		term := []string{",", ",abcdefghijk", "", "a,", "/", ":", "\xff,"}[rng.Intn(7)]
		line := []byte(pre + string(digits) + term)
		want, err := strconv.ParseUint(string(digits), 10, 64)
		wantOK := err == nil && n <= 19 && strings.HasPrefix(term, ",")
		for _, f := range []func([]byte, int) (uint64, int, bool){uintField, uintFieldSWAR} {
			got, next, ok := f(line, len(pre))
			if ok != wantOK || (ok && (got != want || next != len(pre)+n+1)) {
				t.Fatalf("uintField(%q, %d) = %d, %d, %v; want %d, ok %v", line, len(pre), got, next, ok, want, wantOK)
			}
		}
	}
}

// BenchmarkUintField compares the eight-at-a-time digit parser with the
// byte loop on the id columns' widths (7, 19 and 9 digits).
//
//	go test -run XXX -bench BenchmarkUintField -count 10 ./core/
func BenchmarkUintField(b *testing.B) {
	line := []byte("1234567,2000000000000000001,500000001,00000000-1111-2222-3333")
	b.Run("impl=loop", func(b *testing.B) {
		cpu := testrows.StartCPU()
		for b.Loop() {
			_, i, _ := uintField(line, 0)
			_, i, _ = uintField(line, i)
			uintField(line, i)
		}
		cpu.Report(b, 1, 0)
	})
	b.Run("impl=swar", func(b *testing.B) {
		cpu := testrows.StartCPU()
		for b.Loop() {
			_, i, _ := uintFieldSWAR(line, 0)
			_, i, _ = uintFieldSWAR(line, i)
			uintFieldSWAR(line, i)
		}
		cpu.Report(b, 1, 0)
	})
}

// uintFieldSWAR is uintField taking eight digits at a time: the alternative
// BenchmarkUintField measures (and the reason uintField stays a loop).
func uintFieldSWAR(line []byte, i int) (uint64, int, bool) {
	start := i
	var x uint64
	for i+8 <= len(line) {
		n, v := swarDigits(binary.LittleEndian.Uint64(line[i:]))
		x = x*pow10[n] + v // wraps only past 19 digits, rejected below
		i += n
		if n < 8 {
			goto done
		}
	}
	for ; i < len(line); i++ {
		d := line[i] - '0'
		if d > 9 {
			break
		}
		x = x*10 + uint64(d)
	}
done:
	if n := i - start; n == 0 || n > 19 || i == len(line) || line[i] != ',' {
		return 0, start, false
	}
	return x, i + 1, true
}

var pow10 = [9]uint64{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000}

// swarDigits returns how many of the 8 bytes of w (first byte lowest) are
// leading ASCII digits, n, and their value.
func swarDigits(w uint64) (int, uint64) {
	// A byte is a digit iff its high nibble is 3 and stays 3 after adding
	// 6. A carry out of a non-digit lane can only disturb lanes above it,
	// and only the lowest non-digit lane is used.
	const hiNibbles = 0xF0F0F0F0F0F0F0F0
	const threes = 0x3030303030303030
	nd := (w&hiNibbles ^ threes) | ((w+0x0606060606060606)&hiNibbles ^ threes)
	n := bits.TrailingZeros64(nd) >> 3 // 8 if all digits
	// Keep the n digits, moved to the top lanes, so that the lanes below
	// read as leading zeros; then combine pairs, quads, and the two halves.
	v := (w - threes) << (64 - 8*uint(n)) // n == 0: Go shifts to 0
	v = (v*10 + v>>8) & 0x00FF00FF00FF00FF
	v = (v*100 + v>>16) & 0x0000FFFF0000FFFF
	v = (v*10000 + v>>32) & 0xFFFFFFFF
	return n, v
}

func TestDelim(t *testing.T) {
	// Bytes around the SWAR threshold (0x2D) in every lane position,
	// against a plain loop.
	alpha := []byte{',', '"', '\n', '\r', ' ', '+', '-', '.', '0', 'a', 0x00, 0x2B, 0x2E, 0x7F, 0x80, 0xAC, 0xAD, 0xFF}
	rng := rand.New(rand.NewSource(5))
	for k := 0; k < 200000; k++ {
		b := make([]byte, rng.Intn(40))
		for i := range b {
			if rng.Intn(3) == 0 {
				b[i] = alpha[rng.Intn(len(alpha))]
			} else {
				b[i] = 'a' + byte(rng.Intn(26))
			}
		}
		start := rng.Intn(len(b) + 1)
		want := start
		for want < len(b) && b[want] != ',' && b[want] != '"' && b[want] != '\n' {
			want++
		}
		if got := delim(b, start); got != want {
			t.Fatalf("delim(%q, %d) = %d, want %d", b, start, got, want)
		}
	}
}
