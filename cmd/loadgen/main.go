// Command loadgen writes the synthetic 2019-Nov month (loadgen generate),
// measures any file in that schema against the published figures of the
// real one (loadgen stats), and drives a Kafka broker or cluster with it
// (loadgen kafka). See docs/loadgen-model.md. One file per command.
//
// Exit status: 0 done (help and --version included), 1 the command failed,
// 2 bad usage (no command, an unknown one, a bad flag or argument), 130
// interrupted (loadgen kafka).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cartwatch/cartwatch/internal/version"
)

const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitInterrupted = 130 // SIGINT or SIGTERM (128 + SIGINT)
)

// A command is a subcommand of loadgen. Its flags come from newFlags, the
// same FlagSet its run parses, so the help cannot drift from the flags.
type command struct {
	name     string
	args     string // positional arguments, for the synopsis
	summary  string // one line, for the list of commands
	about    string // the rest of its help, before the flags
	newFlags func() *flag.FlagSet
	run      func(args []string, stdout, stderr io.Writer) int
}

var commands []*command

func init() {
	commands = []*command{generateCmd, statsCmd, kafkaCmd, {
		name:     "version",
		summary:  "print loadgen's version (also loadgen --version)",
		about:    "version prints the module version, VCS revision and Go version the binary was built from.",
		newFlags: func() *flag.FlagSet { return flag.NewFlagSet("version", flag.ContinueOnError) },
		run:      runVersion,
	}}
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run returns the exit status: exitOK, exitError or exitUsage.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	case "help":
		return help(args[1:], stdout, stderr)
	case "-version", "--version":
		return runVersion(args[1:], stdout, stderr)
	}
	if c := lookup(args[0]); c != nil {
		return c.run(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "loadgen: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// help is `loadgen help [COMMAND]`.
func help(args []string, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		usage(stdout)
		return exitOK
	case 1:
		if c := lookup(args[0]); c != nil {
			c.help(stdout)
			return exitOK
		}
		fmt.Fprintf(stderr, "loadgen help: unknown command %q\n\n", args[0])
	default:
		fmt.Fprintf(stderr, "loadgen help: one command expected, got %q\n\n", args)
	}
	usage(stderr)
	return exitUsage
}

// usage writes the top-level help: each command's synopsis, with its flags.
func usage(w io.Writer) {
	fmt.Fprint(w, "loadgen writes the synthetic 2019-Nov month and measures files in its schema.\n\nusage:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "%s\n", c.synopsis("  "))
	}
	fmt.Fprint(w, "  loadgen help [COMMAND]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nloadgen help COMMAND, or loadgen COMMAND --help, describes a command and its flags.\n")
}

// synopsis returns "loadgen NAME [--flag ARG] ... ARGS" from the command's
// FlagSet, wrapped at 100 columns with continuation lines under the first
// flag.
func (c *command) synopsis(indent string) string {
	head := indent + "loadgen " + c.name
	words := []string{}
	c.newFlags().VisitAll(func(f *flag.Flag) {
		arg, _ := flag.UnquoteUsage(f)
		if arg != "" {
			arg = " " + arg
		}
		words = append(words, "["+dashes(f.Name)+arg+"]")
	})
	if c.args != "" {
		words = append(words, c.args)
	}
	var b strings.Builder
	b.WriteString(head)
	col := len(head)
	for _, w := range words {
		if col+1+len(w) > 100 {
			b.WriteString("\n" + strings.Repeat(" ", len(head)))
			col = len(head)
		}
		b.WriteString(" " + w)
		col += 1 + len(w)
	}
	return b.String()
}

// help writes the command's help: synopsis, description, flags.
func (c *command) help(w io.Writer) {
	fmt.Fprintf(w, "usage:\n%s\n\n%s\n", c.synopsis("  "), c.about)
	fs := c.newFlags()
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprint(w, "\nflags:\n")
		printFlags(w, fs)
	}
}

// dashes returns the flag as the help writes it: -o, --rows. (The flag
// package takes one dash or two for any flag.)
func dashes(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// printFlags is flag.PrintDefaults with the dashes the rest of the help
// uses.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		arg, text := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  %s", dashes(f.Name))
		if arg != "" {
			fmt.Fprintf(w, " %s", arg)
		}
		fmt.Fprintf(w, "\n    \t%s", strings.ReplaceAll(text, "\n", "\n    \t"))
		if d := f.DefValue; d != "" && d != "0" && d != "false" {
			fmt.Fprintf(w, " (default %s)", d)
		}
		fmt.Fprintln(w)
	})
}

// parse parses args with the command's FlagSet fs. On --help it writes the
// help to stdout and returns exitOK; on a bad flag it names it on stderr and
// returns exitUsage; else it returns -1 and the command goes on. Flags may
// come before or after the positional arguments, which it returns.
func (c *command) parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) ([]string, int) {
	fs.SetOutput(io.Discard) // errors are written once, below
	fs.Usage = func() {}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.help(stdout)
				return nil, exitOK
			}
			return nil, c.usageError(stderr, "%v", err)
		}
		if fs.NArg() == 0 {
			return pos, -1
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// usageError writes "loadgen NAME: message" and where the help is to
// stderr, and returns exitUsage.
func (c *command) usageError(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "loadgen %s: %s\n(loadgen help %s lists the flags)\n", c.name, fmt.Sprintf(format, a...), c.name)
	return exitUsage
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	c := lookup("version")
	pos, code := c.parse(c.newFlags(), args, stdout, stderr)
	if code >= 0 {
		return code
	}
	if len(pos) > 0 {
		return c.usageError(stderr, "unexpected argument %q", pos[0])
	}
	fmt.Fprintln(stdout, version.String("loadgen"))
	return exitOK
}

// isTerminal reports whether f is a character device (a terminal), where
// progress lines make sense.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
