package loadgen

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"unsafe"

	"github.com/cartwatch/cartwatch/event"
)

// Catalogue parameters (docs/loadgen-model.md explains each choice).
const (
	numProducts   = 190_670 // nearly all are seen in a month: 190,662 published
	zipfS         = 1.0     // product popularity ~ 1/(rank+zipfQ)^zipfS
	zipfQ         = 10
	numCategories = 684
	numCodedCats  = 300 // category_ids with a category_code; the rest have none
	numBrands     = 4_200
	// zeroPriceMass is the popularity share of zero-price products: 188,088
	// zero prices are 0.2786 % of rows, all of them views (94.2 % of rows).
	zeroPriceMass = 0.002786 / 0.9415
)

// codes lists the 129 category_code values: the three the README names
// first, by event share, then a taxonomy of our own.
var codes = func() []string {
	c := []string{"electronics.smartphone", "electronics.video.tv", "computers.notebook"}
	tree := []struct {
		top  string
		subs []string
	}{
		{"electronics", []string{"audio.headphone", "clocks", "tablet", "audio.subwoofer", "camera.photo", "camera.video",
			"audio.acoustic", "telephone", "video.projector", "audio.microphone", "audio.dictaphone", "audio.music_tools.piano"}},
		{"appliances", []string{"kitchen.washer", "kitchen.refrigerators", "environment.vacuum", "kitchen.microwave",
			"kitchen.kettle", "kitchen.blender", "kitchen.oven", "kitchen.hob", "kitchen.dishwasher", "kitchen.hood",
			"kitchen.mixer", "kitchen.juicer", "kitchen.toster", "kitchen.coffee_machine", "kitchen.meat_grinder",
			"environment.air_heater", "environment.water_heater", "environment.air_conditioner", "environment.fan",
			"iron", "sewing_machine", "personal.hair_cutter", "personal.massager", "personal.scales", "ironing_board",
			"kitchen.steam_cooker", "kitchen.grill", "kitchen.fryer", "kitchen.coffee_grinder", "environment.climate"}},
		{"computers", []string{"desktop", "peripherals.printer", "peripherals.monitor", "peripherals.mouse",
			"peripherals.keyboard", "components.videocards", "components.hdd", "components.memory", "components.cpu",
			"components.motherboard", "components.power_supply", "components.cooler", "network.router", "ebooks",
			"peripherals.camera", "components.sound_card"}},
		{"furniture", []string{"living_room.sofa", "living_room.chair", "living_room.cabinet", "bedroom.bed",
			"bedroom.pillow", "kitchen.table", "kitchen.chair", "bathroom.bath", "bathroom.toilet", "universal.light"}},
		{"apparel", []string{"shoes", "shoes.keds", "shoes.sandals", "shoes.slipons", "shirt", "trousers", "jeans",
			"jacket", "costume", "dress", "underwear", "scarf", "glove", "belt", "sock", "shoes.moccasins", "shoes.step_ins"}},
		{"construction", []string{"tools.drill", "tools.saw", "tools.generator", "tools.welding", "tools.light",
			"tools.pump", "tools.screw", "components.faucet", "tools.heater", "tools.soldering", "tools.painting"}},
		{"kids", []string{"toys", "carriage", "skates", "swing", "dolls", "fmcg.diapers", "bottles"}},
		{"auto", []string{"accessories.player", "accessories.alarm", "accessories.videoregister", "accessories.radar",
			"accessories.parktronic", "accessories.compressor", "accessories.anti_freeze"}},
		{"sport", []string{"bicycle", "tennis", "ski", "snowboard", "trainer", "diving"}},
		{"accessories", []string{"bag", "wallet", "umbrella"}},
		{"country_yard", []string{"cultivator", "lawn_mower", "watering", "weather_station"}},
		{"medicine", []string{"tools.tonometer"}},
		{"stationery", []string{"cartrige", "paper"}},
	}
	for _, t := range tree {
		for _, s := range t.subs {
			c = append(c, t.top+"."+s)
		}
	}
	if len(c) != pubCodes {
		panic(fmt.Sprintf("loadgen: %d category codes, want %d", len(c), pubCodes))
	}
	return c
}()

