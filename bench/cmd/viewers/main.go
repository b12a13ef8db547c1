// Command viewers plays N dashboard viewers: N server-sent-event streams of
// one URL (cartwatch's /events), each read and thrown away, plus optionally a
// Prometheus-like scrape of a metrics URL every second. It retries until the
// server answers, runs until the streams end (the server stops) or a
// signal, and prints what it read.
//
//	go run ./bench/cmd/viewers --n 100 --url http://127.0.0.1:8080/events
//
// bench/http.sh runs it beside `cartwatch run --http` to measure what
// viewers cost the engine.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("n", 1, "concurrent SSE viewers")
	url := flag.String("url", "http://127.0.0.1:8080/events", "the event stream")
	scrape := flag.String("scrape", "", "also GET this URL every --every (e.g. http://127.0.0.1:8080/metrics)")
	every := flag.Duration("every", time.Second, "the scrape interval")
	wait := flag.Duration("wait", 30*time.Second, "how long to retry the first connection")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first viewer waits for the server; the others follow.
	deadline := time.Now().Add(*wait)
	for {
		resp, err := http.Get(*url)
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			fmt.Fprintf(os.Stderr, "viewers: %s does not answer: %v\n", *url, err)
			os.Exit(1)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var bytes, streams, scrapes atomic.Int64
	var wg sync.WaitGroup
	tr := &http.Transport{MaxIdleConnsPerHost: *n + 1}
	cl := &http.Client{Transport: tr}
	for range *n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
			resp, err := cl.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			streams.Add(1)
			buf := make([]byte, 32<<10)
			for {
				k, err := resp.Body.Read(buf)
				bytes.Add(int64(k))
				if err != nil {
					return
				}
			}
		}()
	}
	if *scrape != "" {
		go func() {
			t := time.NewTicker(*every)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				if resp, err := cl.Get(*scrape); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					scrapes.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	fmt.Printf("viewers: %d streams of %s read %d bytes; %d scrapes\n", streams.Load(), *url, bytes.Load(), scrapes.Load())
}
