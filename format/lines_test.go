package format

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/internal/testrows"
)

// parsed is what one yielded line turned into.
type parsed struct {
	idx  int
	line string
	r    Reason
	ev   event.Event
}

// walkBoth parses data with ParseNext and with Next + ParseRow.
func walkBoth(data []byte, full bool) (next, iter []parsed, nNext, nIter int) {
	return walkBothUser(data, full, false, 0)
}

// walkBothUser is walkBoth with Parser.ViewUser and MaxTime set.
func walkBothUser(data []byte, full, viewUser bool, maxTime int64) (next, iter []parsed, nNext, nIter int) {
	p1, p2 := Parser{ViewUser: viewUser, MaxTime: maxTime}, Parser{ViewUser: viewUser, MaxTime: maxTime}
	it := Lines(data)
	for {
		var ev event.Event
		r, ok := it.ParseNext(&p1, &ev, full)
		if !ok {
			break
		}
		next = append(next, parsed{it.Index(), string(it.Line()), r, ev})
	}
	nNext = it.Count()
	it = Lines(data)
	for it.Next() {
		var ev event.Event
		r := p2.ParseRow(it.Line(), &ev, full)
		iter = append(iter, parsed{it.Index(), string(it.Line()), r, ev})
	}
	return next, iter, nNext, it.Count()
}

func checkWalks(t *testing.T, data []byte) {
	t.Helper()
	for _, full := range []bool{false, true} {
		next, iter, n1, n2 := walkBoth(data, full)
		if n1 != n2 || len(next) != len(iter) {
			t.Fatalf("%q full=%v: ParseNext %d lines (%d yielded), Next %d (%d)", data, full, n1, len(next), n2, len(iter))
		}
		for i := range next {
			a, b := next[i], iter[i]
			if a.r != ReasonOK { // ev is unspecified on a malformed row
				a.ev, b.ev = event.Event{}, event.Event{}
			}
			if a != b {
				t.Fatalf("%q full=%v: line %d\nParseNext %+v\nNext      %+v", data, full, i, a, b)
			}
		}
	}
}

func TestParseNext(t *testing.T) {
	data, _ := testrows.SyntheticRows(500)
	checkWalks(t, data)
	rng := rand.New(rand.NewSource(3))
	lines := splitLines(data)
	for k := 0; k < 300; k++ {
		var b []byte
		for n := rng.Intn(8); n > 0; n-- {
			l := append([]byte(nil), lines[rng.Intn(len(lines))]...)
			switch rng.Intn(8) {
			case 0:
				l = l[:rng.Intn(len(l))]
			case 1:
				l[rng.Intn(len(l))] = ",\"\r\n.x"[rng.Intn(5)]
			case 2:
				l = append(l, '\r')
			case 3:
				l = nil
			}
			b = append(b, l...)
			b = append(b, '\n')
		}
		if len(b) > 0 && rng.Intn(2) == 0 {
			b = b[:len(b)-1]
		}
		checkWalks(t, b)
	}
	// The line limit applies on both walks.
	long := []byte(testrows.With(4, strings.Repeat("a", 300)) + "\n" + testrows.Row(testrows.Good...))
	p := Parser{MaxLine: 200}
	var ev event.Event
	it := Lines(long)
	if r, ok := it.ParseNext(&p, &ev, true); !ok || r != ReasonLineTooLong {
		t.Fatalf("long line: %v, %v", r, ok)
	}
	if r, ok := it.ParseNext(&p, &ev, true); !ok || r != ReasonOK || it.Index() != 1 {
		t.Fatalf("after long line: %v, %v, index %d", r, ok, it.Index())
	}
}

func FuzzParseNext(f *testing.F) {
	f.Add([]byte(testrows.Row(testrows.Good...) + "\n" + testrows.Row(testrows.Good...) + "\r\n\n" + testrows.With(1, "view")))
	f.Add([]byte(testrows.With(8, "") + "\r\n" + testrows.With(8, "x\r")))
	f.Fuzz(func(t *testing.T, data []byte) { checkWalks(t, data) })
}
