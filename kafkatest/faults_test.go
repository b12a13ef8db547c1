package kafkatest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cartwatch/cartwatch/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The fault matrix (issue 14, point 2; make test-faults): `cartwatch
// consume` on the real sample, produced at a steady pace while it runs,
// and one fault injected once the group has committed a given share of
// the records (the kill point: 25, 50 or 75 %), at least once and with
// --exactly-once. The alerts read back (read_committed) are counted
// against `cartwatch run --at-eof keep` on the same rows: lost (expected,
// never seen), doubled (seen again under an alert_id already seen: 0 with
// --exactly-once and after a SIGTERM; without them a repeat must be the
// same alert), extra (seen, never expected). Each run appends its record
// as one JSON line to the file $CARTWATCH_FAULT_LOG names (when set);
// bench/cmd/faults builds results/reliability.md's table from them.

// faultRecord is one run of the matrix, as a line of $CARTWATCH_FAULT_LOG.
type faultRecord struct {
	Fault     string `json:"fault"`
	Mode      string `json:"mode"` // at-least-once or exactly-once
	Brokers   int    `json:"brokers"`
	KillPoint string `json:"kill_point"` // share of the records committed when the fault came
	// CommittedAtFault is the records committed when the fault came.
	CommittedAtFault int64 `json:"committed_at_fault"`
	Events           int   `json:"events"`
	Expected         int   `json:"alerts_expected"`
	Seen             int   `json:"alerts_seen"`
	Lost             int   `json:"lost"`
	Doubled          int   `json:"doubled"`
	Extra            int   `json:"extra"`
	// RecoveryMS is from the fault to the first offset commit after it on
	// a partition the fault hit (-1: none before every offset was in).
	RecoveryMS int64  `json:"recovery_ms"`
	RecoveryBy string `json:"recovery_by"`
	// BrokerBackMS, for the broker restart, is from the fault to the
	// broker answering again (kafka.sh start returned): the part of the
	// recovery that is the broker's.
	BrokerBackMS int64 `json:"broker_back_ms,omitempty"`
	Restored     bool  `json:"restored"` // a "restored partition" line after the fault
	Failed       bool  `json:"failed"`
}

var faultLogMu sync.Mutex

// logFault appends r to $CARTWATCH_FAULT_LOG.
func logFault(t *testing.T, r faultRecord) {
	t.Helper()
	b, _ := json.Marshal(r)
	t.Logf("fault record: %s", b)
	path := os.Getenv("CARTWATCH_FAULT_LOG")
	if path == "" {
		return
	}
	faultLogMu.Lock()
	defer faultLogMu.Unlock()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Errorf("CARTWATCH_FAULT_LOG: %v", err)
		return
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		t.Errorf("CARTWATCH_FAULT_LOG: %v", err)
	}
}

// needNodes is need for tests that run in one phase only: the fault
// matrix's cases each have their cluster size.
func needNodes(t *testing.T, n int) cluster {
	t.Helper()
	c := need(t, n)
	if c.nodes != n {
		t.Skipf("runs in the %d-node phase (this one has %d)", n, c.nodes)
	}
	return c
}

// The faults.
const (
	faultConsumerKill = "consumer kill -9, restart"
	faultSIGTERM      = "consumer SIGTERM, restart"
	faultGroupKill    = "1 of 2 members kill -9, a 3rd joins"
	faultBrokerStop   = "broker restart (1 node)"
	faultBrokerKill   = "1 of 3 brokers kill -9"
)

var killPointShares = []int{25, 50, 75}

// faultMatrix runs fault at every kill point, at least once and exactly
// once; parallel runs (independent topics and groups on one cluster) for
// the consumer faults, one after the other for the broker's.
func faultMatrix(t *testing.T, fault string, nodes int, parallel bool) {
	c := needNodes(t, nodes)
	want := sampleRun(t, "5m")
	keys, vals := sampleValues(t)
	for _, eos := range []bool{false, true} {
		for _, share := range killPointShares {
			mode := "at-least-once"
			if eos {
				mode = "exactly-once"
			}
			t.Run(fmt.Sprintf("%s/%d%%", mode, share), func(t *testing.T) {
				if parallel {
					t.Parallel()
				}
				f := &faultRun{t: t, c: c, fault: fault, eos: eos, share: share, keys: keys, vals: vals, want: want}
				f.run()
			})
		}
	}
}

