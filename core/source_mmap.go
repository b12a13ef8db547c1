//go:build linux

package core

import (
	"bytes"
	"os"
	"syscall"

	"github.com/cartwatch/cartwatch/format"
)

// The mapped-file fast path. A regular, uncompressed input file is mapped
// into memory and cut into chunks in place, so no byte is copied before the
// parser sees it: read(2) into a buffer was 22% of the CPU profile of a run
// (the kernel's copy out of the page cache), the largest cost after parsing.
// A chunk's pages are dropped from the mapping once it is parsed, so the
// resident set stays a few chunks, not the file.

// runMapped runs the engine over the regular file f of the given size. ok is
// false when the file cannot be mapped (the caller then reads it).
func runMapped(f *os.File, size int64, opt Options, prog *Progress) (sum Summary, ok bool, err error) {
	if size <= 0 || int64(int(size)) != size {
		return Summary{}, false, nil
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return Summary{}, false, nil
	}
	defer syscall.Munmap(data)
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		return Summary{}, false, nil // gzip: decompress through OpenInput
	}
	syscall.Madvise(data, syscall.MADV_SEQUENTIAL)
	if opt.ExpectedRows == 0 {
		opt.ExpectedRows = size / rowBytesHint
	}
	e, err := newEngine(opt, prog)
	if err != nil {
		return Summary{}, true, err
	}
	e.seedHint(e.opt.ChunkBytes / rowBytesHint)
	const maxLine = format.DefaultMaxLine
	read := func() error {
		pos, skip := 0, 0
		if bytes.HasPrefix(data, utf8BOM) {
			pos = len(utf8BOM)
		}
		if bytes.HasPrefix(data[pos:], []byte("event_time,")) {
			// The same rule as ChunkReader: a header longer than a line may
			// be is a malformed row, not a header.
			j := bytes.IndexByte(data[pos:min(len(data), pos+maxLine+1)], '\n')
			switch {
			case j >= 0:
				pos += j + 1
				skip = 1
			case len(data)-pos <= maxLine:
				pos = len(data)
				skip = 1
			}
		}
		for seq := int64(0); pos < len(data) || skip > 0; seq++ {
			end := pos + e.opt.ChunkBytes
			if end >= len(data) {
				end = len(data)
			} else if j := bytes.IndexByte(data[end:], '\n'); j >= 0 {
				end += j + 1
			} else {
				end = len(data)
			}
			b := <-e.pool
			b.mapped = Chunk{Seq: uint64(seq), Data: data[pos:end], Skip: skip}
			b.chunk, b.seq = &b.mapped, seq
			prog.Bytes.Add(int64(end - pos))
			e.work <- b
			pos, skip = end, 0
		}
		return nil
	}
	pageMask := os.Getpagesize() - 1
	sum, err = e.run(read, func() func(*batch) {
		var p format.Parser
		return func(b *batch) {
			e.parseBatch(&p, b)
			// Drop the pages wholly inside this chunk from the mapping (the
			// page cache keeps them); the two boundary pages may be shared
			// with a neighbour chunk and stay.
			c := b.chunk.Data
			if len(c) > 0 {
				off := int(uintptrOf(c) - uintptrOf(data))
				lo := (off + pageMask) &^ pageMask
				hi := (off + len(c)) &^ pageMask
				if hi > lo {
					syscall.Madvise(data[lo:hi], syscall.MADV_DONTNEED)
				}
			}
			b.chunk = nil
		}
	})
	return sum, true, err
}
