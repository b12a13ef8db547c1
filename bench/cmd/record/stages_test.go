package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	pprof "github.com/google/pprof/profile"
)

// TestStages: each sample's CPU time goes to the stage of the project
// function nearest its leaf (an inlined frame counts, a generic helper
// such as event.HashUser or runtime.memmove defers to its caller), to GC
// whenever a collector frame is on the stack, and to the runtime or system
// calls only when no project function is; the shares add up to 100 %.
func TestStages(t *testing.T) {
	p := &pprof.Profile{SampleType: []*pprof.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}}}
	fns := map[string]*pprof.Function{}
	fn := func(name string) *pprof.Function {
		if f, ok := fns[name]; ok {
			return f
		}
		f := &pprof.Function{ID: uint64(len(fns) + 1), Name: name}
		fns[name] = f
		p.Function = append(p.Function, f)
		return f
	}
	// sample adds ms of CPU with the stack given leaf first; "a|b" is one
	// location where a was inlined into b.
	sample := func(ms int64, stack ...[]string) {
		s := &pprof.Sample{Value: []int64{ms / 10, ms * 1e6}}
		for _, inl := range stack {
			loc := &pprof.Location{ID: uint64(len(p.Location) + 1)}
			for _, name := range inl {
				loc.Line = append(loc.Line, pprof.Line{Function: fn(name)})
			}
			p.Location = append(p.Location, loc)
			s.Location = append(s.Location, loc)
		}
		p.Sample = append(p.Sample, s)
	}
	one := func(names ...string) [][]string {
		var st [][]string
		for _, n := range names {
			st = append(st, []string{n})
		}
		return st
	}
	sample(300, one(mod+"format.scanBlocksAVX2", mod+"format.(*RowIter).Next", mod+"core.(*engine).parseBatch")...)
	sample(500, append([][]string{{"math/bits.LeadingZeros64", mod + "format.(*Parser).fastAt"}}, one(mod+"core.(*engine).parseBatch")...)...)
	sample(200, one("runtime.memmove", mod+"event.HashUser", mod+"core.(*shard).apply", mod+"core.(*engine).runShard")...)
	sample(100, one("runtime.memclrNoHeapPointers", "runtime.mallocgc", mod+"core.(*shard).apply")...)
	sample(50, one("runtime.scanobject", "runtime.gcBgMarkWorker")...)
	sample(40, one("internal/runtime/syscall/linux.Syscall6", "syscall.read", "os.(*File).Read")...)
	sample(60, one("runtime.futex", "runtime.findRunnable", "runtime.schedule")...)
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := stages(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name string
		secs float64
	}{
		{stageParse, 0.5}, {stageScan, 0.3}, {stageDetect, 0.2}, {stageGC, 0.15}, {stageSched, 0.06}, {stageSys, 0.04},
	}
	if len(got) != len(want) {
		t.Fatalf("stages %+v, want %+v", got, want)
	}
	var pct float64
	for i, w := range want {
		if got[i].Name != w.name || math.Abs(got[i].Seconds-w.secs) > 1e-9 {
			t.Errorf("stage %d: %s %.3f s, want %s %.3f s", i, got[i].Name, got[i].Seconds, w.name, w.secs)
		}
		pct += got[i].Pct
	}
	if math.Abs(pct-100) > 1e-9 {
		t.Errorf("shares add up to %.6f %%", pct)
	}
}
