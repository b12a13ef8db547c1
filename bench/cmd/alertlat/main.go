// Command alertlat measures how late cartwatch's alerts are: it reads an
// alerts topic from its end and, for each alert, takes the time from its
// deadline (abandoned_at, a whole second of the wall clock under
// `cartwatch consume --clock wall`) to the moment the alert was produced
// (the record's timestamp, set by the producer) and to the moment it was
// read back here. It prints the percentiles of both when it is stopped
// (SIGINT, SIGTERM) or after --for.
//
//	go run ./bench/cmd/alertlat --topic cart-abandonment-alerts --for 60s
//
// bench/kafka.sh runs it beside `loadgen kafka --rate` and `cartwatch consume`.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cartwatch/cartwatch/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	var kf kafka.Flags
	fs := flag.CommandLine
	kf.AddFlags(fs)
	topic := fs.String("topic", kafka.DefaultAlertsTopic, "the alerts topic to read (from its end)")
	dur := fs.Duration("for", 0, "stop after this long (0: at SIGINT or SIGTERM)")
	skip := fs.Duration("skip", 0, "leave out the alerts whose deadline is within this long of the start (warm-up)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *dur > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *dur)
		defer cancel()
	}
	cl, err := kafka.Connect(ctx, &kf, kgo.ConsumeTopics(*topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		fmt.Fprintln(os.Stderr, "alertlat:", err)
		os.Exit(1)
	}
	defer cl.Close()

	start := time.Now()
	produced, read := kafka.NewHistogram(time.Minute), kafka.NewHistogram(time.Minute)
	var bad, early, skipped int64
	var alert struct {
		AbandonedAt string `json:"abandoned_at"`
	}
	for ctx.Err() == nil {
		fetches := cl.PollFetches(ctx)
		now := time.Now()
		fetches.EachRecord(func(r *kgo.Record) {
			if err := json.Unmarshal(r.Value, &alert); err != nil {
				bad++
				return
			}
			deadline, err := time.Parse(time.RFC3339, alert.AbandonedAt)
			if err != nil {
				bad++
				return
			}
			if deadline.Before(start.Add(*skip)) {
				skipped++
				return
			}
			if r.Timestamp.Before(deadline) {
				early++ // a clock step; recorded as 1 µs
			}
			produced.Record(r.Timestamp.Sub(deadline))
			read.Record(now.Sub(deadline))
		})
	}
	fmt.Printf("alertlat: %s alerts of %s in %v (%d skipped as warm-up, %d unreadable, %d produced before their deadline)\n",
		kafka.Thousands(read.Count()), *topic, time.Since(start).Round(time.Millisecond), skipped, bad, early)
	for _, h := range []struct {
		name string
		h    *kafka.Histogram
	}{{"deadline to alert produced", produced}, {"deadline to alert read back", read}} {
		if h.h.Count() == 0 {
			continue
		}
		fmt.Printf("  %-28s p50 %v  p99 %v  p99.9 %v  max %v\n", h.name, h.h.Quantile(0.5).Round(time.Microsecond*100),
			h.h.Quantile(0.99).Round(time.Microsecond*100), h.h.Quantile(0.999).Round(time.Microsecond*100), h.h.Max().Round(time.Microsecond*100))
	}
}
