package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// TLS and SASL for every Kafka command (the --tls* and --sasl-* flags of
// Flags). The SASL password is never a flag value (a flag shows in ps):
// it comes from --sasl-password-file or PasswordEnv, and lives in a
// Secret, which prints as [redacted] whichever way it is printed.

// PasswordEnv is the environment variable the SASL password is read from
// when --sasl-password-file is not given.
const PasswordEnv = "CARTWATCH_SASL_PASSWORD"

// The SASL mechanisms of --sasl-mechanism.
const (
	MechPlain       = "PLAIN"
	MechScramSHA256 = "SCRAM-SHA-256"
	MechScramSHA512 = "SCRAM-SHA-512"
)

// maxPasswordFile bounds what --sasl-password-file reads: a password, not a
// file named by mistake.
const maxPasswordFile = 4096

// Redacted is what a Secret prints as.
const Redacted = "[redacted]"

// Secret holds a password. It prints as [redacted] through fmt (every verb,
// also as a field of a struct printed with %v or %+v), encoding/json and
// encoding.TextMarshaler; only Reveal gives the text. The text sits behind a
// pointer, so even fmt's reflection over a struct that holds a Secret in an
// unexported field (where fmt cannot call Format) finds an address, not it.
type Secret struct {
	p *string
}

// NewSecret returns a Secret holding s.
func NewSecret(s string) Secret { return Secret{p: &s} }

// Reveal returns the secret text ("" for the zero Secret).
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// IsZero reports whether s holds no text.
func (s Secret) IsZero() bool { return s.Reveal() == "" }

// String implements fmt.Stringer.
func (Secret) String() string { return Redacted }

// GoString implements fmt.GoStringer (%#v).
func (Secret) GoString() string { return Redacted }

// Format implements fmt.Formatter: every verb prints [redacted].
func (Secret) Format(f fmt.State, _ rune) { io.WriteString(f, Redacted) }

