package core

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/format"
	"github.com/cartwatch/cartwatch/internal/testrows"
)

// The snapshot's tests: the proof that a partition restored from a
// snapshot goes on exactly as if never interrupted, the format's errors, the
// frozen files of earlier versions, and the fuzz target.

var updateGolden = flag.Bool("update", false, "rewrite core/testdata/snapshot-v*.bin of the current version")

// step is one Records of a stepSource.
type step struct {
	part    int32
	pos     int64 // first position of evs, or PosNext
	evs     []event.Event
	barrier uint64
	restore []byte
}

// stepSource hands out steps in order, then stop (io.EOF if nil).
type stepSource struct {
	steps []step
	stop  error
}

var errCut = errors.New("cut here")

func (s *stepSource) Next(_ context.Context, r *Records) error {
	if len(s.steps) == 0 {
		if s.stop != nil {
			return s.stop
		}
		return io.EOF
	}
	st := s.steps[0]
	s.steps = s.steps[1:]
	r.Partition = st.part
	switch {
	case st.barrier != 0:
		r.Barrier = st.barrier
	case st.restore != nil:
		r.Restore = st.restore
	default:
		b := &r.own.block // the engine reads it until the batch is done
		b.Reset()
		b.AppendEvents(st.evs)
		r.Block, r.Pos = b, st.pos
	}
	return nil
}

func (s *stepSource) Close() error { return nil }

// plan cuts parts (each partition's events, rows numbered from first[p])
// into steps: a random partition with events left at a time, 1 to maxBatch
// of them, a barrier every barrierEvery steps and one after the last.
func plan(rng *rand.Rand, parts [][]event.Event, first []int64, maxBatch, barrierEvery int, id *uint64) []step {
	left := slices.Clone(parts)
	started := make([]bool, len(parts))
	var steps []step
	for {
		var live []int
		for p := range left {
			if len(left[p]) > 0 {
				live = append(live, p)
			}
		}
		if len(live) == 0 {
			break
		}
		if len(steps)%barrierEvery == barrierEvery-1 {
			*id++
			steps = append(steps, step{barrier: *id})
			continue
		}
		p := live[rng.IntN(len(live))]
		n := min(len(left[p]), 1+rng.IntN(maxBatch))
		st := step{part: int32(p), pos: PosNext, evs: left[p][:n]}
		if !started[p] {
			st.pos, started[p] = first[p], true
		}
		left[p] = left[p][n:]
		steps = append(steps, st)
	}
	*id++
	return append(steps, step{barrier: *id})
}

// snapLog is a Checkpointer that keeps, per barrier, every partition's
// snapshot as bytes, the positions, and the alerts delivered before it.
type snapLog struct {
	snaps Snapshotter
	sink  *alertLog

	mu    sync.Mutex
	bytes map[uint64]map[int32][]byte
	next  map[uint64]map[int32]int64
	seen  map[uint64]int
}

func newSnapLog(sink *alertLog) *snapLog {
	return &snapLog{sink: sink, bytes: map[uint64]map[int32][]byte{}, next: map[uint64]map[int32]int64{},
		seen: map[uint64]int{}}
}

func (c *snapLog) Shard(id uint64, i int, v ShardView) { c.snaps.Shard(id, i, v) }

func (c *snapLog) Done(id uint64, next map[int32]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := map[int32][]byte{}
	cut := c.snaps.Done(id, next)
	for _, sn := range cut.Snapshots() {
		m[sn.Partition] = EncodeSnapshot(nil, sn)
	}
	cut.Release()
	c.bytes[id], c.next[id], c.seen[id] = m, next, len(c.sink.lines)
}

// runSteps runs steps with opt and a snapLog.
func runSteps(t testing.TB, steps []step, stop error, opt Options) (*alertLog, *snapLog, Summary, error) {
	t.Helper()
	l := &alertLog{}
	cp := newSnapLog(l)
	opt.Sink, opt.Checkpoint = l, cp
	sum, err := Run(context.Background(), &stepSource{steps: steps, stop: stop}, opt, nil)
	normalized(&sum)
	return l, cp, sum, err
}

