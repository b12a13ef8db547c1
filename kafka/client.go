package kafka

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
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

// Flags are the connection flags every Kafka command has: --brokers and
// --timeout. (TLS and SASL come here when they are needed.)
type Flags struct {
	// Brokers is the comma-separated bootstrap list, host:port each.
	Brokers string
	// Timeout bounds reaching a broker at the start and each admin request
	// (creating a topic, reading its config).
	Timeout time.Duration
}

// AddFlags registers --brokers and --timeout on fs, with f's values as
// defaults (DefaultBrokers and DefaultTimeout when they are zero).
func (f *Flags) AddFlags(fs *flag.FlagSet) {
	if f.Brokers == "" {
		f.Brokers = DefaultBrokers
	}
	if f.Timeout == 0 {
		f.Timeout = DefaultTimeout
	}
	fs.StringVar(&f.Brokers, "brokers", f.Brokers, "bootstrap brokers `ADDRS`: host:port, comma-separated (a:9092,b:9093)")
	fs.DurationVar(&f.Timeout, "timeout", f.Timeout, "wait up to `DURATION` for a broker to answer at the start, and for each admin request")
}

// Validate reports the first bad flag value, naming the flag.
func (f *Flags) Validate() error {
	if _, err := f.Seeds(); err != nil {
		return err
	}
	if f.Timeout <= 0 {
		return fmt.Errorf("--timeout %v: want a positive duration, e.g. 10s", f.Timeout)
	}
	return nil
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

// Connect returns a client on f's brokers with opts, once a broker has
// answered a metadata request. When none answers within f.Timeout, or every
// address refuses the connection (nothing listens there: waiting would not
// help), it returns an error wrapping ErrUnreachable that names the
// addresses and the last network error, rather than a client that retries
// forever.
func Connect(ctx context.Context, f *Flags, opts ...kgo.Opt) (*kgo.Client, error) {
	seeds, err := f.Seeds()
	if err != nil {
		return nil, err
	}
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	all := append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.DialTimeout(timeout)}, opts...)
	cl, err := kgo.NewClient(all...)
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
	return nil, fmt.Errorf("%w at %s within %v (--timeout): %v", ErrUnreachable, strings.Join(seeds, ","), timeout, err)
}
