package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/cartwatch/cartwatch/core"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file is the exactly-once mode of a Consumer (ConsumerConfig.
// ExactlyOnce, `consume --exactly-once`): the group member is a franz-go
// GroupTransactSession, and everything a checkpoint covers is one
// transaction:
//
//   - A transaction is open from the start (StartSession) and between
//     checkpoints; the Sink produces the alerts, dead letters and spending
//     records with the session's client, so they are in it.
//   - At a checkpoint barrier's Done (the merger: every output before the
//     barrier has been given to the Sink, none after, and the merger waits)
//     the snapshots are produced in the transaction, the barrier's offsets
//     are made the transaction's offset commit, and End commits it; Begin
//     opens the next. Readers with isolation.level=read_committed see the
//     alerts of a checkpoint only once its snapshots and offsets are
//     committed with them, and never those of an aborted transaction.
//   - The offsets committed are the barrier's, not the polled ones
//     (franz-go's transactional client counts a partition as consumed up to
//     what was polled, which runs ahead of the engine): a
//     PreTxnCommitFnContext hook rewrites the TxnOffsetCommit.
//   - A rebalance (a revoke or a loss) while a transaction is open aborts
//     it (the session does: another member may already own the partitions
//     from the last committed offsets). The member then rewinds: whatever
//     it processed since the last committed checkpoint is thrown away, its
//     partitions get their last committed snapshots again and are read from
//     their offsets (queueRewind). Its alerts since then were in the aborted
//     transaction, so none is lost and none doubled.

// polled is one poll's records, the seek generation it was polled in (the
// poller seeks, applySeek, between polls, so a poll of an older generation
// holds records from before a rewind, which Next drops) and the fence of
// each partition in it as it was polled (a partition revoked, lost, rewound
// or assigned again since has moved on: Next drops its records).
type polled struct {
	fs     kgo.Fetches
	gen    int64
	fences map[int32]uint32 // each polled partition's fence as the poll returned (fencesOf)
}

