package kafka

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"regexp"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cartwatch/cartwatch/event"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ProduceFlags are the flags of the commands that write events to a topic
// (cartwatch produce, loadgen kafka).
type ProduceFlags struct {
	Topic             string
	Partitions        int
	ReplicationFactor int
	Format            string        // json or csv (ParseFormat)
	Compression       string        // none, gzip, snappy, lz4, zstd
	Acks              string        // all, leader, none
	Linger            time.Duration // how long a partition's batch waits for more records
	Rate              float64       // events per second; 0: as fast as the brokers take them
	AckTimeout        time.Duration // Producer.AckTimeout
}

// Defaults of ProduceFlags.
const (
	DefaultTopic       = "user-events"
	DefaultPartitions  = 12
	DefaultCompression = "lz4"
	DefaultLinger      = 10 * time.Millisecond
	// DefaultAckTimeout is --ack-timeout's default: Kafka's
	// delivery.timeout.ms default.
	DefaultAckTimeout = 2 * time.Minute
)

// AddFlags registers --topic, --partitions, --replication-factor, --format,
// --compression, --acks, --linger and --rate on fs.
func (f *ProduceFlags) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&f.Topic, "topic", DefaultTopic, "the `TOPIC` to write to; created when missing, with retention.ms=-1")
	fs.IntVar(&f.Partitions, "partitions", DefaultPartitions, "`N` partitions for the topic when it is created")
	fs.IntVar(&f.ReplicationFactor, "replication-factor", 1, "`N` replicas of each partition when the topic is created, at most the number of brokers")
	fs.StringVar(&f.Format, "format", "json", "record values `json|csv`: json, one object per event with the CSV header's names; csv, the CSV line")
	fs.StringVar(&f.Compression, "compression", DefaultCompression, "batch compression `none|gzip|snappy|lz4|zstd`")
	fs.StringVar(&f.Acks, "acks", "all", "acknowledgement `all|leader|none`: all in-sync replicas (the idempotent producer), the leader only, or none")
	fs.DurationVar(&f.Linger, "linger", DefaultLinger, "a partition's batch waits up to `DURATION` for more records before it is sent")
	fs.Float64Var(&f.Rate, "rate", 0, "`N` events per second; 0: as fast as the brokers take them")
	fs.DurationVar(&f.AckTimeout, "ack-timeout", DefaultAckTimeout, "give up after `DURATION` of records waiting with none acknowledged (the brokers stopped answering): they count as failed")
}

// topicName is what Kafka accepts as a topic name.
var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// Validate reports the first bad value, naming its flag.
func (f *ProduceFlags) Validate() error {
	switch {
	case !topicName.MatchString(f.Topic) || f.Topic == "." || f.Topic == "..":
		return fmt.Errorf("--topic %q: want 1 to 249 of a-z A-Z 0-9 . _ - (not . or ..)", f.Topic)
	case f.Partitions < 1 || f.Partitions > 1<<20:
		return fmt.Errorf("--partitions %d: want 1 to %d", f.Partitions, 1<<20)
	case f.ReplicationFactor < 1 || f.ReplicationFactor > math.MaxInt16:
		return fmt.Errorf("--replication-factor %d: want at least 1 (and at most the number of brokers)", f.ReplicationFactor)
	case f.Linger < 0 || f.Linger > time.Minute:
		return fmt.Errorf("--linger %v: want 0 to 1m", f.Linger)
	case f.Rate < 0 || math.IsNaN(f.Rate) || math.IsInf(f.Rate, 0):
		return fmt.Errorf("--rate %v: want events per second, at least 0 (0: no limit)", f.Rate)
	case f.AckTimeout < time.Second:
		return fmt.Errorf("--ack-timeout %v: want at least 1s", f.AckTimeout)
	}
	if _, err := ParseFormat(f.Format); err != nil {
		return err
	}
	if _, err := compression(f.Compression); err != nil {
		return err
	}
	if _, err := acks(f.Acks); err != nil {
		return err
	}
	return nil
}

