// Package benchrec is the machine-readable record of make bench: one
// Measurement per figure (every sample, its median and range, the input, the
// peak RSS, the exact command, the answer check), a Meta per run (date,
// machine, versions) and a Profile (the top of a CPU profile). The suites
// append measurements to SUITE.jsonl files in a run directory (bench/cmd/record),
// bench/cmd/report reads the directory into a Run and writes the report, and
// bench/cmd/compare compares two runs. Nothing here is safe for concurrent use.
package benchrec

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Measurement is one figure: what was measured, on what, how, every sample.
type Measurement struct {
	Suite  string `json:"suite"`            // the bench/<suite>.sh that measured it
	System string `json:"system"`           // what ran: cartwatch, duckdb, wc -l, wheel, ...
	Name   string `json:"name"`             // what of it: run, produce, BenchmarkCart/n=1M, ...
	Input  *Input `json:"input,omitempty"`  // the input it read, if a file or a topic
	Unit   string `json:"unit"`             // s, events/s, ns/op, allocs/op, ms, ...
	Better string `json:"better,omitempty"` // "lower" or "higher" (default: lower, higher for a unit ending in /s)
	// Params name the variant (shards=2, parsers=1, size=week): the key of a
	// figure is Suite, System, Name, Unit, Input.Name and Params.
	Params    map[string]string `json:"params,omitempty"`
	Samples   []float64         `json:"samples"`
	Median    float64           `json:"median"`
	Min       float64           `json:"min"`
	Max       float64           `json:"max"`
	PeakRSSKB int64             `json:"peak_rss_kb,omitempty"` // the highest of the runs
	Command   string            `json:"command"`
	Version   string            `json:"version,omitempty"` // of System, when not this tree
	Check     *Check            `json:"check,omitempty"`
	Note      string            `json:"note,omitempty"`
}

// Input is what a measurement read.
type Input struct {
	Name   string `json:"name"` // day, week, month, or the file's base name
	Path   string `json:"path,omitempty"`
	Bytes  int64  `json:"bytes,omitempty"`
	Events int64  `json:"events,omitempty"`
}

// Check is a peer's answer against cartwatch's on the same input.
type Check struct {
	Equal           bool   `json:"equal"`
	Recall          bool   `json:"recall,omitempty"` // the peer misses carts by design: Matched counts what it found
	Events          int64  `json:"events"`           // cartwatch's
	PeerEvents      int64  `json:"peer_events"`
	Abandoned       int64  `json:"abandoned"` // cartwatch's
	PeerAbandoned   int64  `json:"peer_abandoned"`
	Matched         int64  `json:"matched,omitempty"`
	Detail          string `json:"detail,omitempty"`
	ComparedAgainst string `json:"compared_against,omitempty"`
}

// Meta is the run: when, where, with what.
type Meta struct {
	Date     string            `json:"date"` // RFC 3339, UTC
	Commit   string            `json:"commit,omitempty"`
	Quick    bool              `json:"quick"`
	Machine  Machine           `json:"machine"`
	Versions map[string]string `json:"versions"` // go, kafka, each peer
	Inputs   []Input           `json:"inputs,omitempty"`
	Command  string            `json:"command,omitempty"`
	Note     string            `json:"note,omitempty"`
	// Parts are suites added to the run later (make bench SUITES=S
	// ADD_TO=DIR), each with its own date, commit and command.
	Parts []Part `json:"parts,omitempty"`
}

// Part is a later addition to a run: its suites were measured on another
// date, maybe at another commit, on the same machine.
type Part struct {
	Suites  []string `json:"suites"`
	Date    string   `json:"date"` // RFC 3339, UTC
	Commit  string   `json:"commit,omitempty"`
	Command string   `json:"command,omitempty"`
	Load    string   `json:"load,omitempty"` // the load average before
}

// Machine is what the figures ran on.
type Machine struct {
	Cores    int    `json:"cores"`
	CPU      string `json:"cpu"`
	MemBytes int64  `json:"mem_bytes"`
	OS       string `json:"os,omitempty"`
}

// Profile is the top of a CPU profile (go tool pprof -top).
type Profile struct {
	Command string        `json:"command"` // the profiled command
	Tool    string        `json:"tool"`    // the pprof command
	Total   string        `json:"total,omitempty"`
	Rows    []ProfileLine `json:"rows"`
	// Stages is the profile's CPU time by pipeline stage, most first
	// (record profile -pprof).
	Stages []ProfileStage `json:"stages,omitempty"`
}

