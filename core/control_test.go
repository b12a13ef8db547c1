package core

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"
)

// Tests of the records that carry no rows: ticks (idle partitions), drops
// (revoked partitions), and of what messages bring besides rows: arrival
// time (--clock wall), the raw value of a reject, running totals.

// script hands out the Records it holds, in order.
type script []Records

func (s *script) Next(ctx context.Context, r *Records) error {
	if len(*s) == 0 {
		return io.EOF
	}
	x := (*s)[0]
	*s = (*s)[1:]
	r.Partition, r.Pos, r.Values, r.Offsets = x.Partition, x.Pos, x.Values, x.Offsets
	r.Barrier, r.Tick, r.Drop, r.Arrival = x.Barrier, x.Tick, x.Drop, x.Arrival
	return nil
}

func (s *script) Close() error { return nil }

// msgs returns CSV lines as message values.
func msgs(lines ...string) [][]byte {
	var v [][]byte
	for _, l := range lines {
		v = append(v, []byte(l))
	}
	return v
}

// logSink keeps alerts (with the barrier count when they came), rejects
// and spends.
type logSink struct {
	alerts   []Alert
	atFlush  []int // len(alerts) at each Flush(false)
	rejects  []Reject
	rejValue []string
	spends   []Spend
}

func (l *logSink) Alert(a *Alert) error { l.alerts = append(l.alerts, *a); return nil }
func (l *logSink) Reject(r *Reject) error {
	l.rejects = append(l.rejects, *r)
	l.rejValue = append(l.rejValue, string(r.Value))
	return nil
}
func (l *logSink) Spend(s *Spend) error { l.spends = append(l.spends, *s); return nil }
func (l *logSink) Flush(end bool) error {
	if !end {
		l.atFlush = append(l.atFlush, len(l.alerts))
	}
	return nil
}

const t0 = 1572566400 // 2019-11-01 00:00:00 UTC

