package core

import (
	"fmt"
	"io"
	"runtime"
	"time"
)

// Options configures a run. The zero value of each field means its default.
// The output never depends on Shards, Parsers, ChunkBytes or BatchEvents.
type Options struct {
	TTL              time.Duration // cart lifetime after its last cart event; default 30m
	Lateness         time.Duration // allowed lateness; default 0
	KeepAtEOF        bool          // --at-eof keep: leave open carts open at the end
	ExtendOnActivity bool          // any event of a user with an open cart moves its deadline
	// RecoveryWindow: a direct purchase this long after a user's last
	// abandoned cart recovers it (docs/semantics.md, rule 9). Default 24h;
	// negative: off; at most MaxRecoveryWindow.
	RecoveryWindow time.Duration

	// MaxFuture: a record whose event time is later than the wall clock at
	// the start of the run plus MaxFuture is malformed (format.ReasonFuture)
	// and never moves the watermark. Default 24h; negative means no limit.
	MaxFuture time.Duration
	// Now is the wall clock MaxFuture counts from; default time.Now.
	Now func() time.Time

	Shards      int // shard goroutines, 1..MaxShards; default GOMAXPROCS
	Parsers     int // decoding goroutines, 1..MaxParsers; default GOMAXPROCS
	ChunkBytes  int // bytes of text per batch, MinChunkBytes..MaxChunkBytes; default 4 MiB
	BatchEvents int // events per in-process batch, 1..MaxBatchEvents; default 64k

	// ExpectedRows is a guess of the input's row count, 0 if unknown; it
	// sizes each shard's user table up front (about one user in 100 rows
	// carts or buys), which saves the table's regrowth on a large input.
	// A file's size stands in for it when it is 0.
	ExpectedRows int64

	// Sink receives every alert and reject (sink.go); nil: none but the
	// shorthands below.
	Sink Sink
	// Shorthands for the common sinks, added to Sink: Alerts gets
	// AlertsJSON, Rejects RejectsTSV, RejectLog RejectLog(w, MaxRejectLog).
	Alerts    io.Writer
	Rejects   io.Writer
	RejectLog io.Writer

	// WallClock puts deadlines on arrival time: each message's event time
	// is replaced by its Records.Arrival (--clock wall, for live traffic
	// whose producers' clocks cannot be trusted). Messages only.
	WallClock bool
	// Spending makes the shards report each purchase with its user's
	// running total to the Sink, if it implements SpendSink.
	Spending bool

	// Checkpoint, if set, is told of every barrier a source emits.
	Checkpoint Checkpointer

	// Live, if set, receives the run's figures after every batch, for
	// other goroutines to read while it runs (Live.Snapshot: /metrics, a
	// dashboard). nil: none, at no cost.
	Live *Live

	// newHandoff, if set, makes the sequencer-to-shard hand-offs instead
	// of the SPSC rings (ring.go); only the tests and benchmarks set it, to
	// buffered channels, the baseline the rings are measured against
	// (ring_test.go, results/notes/engine.md).
	newHandoff func(n int) handoff
}

// Limits of Options, checked by Validate.
const (
	MaxShards      = 1024
	MaxParsers     = 256
	MinChunkBytes  = 64      // tiny chunks only test the seams; 4 MiB is the default
	MaxChunkBytes  = 1 << 30 // a batch's line numbers and payload indexes are 32-bit (routed)
	MaxBatchEvents = 1 << 28
)

// MaxRecoveryWindow bounds Options.RecoveryWindow: a year is longer than any
// shop's second thought, and the bound keeps a recovery's delay exact in the
// user record's 32-bit gap (gap32).
const MaxRecoveryWindow = 365 * 24 * time.Hour

// MaxRejectLog is how many malformed rows the RejectLog shorthand describes.
const MaxRejectLog = 10

// rowsPerUser is rows per user with a table record (one who carts or buys):
// 82 in the 2019-Nov month, so 100 sizes the table for the month without
// waste (its load stays under 1/2 either way).
const rowsPerUser = 100

// OptionError is a bad value of one option; Name is the option's flag name.
type OptionError struct {
	Name  string // e.g. "shards"
	Value any
	Want  string // what would be accepted
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("--%s %v: %s", e.Name, e.Value, e.Want)
}

// Validate checks every field of o without changing it; the first bad one
// is returned as an *OptionError.
func (o *Options) Validate() error {
	c := *o
	return c.ensureDefaults()
}

func (o *Options) ensureDefaults() error {
	bad := func(name string, v any, want string) error { return &OptionError{name, v, want} }
	if o.TTL == 0 {
		o.TTL = 30 * time.Minute
	}
	if o.TTL < time.Second || o.TTL%time.Second != 0 {
		return bad("ttl", o.TTL, "want a positive whole number of seconds, e.g. 30m")
	}
	if o.Lateness < 0 || o.Lateness%time.Second != 0 {
		return bad("lateness", o.Lateness, "want a non-negative whole number of seconds")
	}
	if o.RecoveryWindow == 0 {
		o.RecoveryWindow = 24 * time.Hour
	}
	if o.RecoveryWindow > MaxRecoveryWindow || (o.RecoveryWindow > 0 && o.RecoveryWindow%time.Second != 0) {
		return bad("recovery-window", o.RecoveryWindow, "want a whole number of seconds up to 8760h (0: off)")
	}
	if o.MaxFuture == 0 {
		o.MaxFuture = 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	procs := runtime.GOMAXPROCS(0)
	if o.Shards == 0 {
		o.Shards = procs
	}
	if o.Shards < 1 || o.Shards > MaxShards {
		return bad("shards", o.Shards, fmt.Sprintf("want 1 to %d (0: GOMAXPROCS)", MaxShards))
	}
	if o.Parsers == 0 {
		o.Parsers = procs
	}
	if o.Parsers < 1 || o.Parsers > MaxParsers {
		return bad("parsers", o.Parsers, fmt.Sprintf("want 1 to %d (0: GOMAXPROCS)", MaxParsers))
	}
	if o.ChunkBytes == 0 {
		o.ChunkBytes = 4 << 20
	}
	if o.ChunkBytes < MinChunkBytes || o.ChunkBytes > MaxChunkBytes {
		return bad("chunk-size", o.ChunkBytes, fmt.Sprintf("want %d to %d bytes (0: 4 MiB)", MinChunkBytes, MaxChunkBytes))
	}
	if o.BatchEvents == 0 {
		o.BatchEvents = 64 << 10
	}
	if o.BatchEvents < 1 || o.BatchEvents > MaxBatchEvents {
		return bad("batch-events", o.BatchEvents, fmt.Sprintf("want 1 to %d", MaxBatchEvents))
	}
	return nil
}

// sink returns the one Sink of the run: Sink and the shorthands.
func (o *Options) sink() Sink {
	var alerts, rejects, log Sink
	if o.Alerts != nil {
		alerts = AlertsJSON(o.Alerts)
	}
	if o.Rejects != nil {
		rejects = RejectsTSV(o.Rejects)
	}
	if o.RejectLog != nil {
		log = RejectLog(o.RejectLog, MaxRejectLog)
	}
	return Sinks(o.Sink, alerts, rejects, log)
}
