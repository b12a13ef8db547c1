//go:build !amd64 || purego

package format

// scanBlocks is the portable stage 1 where there is no assembly version.
func scanBlocks(data []byte, mask []uint64) { scanBlocksGeneric(data, mask) }
