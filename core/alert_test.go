package core

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cartwatch/cartwatch/event"
)

// TestAlertSessionUTF8: a user_session with bytes that are not UTF-8 is
// written to the alerts with each such byte replaced by U+FFFD (the row is
// not malformed); valid multi-byte text passes through; a session cut at
// SessionMax inside a rune still gives valid UTF-8.
func TestAlertSessionUTF8(t *testing.T) {
	cut := strings.Repeat("s", event.SessionMax-1) + "é" // é is 2 bytes: the cut falls inside it
	for _, c := range []struct{ session, want string }{
		{"ab\xff\xfecd", "ab\uFFFD\uFFFDcd"},
		{"naïve-€-𝄞", "naïve-€-𝄞"},
		{cut, strings.Repeat("s", event.SessionMax-1) + "\uFFFD"},
		{"\xe2\x82", "\uFFFD\uFFFD"},                  // a 3-byte rune cut short
		{"\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"},        // a surrogate: not UTF-8
		{"\xc0\xaf", "\uFFFD\uFFFD"},                  // overlong
		{`"q""b\c` + "\x01\x7f\"", "q\"b\\c\x01\x7f"}, // quoted in the CSV
	} {
		rows := "2019-11-01 00:00:00 UTC,cart,1,2,,,5.10,7," + c.session + "\n" // session: the field as written
		alerts, sum, _ := runText(t, []byte(rows), Options{})
		if sum.Malformed != 0 || sum.Abandoned != 1 {
			t.Fatalf("%q: %+v", c.session, sum)
		}
		line := strings.TrimSuffix(alerts, "\n")
		if !utf8.ValidString(line) {
			t.Fatalf("%q: alert is not UTF-8: %q", c.session, line)
		}
		var a struct {
			Session string `json:"user_session"`
		}
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("%q: %v: %q", c.session, err, line)
		}
		if a.Session != c.want {
			t.Fatalf("%q: session %q, want %q", c.session, a.Session, c.want)
		}
	}
}

// TestAppendJSONString holds appendJSONString to encoding/json on random
// bytes: the output is valid UTF-8, decodes, and decodes to what
// encoding/json makes of the same bytes.
func TestAppendJSONString(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alpha := []string{"a", "\"", "\\", "\x00", "\x1f", "\x7f", "\x80", "\xbf", "\xc3", "\xa9", "\xe2\x82\xac", "\xf0\x9d\x84\x9e", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff", "é"}
	for k := 0; k < 20000; k++ {
		var b strings.Builder
		for n := rng.IntN(12); n > 0; n-- {
			b.WriteString(alpha[rng.IntN(len(alpha))])
		}
		s := b.String()
		out := appendJSONString(nil, []byte(s))
		if !utf8.Valid(out) {
			t.Fatalf("%q: output not UTF-8: %q", s, out)
		}
		var got, want string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q: %v: %q", s, err, out)
		}
		ref, _ := json.Marshal(s)
		json.Unmarshal(ref, &want)
		if got != want {
			t.Fatalf("%q: decodes to %q, encoding/json %q", s, got, want)
		}
		if utf8.ValidString(s) && got != s {
			t.Fatalf("%q: valid UTF-8 changed to %q", s, got)
		}
	}
}
