package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cartwatch/cartwatch/internal/version"
)

// runOut runs loadgen with args and returns the exit status, stdout and
// stderr.
func runOut(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// Every bad command line exits 2 with a message on stderr naming what is
// wrong (the flag, for a bad flag value), and writes nothing to stdout.
func TestBadFlagsExit2(t *testing.T) {
	f := func(want string, args ...string) {
		t.Helper()
		code, stdout, stderr := runOut(args...)
		if code != exitUsage || stdout != "" {
			t.Fatalf("%v: exit %d, stdout %q; want exit 2 and nothing on stdout (stderr %q)", args, code, stdout, stderr)
		}
		if !strings.Contains(stderr, want) {
			t.Fatalf("%v: stderr %q lacks %q", args, stderr, want)
		}
	}
	f("usage")
	f("unknown command", "frobnicate")
	f("unknown command \"frobnicate\"", "help", "frobnicate")
	f("one command expected", "help", "generate", "stats")
	f("unexpected argument \"x\"", "version", "x")
	f("--rows -5: --rows must be positive", "generate", "--rows", "-5")
	// --days 1 and -o: were --rows 0 taken for "the month" again, the
	// test would write one day to a file, not nine GB to memory.
	tmp := filepath.Join(t.TempDir(), "x.csv")
	f("--rows 0: --rows must be positive; omit it for the full month", "generate", "--rows", "0", "--days", "1", "-o", tmp)
	f("--rows must be positive; omit it for the full month", "generate", "--days", "1", "--rows=0", "-o", tmp)
	f("--scale -1 must be in (0, 10]", "generate", "--scale", "-1")
	f("--scale 0 must be in (0, 10]; omit it for the full month", "generate", "--scale", "0")
	f("give --rows or --scale, not both", "generate", "--rows", "10", "--scale", "0.5")
	f("--days 40", "generate", "--days", "40")
	f("--workers 100000 must be in 0..256", "generate", "--workers", "100000", "--rows", "10", "-o", tmp)
	f("invalid value \"x\" for flag -rows", "generate", "--rows", "x")
	f("invalid value \"-1\" for flag -seed", "generate", "--seed", "-1")
	f("invalid boolean value \"maybe\" for -direct", "generate", "--direct=maybe")
	f("invalid boolean value \"maybe\" for -no-gaps", "generate", "--no-gaps=maybe")
	f("unknown --format \"parquet\"", "generate", "--format", "parquet", "--rows", "10")
	f("cannot write -o", "generate", "--rows", "10", "-o", filepath.Join(t.TempDir(), "no", "such", "dir", "x.csv"))
	f("cannot write --cpuprofile", "generate", "--rows", "10", "--cpuprofile", filepath.Join(t.TempDir(), "no", "x.prof"))
	f("flag provided but not defined: -bogus", "generate", "--bogus")
	f("unexpected argument \"out.csv\"", "generate", "--rows", "10", "out.csv")
	f("--direct writes a plain regular file, not -o -", "generate", "--rows", "10", "--direct")
	f("not -o x.csv.gz", "generate", "--rows", "10", "--direct", "-o", "x.csv.gz")
	f("-o /dev/null is not one", "generate", "--rows", "10", "--direct", "-o", "/dev/null")
	f("want exactly one FILE", "stats")
	f("want exactly one FILE", "stats", "a.csv", "b.csv")
	f("flag provided but not defined: -rows-published", "stats", "--rows-published", "a.csv")
	f("no such file", "stats", filepath.Join(t.TempDir(), "missing.csv"))
}

// A --cpuprofile that cannot be written is found before -o is created.
func TestBadFlagsCreateNothing(t *testing.T) {
	dir := t.TempDir()
	o := filepath.Join(dir, "x.csv")
	code, _, _ := runOut("generate", "--rows", "10", "-o", o, "--cpuprofile", filepath.Join(dir, "no", "x.prof"))
	if code != exitUsage {
		t.Fatalf("exit %d, want 2", code)
	}
	if _, err := os.Stat(o); !os.IsNotExist(err) {
		t.Fatalf("-o %s exists after a usage error (%v)", o, err)
	}
}

// Help, for loadgen and for every command however it is asked for, goes to
// stdout with exit 0 and nothing on stderr.
func TestHelpOnStdout(t *testing.T) {
	f := func(want string, args ...string) {
		t.Helper()
		code, stdout, stderr := runOut(args...)
		if code != exitOK || stderr != "" {
			t.Fatalf("%v: exit %d, stderr %q; want exit 0 and nothing on stderr", args, code, stderr)
		}
		if !strings.Contains(stdout, want) {
			t.Fatalf("%v: stdout lacks %q:\n%s", args, want, stdout)
		}
	}
	for _, h := range [][]string{{"-h"}, {"--help"}, {"-help"}, {"help"}} {
		f("loadgen help COMMAND", h...)
	}
	for _, c := range []string{"generate", "stats", "version"} {
		want := "usage:\n  loadgen " + c
		f(want, "help", c)
		f(want, c, "--help")
		f(want, c, "-h")
	}
	f("usage:\n  loadgen stats", "stats", "a.csv", "--help")
	// generate's help says what no size flag means.
	f("the full month, 67,501,979 rows, about 9 GB", "generate", "--help")
	f("(67,501,979 rows, about 9 GB as CSV)", "help", "generate")
	// Without arguments: the same usage, but as an error.
	code, stdout, stderr := runOut()
	_, top, _ := runOut("help")
	if code != exitUsage || stdout != "" || stderr != top {
		t.Fatalf("no arguments: exit %d, stdout %q, stderr %q; want exit 2 and the usage on stderr", code, stdout, stderr)
	}
}

// The usage lists each command's real flags, from its FlagSet, and no
// other (it once listed a --rows-published that stats never had).
func TestUsageListsRealFlags(t *testing.T) {
	_, top, _ := runOut("help")
	real := map[string]bool{}
	for _, c := range commands {
		fs := c.newFlags()
		_, help, _ := runOut("help", c.name)
		fs.VisitAll(func(fl *flag.Flag) {
			real[dashes(fl.Name)] = true
			for _, text := range []string{top, help} {
				if !strings.Contains(text, "["+dashes(fl.Name)) {
					t.Errorf("the usage of %s lacks %s:\n%s", c.name, dashes(fl.Name), text)
				}
			}
		})
	}
	for _, m := range regexp.MustCompile(`\[(--?[a-z][a-z-]*)`).FindAllStringSubmatch(top, -1) {
		if !real[m[1]] {
			t.Errorf("the usage lists %s, which no command has:\n%s", m[1], top)
		}
	}
	if len(real) < 10 {
		t.Fatalf("only %d flags found", len(real))
	}
}

// --version and version print the version line on stdout.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		code, stdout, stderr := runOut(args...)
		if code != exitOK || stderr != "" || stdout != version.String("loadgen")+"\n" || !strings.HasPrefix(stdout, "loadgen ") {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q; want exit 0 and the version line on stdout", args, code, stdout, stderr)
		}
	}
}

