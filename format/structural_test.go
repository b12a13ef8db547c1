package format

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/internal/testrows"
)

// refMask is stage 1 byte by byte.
func refMask(data []byte) []uint64 {
	m := make([]uint64, (len(data)/64+1)*maskStride)
	for i, c := range data {
		k, bit := i/64*maskStride, uint64(1)<<(i%64)
		switch {
		case c == ',':
			m[k+maskC] |= bit
		case c < 0x2D:
			m[k+maskX] |= bit
		case c >= '0' && c <= '9':
			m[k+maskD] |= bit
		}
	}
	k, bit := len(data)/64*maskStride, uint64(1)<<(len(data)%64) // the sentinel
	m[k+maskC] |= bit
	m[k+maskX] |= bit
	return m
}

func checkScan(t *testing.T, data []byte) {
	t.Helper()
	want := refMask(data)
	got := make([]uint64, len(want))
	for k := range got {
		got[k] = 0xdeadbeef // must be overwritten
	}
	scanStructural(data, got)
	nb := len(data) / 64
	gen := make([]uint64, nb*maskStride)
	scanBlocksGeneric(data[:nb*64], gen)
	blk := make([]uint64, nb*maskStride)
	scanBlocks(data[:nb*64], blk)
	alts := make([][]uint64, len(altScans))
	for j, a := range altScans {
		alts[j] = make([]uint64, nb*maskStride)
		a.f(data[:nb*64], alts[j])
	}
	for k := range want {
		if got[k] != want[k] {
			t.Fatalf("len %d word %d: scanStructural %064b, want %064b", len(data), k, got[k], want[k])
		}
		if k < len(gen) && gen[k] != want[k] {
			t.Fatalf("len %d word %d: scanBlocksGeneric %064b, want %064b", len(data), k, gen[k], want[k])
		}
		if k < len(blk) && blk[k] != want[k] {
			t.Fatalf("len %d word %d: scanBlocks %064b, want %064b", len(data), k, blk[k], want[k])
		}
		for j, a := range altScans {
			if k < len(alts[j]) && alts[j][k] != want[k] {
				t.Fatalf("len %d word %d: %s %064b, want %064b", len(data), k, a.name, alts[j][k], want[k])
			}
		}
	}
}

// TestScanStructural holds the assembly stage 1 and the portable one to the
// byte-by-byte definition, on random bytes of every value and on bytes near
// the 0x2D limit, at every length and alignment up to a few blocks.
func TestScanStructural(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	buf := make([]byte, 1024)
	for k := 0; k < 3000; k++ {
		for i := range buf {
			switch rng.Intn(3) {
			case 0:
				buf[i] = byte(rng.Intn(256))
			case 1:
				buf[i] = byte(0x2A + rng.Intn(6)) // 0x2A-0x2F
			default:
				buf[i] = byte(0x7D + rng.Intn(6)) // 0x7D-0x82
			}
		}
		off := rng.Intn(64)
		checkScan(t, buf[off:off+rng.Intn(len(buf)-off)])
	}
}

// altScan is a stage-1 implementation other than the one scanBlocks uses.
type altScan struct {
	name string
	f    func(data []byte, mask []uint64)
}

// altScans lists the ones this build and CPU have (structural_amd64_test.go).
var altScans []altScan

// scanned returns the stage-1 bitmaps of data, with fastAt's slack.
func scanned(data []byte) []uint64 {
	m := make([]uint64, (len(data)>>6+3)*maskStride)
	scanStructural(data, m)
	return m
}

func FuzzStructural(f *testing.F) {
	f.Add([]byte("2019-11-01 00:00:14 UTC,view,1,2,,,0,3,x\n\x00\x2c\x2d\x7f\x80\xff"))
	f.Fuzz(func(t *testing.T, data []byte) { checkScan(t, data) })
}

