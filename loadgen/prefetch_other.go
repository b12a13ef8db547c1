//go:build !amd64 || purego

package loadgen

import "unsafe"

// prefetchRecs is a no-op where there is no assembly version.
func prefetchRecs(recs []rec, tab unsafe.Pointer, shift uint, sess unsafe.Pointer) {}
