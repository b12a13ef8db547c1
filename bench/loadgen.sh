#!/usr/bin/env bash
# bench/loadgen.sh: the speed figures of results/notes/dataset-fidelity.md.
#
#   ./bench/loadgen.sh            3 rounds of file writes (4 kinds each), then the iterator benchmark
#   ROUNDS=5 ./bench/loadgen.sh   more rounds
#   SKIP_FILE=1 ./bench/loadgen.sh  only the Go benchmarks (no 9 GB writes)
#   SKIP_GO=1 ./bench/loadgen.sh    only the file writes
#   OLD=/path/to/loadgen ./bench/loadgen.sh  also an older build, in every round
#
# File write: each round writes the full default month four ways, side by
# side, the order rotating from round to round:
#   lg      loadgen generate -o .cache/lg-bench.csv            (buffered)
#   lgd     loadgen generate --direct -o .cache/lg-bench.csv   (O_DIRECT)
#   dd      dd if=/dev/zero of=.cache/dd.bin bs=1M             (buffered)
#   ddd     dd if=/dev/zero of=.cache/dd.bin bs=4M oflag=direct
# each the same number of bytes to the same disk (and OLD's month, buffered,
# when given). No run calls fsync; between runs (untimed) `sync` flushes the
# previous file so each starts from a clean page cache. The report gives each
# run's wall time, each kind's median, and the ratio of each loadgen mode to
# each dd mode. The issue's figure ("writing the full month to a file takes
# <= 1.25x the time dd needs to write the same number of bytes") is loadgen's
# best mode over plain dd: min(lg, lgd) / dd, printed last. Both files are
# deleted at the end: .cache/nov.csv, which other benchmarks read, is left
# alone (the output is the same bytes anyway).
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
steal() { awk '/^cpu /{print $9}' /proc/stat; } # host steal, in USER_HZ ticks (1/100 s)
wall() { # wall seconds, max RSS (KiB), user and system seconds of a command, and the CPU-seconds stolen meanwhile: "secs kib user sys steal"
  local s0; s0=$(steal)
  /usr/bin/time -f "%e %M %U %S" -o .cache/time.out "$@" >/dev/null 2>.cache/cmd.err || { cat .cache/cmd.err >&2; exit 1; }
  echo "$(cat .cache/time.out) $(awk -v a="$s0" -v b="$(steal)" 'BEGIN {printf "%.2f", (b-a)/100}')"
}
if [ -z "${SKIP_FILE:-}" ]; then
  echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(df -h --output=avail .cache | tail -1 | tr -d ' ') free"
  out=.cache/lg-bench.csv
  runs="lg lgd dd ddd"
  [ -n "${OLD:-}" ] && runs="$runs old"
  for k in $runs; do : > ".cache/$k.times"; done
  bytes=""
  for r in $(seq 1 "$ROUNDS"); do
    # Rotate the order so that no kind always runs first.
    set -- $runs
    for _ in $(seq 2 "$r"); do set -- "${@:2}" "$1"; done
    for what in "$@"; do
      rm -f .cache/dd.bin "$out"; sync
      case $what in
      lg|lgd|old)
        bin=./bin/loadgen; [ "$what" = old ] && bin=$OLD
        flags=""; [ "$what" = lgd ] && flags="--direct"
        read -r secs rss usr sys st < <(wall "$bin" generate $flags -o "$out")
        bytes=$(stat -c %s "$out")
        echo "$secs" >> ".cache/$what.times"
        echo "round $r: $bin generate $flags -o $out   ${secs} s (user $usr, sys $sys, steal $st)  max RSS $((rss / 1024)) MiB  ($bytes bytes)" ;;
      dd|ddd)
        [ -n "$bytes" ] || bytes=9010053559
        bs=1M; flags=""; [ "$what" = ddd ] && { bs=4M; flags="oflag=direct"; }
        read -r secs rss usr sys st < <(wall dd if=/dev/zero of=.cache/dd.bin bs=$bs count="$bytes" iflag=count_bytes $flags)
        echo "$secs" >> ".cache/$what.times"
        echo "round $r: dd if=/dev/zero of=.cache/dd.bin bs=$bs count=$bytes iflag=count_bytes $flags   ${secs} s (user $usr, sys $sys, steal $st)" ;;
      esac
    done
  done
  rm -f .cache/dd.bin "$out"
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
  lg=$(median < .cache/lg.times); lgd=$(median < .cache/lgd.times)
  dd=$(median < .cache/dd.times); ddd=$(median < .cache/ddd.times)
  echo "median of $ROUNDS: loadgen ${lg} s, loadgen --direct ${lgd} s, dd bs=1M ${dd} s, dd bs=4M oflag=direct ${ddd} s"
  echo "ratio: loadgen/dd $(ratio "$lg" "$dd"), loadgen/dd-direct $(ratio "$lg" "$ddd"), loadgen --direct/dd $(ratio "$lgd" "$dd"), loadgen --direct/dd-direct $(ratio "$lgd" "$ddd")"
  best=$lg; bestname=loadgen; if awk -v a="$lgd" -v b="$lg" 'BEGIN {exit !(a < b)}'; then best=$lgd; bestname="loadgen --direct"; fi
  echo "issue 3 figure: best loadgen mode ($bestname) / plain dd = $(ratio "$best" "$dd") (target <= 1.25)"
  if [ -n "${OLD:-}" ]; then
    old=$(median < .cache/old.times)
    echo "median: $OLD ${old} s, ratio to dd $(ratio "$old" "$dd"), new/old $(ratio "$lg" "$old")"
  fi
fi
[ -n "${SKIP_GO:-}" ] && exit 0
echo "== go test -run '^\$' -bench 'Iterator|WriteCSV|GenBlock|BuildCSV' -count $COUNT ./loadgen"
go test -run '^$' -bench 'Iterator|WriteCSV|GenBlock|BuildCSV' -benchtime 1x -count "$COUNT" ./loadgen > .cache/loadgen.bench
"$(go env GOPATH)/bin/benchstat" .cache/loadgen.bench
