package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cartwatch/cartwatch/core"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file is the consumer-group side of `cartwatch consume`: a Consumer
// is the engine's core.Source over the partitions a group assigns to this
// member, and its core.Checkpointer, which commits the offsets of what the
// engine has fully processed. docs/semantics.md ("Kafka") states the
// contract; the pieces:
//
//   - A poller goroutine polls kgo and hands each poll to Next, which
//     queues one core.Records per partition: the records' values, their
//     offsets and the wall time they arrived. Partitions are never mixed in
//     one Records. A rebalance waits (BlockRebalanceOnPoll) only until the
//     poller has noted each polled partition's fence, not until Next takes
//     the poll: Next drops the records of a partition whose fence moved
//     since (revoked, lost, rewound or assigned again).
//   - A revoked partition gets a barrier (its offsets are committed when
//     the engine has passed it) and then a Drop; the rebalance callback
//     waits for the commit, so the next owner starts where this member
//     stopped. A lost partition (the member fell out of the group) gets a
//     Drop at once: a commit would be refused.
//   - Idle partitions get Ticks (queueTicks).
//   - A barrier every commit interval (at most a second apart while
//     records flow); at its Done the engine has written and flushed every
//     alert before it, and the committer goroutine commits each
//     partition's next offset.
//   - With a StateTopic, a checkpoint barrier every CheckpointInterval
//     while none is in flight: the shards copy their records at Shard, Done
//     hands the copies to the checkpoint goroutine (checkpointLoop), which
//     sorts, merges, encodes and writes the snapshots and, once they are
//     acknowledged, queues the barrier's offsets for the committer.
//
// Next, its queue and the poller belong to the engine's reader goroutine;
// the callbacks run on kgo's group goroutine, Shard on the engine's shards,
// Done on its merger, Release on its workers, a checkpoint's copies on the
// checkpoint goroutine from Done to their Release: the state they share is
// under mu.

// Defaults of ConsumerConfig.
const (
	DefaultGroup          = "cartwatch"
	DefaultIdleTimeout    = 10 * time.Second
	DefaultCommitInterval = time.Second
	// DefaultSessionTimeout is shorter than franz-go's 45 s: a member
	// killed holds its partitions this long.
	DefaultSessionTimeout = 10 * time.Second
)

// TickEvery is how often a Consumer with nothing to hand out looks at its
// idle partitions: the "one poll" of the idle bound (docs/semantics.md).
const TickEvery = 250 * time.Millisecond

// maxBarrierGap is the longest time between two barriers while records
// flow: the watermarks of the partitions that are not idle reach the
// Consumer through the barriers (Shard), so this bounds how stale the
// highest watermark it gives an idle partition is.
const maxBarrierGap = time.Second

// maxValues is the most records one core.Records holds.
const maxValues = 32 << 10

// revokeWait bounds how long a rebalance callback waits for the engine to
// pass the barrier of the revoked partitions and their offsets to be
// committed; after it the partitions go without the commit (their next
// owner reads again from the last one: at-least-once).
const revokeWait = 20 * time.Second

// ErrStopped is returned by Next after Stop, once the offsets of everything
// handed out are committed (or StopWait has passed).
var ErrStopped = errors.New("consumer stopped")

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	Topic string
	Group string // default DefaultGroup
	// IdleTimeout: a partition with no record for this long is idle.
	// Default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// CommitInterval: offsets are committed this often (at barriers).
	// Default DefaultCommitInterval.
	CommitInterval time.Duration
	// WallClock: the engine runs with core.Options.WallClock (--clock
	// wall): each partition's time is the wall clock, and every partition
	// with state gets a Tick each second.
	WallClock bool
	// Lateness is the engine's (core.Options.Lateness): a reported
	// watermark plus Lateness is the partition's highest event time.
	Lateness time.Duration
	// StopWait bounds how long Next waits, after Stop, for the engine to
	// pass the last barrier and for its offsets to be committed. Default 5s.
	StopWait time.Duration
	// SinkErr, if set, is asked before offsets are committed at a barrier:
	// when it returns an error (an alert was not delivered), nothing is
	// committed, so the records are read again after a restart.
	SinkErr func() error
	// Log gets one line for each event worth a user's attention:
	// assignments, revocations, fetch and commit errors. Default: none.
	Log func(msg string)
	// Now is the wall clock; default time.Now (tests).
	Now func() time.Time
	// StateTopic, if set, keeps each partition's state across restarts
	// and rebalances (state.go): at each checkpoint barrier (every
	// CheckpointInterval, at a revoke and at the stop) the snapshot of every
	// owned partition goes there, and the partition's offset is committed
	// only once its snapshot is acknowledged, at checkpoints only; an
	// assigned partition starts from its last snapshot, at the snapshot's
	// offset. "": none (a partition starts empty at the committed offset).
	StateTopic string
	// CheckpointInterval: how often snapshots are written and offsets
	// committed when StateTopic is set. Default DefaultCheckpointInterval.
	CheckpointInterval time.Duration
	// StateReplication is the replication factor of the state topic when
	// the Consumer creates it (PrepareState, with the input's partition
	// count). Default 1.
	StateReplication int16
	// ClientOpts are the options of the clients the Consumer makes for the
	// state topic (the seed brokers, TLS, SASL).
	ClientOpts []kgo.Opt
	// ExactlyOnce: the alerts, the snapshots and the offsets of each
	// checkpoint are one Kafka transaction (txn.go). It needs a StateTopic,
	// TransactionalID, and StartSession instead of Start.
	ExactlyOnce     bool
	TransactionalID string
	// SessionTimeout: a member that sends no heartbeat for this long is
	// out of the group, and its partitions move (kgo.SessionTimeout; the
	// brokers bound it by group.min/max.session.timeout.ms, 6 s and 30 min
	// by default). Default DefaultSessionTimeout. The heartbeat goes every
	// third of it, at most every 3 s.
	SessionTimeout time.Duration
	// InstanceID, if set, makes the member static (KIP-345,
	// kgo.InstanceID): a member started again with the same id takes its
	// partitions back at once, without a rebalance and without waiting for
	// the old one's session to time out; a static member does not leave
	// the group when it stops, so its partitions wait for its return or
	// its session timeout.
	InstanceID string
	// UntilEnd: at each assignment the Consumer reads the partitions' end
	// offsets, and it stops (as Stop does) once every partition it owns has
	// been handed out up to them: a run over what the topic held when it
	// started, for benchmarks and backfills. Open carts stay open, as on
	// any stop.
	UntilEnd bool
	// MaxRate, if positive, is the most records a second Next hands to the
	// engine: a member held back on purpose (sharing a machine, or the
	// overload test of bench/overload.sh, where the producer outruns it).
	// Records queue in the broker, not here: the poller waits for Next,
	// and kgo buffers at most one fetch per broker. No credit builds up
	// while records are missing; after Stop what is queued goes at once.
	MaxRate float64
}