// restoreCase is one proof: the input's partitions, the options, and the
// shards and parsers of the three runs.
type restoreCase struct {
	name    string
	parts   [][]event.Event
	opt     Options
	shards  [3]int // run A, run B (cut), run C (restored)
	parsers [3]int
	seed    uint64
}

// proveRestore runs c's input uninterrupted (A); up to a random barrier
// and no further (B); and restored from B's snapshots at that barrier and
// fed the records after B's positions, in another interleaving (C). It
// checks that B's snapshots are A's bytes at that barrier, that each
// partition's alerts of B then C are A's byte for byte (and the whole
// streams too for one partition), that C's summary is A's, and that C's
// snapshots at its last barrier are A's.
func proveRestore(t *testing.T, c restoreCase) {
	t.Helper()
	rng := rand.New(rand.NewPCG(c.seed, 99))
	twos := make([]int64, len(c.parts))
	for p := range twos {
		twos[p] = 2
	}
	var id uint64
	steps := plan(rng, c.parts, twos, 40+rng.IntN(400), 2+rng.IntN(6), &id)
	lastA := id

	opt := c.opt
	opt.Shards, opt.Parsers = c.shards[0], c.parsers[0]
	la, cpA, sumA, err := runSteps(t, steps, nil, opt)
	if err != nil {
		t.Fatal(err)
	}
	if sumA.Abandoned == 0 || sumA.Converted == 0 {
		t.Fatalf("%s: the input does not exercise the detector: %+v", c.name, sumA)
	}

	// Cut at a random barrier but the last (a barrier after a barrier is
	// allowed: the cut may fall on one with nothing new).
	var barriers []int
	for i, st := range steps {
		if st.barrier != 0 && st.barrier != lastA {
			barriers = append(barriers, i)
		}
	}
	if len(barriers) == 0 {
		t.Fatalf("%s: no barrier to cut at", c.name)
	}
	for round := 0; round < 3; round++ {
		cut := barriers[rng.IntN(len(barriers))]
		k := steps[cut].barrier
		opt.Shards, opt.Parsers = c.shards[1], c.parsers[1]
		lb, cpB, _, err := runSteps(t, steps[:cut+1], errCut, opt)
		if !errors.Is(err, errCut) {
			t.Fatalf("%s: run B: %v, want the cut", c.name, err)
		}
		if len(cpB.bytes[k]) == 0 && k > 1 {
			t.Fatalf("%s: barrier %d: no snapshot", c.name, k)
		}
		if !reflect.DeepEqual(cpB.bytes[k], cpA.bytes[k]) {
			t.Fatalf("%s: barrier %d: the snapshots of %d shards differ from those of %d", c.name, k, c.shards[1], c.shards[0])
		}
		if !slices.Equal(lb.lines, la.lines[:cpA.seen[k]]) {
			t.Fatalf("%s: barrier %d: run B's %d alerts are not A's first %d", c.name, k, len(lb.lines), cpA.seen[k])
		}

		// Run C: restore what B wrote, then the rest of each partition.
		var restSteps []step
		rest := make([][]event.Event, len(c.parts))
		first := make([]int64, len(c.parts))
		for p := range c.parts {
			b, ok := cpB.bytes[k][int32(p)]
			if !ok {
				rest[p], first[p] = c.parts[p], 2
				continue
			}
			next := cpB.next[k][int32(p)]
			restSteps = append(restSteps, step{part: int32(p), restore: b})
			rest[p], first[p] = c.parts[p][next-2:], next
		}
		// A restore may come between other partitions' records, too.
		rng.Shuffle(len(restSteps), func(i, j int) { restSteps[i], restSteps[j] = restSteps[j], restSteps[i] })
		idC := lastA - 1 // C's last barrier gets A's last id
		more := plan(rng, rest, first, 40+rng.IntN(400), 1000000, &idC)
		// Each restore goes anywhere before its partition's first records.
		at := map[int][]step{}
		for _, r := range restSteps {
			firstOf := slices.IndexFunc(more, func(st step) bool { return st.barrier == 0 && st.part == r.part })
			if firstOf < 0 {
				firstOf = len(more) - 1 // nothing after the cut: before the last barrier
			}
			i := rng.IntN(firstOf + 1)
			at[i] = append(at[i], r)
		}
		var stepsC []step
		for i, st := range more {
			stepsC = append(append(stepsC, at[i]...), st)
		}
		opt.Shards, opt.Parsers = c.shards[2], c.parsers[2]
		lc, cpC, sumC, err := runSteps(t, stepsC, nil, opt)
		if err != nil {
			t.Fatal(err)
		}
		for p := range c.parts {
			got := slices.Concat(lb.of(int32(p)), lc.of(int32(p)))
			if want := la.of(int32(p)); !slices.Equal(got, want) {
				t.Fatalf("%s: cut at barrier %d, partition %d: %d alerts before the cut and %d after, uninterrupted %d\ngot  %q\nwant %q",
					c.name, k, p, len(lb.of(int32(p))), len(lc.of(int32(p))), len(want), got, want)
			}
		}
		if len(c.parts) == 1 && !slices.Equal(slices.Concat(lb.lines, lc.lines), la.lines) {
			t.Fatalf("%s: cut at barrier %d: the alerts differ", c.name, k)
		}
		if !reflect.DeepEqual(sumC, sumA) {
			t.Fatalf("%s: cut at barrier %d: summary restored\n%+v\nuninterrupted\n%+v", c.name, k, sumC, sumA)
		}
		if !reflect.DeepEqual(cpC.bytes[lastA], cpA.bytes[lastA]) {
			t.Fatalf("%s: cut at barrier %d: the snapshots at the end differ from the uninterrupted run's", c.name, k)
		}
	}
}

