package core

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/format"
	"github.com/cartwatch/cartwatch/internal/testrows"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// The inputs of these tests are built here with the standard library and
// klauspost/compress, except bzip2, which neither writes: testdata/rows.csv.bz2
// was made from testdata/rows.csv (made-up rows) with the bzip2 command line
// tool (bzip2 -k -9 rows.csv, bzip2 1.0.8); bigger bzip2 inputs are made
// with that tool when it is on PATH, else their subtests skip.

// gzipOf compresses data as n gzip members (as pigz or cat a.gz b.gz make).
func gzipOf(t testing.TB, data []byte, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	for i := range n {
		zw := gzip.NewWriter(&b)
		if _, err := zw.Write(data[len(data)*i/n : len(data)*(i+1)/n]); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// zstdOf compresses data as n zstd frames.
func zstdOf(t testing.TB, data []byte, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	for i := range n {
		zw, err := zstd.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(data[len(data)*i/n : len(data)*(i+1)/n])
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// skippable is a zstd skippable frame (pzstd opens its output with one).
func skippable(payload string) []byte {
	n := len(payload)
	return append([]byte{0x50, 0x2a, 0x4d, 0x18, byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}, payload...)
}

// bzip2Tool compresses data with the bzip2 command, or skips.
func bzip2Tool(t testing.TB, data []byte) []byte {
	t.Helper()
	if _, err := exec.LookPath("bzip2"); err != nil {
		t.Skip("no bzip2 command on PATH: skipping (testdata/rows.csv.bz2 still tests bzip2)")
	}
	cmd := exec.Command("bzip2", "-c")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type zipEntry struct {
	name   string
	data   string
	method uint16 // zip.Deflate or zip.Store; another one is written raw
}

func zipOf(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		var w io.Writer
		var err error
		switch e.method {
		case zip.Deflate, zip.Store:
			w, err = zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: e.method})
		default: // the data stands for data compressed with that method
			w, err = zw.CreateRaw(&zip.FileHeader{Name: e.name, Method: e.method, CRC32: crc32.ChecksumIEEE([]byte(e.data)),
				CompressedSize64: uint64(len(e.data)), UncompressedSize64: uint64(len(e.data))})
		}
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(e.data))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	fn := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(fn, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return fn
}

// readInput opens path and reads it to its end.
func readInput(t testing.TB, path string, opt OpenOptions) (*Opened, []byte, error) {
	t.Helper()
	o, err := OpenInput(path, opt)
	if err != nil {
		return nil, nil, err
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	return o, b, err
}

// withStdin runs fn with os.Stdin reading data through a pipe.
func withStdin(t testing.TB, data []byte, fn func()) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() { pw.Write(data); pw.Close() }()
	defer func(f *os.File) { os.Stdin = f; pr.Close() }(os.Stdin)
	os.Stdin = pr
	fn()
}

func headOf(b []byte) []byte { return b[:min(len(b), format.HeadSize)] }

// TestOpenInputFormats: every format OpenInput reads gives back the bytes
// compressed, on the real sample and on synthetic rows bigger than the head
// (64 KiB) and the buffers; the format comes from the content, not the
// name; Head is the first decoded bytes; Counter ends at Size, the bytes of
// the file as stored.
func TestOpenInputFormats(t *testing.T) {
	payloads := []struct {
		name string
		data func(t *testing.T) []byte
	}{
		{"synthetic", func(*testing.T) []byte {
			rows, _ := testrows.SyntheticRows(20000)
			return append([]byte("event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n"), rows...)
		}},
		{"sample", func(t *testing.T) []byte { return sample(t) }},
	}
	type input struct {
		file, format string
		stored       []byte
		plain        bool
	}
	for _, p := range payloads {
		t.Run(p.name, func(t *testing.T) {
			data := p.data(t)
			var inputs []input
			add := func(file, format string, stored []byte) {
				inputs = append(inputs, input{file: file, format: format, stored: stored, plain: format == "plain"})
			}
			add("in.csv", "plain", data)
			add("in.csv.gz", "plain", data) // named .gz, read as text
			add("in.csv.gz", "gzip", gzipOf(t, data, 1))
			add("in.csv.gz", "gzip", gzipOf(t, data, 3))
			add("in.csv", "gzip", gzipOf(t, data, 1))
			add("in.csv.zst", "zstd", zstdOf(t, data, 1))
			add("in.csv.zst", "zstd", zstdOf(t, data, 2))
			add("in.csv.zst", "zstd", append(skippable("pzstd"), zstdOf(t, data, 1)...))
			add("in.csv", "zstd", zstdOf(t, data, 1))
			add("in.zip", "zip", zipOf(t, zipEntry{"2019-Nov.csv", string(data), zip.Deflate}))
			add("in.csv", "zip", zipOf(t, zipEntry{"2019-Nov.csv", string(data), zip.Store}))
			add("in.zip", "zip", zipOf(t, // what Finder's "Compress" makes of a folder
				zipEntry{"data/", "", zip.Store},
				zipEntry{"data/2019-Nov.csv", string(data), zip.Deflate},
				zipEntry{"__MACOSX/data/._2019-Nov.csv", "\x00\x05\x16\x07", zip.Deflate},
				zipEntry{"data/._2019-Nov.csv", "\x00\x05\x16\x07", zip.Deflate},
				zipEntry{"data/README.txt", "made-up rows", zip.Deflate}))
			for i, in := range inputs {
				t.Run(fmt.Sprintf("%d:%s:%s", i, in.format, in.file), func(t *testing.T) {
					fn := writeTemp(t, in.file, in.stored)
					var n atomic.Int64
					o, got, err := readInput(t, fn, OpenOptions{Counter: &n})
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, data) {
						t.Fatalf("read %d bytes, want %d (the bytes compressed)", len(got), len(data))
					}
					if o.Format != in.format || o.Plain != in.plain || o.Name != fn || o.File == nil {
						t.Errorf("Format %q Plain %v Name %q; want %q %v %q", o.Format, o.Plain, o.Name, in.format, in.plain, fn)
					}
					wantSize := int64(len(in.stored))
					if in.format == "zip" {
						if !strings.HasSuffix(o.Member, "2019-Nov.csv") {
							t.Errorf("Member %q", o.Member)
						}
						wantSize = o.Size // the member's stored bytes, checked below
						if o.Size <= 0 || o.Size >= int64(len(in.stored)) {
							t.Errorf("zip: Size %d, file %d bytes", o.Size, len(in.stored))
						}
					}
					if o.Size != wantSize || n.Load() != wantSize {
						t.Errorf("Size %d, Counter %d; want both %d", o.Size, n.Load(), wantSize)
					}
					if !bytes.Equal(o.Head(), headOf(data)) {
						t.Errorf("Head: %d bytes, not the first %d of the content", len(o.Head()), len(headOf(data)))
					}
				})
			}
			t.Run("bzip2", func(t *testing.T) {
				fn := writeTemp(t, "in.csv.bz2", bzip2Tool(t, data))
				o, got, err := readInput(t, fn, OpenOptions{})
				if err != nil || !bytes.Equal(got, data) || o.Format != "bzip2" || !bytes.Equal(o.Head(), headOf(data)) {
					t.Fatalf("err %v, %d bytes of %d, format %q", err, len(got), len(data), o.Format)
				}
			})
			// Standard input: a pipe (no size, never Plain), then a regular file.
			for _, in := range []struct {
				format string
				stored []byte
			}{{"plain", data}, {"gzip", gzipOf(t, data, 2)}, {"zstd", zstdOf(t, data, 1)}} {
				var n atomic.Int64
				withStdin(t, in.stored, func() {
					o, got, err := readInput(t, "-", OpenOptions{Counter: &n})
					if err != nil || !bytes.Equal(got, data) {
						t.Fatalf("stdin %s: err %v, %d bytes of %d", in.format, err, len(got), len(data))
					}
					if o.Format != in.format || o.Plain || o.Size != 0 || o.Name != "stdin" || n.Load() != int64(len(in.stored)) ||
						!bytes.Equal(o.Head(), headOf(data)) {
						t.Errorf("stdin %s: Format %q Plain %v Size %d Name %q Counter %d", in.format, o.Format, o.Plain, o.Size, o.Name, n.Load())
					}
				})
			}
			f, err := os.Open(writeTemp(t, "in.csv.gz", gzipOf(t, data, 1)))
			if err != nil {
				t.Fatal(err)
			}
			defer func(s *os.File) { os.Stdin = s }(os.Stdin)
			os.Stdin = f
			var n atomic.Int64
			o, got, err := readInput(t, "-", OpenOptions{Counter: &n})
			if err != nil || !bytes.Equal(got, data) || o.Plain || o.Size != n.Load() || o.Size == 0 {
				t.Fatalf("stdin from a file: err %v, %d bytes, Plain %v, Size %d, Counter %d", err, len(got), o.Plain, o.Size, n.Load())
			}
		})
	}
}

// TestOpenInputBzip2Fixture reads the committed bzip2 file, alone and
// concatenated with itself (as pbzip2 writes), and refuses it truncated.
func TestOpenInputBzip2Fixture(t *testing.T) {
	want, err := os.ReadFile("testdata/rows.csv")
	if err != nil {
		t.Fatal(err)
	}
	bz, err := os.ReadFile("testdata/rows.csv.bz2")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	o, got, err := readInput(t, "testdata/rows.csv.bz2", OpenOptions{Counter: &n})
	if err != nil || !bytes.Equal(got, want) || o.Format != "bzip2" || o.Plain || n.Load() != int64(len(bz)) || o.Size != int64(len(bz)) {
		t.Fatalf("err %v, got %q, format %q, Counter %d", err, got, o.Format, n.Load())
	}
	fn := writeTemp(t, "twice.csv", append(append([]byte(nil), bz...), bz...))
	if _, got, err := readInput(t, fn, OpenOptions{}); err != nil || string(got) != string(want)+string(want) {
		t.Fatalf("two streams: err %v, got %d bytes, want %d", err, len(got), 2*len(want))
	}
	for _, cut := range []int{len(bz) / 2, len(bz) - 4} {
		fn := writeTemp(t, "cut.bz2", bz[:cut])
		if _, _, err := readInput(t, fn, OpenOptions{}); err == nil || !strings.Contains(err.Error(), fn) || !strings.Contains(err.Error(), "bzip2") {
			t.Errorf("truncated at %d: %v", cut, err)
		}
	}
}

// TestOpenInputZipMembers: which member of a zip archive is read, and the
// errors that list the members when that is not clear.
func TestOpenInputZipMembers(t *testing.T) {
	nov, oct := "event_time,x\nnov\n", "event_time,x\noct\n"
	kaggle := writeTemp(t, "archive.zip", zipOf(t,
		zipEntry{"2019-Nov.csv", nov, zip.Deflate}, zipEntry{"2019-Oct.csv", oct, zip.Deflate}))
	read := func(path, member, want string) {
		t.Helper()
		o, got, err := readInput(t, path, OpenOptions{Member: member})
		if err != nil || string(got) != want {
			t.Fatalf("%s, member %q: err %v, got %q, want %q", path, member, err, got, want)
		}
		if o.Format != "zip" || o.Plain {
			t.Errorf("Format %q Plain %v", o.Format, o.Plain)
		}
	}
	fails := func(path, member string, want ...string) {
		t.Helper()
		_, _, err := readInput(t, path, OpenOptions{Member: member})
		if err == nil {
			t.Fatalf("%s, member %q: no error", path, member)
		}
		for _, w := range append(want, path) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s, member %q: error %q does not say %q", path, member, err, w)
			}
		}
	}
	// Two .csv members: the error lists them; Member chooses.
	fails(kaggle, "", "several .csv files (2019-Nov.csv, 2019-Oct.csv)", "--member")
	_, _, err := readInput(t, kaggle, OpenOptions{})
	if !errors.Is(err, ErrZipMember) {
		t.Errorf("two members: %v does not wrap ErrZipMember", err)
	}
	read(kaggle, "2019-Nov.csv", nov)
	read(kaggle, "2019-Oct.csv", oct)
	fails(kaggle, "2019-Dec.csv", `no member "2019-Dec.csv"`, "its members: 2019-Nov.csv, 2019-Oct.csv")

	// A member in a folder is found by its base name when that is unique.
	nested := writeTemp(t, "nested.zip", zipOf(t,
		zipEntry{"a/", "", zip.Store}, zipEntry{"a/2019-Nov.csv", nov, zip.Deflate},
		zipEntry{"b/2019-Nov.csv", oct, zip.Deflate}, zipEntry{"a/notes.txt", "x", zip.Deflate}))
	read(nested, "a/2019-Nov.csv", nov)
	read(nested, "notes.txt", "x")
	fails(nested, "2019-Nov.csv", "no member", "a/2019-Nov.csv, b/2019-Nov.csv, a/notes.txt")
	fails(nested, "", "several .csv files (a/2019-Nov.csv, b/2019-Nov.csv)")

	// One .csv beside macOS's extras; upper-case extension.
	mac := writeTemp(t, "mac.zip", zipOf(t, zipEntry{"__MACOSX/", "", zip.Store},
		zipEntry{"__MACOSX/._NOV.CSV", "\x00\x05\x16\x07", zip.Deflate}, zipEntry{"._NOV.CSV", "\x00\x05\x16\x07", zip.Deflate},
		zipEntry{"NOV.CSV", nov, zip.Deflate}))
	read(mac, "", nov)
	read(writeTemp(t, "macdir.zip", zipOf(t, zipEntry{"__MACOSX/2019-Nov.csv", oct, zip.Deflate}, zipEntry{"2019-Nov.csv", nov, zip.Deflate})), "", nov)

	// A name that would climb out of a folder does not matter: nothing is
	// extracted (archive/zip reports it as ErrInsecurePath).
	t.Setenv("GODEBUG", "zipinsecurepath=0")
	read(writeTemp(t, "climb.zip", zipOf(t, zipEntry{"../2019-Nov.csv", nov, zip.Deflate})), "", nov)
	os.Unsetenv("GODEBUG")

	// No .csv member; an empty archive.
	fails(writeTemp(t, "x.zip", zipOf(t, zipEntry{"sheet.xlsx", "x", zip.Deflate}, zipEntry{"notes.txt", "y", zip.Deflate})),
		"", "no .csv file", "its members: sheet.xlsx, notes.txt", "--member")
	fails(writeTemp(t, "empty.zip", zipOf(t)), "", "no .csv file", "its members: none")
	many := []zipEntry{}
	for i := range 12 {
		many = append(many, zipEntry{fmt.Sprintf("f%02d.txt", i), "", zip.Deflate})
	}
	fails(writeTemp(t, "many.zip", zipOf(t, many...)), "", "f09.txt, and 2 more")

	// A member compressed with a method archive/zip does not read (14: LZMA).
	_, _, err = readInput(t, writeTemp(t, "lzma.zip", zipOf(t, zipEntry{"a.csv", nov, 14})), OpenOptions{})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "compression method 14") || !strings.Contains(err.Error(), "unzip -p") {
		t.Errorf("LZMA member: %v", err)
	}

	// Member for an input that is not a zip archive.
	fails(writeTemp(t, "in.csv", []byte(nov)), "2019-Nov.csv", "not a zip archive")
	fails(writeTemp(t, "in.csv.gz", gzipOf(t, []byte(nov), 1)), "2019-Nov.csv", "not a zip archive (it is gzip)")

	// A zip archive needs a file: not from a pipe.
	withStdin(t, zipOf(t, zipEntry{"a.csv", nov, zip.Deflate}), func() {
		_, err := OpenInput("-", OpenOptions{})
		if err == nil || !strings.Contains(err.Error(), "stdin: a zip archive cannot be read from a pipe") || !strings.Contains(err.Error(), "unzip -p") {
			t.Errorf("zip on stdin: %v", err)
		}
	})
}

