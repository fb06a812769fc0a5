#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Multi-host mesh (network.topology = mesh): 4 nodes, each worker k and a
# replica of the aggregator, as 4 processes in 4 network namespaces over
# net_af_packet (scripts/cluster.sh, no aggregator process).
#  (a) configs/ci.ini trains into the local mode's band (test accuracy in
#      [0.95, 1], as tests/integration/accuracy.sh), every node ends in sync
#      with the same model CRC; when node 0 committed every frame of every
#      worker that was not an injected straggler, the model is gcdl-sim's;
#  (b) with [faults] drop_p = 0.01 (gradient, commit, repair and state frames
#      lost at transmit) the 4 replicas still end with identical model CRCs,
#      in the accuracy band, and the counters show frames were lost; every
#      frame carries the job key's tag, none is dropped as forged;
#  (c) start-up errors of the mesh: timing stragglers, exit status 2.
# Every check reads the nodes' JSON summaries (--summary-json).
. "$(dirname "$0")/common.sh"

if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
	echo "skip: network namespaces need root and iproute2"
	exit 77
fi
. "$ROOT/scripts/cluster.sh"
CLUSTER_GCDL=$GCDL
CLUSTER_TIMEOUT=120
CLUSTER_EXTRA_CLEANUP='rm -rf "$TMP"'
rounds=$(sed -n 's/^rounds = //p' "$CI_PROFILE")
MESH=(--profile "$CI_PROFILE" --set network.topology=mesh --quiet)

# run_mesh DIR gcdl-options...: the 4 nodes of a mesh job; all must succeed
run_mesh() {
	local dir=$1 k
	shift
	CLUSTER_DIR=$dir
	mkdir -p "$dir"
	for k in 0 1 2 3; do
		cluster_start_worker "$k" "${MESH[@]}" --metrics "$dir/m$k.csv" "$@"
	done
	for k in 0 1 2 3; do
		cluster_wait_pid "${CLUSTER_WORKER_PID[$k]}" ||
			fail "mesh node $k exited with $?: $(grep -v 'mp action' "$dir/w$k.out" | tail -n 5)"
	done
}

# check_replicas DIR LABEL: every node ran every round, is in sync and has node 0's CRC
check_replicas() {
	local dir=$1 label=$2 k crc
	crc=$(jget "$dir/w0.json" model_crc)
	for k in 0 1 2 3; do
		W=$dir/w$k.json
		assert_eq "$(jget "$W" rounds)" "$rounds" "$label: node $k rounds"
		assert_eq "$(jget "$W" nodes.0.role) $(jget "$W" nodes.0.in_sync)" "peer true" \
			"$label: node $k in the replica set"
		assert_eq "$(jget "$W" model_crc)" "$crc" "$label: node $k model CRC against node 0's"
		assert_eq "$(jget "$W" test_accuracy)" "$(jget "$dir/w0.json" test_accuracy)" \
			"$label: node $k accuracy against node 0's with the same CRC"
	done
	# every node wrote node 0's metrics rows (method, loss, accuracy,
	# stragglers) for the rounds it applied (a node that resynced skips some;
	# uplink_bits counts what each node applied, wall_ms its own clock)
	[ "$(($(wc -l <"$dir/m0.csv") - 1))" = "$rounds" ] || fail "$label: node 0 metrics rows: $(wc -l <"$dir/m0.csv")"
	for k in 1 2 3; do
		awk -F, -v k=$k 'FNR == 1 { next }
			NR == FNR { row[$1] = $2 "," $3 "," $4 "," $7; next }
			{ n++; if (row[$1] != $2 "," $3 "," $4 "," $7) { print "round " $1 " of node " k ": " $0; bad = 1 } }
			END { if (n < 1) bad = 1; exit bad }' "$dir/m0.csv" "$dir/m$k.csv" ||
			fail "$label: node $k metrics differ from node 0's"
	done
	acc=$(jget "$dir/w0.json" test_accuracy)
	[ "$(tail -n 1 "$dir/m0.csv" | cut -d, -f4)" = "$(printf '%.4f' "$acc")" ] ||
		fail "$label: last metrics row accuracy != summary $acc"
	assert_float_ge "$acc" 0.95 "$label: final test accuracy too low"
	assert_float_ge 1.0 "$acc" "$label: final test accuracy above 1"
	echo "$label: accuracy $acc, 4 replicas with CRC $crc"
}

