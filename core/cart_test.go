package core

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/wheel"
)

// TestCartRecSize: the open cart's record and its timer stay the sizes
// docs/architecture.md gives them ("An open cart in memory").
func TestCartRecSize(t *testing.T) {
	if n, m := unsafe.Sizeof(cartRec{}), unsafe.Sizeof(wheel.Node{}); n != 48 || m != 12 {
		t.Fatalf("cartRec is %d bytes and wheel.Node %d, the layout documented is 48 and 12", n, m)
	}
}

// cartSessions are sessions of each form a cart keeps: canonical UUIDs
// (16 bytes), near misses that must come back as written (upper case, a
// non-hex digit, a hyphen moved), short ones (inline), long ones (the side
// pool), none.
var cartSessions = []string{
	"3f0a6b1c-2d4e-4f5a-8b9c-0d1e2f3a4b5c",
	"00000000-0000-0000-0000-000000000000",
	"ffffffff-ffff-ffff-ffff-ffffffffffff",
	"3F0A6B1C-2D4E-4F5A-8B9C-0D1E2F3A4B5C",
	"3f0a6b1c-2d4e-4f5a-8b9c-0d1e2f3a4b5g",
	"3f0a6b1c2-d4e-4f5a-8b9c-0d1e2f3a4b5c",
	"3f0a6b1c-2d4e-4f5a-8b9c-0d1e2f3a4b5",
	"short",
	"exactly-16-bytes",
	"seventeen-bytes!!",
	"",
	"a-session-of-the-longest-kept-36-bytes",
}

// TestCartSessions: a cart's session is its last cart event's, byte for
// byte, whatever form it takes and however the form changes from one
// event to the next; a cart's side entries are given back when it closes.
func TestCartSessions(t *testing.T) {
	var evs []event.Event
	uid := uint64(1)
	for i, a := range cartSessions {
		for j, b := range cartSessions {
			e1, e2 := ev(int64(i*100), C, uid, 10, 100), ev(int64(i*100+1), C, uid, 11, 200)
			e1.SetSession([]byte(a))
			e2.SetSession([]byte(b))
			evs = append(evs, e1, e2)
			if (i+j)%2 == 0 {
				evs = append(evs, ev(int64(i*100+2), P, uid, 11, 200))
			}
			uid++
		}
	}
	got, _ := checkAgainstRef(t, evs, Options{TTL: 60e9})
	for _, b := range cartSessions {
		want := b
		if len(want) > event.SessionMax {
			want = want[:event.SessionMax]
		}
		if !strings.Contains(got, fmt.Sprintf(`"user_session":%q`, want)) {
			t.Fatalf("no alert has session %q:\n%s", want, got)
		}
	}

	// Side entries: one shard, carts opened and closed again and again
	// keep taking the same few entries.
	s := newShard(60, 0, false, 1<<10)
	var pl [1]payload
	for round := range 200 {
		for k, sess := range cartSessions {
			p := &pl[0]
			*p = payload{ProductID: uint64(k), PriceCents: 1}
			p.SessionLen = uint8(copy(p.Session[:], sess))
			p.CategoryLen = uint8(copy(p.Category[:], fmt.Sprint("c", k%3)))
			uid := uint64(k + 1)
			tm := int64(round * 1000)
			r := routed{t: tm, uid: uid, xt: uint32(event.EventCart)}
			for range 3 {
				s.apply(&r, event.HashUser(uid), pl[:], tm, 0)
				p.ProductID += 100
				p.CategoryLen = uint8(copy(p.Category[:], fmt.Sprint("c", (k+int(p.ProductID))%3)))
			}
			buy := routed{t: tm + 1, uid: uid, xt: uint32(event.EventPurchase)}
			s.apply(&buy, event.HashUser(uid), pl[:], tm+1, 0)
		}
	}
	n := len(cartSessions)
	if len(s.sess) > n || len(s.prods) > 2*n || len(s.cats) > 3*n || len(s.carts) > n {
		t.Fatalf("side pools grew: %d sessions, %d products, %d categories, %d carts for carts of %d kinds opened and closed one at a time",
			len(s.sess), len(s.prods), len(s.cats), len(s.carts), n)
	}
}

