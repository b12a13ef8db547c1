package core

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cartwatch/cartwatch/event"
)

// The seam's tests: partitions, barriers, interrupts, aborts and faults,
// through in-process sources written here.

// schedule is what the tests' partitioned sources share: which partition's
// records come next (one with records left, at random, 1 to maxBatch of
// them) and a barrier (id 1, 2, ...) every barrierEvery Records if that is
// not 0.
type schedule struct {
	rng          *rand.Rand
	maxBatch     int
	barrierEvery int

	n       int    // Records handed out
	barrier uint64 // the last barrier id
}

// next returns a barrier id, or the partition and count of the next
// records, given how many each partition has left; ok is false at the end.
func (s *schedule) next(left []int) (barrier uint64, p, n int, ok bool) {
	if s.barrierEvery > 0 && s.n > 0 && s.n%s.barrierEvery == 0 {
		s.n++
		s.barrier++
		return s.barrier, 0, 0, true
	}
	var live []int
	for p, k := range left {
		if k > 0 {
			live = append(live, p)
		}
	}
	if len(live) == 0 {
		return 0, 0, 0, false
	}
	p = live[s.rng.IntN(len(live))]
	s.n++
	return 0, p, min(left[p], 1+s.rng.IntN(s.maxBatch)), true
}

// partSource hands out the events of several partitions as Blocks, each
// Records one partition's next slice (schedule).
type partSource struct {
	parts [][]event.Event // per partition, in its order
	schedule

	started []bool
}

func (s *partSource) Next(ctx context.Context, r *Records) error {
	left := make([]int, len(s.parts))
	for p := range s.parts {
		left[p] = len(s.parts[p])
	}
	barrier, p, n, ok := s.next(left)
	if !ok {
		return io.EOF
	}
	if barrier != 0 {
		r.Barrier = barrier
		return nil
	}
	if s.started == nil {
		s.started = make([]bool, len(s.parts))
	}
	b := &r.own.block
	b.Reset()
	b.AppendEvents(s.parts[p][:n])
	s.parts[p] = s.parts[p][n:]
	r.Block, r.Partition = b, int32(p)
	if !s.started[p] {
		r.Pos, s.started[p] = 2, true
	}
	return nil
}

func (s *partSource) Close() error { return nil }

// alertLog is a Sink that keeps every alert (as JSON) with its partition.
type alertLog struct {
	lines []string
	parts []int32
	buf   []byte
}

func (l *alertLog) Alert(a *Alert) error {
	l.buf = a.AppendJSON(l.buf[:0])
	l.lines = append(l.lines, string(l.buf))
	l.parts = append(l.parts, a.Partition)
	return nil
}
func (l *alertLog) Reject(*Reject) error { return nil }
func (l *alertLog) Flush(bool) error     { return nil }

// of returns the alerts of partition p, in order.
func (l *alertLog) of(p int32) []string {
	var out []string
	for i, q := range l.parts {
		if q == p {
			out = append(out, l.lines[i])
		}
	}
	return out
}

// splitByUser assigns each user to one of n partitions (every event of a
// user in one partition, rule of docs/semantics.md) keeping input order.
func splitByUser(evs []event.Event, n int) [][]event.Event {
	parts := make([][]event.Event, n)
	for _, e := range evs {
		p := int(event.HashUser(e.UserID) % uint64(n))
		parts[p] = append(parts[p], e)
	}
	return parts
}

func alertLines(t *testing.T, evs []event.Event, opt Options) []string {
	t.Helper()
	var l alertLog
	opt.Sink = &l
	if _, err := Run(context.Background(), eventsSource(evs, 97), opt, nil); err != nil {
		t.Fatal(err)
	}
	return l.lines
}