// TestFaultConsumerKill: the member killed with SIGKILL once the kill
// point is committed, started again at once with the same --instance-id
// (and, with --exactly-once, --transactional-id): it takes the partitions
// back at once (static membership), restored from their snapshots.
func TestFaultConsumerKill(t *testing.T) { faultMatrix(t, faultConsumerKill, 1, true) }

// TestFaultSIGTERM: the member stopped with SIGTERM at the kill point
// exits 0 within 10 s, having drained and committed what it processed
// (nothing is doubled, also at least once), and its restart restores it.
func TestFaultSIGTERM(t *testing.T) { faultMatrix(t, faultSIGTERM, 1, true) }

// TestFaultGroupKill: two members share the partitions; one is killed
// with SIGKILL at the kill point and a third joins: the killed member's
// partitions move to the other two, restored from their snapshots.
func TestFaultGroupKill(t *testing.T) { faultMatrix(t, faultGroupKill, 1, true) }

// TestFaultBrokerRestart: the single broker stopped and started again at
// the kill point while the records flow: producer and member retry.
func TestFaultBrokerRestart(t *testing.T) { faultMatrix(t, faultBrokerStop, 1, false) }

// TestFaultBrokerKill: on the 3-node cluster (every topic with replication
// factor 3 and min.insync.replicas 2) the broker leading input partition 0
// is killed with SIGKILL at the kill point; it is started again after the
// run.
func TestFaultBrokerKill(t *testing.T) { faultMatrix(t, faultBrokerKill, 3, false) }

// faultRun is one run of the matrix.
type faultRun struct {
	t          *testing.T
	c          cluster
	adm        *kadm.Client
	fault      string
	eos        bool
	share      int
	keys       []string
	vals       [][]byte
	want       []string
	topic      string
	alerts     string
	group      string
	partitions int32
}

const faultPartitions = 6

