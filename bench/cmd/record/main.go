// Command record writes the machine-readable figures of make bench into a run
// directory (bench/benchrec): the suites call it once per measurement.
//
//	record meta    [-quick] [-version NAME=V]... [-input NAME=PATH]... [-cmd C]
//	record part    -suite S [-suite S]... [-version NAME=V]... [-cmd C]   (suites added to
//	               an existing run: make bench SUITES=S ADD_TO=DIR)
//	record add     -suite S -system X -name N -unit U [-input NAME=PATH] [-events N]
//	               [-param K=V]... [-rss KB] [-cmd C] [-version V] [-check FILE] [-note T] SAMPLE...
//	record gobench -suite S -system X [-cmd C] FILE    (go test -bench output: one figure per benchmark and unit)
//	record profile -cmd C -tool T [-pprof P] FILE      (go tool pprof -top output; P: the
//	                                                   profile itself, for its time by stage)
//	record note    TEXT                                (a warning for the report: a suite skipped or failed)
//
// The run directory is -out or $BENCH_OUT; without either, record does
// nothing and exits 0, so a suite run by hand prints its text and writes no
// JSON. -check reads the JSON of go run ./bench/peers/compare --json.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/cartwatch/cartwatch/bench/benchrec"
	"golang.org/x/perf/benchfmt"
)

type pairs map[string]string

func (p pairs) String() string { return fmt.Sprint(map[string]string(p)) }
func (p pairs) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	p[k] = v
	return nil
}

// order keeps the order -input flags came in.
type order struct {
	pairs
	keys *[]string
}

func (o order) Set(s string) error {
	if err := o.pairs.Set(s); err != nil {
		return err
	}
	k, _, _ := strings.Cut(s, "=")
	*o.keys = append(*o.keys, k)
	return nil
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "meta":
		err = meta(os.Args[2:])
	case "part":
		err = part(os.Args[2:])
	case "add":
		err = add(os.Args[2:])
	case "gobench":
		err = gobench(os.Args[2:])
	case "profile":
		err = profile(os.Args[2:])
	case "note":
		err = note(os.Args[2:])
	case "-h", "--help", "help":
		usage()
	default:
		err = fmt.Errorf("unknown subcommand %q (have meta, part, add, gobench, profile, note)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "record:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: record meta|part|add|gobench|profile|note [flags] (see bench/cmd/record/main.go)")
	os.Exit(2)
}

// runDir is -out or $BENCH_OUT; "" means record nothing.
func runDir(fs *flag.FlagSet, args []string) (string, error) {
	out := fs.String("out", os.Getenv("BENCH_OUT"), "run directory (default $BENCH_OUT)")
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return "", err
		}
	}
	return *out, nil
}

func meta(args []string) error {
	fs := flag.NewFlagSet("meta", flag.ExitOnError)
	quick := fs.Bool("quick", false, "the quick mode (make bench QUICK=1)")
	versions := pairs{}
	fs.Var(versions, "version", "NAME=VERSION of a system measured (repeat)")
	inputs, keys := pairs{}, []string{}
	fs.Var(order{inputs, &keys}, "input", "NAME=PATH of an input file (repeat): its bytes and events are counted")
	cmd := fs.String("cmd", "", "the command that made the run")
	dir, err := runDir(fs, args)
	if err != nil || dir == "" {
		return err
	}
	m := benchrec.Meta{
		Date:     time.Now().UTC().Format(time.RFC3339),
		Quick:    *quick,
		Machine:  machine(),
		Versions: map[string]string{"go": runtime.Version()},
		Command:  *cmd,
	}
	for k, v := range versions {
		m.Versions[k] = v
	}
	m.Commit = commit()
	for _, k := range keys {
		in, err := input(k, inputs[k])
		if err != nil {
			return err
		}
		m.Inputs = append(m.Inputs, *in)
	}
	return benchrec.WriteJSON(filepath.Join(dir, "meta.json"), &m)
}

// commit is the short commit of the working tree, "+dirty" when it has
// changes; empty outside git.
func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	c := strings.TrimSpace(string(out))
	if exec.Command("git", "diff", "--quiet", "HEAD").Run() != nil {
		c += "+dirty"
	}
	return c
}

