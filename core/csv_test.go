package core

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// row builds a synthetic 2019-Nov line from its nine fields.
func row(fields ...string) string { return strings.Join(fields, ",") }

// good is a valid synthetic cart row; tests derive bad rows from it.
var good = []string{"2019-11-01 00:00:14 UTC", "cart", "1234567", "2000000000000000001",
	"electronics.gadget", "acme", "123.45", "500000001", "00000000-1111-2222-3333-444444444444"}

// with returns good with field i replaced by v.
func with(i int, v string) string {
	f := append([]string(nil), good...)
	f[i] = v
	return row(f...)
}

func TestParseRowOK(t *testing.T) {
	f := func(line string, full bool, want Event) {
		t.Helper()
		var p Parser
		var ev Event
		if r := p.ParseRow([]byte(line), &ev, full); r != ReasonOK {
			t.Fatalf("ParseRow(%q) = %v, want ok", line, r)
		}
		if ev != want {
			t.Fatalf("ParseRow(%q)\n got %+v\nwant %+v", line, ev, want)
		}
	}
	cart := Event{Time: 1572566414, UserID: 500000001, ProductID: 1234567, CategoryID: 2000000000000000001,
		PriceCents: 12345, Type: EventCart}
	cart.SetSession([]byte(good[8]))
	f(row(good...), false, cart)
	f(row(good...)+"\r", false, cart) // CRLF
	f(row(good...), true, cart)

	// RFC 3339 times, with offset and fraction (floored).
	f(with(0, "2019-11-01T00:00:14Z"), false, cart)
	f(with(0, "2019-11-01T01:30:14+01:30"), false, cart)
	f(with(0, "2019-10-31T23:00:14-01:00"), false, cart)
	f(with(0, "2019-11-01T00:00:14.999999999999Z"), false, cart)

	// Prices.
	price := func(s string, cents int64) {
		t.Helper()
		e := cart
		e.PriceCents = cents
		f(with(6, s), false, e)
	}
	price("0", 0)
	price("5.1", 510)
	price("1000", 100000)
	price("489.07", 48907)
	price("007.50", 750)
	price("92233720368547758.07", 1<<63-1)

	// Event types.
	typ := func(s string, want EventType) {
		t.Helper()
		e := cart
		e.Type = want
		f(with(1, s), true, e)
	}
	typ("purchase", EventPurchase)
	typ("remove_from_cart", EventOther)
	typ("View", EventOther)

	// Ids: leading zeros, the 64-bit edge.
	e := cart
	e.UserID = 1<<64 - 1
	f(with(7, "18446744073709551615"), false, e)
	e = cart
	e.ProductID = 7
	f(with(2, "0007"), false, e)

	// category_id never rejects.
	e = cart
	e.CategoryID = 0
	f(with(3, ""), false, e)
	f(with(3, "x12"), false, e)
	f(with(3, "18446744073709551616"), false, e)

	// Empty user_session (10 rows of the real month have one).
	e = cart
	e.Session = [SessionMax]byte{}
	e.SetSession(nil)
	f(with(8, ""), false, e)

	// A view with full=false stores Time and Type only, and UserID with
	// ViewUser.
	view := Event{Time: 1572566414, Type: EventView}
	f(with(1, "view"), false, view)
	vp := Parser{ViewUser: true}
	var vev Event
	if r := vp.ParseRow([]byte(with(1, "view")), &vev, false); r != ReasonOK || vev != (Event{Time: 1572566414, UserID: 500000001, Type: EventView}) {
		t.Fatalf("ParseRow with ViewUser = %v, %+v", r, vev)
	}
	full := cart
	full.Type = EventView
	f(with(1, "view"), true, full)

	// Quoted fields (RFC 4180).
	f(`"2019-11-01 00:00:14 UTC","cart","1234567",2000000000000000001,"electronics.gadget","acme","123.45","500000001","`+good[8]+`"`, false, cart)
	f(with(4, `"a,b ""c"""`), false, cart)
	f(with(5, `""`), false, cart)
	e = cart
	e.Session = [SessionMax]byte{}
	e.SetSession([]byte(`x"y,z`))
	f(with(8, `"x""y,z"`), false, e)
	f(with(8, `"x""y,z"`)+"\r", false, e)
}

