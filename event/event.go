// Package event is cartwatch's data model: one clickstream event (Event), a
// columnar batch of them (Block), and the user hash that places a user in a
// shard (HashUser). The row formats (package format) decode into it and the
// engine (package core) consumes it.
//
// Values are plain data without locks: not safe for concurrent mutation.
package event

import "bytes"

// EventType is the kind of a clickstream row. The zero value is EventOther,
// which stands for any non-empty event_type the detector does not act on
// (remove_from_cart, for example).
type EventType uint8

const (
	EventOther EventType = iota
	EventView
	EventCart
	EventPurchase
)

// String returns the event_type spelling used in the 2019-Nov schema.
func (t EventType) String() string {
	switch t {
	case EventView:
		return "view"
	case EventCart:
		return "cart"
	case EventPurchase:
		return "purchase"
	}
	return "other"
}

// SessionMax is the longest user_session an Event carries inline: the
// 36-character UUID of the 2019-Nov file.
const SessionMax = 36

// CategoryMax is the longest top-level category an Event carries inline:
// the part of category_code before its first '.', cut to this many bytes
// (the 2019-Nov file's longest, "construction", has 12).
const CategoryMax = 16

// Event is one parsed row. It holds no pointers, so slices of events cost the
// garbage collector nothing and can be reused batch after batch.
type Event struct {
	Time       int64  // event_time, Unix seconds, UTC
	UserID     uint64 // user_id
	ProductID  uint64 // product_id
	CategoryID uint64 // category_id
	PriceCents int64  // price in integer cents; never negative
	Type       EventType
	SessionLen uint8 // bytes of Session in use
	Session    [SessionMax]byte
	// CategoryLen and Category: the top-level category of category_code
	// (SetCategory); empty when category_code is.
	CategoryLen uint8
	Category    [CategoryMax]byte
}

// SessionBytes returns the user_session of e. The slice aliases e.
func (e *Event) SessionBytes() []byte { return e.Session[:e.SessionLen] }

// SetSession stores s as the user_session of e and reports whether it fit.
// A longer session is truncated to SessionMax bytes.
func (e *Event) SetSession(s []byte) bool {
	n := copy(e.Session[:], s)
	e.SessionLen = uint8(n)
	return n == len(s)
}

// CategoryBytes returns the top-level category of e. The slice aliases e.
func (e *Event) CategoryBytes() []byte { return e.Category[:e.CategoryLen] }

// SetCategory stores the top-level category of the category_code code: the
// part before its first '.' (all of it without one), cut to CategoryMax
// bytes.
func (e *Event) SetCategory(code []byte) {
	e.CategoryLen = TopCategory(&e.Category, code)
}

// TopCategory copies the part of the category_code code before its first
// '.' into dst, cut to CategoryMax bytes, and returns its length.
func TopCategory(dst *[CategoryMax]byte, code []byte) uint8 {
	*dst = [CategoryMax]byte{} // equal Events are equal as values
	if i := bytes.IndexByte(code, '.'); i >= 0 {
		code = code[:i]
	}
	return uint8(copy(dst[:], code))
}
