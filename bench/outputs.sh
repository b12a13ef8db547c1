#!/usr/bin/env bash
# bench/outputs.sh: sha256 of the alerts and of the summary (timings removed)
# of one cartwatch binary on the inputs the engine's output must never change
# on: the real sample at --ttl 5m, 30m and with --extend-on-activity, a 1 %
# synthetic slice, and the full synthetic month (in process, and as the file
# bench/engine.sh generates). Compare two builds:
#
#   ./bench/outputs.sh /tmp/old/cartwatch > old.txt
#   ./bench/outputs.sh bin/cartwatch > new.txt && diff old.txt new.txt
#
# SKIP_MONTH=1 leaves out the month runs; CSV=path names the month file.
set -euo pipefail
BIN=${1:?usage: bench/outputs.sh path/to/cartwatch}
cd "$(dirname "$0")/.."
SAMPLE=${SAMPLE:-../shared/data/events_sample_nov.csv}
CSV=${CSV:-.cache/nov.csv}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
one() { # name, args...
  local name=$1; shift
  "$BIN" run --progress off --summary json --alerts "$TMP/a" "$@" >"$TMP/s" 2>/dev/null
  sed -E 's/"elapsed_seconds":[^,}]*,?//; s/"events_per_second":[^,}]*,?//; s/"(interrupted)":[^,}]*,?//' "$TMP/s" >"$TMP/s2"
  printf '%-28s alerts %s  summary %s  (%s alerts)\n' "$name" \
    "$(sha256sum <"$TMP/a" | cut -c1-16)" "$(sha256sum <"$TMP/s2" | cut -c1-16)" "$(wc -l <"$TMP/a")"
}
if [ -s "$SAMPLE" ]; then
  one sample-ttl5m --ttl 5m "$SAMPLE"
  one sample-ttl30m --ttl 30m "$SAMPLE"
  one sample-extend --ttl 30m --extend-on-activity "$SAMPLE"
  one sample-stdin-ttl5m --ttl 5m - <"$SAMPLE"
else
  echo "outputs: $SAMPLE absent: sample runs skipped" >&2
fi
one synthetic-1pct --synthetic --scale 0.01
one synthetic-1pct-extend --synthetic --scale 0.01 --extend-on-activity
if [ -z "${SKIP_MONTH:-}" ]; then
  one synthetic-month --synthetic
  if [ -s "$CSV" ]; then
    one month-file "$CSV"
  fi
fi
