package main

import (
	"path/filepath"
	"sync/atomic"

	"github.com/cartwatch/cartwatch/dash"
)

// The demo's dashboard (package dash) on --http: the figures the
// terminal shows, as the page's Figures, then what the engine's core.Live
// and the consumer give every command's page (dash.LiveSource: the carts'
// fates and rates, categories, the TTL advisor, events/s).
//
// The handler mounts at "/" of the --http mux (http.go), beside /metrics.

// dashFigures returns fig as the dashboard shows it.
func (fig *demoFigures) dashFigures() dash.Figures {
	d := dash.Figures{
		Title:     "cartwatch demo: " + filepath.Base(fig.Input),
		Phase:     fig.Phase,
		EventTime: fig.EventTime,
		KPIs: &dash.KPIs{AbandonedCarts: fig.Abandoned, AbandonedValueCents: fig.AbandonedValue,
			AbandoningUsers: fig.AbandoningUsers, SpendingCents: fig.Spending, TopSpenders: make([]dash.Spender, len(fig.TopSpenders))},
		LatestAlerts: make([]dash.Alert, len(fig.LatestAlerts)),
		Engine: &dash.Engine{EventsConsumed: fig.Consumed, EventsPerSecond: fig.EventsPerSecond, Malformed: fig.Malformed,
			OpenCarts: fig.OpenCarts},
		Kafka: &dash.Kafka{ConsumerLag: fig.Lag, Partitions: fig.Partitions},
	}
	if fig.Input == "" {
		d.Title = "cartwatch demo"
	}
	for i, s := range fig.TopSpenders {
		d.KPIs.TopSpenders[i] = dash.Spender{UserID: s.UserID, SpendingCents: s.SpendingCents}
	}
	for i, a := range fig.LatestAlerts {
		d.LatestAlerts[i] = dash.Alert{UserID: a.UserID, AbandonedAt: a.AbandonedAt, Items: a.Items, ValueCents: a.ValueCents,
			Partition: a.Partition, Latency: a.Latency.Seconds()}
	}
	if fig.LatencyCount > 0 {
		d.Latency = &dash.Latency{Count: fig.LatencyCount, P50: fig.LatencyP50.Seconds(), P90: fig.LatencyP90.Seconds(),
			P99: fig.LatencyP99.Seconds(), Max: fig.LatencyMax.Seconds()}
	}
	return d
}

// newDemoBoard is the demo's dashboard: the figures of the run in cur,
// or "starting" before it exists, completed by live. The demo keeps what
// only it knows: its replay's event time, the top spenders, the alerts
// read back from the topic with their latency.
func newDemoBoard(cur *atomic.Pointer[demoRun], live *dash.LiveSource) *dash.Server {
	return dash.New(func() dash.Figures {
		d := cur.Load()
		if d == nil {
			return dash.Figures{Title: "cartwatch demo", Phase: "starting"}
		}
		fig := d.figures()
		f := fig.dashFigures()
		live.Fill(&f)
		return f
	}, dash.Options{})
}
