package loadgen

import "sync"

// The catalogue takes ~100 ms to build; generators with the same seed (a
// test suite, `cartwatch run --synthetic` beside `loadgen generate`) share
// one. It is immutable once built.
var catCache struct {
	sync.Mutex
	m map[uint64]*catalogue
}

func sharedCatalogue(seed uint64) *catalogue {
	catCache.Lock()
	defer catCache.Unlock()
	if c := catCache.m[seed]; c != nil {
		return c
	}
	if catCache.m == nil || len(catCache.m) > 4 {
		catCache.m = map[uint64]*catalogue{}
	}
	c := newCatalogue(seed)
	catCache.m[seed] = c
	return c
}