// txnOpts are Opts for ExactlyOnce: the group member with the session's
// needs (the transactional id, read_committed, offsets committed only as
// marked), and a producer that writes the snapshots to their partition of
// the state topic (zstd, up to MaxSnapshotBytes) and everything else as the
// default partitioner does.
func (c *Consumer) txnOpts() []kgo.Opt {
	return append(c.memberOpts(),
		kgo.AutoCommitMarks(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.TransactionalID(c.cfg.TransactionalID),
		kgo.TransactionTimeout(time.Minute),
		kgo.RecordPartitioner(statePartitioner{state: c.cfg.StateTopic,
			def: kgo.UniformBytesPartitioner(64<<10, true, true, nil)}),
		kgo.ProducerBatchCompression(kgo.ZstdCompression()),
		kgo.ProducerBatchMaxBytes(MaxSnapshotBytes),
		kgo.MaxBufferedBytes(4*MaxSnapshotBytes),
	)
}

// statePartitioner puts a state-topic record in the partition it names and
// leaves the others to def.
type statePartitioner struct {
	state string
	def   kgo.Partitioner
}

func (p statePartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if topic == p.state {
		return kgo.ManualPartitioner().ForTopic(topic)
	}
	return p.def.ForTopic(topic)
}

// StartSession is Start for ExactlyOnce: the session (made with Opts) polls,
// and its first transaction begins. The caller closes the session after
// the run.
func (c *Consumer) StartSession(s *kgo.GroupTransactSession) error {
	if !c.cfg.ExactlyOnce || !c.keep() || c.cfg.TransactionalID == "" {
		return fmt.Errorf("exactly once needs a state topic and a transactional id")
	}
	c.sess = s
	c.state = s.Client() // the snapshots are in the transactions
	if err := s.Begin(); err != nil {
		return fmt.Errorf("beginning a transaction: %w", err)
	}
	return c.Start(s.Client())
}

// A checkpoint's End is bounded by the Consumer's close alone, not by a
// deadline: it waits for the brokers as long as they are away (a broker
// restarted, a coordinator moving) and as long as a rebalance lasts
// (End wants a heartbeat before it commits, and none runs while the member
// waits in the join for the others, such as one that was killed and holds
// the group until its session times out, 45 s). A deadline (30 s, then
// 90 s) failed the run in both cases (kafkatest TestFaultGroupKill and
// TestFaultBrokerRestart, exactly-once), where waiting loses nothing: no
// checkpoint can commit meanwhile anyway. franz-go's own request retries
// still end a wait for brokers that never come back, with an error that
// fails the run.

// doneTxn is Done for ExactlyOnce (the top of this file).
func (c *Consumer) doneTxn(id uint64, next map[int32]int64) {
	c.mu.Lock()
	bs := c.barriers[id]
	delete(c.barriers, id)
	rewinding := c.rewinding
	c.mu.Unlock()
	if bs == nil {
		return
	}
	start := time.Now()
	var recs []*kgo.Record
	if bs.checkpoint {
		// On the merger: the next alert must wait for this transaction's
		// end anyway (it would be in it).
		cut := c.snaps.Done(id, next)
		if !bs.abort && !rewinding && c.fatalErr() == nil {
			recs = c.snapshotRecords(bs, cut.Snapshots())
			c.noteCut(&cut)
		}
		cut.Release()
	}
	defer func() {
		if bs.waiter != nil {
			close(bs.waiter)
		}
	}()
	ctx := c.commitCtx
	if bs.abort {
		// Everything since the last committed checkpoint goes.
		if !c.abortTxn(ctx) {
			return
		}
		if !c.beginTxn(ctx) {
			return
		}
		c.mu.Lock()
		c.rewinding = false
		c.mu.Unlock()
		return
	}
	if !bs.checkpoint || rewinding || c.fatalErr() != nil {
		return
	}
	if err := c.sinkErr(); err != nil {
		c.fail(err)
		return
	}
	// The snapshots, in the transaction.
	written, err := c.writeSnapshots(recs)
	if err != nil {
		c.cfg.Log(fmt.Sprintf("%v: the transaction is aborted, rewinding to the last committed checkpoint", err))
		c.abortAndRewind(ctx)
		return
	}
	// The barrier's offsets, of the partitions whose snapshot is in the
	// transaction, are its offset commit.
	offs := map[int32]kgo.EpochOffset{}
	c.mu.Lock()
	for p, so := range bs.offs {
		if pi := c.parts[p]; pi != nil && pi.epoch == so.epoch && written[p] {
			off := so.next
			if n, ok := next[p]; ok {
				off = min(off, n)
			}
			offs[p] = kgo.EpochOffset{Epoch: so.leaderEpoch, Offset: off}
		}
	}
	c.mu.Unlock()
	c.cl.MarkCommitOffsets(map[string]map[int32]kgo.EpochOffset{c.cfg.Topic: offs})
	ctx = kgo.PreTxnCommitFnContext(ctx, func(req *kmsg.TxnOffsetCommitRequest) error {
		setTxnOffsets(req, c.cfg.Topic, offs)
		return nil
	})
	stopNote := c.waitNote("committing the checkpoint's transaction")
	committed, err := c.sess.End(ctx, kgo.TryCommit)
	stopNote()
	if err != nil {
		if c.commitCtx.Err() != nil {
			// Closed while the brokers were away: the transaction stays
			// open, the brokers abort it (the stop said the records since
			// the last commit will be read again).
			return
		}
		c.fail(fmt.Errorf("committing the transaction: %w", err))
		return
	}
	if committed {
		c.commits.Add(1)
		c.mu.Lock()
		c.lastCommit = time.Now()
		for _, r := range recs {
			c.lastSnap[r.Partition] = r.Value
		}
		c.mu.Unlock()
		c.ckptWrite.Store(int64(time.Since(start)))
	}
	if !bs.final {
		if !c.beginTxn(ctx) {
			return
		}
	}
	if !committed && !bs.final {
		c.cfg.Log("the transaction was aborted (the group rebalanced): rewinding to the last committed checkpoint")
		c.requestRewind()
	}
}

// txnWaitNote is how often waitNote says a step is still waiting.
var txnWaitNote = 30 * time.Second

// waitNote logs, every txnWaitNote until the returned stop is called, that
// the step what has not returned: a commit waits without an error of its
// own while the brokers it needs are away (End has no deadline, by design),
// and the member would otherwise go silent. Nothing is logged once stop has
// returned.
func (c *Consumer) waitNote(what string) (stop func()) {
	start := time.Now()
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	mu.Lock() // t is set before the first tick reads it
	defer mu.Unlock()
	t = time.AfterFunc(txnWaitNote, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		c.cfg.Log(fmt.Sprintf("%s: still waiting after %v (for the brokers; it goes on until they answer or the run stops)",
			what, time.Since(start).Round(time.Second)))
		t.Reset(txnWaitNote)
	})
	return func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
	}
}

