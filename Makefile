# cartwatch: make run (the main job on the built-in default), make test.
GO       ?= go
BIN      := bin
# Concurrent packages (and the wheel, which the shards drive): tested under the race detector.
RACE_PKGS := ./core/... ./cmd/... ./wheel/... ./loadgen/... ./kafka/... ./dash/...
# kafkatest/ runs (with -race) in test-kafka, which starts the brokers it needs;
# without them it fails under CI=true, so test-unit leaves it out.
UNIT_PKGS = $$($(GO) list ./... | grep -v '/kafkatest$$')

.PHONY: all build run test test-unit test-kafka test-faults bench peers-check peers-kafka-check fmt fmt-check vet lint staticcheck tidy-check kafka-up kafka-down clean

all: build

build:
	$(GO) build -buildvcs=auto -o $(BIN)/ ./cmd/...

## run: cartwatch on the full synthetic 2019-Nov month, printing the summary.
run: build
	./$(BIN)/cartwatch run --synthetic

## test: vet, gofmt check, go.mod tidiness, staticcheck, unit tests (race detector on the
## concurrent packages), the integration tests against a real Kafka broker and the whole fault
## matrix (~20 min: nothing lost, wrong or, with --exactly-once, doubled under any fault;
## results/reliability.md, docs/semantics.md "Faults").
test: lint test-unit test-kafka test-faults

test-unit:
	$(GO) test -count=1 $(UNIT_PKGS)
	$(GO) test -count=1 -race $(RACE_PKGS)

# Starts the real brokers the Kafka integration tests need and stops them after.
test-kafka:
	KAFKA_TEST_SKIP='^TestFault' ./deploy/kafka/test.sh

# The fault matrix (kafkatest/faults_test.go) on its own brokers: consumer kill -9, SIGTERM,
# a group member killed, the broker restarted (1 node), a broker killed (3 nodes), each at 3 kill
# points, at least once and exactly once. FAULT_LOG=FILE appends each run's JSON record there;
# go run ./bench/cmd/faults FILE prints results/reliability.md's table.
FAULT_LOG ?=
test-faults:
	CARTWATCH_FAULT_LOG=$(if $(FAULT_LOG),$(abspath $(FAULT_LOG))) KAFKA_TEST_RUN='^TestFault' GO_TEST_FLAGS="-parallel 6 -timeout 40m $(GO_TEST_FLAGS)" ./deploy/kafka/test.sh

# make bench: the perf report (results/REPORT.md, report.json, charts/, runs/); bench/run.sh.
# make bench QUICK=1: small inputs, <= 5 minutes; REPORT_DIR=DIR writes the report there;
# SUITES="kafka" ADD_TO=.cache/bench/run-DATE adds suites to an earlier run and reports the whole.
# make bench SUITES="wheel engine" runs only those suites (and reports them).
bench:
	QUICK=$(QUICK) REPORT_DIR=$(REPORT_DIR) ADD_TO=$(ADD_TO) ./bench/run.sh $(SUITES)

# Every peer of bench/peers (Go baseline, DuckDB, Flink) against cartwatch on the sample and a
# synthetic day at --ttl 5m and 30m; fetches DuckDB (PyPI) and Flink (Maven Central) on first use.
peers-check:
	./bench/peers/check.sh $(PEERS)

# The Kafka peers (QuixStreams, Flink's Kafka variant) beside cartwatch consume on one topic of a
# local broker it starts and stops (the sample and a synthetic day, --ttl 5m), under
# /work/bench.lock when that file exists; fetches QuixStreams (PyPI) and Flink on first use.
BENCH_LOCK ?= $(wildcard /work/bench.lock)
peers-kafka-check:
	BENCH_LOCK=$(BENCH_LOCK) ./bench/peers/kafka-check.sh $(PEERS)

fmt:
	gofmt -w .

fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# staticcheck, pinned, from the Go module proxy (no install step needed).
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint: vet fmt-check tidy-check staticcheck

staticcheck:
	$(STATICCHECK) ./...

tidy-check:
	@cp go.mod /tmp/cartwatch.go.mod.bak; cp go.sum /tmp/cartwatch.go.sum.bak 2>/dev/null || true; \
	$(GO) mod tidy; \
	if ! cmp -s go.mod /tmp/cartwatch.go.mod.bak || ! cmp -s go.sum /tmp/cartwatch.go.sum.bak; then \
	  echo "go mod tidy changed go.mod/go.sum: run 'go mod tidy' and commit"; \
	  cp /tmp/cartwatch.go.mod.bak go.mod; cp /tmp/cartwatch.go.sum.bak go.sum; exit 1; fi

N ?= 1
kafka-up:
	./deploy/kafka/kafka.sh up $(N)

kafka-down:
	./deploy/kafka/kafka.sh down

clean:
	rm -rf $(BIN)
