//go:build !amd64 || purego

package format

// scanBlocks is the portable stage 1 where there is no assembly version.
func scanBlocks(data []byte, mask []uint64) { scanBlocksGeneric(data, mask) }

// useViewRunAVX2 is always false here: viewRun runs viewRunGo.
var useViewRunAVX2 = false

func viewRunAVX2(data []byte, mask []uint64, s, stop int, tmpl *[32]byte) (next, views int) {
	panic("format: viewRunAVX2 without amd64 assembly")
}
