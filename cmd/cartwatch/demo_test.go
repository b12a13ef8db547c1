package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/internal/syncbuf"
)

// The tests of `cartwatch demo`: a whole demo over a made-up hour gives the
// summary of `cartwatch run` on the same file; a stop (a signal, --duration)
// ends it cleanly with exit 0; the help; bad flags.

// demoHour writes a made-up hour of rows in the 2019-Nov schema, in time
// order, to a file: 30 users who view, cart and buy, so that carts are
// converted, abandoned while the hour plays (other users' events pass
// their deadline) and still open at its end (they fall due after it), with
// two malformed rows and a blank line among them.
func demoHour(t *testing.T) string {
	t.Helper()
	rng := rand.New(rand.NewSource(7))
	var b strings.Builder
	b.WriteString("event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n")
	t0 := time.Date(2019, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 400; i++ {
		typ := "view"
		switch r := rng.Intn(100); {
		case r < 14:
			typ = "cart"
		case r < 20:
			typ = "purchase"
		}
		user := 500000000 + rng.Intn(30)
		fmt.Fprintf(&b, "%s UTC,%s,%d,2000000000000000001,electronics.smartphone,acme,%d.%02d,%d,s-%d\n",
			t0.Add(time.Duration(i*9)*time.Second).Format(time.DateTime), typ, 1000+rng.Intn(50), 1+rng.Intn(900), rng.Intn(100), user, user)
		switch i {
		case 100:
			b.WriteString("2019-11-01 00:15:00 UTC,cart,1,2,,,not-a-price,7,s\n")
		case 200:
			b.WriteString("not,a,row\n")
		case 300:
			b.WriteString("\n")
		}
	}
	path := filepath.Join(t.TempDir(), "hour.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// summaryLines returns the summary at the end of out (from its "events"
// line on), without the elapsed line (a timing).
func summaryLines(out string) []string {
	var ls []string
	in := false
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if strings.HasPrefix(l, "events ") || strings.HasPrefix(l, "interrupted ") {
			in, ls = true, ls[:0]
		}
		if in && !strings.HasPrefix(l, "elapsed ") {
			ls = append(ls, l)
		}
	}
	return ls
}

// TestDemoMatchesRun: the demo over a made-up hour, played fast, ends by
// itself with exit 0, and its summary is that of `cartwatch run` on the
// same file with the same --ttl, malformed rows included (they went
// through the topic to the dead-letter topic); every alert reached the
// alerts topic.
func TestDemoMatchesRun(t *testing.T) {
	in := demoHour(t)
	var stdout, stderr syncbuf.Buffer
	start := time.Now()
	code := run(context.Background(), []string{"demo", "--http", "", "--input", in, "--speedup", "100000", "--ttl", "5m", "--partitions", "3"}, &stdout, &stderr)
	took := time.Since(start)
	if code != exitOK {
		t.Fatalf("demo exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	t.Logf("demo took %v", took)
	var rout, rerr bytes.Buffer
	if code := run(context.Background(), []string{"run", "--ttl", "5m", in}, &rout, &rerr); code != exitOK {
		t.Fatalf("run exit %d\n%s", code, rerr.String())
	}
	got, want := summaryLines(stdout.String()), summaryLines(rout.String())
	if !slices.Equal(got, want) {
		t.Fatalf("demo's summary differs from run's:\ndemo:\n%s\nrun:\n%s\ndemo's stderr:\n%s",
			strings.Join(got, "\n"), strings.Join(want, "\n"), stderr.String())
	}
	if !strings.Contains(stdout.String(), "summary (that of cartwatch run --ttl 5m, for input in time order):") {
		t.Errorf("no summary heading:\n%s", stdout.String())
	}
	// The figures the test relies on are there: carts of every fate, the
	// two malformed rows.
	sum := strings.Join(want, "\n")
	for _, re := range []string{`(?m)^  converted +[1-9]`, `(?m)^  abandoned +[1-9]`, `(?m)^malformed rows +2$`} {
		if !regexp.MustCompile(re).MatchString(sum) {
			t.Errorf("run's summary does not match %s: the made-up hour does not test what it should\n%s", re, sum)
		}
	}
	abandoned := regexp.MustCompile(`(?m)^  abandoned +(\S+)$`).FindStringSubmatch(sum)[1]
	if !strings.Contains(stdout.String(), "alerts           "+abandoned+" read back from cart-abandonment-alerts") {
		t.Errorf("the final figures do not show the %s alerts read back from the alerts topic:\n%s", abandoned, stdout.String())
	}
	if !strings.Contains(stdout.String(), "2 malformed (to user-events.dlq)") {
		t.Errorf("the final figures do not show the 2 malformed messages:\n%s", stdout.String())
	}
}

// TestDemoSyntheticDay: without a sample, the demo plays loadgen's day,
// and its summary is that of `cartwatch run --synthetic` on the same day.
func TestDemoSyntheticDay(t *testing.T) {
	var stdout, stderr syncbuf.Buffer
	if code := run(context.Background(), []string{"demo", "--http", "", "--synthetic", "--speedup", "1000000"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("demo exit %d, want 0\n%s", code, stderr.String())
	}
	var rout, rerr bytes.Buffer
	if code := run(context.Background(), []string{"run", "--synthetic", "--days", "1", "--scale", "0.01", "--ttl", "5m"}, &rout, &rerr); code != exitOK {
		t.Fatalf("run exit %d\n%s", code, rerr.String())
	}
	if got, want := summaryLines(stdout.String()), summaryLines(rout.String()); !slices.Equal(got, want) {
		t.Fatalf("demo's summary differs from run's:\ndemo:\n%s\nrun:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(stderr.String(), "playing a synthetic day (loadgen --days 1 --scale 0.01)") {
		t.Errorf("stderr does not name the synthetic day:\n%s", stderr.String())
	}
}

// TestFindSample: the sample is looked for from the working directory,
// then from the folder above the binary's.
func TestFindSample(t *testing.T) {
	root := t.TempDir()
	sample := filepath.Join(root, "shared", "data", "events_sample_nov.csv")
	for _, d := range []string{filepath.Dir(sample), filepath.Join(root, "repo", "bin"), filepath.Join(root, "elsewhere", "deeper")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exe := filepath.Join(root, "repo", "bin", "cartwatch")
	for _, p := range []string{sample, exe} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(filepath.Join(root, "repo")) // ../shared from here
	if got, _ := findSample(""); got != sample {
		t.Errorf("from the working directory: %q, want %q", got, sample)
	}
	t.Chdir(filepath.Join(root, "elsewhere", "deeper")) // not from here, but from the binary
	if got, _ := findSample(exe); got != sample {
		t.Errorf("from the binary's folder: %q, want %q", got, sample)
	}
	got, tried := findSample("")
	if got != "" || len(tried) != 1 || tried[0] != filepath.Join(root, "elsewhere", "shared", "data", "events_sample_nov.csv") {
		t.Errorf("nowhere: %q, tried %q", got, tried)
	}
}

// TestDemoStop: a signal (the context's end) or --duration stops the demo
// cleanly within a few seconds: exit 0 and the summary so far, marked
// interrupted.
func TestDemoStop(t *testing.T) {
	in := demoHour(t)
	for _, how := range []string{"signal", "duration"} {
		t.Run(how, func(t *testing.T) {
			args := []string{"demo", "--http", "", "--input", in, "--speedup", "1"}
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			if how == "duration" {
				args = append(args, "--duration", "1500ms")
			}
			var stdout, stderr syncbuf.Buffer
			code := make(chan int, 1)
			go func() { code <- run(ctx, args, &stdout, &stderr) }()
			waitText(t, &stdout, "events (", 10*time.Second) // a line of figures: it runs
			if how == "signal" {
				cancel(fmt.Errorf("interrupt: %w", context.Canceled))
			}
			stopAt := time.Now()
			select {
			case c := <-code:
				if c != exitOK {
					t.Fatalf("exit %d, want 0\n%s", c, stderr.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("still running 10 s after the stop\n%s", stderr.String())
			}
			t.Logf("stopped in %v", time.Since(stopAt))
			out := stdout.String()
			for _, want := range []string{"summary so far (stopped before the end of the input):", "interrupted              yes"} {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			why := "interrupt: stopping"
			if how == "duration" {
				why = "--duration 1.5s: stopping"
			}
			if !strings.Contains(stderr.String(), why) {
				t.Errorf("stderr lacks %q:\n%s", why, stderr.String())
			}
		})
	}
}

// TestDemoHelp: --help and `help demo` print the help on stdout, exit 0.
func TestDemoHelp(t *testing.T) {
	for _, args := range [][]string{{"demo", "--help"}, {"demo", "-h"}, {"help", "demo"}} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != exitOK {
			t.Errorf("%v: exit %d, want 0\n%s", args, code, stderr.String())
		}
		out := stdout.String()
		if !strings.HasPrefix(out, "usage: cartwatch demo [flags]") || stderr.Len() != 0 {
			t.Errorf("%v: stdout %q, stderr %q", args, out, stderr.String())
		}
		newDemoFlagSet(&demoFlags{}).VisitAll(func(fl *flag.Flag) {
			if !strings.Contains(out, "--"+fl.Name) {
				t.Errorf("%v: the help lacks --%s", args, fl.Name)
			}
		})
	}
	var stdout, stderr bytes.Buffer
	run(context.Background(), []string{"help"}, &stdout, &stderr)
	if !strings.Contains(stdout.String(), "\n  demo ") {
		t.Errorf("cartwatch help does not list demo:\n%s", stdout.String())
	}
}

// TestDemoFlags: every bad value exits 2 naming its flag, before anything
// starts; an input that cannot be opened exits 1 naming it.
func TestDemoFlags(t *testing.T) {
	f := func(want string, args ...string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"demo"}, args...), &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), want) || stdout.Len() != 0 {
			t.Errorf("demo %v: exit %d, stderr %q, stdout %q; want exit 2 and %q", args, code, stderr.String(), stdout.String(), want)
		}
	}
	f("--speedup -1", "--speedup", "-1")
	f("--speedup", "--speedup", "fast")
	f("--partitions 0", "--partitions", "0")
	f("--partitions 65", "--partitions", "65")
	f("--ttl 1.5s", "--ttl", "1500ms")
	f("--ttl 0s", "--ttl", "0")
	f("--ttl", "--ttl", "5")
	f("--duration -1s", "--duration", "-1s")
	f("--input x.csv and --synthetic", "--input", "x.csv", "--synthetic")
	f("--nope", "--nope")
	f(`unexpected argument "x.csv"`, "x.csv")
	f(`--http "8080": want host:port`, "--http", "8080")
	busy := busyPort(t)
	f("--http "+busy+": the port is busy", "--http", busy, "--input", filepath.Join(t.TempDir(), "missing.csv"))

	var stdout, stderr bytes.Buffer
	missing := filepath.Join(t.TempDir(), "missing.csv")
	if code := run(context.Background(), []string{"demo", "--http", "", "--input", missing}, &stdout, &stderr); code != exitError ||
		!strings.Contains(stderr.String(), missing) || strings.Contains(stderr.String(), "Kafka in process") {
		t.Errorf("demo --input %s: exit %d, stderr %q; want exit 1 naming the file before any cluster", missing, code, stderr.String())
	}
}

// TestDemoHelpMatchesREADME: README.md's table of the flags of cartwatch
// demo is the help's list, flag by flag.
func TestDemoHelpMatchesREADME(t *testing.T) {
	fs := newDemoFlagSet(&demoFlags{})
	readme, _ := checkREADMEFlags(t, "### cartwatch demo", "\n#", fs, groupFlags(fs, demoFlagGroups), flagTitle)
	for _, s := range []string{"go run ./cmd/cartwatch demo", "bin/cartwatch demo"} {
		if !strings.Contains(readme[:strings.Index(readme, "\n## ")], s) {
			t.Errorf("README's opening does not show %q", s)
		}
	}
}
