package core_test

// Engine benchmarks. Run:
//
//	go test ./core -run '^$' -bench 'Engine|ParseApply|Table' -benchtime 5x -count 10
//
// Expected allocs: BenchmarkParseApply's allocs/op is a per-run constant
// (pools, tables), the same for 250k and 1M rows: 0 per event, which the
// allocs/event metric shows. BenchmarkEngine reports events/s on events
// generated beforehand by loadgen (the engine alone, no parsing), as Blocks
// (block,...) and as []Event; BenchmarkEngineMonth does the same on the
// full month (CARTWATCH_MONTH=1); BenchmarkShard is the shard side alone.

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/core"
	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/loadgen"
	"github.com/puzpuzpuz/xsync/v4"
)

var (
	genOnce   sync.Map // rows -> []event.Event
	csvOnce   sync.Map // rows -> []byte
	blockOnce sync.Map // rows -> []event.Block
)

// monthEvents returns rows events of the synthetic month (all 30 days at
// that density), generated once per process.
func monthEvents(b *testing.B, rows int64) []event.Event {
	if v, ok := genOnce.Load(rows); ok {
		return v.([]event.Event)
	}
	g, err := loadgen.NewGenerator(loadgen.Config{Rows: rows, Days: 30, Seed: 1, Scale: 1})
	if err != nil {
		b.Fatal(err)
	}
	evs := make([]event.Event, 0, rows)
	var buf [4096]event.Event
	for {
		n := g.Read(buf[:])
		if n == 0 {
			break
		}
		evs = append(evs, buf[:n]...)
	}
	genOnce.Store(rows, evs)
	return evs
}

func monthCSV(b *testing.B, rows int64) []byte {
	if v, ok := csvOnce.Load(rows); ok {
		return v.([]byte)
	}
	var buf bytes.Buffer
	if _, err := loadgen.WriteCSV(&buf, loadgen.Config{Rows: rows, Days: 30, Seed: 1, Scale: 1}, nil); err != nil {
		b.Fatal(err)
	}
	csvOnce.Store(rows, buf.Bytes())
	return buf.Bytes()
}

// monthBlocks is monthEvents as Blocks of the engine's default batch size
// (64 k rows), built once per process.
func monthBlocks(b *testing.B, rows int64) []event.Block {
	if v, ok := blockOnce.Load(rows); ok {
		return v.([]event.Block)
	}
	blocks := toBlocks(monthEvents(b, rows), 64<<10)
	blockOnce.Store(rows, blocks)
	return blocks
}

func toBlocks(evs []event.Event, n int) []event.Block {
	var blocks []event.Block
	for len(evs) > 0 {
		k := min(n, len(evs))
		var blk event.Block
		blk.AppendEvents(evs[:k])
		blocks = append(blocks, blk)
		evs = evs[k:]
	}
	return blocks
}

// BenchmarkEngine: the engine alone (routing, shards, wheel, merge) on
// events generated beforehand by loadgen, 4 M of them (all 30 days at 1/17
// of the month's density); the events/s metric is the figure of
// results/notes/engine.md. The input is named first:
//
//	block,...   event.Block columns (RunBlockSlice), built before the timer:
//	            the engine's in-process input, the ">= 100 M events/s" one;
//	extend=...  the same events as a []event.Event (RunSlice), as tests and
//	            callers with Events give them;
//	chan,...    []event.Event with batches handed to the shards over
//	            channels instead of the rings (see BenchmarkEngineHandoff).
func BenchmarkEngine(b *testing.B) {
	const rows = 4_000_000
	evs := monthEvents(b, rows)
	blocks := monthBlocks(b, rows)
	for _, c := range []struct {
		name   string
		extend bool
		chans  bool
		blocks bool
	}{{"block,extend=false", false, false, true}, {"block,extend=true", true, false, true},
		{"extend=false", false, false, false}, {"extend=true", true, false, false},
		{"chan,extend=false", false, true, false}, {"chan,extend=true", true, true, false}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			opt := core.Options{ExtendOnActivity: c.extend}
			if c.chans {
				opt = core.WithChannels(opt)
			}
			var sum core.Summary
			start, cpu0 := time.Now(), cpuTime()
			for i := 0; i < b.N; i++ {
				var err error
				if c.blocks {
					sum, err = core.RunBlockSlice(blocks, opt)
				} else {
					sum, err = core.RunSlice(evs, opt)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			el := time.Since(start).Seconds()
			b.ReportMetric(float64(rows*b.N)/el, "events/s")
			b.ReportMetric(el*1e9/float64(rows*b.N), "ns/event")
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(rows*b.N), "cpu-ns/event")
			if sum.Events != rows || sum.Abandoned == 0 {
				b.Fatalf("summary %+v", sum)
			}
		})
	}
}

