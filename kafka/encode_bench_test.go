package kafka

import (
	"testing"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/format"
	"github.com/cartwatch/cartwatch/internal/testrows"
)

// BenchmarkEncode: one event with its row's text into a reused buffer, as
// JSON and as CSV (a key too). Expect 0 allocs/op.
//
//	go test ./kafka -run '^$' -bench Encode -benchmem
func BenchmarkEncode(b *testing.B) {
	row := []byte(testrows.Row(testrows.Good...))
	var ev event.Event
	if r := format.ParseRow(row, &ev, true); r != format.ReasonOK {
		b.Fatal(r)
	}
	var sp Splitter
	var text Text
	sp.Split(row, nil, &text)
	for _, f := range []Format{JSON, CSV} {
		b.Run(f.String(), func(b *testing.B) {
			e := Encoder{Format: f}
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			b.SetBytes(int64(len(e.Append(AppendKey(nil, &ev), &ev, &text))))
			for b.Loop() {
				buf = AppendKey(buf[:0], &ev)
				buf = e.Append(buf, &ev, &text)
			}
		})
	}
}
