package format

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/internal/testrows"
)

// goodJSON is testrows.Good as a JSON object with field i's value replaced
// by raw JSON v (or removed if v is "-"), keys in the CSV header's names.
func goodJSON(i int, v string) string {
	var b strings.Builder
	b.WriteByte('{')
	for c, f := range testrows.Good {
		val := `"` + f + `"`
		if c == i {
			if v == "-" {
				continue
			}
			val = v
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + testrows.Columns[c] + `":` + val)
	}
	b.WriteByte('}')
	return b.String()
}

// TestParseJSON: both key spellings, strings and numbers, each field's
// limits, and every way a message is malformed, with the reason's text.
func TestParseJSON(t *testing.T) {
	want := event.Event{Time: 1572566414, Type: event.EventCart, ProductID: 1234567,
		CategoryID: 2000000000000000001, PriceCents: 12345, UserID: 500000001}
	want.SetSession([]byte(testrows.Good[8]))
	want.SetCategory([]byte(testrows.Good[4]))
	with := func(f func(*event.Event)) event.Event { e := want; f(&e); return e }
	session := func(e *event.Event, s string) { e.Session = [event.SessionMax]byte{}; e.SetSession([]byte(s)) }
	const maxU = "18446744073709551615"
	cases := []struct {
		name, msg string
		want      event.Event
		r         Reason
		text      string // the reason's text, when it is a message reason
	}{
		{"names, strings", string(testrows.JSONRow(testrows.Good, false, false)), want, ReasonOK, ""},
		{"camel, strings", string(testrows.JSONRow(testrows.Good, true, false)), want, ReasonOK, ""},
		{"names, numbers", string(testrows.JSONRow(testrows.Good, false, true)), want, ReasonOK, ""},
		{"camel, numbers", string(testrows.JSONRow(testrows.Good, true, true)), want, ReasonOK, ""},
		{"spaces and other keys", " \t\r\n" + strings.ReplaceAll(goodJSON(-1, ""), ",", " ,\n\"x\": [1, {\"a\": null}], ") + " \n",
			want, ReasonOK, ""},
		{"keys in any case", strings.NewReplacer(`"user_id"`, `"UserID"`, `"event_time"`, `"EVENT_TIME"`,
			`"price"`, `"Price"`).Replace(goodJSON(-1, "")), want, ReasonOK, ""},
		{"max uint64 number", goodJSON(7, maxU), with(func(e *event.Event) { e.UserID = 1<<64 - 1 }), ReasonOK, ""},
		{"max uint64 string", goodJSON(2, `"`+maxU+`"`), with(func(e *event.Event) { e.ProductID = 1<<64 - 1 }), ReasonOK, ""},
		{"max uint64 category", goodJSON(3, maxU), with(func(e *event.Event) { e.CategoryID = 1<<64 - 1 }), ReasonOK, ""},
		{"2^64 user", goodJSON(7, "18446744073709551616"), event.Event{}, ReasonUserID, ""},
		{"2^64 product string", goodJSON(2, `"18446744073709551616"`), event.Event{}, ReasonProductID, ""},
		{"price string 12.30", goodJSON(6, `"12.30"`), with(func(e *event.Event) { e.PriceCents = 1230 }), ReasonOK, ""},
		{"price number 12.30", goodJSON(6, `12.30`), with(func(e *event.Event) { e.PriceCents = 1230 }), ReasonOK, ""},
		{"price number 12.3", goodJSON(6, `12.3`), with(func(e *event.Event) { e.PriceCents = 1230 }), ReasonOK, ""},
		{"price number 12", goodJSON(6, `12`), with(func(e *event.Event) { e.PriceCents = 1200 }), ReasonOK, ""},
		{"price number 0", goodJSON(6, `0`), with(func(e *event.Event) { e.PriceCents = 0 }), ReasonOK, ""},
		{"price at the limit", goodJSON(6, `10000000000.00`), with(func(e *event.Event) { e.PriceCents = MaxPriceCents }), ReasonOK, ""},
		{"price over the limit", goodJSON(6, `10000000000.01`), event.Event{}, ReasonPriceRange, ""},
		{"price 5e16 string", goodJSON(6, `"50000000000000000.00"`), event.Event{}, ReasonPriceRange, ""},
		{"price 1e3", goodJSON(6, `1e3`), event.Event{}, ReasonPrice, ""},
		{"price 1E3 string", goodJSON(6, `"1E3"`), event.Event{}, ReasonPrice, ""},
		{"price -5", goodJSON(6, `-5`), event.Event{}, ReasonPrice, ""},
		{"price 12.345", goodJSON(6, `12.345`), event.Event{}, ReasonPrice, ""},
		{"price null", goodJSON(6, `null`), event.Event{}, ReasonPrice, ""},
		{"price object", goodJSON(6, `{"cents":1230}`), event.Event{}, ReasonFieldType, "price is an object, want a string or a number"},
		{"price array", goodJSON(6, `[12.3]`), event.Event{}, ReasonFieldType, "price is an array, want a string or a number"},
		{"price true", goodJSON(6, `true`), event.Event{}, ReasonFieldType, "price is true, want a string or a number"},
		{"user false", goodJSON(7, `false`), event.Event{}, ReasonFieldType, "user_id is false, want a string or a number"},
		{"user negative", goodJSON(7, `-1`), event.Event{}, ReasonUserID, ""},
		{"user fraction", goodJSON(7, `1.0`), event.Event{}, ReasonUserID, ""},
		{"user exponent", goodJSON(7, `5e8`), event.Event{}, ReasonUserID, ""},
		{"product fraction", goodJSON(2, `1234567.5`), event.Event{}, ReasonProductID, ""},
		{"product -0", goodJSON(2, `-0`), event.Event{}, ReasonProductID, ""},
		{"product leading zeros string", goodJSON(2, `"0001234567"`), want, ReasonOK, ""},
		{"product leading zeros number", goodJSON(2, `0001234567`), event.Event{}, ReasonJSON, "not a JSON object"},
		{"product NaN", goodJSON(2, `NaN`), event.Event{}, ReasonJSON, ""},
		{"product 1-2", goodJSON(2, `1-2`), event.Event{}, ReasonJSON, ""},
		{"category not a number", goodJSON(3, `"abc"`), with(func(e *event.Event) { e.CategoryID = 0 }), ReasonOK, ""},
		{"time RFC 3339", goodJSON(0, `"2019-11-01T00:00:14Z"`), want, ReasonOK, ""},
		{"time as a number", goodJSON(0, `1572566414`), event.Event{}, ReasonTime, ""},
		{"time garbage", goodJSON(0, `"yesterday"`), event.Event{}, ReasonTime, ""},
		{"type view", goodJSON(1, `"view"`), with(func(e *event.Event) { e.Type = event.EventView }), ReasonOK, ""},
		{"type purchase", goodJSON(1, `"purchase"`), with(func(e *event.Event) { e.Type = event.EventPurchase }), ReasonOK, ""},
		{"type other", goodJSON(1, `"remove_from_cart"`), with(func(e *event.Event) { e.Type = event.EventOther }), ReasonOK, ""},
		{"type empty", goodJSON(1, `""`), event.Event{}, ReasonEventType, ""},
		{"type null", goodJSON(1, `null`), event.Event{}, ReasonEventType, ""},
		{"escaped session", goodJSON(8, `"a\u00e9\"b\\"`), with(func(e *event.Event) { session(e, "a\u00e9\"b\\") }), ReasonOK, ""},
		{"escaped key", strings.Replace(goodJSON(-1, ""), `"user_id"`, `"user\u005fid"`, 1), want, ReasonOK, ""},
		{"brand null", goodJSON(5, `null`), want, ReasonOK, ""},
		{"session number", goodJSON(8, `42`), with(func(e *event.Event) { session(e, "42") }), ReasonOK, ""},
		{"optional missing", `{"event_time":"2019-11-01 00:00:14 UTC","event_type":"cart","product_id":1234567,"price":123.45,"user_id":500000001}`,
			with(func(e *event.Event) { e.CategoryID = 0; e.SetCategory(nil); session(e, "") }), ReasonOK, ""},
		{"missing event_time", goodJSON(0, "-"), event.Event{}, ReasonMissingField, "missing field event_time"},
		{"missing event_type", goodJSON(1, "-"), event.Event{}, ReasonMissingField, "missing field event_type"},
		{"missing product_id", goodJSON(2, "-"), event.Event{}, ReasonMissingField, "missing field product_id"},
		{"missing price", goodJSON(6, "-"), event.Event{}, ReasonMissingField, "missing field price"},
		{"missing user_id", goodJSON(7, "-"), event.Event{}, ReasonMissingField, "missing field user_id"},
		{"user_id twice", strings.Replace(goodJSON(-1, ""), "}", `,"userId":1}`, 1), event.Event{}, ReasonDuplicateField, "field user_id given twice"},
		{"price twice, same key", strings.Replace(goodJSON(-1, ""), "}", `,"price":1}`, 1), event.Event{}, ReasonDuplicateField, "field price given twice"},
		{"empty object", `{}`, event.Event{}, ReasonMissingField, "missing field event_time"},
		{"broken", `{"event_time":`, event.Event{}, ReasonJSON, ""},
		{"text after", goodJSON(-1, "") + "x", event.Event{}, ReasonJSON, ""},
		{"two objects", goodJSON(-1, "") + goodJSON(-1, ""), event.Event{}, ReasonJSON, ""},
		{"trailing comma", strings.Replace(goodJSON(-1, ""), "}", ",}", 1), event.Event{}, ReasonJSON, ""},
		{"single quotes", `{'event_time':'x'}`, event.Event{}, ReasonJSON, ""},
	}
	var p Parser
	for _, tc := range cases {
		var ev event.Event
		r := p.ParseJSON([]byte(tc.msg), &ev, true)
		if r.Kind() != tc.r {
			t.Errorf("%s: %s: reason %v, want reason kind %d", tc.name, tc.msg, r, tc.r)
			continue
		}
		if tc.text != "" && r.String() != tc.text {
			t.Errorf("%s: reason text %q, want %q", tc.name, r.String(), tc.text)
		}
		if r == ReasonOK && ev != tc.want {
			t.Errorf("%s: %s:\ngot  %+v\nwant %+v", tc.name, tc.msg, ev, tc.want)
		}
		// ParseMessage detects it as JSON.
		if r2 := p.ParseMessage([]byte(tc.msg), &ev, true); r2 != r && !strings.HasPrefix(tc.msg, "{'") {
			t.Errorf("%s: ParseMessage says %v, ParseJSON %v", tc.name, r2, r)
		}
	}
}

