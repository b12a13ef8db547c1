#!/usr/bin/env bash
# make bench: runs the benchmark suites and writes their reports under results/.
#
#   ./bench/run.sh              every suite, in order
#   ./bench/run.sh wheel engine only the named suites (make bench SUITES="wheel engine")
#
# Each suite is bench/<name>.sh and prints what it measured with the command to
# reproduce it. The machine may be shared: suites measure each subject beside
# its baseline in one run and report medians and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
all=(wheel loadgen engine kafka-perf)
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=("${all[@]}")
for s in "${suites[@]}"; do
  script="bench/$s.sh"
  if [ ! -x "$script" ]; then
    echo "bench: unknown suite '$s' (have: ${all[*]})" >&2
    exit 2
  fi
  echo "== bench/$s.sh ($(date -u +%H:%M:%S))"
  "$script"
done
