#!/usr/bin/env bash
# kafka.sh: a real Apache Kafka (KRaft) on 127.0.0.1, fetched from Maven Central.
#
#   kafka.sh up [1|3]      fetch (once), format and start 1 combined broker+controller
#                          on 127.0.0.1:9092, or a 3-node quorum on 9092-9094; waits
#                          until every broker answers metadata requests
#   kafka.sh down          stop exactly the recorded broker pids, remove their data
#   kafka.sh status        what runs, where, and whether it answers
#   kafka.sh stop ID       stop one broker (SIGTERM, controlled shutdown); kill ID: SIGKILL
#   kafka.sh start ID      start a stopped broker again on its old data, wait for it
#   kafka.sh bootstrap     print the bootstrap addresses of the running cluster
#   kafka.sh bootstrap-secure  the same for the SASL_SSL listeners (KAFKA_SECURITY=sasl_ssl)
#   kafka.sh fetch         only fetch the jars into the cache
#   kafka.sh run CLASS ..  run a Java main class (e.g. org.apache.kafka.tools.ProducerPerformance)
#                          on the cached classpath with quiet logging
#
# The Kafka version is pinned in pom.xml (kafka.version), nowhere else. Needs Java 17+,
# Maven 3 and Go (for the metadata readiness probe in kready/).
#
# Environment (all optional):
#   KAFKA_RUN_DIR      state: pids, configs, logs (default deploy/kafka/run)
#   KAFKA_CACHE_DIR    fetched jars and the kready binary (default deploy/kafka/.cache)
#   KAFKA_PORT_BASE    first broker port (default 9092); controllers on base+10000..
#   KAFKA_HEAP_OPTS    JVM heap per broker (default -Xms128m -Xmx512m)
#   KAFKA_UP_TIMEOUT   seconds to wait for the brokers (default 120)
#   KAFKA_MVN_ARGS     extra mvn arguments, e.g. -Dmaven.repo.local=/tmp/emptyrepo
#
# Secure mode (opt-in, read by up): KAFKA_SECURITY=sasl_ssl adds to every broker a
# SASL_SSL listener on base+100.. (KAFKA_SECURE_PORT_BASE) taking SCRAM-SHA-512; the
# PLAINTEXT listener stays for the controllers, the brokers among themselves and
# tools. What it needs is made by the caller (kafkatest's TestSecureSASLSSL makes
# both in Go), never by this script:
#   KAFKA_SSL_KEYSTORE     PEM file: the server's unencrypted PKCS#8 key, then its
#                          certificate chain (ssl.keystore.type=PEM)
#   KAFKA_SCRAM_USERS      file of "user password" lines ([A-Za-z0-9._-] only): the
#                          SCRAM-SHA-512 users, written into the metadata at format time
#                          (kafka-storage format --add-scram); never printed
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
run_dir=${KAFKA_RUN_DIR:-$here/run}
port_base=${KAFKA_PORT_BASE:-9092}
heap=${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}
up_timeout=${KAFKA_UP_TIMEOUT:-120}
secure_base=${KAFKA_SECURE_PORT_BASE:-$((port_base + 100))}

die() { echo "kafka.sh: $*" >&2; exit 1; }
log() { echo "kafka.sh: $*" >&2; }

version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
[ -n "$version" ] || die "no <kafka.version> in $here/pom.xml"
cache_dir=${KAFKA_CACHE_DIR:-$here/.cache}
cache="$cache_dir/kafka-$version"
lib="$cache/lib"

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 not found on PATH: $2"
}

java_ok() {
  need java "install a Java 17+ runtime (Kafka $version needs it)"
  local v
  v=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
  [ "${v%%.*}" -ge 17 ] 2>/dev/null || die "java $v found, Kafka $version needs Java 17+"
}

