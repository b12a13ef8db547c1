//go:build linux

package core

import (
	"bytes"
	"context"
	"io"
	"os"
	"syscall"

	"github.com/cartwatch/cartwatch/format"
)

// The mapped-file source. A regular, uncompressed input file is mapped into
// memory and cut into chunks in place, so no byte is copied before the
// parser sees it: read(2) into a buffer was 22% of the CPU profile of a run
// (the kernel's copy out of the page cache), the largest cost after parsing.
// A chunk's pages are dropped from the mapping once it is parsed, so the
// resident set stays a few chunks, not the file.
//
// A file that shrinks while it is mapped makes the next read of a lost page
// fault (SIGBUS): every goroutine that reads the mapping (the engine's
// reader and workers) runs with debug.SetPanicOnFault, so the fault is a
// panic they recover into an error of the run (engine.go faultError).

// mappedSource cuts a mapped file into chunks of whole lines.
type mappedSource struct {
	f        *os.File
	data     []byte
	prog     *Progress
	chunk    int
	pos      int
	skip     int
	seq      int64
	pageMask int
	header   *format.Header
}

// openMapped maps the regular, plain (OpenInput) file f of the given size,
// whose header is hdr (nil: none). ok is false when it cannot be mapped (the
// caller then reads it).
func openMapped(f *os.File, hdr *format.Header, size int64, prog *Progress) (Source, bool, error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, false, nil
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, false, nil
	}
	syscall.Madvise(data, syscall.MADV_SEQUENTIAL)
	s := &mappedSource{f: f, data: data, prog: prog, chunk: 4 << 20, pageMask: os.Getpagesize() - 1, header: hdr}
	if bytes.HasPrefix(data, utf8BOM) {
		s.pos = len(utf8BOM)
	}
	if hdr != nil {
		// headerOf found the header's line end within the head.
		j := bytes.IndexByte(data[s.pos:], '\n')
		if j < 0 {
			j = len(data) - s.pos - 1
		}
		s.pos += j + 1
		s.skip = 1
	}
	return s, true, nil
}

func (s *mappedSource) setChunkBytes(n, _ int) {
	if n > 0 {
		s.chunk = n
	}
}

func (s *mappedSource) expectedRows() int64 { return int64(len(s.data) / rowBytesHint) }

func (s *mappedSource) Next(ctx context.Context, r *Records) error {
	data := s.data
	if s.pos >= len(data) && s.skip == 0 {
		return io.EOF
	}
	end := s.pos + s.chunk
	if end >= len(data) {
		end = len(data)
	} else if j := bytes.IndexByte(data[end:], '\n'); j >= 0 {
		end += j + 1
	} else {
		end = len(data)
	}
	r.Text, r.Skip, r.Header = data[s.pos:end], s.skip, s.header
	if s.seq == 0 {
		r.Pos = 1
	}
	s.seq++
	s.prog.Bytes.Add(int64(end - s.pos))
	s.pos, s.skip = end, 0
	return nil
}

// Release drops the pages wholly inside r's chunk from the mapping (the page
// cache keeps them); the two boundary pages may be shared with a neighbour
// chunk and stay.
func (s *mappedSource) Release(r *Records) {
	c := r.Text
	if len(c) == 0 {
		return
	}
	off := int(uintptrOf(c) - uintptrOf(s.data))
	lo := (off + s.pageMask) &^ s.pageMask
	hi := (off + len(c)) &^ s.pageMask
	if hi > lo {
		syscall.Madvise(s.data[lo:hi], syscall.MADV_DONTNEED)
	}
}

// headBytes returns the file's first bytes, for format.Diagnose.
func (s *mappedSource) headBytes() []byte { return s.data[:min(len(s.data), format.HeadSize)] }

func (s *mappedSource) Close() error {
	if s.data != nil {
		syscall.Munmap(s.data)
		s.data = nil
	}
	return s.f.Close()
}
