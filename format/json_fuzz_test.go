package format

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/internal/testrows"
)

// The reference decoder of JSON messages: encoding/json reads the object
// (its keys in order, so that duplicates are seen), and the fields it finds
// are written as one CSV line for the reference row parser of
// csv_fuzz_test.go (refParseRow) and for ParseRow. It shares no code with
// json.go. FuzzDecodeJSON holds ParseJSON to it.

// refMessage is what the reference makes of a message.
type refMessage struct {
	json   bool     // valid JSON, one object, that the reference can judge
	reason Reason   // a message reason (kind and column), or ReasonOK
	fields []string // the nine fields as CSV text, when reason is ReasonOK
}

// refFold compares a key with a column name ignoring ASCII case only.
func refFold(key, name string) bool {
	lower := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= 'A' && r <= 'Z' {
				return r + 'a' - 'A'
			}
			return r
		}, s)
	}
	return lower(key) == lower(name)
}

// refLoneSurrogate finds \u escapes of UTF-16 surrogates: encoding/json
// turns a lone one into U+FFFD, fastjson keeps its text; neither is what a
// producer sends, so the fuzz test does not compare such strings.
var refLoneSurrogate = regexp.MustCompile(`(?i)\\ud[89a-f]`)

func refDecodeMessage(msg []byte) refMessage {
	var out refMessage
	if !json.Valid(msg) || !utf8.Valid(msg) || refLoneSurrogate.Match(msg) {
		return out
	}
	// fastjson's depth limit is 300 nested values.
	if bytes.Count(msg, []byte("["))+bytes.Count(msg, []byte("{")) >= 300 {
		return out
	}
	dec := json.NewDecoder(bytes.NewReader(msg))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return out
	}
	out.json = true
	fields := make([]string, NumFields)
	var seen [NumFields]bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			panic(err) // json.Valid said it was
		}
		key := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			panic(err)
		}
		if out.reason != ReasonOK {
			continue // the first fault is the one reported
		}
		c := -1
		for i := range testrows.Columns {
			if refFold(key, testrows.Columns[i]) || refFold(key, testrows.CamelColumns[i]) {
				c = i
			}
		}
		if c < 0 {
			continue
		}
		if seen[c] {
			out.reason = ReasonDuplicateField | Reason(c)<<8
			continue
		}
		seen[c] = true
		switch raw[0] {
		case '"':
			if err := json.Unmarshal(raw, &fields[c]); err != nil {
				panic(err)
			}
		case 'n':
			fields[c] = ""
		case '{', '[', 't', 'f':
			out.reason = ReasonFieldType | Reason(c)<<8
		default:
			fields[c] = string(raw) // a number, as written
		}
	}
	if out.reason == ReasonOK {
		for _, c := range []int{0, 1, 2, 6, 7} {
			if !seen[c] {
				out.reason = ReasonMissingField | Reason(c)<<8
				break
			}
		}
	}
	out.fields = fields
	return out
}

// csvLine writes fields as one CSV line (encoding/csv), or returns false if
// one holds a line break, which one CSV line cannot.
func csvLine(fields []string) (string, bool) {
	var b strings.Builder
	w := csv.NewWriter(&b)
	for _, f := range fields {
		if strings.ContainsAny(f, "\r\n") {
			return "", false
		}
	}
	w.Write(fields)
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n"), true
}

func FuzzDecodeJSON(f *testing.F) {
	good := testrows.Good
	seeds := []string{
		string(testrows.JSONRow(good, false, false)),
		string(testrows.JSONRow(good, true, true)),
		goodJSON(7, "18446744073709551615"),
		goodJSON(7, "18446744073709551616"),
		goodJSON(6, "12.3"),
		goodJSON(6, "1e3"),
		goodJSON(6, `{"a":[1]}`),
		goodJSON(6, "null"),
		goodJSON(2, "-"),
		goodJSON(8, `"a\u00e9,\"b"`),
		goodJSON(1, `"view"`),
		strings.Replace(goodJSON(-1, ""), "}", `,"UserID":1}`, 1),
		`{"event_time":`,
		`{}`,
		" {} ",
		testrows.Row(good...),
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		var p Parser
		var ev event.Event
		r := p.ParseJSON(msg, &ev, true)
		if r.String() == "" || strings.HasPrefix(r.String(), "unknown") {
			t.Fatalf("reason %d has no text", r)
		}
		if trimmed := bytes.TrimLeft(msg, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '{' {
			var mev event.Event
			if r2 := p.ParseMessage(msg, &mev, true); r2 != r || (r == ReasonOK && mev != ev) {
				t.Fatalf("ParseMessage(%q) = %v, ParseJSON %v", msg, r2, r)
			}
		}
		ref := refDecodeMessage(msg)
		if !ref.json {
			return // not judged: fastjson is lenient inside strings
		}
		if r.Kind() == ReasonJSON {
			t.Fatalf("ParseJSON(%q): %v, but it is one valid JSON object", msg, r)
		}
		if ref.reason != ReasonOK {
			if r&0xffff != ref.reason { // kind and column; not the JSON type
				t.Fatalf("ParseJSON(%q) = %v, reference %v", msg, r, ref.reason)
			}
			return
		}
		line, ok := csvLine(ref.fields)
		if !ok {
			if r.Kind() >= ReasonJSON {
				t.Fatalf("ParseJSON(%q) = %v, reference: all fields there", msg, r)
			}
			return
		}
		// The same fields as a CSV row: the same verdict and event, by
		// ParseRow and by the reference row parser.
		var cev event.Event
		if cr := p.ParseRow([]byte(line), &cev, true); cr != r || (r == ReasonOK && cev != ev) {
			t.Fatalf("ParseJSON(%q) = %v %+v\nParseRow(%q) = %v %+v", msg, r, ev, line, cr, cev)
		}
		want, wantOK := refParseRow(line)
		if wantOK != (r == ReasonOK) || (wantOK && want != ev) {
			t.Fatalf("ParseJSON(%q) = %v %+v\nreference of %q: ok=%v %+v", msg, r, ev, line, wantOK, want)
		}
	})
}
