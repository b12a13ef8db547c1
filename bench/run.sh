#!/usr/bin/env bash
# make bench: builds, generates the inputs, runs the suites and writes the perf report.
#
#   ./bench/run.sh                every suite of the report, then results/REPORT.md
#   ./bench/run.sh wheel engine   only the named suites (make bench SUITES="wheel engine")
#   QUICK=1 ./bench/run.sh        small inputs and short suites (<= 5 minutes on 2 cores),
#                                 every section present; the report is not one to quote
#   REPORT_DIR=/tmp/r ./bench/run.sh   the report elsewhere than results/ (CI's quick run)
#   ADD_TO=.cache/bench/run-DATE ./bench/run.sh kafka
#                                 adds the named suites to that earlier run (which must not have
#                                 them) and writes the report of the whole: the header names
#                                 each addition's date, commit and load (make bench SUITES=kafka
#                                 ADD_TO=DIR)
#
# Inputs: loadgen's synthetic month, its first day and first week (seed 1), cached under
# .cache/bench/ with the scale and seed in the name (QUICK: 1 % of the volume). Each suite is
# bench/<name>.sh; it prints what it measured with the command to reproduce it, and appends its
# figures (every sample, median, min-max, peak RSS, command) to the run directory $BENCH_OUT
# through bench/cmd/record. bench/cmd/report turns the directory into REPORT_DIR/REPORT.md,
# report.json and charts/*.svg, and the JSON is kept as REPORT_DIR/runs/DATE-COMMIT.json for
# go run ./bench/cmd/compare OLD.json NEW.json. A suite that fails is named in the report's
# notes; the report is still written, and run.sh exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
all=(peers scaling engine wheel kafka)
extra=(loadgen kafka-perf) # runnable by name, not part of the report's default run
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=("${all[@]}")
for s in "${suites[@]}"; do
  if [ ! -x "bench/$s.sh" ]; then
    echo "bench: unknown suite '$s' (have: ${all[*]} ${extra[*]})" >&2
    exit 2
  fi
done
quick=${QUICK:-}
[ "$quick" = 0 ] && quick=""
report_dir=${REPORT_DIR:-results}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
add_to=${ADD_TO:-}
if [ -n "$add_to" ]; then
  if [ -n "$quick" ]; then
    echo "bench: ADD_TO adds to a full run; QUICK=1 would mix quick figures into it" >&2
    exit 2
  fi
  if [ ! -f "$add_to/meta.json" ]; then
    echo "bench: ADD_TO=$add_to is not a run directory of make bench (no meta.json)" >&2
    exit 2
  fi
  for s in "${suites[@]}"; do
    if [ -e "$add_to/$s.jsonl" ]; then
      echo "bench: $add_to already has suite $s ($s.jsonl); adding it again would mix two runs" >&2
      exit 2
    fi
  done
  export BENCH_OUT=$(cd "$add_to" && pwd)
fi
export BENCH_OUT=${BENCH_OUT:-$PWD/.cache/bench/run-$stamp}
mkdir -p "$BENCH_OUT" .cache/bench bin
go build -buildvcs=auto -o bin/ ./cmd/... ./bench/cmd/record ./bench/cmd/report
export RECORD=$PWD/bin/record

# The inputs: the first day, the first week and the month, at full or 1 % volume.
seed=1 scale=1
[ -n "$quick" ] && scale=0.01
inputs=()
for spec in day:1 week:7 month:30; do
  name=${spec%%:*} days=${spec#*:}
  f=.cache/bench/$name-scale$scale-seed$seed.csv
  if [ ! -s "$f" ]; then
    echo "bench: generating $f (loadgen generate --days $days --scale $scale --seed $seed)"
    ./bin/loadgen generate --days "$days" --scale "$scale" --seed "$seed" -o "$f.tmp"
    mv "$f.tmp" "$f"
  fi
  inputs+=("$name=$PWD/$f")
done
export BENCH_INPUTS="${inputs[*]}"
week=${inputs[1]#*=}

versions=()
if v=$(./deploy/kafka/kafka.sh version 2>/dev/null); then versions+=(-version "kafka=$v"); fi
[ -f bench/peers/duckdb/run.sh ] && versions+=(-version "duckdb=$(sed -n 's/^version=//p' bench/peers/duckdb/run.sh)")
[ -f bench/peers/flink/pom.xml ] && versions+=(-version "flink=$(sed -n 's:.*<flink.version>\(.*\)</flink.version>.*:\1:p' bench/peers/flink/pom.xml)")
java_v=$(java -version 2>&1 | head -1 || true)
[ -n "$java_v" ] && versions+=(-version "java=$java_v")
# The suites' knobs given in the environment are part of the command that made the report.
knobs=""
for v in ROUNDS REPS DAYS SCALE E2E_SECONDS RATE KAFKA_PEERS PEER_REPS PEER_TTL; do
  [ -z "${!v:-}" ] || knobs+="$v=\"${!v}\" "
done
cmd="${knobs}make bench${quick:+ QUICK=1}${*:+ SUITES=\"$*\"}"
if [ -n "$add_to" ]; then
  part=(part -cmd "$cmd ADD_TO=$add_to" "${versions[@]}")
  for s in "${suites[@]}"; do part+=(-suite "$s"); done
  "$RECORD" "${part[@]}"
else
  meta=(meta -cmd "$cmd" "${versions[@]}")
  [ -n "$quick" ] && meta+=(-quick)
  for i in "${inputs[@]}"; do meta+=(-input "$i"); done
  "$RECORD" "${meta[@]}"
fi

failed=()
for s in "${suites[@]}"; do
  echo "== bench/$s.sh ($(date -u +%H:%M:%S))"
  env=()
  case $s in
    peers) [ -n "$quick" ] && env+=(HEAVY_LARGEST=1) ;;
    scaling) env+=(CSV="$week" NAME=week) ;;
    engine) env+=(CSV="${inputs[2]#*=}") ; [ -n "$quick" ] && env+=(QUICK=1 RUNS=5 COUNT=5) ;;
    wheel) [ -n "$quick" ] && env+=(COUNT=5 BENCH='Cart/n=1k|ScheduleCancel/n=1k|IdleAdvance') ;;
    kafka) [ -n "$quick" ] && env+=(REPS=5 DAYS=1 SCALE=0.02 E2E_SECONDS=15 RATE=5000 KAFKA_PEERS=quixstreams PEER_REPS=2) ;;
  esac
  if ! env ${env[@]+"${env[@]}"} "./bench/$s.sh"; then
    failed+=("$s")
    "$RECORD" note "bench/$s.sh failed: its figures are missing or partial (see make bench's output)"
  fi
done

mkdir -p "$report_dir/runs"
./bin/report -run "$BENCH_OUT" -md "$report_dir/REPORT.md" -json "$report_dir/report.json" -charts "$report_dir/charts"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
cp "$report_dir/report.json" "$report_dir/runs/$stamp-$commit${quick:+-quick}.json"
echo "bench: wrote $report_dir/REPORT.md, $report_dir/report.json, $report_dir/charts/ and $report_dir/runs/$stamp-$commit${quick:+-quick}.json (figures in $BENCH_OUT)"
if [ ${#failed[@]} -gt 0 ]; then
  echo "bench: failed suites: ${failed[*]}" >&2
  exit 1
fi