// withCategories gives evs top-level categories: a few names, some empty.
func withCategories(rng *rand.Rand, evs []event.Event) []event.Event {
	names := []string{"", "apparel.shoes", "computers", "electronics.audio", "kids.toys", "sport"}
	for i := range evs {
		evs[i].SetCategory([]byte(names[rng.IntN(len(names))]))
	}
	return evs
}

// TestRestoreRandom: random streams (out of order, several partitions,
// with and without --extend-on-activity and lateness) cut at random
// barriers and restored into runs of other shard and parser counts.
func TestRestoreRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for iter := 0; iter < 12; iter++ {
		evs := withCategories(rng, randomEvents(rng, 3000+rng.IntN(5000)))
		nparts := 1 + iter%4
		opt := Options{TTL: 90e9, ExtendOnActivity: iter%2 == 1, Spending: iter%3 == 0, RecoveryWindow: 300e9}
		if iter%3 == 2 {
			opt.Lateness = 20e9
		}
		proveRestore(t, restoreCase{
			name:  fmt.Sprintf("iter %d (%d partitions, extend %v, lateness %v)", iter, nparts, opt.ExtendOnActivity, opt.Lateness),
			parts: splitByUser(evs, nparts), opt: opt, seed: uint64(iter),
			shards: [3]int{1 + iter%3, 1 + rng.IntN(5), 1 + rng.IntN(7)}, parsers: [3]int{2, 1 + rng.IntN(3), 1 + rng.IntN(4)},
		})
	}
}

// sampleEvents reads the real sample's valid rows.
func sampleEvents(t *testing.T) []event.Event {
	t.Helper()
	fh := testrows.OpenSample(t)
	defer fh.Close()
	var p format.Parser
	var evs []event.Event
	sc := bufio.NewScanner(fh)
	for n := 0; sc.Scan(); n++ {
		var ev event.Event
		if n > 0 && p.ParseRow(sc.Bytes(), &ev, true) == format.ReasonOK {
			evs = append(evs, ev)
		}
	}
	if err := sc.Err(); err != nil || len(evs) < 9000 {
		t.Fatalf("sample: %d events, %v", len(evs), err)
	}
	return evs
}