func TestDigits(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for k := 0; k < 200000; k++ {
		n := rng.Intn(22)
		digits := make([]byte, n)
		for i := range digits {
			digits[i] = byte('0' + rng.Intn(10))
			if rng.Intn(40) == 0 {
				digits[i] = byte(rng.Intn(256))
			}
		}
		pre := strings.Repeat(",", 24+rng.Intn(90))
		data := []byte(pre + string(digits) + ",xyz")
		mask := scanned(data)
		want, err := strconv.ParseUint(string(digits), 10, 64)
		wantOK := err == nil && n <= 19 && digits[0] != '+' && !bytes.ContainsAny(digits, "_+-")
		if ok := digitRun(mask, len(pre), len(pre)+n); ok != wantOK {
			t.Fatalf("digitRun(%q) = %v; want %v", digits, ok, wantOK)
		}
		if _, ok := priceAt(data, len(pre), len(pre)+n); ok != priceRun(data, mask, len(pre), len(pre)+n) {
			t.Fatalf("priceRun(%q) = %v, priceAt %v", digits, !ok, ok)
		}
		got, ok := digitsAt(data, len(pre), len(pre)+n)
		if ok != wantOK || (ok && got != want) {
			t.Fatalf("digitsAt(%q) = %d, %v; want %d, %v", digits, got, ok, want, wantOK)
		}
		// priceAt takes what parsePrice takes with at most 10 digits
		// before the '.', and leaves the rest to it.
		wantP, r := parsePrice(digits)
		dot := bytes.IndexByte(digits, '.')
		wantPOK := r == ReasonOK && (dot < 0 && n <= 10 || dot >= 0 && dot <= 10)
		if gotP, ok := priceAt(data, len(pre), len(pre)+n); ok != wantPOK || (ok && gotP != wantP) {
			t.Fatalf("priceAt(%q) = %d, %v; want %d, %v", digits, gotP, ok, wantP, wantPOK)
		}
	}
	// Prices with a decimal point.
	for _, s := range []string{"0", "5.1", "1000", "489.07", "0.00", "12.5", "9999999999.99", "9999999999.9", "9999999999"} {
		data := []byte(strings.Repeat(",", 24) + s + ",")
		want, _ := parsePrice([]byte(s))
		if !priceRun(data, scanned(data), 24, 24+len(s)) {
			t.Fatalf("priceRun(%q) = false", s)
		}
		if got, ok := priceAt(data, 24, 24+len(s)); !ok || got != want {
			t.Fatalf("priceAt(%q) = %d, %v; want %d", s, got, ok, want)
		}
	}
	// 11 digits or more before the '.' are parsePrice's: priceAt and
	// priceRun decline them, whatever their value.
	for _, s := range []string{"", ".5", "5.", "-5.00", "1.234", "1e3", "+5", "1.2.3", "1..2", "12345678901234567",
		"10000000000", "10000000000.00", "00000000001.5", "1234567890123456.99"} {
		data := []byte(strings.Repeat(",", 24) + s + ",")
		if priceRun(data, scanned(data), 24, 24+len(s)) {
			t.Fatalf("priceRun(%q) = true", s)
		}
		if got, ok := priceAt(data, 24, 24+len(s)); ok {
			t.Fatalf("priceAt(%q) = %d, ok", s, got)
		}
	}
}

// walkRows parses data with RowIter.
func walkRows(data []byte, full, viewUser bool, maxTime int64) (rows []parsed, n int) {
	p := Parser{ViewUser: viewUser, MaxTime: maxTime}
	it := p.Rows(data)
	for {
		var ev event.Event
		r, ok := it.Next(&ev, full)
		if !ok {
			break
		}
		rows = append(rows, parsed{it.Index(), string(it.Line()), r, ev})
	}
	return rows, it.Count()
}

