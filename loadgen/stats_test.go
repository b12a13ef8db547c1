package loadgen

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/format"
)

// A tiny handmade file whose every figure can be counted by hand.
const tiny = `event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session
2019-11-01 00:00:00 UTC,view,1,10,electronics.smartphone,samsung,100.00,500,aaaaaaaa-0000-4000-8000-000000000001
2019-11-01 00:00:00 UTC,view,1,10,electronics.smartphone,samsung,100.00,500,aaaaaaaa-0000-4000-8000-000000000001
2019-11-01 00:00:30 UTC,cart,1,10,electronics.smartphone,samsung,100.00,500,aaaaaaaa-0000-4000-8000-000000000001
2019-11-01 00:01:30 UTC,purchase,1,10,electronics.smartphone,samsung,100.00,500,aaaaaaaa-0000-4000-8000-000000000001
2019-11-01 00:02:00 UTC,view,2,11,,,0.00,501,bbbbbbbb-0000-4000-8000-000000000002
2019-11-01 00:02:05 UTC,purchase,3,11,,apple,5.5,501,bbbbbbbb-0000-4000-8000-000000000002
not,a,row
2019-11-02 10:00:00 UTC,cart,4,12,computers.notebook,,2574.07,502,cccccccc-0000-4000-8000-000000000003
2019-11-02 09:59:59 UTC,view,4,12,computers.notebook,,2574.07,502,
`

