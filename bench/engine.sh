#!/usr/bin/env bash
# bench/engine.sh: the cartwatch run figures of results/notes/engine.md.
#
#   ./bench/engine.sh            full synthetic month (.cache/nov.csv, ~9 GB; generated if absent)
#   CSV=path ./bench/engine.sh   another file in the 2019-Nov schema
#   RUNS=5 COUNT=6 BEFORE_COUNT=10 ./bench/engine.sh   (the defaults)
#   BEFORE=<commit> ./bench/engine.sh   also benchstat BenchmarkEngine of that commit
#                                        against the working tree, runs interleaved
#
# Wall times: each round runs `wc -l`, `cartwatch run` and `cartwatch run
# --extend-on-activity` on the same file, back to back (interleaved, so a
# noisy neighbour hits all three alike), after the file was read twice into
# the page cache; medians over RUNS rounds, and peak RSS from /usr/bin/time.
# Then the Go benchmarks (engine alone on pre-generated events, as core.Blocks
# and as []core.Event, named block,... and extend=...; parse and
# apply, session table against map / sync.Map / xsync, ring against channel),
# COUNT runs each, summarised by benchstat. Writes results/notes/engine.md, or
# $BENCH_OUT/engine.md under make bench, which also gets every figure as JSON
# (bench/cmd/record). QUICK=1: of the Go benchmarks only the session table's.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
COUNT=${COUNT:-6} # benchstat needs 6 for a confidence interval
BEFORE_COUNT=${BEFORE_COUNT:-10}
CSV=${CSV:-.cache/nov.csv}
OUT=${OUT:-results/notes/engine.md}
[ -z "${BENCH_OUT:-}" ] || OUT=$BENCH_OUT/engine.md
record=${RECORD:-go run ./bench/cmd/record}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

go build -o bin/cartwatch ./cmd/cartwatch
if [ ! -s "$CSV" ]; then
  echo "bench/engine: generating the full synthetic month into $CSV"
  mkdir -p "$(dirname "$CSV")"
  go run ./cmd/loadgen generate -o "$CSV.tmp" && mv "$CSV.tmp" "$CSV"
fi
bytes=$(stat -c %s "$CSV")
cat "$CSV" >/dev/null; cat "$CSV" >/dev/null

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
: >"$TMP/wc"; : >"$TMP/run"; : >"$TMP/ext"; : >"$TMP/run.rss"; : >"$TMP/ext.rss"
# /usr/bin/time: wall seconds, peak RSS KiB, user+system CPU seconds.
TF="%e %M %U %S"
cpu() { awk '{printf "%.2f\n", $3+$4}' "$TMP/t"; }
for i in $(seq "$RUNS"); do
  /usr/bin/time -f "$TF" -o "$TMP/t" wc -l "$CSV" >/dev/null
  cut -d' ' -f1 "$TMP/t" >>"$TMP/wc"; cpu >>"$TMP/wc.cpu"
  /usr/bin/time -f "$TF" -o "$TMP/t" ./bin/cartwatch run --progress off --summary json "$CSV" >"$TMP/run.json"
  cut -d' ' -f1 "$TMP/t" >>"$TMP/run"; cut -d' ' -f2 "$TMP/t" >>"$TMP/run.rss"; cpu >>"$TMP/run.cpu"
  /usr/bin/time -f "$TF" -o "$TMP/t" ./bin/cartwatch run --progress off --extend-on-activity --summary json "$CSV" >"$TMP/ext.json"
  cut -d' ' -f1 "$TMP/t" >>"$TMP/ext"; cut -d' ' -f2 "$TMP/t" >>"$TMP/ext.rss"; cpu >>"$TMP/ext.cpu"
  echo "round $i: wc $(tail -1 "$TMP/wc") s, run $(tail -1 "$TMP/run") s, extend $(tail -1 "$TMP/ext") s"
done
wc_m=$(median <"$TMP/wc"); run_m=$(median <"$TMP/run"); ext_m=$(median <"$TMP/ext")
wc_c=$(median <"$TMP/wc.cpu"); run_c=$(median <"$TMP/run.cpu"); ext_c=$(median <"$TMP/ext.cpu")
run_rss=$(sort -g "$TMP/run.rss" | tail -1); ext_rss=$(sort -g "$TMP/ext.rss" | tail -1)
events=$(grep -o '"events":[0-9]*' "$TMP/run.json" | cut -d: -f2)

for s in wc:"wc -l $CSV":"wc -l" run:"bin/cartwatch run --summary json $CSV":cartwatch ext:"bin/cartwatch run --extend-on-activity --summary json $CSV":"cartwatch --extend-on-activity"; do
  IFS=: read -r k c sys <<<"$s"
  rss=0; [ -f "$TMP/$k.rss" ] && rss=$(sort -g "$TMP/$k.rss" | tail -1)
  $record add -suite engine -system "$sys" -name "run, page cache" -unit s -input "$(basename "$CSV" .csv)=$CSV" -events "$events" -rss "$rss" -cmd "$c" $(cat "$TMP/$k")
