package loadgen

import "math"

// quantTable samples a continuous distribution by its inverse CDF tabulated
// at 4096 points, interpolating linearly between them: a few nanoseconds and
// no transcendental function per draw.
type quantTable struct{ q [4097]float64 }

func newQuantTable(inv func(u float64) float64) *quantTable {
	t := &quantTable{}
	for i := range t.q {
		u := float64(i) / 4096
		// Keep the ends finite: the table's first and last points sit at
		// half a step from 0 and 1.
		u = math.Min(math.Max(u, 0.5/4096), 1-0.5/4096)
		t.q[i] = inv(u)
	}
	return t
}

func (t *quantTable) sample(r *rng) float64 {
	x := r.u64()
	i := x >> 52
	f := float64(x&(1<<52-1)) * (1.0 / (1 << 52))
	return t.q[i] + f*(t.q[i+1]-t.q[i])
}

// lognormalInv returns the inverse CDF of a log-normal with the given median
// and sigma, clamped to [lo, hi].
func lognormalInv(median, sigma, lo, hi float64) func(float64) float64 {
	return func(u float64) float64 {
		return math.Min(math.Max(median*math.Exp(sigma*normInv(u)), lo), hi)
	}
}

// normInv is the standard normal inverse CDF (Acklam's rational
// approximation, relative error below 1.2e-9), used only to build tables.
func normInv(p float64) float64 {
	const (
		a1, a2, a3, a4, a5, a6 = -3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00
		b1, b2, b3, b4, b5     = -5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01
		c1, c2, c3, c4, c5, c6 = -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00
		d1, d2, d3, d4         = 7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00
		plow                   = 0.02425
	)
	switch {
	case p < plow:
		q := math.Sqrt(-2 * math.Log(p))
		return (((((c1*q+c2)*q+c3)*q+c4)*q+c5)*q + c6) / ((((d1*q+d2)*q+d3)*q+d4)*q + 1)
	case p <= 1-plow:
		q := p - 0.5
		r := q * q
		return (((((a1*r+a2)*r+a3)*r+a4)*r+a5)*r + a6) * q / (((((b1*r+b2)*r+b3)*r+b4)*r+b5)*r + 1)
	default:
		q := math.Sqrt(-2 * math.Log(1-p))
		return -(((((c1*q+c2)*q+c3)*q+c4)*q+c5)*q + c6) / ((((d1*q+d2)*q+d3)*q+d4)*q + 1)
	}
}

// alias samples an index with given weights in O(1) (Walker/Vose).
type alias struct {
	e []aliasEntry
	// q packs each entry in 4 bytes: other<<aliasHi | thresh>>(32-aliasHi).
	// The draw reads q, and e only when its high bits equal thresh's
	// (one draw in 2^aliasHi), so the result is e's, exactly.
	//
	// NOTE: the draw's index is uniform over all 190,670 products, so
	// every entry is as likely as any other: the 1.5 MB of e missed the
	// core's 2 MB L2 in most draws (16 % of the CPU of writing the month),
	// where the 0.76 MB of q mostly fits.
	q []uint32
}

const aliasHi = 14 // bits of thresh kept in q; other gets 32-aliasHi

// aliasEntry keeps index i when the low 32 random bits are below thresh, else
// takes other; one 8-byte entry is one cache miss, not two.
type aliasEntry struct{ thresh, other uint32 }

func newAlias(w []float64) *alias {
	n := len(w)
	a := &alias{e: make([]aliasEntry, n)}
	var sum float64
	for _, x := range w {
		sum += x
	}
	p := make([]float64, n)
	small := make([]int, 0, n)
	large := make([]int, 0, n)
	for i, x := range w {
		p[i] = x / sum * float64(n)
		if p[i] < 1 {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		a.e[s] = aliasEntry{uint32(p[s] * (1 << 32)), uint32(l)}
		p[l] -= 1 - p[s]
		if p[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	for _, i := range append(small, large...) {
		a.e[i] = aliasEntry{math.MaxUint32, uint32(i)}
	}
	if n <= 1<<(32-aliasHi) {
		a.q = make([]uint32, n)
		for i, e := range a.e {
			a.q[i] = e.other<<aliasHi | e.thresh>>(32-aliasHi)
		}
	}
	return a
}

func (a *alias) sample(r *rng) uint32 { return a.draw(r.u64()) }

// draw maps 64 random bits to an index: the high 32 choose the entry, the
// low 32 choose between it and its alias.
func (a *alias) draw(x uint64) uint32 {
	i := uint32((x >> 32) * uint64(len(a.e)) >> 32)
	if a.q == nil {
		return a.exact(i, uint32(x))
	}
	q := a.q[i]
	hi, th := uint32(x)>>(32-aliasHi), q&(1<<aliasHi-1)
	if hi == th {
		return a.exact(i, uint32(x))
	}
	if hi > th {
		i = q >> aliasHi
	}
	return i
}

// exact is the draw from the full entry i with the low 32 random bits lo.
func (a *alias) exact(i, lo uint32) uint32 {
	if e := a.e[i]; lo >= e.thresh {
		return e.other
	}
	return i
}
