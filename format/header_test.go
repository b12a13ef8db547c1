package format

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/internal/testrows"
)

const canonicalHeader = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"

func TestParseHeader(t *testing.T) {
	type want struct {
		isHeader, canonical bool
		n                   int            // fields per row
		col                 map[string]int // some columns' places
		err                 string         // a substring of the error
	}
	f := func(line string, w want) {
		t.Helper()
		h, err := ParseHeader([]byte(line))
		switch {
		case w.err != "":
			if err == nil || !strings.Contains(err.Error(), w.err) || h != nil {
				t.Fatalf("ParseHeader(%q) = %+v, %v; want error %q", line, h, err, w.err)
			}
			return
		case err != nil:
			t.Fatalf("ParseHeader(%q): %v", line, err)
		case !w.isHeader:
			if h != nil {
				t.Fatalf("ParseHeader(%q) = %+v, want not a header", line, h)
			}
			return
		case h == nil:
			t.Fatalf("ParseHeader(%q) = nil, want a header", line)
		}
		if h.Canonical() != w.canonical || h.n != w.n {
			t.Fatalf("ParseHeader(%q): canonical %v, %d fields; want %v, %d", line, h.Canonical(), h.n, w.canonical, w.n)
		}
		for name, i := range w.col {
			c := -1
			for k, col := range Columns {
				if col == name {
					c = k
				}
			}
			if h.col[c] != i {
				t.Fatalf("ParseHeader(%q): %s at %d, want %d", line, name, h.col[c], i)
			}
		}
	}
	canon := want{isHeader: true, canonical: true, n: 9}
	f(canonicalHeader, canon)
	f(canonicalHeader+"\r", canon)
	f("\xEF\xBB\xBF"+canonicalHeader, canon)
	f(strings.ToUpper(canonicalHeader), canon)
	f(` "event_time" ,Event_Type,"product_id",category_id,category_code,brand,	price	,user_id,"user_session"`, canon)

	// Not a header: a row (its first field is a time), or no known name.
	f(testrows.Row(testrows.Good...), want{})
	f(testrows.With(0, `"2019-11-01 00:00:14 UTC"`), want{})
	f(testrows.With(0, "2019-11-01T00:00:14Z"), want{})
	f(testrows.With(5, "price"), want{}) // a brand named price: still a row
	f("a,b,c", want{})
	f("", want{})
	f("date;type;product;price;user", want{})
	f("\"abc", want{})

	// Any order; extra columns ignored; optional ones may be missing.
	f("price,user_id,event_time,event_type,product_id", want{isHeader: true, n: 5,
		col: map[string]int{"price": 0, "user_id": 1, "event_time": 2, "event_type": 3, "product_id": 4, "brand": -1, "user_session": -1}})
	f(canonicalHeader+",extra", want{isHeader: true, n: 10, col: map[string]int{"event_time": 0, "user_session": 8}})
	f("extra,"+canonicalHeader, want{isHeader: true, n: 10, col: map[string]int{"event_time": 1, "user_session": 9}})
	f(`"a,b",`+canonicalHeader, want{isHeader: true, n: 10, col: map[string]int{"event_time": 1}})
	f("event_time,event_type,product_id,category_id,category_code,brand,user_id,price,user_session", want{isHeader: true, n: 9,
		col: map[string]int{"price": 7, "user_id": 6}})
	f(canonicalHeader+",", want{isHeader: true, n: 10}) // an empty tenth column
	f("x,x,"+canonicalHeader+",x", want{isHeader: true, n: 12})

	// Errors name what is wrong.
	f("event_time,event_type,product_id,category_id,category_code,brand,price,uid,user_session",
		want{err: `header has no "user_id" column (columns: event_time,event_type,product_id,category_id,category_code,brand,price,uid,user_session)`})
	f("event_time,type,product,price", want{err: `header has no "event_type", "product_id", "user_id" columns`})
	f("user_id", want{err: `header has no "event_time", "event_type", "product_id", "price" columns`})
	f(canonicalHeader+",Price", want{err: `header has the "price" column twice`})
	f(canonicalHeader+",brand", want{err: `header has the "brand" column twice`})
	f(`event_time,"event_type,product_id,category_id,category_code,brand,price,user_id,user_session`, want{err: "broken CSV quoting"})
	f(`event_time,event"_type,product_id,price,user_id`, want{err: "broken CSV quoting"})
	f(`event_time,"event_type"x,product_id,price,user_id`, want{err: "broken CSV quoting"})
	f(canonicalHeader+strings.Repeat(",x", 5000), want{err: "header has 5009 columns, more than the 4095 supported"})
	long := canonicalHeader[:40] + strings.Repeat(",ü", 200)
	if _, err := ParseHeader([]byte(long)); err == nil || !strings.Contains(err.Error(), "...") || !strings.Contains(err.Error(), `no "price"`) {
		t.Fatalf("long header: %v", err)
	} else if !utf8Valid(err.Error()) {
		t.Fatalf("long header: error not UTF-8: %q", err)
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// sampleRecords reads the real sample: its header and its rows as fields.
func sampleRecords(t *testing.T) (header []string, rows [][]string) {
	fh := testrows.OpenSample(t)
	defer fh.Close()
	r := csv.NewReader(bufio.NewReader(fh))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != canonicalHeader || len(recs) != 10001 {
		t.Fatalf("sample: header %q, %d lines", recs[0], len(recs))
	}
	return recs[0], recs[1:]
}

// writeCSV writes records as CSV text (quoting where needed).
func writeCSV(recs [][]string) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.WriteAll(recs)
	return b.Bytes()
}

// parseAll parses data (after its header line, if h) with RowIter and with
// ParseRow per line, checks that both agree, and returns the events and
// reasons of RowIter.
func parseAll(t *testing.T, data []byte, h *Header, full bool) []parsed {
	t.Helper()
	p := Parser{Header: h}
	var out []parsed
	it := p.Rows(data)
	for {
		var ev event.Event
		r, ok := it.Next(&ev, full)
		if !ok {
			break
		}
		if r != ReasonOK {
			ev = event.Event{}
		}
		out = append(out, parsed{it.Index(), "", r, ev})
	}
	q := Parser{Header: h}
	k := 0
	li := Lines(data)
	for li.Next() {
		var ev event.Event
		r := q.ParseRow(li.Line(), &ev, full)
		if r != ReasonOK {
			ev = event.Event{}
		}
		if got := (parsed{li.Index(), "", r, ev}); k >= len(out) || got != out[k] {
			t.Fatalf("line %d: ParseRow %+v, RowIter %+v", li.Index()+1, got, out[min(k, len(out)-1)])
		}
		k++
	}
	if k != len(out) {
		t.Fatalf("ParseRow %d rows, RowIter %d", k, len(out))
	}
	return out
}

// permute writes rows under a header whose columns are cols (indexes into
// the nine, -1 for an extra column named extra, filled with x).
func permute(rows [][]string, cols []int) (header string, data []byte) {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = "extra"
		if c >= 0 {
			names[i] = Columns[c]
		}
	}
	out := make([][]string, len(rows))
	for k, row := range rows {
		out[k] = make([]string, len(cols))
		for i, c := range cols {
			out[k][i] = "x"
			if c >= 0 {
				out[k][i] = row[c]
			}
		}
	}
	return strings.Join(names, ","), writeCSV(out)
}

