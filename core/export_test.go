package core

import (
	"context"
	"io"
	"math"

	"github.com/cartwatch/cartwatch/event"
)

// Test-only access for the external benchmarks in engine_bench_test.go.

// UserTable exposes the shard's session table to benchmarks.
type UserTable struct{ t *userTable }

func NewUserTable(hint int) UserTable { return UserTable{newUserTable(hint)} }

// Touch does what the engine does for one cart or purchase: find or insert
// the user, then update the record in place.
func (u UserTable) Touch(uid uint64, cents int64) {
	r := u.t.upsert(uid, event.HashUser(uid))
	r.spending += cents
	r.flags |= recPurchaser
}

// Lookup does what the engine does when a deadline fires.
func (u UserTable) Lookup(uid uint64) bool {
	r := u.t.find(uid, event.HashUser(uid))
	if r == nil {
		return false
	}
	r.flags &^= recPurchaser
	return true
}

// UserRec is the record the other tables in the benchmark store.
type UserRec = userRec

// TouchRec and UntouchRec are the record updates of Touch and Lookup, for
// the other maps of the benchmark.
func TouchRec(r *UserRec) { r.spending += 100; r.flags |= recPurchaser }

func UntouchRec(r *UserRec) { r.flags &^= recPurchaser }

// WithChannels returns opt with the shard hand-off over channels instead of
// rings (the baseline of BenchmarkEngine and BenchmarkEngineHandoff).
func WithChannels(opt Options) Options { opt.newHandoff = newChanHandoff; return opt }

// ShardReplay routes blocks for a single shard beforehand and returns a
// function that applies them all to a fresh shard the way runShard does
// (warm, apply, advance per batch, end of input), on the calling goroutine:
// the shard side of the engine alone, without the other stages or the
// scheduler. It returns the carts abandoned, as a check.
func ShardReplay(blocks []event.Block, opt Options) (func() int64, error) {
	opt.Shards = 1
	e, err := newEngine(opt, nil)
	if err != nil {
		return nil, err
	}
	e.blocks = true
	e.shards[0].use(0)
	var batches []*batch
	base := int64(math.MinInt64)
	line := int64(2)
	for i := range blocks {
		b := &batch{routed: make([][]routed, 1), payloads: make([][]payload, 1), alerts: make([][]Alert, 1)}
		b.rec.Block = &blocks[i]
		e.routeBlock(b)
		if b.err != nil {
			return nil, b.err
		}
		b.base, b.firstLine = base, line
		base, line = max(base, b.localMax), line+b.lines
		batches = append(batches, b)
	}
	return func() int64 {
		s := newShard(e.ttl, e.recovery, opt.ExtendOnActivity, max(1<<16, int(opt.ExpectedRows/rowsPerUser)))
		e.shards[0] = s
		for _, b := range batches {
			e.applyBatch(s, b, 0)
			s.out = s.out[:0]
		}
		s.finish(opt.KeepAtEOF)
		return s.cnt.Abandoned
	}, nil
}

// Test shorthands for Run over the usual sources.

// RunSlice runs evs as Blocks of opt.BatchEvents rows (eventsSource).
func RunSlice(evs []event.Event, opt Options) (Summary, error) {
	return Run(context.Background(), eventsSource(evs, opt.BatchEvents), opt, nil)
}

// RunBlockSlice runs blocks, one batch each (blocksSourceOf).
func RunBlockSlice(blocks []event.Block, opt Options) (Summary, error) {
	return Run(context.Background(), blocksSourceOf(blocks), opt, nil)
}

// RunBlocks runs the Blocks read fills (BlockSource).
func RunBlocks(read func(*event.Block) int, opt Options, prog *Progress) (Summary, error) {
	return Run(context.Background(), BlockSource(read), opt, prog)
}

// RunReader runs the CSV text read from r (ReaderSource).
func RunReader(r io.Reader, opt Options, prog *Progress) (Summary, error) {
	return Run(context.Background(), ReaderSource(r), opt, prog)
}

// RunFile runs the CSV file at path (OpenFile).
func RunFile(path string, opt Options, prog *Progress) (Summary, error) {
	src, err := OpenFile(path, FileOptions{Progress: prog})
	if err != nil {
		return Summary{}, err
	}
	return Run(context.Background(), src, opt, prog)
}
