#!/usr/bin/env bash
# bench/http.sh: what /metrics and the dashboard cost the engine (issue 12's targets), side by
# side in one run: ROUNDS (default 5) interleaved rounds of
#   plain     cartwatch run INPUT                                   (no --http)
#   scraped   cartwatch run --http ADDR INPUT, /metrics scraped every second and one dashboard
#             viewer on /events (bench/cmd/viewers)
#   100       the same with 100 dashboard viewers
# each reporting the engine's events/s (its summary) and the process's peak RSS (/usr/bin/time).
#
#   ./bench/http.sh                         (INPUT=.cache/nov.csv: the synthetic month, as make run)
#   INPUT=x.csv ROUNDS=3 ./bench/http.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}
input=${INPUT:-.cache/nov.csv}
port=${HTTP_BENCH_PORT:-28180}
record=${RECORD:-go run ./bench/cmd/record}
[ -r "$input" ] || { echo "bench/http.sh: no $input (bin/loadgen generate -o $input makes the month)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/cartwatch-http-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
go build -buildvcs=auto -o "$work/" ./cmd/cartwatch ./bench/cmd/viewers
cw=$work/cartwatch

median() { sort -g | awk '{a[NR]=$1} END {if (NR) print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
eps() { grep -o '"events_per_second":[0-9.e+]*' "$1" | cut -d: -f2; }

# one KIND N: a run of kind plain|scraped|viewers with N viewers; prints "events/s rssKB".
one() {
  local kind=$1 n=${2:-0} out=$work/sum.json
  if [ "$kind" = plain ]; then
    /usr/bin/time -f '%M' -o "$work/rss" "$cw" run --summary json "$input" >"$out"
  else
    "$work/viewers" --n "$n" --url "http://127.0.0.1:$port/events" --scrape "http://127.0.0.1:$port/metrics" \
      >"$work/viewers.out" 2>&1 &
    local v=$!
    /usr/bin/time -f '%M' -o "$work/rss" "$cw" run --http "127.0.0.1:$port" --summary json "$input" >"$out" 2>/dev/null
    wait "$v" || true
    grep -q "^viewers: $n streams" "$work/viewers.out" || echo "bench/http.sh: note: $(cat "$work/viewers.out")" >&2
  fi
  echo "$(eps "$out") $(tail -1 "$work/rss")"
}

echo "# bench/http.sh $(date -u +%FT%TZ): $($cw version | head -1)"
echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# input $input ($(stat -c %s "$input") bytes), $rounds interleaved rounds"
declare -a e_plain e_scraped e_100 r_plain r_scraped r_100
for ((i = 1; i <= rounds; i++)); do
  read -r e r <<<"$(one plain)"; e_plain+=("$e") r_plain+=("$r")
  read -r e r <<<"$(one scraped 1)"; e_scraped+=("$e") r_scraped+=("$r")
  read -r e r <<<"$(one viewers 100)"; e_100+=("$e") r_100+=("$r")
  printf 'round %d events/s: plain %.0f, scraped + 1 viewer %.0f, 100 viewers %.0f; peak RSS MiB: %d, %d, %d\n' "$i" \
    "${e_plain[-1]}" "${e_scraped[-1]}" "${e_100[-1]}" $((r_plain[-1] / 1024)) $((r_scraped[-1] / 1024)) $((r_100[-1] / 1024))
done
mp=$(printf '%s\n' "${e_plain[@]}" | median)
ms=$(printf '%s\n' "${e_scraped[@]}" | median)
m1=$(printf '%s\n' "${e_100[@]}" | median)
rp=$(printf '%s\n' "${r_plain[@]}" | median)
rs=$(printf '%s\n' "${r_scraped[@]}" | median)
r1=$(printf '%s\n' "${r_100[@]}" | median)
awk -v p="$mp" -v s="$ms" -v h="$m1" -v rp="$rp" -v rs="$rs" -v rh="$r1" 'BEGIN {
  printf "median events/s: plain %.0f; --http scraped every 1 s + 1 viewer %.0f (%+.1f %%); 100 viewers %.0f (%+.1f %%)\n", p, s, (s-p)*100/p, h, (h-p)*100/p
  printf "median peak RSS: plain %.1f MiB; scraped + 1 viewer %.1f MiB (%+.1f MiB); 100 viewers %.1f MiB (%+.1f MiB)\n", rp/1024, rs/1024, (rs-rp)/1024, rh/1024, (rh-rp)/1024
}'
echo "commands:"
echo "  cartwatch run --summary json $input"
echo "  cartwatch run --http 127.0.0.1:$port --summary json $input  &  go run ./bench/cmd/viewers --n N --url http://127.0.0.1:$port/events --scrape http://127.0.0.1:$port/metrics"
in="$(basename "$input")=$(stat -c %s "$input")"
$record add -suite http -system "cartwatch run" -name engine -unit events/s -param http=none -input "$in" -cmd "cartwatch run --summary json $input" "${e_plain[@]}"
$record add -suite http -system "cartwatch run" -name engine -unit events/s -param "http=scraped+1 viewer" -input "$in" -cmd "cartwatch run --http ADDR $input + viewers --n 1 --scrape" "${e_scraped[@]}"
$record add -suite http -system "cartwatch run" -name engine -unit events/s -param "http=100 viewers" -input "$in" -cmd "cartwatch run --http ADDR $input + viewers --n 100 --scrape" "${e_100[@]}"
