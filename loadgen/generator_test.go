package loadgen

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/event"
)

func genCSV(t *testing.T, cfg Config) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := WriteCSV(&buf, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteCSV returned %d bytes, wrote %d", n, buf.Len())
	}
	return buf.Bytes()
}

func TestDeterminism(t *testing.T) {
	base := Config{Rows: 60_000, Days: 3, Seed: 7}
	a := genCSV(t, base)
	one, many := base, base
	one.Workers, many.Workers = 1, 5
	if b := genCSV(t, one); !bytes.Equal(a, b) {
		t.Fatal("1 worker and GOMAXPROCS workers gave different bytes")
	}
	if b := genCSV(t, many); !bytes.Equal(a, b) {
		t.Fatal("5 workers and GOMAXPROCS workers gave different bytes")
	}
	other := base
	other.Seed = 8
	b := genCSV(t, other)
	if bytes.Equal(a, b) {
		t.Fatal("seeds 7 and 8 gave identical output")
	}
	// Not just a different first line: most of the rows differ.
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	same := 0
	for i := 1; i < min(len(la), len(lb)); i++ {
		if bytes.Equal(la[i], lb[i]) {
			same++
		}
	}
	if same > len(la)/100 {
		t.Fatalf("seeds 7 and 8 share %d of %d lines", same, len(la))
	}
}

// parseCSV is a deliberately simple, independent parser of our own output.
func parseCSV(t *testing.T, data []byte) []event.Event {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<16), 1<<16)
	if !sc.Scan() || sc.Text()+"\n" != Header {
		t.Fatalf("first line %q is not the header", sc.Text())
	}
	var out []event.Event
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		if len(f) != 9 {
			t.Fatalf("line %d: %d fields", len(out)+2, len(f))
		}
		var e event.Event
		ts, err := time.Parse("2006-01-02 15:04:05 UTC", f[0])
		if err != nil {
			t.Fatalf("line %d: bad time %q", len(out)+2, f[0])
		}
		e.Time = ts.Unix()
		switch f[1] {
		case "view":
			e.Type = event.EventView
		case "cart":
			e.Type = event.EventCart
		case "purchase":
			e.Type = event.EventPurchase
		default:
			t.Fatalf("line %d: bad type %q", len(out)+2, f[1])
		}
		var err1, err2, err3 error
		e.ProductID, err1 = strconv.ParseUint(f[2], 10, 64)
		e.CategoryID, err2 = strconv.ParseUint(f[3], 10, 64)
		e.UserID, err3 = strconv.ParseUint(f[7], 10, 64)
		whole, frac, ok := strings.Cut(f[6], ".")
		if err1 != nil || err2 != nil || err3 != nil || !ok || len(frac) != 2 {
			t.Fatalf("line %d: bad number in %q", len(out)+2, sc.Text())
		}
		w, _ := strconv.ParseInt(whole, 10, 64)
		c, _ := strconv.ParseInt(frac, 10, 64)
		e.PriceCents = w*100 + c
		e.SetSession([]byte(f[8]))
		e.SetCategory([]byte(f[4]))
		out = append(out, e)
	}
	return out
}

func readAll(t *testing.T, cfg Config, batch int) []event.Event {
	t.Helper()
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var out []event.Event
	if batch == 0 {
		var e event.Event
		for g.Next(&e) {
			out = append(out, e)
		}
	} else {
		buf := make([]event.Event, batch)
		for {
			n := g.Read(buf)
			if n == 0 {
				break
			}
			out = append(out, buf[:n]...)
		}
	}
	if int64(len(out)) != g.Rows() {
		t.Fatalf("stream has %d events, Rows() says %d", len(out), g.Rows())
	}
	return out
}

// The in-process stream is exactly the CSV, event for event, and Next and
// Read (any batch size) agree.
func TestIteratorEqualsCSV(t *testing.T) {
	cfg := Config{Rows: 80_000, Days: 30, Seed: 3}
	want := parseCSV(t, genCSV(t, cfg))
	for _, batch := range []int{0, 1, 777, 1 << 16} {
		got := readAll(t, cfg, batch)
		if len(got) != len(want) {
			t.Fatalf("batch %d: %d events, CSV has %d", batch, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("batch %d: event %d differs:\n got %+v\nwant %+v", batch, i, got[i], want[i])
			}
		}
	}
}

