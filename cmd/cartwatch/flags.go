package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cartwatch/cartwatch/core"
	"github.com/cartwatch/cartwatch/kafka"
	"github.com/cartwatch/cartwatch/loadgen"
)

// runFlags is the parsed command line of `cartwatch run`.
type runFlags struct {
	opt       core.Options
	maxFuture time.Duration
	recovery  time.Duration
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
	member    string
	input     string
	http      string
}

// Limits of the command line beyond core.Options' own (core.MaxShards,
// core.MaxParsers): a chunk below 64 KiB only multiplies the hand-offs (the
// engine takes down to 64 bytes for its tests), and core.MaxChunkBytes is 1 GiB.
const minChunkFlag = 64 << 10

// flagGroups orders the flags in the help and in README.md's table (the
// test TestHelpMatchesREADME keeps the two equal). A flag of the FlagSet
// missing here is a test failure too.
var flagGroups = []flagGroup{
	{"detection", []string{"ttl", "lateness", "extend-on-activity", "at-eof", "max-future", "recovery-window"}},
	{"output", []string{"alerts", "rejects", "summary", "progress"}},
	{"input", []string{"member", "synthetic"}},
	{"generator (only with --synthetic)", nil}, // filled from loadgen.Config.AddFlags
	{"parallelism (never changes the output)", []string{"shards", "parsers", "chunk-size"}},
	{"profiling", []string{"cpuprofile", "memprofile", "trace"}},
	{"observability", []string{"http"}},
}

// argNames are the placeholders of the flags' values in the help.
var argNames = map[string]string{
	"ttl": "DURATION", "lateness": "DURATION", "max-future": "DURATION", "recovery-window": "DURATION",
	"at-eof": "abandon|keep", "summary": "text|json", "progress": "auto|on|off",
	"alerts": "FILE|-", "rejects": "FILE|-", "cpuprofile": "FILE", "memprofile": "FILE", "trace": "FILE", "http": "ADDR",
	"shards": "N", "parsers": "N", "chunk-size": "BYTES", "member": "NAME",
	"rows": "N", "scale": "F", "days": "D", "seed": "S", "workers": "N",
}

