package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestTable: runs of one fault and mode are one row, summed, with the
// recovery's median and maximum; rows in the order the faults first
// appear; a run without a recovery is counted, not taken as 0.
func TestTable(t *testing.T) {
	in := `{"fault":"kill","mode":"at-least-once","brokers":1,"kill_point":"25%","events":100,"alerts_expected":3,"alerts_seen":4,"lost":0,"doubled":1,"extra":0,"recovery_ms":1000}

{"fault":"term","mode":"exactly-once","brokers":1,"kill_point":"25%","events":100,"alerts_expected":3,"alerts_seen":3,"recovery_ms":-1,"failed":true}
{"fault":"kill","mode":"at-least-once","brokers":1,"kill_point":"50%","events":100,"alerts_expected":3,"alerts_seen":3,"recovery_ms":3000}
{"fault":"kill","mode":"at-least-once","brokers":1,"kill_point":"75%","events":100,"alerts_expected":3,"alerts_seen":2,"lost":1,"recovery_ms":2500,"broker_back_ms":1200}
`
	recs, err := read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	table(&b, recs)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := []string{
		"| kill | at-least-once | 1 | 3 | 25%, 50%, 75% | 300 | 9 | 9 | 1 | 1 | 0 | 0 | 2.5s | 3s | 1.2s |",
		"| term | exactly-once | 1 | 1 | 25% | 100 | 3 | 3 | 0 | 0 | 0 | 1 | - | - (1 runs: none) | - |",
	}
	if len(lines) != 2+len(want) {
		t.Fatalf("table:\n%s", b.String())
	}
	for i, w := range want {
		if lines[2+i] != w {
			t.Errorf("row %d:\n got %s\nwant %s", i, lines[2+i], w)
		}
	}
}

// TestReadErrors: a line that is not a record names its number.
func TestReadErrors(t *testing.T) {
	for _, in := range []string{"{\"fault\":\"x\"}\nnot json\n", "{\"fault\":\"x\"}\n{\"mode\":\"y\"}\n"} {
		if _, err := read(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("read(%q): %v, want an error naming line 2", in, err)
		}
	}
}