// TestHeaderSwappedSample: the real sample with price and user_id swapped,
// in the header and in every row, gives the same events as the file itself;
// so does the sample with a tenth column, at the end or in the middle, and
// in the reverse order of columns.
func TestHeaderSwappedSample(t *testing.T) {
	_, rows := sampleRecords(t)
	canon := writeCSV(rows)
	for _, full := range []bool{false, true} {
		want := parseAll(t, canon, nil, full)
		if len(want) != 10000 {
			t.Fatalf("%d rows", len(want))
		}
		for _, r := range want {
			if r.r != ReasonOK {
				t.Fatalf("canonical line %d: %v", r.idx+1, r.r)
			}
		}
		for name, cols := range map[string][]int{
			"swapped":  {0, 1, 2, 3, 4, 5, 7, 6, 8},
			"tenth":    {0, 1, 2, 3, 4, 5, 6, 7, 8, -1},
			"middle":   {0, 1, 2, 3, -1, 4, 5, 6, 7, 8},
			"reversed": {8, 7, 6, 5, 4, 3, 2, 1, 0},
		} {
			hline, data := permute(rows, cols)
			h, err := ParseHeader([]byte(hline))
			if err != nil || h == nil || h.Canonical() {
				t.Fatalf("%s: ParseHeader(%q) = %+v, %v", name, hline, h, err)
			}
			got := parseAll(t, data, h, full)
			if len(got) != len(want) {
				t.Fatalf("%s: %d rows, want %d", name, len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%s full=%v: line %d\n got %+v\nwant %+v", name, full, i+1, got[i], want[i])
				}
			}
		}
	}
	// Read by position, as before headers were read, the swapped file is
	// wrong: every row is malformed (a price with a '.' is not a user_id).
	_, data := permute(rows, []int{0, 1, 2, 3, 4, 5, 7, 6, 8})
	bad := 0
	for _, r := range parseAll(t, data, nil, true) {
		if r.r != ReasonOK {
			bad++
		}
	}
	if bad < 9000 {
		t.Fatalf("swapped file read by position: only %d of 10000 rows malformed", bad)
	}
}