// TestOpenInputUnsupported: formats OpenInput does not read are refused by
// their magic bytes, whatever the name, with the command that converts them.
func TestOpenInputUnsupported(t *testing.T) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "2019-Nov.csv", Mode: 0o644, Size: 4})
	tw.Write([]byte("a,b\n"))
	tw.Close()
	tarball := tb.Bytes()
	f := func(file string, data []byte, want string) {
		t.Helper()
		fn := writeTemp(t, file, data)
		_, err := OpenInput(fn, OpenOptions{})
		if !errors.Is(err, ErrUnsupported) {
			t.Fatalf("%s: %v does not wrap ErrUnsupported", file, err)
		}
		if want = strings.ReplaceAll(want, "FILE", fn); err.Error() != want {
			t.Errorf("%s:\n got %s\nwant %s", file, err, want)
		}
	}
	f("input.csv.xz", []byte("\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4\x46"),
		"FILE: xz-compressed input is not supported; decompress it first (xz -dk FILE) or pipe it: xz -dc FILE | cartwatch run -")
	f("input.csv", []byte("\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4\x46"),
		"FILE: xz-compressed input is not supported; decompress it first (xz -dk FILE) or pipe it: xz -dc FILE | cartwatch run -")
	f("in.7z", []byte("7z\xbc\xaf\x27\x1c\x00\x04"),
		"FILE: a 7z archive is not supported; extract it first (7z x FILE) or pipe it: 7z e -so FILE MEMBER | cartwatch run -")
	f("in.rar", []byte("Rar!\x1a\x07\x01\x00"),
		"FILE: a RAR archive is not supported; extract it first (unrar x FILE) or pipe it: unrar p -inul FILE MEMBER | cartwatch run -")
	f("in.csv.lz4", []byte("\x04\x22\x4d\x18\x64\x40\xa7"),
		"FILE: lz4-compressed input is not supported; decompress it first (lz4 -d FILE) or pipe it: lz4 -dc FILE | cartwatch run -")
	f("in.csv.lz", []byte("LZIP\x01\x0c"),
		"FILE: lzip-compressed input is not supported; decompress it first (lzip -dk FILE) or pipe it: lzip -dc FILE | cartwatch run -")
	f("in.csv.Z", []byte("\x1f\x9d\x90\x65"),
		"FILE: compress (.Z) input is not supported; decompress it first (gzip -dk FILE) or pipe it: gzip -dc FILE | cartwatch run -")
	f("in.parquet", []byte("PAR1\x15\x04\x15"), "FILE: a Parquet file is not supported; cartwatch reads CSV text: export it to CSV first")
	f("in.tar", tarball,
		"FILE: a tar archive is not supported; extract it first (tar -xf FILE) or pipe it: tar -xOf FILE MEMBER | cartwatch run -")
	// A path with a space is quoted in the commands.
	fn := writeTemp(t, "my data.xz", []byte("\xfd7zXZ\x00\x00"))
	if _, err := OpenInput(fn, OpenOptions{}); err == nil || !strings.Contains(err.Error(), "(xz -dk '"+fn+"')") {
		t.Errorf("quoting: %v", err)
	}
	// Inside a container that is read: a .tar.gz, xz inside a zip member.
	f("in.tar.gz", gzipOf(t, tarball, 1),
		"FILE: the gzip data holds a tar archive, which cartwatch does not read; extract the CSV first: tar -xOf FILE MEMBER | cartwatch run -")
	f("in.tar.zst", zstdOf(t, tarball, 1),
		"FILE: the zstd data holds a tar archive, which cartwatch does not read; extract the CSV first: tar -xOf FILE MEMBER | cartwatch run -")
	f("in.zip", zipOf(t, zipEntry{"a.csv", "\xfd7zXZ\x00\x00", zip.Deflate}),
		"FILE: the zip member a.csv holds xz-compressed input, which cartwatch does not read; decode every layer first")
	f("in.csv.gz.gz", gzipOf(t, gzipOf(t, []byte("a,b\n"), 1), 1),
		"FILE: the gzip data holds gzip data, which cartwatch does not read; decode every layer first")
	// On stdin, the fix is a filter in the pipe.
	withStdin(t, []byte("\xfd7zXZ\x00\x00\x04"), func() {
		_, err := OpenInput("-", OpenOptions{})
		want := "stdin: xz-compressed input is not supported; decompress it in the pipe: ... | xz -dc | cartwatch run -"
		if !errors.Is(err, ErrUnsupported) || err.Error() != want {
			t.Errorf("stdin xz:\n got %v\nwant %s", err, want)
		}
	})
	withStdin(t, []byte("7z\xbc\xaf\x27\x1c\x00\x04"), func() {
		_, err := OpenInput("-", OpenOptions{})
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "cannot be read from a pipe; save it and extract it first (7z x FILE)") {
			t.Errorf("stdin 7z: %v", err)
		}
	})
}