// TestParseJSONMaxTime: Parser.MaxTime holds for JSON messages as for rows.
func TestParseJSONMaxTime(t *testing.T) {
	p := Parser{MaxTime: 1572566414}
	var ev event.Event
	if r := p.ParseJSON([]byte(goodJSON(-1, "")), &ev, true); r != ReasonOK {
		t.Fatalf("at MaxTime: %v", r)
	}
	if r := p.ParseJSON([]byte(goodJSON(0, `"2019-11-01T00:00:15Z"`)), &ev, true); r != ReasonFuture {
		t.Fatalf("a second later: %v", r)
	}
}

// TestParseJSONViews: with full false a view stores only its time and type
// (and its user with ViewUser), as ParseRow does.
func TestParseJSONViews(t *testing.T) {
	msg := []byte(goodJSON(1, `"view"`))
	for _, vu := range []bool{false, true} {
		p := Parser{ViewUser: vu}
		ev := event.Event{ProductID: 7, UserID: 9}
		if r := p.ParseJSON(msg, &ev, false); r != ReasonOK {
			t.Fatal(r)
		}
		wantUser := uint64(9)
		if vu {
			wantUser = 500000001
		}
		if ev.Type != event.EventView || ev.Time != 1572566414 || ev.ProductID != 7 || ev.UserID != wantUser {
			t.Errorf("ViewUser=%v: %+v", vu, ev)
		}
	}
}

