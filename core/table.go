package core

import "github.com/cartwatch/cartwatch/event"

// This file holds the per-shard session table: an open-addressing hash table
// of user records. It is owned by one shard goroutine and takes no locks; the
// "lock-free sharded session table" is S of these, one per shard, with every
// user routed to exactly one shard by the hash of its user_id.

// userRec is the state kept for a user who ever carted or purchased. Viewers
// get no record. It holds no pointers, so the table is invisible to the GC.
type userRec struct {
	uid      uint64
	spending int64 // cents, sum of every purchase price
	// lastAbandoned is the abandoned_at of the user's last reported cart,
	// or noAbandon; rule 4 compares purchases against it.
	lastAbandoned int64
	// abandonedValue and abandonedGap are that cart's value and
	// abandoned_at - last_cart_at (gap32), for a recovery (rule 9).
	abandonedValue int64
	flags          uint32
	abandonedGap   int32
}

const (
	recUsed      uint32 = 1 << 0 // slot holds a user
	recAbandoner uint32 = 1 << 1 // user has at least one abandoned cart
	recPurchaser uint32 = 1 << 2 // user made at least one purchase
	recRecovered uint32 = 1 << 3 // the last abandoned cart was recovered
)

// userTable is an open-addressing table with linear probing, keyed by
// HashUser(uid). Records never leave the table (users are few next to
// events: 826k carting users in the real month), so there are no tombstones.
type userTable struct {
	recs  []userRec
	mask  uint64
	count int
}

const minTableSize = 1 << 10

func newUserTable(hint int) *userTable {
	n := minTableSize
	for n < hint*2 {
		n <<= 1
	}
	return &userTable{recs: make([]userRec, n), mask: uint64(n - 1)}
}

// find returns the record of uid, or nil. h must be HashUser(uid).
func (t *userTable) find(uid, h uint64) *userRec {
	i := h & t.mask
	for {
		r := &t.recs[i]
		if r.flags&recUsed == 0 {
			return nil
		}
		if r.uid == uid {
			return r
		}
		i = (i + 1) & t.mask
	}
}

// upsert returns the record of uid, inserting an empty one if needed. The
// pointer is valid until the next upsert (a grow moves records).
func (t *userTable) upsert(uid, h uint64) *userRec {
	i := h & t.mask
	for {
		r := &t.recs[i]
		if r.flags&recUsed == 0 {
			// Load factor stays <= 1/2: linear probing degrades fast above it.
			if (t.count+1)*2 > len(t.recs) {
				t.grow()
				return t.upsert(uid, h)
			}
			*r = userRec{uid: uid, lastAbandoned: noAbandon, flags: recUsed}
			t.count++
			return r
		}
		if r.uid == uid {
			return r
		}
		i = (i + 1) & t.mask
	}
}

func (t *userTable) grow() {
	old := t.recs
	t.recs = make([]userRec, len(old)*2)
	t.mask = uint64(len(t.recs) - 1)
	for k := range old {
		r := &old[k]
		if r.flags&recUsed == 0 {
			continue
		}
		i := event.HashUser(r.uid) & t.mask
		for t.recs[i].flags&recUsed != 0 {
			i = (i + 1) & t.mask
		}
		t.recs[i] = *r
	}
}

// each calls f for every record.
func (t *userTable) each(f func(r *userRec)) {
	for k := range t.recs {
		if t.recs[k].flags&recUsed != 0 {
			f(&t.recs[k])
		}
	}
}

// openIndex maps the user_id of each open cart to its slot in the shard's
// cart slab. It is kept apart from userTable because it is small (carts open
// within one TTL: thousands, not the month's million users), so it stays in
// cache; with --extend-on-activity every view asks it whether its user has
// an open cart, and nearly all the answers are no. Linear probing with
// backward-shift deletion, so there are no tombstones.
//
// NOTE: it places a user_id by a multiplicative (Fibonacci) hash, one
// multiply, not HashUser: a view under --extend-on-activity needs no other
// hash at the shard, so the router does not hand one over (routed).
type openIndex struct {
	keys  []uint64
	vals  []uint32 // cart slot + 1; 0 = empty
	mask  uint64
	shift uint // 64 - log2(len(keys))
	count int
}

func newOpenIndex() *openIndex {
	const bits = 10
	return &openIndex{keys: make([]uint64, 1<<bits), vals: make([]uint32, 1<<bits), mask: 1<<bits - 1,
		shift: 64 - bits}
}

// home is the first slot probed for uid.
func (o *openIndex) home(uid uint64) uint64 { return (uid * 0x9E3779B97F4A7C15) >> o.shift }

// get returns the cart slot of uid.
func (o *openIndex) get(uid uint64) (uint32, bool) {
	for i := o.home(uid); ; i = (i + 1) & o.mask {
		v := o.vals[i]
		if v == 0 {
			return 0, false
		}
		if o.keys[i] == uid {
			return v - 1, true
		}
	}
}

// put adds uid -> slot; uid must not be present.
func (o *openIndex) put(uid uint64, slot uint32) {
	if (o.count+1)*2 > len(o.keys) {
		o.grow()
	}
	i := o.home(uid)
	for o.vals[i] != 0 {
		i = (i + 1) & o.mask
	}
	o.keys[i], o.vals[i] = uid, slot+1
	o.count++
}

// del removes uid, which must be present.
func (o *openIndex) del(uid uint64) {
	i := o.home(uid)
	for o.keys[i] != uid || o.vals[i] == 0 {
		i = (i + 1) & o.mask
	}
	// Backward shift: move up any later entry of the probe run whose home
	// slot is at or before the hole, so lookups never stop early.
	for j := (i + 1) & o.mask; o.vals[j] != 0; j = (j + 1) & o.mask {
		home := o.home(o.keys[j])
		if (j-home)&o.mask >= (j-i)&o.mask {
			o.keys[i], o.vals[i] = o.keys[j], o.vals[j]
			i = j
		}
	}
	o.vals[i] = 0
	o.count--
}

func (o *openIndex) grow() {
	keys, vals := o.keys, o.vals
	n := len(keys) * 2
	o.keys, o.vals, o.mask = make([]uint64, n), make([]uint32, n), uint64(n-1)
	o.shift--
	for k, v := range vals {
		if v != 0 {
			i := o.home(keys[k])
			for o.vals[i] != 0 {
				i = (i + 1) & o.mask
			}
			o.keys[i], o.vals[i] = keys[k], v
		}
	}
}
