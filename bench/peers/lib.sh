# bench/peers/lib.sh: what the peers' runners share (sourced, not run).
#
# A runner is called as  bench/peers/NAME/run.sh INPUT.csv [--ttl D] [--out DIR] [its own flags]
# or, for a peer that reads Kafka,  run.sh --topic T --brokers B [--ttl D] [--out DIR] [its flags]
# and writes into DIR (default .cache/peers/NAME):
#   alerts.jsonl    one JSON object per abandoned cart, cartwatch's alert keys
#   summary.json    the counts, cartwatch's --summary json keys (at least events and abandoned)
#   resources.json  {"wall_seconds":..,"peak_rss_kb":..,"command":".."} of the measured command
# then prints summary.json and resources.json on stdout.
# bench/peers/compare.sh (go run ./bench/peers/compare) reads two such folders.
set -euo pipefail
peers_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
peer_name=$(basename "$(cd "$(dirname "$0")" && pwd)")

# peer_args INPUT [--ttl D] [--out DIR] [rest...]: sets input, ttl (a Go
# duration such as 30m or 90s), ttl_seconds, out, and rest (the other flags).
peer_args() {
  input="" ttl=30m out="$peers_repo/.cache/peers/$peer_name" rest=()
  while [ $# -gt 0 ]; do
    case $1 in
      --ttl) ttl=$2; shift 2 ;;
      --ttl=*) ttl=${1#*=}; shift ;;
      --out) out=$2; shift 2 ;;
      --out=*) out=${1#*=}; shift ;;
      -h | --help) echo "usage: $0 INPUT.csv [--ttl D] [--out DIR] (see $(dirname "$0")/README.md)"; exit 0 ;;
      *) if [ -z "$input" ] && [[ $1 != -* ]]; then input=$1; else rest+=("$1"); fi; shift ;;
    esac
  done
  if [ -z "$input" ]; then
    echo "usage: $0 INPUT.csv [--ttl D] [--out DIR]" >&2
    exit 2
  fi
  [ "$input" = - ] || [ -r "$input" ] || { echo "$0: cannot read $input" >&2; exit 2; }
  [ "$input" = - ] || input=$(cd "$(dirname "$input")" && pwd)/$(basename "$input")
  ttl_seconds=$(ttl_to_seconds "$ttl")
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  rm -f "$out/alerts.jsonl" "$out/summary.json" "$out/resources.json"
}

# peer_kafka_args --topic T --brokers B [--ttl D] [--out DIR] [rest...]: the
# Kafka form of a runner (a topic on a broker instead of a file). Sets topic,
# brokers, ttl, ttl_seconds, out and rest as peer_args does.
peer_kafka_args() {
  topic="" brokers="" ttl=30m out="$peers_repo/.cache/peers/$peer_name-kafka" rest=()
  while [ $# -gt 0 ]; do
    case $1 in
      --topic) topic=$2; shift 2 ;;
      --topic=*) topic=${1#*=}; shift ;;
      --brokers) brokers=$2; shift 2 ;;
      --brokers=*) brokers=${1#*=}; shift ;;
      --ttl) ttl=$2; shift 2 ;;
      --ttl=*) ttl=${1#*=}; shift ;;
      --out) out=$2; shift 2 ;;
      --out=*) out=${1#*=}; shift ;;
      *) rest+=("$1"); shift ;;
    esac
  done
  if [ -z "$topic" ] || [ -z "$brokers" ]; then
    echo "usage: $0 --topic T --brokers HOST:PORT [--ttl D] [--out DIR]" >&2
    exit 2
  fi
  ttl_seconds=$(ttl_to_seconds "$ttl")
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  rm -f "$out/alerts.jsonl" "$out/summary.json" "$out/resources.json"
}

# ttl_to_seconds 30m -> 1800 (s, m, h and their sums such as 1h30m).
ttl_to_seconds() {
  local d=$1 total=0 n
  [[ $d =~ ^([0-9]+[hms])+$ ]] || { echo "bad --ttl '$d': want e.g. 30m, 90s, 1h30m" >&2; exit 2; }
  while [[ $d =~ ^([0-9]+)([hms])(.*)$ ]]; do
    n=${BASH_REMATCH[1]}
    case ${BASH_REMATCH[2]} in h) n=$((n * 3600)) ;; m) n=$((n * 60)) ;; esac
    total=$((total + n)) d=${BASH_REMATCH[3]}
  done
  echo "$total"
}

# timed CMD...: runs CMD under /usr/bin/time -v (its stdout and stderr pass
# through) and writes $out/resources.json with its wall time and peak RSS.
timed() {
  local tv="$out/time.txt" rc=0
  if [ ! -x /usr/bin/time ]; then
    echo "$0: /usr/bin/time is missing (apt-get install time)" >&2
    exit 1
  fi
  local t0
  t0=$(date +%s%N)
  /usr/bin/time -v -o "$tv" "$@" || rc=$?
  local ns=$(($(date +%s%N) - t0))
  if [ $rc -ne 0 ]; then
    echo "$0: the peer failed (exit $rc): $*" >&2
    exit $rc
  fi
  local wall rss
  wall=$(awk -v ns="$ns" 'BEGIN {printf "%.3f", ns / 1e9}')
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tv")
  printf '{"wall_seconds":%s,"peak_rss_kb":%s,"command":"%s"}\n' "$wall" "$rss" "$(echo "$*" | sed 's/\\/\\\\/g; s/"/\\"/g')" >"$out/resources.json"
}

# peer_done: checks the two answer files exist and prints them.
peer_done() {
  local f
  for f in alerts.jsonl summary.json resources.json; do
    [ -f "$out/$f" ] || { echo "$0: no $out/$f written" >&2; exit 1; }
  done
  cat "$out/summary.json" "$out/resources.json"
}
