#!/usr/bin/env bash
# bench/loadgen.sh: the speed figures of results/dataset-fidelity.md.
#
#   ./bench/loadgen.sh            3 rounds of file writes, then the iterator benchmark
#   ROUNDS=5 ./bench/loadgen.sh   more rounds
#   SKIP_FILE=1 ./bench/loadgen.sh  only the Go benchmarks (no 9 GB writes)
#
# File write: each round writes the full default month with `loadgen generate
# -o .cache/nov.csv` and, beside it in the same round (order alternating),
# the same number of bytes with `dd if=/dev/zero bs=1M` to .cache/dd.bin on
# the same disk. Neither run calls fsync; between runs (untimed) `sync` flushes
# the previous file so each starts from a clean page cache. The report gives
# each run's wall time, the medians and their ratio. The month file is left at
# .cache/nov.csv (git-ignored) for other benchmarks; dd.bin is deleted.
#
# Iterator: go test -bench 'Iterator|WriteCSV|GenBlock|BuildCSV' -count 10, summarised
# by benchstat.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
COUNT=${COUNT:-10}
mkdir -p .cache bin
go build -o bin/loadgen ./cmd/loadgen
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
wall() { # wall seconds and max RSS (KiB) of a command: "secs kib"
  /usr/bin/time -f "%e %M" -o .cache/time.out "$@" >/dev/null 2>.cache/cmd.err || { cat .cache/cmd.err >&2; exit 1; }
  cat .cache/time.out
}
if [ -z "${SKIP_FILE:-}" ]; then
  echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(df -h --output=avail .cache | tail -1 | tr -d ' ') free"
  : > .cache/lg.times; : > .cache/dd.times
  bytes=""
  for r in $(seq 1 "$ROUNDS"); do
    for what in $( [ $((r % 2)) -eq 1 ] && echo "lg dd" || echo "dd lg" ); do
      rm -f .cache/dd.bin; sync
      if [ "$what" = lg ]; then
        rm -f .cache/nov.csv; sync
        read -r secs rss < <(wall ./bin/loadgen generate -o .cache/nov.csv)
        bytes=$(stat -c %s .cache/nov.csv)
        echo "$secs" >> .cache/lg.times
        echo "round $r: loadgen generate -o .cache/nov.csv   ${secs} s  max RSS $((rss / 1024)) MiB  ($bytes bytes)"
      else
        [ -n "$bytes" ] || bytes=9006762395
        read -r secs rss < <(wall dd if=/dev/zero of=.cache/dd.bin bs=1M count="$bytes" iflag=count_bytes)
        echo "$secs" >> .cache/dd.times
        echo "round $r: dd if=/dev/zero of=.cache/dd.bin bs=1M count=$bytes iflag=count_bytes   ${secs} s"
      fi
    done
  done
  rm -f .cache/dd.bin
  lg=$(median < .cache/lg.times); dd=$(median < .cache/dd.times)
  echo "median: loadgen ${lg} s, dd ${dd} s, ratio $(awk -v a="$lg" -v b="$dd" 'BEGIN {printf "%.2f", a/b}') (target <= 1.25)"
  echo "month file left at .cache/nov.csv ($(stat -c %s .cache/nov.csv) bytes, default seed)"
fi
echo "== go test -run '^\$' -bench 'Iterator|WriteCSV|GenBlock|BuildCSV' -count $COUNT ./loadgen"
go test -run '^$' -bench 'Iterator|WriteCSV|GenBlock|BuildCSV' -benchtime 1x -count "$COUNT" ./loadgen > .cache/loadgen.bench
"$(go env GOPATH)/bin/benchstat" .cache/loadgen.bench