// setTxnOffsets makes req commit exactly offs for topic: the barrier's
// positions rather than the polled ones.
func setTxnOffsets(req *kmsg.TxnOffsetCommitRequest, topic string, offs map[int32]kgo.EpochOffset) {
	i := slices.IndexFunc(req.Topics, func(t kmsg.TxnOffsetCommitRequestTopic) bool { return t.Topic == topic })
	if i < 0 {
		if len(offs) == 0 {
			return
		}
		t := kmsg.NewTxnOffsetCommitRequestTopic()
		t.Topic = topic
		req.Topics = append(req.Topics, t)
		i = len(req.Topics) - 1
	}
	t := &req.Topics[i]
	t.Partitions = t.Partitions[:0]
	for _, p := range slices.Sorted(maps.Keys(offs)) {
		pp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		pp.Partition, pp.Offset, pp.LeaderEpoch = p, offs[p].Offset, offs[p].Epoch
		t.Partitions = append(t.Partitions, pp)
	}
	if len(t.Partitions) == 0 {
		req.Topics = slices.Delete(req.Topics, i, i+1)
	}
}

// abortAndRewind aborts the open transaction at once (a checkpoint that
// could not be written) and rewinds.
func (c *Consumer) abortAndRewind(ctx context.Context) {
	if !c.abortTxn(ctx) {
		return
	}
	if !c.beginTxn(ctx) {
		return
	}
	c.requestRewind()
}

// Bounds of the wait between two tries of untilBrokers.
const (
	brokerRetryMin = 250 * time.Millisecond
	brokerRetryMax = 5 * time.Second
)

// abortTxn aborts the open transaction and reports whether it did; it
// waits for the brokers (untilBrokers) when they are away: a broker
// restarted, the coordinator moving. The member rides out the outage as
// the at-least-once one does, where it used to fail the run ("aborting
// the transaction: unable to dial").
//
// Trying End(TryAbort) again is franz-go's documented retry (v1.22): an
// EndTxn that failed leaves the client in its transaction (the
// in-transaction flag and the partitions added are restored) with the
// outcome marked unconfirmed and the producer id marked for reload; the
// next try re-initializes the producer id at its epoch, which makes the
// brokers abort whatever is still open under it (KIP-360), or, the
// brokers still away, leaves the reload to the next Begin. Either way
// nothing of the aborted transaction can commit: every produce and EndTxn
// after it needs the reloaded id.
func (c *Consumer) abortTxn(ctx context.Context) bool {
	return c.untilBrokers(ctx, "aborting the transaction", func() error {
		_, err := c.sess.End(ctx, kgo.TryAbort)
		return err
	})
}

// beginTxn begins the next transaction, waiting for the brokers when they
// are away: Begin re-initializes a producer id marked for reload (after an
// abort or a commit the brokers did not confirm), and a reload that fails
// stays marked, so the next try makes it again.
func (c *Consumer) beginTxn(ctx context.Context) bool {
	return c.untilBrokers(ctx, "beginning a transaction", c.sess.Begin)
}

// untilBrokers runs f until it succeeds, and reports whether it did. An
// error that is not a broker's definite refusal (a connection refused or
// closed, a retriable Kafka error that outlived franz-go's own retries)
// is tried again, with a log line and a backoff, until the Consumer
// closes; a definite refusal (a fenced producer, an authorization error)
// fails the run, as does any error before this wait existed.
//
// A Consumer closed meanwhile returns false without failing the run: the
// transaction stays open and the brokers abort it (its timeout, or the
// restarted member's InitProducerID with the same transactional id).
func (c *Consumer) untilBrokers(ctx context.Context, what string, f func() error) bool {
	err := c.retryBrokers(ctx, f, func(err error, wait time.Duration) {
		c.cfg.Log(fmt.Sprintf("%s: %v; trying again in %v (nothing commits meanwhile)", what, err, wait))
	})
	if err != nil && ctx.Err() == nil && refused(err) {
		c.fail(fmt.Errorf("%s: %w", what, err))
	}
	return err == nil
}

// retryBrokers runs f until it succeeds, the brokers refuse it (refused),
// ctx ends or the Consumer closes, saying each other failure with note and
// waiting brokerRetryMin, doubling to brokerRetryMax, before the next try.
// It returns nil, or f's last error.
func (c *Consumer) retryBrokers(ctx context.Context, f func() error, note func(err error, wait time.Duration)) error {
	for wait := brokerRetryMin; ; wait = min(2*wait, brokerRetryMax) {
		err := f()
		if err == nil || refused(err) || ctx.Err() != nil || c.isClosed() {
			return err
		}
		note(err, wait)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
	}
}

// refused reports whether err is a broker's definite refusal (a Kafka
// error that is not retriable: fenced, not authorized), which no wait
// mends.
func refused(err error) bool {
	ke, ok := errors.AsType[*kerr.Error](err)
	return ok && !ke.Retriable
}

func (c *Consumer) sinkErr() error {
	if c.cfg.SinkErr != nil {
		return c.cfg.SinkErr()
	}
	return nil
}

