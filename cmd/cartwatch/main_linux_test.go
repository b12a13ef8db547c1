package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The tests here run this test binary as the cartwatch binary (TestMain)
// and send it signals. Linux only: they use /proc-reopened stdin, FIFOs and
// TIOCINQ (FIONREAD).

// cartwatchCmd is the cartwatch command line args, run by this test binary.
func cartwatchCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "CARTWATCH_TEST_MAIN=1")
	return cmd
}

// waiter is the end of a started command.
type waiter struct {
	cmd  *exec.Cmd
	done chan error
}

func startWait(t *testing.T, cmd *exec.Cmd) *waiter {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &waiter{cmd, make(chan error, 1)}
	go func() { w.done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	return w
}

// exit waits for the command to exit, at most d, and returns its exit code
// (-1 if a signal killed it). It fails the test after d.
func (w *waiter) exit(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case err := <-w.done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return w.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		w.cmd.Process.Kill()
		<-w.done
		t.Fatalf("still running after %v", d)
		return 0
	}
}

// running reports whether the command is still running after d.
func (w *waiter) running(d time.Duration) bool {
	select {
	case err := <-w.done:
		w.done <- err
		return false
	case <-time.After(d):
		return true
	}
}

// cartRows is CSV of n carts of different users, a second apart from
// 2019-11-01: with --ttl 1m each is abandoned a minute later.
func cartRows(n int) string {
	var b strings.Builder
	base := time.Date(2019, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		fmt.Fprintf(&b, "%s,cart,5,2,,,1.00,%d,s%d\n", base.Add(time.Duration(i)*time.Second).Format("2006-01-02 15:04:05 UTC"), 1000+i, i)
	}
	return b.String()
}

// TestInterruptSignal: SIGINT during a run on a pipe that stays open (the
// writer silent) stops it: exit 130, the summary so far marked
// interrupted, the old --alerts file untouched and the partial output kept
// under the name printed.
func TestInterruptSignal(t *testing.T) {
	dir := t.TempDir()
	alerts := writeFile(t, dir, "alerts.json", "OLD\n")
	cmd := cartwatchCmd(t, "run", "--alerts", alerts, "--summary", "json", "--ttl", "1m", "--chunk-size", "65536", "-")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	run := startWait(t, cmd)
	// A malformed row, then more than the first chunk (--chunk-size is
	// raised to 1 MiB, the longest line, when read from a pipe): the
	// engine reports the row once that chunk is through, and waits for
	// the rest of the next.
	header := strings.SplitN(csvIn, "\n", 2)[0] + "\n"
	if _, err := io.WriteString(stdin, header+"2019-11-01 00:00:00 UTC,cart,5,2,,,bad,7,s1\n"+cartRows(25_000)); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	sc := bufio.NewScanner(stderrPipe)
	timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() }) // the Scan below ends
	defer timer.Stop()
	for sc.Scan() {
		stderr.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "malformed row skipped") {
			break
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("%v; stderr:\n%s", err, stderr.String())
	}
	rest, _ := io.ReadAll(stderrPipe)
	stderr.Write(rest)
	code := run.exit(t, 20*time.Second)
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, stderr.String())
	}
	var sum struct {
		Events      int64 `json:"events"`
		Abandoned   int64 `json:"abandoned"`
		Interrupted bool  `json:"interrupted"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil || !sum.Interrupted || sum.Events == 0 {
		t.Errorf("summary %q (%v): want events so far and \"interrupted\": true", stdout.String(), err)
	}
	if b, _ := os.ReadFile(alerts); string(b) != "OLD\n" {
		t.Errorf("--alerts file changed: %.100q", b)
	}
	_, partial, ok := strings.Cut(stderr.String(), "partial output kept in ")
	partial, _, _ = strings.Cut(partial, "\n")
	if !ok || !strings.Contains(stderr.String(), "interrupted: partial results") {
		t.Fatalf("stderr does not name the partial output:\n%s", stderr.String())
	}
	b, err := os.ReadFile(partial)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if int64(len(lines)) != sum.Abandoned || !json.Valid([]byte(lines[0])) {
		t.Errorf("the partial output has %d lines, the summary %d abandoned; first line %.100q", len(lines), sum.Abandoned, lines[0])
	}
	if got, want := dirList(t, dir), []string{filepath.Base(partial), "alerts.json"}; !slices.Equal(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
}

// TestInterruptWhileOpening: SIGINT while the input is being opened (a
// FIFO whose writer never writes) exits 130 at once, nothing written.
func TestInterruptWhileOpening(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "in.fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	alerts := writeFile(t, dir, "alerts.json", "OLD\n")
	cmd := cartwatchCmd(t, "run", "--alerts", alerts, fifo)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	run := startWait(t, cmd)
	// Opening the FIFO for writing succeeds once cartwatch has opened it
	// for reading: it is then in core.OpenFile, waiting for a first line.
	var w int
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var err error
		if w, err = unix.Open(fifo, unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("cartwatch never opened its input: %v", err)
		}
	}
	defer unix.Close(w)
	cmd.Process.Signal(syscall.SIGTERM)
	if code := run.exit(t, 10*time.Second); code != exitInterrupted || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	if b, _ := os.ReadFile(alerts); string(b) != "OLD\n" {
		t.Errorf("--alerts file changed: %q", b)
	}
	if got := dirList(t, dir); !slices.Equal(got, []string{"alerts.json", "in.fifo"}) {
		t.Errorf("files %v", got)
	}
}

// TestSecondSignal: a run that cannot stop by itself (its --alerts is a
// FIFO whose reader reads nothing: the write blocks) survives the first
// SIGINT and exits 130 at once on the second, removing its temporary files.
func TestSecondSignal(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "in.csv", strings.SplitN(csvIn, "\n", 2)[0]+"\n"+cartRows(20_000))
	fifo := filepath.Join(dir, "alerts.fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(r)
	cmd := cartwatchCmd(t, "run", "--alerts", fifo, "--rejects", filepath.Join(dir, "rejects.tsv"), "--ttl", "1m", in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	run := startWait(t, cmd)
	// Alerts in the FIFO: the run is on, and blocked, since the alerts go
	// out 256 KiB at a time and the FIFO holds 64 KiB.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if n, err := unix.IoctlGetInt(r, unix.TIOCINQ); err == nil && n > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no alert reached the FIFO; stderr %q", stderr.String())
		}
	}
	cmd.Process.Signal(os.Interrupt)
	if !run.running(500 * time.Millisecond) {
		t.Fatalf("exited on the first signal: %q", stderr.String())
	}
	cmd.Process.Signal(os.Interrupt)
	if code := run.exit(t, 5*time.Second); code != exitInterrupted || !strings.Contains(stderr.String(), "interrupted again") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	// The temporary --rejects file is gone, and no rejects.tsv made.
	if got := dirList(t, dir); !slices.Equal(got, []string{"alerts.fifo", "in.csv"}) {
		t.Errorf("files %v", got)
	}
}
