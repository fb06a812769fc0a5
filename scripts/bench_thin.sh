#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Round time on thin links, as edge users have them: the multi-host star
# (scripts/cluster.sh, net_af_packet on veths in network namespaces, one
# process per node) with every host's link capped both ways by a tc token
# bucket (CLUSTER_RATE), for each rate and each method/downlink mode.
#
#   scripts/bench_thin.sh [--rates "1gbit 100mbit"] [--workers N] [--r1 R] [--r2 R]
#                         [--runs N] [--modes "sgc:float32 onebit_gc:onebit ..."]
#                         [--out DIR] -- [gcdl options]
#
# Default job: configs/bench.ini (1,000,001 coordinates, synthetic gradients,
# MTU 1500, every frame in: a fixed 5 s deadline), 4 workers. Per point: the
# job runs R1 and R2 rounds; the round time is (wall(R2) - wall(R1)) /
# (R2 - R1), wall the aggregator's from its first round's start to its last
# round's close, so that start-up and joins cancel; median over --runs.
# Bytes per round are the aggregator's (uplink accepted, downlink each frame
# once), from the R2 run. One line per point, then a table:
#   rate mode ms/round up_B/round down_B/round [ratio to the first mode]
# While it runs it raises net.core.netdev_max_backlog (THIN_BACKLOG, default
# 262144) and net.core.wmem_default/wmem_max (THIN_WMEM, default 128 MiB),
# see below, and puts them back at exit. Needs root (namespaces, tc) and a
# built gcdl. Exit status: 0, 1 a run failed, 2 bad command line.
set -uo pipefail
cd "$(dirname "$0")/.."

rates="1gbit 100mbit" workers=4 r1=3 r2=9 runs=1 out=""
modes="sgc:float32 onebit_gc:onebit onebit_gc:relay onebit_gc:float32"
while [ $# -gt 0 ]; do
	case $1 in
	--rates) rates=$2; shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	--r1) r1=$2; shift 2 ;;
	--r2) r2=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--modes) modes=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--) shift; break ;;
	-h | --help) sed -n '3,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench_thin.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
