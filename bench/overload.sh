#!/usr/bin/env bash
# bench/overload.sh: a producer much faster than the consumer (issue 14, point 3). The member's
# memory must stay bounded while its lag grows; the figures go to results/reliability.md
# ("Overload").
#
#   ./bench/overload.sh              (RUN_SECONDS=300 CONSUME_RATE=8000 PRODUCE_RATE=100000)
#   RUN_SECONDS=60 ./bench/overload.sh  (a quicker look)
#
# One local broker (deploy/kafka/kafka.sh up 1, first port KAFKA_PORT_BASE, default 29392,
# KAFKA_RUN_DIR in a temp directory), a 12-partition topic, then side by side:
#   - `cartwatch consume --max-rate CONSUME_RATE` (state kept, checkpoints every 10 s, the
#     default event-time clock): a member held back to a known rate in its hand-over to the
#     engine, while its fetching is not (the worst case for buffering: franz-go could fetch
#     ahead as fast as the broker serves);
#   - `loadgen kafka --rate PRODUCE_RATE` for RUN_SECONDS seconds (the synthetic month from Nov 1).
# Every SAMPLE seconds (default 5) one line: the consumer's VmRSS, VmHWM and Go heap in use
# (go_memstats_heap_inuse_bytes), its records handed to the engine, its lag
# (cartwatch_kafka_consumer_lag_records summed over the partitions) and its open carts (the
# state, which grows with the users seen, not with the lag), from its /metrics.
# At the end: the rates as measured (records produced and consumed over the run) and their
# ratio, the lag at the end against what the broker holds, and RSS over the first and the
# second half of the run. The machine may be shared: run it under flock /work/bench.lock.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
secs=${RUN_SECONDS:-300}
crate=${CONSUME_RATE:-8000}
prate=${PRODUCE_RATE:-100000}
sample=${SAMPLE:-5}

. bench/lib.sh
kafka_bench_start cartwatch-overload 29392 ./cmd/cartwatch ./cmd/loadgen
echo "# bench/overload.sh $(date -u +%FT%TZ): Kafka $("$ctl" version) at $bs, $($cw version 2>/dev/null | head -1)"
echo "# $(machine_line)"
echo "# RUN_SECONDS=$secs CONSUME_RATE=$crate PRODUCE_RATE=$prate SAMPLE=$sample"
"$ctl" run org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" --create --topic ov-events \
  --partitions 12 --replication-factor 1 --config retention.ms=-1 >/dev/null

ccmd=(consume --brokers "$bs" --topic ov-events --group ov --alerts-topic ov-alerts --max-rate "$crate"
  --http 127.0.0.1:0 --status-interval 30s)
"$cw" "${ccmd[@]}" 2>"$work/consume.err" &
cpid=$!
pids+=("$cpid")
addr=""
for _ in $(seq 100); do
  addr=$(grep -o 'serving /metrics on http://[0-9.:]*' "$work/consume.err" | sed 's|.*http://||' || true)
  [ -n "$addr" ] && break
  sleep 0.2
done
[ -n "$addr" ] || { cat "$work/consume.err" >&2; echo "overload: consume did not serve /metrics" >&2; exit 1; }

rows=$((prate * secs))
lcmd=(kafka --brokers "$bs" --topic ov-events --partitions 12 --rate "$prate" --rows "$rows")
"$lg" "${lcmd[@]}" >"$work/loadgen.out" 2>&1 &
lpid=$!
pids+=("$lpid")
t0=$(date +%s)

