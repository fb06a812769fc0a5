#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The round-level benchmark of docs/PERFORMANCE.md: for every model dimension
# D and worker count N of the grid, in one sitting and one after the other
# (never in parallel: every figure shares the machine with nothing of its
# own run), a whole gcdl round of onebit_gc (1-bit up, 1-bit down), of sgc
# (float32 up and down) and Open MPI's ring allreduce of the same float32
# vector among N processes. Each gcdl figure is scripts/bench_round.sh's
# (rounds R1..R2 after warm-up, per round, medians of RUNS runs, CPU per
# phase from the nodes' counters); MPI's is scripts/bench_allreduce.sh's.
#
#   scripts/bench_grid.sh [--runs N] [--dims "1e5 1e6 1e7"] [--workers "4 8 16"]
#                         [--out FILE] [--quick]
#
# The model: softmax over 10 classes of D/10 - 1 synthetic features
# (dim = D), synthetic gradients (no model compute), 9000-byte frames, the
# workers on one lcore and the aggregator on another; with D = 1e7 and N = 4
# also dataplane.agg_lcores = 2 (two aggregation lcores). --quick: one run
# of a tiny grid (CI). Writes JSON lines (one per figure) to FILE
# (default runs/bench-grid-TIME.jsonl) and prints a Markdown table.
# Exit status: 0, 1 a run failed, 2 bad command line or nothing built.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=5 dims="1e5 1e6 1e7" workers="4 8 16" out="" quick=0
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--dims) dims=$2; shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	-h | --help) sed -n '3,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench_grid.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench_grid.sh: --runs '$runs' is not a positive integer" >&2; exit 2; }
if [ "$quick" = 1 ]; then
	runs=1 dims="1e4" workers="4"
fi
[ -x build/app/gcdl ] || { echo "bench_grid.sh: build/app/gcdl missing: build first" >&2; exit 2; }
mkdir -p runs
out=${out:-runs/bench-grid-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
[ -n "${GRID_APPEND:-}" ] || : > "$out"
have_mpi=0
if [ -x build/app/gcdl-mpi-allreduce ] && command -v mpirun >/dev/null; then
	have_mpi=1
fi
cpus=$(($(nproc) - 1))
python3 - "$out" <<'PY'
import json, os, platform, subprocess, sys
flags = ""
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        model = line.split(":", 1)[1].strip()
    if line.startswith("flags"):
        flags = line.split(":", 1)[1].split()
        break
rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
with open(sys.argv[1], "a") as f:
    f.write(json.dumps({"machine": {"cpu": model, "cores": os.cpu_count(),
                                    "loadavg": os.getloadavg(), "git": rev,
                                    "avx512f": "avx512f" in flags}}) + "\n")
PY

for d in $dims; do
	D=$(python3 -c "print(int(float('$d')))")
	F=$((D / 10 - 1))
	for n in $workers; do
		J=(--profile configs/bench.ini --set coding.mtu=9000 --set data.dataset=synthetic-gmm
		   --set data.synthetic_classes=10 --set model.type=softmax
		   --set data.synthetic_features="$F" --set dataplane.mbufs=65535
		   --set cluster.workers="$n" --set cluster.partitions="$n" --set data.train_rows="$n")
		# sgc moves 32 times the bytes: fewer rounds (it has no first-touch
		# warm-up of a large 1-bit pool to wait out)
		if [ "$quick" = 1 ]; then r=(--r1 2 --r2 4) rs=(--r1 2 --r2 4); else r=(--r1 20 --r2 40) rs=(--r1 5 --r2 15); fi
		# DPDK memory (-m, MiB): the pool and every node's buffers (under
		# --no-huge, plain memory): ~8 floats of D per worker
		mem=$((2048 + n * D * 32 / 1048576))
		# 1-bit frames: a round's frames of every worker in flight at once
		omb=$((65535 + n * 4096))
		mem=$((mem + omb * 10 / 1024))
		echo "== D=$D N=$n (-m $mem)" >&2
		scripts/bench_round.sh --runs "$runs" --mem "$mem" "${r[@]}" --label "onebit_gc D=$D N=$n" \
			--json "$out" -- "${J[@]}" --set dataplane.mbufs="$omb" | tail -n 1 >&2
		# float32 frames: 32 times the frames, each held until sent
		smb=$((2 * n * (D / 2200 + 64) + 65535))
		scripts/bench_round.sh --runs "$runs" --mem "$((mem + smb * 10 / 1024))" "${rs[@]}" \
			--label "sgc D=$D N=$n" --json "$out" -- "${J[@]}" --set job.method=sgc \
			--set downlink.mode=float32 --set dataplane.mbufs="$smb" \
			--set network.join_wait_ms=120000 |
			tail -n 1 >&2
		if [ "$D" -ge 10000000 ] && [ "$n" = 4 ]; then
			scripts/bench_round.sh --runs "$runs" --mem "$mem" "${r[@]}" --lcores "(0-4)@(0-$cpus)" \
				--label "onebit_gc agg_lcores=2 D=$D N=$n" --json "$out" -- "${J[@]}" \
				--set dataplane.agg_lcores=2 --set dataplane.mbufs="$omb" | tail -n 1 >&2
		fi
		if [ "$have_mpi" = 1 ]; then
			line=$(scripts/bench_allreduce.sh --runs "$runs" --np "$n" --dim "$D" \
				--rounds "$([ "$quick" = 1 ] && echo 3 || echo 20)" | tail -n 1)
			echo "$line" >&2
			python3 - "$out" "$D" "$n" "$line" <<'PY'
import json, re, sys
out, D, n, line = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
w = float(re.search(r"wall_ms_per_round ([0-9.]+)", line).group(1))
c = float(re.search(r"cpu_ms_per_rank_per_round ([0-9.]+)", line).group(1))
with open(out, "a") as f:
    f.write(json.dumps({"label": "mpi_ring D=%d N=%d" % (D, n), "wall_ms": w,
                        "cpu_ms": c * n, "cpu_ms_per_rank": c,
                        "total_B": 2.0 * (n - 1) / n * 4 * D * n}) + "\n")
PY
		fi
	done
done

python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"label"' in l]
print("| run | wall ms/round | CPU ms/round (all threads) | quantize | send | ingest | close | "
      "dl_encode | dl_rx | aggregation coords/s/lcore | bytes/round |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    p = r.get("phases_ms")
    ph = " | ".join("%.2f" % p[k] for k in ("quantize", "send", "ingest", "close", "dl_encode",
                                             "dl_rx")) if p else " | ".join(["-"] * 6)
    rate = "%.3g" % r["agg_rate"] if r.get("agg_rate") else "-"
    print("| %s | %.1f | %.1f | %s | %s | %.0f |" % (r["label"], r["wall_ms"], r["cpu_ms"], ph,
                                                   rate, r["total_B"]))
PY
echo "bench_grid: wrote $out" >&2
