package loadgen

import (
	"encoding/binary"
	"math"
	"math/bits"
	"runtime/debug"
)

// hash64 is a wyhash-style 64-bit hash of b. stats keys sessions and rows by
// it: with 13.8 M sessions the chance of any collision is about 5e-6.
func hash64(b []byte) uint64 {
	h := uint64(len(b)) ^ 0x2d358dccaa6c78a5
	for len(b) >= 8 {
		hi, lo := bits.Mul64(h^binary.LittleEndian.Uint64(b), 0x8bb84b93962eacc9)
		h = hi ^ lo
		b = b[8:]
	}
	var t uint64
	for i, c := range b {
		t |= uint64(c) << (8 * i)
	}
	hi, lo := bits.Mul64(h^t^0x4b33a62ed433d4a3, 0x9e3779b97f4a7c15)
	h = hi ^ lo
	if h == 0 {
		h = 1 // 0 marks an empty slot
	}
	return h
}

// sessTable is an open-addressing (linear probing) map from a nonzero 64-bit
// key to per-session counters, as parallel arrays: 20 bytes a slot, so the
// real month's 13.8 M sessions fit in 2^24 slots (335 MB) at load 0.82.
type sessTable struct {
	keys  []uint64
	first []uint32 // seconds since statsEpoch
	last  []uint32
	cnt   []uint32 // events, with flagCart and flagBuy in the top bits
	n     int
}

const (
	flagCart   = 1 << 31
	flagBuy    = 1 << 30
	countMask  = flagBuy - 1
	statsEpoch = 946684800 // 2000-01-01 UTC
)

func newSessTable() *sessTable { t := &sessTable{}; t.alloc(1 << 16); return t }

func (t *sessTable) alloc(n int) {
	t.keys, t.first, t.last, t.cnt = make([]uint64, n), make([]uint32, n), make([]uint32, n), make([]uint32, n)
}

func (t *sessTable) add(k uint64, ts uint32, flags uint32) {
	if t.n*100 >= len(t.keys)*85 {
		t.grow()
	}
	mask := uint64(len(t.keys) - 1)
	i := (k * 0x9e3779b97f4a7c15) >> 32 & mask
	for {
		switch t.keys[i] {
		case k:
			t.first[i] = min(t.first[i], ts)
			t.last[i] = max(t.last[i], ts)
			c := t.cnt[i]
			if c&countMask < countMask {
				c++
			}
			t.cnt[i] = c | flags
			return
		case 0:
			t.keys[i], t.first[i], t.last[i], t.cnt[i] = k, ts, ts, 1|flags
			t.n++
			return
		}
		i = (i + 1) & mask
	}
}

func (t *sessTable) grow() {
	old := *t
	// Return the old arrays to the OS right away: at 13.8 M sessions they
	// are 167 MB that would otherwise sit in RSS until the heap goal.
	defer func() {
		if len(old.keys) >= 1<<22 {
			old = sessTable{}
			debug.FreeOSMemory()
		}
	}()
	t.alloc(2 * len(old.keys))
	mask := uint64(len(t.keys) - 1)
	for j, k := range old.keys {
		if k == 0 {
			continue
		}
		i := (k * 0x9e3779b97f4a7c15) >> 32 & mask
		for t.keys[i] != 0 {
			i = (i + 1) & mask
		}
		t.keys[i], t.first[i], t.last[i], t.cnt[i] = k, old.first[j], old.last[j], old.cnt[j]
	}
}

// idSet is a set of uint64 ids with a byte of flags each (users: carted,
// purchased): an open-addressing table of id+1 (0 marks an empty slot), and
// the one id whose +1 wraps to 0 kept beside it.
type idSet struct {
	keys  []uint64
	flags []uint8
	n     int

	hasMax   bool  // the id 2^64-1 is in the set
	maxFlags uint8 // and its flags
}

func newIDSet() *idSet { return &idSet{keys: make([]uint64, 1<<12), flags: make([]uint8, 1<<12)} }

// add inserts id, or ORs f into its flags.
func (s *idSet) add(id uint64, f uint8) {
	if id == math.MaxUint64 {
		s.hasMax = true
		s.maxFlags |= f
		return
	}
	s.insert(id+1, f)
}

// insert adds the nonzero key k, or ORs f into its flags.
func (s *idSet) insert(k uint64, f uint8) {
	if s.n*100 >= len(s.keys)*70 {
		old := *s
		s.keys, s.flags, s.n = make([]uint64, 2*len(old.keys)), make([]uint8, 2*len(old.keys)), 0
		for j, k := range old.keys {
			if k != 0 {
				s.insert(k, old.flags[j])
			}
		}
	}
	mask := uint64(len(s.keys) - 1)
	i := (k * 0x9e3779b97f4a7c15) >> 32 & mask
	for {
		switch s.keys[i] {
		case k:
			s.flags[i] |= f
			return
		case 0:
			s.keys[i], s.flags[i] = k, f
			s.n++
			return
		}
		i = (i + 1) & mask
	}
}

// len returns the number of ids in the set.
func (s *idSet) len() int64 {
	if s.hasMax {
		return int64(s.n) + 1
	}
	return int64(s.n)
}

// each calls fn with the flags of every id in the set.
func (s *idSet) each(fn func(flags uint8)) {
	for i, k := range s.keys {
		if k != 0 {
			fn(s.flags[i])
		}
	}
	if s.hasMax {
		fn(s.maxFlags)
	}
}
