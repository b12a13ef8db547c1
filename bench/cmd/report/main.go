// Command report turns a make bench run directory (bench/benchrec: meta.json,
// SUITE.jsonl, profile.json) into the perf report: REPORT.md, report.json
// (the run's every figure, and the targets met or missed) and SVG charts
// drawn with gonum.org/v1/plot.
//
//	go run ./bench/cmd/report -run DIR [-md results/REPORT.md] [-json results/report.json] [-charts results/charts]
//
// Which suite measured a figure decides where it goes: peers (every system on
// the day, the week and the month: the lead table and the cost against input
// size), scaling (cartwatch run by shards and parsers), kafka (produce,
// consume, end-to-end latency), wheel and engine (the micro tables), and the
// profile. A figure no section shows is listed at the end: none is dropped.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cartwatch/cartwatch/bench/benchrec"
)

func main() {
	dir := flag.String("run", os.Getenv("BENCH_OUT"), "the run directory (default $BENCH_OUT)")
	md := flag.String("md", "results/REPORT.md", "the Markdown report to write")
	js := flag.String("json", "results/report.json", "the JSON report to write")
	charts := flag.String("charts", "", "the folder of the SVG charts (default: charts/ beside -md)")
	flag.Parse()
	if *dir == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: report -run DIR [-md FILE] [-json FILE] [-charts DIR]")
		os.Exit(2)
	}
	if *charts == "" {
		*charts = filepath.Join(filepath.Dir(*md), "charts")
	}
	if err := run(*dir, *md, *js, *charts); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(dir, md, js, charts string) error {
	r, err := benchrec.ReadDir(dir)
	if err != nil {
		return err
	}
	rep := analyze(r)
	for _, d := range []string{filepath.Dir(md), filepath.Dir(js), charts} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	rel, err := filepath.Rel(filepath.Dir(md), charts)
	if err != nil {
		rel = charts
	}
	if err := drawCharts(rep, charts); err != nil {
		return fmt.Errorf("charts: %w", err)
	}
	b := rep.markdown(filepath.ToSlash(rel))
	tmp := md + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, md); err != nil {
		return err
	}
	return benchrec.WriteJSON(js, &jsonReport{Run: *r, Targets: rep.targets})
}

// jsonReport is report.json: the run (benchrec.ReadRun reads it back) and the targets.
type jsonReport struct {
	benchrec.Run
	Targets []target `json:"targets"`
}
