package core

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/internal/testrows"
)

// sample returns the real 10,000-row sample, skipping when it is absent
// (outside CI).
func sample(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(testrows.SamplePath)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and the real sample is missing: %v", err)
		}
		t.Skipf("real sample not found at %s (%v): skipping", testrows.SamplePath, err)
	}
	return b
}

// simpleParse is the test's own reader of the 2019-Nov CSV, with
// encoding/csv, time.Parse and strconv, sharing no code with the engine.
// It returns the valid rows and the count of malformed ones.
func simpleParse(t testing.TB, data []byte) ([]event.Event, int) {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	var evs []event.Event
	bad := 0
	for i := 0; ; i++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("simpleParse: %v", err)
		}
		if i == 0 && rec[0] == "event_time" {
			continue
		}
		if len(rec) != 9 || rec[1] == "" {
			bad++
			continue
		}
		tm, err := time.Parse("2006-01-02 15:04:05 MST", rec[0])
		if err != nil {
			bad++
			continue
		}
		user, err1 := strconv.ParseUint(rec[7], 10, 64)
		prod, err2 := strconv.ParseUint(rec[2], 10, 64)
		whole, frac, _ := strings.Cut(rec[6], ".")
		w, err3 := strconv.ParseInt(whole, 10, 64)
		f := int64(0)
		if len(frac) > 2 || err1 != nil || err2 != nil || err3 != nil || w < 0 {
			bad++
			continue
		}
		if frac != "" {
			f, _ = strconv.ParseInt((frac + "0")[:2], 10, 64)
		}
		e := event.Event{Time: tm.Unix(), UserID: user, ProductID: prod, PriceCents: w*100 + f}
		switch rec[1] {
		case "view":
			e.Type = event.EventView
		case "cart":
			e.Type = event.EventCart
		case "purchase":
			e.Type = event.EventPurchase
		}
		e.SetSession([]byte(rec[8]))
		top, _, _ := strings.Cut(rec[4], ".")
		e.CategoryLen = uint8(copy(e.Category[:], top))
		evs = append(evs, e)
	}
	return evs, bad
}

