// Command loadgen writes the synthetic 2019-Nov month (loadgen generate) and
// measures any file in that schema against the published figures of the
// real one (loadgen stats). See docs/loadgen-model.md.
package main

import (
	"bufio"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"time"

	"github.com/cartwatch/cartwatch/loadgen"
)

const usage = `usage:
  loadgen generate [--rows N | --scale F] [--days D] [--seed S] [--no-gaps] [--format csv] [--direct] [-o FILE]
  loadgen stats [--rows-published] FILE   (plain or .gz; - for stdin)

generate writes the full synthetic month (67,501,979 rows) by default, to
stdout or to FILE (gzip when FILE ends in .gz).

--direct writes FILE with O_DIRECT, bypassing the page cache: it saves the
kernel's copy, so writing takes less CPU and less time, but the file is then
not in memory. It is off by default because the next step is usually
cartwatch run FILE, which reads the month from the page cache after a
buffered write 3-4 times faster than from the disk after --direct, more than
--direct saved (results/dataset-fidelity.md). Use it when the file is not
read back soon, or when the page cache is needed for something else.`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run returns the exit status: 0 ok, 1 runtime failure, 2 bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	switch args[0] {
	case "generate":
		return generate(args[1:], stdout, stderr)
	case "stats":
		return stats(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "loadgen: unknown command %q\n%s\n", args[0], usage)
	return 2
}

func generate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nflags of generate:\n", usage)
		fs.PrintDefaults()
	}
	var cfg loadgen.Config
	cfg.AddFlags(fs)
	out := fs.String("o", "-", "output file; - for stdout; gzip when the name ends in .gz")
	direct := fs.Bool("direct", false, "write -o FILE with O_DIRECT, bypassing the page cache: faster, but the file is not cached for the next reader, hence off by default (not for - or .gz)")
	format := fs.String("format", "csv", "output format; only csv (the 2019-Nov text format) is supported")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	traceFile := fs.String("trace", "", "write a runtime execution trace to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loadgen generate: unexpected argument %q (flags go before nothing else; use -o FILE)\n", fs.Arg(0))
		return 2
	}
	if *format != "csv" {
		fmt.Fprintf(stderr, "loadgen generate: unknown --format %q (supported: csv)\n", *format)
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "loadgen generate: %v\n", err)
		return 2
	}
	if *direct && (*out == "-" || strings.HasSuffix(*out, ".gz")) {
		fmt.Fprintf(stderr, "loadgen generate: --direct writes a plain regular file, not -o %s (drop --direct)\n", *out)
		return 2
	}
	// A regular file (or a new one) that is not gzipped is written by a
	// loadgen.File, into which WriteCSV renders in place; anything else
	// (stdout, a device, a pipe, a .gz) takes whole hours through Write.
	asFile := *out != "-" && !strings.HasSuffix(*out, ".gz")
	if st, err := os.Stat(*out); asFile && err == nil && !st.Mode().IsRegular() {
		if *direct {
			fmt.Fprintf(stderr, "loadgen generate: --direct writes a regular file; -o %s is not one (drop --direct)\n", *out)
			return 2
		}
		asFile = false
	}
	if asFile {
		// One P more than the default, for the goroutines that block in
		// the disk writes: with a P per core, a writer returning from its
		// write waited for a P held by a busy worker while the disk idled.
		// Month with --direct, 2 rounds side by side: 10.33 and 9.36 s
		// with GOMAXPROCS=2, 7.32 and 8.57 s with 3 (and 3 workers). The
		// buffered File was measured with it too (results/dataset-fidelity.md).
		runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
	}
	var w io.Writer = stdout
	var f io.WriteCloser
	if *out != "-" {
		var err error
		if asFile {
			f, err = loadgen.CreateFile(*out, *direct, func(reason error) {
				fmt.Fprintf(stderr, "loadgen generate: note: %s written buffered, O_DIRECT refused: %v\n", *out, reason)
			})
		} else {
			f, err = os.Create(*out)
		}
		if err != nil {
			fmt.Fprintf(stderr, "loadgen generate: cannot write -o %s: %v\n", *out, err)
			return 2
		}
		w = f
	}
	var zw *gzip.Writer
	if strings.HasSuffix(*out, ".gz") {
		zw, _ = gzip.NewWriterLevel(w, gzip.BestSpeed)
		w = zw
	} else if f == nil {
		// Large writes to a pipe or terminal.
		bw := bufio.NewWriterSize(w, 1<<20)
		defer bw.Flush()
		w = bw
	}
	if *cpuprofile != "" {
		pf, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen generate: cannot write --cpuprofile %s: %v\n", *cpuprofile, err)
			return 2
		}
		defer pf.Close()
		pprof.StartCPUProfile(pf)
		defer pprof.StopCPUProfile()
	}
	if *traceFile != "" {
		tf, err := os.Create(*traceFile)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen generate: cannot write --trace %s: %v\n", *traceFile, err)
			return 2
		}
		defer tf.Close()
		trace.Start(tf)
		defer trace.Stop()
	}
	g, _ := loadgen.NewGenerator(cfg)
	total := g.Rows()
	var progress func(int64)
	start := time.Now()
	if isTerminal(os.Stderr) {
		last := time.Now()
		progress = func(rows int64) {
			if time.Since(last) < 500*time.Millisecond && rows < total {
				return
			}
			last = time.Now()
			el := time.Since(start).Seconds()
			fmt.Fprintf(stderr, "\rloadgen: %d / %d rows (%.1f %%), %.1f M rows/s   ", rows, total,
				100*float64(rows)/float64(max(total, 1)), float64(rows)/el/1e6)
			if rows == total {
				fmt.Fprintln(stderr)
			}
		}
	}
	_, err := loadgen.WriteCSV(w, cfg, progress)
	if err == nil && zw != nil {
		err = zw.Close()
	}
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadgen generate: %v\n", err)
		return 1
	}
	return 0
}

func stats(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "loadgen stats: want exactly one FILE (plain, .gz, or - for stdin)\n%s\n", usage)
		return 2
	}
	name := fs.Arg(0)
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen stats: %v\n", err)
			return 2
		}
		defer f.Close()
		r = f
	}
	var onDisk int64 = -1 // compressed size, for the gzip row of the table
	if strings.HasSuffix(name, ".gz") {
		if st, err := os.Stat(name); err == nil {
			onDisk = st.Size()
		}
		zr, err := gzip.NewReader(r)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen stats: %s: %v\n", name, err)
			return 1
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
		return 1
	}
	s.GzipBytes = onDisk
	s.WriteTable(stdout, name)
	return 0
}

// isTerminal reports whether f is a character device (a terminal), where
// progress lines make sense.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
