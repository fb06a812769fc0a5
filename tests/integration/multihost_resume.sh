#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The multi-host aggregator killed and resumed (star, af_packet in network
# namespaces, scripts/cluster.sh): it writes a checkpoint every K rounds; it
# is killed with SIGKILL mid-run and started again with --resume; the
# workers, whose updates stop coming, ask for a resync, rejoin the restarted
# aggregator and take its round and model; the run finishes in the accuracy
# band having lost at most K rounds (the killed aggregator's metrics hold
# every completed round), the cumulative counters continue from the
# checkpoint's (uplink_bits in the metrics: the resumed run's first row adds
# one round to the checkpointed round's row), and every worker ends with the
# same replica. Every check reads the nodes' JSON summaries.
. "$(dirname "$0")/common.sh"

if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
	echo "skip: network namespaces need root and iproute2"
	exit 77
fi
. "$ROOT/scripts/cluster.sh"
CLUSTER_GCDL=$GCDL
CLUSTER_TIMEOUT=180
CLUSTER_EXTRA_CLEANUP=${KEEP:-'rm -rf "$TMP"'}
cluster_init af_packet 4 1 "$TMP/a"

K=25
R=400
JOB=(--profile "$CI_PROFILE" --quiet --rounds $R)
AGG=(--set checkpoint.every=$K --set checkpoint.path="$TMP/ck.bin")

cluster_start_aggregator 0 "${JOB[@]}" "${AGG[@]}" --metrics "$TMP/m1.csv"
first=${CLUSTER_AGG_PID[0]}
for k in 0 1 2 3; do cluster_start_worker "$k" "${JOB[@]}"; done
for _ in $(seq 1 1200); do
	[ -f "$TMP/m1.csv" ] && [ "$(wc -l <"$TMP/m1.csv")" -gt $((2 * K + 10)) ] && break
	sleep 0.05
done
# the aggregator is the child of the timeout wrapper cluster.sh starts
agg=$(pgrep -P "$first" | head -n 1)
[ -n "$agg" ] || fail "no aggregator process under $first: $(tail -n 5 "$TMP/a/a0.out")"
kill -KILL "$agg"
wait "$first" 2>/dev/null || true
done_rounds=$(($(wc -l <"$TMP/m1.csv") - 1))
[ "$done_rounds" -lt $R ] || fail "the aggregator finished before it was killed"
[ -f "$TMP/ck.bin" ] || fail "no checkpoint after $done_rounds rounds"
cp "$TMP/a/a0.out" "$TMP/a0-killed.out"

cluster_start_aggregator 0 "${JOB[@]}" "${AGG[@]}" --resume "$TMP/ck.bin" --metrics "$TMP/m2.csv"
for k in 0 1 2 3; do
	cluster_wait_pid "${CLUSTER_WORKER_PID[$k]}" || fail "worker $k exited with $?: $(tail -n 5 "$TMP/a/w$k.out")"
done
cluster_wait_pid "${CLUSTER_AGG_PID[0]}" || fail "resumed aggregator exited with $?: $(tail -n 5 "$TMP/a/a0.out")"

A=$TMP/a/a0.json
resumed=$(jget "$A" first_round)
[ "$resumed" -gt 0 ] || fail "not resumed: first round $resumed"
lost=$((done_rounds - resumed))
[ "$lost" -ge 0 ] && [ "$lost" -le $K ] || fail "killed after $done_rounds rounds, resumed at $resumed: lost $lost > $K"
[ "$(sed -n 2p "$TMP/m2.csv" | cut -d, -f1)" = $((resumed + 1)) ] || fail "first resumed metrics row"
# uplink_bits continue: the checkpointed round's row of the killed run, then
# at most one round more in the first row of the resumed run (none while the
# workers rejoin), and more by the end
before=$(awk -F, -v r="$resumed" '$1 == r { print $5 }' "$TMP/m1.csv")
after=$(sed -n 2p "$TMP/m2.csv" | cut -d, -f5)
last=$(tail -n 1 "$TMP/m2.csv" | cut -d, -f5)
[ -n "$before" ] && [ "$before" -gt 0 ] || fail "no uplink_bits at round $resumed of the killed run"
[ "$after" -ge "$before" ] && [ $((after - before)) -le $((8 * 4 * 1500)) ] ||
	fail "uplink_bits restart: $before at round $resumed, $after one round later"
[ "$last" -gt "$after" ] || fail "uplink_bits did not grow after the resume: $after, then $last"
assert_eq "$(jget "$A" counters.uplink_wire_bytes)" $((last / 8)) \
	"the summary's uplink_wire_bytes against the last metrics row"
assert_eq "$(jget "$A" rounds)" "$R" "rounds"
acc=$(jget "$A" test_accuracy)
assert_float_ge "$acc" 0.95 "resumed star: final test accuracy too low"
crc=$(jget "$A" model_crc)
for k in 0 1 2 3; do
	assert_eq "$(jget "$TMP/a/w$k.json" model_crc)" "$crc" "worker $k's replica CRC against the aggregator's"
done
echo "ok: aggregator killed after $done_rounds rounds, resumed at $resumed (lost $lost <= $K);" \
	"workers rejoined; accuracy $acc; replicas identical"
