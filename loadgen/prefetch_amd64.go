//go:build !purego

package loadgen

import "unsafe"

// prefetchRecs asks the CPU to fetch, for every row of recs, the cache line
// of its product (tab + prod<<shift) and of its session text (sess +
// idx*64; none for noSession). It only hints: nothing is read or checked,
// and a prefetch never faults (prefetch_amd64.s).
//
//go:noescape
func prefetchRecs(recs []rec, tab unsafe.Pointer, shift uint, sess unsafe.Pointer)
