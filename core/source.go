package core

import (
	"errors"
	"io"
	"math"
	"os"
	"unsafe"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/format"
)

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// This file connects the input side (input.go: OpenInput, ChunkReader,
// LineIter; csv.go: Parser) to the engine: the reader stage hands chunks to
// the workers, and parseBatch is the worker step for CSV text.

// rowBytesHint is about the mean length of a 2019-Nov row, to guess a
// chunk's row count before it is parsed (the batch lists' first size).
const rowBytesHint = 128

// ErrNoInput is returned for an empty input path.
var ErrNoInput = errors.New("no input given")

// RunFile runs the engine over the CSV file at path ("-" for stdin; gzip is
// detected and decompressed).
func RunFile(path string, opt Options, prog *Progress) (Summary, error) {
	if path == "" {
		return Summary{}, ErrNoInput
	}
	if prog == nil {
		prog = new(Progress)
	}
	if path != "-" {
		if f, err := os.Open(path); err == nil {
			st, err := f.Stat()
			if err == nil && st.Mode().IsRegular() {
				sum, ok, err := runMapped(f, st.Size(), opt, prog)
				if ok {
					f.Close()
					return sum, err
				}
			}
			f.Close()
		}
	}
	rc, err := OpenInput(path)
	if err != nil {
		return Summary{}, err
	}
	defer rc.Close()
	return RunReader(rc, opt, prog)
}

// RunReader runs the engine over CSV text read from r.
func RunReader(r io.Reader, opt Options, prog *Progress) (Summary, error) {
	e, err := newEngine(opt, prog)
	if err != nil {
		return Summary{}, err
	}
	e.seedHint(e.opt.ChunkBytes / rowBytesHint)
	cr := NewChunkReader(r, ReaderOptions{ChunkSize: e.opt.ChunkBytes, FreeChunks: e.opt.Parsers + 2})
	read := func() error {
		for {
			c, err := cr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			b := <-e.pool
			b.chunk, b.seq = c, int64(c.Seq)
			e.prog.Bytes.Add(int64(len(c.Data)))
			e.work <- b
		}
	}
	return e.run(read, func() func(*batch) {
		var p format.Parser
		return func(b *batch) {
			e.parseBatch(&p, b)
			// Routed events hold copies of what they need: the chunk can go
			// back to the reader before the shards see the batch.
			cr.Release(b.chunk)
			b.chunk = nil
		}
	})
}

// parseBatch is the worker step for CSV text: every line is checked against
// rule 8 and counted; views only raise the batch's maximum time (unless
// --extend-on-activity), carts and purchases are routed to their shard.
func (e *engine) parseBatch(p *format.Parser, b *batch) {
	b.reset()
	skip := int64(b.chunk.Skip)
	m := int64(math.MinInt64)
	var ev event.Event
	// A view needs only its time and type, and with --extend-on-activity
	// its user, so the parser may skip storing its other fields (it still
	// validates them).
	const full = false
	extend := e.opt.ExtendOnActivity
	p.ViewUser = extend
	it := p.Rows(b.chunk.Data)
	views, n := int64(0), e.nshard
	for {
		r, ok := it.Next(&ev, full)
		if !ok {
			break
		}
		if r != format.ReasonOK {
			b.bad++
			b.rejects = append(b.rejects, reject{skip + int64(it.Index()), r})
			continue
		}
		b.rows++
		m = max(m, ev.Time)
		if ev.Type == event.EventView {
			// As in routeBatch: views (94 % of rows) stay out of the
			// routeEvent call, too big to inline; with
			// --extend-on-activity their routing is written out here.
			views++
			if extend {
				i := shardOf(event.HashUser(ev.UserID), n)
				b.routed[i] = append(b.routed[i], routed{t: ev.Time, uid: ev.UserID, wm: m,
					line: uint32(skip + int64(it.Index())), xt: uint32(event.EventView)})
			}
			continue
		}
		e.routeEvent(b, &ev, m, skip+int64(it.Index()))
	}
	b.cnt.Views += views
	b.lines = skip + int64(it.Count())
	b.localMax = m
}