func TestMeasureTiny(t *testing.T) {
	var skipped []int64
	s, err := Measure(strings.NewReader(tiny), nil, func(line int64, msg string) { skipped = append(skipped, line) })
	if err != nil {
		t.Fatal(err)
	}
	f := func(name string, got, want int64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	g := func(name string, got, want float64) {
		t.Helper()
		if d := got - want; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	f("rows", s.Rows, 8)
	f("bytes", s.Bytes, int64(len(tiny)))
	f("malformed", s.Malformed, 1)
	if len(skipped) != 1 || skipped[0] != 8 {
		t.Errorf("skipped lines %v, want [8]", skipped)
	}
	f("views", s.Views, 4)
	f("carts", s.Carts, 2)
	f("purchases", s.Purchases, 2)
	f("users", s.Users, 3)
	f("sessions", s.Sessions, 3)
	f("empty sessions", s.EmptySess, 1)
	f("products", s.Products, 4)
	f("categories", s.Categories, 3)
	f("codes", s.Codes, 2)
	f("brands", s.Brands, 2)
	f("empty code", s.EmptyCode, 2)
	f("empty brand", s.EmptyBrand, 3)
	f("duplicates", s.Duplicates, 1)
	f("out of order", s.OutOfOrder, 1)
	f("zero prices", s.ZeroPrices, 1)
	f("zero-price purchases", s.ZeroPricePurchase, 0)
	g("price max", s.PriceMax, 2574.07)
	g("price min", s.PriceMin, 0)
	g("price mean", s.PriceMean, (4*100+0+5.5+2*2574.07)/8)
	g("price p50", s.PriceP50, 100)
	g("price p90", s.PriceP90, 2574.07)
	f("session cart", s.SessCart, 2)
	f("session purchase", s.SessPurchase, 2)
	f("purchase without cart", s.PurchaseNoCart, 1)
	f("cart and purchase", s.CartAlsoPurchase, 1)
	f("users cart", s.UsersCart, 2)
	f("users purchase", s.UsersPurchase, 2)
	g("events per session", s.SessMean, 7.0/3)
	f("session median", s.SessMedian, 2)
	f("session max", s.SessMax, 4)
	g("duration mean", s.DurMean, (90+5+0)/3.0)
	g("duration median", s.DurMedian, 5)
	f("busiest hour", s.BusiestHour, 6)
	f("Nov 1", s.Daily[MonthStart/86400], 6)
	f("Nov 2", s.Daily[MonthStart/86400+1], 2)
	if len(s.TopBrands) == 0 || s.TopBrands[0] != (NameCount{"samsung", 4}) {
		t.Errorf("top brands %v", s.TopBrands)
	}
	var out strings.Builder
	s.WriteTable(&out, "tiny")
	for _, want := range []string{"| rows | 8* | 8 | +0.00 % |", "| unique user_session | 13,776,050 | 3 |", "| Nov 2 |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestMeasureNotSchema(t *testing.T) {
	_, err := Measure(strings.NewReader(strings.Repeat("hello world\n", 200)), nil, nil)
	if err == nil {
		t.Fatal("no error for a file that is not in the schema")
	}
}

// The real sample: the counts ../shared/data/README.md states.
func TestMeasureRealSample(t *testing.T) {
	path := filepath.Join("..", "..", "shared", "data", "events_sample_nov.csv")
	f, err := os.Open(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and the real sample is missing: %v", err)
		}
		t.Skipf("real sample not available (%v); skipping", err)
	}
	defer f.Close()
	s, err := Measure(f, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Rows != 10_000 || s.Views != 9_805 || s.Carts != 93 || s.Purchases != 102 || s.Users != 2_119 || s.Malformed != 0 {
		t.Fatalf("sample: rows %d view %d cart %d purchase %d users %d malformed %d; want 10000 9805 93 102 2119 0",
			s.Rows, s.Views, s.Carts, s.Purchases, s.Users, s.Malformed)
	}
}

// Measure reads gzip through the caller; check a .gz round trip of our own
// output gives the same figures as the plain file.
func TestMeasureGzipRoundTrip(t *testing.T) {
	cfg := Config{Rows: 20_000, Days: 2, Seed: 5}
	plain := genCSV(t, cfg)
	path := filepath.Join(t.TempDir(), "x.csv.gz")
	fz, _ := os.Create(path)
	zw := gzip.NewWriter(fz)
	zw.Write(plain)
	zw.Close()
	fz.Close()
	fz, _ = os.Open(path)
	defer fz.Close()
	zr, err := gzip.NewReader(fz)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Measure(zr, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Measure(strings.NewReader(string(plain)), nil, nil)
	if a.Rows != 20_000 || a.Rows != b.Rows || a.Sessions != b.Sessions || a.Bytes != int64(len(plain)) {
		t.Fatalf("gzip: rows %d sessions %d bytes %d; plain: rows %d sessions %d bytes %d", a.Rows, a.Sessions, a.Bytes, b.Rows, b.Sessions, len(plain))
	}
}

// FuzzMeasure: any input gives figures or an error, never a panic, and the
// rows plus malformed lines never exceed the lines read.
func FuzzMeasure(f *testing.F) {
	f.Add(tiny)
	f.Add("2019-11-01 00:00:00 UTC,view,1,2,,,1.5,3,\n")
	f.Add("2019-13-01 00:00:00 UTC,view,1,2,,,1..5,3,\n,,,,,,,,\n")
	f.Add("\xEF\xBB\xBFevent_time,x\r\n2019-11-01 00:00:60 UTC,view,1,2,,,1.5,3,\r\n\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := Measure(strings.NewReader(in), nil, nil)
		if err == nil {
			// The rows and malformed rows are format.Parser's.
			body := strings.TrimPrefix(in, "\xEF\xBB\xBF")
			lines := strings.Split(body, "\n")
			p := format.Parser{MaxTime: time.Now().Add(24 * time.Hour).Unix()}
			if h, _ := format.ParseHeader([]byte(lines[0])); h != nil {
				lines, p.Header = lines[1:], h
			}
			var rows, bad int64
			var ev event.Event
			for _, line := range lines {
				if line == "" || line == "\r" {
					continue
				}
				if p.ParseRow([]byte(line), &ev, true) == format.ReasonOK {
					rows++
				} else {
					bad++
				}
			}
			if s.Rows != rows || s.Malformed != bad {
				t.Fatalf("stats: %d rows, %d malformed; format.ParseRow: %d and %d", s.Rows, s.Malformed, rows, bad)
			}
		}
		if lines := int64(strings.Count(in, "\n") + 1); s.Rows+s.Malformed > lines {
			t.Fatalf("%d rows + %d malformed > %d lines", s.Rows, s.Malformed, lines)
		}
		if s.Rows > 0 && (s.PriceMin < 0 || s.Sessions+s.EmptySess > s.Rows) {
			t.Fatalf("bad figures %+v", s)
		}
	})
}

// Ids are any uint64, 0 and 2^64-1 included (format.Parser takes 20-digit
// ids), and each counts once in its set.
func TestMeasureIDsAtLimits(t *testing.T) {
	const max = "18446744073709551615"
	row := func(product, category, user string) string {
		return "2019-11-01 00:00:00 UTC,cart," + product + "," + category + ",,,1.00," + user + ",\n"
	}
	in := row("0", "0", "0") + row(max, max, max) + row(max, "0", max) + row("0", max, "0")
	s, err := Measure(strings.NewReader(in), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Rows != 4 || s.Products != 2 || s.Categories != 2 || s.Users != 2 || s.UsersCart != 2 {
		t.Fatalf("rows %d products %d categories %d users %d users carting %d; want 4 2 2 2 2",
			s.Rows, s.Products, s.Categories, s.Users, s.UsersCart)
	}
}