// BenchmarkEngineLive: BenchmarkEngine's block input with Options.Live off
// and on, on; a goroutine takes a Snapshot every 10 ms (a hundred times
// the rate of a 1 s scrape). -count runs every round of live=false before
// live=true, so a neighbour's load that changes midway shows as a
// difference; interleave the rounds instead:
//
//	go test -c -o core.test ./core
//	for i in 1 2 3 4 5 6; do ./core.test -test.run '^$' -test.bench EngineLive; done > live.txt
//	benchstat -col /live live.txt
func BenchmarkEngineLive(b *testing.B) {
	const rows = 4_000_000
	blocks := monthBlocks(b, rows)
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("live=%v", on), func(b *testing.B) {
			b.ReportAllocs()
			opt := core.Options{}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			if on {
				opt.Live = new(core.Live)
				wg.Add(1)
				go func() {
					defer wg.Done()
					t := time.NewTicker(10 * time.Millisecond)
					defer t.Stop()
					for {
						select {
						case <-stop:
							return
						case <-t.C:
							opt.Live.Snapshot()
						}
					}
				}()
			}
			start := time.Now()
			for i := 0; i < b.N; i++ {
				sum, err := core.RunBlockSlice(blocks, opt)
				if err != nil || sum.Events != rows {
					b.Fatalf("err %v, summary %+v", err, sum)
				}
			}
			el := time.Since(start).Seconds()
			close(stop)
			wg.Wait()
			b.ReportMetric(float64(rows*b.N)/el, "events/s")
		})
	}
}

// BenchmarkEngineMonth: BenchmarkEngine on the full default month held in
// memory (67,501,979 events: 5.4 GB as []event.Event, about 1.4 GB as
// Blocks), skipped unless CARTWATCH_MONTH=1. Each iteration runs the Block
// input and the []Event input back to back, alternating which goes first,
// so that both meet the same neighbours; block/events is the median of the
// iterations' ratios of events/s. ExpectedRows is the month's, as
// cartwatch run --synthetic sets it.
//
//	CARTWATCH_MONTH=1 go test ./core -run '^$' -bench EngineMonth -benchtime 5x -timeout 30m
func BenchmarkEngineMonth(b *testing.B) {
	if os.Getenv("CARTWATCH_MONTH") != "1" {
		b.Skip("set CARTWATCH_MONTH=1 to run the engine on the full month in memory (7 GB)")
	}
	evs, blocks := fullMonth(b)
	rows := int64(len(evs))
	for _, extend := range []bool{false, true} {
		b.Run(fmt.Sprintf("extend=%v", extend), func(b *testing.B) {
			opt := core.Options{ExtendOnActivity: extend, ExpectedRows: rows}
			var ratios []float64
			var el [2]float64 // block, events
			var cpu [2]time.Duration
			for i := 0; i < b.N; i++ {
				var it [2]float64
				for k := 0; k < 2; k++ {
					c := (i + k) % 2
					start, cpu0 := time.Now(), cpuTime()
					var sum core.Summary
					var err error
					if c == 0 {
						sum, err = core.RunBlockSlice(blocks, opt)
					} else {
						sum, err = core.RunSlice(evs, opt)
					}
					it[c] = time.Since(start).Seconds()
					cpu[c] += cpuTime() - cpu0
					if err != nil || sum.Events != rows || sum.Abandoned == 0 {
						b.Fatalf("err %v, summary %+v", err, sum)
					}
				}
				ratios = append(ratios, it[1]/it[0])
				el[0] += it[0]
				el[1] += it[1]
			}
			slices.Sort(ratios)
			n := float64(rows) * float64(b.N)
			b.ReportMetric(ratios[len(ratios)/2], "block/events")
			b.ReportMetric(n/el[0], "block-events/s")
			b.ReportMetric(n/el[1], "events-events/s")
			b.ReportMetric(float64(cpu[0].Nanoseconds())/n, "block-cpu-ns/event")
			b.ReportMetric(float64(cpu[1].Nanoseconds())/n, "events-cpu-ns/event")
		})
	}
}

