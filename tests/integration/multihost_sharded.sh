#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Multi-host over net_memif (no namespaces, scripts/cluster.sh): configs/ci.ini
# with 3 uplink chunks per worker (coding.mtu = 80 with a job key, coding.scale_block = 8),
# first as a star (1 aggregator + 4 workers), then sharded with K = 2
# (aggregator 0 owns chunk 0, aggregator 1 chunks 1-2). Both train into the
# local mode's band ([0.95, 1], tests/integration/accuracy.sh); every worker
# ends with the same replica; each aggregator takes only the chunks it owns;
# when no frame came late anywhere, sharded computes the star's model bit for
# bit (the decoder and the optimizer work per coordinate).
# Then (as root, over af_packet in namespaces) sharded with every MAC given by
# the profile and aggregator 1 started after aggregator 0 ran 20 rounds alone: workers cannot compute
# while their two ranges are at different rounds, so they ask aggregator 1 to
# catch up (its closed_catchup > 0) and training still ends in the band with
# identical replicas, every node on the profile's MAC (network.absent_rounds
# is raised there: aggregator 0's rounds have no contributor until then).
# Every check reads the nodes' JSON summaries (--summary-json).
. "$(dirname "$0")/common.sh"

. "$ROOT/scripts/cluster.sh"
CLUSTER_GCDL=$GCDL
CLUSTER_TIMEOUT=120
CLUSTER_EXTRA_CLEANUP=${KEEP:-'rm -rf "$TMP"'}
rounds=$(sed -n 's/^rounds = //p' "$CI_PROFILE")
# coding.mtu 80: 64 bytes of frame once the 16-byte tag of the cluster's key is in
JOB=(--profile "$CI_PROFILE" --quiet --set coding.mtu=80 --set coding.scale_block=8)

# run_job K DIR: K aggregators (sharded when K > 1) and 4 workers; checks
# rounds, accuracy and identical replicas; sets RUN_CRC (the replicas') and RUN_ACC.
run_job() {
	local k=$1 dir=$2 a w opts=("${JOB[@]}") crc="" acc
	[ "$k" -gt 1 ] && opts+=(--set network.topology=sharded --set network.aggregators="$k")
	CLUSTER_TAG=g$$-$k
	cluster_init memif 4 "$k" "$dir"
	for ((a = 0; a < k; a++)); do cluster_start_aggregator "$a" "${opts[@]}"; done
	for w in 0 1 2 3; do cluster_start_worker "$w" "${opts[@]}"; done
	for w in 0 1 2 3; do
		cluster_wait_pid "${CLUSTER_WORKER_PID[$w]}" ||
			fail "K=$k: worker $w exited with $?: $(tail -n 5 "$dir/w$w.out")"
	done
	for ((a = 0; a < k; a++)); do
		cluster_wait_pid "${CLUSTER_AGG_PID[$a]}" ||
			fail "K=$k: aggregator $a exited with $?: $(tail -n 5 "$dir/a$a.out")"
		assert_eq "$(jget "$dir/a$a.json" rounds)" "$rounds" "K=$k: aggregator $a rounds"
		assert_eq "$(jget "$dir/a$a.json" counters.drops)" 0 \
			"K=$k: aggregator $a dropped frames (a chunk it does not own?)"
		[ "$(jget "$dir/a$a.json" counters.uplink_accepted)" -gt 0 ] ||
			fail "K=$k: aggregator $a accepted nothing"
	done
	for w in 0 1 2 3; do
		assert_eq "$(jget "$dir/w$w.json" rounds)" "$rounds" "K=$k: worker $w rounds"
		acc=$(jget "$dir/w$w.json" test_accuracy)
		assert_float_ge "$acc" 0.95 "K=$k: worker $w's final test accuracy too low"
		assert_float_ge 1.0 "$acc" "K=$k: accuracy above 1"
		[ -z "$crc" ] && crc=$(jget "$dir/w$w.json" model_crc)
		assert_eq "$(jget "$dir/w$w.json" model_crc)" "$crc" "K=$k: worker $w's replica CRC"
	done
	RUN_CRC=$crc
	RUN_ACC=$acc
}

# all_in_time DIR K: no aggregator saw a late frame or more stragglers than injected
all_in_time() {
	local dir=$1 k=$2 a w skips=0
	for w in 0 1 2 3; do
		skips=$((skips + $(jget "$dir/w$w.json" counters.skipped)))
	done
	for ((a = 0; a < k; a++)); do
		[ "$(jget "$dir/a$a.json" counters.late)" = 0 ] || return 1
		[ "$(jget "$dir/a$a.json" counters.stragglers)" = "$skips" ] || return 1
	done
}

run_job 1 "$TMP/star"
star_crc=$RUN_CRC star_acc=$RUN_ACC
run_job 2 "$TMP/sharded"
sh_crc=$RUN_CRC sh_acc=$RUN_ACC

# aggregator 1 owns two of the three chunks: it takes about twice as many frames
a0=$(jget "$TMP/sharded/a0.json" counters.uplink_accepted)
a1=$(jget "$TMP/sharded/a1.json" counters.uplink_accepted)
[ "$a1" -gt "$a0" ] || fail "aggregator 1 (2 chunks) accepted $a1 frames, aggregator 0 (1 chunk) $a0"
if all_in_time "$TMP/star" 1 && all_in_time "$TMP/sharded" 2; then
	[ "$sh_crc" = "$star_crc" ] || fail "every frame in time, yet sharded CRC $sh_crc != star's $star_crc"
	echo "every frame in time: sharded model = star model ($sh_crc)"
fi
echo "ok: memif star accuracy $star_acc, sharded K=2 accuracy $sh_acc; frames $a0 + $a1"

