package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
)

// Stats are the figures of ../shared/data/README.md measured on one file.
// Unique counts are exact for users, products and categories (sets of the
// ids) and for sessions up to 64-bit hash collisions (sets of hashes of the
// user_session text, about 5e-6 chance of one collision at 13.8 M).
// Duplicate rows are counted exactly among rows of the same event_time,
// which finds every duplicate in a file in time order.
type Stats struct {
	Rows, Bytes, GzipBytes         int64 // Bytes: uncompressed, header included; GzipBytes -1 unless .gz
	Views, Carts, Purchases, Other int64
	Malformed, OutOfOrder          int64
	Users, Sessions, EmptySess     int64
	Products, Categories           int64
	Codes, Brands                  int64
	EmptyCode, EmptyBrand          int64
	PriceMin, PriceMax             float64
	PriceMean, PriceSD             float64
	PriceP50, PriceP90, PriceP99   float64
	ZeroPrices, ZeroPricePurchase  int64
	Duplicates                     int64
	SessMean                       float64
	SessMedian, SessP90, SessP99   int64
	SessMax                        int64
	SessUnder3                     float64
	DurMean, DurMedian             float64
	UsersCart, UsersPurchase       int64
	SessCart, SessPurchase         int64
	PurchaseNoCart                 int64
	CartAlsoPurchase               int64
	TopCodes, TopBrands            []NameCount
	BusiestHour                    int64
	BusiestHourAt                  int64 // Unix seconds of its start
	PurchasesInGap                 int64
	Daily                          map[int64]int64 // events per UTC day (Unix day number)
}

// NameCount is a category_code or brand with its number of events.
type NameCount struct {
	Name  string
	Count int64
}

// ErrNotSchema is returned when the input does not look like the 2019-Nov
// schema at all (no valid row among the first lines).
var ErrNotSchema = errors.New("loadgen: not in the 2019-Nov schema")

// Measure streams r (uncompressed CSV in the 2019-Nov schema, with or
// without the header) and computes its Stats. Malformed rows are counted,
// reported to skip (when not nil) and left out of every other figure.
// progress, when not nil, is called now and then with the bytes read.
// Memory grows with the distinct sessions (20 bytes each, in a table kept
// below 85 % full) and users (9 bytes each below 70 %), not with the rows.
func Measure(r io.Reader, progress func(bytes int64), skip func(line int64, msg string)) (*Stats, error) {
	s := &Stats{GzipBytes: -1, PriceMin: math.Inf(1), Daily: map[int64]int64{}}
	br := bufio.NewReaderSize(r, 1<<20)
	sess := newSessTable()
	users, products := newKeySet(), newKeySet()
	cats := newKeySet()
	// *int64 values: an increment is a lookup, which with a string(b) key
	// does not allocate; m[string(b)]++ would allocate a key per row.
	codes, brands := map[string]*int64{}, map[string]*int64{}
	hours := map[int64]int64{}
	curHour, curHourN := int64(math.MinInt64), int64(0) // rows are nearly in time order
	curDay, curDayN := int64(math.MinInt64), int64(0)
	priceHist := make([]int64, 300_000) // cents; higher prices go to priceBig
	priceBig := map[int64]int64{}
	var priceSum, priceSq float64
	var dupSet []uint64 // line hashes of the current second, scanned linearly
	dupT := int64(math.MinInt64)
	prevT := int64(math.MinInt64)
	var line int64
	var fields [9][]byte
	for {
		b, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line over 1 MiB: count it and skip to its end.
			n := int64(len(b))
			for errors.Is(err, bufio.ErrBufferFull) {
				b, err = br.ReadSlice('\n')
				n += int64(len(b))
			}
			line++
			s.Bytes += n
			s.Malformed++
			if skip != nil {
				skip(line, "longer than 1 MiB")
			}
			continue
		}
		if len(b) == 0 && err != nil {
			if err == io.EOF {
				break
			}
			return s, err
		}
		line++
		s.Bytes += int64(len(b))
		if progress != nil && line&(1<<20-1) == 0 {
			progress(s.Bytes)
		}
		row := bytes.TrimRight(b, "\r\n")
		if line == 1 && bytes.HasPrefix(row, []byte("event_time,")) {
			continue
		}
		if msg := splitRow(row, &fields); msg != "" {
			s.Malformed++
			if skip != nil {
				skip(line, msg)
			}
			if line > 100 && s.Rows == 0 {
				return s, fmt.Errorf("%w: no valid row in the first %d lines (last: %s)", ErrNotSchema, line, msg)
			}
			continue
		}
		t, ok := parseTime(fields[0])
		if !ok {
			s.Malformed++
			if skip != nil {
				skip(line, fmt.Sprintf("bad event_time %q", fields[0]))
			}
			continue
		}
		cents, ok := parseCents(fields[6])
		prod, ok1 := parseU64(fields[2])
		cat, ok2 := parseU64(fields[3])
		user, ok3 := parseU64(fields[7])
		if !ok || !ok1 || !ok2 || !ok3 {
			s.Malformed++
			if skip != nil {
				skip(line, "bad number in product_id, category_id, price or user_id")
			}
			continue
		}
		s.Rows++
		if t < prevT {
			s.OutOfOrder++
		}
		prevT = t
		if t != dupT {
			dupSet, dupT = dupSet[:0], t
		}
		h := hash64(row)
		if slices.Contains(dupSet, h) {
			s.Duplicates++
		} else {
			dupSet = append(dupSet, h)
		}
		var flags uint32
		var uflags uint8
		switch string(fields[1]) {
		case "view":
			s.Views++
		case "cart":
			s.Carts++
			flags, uflags = flagCart, 1
		case "purchase":
			s.Purchases++
			flags, uflags = flagBuy, 2
			if cents == 0 {
				s.ZeroPricePurchase++
			}
			if inGapUnix(t) {
				s.PurchasesInGap++
			}
		default:
			s.Other++
		}
		users.add(user+1, uflags)
		products.add(prod+1, 0)
		cats.add(cat+1, 0)
		if len(fields[4]) == 0 {
			s.EmptyCode++
		} else {
			count(codes, fields[4])
		}
		if len(fields[5]) == 0 {
			s.EmptyBrand++
		} else {
			count(brands, fields[5])
		}
		if cents < int64(len(priceHist)) {
			priceHist[cents]++
		} else {
			priceBig[cents]++
		}
		p := float64(cents) / 100
		priceSum += p
		priceSq += p * p
		if cents == 0 {
			s.ZeroPrices++
		}
		if len(fields[8]) == 0 {
			s.EmptySess++
		} else {
			sess.add(hash64(fields[8]), uint32(t-statsEpoch), flags)
		}
		if hr := floorDiv(t, 3600); hr != curHour {
			hours[curHour] += curHourN
			curHour, curHourN = hr, 0
		}
		curHourN++
		if d := floorDiv(t, 86400); d != curDay {
			s.Daily[curDay] += curDayN
			curDay, curDayN = d, 0
		}
		curDayN++
	}
	if progress != nil {
		progress(s.Bytes)
	}
	hours[curHour] += curHourN
	s.Daily[curDay] += curDayN
	delete(hours, math.MinInt64)
	delete(s.Daily, math.MinInt64)
	s.finish(sess, users, products, cats.n, codes, brands, hours, priceHist, priceBig, priceSum, priceSq)
	if s.Rows == 0 && s.Malformed > 0 {
		return s, fmt.Errorf("%w: no valid row in %d lines", ErrNotSchema, line)
	}
	return s, nil
}

