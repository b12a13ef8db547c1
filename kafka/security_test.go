package kafka

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/internal/syncbuf"
	"github.com/cartwatch/cartwatch/internal/testcerts"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testPassword is the password of the tests: any output that holds it
// leaked it.
const testPassword = "pw-Tr0ub4dor-3-never-printed"

// TestSecretNeverPrinted: a Secret, and a Flags holding one (directly, by
// pointer, or as an unexported field of a command's flags, where fmt
// cannot call its methods), print [redacted] with every verb and in JSON.
func TestSecretNeverPrinted(t *testing.T) {
	kf := Flags{Brokers: "b:9092", SASLMechanism: MechScramSHA512, SASLUser: "alice", Password: NewSecret(testPassword)}
	type cmdFlags struct {
		kafka Flags
		topic string
	}
	type exported struct {
		Kafka *Flags
	}
	vals := []any{kf.Password, &kf.Password, kf, &kf, cmdFlags{kafka: kf, topic: "t"}, &cmdFlags{kafka: kf, topic: "t"}, exported{&kf},
		[]Secret{kf.Password}, map[string]Secret{"pw": kf.Password}}
	for _, v := range vals {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%T", "%d", "%10.3s"} {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, testPassword) ||
				strings.Contains(out, fmt.Sprintf("%x", testPassword)) || strings.Contains(out, fmt.Sprintf("%X", testPassword)) {
				t.Errorf("Sprintf(%q, %T) = %s: the password", verb, v, out)
			}
		}
		b, err := json.Marshal(v)
		if err == nil && strings.Contains(string(b), testPassword) {
			t.Errorf("json.Marshal(%T) = %s: the password", v, b)
		}
	}
	if got := fmt.Sprint(kf.Password); got != Redacted {
		t.Errorf("Sprint(secret) = %q, want %q", got, Redacted)
	}
	if kf.Password.Reveal() != testPassword {
		t.Errorf("Reveal() lost the password")
	}
}

