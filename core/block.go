package core

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"unsafe"
)

// This file is the engine's columnar in-process input: a Block holds a batch
// of events as columns, and RunBlocks / RunBlockSlice route from it.
//
// NOTE: nineteen rows in twenty are views, and without --extend-on-activity
// all a view does is raise the batch's maximum event time. Routed from
// []Event, each view still streams its 80-byte Event through the cache
// (routeBatch was a quarter of the engine's CPU, bound by memory bandwidth);
// from a Block it costs the 8 bytes of its time and the byte of its type.

// Block is a batch of in-process events in columns: row i is at Time[i],
// Type[i] and UserID[i], which must have the same length. A view carries
// only those three; every other row (cart, purchase, other event) has the
// rest of its fields in Rest, in row order: Rest[k] belongs to the k-th row
// whose Type is not EventView. Append and AppendEvents keep that invariant;
// a Block built by hand that breaks it is an error of the run.
//
// The engine only reads a Block it is given. Like Event, a Block holds no
// pointers but its slices.
type Block struct {
	Time   []int64     // event_time, Unix seconds, UTC
	Type   []EventType // event_type
	UserID []uint64    // user_id
	Rest   []BlockRest // the other fields of the rows that are not views
}

// BlockRest is what a Block keeps of a row that is not a view, besides its
// time, type and user.
type BlockRest struct {
	ProductID  uint64
	CategoryID uint64
	PriceCents int64
	SessionLen uint8
	Session    [SessionMax]byte
}

// Len returns the number of rows in b.
func (b *Block) Len() int { return len(b.Time) }

// Reset empties b, keeping its arrays.
func (b *Block) Reset() {
	b.Time, b.Type, b.UserID, b.Rest = b.Time[:0], b.Type[:0], b.UserID[:0], b.Rest[:0]
}

// Append adds ev as b's last row. A view's product, category, price and
// session are not kept: no rule reads them.
func (b *Block) Append(ev *Event) {
	b.Time = append(b.Time, ev.Time)
	b.Type = append(b.Type, ev.Type)
	b.UserID = append(b.UserID, ev.UserID)
	if ev.Type != EventView {
		b.Rest = append(b.Rest, BlockRest{ProductID: ev.ProductID, CategoryID: ev.CategoryID,
			PriceCents: ev.PriceCents, SessionLen: ev.SessionLen, Session: ev.Session})
	}
}

// AppendEvents adds evs as b's last rows (the []Event to Block conversion).
func (b *Block) AppendEvents(evs []Event) {
	for i := range evs {
		b.Append(&evs[i])
	}
}

// AppendTo appends b's rows to dst as Events and returns it; a view has
// zero product, category, price and session (Append did not keep them).
func (b *Block) AppendTo(dst []Event) ([]Event, error) {
	if err := b.check(); err != nil {
		return dst, err
	}
	k := 0
	for i := range b.Time {
		ev := Event{Time: b.Time[i], Type: b.Type[i], UserID: b.UserID[i]}
		if ev.Type != EventView {
			if k == len(b.Rest) {
				return dst, errBlockRest
			}
			r := &b.Rest[k]
			k++
			ev.ProductID, ev.CategoryID, ev.PriceCents = r.ProductID, r.CategoryID, r.PriceCents
			ev.SessionLen, ev.Session = r.SessionLen, r.Session
		}
		dst = append(dst, ev)
	}
	if k != len(b.Rest) {
		return dst, errBlockRest
	}
	return dst, nil
}

// ErrBadBlock is the error of a run given a Block that breaks its invariant.
var ErrBadBlock = errors.New("core: inconsistent Block")

var errBlockRest = fmt.Errorf("%w: Rest does not hold one entry per row that is not a view", ErrBadBlock)

// maxBlockRows bounds a Block: a batch's row numbers and payload indexes are
// 32-bit (routed), as Options.BatchEvents is bounded.
const maxBlockRows = 1 << 28

// check is what can be verified of b without reading its rows.
func (b *Block) check() error {
	n := len(b.Time)
	if len(b.Type) != n || len(b.UserID) != n {
		return fmt.Errorf("%w: columns of %d times, %d types and %d user ids", ErrBadBlock, n, len(b.Type), len(b.UserID))
	}
	if n > maxBlockRows {
		return fmt.Errorf("%w: %d rows, at most %d", ErrBadBlock, n, maxBlockRows)
	}
	if len(b.Rest) > n {
		return errBlockRest
	}
	return nil
}

// allViews is eight EventView bytes read as one little-endian word.
const allViews = 0x0101010101010101 * uint64(EventView)

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
	if err := blk.check(); err != nil {
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
func (e *engine) routeBlockRest(b *batch, blk *Block) int64 {
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
				b.err = errBlockRest
				return m
			}
			e.routeRow(b, i+p, EventType(types[i+p]), uids[i+p], t[p], m, k)
			k++
		}
		for ; j < 8; j++ {
			m = max(m, t[j])
		}
	}
	for ; i < n; i++ {
		m = max(m, times[i])
		if EventType(types[i]) == EventView {
			views++
			continue
		}
		if k == len(rest) {
			b.err = errBlockRest
			return m
		}
		e.routeRow(b, i, EventType(types[i]), uids[i], times[i], m, k)
		k++
	}
	if k != len(rest) {
		b.err = errBlockRest
	}
	b.cnt.Views += views
	return m
}

// routeBlockAll routes every row of blk (--extend-on-activity) and returns
// the block's maximum time.
func (e *engine) routeBlockAll(b *batch, blk *Block) int64 {
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
		if typ == EventView {
			// As in routeBatch: a view's routing is written out here.
			views++
			s := shardOf(HashUser(uids[j]), ns)
			b.routed[s] = append(b.routed[s], routed{t: t, uid: uids[j], wm: m, line: uint32(j),
				xt: uint32(EventView)})
			continue
		}
		if k == len(rest) {
			b.err = errBlockRest
			return m
		}
		e.routeRow(b, j, typ, uids[j], t, m, k)
		k++
	}
	if k != len(rest) {
		b.err = errBlockRest
	}
	b.cnt.Views += views
	return m
}

// routeRow counts row j of a Block, which is not a view and has Rest entry
// k, and routes it when a shard needs it: the Block form of routeEvent.
// The shard finds a cart's or purchase's other fields at Rest[k].
func (e *engine) routeRow(b *batch, j int, typ EventType, uid uint64, t, m int64, k int) {
	if !e.count(b, typ) {
		return
	}
	if typ != EventCart && typ != EventPurchase {
		typ = EventOther // an unknown type byte counts, and is routed, as an other event
	}
	i := shardOf(HashUser(uid), e.nshard)
	b.routed[i] = append(b.routed[i], routed{t: t, uid: uid, wm: m, line: uint32(j), xt: uint32(k)<<2 | uint32(typ)})
}

// RunBlocks runs the engine over the Blocks read fills: read gets an empty
// Block, appends the next rows to it (Append, AppendEvents, or its columns
// directly, keeping the invariant) and returns how many it appended, 0 at
// the end. The Block is the engine's, reused from call to call. Row numbers
// stand in for line numbers, as with RunEvents.
func RunBlocks(read func(*Block) int, opt Options, prog *Progress) (Summary, error) {
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
			if err := b.blkBuf.check(); err != nil {
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
func RunBlockSlice(blocks []Block, opt Options) (Summary, error) {
	for i := range blocks {
		if err := blocks[i].check(); err != nil {
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
