package kafka

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/format"
	"github.com/cartwatch/cartwatch/internal/testrows"
)

// jsonEvent is the JSON value decoded with encoding/json, numbers kept as
// their text.
type jsonEvent struct {
	EventTime    string      `json:"event_time"`
	EventType    string      `json:"event_type"`
	ProductID    json.Number `json:"product_id"`
	CategoryID   json.Number `json:"category_id"`
	CategoryCode string      `json:"category_code"`
	Brand        string      `json:"brand"`
	Price        json.Number `json:"price"`
	UserID       json.Number `json:"user_id"`
	UserSession  string      `json:"user_session"`
}

func decodeJSON(t *testing.T, v []byte) jsonEvent {
	t.Helper()
	if !json.Valid(v) {
		t.Fatalf("not valid JSON: %q", v)
	}
	if !utf8.Valid(v) {
		t.Fatalf("not valid UTF-8: %q", v)
	}
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	d.DisallowUnknownFields()
	var je jsonEvent
	if err := d.Decode(&je); err != nil {
		t.Fatalf("decode %q: %v", v, err)
	}
	return je
}

// TestJSONValue: every key of the CSV header, numbers as JSON numbers
// (uint64 maximum exact, price with exactly two decimals), strings escaped
// into valid JSON and valid UTF-8.
func TestJSONValue(t *testing.T) {
	ev := event.Event{Time: time.Date(2019, 11, 1, 0, 0, 7, 0, time.UTC).Unix(), Type: event.EventCart,
		ProductID: math.MaxUint64, CategoryID: 2000000000000000001, PriceCents: 48907, UserID: math.MaxUint64}
	text := &Text{EventType: []byte("cart"), CategoryCode: []byte("a \"quoted\" \\ back\x01\x1f\n\t\r"),
		Brand: []byte("caf\xc3\xa9 \xe2\x82\xac ok"), Session: []byte("ab\xff\xfecd\xe2\x82")}
	var e Encoder
	v := e.Append(nil, &ev, text)
	je := decodeJSON(t, v)
	want := jsonEvent{EventTime: "2019-11-01 00:00:07 UTC", EventType: "cart", ProductID: "18446744073709551615",
		CategoryID: "2000000000000000001", CategoryCode: "a \"quoted\" \\ back\x01\x1f\n\t\r", Brand: "café € ok",
		Price: "489.07", UserID: "18446744073709551615", UserSession: "ab\uFFFD\uFFFDcd\uFFFD\uFFFD"}
	if je != want {
		t.Fatalf("decoded\n%+v\nwant\n%+v\nfrom %s", je, want, v)
	}
	// Keys in the header's order.
	var keys []string
	d := json.NewDecoder(bytes.NewReader(v))
	d.Token()
	for d.More() {
		k, _ := d.Token()
		keys = append(keys, k.(string))
		var skip any
		d.Decode(&skip)
	}
	if strings.Join(keys, ",") != strings.Join(format.Columns[:], ",") {
		t.Fatalf("keys %v, want %v", keys, format.Columns)
	}
	// Without Text: the type's name, ev's top-level category as the code
	// (loadgen's events have one), empty brand, ev's session.
	ev.Type = event.EventOther
	ev.SetSession([]byte("s-1"))
	je = decodeJSON(t, e.Append(nil, &ev, nil))
	if je.EventType != "other" || je.CategoryCode != "" || je.Brand != "" || je.UserSession != "s-1" {
		t.Fatalf("without Text: %+v", je)
	}
	ev.SetCategory([]byte("electronics.audio"))
	je = decodeJSON(t, e.Append(nil, &ev, nil))
	if je.CategoryCode != "electronics" {
		t.Fatalf("without Text, with a category: %+v, want category_code electronics", je)
	}
}

// TestPrice: integer cents to exactly two decimals.
func TestPrice(t *testing.T) {
	f := func(cents int64, want string) {
		t.Helper()
		if got := string(appendPrice(nil, cents)); got != want {
			t.Errorf("appendPrice(%d) = %q, want %q", cents, got, want)
		}
	}
	f(0, "0.00")
	f(5, "0.05")
	f(50, "0.50")
	f(100, "1.00")
	f(48907, "489.07")
	f(format.MaxPriceCents, "10000000000.00")
	f(-5, "-0.05")
	f(math.MaxInt64, "92233720368547758.07")
	f(math.MinInt64, "-92233720368547758.08")
}

