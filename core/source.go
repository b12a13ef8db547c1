package core

import (
	"context"
	"io"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/format"
)

// This file is the input side of the seam: a Source hands the engine
// Records, in order; the engine decodes them (decode_csv.go for CSV text,
// decode_msg.go for messages, route.go for Blocks) on its worker goroutines. Where the bytes come from
// (a mapped file, a reader, the caller's memory, next a Kafka partition) is
// the Source's business; what they mean is the decoder's.

// Source hands the engine its input. The engine calls Next and Release from
// one goroutine (the reader stage) and Close once, after the run.
type Source interface {
	// Next fills r with the source's next records, or a barrier. It returns
	// io.EOF after the last, or an error, which aborts the run: no
	// end-of-input abandonment follows an error. r is reused: the source
	// may keep buffers in it from one call to the next (Records.own).
	Next(ctx context.Context, r *Records) error
	// Close releases the source's resources.
	Close() error
}

// releaser is a Source that wants each Records back once the engine has
// decoded it (a chunk buffer to reuse, mapped pages to drop). Release may be
// called from any goroutine.
type releaser interface{ Release(r *Records) }

// interrupter is a Source whose Next can block (a pipe): Interrupt, called
// from another goroutine when the run's context ends, makes a pending Next
// return.
type interrupter interface{ Interrupt() }

// headSource is a Source that can show its input's first bytes, for
// format.Diagnose when no row is valid.
type headSource interface{ headBytes() []byte }

// sizer is a Source that knows roughly how many rows it holds, to size the
// session tables and the batches' lists up front.
type sizer interface{ expectedRows() int64 }

// PosNext as Records.Pos: the records follow the previous Records of their
// partition, one position per line (the engine counts the lines).
const PosNext = -1

// Records is one batch of input as a source hands it over: text, messages
// or a Block (one of the three), or a barrier.
type Records struct {
	// Partition is the source partition the records belong to: every record
	// of a user is in one partition (docs/semantics.md, Partitions). A file
	// is partition 0.
	Partition int32
	// Pos is the position of the first record (a line number, a row
	// number, an offset), or PosNext.
	Pos int64

	// Text holds whole lines of CSV; Skip lines before them belong to
	// these Records but are not in Text (a header line), and count in the
	// positions.
	Text   []byte
	Skip   int
	Header *format.Header // CSV columns by name; nil: the 2019-Nov order

	// Block, instead of Text: rows in columns, each row one position.
	Block *event.Block

	// Values, instead of Text or a Block: messages (a Kafka record's value
	// each), one record each, JSON or a CSV line (format.Parser.ParseMessage).
	// Offsets, if not nil, holds each value's position (its Kafka offset),
	// increasing; then Pos is not used, and the partition's next position
	// is the last offset plus one. nil: the values' positions follow from
	// Pos, one each. The engine reads both only while it decodes them (a
	// releaser gets the Records back right after: Release).
	Values  [][]byte
	Offsets []int64

	// Barrier, when not 0 (and no records): a barrier with this id
	// (Checkpointer).
	Barrier uint64

	// Tick, when not 0 (and no records): the partition's event time has
	// reached Tick without a record (an idle partition, the wall clock):
	// its watermark becomes at least Tick minus the lateness and the carts
	// due fire, as they would for a record at Tick.
	Tick int64
	// Drop (and no records): the partition's state is dropped (a revoked
	// Kafka partition): its open carts, users and watermark are forgotten
	// without alerts; if it comes back it starts empty.
	Drop bool
	// Restore (and no records): partition Partition's state becomes the
	// snapshot's (EncodeSnapshot), whatever it was: its users, open carts
	// and their deadlines, watermark, counters and next position; each
	// user goes to the shard its hash picks in this run. Sent before the
	// partition's first record after the snapshot's position (Snapshot.Next),
	// the partition goes on exactly as if the run that wrote it had. The
	// engine reads the bytes only while it decodes them (a releaser gets the
	// Records back right after); a snapshot that does not decode, or is of
	// another partition, fails the run.
	Restore []byte
	// Arrival is the wall-clock time (Unix seconds) the Values arrived;
	// with Options.WallClock it replaces their event times (--clock wall).
	Arrival int64

	// own is storage a source may reuse from call to call (the engine
	// never touches it): a Block, a chunk.
	own struct {
		block event.Block
		chunk *textChunk
	}
}

func (r *Records) reset() {
	r.Partition, r.Pos = 0, PosNext
	r.Text, r.Skip, r.Header = nil, 0, nil
	r.Block, r.Barrier = nil, 0
	r.Values, r.Offsets = nil, nil
	r.Tick, r.Drop, r.Arrival = 0, false, 0
	r.Restore = nil
}

// empty reports whether r holds no records: a barrier, if Barrier is set.
func (r *Records) empty() bool { return r.Text == nil && r.Block == nil && r.Values == nil }

// BlockSource is the in-process columnar source: read appends rows to the
// empty Block it is given (event.Block.Append, AppendEvents, or its columns
// directly, keeping its invariant) and returns how many, 0 at the end. Rows
// are numbered from 2, the line each has in the CSV loadgen writes.
func BlockSource(read func(*event.Block) int) Source { return &blockSource{read: read} }

type blockSource struct {
	read    func(*event.Block) int
	started bool
}

func (s *blockSource) Next(ctx context.Context, r *Records) error {
	b := &r.own.block
	b.Reset()
	if s.read(b) == 0 || b.Len() == 0 {
		return io.EOF
	}
	if err := b.Check(); err != nil {
		return err
	}
	r.Block = b
	if !s.started {
		r.Pos, s.started = 2, true
	}
	return nil
}

func (s *blockSource) Close() error { return nil }

// blocksSourceOf reads blocks, which it only reads, one batch each (tests and
// benchmarks: no row is copied on input). Rows are numbered from 2.
func blocksSourceOf(blocks []event.Block) Source { return &blocksSource{blocks: blocks} }

type blocksSource struct {
	blocks  []event.Block
	i       int
	started bool
}

func (s *blocksSource) Next(ctx context.Context, r *Records) error {
	for ; s.i < len(s.blocks); s.i++ {
		b := &s.blocks[s.i]
		if b.Len() == 0 {
			continue
		}
		if err := b.Check(); err != nil {
			return err
		}
		if !s.started {
			r.Pos, s.started = 2, true
		}
		r.Block = b
		s.i++
		return nil
	}
	return io.EOF
}

func (s *blocksSource) expectedRows() int64 {
	n := 0
	for i := range s.blocks {
		n += s.blocks[i].Len()
	}
	return int64(n)
}

func (s *blocksSource) Close() error { return nil }

// eventsSource reads evs, batch events at a time, as Blocks (a copy of each
// batch): rows are numbered from 2.
func eventsSource(evs []event.Event, batch int) Source {
	if batch <= 0 {
		batch = 64 << 10
	}
	return &blockSource{read: func(b *event.Block) int {
		n := min(len(evs), batch)
		b.AppendEvents(evs[:n])
		evs = evs[n:]
		return n
	}}
}
