package loadgen

// Benchmarks of the generator. Run (bench/loadgen.sh does):
//
//	go test -run '^$' -bench 'Iterator|WriteCSV|GenBlock|BuildCSV' -count 10 ./loadgen | tee new.txt
//	benchstat new.txt
//
// Iterator runs the full month, WriteCSV Nov 1-7 at full rate (11,570,698
// rows) into io.Discard. Allocations are the hour and block buffers growing
// to the busiest hour (about 6,000 per run, none per row).

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/cartwatch/cartwatch/event"
)

func benchCfg() Config { return Config{Scale: 1, Days: 7, Seed: 1} }

// BenchmarkIterator measures the in-process stream of the full default month
// (67,501,979 events; Generator.Read into a 4096-event batch), the path of
// cartwatch run --synthetic. The shared catalogue is built before the timer.
// cpu-ns/event is the process's CPU (both cores) per event, steadier than
// events/s on a shared machine.
func BenchmarkIterator(b *testing.B) {
	cfg := DefaultConfig()
	sharedCatalogue(cfg.Seed)
	buf := make([]event.Event, 4096)
	var rows int64
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		g, err := NewGenerator(cfg)
		if err != nil {
			b.Fatal(err)
		}
		for {
			n := g.Read(buf)
			if n == 0 {
				break
			}
			rows += int64(n)
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(rows), "cpu-ns/event")
}

// BenchmarkIteratorBlock is BenchmarkIterator through Generator.ReadBlock
// (64k rows a call), the engine's columnar input that cartwatch run
// --synthetic reads: a view's time, type and user only.
func BenchmarkIteratorBlock(b *testing.B) {
	cfg := DefaultConfig()
	sharedCatalogue(cfg.Seed)
	var blk event.Block
	var rows int64
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		g, err := NewGenerator(cfg)
		if err != nil {
			b.Fatal(err)
		}
		for {
			blk.Reset()
			n := g.ReadBlock(&blk, 64<<10)
			if n == 0 {
				break
			}
			rows += int64(n)
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(rows), "cpu-ns/event")
}

// BenchmarkWriteCSV measures CSV generation into io.Discard (no disk).
func BenchmarkWriteCSV(b *testing.B) {
	cfg := benchCfg()
	sharedCatalogue(cfg.Seed)
	var bytes int64
	b.ReportAllocs()
	for b.Loop() {
		n, err := WriteCSV(io.Discard, cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		bytes += n
	}
	b.ReportMetric(float64(bytes)/1e6/b.Elapsed().Seconds(), "MB/s")
	b.ReportMetric(float64(cfg.totalRows())*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkGenBlock measures one worker generating and sorting one ordinary
// hour (Nov 18 15:00) of the full month, without merging or output.
func BenchmarkGenBlock(b *testing.B) {
	m := newModel(DefaultConfig())
	blk := &block{}
	h := 17*24 + 15
	var raw []rec
	b.ReportAllocs()
	for b.Loop() {
		raw = m.gen(blk, h, raw)
	}
	b.ReportMetric(float64(m.quota[h])*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkBuildCSV measures formatting alone: the merge and CSV rendering
// of one ordinary hour (Nov 18 15:00) from its already generated blocks.
func BenchmarkBuildCSV(b *testing.B) {
	m := newModel(DefaultConfig())
	h := 17*24 + 15
	var srcs []*block
	for j := h - spillHours; j <= h; j++ {
		blk := &block{}
		m.gen(blk, j, nil)
		srcs = append(srcs, blk)
	}
	out := &hourOut{}
	m.buildCSV(out, srcs, h)
	b.SetBytes(int64(len(out.csv)))
	b.ReportAllocs()
	for b.Loop() {
		m.buildCSV(out, srcs, h)
	}
	b.ReportMetric(float64(out.rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkWriteCSVDirect measures WriteCSV into a File with O_DIRECT (the
// workers generate, the caller renders in place) of Nov 1-2 at full
// rate (3,000,899 rows, 400 MB) to b.TempDir(): a disk write where TMPDIR is
// on a disk, so run it under the bench lock. About 340 allocs/op (buffers).
func BenchmarkWriteCSVDirect(b *testing.B) {
	cfg := Config{Scale: 1, Days: 2, Seed: 1}
	sharedCatalogue(cfg.Seed)
	name := filepath.Join(b.TempDir(), "direct.csv")
	var bytes int64
	b.ReportAllocs()
	for b.Loop() {
		d, err := CreateFile(name, true, func(err error) { b.Logf("buffered: %v", err) })
		if err != nil {
			b.Fatal(err)
		}
		n, err := WriteCSV(d, cfg, nil)
		if cerr := d.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			b.Fatal(err)
		}
		bytes += n
	}
	b.ReportMetric(float64(bytes)/1e6/b.Elapsed().Seconds(), "MB/s")
	b.ReportMetric(float64(cfg.totalRows())*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
