package kafka

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/core"
)

// TestAlertID: an alert's alert_id is made of its partition, user and
// cart times only: the same cart fired again later (a replay after a
// restart) has the same id, and carts that differ in any of them have
// different ids.
func TestAlertID(t *testing.T) {
	id := func(a core.Alert, firedAt time.Time) string {
		t.Helper()
		var m struct {
			AlertID   string `json:"alert_id"`
			Partition int32  `json:"partition"`
		}
		line := AppendAlert(nil, &a, firedAt)
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("alert %s: %v", line, err)
		}
		return m.AlertID
	}
	base := core.Alert{UserID: 512345678, FirstCartAt: 1572566414, LastCartAt: 1572566500, AbandonedAt: 1572568300, Partition: 3}
	now := time.Unix(1_800_000_000, 0)
	if got, want := id(base, now), "3-512345678-1572566414-1572568300"; got != want {
		t.Errorf("alert_id %q, want %q", got, want)
	}
	if a, b := id(base, now), id(base, now.Add(time.Hour)); a != b {
		t.Errorf("the same cart fired an hour later has id %q, first %q", b, a)
	}
	seen := map[string]bool{id(base, now): true}
	for _, mod := range []func(*core.Alert){
		func(a *core.Alert) { a.Partition = 4 },
		func(a *core.Alert) { a.UserID++ },
		func(a *core.Alert) { a.FirstCartAt++ },
		func(a *core.Alert) { a.AbandonedAt++ },
	} {
		a := base
		mod(&a)
		if s := id(a, now); seen[s] {
			t.Errorf("alert %+v: id %q taken by another cart", a, s)
		} else {
			seen[s] = true
		}
	}
}
