package main

import (
	"flag"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The tests of `cartwatch produce` that need no broker; kafkatest/ has
// the ones against a real Kafka.

// closedPort returns an address nobody listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestProduceUsage: help on stdout with exit 0; every bad command line
// exits 2 naming the flag, before any broker is asked (the brokers given
// are a closed port: reaching them would be exit 1).
func TestProduceUsage(t *testing.T) {
	for _, args := range [][]string{{"produce", "--help"}, {"produce", "-h"}, {"help", "produce"}, {"produce", "x.csv", "--help"}} {
		code, stdout, stderr := runArgs(args...)
		if code != exitOK || !strings.HasPrefix(stdout, "usage: cartwatch produce") || stderr != "" {
			t.Errorf("%q: exit %d, stdout %.60q, stderr %.60q", args, code, stdout, stderr)
		}
	}
	_, help, _ := runArgs("produce", "--help")
	newProduceFlagSet(&produceFlags{}).VisitAll(func(fl *flag.Flag) {
		if !strings.Contains(help, "\n  --"+fl.Name) {
			t.Errorf("produce --help lacks --%s", fl.Name)
		}
	})
	if _, top, _ := runArgs("help"); !strings.Contains(top, "\n  produce ") {
		t.Errorf("cartwatch help does not list produce:\n%s", top)
	}

	in := writeFile(t, t.TempDir(), "in.csv", csvIn)
	broker := closedPort(t)
	f := func(want string, args ...string) {
		t.Helper()
		code, stdout, stderr := runArgs(append([]string{"produce", "--brokers", broker}, args...)...)
		if code != exitUsage || !strings.Contains(stderr, want) || stdout != "" {
			t.Errorf("produce %q: exit %d, stderr %q; want exit 2 naming %q", args, code, stderr, want)
		}
	}
	f("no input")
	f("one input expected", in, in)
	f("not both", "--synthetic", in)
	f("not defined: --bogus", "--bogus", in)
	f("--rate", "--rate", "-1", in)
	f("--rate", "--rate", "x", in)
	f("--speedup", "--speedup", "-2", in)
	f("--rate and --speedup", "--rate", "10", "--speedup", "60", in)
	f("--format", "--format", "xml", in)
	f("--compression", "--compression", "lz5", in)
	f("--acks", "--acks", "1", in)
	f("--topic", "--topic", "a b", in)
	f("--partitions", "--partitions", "0", in)
	f("--replication-factor", "--replication-factor", "0", in)
	f("--linger", "--linger", "soon", in)
	f("--ack-timeout", "--ack-timeout", "1ms", in)
	f("--timeout", "--timeout", "0s", in)
	f("--brokers", "--brokers", "nohost", in)
	f("--rows", "--rows", "10", in) // a generator flag without --synthetic
	f("--rows", "--synthetic", "--rows", "0")
}

// TestProduceUnreachable: a broker that does not answer is exit 1 within a
// timeout, naming the address; an input that cannot be opened is named
// before any broker is asked.
func TestProduceUnreachable(t *testing.T) {
	in := writeFile(t, t.TempDir(), "in.csv", csvIn)
	broker := closedPort(t)
	start := time.Now()
	code, stdout, stderr := runArgs("produce", "--brokers", broker, "--timeout", "3s", in)
	if code != exitError || !strings.Contains(stderr, "no Kafka broker answers at "+broker) || stdout != "" {
		t.Errorf("closed port: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("closed port: %v to give up", d)
	}
	missing := filepath.Join(t.TempDir(), "missing.csv")
	code, _, stderr = runArgs("produce", "--brokers", broker, missing)
	if code != exitError || !strings.Contains(stderr, "no such file") || strings.Contains(stderr, "broker") {
		t.Errorf("missing input: exit %d, stderr %q; want the file named, no broker asked", code, stderr)
	}
}

// TestProduceHelpMatchesREADME: README.md's table of the flags of cartwatch
// produce is the help's list, flag by flag.
func TestProduceHelpMatchesREADME(t *testing.T) {
	fs := newProduceFlagSet(&produceFlags{})
	checkREADMEFlags(t, "### cartwatch produce", "\n#", fs, groupFlags(fs, produceFlagGroups), flagTitle)
}
