#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The MPI peer baseline (gcdl-mpi-allreduce, scripts/bench_allreduce.sh):
# 3 ranks sum a vector and every rank checks the sum (1 + 2 + 3 in every
# coordinate); a bad argument is refused with exit 2; the script's summary
# line carries the medians. Measures nothing: no timing is asserted.
. "$(dirname "$0")/common.sh"

BIN=$(cd "$(dirname "$GCDL")" && pwd)/gcdl-mpi-allreduce
[ -x "$BIN" ] && command -v mpirun >/dev/null || { echo "skipped: no Open MPI build"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPI=(mpirun --oversubscribe --bind-to none --mca btl self,vader -np 3)
"${MPI[@]}" "$BIN" --dim 4099 --rounds 4 --warmup 1 >"$TMP/ok.out" 2>&1 ||
	fail "3 ranks: $(tail -n 5 "$TMP/ok.out")"
grep -q "^mpi_allreduce: dim 4099 ranks 3 rounds 4 .* bytes_sent_per_rank 21861 sum ok$" "$TMP/ok.out" ||
	fail "summary: $(cat "$TMP/ok.out")"
for bad in "--dim 0" "--dim 1e3x" "--rounds" "--nosuch 3"; do
	rc=0
	# shellcheck disable=SC2086
	"${MPI[@]}" "$BIN" $bad >"$TMP/bad.out" 2>&1 || rc=$?
	assert_eq "$rc" 2 "'$bad': exit status"
	grep -q "usage: mpirun -np N" "$TMP/bad.out" || fail "'$bad': $(tail -n 3 "$TMP/bad.out")"
done
GCDL_MPI_ALLREDUCE=$BIN "$ROOT/scripts/bench_allreduce.sh" --runs 2 --np 2 --dim 1000 --rounds 3 \
	>"$TMP/bench.out" 2>&1 || fail "bench_allreduce.sh: $(tail -n 3 "$TMP/bench.out")"
grep -q "^bench_allreduce: np 2 dim 1000 rounds 3 runs 2: wall_ms_per_round [0-9.]* cpu_ms_per_rank_per_round [0-9.]*" \
	"$TMP/bench.out" || fail "bench_allreduce.sh summary: $(cat "$TMP/bench.out")"
rc=0
"$ROOT/scripts/bench_allreduce.sh" --runs 0 >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 2 "bench_allreduce.sh --runs 0"
echo "ok: 3 ranks summed 4099 coordinates right; bad arguments refused"
