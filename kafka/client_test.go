package kafka

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFlags: bad values name their flag.
func TestFlags(t *testing.T) {
	f := func(want string, args ...string) {
		t.Helper()
		fs := flag.NewFlagSet("", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var k Flags
		var p ProduceFlags
		k.AddFlags(fs)
		p.AddFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		err := k.Validate()
		if err == nil {
			err = p.Validate()
		}
		switch {
		case want == "" && err != nil:
			t.Errorf("%v: %v", args, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%v: error %v, want one naming %q", args, err, want)
		}
	}
	f("")
	f("", "--brokers", "a:9092, b:9093,c:1")
	f("--brokers", "--brokers", "localhost")
	f("--brokers", "--brokers", "a:0")
	f("--brokers", "--brokers", ":9092")
	f("--brokers", "--brokers", ",")
	f("--timeout", "--timeout", "0s")
	f("--topic", "--topic", "a/b")
	f("--topic", "--topic", "")
	f("--topic", "--topic", "..")
	f("--partitions", "--partitions", "0")
	f("--replication-factor", "--replication-factor", "0")
	f("--replication-factor", "--replication-factor", "40000")
	f("--format", "--format", "xml")
	f("--compression", "--compression", "brotli")
	f("--acks", "--acks", "1")
	f("--linger", "--linger", "-1s")
	f("--rate", "--rate", "-5")
	f("--rate", "--rate", "NaN")
	f("--ack-timeout", "--ack-timeout", "10ms")
}

// TestConnectRefused: a port nobody listens on is an error at once, naming
// the address, never a client that retries forever.
func TestConnectRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // now nobody listens there
	start := time.Now()
	_, err = Connect(context.Background(), &Flags{Brokers: addr, Timeout: 30 * time.Second})
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Connect(%s): %v; want ErrUnreachable naming the address", addr, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Connect to a closed port took %v", d)
	}
}

// TestConnectTimeout: an address that accepts connections but never
// answers is given up after --timeout.
func TestConnectTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // silent: never answers
		}
	}()
	start := time.Now()
	_, err = Connect(context.Background(), &Flags{Brokers: ln.Addr().String(), Timeout: 500 * time.Millisecond})
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("Connect to a silent server: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v with --timeout 500ms", d)
	}
}

// A dial kgo started before Close can report after it: once the owner
// has stopped the hook, nothing reaches its log, and Stop waits for a
// line being written.
func TestConnectLogStop(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	inLog, release := make(chan struct{}), make(chan struct{})
	l := &ConnectLog{Log: func(msg string) {
		if strings.Contains(msg, "slow") {
			close(inLog)
			<-release
		}
		mu.Lock()
		lines = append(lines, msg)
		mu.Unlock()
	}}
	meta := func(host string) kgo.BrokerMetadata { return kgo.BrokerMetadata{Host: host, Port: 9092} }
	refused := errors.New("connection refused")
	l.OnBrokerConnect(meta("a"), 0, nil, refused)
	go l.OnBrokerConnect(meta("slow"), 0, nil, refused)
	<-inLog
	stopped := make(chan struct{})
	go func() { l.Stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Stop returned while a line was being logged")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-stopped
	l.OnBrokerConnect(meta("b"), 0, nil, refused)
	l.OnBrokerConnect(meta("a"), 0, nil, nil)
	mu.Lock()
	defer mu.Unlock()
	if len(lines) != 2 || !strings.Contains(lines[0], "a:9092") || !strings.Contains(lines[1], "slow:9092") {
		t.Fatalf("logged %q, want a's failure and slow's, nothing after Stop", lines)
	}
}