// Consumer is a consumer-group member as a core.Source and a
// core.Checkpointer (see the top of this file). Create it with
// NewConsumer, create the client with its Opts, then Start it.
type Consumer struct {
	cfg ConsumerConfig
	cl  *kgo.Client

	// The reader's (Next's) own.
	queue       []item // queue[qhead:] are waiting
	qhead       int
	fetches     chan polled // poller -> Next
	pollCtx     context.Context
	pollCancel  context.CancelFunc
	pollerDone  chan struct{}
	startPoll   sync.Once
	lastBarrier time.Time
	handed      bool // records or ticks handed out since the last barrier
	dirty       bool // records, ticks or restores handed out since the last checkpoint barrier
	finalQueued bool // Stop's last barrier is queued
	finalWait   chan struct{}
	finalSent   time.Time
	timer       *time.Timer

	ctrl     chan ctrlMsg // callbacks -> Next
	stopCh   chan struct{}
	stopOnce sync.Once
	closed   chan struct{}
	closeMu  sync.Once

	// Recycled buffers of Records.Values and Offsets (Release).
	freeVals chan [][]byte
	freeOffs chan []int64

	mu           sync.Mutex
	parts        map[int32]*partInfo
	owned        []int32 // the owned partitions, in order
	barriers     map[uint64]*barrierSnap
	nextBarrier  uint64
	allIdleSince time.Time // every partition idle since, in event-time mode
	idleBase     int64     // the highest event time then
	pending      map[int32]kgo.EpochOffset
	waiters      []chan struct{}
	lastCommit   time.Time
	commitWake   chan struct{}
	committerEnd chan struct{}
	commitCtx    context.Context // ends at Close: a commit in flight gives up
	commitCancel context.CancelFunc

	// State (StateTopic set).
	state          *kgo.Client      // writes the snapshots
	snaps          core.Snapshotter // gathers them at checkpoint barriers
	stateReady     atomic.Bool      // the state topic is made or checked (PrepareState, else the first assignment)
	lastCheckpoint time.Time        // the reader's
	fatal          atomic.Pointer[error]
	ckptJobs       chan ckptJob  // merger (Done) -> checkpoint goroutine
	ckptEnd        chan struct{} // closed when the checkpoint goroutine ends
	inFlight       atomic.Int32  // checkpoint barriers handed out whose snapshots are not yet acknowledged (or given up)
	ckptFailed     atomic.Bool   // a snapshot write failed: the next checkpoint comes at the interval even with nothing new
	ckptPause      atomic.Int64  // the last checkpoint's pause of the engine (the slowest shard's copy), ns
	ckptPauseMax   atomic.Int64  // the longest such pause, ns
	ckptWrite      atomic.Int64  // the last checkpoint's time off the engine: sort, merge, encode, until acknowledged, ns
	ckptUsers      atomic.Int64  // the last checkpoint's user records

	// Exactly once (txn.go).
	sess      *kgo.GroupTransactSession
	lastSnap  map[int32][]byte          // mu: each owned partition's last committed (or restored) snapshot
	base      map[int32]int64           // mu: where a partition with no snapshot starts (its committed offset at the assignment)
	rewinding bool                      // mu: the open transaction is to be aborted at the rewind barrier
	seekReq   map[int32]kgo.EpochOffset // mu: the poller's next seek
	seekGen   int64                     // mu: the generation of the last rewind's seek (partInfo.seekGen)

	// MaxRate's schedule (the reader's): paced records handed out since
	// paceStart.
	paceStart time.Time
	paced     int64

	firstData time.Time // when the first records were handed out (mu)
	atEnd     time.Time // UntilEnd: when every owned partition was read to its end (mu)

	// Counters, read by any goroutine (Stats).
	records    atomic.Int64
	commits    atomic.Int64
	commitErrs atomic.Int64
	ticks      atomic.Int64
	drops      atomic.Int64
	restored   atomic.Int64
	snapshots  atomic.Int64
}

// partInfo is what the Consumer knows of one partition.
type partInfo struct {
	owned       bool
	epoch       int64 // counts the assignments of the partition to this member
	handed      bool  // records of this assignment handed to the engine
	next        int64 // offset after the last record handed out
	leaderEpoch int32
	lastData    time.Time // when its last records (or its assignment) came
	maxT        int64     // highest event time known: reported, ticked or arrived; MinInt64: none
	hw          int64     // high watermark of the last fetch, for the lag; -1: unknown
	queued      int64     // the highest offset queued for commit
	start, end  int64     // UntilEnd: where reading starts and the end offset at the assignment; end -1: unknown
	from        int64     // restored: records before this offset (the snapshot's) are in the state already
	// queuedTo is the offset after the last record queued in this
	// assignment (since the last rewind): a record before it is a
	// re-delivery, dropped. franz-go's GroupTransactSession moves the
	// fetch position back to the committed offsets whenever a transaction
	// ends without committing, also after the rewind's own seek has
	// fetched on from there: without this, the records since the last
	// checkpoint came twice into the restored state (wrong alerts, the
	// fault matrix's exactly-once group kill at 75 %).
	queuedTo int64
	// seekGen is the generation of the rewind that last sought the
	// partition (queueRewind): its records in a poll of an older
	// generation were fetched before the seek and are dropped. Per
	// partition, not per poll: a rewind while the partitions were lost
	// seeks none, and a poll in flight then (the member rejoining after a
	// broker restart) holds the records of the partitions assigned again,
	// from their restored offsets. Dropping the whole poll lost them: the
	// position had moved past them (lost and extra alerts, or a partition
	// that never reached its end, in the fault matrix's exactly-once broker
	// restart).
	seekGen int64
	// fence moves whenever a Drop of the partition is queued or it is
	// assigned again: a poll's records of the partition, taken at an
	// older fence (poll), are dropped.
	fence uint32
}

// barrierSnap is a barrier's cut as the Consumer handed it out.
type barrierSnap struct {
	checkpoint bool            // snapshots are written at it (StateTopic)
	abort      bool            // ExactlyOnce: the rewind's, which aborts the open transaction
	final      bool            // Stop's last
	epochs     map[int32]int64 // epoch of each owned partition
	offs       map[int32]snapOff
	waiter     chan struct{} // closed once its offsets are committed; nil: none waits
}

type snapOff struct {
	epoch       int64
	next        int64
	leaderEpoch int32
}

// ckptJob is a checkpoint barrier's work for the checkpoint goroutine: the
// shards' copies (cut) to sort, merge, encode and write, then the
// barrier's offsets to commit.
type ckptJob struct {
	bs   *barrierSnap
	cut  core.Cut
	next map[int32]int64
}

type itemKind uint8

const (
	itemData itemKind = iota
	itemTick
	itemDrop
	itemBarrier
	itemRestore
)

// item is one queued core.Records.
type item struct {
	kind        itemKind
	part        int32
	vals        [][]byte
	offs        []int64
	arrival     time.Time
	leaderEpoch int32
	tick        int64
	revoke      bool          // itemDrop: of a revoke (the partition stops being owned when it is handed out)
	epoch       int64         // itemDrop: the assignment it ends
	waiter      chan struct{} // itemBarrier: closed once its offsets are committed
	final       bool          // itemBarrier: Stop's last
	checkpoint  bool          // itemBarrier: snapshots are written at it
	abort       bool          // itemBarrier: ExactlyOnce's rewind
	restore     []byte        // itemRestore: the partition's snapshot
}

// ctrlMsg is a rebalance callback's request to Next.
type ctrlMsg struct {
	restore map[int32][]byte // an assignment's snapshots, by partition
	rewind  bool             // ExactlyOnce: go back to the last committed checkpoint
	parts   []int32
	lost    bool
	waiter  chan struct{} // revoke: closed once the offsets are committed
}