for v in "$workers" "$r1" "$r2" "$runs"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || { echo "bench_thin.sh: '$v' is not a positive integer" >&2; exit 2; }
done
[ "$r2" -gt "$r1" ] || { echo "bench_thin.sh: --r2 must exceed --r1" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench_thin.sh: needs root (namespaces, tc)" >&2; exit 2; }
for m in $modes; do
	[[ $m == *:* ]] || { echo "bench_thin.sh: mode '$m' is not METHOD:DOWNLINK" >&2; exit 2; }
done
[ -n "$out" ] || out=$(mktemp -d /tmp/gcdl-thin.XXXXXX)
mkdir -p "$out"

# A worker's gradient is thousands of frames sent in one burst. (1) On the way
# to the switch's rate-capped port they wait in the kernel's per-CPU backlog,
# 1000 frames by default. (2) Until that port has sent them they count against
# the sending af_packet socket's buffer (net.core.wmem_default, 212 KB): the
# kernel sends no more of net_af_packet's ring than that per transmit burst,
# and DPDK 22.11's net_af_packet, which counts a frame sent once it is in its
# ring, overwrites frames not sent yet when its ring wraps (measured: a worker
# delivered 740 of 8,289 frames at 100 Mbit/s, every round closed by its
# deadline). Raise both for the benchmark, put them back after.
sysctls="net.core.netdev_max_backlog=${THIN_BACKLOG:-262144}
net.core.wmem_max=${THIN_WMEM:-134217728}
net.core.wmem_default=${THIN_WMEM:-134217728}"
saved=$(for kv in $sysctls; do echo "${kv%%=*}=$(sysctl -n "${kv%%=*}")"; done | tac)
trap 'for kv in $saved; do sysctl -qw "$kv"; done' EXIT
for kv in $sysctls; do
	sysctl -qw "$kv" || { echo "bench_thin.sh: cannot set $kv" >&2; exit 1; }
done

# one job in its own subshell (cluster_init's EXIT trap tears the hosts down)
one_job() { # rate method downlink rounds dir gcdl-options...
	local rate=$1 method=$2 dl=$3 rounds=$4 dir=$5
	shift 5
	(
		. scripts/cluster.sh
		CLUSTER_RATE=$rate
		CLUSTER_MEM=${CLUSTER_MEM:-512}
		CLUSTER_TIMEOUT=${CLUSTER_TIMEOUT:-900}
		# a deep receive ring: a float32 round is thousands of frames
		CLUSTER_AF_PACKET_ARGS=${CLUSTER_AF_PACKET_ARGS:-framecnt=8192}
		CLUSTER_QUIET_FAIL=1
		cluster_init af_packet "$workers" 1 "$dir" || exit 1
		job=(--profile configs/bench.ini --rounds "$rounds" --set job.method="$method"
		     --set downlink.mode="$dl" --set cluster.workers="$workers"
		     --set cluster.partitions="$workers" --quiet "$@")
		cluster_start_aggregator 0 "${job[@]}"
		for ((k = 0; k < workers; k++)); do cluster_start_worker "$k" "${job[@]}"; done
		rc=0
		cluster_wait_pid "${CLUSTER_AGG_PID[0]}" || rc=1
		for ((k = 0; k < workers; k++)); do cluster_wait_pid "${CLUSTER_WORKER_PID[$k]}" || rc=1; done
		exit $rc
	)
}

results=$out/results.txt
: >"$results"
for rate in $rates; do
	for m in $modes; do
		method=${m%%:*} dl=${m#*:}
		for ((i = 1; i <= runs; i++)); do
			for r in "$r1" "$r2"; do
				d=$out/$rate-$method-$dl-$i-$r
				if ! one_job "$rate" "$method" "$dl" "$r" "$d" "$@"; then
					echo "bench_thin.sh: $rate $m ($r rounds) failed; outputs in $d" >&2
					tail -n 3 "$d"/*.out >&2
					exit 1
				fi
			done
			python3 - "$out/$rate-$method-$dl-$i" "$r1" "$r2" "$rate" "$m" >>"$results" <<'PY'
import json, sys
base, r1, r2, rate, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
a = json.load(open("%s-%d/a0.json" % (base, r1)))
b = json.load(open("%s-%d/a0.json" % (base, r2)))
ms = (b["figures"]["wall_s"] - a["figures"]["wall_s"]) * 1e3 / (r2 - r1)
c = b["counters"]
down = c.get("downlink_wire_bytes", 0) + c.get("downlink_repair_bytes", 0)
late = c.get("late", 0) + b["counters"].get("stragglers", 0)
print(rate, mode, "%.1f" % ms, c["uplink_wire_bytes"] // r2, down // r2, late)
PY
			tail -n 1 "$results"
		done
	done
done

python3 - "$results" <<'PY'
import statistics, sys
rows = {}
order = []
for line in open(sys.argv[1]):
    rate, mode, ms, up, down, late = line.split()
    k = (rate, mode)
    if k not in rows:
        rows[k] = []
        order.append(k)
    rows[k].append((float(ms), int(up), int(down), int(late)))
print("\n| rate | method:downlink | ms/round (median) | uplink B/round | downlink B/round | late+stragglers | round time / first mode's |")
print("|---|---|---|---|---|---|---|")
first = {}
for rate, mode in order:
    v = rows[(rate, mode)]
    ms = statistics.median(x[0] for x in v)
    first.setdefault(rate, ms)
    print("| %s | %s | %.1f | %d | %d | %d | %.2f |" % (rate, mode, ms, v[-1][1], v[-1][2],
          sum(x[3] for x in v), first[rate] / ms))
PY
echo "outputs in $out"
