package loadgen

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// WriteTable prints s beside the published figures of the real month as a
// Markdown table. Additive counts (rows, events of a type, bytes, ...) are
// compared with the published value scaled by this file's rows over the
// month's, so a 1 % file can be judged too; distinct counts (users,
// sessions, products) are not additive and are compared unscaled, which is
// only meaningful for a full month.
func (s *Stats) WriteTable(w io.Writer, name string) {
	f := float64(s.Rows) / float64(FullRows)
	scaled := math.Abs(f-1) > 1e-3
	fmt.Fprintf(w, "`loadgen stats %s`: %d rows", name, s.Rows)
	if scaled {
		fmt.Fprintf(w, "; figures marked * are published × %.6g (this file's share of the month's rows)", f)
	}
	fmt.Fprintf(w, "; malformed rows skipped: %d; rows out of time order: %d\n\n", s.Malformed, s.OutOfOrder)
	fmt.Fprintln(w, "| figure | published | measured | error |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	row := func(name string, pub, got float64, prec int, additive bool) {
		star := ""
		if additive && scaled {
			pub *= f
			star = "*"
		}
		err := "n/a"
		if pub != 0 {
			err = fmt.Sprintf("%+.2f %%", 100*(got/pub-1))
		} else if got == 0 {
			err = "0"
		}
		fmt.Fprintf(w, "| %s | %s%s | %s | %s |\n", name, num(pub, prec), star, num(got, prec), err)
	}
	// share rows: percentages, error in percentage points
	share := func(name string, pub, got float64) {
		fmt.Fprintf(w, "| %s | %.2f %% | %.2f %% | %+.2f pp |\n", name, 100*pub, 100*got, 100*(got-pub))
	}
	n := math.Max(1, float64(s.Rows))
	row("rows", float64(FullRows), float64(s.Rows), 0, true)
	row("bytes (uncompressed, with header)", float64(FullBytes), float64(s.Bytes), 0, true)
	if s.GzipBytes >= 0 {
		row("bytes gzipped (this file's compression)", 2_890_421_023, float64(s.GzipBytes), 0, true)
	}
	row("bytes per line", float64(FullBytes)/float64(FullRows+1), float64(s.Bytes)/float64(s.Rows+1), 2, false)
	row("view events", pubViews, float64(s.Views), 0, true)
	row("cart events", pubCarts, float64(s.Carts), 0, true)
	row("purchase events", pubPurchases, float64(s.Purchases), 0, true)
	share("view share", float64(pubViews)/float64(FullRows), float64(s.Views)/n)
	share("cart share", float64(pubCarts)/float64(FullRows), float64(s.Carts)/n)
	share("purchase share", float64(pubPurchases)/float64(FullRows), float64(s.Purchases)/n)
	if s.Other > 0 {
		row("other event types", 0, float64(s.Other), 0, false)
	}
	row("unique user_id", pubUsers, float64(s.Users), 0, false)
	row("unique user_session", pubSessions, float64(s.Sessions), 0, false)
	row("rows with empty user_session", pubEmptySessions, float64(s.EmptySess), 0, true)
	row("unique product_id", pubProducts, float64(s.Products), 0, false)
	row("unique category_id", pubCategories, float64(s.Categories), 0, false)
	row("distinct category_code", pubCodes, float64(s.Codes), 0, false)
	row("distinct brand", pubBrands, float64(s.Brands), 0, false)
	share("empty category_code", pubEmptyCode, float64(s.EmptyCode)/n)
	share("empty brand", pubEmptyBrand, float64(s.EmptyBrand)/n)
	row("price min", 0, s.PriceMin, 2, false)
	row("price max", pubPriceMax, s.PriceMax, 2, false)
	row("price mean", pubPriceMean, s.PriceMean, 2, false)
	row("price sd", pubPriceSD, s.PriceSD, 1, false)
	row("price p50", pubPriceP50, s.PriceP50, 2, false)
	row("price p90", pubPriceP90, s.PriceP90, 2, false)
	row("price p99", pubPriceP99, s.PriceP99, 2, false)
	row("zero prices", pubZeroPrices, float64(s.ZeroPrices), 0, true)
	row("zero prices on purchases", 0, float64(s.ZeroPricePurchase), 0, false)
	row("exact duplicate rows", pubDuplicates, float64(s.Duplicates), 0, true)
	row("events per session: mean", pubSessMean, s.SessMean, 2, false)
	row("events per session: median", pubSessMedian, float64(s.SessMedian), 0, false)
	row("events per session: p90", pubSessP90, float64(s.SessP90), 0, false)
	row("events per session: p99", pubSessP99, float64(s.SessP99), 0, false)
	row("events per session: max", pubSessMax, float64(s.SessMax), 0, false)
	share("sessions with < 3 events", pubSessUnder3, s.SessUnder3)
	row("session duration mean (s)", pubDurMean, s.DurMean, 0, false)
	row("session duration median (s)", pubDurMedian, s.DurMedian, 0, false)
	row("events per user", pubEventsPerUser, n/math.Max(1, float64(s.Users)), 2, false)
	row("sessions per user", pubSessPerUser, float64(s.Sessions)/math.Max(1, float64(s.Users)), 2, false)
	row("users who carted", pubUsersCart, float64(s.UsersCart), 0, false)
	row("users who purchased", pubUsersPurchase, float64(s.UsersPurchase), 0, false)
	row("sessions with a cart", pubSessCart, float64(s.SessCart), 0, true)
	row("sessions with a purchase", pubSessPurchase, float64(s.SessPurchase), 0, true)
	ns := math.Max(1, float64(s.Sessions))
	share("sessions with a cart / all", float64(pubSessCart)/pubSessions, float64(s.SessCart)/ns)
	share("sessions with a purchase / all", float64(pubSessPurchase)/pubSessions, float64(s.SessPurchase)/ns)
	share("purchase sessions with no cart", float64(pubPurchNoCart)/pubSessPurchase, float64(s.PurchaseNoCart)/math.Max(1, float64(s.SessPurchase)))
	share("cart sessions that also purchase", pubCartConvert, float64(s.CartAlsoPurchase)/math.Max(1, float64(s.SessCart)))
	if len(s.TopCodes) > 0 {
		share("top category_code electronics.smartphone (measured top: "+s.TopCodes[0].Name+")", pubSmartphone, float64(countOf(s.TopCodes, "electronics.smartphone"))/n)
	}
	for i, b := range []string{"samsung", "apple", "xiaomi"} {
		pub := []float64{pubSamsung, pubApple, pubXiaomi}[i]
		share("brand "+b, pub, float64(countOf(s.TopBrands, b))/n)
	}
	row("busiest hour (events)", pubBusiestHour, float64(s.BusiestHour), 0, true)
	fmt.Fprintf(w, "| busiest hour starts | 2019-11-17 14:00 | %s | |\n", time.Unix(s.BusiestHourAt, 0).UTC().Format("2006-01-02 15:04"))
	row("purchases inside the Nov 14-17 logging gaps", 0, float64(s.PurchasesInGap), 0, false)

	// Daily events, for the November days present.
	var b strings.Builder
	days := 0
	for d := 0; d < 30; d++ {
		day := (MonthStart / 86400) + int64(d)
		got, ok := s.Daily[day]
		if !ok {
			continue
		}
		days++
		pub := float64(pubDaily[d])
		if scaled {
			pub *= f
		}
		fmt.Fprintf(&b, "| Nov %d | %s | %d | %+.2f %% |\n", d+1, num(pub, 0), got, 100*(float64(got)/pub-1))
	}
	if days > 0 {
		fmt.Fprintln(w)
		star := ""
		if scaled {
			star = " (× the file's share)"
		}
		fmt.Fprintf(w, "| day (UTC) | published%s | measured | error |\n|---|---:|---:|---:|\n%s", star, b.String())
	}
}

func countOf(l []NameCount, name string) int64 {
	for _, x := range l {
		if x.Name == name {
			return x.Count
		}
	}
	return 0
}

// num formats x with thousands separators and prec decimals.
func num(x float64, prec int) string {
	s := fmt.Sprintf("%.*f", prec, x)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if frac != "" {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}