// checkNonView holds RowIter.NextNonView to Next's rows (Next(ev, false),
// walkRows): the same rows yielded but for the views, each with the views
// before it counted and their highest time, and the same line count.
func checkNonView(t *testing.T, data []byte, viewUser bool, maxTime int64, rows []parsed, lines int) {
	t.Helper()
	type yielded struct {
		parsed
		views, max int64
	}
	var want, got []yielded
	views, m := int64(0), int64(math.MinInt64)
	for _, r := range rows {
		if r.r == ReasonOK && r.ev.Type == event.EventView {
			views, m = views+1, max(m, r.ev.Time)
			continue
		}
		want = append(want, yielded{r, views, m})
	}
	for i := range want {
		if want[i].r != ReasonOK {
			want[i].ev = event.Event{}
		}
	}
	for _, asm := range viewRunModes() {
		defer setViewRunAVX2(asm)()
		p := Parser{ViewUser: viewUser, MaxTime: maxTime}
		it := p.Rows(data)
		var total int64
		gm := int64(math.MinInt64)
		got = got[:0]
		for {
			var ev event.Event
			v, r, ok := it.NextNonView(&ev, &gm)
			total += v
			if !ok {
				break
			}
			if r != ReasonOK {
				ev = event.Event{}
			}
			got = append(got, yielded{parsed{it.Index(), string(it.Line()), r, ev}, total, gm})
		}
		if total != views || gm != m || it.Count() != lines || !slices.Equal(got, want) {
			t.Fatalf("%q viewUser=%v maxTime=%d viewRunAVX2=%v: NextNonView %d views, max %d, %d lines, yielded\n%+v\nNext %d views, max %d, %d lines, yielded\n%+v",
				data, viewUser, maxTime, asm, total, gm, it.Count(), got, views, m, lines, want)
		}
	}
}

// brandEnd returns the index of the third comma from the end of line.
func brandEnd(line string) int {
	j := len(line)
	for range 3 {
		j = strings.LastIndexByte(line[:j], ',')
	}
	return j
}

// viewRunModes lists the settings of useViewRunAVX2 this CPU can run: the
// Go loop always, the assembly where the CPU has it.
func viewRunModes() []bool {
	if viewRunAVX2OK {
		return []bool{false, true}
	}
	return []bool{false}
}

// viewRunAVX2OK is whether the CPU runs viewRunAVX2 (useViewRunAVX2 as
// the package chose it).
var viewRunAVX2OK = useViewRunAVX2

// setViewRunAVX2 sets useViewRunAVX2 and returns what restores it.
func setViewRunAVX2(on bool) func() {
	old := useViewRunAVX2
	useViewRunAVX2 = on
	return func() { useViewRunAVX2 = old }
}

// TestViewRunTakesPlainViews checks that viewRun, in Go and in assembly,
// takes every view in the file's shape once a time has parsed (a view of
// another second than the last row's refreshes the time cache), its line end 64-127 bytes after ",view," and at most 64 after
// brand's comma: a view it declined would still parse
// (fastAt is exact), only slower, so the other tests cannot see it.
func TestViewRunTakesPlainViews(t *testing.T) {
	data, _ := testrows.SyntheticRows(5000)
	var extra []byte
	for _, price := range []string{"7", "1234567890", "0.5", "12.34", "1234567890.1", "1234567890.12"} {
		for _, user := range []string{"1", "123456789", "1234567890123456789"} {
			for range 2 {
				extra = append(extra, testrows.Row("2019-11-30 23:59:59 UTC", "view", "1", "2053013555631882655", "electronics.smartphone", "", price, user, "984aefe3-8c5f-4dee-bdbf-ee9d9b621696")+"\n"...)
			}
		}
	}
	data = append(data, extra...)
	for _, asm := range viewRunModes() {
		defer setViewRunAVX2(asm)()
		var p Parser
		mask := make([]uint64, (len(data)>>6+3)*maskStride)
		scanStructural(data, mask)
		taken, want := 0, 0
		prev := ""
		for s := 0; s < len(data); {
			nl := s + bytes.IndexByte(data[s:], '\n')
			line := string(data[s:nl])
			if strings.HasPrefix(line[23:], ",view,") && prev != "" && len(line) >= 29+64 && len(line) < viewRunMaxLine && len(line)-brandEnd(line) <= 64 {
				want++
				next, v, tm := p.viewRun(data, mask, s, s+1)
				if wantT, _ := ParseTime([]byte(line[:23])); v != 1 || next != nl+1 || tm != wantT {
					t.Fatalf("viewRunAVX2=%v: viewRun declined %q after %q (%d, %d)", asm, line, prev, next-s, v)
				}
				taken++
			}
			var ev event.Event
			if _, ok := p.fastAt(data, mask, s, &ev, false); !ok {
				t.Fatalf("fastAt declined %q", line)
			}
			prev = line[:23]
			s = nl + 1
		}
		if want < 4000 || taken != want {
			t.Fatalf("viewRunAVX2=%v: %d views taken of %d", asm, taken, want)
		}
	}
}

