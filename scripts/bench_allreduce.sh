#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The peer baseline of a gcdl round: Open MPI's ring allreduce (sum) of a
# float32 vector of D coordinates among NP processes on this host (shared
# memory, btl vader), RUNS times; each run times ROUNDS allreduces after a
# warm-up (build/app/gcdl-mpi-allreduce). Prints each run's line and a summary
# "bench_allreduce: ..." with the medians over the runs of the per-run median
# round wall time and of the CPU time per rank and round.
#
#   scripts/bench_allreduce.sh [--runs N] [--np N] [--dim D] [--rounds R]
#
# Compare with scripts/bench_round.sh on the same D and N = NP workers
# (docs/PERFORMANCE.md says what the two have in common and what not).
# Exit status: 0, 1 a run failed, 2 bad command line or nothing built.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=5 np=4 dim=10000000 rounds=30
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--np) np=$2; shift 2 ;;
	--dim) dim=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	-h | --help) sed -n '3,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench_allreduce.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
for v in "$runs" "$np" "$rounds"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || { echo "bench_allreduce.sh: '$v' is not a positive integer" >&2; exit 2; }
done
bin=${GCDL_MPI_ALLREDUCE:-build/app/gcdl-mpi-allreduce}
[ -x "$bin" ] || { echo "bench_allreduce.sh: $bin missing: install libopenmpi-dev and rebuild" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "bench_allreduce.sh: no mpirun (openmpi-bin)" >&2; exit 2; }

walls=() cpus=()
for ((i = 1; i <= runs; i++)); do
	# the ring (algorithm 4 of coll/tuned); root may run it here (no
	# scheduler); more ranks than cores share them, as gcdl's lcores do
	line=$(OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe \
		--bind-to none -np "$np" --mca btl self,vader --mca coll_tuned_use_dynamic_rules 1 \
		--mca coll_tuned_allreduce_algorithm 4 "$bin" --dim "$dim" --rounds "$rounds" 2>&1 |
		grep '^mpi_allreduce:') || { echo "bench_allreduce.sh: run $i failed" >&2; exit 1; }
	echo "$line"
	case $line in *"sum ok"*) ;; *) echo "bench_allreduce.sh: run $i summed wrong" >&2; exit 1 ;; esac
	walls+=("$(sed 's/.*wall_ms median \([0-9.]*\).*/\1/' <<<"$line")")
	cpus+=("$(sed 's/.*cpu_ms_per_rank \([0-9.]*\).*/\1/' <<<"$line")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
echo "bench_allreduce: np $np dim $dim rounds $rounds runs $runs: wall_ms_per_round $(median "${walls[@]}")" \
	"cpu_ms_per_rank_per_round $(median "${cpus[@]}") (medians over the runs)"