// TestParseUUID: exactly the texts formatUUID writes are UUIDs, and they
// come back unchanged.
func TestParseUUID(t *testing.T) {
	for _, s := range cartSessions {
		var b [event.SessionMax]byte
		n := copy(b[:], s)
		u, ok := parseUUID(&b)
		var back [event.SessionMax]byte
		formatUUID(&u, &back)
		canonical := n == event.SessionMax && strings.ToLower(s) == s && strings.Count(s, "-") == 4 &&
			s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' && !strings.ContainsAny(s, "ghijklmnopqrstuvwxyz")
		if ok != canonical || ok && back != b {
			t.Errorf("%q: parsed %v (canonical %v), back %q", s, ok, canonical, back)
		}
	}
}

// TestCartCategoriesRoundTrip: a cart restored without categories (from a
// version 1 snapshot) counts only the items added since, through a second
// snapshot and restore too: its one category's tally is not the cart's.
func TestCartCategoriesRoundTrip(t *testing.T) {
	s := newShard(60, 0, false, 1<<10)
	x := openCart{uid: 7, first: 0, last: 0, deadline: 60, items: 3, value: 300, nprod: 1, products: [MaxProducts]uint64{5}}
	idx := s.allocCart()
	s.open.put(x.uid, idx, &s.partState)
	s.users.upsert(x.uid, event.HashUser(x.uid))
	s.putCart(idx, &x, nil)
	pl := []payload{{ProductID: 6, PriceCents: 50, CategoryLen: 1, Category: [event.CategoryMax]byte{'a'}}}
	r := routed{t: 1, uid: x.uid, xt: uint32(event.EventCart)}
	s.apply(&r, event.HashUser(x.uid), pl, 1, 0)

	var cats []catEnt
	y := s.wide(idx, &cats, 0)
	s2 := newShard(60, 0, false, 1<<10)
	idx2 := s2.allocCart()
	s2.open.put(y.uid, idx2, &s2.partState)
	s2.users.upsert(y.uid, event.HashUser(y.uid))
	s2.putCart(idx2, &y, cats)
	s2.finish(false)
	if got := s2.cnt.ByCategory; got.N != 1 || got.Tallies[0] != (Tally{1, 50}) || got.Unknown != (Tally{}) {
		t.Fatalf("categories %d %v unknown %v, want a: {1 50}", got.N, got.Tallies[:got.N], got.Unknown)
	}
	if a := s2.out; len(a) != 1 || a[0].Items != 4 || a[0].ValueCents != 350 || a[0].Products[1] != 6 {
		t.Fatalf("alerts %+v", a)
	}
}

