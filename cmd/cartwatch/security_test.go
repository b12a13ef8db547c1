package main

import (
	"context"
	"crypto/tls"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/internal/testcerts"
	"github.com/cartwatch/cartwatch/kafka"
	"github.com/twmb/franz-go/pkg/kfake"
)

// testPassword is the SASL password of the tests: any output that holds
// it leaked it.
const testPassword = "pw-c0rrect-h0rse-never-printed"

// TestNoSecretPrinted: produce and consume with a known password (from a
// file or the environment), through their error paths (bad flags, an
// unreachable broker, a wrong password, an untrusted CA), their help and,
// against an in-process TLS and SCRAM-SHA-512 cluster, a run that works
// (with consume's status lines): the password is never in stdout or
// stderr, and each path ends as it should.
func TestNoSecretPrinted(t *testing.T) {
	dir := t.TempDir()
	certs, err := testcerts.New(dir, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	other, err := testcerts.New(t.TempDir(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	pwFile := writeFile(t, dir, "pw", testPassword+"\n")
	wrongFile := writeFile(t, dir, "wrong", testPassword+"-not\n")
	in := writeFile(t, dir, "in.csv", csvIn)
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{certs.Server}, MinVersion: tls.VersionTLS12}),
		kfake.EnableSASL(), kfake.Superuser(kafka.MechScramSHA512, "alice", testPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	secure := strings.Join(c.ListenAddrs(), ",")
	closed := closedPort(t)
	sasl := func(pw string) []string {
		return []string{"--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "alice", "--sasl-password-file", pw}
	}
	tlsCA := func(ca string) []string { return []string{"--tls", "--tls-ca", ca} }

	// f runs args (with the password in the environment too) for at most
	// d, and checks the exit code, a word of stderr and that neither
	// output holds the password.
	f := func(d time.Duration, wantCode int, want string, args ...string) {
		t.Helper()
		t.Setenv(kafka.PasswordEnv, testPassword)
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		start := time.Now()
		code, stdout, stderr := runCtx(ctx, args...)
		if strings.Contains(stdout+stderr, testPassword) {
			t.Errorf("%q: the password is in the output:\nstdout:\n%s\nstderr:\n%s", args, stdout, stderr)
		}
		if code != wantCode || !strings.Contains(stdout+stderr, want) {
			t.Errorf("%q: exit %d after %v, want %d with %q\nstdout:\n%s\nstderr:\n%s", args, code,
				time.Since(start).Round(time.Millisecond), wantCode, want, stdout, stderr)
		}
	}
	cat := func(a ...[]string) []string {
		var out []string
		for _, x := range a {
			out = append(out, x...)
		}
		return out
	}
	for _, cmd := range []string{"produce", "consume"} {
		input := []string{in}
		if cmd == "consume" {
			input = []string{"--http", ""} // no listener on the default port
		}
		args := func(brokers string, rest ...[]string) []string {
			return cat([]string{cmd, "--brokers", brokers, "--timeout", "2s"}, cat(rest...), input)
		}
		// --help, with the password in the environment.
		f(time.Minute, exitOK, "--sasl-password-file", cmd, "--help")
		// Bad flags: exit 2 naming the flag.
		f(time.Minute, exitUsage, "--sasl-user", args(closed, []string{"--sasl-mechanism", "SCRAM-SHA-512"})...)
		f(time.Minute, exitUsage, "--sasl-mechanism", args(closed, []string{"--sasl-mechanism", "SCRAM-SHA-1", "--sasl-user", "alice"})...)
		f(time.Minute, exitUsage, "--tls-key", args(closed, tlsCA(certs.CA), []string{"--tls-cert", certs.ClientCert})...)
		f(time.Minute, exitUsage, "--tls-ca", args(closed, tlsCA(filepath.Join(dir, "missing.pem")))...)
		f(time.Minute, exitUsage, "--tls-ca", args(closed, []string{"--tls-ca", certs.CA})...)
		f(time.Minute, exitUsage, "--sasl-password-file", args(closed, sasl(filepath.Join(dir, "missing")))...)
		// SASL without TLS: warned, and then the closed port.
		unreachable := exitError
		if cmd == "consume" {
			unreachable = exitOK // retried until stopped
		}
		f(4*time.Second, unreachable, "without --tls", args(closed, sasl(pwFile))...)
		f(4*time.Second, unreachable, "refused", args(closed, tlsCA(certs.CA), sasl(pwFile))...)
		// An untrusted CA: exit 1 at once, consume too.
		f(time.Minute, exitError, "--tls-ca", args(secure, tlsCA(other.CA), sasl(pwFile))...)
		// A wrong password: an error within --timeout (kfake closes the
		// connection; Kafka's SASL_AUTHENTICATION_FAILED is kafkatest's),
		// retried by consume until stopped.
		f(5*time.Second, unreachable, "127.0.0.1", args(secure, tlsCA(certs.CA), sasl(wrongFile))...)
	}
	// The right CA and password: produce delivers, consume runs with its
	// status lines until stopped.
	f(time.Minute, exitOK, "2 events to ev", "produce", "--brokers", secure, "--tls", "--tls-ca", certs.CA,
		"--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "alice", "--topic", "ev", "--partitions", "1", in)
	f(3*time.Second, exitOK, "records/s", "consume", "--brokers", secure, "--tls", "--tls-ca", certs.CA,
		"--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "alice", "--sasl-password-file", pwFile,
		"--topic", "ev", "--status-interval", "200ms", "--http", "")
}
