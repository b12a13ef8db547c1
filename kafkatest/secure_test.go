package kafkatest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/internal/syncbuf"
	"github.com/cartwatch/cartwatch/internal/testcerts"
	"github.com/cartwatch/cartwatch/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
)

// secretPassword is the SCRAM password of TestSecureSASLSSL: any output
// that holds it leaked it.
const secretPassword = "pw-sasl-ssl-never-printed-7f3a"

// TestSecureSASLSSL: a broker of its own with a SASL_SSL listener
// (kafka.sh up with KAFKA_SECURITY=sasl_ssl; its certificate, from a CA,
// and its SCRAM-SHA-512 user made here): cartwatch produce and consume
// work over TLS with the user and password (from a file and from the
// environment), and consume's alerts are run's; a wrong password and a CA
// that did not sign the broker's certificate are exit 1 at once with an
// error that says so, never a hang; the password is in no output.
func TestSecureSASLSSL(t *testing.T) {
	c := need(t, 1)
	if c.nodes != 1 {
		t.Skipf("runs in the 1-node phase (it starts a secure broker of its own); this phase has %d nodes", c.nodes)
	}
	if c.ctl == "" {
		t.Fatal("CARTWATCH_KAFKA_CTL is not set: cannot start the secure broker")
	}
	dir := t.TempDir()
	certs, err := testcerts.New(dir, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	other, err := testcerts.New(t.TempDir(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(dir, "scram-users")
	pwFile := filepath.Join(dir, "pw")
	wrongFile := filepath.Join(dir, "wrong")
	for _, w := range []struct{ path, s string }{{users, "alice " + secretPassword + "\n"},
		{pwFile, secretPassword + "\n"}, {wrongFile, secretPassword + "-wrong\n"}} {
		if err := os.WriteFile(w.path, []byte(w.s), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// The secure broker, on ports of its own beside the phase's broker.
	base := freePortBase(t)
	env := append(os.Environ(), "KAFKA_RUN_DIR="+filepath.Join(dir, "run"), fmt.Sprintf("KAFKA_PORT_BASE=%d", base),
		"KAFKA_SECURITY=sasl_ssl", "KAFKA_SSL_KEYSTORE="+certs.ServerKeystore, "KAFKA_SCRAM_USERS="+users)
	ctl := func(args ...string) (string, error) {
		cmd := exec.Command(c.ctl, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	start := time.Now()
	if out, err := ctl("up", "1"); err != nil {
		ctl("down")
		t.Fatalf("kafka.sh up 1 with KAFKA_SECURITY=sasl_ssl: %v\n%s", err, out)
	} else if strings.Contains(out, secretPassword) {
		t.Errorf("kafka.sh up printed the SCRAM password:\n%s", out)
	}
	t.Cleanup(func() {
		if out, err := ctl("down"); err != nil {
			t.Logf("kafka.sh down: %v\n%s", err, out)
		}
	})
	t.Logf("secure broker up in %v", time.Since(start).Round(time.Millisecond))
	plain := cluster{brokers: []string{fmt.Sprintf("127.0.0.1:%d", base)}, nodes: 1}
	out, err := ctl("bootstrap-secure")
	if err != nil {
		t.Fatalf("kafka.sh bootstrap-secure: %v\n%s", err, out)
	}
	secure := strings.TrimSpace(out)
	adm := kadm.NewClient(plain.client(t))

	// A small input: alice's cart is abandoned, bob's is bought, carol's
	// view moves the watermark past alice's deadline.
	in := filepath.Join(dir, "in.csv")
	csv := "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n" +
		"2019-11-01 00:00:00 UTC,cart,11,2,,,10.00,501,s1\n" +
		"2019-11-01 00:01:00 UTC,cart,12,2,,,20.00,502,s2\n" +
		"2019-11-01 00:02:00 UTC,purchase,12,2,,,20.00,502,s2\n" +
		"2019-11-01 01:00:00 UTC,view,13,2,,,5.00,503,s3\n"
	if err := os.WriteFile(in, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	want := runAlerts(t, in, "--ttl", "30m", "--at-eof", "keep")
	if len(want) != 1 {
		t.Fatalf("run finds %d alerts in the input, want 1: %v", len(want), want)
	}
	topic := topicName(t, adm, "secure")
	alerts, group := topic+"-alerts", topic+"-group"
	t.Cleanup(func() { adm.DeleteTopics(t.Context(), alerts, topic+".dlq") })

	tlsFlags := func(ca string) []string {
		return []string{"--brokers", secure, "--timeout", "10s", "--tls", "--tls-ca", ca}
	}
	scramFlags := func(pw string) []string {
		return []string{"--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "alice", "--sasl-password-file", pw}
	}
	// sec runs a command with the password also in the environment, wants
	// exitCode and a word of its output, and the password in neither.
	sec := func(wantCode int, want string, args ...string) {
		t.Helper()
		cmd := exec.Command(bin(t, "cartwatch"), args...)
		cmd.Env = append(os.Environ(), kafka.PasswordEnv+"="+secretPassword)
		var outb, errb syncbuf.Buffer
		cmd.Stdout, cmd.Stderr = &outb, &errb
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("cartwatch %s: still running after 60 s\n%s", strings.Join(args, " "), errb.String())
		}
		all := outb.String() + errb.String()
		if strings.Contains(all, secretPassword) {
			t.Errorf("cartwatch %s: the password is in the output:\n%s", strings.Join(args, " "), all)
		}
		if code := cmd.ProcessState.ExitCode(); code != wantCode || !strings.Contains(all, want) {
			t.Errorf("cartwatch %s: exit %d after %v, want %d with %q\n%s", strings.Join(args, " "), code,
				time.Since(start).Round(time.Millisecond), wantCode, want, all)
		}
		t.Logf("cartwatch %s: %v", args[0], time.Since(start).Round(time.Millisecond))
	}
	concat := func(a ...[]string) []string {
		var out []string
		for _, x := range a {
			out = append(out, x...)
		}
		return out
	}

	// The right user and password: produce (the password from a file),
	// consume (from the environment) to the end offsets.
	sec(0, "4 events to "+topic, concat([]string{"produce"}, tlsFlags(certs.CA), scramFlags(pwFile),
		[]string{"--topic", topic, "--partitions", "1", in})...)
	sec(0, "read to the end offsets", concat([]string{"consume"}, tlsFlags(certs.CA),
		[]string{"--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "alice", "--topic", topic, "--group", group,
			"--alerts-topic", alerts, "--until-end", "--status-interval", "200ms", "--http", ""})...)
	sameSet(t, "consume over SASL_SSL", alertSet(t, readAll(t, plain, adm, alerts)), want)

	// A wrong password, and a CA that did not sign the broker's
	// certificate: exit 1 at once (well within --timeout 10s), consume too.
	for _, cmd := range [][]string{{"produce", "--topic", topic, in}, {"consume", "--topic", topic, "--group", group, "--http", ""}} {
		t0 := time.Now()
		sec(1, "authentication failed", concat(cmd[:1], tlsFlags(certs.CA), scramFlags(wrongFile), cmd[1:])...)
		sec(1, "--tls-ca", concat(cmd[:1], tlsFlags(other.CA), scramFlags(pwFile), cmd[1:])...)
		if d := time.Since(t0); d > 9*time.Second {
			t.Errorf("%s: the two failures took %v, want each at once", cmd[0], d)
		}
	}
}

// freePortBase returns a port base for kafka.sh whose broker (base),
// controller (base+10000) and SASL_SSL (base+100) ports are free now.
func freePortBase(t *testing.T) int {
	t.Helper()
	free := func(p int) bool {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return false
		}
		ln.Close()
		return true
	}
	for base := 21000 + int(time.Now().UnixNano()%2000); base < 29000; base += 7 {
		if free(base) && free(base+100) && free(base+10000) {
			return base
		}
	}
	t.Fatal("no free port base in 21000..29000 for the secure broker")
	return 0
}