func compression(s string) (kgo.CompressionCodec, error) {
	switch s {
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("--compression %q: want none, gzip, snappy, lz4 or zstd", s)
}

func acks(s string) (kgo.Acks, error) {
	switch s {
	case "all":
		return kgo.AllISRAcks(), nil
	case "leader":
		return kgo.LeaderAck(), nil
	case "none":
		return kgo.NoAck(), nil
	}
	return kgo.Acks{}, fmt.Errorf("--acks %q: want all, leader or none", s)
}

// Opts returns the client options that f asks for (call Validate first).
// --acks leader or none turns off the idempotent producer, which Kafka
// allows only with acks=all; franz-go then sends one request at a time per
// broker, which keeps each partition's records in order across retries.
func (f *ProduceFlags) Opts() []kgo.Opt {
	codec, _ := compression(f.Compression)
	ack, _ := acks(f.Acks)
	opts := []kgo.Opt{
		kgo.DefaultProduceTopic(f.Topic),
		kgo.ProducerBatchCompression(codec),
		kgo.RequiredAcks(ack),
		kgo.ProducerLinger(f.Linger),
		// No kgo.RecordDeliveryTimeout: franz-go counts it from the
		// record's timestamp, which is the event time here (2019), so
		// every record would time out at once. Producer.AckTimeout
		// bounds a stalled run instead.
		// The Producer's slabs bound what is in flight; the client's own
		// limit must not block below that.
		kgo.MaxBufferedRecords(slabCount*slabRecords + 1),
		// A partition whose leader moved (a failover, or a topic just
		// created whose leader has not taken the partition up yet:
		// NOT_LEADER_FOR_PARTITION) waits for fresh metadata; the
		// default 5 s between metadata queries stalled such a partition
		// for 5 s.
		kgo.MetadataMinAge(250 * time.Millisecond),
	}
	if f.Acks != "all" {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	return opts
}

// Records are handed to the client in slabs: slabRecords records and one
// buffer that holds their keys and values. A slab goes back to the free
// list when it is full and every record of it has been acknowledged (or has
// failed), so in steady state producing allocates nothing per event, and at
// most slabCount*slabRecords records are in flight.
const (
	slabRecords = 1024
	slabCount   = 64
)

type slab struct {
	recs    []kgo.Record
	sentAt  []time.Duration // since Producer.base, when latency is measured
	buf     []byte
	n       int          // records used
	pending atomic.Int32 // records not yet finished, +1 while the slab is being filled
	promise func(*kgo.Record, error)
}

// ProducerOptions configure a Producer. The zero value writes JSON, with
// DefaultAckTimeout, and measures no latency.
type ProducerOptions struct {
	Format Format
	// AckTimeout: while records wait and none is acknowledged (or fails)
	// for this long, the brokers are taken to be gone: a Produce waiting
	// for room and Flush give up with ErrStalled. (A per-record delivery
	// timeout cannot do this: franz-go counts it from the record's
	// timestamp, the event time.) Default DefaultAckTimeout.
	AckTimeout time.Duration
	// Latency, when not nil, gets the time from Produce to each record's
	// acknowledgement.
	Latency *Latency
}

// ErrStalled is the error of a Produce or Flush that waited AckTimeout with
// records in flight and none finished.
var ErrStalled = errors.New("no record acknowledged")

// Producer writes events to the client's default topic (ProduceFlags.Opts),
// keyed by user_id, with the event time as the record timestamp. Produce
// and Flush are for one goroutine; the counters may be read from any.
type Producer struct {
	cl   *kgo.Client
	enc  Encoder
	lat  *Latency
	ackT time.Duration
	base time.Time
	free chan *slab // capacity slabCount: a release never blocks
	cur  *slab
	made int

	produced atomic.Int64 // records handed to the client
	acked    atomic.Int64 // records the brokers acknowledged
	failed   atomic.Int64 // records that failed
	bytes    atomic.Int64 // key and value bytes of the acknowledged records

	errMu    sync.Mutex
	firstErr error
}

// NewProducer returns a Producer on cl.
func NewProducer(cl *kgo.Client, o ProducerOptions) *Producer {
	if o.AckTimeout <= 0 {
		o.AckTimeout = DefaultAckTimeout
	}
	return &Producer{cl: cl, enc: Encoder{Format: o.Format}, lat: o.Latency, ackT: o.AckTimeout,
		base: time.Now(), free: make(chan *slab, slabCount)}
}

// Produce encodes ev (and t, when not nil: Encoder.Append) and hands it to
// the client. It blocks while slabCount*slabRecords records are in flight,
// until some finish, or ctx ends, or AckTimeout passes with none finishing
// (then it returns ctx's cause or ErrStalled, and ev is not produced).
func (p *Producer) Produce(ctx context.Context, ev *event.Event, t *Text) error {
	s := p.cur
	if s == nil || s.n == len(s.recs) {
		var err error
		if s, err = p.next(ctx); err != nil {
			return err
		}
	}
	k := len(s.buf)
	s.buf = AppendKey(s.buf, ev)
	v := len(s.buf)
	s.buf = p.enc.Append(s.buf, ev, t)
	end := len(s.buf)
	r := &s.recs[s.n]
	// Earlier records of the slab may point into an older array if append
	// grew s.buf: that array stays alive while they do.
	*r = kgo.Record{Key: s.buf[k:v:v], Value: s.buf[v:end:end], Timestamp: time.Unix(ev.Time, 0)}
	if p.lat != nil {
		s.sentAt[s.n] = time.Since(p.base)
	}
	s.n++
	s.pending.Add(1)
	p.produced.Add(1)
	// The record's own context stays Background: a record that is buffered
	// is delivered, even after an interrupt (Flush waits for it).
	p.cl.Produce(context.Background(), r, s.promise)
	return nil
}

// next seals the current slab and takes a free one (or makes one while
// fewer than slabCount exist).
func (p *Producer) next(ctx context.Context) (*slab, error) {
	p.seal()
	var s *slab
	select {
	case s = <-p.free:
	default:
		if p.made < slabCount {
			p.made++
			s = p.newSlab()
			break
		}
		var err error
		if s, err = p.waitFree(ctx); err != nil {
			return nil, err
		}
	}
	s.n, s.buf = 0, s.buf[:0]
	s.pending.Store(1)
	p.cur = s
	return s, nil
}

// waitFree waits for a slab to come back.
func (p *Producer) waitFree(ctx context.Context) (*slab, error) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	w := p.watch()
	for {
		select {
		case s := <-p.free:
			return s, nil
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case now := <-tick.C:
			if err := w.check(now); err != nil {
				return nil, err
			}
		}
	}
}

// stallWatch notices AckTimeout without a finished record.
type stallWatch struct {
	p     *Producer
	done  int64
	since time.Time
}

func (p *Producer) watch() stallWatch {
	return stallWatch{p: p, done: p.acked.Load() + p.failed.Load(), since: time.Now()}
}

func (w *stallWatch) check(now time.Time) error {
	if d := w.p.acked.Load() + w.p.failed.Load(); d != w.done {
		w.done, w.since = d, now
		return nil
	}
	if now.Sub(w.since) >= w.p.ackT {
		return fmt.Errorf("%w for %v with %s records waiting: the brokers stopped answering (--ack-timeout)",
			ErrStalled, w.p.ackT, Thousands(w.p.produced.Load()-w.done))
	}
	return nil
}

func (p *Producer) newSlab() *slab {
	s := &slab{recs: make([]kgo.Record, slabRecords), buf: make([]byte, 0, slabRecords*256)}
	if p.lat != nil {
		s.sentAt = make([]time.Duration, slabRecords)
	}
	s.promise = func(r *kgo.Record, err error) { p.finish(s, r, err) }
	return s
}

// seal ends the filling of the current slab.
func (p *Producer) seal() {
	if s := p.cur; s != nil {
		p.cur = nil
		if s.pending.Add(-1) == 0 {
			p.free <- s
		}
	}
}

// finish is every record's promise (called by the client, one at a time).
func (p *Producer) finish(s *slab, r *kgo.Record, err error) {
	if err != nil {
		p.failed.Add(1)
		p.errMu.Lock()
		if p.firstErr == nil {
			p.firstErr = err
		}
		p.errMu.Unlock()
	} else {
		if p.lat != nil {
			// r is one of s.recs: its index finds when it was produced.
			i := (uintptr(unsafe.Pointer(r)) - uintptr(unsafe.Pointer(&s.recs[0]))) / unsafe.Sizeof(s.recs[0])
			p.lat.Record(time.Since(p.base) - s.sentAt[i])
		}
		p.bytes.Add(int64(len(r.Key) + len(r.Value)))
		p.acked.Add(1)
	}
	if s.pending.Add(-1) == 0 {
		p.free <- s
	}
}

// Flush hands over the current slab and waits until every record produced
// has been acknowledged or has failed, or ctx ends, or AckTimeout passes
// with none finishing (ErrStalled). The records still waiting then are
// Counts.Produced minus Acked and Failed: Close fails them.
func (p *Producer) Flush(ctx context.Context) error {
	p.seal()
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		w := p.watch()
		for {
			select {
			case <-stop:
				return
			case now := <-tick.C:
				if err := w.check(now); err != nil {
					cancel(err)
					return
				}
			}
		}
	}()
	if err := p.cl.Flush(fctx); err != nil {
		return context.Cause(fctx)
	}
	return nil
}