// TestPartitionsAlone: with several partitions interleaved in one run, each
// partition's alerts are exactly those of a run over that partition alone
// (its own watermark and state), for out-of-order input, any shard count,
// with and without --extend-on-activity.
func TestPartitionsAlone(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for iter := 0; iter < 6; iter++ {
		evs := randomEvents(rng, 4000+rng.IntN(4000))
		nparts := 2 + iter%4
		parts := splitByUser(evs, nparts)
		for _, extend := range []bool{false, true} {
			opt := Options{TTL: 90e9, ExtendOnActivity: extend, Shards: 1 + iter%3, Parsers: 2}
			var l alertLog
			o := opt
			o.Sink = &l
			src := &partSource{parts: slices.Clone(parts), schedule: schedule{rng: rand.New(rand.NewPCG(uint64(iter), 1)), maxBatch: 300}}
			sum, err := Run(context.Background(), src, o, nil)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Events != int64(len(evs)) || sum.Abandoned == 0 {
				t.Fatalf("summary %+v", sum)
			}
			for p := range parts {
				want := alertLines(t, parts[p], opt)
				if got := l.of(int32(p)); !slices.Equal(got, want) {
					t.Fatalf("iter %d extend=%v partition %d of %d: %d alerts, alone %d\ngot  %q\nwant %q",
						iter, extend, p, nparts, len(got), len(want), got, want)
				}
			}
		}
	}
}

// timeOrdered is randomEvents without the out-of-order rows.
func timeOrdered(rng *rand.Rand, n int) []event.Event {
	evs := randomEvents(rng, n)
	slices.SortStableFunc(evs, func(a, b event.Event) int { return int(a.Time - b.Time) })
	return evs
}

// TestPartitionsUnion: for time-ordered input the alerts of all partitions
// together, and the summary, equal those of the single-partition run.
func TestPartitionsUnion(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for iter := 0; iter < 4; iter++ {
		evs := timeOrdered(rng, 5000)
		opt := Options{TTL: 60e9, Shards: 2, Parsers: 2}
		var one alertLog
		o := opt
		o.Sink = &one
		want, err := Run(context.Background(), eventsSource(evs, 256), o, nil)
		if err != nil {
			t.Fatal(err)
		}
		var many alertLog
		o.Sink = &many
		src := &partSource{parts: splitByUser(evs, 5), schedule: schedule{rng: rand.New(rand.NewPCG(uint64(iter), 2)), maxBatch: 200}}
		got, err := Run(context.Background(), src, o, nil)
		if err != nil {
			t.Fatal(err)
		}
		normalized(&want)
		normalized(&got)
		if fmt.Sprint(want) != fmt.Sprint(got) {
			t.Fatalf("summary of 5 partitions %+v\nof one %+v", got, want)
		}
		a, b := slices.Clone(one.lines), slices.Clone(many.lines)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) || len(a) == 0 {
			t.Fatalf("alerts of 5 partitions differ from one partition's (%d vs %d)", len(b), len(a))
		}
	}
}

// cutLog is a Checkpointer that records, per barrier, the open carts of
// every partition summed over the shards, and the positions.
type cutLog struct {
	mu    sync.Mutex
	open  map[uint64]map[int32]int
	next  map[uint64]map[int32]int64
	sink  *alertLog
	seen  map[uint64]int // alerts delivered when the barrier was done
	calls map[uint64]int // Shard calls per barrier
}

func (c *cutLog) Shard(id uint64, i int, v ShardView) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[id] == nil {
		c.open[id] = map[int32]int{}
	}
	c.calls[id]++
	for _, p := range v.Partitions() {
		st, ok := v.Part(p)
		if !ok {
			panic("listed partition without state")
		}
		c.open[id][p] += st.OpenCarts()
	}
}

func (c *cutLog) Done(id uint64, next map[int32]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next[id] = next
	c.seen[id] = len(c.sink.lines)
}

