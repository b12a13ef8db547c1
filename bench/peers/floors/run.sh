#!/usr/bin/env bash
# bench/peers/floors/run.sh INPUT.csv [--out DIR]: the floors any reader of the
# file pays, `wc -l` and `cat > /dev/null`, each under /usr/bin/time -v.
# Writes DIR/wc/ and DIR/cat/ (resources.json each; summary.json with the
# lines wc counted) and prints them. Kafka's floors (ProducerPerformance,
# ConsumerPerformance) are bench/kafka-perf.sh's.
source "$(dirname "$0")/../lib.sh"
peer_args "$@"
[ "$input" != - ] || { echo "$0: the floors need a file, not stdin" >&2; exit 2; }
base=$out
out=$base/wc
mkdir -p "$out"
timed wc -l "$input" >"$out/wc.txt"
printf '{"lines":%s}\n' "$(cut -d' ' -f1 "$out/wc.txt")" >"$out/summary.json"
echo "wc -l: $(cat "$out/summary.json") $(cat "$out/resources.json")"
out=$base/cat
mkdir -p "$out"
timed sh -c 'cat "$1" >/dev/null' cat "$input"
echo "cat:   $(cat "$out/resources.json")"
