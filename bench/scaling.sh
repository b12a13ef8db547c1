#!/usr/bin/env bash
# bench/scaling.sh: cartwatch run by --shards and --parsers on this machine: the scaling
# table of results/REPORT.md.
#
#   CSV=FILE ./bench/scaling.sh       (bench/run.sh passes the week; default .cache/nov.csv)
#   ROUNDS=5 SHARDS="1 2 4" PARSERS="1 2" ./bench/scaling.sh   (the defaults)
#
# Each round runs every combination once, back to back, after the file was read into the
# page cache; wall time and peak RSS from /usr/bin/time. Figures go to $BENCH_OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
SHARDS=${SHARDS:-1 2 4}
PARSERS=${PARSERS:-1 2}
CSV=${CSV:-.cache/nov.csv}
NAME=${NAME:-$(basename "$CSV" .csv)}
record=${RECORD:-go run ./bench/cmd/record}
go build -o bin/ ./cmd/cartwatch
events=$(($(wc -l <"$CSV") - 1))
cat "$CSV" >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/cartwatch-scaling.XXXXXX")
trap 'rm -rf "$work"' EXIT
for ((i = 1; i <= ROUNDS; i++)); do
  line="round $i:"
  for p in $PARSERS; do for s in $SHARDS; do
    t0=$(date +%s%N)
    /usr/bin/time -f %M -o "$work/rss" ./bin/cartwatch run --progress off --summary json --shards "$s" --parsers "$p" "$CSV" >/dev/null
    w=$(awk -v n="$(($(date +%s%N) - t0))" 'BEGIN{printf "%.3f", n/1e9}')
    echo "$w" >>"$work/$p-$s.wall"; tail -1 "$work/rss" >>"$work/$p-$s.rss"
    line+=" p$p/s$s $w s"
  done; done
  echo "$line"
done
for p in $PARSERS; do for s in $SHARDS; do
  $record add -suite scaling -system cartwatch -name run -unit s -input "$NAME=$CSV" -events "$events" \
    -param "shards=$s" -param "parsers=$p" -rss "$(sort -n "$work/$p-$s.rss" | tail -1)" \
    -cmd "bin/cartwatch run --shards $s --parsers $p $CSV" $(cat "$work/$p-$s.wall")
  echo "--parsers $p --shards $s: $(sort -g "$work/$p-$s.wall" | paste -sd' ') s"
done; done