// NewConsumer returns a Consumer for cfg; it does nothing before Start.
func NewConsumer(cfg ConsumerConfig) *Consumer {
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.CommitInterval <= 0 {
		cfg.CommitInterval = DefaultCommitInterval
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = DefaultSessionTimeout
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = DefaultCheckpointInterval
	}
	if cfg.StateReplication <= 0 {
		cfg.StateReplication = 1
	}
	if cfg.StopWait <= 0 {
		cfg.StopWait = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = func(string) {}
	}
	c := &Consumer{cfg: cfg, fetches: make(chan polled), pollerDone: make(chan struct{}),
		ctrl: make(chan ctrlMsg, 64), stopCh: make(chan struct{}), closed: make(chan struct{}),
		freeVals: make(chan [][]byte, 256), freeOffs: make(chan []int64, 256),
		parts: map[int32]*partInfo{}, barriers: map[uint64]*barrierSnap{}, pending: map[int32]kgo.EpochOffset{},
		commitWake: make(chan struct{}, 1), committerEnd: make(chan struct{}),
		ckptJobs: make(chan ckptJob, 2), ckptEnd: make(chan struct{}),
		lastSnap: map[int32][]byte{}, base: map[int32]int64{}}
	c.pollCtx, c.pollCancel = context.WithCancel(context.Background())
	c.commitCtx, c.commitCancel = context.WithCancel(context.Background())
	c.timer = time.NewTimer(time.Hour)
	c.timer.Stop()
	return c
}

// Opts returns the client options of the group member: the topic, the
// group, the cooperative-sticky balancer, no autocommit, rebalances held
// while the poller notes a poll's fences, the callbacks.
func (c *Consumer) Opts() []kgo.Opt {
	if c.cfg.ExactlyOnce {
		return c.txnOpts()
	}
	return append(c.memberOpts(), kgo.DisableAutoCommit())
}

// memberOpts are the options every group member has: the topic, the group,
// the session timeout and heartbeat, the instance id, the cooperative-sticky
// balancer, rebalances held while the poller notes a poll's fences (poll),
// reading from the start, the callbacks.
func (c *Consumer) memberOpts() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.ConsumeTopics(c.cfg.Topic),
		kgo.ConsumerGroup(c.cfg.Group),
		kgo.SessionTimeout(c.cfg.SessionTimeout),
		kgo.HeartbeatInterval(heartbeatInterval(c.cfg.SessionTimeout)),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(c.onAssigned),
		kgo.OnPartitionsRevoked(c.onRevoked),
		kgo.OnPartitionsLost(c.onLost),
	}
	if c.cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(c.cfg.InstanceID))
	}
	return opts
}

// heartbeatInterval is a third of the session timeout (Kafka's advice), at
// most franz-go's default 3 s.
func heartbeatInterval(session time.Duration) time.Duration {
	return min(3*time.Second, max(session/3, 100*time.Millisecond))
}

// Start gives the Consumer its client (made with Opts) and starts the
// committer. The caller closes the client after the run. With a
// StateTopic it makes the client that writes the snapshots (ClientOpts).
func (c *Consumer) Start(cl *kgo.Client) error {
	c.cl = cl
	c.lastCheckpoint = c.cfg.Now() // the first checkpoint after one interval
	if c.keep() && c.sess == nil {
		st, err := kgo.NewClient(append(slices.Clone(c.cfg.ClientOpts), stateProducerOpts()...)...)
		if err != nil {
			return fmt.Errorf("state topic %s: %w", c.cfg.StateTopic, err)
		}
		c.state = st
	}
	if c.keep() && c.sess == nil {
		go c.checkpointLoop()
	} else {
		close(c.ckptEnd)
	}
	go c.commitLoop()
	return nil
}

// keep reports whether the Consumer keeps state (a StateTopic).
func (c *Consumer) keep() bool { return c.cfg.StateTopic != "" }

// fail ends the run with err: Next returns it, and nothing more is
// committed (a partition whose state could not be restored must not have
// its offsets moved past records its state lacks).
func (c *Consumer) fail(err error) {
	c.fatal.CompareAndSwap(nil, &err)
	c.Stop()
}

func (c *Consumer) fatalErr() error {
	if e := c.fatal.Load(); e != nil {
		return *e
	}
	return nil
}

// Stop asks the Consumer to stop: Next stops fetching, hands out a last
// barrier, waits until its offsets are committed, and returns ErrStopped.
// Safe from any goroutine, more than once.
func (c *Consumer) Stop() { c.stopOnce.Do(func() { close(c.stopCh) }) }

func (c *Consumer) stopping() bool {
	select {
	case <-c.stopCh:
		return true
	default:
		return false
	}
}

func (c *Consumer) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// Next implements core.Source.
func (c *Consumer) Next(ctx context.Context, r *core.Records) error {
	c.startPoll.Do(func() { go c.poll() })
	for {
		if err := c.fatalErr(); err != nil {
			return err
		}
		c.takeCtrl()
		if c.cfg.UntilEnd && !c.finalQueued && c.readToEnd() {
			c.Stop()
		}
		if !c.finalQueued && c.stopping() {
			// What was fetched is handed out, then the last barrier.
			c.pollCancel()
			c.queue = append(c.queue, item{kind: itemBarrier, waiter: make(chan struct{}), final: true, checkpoint: c.keep()})
			c.finalQueued = true
		}
		if c.qhead < len(c.queue) {
			if d := c.paceWait(); d > 0 {
				c.timer.Reset(d)
				select {
				case <-c.timer.C:
				case <-c.stopCh:
				case <-ctx.Done():
					c.timer.Stop()
					return context.Cause(ctx)
				}
				c.timer.Stop()
				continue
			}
			c.hand(r)
			return nil
		}
		if c.finalQueued {
			return c.waitFinal(ctx)
		}
		now := c.cfg.Now()
		c.queueTicks(now)
		if c.ckptFailed.Load() && c.ckptFailed.Swap(false) {
			c.dirty = true // the state is still to be written
		}
		// A checkpoint once its interval has passed with something handed
		// out since the last (also when the records have stopped since),
		// and the last one is acknowledged: one is in flight at a time, a
		// later one waits for it (the first barrier after it is one).
		ckpt := c.keep() && c.dirty && now.Sub(c.lastCheckpoint) >= c.cfg.CheckpointInterval && c.inFlight.Load() == 0
		if c.qhead == len(c.queue) && (ckpt || c.handed && now.Sub(c.lastBarrier) >= min(c.cfg.CommitInterval, maxBarrierGap)) {
			c.queue = append(c.queue, item{kind: itemBarrier, checkpoint: ckpt})
		}
		if c.qhead < len(c.queue) {
			continue
		}
		c.timer.Reset(c.tickWait(now))
		select {
		case pf := <-c.fetches:
			// A rebalance callback that ran before this poll sent its
			// request before the poll could start: queue it first.
			c.takeCtrl()
			c.queueFetch(pf)
		case m := <-c.ctrl:
			c.queueCtrl(m)
		case <-c.timer.C:
		case <-c.stopCh:
		case <-ctx.Done():
			c.timer.Stop()
			return context.Cause(ctx)
		}
		c.timer.Stop()
	}
}

// paceWait is how long the Records at the head of the queue must wait
// under MaxRate (0: it goes now, and is counted). The schedule starts
// again when it has fallen more than a second behind, so a pause in the
// input is not made up for by a burst.
func (c *Consumer) paceWait() time.Duration {
	it := &c.queue[c.qhead]
	if c.cfg.MaxRate <= 0 || it.kind != itemData || c.stopping() {
		return 0
	}
	now := c.cfg.Now()
	due := c.paceStart.Add(time.Duration(float64(c.paced) / c.cfg.MaxRate * float64(time.Second)))
	if d := due.Sub(now); d > 0 {
		return d
	}
	if c.paceStart.IsZero() || now.Sub(due) > time.Second {
		c.paceStart, c.paced = now, 0
	}
	c.paced += int64(len(it.vals))
	return 0
}

