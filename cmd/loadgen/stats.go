package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cartwatch/cartwatch/loadgen"
	"github.com/klauspost/compress/gzip"
)

var statsCmd = &command{
	name:    "stats",
	args:    "FILE|-",
	summary: "measure a CSV file against the published figures of the real month",
	about: `stats reads FILE (- for stdin; gzip is recognized by its content) in the 2019-Nov
schema and prints a Markdown table of its figures beside the published ones of
the real month (../shared/data/README.md), with the relative errors. Rows are
parsed by the same parser as cartwatch run: a row is malformed for stats
exactly when cartwatch run rejects it (docs/semantics.md, rule 8); malformed
rows are counted, named on stderr, and left out of every other figure.`,
	newFlags: func() *flag.FlagSet { return flag.NewFlagSet("stats", flag.ContinueOnError) },
	run:      stats,
}

func stats(args []string, stdout, stderr io.Writer) int {
	c := lookup("stats")
	pos, code := c.parse(c.newFlags(), args, stdout, stderr)
	if code >= 0 {
		return code
	}
	if len(pos) != 1 {
		return c.usageError(stderr, "want exactly one FILE (plain, gzip, or - for stdin), got %d", len(pos))
	}
	name := pos[0]
	var in io.Reader = os.Stdin
	var size int64 = -1
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen stats: %v\n", err)
			return exitUsage
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		in = f
	}
	br := bufio.NewReaderSize(in, 1<<20)
	var r io.Reader = br
	var onDisk int64 = -1 // compressed size, for the gzip row of the table
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		onDisk = size
		zr, err := gzip.NewReader(br)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen stats: %s: %v\n", name, err)
			return exitError
		}
		defer zr.Close()
		r = zr
	}
	var progress func(int64)
	if isTerminal(os.Stderr) {
		start := time.Now()
		last := start
		progress = func(b int64) {
			if time.Since(last) < 500*time.Millisecond {
				return
			}
			last = time.Now()
			fmt.Fprintf(stderr, "\rloadgen stats: %.2f GB read, %.0f MB/s   ", float64(b)/1e9, float64(b)/1e6/time.Since(start).Seconds())
		}
	}
	s, err := loadgen.Measure(r, progress, func(line int64, msg string) {
		fmt.Fprintf(stderr, "loadgen stats: line %d skipped: %s\n", line, msg)
	})
	if progress != nil {
		fmt.Fprintln(stderr)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintf(stderr, "loadgen stats: %s: %v\n", name, err)
		return exitError
	}
	s.GzipBytes = onDisk
	s.WriteTable(stdout, name)
	return exitOK
}
