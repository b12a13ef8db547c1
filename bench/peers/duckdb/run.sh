#!/usr/bin/env bash
# bench/peers/duckdb/run.sh INPUT.csv [--ttl D] [--out DIR] [--threads N]: the
# contract as SQL in DuckDB (README.md beside this file), in the peers' layout
# (bench/peers/lib.sh). The first run makes a venv under .cache/peers/ and
# installs the pinned duckdb from PyPI into it.
source "$(dirname "$0")/../lib.sh"
peer_args "$@"
version=2.0.1
venv=$peers_repo/.cache/peers/duckdb-venv
if ! "$venv/bin/python" -c "import duckdb, sys; sys.exit(duckdb.__version__ != '$version')" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "duckdb==$version"
fi
[ "$input" != - ] || { echo "$0: DuckDB reads a file, not stdin" >&2; exit 2; }
timed "$venv/bin/python" "$(dirname "$0")/peer.py" "$input" "$ttl_seconds" "$out" ${rest[@]+"${rest[@]}"}
peer_done
