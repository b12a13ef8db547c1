package kafka

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cartwatch/cartwatch/core"
	"github.com/twmb/franz-go/pkg/kgo"
)

// This file is the output side of `cartwatch consume`: a Sink that produces
// the engine's alerts, the malformed records (to a dead-letter topic) and,
// optionally, each purchase's running total per user.

// DefaultAlertsTopic is where `cartwatch consume` writes its alerts.
const DefaultAlertsTopic = "cart-abandonment-alerts"

// DLQTopic is the default dead-letter topic of topic: "<topic>.dlq".
func DLQTopic(topic string) string { return topic + ".dlq" }

// Headers of a dead-letter record: why the message was rejected and where
// it was.
const (
	HeaderReason    = "reason"
	HeaderTopic     = "topic"
	HeaderPartition = "partition"
	HeaderOffset    = "offset"
)

// SinkConfig names the topics of a Sink.
type SinkConfig struct {
	Alerts   string // alerts, keyed by user_id
	DLQ      string // malformed messages, with HeaderReason and where they were
	Spending string // "" for none: each purchase with its user's running total
	Source   string // the topic the messages came from (HeaderTopic)
	// FlushCtx bounds every Flush: when it ends, Flush gives up with its
	// cause (a stop that cannot wait for the brokers any longer). Default:
	// none.
	FlushCtx context.Context
	// Now is the wall clock of fired_at; default time.Now.
	Now func() time.Time
}

// Sink is a core.Sink (and core.SpendSink) that produces to Kafka through
// a client of its own use. The engine calls it from one goroutine; the
// counters and Err may be read from any.
type Sink struct {
	cfg  SinkConfig
	cl   *kgo.Client
	pool sync.Pool // *kgo.Record, with their Key and Value arrays

	alerts, rejects, spends atomic.Int64 // produced
	failed                  atomic.Int64
	errMu                   sync.Mutex
	firstErr                error
	promise                 func(*kgo.Record, error)
}

// NewSink returns a Sink producing with cl.
func NewSink(cl *kgo.Client, cfg SinkConfig) *Sink {
	if cfg.FlushCtx == nil {
		cfg.FlushCtx = context.Background()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Sink{cfg: cfg, cl: cl}
	s.promise = s.finish
	return s
}

func (s *Sink) record() *kgo.Record {
	if r, ok := s.pool.Get().(*kgo.Record); ok {
		return r
	}
	return &kgo.Record{}
}

// finish is every record's promise: a failure is kept for Err, and the
// record goes back to the pool.
func (s *Sink) finish(r *kgo.Record, err error) {
	if err != nil {
		s.failed.Add(1)
		s.errMu.Lock()
		if s.firstErr == nil {
			s.firstErr = fmt.Errorf("producing to %s: %w", r.Topic, err)
		}
		s.errMu.Unlock()
	}
	*r = kgo.Record{Key: r.Key[:0], Value: r.Value[:0], Headers: r.Headers[:0]}
	s.pool.Put(r)
}

// AppendAlert appends a as the alerts topic's value: the JSON line of
// `cartwatch run` (core.Alert.AppendJSON) with "fired_at" (firedAt, UTC,
// RFC 3339 with milliseconds), "partition" (the source partition) and
// "alert_id" (AppendAlertID).
func AppendAlert(dst []byte, a *core.Alert, firedAt time.Time) []byte {
	dst = a.AppendJSON(dst)
	dst = dst[:len(dst)-1] // the closing brace
	dst = append(dst, `,"fired_at":"`...)
	dst = firedAt.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
	dst = append(dst, `","partition":`...)
	dst = strconv.AppendInt(dst, int64(a.Partition), 10)
	dst = append(dst, `,"alert_id":"`...)
	dst = AppendAlertID(dst, a)
	return append(dst, '"', '}')
}

// AppendAlertID appends a's id, "PARTITION-USER_ID-FIRST_CART_AT-ABANDONED_AT"
// (the times in Unix seconds), e.g. "3-512345678-1572566414-1572568214".
// Everything in it comes from the input records, none from the wall clock
// or the run, so an alert sent again after a restart (records replayed from
// the last committed offset over the state of the last snapshot, at least
// once) has the id it had the first time; and no two carts of one user
// share a first cart event and a deadline, so two alerts have two ids.
func AppendAlertID(dst []byte, a *core.Alert) []byte {
	dst = strconv.AppendInt(dst, int64(a.Partition), 10)
	dst = append(dst, '-')
	dst = strconv.AppendUint(dst, a.UserID, 10)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, a.FirstCartAt, 10)
	dst = append(dst, '-')
	return strconv.AppendInt(dst, a.AbandonedAt, 10)
}

