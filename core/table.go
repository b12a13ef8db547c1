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
// NOTE: an entry is 5 bytes, a cart slot and a 1-byte tag of its user_id
// (an 8-byte key was 12, and 10 M open carts took 40 bytes each in it):
// the user_id itself is the cart's, compared only when the tags match, so
// a probe for a user with no open cart nearly always reads the tags alone,
// 64 to a cache line. Every method takes the partition state whose slab
// the slots index.
//
// It places a user_id by a multiplicative (Fibonacci) hash, one multiply,
// not HashUser: a view under --extend-on-activity needs no other hash at
// the shard, so the router does not hand one over (routed). The home slot
// is the product's top bits, the tag 7 bits from its middle with the top
// bit set (0 marks an empty entry).
type openIndex struct {
	tags  []uint8
	vals  []uint32 // cart slot
	mask  uint64
	shift uint // 64 - log2(len(tags))
	count int
}

func newOpenIndex() *openIndex {
	const bits = 10
	return &openIndex{tags: make([]uint8, 1<<bits), vals: make([]uint32, 1<<bits), mask: 1<<bits - 1,
		shift: 64 - bits}
}

// place returns the first slot probed for uid and its tag.
func (o *openIndex) place(uid uint64) (uint64, uint8) {
	h := uid * 0x9E3779B97F4A7C15
	return h >> o.shift, uint8(h>>24) | 0x80
}

// mayHave reports whether uid may have an open cart: false when no entry
// of its probe run has its tag (nearly every view's answer under
// --extend-on-activity), in a loop small enough to inline; get is the
// whole answer.
func (o *openIndex) mayHave(uid uint64) bool {
	i, tag := o.place(uid)
	for t := o.tags[i]; t != 0; t = o.tags[i] {
		if t == tag {
			return true
		}
		i = (i + 1) & o.mask
	}
	return false
}

// get returns the cart slot of uid.
func (o *openIndex) get(uid uint64, s *partState) (uint32, bool) {
	i, tag := o.place(uid)
	for ; ; i = (i + 1) & o.mask {
		t := o.tags[i]
		if t == 0 {
			return 0, false
		}
		if t == tag {
			if v := o.vals[i]; s.uidOf(&s.carts[v]) == uid {
				return v, true
			}
		}
	}
}

// put adds uid -> slot; uid must not be present.
func (o *openIndex) put(uid uint64, slot uint32, s *partState) {
	// At most 3/4 full: a probe reads tags, 64 to a cache line, so a miss
	// (a view's, under --extend-on-activity) that scans the longer runs
	// of 3/4 (8.5 entries on average) mostly stays in one line, and 10 M
	// carts take 2^24 entries, 8.4 bytes a cart, not 2^25.
	if (o.count+1)*4 > len(o.tags)*3 {
		o.grow(s)
	}
	i, tag := o.place(uid)
	for o.tags[i] != 0 {
		i = (i + 1) & o.mask
	}
	o.tags[i], o.vals[i] = tag, slot
	o.count++
}

// del removes uid, which must be present.
func (o *openIndex) del(uid uint64, s *partState) {
	i, tag := o.place(uid)
	for o.tags[i] != tag || s.uidOf(&s.carts[o.vals[i]]) != uid {
		i = (i + 1) & o.mask
	}
	// Backward shift: move up any later entry of the probe run whose home
	// slot is at or before the hole, so lookups never stop early.
	for j := (i + 1) & o.mask; o.tags[j] != 0; j = (j + 1) & o.mask {
		home, _ := o.place(s.uidOf(&s.carts[o.vals[j]]))
		if (j-home)&o.mask >= (j-i)&o.mask {
			o.tags[i], o.vals[i] = o.tags[j], o.vals[j]
			i = j
		}
	}
	o.tags[i] = 0
	o.count--
}

func (o *openIndex) grow(s *partState) {
	tags, vals := o.tags, o.vals
	n := len(tags) * 2
	o.tags, o.vals, o.mask = make([]uint8, n), make([]uint32, n), uint64(n-1)
	o.shift--
	for k, t := range tags {
		if t != 0 {
			i, tag := o.place(s.uidOf(&s.carts[vals[k]]))
			for o.tags[i] != 0 {
				i = (i + 1) & o.mask
			}
			o.tags[i], o.vals[i] = tag, vals[k]
		}
	}
}
