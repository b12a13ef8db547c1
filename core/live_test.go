package core

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/event"
)

// liveWant is what a finished run's Live must hold: the Summary's figures.
func checkLiveSummary(t *testing.T, what string, f LiveFigures, sum Summary) {
	t.Helper()
	c := f.Counters
	got := []int64{f.Events, f.Malformed, c.Views, c.Carts, c.Purchases, c.Others, c.CartsOpened, c.Converted,
		c.Abandoned, c.AbandonedValue, c.Direct, c.Late, c.Spending, c.AbandoningUsers, c.OpenCarts}
	want := []int64{sum.Events, sum.Malformed, sum.Views, sum.Carts, sum.Purchases, sum.OtherEvents, sum.CartsOpened,
		sum.Converted, sum.Abandoned, sum.AbandonedValueCents, sum.DirectPurchases, sum.LatePurchases, sum.SpendingCents,
		sum.UniqueAbandoningUsers, sum.OpenCarts}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: Live figures %v, the summary's %v", what, got, want)
	}
}

// TestLiveMatchesSummary: at the end of a run, Live.Snapshot holds the
// run's Summary figures (events by type, malformed rows, the detector's
// tallies, the carts still open), for any shard count, with --at-eof keep
// and abandon; each partition's watermark is its highest event time (no
// lateness), and there is a queue depth per shard.
func TestLiveMatchesSummary(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	evs := timeOrdered(rng, 20000)
	var text strings.Builder
	maxT := int64(0)
	for i, e := range evs {
		if i%1000 == 7 {
			text.WriteString("not,a,row\n")
		}
		typ := map[event.EventType]string{event.EventView: "view", event.EventCart: "cart", event.EventPurchase: "purchase"}[e.Type]
		if typ == "" {
			typ = "remove_from_cart"
		}
		fmt.Fprintf(&text, "%s,%s,%d,1,a.b,x,%d.%02d,%d,s\n", time.Unix(e.Time, 0).UTC().Format("2006-01-02 15:04:05 UTC"), typ, e.ProductID,
			e.PriceCents/100, e.PriceCents%100, e.UserID)
		maxT = max(maxT, e.Time)
	}
	for _, shards := range []int{1, 3} {
		for _, keep := range []bool{false, true} {
			live := new(Live)
			if f := live.Snapshot(); f.Events != 0 || f.QueueDepth != nil {
				t.Fatalf("a Live before its run: %+v", f)
			}
			opt := Options{Shards: shards, Parsers: 2, ChunkBytes: 64 << 10, KeepAtEOF: keep, MaxFuture: -1, Live: live}
			sum, err := RunReader(strings.NewReader(text.String()), opt, nil)
			if err != nil {
				t.Fatal(err)
			}
			what := fmt.Sprintf("shards %d keep %v", shards, keep)
			if sum.Malformed == 0 || sum.Abandoned == 0 || sum.Converted == 0 || keep != (sum.OpenCarts > 0) {
				t.Fatalf("%s: the input does not exercise the figures: %+v", what, sum)
			}
			f := live.Snapshot()
			checkLiveSummary(t, what, f, sum)
			if len(f.Partitions) != 1 || f.Partitions[0].Watermark != maxT {
				t.Errorf("%s: watermarks %+v, want partition 0 at %d", what, f.Partitions, maxT)
			}
			if len(f.QueueDepth) != shards {
				t.Errorf("%s: queue depths %v, want %d", what, f.QueueDepth, shards)
			}
		}
	}
}

// dropSource hands out partition 0's and 1's events as two Blocks, then
// drops partition 1 (a revoked partition).
type dropSource struct {
	parts [2][]event.Event
	step  int
}

func (s *dropSource) Next(_ context.Context, r *Records) error {
	defer func() { s.step++ }()
	switch s.step {
	case 0, 1:
		b := &r.own.block
		b.Reset()
		b.AppendEvents(s.parts[s.step])
		r.Block, r.Partition = b, int32(s.step)
	case 2:
		r.Partition, r.Drop = 1, true
	default:
		return io.EOF
	}
	return nil
}