// TestOpenInputCorrupt: a truncated or corrupt compressed stream is an
// error naming the file, at open or while reading, never a panic or a
// silent short read.
func TestOpenInputCorrupt(t *testing.T) {
	rows, _ := testrows.SyntheticRows(5000)
	gz, zs := gzipOf(t, rows, 1), zstdOf(t, rows, 1)
	zp := zipOf(t, zipEntry{"a.csv", string(rows), zip.Deflate})
	flip := func(b []byte, at int) []byte {
		b = append([]byte(nil), b...)
		for i := at; i < at+16; i++ {
			b[i] ^= 0x55
		}
		return b
	}
	f := func(name string, data []byte, want ...string) {
		t.Helper()
		fn := writeTemp(t, name, data)
		_, got, err := readInput(t, fn, OpenOptions{})
		if err == nil {
			t.Fatalf("%s: no error, %d of %d bytes read", name, len(got), len(rows))
		}
		for _, w := range append(want, fn) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", name, err, w)
			}
		}
	}
	f("cut.gz", gz[:len(gz)/2], "the gzip data ends early (a truncated file?)")
	f("cut-trailer.gz", gz[:len(gz)-4], "gzip")
	f("cut-header.gz", gz[:5], "gzip")
	f("header-only.gz", append([]byte{0x1f, 0x8b}, "garbage"...), "bad gzip data")
	f("flipped.gz", flip(gz, len(gz)/2), "gzip")
	f("cut.zst", zs[:len(zs)/2], "zstd")
	f("cut-header.zst", zs[:6], "zstd")
	f("bad.zst", append([]byte{0x28, 0xb5, 0x2f, 0xfd}, bytes.Repeat([]byte{0xee}, 100)...), "bad zstd data")
	f("flipped.zst", flip(zs, len(zs)/2), "zstd")
	f("cut.zip", zp[:len(zp)/2], "not a readable zip archive")
	f("flipped.zip", flip(zp, 100), "zip member a.csv")

	// Truncation surfaces through chunkReader as an error, not io.EOF.
	o, err := OpenInput(writeTemp(t, "cut.gz", gz[:len(gz)/2]), OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	cr := newChunkReader(o, readerOptions{ChunkSize: 1 << 16})
	for {
		_, err := cr.Next()
		if err == io.EOF {
			t.Fatal("truncated gzip: chunkReader reached io.EOF")
		}
		if err != nil {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("truncated gzip: %v does not wrap io.ErrUnexpectedEOF", err)
			}
			break
		}
	}
}

