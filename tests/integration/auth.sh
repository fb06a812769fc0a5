#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Frame authentication (job.key_file): with a key, 10,000 spoofed (valid
# format, wrong key), 10,000 replayed (authentic tag, closed round) and
# 10,000 corrupted (altered after tagging, CRC recomputed) frames (at
# least; 101 rounds of 300, sent by worker 0 to the aggregator) are all
# dropped and counted, and the final model is bit-identical to a run
# without that traffic. Without stragglers and with a 1 s deadline every
# round closes when its last genuine frame is in, so no genuine frame is
# late and "late" counts the replays alone. A key file others can read,
# or a malformed one, is refused at start-up.
. "$(dirname "$0")/common.sh"

R=101 # round 0 has no closed round to replay: 100 rounds of 100 replays
H=300 # per round: 100 of each kind
head -c 32 /dev/urandom >"$TMP/job.key"
chmod 600 "$TMP/job.key"
JOB=(--profile "$CI_PROFILE" --quiet --rounds $R --set stragglers.p=0
     --set deadline.fixed_us=1000000)

run_gcdl "$TMP/plain" "${JOB[@]}" --save-model "$TMP/plain.npy" ||
	fail "run without a key exited with $?: $(tail -n 20 "$TMP/plain")"
run_gcdl "$TMP/keyed" "${JOB[@]}" --set job.key_file="$TMP/job.key" --save-model "$TMP/keyed.npy" ||
	fail "keyed run exited with $?: $(tail -n 20 "$TMP/keyed")"
run_gcdl "$TMP/hostile" "${JOB[@]}" --set job.key_file="$TMP/job.key" --inject-hostile $H \
	--save-model "$TMP/hostile.npy" || fail "hostile run exited with $?: $(tail -n 20 "$TMP/hostile")"

cmp -s "$TMP/plain.npy" "$TMP/keyed.npy" || fail "the key changed the model"
cmp -s "$TMP/keyed.npy" "$TMP/hostile.npy" || fail "hostile traffic changed the model"
S=$TMP/hostile.json
A=nodes.$(jnode "$S" aggregator 0).counters
injected=$(jget "$S" counters.hostile_sent)
[ "$injected" = $((R * H)) ] || fail "injected $injected, want $((R * H))"
drops=$(jget "$S" $A.drops)
late=$(jget "$S" $A.late)
auth=$(jget "$S" $A.drop_auth)
[ $((drops + late)) = "$injected" ] ||
	fail "drops $drops + late $late != injected $injected: $(jget "$S" $A)"
# spoofed and corrupted frames fail the tag; replays of closed rounds are late
[ "$auth" -ge $((R * H * 2 / 3 - R * H / 100)) ] || fail "auth drops $auth"
[ "$late" -ge $(((R - 1) * H / 3)) ] || fail "late $late, want >= $(((R - 1) * H / 3)) replays"
assert_eq "$(jget "$S" counters.uplink_accepted)" "$(jget "$TMP/keyed.json" counters.uplink_accepted)" \
	"accepted frames with and without hostile traffic"
assert_eq "$(jget "$S" replicas_checked) $(jget "$S" replicas_identical)" "4 4" \
	"replicas checked and bit-identical to the aggregator's model"
assert_eq "$(jpy "$S" 'sum(x["counters"]["drops"] for x in n if x["role"] == "worker")')" 0 \
	"update frames dropped by the workers"

# start-up refusals: exit 2, one line naming the key and the file
expect_exit2() {
	local name=$1 pattern=$2 rc=0
	shift 2
	timeout 60 "$GCDL" "${EAL[@]}" -- "$@" >"$TMP/$name.out" 2>&1 || rc=$?
	[ $rc = 2 ] || fail "$name: exit status $rc, want 2: $(tail -n 3 "$TMP/$name.out")"
	grep -q -- "$pattern" "$TMP/$name.out" || fail "$name: no '$pattern' in: $(tail -n 3 "$TMP/$name.out")"
}
cp "$TMP/job.key" "$TMP/open.key"
chmod 640 "$TMP/open.key"
expect_exit2 key_mode "key job.key_file: $TMP/open.key: group or others may access it" \
	"${JOB[@]}" --set job.key_file="$TMP/open.key"
head -c 20 /dev/urandom >"$TMP/short.key"
chmod 600 "$TMP/short.key"
expect_exit2 key_short "32 bytes or 64 hexadecimal digits" "${JOB[@]}" --set job.key_file="$TMP/short.key"
expect_exit2 key_missing "$TMP/none.key: No such file" "${JOB[@]}" --set job.key_file="$TMP/none.key"
expect_exit2 hostile_nokey "--inject-hostile needs a job key" "${JOB[@]}" --inject-hostile 3
echo "ok: $injected hostile frames ($auth auth drops, $late late replays, $((drops - auth)) other" \
	"drops) changed nothing: model identical; bad key files refused"
