package kafka

import (
	"testing"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/format"
)

// BenchmarkEncode: one event with its row's text into a reused buffer, as
// JSON and as CSV (a key too). Expect 0 allocs/op.
//
//	go test ./kafka -run '^$' -bench Encode -benchmem
func BenchmarkEncode(b *testing.B) {
	row := []byte("2019-11-01 00:00:00 UTC,view,1003461,2053013555631882655,electronics.smartphone,xiaomi,489.07,520088904,4d3b30da-a5e4-49df-b1a8-ba5943f1dd33")
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