// TestSecurityFlags: every bad combination of the TLS and SASL flags is an
// error naming its flag, and none shows the password.
func TestSecurityFlags(t *testing.T) {
	dir := t.TempDir()
	certs, err := testcerts.New(dir, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(testPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	f := func(env, want string, args ...string) {
		t.Helper()
		t.Setenv(PasswordEnv, env)
		fs := flag.NewFlagSet("", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var k Flags
		k.AddFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		err := k.Validate()
		switch {
		case want == "" && err != nil:
			t.Errorf("%v: %v", args, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%v: error %v, want one naming %q", args, err, want)
		case err != nil && strings.Contains(err.Error(), testPassword):
			t.Errorf("%v: error %q shows the password", args, err)
		}
		if err == nil && k.SASLMechanism != "" && k.Password.Reveal() != testPassword {
			t.Errorf("%v: password %q, want the file's or the environment's without its line break", args, k.Password.Reveal())
		}
	}
	f("", "")
	f("", "", "--tls")
	f("", "", "--tls", "--tls-ca", certs.CA, "--tls-server-name", "kafka.example", "--tls-cert", certs.ClientCert, "--tls-key", certs.ClientKey)
	f("", "", "--tls", "--tls-insecure-skip-verify")
	f("", "", "--sasl-mechanism", "scram-sha-512", "--sasl-user", "alice", "--sasl-password-file", pwFile)
	f(testPassword, "", "--tls", "--sasl-mechanism", "PLAIN", "--sasl-user", "alice")
	f(testPassword, "", "--sasl-mechanism", "SCRAM-SHA-256", "--sasl-user", "alice")
	f("other", "", "--sasl-mechanism", "SCRAM-SHA-256", "--sasl-user", "alice", "--sasl-password-file", pwFile) // the file wins

	f("", "--tls-ca", "--tls-ca", certs.CA) // without --tls
	f("", "--tls-cert", "--tls-cert", certs.ClientCert)
	f("", "--tls-server-name", "--tls-server-name", "x")
	f("", "--tls-insecure-skip-verify", "--tls-insecure-skip-verify")
	f("", "--tls-ca", "--tls", "--tls-ca", missing)
	f("", "--tls-ca", "--tls", "--tls-ca", notPEM)
	f("", "--tls-cert", "--tls", "--tls-cert", certs.ClientCert)
	f("", "--tls-key", "--tls", "--tls-key", certs.ClientKey)
	f("", "--tls-cert", "--tls", "--tls-cert", certs.ClientCert, "--tls-key", certs.CA)
	f("", "--tls-cert", "--tls", "--tls-cert", missing, "--tls-key", certs.ClientKey)
	f("", "--sasl-mechanism", "--sasl-mechanism", "GSSAPI", "--sasl-user", "alice", "--sasl-password-file", pwFile)
	f("", "--sasl-user", "--sasl-mechanism", "PLAIN", "--sasl-password-file", pwFile)
	f("", "--sasl-user", "--sasl-user", "alice")
	f(testPassword, "--sasl-password-file", "--sasl-password-file", pwFile)
	f("", "CARTWATCH_SASL_PASSWORD", "--sasl-mechanism", "PLAIN", "--sasl-user", "alice")
	f("", "--sasl-password-file", "--sasl-mechanism", "PLAIN", "--sasl-user", "alice", "--sasl-password-file", missing)
	f("", "--sasl-password-file", "--sasl-mechanism", "PLAIN", "--sasl-user", "alice", "--sasl-password-file", empty)
	f("", "--sasl-password-file", "--sasl-mechanism", "PLAIN", "--sasl-user", "alice", "--sasl-password-file", dir)
}

// TestSecurityWarnings: skipping verification, and SASL without TLS, are
// allowed and warned about; TLS with SASL is not.
func TestSecurityWarnings(t *testing.T) {
	f := func(k Flags, want string) {
		t.Helper()
		w := strings.Join(k.Warnings(), "\n")
		if (want == "") != (w == "") || !strings.Contains(w, want) {
			t.Errorf("%+v: warnings %q, want %q", k, w, want)
		}
	}
	f(Flags{}, "")
	f(Flags{TLS: true, SASLMechanism: MechPlain}, "")
	f(Flags{TLS: true, SASLMechanism: MechScramSHA512}, "")
	f(Flags{TLS: true, TLSInsecureSkipVerify: true}, "--tls-insecure-skip-verify")
	f(Flags{SASLMechanism: MechPlain}, "password goes to the brokers in clear")
	f(Flags{SASLMechanism: MechScramSHA512}, "without --tls")
}

// secureCluster starts an in-process cluster that takes only TLS (with a
// certificate of certs) and SCRAM-SHA-512 for alice with testPassword.
func secureCluster(t *testing.T, certs *testcerts.Set) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{certs.Server}, MinVersion: tls.VersionTLS12}),
		kfake.EnableSASL(), kfake.Superuser(MechScramSHA512, "alice", testPassword))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

// TestConnectSecure: with the right CA, user and password Connect
// reaches a TLS and SCRAM-SHA-512 cluster; an untrusted CA or a wrong
// server name is an error wrapping ErrAuth at once; a wrong password, user
// or mechanism, or a missing --tls, an error within --timeout; none shows
// the password. (kfake closes the connection on a failed authentication
// where Kafka answers SASL_AUTHENTICATION_FAILED: kafkatest's
// TestSecureSASLSSL checks that Kafka's answer is ErrAuth at once.)
func TestConnectSecure(t *testing.T) {
	dir := t.TempDir()
	certs, err := testcerts.New(dir, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	other, err := testcerts.New(t.TempDir(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	addr := secureCluster(t, certs)
	const timeout = 2 * time.Second
	good := Flags{Brokers: addr, Timeout: timeout, TLS: true, TLSCA: certs.CA,
		SASLMechanism: MechScramSHA512, SASLUser: "alice", Password: NewSecret(testPassword)}
	f := func(k Flags, wantErr error, want string) {
		t.Helper()
		start := time.Now()
		cl, err := Connect(context.Background(), &k)
		took := time.Since(start)
		if cl != nil {
			cl.Close()
		}
		switch {
		case wantErr == nil && err != nil:
			t.Errorf("%+v: %v", k, err)
		case wantErr == errAuthOrClosed && (errors.Is(err, ErrAuth) || errors.Is(err, ErrUnreachable)):
		case wantErr != nil && (!errors.Is(err, wantErr) || !strings.Contains(err.Error(), want)):
			t.Errorf("%+v: error %v, want %v saying %q", k, err, wantErr, want)
		case err != nil && strings.Contains(err.Error(), testPassword):
			t.Errorf("%+v: error %q shows the password", k, err)
		case errors.Is(wantErr, ErrAuth) && took >= timeout:
			t.Errorf("%+v: took %v to fail, want at once", k, took)
		case took > timeout+2*time.Second:
			t.Errorf("%+v: took %v to fail with --timeout %v", k, took, timeout)
		}
	}
	f(good, nil, "")
	k := good
	k.Password = NewSecret(testPassword + "x")
	f(k, errAuthOrClosed, "")
	k = good
	k.SASLUser = "mallory"
	f(k, errAuthOrClosed, "")
	k = good
	k.SASLMechanism = MechScramSHA256
	f(k, errAuthOrClosed, "")
	k = good
	k.TLSCA = other.CA
	f(k, ErrAuth, "--tls-ca")
	k = good
	k.TLSCA = ""
	k.TLSInsecureSkipVerify = true // the warned-about escape
	f(k, nil, "")
	k = good
	k.TLSServerName = "kafka.example"
	f(k, ErrAuth, "--tls-server-name")
	k = good
	k.TLS, k.TLSCA = false, ""
	f(k, ErrUnreachable, "--tls")
}

// errAuthOrClosed stands for ErrAuth or ErrUnreachable: what a failed
// authentication is against kfake, which closes the connection.
var errAuthOrClosed = errors.New("ErrAuth or ErrUnreachable")

// TestConnectPlainSASL: PLAIN over TLS to a cluster with a PLAIN user.
func TestConnectPlainSASL(t *testing.T) {
	certs, err := testcerts.New(t.TempDir(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{certs.Server}, MinVersion: tls.VersionTLS12}),
		kfake.EnableSASL(), kfake.Superuser(MechPlain, "bob", testPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	k := Flags{Brokers: strings.Join(c.ListenAddrs(), ","), Timeout: 3 * time.Second, TLS: true, TLSCA: certs.CA,
		SASLMechanism: MechPlain, SASLUser: "bob", Password: NewSecret(testPassword)}
	cl, err := Connect(context.Background(), &k)
	if err != nil {
		t.Fatal(err)
	}
	cl.Close()
	k.Password = NewSecret("wrong")
	_, err = Connect(context.Background(), &k)
	if !errors.Is(err, ErrAuth) && !errors.Is(err, ErrUnreachable) {
		t.Fatalf("PLAIN with a wrong password: %v, want an error", err)
	}
}

// TestClientLogNoSecret: $CARTWATCH_KAFKA_LOG's levels, a level it does not
// know (said, no log), and franz-go's debug log of a connection to a TLS
// and SCRAM-SHA-512 cluster, which has lines (the SASL exchange among
// them) and never the password.
func TestClientLogNoSecret(t *testing.T) {
	for level, want := range map[string]bool{"": false, "error": true, "WARN": true, " info ": true, "debug": true, "loud": false} {
		var msg bytes.Buffer
		if got := clientLogger(level, &msg) != nil; got != want {
			t.Errorf("clientLogger(%q): a logger %v, want %v", level, got, want)
		}
		if said := msg.Len() > 0; said != (level == "loud") {
			t.Errorf("clientLogger(%q) said %q", level, msg.String())
		}
	}

	certs, err := testcerts.New(t.TempDir(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	k := Flags{Brokers: secureCluster(t, certs), Timeout: 5 * time.Second, TLS: true, TLSCA: certs.CA,
		SASLMechanism: MechScramSHA512, SASLUser: "alice", Password: NewSecret(testPassword)}
	var log syncbuf.Buffer
	cl, err := Connect(context.Background(), &k, kgo.WithLogger(clientLogger("debug", &log)))
	if err != nil {
		t.Fatal(err)
	}
	cl.Close()
	out := log.String()
	if !strings.Contains(out, "[kgo] [DEBUG]") || !strings.Contains(strings.ToLower(out), "sasl") {
		t.Fatalf("the debug log has no SASL line:\n%s", out)
	}
	if strings.Contains(out, testPassword) {
		t.Errorf("the client's debug log shows the password")
	}
}
