# bench/lib.sh: what the Kafka benchmarks share, sourced by bench/kafka.sh and bench/overload.sh.
#
#   kafka_bench_start PREFIX PORT PKG...
#     a work directory ($work, removed at exit unless KEEP_LOGS is set), the packages built into
#     $work/bin ($cw and $lg when cartwatch and loadgen are among them), Kafka fetched and one
#     broker started on its own ports (KAFKA_PORT_BASE, default PORT, away from kafka-up's 9092
#     and the tests'; KAFKA_RUN_DIR under $work), stopped at exit with every pid in $pids.
#     Sets $ctl (deploy/kafka/kafka.sh) and $bs (the broker's bootstrap address).
#   machine_line
#     "N cores, CPU model, G GiB; load average before: a b c".

kafka_bench_start() {
  local prefix=$1 port=$2
  shift 2
  ctl=$root/deploy/kafka/kafka.sh
  work=$(mktemp -d "${TMPDIR:-/tmp}/$prefix.XXXXXX")
  export KAFKA_RUN_DIR=$work/kafka
  export KAFKA_PORT_BASE=${KAFKA_PORT_BASE:-$port}
  mkdir -p "$KAFKA_RUN_DIR"
  pids=()
  trap kafka_bench_cleanup EXIT
  trap 'exit 130' INT TERM
  go build -buildvcs=auto -o "$work/bin/" "$@"
  cw=$work/bin/cartwatch lg=$work/bin/loadgen
  "$ctl" fetch >/dev/null
  if ! "$ctl" up 1 >"$work/kafka-up.log" 2>&1; then
    echo "$0: kafka.sh up 1 failed (KAFKA_PORT_BASE=$KAFKA_PORT_BASE):" >&2
    tail -n 20 "$work/kafka-up.log" >&2
    exit 1
  fi
  bs=$("$ctl" bootstrap)
}

kafka_bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -f "$KAFKA_RUN_DIR/nodes" ]; then "$ctl" down >/dev/null 2>&1 || true; fi
  if [ -n "${KEEP_LOGS:-}" ]; then echo "logs kept in $work"; else rm -rf "$work"; fi
}

machine_line() {
  echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB;" \
    "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
}
