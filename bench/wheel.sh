#!/usr/bin/env bash
# bench/wheel.sh: the timing-wheel benchmarks, run the way results/notes/wheel.md
# was produced, and the table of medians and ratios that file quotes.
#
#   ./bench/wheel.sh                 full run (5 rounds, about 10-15 minutes)
#   COUNT=10 ./bench/wheel.sh        more repetitions
#   BENCH='RandomCancel' ./bench/wheel.sh   one pattern
#   WHEEL_BENCH_RUNTIME_10M=1 ./bench/wheel.sh   also runtime timers at 10M
#                                    in RandomCancel (about 1.4 GiB)
#
# Raw output goes to $OUT (default /tmp/wheel-bench.txt); the table to stdout; every
# figure as JSON to $BENCH_OUT under make bench (bench/cmd/record). Wheel, heap
# and runtime timers run in the same invocation, one after another for each
# size, so they share the machine's load; ratios are of medians.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-5}
BENCH=${BENCH:-'Cart|ScheduleCancel|Expiry|RandomCancel|PointerChase|IdleAdvance'}
out=${OUT:-/tmp/wheel-bench.txt}
# -count N would run each sub-benchmark N times back to back; COUNT separate
# invocations of -count 1 instead keep wheel, heap and runtime of one size
# next to each other in time every round, so a burst of load hits all three.
cmd=(go test ./wheel -run '^$' -bench "$BENCH" -count 1 -timeout 60m)
: > "$out"
for i in $(seq "$COUNT"); do
	echo "# round $i/$COUNT $(date -u +%Y-%m-%dT%H:%M:%SZ) ${cmd[*]}" | tee -a "$out"
	"${cmd[@]}" | tee -a "$out"
done
${RECORD:-go run ./bench/cmd/record} gobench -suite wheel -system wheel -cmd "${cmd[*]} ($COUNT rounds, bench/wheel.sh)" "$out"
echo
echo "command: ${cmd[*]}, $COUNT rounds (bench/wheel.sh)"
echo "medians of $COUNT runs; ratio = heap (or runtime) median / wheel median"
echo
awk '
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	n = split(name, p, "/")
	impl = p[n]; last = n - 1
	if (impl != "wheel" && impl != "heap" && impl != "runtime") { impl = "-"; last = n }
	key = p[1]; for (i = 2; i <= last; i++) key = key "/" p[i]
	sub(/^Benchmark/, "", key)
	for (i = 3; i < NF; i++) {
		if ($(i+1) == "ns/op") ns[key, impl] = ns[key, impl] " " $i
		if ($(i+1) == "allocs/op") al[key, impl] = $i
	}
	if (!(key in seen)) { seen[key] = 1; order[++nk] = key }
}
function median(s,   a, m, i, j, t) {
	m = split(s, a, " ")
	for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	if (m == 0) return ""
	return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
END {
	print "| benchmark | wheel ns/op | allocs | heap ns/op | allocs | heap/wheel | runtime ns/op | allocs | runtime/wheel |"
	print "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	for (k = 1; k <= nk; k++) {
		key = order[k]
		if ((key, "-") in ns) {
			printf "| %s | %s | %s | | | | | | |\n", key, median(ns[key, "-"]), al[key, "-"]
			continue
		}
		w = median(ns[key, "wheel"]); h = median(ns[key, "heap"]); r = median(ns[key, "runtime"])
		hr = (w > 0 && h != "") ? sprintf("%.1fx", h / w) : ""
		rr = (w > 0 && r != "") ? sprintf("%.1fx", r / w) : ""
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", key, w, al[key, "wheel"], h, al[key, "heap"], hr, r, al[key, "runtime"], rr
	}
}' "$out"
