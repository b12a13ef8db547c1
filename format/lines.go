package format

import (
	"bytes"

	"github.com/cartwatch/cartwatch/event"
)

// Lines returns an iterator over the non-blank lines of data.
func Lines(data []byte) LineIter { return LineIter{data: data} }

// LineIter walks the lines of a chunk. Use it as
//
//	it := c.Lines()
//	for it.Next() {
//		r := p.ParseRow(it.Line(), &ev, full)
//		... it.Index() ...
//	}
//	lines := it.Count()
//
// It is a value type so that the loop keeps it in registers: measured against
// ForEachLine's closure call per row in BenchmarkLines.
type LineIter struct {
	data []byte
	pos  int
	n    int // lines consumed, blank ones included
	line []byte
}

// Next advances to the next non-blank line and reports whether there is one.
// A blank line (empty, or a lone '\r') is counted but not yielded.
func (it *LineIter) Next() bool {
	for it.pos < len(it.data) {
		rest := it.data[it.pos:]
		var line []byte
		if j := bytes.IndexByte(rest, '\n'); j >= 0 {
			line = rest[:j]
			it.pos += j + 1
		} else {
			line = rest
			it.pos = len(it.data)
		}
		it.n++
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			continue
		}
		it.line = line
		return true
	}
	return false
}

// ParseNext advances to the next non-blank line and parses it with p, like
// Next followed by p.ParseRow(it.Line(), ev, full), and returns its Reason;
// ok is false at the end of the chunk. Line, Index and Count work as after
// Next.
//
// NOTE: it is faster than Next + ParseRow because the parser's scan of the
// last field finds the '\n' too, so the common row is read once, not twice
// (once by Next's search for '\n'). See BenchmarkReadParse.
func (it *LineIter) ParseNext(p *Parser, ev *event.Event, full bool) (r Reason, ok bool) {
	if it.pos < len(it.data) && !p.mapped() {
		rest := it.data[it.pos:]
		if end, ok := p.fast(rest, ev, full); ok {
			it.line = rest[:end]
			it.pos += min(end+1, len(rest))
			it.n++
			return ReasonOK, true
		}
	}
	if !it.Next() {
		return ReasonOK, false
	}
	return p.ParseRow(it.line, ev, full), true
}

// Line returns the current line without its '\n' (a '\r' before it is kept;
// ParseRow drops it). It aliases the chunk.
func (it *LineIter) Line() []byte { return it.line }

// Index returns the 0-based index of the current line among all lines of the
// chunk, blank lines included.
func (it *LineIter) Index() int { return it.n - 1 }

// Count returns the number of lines consumed so far, blank lines included:
// after Next has returned false, the chunk's line count.
func (it *LineIter) Count() int { return it.n }

// ForEachLine calls fn for each non-blank line of data (a Chunk's Data) with
// its 0-based index among all lines, and returns the number of lines, blank
// ones included. LineIter does the same without a call per line.
func ForEachLine(data []byte, fn func(idx int, line []byte)) int {
	it := LineIter{data: data}
	for it.Next() {
		fn(it.Index(), it.line)
	}
	return it.n
}
