//go:build !purego

package format

import "golang.org/x/sys/cpu"

// scanBlocksAVX2 is scanBlocksGeneric in AVX2 assembly (structural_amd64.s):
// about 0.5 instructions a byte for all three bitmaps.
//
//go:noescape
func scanBlocksAVX2(data []byte, mask []uint64)

// scanBlocksAVX512 is scanBlocksAVX2 with AVX-512BW: about 0.2
// instructions a byte.
//
//go:noescape
func scanBlocksAVX512(data []byte, mask []uint64)

// viewRunAVX2 is viewRunGo in assembly, with AVX2 (the row's first 32
// bytes) and BMI1/BMI2 (TZCNT, BLSR, SHRX, SHLX): about half its
// instructions a view. tmpl holds the cached time's 23 bytes and ",view,".
//
//go:noescape
func viewRunAVX2(data []byte, mask []uint64, s, stop int, tmpl *[32]byte) (next, views int)

var (
	useAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW
	useAVX2   = cpu.X86.HasAVX2
	// useViewRunAVX2 picks viewRunAVX2 over viewRunGo; tests flip it to
	// hold both to the same rows.
	useViewRunAVX2 = useAVX2 && cpu.X86.HasBMI1 && cpu.X86.HasBMI2
)

// scanBlocks runs stage 1 over the whole 64-byte blocks of data.
func scanBlocks(data []byte, mask []uint64) {
	if useAVX512 {
		scanBlocksAVX512(data, mask)
		return
	}
	if useAVX2 {
		scanBlocksAVX2(data, mask)
		return
	}
	scanBlocksGeneric(data, mask)
}