// TestUUIDEveryByte: each of a UUID's 32 digit places, given each of the
// 256 byte values, parses exactly when it is a lower-case hex digit, to
// encoding/hex's bytes; and random UUIDs format as fmt writes them.
func TestUUIDEveryByte(t *testing.T) {
	const base = "0123abcd-ef45-6789-aabb-ccddeeff0099"
	for pos := range event.SessionMax {
		if base[pos] == '-' {
			continue
		}
		for c := range 256 {
			var b [event.SessionMax]byte
			copy(b[:], base)
			b[pos] = byte(c)
			u, ok := parseUUID(&b)
			want, err := hex.DecodeString(strings.ReplaceAll(string(b[:]), "-", ""))
			isHex := strings.IndexByte("0123456789abcdef", byte(c)) >= 0
			if ok != isHex || ok && (err != nil || string(u[:]) != string(want)) {
				t.Fatalf("%q: parsed %v %x, want %v %x", b, ok, u, isHex, want)
			}
		}
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 10000 {
		var u [16]byte
		for k := range u {
			u[k] = byte(rng.Uint32())
		}
		var b [event.SessionMax]byte
		formatUUID(&u, &b)
		if want := fmt.Sprintf("%x-%x-%x-%x-%x", u[:4], u[4:6], u[6:8], u[8:10], u[10:]); string(b[:]) != want {
			t.Fatalf("%x formats as %q, want %q", u, b, want)
		}
		if back, ok := parseUUID(&b); !ok || back != u {
			t.Fatalf("%q parses as %x %v, want %x", b, back, ok, u)
		}
	}
}

// TestCartWide: a cart whose time, items, value or first product does not
// fit the record's 32 bits moves them to its wide entry and loses nothing:
// its alert equals the sums done in int64, through a snapshot's copy and
// restore too, and a recycled slot starts narrow again.
func TestCartWide(t *testing.T) {
	const day = 86400
	f := func(name string, evs []wideEv, items0 int64) {
		t.Helper()
		for _, uid := range []uint64{42, 1<<32 + 42, math.MaxUint64} {
			for _, restore := range []bool{false, true} {
				wideCase(t, fmt.Sprintf("%s, user %d", name, uid), uid, restore, evs, items0)
			}
		}
	}
	const t0 = 1_572_566_400
	f("narrow", []wideEv{{t0, 5, 100}, {t0 + 60, 6, 250}}, 0)
	f("time before 1970", []wideEv{{-5 * day, 5, 100}, {-4 * day, 6, 1}}, 0)
	f("time after 2106", []wideEv{{t0, 5, 100}, {1 << 32, 6, 1}}, 0)
	f("time at the limit", []wideEv{{math.MaxUint32, 5, 100}}, 0)
	f("first time far", []wideEv{{1<<40 + 3, 5, 100}, {1<<40 + 9, 6, 1}}, 0)
	f("value past 32 bits", []wideEv{{t0, 5, math.MaxUint32 - 1}, {t0 + 1, 6, 2}, {t0 + 2, 7, 3}}, 0)
	f("value at the limit", []wideEv{{t0, 5, math.MaxUint32}}, 0)
	f("one huge price", []wideEv{{t0, 5, 1_000_000_000_000}}, 0)
	f("first product past 32 bits", []wideEv{{t0, 1 << 32, 1}, {t0 + 1, 6, 1}}, 0)
	f("second product past 32 bits", []wideEv{{t0, 5, 1}, {t0 + 1, math.MaxUint64, 1}}, 0)
	f("items past 32 bits", []wideEv{{t0, 5, 1}, {t0 + 1, 6, 1}, {t0 + 2, 7, 1}}, math.MaxUint32-1)
	f("items past 16 bits", []wideEv{{t0, 5, 1}, {t0 + 1, 6, 1}, {t0 + 2, 7, 1}}, math.MaxUint16-1)
	f("items at 16 bits", []wideEv{{t0, 5, 1}, {t0 + 1, 6, 1}}, math.MaxUint16-1)
	f("span at 16 bits", []wideEv{{t0, 5, 1}, {t0 + math.MaxUint16, 6, 1}}, 0)
	f("span past 16 bits", []wideEv{{t0, 5, 1}, {t0 + math.MaxUint16 + 1, 6, 1}, {t0 + math.MaxUint16 + 2, 7, 1}}, 0)
	f("last before first", []wideEv{{t0, 5, 1}, {t0 - 1, 6, 1}, {t0 + 5, 7, 1}}, 0)
	f("first before 1970, last after", []wideEv{{-100, 5, 1}, {5, 6, 1}}, 0)
}

// TestSameUUID: sameUUID holds for exactly the text formatUUID writes: not
// for one byte changed anywhere (a digit, a hyphen), nor for upper case.
func TestSameUUID(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		var u [16]byte
		for k := range u {
			u[k] = byte(rng.Uint32())
		}
		var b [event.SessionMax]byte
		formatUUID(&u, &b)
		if !sameUUID(&u, &b) {
			t.Fatalf("%x: its own text %q is not the same", u, b)
		}
		for i := range b {
			for _, c := range []byte("0123456789abcdef-ABCDEFg") {
				if c == b[i] {
					continue
				}
				m := b
				m[i] = c
				if sameUUID(&u, &m) {
					t.Fatalf("%x: %q (byte %d changed) is the same", u, m, i)
				}
			}
		}
		up := [event.SessionMax]byte([]byte(strings.ToUpper(string(b[:]))))
		if up != b && sameUUID(&u, &up) {
			t.Fatalf("%x: upper case %q is the same", u, up)
		}
	}
}

type wideEv struct {
	t     int64
	prod  uint64
	price int64
}