# fetch copies kafka_2.13, kafka-tools and their runtime dependencies into the
# cache once; the .complete marker keeps a half-finished copy from counting.
fetch() {
  [ -f "$cache/.complete" ] && return 0
  need mvn "install Maven 3 (it fetches Kafka $version from Maven Central)"
  log "fetching Apache Kafka $version from Maven Central into $lib"
  local t0=$SECONDS
  rm -rf "$cache"
  mkdir -p "$cache"
  # shellcheck disable=SC2086 # KAFKA_MVN_ARGS is a list of arguments.
  if ! mvn -q -B -f "$here/pom.xml" ${KAFKA_MVN_ARGS:-} dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$lib" >"$cache/mvn.log" 2>&1; then
    tail -n 30 "$cache/mvn.log" >&2
    die "mvn could not fetch Kafka $version (full log: $cache/mvn.log)"
  fi
  [ -f "$lib/kafka_2.13-$version.jar" ] || die "mvn finished but $lib/kafka_2.13-$version.jar is missing"
  touch "$cache/.complete"
  log "fetched $(find "$lib" -name '*.jar' | wc -l) jars in $((SECONDS - t0)) s"
}

kready_bin() {
  local bin="$cache_dir/kready"
  if [ ! -x "$bin" ] || [ -n "$(find "$here/kready" -newer "$bin" -name '*.go' 2>/dev/null)" ]; then
    need go "the readiness probe deploy/kafka/kready is a Go program"
    (cd "$repo" && go build -o "$bin" ./deploy/kafka/kready) || die "cannot build deploy/kafka/kready"
  fi
  echo "$bin"
}

broker_port() { echo $((port_base + $1 - 1)); }
ctrl_port() { echo $((port_base + 10000 + $1 - 1)); }
secure_port() { echo $((secure_base + $1 - 1)); }
# security: the mode the recorded cluster was started in (none or sasl_ssl).
security() { cat "$run_dir/security" 2>/dev/null || echo none; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

nodes() { cat "$run_dir/nodes" 2>/dev/null || true; }

bootstrap() {
  local n i out="" port=broker_port
  n=$(nodes)
  [ -n "$n" ] || die "no cluster recorded in $run_dir (run: kafka.sh up)"
  if [ "${1:-}" = secure ]; then
    [ "$(security)" = sasl_ssl ] || die "the cluster in $run_dir has no SASL_SSL listener (start it with KAFKA_SECURITY=sasl_ssl)"
    port=secure_port
  fi
  for ((i = 1; i <= n; i++)); do out+="${out:+,}127.0.0.1:$($port "$i")"; done
  echo "$out"
}

# alive ID: the recorded pid exists and is the java we started for this run dir
# (the marker property guards against a recycled pid).
alive() {
  local f="$run_dir/node$1/pid" pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "-Dcartwatch.kafka.run=$run_dir/node$1 "
}

# cluster_id makes what `kafka-storage.sh random-uuid` prints (16 random bytes,
# unpadded URL-safe base64, never starting with '-') without a JVM start: under
# load that JVM costs seconds.
cluster_id() {
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    [[ "$id" == -* ]] || break
  done
  echo "$id"
}

write_config() {
  local id=$1 n=$2 data=$3 voters="" i rf=$2 isr=1
  [ "$n" -ge 3 ] && isr=2
  for ((i = 1; i <= n; i++)); do voters+="${voters:+,}$i@127.0.0.1:$(ctrl_port "$i")"; done
  cat >"$run_dir/node$id/server.properties" <<EOF
# Written by deploy/kafka/kafka.sh up $n; node $id of $n.
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(broker_port "$id"),CONTROLLER://127.0.0.1:$(ctrl_port "$id")
advertised.listeners=PLAINTEXT://127.0.0.1:$(broker_port "$id")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data/node$id
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=1
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
# Tests and users start consuming right away; the 3 s default only adds latency here.
group.initial.rebalance.delay.ms=0
EOF
  if [ "${KAFKA_SECURITY:-}" = sasl_ssl ]; then
    # The SASL_SSL listener beside PLAINTEXT: later keys win in a properties file.
    cat >>"$run_dir/node$id/server.properties" <<EOF
# KAFKA_SECURITY=sasl_ssl: clients with TLS and SCRAM-SHA-512 on $(secure_port "$id").
listeners=PLAINTEXT://127.0.0.1:$(broker_port "$id"),CONTROLLER://127.0.0.1:$(ctrl_port "$id"),SASL_SSL://127.0.0.1:$(secure_port "$id")
advertised.listeners=PLAINTEXT://127.0.0.1:$(broker_port "$id"),SASL_SSL://127.0.0.1:$(secure_port "$id")
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$KAFKA_SSL_KEYSTORE
EOF
  fi
}

# check_security validates the secure mode's inputs before anything starts and
# sets scram_args, the --add-scram arguments of the format step.
scram_args=()
check_security() {
  case "${KAFKA_SECURITY:-}" in
    "" | none) return 0 ;;
    sasl_ssl) ;;
    *) die "KAFKA_SECURITY=${KAFKA_SECURITY}: want sasl_ssl (or nothing)" ;;
  esac
  [ -r "${KAFKA_SSL_KEYSTORE:-}" ] || die "KAFKA_SECURITY=sasl_ssl needs KAFKA_SSL_KEYSTORE, a readable PEM file (key, then certificate)"
  [ -r "${KAFKA_SCRAM_USERS:-}" ] || die "KAFKA_SECURITY=sasl_ssl needs KAFKA_SCRAM_USERS, a readable file of 'user password' lines"
  local user pw n=0
  while read -r user pw; do
    [ -n "$user" ] || continue
    [[ "$user" =~ ^[A-Za-z0-9._-]+$ && "$pw" =~ ^[A-Za-z0-9._-]+$ ]] ||
      die "KAFKA_SCRAM_USERS line $((n + 1)): want 'user password', each of [A-Za-z0-9._-]"
    scram_args+=(--add-scram "SCRAM-SHA-512=[name=$user,password=$pw]")
    n=$((n + 1))
  done <"$KAFKA_SCRAM_USERS"
  [ "$n" -gt 0 ] || die "KAFKA_SCRAM_USERS: no user"
}

