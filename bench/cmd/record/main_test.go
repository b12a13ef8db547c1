package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cartwatch/cartwatch/bench/benchrec"
)

// TestParseBench: go test -bench output becomes one figure per benchmark and
// unit, with every run's sample, in go test's own units (ns/op, not sec/op).
func TestParseBench(t *testing.T) {
	in := `pkg: example.com/p
BenchmarkCart/n=1k/wheel-2   1000  40.0 ns/op  0 B/op  0 allocs/op
BenchmarkCart/n=1k/wheel-2   1000  44.0 ns/op  0 B/op  0 allocs/op
BenchmarkTable/gomap-2         10  2000 ns/op  35.5 ns/access
`
	ms, err := parseBench(strings.NewReader(in), "wheel", "", "go test")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]float64{}
	for _, m := range ms {
		got[m.System+" "+m.Name+" "+m.Unit] = m.Samples
	}
	f := func(key string, want ...float64) {
		t.Helper()
		s := got[key]
		if len(s) != len(want) {
			t.Fatalf("%s: samples %v, want %v (have %v)", key, s, want, got)
		}
		for i := range want {
			if s[i] != want[i] {
				t.Errorf("%s: samples %v, want %v", key, s, want)
			}
		}
	}
	f("example.com/p BenchmarkCart/n=1k/wheel ns/op", 40, 44)
	f("example.com/p BenchmarkCart/n=1k/wheel allocs/op", 0, 0)
	f("example.com/p BenchmarkTable/gomap ns/access", 35.5)
	if len(ms) != 5 {
		t.Errorf("%d figures, want 5", len(ms))
	}
}

func TestParseTop(t *testing.T) {
	in := `Duration: 10s, Total samples = 18s (180.00%)
Showing nodes accounting for 16s, 88.89% of 18s total
      flat  flat%   sum%        cum   cum%
     1.50s  8.33%  8.33%     2.10s 11.67%  runtime.memmove
      20ms  0.11%  8.44%      20ms  0.11%  main.(*T).f
`
	var p benchrec.Profile
	if err := parseTop(strings.NewReader(in), &p); err != nil {
		t.Fatal(err)
	}
	if p.Total != "18s" || len(p.Rows) != 2 {
		t.Fatalf("total %q, %d rows: %+v", p.Total, len(p.Rows), p)
	}
	r := p.Rows[0]
	if r.Func != "runtime.memmove" || r.FlatSecond != 1.5 || r.FlatPct != 8.33 || r.CumSecond != 2.1 || r.CumPct != 11.67 {
		t.Errorf("row 0: %+v", r)
	}
	if p.Rows[1].Func != "main.(*T).f" || p.Rows[1].FlatSecond != 0.02 {
		t.Errorf("row 1: %+v", p.Rows[1])
	}
}

// TestReadCheck: bench/peers/compare --json into a Check with both sides' counts.
func TestReadCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.json")
	js := `{"recall":false,"counts":[{"key":"events","cartwatch":100,"peer":97,"have":true,"equal":false,"compared":true},` +
		`{"key":"abandoned","cartwatch":10,"peer":9,"have":true,"equal":false,"compared":true},` +
		`{"key":"converted","cartwatch":5,"peer":4,"have":true,"equal":false,"compared":true}],` +
		`"want_alerts":10,"got_alerts":9,"matched":9,"equal":false}`
	if err := os.WriteFile(path, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := readCheck(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Equal || c.Events != 100 || c.PeerEvents != 97 || c.Abandoned != 10 || c.PeerAbandoned != 9 || c.Matched != 9 || c.Detail != "converted 5 vs 4" {
		t.Errorf("check %+v", c)
	}
}

// TestPart: record part adds a suite to an earlier run's meta.json, keeping
// what the run said of itself, and refuses a suite the run already has.
func TestPart(t *testing.T) {
	dir := t.TempDir()
	orig := benchrec.Meta{Date: "2026-01-02T03:04:05Z", Commit: "0000000", Command: "make bench",
		Versions: map[string]string{"go": "go1.26.0"}}
	if err := benchrec.WriteJSON(filepath.Join(dir, "meta.json"), &orig); err != nil {
		t.Fatal(err)
	}
	if err := part([]string{"-out", dir, "-suite", "kafka", "-version", "kafka=4.4.0", "-cmd", "make bench SUITES=kafka"}); err != nil {
		t.Fatal(err)
	}
	run, err := benchrec.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := run.Meta
	if m.Date != orig.Date || m.Commit != orig.Commit || m.Command != orig.Command || m.Versions["go"] != "go1.26.0" || m.Versions["kafka"] != "4.4.0" {
		t.Errorf("the run's own meta changed: %+v", m)
	}
	if len(m.Parts) != 1 || strings.Join(m.Parts[0].Suites, ",") != "kafka" || m.Parts[0].Command != "make bench SUITES=kafka" || m.Parts[0].Date == "" {
		t.Errorf("parts %+v", m.Parts)
	}
	if err := os.WriteFile(filepath.Join(dir, "peers.jsonl"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := part([]string{"-out", dir, "-suite", "peers"}); err == nil || !strings.Contains(err.Error(), "already has figures of suite peers") {
		t.Errorf("adding a suite the run has: %v", err)
	}
	if err := part([]string{"-out", t.TempDir(), "-suite", "kafka"}); err == nil {
		t.Error("adding to a directory with no run: no error")
	}
}
