// Command kready waits until a local Kafka cluster answers metadata requests
// with all of its brokers registered and a controller elected; kafka.sh runs it
// after starting the brokers. It is a command; it shares nothing between goroutines.
//
//	kready -brokers 127.0.0.1:9092,127.0.0.1:9093 -n 2 -timeout 60s -pids 123,456
//
// Exit status: 0 ready, 1 timed out, 2 bad usage, 3 a watched process exited
// (so kafka.sh can print that broker's log instead of waiting out the timeout).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "comma-separated bootstrap addresses")
	n := flag.Int("n", 1, "number of brokers that must be registered")
	timeout := flag.Duration("timeout", 60*time.Second, "give up after this long")
	pids := flag.String("pids", "", "comma-separated pids that must stay alive while waiting")
	flag.Parse()
	if *n < 1 {
		fmt.Fprintf(os.Stderr, "kready: -n %d: need at least one broker\n", *n)
		os.Exit(2)
	}
	watch, err := parsePids(*pids)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kready: -pids %q: %v\n", *pids, err)
		os.Exit(2)
	}
	os.Exit(wait(strings.Split(*brokers, ","), *n, *timeout, watch))
}

func parsePids(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		p, err := strconv.Atoi(f)
		if err != nil || p <= 0 {
			return nil, fmt.Errorf("%q is not a pid", f)
		}
		out = append(out, p)
	}
	return out, nil
}

func wait(seeds []string, n int, timeout time.Duration, pids []int) int {
	start := time.Now()
	deadline := start.Add(timeout)
	var last error
	for {
		for _, p := range pids {
			// Signal 0 checks existence only; ESRCH means the broker died.
			if err := syscall.Kill(p, 0); errors.Is(err, syscall.ESRCH) {
				fmt.Fprintf(os.Stderr, "kready: broker process %d exited while waiting for it\n", p)
				return 3
			}
		}
		ids, err := probe(seeds, n)
		if err == nil {
			fmt.Printf("kready: %d broker(s) %v answer metadata after %v\n",
				len(ids), ids, time.Since(start).Round(10*time.Millisecond))
			return 0
		}
		last = err
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "kready: not ready after %v: %v\n", timeout, last)
			return 1
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// probe sends one metadata request and checks that n brokers and a controller
// are in the answer. A fresh client each time: a client that first dialed
// before the listener was up keeps backing off, which would add seconds.
func probe(seeds []string, n int) ([]int32, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DialTimeout(time.Second))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return nil, err
	}
	ids := md.Brokers.NodeIDs()
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	if len(ids) < n {
		return ids, fmt.Errorf("metadata lists brokers %v, want %d", ids, n)
	}
	if md.Controller < 0 {
		return ids, fmt.Errorf("metadata names no controller yet")
	}
	return ids, nil
}