# t rss_kb hwm_kb heap_inuse_bytes consumed lag open_carts
metric() { awk -v m="$1" '$1 ~ "^"m"([{ ]|$)" && $2 != "NaN" {s += $2; n++} END {if (n) printf "%.0f", s; else print "-"}'; }
{
  while kill -0 "$cpid" 2>/dev/null; do
    m=$(curl -s --max-time 2 "http://$addr/metrics" || true)
    printf '%s %s %s %s %s %s %s\n' "$(($(date +%s) - t0))" \
      "$(awk '/VmRSS/{print $2}' "/proc/$cpid/status" 2>/dev/null)" "$(awk '/VmHWM/{print $2}' "/proc/$cpid/status" 2>/dev/null)" \
      "$(metric go_memstats_heap_inuse_bytes <<<"$m")" "$(metric cartwatch_kafka_records_consumed_total <<<"$m")" \
      "$(metric cartwatch_kafka_consumer_lag_records <<<"$m")" "$(metric cartwatch_open_carts <<<"$m")"
    sleep "$sample"
  done
} >"$work/samples.txt" &
spid=$!
pids+=("$spid")

wait "$lpid" || echo "overload: loadgen kafka exited $? (below: its last lines)"
tp=$(date +%s)
m=$(curl -s --max-time 2 "http://$addr/metrics" || true)
consumed=$(metric cartwatch_kafka_records_consumed_total <<<"$m")
lag=$(metric cartwatch_kafka_consumer_lag_records <<<"$m")
kill -TERM "$cpid" 2>/dev/null || true
wait "$cpid" || true
kill "$spid" 2>/dev/null || true
wait "$spid" 2>/dev/null || true
produced=$(grep -o '[0-9,]* events acked' "$work/loadgen.out" | tail -1 | grep -o '^[0-9,]*' | tr -d ,)
el=$((tp - t0))

echo
echo "## loadgen kafka (last lines)"
grep '^loadgen kafka:\|^rate' "$work/loadgen.out" | tail -3 | sed 's/^/  /'
echo
echo "## samples: seconds, consumer VmRSS MiB, VmHWM MiB, Go heap in use MiB, records consumed, lag (records), open carts"
awk '$2 != "" {printf "  %5d %8.1f %8.1f %8s %12s %12s %10s\n", $1, $2/1024, $3/1024, ($4 == "-") ? "-" : sprintf("%.1f", $4/1048576), $5, $6, $7}' "$work/samples.txt"
echo
echo "## summary"
echo "  over ${el}s: produced ${produced:-?} records ($((${produced:-0} / el))/s), consumed ${consumed} ($((consumed / el))/s):" \
  "the producer $(awk -v p="${produced:-0}" -v c="$consumed" 'BEGIN {if (c > 0) printf "%.1f", p / c; else print "?"}')x the consumer"
echo "  lag at the end (the consumer's metric): $lag records; produced minus consumed: $((${produced:-0} - consumed))"
awk -v el="$el" '$2 != "" && $1 <= el {n++; t[n]=$1; r[n]=$2; h[n]=$4; l[n]=$6}
  END {
    if (n < 4) exit
    half = int(n / 2)
    for (i = 1; i <= n; i++) {
      if (i <= half) { if (r[i] > a) a = r[i] } else { if (r[i] > b) b = r[i]; if (lo == "" || r[i] < lo) lo = r[i] }
    }
    printf "  RSS: peak %.1f MiB over the first half (to %ds), %.1f-%.1f MiB over the second half (peak %+.1f%% on the first half'"'"'s)\n", a/1024, t[half], lo/1024, b/1024, (b-a)*100/a
    printf "  lag (the metric): %s records at %ds, %s at %ds\n", l[half], t[half], l[n], t[n]
  }' "$work/samples.txt"
echo "  commands:"
echo "    cartwatch ${ccmd[*]}"
echo "    loadgen ${lcmd[*]}"
echo "    every ${sample}s: VmRSS and VmHWM of /proc/PID/status; curl /metrics: go_memstats_heap_inuse_bytes, cartwatch_kafka_records_consumed_total, sum of cartwatch_kafka_consumer_lag_records"
echo "  consume's last status line: $(grep 'records/s' "$work/consume.err" | tail -1 | sed 's/^cartwatch consume: //')"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