// catalogue is the product universe of a seed: every product keeps its
// category, brand and price for the whole month.
type catalogue struct {
	pick *alias // product index by popularity

	// prods holds what an event needs of its product in one 32-byte
	// record: a single cache miss per event on the 6 MB table.
	prods []product
	// mids holds, per product, the rendered middle of a CSV line:
	// "product_id,category_id,category_code,brand,price". The CSV path reads
	// it instead of prods: one record, one or two adjacent cache lines.
	mids []midText
}

// midText is a product's CSV middle: its length in byte 0, the text from
// byte 1. Rendering copies midCopy bytes with fixed-size moves and keeps n.
type midText struct{ b [1 << midShift]byte }

const midShift = 7

const midCopy = 96 // bytes copied per row; every middle is shorter (checked)

func (t *midText) len() int { return int(t.b[0]) }

// prodShift is log2 of the size of a product, for prefetchRecs.
const prodShift = 5

var _ = [1]int{}[unsafe.Sizeof(product{})-1<<prodShift] // a product is 1<<prodShift bytes

type product struct {
	id, category uint64
	priceCents   int64
	top          uint8   // index in tops of its category_code's top level
	_            [7]byte // two records per cache line
}

// topCat is a top-level category as event.Event carries it.
type topCat struct {
	n uint8
	b [event.CategoryMax]byte
}

// tops lists the top levels of codes (tops[0] is the empty one of a
// category without a code), and codeTop gives each code's index in it.
var tops, codeTop = func() ([]topCat, []uint8) {
	ts := []topCat{{}}
	idx := make([]uint8, len(codes))
	for k, c := range codes {
		var t topCat
		t.n = event.TopCategory(&t.b, []byte(c))
		i := slices.Index(ts, t)
		if i < 0 {
			i = len(ts)
			ts = append(ts, t)
		}
		idx[k] = uint8(i)
	}
	return ts, idx
}()

// priceKnots is the event-weighted inverse CDF of price: the published p50,
// p90, p99 and max, the zero-price share, and between them the shape of the
// public sample's quantiles, tuned so the mean is 292.46 (the mean of this
// piecewise-linear curve is 293.0).
var priceKnots = [][2]float64{
	{0, 0}, {0.002786, 0.80}, {0.01, 5.6}, {0.05, 15.4}, {0.1, 28.0}, {0.2, 47.1}, {0.3, 77.2}, {0.4, 116.9},
	{0.5, 164.6}, {0.6, 224.0}, {0.7, 300.0}, {0.8, 430.0}, {0.9, 758.0}, {0.95, 950.0}, {0.99, 1682.0},
	{0.999, 2400.0}, {1, 2574.07},
}

func priceAt(u float64) float64 {
	k := sort.Search(len(priceKnots), func(i int) bool { return priceKnots[i][0] >= u })
	if k == 0 {
		return priceKnots[0][1]
	}
	a, b := priceKnots[k-1], priceKnots[k]
	return a[1] + (u-a[0])/(b[0]-a[0])*(b[1]-a[1])
}

// massWalk assigns items (in the given order, with weights w summing to 1) to
// buckets with target shares: an item goes to the bucket whose cumulative
// share interval holds the item's mass midpoint, so every bucket's event
// share comes out as its target, up to one item's weight.
func massWalk(order []int, w []float64, shares []float64, out []int) {
	b, cum := 0, shares[0]
	var m float64
	for _, i := range order {
		mid := m + w[i]/2
		for mid > cum && b < len(shares)-1 {
			b++
			cum += shares[b]
		}
		out[i] = b
		m += w[i]
	}
}

