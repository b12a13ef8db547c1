package loadgen

// Published figures of the real 2019-Nov.csv (../shared/data/README.md). The
// generator is calibrated against them and `loadgen stats` prints them beside
// what it measures.
const (
	// FullRows is the number of events (rows without the header) of the month.
	FullRows int64 = 67_501_979
	// FullBytes is the uncompressed size of the month, header included.
	FullBytes int64 = 9_006_762_395

	pubViews         = 63_556_110
	pubCarts         = 3_028_930
	pubPurchases     = 916_939
	pubUsers         = 3_696_117
	pubSessions      = 13_776_050
	pubEmptySessions = 10
	pubProducts      = 190_662
	pubCategories    = 684
	pubCodes         = 129
	pubBrands        = 4_200
	pubEmptyCode     = 0.3244
	pubEmptyBrand    = 0.1366
	pubPriceMax      = 2574.07
	pubPriceMean     = 292.46
	pubPriceSD       = 356
	pubPriceP50      = 164.6
	pubPriceP90      = 758
	pubPriceP99      = 1682
	pubZeroPrices    = 188_088
	pubDuplicates    = 100_519
	pubSessMean      = 4.90
	pubSessMedian    = 2
	pubSessP90       = 11
	pubSessP99       = 36
	pubSessMax       = 4128
	pubSessUnder3    = 0.52
	pubDurMean       = 931
	pubDurMedian     = 60
	pubEventsPerUser = 18.3
	pubSessPerUser   = 3.7
	pubUsersCart     = 826_323
	pubUsersPurchase = 441_638
	pubSessCart      = 1_743_344
	pubSessPurchase  = 773_214
	pubPurchNoCart   = 124_853
	pubCartConvert   = 0.37
	pubSmartphone    = 0.243
	pubSamsung       = 0.117
	pubApple         = 0.093
	pubXiaomi        = 0.069
	pubBusiestHour   = 480_916
)

// pubDaily is the published number of events per UTC day, Nov 1..30; it sums
// to FullRows.
var pubDaily = [30]int64{
	1_445_360, 1_555_538, 1_567_774, 1_793_128, 1_717_244, 1_694_821, 1_796_833, 1_896_402, 1_877_906, 1_940_575,
	2_009_390, 1_987_569, 2_019_165, 3_069_726, 6_220_416, 6_502_957, 6_395_377, 2_021_512, 1_728_541, 1_700_086,
	1_677_336, 1_568_243, 1_561_716, 1_591_765, 1_593_582, 1_654_879, 1_646_456, 1_658_378, 1_854_426, 1_754_878,
}

// pubHourly14to18 is the published number of events per UTC hour on Nov
// 14..18 (nov-hourly-14-18.csv): the spike, the purchase gap and, for Nov 18,
// the hour-of-day profile of an ordinary day, which the generator uses for
// every other day.
var pubHourly14to18 = [5][24]int64{
	{15198, 16071, 51743, 80597, 101876, 112228, 118719, 120828, 126148, 119678, 119872, 118515,
		125265, 150712, 215052, 141086, 175142, 275359, 236952, 223471, 187681, 121746, 65352, 50435},
	{80049, 164700, 282332, 291362, 290052, 290064, 278245, 307784, 359062, 345148, 328574, 302014,
		278549, 305769, 318487, 328594, 334651, 337598, 319955, 293124, 203228, 107573, 61474, 12028},
	{24391, 115334, 213247, 232954, 323628, 369225, 383429, 380274, 369025, 383999, 367883, 370662,
		371212, 352080, 348490, 316350, 333525, 346965, 341797, 264801, 148934, 83711, 29467, 31574},
	{34646, 48077, 116665, 232346, 342167, 387647, 371985, 351354, 334503, 307846, 393991, 457256,
		475158, 465828, 480916, 470908, 439462, 447046, 48549, 89372, 48114, 25516, 14955, 11070},
	{15394, 31239, 55190, 84338, 103036, 111863, 116285, 114373, 115063, 112683, 107152, 98122,
		97991, 108819, 123762, 135245, 136700, 128944, 95146, 59761, 32893, 18073, 11300, 8140},
}

// The purchase logging gaps of the real month, as Unix seconds: no purchase
// is logged strictly between the two ends of each interval.
var pubPurchaseGaps = [2][2]int64{
	{1573754977, 1573893154}, // 2019-11-14 18:09:37 .. 2019-11-16 08:32:34 UTC
	{1573918470, 1573962198}, // 2019-11-16 15:34:30 .. 2019-11-17 03:43:18 UTC
}

// MonthStart is 2019-11-01 00:00:00 UTC as Unix seconds.
const MonthStart int64 = 1572566400