// checkRows holds RowIter to LineIter.Next + ParseRow, and every row it
// accepts to the reference parser, in the three ways a row can be stored.
func checkRows(t *testing.T, data []byte) {
	t.Helper()
	for _, mode := range []struct {
		full, viewUser bool
		maxTime        int64
	}{{false, false, 0}, {false, true, 0}, {true, false, 0}, {false, false, fuzzMaxTime}, {true, false, fuzzMaxTime}} {
		full := mode.full
		rows, n1 := walkRows(data, full, mode.viewUser, mode.maxTime)
		_, iter, _, n2 := walkBothUser(data, full, mode.viewUser, mode.maxTime)
		if n1 != n2 || len(rows) != len(iter) {
			t.Fatalf("%q %+v: RowIter %d lines (%d yielded), Next %d (%d)", data, mode, n1, len(rows), n2, len(iter))
		}
		if !full {
			checkNonView(t, data, mode.viewUser, mode.maxTime, rows, n1)
		}
		for i := range rows {
			a, b := rows[i], iter[i]
			if a.r != ReasonOK {
				a.ev, b.ev = event.Event{}, event.Event{}
			}
			if a != b {
				t.Fatalf("%q %+v: line %d\nRowIter %+v\nNext    %+v", data, mode, i, a, b)
			}
			want, wantOK := refParseRow(a.line)
			wantOK = wantOK && (mode.maxTime == 0 || want.Time <= mode.maxTime)
			if wantOK != (a.r == ReasonOK) {
				t.Fatalf("%q %+v: RowIter %v, reference ok=%v", a.line, mode, a.r, wantOK)
			}
			if !wantOK {
				continue
			}
			got := a.ev
			if !full && want.Type == event.EventView {
				if !mode.viewUser {
					want.UserID = 0
				}
				want = event.Event{Time: want.Time, Type: want.Type, UserID: want.UserID}
			}
			if got != want {
				t.Fatalf("%q %+v\n got %+v\nwant %+v", a.line, mode, got, want)
			}
		}
	}
}

// TestRowsViewCache: NextNonView's view path (viewAt) takes a row's time
// from the time cache only when its bytes are those of the last time that
// parsed; before any has, the cache is zero, and a row whose time is 23 zero
// bytes must still be malformed. Views in the same second, in the next one,
// one in another shape and one with a MaxTime are each checked against Next.
func TestRowsViewCache(t *testing.T) {
	view := func(ts string) string { return testrows.Row(append([]string{ts, "view"}, testrows.Good[2:]...)...) }
	zero := view(strings.Repeat("\x00", 23))
	for _, data := range []string{
		zero + "\n" + view("2019-11-01 00:00:14 UTC"),
		view("2019-11-01 00:00:14 UTC") + "\n" + zero + "\n" + view("2019-11-01 00:00:14 UTC") + "\n" + view("2019-11-01 00:00:15 UTC"),
		view("2019-11-01 00:00:14 UTC") + "\n" + view("2019-11-01T00:00:14Z") + "\n" + view("2019-11-01 00:00:14 UTC") + "\n",
	} {
		checkRows(t, []byte(data))
	}
	// Each byte of a view's fields after event_time replaced, the view
	// after one in the same second (so its time is a cache hit).
	good := view("2019-11-01 00:00:14 UTC")
	for k := 24; k < len(good); k++ {
		for _, c := range []byte(",\"\r\n.x- \x009") {
			bad := []byte(good)
			bad[k] = c
			checkRows(t, []byte(good+"\n"+string(bad)+"\n"+good))
		}
	}
	// A row with no line end in the 128 bytes after its event_time: seven
	// commas in the first 64 and an eighth past them, its '\n' right at
	// byte 128.
	head := "2019-11-01 00:00:14 UTC,view,1,2,a,b,1.00,5,"
	long := head + strings.Repeat("s", 24+70-len(head)) + "," + strings.Repeat("s", 24+128-len(head)-51)
	checkRows(t, []byte(good+"\n"+long+"\n"+good))
}