# (a) -----------------------------------------------------------------------
cluster_init af_packet 4 0 "$TMP/a"
run_mesh "$TMP/a"
check_replicas "$TMP/a" "(a) af_packet"
skips=0
for k in 0 1 2 3; do
	W=$TMP/a/w$k.json
	[ "$(jget "$W" counters.contributed)" -gt 0 ] || fail "(a) node $k contributed nothing"
	skips=$((skips + $(jget "$W" counters.skipped)))
done
assert_eq "$(jget "$TMP/a/w0.json" counters.mesh_commits_taken)" "$rounds" "(a) rounds node 0 committed"
stragglers=$(jget "$TMP/a/w0.json" counters.stragglers)
[ "$stragglers" -ge "$skips" ] || fail "(a) stragglers $stragglers below the injected skips $skips"
if [ "$stragglers" = "$skips" ]; then
	# (a mesh has no downlink: gcdl-sim on the mesh topology applies what each peer applies)
	"$GCDL_SIM" --profile "$CI_PROFILE" --quiet --set network.topology=mesh \
		--metrics "$TMP/sim.csv" >/dev/null 2>&1 ||
		fail "gcdl-sim failed"
	sim_loss=$(tail -n 1 "$TMP/sim.csv" | cut -d, -f3)
	[ "$(printf '%.6f' "$(jget "$TMP/a/w0.json" train_loss)")" = "$sim_loss" ] ||
		fail "(a) train loss $(jget "$TMP/a/w0.json" train_loss) != gcdl-sim's $sim_loss with every frame committed"
	echo "(a) every frame committed: train loss $sim_loss equals gcdl-sim's"
fi

# (b) -----------------------------------------------------------------------
# with a job key: every frame tagged and verified, none dropped as forged
head -c 32 /dev/urandom >"$TMP/job.key"
chmod 600 "$TMP/job.key"
run_mesh "$TMP/b" --set faults.drop_p=0.01 --set job.key_file="$TMP/job.key"
check_replicas "$TMP/b" "(b) af_packet, 1% loss, job key"
lost=0
for k in 0 1 2 3; do
	W=$TMP/b/w$k.json
	lost=$((lost + $(jget "$W" counters.fault_dropped) + $(jget "$W" counters.mesh_control_dropped)))
	assert_eq "$(jget "$W" counters.drop_auth)" 0 "(b) node $k: frames dropped as forged"
done
[ "$lost" -gt 0 ] || fail "(b) no frame was dropped at 1%: faults.drop_p is not applied"
echo "(b) $lost frames dropped at transmit, replicas identical"

# (c) -----------------------------------------------------------------------
rc=0
cluster_start_worker 1 "${MESH[@]}" --set stragglers.model=timing
cluster_wait_pid "$CLUSTER_PID" || rc=$?
[ "$rc" = 2 ] || fail "(c) timing stragglers in a mesh: exit status $rc, want 2"
grep -q "stragglers.model timing is not implemented for network.topology mesh" "$TMP/b/w1.out" ||
	fail "(c) no message: $(tail -n 3 "$TMP/b/w1.out")"
rc=0
cluster_start_worker 1 "${MESH[@]}" --set coding.mtu=64 --set coding.scale_block=8 \
	--set data.synthetic_features=200 --set job.insecure=true
cluster_wait_pid "$CLUSTER_PID" || rc=$?
[ "$rc" = 2 ] || fail "(c) a commit larger than a frame: exit status $rc, want 2"
grep -q "the commit of 21 chunks x 4 nodes (11 bytes of set) does not fit one frame of coding.mtu 64" "$TMP/b/w1.out" ||
	fail "(c) no message: $(tail -n 3 "$TMP/b/w1.out")"
echo "ok: mesh over af_packet, with and without 1% loss"