func (f *faultRun) run() {
	t, c := f.t, f.c
	f.adm = kadm.NewClient(c.client(t))
	f.partitions = faultPartitions
	rf := int16(1)
	if c.nodes >= 3 {
		rf = 3
	}
	f.topics(rf)
	// --idle-timeout 1h: a fault stalls partitions for 10 to 60 s, past
	// the default 10 s after which a partition's time follows the others'
	// (or the wall clock, all being idle): carts would then fall due early
	// and the alerts differ from run's by the contract's idle rule, not by
	// a fault (the ALO broker kill gave 6 such alerts with no restore).
	args := []string{"--topic", f.topic, "--group", f.group, "--alerts-topic", f.alerts, "--ttl", "5m",
		"--checkpoint-interval", "1s", "--idle-timeout", "1h", "--replication-factor", strconv.Itoa(int(rf))}
	// Each member is static (--instance-id) with the default
	// --session-timeout (10 s); a member started again after a kill or a
	// SIGTERM has the old one's ids (id), so it takes the partitions back
	// at once and, with --exactly-once, fences the old transaction.
	member := func(name, id string) *consumeProc {
		a := append(slices.Clone(args), "--instance-id", f.group+"-"+id)
		if f.eos {
			a = append(a, "--exactly-once", "--transactional-id", f.group+"-"+id)
		}
		return startConsume(t, c, name, a...)
	}

	rec := faultRecord{Fault: f.fault, Mode: "at-least-once", Brokers: c.nodes, KillPoint: fmt.Sprintf("%d%%", f.share),
		Events: len(f.vals), Expected: len(f.want), RecoveryMS: -1, RecoveryBy: "offset commit"}
	if f.eos {
		rec.Mode = "exactly-once"
	}
	// Also when the run stops early (a member that exited, a commit that
	// never came): a failed run with the counts it got to.
	defer func() {
		rec.Failed = t.Failed()
		logFault(t, rec)
	}()

	// The members, each with its state set up, before the first record.
	var procs []*consumeProc // those running at the end
	var victim *consumeProc  // the one the fault hits
	hit := map[int32]bool{}  // the partitions whose commits measure the recovery
	for p := range f.partitions {
		hit[p] = true
	}
	switch f.fault {
	case faultGroupKill:
		a := member("A", "A")
		a.waitStderr(t, 60*time.Second, "they start empty")
		aID := f.soleMember()
		b := member("B", "B")
		assigned := f.waitSplit(2)
		hit = map[int32]bool{}
		for id, ps := range assigned {
			if id != aID {
				for _, p := range ps {
					hit[p] = true
				}
			}
		}
		procs, victim = []*consumeProc{a}, b
	default:
		p := member("first", "first")
		p.waitStderr(t, 60*time.Second, "they start empty")
		victim = p
		if f.fault == faultBrokerStop || f.fault == faultBrokerKill {
			procs = []*consumeProc{p}
		}
	}

	prod := f.produce()
	point := int64(len(f.vals)) * int64(f.share) / 100
	waitFor(t, 90*time.Second, fmt.Sprintf("%d records committed (the kill point)", point), func() error {
		if n := sum(f.committed(nil)); n < point {
			return fmt.Errorf("%d committed", n)
		}
		return nil
	})

	// The fault. at is when it came, base the committed offsets the
	// recovery is measured from.
	var at time.Time
	var base map[int32]int64
	killedBroker := ""
	restoredBefore := map[*consumeProc]int{}
	for _, p := range procs {
		restoredBefore[p] = strings.Count(p.stderr.String(), "restored partition")
	}
	switch f.fault {
	case faultConsumerKill, faultGroupKill:
		base, at = f.base(), time.Now()
		if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-victim.done
		victim.done <- nil
	case faultSIGTERM:
		at = time.Now()
		victim.stop(t) // exit 0 within 10 s
		// Its last commit (the drain's) is the base: the restart's first
		// commit is the recovery.
		base = f.base()
	case faultBrokerStop, faultBrokerKill:
		if f.fault == faultBrokerKill {
			killedBroker = strconv.Itoa(int(leaderOf(t, f.adm, f.topic, 0)))
		}
		base, at = f.base(), time.Now()
	}
	rec.CommittedAtFault = sum(base)
	// A fault that came after the last record was committed (the kill
	// point polled late on a loaded machine) has nothing to recover from:
	// no commit follows it, and the run checks the alerts only.
	late := rec.CommittedAtFault >= int64(len(f.vals))
	recovered := make(chan time.Duration, 1)
	go func() {
		defer close(recovered)
		if late {
			return
		}
		deadline := at.Add(4 * time.Minute)
		for time.Now().Before(deadline) {
			now := f.committed(hit)
			for p, o := range now {
				if b, ok := base[p]; ok && o > b || !ok && o > 0 {
					recovered <- time.Since(at)
					return
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	switch f.fault {
	case faultConsumerKill, faultSIGTERM:
		procs = append(procs, member("restarted", "first"))
	case faultGroupKill:
		procs = append(procs, member("C", "C"))
	case faultBrokerStop:
		// Down for a few seconds while the records keep coming.
		f.ctl("stop", "1")
		time.Sleep(2 * time.Second)
		f.ctl("start", "1")
		rec.BrokerBackMS = time.Since(at).Milliseconds()
	case faultBrokerKill:
		f.ctl("kill", killedBroker)
	}

	if err := prod.wait(); err != nil {
		t.Errorf("producing the sample through the fault: %v", err)
	}
	ends := f.endOffsets()
	// A member killed and not started again holds its partitions until
	// its session times out (10 s); with --exactly-once its open
	// transaction is aborted after the transaction timeout (1 minute)
	// unless its id comes back.
	waitCommitted(t, f.adm, f.group, f.topic, ends, 3*time.Minute)
	if d, ok := <-recovered; ok {
		rec.RecoveryMS = d.Milliseconds()
	}
	// SIGTERM before the killed broker comes back: its return moves
	// leaders and coordinators, and a stop that cannot commit within its
	// bound exits 1 (seen with --exactly-once; results/reliability.md).
	for _, p := range procs {
		p.stop(t)
	}
	if killedBroker != "" {
		f.ctl("start", killedBroker)
		waitFor(t, 90*time.Second, "broker "+killedBroker+" back in every ISR", func() error {
			return fullISR(f.adm, f.topic, 3, nil)
		})
	}
	for _, p := range procs {
		// restoredBefore has no entry for the members started after the fault.
		if strings.Count(p.stderr.String(), "restored partition") > restoredBefore[p] {
			rec.Restored = true
		}
	}

	// The alerts, read_committed.
	var recs []*kgo.Record
	consumeAll(t, c, f.alerts, endOffsets(t, f.adm, f.alerts), 2*time.Minute, func(r *kgo.Record) {
		if !r.Attrs.IsControl() {
			recs = append(recs, r)
		}
	}, kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	got := alertSet(t, recs)
	ids := map[string]string{} // alert_id -> the alert
	distinct := map[string]int{}
	for i, r := range recs {
		var m struct {
			ID string `json:"alert_id"`
		}
		json.Unmarshal(r.Value, &m)
		if m.ID == "" {
			t.Errorf("alert %s: no alert_id", r.Value)
		}
		if prev, ok := ids[m.ID]; ok {
			rec.Doubled++
			if prev != got[i] {
				t.Errorf("alert_id %s on two alerts:\n%s\n%s", m.ID, prev, got[i])
			}
			continue
		}
		ids[m.ID] = got[i]
		distinct[got[i]]++
	}
	expected := map[string]int{}
	for _, w := range f.want {
		expected[w]++
	}
	for a, n := range expected {
		rec.Lost += max(0, n-distinct[a])
	}
	for a, n := range distinct {
		rec.Extra += max(0, n-expected[a])
	}
	rec.Seen = len(recs)

	switch {
	case rec.Lost > 0 || rec.Extra > 0:
		t.Errorf("%d alerts lost, %d extra (of %d expected, %d seen)", rec.Lost, rec.Extra, rec.Expected, rec.Seen)
	case rec.Doubled > 0 && (f.eos || f.fault == faultSIGTERM):
		t.Errorf("%d alerts doubled", rec.Doubled)
	}
	if t.Failed() {
		// Every alert read back, in its partition's order, marked: what
		// is not expected (+), what repeats an alert_id (2x).
		seenID := map[string]bool{}
		for i, r := range recs {
			var m struct {
				ID string `json:"alert_id"`
			}
			json.Unmarshal(r.Value, &m)
			mark := "  "
			switch {
			case seenID[m.ID]:
				mark = "2x"
			case expected[got[i]] == 0:
				mark = "+ "
			}
			seenID[m.ID] = true
			t.Logf("%s alerts/%d@%d %s", mark, r.Partition, r.Offset, r.Value)
		}
	}
	if (f.fault == faultConsumerKill || f.fault == faultSIGTERM || f.fault == faultGroupKill) && !rec.Restored {
		t.Errorf("no member restored a partition after the fault")
	}
	switch {
	case late:
		t.Logf("the fault came after the last record was committed: no recovery to measure")
	case rec.RecoveryMS < 0:
		t.Errorf("no offset commit on the partitions the fault hit (%v) after it", hit)
	}
}

// topics makes the run's input topic and names its alerts topic and
// group. With replication factor 3 the input, alerts and state topics are
// made here with min.insync.replicas=2 (consume would make the last two
// with the brokers' default, 1).
func (f *faultRun) topics(rf int16) {
	t := f.t
	if rf == 1 {
		f.topic, f.alerts, f.group = testNames(t, f.adm, "fault", f.partitions)
		return
	}
	two := "2"
	f.topic = createTopic(t, f.adm, "fault", f.partitions, rf, map[string]*string{"min.insync.replicas": &two})
	f.alerts, f.group = f.topic+"-alerts", f.topic+"-group"
	state := f.group + "-state"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		f.adm.DeleteTopics(ctx, f.alerts, f.topic+".dlq", state)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := kafka.EnsureTopic(ctx, f.adm, f.alerts, f.partitions, rf); err != nil {
		t.Fatal(err)
	}
	if _, err := kafka.EnsureStateTopic(ctx, f.adm, state, f.partitions, rf); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{f.alerts, state} {
		r, err := f.adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "min.insync.replicas", Value: &two}}, topic)
		if err == nil {
			_, err = r.On(topic, nil)
		}
		if err != nil {
			t.Fatalf("min.insync.replicas=2 on %s: %v", topic, err)
		}
	}
}

// endOffsets is endOffsets, asked again while a broker is away (the admin
// client still tries the one that was killed until its metadata moves on).
func (f *faultRun) endOffsets() map[int32]int64 {
	var out map[int32]int64
	waitFor(f.t, 60*time.Second, "the end offsets of "+f.topic, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		lo, err := f.adm.ListEndOffsets(ctx, f.topic)
		if err == nil {
			err = lo.Error()
		}
		if err != nil {
			return err
		}
		out = map[int32]int64{}
		lo.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
		return nil
	})
	return out
}

// committed returns the group's committed offsets on the input topic's
// partitions in only (nil: all); none when they cannot be read (a broker
// down), and without a partition whose offset is unstable (a transaction
// that commits it is still open).
func (f *faultRun) committed(only map[int32]bool) map[int32]int64 {
	out, _ := f.committedAll(only)
	return out
}

// committedAll is committed, and whether every partition with an offset
// could be read.
func (f *faultRun) committedAll(only map[int32]bool) (map[int32]int64, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	os, err := f.adm.FetchOffsets(ctx, f.group)
	out := map[int32]int64{}
	if err != nil {
		return out, false
	}
	all := true
	os.Each(func(o kadm.OffsetResponse) {
		if o.Topic != f.topic || only != nil && !only[o.Partition] {
			return
		}
		if o.Err != nil {
			all = false
			return
		}
		out[o.Partition] = o.At
	})
	return out, all
}

// base is the committed offsets the recovery is measured from: read again
// until no partition's is unstable, so that the commit of a transaction
// open at the fault does not count as one after it.
func (f *faultRun) base() map[int32]int64 {
	var out map[int32]int64
	waitFor(f.t, 30*time.Second, "stable committed offsets", func() error {
		var all bool
		if out, all = f.committedAll(nil); !all {
			return fmt.Errorf("some unstable or unreadable: %v", out)
		}
		return nil
	})
	return out
}

func sum(m map[int32]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// soleMember waits until the group has one member and returns its id.
func (f *faultRun) soleMember() string {
	var id string
	waitFor(f.t, 60*time.Second, "the group's first member", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		gs, err := f.adm.DescribeGroups(ctx, f.group)
		if err != nil {
			return err
		}
		g := gs[f.group]
		if g.State != "Stable" || len(g.Members) != 1 {
			return fmt.Errorf("state %s, %d members", g.State, len(g.Members))
		}
		id = g.Members[0].MemberID
		return nil
	})
	return id
}

// waitSplit waits until the group is stable with n members, each holding
// some of the partitions, and returns each member's.
func (f *faultRun) waitSplit(n int) map[string][]int32 {
	var out map[string][]int32
	waitFor(f.t, 90*time.Second, fmt.Sprintf("the group to split the partitions among %d members", n), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		gs, err := f.adm.DescribeGroups(ctx, f.group)
		if err != nil {
			return err
		}
		g := gs[f.group]
		if g.State != "Stable" || len(g.Members) != n {
			return fmt.Errorf("state %s, %d members", g.State, len(g.Members))
		}
		out = map[string][]int32{}
		total := 0
		for _, m := range g.Members {
			ca, ok := m.Assigned.AsConsumer()
			if !ok {
				return fmt.Errorf("member %s: no consumer assignment", m.MemberID)
			}
			for _, tp := range ca.Topics {
				out[m.MemberID] = append(out[m.MemberID], tp.Partitions...)
			}
			if len(out[m.MemberID]) == 0 {
				return fmt.Errorf("member %s holds no partition", m.MemberID)
			}
			total += len(out[m.MemberID])
		}
		if total != int(f.partitions) {
			return fmt.Errorf("%d of %d partitions assigned", total, f.partitions)
		}
		return nil
	})
	return out
}

// ctl runs kafka.sh with args ("stop 1").
func (f *faultRun) ctl(args ...string) { f.c.ctlRun(f.t, args...) }

// pacedProducer writes the sample in order while the member runs.
type pacedProducer struct {
	done chan error
}

func (p *pacedProducer) wait() error { return <-p.done }

// produce writes the sample's rows to the input topic, keyed by user_id,
// 100 every 100 ms (10 s for the sample), each batch acknowledged (acks=all,
// retried through broker faults) before the next.
func (f *faultRun) produce() *pacedProducer {
	cl := f.c.client(f.t, kgo.DefaultProduceTopic(f.topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	p := &pacedProducer{done: make(chan error, 1)}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		const batch = 100
		for i := 0; i < len(f.vals); i += batch {
			<-tick.C
			var recs []*kgo.Record
			for j := i; j < min(i+batch, len(f.vals)); j++ {
				recs = append(recs, &kgo.Record{Key: []byte(f.keys[j]), Value: f.vals[j]})
			}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				p.done <- fmt.Errorf("rows %d..: %w", i, err)
				return
			}
		}
		p.done <- nil
	}()
	return p
}
