#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# (d) Timing stragglers against a deadline: workers really wait their
# simulated compute time (shift 1000 us + Exp(500 us), worker 0 three times
# slower) before sending, the deadline is 2000 us. Worker 0 always misses it
# (>= 3000 us), so every round has at least one straggler and its frames
# arrive late; no round closes later than its deadline + 1 ms while the
# aggregator lcore runs (check_close_times).
. "$(dirname "$0")/common.sh"

R=200
run_gcdl "$TMP/out" --profile "$CI_PROFILE" --rounds $R --quiet \
	--set stragglers.model=timing --set stragglers.shift_us=1000 \
	--set stragglers.mean_us=500 --set stragglers.slowdown=0:3 \
	--set deadline.mode=fixed --set deadline.fixed_us=2000 --metrics "$TMP/m.csv" ||
	fail "gcdl exited with $?: $(tail -n 20 "$TMP/out")"

S=$TMP/out.json
stragglers=$(jget "$S" counters.stragglers)
late=$(jget "$S" counters.late)
[ "$stragglers" -ge $R ] || fail "stragglers $stragglers < $R (worker 0 misses every round)"
# worker 0 sends its one chunk late every round except (at most) the last,
# whose late frame may still be queued when the run ends
[ "$late" -ge $((R - 1)) ] || fail "late frames $late < $((R - 1))"
assert_eq "$(jget "$S" counters.closed_deadline)" $R "rounds closed by deadline"
over=$(jget "$S" figures.max_overshoot_us)
closes=$(check_close_times "$TMP/out" "$TMP/m.csv" 2000) || exit 1
assert_eq "$(jget "$S" replicas_checked) $(jget "$S" replicas_identical)" "4 4" \
	"replicas checked and bit-identical to the aggregator's model"
echo "ok: $stragglers stragglers, $late late frames, max overshoot $over us; $closes"
