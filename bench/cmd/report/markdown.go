package main

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/cartwatch/cartwatch/bench/benchrec"
)

// md is the report being written.
type md struct {
	bytes.Buffer
	rep *report
}

func (w *md) p(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }

// commands lists the exact commands of ms under a table, each once.
func (w *md) commands(ms []*benchrec.Measurement) {
	var cmds []string
	seen := map[string]bool{}
	for _, m := range ms {
		if m.Command != "" && !seen[m.Command] {
			seen[m.Command] = true
			cmds = append(cmds, m.Command)
		}
	}
	if len(cmds) == 0 {
		return
	}
	w.p("")
	w.p("Commands:")
	w.p("")
	w.p("```")
	for _, c := range cmds {
		w.p("%s", c)
	}
	w.p("```")
}

func (w *md) runs(ms []*benchrec.Measurement) string {
	lo, hi := 0, 0
	for _, m := range ms {
		n := len(m.Samples)
		if lo == 0 || n < lo {
			lo = n
		}
		if n > hi {
			hi = n
		}
	}
	if lo == hi {
		return fmt.Sprintf("median of %d runs (min–max)", lo)
	}
	return fmt.Sprintf("median of %d to %d runs (min–max)", lo, hi)
}

func (w *md) missing(what string) {
	w.p("")
	w.p("_Not measured in this run: %s (see the run's notes at the end)._", what)
	w.p("")
}

func (rep *report) markdown(charts string) []byte {
	w := &md{rep: rep}
	r := rep.run
	w.p("# cartwatch: performance report")
	w.p("")
	w.p("Written by `make bench` (bench/run.sh, bench/cmd/report) on %s%s.", r.Meta.Date, commitText(r.Meta.Commit))
	if r.Meta.Quick {
		w.p("**Quick mode** (`make bench QUICK=1`): small inputs, for checking that the report can be made; not figures to quote.")
	}
	if r.Meta.Note != "" {
		w.p("")
		w.p("**%s**", r.Meta.Note)
	}
	w.p("")
	m := r.Meta.Machine
	w.p("- machine: %d cores, %s, %.1f GiB memory, %s", m.Cores, orUnknown(m.CPU), float64(m.MemBytes)/(1<<30), m.OS)
	w.p("- versions: %s", versions(r.Meta.Versions))
	if r.Meta.Command != "" {
		w.p("- run: `%s`", r.Meta.Command)
	}
	for _, p := range r.Meta.Parts {
		s := fmt.Sprintf("- added to this run later: suite %s on %s%s", strings.Join(p.Suites, ", "), p.Date, commitText(p.Commit))
		if p.Load != "" {
			s += fmt.Sprintf(", load average %s before", p.Load)
		}
		if p.Command != "" {
			s += fmt.Sprintf(" (`%s`)", p.Command)
		}
		w.p("%s", s)
	}
	if len(rep.inputs) > 0 {
		var ins []string
		for _, in := range rep.inputs {
			s := fmt.Sprintf("%s: %s events", in.Name, thousands(in.Events))
			if in.Bytes > 0 {
				s += fmt.Sprintf(", %.1f MB", float64(in.Bytes)/1e6)
			}
			if in.Path != "" {
				s += fmt.Sprintf(" (`%s`)", in.Path)
			}
			ins = append(ins, s)
		}
		w.p("- inputs: %s", strings.Join(ins, "; "))
	}
	w.p("- every figure is the median of its runs with the min–max beside it; the exact commands follow each table; `report.json` holds every sample")
	w.p("")
	rep.leadTable(w, charts)
	rep.targetsSection(w)
	rep.sizeSection(w, charts)
	rep.scalingSection(w, charts)
	rep.kafkaSection(w)
	rep.microSection(w)
	rep.profileSection(w)
	rep.otherSection(w)
	if len(r.Notes) > 0 {
		w.p("")
		w.p("## Notes of this run")
		w.p("")
		for _, n := range r.Notes {
			w.p("- %s", n)
		}
	}
	return w.Bytes()
}

