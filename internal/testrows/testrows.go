// Package testrows holds what the tests of several packages share: rows of
// the 2019-Nov CSV schema, made up or from the real sample.
package testrows

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Row joins fields into one CSV row (no quoting).
func Row(fields ...string) string { return strings.Join(fields, ",") }

// Good is a valid synthetic cart row; tests derive bad rows from it.
var Good = []string{"2019-11-01 00:00:14 UTC", "cart", "1234567", "2000000000000000001",
	"electronics.gadget", "acme", "123.45", "500000001", "00000000-1111-2222-3333-444444444444"}

// With returns Good with field i replaced by v.
func With(i int, v string) string {
	f := append([]string(nil), Good...)
	f[i] = v
	return Row(f...)
}

// SamplePath is the real 10,000-row sample of the 2019-Nov file, beside the
// repository (../shared/data), found from this source file's place.
var SamplePath = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data", "events_sample_nov.csv")
}()

// OpenSample opens the real sample or skips (fails under CI=true).
func OpenSample(t testing.TB) *os.File {
	t.Helper()
	fh, err := os.Open(SamplePath)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("real sample missing under CI: %v", err)
		}
		t.Skipf("real sample not available (%v); skipping", err)
	}
	return fh
}

// SyntheticRows returns n made-up rows shaped like the 2019-Nov file (one
// second every ~26 rows, 94.15/4.49/1.36 % view/cart/purchase, 19-digit
// category ids, a third of category_code and an eighth of brand empty,
// 36-byte sessions: ~130 bytes a line), and the number of views.
func SyntheticRows(n int) ([]byte, int) {
	rng := rand.New(rand.NewSource(1))
	codes := []string{"electronics.gadget", "", "appliances.kitchen.thing", "computers.box", "", "electronics.screen", "apparel.socks"}
	brands := []string{"acme", "globex", "initech", "", "hooli", "umbrella", "vandelay"}
	var b []byte
	t := int64(1572566400)
	views := 0
	for i := 0; i < n; i++ {
		if rng.Intn(26) == 0 {
			t++
		}
		typ := "view"
		switch x := rng.Intn(10000); {
		case x < 449:
			typ = "cart"
		case x < 449+136:
			typ = "purchase"
		default:
			views++
		}
		b = time.Unix(t, 0).UTC().AppendFormat(b, "2006-01-02 15:04:05 UTC")
		b = fmt.Appendf(b, ",%s,%d,%d,%s,%s,%d.%02d,%d,%08x-%04x-%04x-%04x-%012x\n", typ,
			1000000+rng.Intn(60000000), 2000000000000000000+rng.Int63n(1e12), codes[rng.Intn(len(codes))],
			brands[rng.Intn(len(brands))], rng.Intn(2500), rng.Intn(100), 400000000+rng.Intn(180000000),
			rng.Uint32(), rng.Intn(1<<16), rng.Intn(1<<16), rng.Intn(1<<16), rng.Int63n(1<<48))
	}
	return b, views
}

// CPUMeter reports a benchmark's CPU time beside its wall time. The machine
// is shared, and under its load wall-clock ns/op swings by 2-5x between runs
// while the CPU time of the benchmark's own thread barely moves.
type CPUMeter struct{ start time.Duration }

// threadCPU returns the CPU time used by the calling OS thread (Linux).
func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// StartCPU pins the goroutine to its thread and starts measuring.
func StartCPU() CPUMeter {
	runtime.LockOSThread()
	return CPUMeter{threadCPU()}
}

// Report adds cpu-ns/row and cpu-MB/s for rows rows and bytes bytes per op.
func (m CPUMeter) Report(b *testing.B, rows, bytes int) {
	cpu := float64(threadCPU() - m.start)
	runtime.UnlockOSThread()
	b.ReportMetric(cpu/float64(b.N)/float64(rows), "cpu-ns/row")
	if bytes > 0 {
		b.ReportMetric(float64(bytes)*float64(b.N)/cpu*1e3, "cpu-MB/s")
	}
}

// Columns are the 2019-Nov header's names, in its order.
var Columns = []string{"event_time", "event_type", "product_id", "category_id",
	"category_code", "brand", "price", "user_id", "user_session"}

// CamelColumns are Columns in camelCase, the other key spelling JSON
// messages may use.
var CamelColumns = []string{"eventTime", "eventType", "productId", "categoryId",
	"categoryCode", "brand", "price", "userId", "userSession"}

// JSONRow writes the nine fields of a row as one JSON object, written here
// with encoding/json, independently of the decoder: keys as Columns or, with
// camel, CamelColumns; every value a string (what a Python producer doing
// json.dumps over csv.DictReader sends) or, with numbers, product_id,
// category_id, price and user_id as JSON numbers (their text as is) when
// their text is a JSON number.
func JSONRow(fields []string, camel, numbers bool) []byte {
	keys := Columns
	if camel {
		keys = CamelColumns
	}
	b := []byte{'{'}
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(keys[i])
		b = append(b, k...)
		b = append(b, ':')
		if numbers && (i == 2 || i == 3 || i == 6 || i == 7) && jsonNumber.MatchString(f) {
			b = append(b, f...)
			continue
		}
		v, err := json.Marshal(f)
		if err != nil {
			panic(err)
		}
		b = append(b, v...)
	}
	return append(b, '}')
}

var jsonNumber = regexp.MustCompile(`^(0|[1-9][0-9]*)(\.[0-9]+)?$`)
