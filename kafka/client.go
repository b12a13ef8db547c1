package kafka

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultBrokers is where every Kafka command looks without --brokers: the
// broker `make kafka-up` starts.
const DefaultBrokers = "127.0.0.1:9092"

// DefaultTimeout bounds connecting and every admin request (--timeout).
const DefaultTimeout = 10 * time.Second

// Flags are the connection flags every Kafka command has: --brokers,
// --timeout, and TLS and SASL (security.go). Printed with %v, a Flags
// shows its password as [redacted].
type Flags struct {
	// Brokers is the comma-separated bootstrap list, host:port each.
	Brokers string
	// Timeout bounds reaching a broker at the start and each admin request
	// (creating a topic, reading its config).
	Timeout time.Duration

	// TLS dials the brokers with TLS (--tls), checking their certificates
	// against TLSCA (a PEM file; default: the system's roots) for the name
	// TLSServerName (default: the host of each broker's address), unless
	// TLSInsecureSkipVerify. TLSCert and TLSKey are a client certificate
	// and its key (PEM files), for listeners that ask for one.
	TLS                   bool
	TLSCA                 string
	TLSCert               string
	TLSKey                string
	TLSServerName         string
	TLSInsecureSkipVerify bool

	// SASLMechanism is PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or "" (none);
	// SASLUser the user. The password is Password when it is set, else the
	// content of SASLPasswordFile, else $CARTWATCH_SASL_PASSWORD (PasswordEnv).
	SASLMechanism    string
	SASLUser         string
	SASLPasswordFile string
	Password         Secret
}

// SecurityFlags are the names of the TLS and SASL flags AddFlags
// registers, in its order.
var SecurityFlags = []string{"tls", "tls-ca", "tls-cert", "tls-key", "tls-server-name", "tls-insecure-skip-verify",
	"sasl-mechanism", "sasl-user", "sasl-password-file"}

// AddFlags registers --brokers, --timeout and the TLS and SASL flags
// (SecurityFlags) on fs, with f's values as defaults (DefaultBrokers and
// DefaultTimeout when they are zero). The password has no flag.
func (f *Flags) AddFlags(fs *flag.FlagSet) {
	if f.Brokers == "" {
		f.Brokers = DefaultBrokers
	}
	if f.Timeout == 0 {
		f.Timeout = DefaultTimeout
	}
	fs.StringVar(&f.Brokers, "brokers", f.Brokers, "bootstrap brokers `ADDRS`: host:port, comma-separated (a:9092,b:9093)")
	fs.DurationVar(&f.Timeout, "timeout", f.Timeout, "wait up to `DURATION` for a broker to answer at the start, and for each admin request")
	fs.BoolVar(&f.TLS, "tls", f.TLS, "connect to the brokers with TLS (a SSL or SASL_SSL listener)")
	fs.StringVar(&f.TLSCA, "tls-ca", f.TLSCA, "check the brokers' certificates against the CA certificates in `FILE` (PEM; default: the system's)")
	fs.StringVar(&f.TLSCert, "tls-cert", f.TLSCert, "present the client certificate in `FILE` (PEM; with --tls-key)")
	fs.StringVar(&f.TLSKey, "tls-key", f.TLSKey, "the private key of --tls-cert, in `FILE` (PEM)")
	fs.StringVar(&f.TLSServerName, "tls-server-name", f.TLSServerName, "check the brokers' certificates for `NAME` (default: the host of each broker's address)")
	fs.BoolVar(&f.TLSInsecureSkipVerify, "tls-insecure-skip-verify", f.TLSInsecureSkipVerify, "do not check the brokers' certificates (tests only: anyone on the path can read and change the traffic)")
	fs.StringVar(&f.SASLMechanism, "sasl-mechanism", f.SASLMechanism, "authenticate with SASL `MECHANISM`: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (default: none)")
	fs.StringVar(&f.SASLUser, "sasl-user", f.SASLUser, "the SASL user `NAME` (with --sasl-mechanism)")
	fs.StringVar(&f.SASLPasswordFile, "sasl-password-file", f.SASLPasswordFile, "read the SASL password from `FILE` (default: $"+PasswordEnv+"; never a flag value)")
}

// Validate reports the first bad flag value, naming the flag.
func (f *Flags) Validate() error {
	if _, err := f.Seeds(); err != nil {
		return err
	}
	if f.Timeout <= 0 {
		return fmt.Errorf("--timeout %v: want a positive duration, e.g. 10s", f.Timeout)
	}
	return f.checkSecurity()
}