func runText(t *testing.T, data []byte, opt Options) (string, Summary, string) {
	t.Helper()
	var alerts, rejects bytes.Buffer
	opt.Alerts, opt.Rejects = &alerts, &rejects
	sum, err := RunReader(bytes.NewReader(data), opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	normalized(&sum)
	return alerts.String(), sum, rejects.String()
}

// TestSampleAgainstSimple runs the real sample with --ttl 5m and 30m (with
// and without --extend-on-activity) and compares alerts and summary with
// the simple implementation; and every run with 1, 2 and 8 shards and
// several chunk sizes gives byte-identical alerts and the same summary.
func TestSampleAgainstSimple(t *testing.T) {
	data := sample(t)
	evs, bad := simpleParse(t, data)
	if len(evs) != 10000 || bad != 0 {
		t.Fatalf("simple parser: %d rows, %d malformed; the sample has 10,000 good rows", len(evs), bad)
	}
	for _, ttl := range []time.Duration{5 * time.Minute, 30 * time.Minute} {
		for _, extend := range []bool{false, true} {
			ref := refRun(evs, int64(ttl/time.Second), 0, false, extend, 24*3600)
			normalized(&ref.sum)
			want := refAlerts(ref)
			for _, shards := range []int{1, 2, 8} {
				for _, chunk := range []int{4 << 10, 64 << 10, 4 << 20} {
					got, sum, _ := runText(t, data, Options{TTL: ttl, ExtendOnActivity: extend, Shards: shards, Parsers: 3, ChunkBytes: chunk})
					name := fmt.Sprintf("ttl=%v extend=%v shards=%d chunk=%d", ttl, extend, shards, chunk)
					if got != want {
						t.Fatalf("%s: alerts differ from the simple implementation (%d vs %d bytes)", name, len(got), len(want))
					}
					if !reflect.DeepEqual(sum, ref.sum) {
						t.Fatalf("%s: summary\ngot  %+v\nwant %+v", name, sum, ref.sum)
					}
				}
			}
			t.Logf("ttl=%v extend=%v: %d events, %d carts opened, %d converted, %d abandoned", ttl, extend, ref.sum.Events, ref.sum.CartsOpened, ref.sum.Converted, ref.sum.Abandoned)
			if ref.sum.Abandoned == 0 || ref.sum.Views != 9805 || ref.sum.Carts != 93 || ref.sum.Purchases != 102 {
				t.Fatalf("unexpected sample counts: %+v", ref.sum)
			}
		}
	}
}

// TestMalformedRows: rule 8 and the bad-input handling, end to end: each
// malformed row is counted, written to --rejects with its line number, and
// skipped; blank lines are not counted.
func TestMalformedRows(t *testing.T) {
	const good = "2019-11-01 00:00:00 UTC,cart,1,2,a.b,br,5.10,7,s1"
	lines := []string{
		"event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session",
		good,
		"2019-11-01 00:00:01 UTC,cart,1,2,a.b,br,5.10,7",                    // 3: 8 fields
		"2019-11-01 00:00:01 UTC,cart,1,2,a.b,br,5.10,7,s1,x",               // 4: 10 fields
		"2019-11-01 25:00:01 UTC,cart,1,2,a.b,br,5.10,7,s1",                 // 5: bad time
		"2019-11-01 00:00:01 UTC,cart,1,2,a.b,br,-5.00,7,s1",                // 6: negative price
		"2019-11-01 00:00:01 UTC,cart,1,2,a.b,br,abc,7,s1",                  // 7
		"2019-11-01 00:00:01 UTC,cart,1,2,a.b,br,1.234,7,s1",                // 8
		"2019-11-01 00:00:01 UTC,cart,1,2,a.b,br,1,18446744073709551616,s1", // 9: user_id > 2^64-1
		"2019-11-01 00:00:01 UTC,,1,2,a.b,br,1,7,s1",                        // 10: empty type
		"", // 11: blank, not counted
		"2019-11-01 00:00:02 UTC,cart,1,2,\"a,b\",br,0,7,s1",                     // 12: quoted, fine
		"2019-11-01 00:00:03 UTC,cart,1,2,a.b,br,1000,7,s1\r",                    // 13: CRLF, fine
		"2019-11-01 00:00:04 UTC,cart,1,2,a.b,br,489.07,18446744073709551615,s1", // 14
	}
	data := []byte(strings.Join(lines, "\n")) // no final newline
	for _, shards := range []int{1, 2, 8} {
		alerts, sum, rejects := runText(t, data, Options{Shards: shards, ChunkBytes: 64})
		if sum.Malformed != 8 || sum.Events != 4 || sum.Carts != 4 {
			t.Fatalf("malformed %d events %d carts %d, want 8, 4, 4", sum.Malformed, sum.Events, sum.Carts)
		}
		var gotLines []string
		for _, l := range strings.Split(strings.TrimSpace(rejects), "\n") {
			n, _, _ := strings.Cut(l, "\t")
			gotLines = append(gotLines, n)
		}
		if g := strings.Join(gotLines, ","); g != "3,4,5,6,7,8,9,10" {
			t.Fatalf("reject lines %s, want 3,4,5,6,7,8,9,10\n%s", g, rejects)
		}
		// value: 510 + 0 + 100000 for user 7, and 48907 for the max user.
		if !strings.Contains(alerts, `"cart_value_cents":100510`) || !strings.Contains(alerts, `"user_id":18446744073709551615,`) {
			t.Fatalf("alerts:\n%s", alerts)
		}
	}
}

// TestInputShapes: BOM, missing header, CRLF, last line without newline,
// a line longer than 1 MiB, and gzip give the same result as the plain file.
func TestInputShapes(t *testing.T) {
	rows := "2019-11-01 00:00:00 UTC,cart,1,2,,,5.10,7,s1\n2019-11-01 00:10:00 UTC,cart,3,2,,,1,8,s2\n"
	header := "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n"
	base, bsum, _ := runText(t, []byte(header+rows), Options{})
	if bsum.Abandoned != 2 {
		t.Fatalf("base: %+v", bsum)
	}
	long := strings.Repeat("x", 1<<20+10)
	for name, in := range map[string]string{
		"bom":       "\xEF\xBB\xBF" + header + rows,
		"noheader":  rows,
		"crlf":      strings.ReplaceAll(header+rows, "\n", "\r\n"),
		"nofinalnl": header + strings.TrimSuffix(rows, "\n"),
		"blank":     header + "\n\n" + rows + "\n",
		"longline":  header + rows[:45] + long + "\n" + rows[45:],
	} {
		got, sum, rej := runText(t, []byte(in), Options{ChunkBytes: 1 << 16})
		if got != base {
			t.Errorf("%s: alerts\n%s\nwant\n%s", name, got, base)
		}
		// The same through a file, which takes the mapped path.
		fn := filepath.Join(t.TempDir(), name+".csv")
		os.WriteFile(fn, []byte(in), 0o644)
		var fa, fr bytes.Buffer
		fsum, err := RunFile(fn, Options{ChunkBytes: 1 << 16, Alerts: &fa, Rejects: &fr}, nil)
		if err != nil || fa.String() != base || fr.String() != rej || fsum.Events != sum.Events || fsum.Malformed != sum.Malformed {
			t.Errorf("%s: file run differs: err %v, alerts %q, rejects %q vs %q", name, err, fa.String(), fr.String(), rej)
		}
		wantBad := int64(0)
		if name == "longline" {
			wantBad = 1
			if !strings.HasPrefix(rej, "3\t") {
				t.Errorf("longline: rejects %q, want line 3", rej)
			}
		}
		if sum.Malformed != wantBad || sum.Events != 2 {
			t.Errorf("%s: malformed %d events %d", name, sum.Malformed, sum.Events)
		}
	}
	dir := t.TempDir()
	gz := filepath.Join(dir, "in.csv.gz")
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte(header + rows))
	zw.Close()
	os.WriteFile(gz, zb.Bytes(), 0o644)
	var out bytes.Buffer
	if _, err := RunFile(gz, Options{Alerts: &out}, nil); err != nil || out.String() != base {
		t.Fatalf("gzip: err %v, alerts %q", err, out.String())
	}
	if _, err := RunFile(filepath.Join(dir, "missing.csv"), Options{}, nil); err == nil {
		t.Fatal("missing file: no error")
	}
}