func commitText(c string) string {
	if c == "" {
		return ""
	}
	return ", commit " + c
}

func orUnknown(s string) string {
	if s == "" {
		return "CPU unknown"
	}
	return s
}

func versions(v map[string]string) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var s []string
	for _, k := range keys {
		s = append(s, k+" "+v[k])
	}
	return strings.Join(s, ", ")
}

func (rep *report) leadTable(w *md, charts string) {
	w.p("## cartwatch against what people would use instead")
	in := rep.head
	if in == "" {
		w.missing("the peers suite (bench/peers.sh)")
		rep.leadKafka(w)
		return
	}
	cw := rep.find("peers", "cartwatch", "run", in, nil)
	ev := rep.events(cw)
	var ms []*benchrec.Measurement
	for _, sys := range rep.peerSystems() {
		if m := rep.find("peers", sys, "run", in, nil); m != nil {
			ms = append(ms, m)
		}
	}
	w.p("")
	w.p("The same file, %s (%s events), on the same machine in the same run; %s. Ratio: the system's wall time over cartwatch's.",
		in, thousands(ev), w.runs(ms))
	w.p("")
	w.p("| system | input | events/s | wall time | ratio to cartwatch | peak RSS | answer equal |")
	w.p("|---|---|---:|---:|---:|---:|---|")
	for _, m := range ms {
		rep.shown[m] = true
		answer := checkText(m)
		switch {
		case m.System == "cartwatch":
			answer = "the reference"
			if c := rep.anyCheck(in); c != nil {
				answer += fmt.Sprintf(" (abandoned %s)", thousands(c.Abandoned))
			}
		case m.Check == nil && (m.System == "wc -l" || m.System == "cat"):
			answer = "n/a: reads only"
		}
		name := m.System
		if m.Version != "" {
			name += " " + m.Version
		}
		w.p("| %s | %s | %s | %s | %.2fx | %s | %s |", name, in, rate(float64(rep.events(m))/m.Median), value(m), m.Median/cw.Median, mib(m.PeakRSSKB), answer)
	}
	w.commands(ms)
	w.p("")
	w.p("![events/s by system](%s/throughput.svg)", charts)
	w.p("")
	rep.leadKafka(w)
}

// leadKafka is the lead table's part on a topic: the kafka suite's
// consumers of one topic on one broker (cartwatch consume, the Kafka peers,
// ConsumerPerformance), with each peer's answer.
func (rep *report) leadKafka(w *md) {
	cw := rep.find("kafka", "cartwatch consume", "consume", "", map[string]string{"measure": "from the first record"})
	if cw == nil {
		return
	}
	ms := []*benchrec.Measurement{cw}
	for _, m := range rep.all("kafka") {
		if m.Name == "consume" && m != cw && (m.System != "cartwatch consume" && m.Params["measure"] != "overall, group join included") {
			ms = append(ms, m)
		}
	}
	w.p("On one topic of one local broker (the kafka suite: %s, %s events, 12 partitions); %s. Ratio: the system's events/s over cartwatch consume's. ConsumerPerformance only fetches: the ceiling all share, on a topic large enough to hide its start-up (its rate is taken from its first fetch).",
		inputName(cw), thousands(rep.events(cw)), w.runs(ms))
	w.p("")
	w.p("| system | input | events/s | ratio to cartwatch consume | peak RSS | answer |")
	w.p("|---|---|---:|---:|---:|---|")
	for _, m := range ms {
		answer := "n/a: fetches only"
		switch {
		case m == cw:
			answer = "the reference (open carts stay open at the end offsets)"
			for _, o := range ms {
				if o.Check != nil {
					answer = fmt.Sprintf("the reference: cartwatch run on the same events finds %s abandoned carts", thousands(o.Check.Abandoned))
					break
				}
			}
		case m.System != "ConsumerPerformance":
			answer = checkText(m)
		}
		name := m.System
		if m.Version != "" {
			name += " " + m.Version
		}
		w.p("| %s | %s (topic) | %s | %.2fx | %s | %s |", name, inputName(m), value(m), m.Median/cw.Median, mib(m.PeakRSSKB), answer)
	}
	w.p("")
}

