#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Checkpoints and --resume (checkpoint.every = K):
# (a) a run killed with SIGKILL mid-way and restarted with --resume finishes
#     in the accuracy band, losing at most K rounds (completed rounds read
#     from its metrics, which hold every completed round's row); without
#     stragglers and with a 1 s deadline every round closes when its last
#     frame is in, so the resumed run's final model is bit-identical to an
#     uninterrupted run's: model, momentum, round and RNG state all restored;
# (b) a corrupt, truncated, foreign or mismatched checkpoint is refused with
#     exit status 2 and a clear line, writing no output file.
. "$(dirname "$0")/common.sh"

K=25
R=600
JOB=(--profile "$CI_PROFILE" --quiet --rounds $R --set stragglers.p=0
     --set deadline.fixed_us=1000000 --set checkpoint.every=$K --set checkpoint.path="$TMP/ck.bin")

run_gcdl "$TMP/ref" "${JOB[@]}" --set checkpoint.path="$TMP/ref.bin" --save-model "$TMP/ref.npy" \
	--metrics "$TMP/ref.csv" ||
	fail "reference run exited with $?: $(tail -n 20 "$TMP/ref")"
assert_eq "$(jget "$TMP/ref.json" counters.checkpoints)" $((R / K - 1)) "checkpoints written"
assert_eq "$(jget "$TMP/ref.json" first_round)" 0 "first round of an uninterrupted run"

# (a) kill mid-run
# gcdl itself in the background (not under timeout: SIGKILL must reach it)
"$GCDL" "${EAL[@]}" -- "${JOB[@]}" --metrics "$TMP/k1.csv" >"$TMP/k1" 2>&1 &
pid=$!
trap 'kill -KILL $pid 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 1 2400); do
	[ -f "$TMP/k1.csv" ] && [ "$(wc -l <"$TMP/k1.csv")" -gt $((2 * K + 10)) ] && break
	kill -0 $pid 2>/dev/null || break
	sleep 0.05
done
kill -KILL $pid 2>/dev/null || fail "the run ended before it could be killed"
wait $pid 2>/dev/null || true
done_rounds=$(($(wc -l <"$TMP/k1.csv") - 1))
[ "$done_rounds" -lt $R ] || fail "killed after all $R rounds"
[ -f "$TMP/ck.bin" ] || fail "no checkpoint after $done_rounds rounds"
# a kill during a write may leave ck.bin.tmp-PID behind; ck.bin is then the
# previous checkpoint, whole (the resume below loads and checks it)
rm -rf "/var/run/dpdk/$PREFIX"

run_gcdl "$TMP/k2" "${JOB[@]}" --resume "$TMP/ck.bin" --metrics "$TMP/k2.csv" \
	--save-model "$TMP/k2.npy" || fail "resumed run exited with $?: $(tail -n 20 "$TMP/k2")"
S=$TMP/k2.json
resumed=$(jget "$S" first_round)
[ "$resumed" -gt 0 ] || fail "not resumed: first round $resumed"
[ $((resumed % K)) = 0 ] || fail "resumed at round $resumed, not a multiple of $K"
lost=$((done_rounds - resumed))
[ "$lost" -ge 0 ] && [ "$lost" -le $K ] ||
	fail "killed after $done_rounds rounds, resumed at $resumed: lost $lost > $K"
[ "$(sed -n 2p "$TMP/k2.csv" | cut -d, -f1)" = $((resumed + 1)) ] || fail "first resumed row"
assert_eq "$(jget "$S" rounds)" $R "rounds"
acc=$(jget "$S" test_accuracy)
assert_float_ge "$acc" 0.95 "resumed run below the accuracy band"
assert_eq "$(jget "$S" replicas_checked) $(jget "$S" replicas_identical)" "4 4" \
	"replicas checked and bit-identical to the aggregator's model"
cmp -s "$TMP/ref.npy" "$TMP/k2.npy" || fail "the resumed model differs from the uninterrupted run's"
# cumulative uplink bits continue where the checkpoint left them, in the
# metrics and in every total a checkpoint carries
[ "$(tail -n 1 "$TMP/k2.csv" | cut -d, -f5)" = "$(tail -n 1 "$TMP/ref.csv" | cut -d, -f5)" ] ||
	fail "uplink_bits do not continue across the resume"
for c in uplink_wire_bytes uplink_payload_bytes uplink_accepted stragglers closed_complete; do
	assert_eq "$(jget "$S" counters.$c)" "$(jget "$TMP/ref.json" counters.$c)" \
		"$c of the resumed run against the uninterrupted one"
done

# (b) refusals: exit 2, one line, no output written
expect_refused() {
	local name=$1 pattern=$2 rc=0
	shift 2
	timeout 60 "$GCDL" "${EAL[@]}" -- "${JOB[@]}" --metrics "$TMP/$name.csv" "$@" \
		>"$TMP/$name.out" 2>&1 || rc=$?
	[ $rc = 2 ] || fail "$name: exit status $rc, want 2: $(tail -n 3 "$TMP/$name.out")"
	grep -q -- "$pattern" "$TMP/$name.out" || fail "$name: no '$pattern' in: $(tail -n 3 "$TMP/$name.out")"
	[ ! -e "$TMP/$name.csv" ] || fail "$name: a refused resume wrote the metrics file"
}
size=$(stat -c %s "$TMP/ck.bin")
cp "$TMP/ck.bin" "$TMP/corrupt.bin"
printf '\xff' | dd of="$TMP/corrupt.bin" bs=1 seek=$((size / 2)) conv=notrunc status=none
expect_refused corrupt "--resume $TMP/corrupt.bin: checkpoint checksum mismatch" --resume "$TMP/corrupt.bin"
head -c $((size - 10)) "$TMP/ck.bin" >"$TMP/short.bin"
expect_refused truncated "checkpoint truncated" --resume "$TMP/short.bin"
head -c 200 /dev/urandom >"$TMP/random.bin"
expect_refused foreign "not a gcdl checkpoint" --resume "$TMP/random.bin"
expect_refused missing "No such file" --resume "$TMP/none.bin"
expect_refused seed "checkpoint of another job: job.seed" --resume "$TMP/ck.bin" --seed 8
expect_refused profile "checkpoint of another profile" --resume "$TMP/ck.bin" --set optim.lr=0.4
expect_refused shape "checkpoint of another shape" --resume "$TMP/ck.bin" \
	--set cluster.workers=8 --set cluster.partitions=8
echo "ok: killed after $done_rounds rounds, resumed at $resumed (lost $lost <= $K), accuracy $acc," \
	"model identical to the uninterrupted run; corrupt/truncated/foreign/missing/mismatched refused"
