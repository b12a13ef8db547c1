#!/usr/bin/env bash
# bench/kafka.sh: the Kafka pipeline against Kafka's own tools, side by side in one run on one
# local broker (deploy/kafka/kafka.sh); the Kafka section of results/REPORT.md.
#
#   ./bench/kafka.sh                       (REPS=5 DAYS=2 E2E_SECONDS=600 RATE=50000 by default)
#   REPS=3 DAYS=1 E2E_SECONDS=60 ./bench/kafka.sh      (a quicker look)
#   SECTIONS="produce consume" ./bench/kafka.sh        (some of: produce consume peers e2e)
#
#   produce  REPS rounds, each: `cartwatch produce --synthetic --days DAYS`, `loadgen kafka --days
#            DAYS` and ProducerPerformance with the same records (a payload file of the JSON values
#            cartwatch wrote, read back with Kafka's ConsoleConsumer), the same count, acks=all,
#            lz4, linger.ms=10 and batches up to 1 MB (franz-go's default, which ours use), each
#            into a fresh 12-partition topic. Prints each rate and the medians.
#   consume  on the topic of the first produce round (DAYS of the synthetic month, 12 partitions):
#            REPS rounds of ConsumerPerformance then `cartwatch consume --until-end` (decode,
#            detect, alerts produced), each in a new group. Kafka's fetch rate (its time from the
#            first fetch) against ours from the first record to the end offsets.
#   peers    on the same topic, PEER_REPS (default REPS) rounds of each of KAFKA_PEERS (default: quixstreams flink),
#            bench/peers/NAME/run.sh --topic T --ttl PEER_TTL (default 5m, the prototype's
#            window): its events/s (from its first message to its last), wall time and peak RSS;
#            its answer (first round) against `cartwatch run --synthetic` on the same events at
#            the same --ttl: quixstreams in recall mode (how many of the abandoned carts it
#            reports: it misses the users who never come back), the others exactly. A peer
#            that fails is a note in the report, not a failed suite.
#   e2e      `cartwatch consume --clock wall --ttl 1s` fed by `loadgen kafka --rate RATE` for
#            E2E_SECONDS; bench/cmd/alertlat reads the alerts back: deadline to alert produced and
#            to alert read back, p50/p99/p99.9/max. The consumer's RSS every 10 s (VmRSS).
#
#   SCALE=F (optional) passes --scale F to cartwatch produce and loadgen kafka: a fraction of
#            the days' volume (make bench QUICK=1 uses it).
#
# Every figure is printed with the command that made it, and recorded as JSON in $BENCH_OUT
# under make bench (bench/cmd/record). Timed sections take /work/bench.lock
# style locks when BENCH_LOCK names a file (flock), so two benchmarks do not share the cores.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
reps=${REPS:-5}
days=${DAYS:-2}
e2e_seconds=${E2E_SECONDS:-600}
rate=${RATE:-50000}
sections=${SECTIONS:-produce consume peers e2e}
kafka_peers=${KAFKA_PEERS:-quixstreams flink}
peer_reps=${PEER_REPS:-$reps}
peer_ttl=${PEER_TTL:-5m}
scale=(); [ -z "${SCALE:-}" ] || scale=(--scale "$SCALE")
record=${RECORD:-go run ./bench/cmd/record}

if [ -n "${BENCH_LOCK:-}" ] && [ -z "${BENCH_LOCKED:-}" ]; then
  export BENCH_LOCKED=1
  exec flock "$BENCH_LOCK" "$0" "$@"
fi

. bench/lib.sh

