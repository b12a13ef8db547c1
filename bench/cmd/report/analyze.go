package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/cartwatch/cartwatch/bench/benchrec"
)

// report is a run read for rendering: lookups by suite, and which figures a
// section has shown (the rest go to "Other figures").
type report struct {
	run     *benchrec.Run
	shown   map[*benchrec.Measurement]bool
	inputs  []benchrec.Input // by events, smallest first
	head    string           // the input of the lead table: the largest cartwatch ran in peers
	targets []target
}

// target is one of issue 13's targets, met or missed, with its figures.
type target struct {
	Name    string  `json:"name"`
	Want    string  `json:"want"`
	Got     string  `json:"got"`
	Value   float64 `json:"value,omitempty"`
	Status  string  `json:"status"` // met, missed, not measured
	Input   string  `json:"input,omitempty"`
	Comment string  `json:"comment,omitempty"`
}

func analyze(r *benchrec.Run) *report {
	rep := &report{run: r, shown: map[*benchrec.Measurement]bool{}}
	seen := map[string]bool{}
	add := func(in benchrec.Input) {
		if in.Name != "" && !seen[in.Name] {
			seen[in.Name] = true
			rep.inputs = append(rep.inputs, in)
		}
	}
	for _, in := range r.Meta.Inputs {
		add(in)
	}
	for i := range r.Measurements {
		if in := r.Measurements[i].Input; in != nil && r.Measurements[i].Suite == "peers" {
			add(*in)
		}
	}
	sort.SliceStable(rep.inputs, func(i, j int) bool { return rep.inputs[i].Events < rep.inputs[j].Events })
	for _, in := range rep.inputs {
		if rep.find("peers", "cartwatch", "run", in.Name, nil) != nil {
			rep.head = in.Name
		}
	}
	rep.targets = rep.evalTargets()
	return rep
}

// find is the figure of suite, system, name (and input and params when given), or nil.
func (rep *report) find(suite, system, name, input string, params map[string]string) *benchrec.Measurement {
	for i := range rep.run.Measurements {
		m := &rep.run.Measurements[i]
		if m.Suite != suite || (system != "" && m.System != system) || (name != "" && m.Name != name) {
			continue
		}
		if input != "" && (m.Input == nil || m.Input.Name != input) {
			continue
		}
		ok := true
		for k, v := range params {
			if m.Params[k] != v {
				ok = false
			}
		}
		if ok {
			return m
		}
	}
	return nil
}

// all is every figure of suite, in the order recorded.
func (rep *report) all(suite string) []*benchrec.Measurement {
	var ms []*benchrec.Measurement
	for i := range rep.run.Measurements {
		if rep.run.Measurements[i].Suite == suite {
			ms = append(ms, &rep.run.Measurements[i])
		}
	}
	return ms
}

// input is the named input with its size, from meta or the figures.
func (rep *report) input(name string) benchrec.Input {
	for _, in := range rep.run.Meta.Inputs {
		if in.Name == name {
			return in
		}
	}
	return benchrec.Input{Name: name}
}

// events of a figure's input (0 when unknown).
func (rep *report) events(m *benchrec.Measurement) int64 {
	if m.Input == nil {
		return 0
	}
	if m.Input.Events > 0 {
		return m.Input.Events
	}
	return rep.input(m.Input.Name).Events
}

// peerSystems is every system of the peers suite, cartwatch first, then in recorded order.
func (rep *report) peerSystems() []string {
	sys := []string{"cartwatch"}
	seen := map[string]bool{"cartwatch": true}
	for _, m := range rep.all("peers") {
		if !seen[m.System] {
			seen[m.System] = true
			sys = append(sys, m.System)
		}
	}
	return sys
}