// Close closes the client: records still waiting fail (and count as
// failed). It waits up to 5 s for their promises, which the client runs on
// its own goroutine.
func (p *Producer) Close() {
	p.cl.Close()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if p.acked.Load()+p.failed.Load() >= p.produced.Load() {
			return
		}
	}
}

// Counts are a Producer's counters at one moment.
type Counts struct {
	Produced int64 // handed to the client
	Acked    int64 // acknowledged by the brokers
	Failed   int64 // failed (FirstError says why)
	Bytes    int64 // key and value bytes of the acknowledged records
}

// Counts returns the counters; safe from any goroutine.
func (p *Producer) Counts() Counts {
	return Counts{Produced: p.produced.Load(), Acked: p.acked.Load(), Failed: p.failed.Load(), Bytes: p.bytes.Load()}
}

// Unfinished returns the records neither acknowledged nor failed.
func (c Counts) Unfinished() int64 { return c.Produced - c.Acked - c.Failed }

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Produced += o.Produced
	c.Acked += o.Acked
	c.Failed += o.Failed
	c.Bytes += o.Bytes
}

// FirstError returns the error of the first record that failed, or nil.
func (p *Producer) FirstError() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.firstErr
}

// ErrProduce is wrapped by ProduceError.
var ErrProduce = errors.New("records failed")

// ProduceError describes the records of a run that were not acknowledged:
// how many failed (and the first error), how many have no outcome (the
// run ended without waiting for them); nil when there are none.
func ProduceError(c Counts, first error) error {
	u := c.Unfinished()
	switch {
	case c.Failed == 0 && u == 0:
		return nil
	case u == 0:
		return fmt.Errorf("%s %w; the first: %v", Thousands(c.Failed), ErrProduce, first)
	case c.Failed == 0:
		return fmt.Errorf("%s records not acknowledged", Thousands(u))
	}
	return fmt.Errorf("%s %w (the first: %v) and %s more not acknowledged", Thousands(c.Failed), ErrProduce, first, Thousands(u))
}
