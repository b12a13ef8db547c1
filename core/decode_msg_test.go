package core

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/format"
	"github.com/cartwatch/cartwatch/internal/testrows"
)

// The message path's tests: Records of Values (JSON or CSV messages) through
// the engine, against the CSV run of the same rows.

// msgSource hands out the messages of several partitions, each Records one
// partition's next slice, partitions interleaved at random, with their
// offsets (offs[p], or none when offs is nil), and a barrier (id 1, 2, ...)
// every barrierEvery Records if that is not 0. Each Records gets its own
// copy of the values and offsets, which Release overwrites: the engine must
// not read them after.
type msgSource struct {
	parts [][][]byte
	offs  [][]int64
	schedule

	mu       sync.Mutex
	released int
}

func (s *msgSource) Next(ctx context.Context, r *Records) error {
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
	for _, v := range s.parts[p][:n] {
		r.Values = append(r.Values, bytes.Clone(v))
	}
	s.parts[p] = s.parts[p][n:]
	if s.offs != nil {
		r.Offsets = slices.Clone(s.offs[p][:n])
		s.offs[p] = s.offs[p][n:]
	}
	r.Partition = int32(p)
	return nil
}

func (s *msgSource) Release(r *Records) {
	for _, v := range r.Values {
		for i := range v {
			v[i] = 'x'
		}
	}
	for i := range r.Offsets {
		r.Offsets[i] = -7
	}
	s.mu.Lock()
	s.released++
	s.mu.Unlock()
}

func (s *msgSource) Close() error { return nil }

// sampleRecords returns the real sample's header and rows, split by
// encoding/csv.
func sampleRecords(t *testing.T) (string, [][]string) {
	t.Helper()
	data := sample(t)
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(recs[0], ","), recs[1:]
}

// messageShapes are the shapes the sample is sent in: JSON with the header's
// names and every value a string (a Python producer's json.dumps over
// csv.DictReader), JSON with camelCase keys and numbers, and every other
// message a CSV line (detection per message).
var messageShapes = []struct {
	name string
	msg  func(i int, rec []string) []byte
}{
	{"json-names-strings", func(i int, rec []string) []byte { return testrows.JSONRow(rec, false, false) }},
	{"json-camel-numbers", func(i int, rec []string) []byte { return testrows.JSONRow(rec, true, true) }},
	{"json-and-csv", func(i int, rec []string) []byte {
		if i%2 == 0 {
			return []byte(strings.Join(rec, ",") + "\n")
		}
		return testrows.JSONRow(rec, i%3 == 0, i%5 == 0)
	}},
}

// csvOf writes rows as a CSV file with header.
func csvOf(header string, rows [][]string) []byte {
	var b bytes.Buffer
	b.WriteString(header + "\n")
	for _, r := range rows {
		b.WriteString(strings.Join(r, ",") + "\n")
	}
	return b.Bytes()
}

// TestMessagesSample: the real sample as messages of each shape, in one
// partition, gives byte for byte the alerts and the summary of the CSV run;
// split by user over several partitions, each partition's alerts are those of
// the CSV run of its rows alone, and (the sample is in time order) all
// alerts together and the summary are the whole CSV run's.
func TestMessagesSample(t *testing.T) {
	header, rows := sampleRecords(t)
	if len(rows) != 10000 {
		t.Fatalf("%d rows in the sample", len(rows))
	}
	rng := rand.New(rand.NewPCG(61, 62))
	for _, shape := range messageShapes {
		msgs := make([][]byte, len(rows))
		for i, r := range rows {
			msgs[i] = shape.msg(i, r)
		}
		for _, ttl := range []time.Duration{5 * time.Minute, 30 * time.Minute} {
			for _, extend := range []bool{false, true} {
				opt := Options{TTL: ttl, ExtendOnActivity: extend, Shards: 1 + rng.IntN(3), Parsers: 2}
				name := fmt.Sprintf("%s ttl=%v extend=%v shards=%d", shape.name, ttl, extend, opt.Shards)
				wantAlerts, wantSum, _ := runText(t, csvOf(header, rows), opt)

				// One partition, with and without offsets.
				for _, offsets := range []bool{false, true} {
					src := &msgSource{parts: [][][]byte{msgs}, schedule: schedule{rng: rand.New(rand.NewPCG(rng.Uint64(), 1)), maxBatch: 700}}
					if offsets {
						src.offs = [][]int64{kafkaOffsets(rng, len(msgs))}
					}
					var alerts bytes.Buffer
					o := opt
					o.Alerts = &alerts
					sum, err := Run(context.Background(), src, o, nil)
					if err != nil {
						t.Fatal(err)
					}
					normalized(&sum)
					if alerts.String() != wantAlerts || !reflect.DeepEqual(sum, wantSum) {
						t.Fatalf("%s offsets=%v: one partition differs from the CSV run\nalerts %d vs %d bytes\nsummary %+v\nwant    %+v",
							name, offsets, alerts.Len(), len(wantAlerts), sum, wantSum)
					}
					if src.released == 0 {
						t.Fatalf("%s: no Records released", name)
					}
				}

				// Several partitions, by user.
				nparts := 2 + rng.IntN(5)
				partRows := make([][][]string, nparts)
				parts := make([][][]byte, nparts)
				offs := make([][]int64, nparts)
				for i, r := range rows {
					var uid uint64
					fmt.Sscan(r[7], &uid)
					p := int(event.HashUser(uid) % uint64(nparts))
					partRows[p] = append(partRows[p], r)
					parts[p] = append(parts[p], msgs[i])
				}
				for p := range parts {
					offs[p] = kafkaOffsets(rng, len(parts[p]))
				}
				var l alertLog
				o := opt
				o.Sink = &l
				src := &msgSource{parts: parts, offs: offs, schedule: schedule{rng: rand.New(rand.NewPCG(rng.Uint64(), 2)), maxBatch: 300}}
				sum, err := Run(context.Background(), src, o, nil)
				if err != nil {
					t.Fatal(err)
				}
				normalized(&sum)
				for p := range parts {
					want, _, _ := runText(t, csvOf(header, partRows[p]), opt)
					if got := strings.Join(l.of(int32(p)), "\n"); got != strings.TrimSuffix(want, "\n") {
						t.Fatalf("%s: partition %d of %d: alerts differ from the CSV run of its rows", name, p, nparts)
					}
				}
				all := slices.Clone(l.lines)
				slices.Sort(all)
				want := strings.Split(strings.TrimSuffix(wantAlerts, "\n"), "\n")
				slices.Sort(want)
				if !slices.Equal(all, want) || !reflect.DeepEqual(sum, wantSum) {
					t.Fatalf("%s: %d partitions together differ from the CSV run (%d vs %d alerts)\nsummary %+v\nwant    %+v",
						name, nparts, len(all), len(want), sum, wantSum)
				}
			}
		}
	}
}