# job keys: frames of a node with another key are dropped as "auth" (the
# aggregator never even reads the hello), and that worker gives up; the
# aggregator, which no worker joined, says so and exits with status 3
head -c 32 /dev/urandom >"$TMP/a.key"
head -c 32 /dev/urandom >"$TMP/b.key"
chmod 600 "$TMP/a.key" "$TMP/b.key"
CLUSTER_EXTRA_CLEANUP= cluster_cleanup
CLUSTER_PIDS=()
CLUSTER_TAG=g$$-key
cluster_init memif 1 1 "$TMP/key"
cluster_start_aggregator 0 --profile "$CI_PROFILE" --quiet --rounds 20 --set job.key_file="$TMP/a.key" \
	--set network.join_wait_ms=1500
cluster_start_worker 0 --profile "$CI_PROFILE" --quiet --rounds 20 --set job.key_file="$TMP/b.key" \
	--set network.idle_timeout_ms=1000
rc=0
cluster_wait_pid "${CLUSTER_WORKER_PID[0]}" || rc=$?
[ $rc = 1 ] || fail "key: the worker with another key exited with $rc, want 1"
grep -q "no frame from aggregator 0 for network.idle_timeout_ms = 1000 ms" "$TMP/key/w0.out" ||
	fail "key: no timeout message: $(tail -n 2 "$TMP/key/w0.out")"
rc=0
cluster_wait_pid "${CLUSTER_AGG_PID[0]}" || rc=$?
[ $rc = 3 ] || fail "key: the aggregator no worker joined exited with $rc, want 3"
grep -q "no worker joined within network.join_wait_ms = 1500 ms" "$TMP/key/a0.out" ||
	fail "key: no message from the aggregator: $(tail -n 2 "$TMP/key/a0.out")"
assert_eq "$(jget "$TMP/key/a0.json" status)" 3 "key: the aggregator's summary status"
[ "$(jget "$TMP/key/a0.json" counters.drop_auth)" -gt 0 ] || fail "key: no auth drops at the aggregator"
assert_eq "$(jget "$TMP/key/a0.json" nodes.0.workers.0.joins)" 0 "key: joins of the worker with another key"
echo "ok (keys): $(jget "$TMP/key/a0.json" counters.drop_auth) hellos with another key dropped as auth"

if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
	echo "skip (late aggregator): network namespaces need root and iproute2"
	exit 0
fi
CLUSTER_EXTRA_CLEANUP= cluster_cleanup
CLUSTER_PIDS=()
AM=02:00:00:00:aa:00,02:00:00:00:aa:01
WM=02:00:00:00:00:00,02:00:00:00:00:01,02:00:00:00:00:02,02:00:00:00:00:03
opts=(--profile "$CI_PROFILE" --set coding.mtu=80 --set coding.scale_block=8 --set network.topology=sharded --set network.aggregators=2
      --set network.aggregator_macs=$AM --set network.worker_macs=$WM --set network.absent_rounds=200)
D=$TMP/late
CLUSTER_TAG=g$$-late
cluster_init af_packet 4 2 "$D"
cluster_start_aggregator 0 "${opts[@]}"
for w in 0 1 2 3; do cluster_start_worker "$w" "${opts[@]}"; done
# aggregator 1 starts once aggregator 0 ran 20 rounds on its own
for ((i = 0; i < 600; i++)); do
	r=$({ grep -o 'round [0-9]*/' "$D/a0.out" 2>/dev/null || true; } | tail -n 1 | tr -dc 0-9)
	[ -n "$r" ] && [ "$r" -ge 20 ] && break
	sleep 0.1
done
[ -n "$r" ] && [ "$r" -ge 20 ] || fail "late: aggregator 0 did not run rounds alone (at ${r:-none})"
cluster_start_aggregator 1 "${opts[@]}"
crc=""
for w in 0 1 2 3; do
	cluster_wait_pid "${CLUSTER_WORKER_PID[$w]}" || fail "late: worker $w exited with $?"
	assert_eq "$(jget "$D/w$w.json" nodes.0.ports.0.name) $(jget "$D/w$w.json" nodes.0.ports.0.mac)" \
		"net_af_packet0 02:00:00:00:00:0$w" "late: worker $w's port and MAC"
	assert_eq "$(jget "$D/w$w.json" rounds)" "$rounds" "late: worker $w rounds"
	assert_float_ge "$(jget "$D/w$w.json" test_accuracy)" 0.95 "late: worker $w accuracy"
	[ "$(jget "$D/w$w.json" counters.contributed)" -gt 0 ] || fail "late: worker $w never contributed"
	[ -z "$crc" ] && crc=$(jget "$D/w$w.json" model_crc)
	assert_eq "$(jget "$D/w$w.json" model_crc)" "$crc" "late: worker $w's replica CRC"
done
for a in 0 1; do
	cluster_wait_pid "${CLUSTER_AGG_PID[$a]}" || fail "late: aggregator $a exited with $?"
	assert_eq "$(jget "$D/a$a.json" rounds)" "$rounds" "late: aggregator $a rounds"
done
assert_eq "$(jget "$D/a0.json" nodes.0.ports.0.mac)" 02:00:00:00:aa:00 "late: aggregator 0's MAC"
# a MAC the kernel's interface does not have: that port alone is promiscuous
assert_eq "$(jget "$D/a0.json" nodes.0.ports.0.promiscuous)" true "late: aggregator 0 promiscuous"
caught=$(jget "$D/a1.json" counters.closed_catchup)
[ "$caught" -gt 0 ] || fail "late: aggregator 1 never caught up"
echo "ok (late aggregator): aggregator 1 closed $caught rounds to catch up; replicas $crc"
