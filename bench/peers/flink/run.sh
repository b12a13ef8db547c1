#!/usr/bin/env bash
# bench/peers/flink/run.sh INPUT.csv [--ttl D] [--out DIR] [--parallelism N]: the
# contract as an Apache Flink job in a local mini-cluster (README.md beside this
# file), in the peers' layout (bench/peers/lib.sh).
# bench/peers/flink/run.sh --topic T --brokers B [--ttl D] [--out DIR] [--parallelism N]:
# the same job reading a Kafka topic to the end offsets it had at the start.
# The first run fetches the pinned Flink and its Kafka connector (pom.xml) from
# Maven Central with mvn into .cache/peers/ and compiles src/Abandoned.java with
# javac (Java 17).
source "$(dirname "$0")/../lib.sh"
kafka=false
for a in "$@"; do case $a in --topic | --topic=* | --brokers | --brokers=*) kafka=true ;; esac; done
if $kafka; then peer_kafka_args "$@"; else peer_args "$@"; fi
here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's:.*<flink.version>\(.*\)</flink.version>.*:\1:p' "$here/pom.xml")
cache=$peers_repo/.cache/peers/flink-$version
# The jars are fetched again when pom.xml changes (its checksum is kept beside them).
pom_sum=$(cksum <"$here/pom.xml")
if [ "$(cat "$cache/lib/.pom" 2>/dev/null)" != "$pom_sum" ]; then
  mkdir -p "$cache/lib"
  command -v mvn >/dev/null || { echo "$0: needs Maven 3 (apt-get install maven) to fetch Flink" >&2; exit 1; }
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$cache/lib" >"$cache.mvn.log" 2>&1 || { tail -n 30 "$cache.mvn.log" >&2; exit 1; }
  echo "$pom_sum" >"$cache/lib/.pom"
fi
if [ ! -f "$cache/classes/Abandoned.class" ] || [ "$here/src/Abandoned.java" -nt "$cache/classes/Abandoned.class" ]; then
  javac -nowarn -d "$cache/classes" -cp "$cache/lib/*" "$here/src/Abandoned.java" 2>&1 | grep -v '^Note:' >&2 || true
  [ -f "$cache/classes/Abandoned.class" ] || { echo "$0: javac failed" >&2; exit 1; }
fi
if $kafka; then
  source_args=(--kafka "$brokers" "$topic")
else
  [ "$input" != - ] || { echo "$0: the Flink job reads a file, not stdin" >&2; exit 2; }
  source_args=("$input")
fi
# Java 17 needs these opens for Flink 1.x's reflection (Flink's own conf/config.yaml has them).
opens=()
for p in java.base/java.util java.base/java.lang java.base/java.lang.reflect java.base/java.io java.base/java.net \
  java.base/java.nio java.base/sun.nio.ch java.base/java.text java.base/java.time java.base/java.util.concurrent \
  java.base/java.util.concurrent.atomic java.base/java.util.concurrent.locks; do
  opens+=(--add-opens "$p=ALL-UNNAMED")
done
timed java ${FLINK_JAVA_OPTS:--Xmx2g} "${opens[@]}" -cp "$cache/classes:$cache/lib/*" Abandoned \
  "${source_args[@]}" "$ttl_seconds" "$out" ${rest[@]+"${rest[@]}"}
peer_done