// readToEnd reports whether every owned partition has been handed out up
// to the end offset it had when it was assigned (UntilEnd), and notes when
// that happened first.
func (c *Consumer) readToEnd() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.owned) == 0 {
		return false
	}
	for _, p := range c.owned {
		pi := c.parts[p]
		pos := pi.start
		if pi.handed {
			pos = max(pos, pi.next)
		}
		if pi.end < 0 || pos < pi.end {
			return false
		}
	}
	if c.atEnd.IsZero() {
		c.atEnd = c.cfg.Now()
	}
	return true
}

// tickWait is how long Next waits for records before it looks at the idle
// partitions again: TickEvery, and with the wall clock no later than just
// after the next second (deadlines are whole seconds).
func (c *Consumer) tickWait(now time.Time) time.Duration {
	d := TickEvery
	if c.cfg.WallClock {
		d = min(d, time.Second-time.Duration(now.Nanosecond())+time.Millisecond)
	}
	return d
}

// waitFinal waits for the last barrier's commit (at most StopWait), then
// ends the run.
func (c *Consumer) waitFinal(ctx context.Context) error {
	wait := c.cfg.StopWait - time.Since(c.finalSent)
	t := time.NewTimer(max(wait, 0))
	defer t.Stop()
	select {
	case <-c.finalWait:
	case <-t.C:
		c.cfg.Log(fmt.Sprintf("stopping: the last offsets were not committed within %v; the records since the last commit will be read again", c.cfg.StopWait))
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	return ErrStopped
}

// poll is the poller goroutine: it polls kgo and hands each poll's records
// to Next. A rebalance waits (BlockRebalanceOnPoll) while the poller notes
// the fence of each partition in the poll (fencesOf), and no longer: it
// must not wait for Next, which waits for the engine, whose merger may
// wait in an exactly-once checkpoint's End for a heartbeat that only the
// rebalance brings back (a deadlock: the 3-minute stall of the 3-node
// broker kill, where the other brokers still served records when the
// group's heartbeat failed, so a poll waited for Next while franz-go's
// group loop waited to call onLost). Next drops the records of a
// partition whose fence has moved since.
func (c *Consumer) poll() {
	defer close(c.pollerDone)
	var lastErr string
	var lastErrAt time.Time
	for {
		gen := c.applySeek()
		fs := c.cl.PollFetches(c.pollCtx)
		fences := c.fencesOf(fs)
		c.cl.AllowRebalance()
		if c.pollCtx.Err() != nil || fs.IsClientClosed() {
			return
		}
		errs := 0
		fs.EachError(func(topic string, p int32, err error) {
			errs++
			if errors.Is(err, context.Canceled) {
				return
			}
			msg := fetchErrMsg(c.cfg.Topic, topic, p, err)
			if msg != lastErr || time.Since(lastErrAt) > 30*time.Second {
				c.cfg.Log(msg + " (retrying)")
				lastErr, lastErrAt = msg, time.Now()
			}
		})
		if fs.NumRecords() == 0 && errs > 0 {
			// Errors only: do not spin on them.
			select {
			case <-time.After(100 * time.Millisecond):
			case <-c.pollCtx.Done():
				return
			}
			continue
		}
		select {
		case c.fetches <- polled{fs: fs, gen: gen, fences: fences}:
		case <-c.pollCtx.Done():
			return
		}
	}
}

// fencesOf returns the fence of each partition of the topic in fs, as it
// is now.
func (c *Consumer) fencesOf(fs kgo.Fetches) map[int32]uint32 {
	fences := map[int32]uint32{}
	c.mu.Lock()
	defer c.mu.Unlock()
	fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
		if ftp.Topic == c.cfg.Topic {
			fences[ftp.Partition] = c.part(ftp.Partition).fence
		}
	})
	return fences
}

// queueFetch queues the records of one poll, one Records per partition (at
// most maxValues each): those of owned partitions whose fence has not
// moved since the poll, not fetched before their last seek (seekGen).
func (c *Consumer) queueFetch(pf polled) {
	now := c.cfg.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	pf.fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
		if ftp.Topic != c.cfg.Topic {
			return
		}
		pi := c.part(ftp.Partition)
		if ftp.Err == nil {
			pi.hw = ftp.HighWatermark
		}
		if f, ok := pf.fences[ftp.Partition]; !pi.owned || !ok || f != pi.fence || pf.gen < pi.seekGen {
			// Lost, revoked or rewound since the poll (its Drop is
			// queued: a record after it would start a state the engine
			// keeps; the next owner, or the rewind's seek, reads it
			// again), or fetched before the rewind's seek.
			return
		}
		recs := ftp.Records
		for len(recs) > 0 && (recs[0].Offset < pi.from || recs[0].Offset < pi.queuedTo) {
			recs = recs[1:] // in the restored state already, or queued already
		}
		if len(recs) > 0 {
			pi.queuedTo = recs[len(recs)-1].Offset + 1
		}
		most := maxValues
		if c.cfg.MaxRate > 0 {
			most = int(min(float64(maxValues), max(1, c.cfg.MaxRate/20))) // a twentieth of a second each
		}
		for len(recs) > 0 {
			n := min(len(recs), most)
			it := item{kind: itemData, part: ftp.Partition, arrival: now, vals: c.valsBuf(n), offs: c.offsBuf(n),
				leaderEpoch: recs[n-1].LeaderEpoch}
			for _, rec := range recs[:n] {
				it.vals = append(it.vals, rec.Value)
				it.offs = append(it.offs, rec.Offset)
			}
			c.queue = append(c.queue, it)
			recs = recs[n:]
		}
	})
}

func (c *Consumer) valsBuf(n int) [][]byte {
	select {
	case b := <-c.freeVals:
		return b[:0]
	default:
		return make([][]byte, 0, max(n, 64))
	}
}

func (c *Consumer) offsBuf(n int) []int64 {
	select {
	case b := <-c.freeOffs:
		return b[:0]
	default:
		return make([]int64, 0, max(n, 64))
	}
}

// Release implements the engine's releaser: the Records' buffers are
// reused for the next fetch.
func (c *Consumer) Release(r *core.Records) {
	if r.Values != nil {
		clear(r.Values) // the record values can go
		select {
		case c.freeVals <- r.Values[:0]:
		default:
		}
	}
	if r.Offsets != nil {
		select {
		case c.freeOffs <- r.Offsets[:0]:
		default:
		}
	}
}

// part returns the partition's info, made on first sight (mu held).
func (c *Consumer) part(p int32) *partInfo {
	pi := c.parts[p]
	if pi == nil {
		pi = &partInfo{maxT: math.MinInt64, hw: -1, queued: -1}
		c.parts[p] = pi
	}
	return pi
}

// takeCtrl queues the callbacks' requests that are waiting.
func (c *Consumer) takeCtrl() {
	for {
		select {
		case m := <-c.ctrl:
			c.queueCtrl(m)
		default:
			return
		}
	}
}

