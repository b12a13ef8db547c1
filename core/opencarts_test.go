package core

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"
	"unsafe"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/wheel"
)

// BenchmarkOpenCarts opens carts in one shard, one per user, and reports
// what each costs in memory: the Go heap in use after a GC, less the heap
// before the first cart, divided by the carts (B/cart), and the same less
// the user table (cart-B/cart): the cart slab, its free list, the open
// index, the wheel's timers and the side pools (the products past the
// first, the sessions that are not UUIDs, the categories past the first).
// The user table is a user's record, kept whether or not the user has a
// cart open, so it is reported apart (user-B/cart); so is the timers'
// wheel.Node slab (node-B/cart, its spare room included), and
// table-B/cart is the session table alone: cart-B/cart less the nodes
// (the cart slab, the open index, the side pools).
//
// The carts are realistic ones: half have one product, half two (the
// second event of a cart moves its deadline: the wheel reschedules),
// every session a random UUID, a category among eight; no deadline falls
// due. CARTWATCH_OPEN_CARTS sets how many (default 1 M):
//
//	CARTWATCH_OPEN_CARTS=10000000 go test -run '^$' -bench OpenCarts -benchtime 1x ./core
func BenchmarkOpenCarts(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("CARTWATCH_OPEN_CARTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("CARTWATCH_OPEN_CARTS=%q", v)
		}
	}
	for b.Loop() {
		total, users, nodes := openCartsHeap(n)
		b.ReportMetric(float64(total)/float64(n), "B/cart")
		b.ReportMetric(float64(total-users)/float64(n), "cart-B/cart")
		b.ReportMetric(float64(total-users-nodes)/float64(n), "table-B/cart")
		b.ReportMetric(float64(nodes)/float64(n), "node-B/cart")
		b.ReportMetric(float64(users)/float64(n), "user-B/cart")
	}
}

// openCartsHeap opens n carts in a new shard (see BenchmarkOpenCarts) and
// returns the heap they took and, of it, the user table's bytes and the
// timers' wheel.Node slab's.
func openCartsHeap(n int) (total, users, nodes uint64) {
	var ms runtime.MemStats
	var pl [1]payload
	cats := [8]string{"electronics", "appliances", "computers", "apparel", "furniture", "kids", "sport", "auto"}
	rng := rand.New(rand.NewPCG(1, 2))
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapInuse
	// The hint the engine gives a file of n users' rows (ExpectedRows),
	// and a TTL of 34 years: no deadline falls due, and each is less
	// than 2^32 seconds ahead, as every real one (a farther one takes an
	// entry in the wheel's far map besides its wheel.Node).
	s := newShard(1<<30, 0, false, n)
	const t0 = 1_572_566_400 // 2019-11-01
	for i := range n {
		uid := 500_000_000 + uint64(i)*7
		h := event.HashUser(uid)
		p := &pl[0]
		*p = payload{ProductID: 1_000_000 + rng.Uint64N(60_000_000), CategoryID: 2_053_013_552_226_107_603,
			PriceCents: 100 + rng.Int64N(100_000)}
		var u [16]byte
		for k := range u {
			u[k] = byte(rng.Uint32())
		}
		p.SessionLen = uint8(copy(p.Session[:], fmt.Sprintf("%x-%x-%x-%x-%x", u[:4], u[4:6], u[6:8], u[8:10], u[10:])))
		cat := cats[i%len(cats)]
		p.CategoryLen = uint8(copy(p.Category[:], cat))
		t := int64(t0 + i/1000)
		r := routed{t: t, uid: uid, xt: uint32(event.EventCart)}
		s.apply(&r, h, pl[:], t, 0)
		if i%2 == 1 {
			p.ProductID++
			r.t++
			s.apply(&r, h, pl[:], t, 0)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if int(s.cnt.CartsOpened) != n || s.open.count != n {
		panic(fmt.Sprintf("%d carts opened, %d open, want %d", s.cnt.CartsOpened, s.open.count, n))
	}
	total = ms.HeapInuse - before
	users = uint64(len(s.users.recs)) * uint64(unsafe.Sizeof(userRec{}))
	nodes = uint64(cap(s.tn)) * uint64(unsafe.Sizeof(wheel.Node{}))
	runtime.KeepAlive(s)
	return total, users, nodes
}
