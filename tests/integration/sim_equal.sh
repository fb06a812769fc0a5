#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# (b) The data plane computes what the simulator computes: with Bernoulli
# stragglers and a deadline generous enough that every frame of a worker
# that is not a straggler arrives in time (configs/ci.ini), gcdl and gcdl-sim
# write identical metrics apart from the wall_ms column.
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
