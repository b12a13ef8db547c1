//go:build !purego

package format

// The assembly versions this CPU can run, each held to the definition by
// checkScan whichever one scanBlocks picks.
func init() {
	if useAVX2 {
		altScans = append(altScans, altScan{"avx2", scanBlocksAVX2})
	}
	if useAVX512 {
		altScans = append(altScans, altScan{"avx512", scanBlocksAVX512})
	}
}
