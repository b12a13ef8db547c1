package event

import "math/bits"

// xxhash64 constants (github.com/cespare/xxhash/v2).
const (
	xxPrime1 uint64 = 11400714785074694791
	xxPrime2 uint64 = 14029467366897019727
	xxPrime3 uint64 = 1609587929392839161
	xxPrime4 uint64 = 9650029242287828579
	xxPrime5 uint64 = 2870177450012600261
)

// HashUser returns xxhash64 (seed 0) of the 8 little-endian bytes of uid.
//
// NOTE: it equals xxhash.Sum64 on those bytes (checked in a test) but is
// written out for the one 8-byte case, so it inlines and needs no byte slice:
// the engine hashes every routed event, and the generic Sum64 call costs
// several times more.
func HashUser(uid uint64) uint64 {
	h := xxPrime5 + 8
	k := uid * xxPrime2
	k = bits.RotateLeft64(k, 31) * xxPrime1
	h ^= k
	h = bits.RotateLeft64(h, 27)*xxPrime1 + xxPrime4
	h ^= h >> 33
	h *= xxPrime2
	h ^= h >> 29
	h *= xxPrime3
	h ^= h >> 32
	return h
}