// fullMonth generates the default month once, as []event.Event and as
// Blocks of 64 k rows.
func fullMonth(b *testing.B) ([]event.Event, []event.Block) {
	g, err := loadgen.NewGenerator(loadgen.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	evs := make([]event.Event, 0, g.Rows())
	var buf [4096]event.Event
	for {
		n := g.Read(buf[:])
		if n == 0 {
			break
		}
		evs = append(evs, buf[:n]...)
	}
	return evs, toBlocks(evs, 64<<10)
}

// BenchmarkShard: the shard side alone (warm, apply, wheel, alerts) on the
// 4 M events as Blocks, routed beforehand for one shard and applied on one
// goroutine: no router, no hand-off, no scheduler, so its figure moves far
// less with the neighbours than BenchmarkEngine's does.
//
//	go test ./core -run '^$' -bench Shard -benchtime 10x -count 10
//
// With CARTWATCH_MONTH=1, month/ cases replay the full month (67.5 M events)
// the same way, with the month's ExpectedRows.
func BenchmarkShard(b *testing.B) {
	var rows int64 = 4_000_000
	blocks := monthBlocks(b, rows)
	shard(b, "", blocks, rows, 0)
	if os.Getenv("CARTWATCH_MONTH") == "1" {
		evs, mblocks := fullMonth(b)
		shard(b, "month/", mblocks, int64(len(evs)), int64(len(evs)))
	}
}

func shard(b *testing.B, prefix string, blocks []event.Block, rows, expected int64) {
	for _, extend := range []bool{false, true} {
		b.Run(fmt.Sprintf("%sextend=%v", prefix, extend), func(b *testing.B) {
			replay, err := core.ShardReplay(blocks, core.Options{ExtendOnActivity: extend, ExpectedRows: expected})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if replay() == 0 {
					b.Fatal("no cart abandoned")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows*int64(b.N)), "ns/event")
		})
	}
}

// BenchmarkEngineHandoff: the engine over SPSC rings and over channels,
// alternated run by run so that both meet the same neighbours on a shared
// machine (whole sub-benchmarks, seconds apart, met different ones and
// disagreed from one run to the next). Each iteration is one pair; the
// ring/chan metric is the median of the pairs' ratios of events/s.
//
//	go test ./core -run '^$' -bench EngineHandoff -benchtime 20x -count 10
func BenchmarkEngineHandoff(b *testing.B) {
	const rows = 4_000_000
	evs := monthEvents(b, rows)
	for _, extend := range []bool{false, true} {
		b.Run(fmt.Sprintf("extend=%v", extend), func(b *testing.B) {
			var ratios []float64
			var ringEl, chanEl float64
			for i := 0; i < b.N; i++ {
				var el [2]float64 // ring, chan
				for k := 0; k < 2; k++ {
					c := (i + k) % 2 // alternate which goes first
					opt := core.Options{ExtendOnActivity: extend}
					if c == 1 {
						opt = core.WithChannels(opt)
					}
					start := time.Now()
					sum, err := core.RunSlice(evs, opt)
					el[c] = time.Since(start).Seconds()
					if err != nil || sum.Events != rows {
						b.Fatalf("err %v, summary %+v", err, sum)
					}
				}
				ratios = append(ratios, el[1]/el[0]) // ring events/s over chan events/s
				ringEl += el[0]
				chanEl += el[1]
			}
			slices.Sort(ratios)
			b.ReportMetric(ratios[len(ratios)/2], "ring/chan")
			b.ReportMetric(float64(rows*b.N)/ringEl, "ring-events/s")
			b.ReportMetric(float64(rows*b.N)/chanEl, "chan-events/s")
		})
	}
}