// anyCheck is a peer's check on input: it carries cartwatch's counts.
func (rep *report) anyCheck(in string) *benchrec.Check {
	for _, m := range rep.all("peers") {
		if m.Input != nil && m.Input.Name == in && m.Check != nil && !m.Check.Recall {
			return m.Check
		}
	}
	return nil
}

func (rep *report) targetsSection(w *md) {
	w.p("## Targets (issue 13)")
	w.p("")
	w.p("| target | wanted | measured | status |")
	w.p("|---|---|---|---|")
	for _, t := range rep.targets {
		st := t.Status
		if st == "missed" {
			st = "**missed**"
		}
		got := t.Got
		if t.Comment != "" {
			got += "; " + t.Comment
		}
		w.p("| %s | %s | %s | %s |", t.Name, t.Want, got, st)
	}
	var missed []string
	for _, t := range rep.targets {
		if t.Status == "missed" {
			missed = append(missed, t.Name)
		}
	}
	w.p("")
	if len(missed) > 0 {
		w.p("Missed in this run: %s. The figures are above and in the sections below.", strings.Join(missed, "; "))
		w.p("")
	}
}

func (rep *report) sizeSection(w *md, charts string) {
	w.p("## Cost against input size")
	if len(rep.inputs) < 2 || rep.head == "" {
		w.missing("the peers suite on more than one input")
		return
	}
	var ms []*benchrec.Measurement
	w.p("")
	w.p("Wall time and nanoseconds per event of each system on each input. Linear means the same cost per event at every size: the last column is the largest input's ns/event over the smallest's.")
	w.p("")
	head := "| system |"
	sep := "|---|"
	for _, in := range rep.inputs {
		head += fmt.Sprintf(" %s (%s events) |", in.Name, thousands(in.Events))
		sep += "---:|"
	}
	w.p("%s per event, largest/smallest |", head)
	w.p("%s---|", sep)
	for _, sys := range rep.peerSystems() {
		row := "| " + sys + " |"
		var first, last float64
		n := 0
		for _, in := range rep.inputs {
			m := rep.find("peers", sys, "run", in.Name, nil)
			if m == nil {
				row += " |"
				continue
			}
			ms = append(ms, m)
			rep.shown[m] = true
			nsev := m.Median * 1e9 / float64(rep.events(m))
			row += fmt.Sprintf(" %s, %.0f ns/event |", value(m), nsev)
			if n == 0 {
				first = nsev
			}
			last = nsev
			n++
		}
		if n == 0 {
			continue
		}
		lin := ""
		if n >= 2 {
			ratio := last / first
			word := "about linear"
			switch {
			case ratio > 1.25:
				word = "worse than linear"
			case ratio < 0.8:
				word = "better than linear (fixed start-up cost spread over more events)"
			}
			lin = fmt.Sprintf("%.2fx: %s", ratio, word)
		}
		w.p("%s %s |", row, lin)
	}
	w.p("")
	w.p("%s.", strings.ToUpper(w.runs(ms)[:1])+w.runs(ms)[1:])
	w.commands(ms)
	w.p("")
	w.p("![wall time against input size](%s/cost_vs_size.svg)", charts)
	w.p("")
}

