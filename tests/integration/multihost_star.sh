#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Multi-host star over net_af_packet: 1 aggregator + 4 workers as 5 processes
# in 5 network namespaces bridged by a "switch" namespace (scripts/cluster.sh).
#  (a) configs/ci.ini trains into the local mode's band (test accuracy in
#      [0.95, 1], tests/integration/accuracy.sh), every worker's replica has the
#      aggregator's model CRC, every worker contributed; when no frame came late
#      the model is gcdl-sim's (same train loss);
#  (b) worker 3 is SIGKILLed mid-run: rounds keep closing without it; a worker 3
#      started with another profile is refused (message checked on both sides,
#      exit status 2); the right worker 3 rejoins, resynchronises (its final
#      replica has the aggregator's CRC) and contributes again (counters).
. "$(dirname "$0")/common.sh"

if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
	echo "skip: network namespaces need root and iproute2"
	exit 77
fi
. "$ROOT/scripts/cluster.sh"
CLUSTER_GCDL=$GCDL
CLUSTER_TIMEOUT=120
CLUSTER_EXTRA_CLEANUP=${KEEP:-'rm -rf "$TMP"'}
cluster_init af_packet 4 1 "$TMP/a"

# summary_of FILE KEY: the value of "KEY: value"
summary_of() { summary "$1" "$2"; }

# (a) -----------------------------------------------------------------------
cluster_start_aggregator 0 --profile "$CI_PROFILE" --quiet --metrics "$TMP/m.csv"
for k in 0 1 2 3; do cluster_start_worker "$k" --profile "$CI_PROFILE" --quiet; done
for k in 0 1 2 3; do
	cluster_wait_pid "${CLUSTER_WORKER_PID[$k]}" || fail "worker $k exited with $?: $(tail -n 5 "$TMP/a/w$k.out")"
done
cluster_wait_pid "${CLUSTER_AGG_PID[0]}" || fail "aggregator exited with $?: $(tail -n 5 "$TMP/a/a0.out")"

A=$TMP/a/a0.out
rounds=$(sed -n 's/^rounds = //p' "$CI_PROFILE")
[ "$(summary_of "$A" rounds)" = "$rounds of $rounds" ] || fail "aggregator rounds: $(summary_of "$A" rounds)"
acc=$(summary_of "$A" test_accuracy)
assert_float_ge "$acc" 0.95 "star over af_packet: final test accuracy too low"
assert_float_ge 1.0 "$acc" "final test accuracy above 1"
[ "$(($(wc -l <"$TMP/m.csv") - 1))" = "$rounds" ] || fail "metrics rows: $(wc -l <"$TMP/m.csv")"
crc=$(summary_of "$A" model_crc)
skips=0
for k in 0 1 2 3; do
	W=$TMP/a/w$k.out
	[ "$(summary_of "$W" rounds)" = "$rounds of $rounds" ] || fail "worker $k rounds: $(summary_of "$W" rounds)"
	[ "$(summary_of "$W" model_crc)" = "$crc" ] || fail "worker $k replica CRC $(summary_of "$W" model_crc) != aggregator's $crc"
	line=$(grep "^worker $k: " "$A") || fail "no worker $k line in the aggregator's summary"
	joins=$(sed -n 's/.* joins \([0-9]*\) .*/\1/p' <<<"$line")
	accepted=$(sed -n 's/.* accepted \([0-9]*\) .*/\1/p' <<<"$line")
	[ "$joins" = 1 ] || fail "worker $k joined $joins times: $line"
	[ "$accepted" -gt 0 ] || fail "worker $k contributed nothing: $line"
	skips=$((skips + $(summary_of "$W" "contributed rounds" | sed -n 's/.*(\([0-9]*\) injected.*/\1/p')))
done
stragglers=$(summary_num "$A" stragglers)
[ "$stragglers" -ge "$skips" ] || fail "stragglers $stragglers below the injected skips $skips"
if [ "$stragglers" = "$skips" ]; then
	# every frame of every non-straggler was in time: gcdl-sim's model
	"$GCDL_SIM" --profile "$CI_PROFILE" --quiet --metrics "$TMP/sim.csv" >/dev/null 2>&1 ||
		fail "gcdl-sim failed"
	sim_loss=$(tail -n 1 "$TMP/sim.csv" | cut -d, -f3)
	[ "$(summary_of "$A" train_loss)" = "$sim_loss" ] ||
		fail "train loss $(summary_of "$A" train_loss) != gcdl-sim's $sim_loss with every frame in time"
	echo "every frame in time: train loss $sim_loss equals gcdl-sim's"
fi
echo "ok (a): accuracy $acc, 4 replicas with CRC $crc, $stragglers straggler-rounds ($skips injected)"

