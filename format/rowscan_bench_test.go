package format

import (
	"bytes"
	"math"
	"testing"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/internal/testrows"
)

// BenchmarkRowScan is the parse step of the file path alone: RowIter over
// 1 MiB chunks of synthetic 2019-Nov rows already in memory, as the engine's
// workers run it: views time-only (the default), views with their user
// (--extend-on-activity), every field stored, or views=skip: the views
// time-only and counted inside NextNonView (the engine's plain path). cpu-ns/row is the
// benchmark goroutine's thread CPU per row, steadier than wall time on a
// shared machine.
func BenchmarkRowScan(b *testing.B) {
	data, _ := testrows.SyntheticRows(1 << 16)
	var chunks [][]byte
	for len(data) > 0 {
		n := min(len(data), 1<<20)
		if j := bytes.LastIndexByte(data[:n], '\n'); j >= 0 && n < len(data) {
			n = j + 1
		}
		chunks = append(chunks, data[:n])
		data = data[n:]
	}
	rows := 1 << 16
	for _, mode := range []struct {
		name           string
		full, viewUser bool
	}{{"views=time", false, false}, {"views=user", false, true}, {"full", true, false}, {"views=skip", false, false}} {
		skip := mode.name == "views=skip"
		full := mode.full
		b.Run(mode.name, func(b *testing.B) {
			b.ReportAllocs()
			p := Parser{ViewUser: mode.viewUser}
			var ev event.Event
			for _, c := range chunks {
				p.Rows(c)
			}
			n := 0
			cpu := testrows.StartCPU()
			for b.Loop() {
				for _, c := range chunks {
					it := p.Rows(c)
					for skip {
						m := int64(math.MinInt64)
						v, r, ok := it.NextNonView(&ev, &m)
						n += int(v)
						if !ok {
							break
						}
						if r != ReasonOK {
							b.Fatal("malformed synthetic row")
						}
						n++
					}
					for !skip {
						r, ok := it.Next(&ev, full)
						if !ok {
							break
						}
						if r != ReasonOK {
							b.Fatal("malformed synthetic row")
						}
						n++
					}
				}
			}
			if n != rows*b.N {
				b.Fatalf("%d rows, want %d", n, rows*b.N)
			}
			cpu.Report(b, rows, 0)
		})
	}
}
