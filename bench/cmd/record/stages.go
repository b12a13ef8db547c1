package main

import (
	"os"
	"sort"
	"strings"

	"github.com/cartwatch/cartwatch/bench/benchrec"
	pprof "github.com/google/pprof/profile"
)

// The pipeline's stages, in the order the report lists them.
const (
	stageRead   = "read the input"
	stageScan   = "structural scan (find commas and line ends, SIMD: the nearest to wc -l's work)"
	stageParse  = "parse fields (times, ids, prices, categories)"
	stageRoute  = "route events to shards"
	stageDetect = "detect (shards: session table, timing wheel, figures)"
	stageMerge  = "merge shards, write alerts and summary"
	stageGC     = "garbage collection and allocation"
	stageSys    = "system calls"
	stageSched  = "Go runtime: scheduler, channels, idle"
	stageOther  = "other"
)

var stageOrder = []string{stageRead, stageScan, stageParse, stageRoute, stageDetect, stageMerge, stageGC, stageSys, stageSched, stageOther}

const mod = "github.com/cartwatch/cartwatch/"

// projectStage is the stage of one of the project's functions, or "" when
// the function does not decide it (a helper called from several stages,
// such as event.HashUser: its caller decides).
func projectStage(fn string) string {
	rest, ok := strings.CutPrefix(fn, mod)
	if !ok {
		return ""
	}
	switch {
	case hasAny(rest, "format.scanBlocks", "format.scanStructural"):
		return stageScan
	case strings.HasPrefix(rest, "format."):
		return stageParse
	case strings.HasPrefix(rest, "wheel."):
		return stageDetect
	case !strings.HasPrefix(rest, "core."):
		return ""
	}
	rest = strings.TrimPrefix(rest, "core.")
	switch {
	case hasAny(rest, "(*engine).parseBatch", "(*engine).decode", "decode"):
		return stageParse
	case hasAny(rest, "(*engine).route", "(*engine).count", "(*engine).sequence"):
		return stageRoute
	case hasAny(rest, "(*shard).", "(*userTable).", "(*openIndex).", "(*partState).", "(*CategoryTallies).", "(*engine).applyBatch", "(*engine).runShard"):
		return stageDetect
	case hasAny(rest, "(*engine).merge", "(*engine).spendOut", "(*engine).total", "(*alertsJSON).", "append"):
		return stageMerge
	case hasAny(rest, "(*engine).read", "(*file", "(*mmap", "open", "(*reader"):
		return stageRead
	}
	return ""
}

func hasAny(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// gcFrames mark a sample as the collector's or the allocator's wherever
// they are on its stack.
var gcFrames = []string{"runtime.gcBgMarkWorker", "runtime.gcAssistAlloc", "runtime.bgsweep", "runtime.bgscavenge", "runtime.mallocgc", "runtime.gcStart", "runtime.markroot"}

// sampleStage is the stage a CPU sample's time goes to: the collector's
// when a GC frame is on its stack, else the stage of the project function
// nearest the leaf (inlined frames included), else system calls, the
// runtime, or other.
func sampleStage(frames []string) string {
	for _, f := range frames {
		for _, g := range gcFrames {
			if f == g {
				return stageGC
			}
		}
	}
	for _, f := range frames { // leaf first
		if st := projectStage(f); st != "" {
			return st
		}
	}
	for _, f := range frames {
		if strings.HasPrefix(f, "syscall.") || strings.HasPrefix(f, "internal/runtime/syscall") || strings.HasPrefix(f, "internal/poll.") {
			return stageSys
		}
	}
	if len(frames) > 0 && strings.HasPrefix(frames[len(frames)-1], "runtime.") {
		return stageSched
	}
	for _, f := range frames {
		if strings.HasPrefix(f, mod) {
			return stageOther
		}
	}
	if len(frames) > 0 && strings.HasPrefix(frames[0], "runtime.") {
		return stageSched
	}
	return stageOther
}

// stages reads a CPU profile (the pprof file) and sums its samples' CPU
// time by pipeline stage.
func stages(path string) ([]benchrec.ProfileStage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := pprof.Parse(f)
	if err != nil {
		return nil, err
	}
	return stagesOf(p), nil
}

func stagesOf(p *pprof.Profile) []benchrec.ProfileStage {
	vi := len(p.SampleType) - 1 // cpu nanoseconds is the last value of a Go CPU profile
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			vi = i
		}
	}
	sum := map[string]int64{}
	var total int64
	var frames []string
	for _, s := range p.Sample {
		frames = frames[:0]
		for _, loc := range s.Location { // leaf first
			for _, ln := range loc.Line { // inlined callee first
				if ln.Function != nil {
					frames = append(frames, ln.Function.Name)
				}
			}
		}
		v := s.Value[vi]
		sum[sampleStage(frames)] += v
		total += v
	}
	var out []benchrec.ProfileStage
	for _, name := range stageOrder {
		if v := sum[name]; v > 0 {
			out = append(out, benchrec.ProfileStage{Name: name, Seconds: float64(v) / 1e9, Pct: 100 * float64(v) / float64(total)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Seconds > out[j].Seconds })
	return out
}
