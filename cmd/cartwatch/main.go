// Command cartwatch finds abandoned shopping carts in an e-commerce
// clickstream: `cartwatch run` reads the 2019-Nov CSV schema from a file,
// stdin or the synthetic generator and writes one JSON line per abandoned
// cart and a summary. See docs/semantics.md for the exact rules.
//
// The files of this command: main.go (commands, help, signals), flags.go
// (the flags of run and their checks), run.go (one run, start to exit code),
// produce.go (`cartwatch produce`: an input into a Kafka topic),
// consume.go (`cartwatch consume`: a Kafka consumer-group member),
// demo*.go (`cartwatch demo`: all of it on an in-process Kafka),
// output.go (output files written beside their target and renamed over it),
// progress.go (the progress line on stderr).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/cartwatch/cartwatch/internal/version"
)

// Exit codes.
const (
	exitOK          = 0
	exitError       = 1   // the run failed: unreadable input, no valid row, an output that cannot be written
	exitUsage       = 2   // bad command line
	exitInterrupted = 130 // stopped by SIGINT or SIGTERM (128 + SIGINT, the shells' convention)
)

func main() {
	interruptibleStdin()
	ctx, cancel := context.WithCancelCause(context.Background())
	// signal.NotifyContext would do for the first signal, but the second
	// must end the process at once (a run blocked on a FIFO, a slow disk):
	// one channel sees both.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		cancel(fmt.Errorf("%v: %w", s, context.Canceled))
		<-sigs
		removePending()
		fmt.Fprintln(os.Stderr, "cartwatch: interrupted again: exiting at once; no output file was replaced")
		os.Exit(exitInterrupted)
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usageTop = `usage: cartwatch <command> [arguments]

cartwatch reads clickstream CSV in the 2019-Nov schema (a file, compressed
or not, or - for stdin) or, with --synthetic, loadgen's month in process, and
reports every abandoned cart.

commands:
  run       find the abandoned carts of one input
  produce   replay an input (or the synthetic month) into a Kafka topic
  consume   find the abandoned carts in a Kafka topic, as a consumer-group member
  demo      zero setup: an in-process Kafka, the sample played into it, live figures
  version   print the version and the VCS revision of this binary
  help      help on a command: cartwatch help run

Exit codes: 0 done, 1 the run failed, 2 bad command line, 130 interrupted.
`

// run runs the command line args and returns the exit code; ctx's end
// interrupts a run (main ends it on SIGINT or SIGTERM).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageTop)
		return exitUsage
	}
	switch args[0] {
	case "run":
		return runCmd(ctx, args[1:], stdout, stderr)
	case "produce":
		return produceCmd(ctx, args[1:], stdout, stderr)
	case "consume":
		return consumeCmd(ctx, args[1:], stdout, stderr)
	case "demo":
		return demoCmd(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		return help(args[1:], stdout, stderr)
	case "version", "-version", "--version":
		if len(args) > 1 {
			fmt.Fprintf(stderr, "cartwatch %s: unexpected argument %q\n", args[0], args[1])
			return exitUsage
		}
		fmt.Fprintln(stdout, version.String("cartwatch"))
		return exitOK
	}
	fmt.Fprintf(stderr, "cartwatch: unknown command %q\n\n%s", args[0], usageTop)
	return exitUsage
}

// help is `cartwatch help [command]`.
func help(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		fmt.Fprint(stdout, usageTop)
	case len(args) > 1:
		fmt.Fprintf(stderr, "usage: cartwatch help [command]\n")
		return exitUsage
	case args[0] == "run":
		printRunHelp(stdout)
	case args[0] == "produce":
		printProduceHelp(stdout)
	case args[0] == "consume":
		printConsumeHelp(stdout)
	case args[0] == "demo":
		printDemoHelp(stdout)
	case args[0] == "version":
		fmt.Fprint(stdout, "usage: cartwatch version (or cartwatch --version)\n\nprints the module version, the VCS revision and the Go version of this binary.\n")
	case args[0] == "help":
		fmt.Fprint(stdout, "usage: cartwatch help [command]\n")
	default:
		fmt.Fprintf(stderr, "cartwatch help: unknown command %q\n\n%s", args[0], usageTop)
		return exitUsage
	}
	return exitOK
}
