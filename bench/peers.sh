#!/usr/bin/env bash
# bench/peers.sh: cartwatch and the systems people would use instead (bench/peers/NAME/run.sh),
# on the same files in the same run: the lead table of results/REPORT.md and its cost against
# input size, then a CPU profile of cartwatch on the largest input ("where the time goes").
#
#   BENCH_INPUTS="day=F week=F month=F" ./bench/peers.sh   (bench/run.sh sets it; smallest first)
#   ROUNDS=5 PEERS="cartwatch gobaseline duckdb flink floors" HEAVY_LARGEST=1 ./bench/peers.sh
#
# Each round runs every peer once on the input, back to back (interleaved: a noisy neighbour
# hits all alike); wall time and peak RSS come from each runner's resources.json (/usr/bin/time).
# After a peer's first round its answer is compared with cartwatch's (bench/peers/compare --json)
# and the check goes into its figure. HEAVY_LARGEST=1 (QUICK) runs the JVM and Python peers
# (duckdb, flink) on the largest input only. Without bench/peers/ (the runners), cartwatch and
# wc -l are measured here directly. Figures go to $BENCH_OUT through bench/cmd/record.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
ROUNDS=${ROUNDS:-5}
PEERS=${PEERS:-cartwatch gobaseline duckdb flink floors}
record=${RECORD:-go run ./bench/cmd/record}
[ -n "${BENCH_INPUTS:-}" ] || { echo "bench/peers: set BENCH_INPUTS=\"name=FILE ...\" (bench/run.sh does)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/cartwatch-peers.XXXXXX")
trap 'rm -rf "$work"' EXIT
go build -o bin/ ./cmd/cartwatch
read -ra inputs <<<"$BENCH_INPUTS"
largest=${inputs[-1]%%=*}
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
jnum() { grep -o "\"$2\":[0-9.]*" "$1" | head -1 | cut -d: -f2; }

# direct NAME DIR CMD...: the runners' layout for cartwatch and wc -l without bench/peers/.
direct() {
  local dir=$2; shift 2
  mkdir -p "$dir"
  local t0 ns
  t0=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$dir/rss" "$@" >"$dir/stdout"
  ns=$(($(date +%s%N) - t0))
  printf '{"wall_seconds":%s,"peak_rss_kb":%s,"command":"%s"}\n' "$(awk -v n="$ns" 'BEGIN{printf "%.3f", n/1e9}')" "$(tail -1 "$dir/rss")" "$*" >"$dir/resources.json"
}