// TestMappedMatchesReader: the mapped-file path and the reader path give
// byte-identical alerts and rejects on the real sample, for small chunks
// (many chunk boundaries) and a header-only file.
func TestMappedMatchesReader(t *testing.T) {
	data := sample(t)
	// Break a few rows so that rejects are compared too.
	data = bytes.Replace(data, []byte(",view,"), []byte(",view,,"), 7)
	fn := filepath.Join(t.TempDir(), "s.csv")
	os.WriteFile(fn, data, 0o644)
	for _, chunk := range []int{1 << 12, 1 << 16, 4 << 20} {
		opt := Options{ChunkBytes: chunk, TTL: 5 * time.Minute}
		want, wsum, wrej := runText(t, data, opt)
		var a, r bytes.Buffer
		opt.Alerts, opt.Rejects = &a, &r
		sum, err := RunFile(fn, opt, nil)
		if err != nil || a.String() != want || r.String() != wrej || sum.Malformed != 7 || sum.Events != wsum.Events {
			t.Fatalf("chunk %d: mapped run differs (err %v, malformed %d, %d vs %d alert bytes)", chunk, err, sum.Malformed, a.Len(), len(want))
		}
	}
	hdr := filepath.Join(t.TempDir(), "h.csv")
	os.WriteFile(hdr, []byte("event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"), 0o644)
	// No valid row is an error of the run, with the (empty) summary.
	if sum, err := RunFile(hdr, Options{}, nil); !errors.Is(err, ErrNoValidRows) || sum.Events != 0 || sum.Malformed != 0 {
		t.Fatalf("header only: %+v %v", sum, err)
	}
}

// TestBrokenGzip: a corrupt compressed input stops the run with an error,
// not a crash or a silent partial result.
func TestBrokenGzip(t *testing.T) {
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(bytes.Repeat([]byte("2019-11-01 00:00:00 UTC,cart,1,2,,,5.10,7,s1\n"), 50000))
	zw.Close()
	fn := filepath.Join(t.TempDir(), "broken.csv.gz")
	os.WriteFile(fn, zb.Bytes()[:zb.Len()/2], 0o644)
	if _, err := RunFile(fn, Options{}, nil); err == nil {
		t.Fatal("truncated gzip: no error")
	} else {
		t.Logf("error, as it should be: %v", err)
	}
}
