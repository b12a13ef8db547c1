package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strings"

	"github.com/cartwatch/cartwatch/core"
	"github.com/cartwatch/cartwatch/dash"
	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/loadgen"
	"github.com/cartwatch/cartwatch/metrics"
)

// usageExit ends a command whose arguments did not parse: for --help its
// help on stdout and exit 0, else the error and a pointer to the help on
// stderr and exit 2. done is false when err is nil.
func usageExit(cmd string, err error, stdout, stderr io.Writer, help func(io.Writer)) (code int, done bool) {
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		help(stdout)
		return exitOK, true
	}
	fmt.Fprintf(stderr, "cartwatch %s: %v\n(cartwatch %s --help lists the flags)\n", cmd, err, cmd)
	return exitUsage, true
}

// runCmd is `cartwatch run`. The order is what keeps files safe: the
// command line is checked in full, then the input is opened, and only then
// are outputs created (as temporary files, renamed over their targets when
// the run succeeds).
func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseRunFlags(args)
	if err == nil {
		err = checkPaths(f.input, f.outputs())
	}
	var ln net.Listener
	if err == nil && f.http != "" {
		ln, err = listenHTTP(f.http)
	}
	if code, done := usageExit("run", err, stdout, stderr, printRunHelp); done {
		return code
	}
	var ph phase
	ph.set("opening the input")
	if ln != nil {
		f.opt.Live = new(core.Live)
		title := "cartwatch run: " + filepath.Base(f.input)
		if f.input == "-" || f.input == "" {
			title = "cartwatch run: standard input"
		}
		// The alerts go to --alerts by the engine's own writer: the page
		// has no latest alerts (no Alerts in the LiveSource, "—").
		board := newBoard(title, &ph, &dash.LiveSource{Live: f.opt.Live})
		srv := serveHTTP(ln, newMux(metrics.New(metrics.Sources{Live: f.opt.Live}), board))
		defer srv.stop()
		// Before the server's stop: the stopped event with the phase the
		// run ended in, then the streams end.
		defer func() {
			board.Stop()
			board.Close()
		}()
		fmt.Fprintf(stderr, "cartwatch run: serving /metrics on http://%s; dashboard: http://%s/\n", ln.Addr(), ln.Addr())
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "cartwatch run: %v\n", err)
		ph.set("failed: " + err.Error())
		return exitError
	}
	interrupted := func() int {
		fmt.Fprintln(stderr, "cartwatch run: interrupted before the run started; no output written")
		return exitInterrupted
	}

	prog := new(core.Progress)
	src, rowsTotal, err := openSource(ctx, f, prog)
	if ctx.Err() != nil {
		if err == nil {
			src.Close()
		}
		return interrupted()
	}
	if err != nil {
		return fail(err)
	}

	// The outputs, each a temporary file until the end (output.go).
	var results, profiles []*outFile
	abandon := func() {
		src.Close()
		for _, o := range append(results, profiles...) {
			o.discard()
		}
	}
	sumOut := stdout
	for _, p := range f.outputs() {
		if p.path == "-" {
			sumOut = stderr
			switch p.flag {
			case "--alerts":
				f.opt.Alerts = stdout
			case "--rejects":
				f.opt.Rejects = stdout
			}
			continue
		}
		o, err := createOutput(p.flag, p.path)
		if err != nil {
			abandon()
			return fail(err)
		}
		switch p.flag {
		case "--alerts":
			f.opt.Alerts = o.f
			results = append(results, o)
		case "--rejects":
			f.opt.Rejects = o.f
			results = append(results, o)
		default:
			profiles = append(profiles, o)
		}
	}
	profile := func(flag string) *outFile {
		for _, o := range profiles {
			if o.flag == flag {
				return o
			}
		}
		return nil
	}
	cpu, mem, tr := profile("--cpuprofile"), profile("--memprofile"), profile("--trace")
	if cpu != nil {
		if err := pprof.StartCPUProfile(cpu.f); err != nil {
			abandon()
			return fail(cpu.wrap(err))
		}
	}
	if tr != nil {
		if err := trace.Start(tr.f); err != nil {
			if cpu != nil {
				pprof.StopCPUProfile()
			}
			abandon()
			return fail(tr.wrap(err))
		}
	}

	mode := f.progress
	if mode == "auto" && sumOut == stderr {
		if _, tty := termWidth(asFile(stdout)); tty {
			mode = "off" // alerts or rejects on the terminal: no bar among them
		}
	}
	bar := startProgress(mode, stderr, prog, rowsTotal)
	warn := bar.Writer(stderr)
	f.opt.RejectLog = warn
	stopNote := context.AfterFunc(ctx, func() {
		fmt.Fprintln(warn, "cartwatch run: interrupted: stopping; the summary so far follows (interrupt again to exit at once)")
	})
	ph.set("running")
	sum, runErr := core.Run(ctx, src, f.opt, prog)
	switch {
	case sum.Interrupted:
		ph.set("interrupted: the figures so far")
	case runErr != nil:
		ph.set("failed: " + runErr.Error())
	default:
		ph.set("done: the input is read and every cart has fallen due")
	}
	stopNote()
	bar.Stop()
	// A signal after the end of the run does not undo it: Interrupted only.
	stopped := sum.Interrupted

	// Profiles describe the run that happened, whatever its end: they are
	// always written.
	var errs []error
	if tr != nil {
		trace.Stop()
	}
	if cpu != nil {
		pprof.StopCPUProfile()
	}
	if mem != nil {
		runtime.GC()
		if err := pprof.WriteHeapProfile(mem.f); err != nil {
			errs = append(errs, mem.wrap(err))
		}
	}
	for _, o := range profiles {
		if err := o.commit(); err != nil {
			errs = append(errs, err)
		}
	}

	// The results replace their targets only after a complete run.
	switch {
	case stopped:
		msg := "interrupted: partial results"
		for _, o := range results {
			if name := o.keep(); name != "" {
				msg += fmt.Sprintf("; %s, partial output kept in %s", o.untouched(), name)
			}
		}
		fmt.Fprintf(stderr, "cartwatch run: %s\n", msg)
	case runErr != nil:
		var kept []string
		for _, o := range results {
			o.discard()
			if !o.direct {
				kept = append(kept, o.untouched())
			}
		}
		fmt.Fprintf(stderr, "cartwatch run: %v\n", errors.Join(append([]error{runErr}, errs...)...))
		if len(kept) > 0 {
			fmt.Fprintf(stderr, "cartwatch run: %s\n", strings.Join(kept, ", "))
		}
		return exitError
	default:
		for _, o := range results {
			if err := o.commit(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		fail(err)
		if !stopped {
			return exitError
		}
	}
	if f.summary == "json" {
		err = sum.WriteJSON(sumOut)
	} else {
		err = sum.WriteText(sumOut)
	}
	switch {
	case stopped:
		return exitInterrupted
	case err != nil:
		return fail(fmt.Errorf("writing the summary: %w", err))
	}
	return exitOK
}

// outputs lists the output files of the command line, results first.
func (f *runFlags) outputs() []namedPath {
	var out []namedPath
	for _, p := range []namedPath{{"--alerts", f.alerts}, {"--rejects", f.rejects},
		{"--cpuprofile", f.cpuprof}, {"--memprofile", f.memprof}, {"--trace", f.tracef}} {
		if p.path != "" {
			out = append(out, p)
		}
	}
	return out
}

// openSource opens the input of the run: the synthetic generator, or a
// file. rowsTotal is the number of rows when known.
func openSource(ctx context.Context, f *runFlags, prog *core.Progress) (src core.Source, rowsTotal int64, err error) {
	if f.synthetic {
		g, err := loadgen.NewGenerator(f.gen)
		if err != nil {
			return nil, 0, err
		}
		f.opt.ExpectedRows = g.Rows()
		// The engine's columnar input: a view's time, type and user only.
		batch := f.opt.BatchEvents
		if batch <= 0 {
			batch = 64 << 10
		}
		src := core.BlockSource(func(b *event.Block) int { return g.ReadBlock(b, batch) })
		return genSource{src, g}, g.Rows(), nil
	}
	// OpenFile can wait long: for the writer of a FIFO, for the first
	// line of a silent pipe. ctx's end does not wait for it: the process
	// exits, and a source opened after all is closed.
	type opened struct {
		src core.Source
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		src, err := core.OpenFile(f.input, core.FileOptions{Member: f.member, Progress: prog})
		ch <- opened{src, err}
	}()
	select {
	case o := <-ch:
		return o.src, 0, o.err
	case <-ctx.Done():
		go func() {
			if o := <-ch; o.src != nil {
				o.src.Close()
			}
		}()
		return nil, 0, context.Cause(ctx)
	}
}

// genSource closes the generator with the source.
type genSource struct {
	core.Source
	g *loadgen.Generator
}

func (s genSource) Close() error { return errors.Join(s.Source.Close(), s.g.Close()) }

// asFile is w as an *os.File, or nil.
func asFile(w io.Writer) *os.File {
	f, _ := w.(*os.File)
	return f
}
