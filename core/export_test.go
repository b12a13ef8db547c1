package core

// Test-only access for the external benchmarks in engine_bench_test.go.

// UserTable exposes the shard's session table to benchmarks.
type UserTable struct{ t *userTable }

func NewUserTable(hint int) UserTable { return UserTable{newUserTable(hint)} }

// Touch does what the engine does for one cart or purchase: find or insert
// the user, then update the record in place.
func (u UserTable) Touch(uid uint64, cents int64) {
	r := u.t.upsert(uid, HashUser(uid))
	r.spending += cents
	r.flags |= recPurchaser
}

// Lookup does what the engine does when a deadline fires.
func (u UserTable) Lookup(uid uint64) bool {
	r := u.t.find(uid, HashUser(uid))
	if r == nil {
		return false
	}
	r.flags &^= recPurchaser
	return true
}

// UserRec is the record the other tables in the benchmark store.
type UserRec = userRec

// TouchRec and UntouchRec are the record updates of Touch and Lookup, for
// the other maps of the benchmark.
func TouchRec(r *UserRec) { r.spending += 100; r.flags |= recPurchaser }

func UntouchRec(r *UserRec) { r.flags &^= recPurchaser }

// WithChannels returns opt with the shard hand-off over channels instead of
// rings (the baseline of BenchmarkEngine and BenchmarkEngineHandoff).
func WithChannels(opt Options) Options { opt.useChan = true; return opt }