// part adds suites to a run made before: the run's meta.json keeps its
// own date, commit and command and gains a Part with these.
func part(args []string) error {
	fs := flag.NewFlagSet("part", flag.ExitOnError)
	var suites []string
	fs.Func("suite", "a suite added (repeat)", func(s string) error { suites = append(suites, s); return nil })
	versions := pairs{}
	fs.Var(versions, "version", "NAME=VERSION of a system measured (repeat; added to the run's)")
	cmd := fs.String("cmd", "", "the command that added them")
	dir, err := runDir(fs, args)
	if err != nil || dir == "" {
		return err
	}
	if len(suites) == 0 {
		return errors.New("part: no -suite")
	}
	path := filepath.Join(dir, "meta.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("part: the run to add to: %w", err)
	}
	var m benchrec.Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("part: %s: %w", path, err)
	}
	for _, s := range suites {
		if _, err := os.Stat(filepath.Join(dir, s+".jsonl")); err == nil {
			return fmt.Errorf("part: %s already has figures of suite %s (%s.jsonl): adding would mix two runs of it", dir, s, s)
		}
	}
	var load string
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		load = strings.Join(f[:min(3, len(f))], " ")
	}
	m.Parts = append(m.Parts, benchrec.Part{Suites: suites, Date: time.Now().UTC().Format(time.RFC3339),
		Commit: commit(), Command: *cmd, Load: load})
	if m.Versions == nil {
		m.Versions = map[string]string{}
	}
	for k, v := range versions {
		m.Versions[k] = v
	}
	return benchrec.WriteJSON(path, &m)
}

// input describes a CSV file: its bytes, and its events (lines after the header).
func input(name, path string) (*benchrec.Input, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	in := &benchrec.Input{Name: name, Path: path}
	buf := make([]byte, 1<<20)
	var lines int64
	for {
		n, err := f.Read(buf)
		in.Bytes += int64(n)
		lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if lines > 0 {
		in.Events = lines - 1 // the header
	}
	return in, nil
}

func machine() benchrec.Machine {
	m := benchrec.Machine{Cores: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				m.MemBytes = kb << 10
			}
		}
	}
	return m
}

func add(args []string) error {
	fs := flag.NewFlagSet("add", flag.ExitOnError)
	var m benchrec.Measurement
	fs.StringVar(&m.Suite, "suite", "", "the suite")
	fs.StringVar(&m.System, "system", "cartwatch", "what ran")
	fs.StringVar(&m.Name, "name", "", "what of it was measured")
	fs.StringVar(&m.Unit, "unit", "", "the samples' unit: s, events/s, ns/op, ms, ...")
	fs.StringVar(&m.Better, "better", "", "lower or higher (default: higher for a unit ending in /s)")
	fs.StringVar(&m.Command, "cmd", "", "the exact command measured")
	fs.StringVar(&m.Version, "version", "", "the system's version, when not this tree")
	fs.StringVar(&m.Note, "note", "", "a remark shown beside the figure")
	fs.Int64Var(&m.PeakRSSKB, "rss", 0, "peak RSS in KiB (the highest of the runs)")
	inputFlag := fs.String("input", "", "NAME=PATH of the input file, or NAME alone")
	events := fs.Int64("events", 0, "the input's events (default: counted in the file)")
	params := pairs{}
	fs.Var(params, "param", "K=V naming the variant (repeat)")
	check := fs.String("check", "", "a file with go run ./bench/peers/compare --json output")
	dir, err := runDir(fs, args)
	if err != nil || dir == "" {
		return err
	}
	if len(params) > 0 {
		m.Params = params
	}
	for _, a := range fs.Args() {
		v, err := strconv.ParseFloat(a, 64)
		if err != nil {
			return fmt.Errorf("sample %q: %w", a, err)
		}
		m.Samples = append(m.Samples, v)
	}
	if *inputFlag != "" {
		name, path, _ := strings.Cut(*inputFlag, "=")
		m.Input = &benchrec.Input{Name: name, Path: path}
		if path != "" && *events == 0 {
			in, err := input(name, path)
			if err != nil {
				return err
			}
			m.Input = in
		}
		if *events > 0 {
			m.Input.Events = *events
			if fi, err := os.Stat(path); err == nil {
				m.Input.Bytes = fi.Size()
			}
		}
	}
	if *check != "" {
		if m.Check, err = readCheck(*check); err != nil {
			return err
		}
	}
	return benchrec.Append(dir, m)
}

