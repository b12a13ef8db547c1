#!/usr/bin/env bash
# bench/peers/compare.sh PEER INPUT.csv [--ttl D] [--recall]: runs cartwatch and
# the peer bench/peers/PEER on INPUT at the same TTL and compares their answers
# (go run ./bench/peers/compare). Exit 0 when equal.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { echo "usage: $0 PEER INPUT.csv [--ttl D] [--recall]" >&2; exit 2; }
peer=$1 input=$2 ttl=30m recall=()
shift 2
while [ $# -gt 0 ]; do
  case $1 in
    --ttl) ttl=$2; shift 2 ;;
    --recall) recall=(--recall); shift ;;
    *) echo "$0: unknown flag $1" >&2; exit 2 ;;
  esac
done
root=$here/../../.cache/peers/compare/$ttl
"$here/cartwatch/run.sh" "$input" --ttl "$ttl" --out "$root/cartwatch" >/dev/null
"$here/$peer/run.sh" "$input" --ttl "$ttl" --out "$root/$peer" >/dev/null
echo "$peer on $(basename "$input") --ttl $ttl: cartwatch $(cat "$root/cartwatch/resources.json"); $peer $(cat "$root/$peer/resources.json")"
cd "$here/../.." && go run ./bench/peers/compare ${recall[@]+"${recall[@]}"} "$root/cartwatch" "$root/$peer"
