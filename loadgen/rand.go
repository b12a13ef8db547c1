package loadgen

import "math/bits"

// rng is wyrand: one multiply per 64 random bits, which matters at tens of
// millions of events per second. Its output is fixed by its code, so the
// generated month cannot change with the Go release the way math/rand/v2's
// derived distributions may.
type rng struct{ s uint64 }

func (r *rng) u64() uint64 {
	r.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(r.s, r.s^0xe7037ed1a0b428db)
	return hi ^ lo
}

// n returns a uniform integer in [0, n) (Lemire's multiply-shift; the bias
// is below 2^-32 for the n used here).
func (r *rng) n(n uint64) uint64 {
	hi, _ := bits.Mul64(r.u64(), n)
	return hi
}

// f64 returns a uniform float in [0, 1).
func (r *rng) f64() float64 { return float64(r.u64()>>11) * (1.0 / (1 << 53)) }

// chance reports true with probability p, given p scaled to 2^64 by prob.
func (r *rng) chance(p uint64) bool { return r.u64() < p }

// prob scales a probability to the 2^64 range chance compares against.
func prob(p float64) uint64 {
	if p >= 1 {
		return ^uint64(0)
	}
	return uint64(p * (1 << 63) * 2)
}

// mix is splitmix64's finalizer: it derives independent seeds (per block,
// per product, per session) from one 64-bit value.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
