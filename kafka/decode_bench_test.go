package kafka

import (
	"testing"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/format"
	"github.com/cartwatch/cartwatch/loadgen"
)

// producedValues returns the first n events of the synthetic month as the
// record values `cartwatch produce --synthetic` writes in f (no row text).
func producedValues(tb testing.TB, n int, f Format) [][]byte {
	tb.Helper()
	gen, err := loadgen.NewGenerator(loadgen.Config{Scale: 1, Days: 1, Seed: 1})
	if err != nil {
		tb.Fatal(err)
	}
	defer gen.Close()
	evs := make([]event.Event, n)
	evs = evs[:gen.Read(evs)]
	e := Encoder{Format: f}
	vals := make([][]byte, len(evs))
	for i := range evs {
		vals[i] = e.Append(nil, &evs[i], nil)
	}
	return vals
}

// BenchmarkDecodeProduced: the consumer's decode step (format.Parser's
// ParseMessage, views time-only as the engine asks) over the values
// `cartwatch produce --synthetic` writes, one message at a time. Expect 0
// allocs/op.
//
//	go test ./kafka -run '^$' -bench DecodeProduced -count 10
func BenchmarkDecodeProduced(b *testing.B) {
	const n = 1 << 15
	for _, f := range []Format{JSON, CSV} {
		vals := producedValues(b, n, f)
		size := 0
		for _, v := range vals {
			size += len(v)
		}
		b.Run(f.String(), func(b *testing.B) {
			var p format.Parser
			var ev event.Event
			b.ReportAllocs()
			b.SetBytes(int64(size / len(vals)))
			i := 0
			for b.Loop() {
				if r := p.ParseMessage(vals[i], &ev, false); r != format.ReasonOK {
					b.Fatalf("%q: %v", vals[i], r)
				}
				if i++; i == len(vals) {
					i = 0
				}
			}
		})
	}
}
