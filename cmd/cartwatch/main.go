// Command cartwatch finds abandoned shopping carts in an e-commerce
// clickstream: `cartwatch run` reads the 2019-Nov CSV schema from a file,
// stdin or the synthetic generator and writes one JSON line per abandoned
// cart and a summary. See docs/semantics.md for the exact rules.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"sync"
	"time"

	"github.com/cartwatch/cartwatch/core"
	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/loadgen"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the run failed: unreadable input, unwritable output
	exitUsage = 2 // bad command line
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usageTop = `usage: cartwatch run [flags] [FILE|-]

cartwatch reads 2019-Nov clickstream CSV (a file, .gz, or - for stdin) or,
with --synthetic, the loadgen month in process, and reports every abandoned
cart. Run 'cartwatch run --help' for the flags.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usageTop)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if args[0] != "run" {
		fmt.Fprintf(stderr, "cartwatch: unknown command %q\n\n%s", args[0], usageTop)
		return exitUsage
	}
	return runCmd(args[1:], stdout, stderr)
}

type runFlags struct {
	opt       core.Options
	atEOF     string
	alerts    string
	rejects   string
	summary   string
	synthetic bool
	gen       loadgen.Config
	progress  string
	cpuprof   string
	memprof   string
	tracef    string
	input     string
}

func parseRunFlags(args []string, stdout io.Writer) (*runFlags, error) {
	f := &runFlags{}
	fs := flag.NewFlagSet("cartwatch run", flag.ContinueOnError)
	// Errors are printed once, by runCmd; --help prints the flags.
	fs.SetOutput(io.Discard)
	fs.DurationVar(&f.opt.TTL, "ttl", 30*time.Minute, "a cart is abandoned this long after its last cart event (5m was the prototype's window)")
	fs.DurationVar(&f.opt.Lateness, "lateness", 0, "allowed lateness: the watermark is the highest event time seen minus this")
	fs.StringVar(&f.atEOF, "at-eof", "abandon", "at the end of input: abandon every open cart, or keep them open (reported as open_carts)")
	fs.BoolVar(&f.opt.ExtendOnActivity, "extend-on-activity", false, "any event of a user with an open cart moves its deadline to that event's time + ttl")
	fs.StringVar(&f.alerts, "alerts", "", "write one JSON line per abandoned cart to FILE, or - for stdout (default: not written)")
	fs.StringVar(&f.rejects, "rejects", "", "write every malformed row's line number and reason to FILE")
	fs.StringVar(&f.summary, "summary", "text", "summary format: text or json (one JSON object on stdout)")
	fs.BoolVar(&f.synthetic, "synthetic", false, "read loadgen's synthetic month in process instead of a file (see --rows, --scale, --seed)")
	f.gen.AddFlags(fs)
	fs.IntVar(&f.opt.Shards, "shards", 0, "session table shards, one goroutine each (0: GOMAXPROCS); never changes the output")
	fs.IntVar(&f.opt.Parsers, "parsers", 0, "parsing goroutines (0: GOMAXPROCS); never changes the output")
	fs.IntVar(&f.opt.ChunkBytes, "chunk-size", 0, "input chunk size in bytes (0: 4 MiB); never changes the output")
	fs.StringVar(&f.progress, "progress", "auto", "progress bar on stderr: auto (when stderr is a terminal), on, off")
	fs.StringVar(&f.cpuprof, "cpuprofile", "", "write a CPU profile to FILE")
	fs.StringVar(&f.memprof, "memprofile", "", "write a heap profile to FILE at the end")
	fs.StringVar(&f.tracef, "trace", "", "write a runtime execution trace to FILE (go tool trace)")
	fs.Usage = func() {} // errors are reported by runCmd, --help below
	help := func() {
		fs.SetOutput(stdout)
		fmt.Fprint(stdout, "usage: cartwatch run [flags] [FILE|-]\n\nflags:\n")
		fs.PrintDefaults()
	}
	// Flags may come before or after the input name.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				help()
			}
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch {
	case len(pos) > 1:
		return nil, fmt.Errorf("one input expected, got %d: %s", len(pos), strings.Join(pos, " "))
	case len(pos) == 1 && f.synthetic:
		return nil, fmt.Errorf("give either an input file (%s) or --synthetic, not both", pos[0])
	case len(pos) == 0 && !f.synthetic:
		return nil, errors.New("no input: give a CSV file, - for stdin, or --synthetic")
	case len(pos) == 1:
		f.input = pos[0]
	}
	switch f.atEOF {
	case "abandon":
	case "keep":
		f.opt.KeepAtEOF = true
	default:
		return nil, fmt.Errorf("--at-eof %q: want abandon or keep", f.atEOF)
	}
	if f.summary != "text" && f.summary != "json" {
		return nil, fmt.Errorf("--summary %q: want text or json", f.summary)
	}
	if f.progress != "auto" && f.progress != "on" && f.progress != "off" {
		return nil, fmt.Errorf("--progress %q: want auto, on or off", f.progress)
	}
	if f.opt.TTL <= 0 || f.opt.TTL%time.Second != 0 {
		return nil, fmt.Errorf("--ttl %v: want a positive whole number of seconds, e.g. 30m", f.opt.TTL)
	}
	if f.opt.Lateness < 0 || f.opt.Lateness%time.Second != 0 {
		return nil, fmt.Errorf("--lateness %v: want a non-negative whole number of seconds", f.opt.Lateness)
	}
	if f.opt.Shards < 0 || f.opt.Parsers < 0 || f.opt.ChunkBytes < 0 {
		return nil, errors.New("--shards, --parsers and --chunk-size must not be negative")
	}
	if f.synthetic {
		if err := f.gen.Validate(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func runCmd(args []string, stdout, stderr io.Writer) int {
	f, err := parseRunFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "cartwatch run: %v\n(cartwatch run --help lists the flags)\n", err)
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "cartwatch run: %v\n", err)
		return exitError
	}

	// Where the summary goes: stdout, unless the alerts take it.
	sumOut := stdout
	var closers []func() error
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	openOut := func(path, what string) (io.Writer, error) {
		if path == "-" {
			sumOut = stderr
			return stdout, nil
		}
		fh, err := os.Create(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		closers = append(closers, fh.Close)
		return fh, nil
	}
	if f.alerts != "" {
		if f.opt.Alerts, err = openOut(f.alerts, "--alerts"); err != nil {
			return fail(err)
		}
	}
	if f.rejects != "" {
		if f.rejects == "-" {
			return fail(errors.New("--rejects needs a file name"))
		}
		if f.opt.Rejects, err = openOut(f.rejects, "--rejects"); err != nil {
			return fail(err)
		}
	}
	f.opt.RejectLog = stderr

	if f.cpuprof != "" {
		pf, err := os.Create(f.cpuprof)
		if err != nil {
			return fail(fmt.Errorf("--cpuprofile: %w", err))
		}
		pprof.StartCPUProfile(pf)
		defer func() { pprof.StopCPUProfile(); pf.Close() }()
	}

	if f.tracef != "" {
		tf, err := os.Create(f.tracef)
		if err != nil {
			return fail(fmt.Errorf("--trace: %w", err))
		}
		trace.Start(tf)
		defer func() { trace.Stop(); tf.Close() }()
	}

	prog := new(core.Progress)
	var total int64 // bytes (file) or rows (synthetic) for the progress bar; 0 unknown
	var sum core.Summary
	var runErr error
	stopBar := startProgress(f.progress, stderr, prog, &total, f.synthetic)
	if f.synthetic {
		g, err := loadgen.NewGenerator(f.gen)
		if err != nil {
			stopBar()
			return fail(err)
		}
		total = g.Rows()
		f.opt.ExpectedRows = total
		// The engine's columnar input: a view's time, type and user only.
		batch := f.opt.BatchEvents
		if batch <= 0 {
			batch = 64 << 10
		}
		sum, runErr = core.Run(context.Background(), core.BlockSource(func(b *event.Block) int { return g.ReadBlock(b, batch) }), f.opt, prog)
		g.Close()
	} else {
		if f.input != "-" && !strings.HasSuffix(f.input, ".gz") {
			if st, err := os.Stat(f.input); err == nil {
				total = st.Size()
			}
		}
		src, err := core.OpenFile(f.input, core.FileOptions{Progress: prog})
		if err != nil {
			stopBar()
			return fail(err)
		}
		sum, runErr = core.Run(context.Background(), src, f.opt, prog)
	}
	stopBar()
	if runErr != nil {
		return fail(runErr)
	}
	if f.memprof != "" {
		if mf, err := os.Create(f.memprof); err == nil {
			runtime.GC()
			pprof.WriteHeapProfile(mf)
			mf.Close()
		}
	}
	for _, c := range closers {
		if err := c(); err != nil {
			return fail(err)
		}
	}
	closers = nil
	if f.summary == "json" {
		err = sum.WriteJSON(sumOut)
	} else {
		err = sum.WriteText(sumOut)
	}
	if err != nil {
		return fail(fmt.Errorf("writing summary: %w", err))
	}
	return exitOK
}

// startProgress draws a progress bar on stderr every 200 ms when it is a
// terminal (or --progress on) and returns the function that erases it.
func startProgress(mode string, stderr io.Writer, prog *core.Progress, total *int64, rows bool) func() {
	if mode == "off" {
		return func() {}
	}
	if mode == "auto" {
		fh, ok := stderr.(*os.File)
		if !ok {
			return func() {}
		}
		st, err := fh.Stat()
		if err != nil || st.Mode()&os.ModeCharDevice == 0 {
			return func() {}
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(stderr, "\r\033[K")
				return
			case <-t.C:
			}
			cur := prog.Bytes.Load()
			if rows {
				cur = prog.Rows.Load()
			}
			frac := 0.0
			if *total > 0 {
				frac = min(1, float64(cur)/float64(*total))
			}
			const width = 30
			n := int(frac * width)
			bar := strings.Repeat("=", n) + strings.Repeat(" ", width-n)
			fmt.Fprintf(stderr, "\r[%s] %3.0f%%  %.1fM rows  %.1fs", bar, frac*100,
				float64(prog.Rows.Load())/1e6, time.Since(start).Seconds())
		}
	}()
	return func() { close(done); wg.Wait() }
}