// queueCtrl queues what a rebalance asks for: for revoked partitions a
// barrier (whose commit the callback waits for) and their Drops; for lost
// ones their Drops.
func (c *Consumer) queueCtrl(m ctrlMsg) {
	if m.rewind {
		c.queueRewind()
		return
	}
	if m.restore != nil {
		for _, p := range slices.Sorted(maps.Keys(m.restore)) {
			c.queue = append(c.queue, item{kind: itemRestore, part: p, restore: m.restore[p]})
		}
		return
	}
	if !m.lost {
		c.queue = append(c.queue, item{kind: itemBarrier, waiter: m.waiter, checkpoint: c.keep()})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range m.parts {
		pi := c.part(p)
		pi.fence++
		c.queue = append(c.queue, item{kind: itemDrop, part: p, revoke: !m.lost, epoch: pi.epoch})
	}
}

// hand fills r with the head of the queue.
func (c *Consumer) hand(r *core.Records) {
	it := c.queue[c.qhead]
	c.queue[c.qhead] = item{}
	c.qhead++
	if c.qhead == len(c.queue) {
		c.queue, c.qhead = c.queue[:0], 0 // the array is reused
	}
	r.Partition = it.part
	switch it.kind {
	case itemData:
		r.Values, r.Offsets, r.Arrival = it.vals, it.offs, it.arrival.Unix()
		c.mu.Lock()
		pi := c.part(it.part)
		pi.handed = true
		pi.next = it.offs[len(it.offs)-1] + 1
		pi.leaderEpoch = it.leaderEpoch
		pi.lastData = it.arrival
		if c.firstData.IsZero() {
			c.firstData = it.arrival
		}
		if c.cfg.WallClock {
			pi.maxT = max(pi.maxT, it.arrival.Unix())
		}
		c.mu.Unlock()
		c.records.Add(int64(len(it.vals)))
		c.handed, c.dirty = true, true
	case itemTick:
		r.Tick = it.tick
		c.ticks.Add(1)
		c.handed, c.dirty = true, true
	case itemDrop:
		r.Drop = true
		if it.revoke {
			c.mu.Lock()
			if pi := c.parts[it.part]; pi != nil && pi.epoch == it.epoch && pi.owned {
				pi.owned = false
				c.setOwned()
			}
			c.mu.Unlock()
		}
		c.drops.Add(1)
	case itemRestore:
		r.Restore = it.restore
	case itemBarrier:
		r.Barrier = c.snapshot(it)
		c.lastBarrier = c.cfg.Now()
		if it.checkpoint {
			c.lastCheckpoint, c.dirty = c.lastBarrier, false
			if c.sess == nil {
				c.inFlight.Add(1) // until the checkpoint goroutine is done with it
			}
		}
		c.handed = false
		if it.final {
			c.finalWait, c.finalSent = it.waiter, time.Now()
		}
	}
}

// snapshot records a barrier's cut: each owned partition's epoch, and for
// those with records handed out in their assignment, the offset after
// them. It returns the barrier's id.
func (c *Consumer) snapshot(it item) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextBarrier++
	id := c.nextBarrier
	bs := &barrierSnap{epochs: map[int32]int64{}, offs: map[int32]snapOff{}, waiter: it.waiter,
		checkpoint: it.checkpoint, abort: it.abort, final: it.final}
	for p, pi := range c.parts {
		if !pi.owned {
			continue
		}
		bs.epochs[p] = pi.epoch
		if pi.handed {
			bs.offs[p] = snapOff{epoch: pi.epoch, next: pi.next, leaderEpoch: pi.leaderEpoch}
		}
	}
	c.barriers[id] = bs
	return id
}

// queueTicks queues the Ticks the idle partitions are due (docs/semantics.md,
// "Kafka"). With the wall clock every partition with records is at the
// wall clock. In event time a partition with no record for IdleTimeout is
// idle: it takes the highest event time among the partitions that are not
// idle; when every partition is idle, all take the highest there is and go
// on from it with the wall clock. Partitions with no known time (no record
// yet) take no part.
func (c *Consumer) queueTicks(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tick := func(p int32, pi *partInfo, t int64) {
		if t > pi.maxT {
			pi.maxT = t
			c.queue = append(c.queue, item{kind: itemTick, part: p, tick: t})
		}
	}
	ps := c.owned
	if c.cfg.WallClock {
		t := now.Unix()
		for _, p := range ps {
			if pi := c.parts[p]; pi.maxT != math.MinInt64 {
				tick(p, pi, t)
			}
		}
		return
	}
	hiActive, hiAll, active := int64(math.MinInt64), int64(math.MinInt64), false
	for _, p := range ps {
		pi := c.parts[p]
		if pi.maxT == math.MinInt64 {
			continue
		}
		hiAll = max(hiAll, pi.maxT)
		if now.Sub(pi.lastData) < c.cfg.IdleTimeout {
			active = true
			hiActive = max(hiActive, pi.maxT)
		}
	}
	switch {
	case active:
		c.allIdleSince = time.Time{}
		for _, p := range ps {
			if pi := c.parts[p]; pi.maxT != math.MinInt64 && now.Sub(pi.lastData) >= c.cfg.IdleTimeout {
				tick(p, pi, hiActive)
			}
		}
	case hiAll != math.MinInt64:
		if c.allIdleSince.IsZero() {
			c.allIdleSince, c.idleBase = now, hiAll
		}
		t := c.idleBase + int64(now.Sub(c.allIdleSince)/time.Second)
		for _, p := range ps {
			if pi := c.parts[p]; pi.maxT != math.MinInt64 {
				tick(p, pi, t)
			}
		}
	}
}

// setOwned sets owned from parts (mu held): the owned partitions in
// order, so Ticks come in a fixed order.
func (c *Consumer) setOwned() {
	c.owned = c.owned[:0]
	for p, pi := range c.parts {
		if pi.owned {
			c.owned = append(c.owned, p)
		}
	}
	slices.Sort(c.owned)
}