// TestTime: the date cache and civil() agree with the time package over
// years 0000-9999, before 1970 included, and in both directions.
func TestTime(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	lo := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	ts := []int64{0, -1, 86399, 86400, lo, hi, time.Date(2000, 2, 29, 12, 0, 0, 0, time.UTC).Unix(),
		time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC).Unix() - 1, time.Date(2019, 11, 30, 23, 59, 59, 0, time.UTC).Unix()}
	for range 20000 {
		ts = append(ts, lo+rng.Int64N(hi-lo+1))
	}
	var e Encoder
	for i, x := range ts {
		if i%3 == 0 {
			x = min(ts[max(i-1, 0)]+rng.Int64N(200), hi) // often the same day: the cache
		}
		want := time.Unix(x, 0).UTC().Format("2006-01-02 15:04:05 UTC")
		if got := string(e.appendTime(nil, x)); got != want {
			t.Fatalf("appendTime(%d) = %q, want %q", x, got, want)
		}
		if got, ok := format.ParseTime([]byte(want)); !ok || got != x {
			t.Fatalf("ParseTime(%q) = %d, %v; want %d", want, got, ok, x)
		}
	}
}

// sampleRows returns the real sample's rows, or SyntheticRows' when it is
// not there (a failure under CI=true).
func sampleRows(t *testing.T) [][]byte {
	data, err := os.ReadFile(testrows.SamplePath)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("real sample missing under CI: %v", err)
		}
		t.Logf("real sample not available (%v): synthetic rows instead", err)
		data, _ = testrows.SyntheticRows(5000)
	}
	var rows [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if !bytes.HasPrefix(sc.Bytes(), []byte("event_time,")) {
			rows = append(rows, append([]byte(nil), sc.Bytes()...))
		}
	}
	return rows
}

// oddRows are valid rows with what the encoders must get right: quoted
// fields, commas and quotes in text, an event_type the Event keeps as
// other, a session longer than event.SessionMax, an RFC 3339 time, 20-digit
// ids, a one-decimal price, invalid UTF-8, a CR before the newline.
var oddRows = []string{
	`2019-11-01 00:00:14 UTC,cart,1234567,2000000000000000001,"a,b","say ""hi""",123.45,500000001,00000000-1111-2222-3333-444444444444`,
	`2019-11-01 00:00:14 UTC,remove_from_cart,1,2,,,0.5,7,s`,
	`2019-11-01T00:00:15Z,"view",18446744073709551615,18446744073709551615,x.y,brand,10000000000.00,18446744073709551615,` + strings.Repeat("z", 80),
	"2019-11-02 10:00:00 UTC,purchase,5,6,\xff\xfe,caf\xc3\xa9,1.20,9,ab\xffcd\r",
	`2019-11-03 00:00:00 UTC,cart,5,,,,7,9,""`,
}