start_node() {
  local id=$1 dir="$run_dir/node$1"
  # shellcheck disable=SC2086 # heap is a list of JVM options.
  setsid java $heap -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -Djava.awt.headless=true -Dcartwatch.kafka.run="$dir" \
    -Dkafka.logs.dir="$dir" -Dlog4j2.configurationFile="$here/log4j2.xml" \
    -cp "$lib/*" kafka.Kafka "$dir/server.properties" >>"$dir/stdout.log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
}

# wait_ready N IDS...: kready against the given brokers; on failure the tail of
# each broker's log, so the reason is on screen.
wait_ready() {
  local want=$1 ids=("${@:2}") addrs="" pids="" id rc=0 bin
  bin=$(kready_bin)
  for id in "${ids[@]}"; do
    addrs+="${addrs:+,}127.0.0.1:$(broker_port "$id")"
    pids+="${pids:+,}$(cat "$run_dir/node$id/pid")"
  done
  "$bin" -brokers "$addrs" -n "$want" -timeout "${up_timeout}s" -pids "$pids" >&2 || rc=$?
  if [ "$rc" -ne 0 ]; then
    for id in "${ids[@]}"; do
      echo "---- node $id: tail of $run_dir/node$id/server.log and stdout.log" >&2
      # Without the tab-indented lines of the startup config dump.
      grep -v "$(printf '^\t')" "$run_dir/node$id/server.log" 2>/dev/null | tail -n 25 >&2 || true
      tail -n 10 "$run_dir/node$id/stdout.log" >&2 2>/dev/null || true
    done
    return "$rc"
  fi
}