// generatorFlags are the names loadgen.Config.AddFlags registers, in order.
func generatorFlags() []string {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	var c loadgen.Config
	c.AddFlags(fs)
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

// newRunFlagSet registers every flag of `cartwatch run` on a new FlagSet.
func newRunFlagSet(f *runFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("cartwatch run", flag.ContinueOnError)
	// Errors are printed once, by runCmd; --help prints the flags.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.DurationVar(&f.opt.TTL, "ttl", 30*time.Minute, "a cart is abandoned this long after its last cart event (5m was the prototype's window)")
	fs.DurationVar(&f.opt.Lateness, "lateness", 0, "allowed lateness: the watermark is the highest event time seen minus this")
	fs.BoolVar(&f.opt.ExtendOnActivity, "extend-on-activity", false, "any event of a user with an open cart moves its deadline to that event's time + ttl")
	fs.StringVar(&f.atEOF, "at-eof", "abandon", "at the end of input: abandon every open cart, or keep them open (counted as open_carts)")
	fs.DurationVar(&f.maxFuture, "max-future", 24*time.Hour, "a row later than the wall clock plus this is malformed (time in the future); 0: none after now, negative: no limit")
	fs.DurationVar(&f.recovery, "recovery-window", 24*time.Hour, recoveryUsage)
	fs.StringVar(&f.alerts, "alerts", "", "write one JSON line per abandoned cart to FILE, or - for stdout")
	fs.StringVar(&f.rejects, "rejects", "", "write the line number and reason of each malformed row to FILE, or - for stdout (the first 10 also go to stderr)")
	fs.StringVar(&f.summary, "summary", "text", "summary format: text, or json (one JSON object); on stdout, or on stderr when an output is -")
	fs.StringVar(&f.progress, "progress", "auto", "progress line on stderr: auto (when stderr is a terminal), on, off")
	fs.StringVar(&f.member, "member", "", "the member of a .zip input to read (default: its single .csv member)")
	fs.BoolVar(&f.synthetic, "synthetic", false, "read loadgen's synthetic month in process instead of a file")
	f.gen.AddFlags(fs)
	fs.IntVar(&f.opt.Shards, "shards", 0, fmt.Sprintf("session table shards, one goroutine each, 1 to %d (0: GOMAXPROCS)", core.MaxShards))
	fs.IntVar(&f.opt.Parsers, "parsers", 0, fmt.Sprintf("parsing goroutines, 1 to %d (0: GOMAXPROCS)", core.MaxParsers))
	fs.IntVar(&f.opt.ChunkBytes, "chunk-size", 0, "bytes of input per batch, 64 KiB to 1 GiB (0: 4 MiB)")
	fs.StringVar(&f.cpuprof, "cpuprofile", "", "write a CPU profile to FILE (go tool pprof)")
	fs.StringVar(&f.memprof, "memprofile", "", "write a heap profile to FILE at the end")
	fs.StringVar(&f.tracef, "trace", "", "write a runtime execution trace to FILE (go tool trace)")
	fs.StringVar(&f.http, "http", "", httpUsage+"; off unless given")
	return fs
}

const recoveryUsage = "a purchase this long after a user's last cart was abandoned recovers it (counted, with the cart's value, in the summary); 0: off"

// recoveryWindow maps --recovery-window to core.Options.RecoveryWindow,
// where 0 is the default and off is negative; Validate checks the rest.
func recoveryWindow(d time.Duration) (time.Duration, error) {
	switch {
	case d < 0:
		return 0, usagef("--recovery-window %v: want a duration up to 8760h, or 0 for off", d)
	case d == 0:
		return -1, nil
	}
	return d, nil
}

// usageError is a bad command line: exit 2.
type usageError struct{ error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// parseFlagSet parses args with fs: its error is flag.ErrHelp, or a
// usageError naming the flag.
func parseFlagSet(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageError{flagError(fs, err)}
}

// parseInputArgs parses args with fs, flags before or after the one input
// name (after "--" every argument is an input name), and returns the input
// name: "" with --synthetic (*synthetic, read after parsing). Every error it
// returns is a usageError, or flag.ErrHelp.
func parseInputArgs(fs *flag.FlagSet, args []string, synthetic *bool) (string, error) {
	var pos []string
	for {
		if err := parseFlagSet(fs, args); err != nil {
			return "", err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) > 1:
		return "", usagef("one input expected, got %d: %s", len(pos), strings.Join(pos, " "))
	case len(pos) == 1 && *synthetic:
		return "", usagef("give either an input file (%s) or --synthetic, not both", pos[0])
	case len(pos) == 0 && !*synthetic:
		return "", usagef("no input: give a CSV file, - for stdin, or --synthetic")
	case len(pos) == 1:
		return pos[0], nil
	}
	return "", nil
}

// parseRunFlags parses and checks the arguments of `cartwatch run`: every
// error it returns is a usageError, or flag.ErrHelp.
func parseRunFlags(args []string) (*runFlags, error) {
	f := &runFlags{}
	fs := newRunFlagSet(f)
	input, err := parseInputArgs(fs, args, &f.synthetic)
	if err != nil {
		return nil, err
	}
	f.input = input
	if f.member != "" && f.synthetic {
		return nil, usagef("--member %q: the member of a zip input, not with --synthetic", f.member)
	}
	if given := f.gen.FlagsGiven(); len(given) > 0 && !f.synthetic {
		return nil, usagef("--%s: a generator flag, only with --synthetic", strings.Join(given, ", --"))
	}
	switch f.atEOF {
	case "abandon":
	case "keep":
		f.opt.KeepAtEOF = true
	default:
		return nil, usagef("--at-eof %q: want abandon or keep", f.atEOF)
	}
	if f.summary != "text" && f.summary != "json" {
		return nil, usagef("--summary %q: want text or json", f.summary)
	}
	if f.progress != "auto" && f.progress != "on" && f.progress != "off" {
		return nil, usagef("--progress %q: want auto, on or off", f.progress)
	}
	// core.Options takes 0 for its defaults; on the command line 0 is a
	// value like any other.
	if f.opt.TTL <= 0 {
		return nil, usagef("--ttl %v: want a positive whole number of seconds, e.g. 30m", f.opt.TTL)
	}
	switch {
	case f.maxFuture == 0:
		f.opt.MaxFuture = time.Nanosecond // nothing after the current second
	case f.maxFuture < 0:
		f.opt.MaxFuture = -1
	default:
		f.opt.MaxFuture = f.maxFuture
	}
	if f.opt.RecoveryWindow, err = recoveryWindow(f.recovery); err != nil {
		return nil, err
	}
	if c := f.opt.ChunkBytes; c != 0 && (c < minChunkFlag || c > core.MaxChunkBytes) {
		return nil, usagef("--chunk-size %d: want %d (64 KiB) to %d (1 GiB) bytes (0: 4 MiB)", c, minChunkFlag, core.MaxChunkBytes)
	}
	if err := f.opt.Validate(); err != nil {
		// *core.OptionError names the option by its flag: --shards 100000: ...
		return nil, usageError{err}
	}
	if f.synthetic {
		if err := f.gen.Validate(); err != nil {
			return nil, usageError{err}
		}
	}
	if f.rejects == "-" && f.alerts == "-" {
		return nil, usagef("--alerts - and --rejects -: refusing to write both to stdout")
	}
	for _, o := range []struct{ flag, path string }{{"cpuprofile", f.cpuprof}, {"memprofile", f.memprof}, {"trace", f.tracef}} {
		if o.path == "-" {
			return nil, usagef("--%s -: want a file name (only --alerts and --rejects can go to stdout)", o.flag)
		}
	}
	return f, nil
}

// flagError is an error of flag.FlagSet.Parse in the words of this help:
// the flag with two dashes, and what a duration looks like.
func flagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	for _, p := range []string{"for flag -", "not defined: -", "needs an argument: -"} {
		if i := strings.Index(msg, p); i >= 0 {
			name := msg[i+len(p):]
			if j := strings.IndexByte(name, ':'); j >= 0 {
				name = name[:j]
			}
			msg = msg[:i+len(p)] + "-" + msg[i+len(p):]
			if fl := fs.Lookup(name); fl != nil {
				if isDuration(fl) {
					msg += " (want a duration such as 90s, 30m or 1h30m)"
				}
			}
		}
	}
	return errors.New(msg)
}

// printRunHelp writes the help of `cartwatch run`: README.md's table of its
// flags, as text.
func printRunHelp(w io.Writer) {
	fmt.Fprint(w, `usage: cartwatch run [flags] FILE|-
       cartwatch run --synthetic [generator flags] [flags]

Reads clickstream CSV in the 2019-Nov schema from FILE (plain or gzip, by
content) or - for stdin, and reports every abandoned cart. Flags may come
before or after FILE. The rules: docs/semantics.md.

--alerts and --rejects are written to a temporary file beside their target
and renamed over it when the run succeeds. A failed run leaves the target as
it was; so does an interrupted one, which keeps its partial output in the
temporary file and prints its name. An output that is the input or another
output is refused. Profiles are written whatever the end of the run.

Exit codes: 0 done, 1 the run failed (unreadable input, no valid row, an
output that cannot be written), 2 bad command line, 130 interrupted (SIGINT,
SIGTERM; the summary so far is printed; a second signal exits at once).
`)
	printFlagGroups(w, helpGroups(), flagTitle)
}

type helpGroup struct {
	title string
	flags []*flag.Flag
}

// securityGroup is the TLS and SASL flags (kafka.Flags) in the help of
// every command that talks to a real broker.
var securityGroup = flagGroup{"security (TLS, SASL; the password: --sasl-password-file or $" + kafka.PasswordEnv + ")", kafka.SecurityFlags}

// flagGroup names the flags of one group of a command's help, in order; nil
// names stand for the generator flags (loadgen.Config.AddFlags).
type flagGroup struct {
	title string
	names []string
}

// helpGroups returns the flags of run by group, in flagGroups' order.
func helpGroups() []helpGroup { return groupFlags(newRunFlagSet(&runFlags{}), flagGroups) }

// groupFlags returns the flags of fs by group, in the order of groups.
func groupFlags(fs *flag.FlagSet, groups []flagGroup) []helpGroup {
	var out []helpGroup
	for _, g := range groups {
		names := g.names
		if names == nil {
			names = generatorFlags()
		}
		hg := helpGroup{title: g.title}
		for _, n := range names {
			if fl := fs.Lookup(n); fl != nil {
				hg.flags = append(hg.flags, fl)
			}
		}
		out = append(out, hg)
	}
	return out
}

// printFlagGroups writes the flags of a command's help, group by group,
// each as title(fl), its default and its usage.
func printFlagGroups(w io.Writer, groups []helpGroup, title func(*flag.Flag) string) {
	for _, g := range groups {
		fmt.Fprintf(w, "\n%s:\n", g.title)
		for _, fl := range g.flags {
			fmt.Fprintf(w, "  %s", title(fl))
			if d := defaultText(fl); d != "" {
				fmt.Fprintf(w, " (default %s)", d)
			}
			fmt.Fprintf(w, "\n        %s\n", flagUsage(fl))
		}
	}
}

// flagTitle is "--name ARG", or "--name" for a boolean flag. ARG is from
// argNames, else the usage's `quoted` word (flag.UnquoteUsage).
func flagTitle(fl *flag.Flag) string {
	arg, _ := flag.UnquoteUsage(fl)
	if a, ok := argNames[fl.Name]; ok {
		arg = a
	}
	if arg == "" {
		return "--" + fl.Name
	}
	return "--" + fl.Name + " " + arg
}

// flagUsage is a flag's usage without the quotes of its `ARG`.
func flagUsage(fl *flag.Flag) string {
	_, usage := flag.UnquoteUsage(fl)
	return usage
}

func isDuration(fl *flag.Flag) bool {
	g, ok := fl.Value.(flag.Getter)
	if !ok {
		return false
	}
	_, ok = g.Get().(time.Duration)
	return ok
}

// defaultText is a flag's default as the help shows it: none for a zero
// value (the usage says what 0 means), durations without their zero tails
// (30m, 24h).
func defaultText(fl *flag.Flag) string {
	d := fl.DefValue
	switch d {
	case "", "false", "0", "0s":
		return ""
	}
	if isDuration(fl) {
		if strings.HasSuffix(d, "m0s") {
			d = strings.TrimSuffix(d, "0s")
		}
		if strings.HasSuffix(d, "h0m") {
			d = strings.TrimSuffix(d, "0m")
		}
	}
	return d
}