// TestRestoreSample: the real sample at --ttl 5m (and 30m with
// --extend-on-activity), as one partition and as five, cut at random
// barriers.
func TestRestoreSample(t *testing.T) {
	evs := sampleEvents(t)
	for i, opt := range []Options{{TTL: 5 * 60e9}, {TTL: 30 * 60e9, ExtendOnActivity: true}} {
		for _, nparts := range []int{1, 5} {
			proveRestore(t, restoreCase{
				name: fmt.Sprintf("sample ttl %v, %d partitions", opt.TTL, nparts), parts: splitByUser(evs, nparts),
				opt: opt, seed: uint64(100 + i*10 + nparts), shards: [3]int{3, 1, 4}, parsers: [3]int{2, 3, 1},
			})
		}
	}
}

// snapshotsOf runs evs in parts partitions with a barrier every few
// batches and returns the snapshots at the last barrier.
func snapshotsOf(t testing.TB, evs []event.Event, nparts int, opt Options) ([]*Snapshot, Summary) {
	t.Helper()
	var id uint64
	twos := slices.Repeat([]int64{2}, nparts)
	steps := plan(rand.New(rand.NewPCG(7, 8)), splitByUser(evs, nparts), twos, 200, 5, &id)
	_, cp, sum, err := runSteps(t, steps, nil, opt)
	if err != nil {
		t.Fatal(err)
	}
	var out []*Snapshot
	for p := range nparts {
		sn, err := DecodeSnapshot(cp.bytes[id][int32(p)])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sn)
	}
	return out, sum
}

// TestSnapshotRoundTrip: decoding gives back what was encoded, and its
// encoding is the same bytes; the figures match the run's.
func TestSnapshotRoundTrip(t *testing.T) {
	evs := randomEvents(rand.New(rand.NewPCG(5, 6)), 6000)
	opt := Options{TTL: 200e9, Shards: 3, Parsers: 2, KeepAtEOF: true}
	sns, sum := snapshotsOf(t, evs, 2, opt)
	var users, carts int
	for _, sn := range sns {
		b := EncodeSnapshot([]byte("prefix"), sn)
		if string(b[:6]) != "prefix" {
			t.Fatal("EncodeSnapshot does not append")
		}
		back, err := DecodeSnapshot(b[6:])
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, sn) {
			t.Fatalf("round trip\n%+v\n%+v", back, sn)
		}
		users += sn.Users()
		carts += sn.OpenCarts()
	}
	if carts == 0 || int64(carts) != sum.OpenCarts {
		t.Fatalf("%d open carts in the snapshots at the end, the run keeps %d", carts, sum.OpenCarts)
	}
	if users == 0 {
		t.Fatal("no users")
	}
}

// frame wraps body in a snapshot header of version v for partition p
// with a right checksum.
func frame(v uint64, p int32, body []byte) []byte {
	b := append([]byte(snapshotMagic), binary.AppendUvarint(nil, v)...)
	b = binary.AppendUvarint(b, uint64(uint32(p)))
	b = binary.AppendUvarint(b, uint64(len(body)))
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(body, castagnoli))
	return append(b, body...)
}

