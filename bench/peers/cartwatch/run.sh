#!/usr/bin/env bash
# bench/peers/cartwatch/run.sh INPUT.csv [--ttl D] [--out DIR] [cartwatch run flags]:
# the answer every peer is compared with, in the peers' layout (bench/peers/lib.sh).
source "$(dirname "$0")/../lib.sh"
peer_args "$@"
bin=$peers_repo/.cache/peers/bin
(cd "$peers_repo" && go build -o "$bin/" ./cmd/cartwatch)
timed "$bin/cartwatch" run --ttl "$ttl" --progress off --summary json --alerts "$out/alerts.jsonl" \
  ${rest[@]+"${rest[@]}"} "$input" >"$out/summary.json.tmp"
mv "$out/summary.json.tmp" "$out/summary.json"
peer_done
