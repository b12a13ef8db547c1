package loadgen

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
)

// TestFileBytes writes random bytes through a File, direct and buffered,
// with small buffers (so a few KB cross many buffer and block boundaries) in
// pieces of random sizes, and checks the file holds exactly those bytes, for
// lengths around the alignment and the buffer size.
func TestFileBytes(t *testing.T) {
	for _, direct := range []bool{true, false} {
		fileBytes(t, direct)
	}
}

func fileBytes(t *testing.T, direct bool) {
	dir := t.TempDir()
	const bufSize = 4 * directAlign
	rng := rand.New(rand.NewPCG(1, 2))
	f := func(size int, maxPiece int) {
		t.Helper()
		want := make([]byte, size)
		for i := range want {
			want[i] = byte(rng.Uint32())
		}
		name := filepath.Join(dir, "d.bin")
		d, err := newFile(name, direct, bufSize, func(err error) { t.Logf("size %d: buffered: %v", size, err) })
		if err != nil {
			t.Fatal(err)
		}
		if want := direct && runtime.GOOS == "linux"; isDirect(d.f) != want || d.Direct() != want {
			t.Fatalf("size %d: %s: O_DIRECT %v, Direct() %v, want %v (fallback: %v)", size, name, isDirect(d.f), d.Direct(), want, d.Fallback())
		}
		for p := want; len(p) > 0; {
			n := min(len(p), 1+rng.IntN(maxPiece))
			if w, err := d.Write(p[:n]); w != n || err != nil {
				t.Fatalf("size %d: Write(%d bytes) = %d, %v", size, n, w, err)
			}
			p = p[n:]
		}
		if err := d.Close(); err != nil {
			t.Fatalf("size %d: Close: %v", size, err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("direct %v, size %d: file has %d bytes, differs from the %d written", direct, size, len(got), len(want))
		}
	}
	for _, size := range []int{0, 1, directAlign - 1, directAlign, directAlign + 1,
		bufSize - 1, bufSize, bufSize + 1, 2*bufSize + directAlign, 7*bufSize + 4321} {
		f(size, 3*directAlign)
	}
	f(20*bufSize+17, 5*bufSize) // pieces larger than a buffer, as an hour is
}

// TestFileCSVIdentical checks that WriteCSV into a File, direct and
// buffered (rendering in place, one goroutine), writes the same bytes as
// into memory (rendering in the workers), for configs whose sizes are and
// are not buffer multiples, down to a one-row file, with the real 4 MiB
// buffers and with 8 KiB ones (a buffer change every 60 lines).
func TestFileCSVIdentical(t *testing.T) {
	dir := t.TempDir()
	f := func(cfg Config) {
		t.Helper()
		for _, direct := range []bool{true, false} {
			for _, bufSize := range []int{2 * directAlign, fileBufSize} {
				fileCSV(t, filepath.Join(dir, "m.csv"), cfg, direct, bufSize)
			}
		}
	}
	f(Config{Rows: 1, Days: 1, Seed: 1})
	f(Config{Rows: 30, Days: 1, Seed: 2})
	f(Config{Rows: 100000, Days: 3, Seed: 3, NoGaps: true})
	f(Config{Scale: 0.01, Days: 30, Seed: 1})
}

// fileCSV writes cfg into memory and into a File of bufSize-byte buffers at
// name, and fails t unless the bytes are the same.
func fileCSV(t *testing.T, name string, cfg Config, direct bool, bufSize int) {
	t.Helper()
	var want bytes.Buffer
	if _, err := WriteCSV(&want, cfg, nil); err != nil {
		t.Fatal(err)
	}
	d, err := newFile(name, direct, bufSize, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := WriteCSV(d, cfg, nil)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil || n != int64(want.Len()) {
		t.Fatalf("%+v: WriteCSV = %d, %v; want %d bytes", cfg, n, err, want.Len())
	}
	got, _ := os.ReadFile(name)
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("%+v, direct %v: file (%d bytes, sha256 %x) differs from memory (%d bytes, sha256 %x)",
			cfg, direct, len(got), sha256.Sum256(got), want.Len(), sha256.Sum256(want.Bytes()))
	}
	t.Logf("%+v, direct %v, %d-byte buffers: %d bytes (%d mod 4096), fallback %v", cfg, direct, bufSize, len(got), len(got)%directAlign, d.Fallback())
}

// TestFileFallback forces the two refusals of O_DIRECT (at open, at the
// first write) and checks that the file is then written buffered, whole,
// and that notify is told once.
func TestFileFallback(t *testing.T) {
	dir := t.TempDir()
	want := make([]byte, 3*4*directAlign+99)
	for i := range want {
		want[i] = byte(i * 7)
	}
	f := func(what string) {
		t.Helper()
		name := filepath.Join(dir, what+".bin")
		var notes []error
		d, err := newFile(name, true, 4*directAlign, func(err error) { notes = append(notes, err) })
		if err != nil {
			t.Fatal(err)
		}
		d.Write(want[:5000])
		d.Write(want[5000:])
		if err := d.Close(); err != nil {
			t.Fatalf("%s: Close: %v", what, err)
		}
		if got, _ := os.ReadFile(name); !bytes.Equal(got, want) {
			t.Fatalf("%s: file of %d bytes differs from the %d written", what, len(got), len(want))
		}
		if len(notes) != 1 || !errors.Is(notes[0], syscall.EINVAL) || d.Fallback() == nil || d.Direct() {
			t.Fatalf("%s: notes %v, Fallback %v; want one EINVAL", what, notes, d.Fallback())
		}
	}
	defer func(o func(string) (*os.File, error)) { openDirectFn = o }(openDirectFn)
	openDirectFn = func(string) (*os.File, error) { return nil, &os.PathError{Op: "open", Err: syscall.EINVAL} }
	f("open")
	openDirectFn = openDirect
	if runtime.GOOS != "linux" {
		return // no O_DIRECT to refuse at the first write
	}
	defer func(w func(*os.File, []byte) (int, error)) { writeDirectFn = w }(writeDirectFn)
	writeDirectFn = func(f *os.File, b []byte) (int, error) {
		if isDirect(f) {
			return 0, &os.PathError{Op: "write", Err: syscall.EINVAL}
		}
		return f.Write(b)
	}
	f("write")
}

// TestFileBadPath checks that an error other than EINVAL (here: no such
// directory) is returned, not papered over by a buffered fallback.
func TestFileBadPath(t *testing.T) {
	_, err := CreateFile(filepath.Join(t.TempDir(), "no", "such", "x.csv"), true, func(err error) { t.Errorf("fallback %v", err) })
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err %v, want ErrNotExist", err)
	}
}
