package core

import (
	"archive/zip"
	"bufio"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/cartwatch/cartwatch/format"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Opening an input: OpenInput tells the container from the first bytes of
// the content, never from the file name (a Kaggle download named .csv may be
// a zip, a file named .gz may be plain text), and returns the decoded CSV
// text. gzip (one member or several), zstd, bzip2 and a .zip archive's
// member are decoded; other compressed or archive formats are refused with
// an UnsupportedError that says how to decompress them; anything else is
// read as it is, as text.

// ErrUnsupported is wrapped by the error for an input in a compressed or
// archive format that OpenInput does not read (see UnsupportedError).
var ErrUnsupported = errors.New("input format not supported")

// ErrZipMember is wrapped by the errors for a zip archive without a member
// to read: none or several .csv members, or OpenOptions.Member not in it.
var ErrZipMember = errors.New("cannot choose the zip member to read")

// OpenOptions configure OpenInput. The zero value is ready to use.
type OpenOptions struct {
	// Member is the member of a .zip archive to read: its name in the
	// archive, or its base name if only one member has it. Default: the
	// archive's single .csv member. It is an error for any other input.
	Member string
	// Counter, if set, is incremented by every byte read from the file as
	// stored: compressed bytes for compressed input, the member's stored
	// bytes for a zip archive (Opened.Size is what it counts up to). Bytes
	// looked at to tell the format from a regular file are not counted
	// (they are read with ReadAt), so a caller that maps a Plain file
	// instead of reading it may count the mapped bytes itself.
	Counter *atomic.Int64
}

// Opened is an input opened by OpenInput: Read returns its decoded content.
// It is not safe for concurrent use. Close it when done.
type Opened struct {
	// Name is the path, or "stdin" for "-": errors use it.
	Name string
	// Format is "plain", "gzip", "zstd", "bzip2" or "zip".
	Format string
	// Member is the zip member read, "" for other formats.
	Member string
	// Plain reports a regular file whose content is read as it is: File
	// may be mapped and read from offset 0 instead of calling Read.
	Plain bool
	// File is the file opened (os.Stdin for "-").
	File *os.File
	// Size is what OpenOptions.Counter counts up to: the file's size for a
	// regular file (for stdin redirected from one, the bytes after its
	// current offset), the member's stored size for a zip archive, 0 when
	// unknown (a pipe).
	Size int64

	r       *bufio.Reader // the decoded content
	head    []byte        // the first decoded bytes, read at open (not Plain)
	closers []io.Closer   // decoders, then File
}

// sniffSize is how many first bytes OpenInput looks at to tell the format:
// enough for the tar magic at offset 257.
const sniffSize = 512

// OpenInput opens path for reading: "-" is standard input, anything else a
// file. The format comes from the first bytes of the content (see
// format.Container), whatever the name; anything not compressed or an
// archive is plain text. The error names the file and, for a format that
// cannot be read, says how to convert it (UnsupportedError). A corrupt or
// truncated compressed stream gives a read error naming the file, at open
// when its first bytes are already bad.
func OpenInput(path string, opt OpenOptions) (*Opened, error) {
	o := &Opened{Name: path}
	stdin := path == "-"
	if stdin {
		o.Name, o.File = "stdin", os.Stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("open input: %w", err)
		}
		o.File = f
	}
	o.closers = append(o.closers, o.File)
	if err := o.open(stdin, opt); err != nil {
		o.Close()
		return nil, err
	}
	return o, nil
}