// wideCase is one case of TestCartWide: evs are uid's cart events, the
// first cart's items start at items0 when it is not 0.
func wideCase(t *testing.T, name string, uid uint64, restore bool, evs []wideEv, items0 int64) {
	t.Helper()
	const day = 86400
	s := newShard(day, 0, false, 1<<10)
	h := event.HashUser(uid)
	var want Alert
	want.UserID = uid
	for k, e := range evs {
		pl := []payload{{ProductID: e.prod, PriceCents: e.price, CategoryLen: 1, Category: [event.CategoryMax]byte{'a'}}}
		s.apply(&routed{t: e.t, uid: uid, xt: uint32(event.EventCart)}, h, pl, math.MinInt64, int64(k))
		if k == 0 {
			want.FirstCartAt = e.t
			if items0 != 0 {
				// Start near the 32-bit limit of items.
				idx, _ := s.open.get(uid, &s.partState)
				c := &s.carts[idx]
				s.setTally(c, Tally{items0, s.cartTally(c).Value})
				want.Items = items0 - 1
			}
		}
		want.LastCartAt, want.AbandonedAt = e.t, e.t+day
		want.Items++
		want.ValueCents = addCents(want.ValueCents, e.price)
		if want.NProducts < MaxProducts {
			want.Products[want.NProducts] = e.prod
			want.NProducts++
		}
	}
	if restore {
		// The snapshot's copy of the cart, put back in a new shard.
		idx, _ := s.open.get(uid, &s.partState)
		var cats []catEnt
		x := s.wide(idx, &cats, 0)
		s2 := newShard(day, 0, false, 1<<10)
		idx2 := s2.allocCart()
		s2.open.put(x.uid, idx2, &s2.partState)
		s2.users.upsert(x.uid, h)
		s2.putCart(idx2, &x, cats)
		s2.tm = wheel.New(math.MinInt64)
		s2.tm.Schedule(s2.tn, idx2, x.deadline)
		s = s2
	}
	s.finish(false)
	if len(s.out) != 1 {
		t.Fatalf("%s: %d alerts, want 1", name, len(s.out))
	}
	got := s.out[0]
	got.keyR, got.keyKind, got.keyTie, got.Partition = 0, 0, 0, 0
	if got != want {
		t.Fatalf("%s (restored %v):\n got %+v\nwant %+v", name, restore, got, want)
	}
	if c := s.cnt.ByCategory; c.N != 1 || c.Tallies[0] != (Tally{want.Items, want.ValueCents}) {
		t.Fatalf("%s: category tally %v, want {%d %d}", name, c.Tallies[:c.N], want.Items, want.ValueCents)
	}
	// The slot is reused by a narrow cart, which must not be wide.
	pl := []payload{{ProductID: 7, PriceCents: 100}}
	s.apply(&routed{t: 1000, uid: 9, xt: uint32(event.EventCart)}, event.HashUser(9), pl, math.MinInt64, 99)
	idx, _ := s.open.get(9, &s.partState)
	if c := &s.carts[idx]; c.flags&cartWide != 0 || s.cartTally(c) != (Tally{1, 100}) || s.prod0Of(c) != 7 {
		t.Fatalf("%s: the next cart in the slot: flags %#x tally %v product %d", name, c.flags, s.cartTally(c), s.prod0Of(c))
	}
}

// TestCartUserIDs: users whose user_ids share their low 32 bits (which
// the record holds) keep carts of their own, found, closed and alerted
// apart.
func TestCartUserIDs(t *testing.T) {
	s := newShard(60, 0, false, 1<<10)
	uids := []uint64{7, 1<<32 + 7, 2<<32 + 7, math.MaxUint64&^(1<<32-1) | 7}
	for k, uid := range uids {
		pl := []payload{{ProductID: uint64(k), PriceCents: int64(k + 1)}}
		s.apply(&routed{t: int64(k), uid: uid, xt: uint32(event.EventCart)}, event.HashUser(uid), pl, 0, int64(k))
	}
	// The second one buys: only its cart converts.
	pl := []payload{{PriceCents: 5}}
	s.apply(&routed{t: 10, uid: uids[1], xt: uint32(event.EventPurchase)}, event.HashUser(uids[1]), pl, 10, 9)
	s.finish(false)
	if s.cnt.Converted != 1 || len(s.out) != 3 {
		t.Fatalf("%d converted, %d alerts; want 1 and 3", s.cnt.Converted, len(s.out))
	}
	for i, k := range []int{0, 2, 3} {
		if a := s.out[i]; a.UserID != uids[k] || a.ValueCents != int64(k+1) || a.Products[0] != uint64(k) {
			t.Fatalf("alert %d: user %d value %d product %d; want %d, %d, %d", i, a.UserID, a.ValueCents, a.Products[0], uids[k], k+1, k)
		}
	}
}
