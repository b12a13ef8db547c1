package loadgen

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/cartwatch/cartwatch/event"
	"github.com/cartwatch/cartwatch/format"
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
// without the header) and computes its Stats. Rows are read by the parser of
// cartwatch run (format.Parser), so a row is malformed here exactly when
// cartwatch run rejects it (docs/semantics.md, rule 8); malformed rows are
// counted, reported to skip (when not nil) with their line number and
// reason, and left out of every other figure. Blank lines are skipped, as
// by cartwatch run. progress, when not nil, is called now and then with the
// bytes read. Memory grows with the distinct sessions (20 bytes each, in a
// table kept below 85 % full) and users (9 bytes each below 70 %), not with
// the rows.
func Measure(r io.Reader, progress func(bytes int64), skip func(line int64, msg string)) (*Stats, error) {
	s := &Stats{GzipBytes: -1, PriceMin: math.Inf(1), Daily: map[int64]int64{}}
	m := newMeasurer()
	lr := newLineReader(r)
	// The same limit as cartwatch run's default --max-future.
	p := format.Parser{MaxTime: time.Now().Add(24 * time.Hour).Unix()}
	var ev event.Event
	var base int64 // lines before the current chunk
	for {
		data, header, err := lr.next()
		if err != nil {
			s.Bytes = lr.bytes
			if err == io.EOF {
				break
			}
			return s, err
		}
		base += int64(header)
		p.Header, m.hdr = lr.header, lr.header
		it := p.Rows(data)
		for {
			reason, ok := it.Next(&ev, true)
			if !ok {
				break
			}
			if reason != format.ReasonOK {
				s.Malformed++
				line := base + int64(it.Index()) + 1
				if skip != nil {
					skip(line, reason.String())
				}
				if line > 100 && s.Rows == 0 {
					s.Bytes = lr.bytes
					return s, fmt.Errorf("%w: no valid row in the first %d lines (last: %s)", ErrNotSchema, line, reason)
				}
				continue
			}
			m.add(s, &ev, it.Line())
		}
		base += int64(it.Count())
		if progress != nil {
			progress(lr.bytes)
		}
	}
	m.finish(s)
	if s.Rows == 0 && s.Malformed > 0 {
		return s, fmt.Errorf("%w: no valid row in %d lines", ErrNotSchema, base)
	}
	return s, nil
}

// measurer holds what Measure accumulates besides the counters in Stats.
type measurer struct {
	sess                  *sessTable
	users, products, cats *idSet
	codes, brands         map[string]*int64
	hours                 map[int64]int64
	curHour, curHourN     int64 // rows are nearly in time order
	curDay, curDayN       int64
	priceHist             []int64 // cents; higher prices go to priceBig
	priceBig              map[int64]int64
	priceSum, priceSq     float64
	dupSet                []uint64 // row hashes of the current second, scanned linearly
	dupT, prevT           int64
	hdr                   *format.Header // the input's header; nil: none
}

func newMeasurer() *measurer {
	return &measurer{
		sess:  newSessTable(),
		users: newIDSet(), products: newIDSet(), cats: newIDSet(),
		// *int64 values: an increment is a lookup, which with a string(b)
		// key does not allocate; m[string(b)]++ would allocate a key per row.
		codes: map[string]*int64{}, brands: map[string]*int64{},
		hours:   map[int64]int64{},
		curHour: math.MinInt64, curDay: math.MinInt64,
		priceHist: make([]int64, 300_000),
		priceBig:  map[int64]int64{},
		dupT:      math.MinInt64, prevT: math.MinInt64,
	}
}

