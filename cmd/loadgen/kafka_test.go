package main

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/internal/testcerts"
	"github.com/cartwatch/cartwatch/kafka"
	"github.com/twmb/franz-go/pkg/kfake"
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

// TestKafkaSecurity: loadgen kafka takes the TLS and SASL flags of
// cartwatch: a bad combination exits 2 naming the flag, SASL without TLS
// is warned about, a broker whose certificate the CA did not sign is exit
// 1 at once, and the password (from the environment) is in no output.
func TestKafkaSecurity(t *testing.T) {
	const pw = "pw-loadgen-never-printed"
	t.Setenv(kafka.PasswordEnv, pw)
	dir := t.TempDir()
	certs, err := testcerts.New(dir, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	other, err := testcerts.New(t.TempDir(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{certs.Server}, MinVersion: tls.VersionTLS12}),
		kfake.EnableSASL(), kfake.Superuser(kafka.MechScramSHA512, "alice", pw))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	secure := strings.Join(c.ListenAddrs(), ",")
	f := func(wantCode int, want string, args ...string) {
		t.Helper()
		start := time.Now()
		code, stdout, stderr := runOut(append([]string{"kafka", "--rows", "100", "--timeout", "3s"}, args...)...)
		if strings.Contains(stdout+stderr, pw) {
			t.Errorf("%v: the password is in the output:\n%s\n%s", args, stdout, stderr)
		}
		if code != wantCode || !strings.Contains(stdout+stderr, want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d with %q", args, code, stdout, stderr, wantCode, want)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%v: %v to end", args, d)
		}
	}
	sasl := []string{"--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "alice"}
	f(exitUsage, "--sasl-user", "--brokers", secure, "--sasl-mechanism", "PLAIN")
	f(exitUsage, "--tls-cert", "--brokers", secure, "--tls", "--tls-cert", certs.ClientCert)
	f(exitUsage, "--tls-ca", "--brokers", secure, "--tls-ca", certs.CA)
	f(exitError, "without --tls", append([]string{"--brokers", "127.0.0.1:1"}, sasl...)...)
	f(exitError, "--tls-ca", append([]string{"--brokers", secure, "--tls", "--tls-ca", other.CA}, sasl...)...)
	f(exitOK, "100 events", append([]string{"--brokers", secure, "--tls", "--tls-ca", certs.CA, "--partitions", "1"}, sasl...)...)
}