func TestRowsExactAndOrdered(t *testing.T) {
	f := func(cfg Config, want int64) {
		t.Helper()
		ev := readAll(t, cfg, 1000)
		if int64(len(ev)) != want {
			t.Fatalf("%v: %d rows, want %d", cfg, len(ev), want)
		}
		for i, e := range ev {
			if i > 0 && e.Time < ev[i-1].Time {
				t.Fatalf("%v: event %d at %d before previous %d", cfg, i, e.Time, ev[i-1].Time)
			}
			if e.Time < MonthStart || e.Time >= MonthStart+int64(cfg.Days)*86400 {
				t.Fatalf("%v: event %d at %d outside the %d days", cfg, i, e.Time, cfg.Days)
			}
			if e.PriceCents < 0 || (e.PriceCents == 0 && e.Type == event.EventPurchase) {
				t.Fatalf("%v: event %d: price %d on a %v", cfg, i, e.PriceCents, e.Type)
			}
			if s := e.SessionBytes(); len(s) != 0 && !isUUID(s) {
				t.Fatalf("%v: event %d: session %q is not a UUID", cfg, i, s)
			}
		}
	}
	f(Config{Rows: 1, Days: 30, Seed: 1}, 1)
	f(Config{Rows: 7, Days: 1, Seed: 1}, 7)
	f(Config{Rows: 12_345, Days: 2, Seed: 9}, 12_345)
	f(Config{Scale: 0.001, Days: 30, Seed: 1}, 67_502)
	f(Config{Scale: 0.01, Days: 1, Seed: 1}, 14_454)
}

func isUUID(s []byte) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

func TestPurchaseGap(t *testing.T) {
	count := func(noGaps bool) (inGap, carts int) {
		ev := readAll(t, Config{Scale: 0.01, Days: 18, Seed: 1, NoGaps: noGaps}, 4096)
		for _, e := range ev {
			if inGapUnix(e.Time) {
				switch e.Type {
				case event.EventPurchase:
					inGap++
				case event.EventCart:
					carts++
				}
			}
		}
		return
	}
	if p, c := count(false); p != 0 || c == 0 {
		t.Fatalf("with the gap: %d purchases and %d carts inside it, want 0 and some", p, c)
	}
	if p, _ := count(true); p < 100 {
		t.Fatalf("--no-gaps: only %d purchases inside the gap", p)
	}
}

func TestConfigErrors(t *testing.T) {
	f := func(cfg Config, want string) {
		t.Helper()
		_, err := NewGenerator(cfg)
		if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), want) {
			t.Fatalf("%+v: error %v, want ErrBadConfig mentioning %q", cfg, err, want)
		}
	}
	f(Config{Rows: -1, Scale: 1, Days: 30}, "--rows -1")
	f(Config{Scale: 0, Days: 30}, "--scale")
	f(Config{Scale: -0.5, Days: 30}, "--scale")
	f(Config{Scale: 1, Days: 0}, "--days 0")
	f(Config{Scale: 1, Days: 31}, "--days 31")
	f(Config{Scale: 1, Days: 30, Workers: -2}, "--workers")
	f(Config{Scale: 1e-9, Days: 1}, "rounds to 0 rows")
	f(Config{Scale: 11, Days: 30}, "--scale")
	f(Config{Rows: 11 * FullRows, Days: 30}, "months' worth")
	if _, err := NewGenerator(DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	g, _ := NewGenerator(DefaultConfig())
	if g.Rows() != FullRows {
		t.Fatalf("default month has %d rows, want %d", g.Rows(), FullRows)
	}
}

