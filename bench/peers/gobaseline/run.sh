#!/usr/bin/env bash
# bench/peers/gobaseline/run.sh INPUT.csv [--ttl D] [--out DIR]: the obvious Go
# program (README.md beside this file), in the peers' layout (bench/peers/lib.sh).
source "$(dirname "$0")/../lib.sh"
peer_args "$@"
bin=$peers_repo/.cache/peers/bin
(cd "$peers_repo" && go build -o "$bin/" ./bench/peers/gobaseline)
timed "$bin/gobaseline" --ttl "$ttl" --alerts "$out/alerts.jsonl" ${rest[@]+"${rest[@]}"} "$input" >"$out/summary.json.tmp"
mv "$out/summary.json.tmp" "$out/summary.json"
peer_done