func (s *Stats) finish(sess *sessTable, users, products *keySet, ncats int, codes, brands map[string]*int64,
	hours map[int64]int64, priceHist []int64, priceBig map[int64]int64, priceSum, priceSq float64) {
	s.Users, s.Products, s.Categories = int64(users.n), int64(products.n), int64(ncats)
	s.Codes, s.Brands = int64(len(codes)), int64(len(brands))
	for i, k := range users.keys {
		if k != 0 {
			if users.flags[i]&1 != 0 {
				s.UsersCart++
			}
			if users.flags[i]&2 != 0 {
				s.UsersPurchase++
			}
		}
	}
	s.TopCodes, s.TopBrands = top(codes, 3), top(brands, 3)
	for h, n := range hours {
		if n > s.BusiestHour || (n == s.BusiestHour && h*3600 < s.BusiestHourAt) {
			s.BusiestHour, s.BusiestHourAt = n, h*3600
		}
	}
	if s.Rows > 0 {
		n := float64(s.Rows)
		s.PriceMean = priceSum / n
		s.PriceSD = math.Sqrt(math.Max(0, priceSq/n-s.PriceMean*s.PriceMean))
		big := make([]int64, 0, len(priceBig))
		for c := range priceBig {
			big = append(big, c)
		}
		sort.Slice(big, func(i, j int) bool { return big[i] < big[j] })
		// Walk the price histogram once for min, max and the quantiles.
		qs := []float64{0.5, 0.9, 0.99}
		out := []*float64{&s.PriceP50, &s.PriceP90, &s.PriceP99}
		var cum int64
		q := 0
		visit := func(c, k int64) {
			if k == 0 {
				return
			}
			p := float64(c) / 100
			s.PriceMin = math.Min(s.PriceMin, p)
			s.PriceMax = math.Max(s.PriceMax, p)
			cum += k
			for q < len(qs) && float64(cum) >= qs[q]*n {
				*out[q] = p
				q++
			}
		}
		for c, k := range priceHist {
			visit(int64(c), k)
		}
		for _, c := range big {
			visit(c, priceBig[c])
		}
	}
	// Sessions: length and duration distributions, cart/purchase mix.
	lenHist := map[int64]int64{}
	durHist := map[int64]int64{}
	var events, durSum int64
	for i, k := range sess.keys {
		if k == 0 {
			continue
		}
		s.Sessions++
		c := sess.cnt[i]
		n := int64(c & countMask)
		events += n
		lenHist[n]++
		d := int64(sess.last[i] - sess.first[i])
		durSum += d
		durHist[d]++
		cart, buy := c&flagCart != 0, c&flagBuy != 0
		if cart {
			s.SessCart++
		}
		if buy {
			s.SessPurchase++
			if !cart {
				s.PurchaseNoCart++
			}
		}
		if cart && buy {
			s.CartAlsoPurchase++
		}
	}
	if s.Sessions > 0 {
		ns := float64(s.Sessions)
		s.SessMean = float64(events) / ns
		s.DurMean = float64(durSum) / ns
		lq := quantiles(lenHist, s.Sessions, 0.5, 0.9, 0.99)
		s.SessMedian, s.SessP90, s.SessP99 = lq[0], lq[1], lq[2]
		s.SessUnder3 = float64(lenHist[1]+lenHist[2]) / ns
		for n := range lenHist {
			s.SessMax = max(s.SessMax, n)
		}
		s.DurMedian = float64(quantiles(durHist, s.Sessions, 0.5)[0])
	}
}