// Fidelity at 2 % of the month: the figures that do not depend on the
// volume must already be close to the published ones.
func TestFidelitySmallScale(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	var buf bytes.Buffer
	if _, err := WriteCSV(&buf, Config{Scale: 0.02, Days: 30, Seed: 1}, nil); err != nil {
		t.Fatal(err)
	}
	s, err := Measure(&buf, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := float64(s.Rows)
	near := func(name string, got, want, tol float64) {
		t.Helper()
		if d := got - want; d > tol || d < -tol {
			t.Errorf("%s = %.4f, want %.4f ± %.4f", name, got, want, tol)
		}
	}
	rel := func(name string, got, want, tol float64) {
		t.Helper()
		near(name+" (relative)", got/want, 1, tol)
	}
	near("view share", float64(s.Views)/n, float64(pubViews)/float64(FullRows), 0.002)
	near("cart share", float64(s.Carts)/n, float64(pubCarts)/float64(FullRows), 0.0015)
	near("purchase share", float64(s.Purchases)/n, float64(pubPurchases)/float64(FullRows), 0.001)
	near("empty category_code", float64(s.EmptyCode)/n, pubEmptyCode, 0.01)
	near("empty brand", float64(s.EmptyBrand)/n, pubEmptyBrand, 0.01)
	rel("price mean", s.PriceMean, pubPriceMean, 0.03)
	rel("price p50", s.PriceP50, pubPriceP50, 0.10)
	rel("price p90", s.PriceP90, pubPriceP90, 0.10)
	rel("price p99", s.PriceP99, pubPriceP99, 0.10)
	if s.PriceMax > pubPriceMax || s.ZeroPricePurchase != 0 {
		t.Errorf("price max %.2f, zero-price purchases %d", s.PriceMax, s.ZeroPricePurchase)
	}
	rel("duplicates", float64(s.Duplicates)/n, float64(pubDuplicates)/float64(FullRows), 0.15)
	rel("events per session", s.SessMean, pubSessMean, 0.04)
	near("cart sessions that purchase", float64(s.CartAlsoPurchase)/float64(s.SessCart), pubCartConvert, 0.03)
	near("purchase sessions without cart", float64(s.PurchaseNoCart)/float64(s.SessPurchase), float64(pubPurchNoCart)/pubSessPurchase, 0.03)
	near("sessions with a cart", float64(s.SessCart)/float64(s.Sessions), float64(pubSessCart)/pubSessions, 0.01)
	if s.PurchasesInGap != 0 || s.OutOfOrder != 0 || s.Malformed != 0 {
		t.Errorf("gap purchases %d, out of order %d, malformed %d", s.PurchasesInGap, s.OutOfOrder, s.Malformed)
	}
	for d := 0; d < 30; d++ {
		want := float64(pubDaily[d]) * n / float64(FullRows)
		got := float64(s.Daily[MonthStart/86400+int64(d)])
		if got/want > 1.05 || got/want < 0.95 {
			t.Errorf("Nov %d: %.0f events, want %.0f ± 5 %%", d+1, got, want)
		}
	}
}

// Writing to a file gives the bytes of the in-memory stream, after whatever
// the file already held, and leaves the file offset at the end.
func TestWriteCSVToFile(t *testing.T) {
	cfg := Config{Rows: 90_000, Days: 4, Seed: 11, Workers: 3}
	want := genCSV(t, cfg)
	f, err := os.Create(filepath.Join(t.TempDir(), "m.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString("PREFIX\n")
	n, err := WriteCSV(f, cfg, nil)
	if err != nil || n != int64(len(want)) {
		t.Fatalf("WriteCSV to a file: %d bytes, %v; want %d", n, err, len(want))
	}
	f.WriteString("SUFFIX\n")
	got, _ := os.ReadFile(f.Name())
	if !bytes.Equal(got, append(append([]byte("PREFIX\n"), want...), "SUFFIX\n"...)) {
		t.Fatalf("file (%d bytes) differs from the stream (%d bytes plus prefix and suffix)", len(got), len(want))
	}
}

// TestAliasPacked checks the packed draw against the full entries, on
// random bits and on bits whose high part ties with the packed threshold.
func TestAliasPacked(t *testing.T) {
	a := sharedCatalogue(1).pick
	if a.q == nil {
		t.Fatal("the catalogue's alias table is not packed")
	}
	r := rng{s: 42}
	ties := 0
	for k := 0; k < 2_000_000; k++ {
		x := r.u64()
		i := uint32((x >> 32) * uint64(len(a.e)) >> 32)
		lo := uint32(x)
		if k%2 == 1 {
			lo = (a.q[i]&(1<<aliasHi-1))<<(32-aliasHi) | lo&(1<<(32-aliasHi)-1)
			x = x&^0xffffffff | uint64(lo)
		}
		if lo>>(32-aliasHi) == a.q[i]&(1<<aliasHi-1) {
			ties++
		}
		if got, want := a.draw(x), a.exact(i, lo); got != want {
			t.Fatalf("x %#x: packed draw %d, full entry %d", x, got, want)
		}
	}
	if ties < 1_000_000 {
		t.Fatalf("only %d of the draws tie", ties)
	}
}

// TestNewUUID holds newUUID to the byte-by-byte definition.
func TestNewUUID(t *testing.T) {
	const hexDigits = "0123456789abcdef"
	r, ref := rng{s: 7}, rng{s: 7}
	for n := 0; n < 100000; n++ {
		got := newUUID(&r)
		var u [16]byte
		a, c := ref.u64(), ref.u64()
		for k := 0; k < 8; k++ {
			u[k], u[8+k] = byte(a>>(8*k)), byte(c>>(8*k))
		}
		u[6] = u[6]&0x0f | 0x40
		u[8] = u[8]&0x3f | 0x80
		var want []byte
		for k := 0; k < 16; k++ {
			if k == 4 || k == 6 || k == 8 || k == 10 {
				want = append(want, '-')
			}
			want = append(want, hexDigits[u[k]>>4], hexDigits[u[k]&15])
		}
		if string(got[:]) != string(want) {
			t.Fatalf("newUUID = %s, want %s", got[:], want)
		}
	}
}

// digits8 and the nine-digit path of newSessText agree with strconv at the
// ends of their ranges and on random values.
func TestDigits8(t *testing.T) {
	r := rng{s: 5}
	vals := []uint32{0, 1, 9, 10, 99, 100, 9999, 10000, 10001, 99999999, 12345678, 50000000}
	for range 100000 {
		vals = append(vals, uint32(r.n(1e8)))
	}
	for _, v := range vals {
		got := binary.LittleEndian.AppendUint64(nil, digits8(v))
		if want := fmt.Sprintf("%08d", v); string(got) != want {
			t.Fatalf("digits8(%d) = %q, want %q", v, got, want)
		}
	}
	var uuid [36]byte
	for i := range uuid {
		uuid[i] = 'a'
	}
	users := []uint64{0, 7, 99999999, 1e8, 1e8 + 1, 123456789, 999999999, 1e9, userID(1<<32 - 1)}
	for range 100000 {
		users = append(users, 1e8+r.n(9e8))
	}
	for _, u := range users {
		st := newSessText(u, &uuid)
		want := "," + strconv.FormatUint(u, 10) + "," + string(uuid[:]) + "\n"
		if got := string(st.b[:st.len()]); got != want {
			t.Fatalf("newSessText(%d) = %q, want %q", u, got, want)
		}
		if st.user() != u {
			t.Fatalf("newSessText(%d).user() = %d", u, st.user())
		}
	}
}

// ReadBlock is Read as the engine's Block keeps it, for any batch size.
func TestReadBlockEqualsRead(t *testing.T) {
	cfg := Config{Rows: 80_000, Days: 30, Seed: 3}
	var want event.Block
	want.AppendEvents(readAll(t, cfg, 1<<16))
	for _, limit := range []int{1, 777, 1 << 16} {
		g, err := NewGenerator(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var got, blk event.Block
		for {
			blk.Reset()
			n := g.ReadBlock(&blk, limit)
			if n == 0 {
				break
			}
			if n != blk.Len() || n > limit {
				t.Fatalf("limit %d: ReadBlock returned %d, appended %d", limit, n, blk.Len())
			}
			evs, err := blk.AppendTo(nil)
			if err != nil {
				t.Fatal(err)
			}
			got.AppendEvents(evs)
		}
		g.Close()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("limit %d: ReadBlock's %d rows (%d rest) differ from Read's %d (%d rest)",
				limit, got.Len(), len(got.Rest), want.Len(), len(want.Rest))
		}
	}
}

// pow15 is the fast form of u^userAlpha: it must stay equal to it.
func TestPow15IsUserAlpha(t *testing.T) {
	for _, u := range []float64{0, 1e-9, 0.25, 0.5, 0.999, 1} {
		if got, want := pow15(u), math.Pow(u, userAlpha); math.Abs(got-want) > 1e-15 {
			t.Fatalf("pow15(%v) = %v, u^userAlpha = %v", u, got, want)
		}
	}
}