// TestDecodeSnapshotErrors: each kind of damage gives its error.
func TestDecodeSnapshotErrors(t *testing.T) {
	sns, _ := snapshotsOf(t, randomEvents(rand.New(rand.NewPCG(9, 9)), 3000), 1, Options{TTL: 300e9, Shards: 2})
	sn := sns[0]
	good := EncodeSnapshot(nil, sn)
	f := func(name string, b []byte, want error) {
		t.Helper()
		_, err := DecodeSnapshot(b)
		if !errors.Is(err, want) {
			t.Fatalf("%s: %v, want %v", name, err, want)
		}
	}
	f("bad magic", append([]byte("CWsN"), good[4:]...), ErrSnapshotMagic)
	f("csv", []byte("event_time,event_type\n"), ErrSnapshotMagic)
	v2 := slices.Clone(good)
	v2[4] = SnapshotVersion + 1
	f("next version", v2, ErrSnapshotVersion)
	v0 := slices.Clone(good)
	v0[4] = 0
	f("version 0", v0, ErrSnapshotVersion)
	for _, i := range []int{len(good) - 1, len(good) / 2, 20} {
		bad := slices.Clone(good)
		bad[i] ^= 0x10
		f(fmt.Sprint("flipped byte ", i), bad, ErrSnapshotChecksum)
	}
	for n := range len(good) {
		f(fmt.Sprint("first ", n, " bytes"), good[:n], ErrSnapshotTruncated)
	}
	f("a byte more", append(slices.Clone(good), 0), ErrSnapshotCorrupt)

	// Bodies with a right checksum but wrong content.
	head := binary.AppendVarint(nil, 2)
	head = binary.AppendVarint(head, 1000)
	head = binary.AppendVarint(head, 990)
	for range 14 {
		head = binary.AppendUvarint(head, 1)
	}
	user := func(b []byte, uid uint64) []byte { return append(binary.AppendUvarint(b, uid), 0) }
	body := func(parts ...[]byte) []byte { return slices.Concat(append([][]byte{head}, parts...)...) }
	uv := func(vs ...uint64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.AppendUvarint(b, v)
		}
		return b
	}
	sv := func(vs ...int64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.AppendVarint(b, v)
		}
		return b
	}
	okCart := slices.Concat(uv(5), sv(0, 0, 60), uv(1, 100, 1, 77, 2), []byte("s1"))
	f("valid body", frame(1, 0, body(uv(1), user(nil, 5), uv(1), okCart)), nil)
	f("huge user count", frame(1, 0, body(uv(1<<60), user(nil, 5))), ErrSnapshotCorrupt)
	f("huge cart count", frame(1, 0, body(uv(1), user(nil, 5), uv(1<<40), okCart)), ErrSnapshotCorrupt)
	f("users out of order", frame(1, 0, body(uv(2), user(nil, 5), user(nil, 0), uv(0))), ErrSnapshotCorrupt)
	f("unknown user flags", frame(1, 0, body(uv(1, 5, 8), uv(0))), ErrSnapshotCorrupt)
	f("cart without user", frame(1, 0, body(uv(1), user(nil, 4), uv(1), okCart)), ErrSnapshotCorrupt)
	f("cart behind the watermark", frame(1, 0, body(uv(1), user(nil, 5), uv(1),
		slices.Concat(uv(5), sv(0, 0, -20), uv(1, 100, 0, 0)))), ErrSnapshotCorrupt)
	f("17 products", frame(1, 0, body(uv(1), user(nil, 5), uv(1),
		slices.Concat(uv(5), sv(0, 0, 60), uv(1, 100, 17), make([]byte, 17), uv(0)))), ErrSnapshotCorrupt)
	f("long session", frame(1, 0, body(uv(1), user(nil, 5), uv(1),
		slices.Concat(uv(5), sv(0, 0, 60), uv(1, 100, 0, 37), make([]byte, 37)))), ErrSnapshotCorrupt)
	f("counter out of range", frame(1, 0, slices.Concat(sv(2, 1000, 990), uv(math.MaxUint64), head[6:], uv(0, 0))), ErrSnapshotCorrupt)
	f("bytes after the carts", frame(1, 0, body(uv(0, 0, 0))), ErrSnapshotCorrupt)
	f("ends in a cart", frame(1, 0, body(uv(1), user(nil, 5), uv(1), okCart[:len(okCart)-3])), ErrSnapshotCorrupt)
}

// TestRestoreErrors: a snapshot that does not decode, or is another
// partition's, fails the run with an error that says so.
func TestRestoreErrors(t *testing.T) {
	sn, _ := snapshotsOf(t, randomEvents(rand.New(rand.NewPCG(3, 3)), 2000), 2, Options{TTL: 300e9, Shards: 2})
	good := EncodeSnapshot(nil, sn[1])
	f := func(part int32, b []byte, want string) {
		t.Helper()
		src := &stepSource{steps: []step{{part: part, restore: b},
			{part: part, pos: 100, evs: randomEvents(rand.New(rand.NewPCG(1, 1)), 50)}}}
		_, err := Run(context.Background(), src, Options{Shards: 2}, nil)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Fatalf("restore of partition %d: %v, want %q", part, err, want)
		}
	}
	f(0, good, "restoring partition 0: the snapshot is of partition 1")
	bad := slices.Clone(good)
	bad[len(bad)-1] ^= 1
	f(1, bad, "restoring partition 1: snapshot: checksum mismatch")
}

