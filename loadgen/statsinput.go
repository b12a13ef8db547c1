package loadgen

import (
	"bytes"
	"fmt"
	"io"

	"github.com/cartwatch/cartwatch/format"
)

// lineReader cuts the input of Measure into chunks of whole lines for
// format.Parser.Rows, framed by the rules of cartwatch run's reader
// (core.ChunkReader), so that both see the same rows: a UTF-8 BOM and a
// header line (a first line starting with "event_time,") are dropped, the
// header still counting as line 1; a line longer than format.DefaultMaxLine
// reaches the parser cut to DefaultMaxLine+1 bytes, which it rejects as
// ReasonLineTooLong, and the rest of it is skipped unread into any buffer.
// Unlike ChunkReader it is sequential: one buffer, reused by every next.
type lineReader struct {
	r       io.Reader
	buf     []byte // len chunkSize, cap chunkSize+1 (room for a '\n')
	lo, n   int    // buf[lo:n]: the partial line after the last chunk
	first   bool   // nothing returned yet: look for a BOM and a header
	discard bool   // inside a too-long line: drop bytes up to its '\n'
	eof     bool
	err     error
	bytes   int64          // bytes read from r
	header  *format.Header // the input's header (format.ParseHeader); nil: none
}

// statsChunk is the size of lineReader's buffer: a few MiB, so per-chunk
// costs vanish, and more than a line of the longest length allowed.
const statsChunk = 4 << 20

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: r, buf: make([]byte, statsChunk, statsChunk+1), first: true}
}

// next returns the next run of whole lines (the last may lack its '\n' at
// the end of the input) and how many lines before them were dropped (1 for
// a header, else 0). The data is valid until the next call. At the end it
// returns io.EOF, or the read error that stopped the input.
func (lr *lineReader) next() (data []byte, skipped int, err error) {
	lr.n = copy(lr.buf, lr.buf[lr.lo:lr.n])
	lr.lo = 0
	lr.fill()
	if lr.discard {
		lr.dropRest()
	}
	if lr.first {
		lr.first = false
		skipped = lr.dropPreamble()
	}
	switch {
	case lr.err != nil:
		return nil, 0, lr.err
	case lr.n == 0 && skipped == 0:
		return nil, 0, io.EOF
	}
	// fill stops only at a full buffer or at the end of the input, so the
	// buffer holds a '\n', or a line too long, or the input's last line.
	end := bytes.LastIndexByte(lr.buf[:lr.n], '\n') + 1 // 0 if none
	const maxLine = format.DefaultMaxLine
	switch {
	case lr.n-end > maxLine:
		// The last line is too long: hand maxLine+1 bytes of it and a '\n'
		// to the parser and drop the rest. lr.n <= len(buf) < cap(buf), so
		// the '\n' fits.
		data = lr.buf[:end+maxLine+2]
		data[end+maxLine+1] = '\n'
		lr.discard = !lr.eof
		lr.n = 0
		return data, skipped, nil
	case lr.eof:
		end = lr.n // the last line may lack its '\n'
	}
	lr.lo = end
	return lr.buf[:end], skipped, nil
}

// fill reads until buf is full or the input ends.
func (lr *lineReader) fill() {
	for lr.n < len(lr.buf) && !lr.eof && lr.err == nil {
		m, err := lr.r.Read(lr.buf[lr.n:])
		lr.n += m
		lr.bytes += int64(m)
		if err == io.EOF {
			lr.eof = true
		} else if err != nil {
			lr.err = fmt.Errorf("read input: %w", err)
		}
	}
}

// dropRest drops the rest of a too-long line, up to and including its '\n'.
func (lr *lineReader) dropRest() {
	for {
		if j := bytes.IndexByte(lr.buf[:lr.n], '\n'); j >= 0 {
			lr.discard = false
			lr.n = copy(lr.buf, lr.buf[j+1:lr.n])
			lr.fill()
			return
		}
		if lr.eof || lr.err != nil {
			lr.discard = false
			lr.n = 0
			return
		}
		lr.n = 0
		lr.fill()
	}
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// dropPreamble drops a UTF-8 BOM and a header line from the front of buf
// and returns the number of lines dropped.
func (lr *lineReader) dropPreamble() int {
	if bytes.HasPrefix(lr.buf[:lr.n], utf8BOM) {
		lr.n = copy(lr.buf, lr.buf[len(utf8BOM):lr.n])
		lr.fill()
	}
	j := bytes.IndexByte(lr.buf[:lr.n], '\n')
	first := lr.buf[:lr.n]
	if j >= 0 {
		first = first[:j]
	}
	if j < 0 && !lr.eof {
		return 0 // a first line longer than the buffer is no header
	}
	h, err := format.ParseHeader(first)
	if err != nil {
		lr.err = err
		return 0
	}
	if h == nil {
		return 0
	}
	lr.header = h
	switch {
	case j >= 0 && j <= format.DefaultMaxLine:
		lr.n = copy(lr.buf, lr.buf[j+1:lr.n])
		lr.fill()
		return 1
	case j < 0 && lr.eof && lr.n <= format.DefaultMaxLine:
		lr.n = 0
		return 1
	}
	return 0 // too long to be a header: a malformed row like any other
}