// TestHeaderMappedRows: under a non-canonical header a row must have the
// header's number of fields, quoted or not; missing optional columns read
// as empty; and the mapped path allocates nothing once warm.
func TestHeaderMappedRows(t *testing.T) {
	h, err := ParseHeader([]byte(canonicalHeader + ",extra"))
	if err != nil || h == nil {
		t.Fatal(h, err)
	}
	good := testrows.Row(testrows.Good...)
	var want event.Event
	if r := ParseRow([]byte(good), &want, true); r != ReasonOK {
		t.Fatal(r)
	}
	f := func(h *Header, line string, wantR Reason, wantEv *event.Event) {
		t.Helper()
		for _, full := range []bool{false, true} {
			p := Parser{Header: h}
			var ev event.Event
			r := p.ParseRow([]byte(line), &ev, full)
			it := p.Rows([]byte(line + "\n"))
			var ev2 event.Event
			r2, _ := it.Next(&ev2, full)
			if r != wantR || r2 != wantR {
				t.Fatalf("%q full=%v: ParseRow %v, RowIter %v; want %v", line, full, r, r2, wantR)
			}
			if r == ReasonOK && (ev != *wantEv || ev2 != *wantEv) {
				t.Fatalf("%q full=%v:\n got %+v\n     %+v\nwant %+v", line, full, ev, ev2, *wantEv)
			}
		}
	}
	f(h, good+",anything", ReasonOK, &want)
	f(h, good+`,"any,thing"`, ReasonOK, &want)
	f(h, good+",x\r", ReasonOK, &want)
	f(h, good+",", ReasonOK, &want)
	f(h, good, fieldCountWant(9, 10), nil)
	f(h, good+",a,b", fieldCountWant(11, 10), nil)
	f(h, good+`,"a`, ReasonQuote, nil)
	f(h, testrows.With(6, "1.234")+",x", ReasonPrice, nil)
	if s := fieldCountWant(9, 10).String(); s != "10 fields expected, got 9" {
		t.Fatalf("reason text %q", s)
	}

	// Only the required columns, in another order.
	h5, err := ParseHeader([]byte("user_id,price,product_id,event_type,event_time"))
	if err != nil || h5 == nil {
		t.Fatal(h5, err)
	}
	short := want
	short.CategoryID = 0
	short.Category, short.CategoryLen = [event.CategoryMax]byte{}, 0
	short.Session, short.SessionLen = [event.SessionMax]byte{}, 0
	f(h5, "500000001,123.45,1234567,cart,2019-11-01 00:00:14 UTC", ReasonOK, &short)
	f(h5, `"500000001","123.45",1234567,"cart","2019-11-01 00:00:14 UTC"`, ReasonOK, &short)
	f(h5, "500000001,123.45,1234567,cart", fieldCountWant(4, 5), nil)
	f(h5, "500000001,123.45,1234567,,2019-11-01 00:00:14 UTC", ReasonEventType, nil)

	// A canonical header changes nothing: the fast paths read by position.
	hc, err := ParseHeader([]byte(canonicalHeader))
	if err != nil || !hc.Canonical() {
		t.Fatal(hc, err)
	}
	f(hc, good, ReasonOK, &want)
	f(hc, good+",x", fieldCount(10), nil)

	p := Parser{Header: h}
	var ev event.Event
	rows := [][]byte{[]byte(good + ",x"), []byte(testrows.With(5, `"a,""b"""`) + `,"y"`), []byte(good + ",x,y")}
	for _, l := range rows {
		p.ParseRow(l, &ev, true)
	}
	i := 0
	if allocs := testing.AllocsPerRun(1000, func() { p.ParseRow(rows[i%len(rows)], &ev, true); i++ }); allocs != 0 {
		t.Fatalf("mapped ParseRow: %v allocs per row", allocs)
	}
	data := bytes.Repeat([]byte(good+",x\n"), 100)
	p.Rows(data)
	if allocs := testing.AllocsPerRun(100, func() {
		it := p.Rows(data)
		for {
			if _, ok := it.Next(&ev, false); !ok {
				break
			}
		}
	}); allocs != 0 {
		t.Fatalf("mapped RowIter: %v allocs per chunk", allocs)
	}
}