// TestBarrierCut: at each barrier every shard reports in, and the state it
// reports, the alerts delivered before it and the positions are those of a
// run over the input before the barrier alone (with --at-eof keep): a
// consistent cut.
func TestBarrierCut(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	evs := randomEvents(rng, 6000)
	parts := splitByUser(evs, 3)
	const shards = 3
	opt := Options{TTL: 90e9, Shards: shards, Parsers: 2}
	var l alertLog
	cl := &cutLog{open: map[uint64]map[int32]int{}, next: map[uint64]map[int32]int64{}, sink: &l,
		seen: map[uint64]int{}, calls: map[uint64]int{}}
	o := opt
	o.Sink, o.Checkpoint = &l, cl
	// The same interleaving is replayed below up to each barrier: record it.
	var order []struct {
		p int32
		n int
	}
	src := &partSource{parts: slices.Clone(parts), schedule: schedule{rng: rand.New(rand.NewPCG(5, 6)), maxBatch: 250, barrierEvery: 7}}
	rec := &recordingSource{src: src, log: &order}
	if _, err := Run(context.Background(), rec, o, nil); err != nil {
		t.Fatal(err)
	}
	if src.barrier < 3 {
		t.Fatalf("only %d barriers", src.barrier)
	}
	for id := uint64(1); id <= src.barrier; id++ {
		if cl.calls[id] != shards {
			t.Fatalf("barrier %d: %d shard calls, want %d", id, cl.calls[id], shards)
		}
		// The prefix: the Records before barrier id, per partition.
		prefix := make([][]event.Event, len(parts))
		taken := make([]int, len(parts))
		for _, r := range order[:rec.barrierAt[id]] {
			prefix[r.p] = append(prefix[r.p], parts[r.p][taken[r.p]:taken[r.p]+r.n]...)
			taken[r.p] += r.n
		}
		wantAlerts := 0
		for p := range parts {
			if taken[p] == 0 {
				if _, ok := cl.next[id][int32(p)]; ok {
					t.Fatalf("barrier %d: position for unseen partition %d", id, p)
				}
				continue
			}
			o := opt
			o.KeepAtEOF = true
			var pl alertLog
			o.Sink = &pl
			sum, err := Run(context.Background(), eventsSource(prefix[p], 50), o, nil)
			if err != nil {
				t.Fatal(err)
			}
			wantAlerts += len(pl.lines)
			if got := cl.open[id][int32(p)]; int64(got) != sum.OpenCarts {
				t.Errorf("barrier %d partition %d: %d open carts at the cut, the prefix run keeps %d", id, p, got, sum.OpenCarts)
			}
			if got := cl.next[id][int32(p)]; got != int64(2+taken[p]) {
				t.Errorf("barrier %d partition %d: next position %d, want %d", id, p, got, 2+taken[p])
			}
		}
		if cl.seen[id] != wantAlerts {
			t.Errorf("barrier %d: %d alerts delivered before it, the prefix runs give %d", id, cl.seen[id], wantAlerts)
		}
	}
}

// recordingSource logs the partition and size of each data Records of src,
// and at which point of the log each barrier came.
type recordingSource struct {
	src interface {
		Next(context.Context, *Records) error
	}
	log *[]struct {
		p int32
		n int
	}
	barrierAt map[uint64]int
}

func (s *recordingSource) Next(ctx context.Context, r *Records) error {
	err := s.src.Next(ctx, r)
	if err != nil {
		return err
	}
	if r.Barrier != 0 {
		if s.barrierAt == nil {
			s.barrierAt = map[uint64]int{}
		}
		s.barrierAt[r.Barrier] = len(*s.log)
		return nil
	}
	*s.log = append(*s.log, struct {
		p int32
		n int
	}{r.Partition, r.Block.Len()})
	return nil
}

func (s *recordingSource) Close() error { return nil }

