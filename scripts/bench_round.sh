#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# What a whole round costs: gcdl in local mode (every node of the job in one
# process) on a profile, run for R1 and then R2 rounds, RUNS times each; the
# per-round figures are (R2 run - R1 run) / (R2 - R1), so that start-up, data
# generation and the first-touch page faults of the pools cancel out. Reported
# per round, medians over the runs: wall time, CPU time of the whole process
# (getrusage: every thread) and of each thread (/proc/self/task), bytes on the
# wire up (accepted gradient frames) and down (each downlink frame once), and
# their total. The process CPU is the kernel's (/usr/bin/time, user + system).
# Per phase, from the nodes' own counters (CPU time of the thread doing it):
# quantize (workers), send (workers' TX bursts), ingest (the aggregator's
# receive polls: checks, CRC, store, accumulation on arrival), close (the rest
# of the accumulation, decode, optimizer step, downlink compression: on the
# aggregation lcores when dataplane.agg_lcores > 1), dl_encode (downlink
# frames), dl_rx (workers' receive polls, updates applied), and the
# aggregation rate: coordinates ingested per second of ingest + close +
# dl_encode CPU, per aggregation lcore.
#
#   scripts/bench_round.sh [--runs N] [--r1 R] [--r2 R] [--mem MB] [--label L]
#                          [--lcores SPEC] [--json FILE] -- gcdl-options...
#
# --json appends one JSON object with the medians to FILE.
#
# Example (the D = 1e7 comparison of docs/PERFORMANCE.md):
#   scripts/bench_round.sh -- --profile configs/bench.ini --set coding.mtu=9000 \
#       --set data.dataset=synthetic-gmm --set data.synthetic_classes=10 \
#       --set model.type=softmax --set data.synthetic_features=999999 \
#       --set dataplane.mbufs=65535 --set job.method=sgc --set downlink.mode=float32
#
# Prints one line per run and a summary line "bench_round: LABEL ..." with the
# medians. Exit status: 0, 1 a run failed, 2 bad command line or no build.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=5 r1=30 r2=60 mem=2048 label=run lcores="(0-2)@(0-$(($(nproc) - 1)))" json=""
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--r1) r1=$2; shift 2 ;;
	--r2) r2=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--label) label=$2; shift 2 ;;
	--lcores) lcores=$2; shift 2 ;;
	--json) json=$2; shift 2 ;;
	--) shift; break ;;
	-h | --help) sed -n '3,35p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench_round.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