// Shard implements core.Checkpointer: the watermark each partition has
// reached at the barrier is its highest event time (less the lateness),
// which the idle partitions take.
func (c *Consumer) Shard(id uint64, i int, v core.ShardView) {
	lat := int64(c.cfg.Lateness / time.Second)
	c.mu.Lock()
	bs := c.barriers[id]
	c.mu.Unlock()
	if bs == nil {
		return
	}
	if bs.checkpoint {
		// Out of mu: the shards copy their parts at once.
		c.snaps.Shard(id, i, v)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range v.Partitions() {
		st, ok := v.Part(p)
		pi := c.parts[p]
		if !ok || pi == nil || !pi.owned || bs.epochs[p] != pi.epoch {
			continue
		}
		if w := st.Watermark(); w != math.MinInt64 {
			pi.maxT = max(pi.maxT, w+lat)
		}
	}
}

// Done implements core.Checkpointer: every alert before barrier id has been
// delivered, so each partition's next position (its next offset) can be
// committed; the committer does it. With a StateTopic only checkpoint
// barriers commit, and a partition's offset only once its snapshot at the
// barrier is written and acknowledged: an offset is never committed past
// the last snapshot of its partition. Done, on the engine's merger, only
// hands the barrier's copies to the checkpoint goroutine (checkpointLoop),
// which writes them and queues the offsets, while the engine goes on.
func (c *Consumer) Done(id uint64, next map[int32]int64) {
	if c.sess != nil {
		c.doneTxn(id, next)
		return
	}
	var sinkErr error
	if c.cfg.SinkErr != nil {
		sinkErr = c.cfg.SinkErr()
	}
	if sinkErr == nil {
		sinkErr = c.fatalErr()
	}
	c.mu.Lock()
	bs := c.barriers[id]
	delete(c.barriers, id)
	c.mu.Unlock()
	if bs == nil {
		return
	}
	var cut core.Cut
	if bs.checkpoint {
		cut = c.snaps.Done(id, next)
	}
	if sinkErr != nil {
		c.cfg.Log(fmt.Sprintf("offsets not committed: %v", sinkErr))
		c.endCheckpoint(bs, &cut)
		return
	}
	if c.keep() {
		if !bs.checkpoint {
			return
		}
		select {
		case c.ckptJobs <- ckptJob{bs: bs, cut: cut, next: next}:
		case <-c.closed:
			c.endCheckpoint(bs, &cut)
		}
		return
	}
	c.queueCommit(bs, next, nil)
}

// endCheckpoint ends a barrier that commits nothing: its waiter is
// released, and a checkpoint's copies and its place in flight given up.
func (c *Consumer) endCheckpoint(bs *barrierSnap, cut *core.Cut) {
	if bs.checkpoint && c.keep() {
		cut.Release()
		c.inFlight.Add(-1)
	}
	if bs.waiter != nil {
		close(bs.waiter)
	}
}

// queueCommit queues barrier bs's offsets for the committer: each
// partition's position at the barrier, of the partitions still in the
// assignment the barrier saw and, when written is not nil, whose snapshot
// at the barrier is acknowledged.
func (c *Consumer) queueCommit(bs *barrierSnap, next map[int32]int64, written map[int32]bool) {
	c.mu.Lock()
	for p, so := range bs.offs {
		pi := c.parts[p]
		if pi == nil || pi.epoch != so.epoch {
			continue // assigned again since: not this barrier's to commit
		}
		if written != nil && !written[p] {
			continue // no snapshot at this offset: the last one's stays
		}
		off := so.next
		if n, ok := next[p]; ok && n != off {
			// The engine's position and the records handed out agree
			// unless the engine is wrong; commit the lower.
			c.cfg.Log(fmt.Sprintf("partition %d: the engine is at offset %d, the consumer handed out up to %d", p, n, off))
			off = min(off, n)
		}
		if off > pi.queued {
			pi.queued = off
			c.pending[p] = kgo.EpochOffset{Epoch: so.leaderEpoch, Offset: off}
		}
	}
	if bs.waiter != nil {
		c.waiters = append(c.waiters, bs.waiter)
	}
	urgent := bs.waiter != nil || c.keep()
	c.mu.Unlock()
	if urgent {
		c.wakeCommitter()
	}
}

// checkpointLoop is the checkpoint goroutine (at-least-once with a
// StateTopic): it owns each barrier's copies from Done to their Release,
// and takes the barriers one at a time, in order. Close ends it; a
// checkpoint not yet written then commits nothing.
func (c *Consumer) checkpointLoop() {
	defer close(c.ckptEnd)
	for {
		select {
		case j := <-c.ckptJobs:
			c.checkpoint(j)
		case <-c.closed:
			return
		}
	}
}

// checkpoint writes a checkpoint barrier's snapshots and, once they are
// acknowledged, queues its offsets for the committer; a snapshot write
// that fails commits nothing (the next checkpoint tries again).
func (c *Consumer) checkpoint(j ckptJob) {
	start := time.Now()
	recs := c.snapshotRecords(j.bs, j.cut.Snapshots())
	c.noteCut(&j.cut)
	j.cut.Release()
	written, err := c.writeSnapshots(recs)
	c.ckptWrite.Store(int64(time.Since(start)))
	if err != nil {
		c.cfg.Log(fmt.Sprintf("offsets not committed: %v (the next checkpoint tries again)", err))
		c.ckptFailed.Store(true)
		c.endCheckpoint(j.bs, &j.cut)
		return
	}
	c.queueCommit(j.bs, j.next, written)
	c.inFlight.Add(-1)
}

// noteCut keeps a checkpoint's figures: the engine's pause, its users.
func (c *Consumer) noteCut(cut *core.Cut) {
	d := int64(cut.ShardTime())
	c.ckptPause.Store(d)
	for {
		m := c.ckptPauseMax.Load()
		if d <= m || c.ckptPauseMax.CompareAndSwap(m, d) {
			break
		}
	}
	c.ckptUsers.Store(int64(cut.Users()))
}

// snapshotRecords encodes the snapshots of a checkpoint barrier as state
// topic records, those of the partitions still in the assignment the
// barrier saw.
func (c *Consumer) snapshotRecords(bs *barrierSnap, snaps []*core.Snapshot) []*kgo.Record {
	var recs []*kgo.Record
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sn := range snaps {
		pi := c.parts[sn.Partition]
		if e, ok := bs.epochs[sn.Partition]; !ok || pi == nil || pi.epoch != e {
			continue
		}
		recs = append(recs, &kgo.Record{Topic: c.cfg.StateTopic, Partition: sn.Partition, Key: stateKey(sn.Partition),
			Value: core.EncodeSnapshot(nil, sn)})
	}
	return recs
}

// writeSnapshots writes a checkpoint's snapshot records to the state topic
// and waits for their acknowledgement; it returns the partitions written.
func (c *Consumer) writeSnapshots(recs []*kgo.Record) (map[int32]bool, error) {
	written := map[int32]bool{}
	if len(recs) == 0 {
		return written, nil
	}
	ctx, cancel := context.WithTimeout(c.commitCtx, 30*time.Second)
	defer cancel()
	if err := c.state.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return nil, fmt.Errorf("writing snapshots to %s: %w", c.cfg.StateTopic, err)
	}
	for _, r := range recs {
		written[r.Partition] = true
	}
	c.snapshots.Add(int64(len(recs)))
	return written, nil
}

func (c *Consumer) wakeCommitter() {
	select {
	case c.commitWake <- struct{}{}:
	default:
	}
}

// commitLoop is the committer goroutine: it commits the pending offsets
// every CommitInterval, and at once when a rebalance or Stop waits for
// them.
func (c *Consumer) commitLoop() {
	defer close(c.committerEnd)
	t := time.NewTicker(c.cfg.CommitInterval)
	defer t.Stop()
	for {
		select {
		case <-c.commitWake:
		case <-t.C:
		case <-c.closed:
			// A last try, short: the run is over.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			c.commitPending(ctx)
			cancel()
			return
		}
		c.commitPending(c.commitCtx)
	}
}

// commitPending commits the offsets queued since the last commit and
// releases the waiters.
func (c *Consumer) commitPending(ctx context.Context) {
	c.mu.Lock()
	offs, ws := c.pending, c.waiters
	c.pending, c.waiters = map[int32]kgo.EpochOffset{}, nil
	c.mu.Unlock()
	defer func() {
		for _, w := range ws {
			close(w)
		}
	}()
	if len(offs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var cerr error
	c.cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{c.cfg.Topic: offs},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				cerr = err
				return
			}
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if err := kerr.ErrorForCode(p.ErrorCode); err != nil && cerr == nil {
						cerr = fmt.Errorf("partition %d: %w", p.Partition, err)
					}
				}
			}
		})
	if cerr != nil {
		c.commitErrs.Add(1)
		c.cfg.Log(fmt.Sprintf("committing offsets of group %s: %v (the next barrier tries again)", c.cfg.Group, cerr))
		// Try again with the next commit, unless a later offset or a
		// new assignment came since.
		c.mu.Lock()
		for p, eo := range offs {
			if _, newer := c.pending[p]; !newer {
				if pi := c.parts[p]; pi != nil && pi.owned && pi.queued == eo.Offset {
					c.pending[p] = eo
				}
			}
		}
		c.mu.Unlock()
		return
	}
	c.commits.Add(1)
	c.mu.Lock()
	c.lastCommit = time.Now()
	c.mu.Unlock()
}

// onAssigned is kgo's callback: the partitions start with no state (the
// engine makes it at their first record) and count as not idle for
// IdleTimeout.
func (c *Consumer) onAssigned(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	ps := m[c.cfg.Topic]
	if len(ps) == 0 {
		return
	}
	var start, end map[int32]int64
	if c.cfg.UntilEnd {
		var err error
		if start, end, err = c.bounds(ctx, cl); err != nil {
			c.cfg.Log(fmt.Sprintf("--until-end: reading the offsets of %s: %v; stopping", c.cfg.Topic, err))
			c.Stop()
		}
	}
	now := c.cfg.Now()
	c.mu.Lock()
	for _, p := range ps {
		pi := c.part(p)
		*pi = partInfo{owned: true, epoch: pi.epoch + 1, fence: pi.fence + 1, lastData: now, maxT: math.MinInt64, hw: -1, queued: -1, end: -1}
		if e, ok := end[p]; ok {
			pi.start, pi.end = start[p], e
		}
	}
	c.setOwned()
	c.mu.Unlock()
	slices.Sort(ps)
	c.cfg.Log(fmt.Sprintf("assigned %s partitions %s", c.cfg.Topic, PartList(ps)))
	if c.keep() {
		if err := c.restore(ctx, cl, ps); err != nil {
			c.cfg.Log(err.Error())
			c.fail(err)
		}
	}
}

