#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# (c) --inject-garbage: malformed frames are dropped and counted by reason,
# and change nothing: the metrics equal those of the run without garbage.
# 10 frames per round cycle through the 10 kinds, so each kind comes once per
# round; the random-bytes kind lands on truncated or ethertype.
. "$(dirname "$0")/common.sh"

R=60
G=10
run_gcdl "$TMP/clean" --profile "$CI_PROFILE" --rounds $R --quiet --metrics "$TMP/clean.csv" ||
	fail "gcdl exited with $?: $(tail -n 20 "$TMP/clean")"
run_gcdl "$TMP/dirty" --profile "$CI_PROFILE" --rounds $R --quiet --metrics "$TMP/dirty.csv" \
	--inject-garbage $G || fail "gcdl --inject-garbage exited with $?: $(tail -n 20 "$TMP/dirty")"

[ "$(summary_num "$TMP/dirty" "garbage injected")" = $((R * G)) ] ||
	fail "garbage injected: $(summary "$TMP/dirty" "garbage injected")"
[ "$(summary_num "$TMP/dirty" drops)" = $((R * G)) ] || fail "drops: $(summary "$TMP/dirty" drops)"
for reason in magic crc job sender offset count length; do
	[ "$(summary_num "$TMP/dirty" "drop $reason")" = $R ] ||
		fail "drop $reason: $(summary "$TMP/dirty" "drop $reason"), want $R"
done
trunc=$(summary_num "$TMP/dirty" "drop truncated")
ether=$(summary_num "$TMP/dirty" "drop ethertype")
[ $((trunc + ether)) = $((3 * R)) ] || fail "truncated $trunc + ethertype $ether != $((3 * R))"
[ "$trunc" -ge $R ] && [ "$ether" -ge $R ] || fail "truncated $trunc, ethertype $ether < $R"
[ "$(summary_num "$TMP/dirty" duplicates)" = 0 ] || fail "duplicates counted"
[ "$(summary "$TMP/dirty" "uplink sent")" = "$(summary "$TMP/clean" "uplink sent")" ] ||
	fail "workers sent differently"
if ! diff <(cut -d, -f1-6 "$TMP/clean.csv") <(cut -d, -f1-6 "$TMP/dirty.csv") >"$TMP/diff"; then
	fail "garbage changed the metrics: $(head -n 20 "$TMP/diff")"
fi
echo "ok: $((R * G)) malformed frames dropped by reason, metrics unchanged"
