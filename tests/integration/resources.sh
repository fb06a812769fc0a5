#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Resource exhaustion is counted and handled, never a crash or a hang:
# (a) TX rings of 64 descriptors against 201 uplink and 1144 downlink frames
#     per worker and round: bursts that a full ring takes only partly are
#     counted (tx_full) and retried, none dropped, and the model is bit-identical to
#     the same job on rings of 1024 (no stragglers, 1 s deadline: every round
#     closes when its last frame is in);
# (b) a job that needs more mbufs in flight than the pool has is refused at
#     start-up naming dataplane.mbufs (exit 2), and one whose pool does not
#     fit the EAL memory names the mempool (startup_errors.sh);
# (c) too many workers or coordinates for a profile are range errors
#     (tests/test_profile.c: cluster.workers <= 4096, <= 2^28 coordinates).
. "$(dirname "$0")/common.sh"

JOB=(--profile "$CI_PROFILE" --quiet --rounds 30 --set stragglers.p=0 --set deadline.fixed_us=1000000
     --set data.synthetic_features=2000 --set coding.mtu=64 --set coding.scale_block=8
     --set dataplane.mbufs=8191)
run_gcdl "$TMP/small" "${JOB[@]}" --set dataplane.ring_size=64 --save-model "$TMP/small.npy" ||
	fail "ring_size 64 exited with $?: $(tail -n 20 "$TMP/small")"
run_gcdl "$TMP/big" "${JOB[@]}" --set dataplane.ring_size=1024 --save-model "$TMP/big.npy" ||
	fail "ring_size 1024 exited with $?: $(tail -n 20 "$TMP/big")"
full=$(jget "$TMP/small.json" counters.tx_full)
[ "$full" -gt 0 ] || fail "no full TX ring counted"
assert_eq "$(jget "$TMP/small.json" counters.tx_failed)" 0 "frames a full ring dropped"
assert_eq "$(jget "$TMP/small.json" replicas_checked) $(jget "$TMP/small.json" replicas_identical)" \
	"4 4" "replicas checked and bit-identical to the aggregator's model"
cmp -s "$TMP/small.npy" "$TMP/big.npy" || fail "full TX rings changed the model"

rc=0
timeout 60 "$GCDL" "${EAL[@]}" -- "${JOB[@]}" --set dataplane.mbufs=4095 --metrics "$TMP/m.csv" \
	>"$TMP/mbufs" 2>&1 || rc=$?
[ $rc = 2 ] || fail "too few mbufs: exit $rc, want 2"
grep -q "key dataplane.mbufs: dataplane.mbufs 4095 is below the [0-9]* mbufs this job can hold in flight" \
	"$TMP/mbufs" || fail "too few mbufs: $(tail -n 2 "$TMP/mbufs")"
[ ! -e "$TMP/m.csv" ] || fail "a refused start wrote the metrics file"
echo "ok: $full partial TX bursts retried, model unchanged; too few mbufs refused at start"