// PrepareState creates the state topic, with the input's partition count
// and StateReplication, or checks the one there (EnsureStateTopic). consume
// calls it at the start, before the member joins the group, so an
// assignment only reads the snapshots; when the input topic does not exist
// yet it returns nil and the first assignment makes the state topic.
func (c *Consumer) PrepareState(ctx context.Context, adm *kadm.Client) error {
	if !c.keep() || c.stateReady.Load() {
		return nil
	}
	n, err := TopicPartitions(ctx, adm, c.cfg.Topic)
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return nil
	case err != nil:
		return fmt.Errorf("state topic %s: the partitions of %s: %w", c.cfg.StateTopic, c.cfg.Topic, err)
	}
	t, err := EnsureStateTopic(ctx, adm, c.cfg.StateTopic, int32(n), c.cfg.StateReplication)
	if err != nil {
		return err
	}
	if t.Created {
		c.cfg.Log(fmt.Sprintf("created state topic %s (%d partitions, cleanup.policy=compact, retention.ms=-1, max.message.bytes=%d)",
			t.Name, t.Partitions, MaxSnapshotBytes))
	}
	if t.Warning != "" {
		c.cfg.Log("warning: " + t.Warning)
	}
	c.stateReady.Store(true)
	return nil
}

// restore reads the last snapshot of each assigned partition from the
// state topic (making the topic first if PrepareState could not) and queues it
// for the engine before the partition's first record, and moves the
// partition's next offset to the snapshot's: the state holds exactly the
// records before it. (The committed offset is the snapshot's unless a
// commit failed after its snapshot was written, then it is behind: the
// records between were processed and their alerts delivered, and are not
// read again.) A partition with no snapshot starts empty at the committed
// offset. It runs in the assignment callback, so the engine gets the
// snapshots before any record of the partitions.
func (c *Consumer) restore(ctx context.Context, cl *kgo.Client, ps []int32) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	// The reads wait for brokers that are away (a broker killed, its
	// partitions not yet led by another: the 3-node fault matrix with
	// --exactly-once exited 1 here), trying again with a log line and a
	// backoff within the 2 minutes; a broker's definite refusal, or the
	// bound, fails the run as before. The group goes on heartbeating
	// meanwhile (franz-go runs the callback beside the heartbeat).
	var snaps map[int32][]byte
	err := c.retryBrokers(ctx, func() (err error) {
		snaps, err = c.readAssigned(ctx, cl, ps)
		return err
	}, func(err error, wait time.Duration) { c.cfg.Log(fmt.Sprintf("%v; trying again in %v", err, wait)) })
	if err != nil {
		return err
	}
	if len(snaps) == 0 {
		c.cfg.Log(fmt.Sprintf("no snapshot of partitions %s in %s: they start empty at the committed offsets", PartList(ps), c.cfg.StateTopic))
		return nil
	}
	seek := map[int32]kgo.EpochOffset{}
	c.mu.Lock()
	for _, p := range slices.Sorted(maps.Keys(snaps)) {
		sn, err := core.DecodeSnapshot(snaps[p])
		if err == nil && sn.Partition != p {
			err = fmt.Errorf("a snapshot of partition %d", sn.Partition)
		}
		if err != nil {
			c.mu.Unlock()
			return fmt.Errorf("state topic %s partition %d: %w", c.cfg.StateTopic, p, err)
		}
		c.lastSnap[p] = snaps[p]
		pi := c.part(p)
		pi.from = sn.Next
		if pi.end >= 0 {
			pi.start = sn.Next // UntilEnd reads from here
		}
		seek[p] = kgo.EpochOffset{Epoch: -1, Offset: sn.Next}
		c.cfg.Log(fmt.Sprintf("restored partition %d: %d users, %d open carts, snapshot of offset %d (%d bytes) in %v",
			p, sn.Users(), sn.OpenCarts(), sn.Next, len(snaps[p]), time.Since(start).Round(time.Millisecond)))
	}
	c.mu.Unlock()
	select {
	case c.ctrl <- ctrlMsg{restore: snaps}:
	case <-c.closed:
		return nil
	}
	cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{c.cfg.Topic: seek})
	c.restored.Add(int64(len(snaps)))
	return nil
}

// readAssigned is restore's reads: the state topic made or checked, for
// ExactlyOnce where the partitions start (assignBase), and their last
// snapshots.
func (c *Consumer) readAssigned(ctx context.Context, cl *kgo.Client, ps []int32) (map[int32][]byte, error) {
	if !c.stateReady.Load() {
		// The input did not exist at PrepareState (or it was not called).
		if err := c.PrepareState(ctx, kadm.NewClient(cl)); err != nil {
			return nil, err
		}
	}
	if c.sess != nil {
		if err := c.assignBase(ctx, cl, ps); err != nil {
			return nil, err
		}
	}
	snaps, err := readState(ctx, c.cfg.ClientOpts, c.cfg.StateTopic, ps, c.sess != nil)
	if err != nil {
		return nil, fmt.Errorf("restoring partitions %s: %w", PartList(ps), err)
	}
	return snaps, nil
}

// bounds returns, for UntilEnd, each partition's first offset to read (the
// group's committed offset, else the log's start, as ConsumeResetOffset
// says) and its end offset now.
func (c *Consumer) bounds(ctx context.Context, cl *kgo.Client) (start, end map[int32]int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, c.cfg.Topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, nil, err
	}
	starts, err := adm.ListStartOffsets(ctx, c.cfg.Topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, nil, err
	}
	committed, err := adm.FetchOffsets(ctx, c.cfg.Group)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		return nil, nil, err
	}
	start, end = map[int32]int64{}, map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { end[o.Partition] = o.Offset })
	starts.Each(func(o kadm.ListedOffset) { start[o.Partition] = o.Offset })
	for p := range end {
		if o, ok := committed.Lookup(c.cfg.Topic, p); ok && o.At >= 0 {
			start[p] = max(start[p], o.At)
		}
	}
	return start, end, nil
}

// onRevoked is kgo's callback: Next queues a barrier and the partitions'
// Drops; the callback returns once the barrier's offsets are committed (or
// revokeWait has passed), so the next owner starts after them.
func (c *Consumer) onRevoked(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	ps := m[c.cfg.Topic]
	if len(ps) == 0 {
		return
	}
	slices.Sort(ps)
	if c.sess != nil {
		c.revokedTxn(ps, false)
		return
	}
	if c.stopping() || c.isClosed() {
		// Leaving the group: the last barrier committed everything.
		c.disown(ps)
		return
	}
	c.cfg.Log(fmt.Sprintf("revoked %s partitions %s: committing their offsets, dropping their state", c.cfg.Topic, PartList(ps)))
	w := make(chan struct{})
	t := time.NewTimer(revokeWait)
	defer t.Stop()
	select {
	case c.ctrl <- ctrlMsg{parts: ps, waiter: w}:
	case <-t.C:
		c.disown(ps)
		return
	case <-c.closed:
		c.disown(ps)
		return
	}
	select {
	case <-w:
	case <-t.C:
		c.cfg.Log(fmt.Sprintf("revoked partitions %s: offsets not committed within %v; their next owner reads again from the last commit", PartList(ps), revokeWait))
		c.disown(ps)
	case <-c.closed:
	}
}

