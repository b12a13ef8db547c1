package main

import (
	"bufio"
	"compress/gzip"
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

var generateCmd = &command{
	name:    "generate",
	summary: "write the synthetic month as CSV, to stdout or -o FILE",
	about: `generate writes loadgen's synthetic 2019-Nov month as CSV, header first, in time
order: by default the full month, 67,501,979 rows, about 9 GB; --rows or --scale
take less. The output is a pure function of --rows/--scale, --days, --seed and
--no-gaps. -o FILE.gz is gzipped.

--direct writes FILE with O_DIRECT, bypassing the page cache: it saves the
kernel's copy, so writing takes less CPU and less time, but the file is then
not in memory. It is off by default because the next step is usually
cartwatch run FILE, which reads the month from the page cache after a
buffered write 3-4 times faster than from the disk after --direct, more than
--direct saved (results/notes/dataset-fidelity.md). Use it when the file is not
read back soon, or when the page cache is needed for something else.`,
	newFlags: func() *flag.FlagSet { fs, _ := generateFlags(); return fs },
	run:      generate,
}

// generateOpts are generate's flags.
type generateOpts struct {
	cfg                            loadgen.Config
	out, format, cpuprofile, trace string
	direct                         bool
}

func generateFlags() (*flag.FlagSet, *generateOpts) {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	o := new(generateOpts)
	o.cfg.AddFlags(fs)
	fs.StringVar(&o.out, "o", "-", "output `FILE`; - for stdout; gzip when the name ends in .gz")
	fs.BoolVar(&o.direct, "direct", false, "write -o FILE with O_DIRECT, bypassing the page cache: faster, but the file is not cached for the next reader, hence off by default (not for - or .gz)")
	fs.StringVar(&o.format, "format", "csv", "output format: `csv` (the 2019-Nov text format), the only one supported")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile to `FILE`")
	fs.StringVar(&o.trace, "trace", "", "write a runtime execution trace to `FILE` (go tool trace)")
	return fs, o
}

func generate(args []string, stdout, stderr io.Writer) int {
	c := lookup("generate")
	fs, o := generateFlags()
	pos, code := c.parse(fs, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	if len(pos) > 0 {
		return c.usageError(stderr, "unexpected argument %q (generate takes only flags; the output is -o FILE)", pos[0])
	}
	if o.format != "csv" {
		return c.usageError(stderr, "unknown --format %q (supported: csv)", o.format)
	}
	if err := o.cfg.Validate(); err != nil {
		return c.usageError(stderr, "%v", err)
	}
	if o.direct && (o.out == "-" || strings.HasSuffix(o.out, ".gz")) {
		fmt.Fprintf(stderr, "loadgen generate: --direct writes a plain regular file, not -o %s (drop --direct)\n", o.out)
		return exitUsage
	}
	// A regular file (or a new one) that is not gzipped is written by a
	// loadgen.File, into which WriteCSV renders in place; anything else
	// (stdout, a device, a pipe, a .gz) takes whole hours through Write.
	asFile := o.out != "-" && !strings.HasSuffix(o.out, ".gz")
	if st, err := os.Stat(o.out); asFile && err == nil && !st.Mode().IsRegular() {
		if o.direct {
			fmt.Fprintf(stderr, "loadgen generate: --direct writes a regular file; -o %s is not one (drop --direct)\n", o.out)
			return exitUsage
		}
		asFile = false
	}
	if asFile {
		// One P more than the default, for the goroutines that block in
		// the disk writes: with a P per core, a writer returning from its
		// write waited for a P held by a busy worker while the disk idled.
		// Month with --direct, 2 rounds side by side: 10.33 and 9.36 s
		// with GOMAXPROCS=2, 7.32 and 8.57 s with 3 (and 3 workers). The
		// buffered File was measured with it too (results/notes/dataset-fidelity.md).
		runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
	}
	if o.cpuprofile != "" {
		pf, err := os.Create(o.cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen generate: cannot write --cpuprofile %s: %v\n", o.cpuprofile, err)
			return exitUsage
		}
		defer pf.Close()
		pprof.StartCPUProfile(pf)
		defer pprof.StopCPUProfile()
	}
	if o.trace != "" {
		tf, err := os.Create(o.trace)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen generate: cannot write --trace %s: %v\n", o.trace, err)
			return exitUsage
		}
		defer tf.Close()
		trace.Start(tf)
		defer trace.Stop()
	}
	var w io.Writer = stdout
	var f io.WriteCloser
	if o.out != "-" {
		var err error
		if asFile {
			f, err = loadgen.CreateFile(o.out, o.direct, func(reason error) {
				fmt.Fprintf(stderr, "loadgen generate: note: %s written buffered, O_DIRECT refused: %v\n", o.out, reason)
			})
		} else {
			f, err = os.Create(o.out)
		}
		if err != nil {
			fmt.Fprintf(stderr, "loadgen generate: cannot write -o %s: %v\n", o.out, err)
			return exitUsage
		}
		w = f
	}
	var zw *gzip.Writer
	if strings.HasSuffix(o.out, ".gz") {
		zw, _ = gzip.NewWriterLevel(w, gzip.BestSpeed)
		w = zw
	} else if f == nil {
		// Large writes to a pipe or terminal.
		bw := bufio.NewWriterSize(w, 1<<20)
		defer bw.Flush()
		w = bw
	}
	g, _ := loadgen.NewGenerator(o.cfg)
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
	_, err := loadgen.WriteCSV(w, o.cfg, progress)
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
		return exitError
	}
	return exitOK
}