func (o *Opened) open(stdin bool, opt OpenOptions) error {
	f := o.File
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open input %s: %w", o.Name, err)
	}
	if st.IsDir() {
		return fmt.Errorf("open input: %s is a directory", o.Name)
	}
	regular := st.Mode().IsRegular()
	var raw io.Reader = f
	if opt.Counter != nil {
		raw = &countingReader{r: f, n: opt.Counter}
	}
	// NOTE: once its buffer is drained, bufio.Reader passes large reads
	// straight to the file, so the buffer costs no extra copy of a plain
	// input (chunkReader reads 1 MiB at a time).
	br := bufio.NewReaderSize(raw, format.HeadSize)
	var magic []byte
	switch {
	case regular && !stdin:
		// pread: the offset stays 0 and nothing is counted.
		o.Size = st.Size()
		buf := make([]byte, sniffSize)
		n, err := f.ReadAt(buf, 0)
		if err != nil && err != io.EOF {
			return fmt.Errorf("read input %s: %w", o.Name, err)
		}
		magic = buf[:n]
	default:
		if regular { // stdin redirected from a file
			if off, err := f.Seek(0, io.SeekCurrent); err == nil {
				o.Size = max(st.Size()-off, 0)
			}
		}
		magic, err = br.Peek(sniffSize)
		if err != nil && err != io.EOF {
			return fmt.Errorf("read input %s: %w", o.Name, err)
		}
	}

	o.Format = format.Container(magic)
	var dec io.Reader
	switch o.Format {
	case "":
		o.Format = "plain"
		if opt.Member != "" {
			return fmt.Errorf("%s: a zip member (%q) was named, but the input is not a zip archive", o.Name, opt.Member)
		}
		o.r = br
		if regular && !stdin {
			o.Plain = true
			return nil // Head reads the file with ReadAt when asked
		}
		return o.readHead()
	case "zip":
		if stdin || !regular {
			return fmt.Errorf("%s: a zip archive cannot be read from a pipe (its index is at its end); give its path, or pipe its member: unzip -p FILE MEMBER | cartwatch run -", o.Name)
		}
		return o.openZip(opt)
	case "gzip":
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: bad gzip data: %w", o.Name, err)
		}
		o.closers = append(o.closers, zr)
		dec = zr
	case "zstd":
		zr, err := zstd.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: zstd: %w", o.Name, err)
		}
		o.closers = append(o.closers, zr.IOReadCloser())
		dec = zr
	case "bzip2":
		dec = bzip2.NewReader(br)
	default:
		return &UnsupportedError{Name: o.Name, Format: o.Format, stdin: stdin}
	}
	if opt.Member != "" {
		return fmt.Errorf("%s: a zip member (%q) was named, but the input is not a zip archive (it is %s)", o.Name, opt.Member, o.Format)
	}
	o.r = bufio.NewReaderSize(&decodeReader{r: dec, name: o.Name, format: o.Format}, format.HeadSize)
	return o.readHead()
}

// readHead keeps a copy of the first decoded bytes for Head, so reading the
// stream does not lose them, and refuses an archive or compressed stream
// inside the container (a .tar.gz, a zip of a .csv.xz): decoding more than
// one layer is left to the tools that made them.
func (o *Opened) readHead() error {
	b, err := o.r.Peek(format.HeadSize)
	if err != nil && err != io.EOF {
		if o.Format == "plain" {
			return fmt.Errorf("read input %s: %w", o.Name, err)
		}
		return err // decodeReader named the file
	}
	o.head = append([]byte(nil), b...)
	if o.Format == "plain" {
		return nil
	}
	if inner := format.Container(b); inner != "" {
		return &UnsupportedError{Name: o.Name, Format: inner, Inside: o.Format, Member: o.Member, stdin: o.File == os.Stdin}
	}
	return nil
}

// openZip opens the member of the zip archive o.File to read.
func (o *Opened) openZip(opt OpenOptions) error {
	ra := &countingReaderAt{r: o.File}
	zr, err := zip.NewReader(ra, o.Size)
	if err != nil && err != zip.ErrInsecurePath { // a name like ../x is harmless: nothing is written
		return fmt.Errorf("%s: not a readable zip archive: %w", o.Name, err)
	}
	zf, err := zipMember(zr.File, opt.Member)
	if err != nil {
		return fmt.Errorf("%s: %w", o.Name, err)
	}
	off, err := zf.DataOffset()
	if err != nil {
		return fmt.Errorf("%s: zip member %s: %w", o.Name, zf.Name, err)
	}
	rc, err := zf.Open()
	if err != nil {
		if errors.Is(err, zip.ErrAlgorithm) {
			return fmt.Errorf("%s: zip member %s: %w: compression method %d (cartwatch reads stored and deflate members); pipe it: unzip -p %s %s | cartwatch run -",
				o.Name, zf.Name, ErrUnsupported, zf.Method, shellQuote(o.Name), shellQuote(zf.Name))
		}
		return fmt.Errorf("%s: zip member %s: %w", o.Name, zf.Name, err)
	}
	o.closers = append(o.closers, rc)
	// Count the member's stored bytes only, not the index or the headers.
	ra.n, ra.lo, ra.hi = opt.Counter, off, off+int64(zf.CompressedSize64)
	o.Member, o.Size = zf.Name, int64(zf.CompressedSize64)
	o.r = bufio.NewReaderSize(&decodeReader{r: rc, name: o.Name, format: "zip member " + zf.Name}, format.HeadSize)
	return o.readHead()
}