func newCatalogue(seed uint64) *catalogue {
	r := rng{s: mix(seed ^ 0xca7a1065)}
	n := numProducts
	w := make([]float64, n)
	var sum float64
	for i := range w {
		w[i] = math.Pow(float64(i+zipfQ), -zipfS)
		sum += w[i]
	}
	for i := range w {
		w[i] /= sum
	}
	c := &catalogue{pick: newAlias(w)}

	perm := func() []int {
		p := make([]int, n)
		for i := range p {
			p[i] = i
		}
		for i := n - 1; i > 0; i-- {
			j := int(r.n(uint64(i + 1)))
			p[i], p[j] = p[j], p[i]
		}
		return p
	}

	// Categories: the first numCodedCats ids carry a code (each code at least
	// one id), the rest none. Event shares: smartphone 24.3 %, empty 32.44 %,
	// the rest Zipf over codes and split among a code's ids.
	catCode := make([]int, numCategories) // index into codes, -1 for none
	for i := range catCode {
		switch {
		case i < len(codes):
			catCode[i] = i
		case i < numCodedCats:
			catCode[i] = int(r.n(uint64(len(codes))))
		default:
			catCode[i] = -1
		}
	}
	codeShare := make([]float64, len(codes))
	codeShare[0], codeShare[1], codeShare[2] = pubSmartphone, 0.05, 0.035
	rest := 1 - pubEmptyCode - codeShare[0] - codeShare[1] - codeShare[2]
	var zs float64
	for k := 3; k < len(codes); k++ {
		zs += 1 / float64(k)
	}
	for k := 3; k < len(codes); k++ {
		codeShare[k] = rest / float64(k) / zs
	}
	idsOf := make([]int, len(codes))
	for _, k := range catCode {
		if k >= 0 {
			idsOf[k]++
		}
	}
	catShare := make([]float64, numCategories)
	var emptyW float64
	for i, k := range catCode {
		if k >= 0 {
			catShare[i] = codeShare[k] / float64(idsOf[k])
		} else {
			catShare[i] = 1 / float64(i-numCodedCats+3)
			emptyW += catShare[i]
		}
	}
	for i, k := range catCode {
		if k < 0 {
			catShare[i] *= pubEmptyCode / emptyW
		}
	}
	// Buckets: smartphone first, then the other coded categories, then the
	// uncoded ones, each group in a seeded order. Products: the topProducts
	// most popular first, so they are smartphones (as in the real file), then
	// the rest at random. With one coded/uncoded boundary, hit by a small
	// product, the empty-category_code share comes out within a hair.
	catIDs := make([]uint64, numCategories)
	catLevel := make([]float64, numCategories)
	for i := range catIDs {
		catIDs[i] = 2053013552000000000 + r.n(30_000_000_000)
		catLevel[i] = r.f64()
	}
	shuffle := func(p []int) {
		for i := len(p) - 1; i > 0; i-- {
			j := int(r.n(uint64(i + 1)))
			p[i], p[j] = p[j], p[i]
		}
	}
	catOrder := []int{0}
	var coded, uncoded []int
	for i := 1; i < numCategories; i++ {
		if catCode[i] == 0 {
			catOrder = append(catOrder, i)
		} else if catCode[i] > 0 {
			coded = append(coded, i)
		} else {
			uncoded = append(uncoded, i)
		}
	}
	shuffle(coded)
	shuffle(uncoded)
	catOrder = append(append(catOrder, coded...), uncoded...)
	orderedShares := make([]float64, numCategories)
	for b, i := range catOrder {
		orderedShares[b] = catShare[i]
	}
	const topProducts = 40
	prodOrder := make([]int, 0, n)
	for i := 0; i < topProducts; i++ {
		prodOrder = append(prodOrder, i)
	}
	for _, i := range perm() {
		if i >= topProducts {
			prodOrder = append(prodOrder, i)
		}
	}
	prodBucket := make([]int, n)
	massWalk(prodOrder, w, orderedShares, prodBucket)
	fillEmpty(prodBucket, numCategories, n/2, &r)
	prodCat := make([]int, n)
	for i, b := range prodBucket {
		prodCat[i] = catOrder[b]
	}

	// Brands: empty 13.66 %, samsung, apple, xiaomi as published, then
	// numBrands-3 generated names sharing the rest by Zipf.
	brands := []string{"", "samsung", "apple", "xiaomi"}
	brandShare := []float64{pubEmptyBrand, pubSamsung, pubApple, pubXiaomi}
	rest = 1 - pubEmptyBrand - pubSamsung - pubApple - pubXiaomi
	zs = 0
	for k := 1; k <= numBrands-3; k++ {
		zs += 1 / float64(k+3)
	}
	seen := map[string]bool{"samsung": true, "apple": true, "xiaomi": true}
	for k := 1; k <= numBrands-3; k++ {
		name := brandName(&r)
		for seen[name] {
			name = brandName(&r)
		}
		seen[name] = true
		brands = append(brands, name)
		brandShare = append(brandShare, rest/float64(k+3)/zs)
	}
	prodBrand := make([]int, n)
	massWalk(perm(), w, brandShare, prodBrand)
	fillEmpty(prodBrand, len(brands), n/2, &r)

	// Prices: products sorted by a key that mixes their category's price
	// level with their own noise, then given the event-weighted price
	// quantile of their mass midpoint, so prices depend on the category
	// and the event-weighted distribution is priceKnots.
	// Zero prices go to unpopular products (rank >= 1000) picked at random
	// until they hold zeroPriceMass of the popularity, exactly enough.
	zero := make([]bool, n)
	var zm float64
	for _, i := range perm() {
		if zm >= zeroPriceMass {
			break
		}
		if i >= 1000 {
			zero[i] = true
			zm += w[i]
		}
	}
	key := make([]float64, n)
	for i := range key {
		key[i] = 0.6*catLevel[prodCat[i]] + 0.4*r.f64()
	}
	byKey := perm()
	sort.Slice(byKey, func(a, b int) bool { return key[byKey[a]] < key[byKey[b]] })
	price := make([]int64, n)
	m := zm
	for _, i := range byKey {
		if zero[i] {
			continue
		}
		price[i] = int64(math.Round(priceAt(m+w[i]/2) * 100))
		m += w[i]
	}

	// Product ids: unique, half with 7 digits and half with 8, like the
	// real file's.
	c.prods = make([]product, n)
	c.mids = make([]midText, n)
	used := make(map[uint64]bool, n)
	for i := range c.prods {
		p := &c.prods[i]
		for {
			var id uint64
			if r.u64()&1 == 0 {
				id = 1_000_000 + r.n(9_000_000)
			} else {
				id = 10_000_000 + r.n(50_000_000)
			}
			if !used[id] {
				used[id] = true
				p.id = id
				break
			}
		}
		p.category, p.priceCents = catIDs[prodCat[i]], price[i]
		t := &c.mids[i]
		b := t.b[1 : 1 : midCopy+1]
		b = strconv.AppendUint(b, p.id, 10)
		b = append(b, ',')
		b = strconv.AppendUint(b, p.category, 10)
		b = append(b, ',')
		if k := catCode[prodCat[i]]; k >= 0 {
			b = append(b, codes[k]...)
			p.top = codeTop[k]
		}
		b = append(b, ',')
		b = append(b, brands[prodBrand[i]]...)
		b = append(b, ',')
		b = appendCents(b, p.priceCents)
		if len(b) > midCopy { // append left t.b
			panic(fmt.Sprintf("loadgen: product %d: CSV middle %q is longer than %d bytes", i, b, midCopy))
		}
		t.b[0] = uint8(len(b))
	}
	return c
}