func TestRows(t *testing.T) {
	data, _ := testrows.SyntheticRows(500)
	checkRows(t, data)
	rng := rand.New(rand.NewSource(6))
	lines := splitLines(data)
	for k := 0; k < 1000; k++ {
		var b []byte
		for n := rng.Intn(8); n > 0; n-- {
			l := append([]byte(nil), lines[rng.Intn(len(lines))]...)
			switch rng.Intn(9) {
			case 0:
				l = l[:rng.Intn(len(l))]
			case 1:
				l[rng.Intn(len(l))] = ",\"\r\n.x- \x00"[rng.Intn(9)]
			case 2:
				l = append(l, '\r')
			case 3:
				l = nil
			case 4:
				l = []byte(strings.Replace(string(l), ",", `,"`+strings.Repeat("a", rng.Intn(70))+`",`, 1+rng.Intn(3)))
			}
			b = append(b, l...)
			b = append(b, '\n')
		}
		if len(b) > 0 && rng.Intn(2) == 0 {
			b = b[:len(b)-1]
		}
		checkRows(t, b)
	}
	// Rows of every length up to a few KiB, across stage-1 windows and
	// past the 128-bit window of fastAt.
	var big []byte
	for len(big) < 3*rowWindow {
		l := lines[rng.Intn(len(lines))]
		switch rng.Intn(4) {
		case 0:
			l = []byte(testrows.With(4, strings.Repeat("c", rng.Intn(3000))))
		case 1:
			l = []byte(testrows.With(8, strings.Repeat("s", rng.Intn(200))))
		case 2:
			l = []byte(testrows.With(5, strings.Repeat("b", rng.Intn(100))+"\"x"))
		}
		big = append(append(big, l...), '\n')
	}
	checkRows(t, big)
	// The line limit applies.
	long := []byte(testrows.With(4, strings.Repeat("a", 300)) + "\n" + testrows.Row(testrows.Good...))
	p := Parser{MaxLine: 200}
	var ev event.Event
	it := p.Rows(long)
	if r, ok := it.Next(&ev, true); !ok || r != ReasonLineTooLong {
		t.Fatalf("long line: %v, %v", r, ok)
	}
	if r, ok := it.Next(&ev, true); !ok || r != ReasonOK || it.Index() != 1 {
		t.Fatalf("after long line: %v, %v, index %d", r, ok, it.Index())
	}
}

// TestFastAtTakesPlainRows checks that stage 2 accepts every plain row
// itself, views and carts, short and long, CRLF or not, in every storing
// mode: a row it declined would still parse (ParseRow is exact), only
// slower, so the other tests cannot see it.
func TestFastAtTakesPlainRows(t *testing.T) {
	data, _ := testrows.SyntheticRows(3000)
	var extra []byte
	for _, l := range splitLines(data)[:300] {
		extra = append(append(extra, l...), "\r\n"...)
	}
	extra = append(extra, testrows.With(4, strings.Repeat("c", 90))+"\n"+testrows.With(4, strings.Repeat("c", 300))+"\n"...)
	extra = append(extra, testrows.With(1, "view")+"\n"+testrows.With(1, "purchase")+"\n"+testrows.With(1, "remove_from_cart")+"\n"...)
	data = append(data, extra...)
	for _, mode := range []struct{ full, viewUser bool }{{false, false}, {false, true}, {true, false}} {
		p := Parser{ViewUser: mode.viewUser}
		mask := make([]uint64, (len(data)>>6+3)*maskStride)
		scanStructural(data, mask)
		for s := 0; s < len(data); {
			var ev event.Event
			end, ok := p.fastAt(data, mask, s, &ev, mode.full)
			nl := s + bytes.IndexByte(data[s:], '\n')
			if !ok || end != nl {
				t.Fatalf("%+v: fastAt declined %q (end %d, ok %v)", mode, data[s:nl], end-s, ok)
			}
			s = nl + 1
		}
	}
}

func FuzzRows(f *testing.F) {
	f.Add([]byte(testrows.Row(testrows.Good...) + "\n" + testrows.Row(testrows.Good...) + "\r\n\n" + testrows.With(1, "view")))
	f.Add([]byte(testrows.With(8, "") + "\r\n" + testrows.With(8, "x\r")))
	f.Add([]byte(testrows.With(6, "1.5") + "\n" + testrows.With(2, "12345678901234567") + "\n" + testrows.With(7, "007")))
	f.Fuzz(func(t *testing.T, data []byte) { checkRows(t, data) })
}

var _ = binary.LittleEndian
