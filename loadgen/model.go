package loadgen

import "math"

// Model parameters; docs/loadgen-model.md gives the reasoning and the
// published figure each one is calibrated against.
const (
	blockSecs = 3600 // sessions are generated in one-hour blocks by start time
	// sessCap bounds a session's span so that a block's events land in its
	// own hour and the next spillHours hours.
	sessCap    = spillHours*blockSecs - 1
	spillHours = 4

	// Session length (events): 1 with pOne, 2 with pTwo, otherwise
	// 2 + ceil(lognormal(lenMu, lenSigma)), at most lenMax.
	pOne     = 0.38
	pTwo     = 0.175
	lenMu    = 1.28
	lenSigma = 1.09
	lenMax   = 4128
	// Bots: a few sessions per month of botMin..lenMax events (the
	// published maximum is 4,128), beyond the log-normal's reach.
	pBot   = 2e-6
	botMin = 300

	pSameProduct = 0.35    // the next view shows the same product again
	pDuplicate   = 0.00147 // an emitted row is written twice; with the natural same-second repeats, 0.149 % of rows

	// Extra carts per cart session and extra purchases per purchase session
	// are geometric: 1.737 carts and 1.186 purchases on average.
	rhoCarts     = 0.424
	rhoPurchases = 0.157

	// userAlpha shapes user activity: a session's user index is
	// floor(users * u^userAlpha), a power law in which a few users have
	// hundreds of sessions and most have one to a few.
	userAlpha = 1.5
	// usersPerFullMonth is the population that yields the published
	// 3,696,117 distinct users: 3,884,810 would, drawn 13,776,050 times
	// alike; 2 % more makes up for the shoppers' sessions concentrating on
	// the most active users (checked on the full month).
	usersPerFullMonth = 3_962_000
	// shopperShare of the population (1.1 M of 3.96 M users) owns every
	// cart and purchase session: 1.72 M cart sessions drawn over them give
	// about 830 k distinct carting users (published 826,323).
	shopperShare = 0.2777
)

// Delays in seconds, as log-normal (median, sigma) clamped to [lo, hi].
var (
	gapDist      = newQuantTable(lognormalInv(32, 2.0, 1, 3600))     // between views
	cartLagDist  = newQuantTable(lognormalInv(20, 1.0, 1, 600))      // view -> cart
	buyDelayDist = newQuantTable(lognormalInv(240, 1.5, 10, 3*3600)) // last cart -> purchase
	buyLagDist   = newQuantTable(lognormalInv(60, 1.2, 2, 1800))     // view -> purchase without cart
	lenTailDist  = newQuantTable(lognormalInv(math.Exp(lenMu), lenSigma, 0, lenMax))
)

// model is everything a Config fixes; it is immutable once built and shared
// by the workers.
type model struct {
	cfg       Config
	rows      int64
	nBlocks   int
	quota     []int64 // rows from sessions starting in each block
	maxQuota  int64
	emptyAt   []bool  // the block's first row has an empty user_session
	users     float64 // user population
	shoppers  float64 // users who cart or purchase: the first shopperShare
	gaps      bool
	cat       *catalogue
	pSessB    uint64 // cart, no purchase
	pSessC    uint64 // cart then purchase
	pSessD    uint64 // purchase without cart
	pOneP     uint64
	pTwoP     uint64
	pSameP    uint64
	pDupP     uint64
	pBotP     uint64
	rhoCartP  uint64
	rhoBuyP   uint64
	endSecond uint32 // events at or after this offset are beyond --days
}

// hourMass is the published (or, outside Nov 14-18, profile-derived) number
// of events of each hour of the month.
func hourMass() [720]float64 {
	var h [720]float64
	var prof float64
	for _, x := range pubHourly14to18[4] {
		prof += float64(x)
	}
	for d := 0; d < 30; d++ {
		for k := 0; k < 24; k++ {
			if d >= 13 && d <= 17 {
				h[d*24+k] = float64(pubHourly14to18[d-13][k])
			} else {
				h[d*24+k] = float64(pubDaily[d]) * float64(pubHourly14to18[4][k]) / prof
			}
		}
	}
	return h
}

// gapShare is the share of the month's events inside the purchase gaps,
// from the hourly curve. The true purchase rates are raised by 1/(1-gapShare)
// so that, with the gap, the published purchase figures come out.
func gapShare() float64 {
	h := hourMass()
	var in, all float64
	for i, x := range h {
		all += x
		lo, hi := MonthStart+int64(i)*3600, MonthStart+int64(i+1)*3600
		for _, g := range pubPurchaseGaps {
			a, b := max(lo, g[0]), min(hi, g[1])
			if b > a {
				in += x * float64(b-a) / 3600
			}
		}
	}
	return in / all
}

func newModel(cfg Config) *model {
	m := &model{cfg: cfg, rows: cfg.totalRows(), nBlocks: cfg.Days * 24, gaps: !cfg.NoGaps}
	m.endSecond = uint32(cfg.Days * 86400)
	h := hourMass()
	var total float64
	for i := 0; i < m.nBlocks; i++ {
		total += h[i]
	}
	// Cumulative rounding: the quotas sum to rows exactly.
	m.quota = make([]int64, m.nBlocks)
	var cum float64
	var prev int64
	for i := range m.quota {
		cum += h[i]
		q := int64(math.Round(float64(m.rows) * cum / total))
		if i == m.nBlocks-1 {
			q = m.rows
		}
		m.quota[i] = q - prev
		m.maxQuota = max(m.maxQuota, m.quota[i])
		prev = q
	}
	// Ten empty user_sessions per full month, spread evenly over blocks.
	m.emptyAt = make([]bool, m.nBlocks)
	ne := int(math.Round(pubEmptySessions * float64(m.rows) / float64(FullRows)))
	for k := 0; k < ne && k < m.nBlocks; k++ {
		m.emptyAt[(2*k+1)*m.nBlocks/(2*ne)] = true
	}
	m.users = math.Max(1, math.Round(usersPerFullMonth*float64(m.rows)/float64(FullRows)))
	m.shoppers = math.Max(1, math.Round(m.users*shopperShare))
	m.cat = sharedCatalogue(cfg.Seed)

	g := gapShare()
	cartSess := float64(pubSessCart) / pubSessions
	pC := pubCartConvert * cartSess / (1 - g)
	pD := float64(pubPurchNoCart) / pubSessions / (1 - g)
	m.pSessC = prob(pC)
	m.pSessB = prob(cartSess)      // kinds are drawn from one uniform:
	m.pSessD = prob(cartSess + pD) // [0,pC) C, [pC,cart) B, [cart,cart+pD) D
	m.pSessC = prob(pC)
	m.pOneP, m.pTwoP = prob(pOne), prob(pOne+pTwo)
	m.pSameP = prob(pSameProduct)
	m.pDupP = prob(pDuplicate)
	m.pBotP = prob(pBot)
	m.rhoCartP, m.rhoBuyP = prob(rhoCarts), prob(rhoPurchases)
	return m
}

// userID maps a user index to a 9-digit id; ids are unique and increase with
// the index, like registration order.
func userID(u uint32) uint64 {
	return 400_000_000 + uint64(u)*41 + mix(uint64(u))%41
}
