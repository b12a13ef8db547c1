package format

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/internal/testrows"
)

// The fast path (scanFlat) against the fastjson path (parseJSONTree): where
// the scanner answers, the two give the same Reason and the same Event; where
// it does not, ParseJSON is the fastjson path.

// flatCase runs both paths on msg, with full and ViewUser as given, and
// reports whether the scanner answered; it fails t when the two differ.
func flatCase(t *testing.T, msg []byte, full, viewUser bool) bool {
	t.Helper()
	ft := Parser{ViewUser: viewUser}
	var et event.Event
	rt := ft.parseJSONTree(msg, &et, full)

	// ParseJSON: whichever path it takes, the fastjson path's answer.
	pj := Parser{ViewUser: viewUser}
	var ej event.Event
	if rj := pj.ParseJSON(msg, &ej, full); rj != rt || (rt == ReasonOK && ej != et) || pj.Truncated != ft.Truncated {
		t.Fatalf("%q full=%v: ParseJSON %v %+v (truncated %d)\nfastjson path %v %+v (truncated %d)",
			msg, full, rj, ej, pj.Truncated, rt, et, ft.Truncated)
	}

	var f [NumFields][]byte
	seen, ok := scanFlat(msg, &f)
	if !ok {
		return false
	}
	pf := Parser{ViewUser: viewUser}
	var ef event.Event
	rf := pf.fillJSON(&f, seen, &ef, full)
	if rf != rt || (rt == ReasonOK && ef != et) || pf.Truncated != ft.Truncated {
		t.Fatalf("%q full=%v: fast path %v %+v (truncated %d)\nfastjson path %v %+v (truncated %d)",
			msg, full, rf, ef, pf.Truncated, rt, et, ft.Truncated)
	}
	switch rf.Kind() {
	case ReasonJSON, ReasonDuplicateField, ReasonFieldType:
		t.Fatalf("%q: the fast path answered %v, which only the fastjson path may", msg, rf)
	}
	return true
}

// corpusSeeds returns the inputs of the committed corpus of fuzz target
// name (testdata/fuzz/name): the differential starts from what FuzzDecodeJSON
// found.
func corpusSeeds(tb testing.TB, name string) [][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", name, "*"))
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		// "go test fuzz v1\n[]byte(\"...\")\n"
		_, v, ok := strings.Cut(strings.TrimSpace(string(b)), "\n")
		if !ok || !strings.HasPrefix(v, "[]byte(") || !strings.HasSuffix(v, ")") {
			tb.Fatalf("%s: not a []byte corpus entry", file)
		}
		s, err := strconv.Unquote(v[len("[]byte(") : len(v)-1])
		if err != nil {
			tb.Fatalf("%s: %v", file, err)
		}
		out = append(out, []byte(s))
	}
	return out
}

// flatSeeds: the shapes producers send, and each thing the scanner must
// leave to fastjson, next to one it may take.
func flatSeeds() []string {
	good := testrows.Good
	names := string(testrows.JSONRow(good, false, true))
	return []string{
		string(testrows.JSONRow(good, false, false)),
		string(testrows.JSONRow(good, true, false)),
		names,
		string(testrows.JSONRow(good, true, true)),
		pythonJSON(good),
		" \t" + strings.ReplaceAll(names, ",", "\r\n,\t") + "\n",
		strings.ReplaceAll(names, ":", " : "),
		strings.Replace(names, `{`, `{"x":1,"y":"z","n":null,`, 1),
		strings.Replace(names, `}`, `,"x":[1]}`, 1),
		strings.Replace(names, `}`, `,"x":{"a":1}}`, 1),
		strings.Replace(names, `}`, `,"x":true}`, 1),
		strings.Replace(names, `}`, `,"x":007}`, 1),
		strings.Replace(names, `}`, `,"price":1}`, 1),
		strings.Replace(names, `}`, `,"Price":1}`, 1),
		strings.Replace(names, `}`, `,"br\u0061nd":"b"}`, 1),
		strings.Replace(names, `"brand":"acme"`, `"brand":"a\"b"`, 1),
		strings.Replace(names, `"brand":"acme"`, `"brand":"a\\"`, 1),
		strings.Replace(names, `"brand":"acme"`, `"brand":null`, 1),
		strings.Replace(names, `"brand":"acme"`, `"brand":nul`, 1),
		strings.Replace(names, `"brand":"acme"`, `"brand":nullx`, 1),
		strings.Replace(names, `"brand":"acme"`, `"brand":NaN`, 1),
		strings.Replace(names, `"brand":"acme"`, `"brand":nulx`, 1),
		strings.Replace(names, `"brand":"acme"`, `"brand":"a\,"`, 1),
		strings.Replace(names, `"brand":"acme"`, `"brand":"a\,"x":1`, 1),
		strings.Replace(names, `,"price"`, ",\f\"price\"", 1),
		strings.Replace(names, `"price":123.45`, `"price":007`, 1),
		strings.Replace(names, `,"price"`, ",\f\v\u00a0\u0085\"price\"", 1),
		strings.Replace(names, `"price":123.45`, `"price":-0`, 1),
		strings.Replace(names, `"price":123.45`, `"price":1.5e2`, 1),
		strings.Replace(names, `"price":123.45`, `"price":1.`, 1),
		strings.Replace(names, `"price":123.45`, `"price":-inf`, 1),
		strings.Replace(names, `"price":123.45`, `"price":12-3`, 1),
		strings.Replace(names, `"user_id":500000001`, `"user_id":18446744073709551616`, 1),
		strings.Replace(names, `"event_type":"cart"`, `"event_type":"view"`, 1),
		strings.Replace(names, `"user_session":"`, `"user_session":"`+strings.Repeat("s", 100), 1),
		names + " x",
		names + "}",
		strings.TrimSuffix(names, "}"),
		strings.TrimSuffix(names, "}") + ",}",
		`{}`, ` { } `, `{`, `{"price"}`, `{"price":}`, `[]`, `"a"`, ``,
		goodJSON(0, "-"),
		goodJSON(8, "-"),
		goodJSON(8, `"a`+"\x00\xff"+`b"`),
	}
}

