package format

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// Telling what an input is from its first bytes: Container names a
// compressed or archive format by its magic bytes (core.OpenInput decodes
// some and refuses the others with a fix), and Diagnose says why an input
// with no valid row probably has none.

// HeadSize is how many first bytes Container and Diagnose look at, at most.
const HeadSize = 64 << 10

// magic is one container format: its name and the bytes it starts with (at
// offset off).
type magic struct {
	name  string
	off   int
	bytes string
}

// magics are the formats Container knows. Text cannot start with any of them
// (each holds a byte below 0x20 or is checked where text cannot put it),
// except "BZh" followed by a digit and "PAR1", which a CSV row would need an
// event_time starting with to match.
var magics = []magic{
	{"gzip", 0, "\x1f\x8b"},
	{"zstd", 0, "\x28\xb5\x2f\xfd"},
	{"bzip2", 0, "BZh"}, // + a digit '1'..'9', checked in Container
	{"zip", 0, "PK\x03\x04"},
	{"zip", 0, "PK\x05\x06"}, // an empty archive
	{"zip", 0, "PK\x07\x08"}, // a spanned archive's first part
	{"xz", 0, "\xfd7zXZ\x00"},
	{"7z", 0, "7z\xbc\xaf\x27\x1c"},
	{"rar", 0, "Rar!\x1a\x07"},
	{"lz4", 0, "\x04\x22\x4d\x18"},
	{"lz4", 0, "\x02\x21\x4c\x18"}, // the legacy frame of lz4 -l
	{"lzip", 0, "LZIP\x01"},
	{"compress", 0, "\x1f\x9d"}, // .Z
	{"parquet", 0, "PAR1"},
	{"tar", 257, "ustar"}, // POSIX "ustar\x0000" and GNU "ustar  \x00"
}

// Container returns the name of the compressed or archive format head (the
// first bytes of an input) starts with: "gzip", "zstd", "bzip2", "zip", "xz",
// "7z", "rar", "lz4", "lzip", "compress" (.Z), "parquet" or "tar"; "" for
// anything else, text included. A zstd stream may open with a skippable
// frame (pzstd writes one): that counts as zstd.
func Container(head []byte) string {
	for _, m := range magics {
		if len(head) >= m.off+len(m.bytes) && string(head[m.off:m.off+len(m.bytes)]) == m.bytes {
			if m.name == "bzip2" && (len(head) < 4 || head[3] < '1' || head[3] > '9') {
				continue
			}
			return m.name
		}
	}
	// Skippable frames: magic 0x184D2A50 to 0x184D2A5F, little-endian.
	if len(head) >= 4 && head[0]&0xf0 == 0x50 && string(head[1:4]) == "\x2a\x4d\x18" {
		return "zstd"
	}
	return ""
}

// Diagnose returns the likely reason why an input that starts with head
// (its first bytes after decompression, up to HeadSize) has no valid row,
// or "" when nothing stands out. The checks, in order: empty; UTF-16 text;
// a compressed or archive format (Container); binary data (a NUL byte, or
// more than 1 % control bytes, or more than 10 % bytes that are not UTF-8);
// an HTML or XML page; JSON; rows that split into 9 or more fields on ';',
// tab or '|' but not on ','.
func Diagnose(head []byte) string {
	if len(head) > HeadSize {
		head = head[:HeadSize]
	}
	if bytes.HasPrefix(head, []byte("\xff\xfe")) || bytes.HasPrefix(head, []byte("\xfe\xff")) || utf16Zeros(head) {
		return "the input is UTF-16 text; cartwatch reads UTF-8: convert it first (iconv -f UTF-16 -t UTF-8)"
	}
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(head)) == 0 {
		return "the input is empty"
	}
	if name := Container(head); name != "" {
		return fmt.Sprintf("the data starts with the magic bytes of %s, not CSV text: decompress or extract it first", name)
	}
	if notText(head) {
		return "not text: is it compressed or an archive in a format cartwatch does not read?"
	}
	text := bytes.TrimLeft(head, " \t\r\n")
	switch {
	case hasPrefixFold(text, "<!doctype html") || hasPrefixFold(text, "<html") ||
		(text[0] == '<' && (containsFold(text, "<html") || containsFold(text, "<body"))):
		return "looks like an HTML page, not CSV: was a download link saved instead of the file?"
	case hasPrefixFold(text, "<?xml"):
		return "looks like XML, not CSV"
	case text[0] == '{' || text[0] == '[':
		return "looks like JSON, not CSV"
	}
	if d := delimiter(head); d != 0 {
		name := fmt.Sprintf("'%c'", d)
		if d == '\t' {
			name = "tab"
		}
		return fmt.Sprintf("the rows look %s-separated; cartwatch reads comma-separated CSV", name)
	}
	return ""
}

// utf16Zeros reports UTF-16 text without a byte-order mark: ASCII in UTF-16
// has a NUL in every other byte.
func utf16Zeros(b []byte) bool {
	b = b[:min(len(b), 512)]
	if len(b) < 16 {
		return false
	}
	var zeros [2]int
	for i, c := range b {
		if c == 0 {
			zeros[i&1]++
		}
	}
	half := len(b) / 2
	return (zeros[0] > half*9/10 && zeros[1] == 0) || (zeros[1] > half*9/10 && zeros[0] == 0)
}

// notText reports data that is not text: any NUL, control bytes other than
// tab, CR, LF and form feed above 1 %, or invalid UTF-8 above 10 % (Latin-1
// text has a few bytes that are not UTF-8; random bytes have mostly those).
func notText(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return true
	}
	ctl, bad := 0, 0
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || c == 0x7f {
				ctl++
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 && len(b)-i >= utf8.UTFMax {
			bad++ // a rune cut by the end of head is not counted
		}
		i += n
	}
	return ctl*100 > len(b) || bad*10 > len(b)
}

// delimiter returns ';', '\t' or '|' when the first lines of head (up to 5
// whole ones) all split into at least 9 fields on it while they do not all
// on ','; else 0.
func delimiter(head []byte) byte {
	var lines [][]byte
	rest := head
	for len(lines) < 5 && len(rest) > 0 {
		j := bytes.IndexByte(rest, '\n')
		if j < 0 {
			if len(lines) > 0 {
				break // a line cut by the end of head
			}
			j = len(rest)
		}
		if line := bytes.TrimRight(rest[:j], "\r"); len(bytes.TrimSpace(line)) > 0 {
			lines = append(lines, line)
		}
		rest = rest[min(j+1, len(rest)):]
	}
	all9 := func(d byte) bool {
		for _, l := range lines {
			if fields(l, d) < 9 {
				return false
			}
		}
		return len(lines) > 0
	}
	if all9(',') {
		return 0
	}
	for _, d := range []byte{';', '\t', '|'} {
		if all9(d) {
			return d
		}
	}
	return 0
}

// fields counts the fields of line split on d, outside double quotes.
func fields(line []byte, d byte) int {
	n, quoted := 1, false
	for _, c := range line {
		switch {
		case c == '"':
			quoted = !quoted
		case c == d && !quoted:
			n++
		}
	}
	return n
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && bytes.EqualFold(b[:len(prefix)], []byte(prefix))
}

// containsFold looks for an ASCII tag in the first KiB of b.
func containsFold(b []byte, s string) bool {
	return bytes.Contains(bytes.ToLower(b[:min(len(b), 1024)]), []byte(s))
}