func TestParseRowMalformed(t *testing.T) {
	f := func(line string, want Reason) {
		t.Helper()
		var p Parser
		var ev Event
		for _, full := range []bool{false, true} {
			if r := p.ParseRow([]byte(line), &ev, full); r != want {
				t.Fatalf("ParseRow(%q, full=%v) = %v (%d), want %v (%d)", line, full, r, r, want, want)
			}
		}
	}
	// Field count.
	f("", fieldCount(1))
	f("a,b,c,d,e,f,g", fieldCount(7))
	f(row(good[:8]...), fieldCount(8))
	f(row(good...)+",", fieldCount(10))
	f(row(good...)+",x,y", fieldCount(11))
	f(`"a,b",c`, fieldCount(2))
	f(row(good...)+`,"x"`, fieldCount(10))

	// Quoting.
	f(with(4, `"abc`), ReasonQuote)
	f(with(4, `"abc"d`), ReasonQuote)
	f(with(4, `ab"c`), ReasonQuote)
	f(with(8, `"abc`), ReasonQuote)
	f(with(8, `abc"`), ReasonQuote)

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
		f(with(0, s), ReasonTime)
	}
	f(with(1, ""), ReasonEventType)
	for _, s := range []string{"", "-1", "+1", "1.0", " 1", "1 ", "abc", "18446744073709551616", "99999999999999999999"} {
		f(with(2, s), ReasonProductID)
		f(with(7, s), ReasonUserID)
	}
	for _, s := range []string{"", "-5.00", "abc", "1.234", ".5", "5.", "+5", "1e3", " 5", "5 ", "5,0",
		"1..2", "1.2.3", "92233720368547758.08", "92233720368547759", "99999999999999999999999"} {
		if strings.Contains(s, ",") {
			continue
		}
		f(with(6, s), ReasonPrice)
	}
	// The first bad field in column order is the one reported.
	f(row("x", "", "x", "x", "", "", "x", "x", ""), ReasonTime)
	f(row(good[0], "", "x", "x", "", "", "x", "x", ""), ReasonEventType)
}

func TestParseRowLineTooLong(t *testing.T) {
	p := Parser{MaxLine: 100}
	var ev Event
	long := with(4, strings.Repeat("a", 100))
	if r := p.ParseRow([]byte(long), &ev, true); r != ReasonLineTooLong {
		t.Fatalf("ParseRow(%d bytes, MaxLine 100) = %v, want %v", len(long), r, ReasonLineTooLong)
	}
	var def Parser
	if r := def.ParseRow([]byte(long), &ev, true); r != ReasonOK {
		t.Fatalf("ParseRow(%d bytes, default MaxLine) = %v, want ok", len(long), r)
	}
	huge := []byte(with(4, strings.Repeat("a", DefaultMaxLine)))
	if r := def.ParseRow(huge, &ev, true); r != ReasonLineTooLong {
		t.Fatalf("ParseRow(%d bytes) = %v, want %v", len(huge), r, ReasonLineTooLong)
	}
}

func TestParseRowSessionTruncated(t *testing.T) {
	var p Parser
	var ev Event
	s := strings.Repeat("s", SessionMax+4)
	if r := p.ParseRow([]byte(with(8, s)), &ev, false); r != ReasonOK {
		t.Fatalf("got %v", r)
	}
	if string(ev.SessionBytes()) != s[:SessionMax] || p.Truncated != 1 {
		t.Fatalf("session %q, Truncated %d; want %q, 1", ev.SessionBytes(), p.Truncated, s[:SessionMax])
	}
	// A view with full=false does not store the session, so nothing is truncated.
	f := append([]string(nil), good...)
	f[1], f[8] = "view", s
	if r := p.ParseRow([]byte(row(f...)), &ev, false); r != ReasonOK || p.Truncated != 1 {
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
	f(fieldCount(1<<30), "9 fields expected, got 16777215")
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

// samplePath is the real 10,000-row sample, relative to this package.
var samplePath = filepath.Join("..", "..", "shared", "data", "events_sample_nov.csv")

// openSample opens the real sample or skips (fails under CI=true).
func openSample(t testing.TB) *os.File {
	t.Helper()
	fh, err := os.Open(samplePath)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("real sample missing under CI: %v", err)
		}
		t.Skipf("real sample not available (%v); skipping", err)
	}
	return fh
}

func TestParseRowRealSample(t *testing.T) {
	fh := openSample(t)
	defer fh.Close()
	var p Parser
	var ev Event
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
	if rows != 10000 || bad != 0 || types[EventView] != 9805 || types[EventCart] != 93 || types[EventPurchase] != 102 || p.Truncated != 0 {
		t.Fatalf("rows %d malformed %d view/cart/purchase %d/%d/%d truncated %d; want 10000 0 9805/93/102 0",
			rows, bad, types[EventView], types[EventCart], types[EventPurchase], p.Truncated)
	}
}

