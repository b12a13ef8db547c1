#!/usr/bin/env bash
# bench/peers/kafka-check.sh (make peers-kafka-check): the Kafka peers on one topic of one local
# broker, side by side with cartwatch. Starts a broker (deploy/kafka/kafka.sh up 1 in a temp
# KAFKA_RUN_DIR, first port KAFKA_PORT_BASE, default 29692), and for the real sample
# (../shared/data, read only; skipped with a note when absent, an error under CI=true) and a
# synthetic day (loadgen generate --days 1, written once to .cache/peers/data/day1.csv):
#
#   1. cartwatch produce FILE into a new 12-partition topic (JSON values, keyed by user_id);
#   2. cartwatch run FILE --ttl TTL: the true answer (bench/peers/cartwatch/run.sh);
#   3. cartwatch consume --until-end on the topic: its records/s from the first record to the
#      end offsets, wall time and peak RSS of the process;
#   4. each peer (default: quixstreams flink) with --topic --brokers --ttl TTL: quixstreams
#      compared in --recall mode (how many of the true abandoned carts it reports), flink exactly;
#
# then stops the broker. TTL is 5m (the prototype's window; TTL=30m for another). Prints one
# table per input; fails when a peer's answer is not equal (recall mode: not the same events).
# With BENCH_LOCK=FILE the whole run holds flock FILE (the Makefile passes /work/bench.lock when
# it exists), so no other timing run shares the cores.
#
#   bench/peers/kafka-check.sh [PEER...]     KEEP=1: keep the answers and logs (printed path)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
if [ -n "${BENCH_LOCK:-}" ] && [ -z "${BENCH_LOCKED:-}" ]; then
  export BENCH_LOCKED=1
  exec flock "$BENCH_LOCK" "$0" "$@"