// ProfileStage is one pipeline stage's share of a CPU profile.
type ProfileStage struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	Pct     float64 `json:"pct"`
}

// ProfileLine is one function of Profile.
type ProfileLine struct {
	Func       string  `json:"func"`
	FlatPct    float64 `json:"flat_pct"`
	CumPct     float64 `json:"cum_pct"`
	FlatSecond float64 `json:"flat_seconds"`
	CumSecond  float64 `json:"cum_seconds"`
}

// Run is a run directory read back, and the file report.json holds.
type Run struct {
	Meta         Meta          `json:"meta"`
	Measurements []Measurement `json:"measurements"`
	Profile      *Profile      `json:"profile,omitempty"`
	Notes        []string      `json:"notes,omitempty"` // the run's warnings: suites that failed or were skipped
}

// Fill computes Median, Min and Max from Samples and defaults Better.
func (m *Measurement) Fill() {
	if m.Better == "" {
		m.Better = "lower"
		if strings.HasSuffix(m.Unit, "/s") {
			m.Better = "higher"
		}
	}
	if len(m.Samples) == 0 {
		return
	}
	s := slices.Clone(m.Samples)
	sort.Float64s(s)
	m.Min, m.Max = s[0], s[len(s)-1]
	m.Median = Median(s)
}

// Median of samples (the mean of the middle two for an even count); 0 for none.
func Median(samples []float64) float64 {
	n := len(samples)
	if n == 0 {
		return 0
	}
	s := slices.Clone(samples)
	sort.Float64s(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Key names a figure across runs: the same key in two runs is the same figure.
func (m *Measurement) Key() string {
	var b strings.Builder
	b.WriteString(m.Suite + " " + m.System + " " + m.Name)
	if m.Input != nil && m.Input.Name != "" {
		b.WriteString(" input=" + m.Input.Name)
	}
	keys := make([]string, 0, len(m.Params))
	for k := range m.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(" " + k + "=" + m.Params[k])
	}
	b.WriteString(" [" + m.Unit + "]")
	return b.String()
}

// Append adds m, filled, as one JSON line to dir/SUITE.jsonl.
func Append(dir string, m Measurement) error {
	if m.Suite == "" || m.Unit == "" {
		return fmt.Errorf("benchrec: a measurement needs a suite and a unit (got suite %q, unit %q)", m.Suite, m.Unit)
	}
	if len(m.Samples) == 0 {
		return fmt.Errorf("benchrec: %s: no samples", m.Key())
	}
	m.Fill()
	b, err := json.Marshal(&m)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, m.Suite+".jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	return errors.Join(err, f.Close())
}

// WriteJSON writes v, indented, to path (through a temporary file renamed over it).
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadDir reads a run directory: meta.json, every *.jsonl of measurements,
// profile.json and notes.txt (one warning a line), each but meta.json optional.
func ReadDir(dir string) (*Run, error) {
	var r Run
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return nil, fmt.Errorf("benchrec: %w (a run directory starts with bench/cmd/record meta)", err)
	}
	if err := json.Unmarshal(b, &r.Meta); err != nil {
		return nil, fmt.Errorf("benchrec: %s: %w", filepath.Join(dir, "meta.json"), err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	for _, name := range files {
		if err := readLines(name, &r.Measurements); err != nil {
			return nil, err
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "profile.json")); err == nil {
		r.Profile = new(Profile)
		if err := json.Unmarshal(b, r.Profile); err != nil {
			return nil, fmt.Errorf("benchrec: %s: %w", filepath.Join(dir, "profile.json"), err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if b, err := os.ReadFile(filepath.Join(dir, "notes.txt")); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				r.Notes = append(r.Notes, l)
			}
		}
	}
	return &r, nil
}

func readLines(name string, into *[]Measurement) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var m Measurement
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return fmt.Errorf("benchrec: %s:%d: %w", name, n, err)
		}
		m.Fill()
		*into = append(*into, m)
	}
	return sc.Err()
}

// ReadRun reads a report.json (a Run) as bench/cmd/report writes it.
func ReadRun(path string) (*Run, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Run
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("benchrec: %s: %w", path, err)
	}
	for i := range r.Measurements {
		r.Measurements[i].Fill()
	}
	return &r, nil
}