// TestInterrupt: cancelling the context stops the reading; the alerts
// already due are written, open carts are not abandoned (no end-of-input),
// the summary says Interrupted and the error wraps context.Canceled.
func TestInterrupt(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	evs := timeOrdered(rng, 20000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	batches := 0
	read := func(b *event.Block) int {
		batches++
		if batches == 10 {
			cancel()
		}
		n := min(len(evs), 500)
		b.AppendEvents(evs[:n])
		evs = evs[n:]
		return n
	}
	var l alertLog
	sum, err := Run(ctx, BlockSource(read), Options{TTL: 60e9, Shards: 2, Sink: &l}, nil)
	if !errors.Is(err, context.Canceled) || !sum.Interrupted {
		t.Fatalf("err %v, interrupted %v", err, sum.Interrupted)
	}
	if sum.Events == 0 || sum.Events > 10*500 || sum.OpenCarts == 0 || int64(len(l.lines)) != sum.Abandoned {
		t.Fatalf("summary %+v with %d alerts: want the first batches only, open carts kept", sum, len(l.lines))
	}
}

// errSource fails after n Records.
type errSource struct {
	evs []event.Event
	n   int
}

var errBroken = errors.New("the source broke")

func (s *errSource) Next(ctx context.Context, r *Records) error {
	if s.n == 0 {
		return errBroken
	}
	s.n--
	k := min(len(s.evs), 400)
	r.own.block.Reset()
	r.own.block.AppendEvents(s.evs[:k])
	s.evs = s.evs[k:]
	r.Block = &r.own.block
	return nil
}

func (s *errSource) Close() error { return nil }

// TestAbort: a source error ends the run with that error and without the
// end-of-input abandonment: carts still open stay open.
func TestAbort(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	evs := timeOrdered(rng, 10000)
	sum, err := Run(context.Background(), &errSource{evs: evs, n: 5}, Options{TTL: 60e9}, nil)
	if !errors.Is(err, errBroken) || sum.Interrupted {
		t.Fatalf("err %v, interrupted %v", err, sum.Interrupted)
	}
	if sum.Events != 5*400 || sum.OpenCarts == 0 {
		t.Fatalf("summary %+v: want 2000 events and open carts kept", sum)
	}
}

// TestMappedFileShrinks: a mapped input cut short while it is read is an
// error of the run naming the cause, not a crash (SIGBUS), whether the
// reader (a file of many chunks) or a worker (one chunk) meets the lost
// pages first.
func TestMappedFileShrinks(t *testing.T) {
	var text bytes.Buffer
	for i := 0; text.Len() < 3<<20; i++ {
		fmt.Fprintf(&text, "2019-11-01 00:%02d:%02d UTC,view,1,2,a.b,br,5.10,%d,s1\n", i/60%60, i%60, i%1000)
	}
	for _, chunk := range []int{1 << 16, 8 << 20} {
		fn := filepath.Join(t.TempDir(), "shrinks.csv")
		if err := os.WriteFile(fn, text.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := OpenFile(fn, FileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := src.(*mappedSource); !ok {
			t.Skipf("%T: the file is not mapped here", src)
		}
		if err := os.Truncate(fn, 0); err != nil {
			t.Fatal(err)
		}
		_, err = Run(context.Background(), src, Options{ChunkBytes: chunk}, nil)
		if err == nil || !strings.Contains(err.Error(), "changed while it was read") {
			t.Fatalf("chunk %d: err %v, want the file-changed error", chunk, err)
		}
	}
}

// TestFutureRowIgnored: one row dated 9999 in the middle of the real sample
// is malformed (time in the future) and moves no watermark: the answer is
// the sample's own (--ttl 5m: 33 abandoned, 41 converted), as without it.
func TestFutureRowIgnored(t *testing.T) {
	data := sample(t)
	lines := bytes.SplitAfter(data, []byte("\n"))
	mid := len(lines) / 2
	bad := []byte("9999-01-01 00:00:00 UTC,view,1,2,a.b,br,5.10,7,s1\n")
	var with []byte
	for i, l := range lines {
		if i == mid {
			with = append(with, bad...)
		}
		with = append(with, l...)
	}
	opt := Options{TTL: 5 * 60e9}
	_, want, _ := runText(t, data, opt)
	_, got, rejects := runText(t, with, opt)
	if got.Abandoned != want.Abandoned || got.Converted != want.Converted || got.Malformed != want.Malformed+1 {
		t.Fatalf("with a row of 9999: abandoned %d converted %d malformed %d; without: %d %d %d",
			got.Abandoned, got.Converted, got.Malformed, want.Abandoned, want.Converted, want.Malformed)
	}
	if want.Abandoned != 33 || want.Converted != 41 {
		t.Fatalf("the sample at 5m: %d abandoned, %d converted; want 33, 41", want.Abandoned, want.Converted)
	}
	if !strings.Contains(rejects, fmt.Sprintf("%d\tevent_time is in the future", mid+1)) {
		t.Fatalf("rejects %q: want line %d in the future", rejects, mid+1)
	}
	// --max-future negative: no limit, and the row moves the watermark.
	opt.MaxFuture = -1
	if _, got, _ := runText(t, with, opt); got.Malformed != want.Malformed || got.Abandoned == want.Abandoned {
		t.Fatalf("without a limit: malformed %d abandoned %d: the row should count and move W", got.Malformed, got.Abandoned)
	}
}

// TestBlockLimits: in-process rows meet the same limits as text: a row
// later than now + MaxFuture and a price above format.MaxPriceCents are
// rejects at their row numbers, and the rest runs as if they were absent.
func TestBlockLimits(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	evs := timeOrdered(rng, 3000)
	var with []event.Event
	var rows []int64
	for i, e := range evs {
		with = append(with, e)
		switch i {
		case 1000:
			with = append(with, ev(253402300799, V, 7, 1, 1)) // 9999-12-31
			rows = append(rows, int64(len(with))+1)
		case 2000:
			with = append(with, ev(e.Time, C, 7919, 1, 1e12+1))
			rows = append(rows, int64(len(with))+1)
		}
	}
	for _, extend := range []bool{false, true} {
		opt := Options{TTL: 60e9, ExtendOnActivity: extend, Shards: 2}
		want, wsum := runEngine(t, evs, opt)
		var alerts, rejects bytes.Buffer
		opt.Alerts, opt.Rejects = &alerts, &rejects
		sum, err := Run(context.Background(), blocksSourceOf(blocksOf(with, 700)), opt, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantRej := fmt.Sprintf("%d\tevent_time is in the future (later than now + --max-future)\n%d\tprice above 10,000,000,000\n", rows[0], rows[1])
		if alerts.String() != want || sum.Malformed != 2 || sum.Events != wsum.Events || rejects.String() != wantRej {
			t.Fatalf("extend=%v: malformed %d events %d/%d, rejects %q want %q, alerts equal %v",
				extend, sum.Malformed, sum.Events, wsum.Events, rejects.String(), wantRej, alerts.String() == want)
		}
	}
}

// TestHeaderByName: a file whose header names the columns in another order
// (price and user_id swapped, a tenth column) gives the run of the original,
// mapped, read through a reader, and gzipped; a header missing a required
// column is an error of OpenFile naming it, before any row is read.
func TestHeaderByName(t *testing.T) {
	data := sample(t)
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if !bytes.HasPrefix(lines[0], []byte("event_time,")) {
		t.Fatalf("the sample's first line is not its header: %q", lines[0])
	}
	// Swap fields 6 (price) and 7 (user_id) and add a column "x" at the end.
	var swapped bytes.Buffer
	for i, l := range lines {
		f := bytes.Split(bytes.TrimSuffix(l, []byte("\r")), []byte(","))
		if len(f) != 9 {
			t.Fatalf("line %d: %d fields (quoted commas are not in the sample)", i+1, len(f))
		}
		f[6], f[7] = f[7], f[6]
		x := []byte("extra")
		if i == 0 {
			x = []byte("x")
		}
		swapped.Write(bytes.Join(append(f, x), []byte(",")))
		swapped.WriteByte('\n')
	}
	opt := Options{TTL: 5 * 60e9}
	want, wsum, _ := runText(t, data, opt)
	dir := t.TempDir()
	fn := filepath.Join(dir, "swapped.csv")
	os.WriteFile(fn, swapped.Bytes(), 0o644)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(swapped.Bytes())
	zw.Close()
	gzn := filepath.Join(dir, "swapped.csv.gz")
	os.WriteFile(gzn, gz.Bytes(), 0o644)
	for _, path := range []string{fn, gzn} {
		var a bytes.Buffer
		o := opt
		o.Alerts = &a
		sum, err := RunFile(path, o, nil)
		if err != nil || a.String() != want || sum.Events != wsum.Events || sum.Malformed != 0 {
			t.Fatalf("%s: err %v, events %d malformed %d, alerts equal %v\n%.300s\n%.300s", path, err, sum.Events, sum.Malformed, a.String() == want, a.String(), want)
		}
	}
	got, sum, _ := runText(t, swapped.Bytes(), opt)
	if got != want || sum.Events != wsum.Events {
		t.Fatalf("reader source: %d events, alerts equal %v", sum.Events, got == want)
	}
	missing := filepath.Join(dir, "missing.csv")
	os.WriteFile(missing, []byte("event_time,event_type,product_id,price,uid\n2019-11-01 00:00:00 UTC,cart,1,5.00,7\n"), 0o644)
	if _, err := OpenFile(missing, FileOptions{}); err == nil || !strings.Contains(err.Error(), `"user_id"`) {
		t.Fatalf("header without user_id: err %v", err)
	}
}

// TestNoValidRowsCause: an input whose rows are all malformed names the
// first reasons and the likely cause (here, ';' as the delimiter).
func TestNoValidRowsCause(t *testing.T) {
	text := strings.ReplaceAll(string(sample(t)[:4000]), ",", ";")
	fn := filepath.Join(t.TempDir(), "semi.csv")
	os.WriteFile(fn, []byte(text), 0o644)
	_, err := RunFile(fn, Options{}, nil)
	if !errors.Is(err, ErrNoValidRows) || !strings.Contains(err.Error(), "line 1: 9 fields expected") ||
		!strings.Contains(err.Error(), "likely cause") || !strings.Contains(err.Error(), "';'") {
		t.Fatalf("err %v", err)
	}
}
