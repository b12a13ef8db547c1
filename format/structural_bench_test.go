package format

import (
	"fmt"
	"testing"

	"github.com/cartwatch/cartwatch/internal/testrows"
)

// BenchmarkScanBlocks is stage 1 alone on one 16 KiB window (in cache) and
// on 8 MiB (from memory): the one scanBlocks picks, the portable one and
// each assembly one the CPU can run.
func BenchmarkScanBlocks(b *testing.B) {
	data, _ := testrows.SyntheticRows(1 << 16)
	for _, size := range []int{rowWindow, 8 << 20} {
		buf := data[:size]
		mask := make([]uint64, size/64*maskStride)
		for _, impl := range append([]altScan{{"default", scanBlocks}, {"generic", scanBlocksGeneric}}, altScans...) {
			b.Run(fmt.Sprintf("%s/%dK", impl.name, size>>10), func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					for i := 0; i < size; i += rowWindow {
						impl.f(buf[i:i+rowWindow], mask[i/64*maskStride:(i+rowWindow)/64*maskStride])
					}
				}
			})
		}
	}
}
