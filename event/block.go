package event

import (
	"errors"
	"fmt"
)

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
	ProductID   uint64
	CategoryID  uint64
	PriceCents  int64
	SessionLen  uint8
	Session     [SessionMax]byte
	CategoryLen uint8 // the top-level category, as Event has it
	Category    [CategoryMax]byte
}

// Len returns the number of rows in b.
func (b *Block) Len() int { return len(b.Time) }

// Reset empties b, keeping its arrays.
func (b *Block) Reset() {
	b.Time, b.Type, b.UserID, b.Rest = b.Time[:0], b.Type[:0], b.UserID[:0], b.Rest[:0]
}

// Append adds ev as b's last row. A view's product, category, price,
// session and top-level category are not kept: no rule reads them.
func (b *Block) Append(ev *Event) {
	b.Time = append(b.Time, ev.Time)
	b.Type = append(b.Type, ev.Type)
	b.UserID = append(b.UserID, ev.UserID)
	if ev.Type != EventView {
		b.Rest = append(b.Rest, BlockRest{ProductID: ev.ProductID, CategoryID: ev.CategoryID,
			PriceCents: ev.PriceCents, SessionLen: ev.SessionLen, Session: ev.Session,
			CategoryLen: ev.CategoryLen, Category: ev.Category})
	}
}

// AppendEvents adds evs as b's last rows (the []Event to Block conversion).
func (b *Block) AppendEvents(evs []Event) {
	for i := range evs {
		b.Append(&evs[i])
	}
}

// AppendTo appends b's rows to dst as Events and returns it; a view has
// zero product, category, price, session and top-level category (Append
// did not keep them).
func (b *Block) AppendTo(dst []Event) ([]Event, error) {
	if err := b.Check(); err != nil {
		return dst, err
	}
	k := 0
	for i := range b.Time {
		ev := Event{Time: b.Time[i], Type: b.Type[i], UserID: b.UserID[i]}
		if ev.Type != EventView {
			if k == len(b.Rest) {
				return dst, ErrBlockRest
			}
			r := &b.Rest[k]
			k++
			ev.ProductID, ev.CategoryID, ev.PriceCents = r.ProductID, r.CategoryID, r.PriceCents
			ev.SessionLen, ev.Session = r.SessionLen, r.Session
			ev.CategoryLen, ev.Category = r.CategoryLen, r.Category
		}
		dst = append(dst, ev)
	}
	if k != len(b.Rest) {
		return dst, ErrBlockRest
	}
	return dst, nil
}

// ErrBadBlock is the error of a run given a Block that breaks its invariant.
var ErrBadBlock = errors.New("inconsistent Block")

// ErrBlockRest is ErrBadBlock for a Rest that does not match the Type column.
var ErrBlockRest = fmt.Errorf("%w: Rest does not hold one entry per row that is not a view", ErrBadBlock)

// MaxBlockRows bounds a Block: a batch's row numbers and payload indexes are
// 32-bit (routed), as Options.BatchEvents is bounded.
const MaxBlockRows = 1 << 28

// Check is what can be verified of b without reading its rows.
func (b *Block) Check() error {
	n := len(b.Time)
	if len(b.Type) != n || len(b.UserID) != n {
		return fmt.Errorf("%w: columns of %d times, %d types and %d user ids", ErrBadBlock, n, len(b.Type), len(b.UserID))
	}
	if n > MaxBlockRows {
		return fmt.Errorf("%w: %d rows, at most %d", ErrBadBlock, n, MaxBlockRows)
	}
	if len(b.Rest) > n {
		return ErrBlockRest
	}
	return nil
}