// pythonJSON is row as Python's json.dumps writes a csv.DictReader row:
// every value a string, ", " and ": " between the tokens.
func pythonJSON(row []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for c, f := range row {
		if c > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(testrows.Columns[c]) + ": " + strconv.Quote(f))
	}
	b.WriteByte('}')
	return b.String()
}

// FuzzJSONFlat: on every input, the fast path answers as the fastjson path
// does, or leaves the input to it; ParseJSON always answers as the fastjson
// path.
//
//	go test -run '^$' -fuzz '^FuzzJSONFlat$' -fuzztime 5m ./format
func FuzzJSONFlat(f *testing.F) {
	for _, s := range flatSeeds() {
		f.Add([]byte(s))
	}
	for _, s := range corpusSeeds(f, "FuzzDecodeJSON") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, m := range []struct{ full, viewUser bool }{{true, false}, {false, false}, {false, true}} {
			flatCase(t, msg, m.full, m.viewUser)
		}
	})
}

// TestJSONFlatTaken: the shapes producers send take the fast path (a
// change that sent them to fastjson would pass every other test, only
// slower), and what it must not judge does not.
func TestJSONFlatTaken(t *testing.T) {
	good := testrows.Good
	names := string(testrows.JSONRow(good, false, true))
	f := func(msg string, want bool) {
		t.Helper()
		if got := flatCase(t, []byte(msg), true, false); got != want {
			t.Errorf("%q: fast path taken %v, want %v", msg, got, want)
		}
	}
	// Taken: both spellings, strings or numbers, JSON whitespace anywhere
	// fastjson skips it, other keys with plain values, any key order,
	// keys in other cases, null, a missing optional or required field,
	// and every rule-8 verdict (fill's).
	f(string(testrows.JSONRow(good, false, false)), true)
	f(string(testrows.JSONRow(good, true, false)), true)
	f(names, true)
	f(string(testrows.JSONRow(good, true, true)), true)
	f(pythonJSON(good), true)
	f(" \t"+strings.ReplaceAll(names, ",", "\r\n,\t")+"\n", true)
	f(strings.ReplaceAll(names, ":", " : "), true)
	f(strings.Replace(names, `{`, `{"x":1.5e-3,"y":"z","n":null,`, 1), true)
	f(strings.NewReplacer(`"user_id"`, `"UserID"`, `"price"`, `"PRICE"`).Replace(names), true)
	f(`{"user_session":"s","user_id":1,"price":1,"brand":"","category_code":"","category_id":1,"product_id":1,"event_type":"cart","event_time":"2019-11-01 00:00:00 UTC"}`, true)
	f(strings.Replace(names, `"brand":"acme"`, `"brand":null`, 1), true)
	f(goodJSON(5, "-"), true)
	f(goodJSON(0, "-"), true)
	f(`{}`, true)
	f(strings.Replace(names, `"price":123.45`, `"price":1e3`, 1), true)
	f(strings.Replace(names, `"price":123.45`, `"price":-5`, 1), true)
	f(strings.Replace(names, `"user_id":500000001`, `"user_id":18446744073709551616`, 1), true)
	f(goodJSON(8, `"a`+"\x00\xff"+`b"`), true)
	// Left to fastjson: escapes, a value that is not a string, a number
	// or null, a number fastjson reads otherwise, a field given twice,
	// text after the object, broken JSON.
	f(strings.Replace(names, `"brand":"acme"`, `"brand":"a\"b"`, 1), false)
	f(strings.Replace(names, `}`, `,"br\u0061nd":"b"}`, 1), false)
	f(strings.Replace(names, `}`, `,"x":[1]}`, 1), false)
	f(strings.Replace(names, `}`, `,"x":{"a":1}}`, 1), false)
	f(strings.Replace(names, `}`, `,"x":true}`, 1), false)
	f(strings.Replace(names, `}`, `,"x":007}`, 1), false)
	f(strings.Replace(names, `"brand":"acme"`, `"brand":NaN`, 1), false)
	f(strings.Replace(names, `"price":123.45`, `"price":12-3`, 1), false)
	f(strings.Replace(names, `}`, `,"Price":1}`, 1), false)
	f(names+" x", false)
	f(strings.TrimSuffix(names, "}")+",}", false)
	f(`{"price"}`, false)
	f(`[]`, false)
}