// requestRewind asks Next for a rewind; until its barrier passes, no
// checkpoint commits.
func (c *Consumer) requestRewind() {
	c.mu.Lock()
	c.rewinding = true
	c.mu.Unlock()
	select {
	case c.ctrl <- ctrlMsg{rewind: true}:
	case <-c.closed:
	}
}

// revokedTxn is the rebalance callback for ExactlyOnce. It must not wait
// for a checkpoint (the session holds the lock End needs while it runs),
// and it need not: the session aborts the open transaction, so the
// partitions' next owner starts from the last committed checkpoint, and
// this member rewinds the partitions it keeps.
func (c *Consumer) revokedTxn(ps []int32, lost bool) {
	c.disown(ps)
	c.mu.Lock()
	for _, p := range ps {
		delete(c.lastSnap, p)
	}
	c.rewinding = true
	c.mu.Unlock()
	if c.stopping() || c.isClosed() {
		return
	}
	what := "revoked"
	if lost {
		what = "lost"
	}
	c.cfg.Log(fmt.Sprintf("%s %s partitions %s: the open transaction is aborted; the others go back to the last committed checkpoint", what, c.cfg.Topic, PartList(ps)))
	select {
	case c.ctrl <- ctrlMsg{parts: ps, lost: true}:
	case <-c.closed:
		return
	}
	select {
	case c.ctrl <- ctrlMsg{rewind: true}:
	case <-c.closed:
	}
}

// queueRewind (Next) throws away the records and ticks not yet handed
// out, queues the barrier that aborts the open transaction, then for each
// owned partition a Drop and its last committed snapshot, and asks the
// poller to seek every owned partition to where that snapshot (or, with
// none, the assignment) starts; a sought partition's records in polls from
// before the seek are dropped (partInfo.seekGen).
func (c *Consumer) queueRewind() {
	kept := c.queue[:c.qhead]
	for _, it := range c.queue[c.qhead:] {
		switch it.kind {
		case itemData:
			c.Release(&core.Records{Values: it.vals, Offsets: it.offs})
		case itemTick:
		default:
			kept = append(kept, it)
		}
	}
	c.queue = kept
	c.queue = append(c.queue, item{kind: itemBarrier, abort: true})
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seekGen++
	seek := map[int32]kgo.EpochOffset{}
	for _, p := range c.owned {
		pi := c.parts[p]
		pi.fence++
		c.queue = append(c.queue, item{kind: itemDrop, part: p, epoch: pi.epoch})
		at, ok := c.base[p]
		if b := c.lastSnap[p]; b != nil {
			sn, err := core.DecodeSnapshot(b)
			if err != nil { // it was made by this process
				panic(fmt.Sprintf("kafka: a snapshot this member kept does not decode: %v", err))
			}
			c.queue = append(c.queue, item{kind: itemRestore, part: p, restore: b})
			at, ok = sn.Next, true
		}
		if !ok {
			pi.queuedTo = 0 // no seek: whatever comes is taken, as before a rewind
			continue
		}
		seek[p] = kgo.EpochOffset{Epoch: -1, Offset: at}
		pi.handed, pi.from, pi.queuedTo, pi.maxT, pi.seekGen = false, at, at, math.MinInt64, c.seekGen
	}
	c.seekReq = seek
}

// applySeek (the poller, between polls) makes the seek a rewind asked for
// and returns the generation of the polls from here on.
func (c *Consumer) applySeek() int64 {
	c.mu.Lock()
	seek, gen := c.seekReq, c.seekGen
	c.seekReq = nil
	c.mu.Unlock()
	if len(seek) > 0 {
		c.cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{c.cfg.Topic: seek})
	}
	return gen
}

// assignBase notes, for ExactlyOnce, where each assigned partition starts
// when it has no snapshot: its committed offset, else the log's start
// (ConsumeResetOffset). A rewind seeks there.
func (c *Consumer) assignBase(ctx context.Context, cl *kgo.Client, ps []int32) error {
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, c.cfg.Topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("start offsets of %s: %w", c.cfg.Topic, err)
	}
	committed, err := adm.FetchOffsets(ctx, c.cfg.Group)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		return fmt.Errorf("committed offsets of group %s: %w", c.cfg.Group, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range ps {
		delete(c.lastSnap, p)
		at := int64(0)
		if o, ok := starts.Lookup(c.cfg.Topic, p); ok {
			at = o.Offset
		}
		if o, ok := committed.Lookup(c.cfg.Topic, p); ok && o.At >= 0 {
			at = max(at, o.At)
		}
		c.base[p] = at
	}
	return nil
}
