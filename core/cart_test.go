package core

import (
	"encoding/hex"
	"fmt"
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
	if n, m := unsafe.Sizeof(cartRec{}), unsafe.Sizeof(wheel.Node{}); n != 80 || m != 16 {
		t.Fatalf("cartRec is %d bytes and wheel.Node %d, the layout documented is 80 and 16", n, m)
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
	s.open.put(x.uid, idx, s.carts)
	s.users.upsert(x.uid, event.HashUser(x.uid))
	s.putCart(idx, &x, nil)
	pl := []payload{{ProductID: 6, PriceCents: 50, CategoryLen: 1, Category: [event.CategoryMax]byte{'a'}}}
	r := routed{t: 1, uid: x.uid, xt: uint32(event.EventCart)}
	s.apply(&r, event.HashUser(x.uid), pl, 1, 0)

	var cats []catEnt
	y := s.wide(idx, &cats, 0)
	s2 := newShard(60, 0, false, 1<<10)
	idx2 := s2.allocCart()
	s2.open.put(y.uid, idx2, s2.carts)
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