// goldenCase is the state frozen in testdata/snapshot-v1.bin: built the
// same way by every version of the test.
func goldenCase(t testing.TB) *Snapshot {
	rng := rand.New(rand.NewPCG(2026, 14))
	evs := randomEvents(rng, 1500)
	if SnapshotVersion >= 2 { // version 1's file was made without categories
		evs = withCategories(rng, evs)
	}
	sns, _ := snapshotsOf(t, evs, 1, Options{TTL: 120e9, Shards: 2, Spending: true, RecoveryWindow: 600e9})
	if sn := sns[0]; sn.Users() == 0 || sn.OpenCarts() == 0 || sn.Counters.Recovered == 0 || len(sn.cats) == 0 {
		t.Fatalf("the golden state has %d users, %d open carts, %d recovered, %d categories of open carts",
			sn.Users(), sn.OpenCarts(), sn.Counters.Recovered, len(sn.cats))
	}
	return sns[0]
}

// TestSnapshotGolden: the frozen file of each format version is read, and
// gives the state the current code builds (fields a version did not have
// read as their zero). Run with -update to rewrite the current version's
// file (never an older one's).
func TestSnapshotGolden(t *testing.T) {
	want := goldenCase(t)
	cur := filepath.Join("testdata", fmt.Sprintf("snapshot-v%d.bin", SnapshotVersion))
	if *updateGolden {
		if err := os.WriteFile(cur, EncodeSnapshot(nil, want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for v := 1; v <= SnapshotVersion; v++ {
		path := filepath.Join("testdata", fmt.Sprintf("snapshot-v%d.bin", v))
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestSnapshotGolden -update ./core once for a new version)", err)
		}
		got, err := DecodeSnapshot(b)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		w := want
		if v < 2 {
			w = withoutV2(want)
		}
		if len(got.cats) == 0 {
			got.cats = nil
		}
		if !reflect.DeepEqual(got, w) {
			t.Fatalf("%s reads as\n%+v\nwant\n%+v", path, got, w)
		}
		if v == SnapshotVersion && !bytes.Equal(EncodeSnapshot(nil, got), b) {
			t.Fatalf("%s: the current encoding differs from the file", path)
		}
	}
}

// withoutV2 is sn without what version 2 added (the shop figures of rules
// 9 to 11): what a version 1 snapshot of the same state holds.
func withoutV2(sn *Snapshot) *Snapshot {
	o := *sn
	c := &o.Counters
	c.Recovered, c.RecoveredValue = 0, 0
	c.Delay, c.ByHour, c.ByCategory = DelayHistogram{}, [24]Tally{}, CategoryTallies{}
	o.users = slices.Clone(sn.users)
	for k := range o.users {
		u := &o.users[k]
		u.abandonedValue, u.abandonedGap = 0, 0
		u.flags &^= recRecovered
	}
	o.carts = slices.Clone(sn.carts)
	for k := range o.carts {
		o.carts[k].cat = 0
	}
	o.cats = nil
	return &o
}

// FuzzDecodeSnapshot: any bytes, bare or framed with a right checksum (so
// the fuzzer reaches the body), decode without a panic and within memory
// bounded by their length; what decodes, encodes and decodes to the same.
func FuzzDecodeSnapshot(f *testing.F) {
	sns, _ := snapshotsOf(f, randomEvents(rand.New(rand.NewPCG(1, 2)), 800), 1, Options{TTL: 300e9, Shards: 1})
	good := EncodeSnapshot(nil, sns[0])
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[12:]) // about the body: framed, it decodes
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, b := range [][]byte{data, frame(1, 3, data)} {
			sn, err := DecodeSnapshot(b)
			if err != nil {
				continue
			}
			back, err := DecodeSnapshot(EncodeSnapshot(nil, sn))
			if err != nil || !reflect.DeepEqual(back, sn) {
				t.Fatalf("round trip: %v\n%+v\n%+v", err, back, sn)
			}
			if cap(sn.users)*2 > len(b) || cap(sn.carts)*9 > len(b) {
				t.Fatalf("%d users and %d carts allocated from %d bytes", cap(sn.users), cap(sn.carts), len(b))
			}
		}
	})
}