// quantiles returns the lowest values whose cumulative count reaches each
// q of total (the nearest-rank definition).
func quantiles(h map[int64]int64, total int64, qs ...float64) []int64 {
	keys := make([]int64, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	out := make([]int64, len(qs))
	var cum int64
	q := 0
	for _, k := range keys {
		cum += h[k]
		for q < len(qs) && float64(cum) >= qs[q]*float64(total) {
			out[q] = k
			q++
		}
	}
	return out
}

func count(m map[string]*int64, k []byte) {
	if p := m[string(k)]; p != nil {
		*p++
		return
	}
	one := int64(1)
	m[string(k)] = &one
}

func top(m map[string]*int64, n int) []NameCount {
	all := make([]NameCount, 0, len(m))
	for k, v := range m {
		all = append(all, NameCount{k, *v})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Count != all[j].Count {
			return all[i].Count > all[j].Count
		}
		return all[i].Name < all[j].Name
	})
	return all[:min(n, len(all))]
}

// splitRow cuts row into its 9 fields, or says why it cannot. Fields are
// never quoted in this schema (no value contains a comma).
func splitRow(row []byte, f *[9][]byte) string {
	for i := 0; i < 8; i++ {
		j := bytes.IndexByte(row, ',')
		if j < 0 {
			return fmt.Sprintf("%d fields, want 9", i+1)
		}
		f[i], row = row[:j], row[j+1:]
	}
	if bytes.IndexByte(row, ',') >= 0 {
		return "more than 9 fields"
	}
	f[8] = row
	if n := len(row); n != 0 && n != 36 {
		return fmt.Sprintf("user_session of %d characters, want a 36-character UUID or empty", n)
	}
	return ""
}

// parseTime parses "2019-11-01 00:00:00 UTC" into Unix seconds.
func parseTime(b []byte) (int64, bool) {
	if len(b) != 23 || b[4] != '-' || b[7] != '-' || b[10] != ' ' || b[13] != ':' || b[16] != ':' || string(b[19:]) != " UTC" {
		return 0, false
	}
	num := func(i, n int) (int64, bool) {
		var v int64
		for _, c := range b[i : i+n] {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int64(c-'0')
		}
		return v, true
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 2)
	d, ok3 := num(8, 2)
	h, ok4 := num(11, 2)
	mi, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 {
		return 0, false
	}
	return daysFromCivil(y, mo, d)*86400 + h*3600 + mi*60 + sec, true
}

// daysFromCivil is Howard Hinnant's days_from_civil: days since 1970-01-01.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func parseU64(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false // 19 digits always fit in a uint64
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// parseCents parses a non-negative decimal price into cents, rounding
// anything past two decimals.
func parseCents(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var whole, frac, scale int64 = 0, 0, 1
	seenDot := false
	for _, c := range b {
		switch {
		case c == '.' && !seenDot:
			seenDot = true
		case c >= '0' && c <= '9':
			if !seenDot {
				whole = whole*10 + int64(c-'0')
			} else if scale < 1000 {
				frac = frac*10 + int64(c-'0')
				scale *= 10
			}
		default:
			return 0, false
		}
	}
	for scale < 100 {
		frac, scale = frac*10, scale*10
	}
	if scale == 1000 {
		frac = (frac + 5) / 10
	}
	return whole*100 + frac, true
}

func inGapUnix(t int64) bool {
	return (t > pubPurchaseGaps[0][0] && t < pubPurchaseGaps[0][1]) ||
		(t > pubPurchaseGaps[1][0] && t < pubPurchaseGaps[1][1])
}
