package core

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"unsafe"

	"github.com/cartwatch/cartwatch/event"
)

// This file is the engine's columnar in-process input: a Block holds a batch
// of events as columns, and RunBlocks / RunBlockSlice route from it.
//
// NOTE: nineteen rows in twenty are views, and without --extend-on-activity
// all a view does is raise the batch's maximum event time. Routed from
// []Event, each view still streams its 80-byte Event through the cache
// (routeBatch was a quarter of the engine's CPU, bound by memory bandwidth);
// from a Block it costs the 8 bytes of its time and the byte of its type.

// allViews is eight EventView bytes read as one little-endian word.
const allViews = 0x0101010101010101 * uint64(event.EventView)

// max8 is the largest of t[0..7], as a tree: four independent comparisons,
// then two, then one, rather than a chain of seven.
func max8(t []int64) int64 {
	t = t[:8]
	return max(max(max(t[0], t[1]), max(t[2], t[3])), max(max(t[4], t[5]), max(t[6], t[7])))
}

// routeBlock is the worker step for a Block.
func (e *engine) routeBlock(b *batch) {
	b.reset()
	blk := b.blk
	// The readers checked it already; the route below reads the type
	// column through unsafe, so it does not rely on that.
	if err := blk.Check(); err != nil {
		b.err = err
		return
	}
	n := len(blk.Time)
	b.lines, b.rows = int64(n), int64(n)
	if e.opt.ExtendOnActivity {
		b.localMax = e.routeBlockAll(b, blk)
	} else {
		b.localMax = e.routeBlockRest(b, blk)
	}
}

// routeBlockRest routes the carts and purchases of blk (without
// --extend-on-activity) and returns the block's maximum time.
//
// NOTE: it reads the type column eight rows at a time. A word of eight
// views (two words in three on the 2019-Nov month) only raises the maximum
// time, by max8; in any other word the rows that are not views are found
// by their non-zero bytes in word ^ allViews.
func (e *engine) routeBlockRest(b *batch, blk *event.Block) int64 {
	n := len(blk.Time)
	times, uids := blk.Time[:n], blk.UserID[:n]
	types := unsafe.Slice((*byte)(unsafe.SliceData(blk.Type)), n)
	rest := blk.Rest
	m := int64(math.MinInt64)
	k := 0 // next entry of rest
	views := int64(0)
	i := 0
	for ; i+8 <= n; i += 8 {
		x := binary.LittleEndian.Uint64(types[i:]) ^ allViews
		t := times[i : i+8 : i+8]
		if x == 0 {
			m = max(m, max8(t))
			views += 8
			continue
		}
		views += 8
		j := 0
		for x != 0 {
			views--
			p := bits.TrailingZeros64(x) >> 3
			for ; j <= p; j++ {
				m = max(m, t[j])
			}
			x &^= 0xff << (p * 8)
			if k == len(rest) {
				b.err = event.ErrBlockRest
				return m
			}
			e.routeRow(b, i+p, event.EventType(types[i+p]), uids[i+p], t[p], m, k)
			k++
		}
		for ; j < 8; j++ {
			m = max(m, t[j])
		}
	}
	for ; i < n; i++ {
		m = max(m, times[i])
		if event.EventType(types[i]) == event.EventView {
			views++
			continue
		}
		if k == len(rest) {
			b.err = event.ErrBlockRest
			return m
		}
		e.routeRow(b, i, event.EventType(types[i]), uids[i], times[i], m, k)
		k++
	}
	if k != len(rest) {
		b.err = event.ErrBlockRest
	}
	b.cnt.Views += views
	return m
}

// routeBlockAll routes every row of blk (--extend-on-activity) and returns
// the block's maximum time.
func (e *engine) routeBlockAll(b *batch, blk *event.Block) int64 {
	n := len(blk.Time)
	times, types, uids := blk.Time[:n], blk.Type[:n], blk.UserID[:n]
	rest := blk.Rest
	m := int64(math.MinInt64)
	k := 0
	views := int64(0)
	ns := e.nshard
	for j := range times {
		t, typ := times[j], types[j]
		m = max(m, t)
		if typ == event.EventView {
			// As in routeBatch: a view's routing is written out here.
			views++
			s := shardOf(event.HashUser(uids[j]), ns)
			b.routed[s] = append(b.routed[s], routed{t: t, uid: uids[j], wm: m, line: uint32(j),
				xt: uint32(event.EventView)})
			continue
		}
		if k == len(rest) {
			b.err = event.ErrBlockRest
			return m
		}
		e.routeRow(b, j, typ, uids[j], t, m, k)
		k++
	}
	if k != len(rest) {
		b.err = event.ErrBlockRest
	}
	b.cnt.Views += views
	return m
}

// routeRow counts row j of a Block, which is not a view and has Rest entry
// k, and routes it when a shard needs it: the Block form of routeEvent.
// The shard finds a cart's or purchase's other fields at Rest[k].
func (e *engine) routeRow(b *batch, j int, typ event.EventType, uid uint64, t, m int64, k int) {
	if !e.count(b, typ) {
		return
	}
	if typ != event.EventCart && typ != event.EventPurchase {
		typ = event.EventOther // an unknown type byte counts, and is routed, as an other event
	}
	i := shardOf(event.HashUser(uid), e.nshard)
	b.routed[i] = append(b.routed[i], routed{t: t, uid: uid, wm: m, line: uint32(j), xt: uint32(k)<<2 | uint32(typ)})
}

// RunBlocks runs the engine over the Blocks read fills: read gets an empty
// Block, appends the next rows to it (Append, AppendEvents, or its columns
// directly, keeping the invariant) and returns how many it appended, 0 at
// the end. The Block is the engine's, reused from call to call. Row numbers
// stand in for line numbers, as with RunEvents.
func RunBlocks(read func(*event.Block) int, opt Options, prog *Progress) (Summary, error) {
	e, err := newEngine(opt, prog)
	if err != nil {
		return Summary{}, err
	}
	e.line0 = 2
	e.blocks = true
	e.seedHint(e.opt.BatchEvents)
	reader := func() error {
		for seq := int64(0); ; seq++ {
			b := <-e.pool
			b.blkBuf.Reset()
			if read(&b.blkBuf) == 0 || b.blkBuf.Len() == 0 {
				e.pool <- b
				return nil
			}
			if err := b.blkBuf.Check(); err != nil {
				e.pool <- b
				return err
			}
			b.blk = &b.blkBuf
			b.seq = seq
			e.work <- b
		}
	}
	return e.run(reader, func() func(*batch) { return e.routeBlock })
}

// RunBlockSlice runs the engine over blocks, which it only reads, each block
// one batch (used by tests and the engine benchmark: no row is copied on
// input).
func RunBlockSlice(blocks []event.Block, opt Options) (Summary, error) {
	for i := range blocks {
		if err := blocks[i].Check(); err != nil {
			return Summary{}, fmt.Errorf("block %d: %w", i, err)
		}
	}
	e, err := newEngine(opt, nil)
	if err != nil {
		return Summary{}, err
	}
	e.line0 = 2
	most := 0
	for i := range blocks {
		most = max(most, blocks[i].Len())
	}
	e.blocks = true
	e.seedHint(most)
	reader := func() error {
		seq := int64(0)
		for i := range blocks {
			if blocks[i].Len() == 0 {
				continue
			}
			b := <-e.pool
			b.blk = &blocks[i]
			b.seq = seq
			seq++
			e.work <- b
		}
		return nil
	}
	return e.run(reader, func() func(*batch) { return e.routeBlock })
}
