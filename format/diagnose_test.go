package format

import (
	"bytes"
	"compress/gzip"
	"math/rand"
	"strings"
	"testing"
)

const header = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n"

var goodRow = "2019-11-01 00:00:14 UTC,cart,1234567,2000000000000000001,electronics.gadget,acme,123.45,500000001,00000000-1111-2222-3333-444444444444\n"

func TestContainer(t *testing.T) {
	f := func(head, want string) {
		t.Helper()
		if got := Container([]byte(head)); got != want {
			t.Errorf("Container(%q) = %q, want %q", head, got, want)
		}
	}
	tarHead := strings.Repeat("\x00", 257) + "ustar\x0000"
	f("\x1f\x8b\x08\x00", "gzip")
	f("\x28\xb5\x2f\xfd\x04", "zstd")
	f("\x50\x2a\x4d\x18\x04\x00\x00\x00", "zstd") // pzstd's skippable frame
	f("\x5f\x2a\x4d\x18", "zstd")
	f("BZh91AY&SY", "bzip2")
	f("BZh", "")  // too short to tell
	f("BZhx", "") // "BZh" then not a block size: text
	f("PK\x03\x04\x14\x00", "zip")
	f("PK\x05\x06", "zip")
	f("\xfd7zXZ\x00\x00", "xz")
	f("7z\xbc\xaf\x27\x1c\x00", "7z")
	f("Rar!\x1a\x07\x00", "rar")
	f("Rar!\x1a\x07\x01\x00", "rar")
	f("\x04\x22\x4d\x18", "lz4")
	f("\x02\x21\x4c\x18", "lz4")
	f("LZIP\x01", "lzip")
	f("\x1f\x9d\x90", "compress")
	f("PAR1\x15\x04", "parquet")
	f(tarHead, "tar")
	f(tarHead[:260], "")
	f("", "")
	f("\x1f", "")
	f(header+goodRow, "")
	f(goodRow, "")
	f("PK,zip", "")
}

func TestDiagnose(t *testing.T) {
	f := func(name, head, want string) {
		t.Helper()
		got := Diagnose([]byte(head))
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("%s: Diagnose = %q, want one containing %q", name, got, want)
		}
	}
	semi := strings.NewReplacer(",", ";", ".", ",")
	tabs := strings.NewReplacer(",", "\t")
	pipes := strings.NewReplacer(",", "|")
	rows := header + goodRow + goodRow + goodRow

	// Nothing stands out: CSV whose rows are bad for another reason.
	f("csv", rows, "")
	f("csv, no header", goodRow+goodRow, "")
	f("csv, bad prices", strings.ReplaceAll(rows, "123.45", "-1"), "")
	f("csv, a row cut at the end of head", rows+goodRow[:20], "")
	f("csv with a quoted ';' field", header+strings.Replace(goodRow, "acme", `"a;b;c;d;e;f;g;h;i"`, 1), "")
	f("short rows", "a,b\nc,d\n", "")
	f("short rows, a quoted run of ';'", strings.Repeat(`a,b,"x;y;z;w;v;u;t;s;r"`+"\n", 3), "")
	f("csv with 8 ';' in every row", strings.Repeat(strings.Replace(goodRow, "acme", "a;b;c;d;e;f;g;h;i", 1), 3), "")

	f("empty", "", "the input is empty")
	f("blank lines", "\n\r\n  \n", "the input is empty")
	f("BOM only", "\xef\xbb\xbf", "the input is empty")

	// Delimiters.
	f("';'", semi.Replace(rows), "the rows look ';'-separated; cartwatch reads comma-separated CSV")
	f("';' with decimal commas, BOM, CRLF", "\xef\xbb\xbf"+strings.ReplaceAll(semi.Replace(rows), "\n", "\r\n"), "';'-separated")
	f("';', no header", semi.Replace(goodRow+goodRow), "';'-separated")
	f("';', a row cut at the end of head", semi.Replace(rows+goodRow[:20]), "';'-separated")
	f("tab", tabs.Replace(rows), "the rows look tab-separated")
	f("'|'", pipes.Replace(rows), "the rows look '|'-separated")
	f("';' with an extra column", strings.ReplaceAll(semi.Replace(rows), "\n", ";x\n"), "';'-separated")

	// Not text.
	rng := rand.New(rand.NewSource(1))
	random := make([]byte, 4096)
	rng.Read(random)
	f("random bytes", string(random), "not text: is it compressed or an archive in a format cartwatch does not read?")
	f("a NUL in text", rows[:100]+"\x00"+rows[100:], "not text")
	long := strings.Repeat(goodRow, HeadSize/len(goodRow)+1)[:HeadSize]
	f("a NUL after the first HeadSize bytes", long+"\x00", "") // not looked at
	f("control bytes", strings.Repeat("abc\x01\x02,", 50), "not text")
	f("Latin-1 text", header+strings.Repeat(strings.Replace(goodRow, "acme", "\xe9\xe8\xea\xeb", 1), 20), "") // 3 % not UTF-8: still text
	f("UTF-8 cut in a rune at the end of head", "a,b\ncaf\xc3", "")
	high := make([]byte, 4096)
	for i := range high {
		high[i] = byte(0x80 + rng.Intn(0x80))
	}
	f("bytes above 0x7f, not UTF-8", string(high), "not text")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(rows))
	zw.Close()
	f("gzip slipped through", gz.String(), "the data starts with the magic bytes of gzip, not CSV text")
	f("tar slipped through", strings.Repeat("\x00", 257)+"ustar\x0000"+strings.Repeat("\x00", 100), "magic bytes of tar")
	f("xz slipped through", "\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4F", "magic bytes of xz")

	// UTF-16 (Excel's "Unicode text"), with and without a byte-order mark.
	utf16 := func(s string, bom string) string {
		b := []byte(bom)
		for _, c := range []byte(s) {
			b = append(b, c, 0)
		}
		return string(b)
	}
	f("UTF-16LE with BOM", utf16(tabs.Replace(rows), "\xff\xfe"), "UTF-16")
	f("UTF-16LE without BOM", utf16(rows, ""), "UTF-16")
	f("UTF-16BE with BOM", "\xfe\xff\x00e\x00v", "UTF-16")
	f("UTF-16BE without BOM", "\x00"+utf16(rows, "")[:200], "UTF-16")

	// Pages and other formats.
	f("HTML", "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>", "looks like an HTML page, not CSV: was a download link saved instead of the file?")
	f("HTML lower case, leading blank lines", "\n\n  <html lang=en>\n<body>", "HTML page")
	f("HTML fragment", "<meta charset=utf-8>\n<body>Not found</body>", "HTML page")
	f("XML", "<?xml version=\"1.0\"?>\n<Error><Code>AccessDenied</Code></Error>", "looks like XML")
	f("JSON lines", `{"event_time":"2019-11-01 00:00:14 UTC","event_type":"cart"}`+"\n", "looks like JSON, not CSV")
	f("JSON array", "[\n  {\"a\": 1}\n]", "looks like JSON")
}
