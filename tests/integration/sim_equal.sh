#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# (b) The data plane computes what the simulator computes: with Bernoulli
# stragglers and a deadline generous enough that every frame of a worker
# that is not a straggler arrives in time (configs/ci.ini), gcdl and gcdl-sim
# write identical metrics apart from the wall_ms column. Twice: on ci.ini
# (synthetic), and on the first 50 rounds of configs/local.ini (Fashion-MNIST,
# what scripts/run.sh runs), with gcdl-sim allowed every core for its BLAS:
# the core runs BLAS on one thread, so its bits do not depend on the machine.
. "$(dirname "$0")/common.sh"

"$GCDL_SIM" --profile "$CI_PROFILE" --quiet --metrics "$TMP/sim.csv" >"$TMP/sim.out" 2>&1 ||
	fail "gcdl-sim exited with $?: $(cat "$TMP/sim.out")"
# Bernoulli stragglers do not depend on the deadline; a longer one than the
# profile's only makes sure no frame is late on a busy machine.
run_gcdl "$TMP/out" --profile "$CI_PROFILE" --role local --quiet --metrics "$TMP/dp.csv" \
	--set deadline.fixed_us=50000 ||
	fail "gcdl exited with $?: $(tail -n 20 "$TMP/out")"
[ "$(jget "$TMP/out.json" counters.late)" = 0 ] ||
	fail "frames arrived late on this machine: the comparison needs a longer deadline"
if ! diff <(cut -d, -f1-7 "$TMP/sim.csv") <(cut -d, -f1-7 "$TMP/dp.csv") >"$TMP/diff"; then
	fail "metrics differ from gcdl-sim: $(head -n 20 "$TMP/diff")"
fi
echo "ok: $(($(wc -l <"$TMP/dp.csv") - 1)) rounds identical to gcdl-sim"

if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
	fail "Fashion-MNIST not installed (dataset-fashion-mnist): scripts/setup.sh installs it"
fi
LOCAL=("--profile" "$ROOT/configs/local.ini" --rounds 50)
OPENBLAS_NUM_THREADS=$NCPU "$GCDL_SIM" "${LOCAL[@]}" --quiet --metrics "$TMP/sim-local.csv" \
	>"$TMP/sim-local.out" 2>&1 || fail "gcdl-sim exited with $?: $(cat "$TMP/sim-local.out")"
# 10 workers' full-batch gradients on 2 worker lcores take ~100 ms a round
# here: a deadline of 6 times that (the profile's is 300 ms), so that no
# frame is late, at the cost of waiting it out in rounds with a straggler
run_gcdl "$TMP/local" "${LOCAL[@]}" --role local --quiet --metrics "$TMP/dp-local.csv" \
	--set deadline.fixed_us=600000 || fail "gcdl exited with $?: $(tail -n 20 "$TMP/local")"
late=$(jget "$TMP/local.json" counters.late)
[ "$late" = 0 ] ||
	fail "local.ini: $late frames arrived late on this machine: the comparison needs a longer deadline"
[ "$(grep -c ',0\.[0-9]*,' "$TMP/dp-local.csv")" -ge 2 ] ||
	fail "local.ini: fewer than 2 evaluated rounds in $(cat "$TMP/dp-local.csv")"
if ! diff <(cut -d, -f1-7 "$TMP/sim-local.csv") <(cut -d, -f1-7 "$TMP/dp-local.csv") >"$TMP/diff"; then
	fail "local.ini: metrics differ from gcdl-sim: $(head -n 20 "$TMP/diff")"
fi
echo "ok: local.ini, $(($(wc -l <"$TMP/dp-local.csv") - 1)) rounds identical to gcdl-sim (BLAS threads allowed: $NCPU)"
