package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cartwatch/cartwatch/bench/benchrec"
)

// TestReportFixture: the fixture run (testdata/run, made-up figures marked
// as such) renders every section with its figures, the targets met and
// missed, the charts, and a report.json that reads back as the run.
func TestReportFixture(t *testing.T) {
	out := t.TempDir()
	md, js, charts := filepath.Join(out, "REPORT.md"), filepath.Join(out, "report.json"), filepath.Join(out, "charts")
	if err := run("testdata/run", md, js, charts); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		"MADE-UP FIGURES",
		"2 cores, Made-up CPU @ 1.00GHz, 8.0 GiB memory",
		"duckdb 2.0.1, flink 1.20.1, go go1.26.0, kafka 4.1.0",
		"- added to this run later: suite kafka on 2026-01-03T04:05:06Z, commit 1111111, load average 1.50 1.20 1.00 before (`make bench SUITES=\"kafka\" ADD_TO=.cache/bench/run-x`)",
		"## cartwatch against what people would use instead",
		"| cartwatch | month | 15.00 M/s | 4.50 s (4.41 s–4.72 s) | 1.00x | 292 MiB | the reference (abandoned 675,000) |",
		"| duckdb 2.0.1 | month | 1.00 M/s | 67.50 s (66.15 s–70.88 s) | 15.00x | 2441 MiB | yes (events 67,500,000, abandoned 675,000, the same alerts) |",
		"no (events 67,499,997 vs cartwatch's 67,500,000, abandoned 674,999 vs 675,000)",
		"| cartwatch against duckdb: wall time | >= 20x faster, the same answer | 15.0x (67.50 s against 4.50 s) | **missed** |",
		"| cartwatch consume against the QuixStreams application: events/s | >= 10x, on the same topic and broker | 25.0x (1.50 M/s against 60.0 k/s); reports 8,000 of cartwatch's 40,000 abandoned carts (20.0%)",
		"## Cost against input size",
		"| cartwatch | 100 ms (98 ms–105 ms), 67 ns/event |",
		"1.00x: about linear",
		"## Scaling with shards and parsers",
		"| 1 | 4 | 778 ms (754 ms–801 ms) | 13.50 M/s | 1.50x | 244 MiB |",
		"| cartwatch consume | 2 days (topic) | 1.50 M/s (1.45 M/s–1.55 M/s) | 1.00x |  | the reference: cartwatch run on the same events finds 40,000 abandoned carts |",
		"| quixstreams 3.28.1 | 2 days (topic) | 60.0 k/s (59.0 k/s–61.0 k/s) | 0.04x | 400 MiB | reports 8,000 of cartwatch's 40,000 abandoned carts (20.0%), 9,000 alerts in all; events 2,900,000 vs 2,900,000 |",
		"| ConsumerPerformance | 2 days (topic) | 2.00 M/s (1.90 M/s–2.10 M/s) | 1.33x |  | n/a: fetches only |",
		"### Produce", "### Consume and detect", "### End-to-end latency",
		"| quixstreams 3.28.1 (from its first message) | 60.0 k/s (59.0 k/s–61.0 k/s) | 0.03x | 2 days, 2,900,000 events | 400 MiB | reports 8,000 of",
		"| deadline to alert produced | 2.1 ms | 8.5 ms | 20 ms | 45 ms |",
		"### The timing wheel",
		"| Cart/n=1M | 41 (40–42), 0 allocs | 155 (150–160), 0 allocs | 3.8x | 305 (300–310), 1 allocs | 7.4x |",
		"### The session table",
		"| Table | 12.5 (12–13), 0 allocs | 24.5 (24–25), 5 allocs | 2.0x |",
		"## Where the time goes",
		"| detect (shards: session table, timing wheel, figures) | 5.40 s | 30.0% |",
		"wc -l only finds line ends; cartwatch's CPU time by stage (Where the time goes): parse fields (times, ids, prices, categories) 50%, detect",
		"| `github.com/cartwatch/cartwatch/format.(*Parser).Parse` | 5.00 s | 27.8% | 6.00 s | 33.3% |",
		"## Other figures", "| engine | loadgen generate | write the month |",
		"## Notes of this run",
		"![events/s by system](charts/throughput.svg)",
		"bench/peers/duckdb/run.sh .cache/bench/month-seed1.csv",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("REPORT.md lacks %q", want)
		}
	}
	if strings.Contains(s, "Not measured") {
		t.Errorf("a section of the full fixture is not measured:\n%s", s)
	}
	for _, c := range []string{"throughput.svg", "cost_vs_size.svg", "scaling.svg"} {
		b, err := os.ReadFile(filepath.Join(charts, c))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "<svg") || !strings.Contains(string(b), "2026-01-02") {
			t.Errorf("%s is not an SVG chart with the run's date", c)
		}
	}
	in, err := benchrec.ReadDir("testdata/run")
	if err != nil {
		t.Fatal(err)
	}
	back, err := benchrec.ReadRun(js)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Measurements) != len(in.Measurements) || back.Meta.Date != in.Meta.Date || back.Profile == nil {
		t.Errorf("report.json: %d figures, date %q, profile %v; want %d, %q and one", len(back.Measurements), back.Meta.Date, back.Profile != nil, len(in.Measurements), in.Meta.Date)
	}
	if b, _ := os.ReadFile(js); !strings.Contains(string(b), `"status": "missed"`) {
		t.Error("report.json has no missed target")
	}
}

// TestReportEmpty: a run with no figures still writes every section, each
// saying it was not measured, and the charts.
func TestReportEmpty(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	if err := benchrec.WriteJSON(filepath.Join(dir, "meta.json"), &benchrec.Meta{Date: "2026-01-02T00:00:00Z"}); err != nil {
		t.Fatal(err)
	}
	md := filepath.Join(out, "REPORT.md")
	if err := run(dir, md, filepath.Join(out, "report.json"), filepath.Join(out, "charts")); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(md)
	s := string(b)
	if n := strings.Count(s, "_Not measured in this run"); n != 7 {
		t.Errorf("%d sections not measured, want 7 (lead, size, scaling, kafka, wheel, table, profile):\n%s", n, s)
	}
	if n := strings.Count(s, "| not measured |"); n != 6 {
		t.Errorf("%d targets not measured, want 6", n)
	}
}