// kafkaOffsets returns n increasing offsets from a random start, with gaps
// (as a compacted topic or transaction markers leave).
func kafkaOffsets(rng *rand.Rand, n int) []int64 {
	offs := make([]int64, n)
	o := rng.Int64N(1 << 40)
	for i := range offs {
		if rng.IntN(10) == 0 {
			o += 1 + rng.Int64N(1<<20)
		}
		offs[i] = o
		o++
	}
	return offs
}

// rejectList is a Sink that keeps every reject.
type rejectList struct {
	alertLog
	rejects []Reject
}

func (l *rejectList) Reject(r *Reject) error { l.rejects = append(l.rejects, *r); return nil }

// positionLog is a Checkpointer that keeps each barrier's positions.
type positionLog struct {
	mu   sync.Mutex
	next map[uint64]map[int32]int64
}

func (c *positionLog) Shard(uint64, int, ShardView) {}
func (c *positionLog) Done(id uint64, next map[int32]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next[id] = next
}

// TestMessagesPositions: a malformed message is rejected with its own
// offset, partition and the decoder's reason, and every other message is
// counted; a barrier's position of a partition is its last offset before the
// barrier plus one. Without offsets the positions count from Pos (or from 1).
func TestMessagesPositions(t *testing.T) {
	good := testrows.Good
	valid := func(i int) []byte {
		f := slices.Clone(good)
		f[7] = fmt.Sprint(1000 + i%7)
		f[0] = fmt.Sprintf("2019-11-01 00:%02d:%02d UTC", i/60%60, i%60)
		return testrows.JSONRow(f, i%2 == 0, i%3 == 0)
	}
	bad := [][]byte{
		[]byte(`{"event_time":`),
		[]byte(strings.Replace(string(testrows.JSONRow(good, false, false)), `"123.45"`, `{"v":1}`, 1)),
		[]byte(strings.Replace(string(testrows.JSONRow(good, false, true)), `500000001`, `18446744073709551616`, 1)),
		[]byte(strings.Replace(string(testrows.JSONRow(good, true, false)), `"userId"`, `"buyer"`, 1)),
		[]byte("not,a,row"),
		nil,
	}
	rng := rand.New(rand.NewPCG(71, 72))
	const nparts = 3
	parts := make([][][]byte, nparts)
	offs := make([][]int64, nparts)
	type wantReject struct {
		part   int32
		pos    int64
		reason format.Reason
	}
	var wantRejects []wantReject
	var p format.Parser
	for part := range parts {
		o := kafkaOffsets(rng, 400)
		for i := range o {
			m := valid(i)
			if rng.IntN(8) == 0 {
				m = bad[rng.IntN(len(bad))]
				var ev event.Event
				wantRejects = append(wantRejects, wantReject{int32(part), o[i], p.ParseMessage(m, &ev, false)})
			}
			parts[part] = append(parts[part], m)
		}
		offs[part] = o
	}
	total := 0
	for _, v := range parts {
		total += len(v)
	}

	for _, withOffsets := range []bool{true, false} {
		var l rejectList
		cp := &positionLog{next: map[uint64]map[int32]int64{}}
		src := &msgSource{parts: slices.Clone(parts), schedule: schedule{rng: rand.New(rand.NewPCG(5, 6)), maxBatch: 60, barrierEvery: 5}}
		if withOffsets {
			src.offs = slices.Clone(offs)
		}
		// The positions each barrier must carry: replayed from the same
		// interleaving below.
		var order []struct {
			p int32
			n int
		}
		rec := &recordingMsgSource{msgSource: src, log: &order}
		sum, err := Run(context.Background(), rec, Options{TTL: 60e9, Shards: 2, Parsers: 2, Sink: &l, Checkpoint: cp}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Events+sum.Malformed != int64(total) || sum.Malformed != int64(len(wantRejects)) {
			t.Fatalf("offsets=%v: %d events + %d malformed, want %d messages, %d malformed", withOffsets,
				sum.Events, sum.Malformed, total, len(wantRejects))
		}
		// Rejects come in input order, which interleaves partitions:
		// compare per partition.
		for part := int32(0); part < nparts; part++ {
			var got, want []string
			for _, r := range l.rejects {
				if r.Partition == part {
					got = append(got, fmt.Sprintf("%d %v", r.Pos, r.Reason))
				}
			}
			for _, r := range wantRejects {
				if r.part == part {
					pos := r.pos
					if !withOffsets {
						pos = 1 + int64(slices.Index(offs[part], r.pos)) // the first position of a partition is 1
					}
					want = append(want, fmt.Sprintf("%d %v", pos, r.reason))
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("offsets=%v partition %d rejects:\ngot  %q\nwant %q", withOffsets, part, got, want)
			}
		}
		if src.barrier < 3 {
			t.Fatalf("only %d barriers", src.barrier)
		}
		for id := uint64(1); id <= src.barrier; id++ {
			taken := make([]int, nparts)
			for _, r := range order[:rec.barrierAt[id]] {
				taken[r.p] += r.n
			}
			for part := range taken {
				got, ok := cp.next[id][int32(part)]
				if taken[part] == 0 {
					if ok {
						t.Fatalf("barrier %d: a position for unseen partition %d", id, part)
					}
					continue
				}
				want := 1 + int64(taken[part])
				if withOffsets {
					want = offs[part][taken[part]-1] + 1
				}
				if got != want {
					t.Fatalf("offsets=%v barrier %d partition %d: next position %d, want %d", withOffsets, id, part, got, want)
				}
			}
		}
	}
}

// recordingMsgSource logs the partition and size of each data Records, and
// where in the log each barrier came.
type recordingMsgSource struct {
	*msgSource
	log *[]struct {
		p int32
		n int
	}
	barrierAt map[uint64]int
}

func (s *recordingMsgSource) Next(ctx context.Context, r *Records) error {
	if err := s.msgSource.Next(ctx, r); err != nil {
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
	}{r.Partition, len(r.Values)})
	return nil
}

// TestMessagesOffsetsMismatch: Records whose Offsets do not match its Values
// one for one fail the run with an error that says so.
func TestMessagesOffsetsMismatch(t *testing.T) {
	msgs := [][]byte{testrows.JSONRow(testrows.Good, false, false), testrows.JSONRow(testrows.Good, true, true)}
	_, err := Run(context.Background(), &offsetDropper{msgs: msgs}, Options{}, nil)
	if err == nil || !strings.Contains(err.Error(), "1 offsets for 2 values") {
		t.Fatalf("err %v", err)
	}
}

// offsetDropper hands out its messages once, with one offset too few.
type offsetDropper struct{ msgs [][]byte }

func (s *offsetDropper) Next(ctx context.Context, r *Records) error {
	if s.msgs == nil {
		return io.EOF
	}
	r.Values, r.Offsets, s.msgs = s.msgs, []int64{5}, nil
	return nil
}

func (s *offsetDropper) Close() error { return nil }

// BenchmarkEngineMessages: the engine over JSON messages of synthetic rows,
// one partition, against the same rows as CSV text (ns/event).
func BenchmarkEngineMessages(b *testing.B) {
	const rows = 1 << 16
	data, _ := testrows.SyntheticRows(rows)
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	msgs := make([][]byte, len(lines))
	for i, l := range lines {
		msgs[i] = testrows.JSONRow(strings.Split(string(l), ","), false, false)
	}
	opt := Options{TTL: 30 * time.Minute}
	b.Run("csv", func(b *testing.B) {
		for b.Loop() {
			if _, err := Run(context.Background(), ReaderSource(bytes.NewReader(data)), opt, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/event")
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			src := &sliceMsgSource{msgs: msgs, batch: 4096}
			if _, err := Run(context.Background(), src, opt, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/event")
	})
}

// sliceMsgSource hands msgs out batch at a time, without copies.
type sliceMsgSource struct {
	msgs  [][]byte
	batch int
}

func (s *sliceMsgSource) Next(ctx context.Context, r *Records) error {
	if len(s.msgs) == 0 {
		return io.EOF
	}
	n := min(len(s.msgs), s.batch)
	r.Values, s.msgs = s.msgs[:n], s.msgs[n:]
	return nil
}

func (s *sliceMsgSource) Close() error { return nil }
