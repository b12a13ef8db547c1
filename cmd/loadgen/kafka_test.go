package main

import (
	"net"
	"strings"
	"testing"
	"time"
)

// The tests of loadgen kafka that need no broker; kafkatest/ runs it
// against a real Kafka.

// TestKafkaUsage: help on stdout with exit 0; bad flags exit 2 naming the
// flag, before a broker is asked.
func TestKafkaUsage(t *testing.T) {
	for _, args := range [][]string{{"help", "kafka"}, {"kafka", "--help"}, {"kafka", "-h"}} {
		code, stdout, stderr := runOut(args...)
		if code != exitOK || stderr != "" || !strings.Contains(stdout, "usage:\n  loadgen kafka") {
			t.Errorf("%v: exit %d, stdout %.50q, stderr %q", args, code, stdout, stderr)
		}
	}
	f := func(want string, args ...string) {
		t.Helper()
		code, stdout, stderr := runOut(append([]string{"kafka", "--brokers", "127.0.0.1:1"}, args...)...)
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 naming %q", args, code, stdout, stderr, want)
		}
	}
	f("--producers 0", "--producers", "0")
	f("--producers 65", "--producers", "65")
	f("--rate", "--rate", "-1")
	f("--rows 0", "--rows", "0")
	f("--format", "--format", "avro")
	f("--acks", "--acks", "2")
	f("--brokers", "--brokers", "x")
	f("unexpected argument", "topic-name")
}

// TestKafkaUnreachable: a port nobody listens on is exit 1 at once, naming
// the address.
func TestKafkaUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	start := time.Now()
	code, stdout, stderr := runOut("kafka", "--brokers", addr, "--rows", "100", "--timeout", "3s")
	if code != exitError || !strings.Contains(stderr, "no Kafka broker answers at "+addr) || stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("%v to give up", d)
	}
}