done

go test -c -o "$TMP/core.test" ./core
: >"$TMP/bench.txt"
if [ -z "${QUICK:-}" ]; then
  (cd core && "$TMP/core.test" -test.run '^$' -test.bench 'Engine|ParseApply' \
    -test.benchtime 3x -test.count "$COUNT" -test.benchmem) | tee "$TMP/bench.txt"
fi
# One table pass is ~10 ms: 3 of them are all noise on a shared machine.
(cd core && "$TMP/core.test" -test.run '^$' -test.bench 'Table' \
  -test.benchtime 10x -test.count "$COUNT" -test.benchmem) | tee -a "$TMP/bench.txt"
# Handoff needs more than 3 iterations to mean anything.
if [ -z "${QUICK:-}" ]; then
  (cd core && "$TMP/core.test" -test.run '^$' -test.bench 'Handoff' -test.count "$COUNT") | tee -a "$TMP/bench.txt"
fi
$record gobench -suite engine -system core \
  -cmd "go test ./core -run '^\$' -bench 'Engine|ParseApply' -benchtime 3x -benchmem, -bench Table -benchtime 10x, -bench Handoff; -count $COUNT each" "$TMP/bench.txt"
BENCHSTAT=$(go env GOPATH)/bin/benchstat
cp "$TMP/bench.txt" "$TMP/engine"
stat=$(cd "$TMP" && "$BENCHSTAT" engine 2>&1 || true)

before=""
if [ -n "${BEFORE:-}" ]; then
  mkdir -p "$TMP/before"
  git archive "$BEFORE" | tar -x -C "$TMP/before"
  (cd "$TMP/before" && go test -c -o "$TMP/before.test" ./core)
  : >"$TMP/old.txt"; : >"$TMP/new.txt"
  for i in $(seq "$BEFORE_COUNT"); do
    (cd core && "$TMP/before.test" -test.run '^$' -test.bench 'Engine/^extend=(false|true)$' -test.benchtime 3x) >>"$TMP/old.txt"
    (cd core && "$TMP/core.test" -test.run '^$' -test.bench 'Engine/^extend=(false|true)$' -test.benchtime 3x) >>"$TMP/new.txt"
  done
  before=$(cd "$TMP" && "$BENCHSTAT" before=old.txt after=new.txt 2>&1 || true)
fi

{
  echo "# cartwatch run: measured performance"
  echo
  echo "Written by \`bench/engine.sh\` on $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: compare ratios, not absolute times)."
  echo
  echo "## Full file, page cache, medians of $RUNS interleaved rounds"
  echo
  echo "File: \`$CSV\`, $bytes bytes, $events events."
  echo
  echo "| command | median wall | ratio to wc -l | median CPU (user+sys) | peak RSS (max of runs) |"
  echo "|---|---|---|---|---|"
  echo "| \`wc -l $CSV\` | ${wc_m} s | 1.00 | ${wc_c} s | |"
  echo "| \`bin/cartwatch run --summary json $CSV\` | ${run_m} s | $(awk "BEGIN{printf \"%.2f\", $run_m/$wc_m}") | ${run_c} s | $((run_rss/1024)) MiB |"
  echo "| \`bin/cartwatch run --extend-on-activity --summary json $CSV\` | ${ext_m} s | $(awk "BEGIN{printf \"%.2f\", $ext_m/$wc_m}") | ${ext_c} s | $((ext_rss/1024)) MiB |"
  echo
  echo "Every round: $(paste -sd' ' "$TMP/wc") (wc), $(paste -sd' ' "$TMP/run") (run), $(paste -sd' ' "$TMP/ext") (extend)."
  echo
  echo "Summary of the run:"
  echo
  echo '```'
  cat "$TMP/run.json"
  echo '```'
  echo
  echo "## Go benchmarks (\`go test ./core -run '^\$' -bench 'Engine|ParseApply' -benchtime 3x -count $COUNT -benchmem\`, then \`-bench Table -benchtime 10x\` and \`-bench Handoff\`, same count)"
  echo
  echo '```'
  echo "$stat"
  echo '```'
  if [ -n "$before" ]; then
    echo
    echo "## BenchmarkEngine before/after: commit $BEFORE against $(git rev-parse --short HEAD), $BEFORE_COUNT interleaved runs"
    echo
    echo '```'
    echo "$before"
    echo '```'
  fi
  # Hand-written notes below the marker survive a re-run.
  if [ -f "$OUT" ] && grep -q '^<!-- notes -->' "$OUT"; then
    echo
    sed -n '/^<!-- notes -->/,$p' "$OUT"
  fi
} >"$OUT.new"
mv "$OUT.new" "$OUT"
echo "bench/engine: wrote $OUT"