func (rep *report) evalTargets() []target {
	var ts []target
	in := rep.head
	cw := rep.find("peers", "cartwatch", "run", in, nil)
	wall := func(sys string) *benchrec.Measurement { return rep.find("peers", sys, "run", in, nil) }
	speed := func(peer string, want float64) target {
		t := target{Name: fmt.Sprintf("cartwatch against %s: wall time", peer), Want: fmt.Sprintf(">= %gx faster, the same answer", want), Input: in}
		p := wall(peer)
		if cw == nil || p == nil {
			t.Status, t.Got = "not measured", "no figure of both on one input"
			return t
		}
		t.Value = p.Median / cw.Median
		t.Got = fmt.Sprintf("%.1fx (%s against %s)", t.Value, secs(p.Median), secs(cw.Median))
		t.Status = status(t.Value >= want)
		if p.Check != nil && !p.Check.Equal {
			t.Status, t.Comment = "missed", "the answers differ: "+checkText(p)
		}
		return t
	}
	memory := func(peer string) target {
		t := target{Name: fmt.Sprintf("cartwatch against %s: peak RSS", peer), Want: ">= 10x less memory", Input: in}
		p := wall(peer)
		if cw == nil || p == nil || cw.PeakRSSKB == 0 || p.PeakRSSKB == 0 {
			t.Status, t.Got = "not measured", "no peak RSS of both on one input"
			return t
		}
		t.Value = float64(p.PeakRSSKB) / float64(cw.PeakRSSKB)
		t.Got = fmt.Sprintf("%.1fx (%s against %s)", t.Value, mib(p.PeakRSSKB), mib(cw.PeakRSSKB))
		t.Status = status(t.Value >= 10)
		return t
	}
	ts = append(ts, speed("duckdb", 20), speed("flink", 15), memory("duckdb"), memory("flink"))
	wc := target{Name: "cartwatch against wc -l: wall time", Want: "<= 2x wc -l's time", Input: in}
	if w := wall("wc -l"); cw != nil && w != nil {
		wc.Value = cw.Median / w.Median
		wc.Got = fmt.Sprintf("%.2fx (%s against %s)", wc.Value, secs(cw.Median), secs(w.Median))
		wc.Status = status(wc.Value <= 2)
		if pr := rep.run.Profile; pr != nil && len(pr.Stages) > 0 {
			var parts []string
			for i, st := range pr.Stages {
				if i == 3 {
					break
				}
				parts = append(parts, fmt.Sprintf("%s %.0f%%", st.Name, st.Pct))
			}
			wc.Comment = "wc -l only finds line ends; cartwatch's CPU time by stage (Where the time goes): " + strings.Join(parts, ", ")
		}
	} else {
		wc.Status, wc.Got = "not measured", "no figure of both on one input"
	}
	ts = append(ts, wc)
	q := target{Name: "cartwatch consume against the QuixStreams application: events/s", Want: ">= 10x, on the same topic and broker"}
	c := rep.find("kafka", "cartwatch consume", "consume", "", map[string]string{"measure": "from the first record"})
	p := rep.find("kafka", "quixstreams", "consume", "", nil)
	if c != nil && p != nil {
		q.Value = c.Median / p.Median
		q.Got = fmt.Sprintf("%.1fx (%s against %s)", q.Value, rate(c.Median), rate(p.Median))
		q.Status = status(q.Value >= 10)
		if p.Check != nil {
			q.Comment = checkText(p)
		}
	} else {
		q.Status, q.Got = "not measured", "no figure of both in the kafka suite"
	}
	ts = append(ts, q)
	if rep.head != "" && rep.head != "month" {
		for i := range ts {
			if ts[i].Status != "not measured" {
				ts[i].Comment = strings.TrimSpace(ts[i].Comment + " (the targets are for the full month; this run's largest input is " + rep.head + ")")
			}
		}
	}
	return ts
}

func status(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

// checkText is a peer's answer against cartwatch's, in words, with the counts.
func checkText(m *benchrec.Measurement) string {
	c := m.Check
	if c == nil {
		return "not checked"
	}
	if c.Recall {
		pct := 0.0
		if c.Abandoned > 0 {
			pct = 100 * float64(c.Matched) / float64(c.Abandoned)
		}
		s := fmt.Sprintf("reports %s of cartwatch's %s abandoned carts (%.1f%%), %s alerts in all; events %s vs %s",
			thousands(c.Matched), thousands(c.Abandoned), pct, thousands(c.PeerAbandoned), thousands(c.PeerEvents), thousands(c.Events))
		return s
	}
	if c.Equal {
		return fmt.Sprintf("yes (events %s, abandoned %s, the same alerts)", thousands(c.Events), thousands(c.Abandoned))
	}
	s := fmt.Sprintf("no (events %s vs cartwatch's %s, abandoned %s vs %s", thousands(c.PeerEvents), thousands(c.Events),
		thousands(c.PeerAbandoned), thousands(c.Abandoned))
	if c.Detail != "" {
		s += "; " + c.Detail
	}
	return s + ")"
}

func secs(s float64) string {
	switch {
	case s >= 100:
		return fmt.Sprintf("%.0f s", s)
	case s >= 1:
		return fmt.Sprintf("%.2f s", s)
	default:
		return fmt.Sprintf("%.0f ms", s*1000)
	}
}

func rate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.2f M/s", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.1f k/s", r/1e3)
	default:
		return fmt.Sprintf("%.0f /s", r)
	}
}

func mib(kb int64) string {
	if kb == 0 {
		return ""
	}
	if kb >= 10<<10 {
		return fmt.Sprintf("%d MiB", kb>>10)
	}
	return fmt.Sprintf("%.1f MiB", float64(kb)/1024)
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// value prints a figure's median in its unit, with the range.
func value(m *benchrec.Measurement) string {
	return fmt.Sprintf("%s (%s–%s)", num(m.Median, m.Unit), num(m.Min, m.Unit), num(m.Max, m.Unit))
}

func num(v float64, unit string) string {
	switch unit {
	case "s":
		return secs(v)
	case "events/s", "records/s":
		return rate(v)
	}
	switch a := v; {
	case a >= 1e4 || a <= -1e4:
		return thousands(int64(v + 0.5))
	case a >= 100 || a <= -100:
		return fmt.Sprintf("%.0f", v)
	case v == float64(int64(v)):
		return strconv.FormatInt(int64(v), 10)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}