# (b) -----------------------------------------------------------------------
R=800
JOB=(--profile "$CI_PROFILE" --rounds $R --set network.absent_rounds=10)
cluster_start_aggregator 0 "${JOB[@]}"
APID=$CLUSTER_PID
for k in 0 1 2 3; do cluster_start_worker "$k" "${JOB[@]}" --quiet; done
A=$TMP/a/a0.out

# agg_round: the latest round in the aggregator's progress lines
agg_round() {
	{ grep -o 'round [0-9]*/' "$A" 2>/dev/null || true; } | tail -n 1 | tr -dc 0-9
}
# wait_round N: until the aggregator's progress shows round >= N
wait_round() {
	local i r
	for ((i = 0; i < 600; i++)); do
		r=$(agg_round)
		[ -n "$r" ] && [ "$r" -ge "$1" ] && return 0
		kill -0 "$APID" 2>/dev/null || fail "aggregator ended before round $1: $(tail -n 5 "$A")"
		sleep 0.1
	done
	fail "aggregator did not reach round $1 (at ${r:-none})"
}
wait_round 40
cluster_kill9 "${CLUSTER_WORKER_PID[3]}"
wait "${CLUSTER_WORKER_PID[3]}" 2>/dev/null || true
killed_at=$(agg_round)
# rounds keep closing without worker 3
wait_round $((killed_at + 100))

# another profile (optim.lr) is refused on both sides
CLUSTER_OUT=$TMP/a/w3-bad.out cluster_start_worker 3 "${JOB[@]}" --set optim.lr=0.4
rc=0
cluster_wait_pid "$CLUSTER_PID" || rc=$?
[ $rc = 2 ] || fail "the worker with another profile exited with $rc, want 2: $(tail -n 3 "$TMP/a/w3-bad.out")"
grep -q "refused worker 3: this worker's profile hash [0-9a-f]* differs from the aggregator's" "$TMP/a/w3-bad.out" ||
	fail "no refusal on the worker's side: $(tail -n 3 "$TMP/a/w3-bad.out")"
grep -q "refused worker 3 (.*): its profile hash [0-9a-f]* differs from this aggregator's" "$A" ||
	fail "no refusal on the aggregator's side"

# the right worker 3 rejoins
restart_at=$(agg_round)
CLUSTER_OUT=$TMP/a/w3-again.out cluster_start_worker 3 "${JOB[@]}" --quiet
W3=$CLUSTER_PID
for k in 0 1 2; do
	cluster_wait_pid "${CLUSTER_WORKER_PID[$k]}" || fail "worker $k exited with $?: $(tail -n 5 "$TMP/a/w$k.out")"
done
cluster_wait_pid "$W3" || fail "restarted worker 3 exited with $?: $(tail -n 5 "$TMP/a/w3-again.out")"
cluster_wait_pid "$APID" || fail "aggregator exited with $?: $(tail -n 5 "$A")"

[ "$(summary_of "$A" rounds)" = "$R of $R" ] || fail "aggregator rounds: $(summary_of "$A" rounds)"
crc=$(summary_of "$A" model_crc)
line=$(grep "^worker 3: " "$A")
joins=$(sed -n 's/.* joins \([0-9]*\) .*/\1/p' <<<"$line")
refused=$(sed -n 's/.* refused \([0-9]*\) .*/\1/p' <<<"$line")
since=$(sed -n 's/.* accepted_since_join \([0-9]*\) .*/\1/p' <<<"$line")
joined_round=$(sed -n 's/.* joined_round \([0-9]*\) .*/\1/p' <<<"$line")
[ "$joins" = 2 ] || fail "worker 3 joined $joins times, want 2 (start, rejoin): $line"
[ "$refused" -ge 1 ] || fail "the other profile's hello was not counted as refused: $line"
[ "$since" -gt 0 ] || fail "worker 3 contributed nothing after rejoining: $line"
[ "$joined_round" -ge "$killed_at" ] || fail "worker 3 rejoined at round $joined_round, before it was killed ($killed_at)"
W=$TMP/a/w3-again.out
[ "$(summary_of "$W" rounds)" = "$R of $R" ] || fail "restarted worker 3 rounds: $(summary_of "$W" rounds)"
[ "$(summary_of "$W" model_crc)" = "$crc" ] || fail "restarted worker 3's replica CRC differs from the aggregator's"
contributed=$(summary_num "$W" "contributed rounds")
[ "$contributed" -gt 0 ] || fail "restarted worker 3 sent no round"
for k in 0 1 2; do
	[ "$(summary_of "$TMP/a/w$k.out" model_crc)" = "$crc" ] || fail "worker $k's replica CRC differs"
done
# while it was away it was a straggler: more straggler-rounds than its 3 peers' skips explain
echo "ok (b): killed near round $killed_at, rounds went on, other profile refused, rejoined at round $joined_round and contributed $since frames ($contributed rounds)"