func (rep *report) scalingSection(w *md, charts string) {
	w.p("## Scaling with shards and parsers")
	ms := rep.all("scaling")
	if len(ms) == 0 {
		w.missing("the scaling suite (bench/scaling.sh)")
		return
	}
	sort.SliceStable(ms, func(i, j int) bool {
		a, b := ms[i], ms[j]
		if x, y := atoi(a.Params["parsers"]), atoi(b.Params["parsers"]); x != y {
			return x < y
		}
		return atoi(a.Params["shards"]) < atoi(b.Params["shards"])
	})
	base := ms[0]
	w.p("")
	w.p("`cartwatch run` on %s by `--shards` and `--parsers` on this machine (%d cores); %s. Speed-up: against `--shards %s --parsers %s`.",
		inputName(base), rep.run.Meta.Machine.Cores, w.runs(ms), base.Params["shards"], base.Params["parsers"])
	w.p("")
	w.p("| parsers | shards | wall time | events/s | speed-up | peak RSS |")
	w.p("|---:|---:|---:|---:|---:|---:|")
	for _, m := range ms {
		rep.shown[m] = true
		w.p("| %s | %s | %s | %s | %.2fx | %s |", m.Params["parsers"], m.Params["shards"], value(m), rate(float64(rep.events(m))/m.Median), base.Median/m.Median, mib(m.PeakRSSKB))
	}
	w.commands(ms)
	w.p("")
	w.p("![events/s by shards and parsers](%s/scaling.svg)", charts)
	w.p("")
}