// BenchmarkParseApply: CSV text in memory through the whole engine (chunk
// reader, parser, routing, shards, merge, alerts formatted to a discard
// writer).
func BenchmarkParseApply(b *testing.B) {
	for _, rows := range []int64{250_000, 1_000_000} {
		data := monthCSV(b, rows)
		for _, extend := range []bool{false, true} {
			b.Run(fmt.Sprintf("rows=%d/extend=%v", rows, extend), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				opt := core.Options{ExtendOnActivity: extend, Alerts: discard{}}
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				start, cpu0 := time.Now(), cpuTime()
				for i := 0; i < b.N; i++ {
					sum, err := core.RunReader(bytes.NewReader(data), opt, nil)
					if err != nil || sum.Events != rows {
						b.Fatalf("err %v, summary %+v", err, sum)
					}
				}
				el := time.Since(start).Seconds()
				runtime.ReadMemStats(&ms1)
				b.ReportMetric(float64(rows*int64(b.N))/el, "events/s")
				b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(rows*int64(b.N)), "cpu-ns/event")
				b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(rows*int64(b.N)), "allocs/event")
			})
		}
	}
}

// cpuTime is the process's user+system CPU time. On a shared machine wall
// time measures the neighbours too; CPU time per event is what the engine
// costs, and events/s on an idle machine is at most cores / (CPU per event).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkTable: the session table against Go's map, sync.Map and xsync
// MapOf on the engine's access pattern: the user_ids of the carts and
// purchases of the synthetic month in input order, each a find-or-insert
// and an in-place update, and one lookup per cart as its deadline fires.
func BenchmarkTable(b *testing.B) {
	evs := monthEvents(b, 4_000_000)
	var ops []uint64 // uid, in engine order
	for i := range evs {
		if evs[i].Type == event.EventCart || evs[i].Type == event.EventPurchase {
			ops = append(ops, evs[i].UserID)
		}
	}
	run := func(b *testing.B, reset func(), touch func(uint64), lookup func(uint64)) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			reset()
			for k, u := range ops {
				touch(u)
				if k >= 64 {
					lookup(ops[k-64]) // the deadline of an earlier cart fires
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*len(ops)*b.N), "ns/access")
	}
	b.Run("cartwatch", func(b *testing.B) {
		var t core.UserTable
		run(b, func() { t = core.NewUserTable(1 << 16) },
			func(u uint64) { t.Touch(u, 100) },
			func(u uint64) { t.Lookup(u) })
	})
	b.Run("gomap", func(b *testing.B) {
		var m map[uint64]*core.UserRec
		run(b, func() { m = make(map[uint64]*core.UserRec, 1<<16) }, func(u uint64) {
			r := m[u]
			if r == nil {
				r = new(core.UserRec)
				m[u] = r
			}
			core.TouchRec(r)
		}, func(u uint64) {
			if r := m[u]; r != nil {
				core.UntouchRec(r)
			}
		})
	})
	b.Run("syncmap", func(b *testing.B) {
		var m *sync.Map
		run(b, func() { m = new(sync.Map) }, func(u uint64) {
			v, ok := m.Load(u)
			if !ok {
				v, _ = m.LoadOrStore(u, new(core.UserRec))
			}
			core.TouchRec(v.(*core.UserRec))
		}, func(u uint64) {
			if v, ok := m.Load(u); ok {
				core.UntouchRec(v.(*core.UserRec))
			}
		})
	})
	b.Run("xsync", func(b *testing.B) {
		var m *xsync.Map[uint64, *core.UserRec]
		run(b, func() { m = xsync.NewMap[uint64, *core.UserRec]() }, func(u uint64) {
			r, _ := m.LoadOrCompute(u, func() (*core.UserRec, bool) { return new(core.UserRec), false })
			core.TouchRec(r)
		}, func(u uint64) {
			if r, ok := m.Load(u); ok {
				core.UntouchRec(r)
			}
		})
	})
}