// add counts one valid row: ev as format.Parser filled it (full), line the
// row's text without its '\n'.
func (m *measurer) add(s *Stats, ev *event.Event, line []byte) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	t, cents := ev.Time, ev.PriceCents
	s.Rows++
	if t < m.prevT {
		s.OutOfOrder++
	}
	m.prevT = t
	if t != m.dupT {
		m.dupSet, m.dupT = m.dupSet[:0], t
	}
	h := hash64(line)
	if slices.Contains(m.dupSet, h) {
		s.Duplicates++
	} else {
		m.dupSet = append(m.dupSet, h)
	}
	var flags uint32
	var uflags uint8
	switch ev.Type {
	case event.EventView:
		s.Views++
	case event.EventCart:
		s.Carts++
		flags, uflags = flagCart, 1
	case event.EventPurchase:
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
	m.users.add(ev.UserID, uflags)
	m.products.add(ev.ProductID, 0)
	m.cats.add(ev.CategoryID, 0)
	code, brand, session := textFields(line, m.hdr)
	if len(code) == 0 {
		s.EmptyCode++
	} else {
		count(m.codes, code)
	}
	if len(brand) == 0 {
		s.EmptyBrand++
	} else {
		count(m.brands, brand)
	}
	if cents < int64(len(m.priceHist)) {
		m.priceHist[cents]++
	} else {
		m.priceBig[cents]++
	}
	p := float64(cents) / 100
	m.priceSum += p
	m.priceSq += p * p
	if cents == 0 {
		s.ZeroPrices++
	}
	if len(session) == 0 {
		s.EmptySess++
	} else {
		m.sess.add(hash64(session), uint32(t-statsEpoch), flags)
	}
	if hr := floorDiv(t, 3600); hr != m.curHour {
		m.hours[m.curHour] += m.curHourN
		m.curHour, m.curHourN = hr, 0
	}
	m.curHourN++
	if d := floorDiv(t, 86400); d != m.curDay {
		s.Daily[m.curDay] += m.curDayN
		m.curDay, m.curDayN = d, 0
	}
	m.curDayN++
}

// textFields returns the category_code, brand and user_session of a row
// that format.Parser accepted under the header hdr (nil or canonical: the
// nine fields in the 2019-Nov order), unquoted.
func textFields(row []byte, hdr *format.Header) (code, brand, session []byte) {
	if hdr != nil && !hdr.Canonical() {
		return mappedTextFields(row, hdr)
	}
	if bytes.IndexByte(row, '"') >= 0 {
		return quotedTextFields(row)
	}
	var f [format.NumFields][]byte
	for i := range format.NumFields - 1 {
		j := bytes.IndexByte(row, ',')
		f[i], row = row[:j], row[j+1:]
	}
	return f[4], f[5], row
}

// quotedTextFields is textFields for a row with a '"', rare enough to go
// through encoding/csv, whose rules (LazyQuotes off) format.Parser follows.
func quotedTextFields(row []byte) (code, brand, session []byte) {
	f, err := csv.NewReader(bytes.NewReader(row)).Read()
	if err != nil || len(f) != format.NumFields {
		return nil, nil, nil // cannot happen for a row the parser accepted
	}
	return []byte(f[4]), []byte(f[5]), []byte(f[8])
}

// mappedTextFields is textFields for a header in another order, through
// encoding/csv (a column the header lacks reads as empty).
func mappedTextFields(row []byte, hdr *format.Header) (code, brand, session []byte) {
	f, err := csv.NewReader(bytes.NewReader(row)).Read()
	if err != nil {
		return nil, nil, nil // cannot happen for a row the parser accepted
	}
	pick := func(c int) []byte {
		if i := hdr.Index(c); i >= 0 && i < len(f) {
			return []byte(f[i])
		}
		return nil
	}
	return pick(4), pick(5), pick(8)
}

// finish computes the figures that need every row.
func (m *measurer) finish(s *Stats) {
	m.hours[m.curHour] += m.curHourN
	s.Daily[m.curDay] += m.curDayN
	delete(m.hours, math.MinInt64)
	delete(s.Daily, math.MinInt64)
	sess, codes, brands, hours := m.sess, m.codes, m.brands, m.hours
	priceHist, priceBig, priceSum, priceSq := m.priceHist, m.priceBig, m.priceSum, m.priceSq
	s.Users, s.Products, s.Categories = m.users.len(), m.products.len(), m.cats.len()
	s.Codes, s.Brands = int64(len(codes)), int64(len(brands))
	m.users.each(func(f uint8) {
		if f&1 != 0 {
			s.UsersCart++
		}
		if f&2 != 0 {
			s.UsersPurchase++
		}
	})
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

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func inGapUnix(t int64) bool {
	return (t > pubPurchaseGaps[0][0] && t < pubPurchaseGaps[0][1]) ||
		(t > pubPurchaseGaps[1][0] && t < pubPurchaseGaps[1][1])
}