// fillEmpty gives every bucket of out (product -> bucket, nb buckets) at
// least one product, moving unpopular products (rank >= minRank) out of
// buckets that have several: their weight is negligible, so the shares stay.
func fillEmpty(out []int, nb, minRank int, r *rng) {
	cnt := make([]int, nb)
	for _, b := range out {
		cnt[b]++
	}
	for b := 0; b < nb; b++ {
		for cnt[b] == 0 {
			i := minRank + int(r.n(uint64(len(out)-minRank)))
			if cnt[out[i]] > 1 {
				cnt[out[i]]--
				out[i] = b
				cnt[b]++
			}
		}
	}
}

// brandName makes a pronounceable lower-case name of 2 or 3 syllables.
func brandName(r *rng) string {
	const cons, vow = "bcdfgklmnprstvz", "aeiou"
	n := 2 + int(r.n(2))
	b := make([]byte, 0, 8)
	for i := 0; i < n; i++ {
		b = append(b, cons[r.n(uint64(len(cons)))], vow[r.n(uint64(len(vow)))])
	}
	if r.n(3) == 0 {
		b = append(b, cons[r.n(uint64(len(cons)))])
	}
	return string(b)
}

// appendCents appends a non-negative amount of cents as "123.45".
func appendCents(b []byte, c int64) []byte {
	b = strconv.AppendInt(b, c/100, 10)
	f := c % 100
	return append(b, '.', byte('0'+f/10), byte('0'+f%10))
}