cmd_up() {
  local n=${1:-1} i id data t0
  case "$n" in 1 | 3) ;; *) die "up $n: the cluster size is 1 or 3" ;; esac
  if [ -n "$(nodes)" ]; then
    local any=""
    for ((id = 1; id <= $(nodes); id++)); do alive "$id" && any=1; done
    [ -n "$any" ] && die "a $(nodes)-node cluster is already running from $run_dir (kafka.sh status; kafka.sh down)"
    # Left over from a run whose brokers are gone (a crash, a reboot): clean it up.
    log "clearing stale state in $run_dir (no recorded broker is running)"
    cmd_down >/dev/null 2>&1
  fi
  java_ok
  check_security
  fetch
  for ((i = 1; i <= n; i++)); do
    local ports=("$(broker_port "$i")" "$(ctrl_port "$i")")
    if [ "${KAFKA_SECURITY:-}" = sasl_ssl ]; then ports+=("$(secure_port "$i")"); fi
    for p in "${ports[@]}"; do
      port_busy "$p" && die "127.0.0.1:$p is already in use (another Kafka? try KAFKA_PORT_BASE=19192)"
    done
  done
  t0=$(date +%s%N)
  rm -rf "$run_dir"
  mkdir -p "$run_dir"
  data=$(mktemp -d "${TMPDIR:-/tmp}/cartwatch-kafka.XXXXXX")
  echo "$data" >"$run_dir/data"
  echo "$n" >"$run_dir/nodes"
  if [ "${KAFKA_SECURITY:-}" = sasl_ssl ]; then echo sasl_ssl >"$run_dir/security"; fi
  # One cluster id for every node: they must agree or the quorum never forms.
  local cid
  cid=$(cluster_id)
  for ((id = 1; id <= n; id++)); do
    mkdir -p "$run_dir/node$id"
    write_config "$id" "$n" "$data"
  done
  # Formatting is one JVM per node; run them side by side.
  local fpids=()
  for ((id = 1; id <= n; id++)); do
    # A short-lived JVM: C1 only and the serial collector start it faster.
    java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx256m -cp "$lib/*" \
      -Dlog4j2.configurationFile="$here/log4j2.xml" -Dkafka.logs.dir="$run_dir/node$id" \
      kafka.tools.StorageTool format -t "$cid" -c "$run_dir/node$id/server.properties" "${scram_args[@]}" \
      >"$run_dir/node$id/format.log" 2>&1 &
    fpids+=($!)
  done
  for ((id = 1; id <= n; id++)); do
    if ! wait "${fpids[id - 1]}"; then
      cat "$run_dir/node$id/format.log" >&2
      cmd_down >/dev/null 2>&1 || true
      die "formatting node $id failed"
    fi
  done
  for ((id = 1; id <= n; id++)); do start_node "$id"; done
  local ids=()
  for ((id = 1; id <= n; id++)); do ids+=("$id"); done
  local rc=0
  wait_ready "$n" "${ids[@]}" || rc=$?
  if [ "$rc" -ne 0 ]; then
    cmd_down >/dev/null 2>&1 || true
    [ "$rc" -eq 3 ] && die "a Kafka $version broker exited during startup (its log is above)"
    die "Kafka $version ($n node) did not answer metadata within ${up_timeout}s (logs above; KAFKA_UP_TIMEOUT raises the bound)"
  fi
  local sec=""
  if [ "$(security)" = sasl_ssl ]; then sec=", SASL_SSL (SCRAM-SHA-512) at $(bootstrap secure)"; fi
  log "Kafka $version up: $n node(s) at $(bootstrap)$sec in $((($(date +%s%N) - t0) / 1000000)) ms (data $data, state $run_dir)"
}