func inputName(m *benchrec.Measurement) string {
	if m.Input == nil {
		return "its input"
	}
	return m.Input.Name
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func (rep *report) kafkaSection(w *md) {
	w.p("## The Kafka pipeline")
	ms := rep.all("kafka")
	if len(ms) == 0 {
		w.missing("the kafka suite (bench/kafka.sh)")
		return
	}
	for _, part := range []struct{ name, title, what string }{
		{"produce", "Produce", "records/s into a fresh 12-partition topic: cartwatch produce and loadgen kafka against Kafka's ProducerPerformance with the same JSON records and producer settings"},
		{"consume", "Consume and detect", "records/s read from one topic: cartwatch consume (decode, detect, alerts produced) and the Kafka peers (the prototype's approach in QuixStreams, Flink's Kafka job; each answer against cartwatch run on the same events) against Kafka's ConsumerPerformance (fetch only), the ceiling all share"},
	} {
		var sel []*benchrec.Measurement
		for _, m := range ms {
			if m.Name == part.name {
				sel = append(sel, m)
			}
		}
		w.p("")
		w.p("### %s", part.title)
		if len(sel) == 0 {
			w.missing("this section of bench/kafka.sh")
			continue
		}
		w.p("")
		w.p("%s; %s.", part.what, w.runs(sel))
		w.p("")
		w.p("| system | rate | ratio to the first | input | peak RSS | answer |")
		w.p("|---|---:|---:|---|---:|---|")
		for _, m := range sel {
			rep.shown[m] = true
			in := ""
			if m.Input != nil {
				in = fmt.Sprintf("%s, %s events", m.Input.Name, thousands(rep.events(m)))
			}
			sys := m.System
			if m.Version != "" {
				sys += " " + m.Version
			}
			if m.Params["measure"] != "" {
				sys += " (" + m.Params["measure"] + ")"
			}
			answer := ""
			if m.Check != nil {
				answer = checkText(m)
			}
			w.p("| %s | %s | %.2fx | %s | %s | %s |", sys, value(m), m.Median/sel[0].Median, in, mib(m.PeakRSSKB), answer)
		}
		w.commands(sel)
	}
	w.p("")
	w.p("### End-to-end latency")
	var lat []*benchrec.Measurement
	for _, m := range ms {
		if m.Name == "e2e" {
			lat = append(lat, m)
		}
	}
	if len(lat) == 0 {
		w.missing("the e2e section of bench/kafka.sh")
		return
	}
	w.p("")
	w.p("From a cart's deadline to its alert, with `cartwatch consume --clock wall --ttl 1s` fed at a steady rate (one run: percentiles of every alert's latency, from bench/cmd/alertlat's HDR histogram).")
	w.p("")
	w.p("| what | p50 | p99 | p99.9 | max |")
	w.p("|---|---:|---:|---:|---:|")
	var order []string
	byWhat := map[string]map[string]*benchrec.Measurement{}
	for _, m := range lat {
		rep.shown[m] = true
		what := m.Params["what"]
		if byWhat[what] == nil {
			byWhat[what] = map[string]*benchrec.Measurement{}
			order = append(order, what)
		}
		byWhat[what][m.Params["q"]] = m
	}
	for _, what := range order {
		row := "| " + what + " |"
		for _, q := range []string{"p50", "p99", "p99.9", "max"} {
			if m := byWhat[what][q]; m != nil {
				row += fmt.Sprintf(" %s %s |", num(m.Median, m.Unit), m.Unit)
			} else {
				row += " |"
			}
		}
		w.p("%s", row)
	}
	w.commands(lat)
	w.p("")
}

// impls are the last name elements the micro tables put side by side.
var impls = map[string][]string{
	"wheel":  {"wheel", "heap", "runtime"},
	"engine": {"cartwatch", "gomap", "syncmap", "xsync"},
}

func (rep *report) microSection(w *md) {
	w.p("## Micro benchmarks")
	rep.microTable(w, "The timing wheel", "wheel", "ns/op", "BenchmarkCart|BenchmarkScheduleCancel|BenchmarkExpiry|BenchmarkRandomCancel|BenchmarkPointerChase|BenchmarkIdleAdvance", "the wheel suite (bench/wheel.sh)")
	rep.microTable(w, "The session table", "engine", "ns/access", "BenchmarkTable", "the session-table benchmarks of bench/engine.sh")
}

// microTable puts the implementations of each benchmark side by side:
// name/impl in the benchmark's name, impl one of impls[suite].
func (rep *report) microTable(w *md, title, suite, unit, prefixes, what string) {
	w.p("")
	w.p("### %s", title)
	want := impls[suite]
	type row struct {
		name string
		by   map[string]*benchrec.Measurement
	}
	var rows []*row
	idx := map[string]*row{}
	var sel []*benchrec.Measurement
	for _, m := range rep.all(suite) {
		if m.Unit != unit || !hasPrefix(m.Name, prefixes) {
			continue
		}
		base, impl := m.Name, ""
		if i := strings.LastIndexByte(m.Name, '/'); i >= 0 && contains(want, m.Name[i+1:]) {
			base, impl = m.Name[:i], m.Name[i+1:]
		}
		r := idx[base]
		if r == nil {
			r = &row{name: base, by: map[string]*benchrec.Measurement{}}
			idx[base] = r
			rows = append(rows, r)
		}
		r.by[impl] = m
		sel = append(sel, m)
		rep.shown[m] = true
	}
	if len(rows) == 0 {
		w.missing(what)
		return
	}
	// Allocations beside the times, when recorded.
	allocs := func(m *benchrec.Measurement) string {
		a := rep.find(suite, m.System, m.Name, "", nil)
		for _, x := range rep.all(suite) {
			if x.Name == m.Name && x.Unit == "allocs/op" {
				a = x
			}
			if x.Name == m.Name && (x.Unit == "allocs/op" || x.Unit == "B/op") {
				rep.shown[x] = true
			}
		}
		if a == nil || a.Unit != "allocs/op" {
			return ""
		}
		return fmt.Sprintf(", %s allocs", num(a.Median, ""))
	}
	w.p("")
	w.p("%s, %s; each ratio is the implementation's median over %s's.", unit, w.runs(sel), want[0])
	w.p("")
	head, sep := "| benchmark |", "|---|"
	for i, impl := range want {
		head += " " + impl + " |"
		sep += "---:|"
		if i > 0 {
			head += " " + impl + "/" + want[0] + " |"
			sep += "---:|"
		}
	}
	w.p("%s", head)
	w.p("%s", sep)
	for _, r := range rows {
		line := "| " + strings.TrimPrefix(r.name, "Benchmark") + " |"
		first := r.by[want[0]]
		if m := r.by[""]; m != nil && first == nil {
			line += " " + value(m) + allocs(m) + " |"
			for range want[1:] {
				line += " | |"
			}
			w.p("%s", line)
			continue
		}
		for i, impl := range want {
			m := r.by[impl]
			if m == nil {
				line += " |"
				if i > 0 {
					line += " |"
				}
				continue
			}
			line += " " + value(m) + allocs(m) + " |"
			if i > 0 {
				if first != nil && first.Median > 0 {
					line += fmt.Sprintf(" %.1fx |", m.Median/first.Median)
				} else {
					line += " |"
				}
			}
		}
		w.p("%s", line)
	}
	w.commands(sel)
}

func hasPrefix(name, alts string) bool {
	for _, p := range strings.Split(alts, "|") {
		if name == p || strings.HasPrefix(name, p+"/") {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (rep *report) profileSection(w *md) {
	w.p("")
	w.p("## Where the time goes")
	p := rep.run.Profile
	if p == nil || len(p.Rows) == 0 {
		w.missing("the CPU profile of the largest input (bench/peers.sh)")
		return
	}
	if len(p.Stages) > 0 {
		w.p("")
		w.p("A CPU profile of `%s` (%s of samples), first by stage of the pipeline (each sample goes to the stage of the project function nearest the top of its stack; the collector's and allocator's time apart; bench/cmd/record/stages.go):", p.Command, orUnknown(p.Total))
		w.p("")
		w.p("| stage | CPU time | share |")
		w.p("|---|---:|---:|")
		for _, st := range p.Stages {
			w.p("| %s | %.2f s | %.1f%% |", st.Name, st.Seconds, st.Pct)
		}
		w.p("")
		w.p("Then the top functions by their own time (flat) and with what they call (cum):")
	} else {
		w.p("")
		w.p("A CPU profile of `%s` (%s of samples), the top functions by their own time (flat) and with what they call (cum):", p.Command, orUnknown(p.Total))
	}
	w.p("")
	w.p("| function | flat | flat %% | cum | cum %% |")
	w.p("|---|---:|---:|---:|---:|")
	for i, r := range p.Rows {
		if i == 15 {
			break
		}
		w.p("| `%s` | %.2f s | %.1f%% | %.2f s | %.1f%% |", r.Func, r.FlatSecond, r.FlatPct, r.CumSecond, r.CumPct)
	}
	w.p("")
	w.p("Profile read with `%s`.", p.Tool)
	w.p("")
}

func (rep *report) otherSection(w *md) {
	var rest []*benchrec.Measurement
	for i := range rep.run.Measurements {
		if m := &rep.run.Measurements[i]; !rep.shown[m] {
			rest = append(rest, m)
		}
	}
	w.p("## Other figures")
	if len(rest) == 0 {
		w.p("")
		w.p("None: every figure of the run is in a section above.")
		return
	}
	w.p("")
	w.p("Every figure of the run not shown above (%s).", w.runs(rest))
	w.p("")
	w.p("| suite | system | figure | input | median (min–max) | unit | peak RSS |")
	w.p("|---|---|---|---|---:|---|---:|")
	for _, m := range rest {
		name := m.Name
		if len(m.Params) > 0 {
			var ps []string
			for k, v := range m.Params {
				ps = append(ps, k+"="+v)
			}
			sort.Strings(ps)
			name += " " + strings.Join(ps, " ")
		}
		in := ""
		if m.Input != nil {
			in = m.Input.Name
		}
		w.p("| %s | %s | %s | %s | %s | %s | %s |", m.Suite, m.System, name, in, value(m), m.Unit, mib(m.PeakRSSKB))
	}
	w.commands(rest)
}