// permutedCols returns the column layout FuzzHeaderPermuted uses for seed:
// the nine columns in a random order, maybe category_code and brand left
// out (brand is never stored; without category_code the events have no
// category), maybe extra columns.
func permutedCols(seed uint64) []int {
	rng := rand.New(rand.NewSource(int64(seed)))
	var cols []int
	for _, c := range rng.Perm(NumFields) {
		if (c == 4 || c == 5) && rng.Intn(4) == 0 {
			continue
		}
		cols = append(cols, c)
	}
	for n := rng.Intn(3); n > 0; n-- {
		i := rng.Intn(len(cols) + 1)
		cols = append(cols[:i], append([]int{-1}, cols[i:]...)...)
	}
	return cols
}

// FuzzHeaderPermuted: rows written under a permuted header (columns in
// another order, unused ones dropped, extra ones added, names in another
// case) parse to exactly what the rows give in the 2019-Nov order: the same
// Reason (the checks run in column order whatever the layout) and the same
// events, through ParseRow and RowIter alike. Lines encoding/csv cannot read
// as one record, or that are not nine fields, are left out.
func FuzzHeaderPermuted(f *testing.F) {
	data, _ := testrows.SyntheticRows(20)
	f.Add(data, uint64(1))
	f.Add([]byte(testrows.Row(testrows.Good...)+"\n"+testrows.With(6, "1.234")+"\n"+testrows.With(4, `"a,b ""c"""`)+"\n"), uint64(7))
	f.Add([]byte(testrows.With(0, "2019-11-01T00:00:14Z")+"\r\n\n"+testrows.With(1, "")+"\n"+testrows.With(6, "10000000000.01")), uint64(3))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		cols := permutedCols(seed)
		var keep [][]string
		var canonLines []string
		for _, line := range strings.Split(string(data), "\n") {
			if strings.TrimSuffix(line, "\r") == "" {
				continue
			}
			r := csv.NewReader(strings.NewReader(line + "\n"))
			r.FieldsPerRecord = -1
			rec, err := r.Read()
			if err != nil || len(rec) != NumFields {
				continue
			}
			keep = append(keep, rec)
			canonLines = append(canonLines, line)
		}
		if len(keep) == 0 {
			return
		}
		hline, pdata := permute(keep, cols)
		if seed&1 != 0 {
			hline = strings.ToUpper(hline)
		}
		h, err := ParseHeader([]byte(hline))
		if err != nil || h == nil {
			t.Fatalf("ParseHeader(%q) = %v, %v", hline, h, err)
		}
		canon := []byte(strings.Join(canonLines, "\n") + "\n")
		for _, full := range []bool{false, true} {
			want := parseAll(t, canon, nil, full)
			got := parseAll(t, pdata, h, full)
			if len(got) != len(want) {
				t.Fatalf("%d rows permuted, %d canonical", len(got), len(want))
			}
			for i := range got {
				g, w := got[i], want[i]
				g.idx, w.idx = 0, 0
				if !slices.Contains(cols, 4) {
					w.ev.Category, w.ev.CategoryLen = [event.CategoryMax]byte{}, 0
				}
				if g != w {
					t.Fatalf("cols %v full=%v row %d %q\npermuted  %+v\ncanonical %+v", cols, full, i, canonLines[i], g, w)
				}
			}
		}
	})
}