fi
peers=("$@")
[ ${#peers[@]} -gt 0 ] || peers=(quixstreams flink)
ttl=${TTL:-5m}
ctl=$root/deploy/kafka/kafka.sh

work=$(mktemp -d "${TMPDIR:-/tmp}/cartwatch-peers-kafka.XXXXXX")
export KAFKA_RUN_DIR=$work/kafka KAFKA_PORT_BASE=${KAFKA_PORT_BASE:-29692}
mkdir -p "$KAFKA_RUN_DIR"
cleanup() {
  if [ -f "$KAFKA_RUN_DIR/nodes" ]; then "$ctl" down >/dev/null 2>&1 || true; fi
  if [ -n "${KEEP:-}" ]; then echo "answers and logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

data=.cache/peers/data
mkdir -p "$data" .cache/peers/bin
go build -o "$work/bin/" ./cmd/cartwatch ./cmd/loadgen
cw=$work/bin/cartwatch
if [ ! -s "$data/day1.csv" ]; then
  "$work/bin/loadgen" generate --days 1 -o "$data/day1.csv.tmp"
  mv "$data/day1.csv.tmp" "$data/day1.csv"
fi
inputs=("$data/day1.csv")
sample=../shared/data/events_sample_nov.csv
if [ -r "$sample" ]; then
  inputs=("$sample" "${inputs[@]}")
elif [ "${CI:-}" = true ]; then
  echo "peers-kafka-check: the real sample $sample is missing under CI" >&2
  exit 1
else
  echo "peers-kafka-check: SKIP the real sample ($sample is not there)"
fi

"$ctl" fetch >/dev/null
"$ctl" up 1 >"$work/kafka-up.log" 2>&1 || { cat "$work/kafka-up.log" >&2; exit 1; }
bs=$("$ctl" bootstrap)
echo "# bench/peers/kafka-check.sh $(date -u +%FT%TZ): Kafka $("$ctl" version) at $bs, --ttl $ttl;" \
  "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# row SYSTEM EVENTS/S WALL RSS_KB ANSWER
row() { printf '  %-22s %12s %9s %9s  %s\n' "$@"; }
json_num() { grep -o "\"$2\": *[0-9.]*" "$1" | head -1 | sed 's/.*: *//'; }  # Go and Java write no space, Python one
failed=0
for in in "${inputs[@]}"; do
  name=$(basename "$in" .csv | tr -c 'a-zA-Z0-9\n' -)
  topic=$name
  dir=$work/$name
  mkdir -p "$dir"
  "$cw" produce --brokers "$bs" --topic "$topic" --partitions 12 "$in" >"$dir/produce.out" 2>"$dir/produce.err" ||
    { cat "$dir/produce.err" >&2; exit 1; }
  echo
  echo "## $(basename "$in"): $(grep -o '[0-9,]* events to [^ ]*' "$dir/produce.out" | head -1), 12 partitions"
  bench/peers/cartwatch/run.sh "$in" --ttl "$ttl" --out "$dir/cartwatch" >/dev/null
  row system events/s wall_s rss_kb answer
  row "cartwatch run (file)" - "$(json_num "$dir/cartwatch/resources.json" wall_seconds)" \
    "$(json_num "$dir/cartwatch/resources.json" peak_rss_kb)" \
    "the true answer: $(json_num "$dir/cartwatch/summary.json" events) events, $(json_num "$dir/cartwatch/summary.json" abandoned) abandoned"

  t0=$(date +%s%N)
  /usr/bin/time -v -o "$dir/consume.time" "$cw" consume --http 127.0.0.1:0 --brokers "$bs" --topic "$topic" --group "cw-$name" \
    --alerts-topic "alerts-$name" --ttl "$ttl" --until-end --status-interval 0 2>"$dir/consume.err" ||
    { cat "$dir/consume.err" >&2; exit 1; }
  wall=$(awk -v ns="$(($(date +%s%N) - t0))" 'BEGIN {printf "%.3f", ns / 1e9}')
  rate=$(grep -o '[0-9,]* records/s from the first record' "$dir/consume.err" | grep -o '^[0-9,]*' | tr -d ,)
  read_line=$(grep -o 'read to the end offsets: .*' "$dir/consume.err" | sed 's/read to the end offsets: //')
  row "cartwatch consume" "${rate:-?}" "$wall" "$(awk -F': ' '/Maximum resident/ {print $2}' "$dir/consume.time")" \
    "$read_line (open carts stay open at the end)"

  for peer in "${peers[@]}"; do
    mode=()
    [ "$peer" != quixstreams ] || mode=(--recall)
    if ! bench/peers/"$peer"/run.sh --topic "$topic" --brokers "$bs" --ttl "$ttl" --out "$dir/$peer" >"$dir/$peer.log" 2>&1; then
      row "$peer" - - - "FAIL: the runner failed"
      sed 's/^/      /' "$dir/$peer.log" | tail -n 20
      failed=1
      continue
    fi
    verdict=ok
    go run ./bench/peers/compare ${mode[@]+"${mode[@]}"} --show 0 "$dir/cartwatch" "$dir/$peer" >"$dir/$peer.cmp" || verdict=FAIL
    [ $verdict = ok ] || failed=1
    row "$peer" "$(json_num "$dir/$peer/summary.json" events_per_second | cut -d. -f1)" \
      "$(json_num "$dir/$peer/resources.json" wall_seconds)" "$(json_num "$dir/$peer/resources.json" peak_rss_kb)" \
      "$verdict $(grep '^alerts:' "$dir/$peer.cmp" | sed 's/^alerts: //')"
    [ $verdict = ok ] || sed 's/^/      /' "$dir/$peer.cmp"
  done
done
echo
echo "events/s: cartwatch consume from its first record to the end offsets; quixstreams from its first"
echo "message to its last; flink from the first record read to the last. wall_s and rss_kb: the"
echo "whole process (start, group join, exit). Commands: bench/peers/kafka-check.sh; each peer's"
echo "run.sh --topic T --brokers B --ttl $ttl; cartwatch consume --until-end --ttl $ttl."
exit $failed