// ClientOpts are the options of a client on f's brokers: the seeds, the
// dial timeout, TLS and SASL. Connect uses them; a command that makes a
// second client (a group member) adds them first.
func (f *Flags) ClientOpts() ([]kgo.Opt, error) {
	seeds, err := f.Seeds()
	if err != nil {
		return nil, err
	}
	sec, err := f.securityOpts()
	if err != nil {
		return nil, err
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.DialTimeout(f.timeout())}, sec...)
	if l := clientLogger(os.Getenv(LogEnv), os.Stderr); l != nil {
		opts = append(opts, kgo.WithLogger(l))
	}
	return opts, nil
}

// LogEnv names the environment variable that turns on the Kafka client's
// own log (franz-go's) on stderr, for a look at what the client does under
// a fault: error, warn, info or debug. Unset or empty: no client log. It
// never prints a password (franz-go logs no SASL secret).
const LogEnv = "CARTWATCH_KAFKA_LOG"

// clientLogger is the logger LogEnv's level asks for, nil for none or a
// level it does not know (said on w).
func clientLogger(level string, w io.Writer) kgo.Logger {
	var l kgo.LogLevel
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "":
		return nil
	case "error":
		l = kgo.LogLevelError
	case "warn":
		l = kgo.LogLevelWarn
	case "info":
		l = kgo.LogLevelInfo
	case "debug":
		l = kgo.LogLevelDebug
	default:
		fmt.Fprintf(w, "$%s=%q: not a level (error, warn, info, debug); no Kafka client log\n", LogEnv, level)
		return nil
	}
	return kgo.BasicLogger(w, l, func() string { return time.Now().UTC().Format("15:04:05.000 ") + "[kgo] " })
}

// timeout is --timeout, DefaultTimeout when unset.
func (f *Flags) timeout() time.Duration {
	if f.Timeout <= 0 {
		return DefaultTimeout
	}
	return f.Timeout
}

// Seeds returns the bootstrap addresses of --brokers, each checked to be
// host:port with a port in 1..65535.
func (f *Flags) Seeds() ([]string, error) {
	var seeds []string
	for _, a := range strings.Split(f.Brokers, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			return nil, fmt.Errorf("--brokers %q: %q is not host:port (e.g. 127.0.0.1:9092)", f.Brokers, a)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || host == "" {
			return nil, fmt.Errorf("--brokers %q: %q is not host:port with a port in 1..65535", f.Brokers, a)
		}
		seeds = append(seeds, a)
	}
	if len(seeds) == 0 {
		return nil, fmt.Errorf("--brokers %q: no address (want host:port, comma-separated)", f.Brokers)
	}
	return seeds, nil
}

// ErrUnreachable is wrapped by Connect's error when no broker answers.
var ErrUnreachable = errors.New("no Kafka broker answers")

// Connect returns a client on f's brokers (ClientOpts) with opts, once a
// broker has answered a metadata request. When none answers within
// f.Timeout, or every address refuses the connection (nothing listens
// there: waiting would not help), it returns an error wrapping
// ErrUnreachable that names the addresses and the last network error,
// rather than a client that retries forever. A failed TLS handshake or SASL
// authentication is an error wrapping ErrAuth at once: trying again would
// not help either.
func Connect(ctx context.Context, f *Flags, opts ...kgo.Opt) (*kgo.Client, error) {
	seeds, err := f.Seeds()
	if err != nil {
		return nil, err
	}
	timeout := f.timeout()
	all, err := f.ClientOpts()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(all, opts...)...)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Ping tries every seed once; a refused connection fails at once, a
	// silent address at the dial timeout. Other errors are retried until
	// the deadline, so a broker that is still starting is waited for.
	for {
		err = cl.Ping(pctx)
		if err == nil {
			return cl, nil
		}
		if ctx.Err() != nil {
			cl.Close()
			return nil, context.Cause(ctx)
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		if aerr := f.authError(err, strings.Join(seeds, ",")); aerr != nil {
			cl.Close()
			return nil, aerr
		}
		select {
		case <-pctx.Done():
		case <-time.After(250 * time.Millisecond):
			continue
		}
		break
	}
	cl.Close()
	if errors.Is(err, syscall.ECONNREFUSED) {
		return nil, fmt.Errorf("%w at %s: %v (is a broker running there? make kafka-up starts one on %s)",
			ErrUnreachable, strings.Join(seeds, ","), err, DefaultBrokers)
	}
	hint := ""
	if !f.TLS && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
		hint = " (a TLS listener closes plaintext connections: does it want --tls?)"
	}
	return nil, fmt.Errorf("%w at %s within %v (--timeout): %v%s", ErrUnreachable, strings.Join(seeds, ","), timeout, err, hint)
}