// readCheck reads bench/peers/compare --json: {"recall":..,"counts":[{"key","cartwatch","peer",...}],
// "want_alerts","got_alerts","matched","equal"}.
func readCheck(path string) (*benchrec.Check, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r struct {
		Recall bool `json:"recall"`
		Counts []struct {
			Key       string `json:"key"`
			Cartwatch int64  `json:"cartwatch"`
			Peer      int64  `json:"peer"`
			Equal     bool   `json:"equal"`
			Compared  bool   `json:"compared"`
		} `json:"counts"`
		WantAlerts int64 `json:"want_alerts"`
		GotAlerts  int64 `json:"got_alerts"`
		Matched    int64 `json:"matched"`
		Equal      bool  `json:"equal"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(b), &r); err != nil {
		return nil, fmt.Errorf("%s: %w (want the output of bench/peers/compare --json)", path, err)
	}
	c := &benchrec.Check{Equal: r.Equal, Recall: r.Recall, Abandoned: r.WantAlerts, PeerAbandoned: r.GotAlerts, Matched: r.Matched}
	var differ []string
	for _, n := range r.Counts {
		switch n.Key {
		case "events":
			c.Events, c.PeerEvents = n.Cartwatch, n.Peer
		case "abandoned":
			c.Abandoned, c.PeerAbandoned = n.Cartwatch, n.Peer
		}
		if n.Compared && !n.Equal && n.Key != "events" && n.Key != "abandoned" {
			differ = append(differ, fmt.Sprintf("%s %d vs %d", n.Key, n.Cartwatch, n.Peer))
		}
	}
	c.Detail = strings.Join(differ, ", ")
	return c, nil
}

func gobench(args []string) error {
	fs := flag.NewFlagSet("gobench", flag.ExitOnError)
	suite := fs.String("suite", "", "the suite")
	system := fs.String("system", "", "what ran (default: the package)")
	cmd := fs.String("cmd", "", "the go test command")
	dir, err := runDir(fs, args)
	if err != nil || dir == "" {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("gobench wants one file of go test -bench output")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	ms, err := parseBench(f, *suite, *system, *cmd)
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		return fmt.Errorf("%s: no benchmark results", fs.Arg(0))
	}
	for _, m := range ms {
		if err := benchrec.Append(dir, m); err != nil {
			return err
		}
	}
	return nil
}

// parseBench turns go test -bench output into one measurement per benchmark
// (its name without the -GOMAXPROCS suffix) and unit, in order of appearance.
func parseBench(r io.Reader, suite, system, cmd string) ([]benchrec.Measurement, error) {
	rd := benchfmt.NewReader(r, "bench")
	var ms []benchrec.Measurement
	index := map[string]int{}
	pkg := ""
	for rd.Scan() {
		res, ok := rd.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		if p := res.GetConfig("pkg"); p != "" {
			pkg = p
		}
		name := string(res.Name.Full())
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		sys := system
		if sys == "" {
			sys = pkg
		}
		for _, v := range res.Values {
			// The units as go test printed them (ns/op), not benchfmt's tidied ones (sec/op).
			unit, val := v.OrigUnit, v.OrigValue
			if unit == "" {
				unit, val = v.Unit, v.Value
			}
			key := name + " " + unit
			i, ok := index[key]
			if !ok {
				i = len(ms)
				index[key] = i
				ms = append(ms, benchrec.Measurement{Suite: suite, System: sys, Name: "Benchmark" + name, Unit: unit, Command: cmd})
			}
			ms[i].Samples = append(ms[i].Samples, val)
		}
	}
	return ms, rd.Err()
}

func profile(args []string) error {
	fs := flag.NewFlagSet("profile", flag.ExitOnError)
	var p benchrec.Profile
	fs.StringVar(&p.Command, "cmd", "", "the profiled command")
	fs.StringVar(&p.Tool, "tool", "", "the pprof command that printed FILE")
	raw := fs.String("pprof", "", "the CPU profile FILE was printed from: its time by pipeline stage")
	dir, err := runDir(fs, args)
	if err != nil || dir == "" {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("profile wants one file of go tool pprof -top output")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := parseTop(f, &p); err != nil {
		return err
	}
	if *raw != "" {
		if p.Stages, err = stages(*raw); err != nil {
			return fmt.Errorf("profile -pprof %s: %w", *raw, err)
		}
	}
	return benchrec.WriteJSON(filepath.Join(dir, "profile.json"), &p)
}

// parseTop reads go tool pprof -top: a header ("Showing nodes accounting for
// 9.1s, 95% of 9.6s total", "flat  flat%   sum%        cum   cum%") then one
// line a function: "1.2s 12.50% 12.50%  3.4s 35.42%  pkg.Func".
func parseTop(r io.Reader, p *benchrec.Profile) error {
	sc := bufio.NewScanner(r)
	table := false
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "Showing nodes") {
			if i := strings.Index(l, " of "); i >= 0 {
				p.Total = strings.TrimSuffix(strings.TrimSpace(l[i+4:]), " total")
			}
		}
		if strings.HasPrefix(l, "flat") {
			table = true
			continue
		}
		f := strings.Fields(l)
		if !table || len(f) < 6 {
			continue
		}
		p.Rows = append(p.Rows, benchrec.ProfileLine{
			Func:       strings.Join(f[5:], " "),
			FlatSecond: seconds(f[0]),
			FlatPct:    pct(f[1]),
			CumSecond:  seconds(f[3]),
			CumPct:     pct(f[4]),
		})
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(p.Rows) == 0 {
		return errors.New("no rows of go tool pprof -top output")
	}
	return nil
}

func pct(s string) float64 {
	v, _ := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	return v
}

func seconds(s string) float64 {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0
	}
	return d.Seconds()
}

func note(args []string) error {
	fs := flag.NewFlagSet("note", flag.ExitOnError)
	dir, err := runDir(fs, args)
	if err != nil || dir == "" {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, "notes.txt"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(f, strings.Join(fs.Args(), " "))
	return errors.Join(err, f.Close())
}
