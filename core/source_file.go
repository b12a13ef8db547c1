package core

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"unsafe"

	"github.com/cartwatch/cartwatch/format"
)

// This file holds the sources of CSV text: OpenFile picks the mapped-file
// source (source_mmap.go) for a plain regular file and the reader source
// below for anything else (stdin, a pipe, compressed input).

// ErrNoInput is returned for an empty input path.
var ErrNoInput = errors.New("no input given")

// FileOptions configures OpenFile. The zero value is ready to use.
type FileOptions struct {
	// Member is the member of a .zip archive to read; default its single
	// .csv member (OpenInput).
	Member string
	// Progress, if set, gets the file's size as stored in Total (0 when
	// unknown) and the bytes read so far in Bytes.
	Progress *Progress
}

// OpenFile opens a CSV input: path "-" is stdin. It returns an error naming
// the file for anything wrong that can be known before reading rows, so
// call it before creating any output.
func OpenFile(path string, opt FileOptions) (Source, error) {
	if path == "" {
		return nil, ErrNoInput
	}
	prog := opt.Progress
	if prog == nil {
		prog = new(Progress)
	}
	// The input counts the bytes it reads of the file as stored (compressed
	// bytes for compressed input); the mapped source counts its own.
	in, err := OpenInput(path, OpenOptions{Member: opt.Member, Counter: &prog.Bytes})
	if err != nil {
		return nil, err
	}
	prog.Total.Store(in.Size)
	hdr, err := headerOf(in.Head())
	if err != nil {
		in.Close()
		return nil, fmt.Errorf("%s: %w", in.Name, err)
	}
	if in.Plain {
		src, ok, err := openMapped(in.File, hdr, in.Size, prog)
		if ok || err != nil {
			return src, err
		}
	}
	s := newReaderSource(in, prog)
	s.counted, s.in, s.header = true, in, hdr
	return s, nil
}

// headerOf reads the header of an input from its first bytes (a UTF-8 BOM
// and all): nil when the first line is a row (format.ParseHeader), or when
// it does not end within head (a first line that long is no header), or an
// error naming what is wrong with a header.
func headerOf(head []byte) (*format.Header, error) {
	head = bytes.TrimPrefix(head, utf8BOM)
	j := bytes.IndexByte(head, '\n')
	if j < 0 {
		if len(head) >= format.HeadSize-len(utf8BOM) {
			return nil, nil
		}
		j = len(head)
	}
	return format.ParseHeader(head[:j])
}

// ReaderSource returns a Source of CSV text read from r, its header read by
// name as OpenFile does (compression is not detected: see OpenFile). A bad
// header is the error of the first Next.
func ReaderSource(r io.Reader) Source {
	br := bufio.NewReaderSize(r, format.HeadSize)
	head, _ := br.Peek(format.HeadSize)
	s := newReaderSource(io.NopCloser(br), new(Progress))
	s.header, s.err = headerOf(head)
	s.head = head
	return s
}

// readerSource cuts a byte stream into chunks of whole lines (chunkReader).
type readerSource struct {
	rc      io.ReadCloser
	cr      *chunkReader
	prog    *Progress
	counted bool           // rc adds to prog.Bytes itself (an Opened input)
	in      *Opened        // rc, when it is one (OpenFile)
	head    []byte         // the first bytes, when in is nil (ReaderSource)
	header  *format.Header // the input's header; nil: none, or the 2019-Nov order
	err     error          // a bad header, returned by Next
}

func newReaderSource(rc io.ReadCloser, prog *Progress) *readerSource {
	return &readerSource{rc: rc, prog: prog}
}

// chunkSizer is a Source that cuts text into chunks of the engine's
// Options.ChunkBytes; Run tells it the size before the first Next.
type chunkSizer interface{ setChunkBytes(n, inFlight int) }

func (s *readerSource) setChunkBytes(n, inFlight int) {
	isHeader := s.header != nil
	s.cr = newChunkReader(s.rc, readerOptions{ChunkSize: n, FreeChunks: inFlight,
		IsHeader: func([]byte) bool { return isHeader }})
}

// headBytes returns the input's first bytes, for format.Diagnose.
func (s *readerSource) headBytes() []byte {
	if s.in != nil {
		return s.in.Head()
	}
	return s.head
}

func (s *readerSource) Next(ctx context.Context, r *Records) error {
	if s.err != nil {
		return s.err
	}
	if s.cr == nil {
		s.setChunkBytes(0, 0)
	}
	c, err := s.cr.Next()
	if err != nil {
		return err
	}
	if !s.counted {
		s.prog.Bytes.Add(int64(len(c.Data)))
	}
	r.own.chunk = c
	r.Text, r.Skip, r.Header = c.Data, c.Skip, s.header
	if c.Seq == 0 {
		r.Pos = 1
	}
	return nil
}

func (s *readerSource) Release(r *Records) {
	if c := r.own.chunk; c != nil {
		r.own.chunk = nil
		s.cr.Release(c)
	}
}

// Interrupt closes the input, so that a Next blocked on a pipe returns. Of
// an Opened input it closes the file only: its decoders are closed by Close,
// once no Read runs.
func (s *readerSource) Interrupt() {
	if in, ok := s.rc.(*Opened); ok {
		in.File.Close()
		return
	}
	s.rc.Close()
}

func (s *readerSource) Close() error { return s.rc.Close() }

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