func TestGenerateAndStats(t *testing.T) {
	dir := t.TempDir()
	plain, gz := filepath.Join(dir, "a.csv"), filepath.Join(dir, "a.csv.gz")
	for _, o := range []string{plain, gz} {
		var out, errb bytes.Buffer
		if code := run([]string{"generate", "--rows", "5000", "--days", "2", "--seed", "4", "-o", o}, &out, &errb); code != 0 {
			t.Fatalf("generate -o %s: exit %d: %s", o, code, errb.String())
		}
	}
	a, _ := os.ReadFile(plain)
	zf, _ := os.Open(gz)
	defer zf.Close()
	zr, err := gzip.NewReader(zf)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(zr)
	if !bytes.Equal(a, b) || bytes.Count(a, []byte("\n")) != 5001 {
		t.Fatalf("plain (%d bytes, %d lines) and gzip (%d bytes) outputs differ", len(a), bytes.Count(a, []byte("\n")), len(b))
	}
	var stdout bytes.Buffer
	if code := run([]string{"generate", "--rows", "5000", "--days", "2", "--seed", "4"}, &stdout, io.Discard); code != 0 || !bytes.Equal(stdout.Bytes(), a) {
		t.Fatalf("stdout output differs from -o output (exit %d)", code)
	}
	// gzip is recognized by its content, not by the name.
	gzBytes, _ := os.ReadFile(gz)
	gzNoSuffix, plainGzSuffix := filepath.Join(dir, "b.data"), filepath.Join(dir, "c.csv.gz")
	os.WriteFile(gzNoSuffix, gzBytes, 0o644)
	os.WriteFile(plainGzSuffix, a, 0o644)
	for _, in := range []string{plain, gz, gzNoSuffix, plainGzSuffix} {
		code, out, errb := runOut("stats", in)
		if code != exitOK || errb != "" {
			t.Fatalf("stats %s: exit %d: %s", in, code, errb)
		}
		if !strings.Contains(out, "| rows | 5,000* | 5,000 | +0.00 % |") {
			t.Fatalf("stats %s output:\n%s", in, out)
		}
	}
}

// stats writes its table on stdout and names each malformed row, with
// cartwatch run's reason, on stderr.
func TestStatsMalformed(t *testing.T) {
	in := filepath.Join(t.TempDir(), "m.csv")
	good := "2019-11-01 00:00:14 UTC,cart,1,2,,,1.00,3,s\n"
	os.WriteFile(in, []byte(good+"2019-11-01 00:00:60 UTC,cart,1,2,,,1.00,3,s\n"+good+"2019-11-01 00:00:15 UTC,cart,1,2,,,1.005,3,s\n"), 0o644)
	code, out, errb := runOut("stats", in)
	want := "loadgen stats: line 2 skipped: event_time is not a time (want 2019-11-01 00:00:00 UTC or RFC 3339)\n" +
		"loadgen stats: line 4 skipped: price is not a non-negative decimal with at most 2 decimals\n"
	if code != exitOK || errb != want || !strings.Contains(out, "| rows | 2* |") {
		t.Fatalf("exit %d, stderr\n%s\nwant\n%s\nstdout\n%s", code, errb, want, out)
	}
}

// TestGenerateDirect checks that --direct writes the same bytes as a
// buffered -o, for a size that is not a multiple of the block size and for
// one row.
func TestGenerateDirect(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--rows", "20000", "--days", "3", "--seed", "5"},
		{"--rows", "1", "--days", "1"},
	} {
		var files [2][]byte
		for i, mode := range []string{"--direct=false", "--direct"} {
			o := filepath.Join(dir, "d.csv")
			var errb bytes.Buffer
			if code := run(append([]string{"generate", mode, "-o", o}, args...), io.Discard, &errb); code != 0 || errb.Len() > 0 {
				t.Fatalf("generate %s %v: exit %d: %s", mode, args, code, errb.String())
			}
			files[i], _ = os.ReadFile(o)
		}
		if len(files[0]) == 0 || len(files[0])%4096 == 0 || !bytes.Equal(files[0], files[1]) {
			t.Fatalf("%v: buffered (%d bytes) and --direct (%d bytes) outputs differ, or the size tests nothing",
				args, len(files[0]), len(files[1]))
		}
	}
}
