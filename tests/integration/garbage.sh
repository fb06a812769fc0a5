#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# (c) --inject-garbage: malformed frames (sent by worker 0 to the aggregator in
# local mode) are dropped and counted by reason, and change nothing: the
# metrics equal those of the run without garbage.
# 10 frames per round cycle through the 10 kinds, so each kind comes once per
# round; the random-bytes kind lands on truncated or ethertype.
. "$(dirname "$0")/common.sh"

R=60
G=10
run_gcdl "$TMP/clean" --profile "$CI_PROFILE" --rounds $R --quiet --metrics "$TMP/clean.csv" ||
	fail "gcdl exited with $?: $(tail -n 20 "$TMP/clean")"
run_gcdl "$TMP/dirty" --profile "$CI_PROFILE" --rounds $R --quiet --metrics "$TMP/dirty.csv" \
	--inject-garbage $G || fail "gcdl --inject-garbage exited with $?: $(tail -n 20 "$TMP/dirty")"

D=$TMP/dirty.json
assert_eq "$(jget "$D" counters.garbage_sent)" $((R * G)) "garbage sent"
assert_eq "$(jget "$D" "nodes.$(jnode "$D" worker 0).counters.garbage_sent")" $((R * G)) \
	"garbage sent by worker 0"
A=nodes.$(jnode "$D" aggregator 0).counters
assert_eq "$(jget "$D" $A.drops)" $((R * G)) "aggregator's drops"
assert_eq "$(jget "$D" counters.drops)" $((R * G)) "drops of all nodes"
for reason in magic crc job sender offset count length; do
	assert_eq "$(jget "$D" $A.drop_$reason)" $R "drop_$reason"
done
trunc=$(jget "$D" $A.drop_truncated)
ether=$(jget "$D" $A.drop_ethertype)
[ $((trunc + ether)) = $((3 * R)) ] || fail "truncated $trunc + ethertype $ether != $((3 * R))"
[ "$trunc" -ge $R ] && [ "$ether" -ge $R ] || fail "truncated $trunc, ethertype $ether < $R"
assert_eq "$(jget "$D" counters.duplicates)" 0 "duplicates"
for c in uplink_tx_frames uplink_tx_bytes uplink_accepted; do
	assert_eq "$(jget "$D" counters.$c)" "$(jget "$TMP/clean.json" counters.$c)" \
		"$c with and without garbage"
done
if ! diff <(cut -d, -f1-7 "$TMP/clean.csv") <(cut -d, -f1-7 "$TMP/dirty.csv") >"$TMP/diff"; then
	fail "garbage changed the metrics: $(head -n 20 "$TMP/diff")"
fi
echo "ok: $((R * G)) malformed frames dropped by reason, metrics unchanged"
