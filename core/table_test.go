package core

import (
	"math/rand/v2"
	"testing"

	"github.com/cartwatch/cartwatch/event"
)

// TestTablesAgainstMap drives userTable and openIndex with random
// operations on a small key space (so probe runs collide and wrap) and
// compares each step with a Go map.
func TestTablesAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 20; round++ {
		ut := newUserTable(1)
		oi := newOpenIndex()
		users := map[uint64]int64{}
		open := map[uint64]uint32{}
		// The slab the index's slots name: a put takes a free slot and
		// writes its user there, as the shard does (a user_id past 32
		// bits makes the cart wide).
		ps := &partState{}
		var free []uint32
		keys := 1 + rng.IntN(5000)
		for step := 0; step < 20000; step++ {
			uid := uint64(rng.IntN(keys))
			if rng.IntN(3) == 0 {
				uid = rng.Uint64() // sparse keys too
			}
			h := event.HashUser(uid)
			switch rng.IntN(4) {
			case 0:
				r := ut.upsert(uid, h)
				r.spending++
				users[uid]++
			case 1:
				r := ut.find(uid, h)
				if want, ok := users[uid]; ok != (r != nil) || (ok && r.spending != want) {
					t.Fatalf("userTable.find(%d): %v, map has %v %v", uid, r, want, ok)
				}
			case 2:
				if v, ok := open[uid]; ok {
					oi.del(uid, ps)
					delete(open, uid)
					ps.freeCart(v) // a freed slot keeps a stale user
					free = append(free, v)
				} else {
					var v uint32
					if n := len(free); n > 0 && rng.IntN(2) == 0 {
						v, free = free[n-1], free[:n-1]
					} else {
						ps.carts = append(ps.carts, cartRec{})
						v = uint32(len(ps.carts) - 1)
					}
					oi.put(uid, v, ps)
					ps.carts[v] = cartRec{uid: uint32(uid), flags: cartLive}
					ps.setWide(&ps.carts[v], uid)
					open[uid] = v
				}
			case 3:
				v, ok := oi.get(uid, ps)
				if want, wok := open[uid]; ok != wok || v != want {
					t.Fatalf("openIndex.get(%d) = %d %v, map has %d %v", uid, v, ok, want, wok)
				}
			}
		}
		if ut.count != len(users) || oi.count != len(open) {
			t.Fatalf("counts %d/%d, want %d/%d", ut.count, oi.count, len(users), len(open))
		}
		for uid, v := range open {
			if got, ok := oi.get(uid, ps); !ok || got != v {
				t.Fatalf("final openIndex.get(%d) = %d %v, want %d", uid, got, ok, v)
			}
		}
	}
}
