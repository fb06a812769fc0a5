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

stragglers=$(summary_num "$TMP/out" stragglers)
late=$(summary_num "$TMP/out" "late frames")
[ "$stragglers" -ge $R ] || fail "stragglers $stragglers < $R (worker 0 misses every round)"
# worker 0 sends its one chunk late every round except (at most) the last,
# whose late frame may still be queued when the run ends
[ "$late" -ge $((R - 1)) ] || fail "late frames $late < $((R - 1))"
by_deadline=$(summary "$TMP/out" "rounds closed" | sed -n 's/.*, \([0-9]*\) by deadline/\1/p')
[ "$by_deadline" = $R ] || fail "rounds closed by deadline: $by_deadline, want $R"
over=$(summary "$TMP/out" deadline | sed -n 's/.*max overshoot \([0-9.]*\) us/\1/p')
[ -n "$over" ] || fail "no overshoot in: $(summary "$TMP/out" deadline)"
closes=$(check_close_times "$TMP/out" "$TMP/m.csv" 2000) || exit 1
[ "$(summary "$TMP/out" replicas)" = "4 of 4 bit-identical to the aggregator's model" ] ||
	fail "replicas: $(summary "$TMP/out" replicas)"
echo "ok: $stragglers stragglers, $late late frames, max overshoot $over us; $closes"