// roundTrip encodes each row's event in f and decodes it back; the
// event and the text must come back.
func TestRoundTrip(t *testing.T) {
	rows := sampleRows(t)
	for _, r := range oddRows {
		rows = append(rows, []byte(r))
	}
	var p format.Parser
	var sp Splitter
	for _, f := range []Format{JSON, CSV} {
		e := Encoder{Format: f}
		var buf []byte
		for _, row := range rows {
			var ev event.Event
			if r := p.ParseRow(row, &ev, true); r != format.ReasonOK {
				t.Fatalf("row %q: %v", row, r)
			}
			var text Text
			if !sp.Split(row, nil, &text) {
				t.Fatalf("Split(%q) failed", row)
			}
			text = Text{EventType: bytes.Clone(text.EventType), CategoryCode: bytes.Clone(text.CategoryCode),
				Brand: bytes.Clone(text.Brand), Session: bytes.Clone(text.Session)}
			buf = e.Append(buf[:0], &ev, &text)
			var back event.Event
			var backText Text
			if f == CSV {
				if r := p.ParseRow(buf, &back, true); r != format.ReasonOK {
					t.Fatalf("%s of %q: %q does not parse: %v", f, row, buf, r)
				}
				if !sp.Split(buf, nil, &backText) {
					t.Fatalf("%s of %q: %q does not split", f, row, buf)
				}
			} else {
				je := decodeJSON(t, buf)
				back = jsonToEvent(t, je)
				backText = Text{EventType: []byte(je.EventType), CategoryCode: []byte(je.CategoryCode),
					Brand: []byte(je.Brand), Session: []byte(je.UserSession)}
				// JSON text is valid UTF-8: compare with the row's, so made.
				text = Text{EventType: utf8Valid(text.EventType), CategoryCode: utf8Valid(text.CategoryCode),
					Brand: utf8Valid(text.Brand), Session: utf8Valid(text.Session)}
				ev.SetSession(text.Session)
				ev.SetCategory(text.CategoryCode)
			}
			if back != ev {
				t.Fatalf("%s of %q: %q decodes to\n%+v, want\n%+v", f, row, buf, back, ev)
			}
			if !bytes.Equal(backText.EventType, text.EventType) || !bytes.Equal(backText.CategoryCode, text.CategoryCode) ||
				!bytes.Equal(backText.Brand, text.Brand) || !bytes.Equal(backText.Session, text.Session) {
				t.Fatalf("%s of %q: text %q, want %q", f, row, backText, text)
			}
		}
	}
}

// utf8Valid is b with each byte that is not part of valid UTF-8 replaced
// by U+FFFD, as the alerts of cartwatch run do (encoding/json too).
func utf8Valid(b []byte) []byte {
	var out []byte
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return out
}

// jsonToEvent is the JSON value as an Event, through the row parser's
// own checks (the time shape, the price's two decimals).
func jsonToEvent(t *testing.T, je jsonEvent) event.Event {
	t.Helper()
	row := strings.Join([]string{je.EventTime, csvQuote(je.EventType), je.ProductID.String(), je.CategoryID.String(), "", "",
		je.Price.String(), je.UserID.String(), csvQuote(je.UserSession)}, ",")
	if i := strings.IndexByte(je.Price.String(), '.'); i < 0 || len(je.Price.String())-i != 3 {
		t.Fatalf("price %s: not two decimals", je.Price)
	}
	var ev event.Event
	if r := format.ParseRow([]byte(row), &ev, true); r != format.ReasonOK {
		t.Fatalf("JSON %+v as row %q: %v", je, row, r)
	}
	ev.SetCategory([]byte(je.CategoryCode))
	return ev
}

func csvQuote(s string) string { return string(appendCSVField(nil, []byte(s))) }

// TestSplitterMatchesCSV: Split gives the fields encoding/csv reads (the
// parser's quoting rules are encoding/csv's), for rows with quotes.
func TestSplitterMatchesCSV(t *testing.T) {
	var sp Splitter
	for _, row := range oddRows {
		row = strings.TrimSuffix(row, "\r")
		r := csv.NewReader(strings.NewReader(row))
		want, err := r.Read()
		if err != nil {
			t.Fatalf("encoding/csv on %q: %v", row, err)
		}
		var text Text
		if !sp.Split([]byte(row), nil, &text) {
			t.Fatalf("Split(%q) failed", row)
		}
		got := []string{string(text.EventType), string(text.CategoryCode), string(text.Brand), string(text.Session)}
		if w := []string{want[1], want[4], want[5], want[8]}; strings.Join(got, "|") != strings.Join(w, "|") {
			t.Fatalf("Split(%q) = %q, want %q", row, got, w)
		}
	}
	for _, bad := range []string{"a,b", "1,2,3,4,5,6,7,8,9,10", `1,2,3,4,"5,6,7,8,9`, `1,2,3,4,"5"x,6,7,8,9`, `1,2,3,4,5"",6,7,8,9`} {
		var text Text
		if sp.Split([]byte(bad), nil, &text) {
			t.Errorf("Split(%q) = true, want false", bad)
		}
	}
}