func (s *dropSource) Close() error { return nil }

// TestLiveDropKeepsCounts: a dropped partition's state is gone, but its
// counts stay counted, in the Summary and in Live's (Prometheus counters
// never go down); its open carts and watermark do not.
func TestLiveDropKeepsCounts(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	parts := splitByUser(timeOrdered(rng, 6000), 2)
	var alone [2]Summary
	for i := range alone {
		s, err := RunSlice(parts[i], Options{Shards: 2, KeepAtEOF: true})
		if err != nil {
			t.Fatal(err)
		}
		alone[i] = s
	}
	live := new(Live)
	src := &dropSource{parts: [2][]event.Event{parts[0], parts[1]}}
	sum, err := Run(context.Background(), src, Options{Shards: 2, KeepAtEOF: true, Live: live}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := live.Snapshot()
	if alone[1].CartsOpened == 0 || alone[1].OpenCarts == 0 {
		t.Fatalf("partition 1 opens no cart or leaves none open: %+v", alone[1])
	}
	if want := alone[0].CartsOpened + alone[1].CartsOpened; sum.CartsOpened != want || f.Counters.CartsOpened != want {
		t.Errorf("carts opened: summary %d, Live %d; want both partitions' %d", sum.CartsOpened, f.Counters.CartsOpened, want)
	}
	if want := alone[0].SpendingCents + alone[1].SpendingCents; sum.SpendingCents != want || f.Counters.Spending != want {
		t.Errorf("spending: summary %d, Live %d; want %d", sum.SpendingCents, f.Counters.Spending, want)
	}
	if sum.OpenCarts != alone[0].OpenCarts || f.Counters.OpenCarts != sum.OpenCarts {
		t.Errorf("open carts: summary %d, Live %d; want partition 0's %d (the dropped partition's are gone)",
			sum.OpenCarts, f.Counters.OpenCarts, alone[0].OpenCarts)
	}
	if len(f.Partitions) != 1 || f.Partitions[0].Partition != 0 {
		t.Errorf("watermarks %+v, want partition 0's only", f.Partitions)
	}
}

// TestLiveConcurrent: Snapshots taken while the engine runs (the race
// detector watches the slots) never see a figure go down, and the last
// equals the Summary.
func TestLiveConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	evs := timeOrdered(rng, 50000)
	live := new(Live)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	var bad string
	go func() {
		defer wg.Done()
		var last LiveFigures
		for {
			f := live.Snapshot()
			if f.Events < last.Events || f.Counters.Abandoned < last.Counters.Abandoned || f.Counters.CartsOpened < last.Counters.CartsOpened {
				bad = fmt.Sprintf("went down: %+v after %+v", f, last)
				return
			}
			last = f
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	sum, err := RunSlice(evs, Options{Shards: 3, Parsers: 2, BatchEvents: 500, Live: live})
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if bad != "" {
		t.Fatal(bad)
	}
	checkLiveSummary(t, "after the run", live.Snapshot(), sum)
}

// TestLivePublishAllocs: publishing a batch's figures allocates nothing
// once the partition has its slot entry.
func TestLivePublishAllocs(t *testing.T) {
	live := new(Live)
	e, err := newEngine(Options{Shards: 2, Live: live}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := e.shards[1]
	sum := Summary{Events: 1}
	publish := func() {
		s.cnt.CartsOpened++
		live.publishPart(1, s)
		live.publishMerged(&sum, &e.rowCnt)
	}
	publish()
	if n := testing.AllocsPerRun(100, publish); n != 0 {
		t.Errorf("publishing a batch: %v allocs, want 0", n)
	}
	if got := live.Snapshot().Counters.CartsOpened; got != s.cnt.CartsOpened {
		t.Errorf("carts opened %d, want %d", got, s.cnt.CartsOpened)
	}
}