// bigSnapshot is a partition of users users (a third bought, a tenth
// abandoned a cart, ids spread over the 2019-Nov range) and carts open carts
// of 1 to 4 products with a 36-byte session, in a month of seconds.
func bigSnapshot(users, carts int) *Snapshot {
	rng := rand.New(rand.NewPCG(1, 1))
	const month = 30 * 86400
	sn := &Snapshot{Partition: 3, Next: 1 << 30, MaxTime: 1575158400, Events: 1 << 26}
	sn.Watermark = sn.MaxTime
	uid := uint64(10_000_000)
	for range users {
		uid += 1 + uint64(rng.IntN(1200))
		u := userRec{uid: uid, lastAbandoned: noAbandon}
		if rng.IntN(3) == 0 {
			u.flags |= recPurchaser
			u.spending = int64(rng.IntN(200000))
		}
		if rng.IntN(10) == 0 {
			u.flags |= recAbandoner
			u.lastAbandoned = sn.MaxTime - int64(rng.IntN(month))
			u.abandonedValue, u.abandonedGap = int64(rng.IntN(100000)), 1800
		}
		sn.users = append(sn.users, u)
	}
	for k := range carts {
		u := &sn.users[k*(users/carts)]
		c := openCart{uid: u.uid, last: sn.MaxTime - int64(rng.IntN(1800)), items: 1 + int64(rng.IntN(4))}
		c.first, c.deadline = c.last-int64(rng.IntN(600)), c.last+1800
		c.nprod = uint8(c.items)
		for j := range c.nprod {
			c.products[j] = 1_000_000 + uint64(rng.IntN(60_000_000))
			c.value += int64(rng.IntN(100000))
		}
		c.sessionLen = uint8(copy(c.session[:], "3f0a6b1c-2d4e-4f5a-8b9c-0d1e2f3a4b5c"))
		var name CategoryName
		name.Len = uint8(copy(name.Name[:], "electronics"))
		c.cat = uint32(len(sn.cats) + 1)
		sn.cats = append(sn.cats, catEnt{name: name, t: Tally{c.items, c.value}})
		sn.carts = append(sn.carts, c)
	}
	return sn
}

// BenchmarkSnapshot encodes and decodes a partition of 1M users and 10k
// open carts (one category each), and reports the bytes per user and per open cart. Encoding
// into a reused buffer allocates nothing; decoding allocates the
// snapshot's two slices.
//
//	flock /work/bench.lock go test -run XXX -bench BenchmarkSnapshot -benchtime 10x ./core
func BenchmarkSnapshot(b *testing.B) {
	const users, carts = 1 << 20, 10_000
	sn := bigSnapshot(users, carts)
	usersOnly := *sn
	usersOnly.carts = nil
	buf := EncodeSnapshot(nil, sn)
	perUser := float64(len(EncodeSnapshot(nil, &usersOnly))) / users
	perCart := float64(len(buf)-len(EncodeSnapshot(nil, &usersOnly))) / carts
	b.Run("op=encode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			buf = EncodeSnapshot(buf[:0], sn)
		}
		b.ReportMetric(perUser, "B/user")
		b.ReportMetric(perCart, "B/cart")
	})
	b.Run("op=decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			if _, err := DecodeSnapshot(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSnapshotGather is the per-barrier cost of Snapshotter for one
// partition of 1M users and 10k open carts over 4 shards: op=shard is the
// shards' flat copies (Shard, one per shard, run one after another here),
// all the engine waits for; op=cut is the sort by user and the merge
// (Cut.Snapshots) and op=encode the encoding, which the Kafka Consumer does
// on its checkpoint goroutine.
//
//	flock /work/bench.lock go test -run XXX -bench BenchmarkSnapshotGather -benchtime 10x ./core
func BenchmarkSnapshotGather(b *testing.B) {
	const n = 4
	sn := bigSnapshot(1<<20, 10_000)
	shards := make([]*shard, n)
	for i := range shards {
		shards[i] = newShard(1800, 86400, false, 1<<16)
		shards[i].restore(sn, i, n)
	}
	var s Snapshotter
	next := map[int32]int64{sn.Partition: sn.Next}
	copyAll := func(id uint64) Cut {
		for i, sh := range shards {
			s.Shard(id, i, ShardView{sh})
		}
		return s.Done(id, next)
	}
	b.Run("op=shard", func(b *testing.B) {
		b.ReportAllocs()
		id := uint64(0)
		for b.Loop() {
			id++
			cut := copyAll(id)
			cut.Release()
		}
	})
	b.Run("op=cut", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			cut := copyAll(1)
			b.StartTimer()
			got := cut.Snapshots()
			cut.Release()
			if len(got) != 1 || got[0].Users() != sn.Users() {
				b.Fatalf("%d snapshots", len(got))
			}
		}
	})
	b.Run("op=encode", func(b *testing.B) {
		cut := copyAll(1)
		got := cut.Snapshots()
		cut.Release()
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			buf = EncodeSnapshot(buf[:0], got[0])
		}
	})
}

