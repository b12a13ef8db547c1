// Command compare prints, benchstat-style, each figure of two make bench runs
// side by side: the median of each with its spread, and the change when a
// Mann-Whitney U test (golang.org/x/perf/benchmath, benchstat's own statistics)
// says the two sets of samples differ at alpha 0.05, "~" when they do not.
//
//	go run ./bench/cmd/compare [-alpha 0.05] [-changed] OLD NEW
//
// OLD and NEW are report.json files (results/runs/*.json) or run directories.
// The figures are matched by their key: suite, system, name, input, params,
// unit; a figure in one run only is listed as such. -changed prints only the
// figures that differ.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/cartwatch/cartwatch/bench/benchrec"
	"golang.org/x/perf/benchmath"
)

func main() {
	alpha := flag.Float64("alpha", 0.05, "significance level of the U test")
	changed := flag.Bool("changed", false, "print only the figures that changed")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: compare [-alpha A] [-changed] OLD NEW (report.json files or run directories)")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	old, err := load(flag.Arg(0))
	if err == nil {
		var cur *benchrec.Run
		if cur, err = load(flag.Arg(1)); err == nil {
			fmt.Printf("old: %s (%s)\nnew: %s (%s)\n\n", flag.Arg(0), describe(old), flag.Arg(1), describe(cur))
			err = write(os.Stdout, Compare(old, cur, *alpha), *changed)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

func load(path string) (*benchrec.Run, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return benchrec.ReadDir(path)
	}
	return benchrec.ReadRun(path)
}

func describe(r *benchrec.Run) string {
	s := r.Meta.Date
	if r.Meta.Commit != "" {
		s += ", " + r.Meta.Commit
	}
	if r.Meta.Quick {
		s += ", quick"
	}
	return s
}

// Row is one figure of the comparison.
type Row struct {
	Key      string
	Old, New *benchrec.Measurement // nil when the figure is in one run only
	P        float64               // the U test's p-value
	N1, N2   int
	Delta    float64 // (new-old)/old of the medians, in percent
	Changed  bool    // P <= alpha: the samples differ
	Better   bool    // changed for the better (lower for lower-is-better)
	Warnings []string
}

// Compare matches the figures of old and cur by key, in old's order then cur's new ones.
func Compare(old, cur *benchrec.Run, alpha float64) []Row {
	th := benchmath.Thresholds{CompareAlpha: alpha}
	byKey := map[string]*benchrec.Measurement{}
	for i := range cur.Measurements {
		byKey[cur.Measurements[i].Key()] = &cur.Measurements[i]
	}
	var rows []Row
	seen := map[string]bool{}
	for i := range old.Measurements {
		o := &old.Measurements[i]
		k := o.Key()
		seen[k] = true
		r := Row{Key: k, Old: o, New: byKey[k]}
		if r.New != nil {
			s1, s2 := benchmath.NewSample(o.Samples, &th), benchmath.NewSample(r.New.Samples, &th)
			c := benchmath.AssumeNothing.Compare(s1, s2)
			r.P, r.N1, r.N2 = c.P, c.N1, c.N2
			for _, w := range c.Warnings {
				r.Warnings = append(r.Warnings, w.Error())
			}
			if o.Median != 0 {
				r.Delta = (r.New.Median/o.Median - 1) * 100
			}
			r.Changed = c.P <= c.Alpha && o.Median != r.New.Median
			lower := r.New.Median < o.Median
			r.Better = r.Changed && lower == (o.Better != "higher")
		}
		rows = append(rows, r)
	}
	for i := range cur.Measurements {
		n := &cur.Measurements[i]
		if k := n.Key(); !seen[k] {
			seen[k] = true
			rows = append(rows, Row{Key: k, New: n})
		}
	}
	return rows
}

func write(w io.Writer, rows []Row, changedOnly bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\told median [min-max]\tnew median [min-max]\tdelta\tp, n\t")
	for _, r := range rows {
		if changedOnly && !r.Changed {
			continue
		}
		delta, stat := "", ""
		switch {
		case r.Old == nil:
			delta = "only in new"
		case r.New == nil:
			delta = "only in old"
		case r.Changed:
			delta = fmt.Sprintf("%+.2f%%", r.Delta)
			if r.Better {
				delta += " (better)"
			} else {
				delta += " (worse)"
			}
		default:
			delta = "~"
		}
		if r.Old != nil && r.New != nil {
			stat = fmt.Sprintf("p=%.3f n=%d+%d", r.P, r.N1, r.N2)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", r.Key, spread(r.Old), spread(r.New), delta, stat)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
		for _, wn := range r.Warnings {
			if !changedOnly || r.Changed {
				fmt.Fprintf(w, "%s: %s\n", r.Key, wn)
			}
		}
	}
	return nil
}

// spread is "median [min-max]", or "" for no figure.
func spread(m *benchrec.Measurement) string {
	if m == nil {
		return ""
	}
	return fmt.Sprintf("%s [%s-%s]", num(m.Median), num(m.Min), num(m.Max))
}

// num prints v with 4 significant digits at most, without exponent for
// everyday sizes.
func num(v float64) string {
	switch a := abs(v); {
	case a == 0:
		return "0"
	case a >= 1e6:
		return fmt.Sprintf("%.4g", v)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.4g", v)
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
