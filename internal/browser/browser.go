// Package browser starts a headless Chromium for the tests of the
// dashboard, driven with chromedp. A test without Chromium on the machine
// is skipped, saying why, except under CI=true, where it fails: CI
// installs Debian's chromium (.ci/run).
package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Names are the Chromium binaries looked for on $PATH, in order; Debian's
// package installs chromium.
var Names = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"}

// Find returns the path of a Chromium binary: $CHROMIUM, else the first
// of Names on $PATH; "" when there is none.
func Find() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, n := range Names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// New starts a headless Chromium with a window of width x height and
// returns a chromedp context for its first tab; the browser ends with the
// test. An exception thrown by a page's script fails the test. Without
// Chromium it skips t, or fails it under CI=true.
func New(t testing.TB, width, height int) context.Context {
	t.Helper()
	path := Find()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Chromium (looked for $CHROMIUM and %v on $PATH): CI installs it (apt-get install -y chromium)", Names)
		}
		t.Skipf("SKIP: no Chromium (looked for $CHROMIUM and %v on $PATH); install it with apt-get install -y chromium", Names)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.WindowSize(width, height),
		chromedp.DisableGPU,
		// Root in a container has no user namespaces for the sandbox,
		// and the pages are the test's own.
		chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	var mu sync.Mutex
	var thrown []string
	t.Cleanup(func() {
		mu.Lock()
		for _, e := range thrown {
			t.Errorf("the page threw: %s", e)
		}
		mu.Unlock()
		cancel()
		cancelAlloc()
	})
	// The first action starts the browser, which lives as long as the
	// context of that action: so not a context with a deadline, but a
	// timer, so that a browser that cannot start says so rather than
	// hanging the test.
	hung := time.AfterFunc(time.Minute, cancel)
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("true"))
	if !hung.Stop() {
		t.Fatalf("%s did not start within a minute", path)
	}
	if err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	err = chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg += " " + d.Exception.Description
			}
			mu.Lock()
			thrown = append(thrown, fmt.Sprintf("%s (%s:%d:%d)", msg, d.URL, d.LineNumber+1, d.ColumnNumber+1))
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

// WaitFor evaluates the JavaScript expression js every 50 ms until it is
// true, or fails t after d, naming what it waited for.
func WaitFor(t testing.TB, ctx context.Context, d time.Duration, what, js string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s (%s)", d, what, js)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Text returns the text of the element with the given id.
func Text(t testing.TB, ctx context.Context, id string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById(`+quote(id)+`) || {}).textContent || ""`))
	if err != nil {
		t.Fatalf("text of #%s: %v", id, err)
	}
	return s
}

func quote(s string) string {
	b := []byte{'"'}
	for _, c := range []byte(s) {
		if c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, c)
	}
	return string(append(b, '"'))
}