median() { sort -n | awk '{a[NR]=$1} END {if (NR) print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
range() { sort -n | awk 'NR==1{lo=$1} {hi=$1} END {if (NR) printf "%s-%s", lo, hi}'; }
num() { tr -d ','; }  # 1,234 -> 1234
say() { printf '%s\n' "$*"; }

kafka_bench_start cartwatch-kafka-bench 29092 ./cmd/cartwatch ./cmd/loadgen ./bench/cmd/alertlat ./bench/peers/compare
say "# bench/kafka.sh $(date -u +%FT%TZ): Kafka $("$ctl" version), $($cw version 2>/dev/null | head -1)"
say "# $(machine_line)"
say "# REPS=$reps DAYS=$days E2E_SECONDS=$e2e_seconds RATE=$rate KAFKA_PEERS=\"$kafka_peers\" PEER_REPS=$peer_reps PEER_TTL=$peer_ttl"
topics() { "$ctl" run org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" "$@"; }
mktopic() { topics --create --topic "$1" --partitions 12 --replication-factor 1 --config retention.ms=-1 >/dev/null; }

filled=""   # the topic of the first produce round: the consume section reads it
events=0
fill() {
  filled=fill-events
  "$cw" produce --brokers "$bs" --synthetic --days "$days" ${scale[@]+"${scale[@]}"} --topic "$filled" --partitions 12 2>/dev/null |
    tee "$work/fill.out" >/dev/null
  events=$(grep -o 'produce: [0-9,]* events' "$work/fill.out" | grep -o '[0-9,]*' | num)
}

if [[ " $sections " == *" produce "* ]]; then
  say ""
  say "## produce: $days days of the synthetic month, JSON values, lz4, acks=all, linger 10ms, 12 partitions"
  declare -a r_cw r_lg r_pp
  for ((i = 1; i <= reps; i++)); do
    if [ "$i" = 1 ] && [ -z "$filled" ]; then
      fill
      out=$(cat "$work/fill.out")
      # The payload file: the same JSON values, for ProducerPerformance.
      "$ctl" run org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$bs" --topic "$filled" \
        --from-beginning --max-messages 200000 --timeout-ms 20000 >"$work/payloads.json" 2>/dev/null || true
      plines=$(wc -l <"$work/payloads.json")
      pbytes=$(wc -c <"$work/payloads.json")
      say "payload file for ProducerPerformance: $plines JSON values read back from $filled, $((pbytes / plines)) bytes each on average"
    else
      out=$("$cw" produce --brokers "$bs" --synthetic --days "$days" ${scale[@]+"${scale[@]}"} --topic "prod-cw-$i" --partitions 12 2>/dev/null)
    fi
    r=$(grep -o '[0-9,]* events/s' <<<"$out" | head -1 | grep -o '^[0-9,]*' | num)
    r_cw+=("$r")
    say "round $i cartwatch produce:   $r events/s   ($(tail -1 <<<"$out"))"

    out=$("$lg" kafka --brokers "$bs" --days "$days" ${scale[@]+"${scale[@]}"} --topic "prod-lg-$i" --partitions 12 2>/dev/null | grep '^loadgen kafka:')
    r=$(grep -o '[0-9,]* events/s' <<<"$out" | head -1 | grep -o '^[0-9,]*' | num)
    r_lg+=("$r")
    say "round $i loadgen kafka:       $r events/s   ($out)"

    mktopic "prod-pp-$i"
    out=$("$ctl" run org.apache.kafka.tools.ProducerPerformance --bootstrap-server "$bs" --topic "prod-pp-$i" \
      --num-records "$events" --payload-file "$work/payloads.json" --throughput -1 \
      --producer-props acks=all compression.type=lz4 linger.ms=10 batch.size=1000000 2>/dev/null | tail -1)
    r=$(grep -o '[0-9.]* records/sec' <<<"$out" | cut -d' ' -f1 | cut -d. -f1)
    r_pp+=("$r")
    say "round $i ProducerPerformance: $r records/s   ($out)"
  done
  say "commands:"
  say "  cartwatch produce --synthetic --days $days --topic T --partitions 12            (defaults: json, lz4, acks all, linger 10ms)"
  say "  loadgen kafka --days $days --topic T --partitions 12                              (same defaults)"
  say "  kafka.sh run org.apache.kafka.tools.ProducerPerformance --topic T --num-records $events --payload-file P --throughput -1 --producer-props acks=all compression.type=lz4 linger.ms=10 batch.size=1000000"
  say "median events/s (min-max) over $reps rounds:"
  say "  cartwatch produce    $(printf '%s\n' "${r_cw[@]}" | median)   ($(printf '%s\n' "${r_cw[@]}" | range))"
  say "  loadgen kafka        $(printf '%s\n' "${r_lg[@]}" | median)   ($(printf '%s\n' "${r_lg[@]}" | range))"
  say "  ProducerPerformance  $(printf '%s\n' "${r_pp[@]}" | median)   ($(printf '%s\n' "${r_pp[@]}" | range))"
  in="$days days${SCALE:+ at scale $SCALE}="
  $record add -suite kafka -system "cartwatch produce" -name produce -unit events/s -input "$in" -events "$events" \
    -cmd "cartwatch produce --synthetic --days $days ${scale[*]} --topic T --partitions 12" "${r_cw[@]}"
  $record add -suite kafka -system "loadgen kafka" -name produce -unit events/s -input "$in" -events "$events" \
    -cmd "loadgen kafka --days $days ${scale[*]} --topic T --partitions 12" "${r_lg[@]}"
  $record add -suite kafka -system ProducerPerformance -name produce -unit events/s -input "$in" -events "$events" \
    -cmd "kafka.sh run org.apache.kafka.tools.ProducerPerformance --topic T --num-records $events --payload-file P --throughput -1 --producer-props acks=all compression.type=lz4 linger.ms=10 batch.size=1000000" "${r_pp[@]}"
fi

if [[ " $sections " == *" consume "* ]]; then
  [ -n "$filled" ] || fill
  say ""
  say "## consume: $events events ($days days of the synthetic month, JSON) on 12 partitions of $filled"
  declare -a c_pp c_ppall c_cw c_cwall
  for ((i = 1; i <= reps; i++)); do
    out=$("$ctl" run org.apache.kafka.tools.ConsumerPerformance --bootstrap-server "$bs" --topic "$filled" \
      --num-records "$events" --group "perf-$i" --timeout 60000 2>/dev/null | tail -1)
    # start, end, MB, MB/s, records, records/s, rebalance ms, fetch ms, fetch MB/s, fetch records/s
    all=$(cut -d, -f6 <<<"$out" | tr -d ' ' | cut -d. -f1)
    fetch=$(cut -d, -f10 <<<"$out" | tr -d ' ' | cut -d. -f1)
    c_pp+=("$fetch") c_ppall+=("$all")
    say "round $i ConsumerPerformance: fetch $fetch records/s, overall $all records/s   ($out)"

    t0=$(date +%s%N)
    "$cw" consume --http 127.0.0.1:0 --brokers "$bs" --topic "$filled" --group "cw-$i" --alerts-topic "alerts-$i" --until-end \
      --status-interval 0 2>"$work/consume-$i.err"
    t1=$(date +%s%N)
    r=$(grep -o '[0-9,]* records/s from the first record' "$work/consume-$i.err" | grep -o '^[0-9,]*' | num)
    wall=$(((t1 - t0) / 1000000))
    allr=$((events * 1000 / wall))
    c_cw+=("$r") c_cwall+=("$allr")
    say "round $i cartwatch consume:   $r records/s from the first record, $allr records/s over the process's $wall ms   ($(grep 'read to the end' "$work/consume-$i.err" | sed 's/^cartwatch consume: //'))"
  done
  say "commands:"
  say "  kafka.sh run org.apache.kafka.tools.ConsumerPerformance --topic $filled --num-records $events --group G --timeout 60000"
  say "  cartwatch consume --topic $filled --group G --alerts-topic A --until-end"
  say "median records/s (min-max) over $reps rounds:"
  say "  ConsumerPerformance fetch rate (from its first fetch)   $(printf '%s\n' "${c_pp[@]}" | median)   ($(printf '%s\n' "${c_pp[@]}" | range))"
  say "  cartwatch consume from its first record                 $(printf '%s\n' "${c_cw[@]}" | median)   ($(printf '%s\n' "${c_cw[@]}" | range))"
  say "  ConsumerPerformance overall (group join included)       $(printf '%s\n' "${c_ppall[@]}" | median)   ($(printf '%s\n' "${c_ppall[@]}" | range))"
  say "  cartwatch consume over the whole process (start, join, topics, exit)   $(printf '%s\n' "${c_cwall[@]}" | median)   ($(printf '%s\n' "${c_cwall[@]}" | range))"
  in="$days days${SCALE:+ at scale $SCALE}="
  pcmd="kafka.sh run org.apache.kafka.tools.ConsumerPerformance --topic $filled --num-records $events --group G --timeout 60000"
  ccmd="cartwatch consume --topic $filled --group G --alerts-topic A --until-end"
  $record add -suite kafka -system ConsumerPerformance -name consume -unit events/s -param measure=fetch -input "$in" -events "$events" -cmd "$pcmd" "${c_pp[@]}"
  $record add -suite kafka -system "cartwatch consume" -name consume -unit events/s -param "measure=from the first record" -input "$in" -events "$events" -cmd "$ccmd" "${c_cw[@]}"
  $record add -suite kafka -system ConsumerPerformance -name consume -unit events/s -param "measure=overall, group join included" -input "$in" -events "$events" -cmd "$pcmd" "${c_ppall[@]}"
  $record add -suite kafka -system "cartwatch consume" -name consume -unit events/s -param "measure=whole process" -input "$in" -events "$events" -cmd "$ccmd" "${c_cwall[@]}"
fi

if [[ " $sections " == *" peers "* ]]; then
  [ -n "$filled" ] || fill
  say ""
  say "## peers: $kafka_peers on $filled ($events events, 12 partitions), --ttl $peer_ttl"
  # The true answer: cartwatch run on the same synthetic events (what produce --synthetic wrote).
  truth=$work/truth
  mkdir -p "$truth"
  tcmd="cartwatch run --synthetic --days $days ${scale[*]} --ttl $peer_ttl --summary json --alerts A"
  "$cw" run --synthetic --days "$days" ${scale[@]+"${scale[@]}"} --ttl "$peer_ttl" --progress off --summary json \
    --alerts "$truth/alerts.jsonl" >"$truth/summary.json"
  jnum() { grep -o "\"$2\": *[0-9.]*" "$1" | head -1 | sed 's/.*: *//'; }
  say "the true answer ($tcmd): $(jnum "$truth/summary.json" events) events, $(jnum "$truth/summary.json" abandoned) abandoned carts"
  in="$days days${SCALE:+ at scale $SCALE}="
  for peer in $kafka_peers; do
    mode=() p_r=() p_rss=() v=""
    [ "$peer" != quixstreams ] || mode=(--recall)
    case $peer in
      quixstreams) v=$(sed -n 's/^version=//p' bench/peers/quixstreams/run.sh) ;;
      flink) v=$(sed -n 's:.*<flink.version>\(.*\)</flink.version>.*:\1:p' bench/peers/flink/pom.xml) ;;
    esac
    pcmd="bench/peers/$peer/run.sh --topic $filled --brokers B --ttl $peer_ttl"
    for ((i = 1; i <= peer_reps; i++)); do
      pout=$work/peer-$peer-$i
      if ! "bench/peers/$peer/run.sh" --topic "$filled" --brokers "$bs" --ttl "$peer_ttl" --out "$pout" >"$pout.log" 2>&1; then
        say "round $i $peer: FAILED ($(tail -1 "$pout.log"))"
        $record note "bench/kafka.sh: $peer on $filled failed (round $i): $(tail -1 "$pout.log")"
        break
      fi
      r=$(jnum "$pout/summary.json" events_per_second | cut -d. -f1)
      p_r+=("$r") p_rss+=("$(jnum "$pout/resources.json" peak_rss_kb)")
      say "round $i $peer: $r events/s from its first message, $(jnum "$pout/resources.json" wall_seconds) s and $(jnum "$pout/resources.json" peak_rss_kb) KiB peak RSS for the process"
    done
    [ ${#p_r[@]} -gt 0 ] || continue
    "$work/bin/compare" ${mode[@]+"${mode[@]}"} --show 0 "$truth" "$work/peer-$peer-1" >"$work/$peer.cmp" || true
    "$work/bin/compare" ${mode[@]+"${mode[@]}"} --json "$truth" "$work/peer-$peer-1" >"$work/$peer.check" || true
    say "$peer's answer against cartwatch run's:"
    sed 's/^/  /' "$work/$peer.cmp"
    maxrss=$(printf '%s\n' "${p_rss[@]}" | sort -n | tail -1)
    say "median events/s (min-max) over ${#p_r[@]} rounds: $peer $(printf '%s\n' "${p_r[@]}" | median) ($(printf '%s\n' "${p_r[@]}" | range))"
    args=(add -suite kafka -system "$peer" -name consume -unit events/s -param "measure=from its first message" -input "$in"
      -events "$events" -rss "${maxrss:-0}" -cmd "$pcmd")
    [ -s "$work/$peer.check" ] && args+=(-check "$work/$peer.check")
    [ -n "$v" ] && args+=(-version "$v")
    $record "${args[@]}" "${p_r[@]}"
  done
  say "commands:"
  say "  $tcmd     (the true answer)"
  for peer in $kafka_peers; do say "  bench/peers/$peer/run.sh --topic $filled --brokers B --ttl $peer_ttl"; done
fi

if [[ " $sections " == *" e2e "* ]]; then
  say ""
  say "## e2e: loadgen kafka --rate $rate for ${e2e_seconds}s into cartwatch consume --clock wall --ttl 1s"
  mktopic e2e-events
  mktopic e2e-alerts
  rows=$((rate * e2e_seconds))
  "$cw" consume --http 127.0.0.1:0 --brokers "$bs" --topic e2e-events --group e2e --alerts-topic e2e-alerts --clock wall --ttl 1s \
    --status-interval 10s 2>"$work/e2e-consume.err" &
  cpid=$!
  pids+=("$cpid")
  sleep 3
  "$work/bin/alertlat" --brokers "$bs" --topic e2e-alerts --for "$((e2e_seconds + 8))s" --skip 5s >"$work/alertlat.out" 2>&1 &
  apid=$!
  pids+=("$apid")
  (
    while kill -0 "$cpid" 2>/dev/null; do
      printf '%s %s\n' "$(date +%s)" "$(awk '/VmRSS/{print $2}' "/proc/$cpid/status" 2>/dev/null)"
      sleep 10
    done
  ) >"$work/rss.txt" &
  pids+=("$!")
  sleep 1
  "$lg" kafka --brokers "$bs" --topic e2e-events --rate "$rate" --rows "$rows" 2>&1 | grep '^loadgen kafka:\|^rate:' >"$work/e2e-loadgen.out" || true
  wait "$apid" || true
  kill -TERM "$cpid" 2>/dev/null || true
  wait "$cpid" || true
  cat "$work/e2e-loadgen.out"
  cat "$work/alertlat.out"
  say "cartwatch consume RSS (MiB) every 10 s:"
  awk 'NR==1{t0=$1} $2!=""{printf "  %4ds %6.1f", $1-t0, $2/1024; if (++n % 8 == 0) printf "\n"} END {if (n % 8) printf "\n"}' "$work/rss.txt"
  awk '$2!=""{v[NR]=$2} END {n=NR; if (n>=4) {a=v[int(n/2)]; b=v[n]; printf "RSS second half: %.1f -> %.1f MiB (%+.1f%%)\n", a/1024, b/1024, (b-a)*100/a}}' "$work/rss.txt"
  say "consume's last status line: $(grep 'records/s' "$work/e2e-consume.err" | tail -1 | sed 's/^cartwatch consume: //')"
  say "commands:"
  say "  cartwatch consume --topic e2e-events --group e2e --alerts-topic e2e-alerts --clock wall --ttl 1s"
  say "  go run ./bench/cmd/alertlat --topic e2e-alerts --for $((e2e_seconds + 8))s --skip 5s"
  say "  loadgen kafka --topic e2e-events --rate $rate --rows $rows"
  # "  deadline to alert produced   p50 2.1ms  p99 8.5ms  p99.9 20ms  max 45ms": each in ms.
  grep 'p50 ' "$work/alertlat.out" | while read -r line; do
    what=$(sed 's/ *p50 .*//; s/^ *//' <<<"$line")
    for q in p50 p99 p99.9 max; do
      v=$(grep -o " $q [0-9.]*[µumsh]*" <<<" $line" | awk '{v=$2; u=v; sub(/^[0-9.]+/, "", u); n=v+0
        f = (u=="s") ? 1000 : (u=="ms") ? 1 : (u=="µs" || u=="us") ? 0.001 : (u=="ns") ? 1e-6 : (u=="m") ? 60000 : 1
        printf "%.3f", n*f}')
      [ -n "$v" ] && $record add -suite kafka -system "cartwatch consume" -name e2e -unit ms -param "what=$what" -param "q=$q" \
        -cmd "cartwatch consume --clock wall --ttl 1s fed by loadgen kafka --rate $rate for ${e2e_seconds}s; go run ./bench/cmd/alertlat --for $((e2e_seconds + 8))s --skip 5s" "$v"
    done
  done
fi
say ""
say "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
