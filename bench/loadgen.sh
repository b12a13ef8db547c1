#!/usr/bin/env bash
# bench/loadgen.sh: the speed figures of results/dataset-fidelity.md.
#
#   ./bench/loadgen.sh            3 rounds of file writes, then the iterator benchmark
#   ROUNDS=5 ./bench/loadgen.sh   more rounds
#   SKIP_FILE=1 ./bench/loadgen.sh  only the Go benchmarks (no 9 GB writes)
#   SKIP_GO=1 ./bench/loadgen.sh    only the file writes
#   OLD=/path/to/loadgen ./bench/loadgen.sh  also an older build, in every round
#
# File write: each round writes the full default month with `loadgen generate
# -o .cache/lg-bench.csv` and, beside it in the same round (order rotating),
# the same number of bytes with `dd if=/dev/zero bs=1M` to .cache/dd.bin on
# the same disk (and OLD's month, when given). No run calls fsync; between
# runs (untimed) `sync` flushes the previous file so each starts from a clean
# page cache. The report gives each run's wall time, the medians and their
# ratio. Both files are deleted at the end: .cache/nov.csv, which other
# benchmarks read, is left alone (the output is the same bytes anyway).
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
wall() { # wall seconds, max RSS (KiB), user and system seconds of a command: "secs kib user sys"
  /usr/bin/time -f "%e %M %U %S" -o .cache/time.out "$@" >/dev/null 2>.cache/cmd.err || { cat .cache/cmd.err >&2; exit 1; }
  cat .cache/time.out
}
if [ -z "${SKIP_FILE:-}" ]; then
  echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(df -h --output=avail .cache | tail -1 | tr -d ' ') free"
  out=.cache/lg-bench.csv
  runs="lg dd"
  [ -n "${OLD:-}" ] && runs="lg dd old"
  : > .cache/lg.times; : > .cache/dd.times; : > .cache/old.times
  bytes=""
  for r in $(seq 1 "$ROUNDS"); do
    # Rotate the order so that no kind always runs first.
    set -- $runs
    for _ in $(seq 2 "$r"); do set -- "${@:2}" "$1"; done
    for what in "$@"; do
      rm -f .cache/dd.bin "$out"; sync
      case $what in
      lg|old)
        bin=./bin/loadgen; [ "$what" = old ] && bin=$OLD
        read -r secs rss usr sys < <(wall "$bin" generate -o "$out")
        bytes=$(stat -c %s "$out")
        echo "$secs" >> ".cache/$what.times"
        echo "round $r: $bin generate -o $out   ${secs} s (user $usr, sys $sys)  max RSS $((rss / 1024)) MiB  ($bytes bytes)" ;;
      dd)
        [ -n "$bytes" ] || bytes=9010053559
        read -r secs rss usr sys < <(wall dd if=/dev/zero of=.cache/dd.bin bs=1M count="$bytes" iflag=count_bytes)
        echo "$secs" >> .cache/dd.times
        echo "round $r: dd if=/dev/zero of=.cache/dd.bin bs=1M count=$bytes iflag=count_bytes   ${secs} s (sys $sys)" ;;
      esac
    done
  done
  rm -f .cache/dd.bin "$out"
  lg=$(median < .cache/lg.times); dd=$(median < .cache/dd.times)
  echo "median: loadgen ${lg} s, dd ${dd} s, ratio $(awk -v a="$lg" -v b="$dd" 'BEGIN {printf "%.2f", a/b}') (target <= 1.25)"
  if [ -n "${OLD:-}" ]; then
    old=$(median < .cache/old.times)
    echo "median: $OLD ${old} s, ratio to dd $(awk -v a="$old" -v b="$dd" 'BEGIN {printf "%.2f", a/b}'), new/old $(awk -v a="$lg" -v b="$old" 'BEGIN {printf "%.2f", a/b}')"
  fi
fi
[ -n "${SKIP_GO:-}" ] && exit 0
echo "== go test -run '^\$' -bench 'Iterator|WriteCSV|GenBlock|BuildCSV' -count $COUNT ./loadgen"
go test -run '^$' -bench 'Iterator|WriteCSV|GenBlock|BuildCSV' -benchtime 1x -count "$COUNT" ./loadgen > .cache/loadgen.bench
"$(go env GOPATH)/bin/benchstat" .cache/loadgen.bench