// syntheticRows returns n made-up rows shaped like the 2019-Nov file (one
// second every ~26 rows, 94.15/4.49/1.36 % view/cart/purchase, 19-digit
// category ids, a third of category_code and an eighth of brand empty,
// 36-byte sessions: ~130 bytes a line), and the number of views.
func syntheticRows(n int) ([]byte, int) {
	rng := rand.New(rand.NewSource(1))
	codes := []string{"electronics.gadget", "", "appliances.kitchen.thing", "computers.box", "", "electronics.screen", "apparel.socks"}
	brands := []string{"acme", "globex", "initech", "", "hooli", "umbrella", "vandelay"}
	var b []byte
	t := int64(1572566400)
	views := 0
	for i := 0; i < n; i++ {
		if rng.Intn(26) == 0 {
			t++
		}
		typ := "view"
		switch x := rng.Intn(10000); {
		case x < 449:
			typ = "cart"
		case x < 449+136:
			typ = "purchase"
		default:
			views++
		}
		b = time.Unix(t, 0).UTC().AppendFormat(b, "2006-01-02 15:04:05 UTC")
		b = fmt.Appendf(b, ",%s,%d,%d,%s,%s,%d.%02d,%d,%08x-%04x-%04x-%04x-%012x\n", typ,
			1000000+rng.Intn(60000000), 2000000000000000000+rng.Int63n(1e12), codes[rng.Intn(len(codes))],
			brands[rng.Intn(len(brands))], rng.Intn(2500), rng.Intn(100), 400000000+rng.Intn(180000000),
			rng.Uint32(), rng.Intn(1<<16), rng.Intn(1<<16), rng.Intn(1<<16), rng.Int63n(1<<48))
	}
	return b, views
}

// splitLines returns the lines of b without their '\n'.
func splitLines(b []byte) [][]byte {
	lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	return lines
}

func TestParseRowZeroAlloc(t *testing.T) {
	data, _ := syntheticRows(1000)
	lines := splitLines(data)
	quoted := []byte(with(4, `"a,b ""c"""`))
	var p Parser
	var ev Event
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
	data, _ := syntheticRows(1 << 16)
	lines := splitLines(data)
	for _, full := range []bool{false, true} {
		for _, path := range []string{"scan", "split"} {
			b.Run(fmt.Sprintf("full=%v/path=%s", full, path), func(b *testing.B) {
				var p Parser
				var ev Event
				parse := p.ParseRow
				if path == "split" {
					parse = p.parseGeneral
				}

				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				cpu := startCPU()
				for b.Loop() {
					for _, l := range lines {
						if parse(l, &ev, full) != ReasonOK {
							b.Fatal("malformed synthetic row")
						}
					}
				}
				cpu.report(b, len(lines), len(data))
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
		var ev Event
		b.ReportAllocs()
		b.SetBytes(int64(len(q)))
		cpu := startCPU()
		for b.Loop() {
			for _, l := range ql {
				if p.ParseRow(l, &ev, true) != ReasonOK {
					b.Fatal("malformed quoted row")
				}
			}
		}
		cpu.report(b, len(ql), len(q))
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
		cpu := startCPU()
		for b.Loop() {
			_, i, _ := uintField(line, 0)
			_, i, _ = uintField(line, i)
			uintField(line, i)
		}
		cpu.report(b, 1, 0)
	})
	b.Run("impl=swar", func(b *testing.B) {
		cpu := startCPU()
		for b.Loop() {
			_, i, _ := uintFieldSWAR(line, 0)
			_, i, _ = uintFieldSWAR(line, i)
			uintFieldSWAR(line, i)
		}
		cpu.report(b, 1, 0)
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

// cpuMeter reports a benchmark's CPU time beside its wall time. The machine
// is shared, and under its load wall-clock ns/op swings by 2-5x between runs
// while the CPU time of the benchmark's own thread barely moves.
type cpuMeter struct{ start time.Duration }

// threadCPU returns the CPU time used by the calling OS thread (Linux).
func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startCPU pins the goroutine to its thread and starts measuring.
func startCPU() cpuMeter {
	runtime.LockOSThread()
	return cpuMeter{threadCPU()}
}

// report adds cpu-ns/row and cpu-MB/s for rows rows and bytes bytes per op.
func (m cpuMeter) report(b *testing.B, rows, bytes int) {
	cpu := float64(threadCPU() - m.start)
	runtime.UnlockOSThread()
	b.ReportMetric(cpu/float64(b.N)/float64(rows), "cpu-ns/row")
	if bytes > 0 {
		b.ReportMetric(float64(bytes)*float64(b.N)/cpu*1e3, "cpu-MB/s")
	}
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