// TestParseMessage: detection by the first byte other than JSON whitespace;
// a CSV message is one line, with or without its '\n'.
func TestParseMessage(t *testing.T) {
	var p Parser
	csvLine := testrows.Row(testrows.Good...)
	var want event.Event
	if r := p.ParseRow([]byte(csvLine), &want, true); r != ReasonOK {
		t.Fatal(r)
	}
	for _, tc := range []struct {
		msg string
		r   Reason
	}{
		{csvLine, ReasonOK},
		{csvLine + "\n", ReasonOK},
		{csvLine + "\r\n", ReasonOK},
		{" \n\t" + goodJSON(-1, ""), ReasonOK},
		{" " + csvLine, ReasonTime},
		{csvLine + "\n" + csvLine, ReasonFieldCount}, // one message is one row
		{`["2019-11-01 00:00:14 UTC","cart"]`, ReasonQuote},
		{"", ReasonFieldCount},
		{"  ", ReasonFieldCount},
		{"{", ReasonJSON},
	} {
		var ev event.Event
		r := p.ParseMessage([]byte(tc.msg), &ev, true)
		if r.Kind() != tc.r {
			t.Errorf("%q: %v, want %v", tc.msg, r, tc.r)
		}
		if r == ReasonOK && ev != want {
			t.Errorf("%q: %+v, want %+v", tc.msg, ev, want)
		}
	}
}