// onLost is kgo's callback for partitions lost without a revoke (the
// member fell out of the group): their state is dropped and nothing is
// committed for them (the group would refuse it).
func (c *Consumer) onLost(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	ps := m[c.cfg.Topic]
	if len(ps) == 0 {
		return
	}
	slices.Sort(ps)
	if c.sess != nil {
		c.revokedTxn(ps, true)
		return
	}
	c.disown(ps)
	if c.stopping() || c.isClosed() {
		return
	}
	c.cfg.Log(fmt.Sprintf("lost %s partitions %s (out of the group): their state is dropped, their offsets since the last commit are read again by their next owner", c.cfg.Topic, PartList(ps)))
	select {
	case c.ctrl <- ctrlMsg{parts: ps, lost: true}:
	case <-c.closed:
	}
}

// disown marks partitions as no longer this member's: no barrier commits
// them any more, neither one in flight (their epoch moves on) nor offsets
// already queued for the committer (their next owner may be past them, and
// a broker takes a commit from any member of the group).
func (c *Consumer) disown(ps []int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range ps {
		if pi := c.parts[p]; pi != nil {
			pi.owned = false
			pi.epoch++
			pi.fence++
			delete(c.pending, p)
		}
	}
	c.setOwned()
}

// Close implements core.Source: the poller and the committer stop (the
// latter after a last commit). The client is the caller's.
func (c *Consumer) Close() error {
	c.closeMu.Do(func() {
		c.pollCancel()
		c.commitCancel()
		close(c.closed)
		if c.cl != nil {
			<-c.ckptEnd
			<-c.committerEnd
		}
		if c.state != nil && c.sess == nil {
			c.state.Close()
		}
	})
	return nil
}

// ConsumerStats are a Consumer's figures at one moment.
type ConsumerStats struct {
	Records    int64   // handed to the engine
	Partitions []int32 // owned, in order
	Lag        int64   // records in the owned partitions not yet handed out (from the last fetches' high watermarks); -1: unknown
	PartLag    []int64 // Lag of each of Partitions; -1: unknown (no fetch yet)
	Commits    int64   // successful commits
	CommitErrs int64
	Ticks      int64
	Drops      int64
	Restored   int64 // partitions restored from a snapshot (StateTopic)
	Snapshots  int64 // snapshots written (StateTopic)
	// The last checkpoint (StateTopic): how long it paused the engine
	// (the slowest shard's copy), the longest such pause so far, its time
	// off the engine (sort, merge, encode, write until acknowledged), and
	// the user records it held.
	CheckpointPause, CheckpointPauseMax, CheckpointWrite time.Duration
	CheckpointUsers                                      int64
	FirstData                                            time.Time // when the first records were handed to the engine; zero: none yet
	AtEnd                                                time.Time // UntilEnd: when every owned partition was read to its end; zero: not yet
}

// Stats returns the Consumer's figures; safe from any goroutine.
func (c *Consumer) Stats() ConsumerStats {
	s := ConsumerStats{Records: c.records.Load(), Commits: c.commits.Load(), CommitErrs: c.commitErrs.Load(),
		Ticks: c.ticks.Load(), Drops: c.drops.Load(), Restored: c.restored.Load(), Snapshots: c.snapshots.Load(),
		CheckpointPause: time.Duration(c.ckptPause.Load()), CheckpointPauseMax: time.Duration(c.ckptPauseMax.Load()),
		CheckpointWrite: time.Duration(c.ckptWrite.Load()), CheckpointUsers: c.ckptUsers.Load()}
	c.mu.Lock()
	s.FirstData, s.AtEnd = c.firstData, c.atEnd
	s.Partitions = slices.Clone(c.owned)
	s.PartLag = make([]int64, len(s.Partitions))
	for i, p := range s.Partitions {
		pi := c.parts[p]
		switch {
		case pi.hw < 0:
			s.Lag, s.PartLag[i] = -1, -1
		case pi.handed:
			s.PartLag[i] = max(0, pi.hw-pi.next)
		}
		if s.Lag >= 0 && s.PartLag[i] > 0 {
			s.Lag += s.PartLag[i]
		}
	}
	c.mu.Unlock()
	return s
}

// fetchErrMsg is the log line of a poll's error on topic and partition p
// of the input topic want. An error of the client rather than of a
// partition (franz-go gives those with no topic: a group it cannot join,
// a broker it cannot reach) names the input topic alone.
func fetchErrMsg(want, topic string, p int32, err error) string {
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return fmt.Sprintf("topic %s does not exist (yet): waiting for it", want)
	case p < 0 || topic == "":
		return fmt.Sprintf("fetching %s: %v", want, err)
	}
	return fmt.Sprintf("fetching %s partition %d: %v", topic, p, err)
}

// PartList is "0-3,7,9-11".
func PartList(ps []int32) string {
	var b []byte
	for i := 0; i < len(ps); {
		j := i
		for j+1 < len(ps) && ps[j+1] == ps[j]+1 {
			j++
		}
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, "%d", ps[i])
		if j > i {
			b = fmt.Appendf(b, "-%d", ps[j])
		}
		i = j + 1
	}
	if len(b) == 0 {
		return "none"
	}
	return string(b)
}

// CheckTopic returns an error naming flag unless name is a valid topic
// name.
func CheckTopic(flag, name string) error {
	if !topicName.MatchString(name) || name == "." || name == ".." {
		return fmt.Errorf("--%s %q: want 1 to 249 of a-z A-Z 0-9 . _ - (not . or ..)", flag, name)
	}
	return nil
}

// TopicPartitions returns the partition count of topic, or an error
// wrapping kerr.UnknownTopicOrPartition when it does not exist.
func TopicPartitions(ctx context.Context, adm *kadm.Client, topic string) (int, error) {
	return partitionsOf(ctx, adm, topic)
}

// ConnectLog is a kgo hook that logs each failed connection to a broker,
// at most one line per broker every few seconds (kgo retries with its own
// backoff), with the number of attempts that failed since.
//
// kgo's Client.Close does not wait for a dial in flight, whose hook can run
// after Close returns: the owner of Log calls Stop before Log's writer goes
// away, and nothing is logged after it.
type ConnectLog struct {
	Log func(msg string)
	// Mute, while true, keeps it quiet (the start, which logs its own
	// retries).
	Mute atomic.Bool

	mu      sync.Mutex
	stopped bool
	last    map[string]time.Time
	fails   map[string]int
}

// Stop waits for a line being logged and keeps the hook quiet from then on.
func (l *ConnectLog) Stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}

// connectLogEvery is how often ConnectLog logs the failures of one broker.
const connectLogEvery = 5 * time.Second

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (l *ConnectLog) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	addr := net.JoinHostPort(meta.Host, strconv.Itoa(int(meta.Port)))
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	if l.last == nil {
		l.last, l.fails = map[string]time.Time{}, map[string]int{}
	}
	if err == nil {
		if l.fails[addr] > 0 && !l.Mute.Load() {
			l.Log(fmt.Sprintf("broker %s reached again", addr))
		}
		delete(l.fails, addr)
		delete(l.last, addr)
		return
	}
	l.fails[addr]++
	if l.Mute.Load() || time.Since(l.last[addr]) < connectLogEvery {
		return
	}
	l.last[addr] = time.Now()
	l.Log(fmt.Sprintf("cannot reach Kafka broker %s: %v (attempt %d; retrying with backoff)", addr, err, l.fails[addr]))
}
