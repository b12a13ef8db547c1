package main

import (
	"fmt"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// drawCharts writes throughput.svg, cost_vs_size.svg and scaling.svg into
// dir; a chart without figures is drawn empty with "not measured" in its
// title, so the report's links always resolve.
func drawCharts(rep *report, dir string) error {
	caption := rep.caption()
	for _, c := range []struct {
		file string
		draw func(p *plot.Plot) (bool, error)
	}{
		{"throughput.svg", rep.throughputChart},
		{"cost_vs_size.svg", rep.sizeChart},
		{"scaling.svg", rep.scalingChart},
	} {
		p := plot.New()
		ok, err := c.draw(p)
		if err != nil {
			return fmt.Errorf("%s: %w", c.file, err)
		}
		if !ok {
			p.Title.Text += ": not measured in this run"
		}
		p.Title.Text += "\n" + caption
		if err := p.Save(18*vg.Centimeter, 11*vg.Centimeter, filepath.Join(dir, c.file)); err != nil {
			return fmt.Errorf("%s: %w", c.file, err)
		}
	}
	return nil
}

// caption: the date, the machine and the statistic, under every chart's title.
func (rep *report) caption() string {
	m := rep.run.Meta
	s := fmt.Sprintf("%s, %d cores %s; medians, bars min-max", shortDate(m.Date), m.Machine.Cores, m.Machine.CPU)
	if m.Quick {
		s += " (quick mode)"
	}
	return s
}

func shortDate(d string) string {
	if len(d) >= 10 {
		return d[:10]
	}
	return d
}

func (rep *report) throughputChart(p *plot.Plot) (bool, error) {
	p.Title.Text = "events/s by system"
	if rep.head == "" {
		return false, nil
	}
	p.Title.Text += " on " + rep.head
	p.Y.Label.Text = "events/s (median)"
	var names []string
	var vals plotter.Values
	var errs plotter.YErrors
	for _, sys := range rep.peerSystems() {
		m := rep.find("peers", sys, "run", rep.head, nil)
		if m == nil {
			continue
		}
		ev := float64(rep.events(m))
		med := ev / m.Median
		names = append(names, sys)
		vals = append(vals, med)
		// Rates from the slowest and fastest run.
		errs = append(errs, struct{ Low, High float64 }{med - ev/m.Max, ev/m.Min - med})
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(28))
	if err != nil {
		return false, err
	}
	bars.Color = plotutil.Color(0)
	p.Add(bars)
	if eb, err := plotter.NewYErrorBars(errorBars{vals, errs}); err == nil {
		p.Add(eb)
	}
	p.NominalX(names...)
	return true, nil
}

// errorBars gives plotter.NewYErrorBars the bars' centres and ranges.
type errorBars struct {
	v plotter.Values
	e plotter.YErrors
}

func (b errorBars) Len() int                        { return len(b.v) }
func (b errorBars) XY(i int) (float64, float64)     { return float64(i), b.v[i] }
func (b errorBars) YError(i int) (float64, float64) { return b.e[i].Low, b.e[i].High }

func (rep *report) sizeChart(p *plot.Plot) (bool, error) {
	p.Title.Text = "wall time against input size"
	p.X.Label.Text = "events (log)"
	p.Y.Label.Text = "wall seconds (log)"
	p.Legend.Top, p.Legend.Left = true, true
	drawn := false
	for i, sys := range rep.peerSystems() {
		var xys plotter.XYs
		for _, in := range rep.inputs {
			if m := rep.find("peers", sys, "run", in.Name, nil); m != nil && rep.events(m) > 0 && m.Median > 0 {
				xys = append(xys, plotter.XY{X: float64(rep.events(m)), Y: m.Median})
			}
		}
		if len(xys) < 2 {
			continue
		}
		if err := addLine(p, i, sys, xys); err != nil {
			return false, err
		}
		drawn = true
	}
	if drawn { // log axes panic on an empty plot
		p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
		p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	}
	return drawn, nil
}

func (rep *report) scalingChart(p *plot.Plot) (bool, error) {
	p.Title.Text = "cartwatch run: events/s by shards"
	p.X.Label.Text = "--shards"
	p.Y.Label.Text = "events/s (median)"
	p.Legend.Top = true
	byParsers := map[int]plotter.XYs{}
	for _, m := range rep.all("scaling") {
		if ev := rep.events(m); ev > 0 && m.Median > 0 {
			k := atoi(m.Params["parsers"])
			byParsers[k] = append(byParsers[k], plotter.XY{X: float64(atoi(m.Params["shards"])), Y: float64(ev) / m.Median})
		}
	}
	keys := make([]int, 0, len(byParsers))
	for k := range byParsers {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	for i, k := range keys {
		xys := byParsers[k]
		sort.Slice(xys, func(a, b int) bool { return xys[a].X < xys[b].X })
		if err := addLine(p, i, fmt.Sprintf("--parsers %d", k), xys); err != nil {
			return false, err
		}
	}
	return len(keys) > 0, nil
}

func addLine(p *plot.Plot, i int, name string, xys plotter.XYs) error {
	l, s, err := plotter.NewLinePoints(xys)
	if err != nil {
		return err
	}
	l.Color = plotutil.Color(i)
	s.Color = plotutil.Color(i)
	s.Shape = plotutil.Shape(i)
	s.Radius = vg.Points(3)
	l.Width = vg.Points(1.5)
	p.Add(l, s)
	p.Legend.Add(name, l, s)
	return nil
}

var _ plotter.YErrorer = errorBars{}
