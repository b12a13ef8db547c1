#!/usr/bin/env bash
# bench/peers/check.sh [PEER...] (make peers-check): every peer (default: gobaseline duckdb flink)
# against cartwatch on the real sample (../shared/data, skipped with a note when absent) and on a
# synthetic day (loadgen generate --days 1, written once to .cache/peers/data/), each at --ttl 5m
# and 30m. Fails when any answer is not equal. With BENCH_LOCK=FILE each comparison runs under
# flock FILE (a machine shared with other timing runs).
set -euo pipefail
cd "$(dirname "$0")/../.."
peers=("$@")
[ ${#peers[@]} -gt 0 ] || peers=(gobaseline duckdb flink)
data=.cache/peers/data
mkdir -p "$data" .cache/peers/bin
if [ ! -s "$data/day1.csv" ]; then
  go build -o .cache/peers/bin/ ./cmd/loadgen
  .cache/peers/bin/loadgen generate --days 1 -o "$data/day1.csv.tmp"
  mv "$data/day1.csv.tmp" "$data/day1.csv"
fi
inputs=("$data/day1.csv")
sample=../shared/data/events_sample_nov.csv
if [ -r "$sample" ]; then
  inputs=("$sample" "${inputs[@]}")
elif [ "${CI:-}" = true ]; then
  echo "peers-check: the real sample $sample is missing under CI" >&2
  exit 1
else
  echo "peers-check: SKIP the real sample ($sample is not there)"
fi
lock=()
[ -z "${BENCH_LOCK:-}" ] || lock=(flock "$BENCH_LOCK")
failed=0
for peer in "${peers[@]}"; do
  for in in "${inputs[@]}"; do
    for ttl in 5m 30m; do
      if ${lock[@]+"${lock[@]}"} bench/peers/compare.sh "$peer" "$in" --ttl "$ttl" >.cache/peers/check.log 2>&1; then
        echo "ok    $peer $(basename "$in") --ttl $ttl: $(grep '^alerts:' .cache/peers/check.log)"
      else
        echo "FAIL  $peer $(basename "$in") --ttl $ttl:"
        sed 's/^/      /' .cache/peers/check.log
        failed=1
      fi
    done
  done
done
exit $failed