// Alert implements core.Sink: the alert goes to the alerts topic, keyed by
// user_id.
func (s *Sink) Alert(a *core.Alert) error {
	r := s.record()
	r.Topic = s.cfg.Alerts
	r.Key = strconv.AppendUint(r.Key, a.UserID, 10)
	r.Value = AppendAlert(r.Value, a, s.cfg.Now())
	s.alerts.Add(1)
	s.cl.Produce(context.Background(), r, s.promise)
	return nil
}

// Reject implements core.Sink: the raw message goes to the dead-letter
// topic with the reason, its topic, partition and offset as headers.
func (s *Sink) Reject(rj *core.Reject) error {
	r := s.record()
	r.Topic = s.cfg.DLQ
	r.Value = append(r.Value, rj.Value...) // rj.Value is only valid during the call
	r.Headers = append(r.Headers,
		kgo.RecordHeader{Key: HeaderReason, Value: []byte(rj.Reason.String())},
		kgo.RecordHeader{Key: HeaderTopic, Value: []byte(s.cfg.Source)},
		kgo.RecordHeader{Key: HeaderPartition, Value: strconv.AppendInt(nil, int64(rj.Partition), 10)},
		kgo.RecordHeader{Key: HeaderOffset, Value: strconv.AppendInt(nil, rj.Pos, 10)})
	s.rejects.Add(1)
	s.cl.Produce(context.Background(), r, s.promise)
	return nil
}

// AppendSpend appends sp as the spending topic's value:
// {"user_id":..,"purchased_at":"..","price_cents":..,"total_cents":..,"partition":..,"offset":..}.
func AppendSpend(dst []byte, sp *core.Spend) []byte {
	dst = append(dst, `{"user_id":`...)
	dst = strconv.AppendUint(dst, sp.UserID, 10)
	dst = append(dst, `,"purchased_at":"`...)
	dst = core.AppendTime(dst, sp.Time)
	dst = append(dst, `","price_cents":`...)
	dst = strconv.AppendInt(dst, sp.PriceCents, 10)
	dst = append(dst, `,"total_cents":`...)
	dst = strconv.AppendInt(dst, sp.TotalCents, 10)
	dst = append(dst, `,"partition":`...)
	dst = strconv.AppendInt(dst, int64(sp.Partition), 10)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendInt(dst, sp.Pos, 10)
	return append(dst, '}')
}

// Spend implements core.SpendSink: with a spending topic, the purchase and
// its user's running total go there, keyed by user_id.
func (s *Sink) Spend(sp *core.Spend) error {
	if s.cfg.Spending == "" {
		return nil
	}
	r := s.record()
	r.Topic = s.cfg.Spending
	r.Key = strconv.AppendUint(r.Key, sp.UserID, 10)
	r.Value = AppendSpend(r.Value, sp)
	s.spends.Add(1)
	s.cl.Produce(context.Background(), r, s.promise)
	return nil
}

// Flush implements core.Sink: it waits until every record produced so far
// is acknowledged (or FlushCtx ends), and returns the first failure.
// The engine commits offsets (Consumer.Done) only after it.
func (s *Sink) Flush(bool) error {
	if err := s.cl.Flush(s.cfg.FlushCtx); err != nil {
		return fmt.Errorf("delivering alerts: %w", context.Cause(s.cfg.FlushCtx))
	}
	return s.Err()
}

// Err returns the first record that failed, or nil.
func (s *Sink) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.firstErr
}

// SinkCounts are a Sink's counters.
type SinkCounts struct {
	Alerts, Rejects, Spends, Failed int64
}

// Counts returns the counters; safe from any goroutine.
func (s *Sink) Counts() SinkCounts {
	return SinkCounts{Alerts: s.alerts.Load(), Rejects: s.rejects.Load(), Spends: s.spends.Load(), Failed: s.failed.Load()}
}
