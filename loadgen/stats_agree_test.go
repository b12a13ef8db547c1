package loadgen_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/core"
	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/format"
	"github.com/cartwatch/cartwatch/internal/testrows"
	"github.com/cartwatch/cartwatch/loadgen"
)

// agreeInput is a file of good rows and the rows on which a grammar of its
// own (what loadgen stats had) and rule 8 differ: second 60, a 3-decimal
// price, a long user_session, a 20-digit product_id, RFC 3339 times, quoted
// fields, blank lines, CRLF, a line over 1 MiB, a BOM and a header.
func agreeInput() []byte {
	g := testrows.Good
	with := testrows.With
	lines := []string{
		"\xEF\xBB\xBFevent_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session",
		testrows.Row(g...),
		with(0, "2019-11-01 00:00:60 UTC"), // second 60: malformed
		with(0, "2019-11-31 00:00:00 UTC"), // Nov 31: malformed
		with(0, "2019-11-01T00:00:15Z"),    // RFC 3339: valid
		with(0, "2019-11-01T01:00:16+01:00"),
		with(6, "1.234"), // 3 decimals: malformed (not rounded)
		with(6, "1.5"),   // 1 decimal: valid
		with(6, ".5"),
		with(6, "5."),
		with(6, "-5.00"),
		with(6, "1e3"),
		with(6, ""),
		with(8, strings.Repeat("s", 40)), // a long session: valid
		with(8, ""),                      // none: valid
		with(2, "18446744073709551615"),  // 20 digits, < 2^64: valid
		with(2, "18446744073709551616"),  // 2^64: malformed
		with(7, "18446744073709551615"),
		with(7, "-1"),
		with(3, "not-a-category"), // category_id never rejects
		// A time far in the future and a huge price: whatever rule 8 says
		// of them, stats must say the same (were run to reject future
		// times, stats would need the same limit).
		with(0, "9999-01-01 00:00:00 UTC"),
		with(6, "50000000000000000.00"),
		with(1, ""), // empty event_type: malformed
		with(1, "remove_from_cart"),
		"",
		"\r",
		testrows.Row(g...) + "\r",
		testrows.Row(g[:8]...),
		testrows.Row(append(slices.Clone(g), "x")...),
		`2019-11-01 00:00:14 UTC,cart,1234567,2000000000000000001,"electronics,gadget","ac""me",123.45,500000001,00000000-1111-2222-3333-444444444444`,
		`2019-11-01 00:00:14 UTC,cart,1234567,2000000000000000001,"electronics.gadget,acme,123.45,500000001,x`,
		`2019-11-01 00:00:14 UTC,cart,1234567,2000000000000000001,elec"tronics,acme,123.45,500000001,x`,
		with(5, strings.Repeat("b", format.DefaultMaxLine+10)), // over 1 MiB
		with(5, strings.Repeat("b", format.DefaultMaxLine-200)),
		"not,a,row",
		testrows.Row(g...),
	}
	return []byte(strings.Join(lines, "\n")) // no '\n' after the last
}

// measureRejects runs Measure and returns its skipped lines as
// "line<TAB>reason".
func measureRejects(t *testing.T, data []byte) (*loadgen.Stats, []string) {
	t.Helper()
	var got []string
	s, err := loadgen.Measure(bytes.NewReader(data), nil, func(line int64, msg string) {
		got = append(got, fmt.Sprintf("%d\t%s", line, msg))
	})
	if err != nil && !(s.Rows == 0 && errors.Is(err, loadgen.ErrNotSchema)) {
		t.Fatal(err)
	}
	return s, got
}

// TestMeasureAgreesWithParser: a line is malformed for stats exactly when
// format.Parser says so, with the same reason.
func TestMeasureAgreesWithParser(t *testing.T) {
	data := agreeInput()
	s, got := measureRejects(t, data)
	var want []string
	p := format.Parser{MaxTime: time.Now().Add(24 * time.Hour).Unix()} // run's default --max-future
	var ev event.Event
	rows := 0
	for i, line := range bytes.Split(data, []byte("\n")) {
		if i == 0 || len(bytes.TrimSuffix(line, []byte("\r"))) == 0 {
			continue // the header, blank lines
		}
		if len(line) > format.DefaultMaxLine {
			line = line[:format.DefaultMaxLine+1] // as the readers cut it
		}
		if r := p.ParseRow(line, &ev, true); r != format.ReasonOK {
			want = append(want, fmt.Sprintf("%d\t%s", i+1, r))
		} else {
			rows++
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("stats skipped\n%s\nthe parser rejects\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if s.Rows != int64(rows) || s.Malformed != int64(len(want)) || len(want) < 15 || rows < 10 {
		t.Fatalf("stats: %d rows, %d malformed; the parser: %d and %d", s.Rows, s.Malformed, rows, len(want))
	}
	if s.Bytes != int64(len(data)) {
		t.Fatalf("stats read %d bytes of %d", s.Bytes, len(data))
	}
}

// swappedInput is a file whose header names price and user_id in each
// other's place, with its rows written in that order: read by position,
// every row's user_id is a price. However run reads such a header, stats
// must read it the same way.
func swappedInput() []byte {
	g := slices.Clone(testrows.Good)
	g[6], g[7] = g[7], g[6]
	row := testrows.Row(g...)
	return []byte("event_time,event_type,product_id,category_id,category_code,brand,user_id,price,user_session\n" +
		row + "\n" + row + "\n")
}

// TestMeasureAgreesWithRun: stats and cartwatch run's engine, reading a
// stream and a mapped file, reject the same lines for the same reasons and
// count the same rows of each type.
func TestMeasureAgreesWithRun(t *testing.T) {
	t.Run("rows", func(t *testing.T) { agreeWithRun(t, agreeInput()) })
	t.Run("header", func(t *testing.T) { agreeWithRun(t, swappedInput()) })
}

func agreeWithRun(t *testing.T, data []byte) {
	s, got := measureRejects(t, data)
	path := filepath.Join(t.TempDir(), "agree.csv")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"stream", "file"} {
		var src core.Source
		if mode == "stream" {
			src = core.ReaderSource(bytes.NewReader(data))
		} else {
			var err error
			if src, err = core.OpenFile(path, core.FileOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		var rejects bytes.Buffer
		sum, err := core.Run(context.Background(), src, core.Options{Rejects: &rejects}, nil)
		src.Close()
		if err != nil && !(s.Rows == 0 && errors.Is(err, core.ErrNoValidRows)) {
			t.Fatalf("%s: %v", mode, err)
		}
		var want []string
		if rejects.Len() > 0 {
			want = strings.Split(strings.TrimSuffix(rejects.String(), "\n"), "\n")
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: stats skipped\n%s\ncartwatch run rejects\n%s", mode, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if s.Rows != sum.Events || s.Views != sum.Views || s.Carts != sum.Carts || s.Purchases != sum.Purchases ||
			s.Other != sum.OtherEvents || s.Malformed != sum.Malformed {
			t.Fatalf("%s: stats rows %d (view %d cart %d purchase %d other %d) malformed %d; run events %d (%d %d %d %d) malformed %d",
				mode, s.Rows, s.Views, s.Carts, s.Purchases, s.Other, s.Malformed,
				sum.Events, sum.Views, sum.Carts, sum.Purchases, sum.OtherEvents, sum.Malformed)
		}
	}
}