for v in "$runs" "$r1" "$r2" "$mem"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || { echo "bench_round.sh: '$v' is not a positive integer" >&2; exit 2; }
done
[ "$r2" -gt "$r1" ] || { echo "bench_round.sh: --r2 must exceed --r1" >&2; exit 2; }
gcdl=${GCDL:-build/app/gcdl}
[ -x "$gcdl" ] || { echo "bench_round.sh: $gcdl missing: build first" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for ((i = 1; i <= runs; i++)); do
	for r in "$r1" "$r2"; do
		opts=("$@")
		if ! /usr/bin/time -f "%e %U %S" -o "$tmp/$i-$r.time" \
			"$gcdl" --no-huge --no-pci --no-shconf --file-prefix "br-$$" \
			-m "$mem" --lcores "$lcores" --log-level '*:warning' -- \
			"${opts[@]}" --quiet --rounds "$r" --summary-json "$tmp/$i-$r.json" \
			> "$tmp/$i-$r.out" 2>&1; then
			echo "bench_round.sh: run $i ($r rounds) failed: $(tail -n 3 "$tmp/$i-$r.out")" >&2
			exit 1
		fi
	done
done

python3 - "$tmp" "$runs" "$r1" "$r2" "$label" "$json" <<'PY'
import json, statistics, sys
tmp, runs, r1, r2, label = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
jsonf = sys.argv[6]
PHASES = [("quantize", "worker", "cpu_encode_ns"), ("send", "worker", "cpu_tx_ns"),
          ("ingest", "aggregator", "cpu_ingest_ns"), ("close", "aggregator", "cpu_decode_ns"),
          ("dl_encode", "aggregator", "cpu_dl_encode_ns"), ("dl_rx", "worker", "cpu_dl_rx_ns")]


def load(i, r):
    d = json.load(open("%s/%d-%d.json" % (tmp, i, r)))
    c = d["counters"]
    th = {}
    for t in d.get("threads", []):
        th[t["name"]] = th.get(t["name"], 0) + t["cpu_s"]
    # the process's CPU from the kernel (/usr/bin/time: user + system)
    e, u, s = (float(x) for x in open("%s/%d-%d.time" % (tmp, i, r)).read().split()[-3:])
    # wall: from the first round's start to the last round's close (an older
    # gcdl without the downlink counters counts unicast update bytes instead)
    down = c.get("downlink_wire_bytes", c.get("downlink_tx_bytes", 0)) + c.get(
        "downlink_repair_bytes", 0)
    ph = {k: 0 for k, _, _ in PHASES}
    ingest_coords, agg_lcores = 0, 0
    for nd in d.get("nodes", []):
        nc = nd["counters"]
        for k, role, key in PHASES:
            if nd["role"] == role:
                ph[k] += nc.get(key, 0) / 1e6
        if nd["role"] == "aggregator":
            ingest_coords += nc.get("ingest_coords", 0)
            # the aggregation lcores' close is theirs: the node's counter
            # then holds only its wait for them
            parts = [l for l in nd.get("agg_lcores", []) if l["lcore"] >= 0]
            if parts:
                ph["close"] += sum(l["cpu_close_ns"] + l["cpu_accumulate_ns"] for l in parts) / 1e6
            agg_lcores += max(len(parts), 1)
    return {"wall": d["figures"]["wall_s"], "cpu": u + s, "up": c["uplink_wire_bytes"],
            "down": down, "threads": th, "phases": ph, "ingest_coords": ingest_coords,
            "agg_lcores": agg_lcores}


rows = []
n = r2 - r1
for i in range(1, runs + 1):
    a, b = load(i, r1), load(i, r2)
    row = {"wall_ms": 1e3 * (b["wall"] - a["wall"]) / n, "cpu_ms": 1e3 * (b["cpu"] - a["cpu"]) / n,
           "up_B": (b["up"] - a["up"]) / n, "down_B": (b["down"] - a["down"]) / n,
           "threads": {k: 1e3 * (b["threads"].get(k, 0) - a["threads"].get(k, 0)) / n
                       for k in b["threads"]}}
    row["total_B"] = row["up_B"] + row["down_B"]
    row["phases"] = {k: (b["phases"][k] - a["phases"][k]) / n for k in b["phases"]}
    agg_ms = row["phases"]["ingest"] + row["phases"]["close"] + row["phases"]["dl_encode"]
    coords = (b["ingest_coords"] - a["ingest_coords"]) / n
    # coordinates ingested per second of aggregation CPU, per aggregation lcore
    row["agg_rate"] = coords / (agg_ms / 1e3) if agg_ms > 0 else 0.0
    rows.append(row)
    print("run %d: wall %.1f ms/round, cpu %.1f ms/round, up %.0f B, down %.0f B, total %.0f B; %s"
          % (i, row["wall_ms"], row["cpu_ms"], row["up_B"], row["down_B"], row["total_B"],
             ", ".join("%s %.1f ms" % (k, v) for k, v in sorted(row["threads"].items()))))


def med(k):
    return statistics.median(r[k] for r in rows)


names = sorted(set().union(*[r["threads"] for r in rows]))
tmed = {k: statistics.median(r["threads"].get(k, 0) for r in rows) for k in names}
pmed = {k: statistics.median(r["phases"][k] for r in rows) for k in rows[0]["phases"]}
print("bench_round: %s: medians of %d runs, rounds %d..%d: wall %.1f ms/round, cpu %.1f ms/round "
      "(all threads), up %.0f B/round, down %.0f B/round, total %.0f B/round; threads: %s; "
      "phases (CPU ms/round): %s; aggregation %.3g coords/s per lcore"
      % (label, len(rows), r1, r2, med("wall_ms"), med("cpu_ms"), med("up_B"), med("down_B"),
         med("total_B"), ", ".join("%s %.1f ms" % (k, v) for k, v in tmed.items()),
         ", ".join("%s %.2f" % (k, v) for k, v in pmed.items()), med("agg_rate")))
if jsonf:
    with open(jsonf, "a") as f:
        f.write(json.dumps({"label": label, "runs": len(rows), "rounds": [r1, r2],
                            "wall_ms": med("wall_ms"), "cpu_ms": med("cpu_ms"),
                            "wall_ms_runs": [r["wall_ms"] for r in rows],
                            "cpu_ms_runs": [r["cpu_ms"] for r in rows],
                            "up_B": med("up_B"), "down_B": med("down_B"),
                            "total_B": med("total_B"), "threads_ms": tmed,
                            "phases_ms": pmed, "agg_rate": med("agg_rate")}) + "\n")
PY