// zipMember picks the member to read: the one named (by its name, or by its
// base name when that is unique), else the single .csv file. Directories and
// the __MACOSX/ and ._ entries macOS adds are never candidates.
func zipMember(files []*zip.File, name string) (*zip.File, error) {
	var all, csv []*zip.File
	for _, f := range files {
		base := path.Base(f.Name)
		if f.FileInfo().IsDir() || strings.HasPrefix(f.Name, "__MACOSX/") || strings.HasPrefix(base, "._") {
			continue
		}
		all = append(all, f)
		if strings.EqualFold(path.Ext(f.Name), ".csv") {
			csv = append(csv, f)
		}
	}
	if name != "" {
		var byBase []*zip.File
		for _, f := range all {
			if f.Name == name {
				return f, nil
			}
			if path.Base(f.Name) == name {
				byBase = append(byBase, f)
			}
		}
		if len(byBase) == 1 {
			return byBase[0], nil
		}
		return nil, fmt.Errorf("%w: no member %q in the archive; its members: %s", ErrZipMember, name, memberList(all))
	}
	switch len(csv) {
	case 1:
		return csv[0], nil
	case 0:
		return nil, fmt.Errorf("%w: the archive holds no .csv file; its members: %s; name the one to read with --member", ErrZipMember, memberList(all))
	}
	return nil, fmt.Errorf("%w: the archive holds several .csv files (%s); name the one to read with --member", ErrZipMember, memberList(csv))
}

