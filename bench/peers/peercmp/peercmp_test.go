package peercmp

import (
	"strings"
	"testing"
)

func answer(t *testing.T, alerts string, counts map[string]int64) Answer {
	t.Helper()
	as, err := ReadAlerts(strings.NewReader(alerts))
	if err != nil {
		t.Fatal(err)
	}
	return Answer{Alerts: as, Counts: counts}
}

const (
	a1 = `{"user_id":1,"first_cart_at":"2019-11-01T00:00:00Z","last_cart_at":"2019-11-01T00:01:00Z","abandoned_at":"2019-11-01T00:31:00Z","items":2,"cart_value_cents":300}` + "\n"
	a2 = `{"user_id":2,"first_cart_at":"2019-11-01T00:02:00Z","last_cart_at":"2019-11-01T00:02:00Z","abandoned_at":"2019-11-01T00:32:00Z","items":1,"cart_value_cents":100}` + "\n"
	// a1 in another peer's shapes: times as "YYYY-MM-DD hh:mm:ss UTC" and Unix seconds, no first_cart_at.
	a1Other = `{"user_id":1,"last_cart_at":"2019-11-01 00:01:00 UTC","abandoned_at":1572568260,"items":2,"cart_value_cents":300}` + "\n"
)

func TestCompare(t *testing.T) {
	cw := map[string]int64{"events": 10, "abandoned": 2, "converted": 1, "carts_opened": 3}
	f := func(name string, got Answer, recall, equal bool, matched, missing, extra int) {
		t.Helper()
		r := Compare(answer(t, a1+a2, cw), got, recall)
		if r.Equal != equal || r.Matched != matched || len(r.Missing) != missing || len(r.Extra) != extra {
			var b strings.Builder
			r.Write(&b, "peer", 5)
			t.Errorf("%s: equal %v matched %d missing %d extra %d; want %v %d %d %d\n%s",
				name, r.Equal, r.Matched, len(r.Missing), len(r.Extra), equal, matched, missing, extra, b.String())
		}
	}
	f("same", answer(t, a1+a2, cw), false, true, 2, 0, 0)
	f("other order", answer(t, a2+a1, cw), false, true, 2, 0, 0)
	f("only required counts", answer(t, a1+a2, map[string]int64{"events": 10, "abandoned": 2}), false, true, 2, 0, 0)
	f("no events count", answer(t, a1+a2, map[string]int64{"abandoned": 2}), false, false, 2, 0, 0)
	f("dropped rows", answer(t, a1+a2, map[string]int64{"events": 9, "abandoned": 2}), false, false, 2, 0, 0)
	f("a count differs", answer(t, a1+a2, map[string]int64{"events": 10, "abandoned": 2, "converted": 2}), false, false, 2, 0, 0)
	f("one missing", answer(t, a1, cw), false, false, 1, 1, 0)
	f("one twice", answer(t, a1+a1+a2, cw), false, false, 2, 0, 1)
	f("value differs", answer(t, strings.Replace(a1, "300", "301", 1)+a2, cw), false, false, 1, 1, 1)
	f("first_cart_at differs", answer(t, strings.Replace(a1, "00:00:00Z", "00:00:01Z", 1)+a2, cw), false, false, 1, 1, 1)
	f("other shapes", answer(t, a1Other, map[string]int64{"events": 10, "abandoned": 2}), false, false, 1, 1, 0)
	f("other shapes, recall", answer(t, a1Other, map[string]int64{"events": 10, "abandoned": 1}), true, true, 1, 1, 0)
	f("recall, rows dropped", answer(t, a1Other, map[string]int64{"events": 8}), true, false, 1, 1, 0)
	f("recall, another cart", answer(t, strings.Replace(a1Other, "00:01:00", "00:01:01", 1), cw), true, true, 0, 2, 1)
}

func TestReadAlertsErrors(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		_, err := ReadAlerts(strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadAlerts(%q) = %v, want an error with %q", in, err, want)
		}
	}
	f(`{"items":1}`, "no user_id")
	f(`{"user_id":1,"abandoned_at":"yesterday"}`, `time "yesterday"`)
	f(`{"user_id":1,"abandoned_at":true}`, "time true")
	f("{\"user_id\":1}\n{", "line 2")
}
