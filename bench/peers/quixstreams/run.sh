#!/usr/bin/env bash
# bench/peers/quixstreams/run.sh --topic T --brokers B [--ttl D] [--out DIR] [--no-changelog]:
# the prototype's approach, a QuixStreams application (app.py, README.md beside this
# file), reading topic T from its start to the end offsets it had at the start, in the
# peers' layout (bench/peers/lib.sh). The first run makes a venv under .cache/peers/
# and installs the pinned quixstreams from PyPI into it.
source "$(dirname "$0")/../lib.sh"
peer_kafka_args "$@"
version=3.28.1
venv=$peers_repo/.cache/peers/quixstreams-venv
if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('quixstreams') != '$version')" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "quixstreams==$version"
fi
# QuixStreams pulls in authlib, which warns on import about a module it does not use here.
export PYTHONWARNINGS=ignore
timed "$venv/bin/python" "$(dirname "$0")/app.py" --brokers "$brokers" --topic "$topic" \
  --ttl-seconds "$ttl_seconds" --out "$out" ${rest[@]+"${rest[@]}"}
peer_done