stop_node() {
  local id=$1 sig=${2:-TERM} pid i
  alive "$id" || return 0
  pid=$(cat "$run_dir/node$id/pid")
  kill -s "$sig" "$pid" 2>/dev/null || true
  # Controlled shutdown moves leadership away first; it takes a few seconds.
  for ((i = 0; i < 300; i++)); do
    alive "$id" || { rm -f "$run_dir/node$id/pid"; return 0; }
    sleep 0.1
  done
  log "node $id (pid $pid) ignored SIG$sig for 30 s, sending SIGKILL"
  kill -s KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    alive "$id" || { rm -f "$run_dir/node$id/pid"; return 0; }
    sleep 0.1
  done
  die "node $id (pid $pid) survives SIGKILL"
}

cmd_down() {
  local n id data
  n=$(nodes)
  if [ -z "$n" ]; then
    log "nothing recorded in $run_dir: nothing to stop"
    return 0
  fi
  # Stop all at once: one by one, the last controller waits for a quorum that is gone.
  for ((id = 1; id <= n; id++)); do
    if alive "$id"; then kill -s TERM "$(cat "$run_dir/node$id/pid")" 2>/dev/null || true; fi
  done
  for ((id = 1; id <= n; id++)); do stop_node "$id" TERM; done
  data=$(cat "$run_dir/data" 2>/dev/null || true)
  case "$data" in
    "${TMPDIR:-/tmp}"/cartwatch-kafka.*) rm -rf "$data" ;;
    *) [ -z "$data" ] || log "not removing unexpected data path '$data'" ;;
  esac
  rm -f "$run_dir/nodes" "$run_dir/data" "$run_dir/security"
  log "stopped $n node(s), removed $data"
}

cmd_status() {
  local n id
  n=$(nodes)
  if [ -z "$n" ]; then
    echo "kafka.sh: no cluster recorded in $run_dir"
    return 1
  fi
  echo "Kafka $version, $n node(s), data $(cat "$run_dir/data"), state $run_dir"
  local rc=0
  for ((id = 1; id <= n; id++)); do
    if alive "$id"; then
      echo "node $id: pid $(cat "$run_dir/node$id/pid"), 127.0.0.1:$(broker_port "$id") (controller :$(ctrl_port "$id"))"
    else
      echo "node $id: not running"
      rc=1
    fi
  done
  return $rc
}

valid_id() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le "$2" ]; }

cmd_start() {
  local id=${1:-} n
  n=$(nodes)
  [ -n "$n" ] || die "no cluster recorded in $run_dir (run: kafka.sh up)"
  valid_id "$id" "$n" || die "start '$id': node ids are 1..$n"
  alive "$id" && die "node $id is already running"
  start_node "$id"
  local ids=()
  for ((i = 1; i <= n; i++)); do ids+=("$i"); done
  wait_ready "$n" "${ids[@]}" || die "node $id did not rejoin within ${up_timeout}s"
}

cmd_stop() {
  local id=${1:-} sig=$2 n
  n=$(nodes)
  [ -n "$n" ] || die "no cluster recorded in $run_dir"
  valid_id "$id" "$n" || die "stop '$id': node ids are 1..$n"
  alive "$id" || die "node $id is not running"
  stop_node "$id" "$sig"
  log "node $id stopped (SIG$sig)"
}

cmd_run() {
  [ $# -ge 1 ] || die "run CLASS [ARGS...]"
  java_ok
  fetch
  mkdir -p "$run_dir/tools"
  # shellcheck disable=SC2086
  exec java ${KAFKA_TOOL_HEAP:--Xmx512m} -Dkafka.logs.dir="$run_dir/tools" \
    -Dlog4j2.configurationFile="$here/log4j2.xml" -cp "$lib/*" "$@"
}

case "${1:-}" in
  up) cmd_up "${2:-1}" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  stop) cmd_stop "${2:-}" TERM ;;
  kill) cmd_stop "${2:-}" KILL ;;
  start) cmd_start "${2:-}" ;;
  bootstrap) bootstrap ;;
  bootstrap-secure) bootstrap secure ;;
  fetch) java_ok; fetch ;;
  version) echo "$version" ;;
  run) shift; cmd_run "$@" ;;
  *)
    sed -n '2,/^set -e/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
