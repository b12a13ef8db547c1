// Command compare checks a peer's answer against cartwatch's on the same
// input (bench/peers/README.md):
//
//	go run ./bench/peers/compare [--recall] [--show N] [--json] CARTWATCH_DIR PEER_DIR
//
// Each folder holds alerts.jsonl and summary.json, as the runners
// bench/peers/*/run.sh write them. It prints each count of both, the alerts
// only one side has (the first --show of each) and "equal: yes" or "equal:
// no"; --json prints the report as one JSON object instead. Exit 0 when
// equal (in --recall mode: when the peer read the same events), 1 when not,
// 2 for a bad command line or an unreadable answer.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cartwatch/cartwatch/bench/peers/peercmp"
)

func main() {
	recall := flag.Bool("recall", false, "count how many of cartwatch's carts the peer reports (same user_id and last_cart_at) instead of requiring the same set")
	show := flag.Int("show", 5, "print the first `N` alerts only one side has")
	asJSON := flag.Bool("json", false, "print the report as one JSON object")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: compare [--recall] [--show N] [--json] CARTWATCH_DIR PEER_DIR")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	want, err := peercmp.ReadDir(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(2)
	}
	got, err := peercmp.ReadDir(flag.Arg(1))
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(2)
	}
	r := peercmp.Compare(want, got, *recall)
	if *asJSON {
		b, _ := json.Marshal(&r)
		fmt.Printf("%s\n", b)
	} else {
		r.Write(os.Stdout, filepath.Base(filepath.Clean(flag.Arg(1))), *show)
	}
	if !r.Equal {
		os.Exit(1)
	}
}