// TestEncodeNoAlloc: appending to a buffer with room allocates nothing.
func TestEncodeNoAlloc(t *testing.T) {
	var ev event.Event
	if r := format.ParseRow([]byte(oddRows[0]), &ev, true); r != format.ReasonOK {
		t.Fatal(r)
	}
	var sp Splitter
	var text Text
	row := []byte(oddRows[0])
	buf := make([]byte, 0, 4096)
	for _, f := range []Format{JSON, CSV} {
		e := Encoder{Format: f}
		if n := testing.AllocsPerRun(1000, func() {
			ev.Time++
			sp.Split(row, nil, &text)
			b := AppendKey(buf[:0], &ev)
			b = e.Append(b, &ev, &text)
			b = e.Append(b, &ev, nil)
			_ = b
		}); n != 0 {
			t.Errorf("%s: %v allocations per event", f, n)
		}
	}
}

// TestKey: the key is the user_id in decimal.
func TestKey(t *testing.T) {
	for _, u := range []uint64{0, 7, 500000001, math.MaxUint64} {
		ev := event.Event{UserID: u}
		if got := string(AppendKey(nil, &ev)); got != strconv.FormatUint(u, 10) {
			t.Errorf("key of %d = %q", u, got)
		}
	}
}

// TestSplitterHeader: under a header that is not the file's order (columns
// moved, one extra, optional ones missing), Split picks the columns by
// name, as format.Parser does; a missing one reads as empty.
func TestSplitterHeader(t *testing.T) {
	f := func(header, row string, want [4]string) {
		t.Helper()
		h, err := format.ParseHeader([]byte(header))
		if err != nil || h == nil {
			t.Fatalf("ParseHeader(%q): %v, %v", header, h, err)
		}
		p := format.Parser{Header: h}
		var ev event.Event
		if r := p.ParseRow([]byte(row), &ev, true); r != format.ReasonOK {
			t.Fatalf("row %q under %q: %v", row, header, r)
		}
		var sp Splitter
		var text Text
		if !sp.Split([]byte(row), h, &text) {
			t.Fatalf("Split(%q) under %q failed", row, header)
		}
		got := [4]string{string(text.EventType), string(text.CategoryCode), string(text.Brand), string(text.Session)}
		if got != want {
			t.Fatalf("Split(%q) under %q = %q, want %q", row, header, got, want)
		}
		if sp.Split([]byte(row+",x"), h, &text) {
			t.Fatalf("Split of a row with one field more than the header succeeded")
		}
	}
	f("user_id,price,event_time,extra,event_type,product_id,user_session,brand,category_id,category_code",
		`7,1.00,2019-11-01 00:00:00 UTC,"x,y",cart,5,"s,1",acme,2,a.b`, [4]string{"cart", "a.b", "acme", "s,1"})
	f("event_type,event_time,product_id,price,user_id",
		"remove_from_cart,2019-11-01 00:00:00 UTC,5,1.00,7", [4]string{"remove_from_cart", "", "", ""})
	// The canonical header is the fast path's order.
	f(strings.Join(format.Columns[:], ","), oddRows[0], [4]string{"cart", "a,b", `say "hi"`, "00000000-1111-2222-3333-444444444444"})
}

// TestParseMessageReadsValues: the consumer's decoder (format.ParseMessage,
// JSON or CSV by the first byte) reads every value the Encoder writes back
// to the same event, the session made valid UTF-8 for JSON.
func TestParseMessageReadsValues(t *testing.T) {
	rows := sampleRows(t)
	for _, r := range oddRows {
		rows = append(rows, []byte(r))
	}
	var p, q format.Parser
	var sp Splitter
	for _, f := range []Format{JSON, CSV} {
		e := Encoder{Format: f}
		var buf []byte
		for _, row := range rows {
			var ev, back event.Event
			if r := p.ParseRow(row, &ev, true); r != format.ReasonOK {
				t.Fatalf("row %q: %v", row, r)
			}
			var text Text
			sp.Split(row, nil, &text)
			buf = e.Append(buf[:0], &ev, &text)
			if r := q.ParseMessage(buf, &back, true); r != format.ReasonOK {
				t.Fatalf("%s value %q of row %q: ParseMessage says %v", f, buf, row, r)
			}
			if f == JSON {
				ev.SetSession(utf8Valid(text.Session))
				ev.SetCategory(utf8Valid(text.CategoryCode))
			}
			if back != ev {
				t.Fatalf("%s value %q: ParseMessage gives\n%+v, want\n%+v", f, buf, back, ev)
			}
		}
	}
}