// TestOpenInputPlainUntouched: opening a plain regular file reads nothing
// through it, so a caller that maps it finds the offset at 0 and the
// counter at 0; Head reads the file without moving either.
func TestOpenInputPlainUntouched(t *testing.T) {
	rows, _ := testrows.SyntheticRows(2000)
	var n atomic.Int64
	o, err := OpenInput(writeTemp(t, "in.csv", rows), OpenOptions{Counter: &n})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	check := func(when string) {
		t.Helper()
		if off, err := o.File.Seek(0, io.SeekCurrent); err != nil || off != 0 || n.Load() != 0 {
			t.Fatalf("%s: offset %d (%v), counter %d; want 0, 0", when, off, err, n.Load())
		}
	}
	check("after open")
	if !o.Plain || !bytes.Equal(o.Head(), headOf(rows)) {
		t.Fatalf("Plain %v, head %d bytes", o.Plain, len(o.Head()))
	}
	check("after Head")
}

// TestOpenInputInterrupt: a reader source over zstd on a pipe that stays
// open is interrupted while its Next waits for more input: Next returns an
// error, and Close after it is clean (run it with -race: the zstd decoder
// must not be closed under a Read).
func TestOpenInputInterrupt(t *testing.T) {
	rows, _ := testrows.SyntheticRows(5000)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	go pw.Write(zstdOf(t, rows, 1)) // and the pipe stays open
	defer func(f *os.File) { os.Stdin = f }(os.Stdin)
	os.Stdin = pr
	in, err := OpenInput("-", OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src := newReaderSource(in, new(Progress))
	src.setChunkBytes(1<<16, 4)
	done := make(chan error)
	go func() {
		var r Records
		for {
			if err := src.Next(context.Background(), &r); err != nil {
				done <- err
				return
			}
			src.Release(&r)
		}
	}()
	time.Sleep(50 * time.Millisecond) // let it read all there is and wait
	go src.Interrupt()                // which must not wait for Next
	select {
	case err := <-done:
		if err == io.EOF {
			t.Errorf("interrupted Next returned io.EOF, want an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next still blocked 10 s after Interrupt")
	}
	closed := make(chan struct{})
	go func() { src.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close still blocked after 10 s")
	}
}

// TestCountingReaderAt: only the bytes inside [lo, hi) are counted, and
// none before the counter is set.
func TestCountingReaderAt(t *testing.T) {
	var n atomic.Int64
	c := &countingReaderAt{r: strings.NewReader(strings.Repeat("x", 100))}
	buf := make([]byte, 30)
	c.ReadAt(buf, 0)
	c.n, c.lo, c.hi = &n, 20, 50
	for _, off := range []int64{0, 10, 40, 90} { // 10, 20, 10 and 0 bytes in range
		c.ReadAt(buf, off)
	}
	if n.Load() != 40 {
		t.Fatalf("counted %d bytes, want 40", n.Load())
	}
}

// TestOpenInputErrors: a missing file and a directory are named.
func TestOpenInputErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.csv")
	if _, err := OpenInput(missing, OpenOptions{}); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := OpenInput(dir, OpenOptions{}); err == nil || !strings.Contains(err.Error(), dir+" is a directory") {
		t.Errorf("directory: %v", err)
	}
	// An empty file is plain and empty.
	o, got, err := readInput(t, writeTemp(t, "empty.csv.gz", nil), OpenOptions{})
	if err != nil || len(got) != 0 || o.Format != "plain" || !o.Plain || len(o.Head()) != 0 {
		t.Errorf("empty file: err %v, %d bytes, Format %q", err, len(got), o.Format)
	}
}

// TestRunFileFormats: a run over each compressed form of the input gives
// the alerts and rejects of the plain file, and its progress ends at the
// size of the file as stored.
func TestRunFileFormats(t *testing.T) {
	rows, _ := testrows.SyntheticRows(20000)
	rows = append(rows, "not,a,row\n"...)
	want, wsum, wrej := runText(t, rows, Options{})
	bz, err := os.ReadFile("testdata/rows.csv.bz2")
	if err != nil {
		t.Fatal(err)
	}
	plainBz, _ := os.ReadFile("testdata/rows.csv")
	wantBz, _, _ := runText(t, plainBz, Options{})
	for _, in := range []struct {
		file   string
		stored []byte
		want   string
	}{
		{"in.csv.gz", rows, want}, // plain whatever the name: mapped
		{"in.csv", rows, want},
		{"in.csv.gz", gzipOf(t, rows, 2), want},
		{"in.csv.zst", zstdOf(t, rows, 1), want},
		{"in.zip", zipOf(t, zipEntry{"2019-Nov.csv", string(rows), zip.Deflate}), want},
		{"rows.csv.bz2", bz, wantBz},
	} {
		var a, r bytes.Buffer
		var prog Progress
		sum, err := RunFile(writeTemp(t, in.file, in.stored), Options{Alerts: &a, Rejects: &r}, &prog)
		if err != nil || a.String() != in.want {
			t.Errorf("%s: err %v, alerts differ (%d vs %d bytes)", in.file, err, a.Len(), len(in.want))
		}
		// Progress: bytes of the file as stored, whatever the format (of a
		// zip, its member's stored bytes).
		if total, n := prog.Total.Load(), prog.Bytes.Load(); total != n || total <= 0 || total > int64(len(in.stored)) ||
			total < int64(len(in.stored))-200 {
			t.Errorf("%s: progress %d of %d bytes; the file has %d", in.file, n, total, len(in.stored))
		}
		if in.file != "rows.csv.bz2" && (r.String() != wrej || sum.Events != wsum.Events || sum.Malformed != 1) {
			t.Errorf("%s: rejects %q, events %d, malformed %d", in.file, r.String(), sum.Events, sum.Malformed)
		}
	}
}

// FuzzOpenInput: whatever the bytes (seeded with each format, whole and
// cut), OpenInput and reading never panic, and every error names the file.
//
//	go test ./core -run '^$' -fuzz FuzzOpenInput -fuzztime 60s
func FuzzOpenInput(f *testing.F) {
	rows := []byte("event_time,x\n2019-11-01 00:00:14 UTC,cart,1,2,,,5.10,7,s1\n")
	bz, _ := os.ReadFile("testdata/rows.csv.bz2")
	for _, seed := range [][]byte{rows, gzipOf(f, rows, 2), zstdOf(f, rows, 1), bz,
		zipOf(f, zipEntry{"a.csv", string(rows), zip.Deflate}), append(skippable("x"), zstdOf(f, rows, 1)...)} {
		f.Add(seed)
		f.Add(seed[:len(seed)/2])
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		fn := filepath.Join(dir, "in")
		if err := os.WriteFile(fn, data, 0o644); err != nil {
			t.Fatal(err)
		}
		o, err := OpenInput(fn, OpenOptions{})
		if err == nil {
			_, err = io.Copy(io.Discard, io.LimitReader(o, 64<<20))
			o.Head()
			o.Close()
		}
		if err != nil && !strings.Contains(err.Error(), fn) {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}