func runScript(t *testing.T, s script, opt Options) (*logSink, Summary) {
	t.Helper()
	l := &logSink{}
	opt.Sink = l
	sum, err := Run(context.Background(), &s, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l, sum
}

// TestTick: a partition with no more records gets its alert when a tick
// brings its time to the deadline, not before, and before the end of input;
// another partition's tick does not touch it.
func TestTick(t *testing.T) {
	cart := "2019-11-01 00:00:00 UTC,cart,1,2,,,5.00,7,s1"
	s := script{
		{Partition: 0, Pos: 10, Values: msgs(cart)},
		{Partition: 1, Tick: t0 + 600},
		{Partition: 0, Tick: t0 + 59},
		{Barrier: 1},
		{Partition: 0, Tick: t0 + 60},
		{Barrier: 2},
	}
	l, sum := runScript(t, s, Options{TTL: time.Minute, KeepAtEOF: true})
	if len(l.atFlush) != 2 || l.atFlush[0] != 0 || l.atFlush[1] != 1 {
		t.Fatalf("alerts delivered at the barriers: %v, want [0 1]", l.atFlush)
	}
	if sum.Abandoned != 1 || l.alerts[0].AbandonedAt != t0+60 || l.alerts[0].Partition != 0 {
		t.Fatalf("summary %+v, alerts %+v", sum, l.alerts)
	}
}

// TestDrop: a dropped partition's open carts are forgotten without alerts,
// and the partition starts over: its watermark too.
func TestDrop(t *testing.T) {
	s := script{
		{Partition: 3, Pos: 0, Values: msgs("2019-11-01 00:10:00 UTC,cart,1,2,,,5.00,7,s1")},
		{Partition: 4, Pos: 0, Values: msgs("2019-11-01 00:10:00 UTC,cart,1,2,,,5.00,8,s1")},
		{Partition: 3, Drop: true},
		// An earlier time than the partition had seen: with the state
		// dropped, no watermark holds it back.
		{Partition: 3, Pos: 0, Values: msgs("2019-11-01 00:00:00 UTC,cart,1,2,,,6.00,9,s1",
			"2019-11-01 00:00:30 UTC,purchase,1,2,,,6.00,9,s1")},
	}
	l, sum := runScript(t, s, Options{TTL: time.Minute})
	if len(l.alerts) != 1 || l.alerts[0].UserID != 8 || sum.Converted != 1 || sum.Abandoned != 1 {
		t.Fatalf("alerts %+v, summary %+v: want user 8's cart alone abandoned, user 9's converted", l.alerts, sum)
	}
	// The dropped partition's tallies stay counted (its carts opened, user
	// 7's and the later one), its cart is neither open nor abandoned.
	if sum.CartsOpened != 3 || sum.OpenCarts != 0 || sum.Carts != 3 {
		t.Errorf("summary: %d carts opened, %d open, %d cart events; want 3, 0, 3", sum.CartsOpened, sum.OpenCarts, sum.Carts)
	}
}

// TestWallClock: with WallClock a message's arrival time is its event time.
func TestWallClock(t *testing.T) {
	s := script{{Partition: 0, Pos: 0, Arrival: 2_000_000_000, Values: msgs("2019-11-01 00:00:00 UTC,cart,1,2,,,5.00,7,s1")}}
	l, _ := runScript(t, s, Options{TTL: time.Minute, WallClock: true})
	if len(l.alerts) != 1 || l.alerts[0].FirstCartAt != 2_000_000_000 || l.alerts[0].AbandonedAt != 2_000_000_060 {
		t.Fatalf("alerts %+v", l.alerts)
	}
}

// TestRejectValueAndSpend: a malformed message reaches the sink with its
// raw value and offset; purchases reach a SpendSink with running totals, in
// input order, over several shards.
func TestRejectValueAndSpend(t *testing.T) {
	bad := `{"event_time":"2019-11-01 00:00:00 UTC","event_type":"cart"}`
	s := script{{Partition: 2, Offsets: []int64{100, 101, 105, 106, 107}, Values: msgs(
		"2019-11-01 00:00:00 UTC,purchase,1,2,,,1.00,7,s1",
		bad,
		"2019-11-01 00:00:01 UTC,purchase,1,2,,,2.50,8,s1",
		"2019-11-01 00:00:02 UTC,purchase,1,2,,,3.00,7,s1",
		"not, a row")}}
	l, _ := runScript(t, s, Options{TTL: time.Minute, Spending: true, Shards: 4})
	if len(l.rejects) != 2 || l.rejects[0].Pos != 101 || l.rejValue[0] != bad || l.rejects[1].Pos != 107 ||
		l.rejValue[1] != "not, a row" || l.rejects[0].Partition != 2 {
		t.Fatalf("rejects %+v values %q", l.rejects, l.rejValue)
	}
	got, _ := json.Marshal(l.spends)
	want := `[{"Partition":2,"Pos":100,"UserID":7,"Time":1572566400,"PriceCents":100,"TotalCents":100},` +
		`{"Partition":2,"Pos":105,"UserID":8,"Time":1572566401,"PriceCents":250,"TotalCents":250},` +
		`{"Partition":2,"Pos":106,"UserID":7,"Time":1572566402,"PriceCents":300,"TotalCents":400}]`
	if string(got) != want {
		t.Fatalf("spends\n%s\nwant\n%s", got, want)
	}
	// Without Spending nothing is reported.
	s = script{{Partition: 0, Pos: 0, Values: msgs("2019-11-01 00:00:00 UTC,purchase,1,2,,,1.00,7,s1")}}
	if l, _ := runScript(t, s, Options{}); len(l.spends) != 0 {
		t.Fatalf("spends without Options.Spending: %+v", l.spends)
	}
}

// TestArrivalMaxFuture: a message is in the future against its arrival
// time, not against the start of the run.
func TestArrivalMaxFuture(t *testing.T) {
	late := time.Now().Add(72 * time.Hour).Unix()
	row := time.Unix(late-3600, 0).UTC().Format("2006-01-02 15:04:05 UTC") + ",cart,1,2,,,5.00,7,s1"
	// Arrived three days from now (a consumer running that long): valid.
	s := script{{Partition: 0, Pos: 0, Arrival: late, Values: msgs(row)}}
	if _, sum := runScript(t, s, Options{TTL: time.Minute}); sum.Malformed != 0 || sum.Carts != 1 {
		t.Fatalf("summary %+v: the row is an hour before its arrival", sum)
	}
	// Arrived now: three days ahead, past the 24h default.
	s = script{{Partition: 0, Pos: 0, Arrival: time.Now().Unix(), Values: msgs(row, "2019-11-01 00:00:00 UTC,view,1,2,,,5.00,7,s1")}}
	if l, sum := runScript(t, s, Options{TTL: time.Minute}); sum.Malformed != 1 || l.rejects[0].Pos != 0 {
		t.Fatalf("summary %+v: want the row in the future", sum)
	}
}

// failFlush is a sink whose Flush fails: a barrier after it must not be done.
type failFlush struct{ logSink }

func (f *failFlush) Flush(end bool) error { return errBroken }

type doneLog struct{ done []uint64 }

func (d *doneLog) Shard(uint64, int, ShardView)      {}
func (d *doneLog) Done(id uint64, _ map[int32]int64) { d.done = append(d.done, id) }

// TestNoDoneAfterFailedFlush: Checkpointer.Done is not called for a
// barrier whose outputs could not be flushed.
func TestNoDoneAfterFailedFlush(t *testing.T) {
	s := script{{Partition: 0, Pos: 0, Values: msgs("2019-11-01 00:00:00 UTC,cart,1,2,,,5.00,7,s1")}, {Barrier: 1}}
	d := &doneLog{}
	_, err := Run(context.Background(), &s, Options{Sink: &failFlush{}, Checkpoint: d}, nil)
	if err == nil || len(d.done) != 0 {
		t.Fatalf("err %v, barriers done %v: want an error and none done", err, d.done)
	}
}