// TestParseJSONLineLimit: a message longer than the line limit is
// ReasonLineTooLong, not parsed.
func TestParseJSONLineLimit(t *testing.T) {
	msg := []byte(goodJSON(5, `"`+strings.Repeat("b", 300)+`"`))
	p := Parser{MaxLine: len(msg)}
	var ev event.Event
	if r := p.ParseMessage(msg, &ev, true); r != ReasonOK {
		t.Fatalf("at the limit: %v", r)
	}
	p.MaxLine = len(msg) - 1
	if r := p.ParseMessage(msg, &ev, true); r != ReasonLineTooLong {
		t.Fatalf("over the limit: %v", r)
	}
}

// TestParseJSONAgreesWithCSV: every synthetic row, as JSON in both key
// spellings, with string or number values, decodes to the event its CSV
// line parses to.
func TestParseJSONAgreesWithCSV(t *testing.T) {
	data, _ := testrows.SyntheticRows(3000)
	var p Parser
	for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		var want event.Event
		if r := p.ParseRow(line, &want, true); r != ReasonOK {
			t.Fatalf("%s: %v", line, r)
		}
		fields := strings.Split(string(line), ",")
		for _, camel := range []bool{false, true} {
			for _, numbers := range []bool{false, true} {
				msg := testrows.JSONRow(fields, camel, numbers)
				var ev event.Event
				if r := p.ParseMessage(msg, &ev, true); r != ReasonOK || ev != want {
					t.Fatalf("%s: %v\ngot  %+v\nwant %+v", msg, r, ev, want)
				}
			}
		}
	}
}

// TestParseJSONNoAllocs: once the parser's buffers have grown, decoding a
// message (JSON of either shape, a malformed field, or a CSV line)
// allocates nothing.
func TestParseJSONNoAllocs(t *testing.T) {
	data, _ := testrows.SyntheticRows(500)
	var msgs [][]byte
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		fields := strings.Split(string(line), ",")
		switch i % 4 {
		case 0:
			msgs = append(msgs, line)
		case 3:
			fields[6] = "-1"
			fallthrough
		default:
			msgs = append(msgs, testrows.JSONRow(fields, i%2 == 0, i%3 == 0))
		}
	}
	msgs = append(msgs, []byte(goodJSON(6, "{}")), []byte(goodJSON(7, "-")))
	var p Parser
	var ev event.Event
	decode := func() {
		for _, m := range msgs {
			p.ParseMessage(m, &ev, false)
		}
	}
	decode()
	if n := testing.AllocsPerRun(20, decode); n != 0 {
		t.Errorf("%v allocs per %d messages, want 0", n, len(msgs))
	}
}

// TestMessageReasonTexts: every message reason names its field, and the
// kinds stay below NumReasons.
func TestMessageReasonTexts(t *testing.T) {
	for c, name := range testrows.Columns {
		for _, k := range []Reason{ReasonMissingField, ReasonDuplicateField, ReasonFieldType} {
			r := fieldReason(k, c, 1)
			if r.Kind() != k || k >= NumReasons || !strings.Contains(r.String(), name) {
				t.Errorf("kind %d column %d: %q", k, c, r.String())
			}
		}
	}
}

// BenchmarkDecodeJSON: one message at a time, as the engine decodes Kafka
// values (views time-only), beside the CSV row parse of the same rows:
// json-names-strings is what a Python producer doing json.dumps over
// csv.DictReader sends, json-camel-numbers the other shape.
func BenchmarkDecodeJSON(b *testing.B) {
	const rows = 1 << 14
	data, _ := testrows.SyntheticRows(rows)
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	for _, shape := range []struct {
		name           string
		camel, numbers bool
		csv            bool
	}{{"csv", false, false, true}, {"json-names-strings", false, false, false}, {"json-camel-numbers", true, true, false}} {
		msgs := lines
		if !shape.csv {
			msgs = make([][]byte, len(lines))
			for i, l := range lines {
				msgs[i] = testrows.JSONRow(strings.Split(string(l), ","), shape.camel, shape.numbers)
			}
		}
		size := 0
		for _, m := range msgs {
			size += len(m)
		}
		b.Run(shape.name, func(b *testing.B) {
			b.ReportAllocs()
			var p Parser
			var ev event.Event
			cpu := testrows.StartCPU()
			for b.Loop() {
				for _, m := range msgs {
					var r Reason
					if shape.csv {
						r = p.ParseRow(m, &ev, false)
					} else {
						r = p.ParseMessage(m, &ev, false)
					}
					if r != ReasonOK {
						b.Fatal(r)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/msg")
			b.ReportMetric(float64(size)/float64(len(msgs)), "B/msg")
			cpu.Report(b, len(msgs), size)
		})
	}
}