// TestSnapshotterShardReuses: once a Cut is Released, the next barrier's
// Shard copies into its buffers, so a checkpoint costs the shards no
// allocation (docs/semantics.md, "Snapshots"), and the Snapshots of a
// Cut outlive its Release: the next copy does not change them.
func TestSnapshotterShardReuses(t *testing.T) {
	const n = 2
	sn := bigSnapshot(5000, 300)
	want := EncodeSnapshot(nil, sn)
	shards := make([]*shard, n)
	for i := range shards {
		shards[i] = newShard(1800, 86400, false, 1<<10)
		shards[i].restore(sn, i, n)
	}
	var s Snapshotter
	next := map[int32]int64{sn.Partition: sn.Next}
	id := uint64(0)
	checkpoint := func() Cut {
		id++
		for i, sh := range shards {
			s.Shard(id, i, ShardView{sh})
		}
		return s.Done(id, next)
	}
	cut := checkpoint()
	if cut.Users() != sn.Users() {
		t.Fatalf("the cut has %d users, want %d", cut.Users(), sn.Users())
	}
	first := cut.Snapshots()
	cut.Release()
	if got := EncodeSnapshot(nil, first[0]); !bytes.Equal(got, want) {
		t.Fatalf("the cut's snapshot encodes to %d bytes unlike the state's %d", len(got), len(want))
	}
	allocs := testing.AllocsPerRun(20, func() {
		id++
		for i, sh := range shards {
			s.Shard(id, i, ShardView{sh})
		}
		cut := s.Done(id, next)
		cut.Release()
	})
	if allocs > 0 {
		t.Errorf("Shard after a Released Cut: %.1f allocations per barrier, want 0", allocs)
	}
	// A Cut held while the next barrier's shards copy: they get buffers
	// of their own, and each Cut gives its own barrier's state.
	held := checkpoint()
	shards[0].restore(&Snapshot{Partition: sn.Partition, MaxTime: sn.MaxTime, Watermark: sn.Watermark}, 0, n)
	other := checkpoint()
	if held.Users() != sn.Users() || other.Users() == sn.Users() {
		t.Errorf("held cut %d users, the next %d; want %d and fewer", held.Users(), other.Users(), sn.Users())
	}
	if got := EncodeSnapshot(nil, held.Snapshots()[0]); !bytes.Equal(got, want) {
		t.Errorf("the held cut's snapshot changed with the next barrier's copy")
	}
	held.Release()
	other.Release()
	if got := EncodeSnapshot(nil, first[0]); !bytes.Equal(got, want) {
		t.Errorf("a Released cut's snapshot changed with the next barriers' copies")
	}
}