// MarshalText implements encoding.TextMarshaler.
func (Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// MarshalJSON implements json.Marshaler.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// ErrAuth is wrapped by Connect's error when a broker answers but the TLS
// handshake or the SASL authentication fails: trying again would not help.
var ErrAuth = errors.New("kafka: authentication failed")

// checkSecurity checks the TLS and SASL flags, reads the files they name
// and the password, and keeps what it read in f. The first error names its
// flag; none quotes a password or a key.
func (f *Flags) checkSecurity() error {
	tlsFiles := []struct{ flag, v string }{{"tls-ca", f.TLSCA}, {"tls-cert", f.TLSCert}, {"tls-key", f.TLSKey},
		{"tls-server-name", f.TLSServerName}}
	if !f.TLS {
		for _, t := range tlsFiles {
			if t.v != "" {
				return fmt.Errorf("--%s %s: only with --tls (without it the connection is plaintext)", t.flag, t.v)
			}
		}
		if f.TLSInsecureSkipVerify {
			return errors.New("--tls-insecure-skip-verify: only with --tls (without it the connection is plaintext)")
		}
	}
	if f.TLS {
		if _, err := f.tlsConfig(); err != nil {
			return err
		}
	}
	switch strings.ToUpper(f.SASLMechanism) {
	case "":
		if f.SASLUser != "" {
			return fmt.Errorf("--sasl-user %s: only with --sasl-mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", f.SASLUser)
		}
		if f.SASLPasswordFile != "" {
			return fmt.Errorf("--sasl-password-file %s: only with --sasl-mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", f.SASLPasswordFile)
		}
		return nil
	case MechPlain, MechScramSHA256, MechScramSHA512:
		f.SASLMechanism = strings.ToUpper(f.SASLMechanism)
	default:
		return fmt.Errorf("--sasl-mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", f.SASLMechanism)
	}
	if f.SASLUser == "" {
		return fmt.Errorf("--sasl-mechanism %s: needs --sasl-user NAME", f.SASLMechanism)
	}
	_, err := f.password()
	return err
}

// password returns the SASL password: f.Password when it is set, else the
// content of --sasl-password-file (one trailing line break removed), else
// $CARTWATCH_SASL_PASSWORD. It is kept in f.Password.
func (f *Flags) password() (Secret, error) {
	if !f.Password.IsZero() {
		return f.Password, nil
	}
	if f.SASLPasswordFile != "" {
		fh, err := os.Open(f.SASLPasswordFile)
		if err != nil {
			return Secret{}, fmt.Errorf("--sasl-password-file: %w", err)
		}
		defer fh.Close()
		b, err := io.ReadAll(io.LimitReader(fh, maxPasswordFile+1))
		if err != nil {
			return Secret{}, fmt.Errorf("--sasl-password-file: %w", err)
		}
		if len(b) > maxPasswordFile {
			return Secret{}, fmt.Errorf("--sasl-password-file %s: longer than %d bytes: not a password file", f.SASLPasswordFile, maxPasswordFile)
		}
		s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		clear(b)
		if s == "" {
			return Secret{}, fmt.Errorf("--sasl-password-file %s: empty", f.SASLPasswordFile)
		}
		f.Password = NewSecret(s)
		return f.Password, nil
	}
	if s := os.Getenv(PasswordEnv); s != "" {
		f.Password = NewSecret(s)
		return f.Password, nil
	}
	return Secret{}, fmt.Errorf("--sasl-mechanism %s: no password: give --sasl-password-file FILE or set %s (never a flag value: it would show in ps)",
		f.SASLMechanism, PasswordEnv)
}

// tlsConfig builds the client's TLS configuration from the --tls-* flags,
// reading the CA and the client key pair.
func (f *Flags) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.TLSServerName,
		InsecureSkipVerify: f.TLSInsecureSkipVerify} //nolint:gosec // the flag asks for it, and it is warned about
	if f.TLSCA != "" {
		pem, err := os.ReadFile(f.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it (want the CA's certificate, -----BEGIN CERTIFICATE-----)", f.TLSCA)
		}
		cfg.RootCAs = pool
	}
	switch {
	case f.TLSCert != "" && f.TLSKey == "":
		return nil, fmt.Errorf("--tls-cert %s: needs --tls-key FILE, the certificate's private key", f.TLSCert)
	case f.TLSKey != "" && f.TLSCert == "":
		return nil, fmt.Errorf("--tls-key %s: needs --tls-cert FILE, the client certificate", f.TLSKey)
	case f.TLSCert != "":
		pair, err := tls.LoadX509KeyPair(f.TLSCert, f.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert %s, --tls-key %s: %w", f.TLSCert, f.TLSKey, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// mechanism returns the SASL mechanism of the flags, nil for none.
func (f *Flags) mechanism() (sasl.Mechanism, error) {
	if f.SASLMechanism == "" {
		return nil, nil
	}
	pw, err := f.password()
	if err != nil {
		return nil, err
	}
	switch strings.ToUpper(f.SASLMechanism) {
	case MechPlain:
		return plain.Auth{User: f.SASLUser, Pass: pw.Reveal()}.AsMechanism(), nil
	case MechScramSHA256:
		return scram.Auth{User: f.SASLUser, Pass: pw.Reveal()}.AsSha256Mechanism(), nil
	case MechScramSHA512:
		return scram.Auth{User: f.SASLUser, Pass: pw.Reveal()}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("--sasl-mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", f.SASLMechanism)
}

// securityOpts are the client options of the TLS and SASL flags.
func (f *Flags) securityOpts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if f.TLS {
		cfg, err := f.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	m, err := f.mechanism()
	if err != nil {
		return nil, err
	}
	if m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// Warnings are what the flags allow but a user should hear about once
// (each command prints them at its start): certificates not checked, SASL
// over a plaintext connection.
func (f *Flags) Warnings() []string {
	var w []string
	if f.TLS && f.TLSInsecureSkipVerify {
		w = append(w, "--tls-insecure-skip-verify: the brokers' certificates are not checked: "+
			"anyone between here and the brokers can read and change the records (and the SASL password); for tests only")
	}
	switch m := strings.ToUpper(f.SASLMechanism); {
	case m == "" || f.TLS:
	case m == MechPlain:
		w = append(w, "--sasl-mechanism PLAIN without --tls: the password goes to the brokers in clear, "+
			"readable by anyone on the network (add --tls if the listener is SASL_SSL)")
	default:
		w = append(w, "--sasl-mechanism "+m+" without --tls: the records travel in clear and the brokers are not authenticated "+
			"(SCRAM itself does not send the password; add --tls if the listener is SASL_SSL)")
	}
	return w
}

// authError returns the error of a failed TLS handshake or SASL
// authentication with the brokers at seeds, wrapping ErrAuth and err, with
// the likely fix; nil when err is neither.
func (f *Flags) authError(err error, seeds string) error {
	var (
		verify  *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		record  tls.RecordHeaderError
		alert   tls.AlertError
	)
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return fmt.Errorf("%w at %s: %v (check --sasl-user %s, its password and --sasl-mechanism %s)",
			ErrAuth, seeds, err, f.SASLUser, f.SASLMechanism)
	case errors.Is(err, kerr.UnsupportedSaslMechanism), errors.Is(err, kerr.IllegalSaslState):
		return fmt.Errorf("%w at %s: %v (the listener does not take --sasl-mechanism %s; is it a SASL listener?)",
			ErrAuth, seeds, err, f.SASLMechanism)
	case errors.As(err, &host):
		return fmt.Errorf("%w at %s: the TLS handshake failed: %v (--tls-server-name NAME sets the name to check)", ErrAuth, seeds, err)
	case errors.As(err, &verify), errors.As(err, &unknown):
		return fmt.Errorf("%w at %s: the TLS handshake failed: %v (--tls-ca FILE names the CA that signed the brokers' certificates)",
			ErrAuth, seeds, err)
	case errors.As(err, &record):
		return fmt.Errorf("%w at %s: the TLS handshake failed: %v (the listener there is not TLS: drop --tls, or use its TLS port)",
			ErrAuth, seeds, err)
	case errors.As(err, &alert):
		return fmt.Errorf("%w at %s: the broker refused the TLS handshake: %v (does it want a client certificate, --tls-cert and --tls-key?)",
			ErrAuth, seeds, err)
	}
	return nil
}
