package dash

// Figures is one snapshot of what the page shows, sent as one JSON object
// per tick. Money is integer cents, durations are seconds, shares are
// ratios from 0 to 1.
//
// A group that no source fills stays nil (a list, empty) and the page
// shows its figures as "—": a nil group means "not known here", while a
// zero inside a filled group is a real zero. The source fills what it
// knows; the Server sets Stopped, Time and the rates.
type Figures struct {
	// What runs and where it is.
	Title     string `json:"title,omitempty"`      // e.g. "cartwatch demo: events_sample_nov.csv"
	Phase     string `json:"phase,omitempty"`      // the source's words: "playing", "input played: ..."
	Stopped   bool   `json:"stopped"`              // the processor has stopped: the last snapshot (set by Server.Stop)
	Time      int64  `json:"time_ms"`              // wall clock of the snapshot, Unix milliseconds (set by the Server)
	EventTime int64  `json:"event_time,omitempty"` // the stream's event time, Unix seconds; 0: none yet

	// The prototype's KPIs.
	KPIs *KPIs `json:"kpis,omitempty"`

	// The latest alerts, newest first; nil (null): not known here (the
	// page shows "—"), empty: none yet.
	LatestAlerts []Alert `json:"latest_alerts"`

	// Is it keeping up.
	Engine  *Engine  `json:"engine,omitempty"`
	Kafka   *Kafka   `json:"kafka,omitempty"`
	Latency *Latency `json:"alert_latency,omitempty"`

	// What the shop owner wants to know.
	Carts      *Carts     `json:"carts,omitempty"`
	Categories []Category `json:"top_categories,omitempty"` // by abandoned value, highest first; the page shows the first 8
	TTLAdvisor []TTLShare `json:"ttl_advisor,omitempty"`    // by TTL, shortest first
}

// KPIs are the figures of the prototype's page.
type KPIs struct {
	AbandonedCarts      int64     `json:"abandoned_carts"`
	AbandonedValueCents int64     `json:"abandoned_value_cents"`
	AbandoningUsers     int64     `json:"unique_abandoning_users"`
	SpendingCents       int64     `json:"spending_cents"`
	TopSpenders         []Spender `json:"top_spenders"` // the page shows the first 5
}

// Spender is one user's total spending.
type Spender struct {
	UserID        uint64 `json:"user_id"`
	SpendingCents int64  `json:"spending_cents"`
}

// Alert is one abandoned cart as the page lists it.
type Alert struct {
	UserID      uint64  `json:"user_id"`
	AbandonedAt int64   `json:"abandoned_at"` // its deadline, Unix seconds
	Items       int64   `json:"items"`
	ValueCents  int64   `json:"cart_value_cents"`
	Partition   int32   `json:"partition"`
	Latency     float64 `json:"latency_seconds"` // deadline to alert; negative: unknown
}

// Engine is the stream processor's throughput and state.
type Engine struct {
	EventsConsumed  int64   `json:"events_consumed"`
	EventsPerSecond float64 `json:"events_per_second"`
	Malformed       int64   `json:"malformed"`
	OpenCarts       int64   `json:"open_carts"`
}

// Kafka is the consumer's position.
type Kafka struct {
	ConsumerLag int64   `json:"consumer_lag"` // records not yet consumed; negative: unknown
	Partitions  []int32 `json:"partitions"`   // owned
}

// Latency is the alert latency, deadline to alert, in seconds.
type Latency struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_seconds"`
	P90   float64 `json:"p90_seconds"`
	P99   float64 `json:"p99_seconds"`
	Max   float64 `json:"max_seconds"`
}

// Carts are the fates of the carts. The Server fills the rates from the
// counts: AbandonmentRate = Abandoned / (Converted + Abandoned),
// RecoveryRate = Recovered / Abandoned (0 when the divisor is 0).
type Carts struct {
	Opened              int64   `json:"opened"`
	Converted           int64   `json:"converted"`
	Abandoned           int64   `json:"abandoned"`
	Recovered           int64   `json:"recovered"`
	RecoveredValueCents int64   `json:"recovered_value_cents"`
	AbandonmentRate     float64 `json:"abandonment_rate"`
	RecoveryRate        float64 `json:"recovery_rate"`
}

// Category is the abandoned items and value of one top-level category.
type Category struct {
	Name       string `json:"name"`
	Items      int64  `json:"items"`
	ValueCents int64  `json:"value_cents"`
}

// TTLShare is one bar of the TTL advisor: the share of the purchased
// carts (converted and recovered) whose cart-to-purchase delay is below
// TTL, so that a cart of theirs would not have been alerted.
type TTLShare struct {
	TTL   float64 `json:"ttl_seconds"`
	Share float64 `json:"share"`
}

// fill sets the figures derived from others.
func (f *Figures) fill() {
	if c := f.Carts; c != nil {
		c.AbandonmentRate, c.RecoveryRate = 0, 0
		if d := c.Converted + c.Abandoned; d > 0 {
			c.AbandonmentRate = float64(c.Abandoned) / float64(d)
		}
		if c.Abandoned > 0 {
			c.RecoveryRate = float64(c.Recovered) / float64(c.Abandoned)
		}
	}
}
