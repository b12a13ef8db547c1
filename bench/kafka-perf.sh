#!/usr/bin/env bash
# bench/kafka-perf.sh: the Kafka floors in results/notes/kafka-broker.md, measured with
# deploy/kafka/kafka.sh and Kafka's own perf tools against one local broker.
#
#   ./bench/kafka-perf.sh                 (or: make bench SUITES=kafka-perf ... ./bench/run.sh kafka-perf)
#
#   1. cold fetch: kafka.sh fetch into an empty cache with an empty Maven repository
#      (-Dmaven.repo.local=<tmp>), as on a fresh CI machine; KAFKA_PERF_COLD=0 skips it
#   2. warm start: $STARTS (default 3) runs of `kafka.sh up 1` then `down`, each and the median
#   3. one run of ProducerPerformance then ConsumerPerformance, $RECORDS (default 1,000,000)
#      records of 300 bytes on a fresh 12-partition topic, producer defaults (acks=all,
#      idempotent; batch.size 16 KiB; linger.ms 5 in Kafka 4.x)
#
# The machine may be shared: the script prints nproc and the load average beside the figures.
# It uses its own state directory and always stops its broker (trap).
set -euo pipefail
cd "$(dirname "$0")/.."
ctl=$PWD/deploy/kafka/kafka.sh
records=${RECORDS:-1000000}
starts=${STARTS:-3}
version=$("$ctl" version)

export KAFKA_RUN_DIR
KAFKA_RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cartwatch-kafka-perf.XXXXXX")
cold=""
cleanup() {
  if [ -f "$KAFKA_RUN_DIR/nodes" ]; then "$ctl" down || true; fi
  [ -n "${KEEP_LOGS:-}" ] || rm -rf "$KAFKA_RUN_DIR"; [ -z "$cold" ] || rm -rf "$cold"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "Kafka $version; $(nproc) cores; load average: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"

if [ "${KAFKA_PERF_COLD:-1}" != 0 ]; then
  cold=$(mktemp -d "${TMPDIR:-/tmp}/cartwatch-kafka-cold.XXXXXX")
  t=$(date +%s%N)
  KAFKA_CACHE_DIR=$cold/cache KAFKA_MVN_ARGS="-Dmaven.repo.local=$cold/m2" "$ctl" fetch
  echo "cold fetch: $(ms "$t") ms, $(du -sm "$cold/m2" | cut -f1) MB downloaded into an empty Maven repo, $(du -sm "$cold/cache" | cut -f1) MB of jars"
  echo "  KAFKA_CACHE_DIR=\$(mktemp -d) KAFKA_MVN_ARGS=-Dmaven.repo.local=\$(mktemp -d) deploy/kafka/kafka.sh fetch"
  rm -rf "$cold"
  cold=""
fi

"$ctl" fetch
times=()
for ((i = 1; i <= starts; i++)); do
  t=$(date +%s%N)
  "$ctl" up 1 2>/dev/null
  times+=("$(ms "$t")")
  "$ctl" down 2>/dev/null
done
echo "warm start (kafka.sh up 1: format, start, until metadata answers): ${times[*]} ms; median $(printf '%s\n' "${times[@]}" | median) ms"

"$ctl" up 1 2>/dev/null
bs=$("$ctl" bootstrap)
topic=perf-$(date +%s)
"$ctl" run org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" --create --topic "$topic" \
  --partitions 12 --replication-factor 1 >/dev/null

cmd=(org.apache.kafka.tools.ProducerPerformance --bootstrap-server "$bs" --topic "$topic"
  --num-records "$records" --record-size 300 --throughput -1)
echo "producer: deploy/kafka/kafka.sh run ${cmd[*]}"
"$ctl" run "${cmd[@]}" | tail -n 1

cmd=(org.apache.kafka.tools.ConsumerPerformance --bootstrap-server "$bs" --topic "$topic"
  --num-records "$records" --group "perf-$topic" --timeout 60000)
echo "consumer: deploy/kafka/kafka.sh run ${cmd[*]}"
"$ctl" run "${cmd[@]}"