[ -f bench/peers/lib.sh ] || $record note "bench/peers.sh: no bench/peers/ runners in this tree: only cartwatch and the floors measured, answers not checked"
for spec in "${inputs[@]}"; do
  name=${spec%%=*} file=${spec#*=}
  events=$(($(wc -l <"$file") - 1))
  cat "$file" >/dev/null # into the page cache, for every system alike
  declare -A walls=() rss=() cmds=() checked=()
  systems=()
  for p in $PEERS; do
    if [ ! -f bench/peers/lib.sh ] && [ "$p" != cartwatch ] && [ "$p" != floors ]; then continue; fi
    if [ -n "${HEAVY_LARGEST:-}" ] && [ "$name" != "$largest" ] && { [ "$p" = duckdb ] || [ "$p" = flink ]; }; then continue; fi
    if [ -f bench/peers/lib.sh ] && [ ! -x "bench/peers/$p/run.sh" ]; then
      $record note "bench/peers.sh: no runner bench/peers/$p/run.sh, $p not measured"
      continue
    fi
    if [ "$p" = floors ]; then systems+=("wc -l" "cat"); else systems+=("$p"); fi
  done
  for ((i = 1; i <= ROUNDS; i++)); do
    for p in $PEERS; do
      out=$work/$name/$p
      case $p in
        cartwatch) want=cartwatch ;;
        floors) want="wc -l" ;;
        *) want=$p ;;
      esac
      [[ " ${systems[*]} " == *" $want "* ]] || continue
      if [ -f bench/peers/lib.sh ]; then
        "bench/peers/$p/run.sh" "$file" --out "$out" >"$work/last.out" 2>"$work/last.err" ||
          { cat "$work/last.err" >&2; $record note "bench/peers.sh: $p failed on $name (round $i): $(tail -1 "$work/last.err")"; continue; }
      elif [ "$p" = cartwatch ]; then
        direct cartwatch "$out" ./bin/cartwatch run --progress off --summary json "$file"
      else
        direct wc "$out/wc" wc -l "$file"
        direct cat "$out/cat" sh -c "cat $file >/dev/null"
      fi
      dirs=("$out"); names=("$p")
      [ "$p" = floors ] && { dirs=("$out/wc" "$out/cat"); names=("wc -l" "cat"); }
      for k in "${!dirs[@]}"; do
        d=${dirs[$k]} s=${names[$k]}
        walls[$s]+="$(jnum "$d/resources.json" wall_seconds) "
        rss[$s]+="$(jnum "$d/resources.json" peak_rss_kb) "
        cmds[$s]=$(sed -n 's/.*"command":"\(.*\)"}.*/\1/p' "$d/resources.json" | sed "s#$root/##g; s/\\\\\"/\"/g")
      done
      if [ "$i" = 1 ] && [ -f bench/peers/lib.sh ] && [ "$p" != cartwatch ] && [ "$p" != floors ]; then
        go run ./bench/peers/compare --json "$work/$name/cartwatch" "$out" >"$work/$name-$p.check" 2>/dev/null || true
        [ -s "$work/$name-$p.check" ] && checked[$p]=$work/$name-$p.check
      fi
    done
    echo "round $i on $name ($events events): $(for s in "${systems[@]}"; do printf '%s %s s, ' "$s" "$(echo ${walls[$s]:-} | awk '{print $NF}')"; done)"
  done
  for s in "${systems[@]}"; do
    [ -n "${walls[$s]:-}" ] || continue
    w=(${walls[$s]})
    maxrss=$(echo ${rss[$s]} | tr ' ' '\n' | sort -n | tail -1)
    args=(add -suite peers -system "$s" -name run -unit s -input "$name=$file" -events "$events" -rss "${maxrss:-0}" -cmd "${cmds[$s]}")
    [ -n "${checked[$s]:-}" ] && args+=(-check "${checked[$s]}")
    v=""
    case $s in
      duckdb) v=$(sed -n 's/^version=//p' bench/peers/duckdb/run.sh 2>/dev/null) ;;
      flink) v=$(sed -n 's:.*<flink.version>\(.*\)</flink.version>.*:\1:p' bench/peers/flink/pom.xml 2>/dev/null) ;;
    esac
    [ -n "$v" ] && args+=(-version "$v")
    $record "${args[@]}" "${w[@]}"
    echo "$s on $name: median $(printf '%s\n' "${w[@]}" | median) s of ${#w[@]} runs, peak RSS ${maxrss} KiB  (${cmds[$s]})"
  done
  unset walls rss cmds checked
done

# Where the time goes: one profiled run on the largest input.
file=${inputs[-1]#*=}
./bin/cartwatch run --progress off --summary json --cpuprofile "$work/cpu.pprof" "$file" >/dev/null
go tool pprof -top -nodecount 15 bin/cartwatch "$work/cpu.pprof" 2>/dev/null >"$work/top.txt"
$record profile -cmd "bin/cartwatch run --cpuprofile cpu.pprof $file" -tool "go tool pprof -top -nodecount 15 bin/cartwatch cpu.pprof" -pprof "$work/cpu.pprof" "$work/top.txt" ||
  $record note "bench/peers.sh: the CPU profile of $file has no samples (the input is too small)"
sed -n '1,12p' "$work/top.txt"
