// Command faults prints results/reliability.md's table from the JSON lines
// the fault matrix writes (kafkatest/faults_test.go, one line per run, to
// the file $CARTWATCH_FAULT_LOG names; make test-faults FAULT_LOG=FILE):
//
//	go run ./bench/cmd/faults FILE...
//
// One row per fault and mode (at least once, exactly once), in the order
// they first appear: how many times the fault was injected, at which kill
// points, the events and alerts summed over the runs (expected, seen,
// lost, doubled, extra), the runs that failed, and the recovery time's
// median and maximum (from the fault to the first offset commit after it
// on a partition it hit), and for a broker restart the median time until the
// broker answered again, the part of the recovery that is the broker's.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// record is one run, as kafkatest's faultRecord writes it.
type record struct {
	Fault      string `json:"fault"`
	Mode       string `json:"mode"`
	Brokers    int    `json:"brokers"`
	KillPoint  string `json:"kill_point"`
	Events     int    `json:"events"`
	Expected   int    `json:"alerts_expected"`
	Seen       int    `json:"alerts_seen"`
	Lost       int    `json:"lost"`
	Doubled    int    `json:"doubled"`
	Extra      int    `json:"extra"`
	RecoveryMS int64  `json:"recovery_ms"`
	RecoveryBy string `json:"recovery_by"`
	// BrokerBackMS: from the fault to the broker answering again (the
	// broker restart only).
	BrokerBackMS int64 `json:"broker_back_ms"`
	Failed       bool  `json:"failed"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: faults FILE... (JSON lines of make test-faults FAULT_LOG=FILE)")
		os.Exit(2)
	}
	var recs []record
	for _, name := range os.Args[1:] {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "faults:", err)
			os.Exit(1)
		}
		rs, err := read(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "faults: %s: %v\n", name, err)
			os.Exit(1)
		}
		recs = append(recs, rs...)
	}
	table(os.Stdout, recs)
}

// read returns the records of r's lines; empty lines are skipped.
func read(r io.Reader) ([]record, error) {
	var out []record
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var rec record
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if rec.Fault == "" {
			return nil, fmt.Errorf("line %d: no fault", n)
		}
		out = append(out, rec)
	}
	return out, sc.Err()
}

// table writes the Markdown table of recs.
func table(w io.Writer, recs []record) {
	type key struct{ fault, mode string }
	var order []key
	groups := map[key][]record{}
	for _, r := range recs {
		k := key{r.Fault, r.Mode}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	fmt.Fprintln(w, "| fault | mode | brokers | injected | kill points | events | alerts expected | seen | lost | doubled | extra | failed runs | recovery median | recovery max | broker back median |")
	fmt.Fprintln(w, "|---|---|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, k := range order {
		rs := groups[k]
		var s record
		var points []string
		var rec, back []int64
		failed, none := 0, 0
		for _, r := range rs {
			s.Events += r.Events
			s.Expected += r.Expected
			s.Seen += r.Seen
			s.Lost += r.Lost
			s.Doubled += r.Doubled
			s.Extra += r.Extra
			if !slices.Contains(points, r.KillPoint) {
				points = append(points, r.KillPoint)
			}
			if r.Failed {
				failed++
			}
			if r.BrokerBackMS > 0 {
				back = append(back, r.BrokerBackMS)
			}
			if r.RecoveryMS < 0 {
				none++
			} else {
				rec = append(rec, r.RecoveryMS)
			}
		}
		slices.Sort(points)
		med, mx := "-", "-"
		if len(rec) > 0 {
			slices.Sort(rec)
			med, mx = dur(median(rec)), dur(rec[len(rec)-1])
		}
		bk := "-"
		if len(back) > 0 {
			slices.Sort(back)
			bk = dur(median(back))
		}
		if none > 0 {
			mx += fmt.Sprintf(" (%d runs: none)", none)
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %s | %d | %d | %d | %d | %d | %d | %d | %s | %s | %s |\n",
			k.fault, k.mode, rs[0].Brokers, len(rs), strings.Join(points, ", "), s.Events, s.Expected, s.Seen,
			s.Lost, s.Doubled, s.Extra, failed, med, mx, bk)
	}
}

// median of sorted xs: the middle one, or the mean of the middle two.
func median(xs []int64) int64 {
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

func dur(ms int64) string {
	return (time.Duration(ms) * time.Millisecond).Round(100 * time.Millisecond).String()
}
