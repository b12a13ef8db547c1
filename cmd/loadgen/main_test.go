package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBadFlagsExit2(t *testing.T) {
	f := func(want string, args ...string) {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Fatalf("%v: exit %d, want 2 (stderr %q)", args, code, errb.String())
		}
		if !strings.Contains(errb.String(), want) {
			t.Fatalf("%v: stderr %q lacks %q", args, errb.String(), want)
		}
	}
	f("usage")
	f("unknown command", "frobnicate")
	f("--rows -5 is negative", "generate", "--rows", "-5")
	f("--scale", "generate", "--scale", "-1")
	f("--days 40", "generate", "--days", "40")
	f("unknown --format \"parquet\"", "generate", "--format", "parquet", "--rows", "10")
	f("cannot write -o", "generate", "--rows", "10", "-o", filepath.Join(t.TempDir(), "no", "such", "dir", "x.csv"))
	f("flag provided but not defined", "generate", "--bogus")
	f("--direct writes a plain regular file, not -o -", "generate", "--rows", "10", "--direct")
	f("not -o x.csv.gz", "generate", "--rows", "10", "--direct", "-o", "x.csv.gz")
	f("-o /dev/null is not one", "generate", "--rows", "10", "--direct", "-o", "/dev/null")
	f("want exactly one FILE", "stats")
	f("no such file", "stats", filepath.Join(t.TempDir(), "missing.csv"))
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
	for _, in := range []string{plain, gz} {
		var out, errb bytes.Buffer
		if code := run([]string{"stats", in}, &out, &errb); code != 0 {
			t.Fatalf("stats %s: exit %d: %s", in, code, errb.String())
		}
		if !strings.Contains(out.String(), "| rows | 5,000* | 5,000 | +0.00 % |") {
			t.Fatalf("stats %s output:\n%s", in, out.String())
		}
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
