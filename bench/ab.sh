#!/usr/bin/env bash
# bench/ab.sh: an older build against this tree, side by side in one run.
#
#   OLD=<commit> ./bench/ab.sh           (ROUNDS=5 COUNT=10 by default)
#
# 1. The engine's Go benchmarks (BenchmarkEngine's block cases: the engine
#    alone on pre-generated Blocks; BenchmarkParseApply: parse and apply CSV
#    text in memory), the old and the new test binary alternating COUNT
#    times, compared by benchstat.
# 2. The full month file (.cache/nov.csv, generated if absent): wc -l, the
#    old cartwatch run and the new one, interleaved, ROUNDS rounds, medians.
# Everything timed takes /work/bench.lock when it exists (one benchmark at a
# time on a shared machine).
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${OLD:?set OLD=<commit> to compare with}
ROUNDS=${ROUNDS:-5}
COUNT=${COUNT:-10}
CSV=${CSV:-.cache/nov.csv}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
LOCK=()
if [ -e /work/bench.lock ]; then LOCK=(flock /work/bench.lock); fi

mkdir -p "$TMP/old"
git archive "$OLD" | tar -x -C "$TMP/old"
(cd "$TMP/old" && go build -o "$TMP/old/bin/" ./cmd/cartwatch && go test -c -o "$TMP/old.test" ./core)
go build -o "$TMP/new/" ./cmd/cartwatch
go test -c -o "$TMP/new.test" ./core
if [ ! -s "$CSV" ]; then
  mkdir -p "$(dirname "$CSV")"
  go run ./cmd/loadgen generate -o "$CSV.tmp" && mv "$CSV.tmp" "$CSV"
fi
BENCHSTAT=$(go env GOPATH)/bin/benchstat
[ -x "$BENCHSTAT" ] || go install golang.org/x/perf/cmd/benchstat@latest

: >"$TMP/old.txt"; : >"$TMP/new.txt"
for i in $(seq "$COUNT"); do
  for side in old new; do
    (cd core && "${LOCK[@]}" "$TMP/$side.test" -test.run '^$' -test.bench 'Engine/^block|ParseApply' \
      -test.benchtime 3x -test.benchmem) >>"$TMP/$side.txt"
  done
  echo "bench round $i done" >&2
done
echo "## Go benchmarks: $OLD (old) against $(git rev-parse --short HEAD) (new), $COUNT alternating runs"
echo
echo '```'
(cd "$TMP" && "$BENCHSTAT" old=old.txt new=new.txt)
echo '```'

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
cat "$CSV" >/dev/null; cat "$CSV" >/dev/null
: >"$TMP/wc"; : >"$TMP/old.run"; : >"$TMP/new.run"
for i in $(seq "$ROUNDS"); do
  "${LOCK[@]}" /usr/bin/time -f %e -o "$TMP/t" wc -l "$CSV" >/dev/null; cat "$TMP/t" >>"$TMP/wc"
  "${LOCK[@]}" /usr/bin/time -f %e -o "$TMP/t" "$TMP/old/bin/cartwatch" run --progress off --summary json "$CSV" >"$TMP/old.json"; cat "$TMP/t" >>"$TMP/old.run"
  "${LOCK[@]}" /usr/bin/time -f %e -o "$TMP/t" "$TMP/new/cartwatch" run --progress off --summary json "$CSV" >"$TMP/new.json"; cat "$TMP/t" >>"$TMP/new.run"
  echo "round $i: wc $(tail -1 "$TMP/wc") s, old $(tail -1 "$TMP/old.run") s, new $(tail -1 "$TMP/new.run") s" >&2
done
w=$(median <"$TMP/wc"); o=$(median <"$TMP/old.run"); n=$(median <"$TMP/new.run")
echo
echo "## The month file ($(stat -c %s "$CSV") bytes), $ROUNDS interleaved rounds, medians"
echo
echo "| command | median wall | ratio to wc -l |"
echo "|---|---|---|"
echo "| wc -l | $w s | 1.00 |"
echo "| cartwatch run ($OLD) | $o s | $(awk "BEGIN{printf \"%.2f\", $o/$w}") |"
echo "| cartwatch run (new) | $n s | $(awk "BEGIN{printf \"%.2f\", $n/$w}") |"
echo
echo "Rounds: wc $(paste -sd' ' "$TMP/wc"); old $(paste -sd' ' "$TMP/old.run"); new $(paste -sd' ' "$TMP/new.run")."