// memberList lists member names for an error message, at most 10.
func memberList(files []*zip.File) string {
	if len(files) == 0 {
		return "none"
	}
	var names []string
	for i, f := range files {
		if i == 10 {
			names = append(names, fmt.Sprintf("and %d more", len(files)-10))
			break
		}
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}

// Read reads the decoded content.
func (o *Opened) Read(p []byte) (int, error) { return o.r.Read(p) }

// Head returns the first bytes of the decoded content, up to
// format.HeadSize (all of it if shorter), for format.Diagnose. It does not
// consume them and may be called before, during or after reading, and after
// Close; the result is shared: do not modify it.
func (o *Opened) Head() []byte {
	if o.head == nil && o.Plain {
		buf := make([]byte, min(o.Size, format.HeadSize))
		n, _ := o.File.ReadAt(buf, 0)
		o.head = buf[:n]
	}
	return o.head
}

// Close closes the decoders and the file (standard input too). It returns
// the file's error only: a decoder's is the read error already returned.
// Head still works after Close. Close must not run during a Read (the zstd
// decoder is not safe for that); to unblock a Read waiting on a pipe from
// another goroutine, close File instead: the Read then returns an error.
func (o *Opened) Close() error {
	if len(o.closers) == 0 {
		return nil
	}
	o.Head() // a Plain file's head is read on demand, from the file
	for i := len(o.closers) - 1; i > 0; i-- {
		o.closers[i].Close()
	}
	err := o.closers[0].Close() // File
	o.closers = nil
	return err
}

// UnsupportedError is the error for an input in a compressed or archive
// format that OpenInput does not read. Its message names the format and the
// command that converts the input; it wraps ErrUnsupported.
type UnsupportedError struct {
	Name   string // the path, or "stdin"
	Format string // as format.Container names it: "xz", "7z", "rar", "lz4", "lzip", "compress", "parquet", "tar", ...
	// Inside is the format of the container that holds it ("gzip", "zstd",
	// "bzip2", "zip"; Member is then the zip member), "" for the file itself.
	Inside, Member string
	stdin          bool
}

// unsupported describes each refused format: what it is, the command that
// decodes FILE in place, the one that writes its content to stdout, and the
// filter for a pipe ("" when the format cannot be read from one).
var unsupported = map[string]struct{ what, verb, extract, pipe, filter string }{
	"xz":       {"xz-compressed input", "decompress", "xz -dk FILE", "xz -dc FILE", "xz -dc"},
	"lz4":      {"lz4-compressed input", "decompress", "lz4 -d FILE", "lz4 -dc FILE", "lz4 -dc"},
	"lzip":     {"lzip-compressed input", "decompress", "lzip -dk FILE", "lzip -dc FILE", "lzip -dc"},
	"compress": {"compress (.Z) input", "decompress", "gzip -dk FILE", "gzip -dc FILE", "gzip -dc"},
	"7z":       {"a 7z archive", "extract", "7z x FILE", "7z e -so FILE MEMBER", ""},
	"rar":      {"a RAR archive", "extract", "unrar x FILE", "unrar p -inul FILE MEMBER", ""},
	"tar":      {"a tar archive", "extract", "tar -xf FILE", "tar -xOf FILE MEMBER", "tar -xOf - MEMBER"},
	"parquet":  {"a Parquet file", "", "", "", ""},
}

func (e *UnsupportedError) Error() string {
	u, ok := unsupported[e.Format]
	if e.Inside != "" {
		what, in := e.Format+" data", e.Inside+" data"
		if ok {
			what = u.what
		}
		if e.Member != "" {
			in = "zip member " + e.Member
		}
		msg := fmt.Sprintf("%s: the %s holds %s, which cartwatch does not read", e.Name, in, what)
		if e.Format == "tar" && e.Inside != "zip" && !e.stdin {
			// GNU tar and bsdtar detect gzip, zstd and bzip2 themselves.
			return msg + fmt.Sprintf("; extract the CSV first: tar -xOf %s MEMBER | cartwatch run -", shellQuote(e.Name))
		}
		return msg + "; decode every layer first"
	}
	if !ok {
		return fmt.Sprintf("%s: %s input is not supported", e.Name, e.Format)
	}
	if u.extract == "" {
		return fmt.Sprintf("%s: %s is not supported; cartwatch reads CSV text: export it to CSV first", e.Name, u.what)
	}
	if e.stdin {
		if u.filter == "" {
			return fmt.Sprintf("%s: %s is not supported and cannot be read from a pipe; save it and %s it first (%s)", e.Name, u.what, u.verb, u.extract)
		}
		return fmt.Sprintf("%s: %s is not supported; %s it in the pipe: ... | %s | cartwatch run -", e.Name, u.what, u.verb, u.filter)
	}
	file := shellQuote(e.Name)
	return fmt.Sprintf("%s: %s is not supported; %s it first (%s) or pipe it: %s | cartwatch run -",
		e.Name, u.what, u.verb, strings.ReplaceAll(u.extract, "FILE", file), strings.ReplaceAll(u.pipe, "FILE", file))
}

func (e *UnsupportedError) Unwrap() error { return ErrUnsupported }

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./+,:@%=-]+$`)

// shellQuote quotes s for a POSIX shell if it needs it.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// decodeReader names the input and its format in a decoder's errors and
// makes them sticky. A stream that ends early is an error (io.ErrUnexpectedEOF
// from the decoder), never a silent end of input.
type decodeReader struct {
	r      io.Reader
	name   string
	format string
	err    error
}

func (d *decodeReader) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n, err := d.r.Read(p)
	switch {
	case err == nil || err == io.EOF:
	case errors.Is(err, io.ErrUnexpectedEOF):
		d.err = fmt.Errorf("%s: the %s data ends early (a truncated file?): %w", d.name, d.format, err)
	default:
		d.err = fmt.Errorf("%s: bad %s data: %w", d.name, d.format, err)
	}
	if d.err != nil {
		return n, d.err
	}
	return n, err
}

// countingReader adds the bytes read to n.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// countingReaderAt adds to n the bytes read in [lo, hi), once n is set.
type countingReaderAt struct {
	r      io.ReaderAt
	n      *atomic.Int64
	lo, hi int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	if c.n != nil {
		if m := min(off+int64(n), c.hi) - max(off, c.lo); m > 0 {
			c.n.Add(m)
		}
	}
	return n, err
}
