#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Fault injection at transmit ([faults]).
# (a) configs/ci.ini under 1% drops, 1% duplicates, a reorder window of 8 and
#     worker 3 permanently 5x slower reaches the fault-free accuracy band with
#     at most 10% more rounds, summed over 4 seeds (the seed also draws the
#     synthetic data set; one seed alone moves by a few rounds whenever the
#     random stream changes). Per seed, the band is the fault-free run's final
#     accuracy minus 0.005 (the test set has 1000 rows: the standard error of
#     an accuracy near 0.996 is 0.002), and "reaching" it means staying in it
#     from that round to the end (evaluated every round). Every frame is
#     accounted for: sent = encoded - dropped + duplicated. No round closes
#     later than its deadline + 1 ms while the aggregator lcore runs
#     (check_close_times: metrics wall_ms is the time from a round's start
#     until the lcore actually closed it).
# (b) duplicates and reordering alone (3 chunks per worker) change nothing:
#     the model is bit-identical to the fault-free run's.
# (c) corrupted copies (one bit flipped) are all dropped, each counted.
. "$(dirname "$0")/common.sh"

FAULTS=(--set faults.drop_p=0.01 --set faults.dup_p=0.01 --set faults.reorder_window=8
	--set faults.slow_workers=3:5)
rounds=$(sed -n 's/^rounds = //p' "$CI_PROFILE")
deadline_us=$(sed -n 's/^fixed_us = //p' "$CI_PROFILE")
workers=$(sed -n 's/^workers = //p' "$CI_PROFILE")
# first round from which test_accuracy stays >= band $2 in metrics $1
reach() {
	awk -F, -v b="$2" 'NR > 1 { if ($4 + 0 >= b + 0) { if (!r) r = $1 } else r = 0 }
		END { print r + 0 }' "$1"
}
sum0=0 sum1=0 per="" nlate=0 worst=0
for seed in 7 1 2 3; do
	for f in clean faulty; do
		set -- --profile "$CI_PROFILE" --quiet --set job.eval_every=1 --set job.seed=$seed \
			--metrics "$TMP/$f-$seed.csv"
		[ $f = clean ] || set -- "$@" "${FAULTS[@]}"
		run_gcdl "$TMP/$f-$seed" "$@" ||
			fail "$f gcdl (seed $seed) exited with $?: $(tail -n 20 "$TMP/$f-$seed")"
		[ "$(($(wc -l <"$TMP/$f-$seed.csv") - 1))" = "$rounds" ] || fail "$f-$seed metrics rows"
		c=$(check_close_times "$TMP/$f-$seed" "$TMP/$f-$seed.csv" "$deadline_us") || exit 1
		nlate=$((nlate + ${c%% *}))
		worst=$(echo "$c" | awk -v w="$worst" '{ v = $(NF - 1) + 0; print (v > w ? v : w) }')
	done
	band=$(awk -v a="$(jget "$TMP/clean-$seed.json" test_accuracy)" 'BEGIN { printf "%.4f", a - 0.005 }')
	r0=$(reach "$TMP/clean-$seed.csv" "$band")
	r1=$(reach "$TMP/faulty-$seed.csv" "$band")
	[ "$r0" -gt 0 ] || fail "seed $seed: the fault-free run never stays in its own band $band"
	[ "$r1" -gt 0 ] || fail "seed $seed: the faulty run never stays in the band $band" \
		"(final $(jget "$TMP/faulty-$seed.json" test_accuracy))"
	sum0=$((sum0 + r0)) sum1=$((sum1 + r1)) per="$per seed $seed: $r1 vs $r0 (band $band);"
done
limit=$(((sum0 * 11 + 9) / 10))
[ "$sum1" -le "$limit" ] ||
	fail "faulty runs reached their bands in $sum1 rounds in all, fault-free in $sum0 (limit $limit):$per"

# the fault counters of one run (seed 7)
F=$TMP/faulty-7.json
dropped=$(jget "$F" counters.fault_dropped)
duplicated=$(jget "$F" counters.fault_duplicated)
reordered=$(jget "$F" counters.fault_reordered)
corrupted=$(jget "$F" counters.fault_corrupted)
delayed=$(jget "$F" counters.fault_delayed)
[ "$dropped" -gt 0 ] && [ "$duplicated" -gt 0 ] || fail "no drops or duplicates injected: $dropped $duplicated"
assert_eq "$corrupted" 0 "corrupted without corrupt_p"
skips=$(jget "$F" counters.skipped)
# ci.ini: one chunk per worker; every non-straggler worker-round of worker 3 is held back
encoded=$((rounds * workers - skips))
sent=$(jget "$F" counters.uplink_tx_frames)
[ "$sent" = $((encoded - dropped + duplicated)) ] ||
	fail "uplink sent $sent != encoded $encoded - dropped $dropped + duplicated $duplicated"
[ "$delayed" -gt 0 ] && [ "$delayed" -lt "$encoded" ] || fail "delayed $delayed of $encoded"
# every fault was injected by the worker that sends: worker 3 alone is slow
w3=nodes.$(jnode "$F" worker 3)
assert_eq "$(jget "$F" $w3.counters.fault_delayed)" "$delayed" "frames delayed by worker 3"
assert_eq "$(jget "$F" counters.drops)" 0 "drops without corruption"
assert_eq "$(jget "$F" replicas_checked) $(jget "$F" replicas_identical)" "$workers $workers" \
	"replicas checked and bit-identical"

# (b) duplicates and reordering only, 3 chunks per worker: the same model, bit for bit
# no stragglers and a 1 s deadline: every round closes when its last frame is in,
# so the set of accepted frames does not depend on the machine's load
SMALL=(--set coding.mtu=64 --set coding.scale_block=8 --rounds 60 --set stragglers.p=0
       --set deadline.fixed_us=1000000)
run_gcdl "$TMP/b0" --profile "$CI_PROFILE" --quiet "${SMALL[@]}" --save-model "$TMP/b0.npy" ||
	fail "gcdl exited with $?: $(tail -n 20 "$TMP/b0")"
run_gcdl "$TMP/b1" --profile "$CI_PROFILE" --quiet "${SMALL[@]}" --save-model "$TMP/b1.npy" \
	--set faults.dup_p=0.3 --set faults.reorder_window=8 --set faults.seed=11 ||
	fail "gcdl exited with $?: $(tail -n 20 "$TMP/b1")"
bdup=$(jget "$TMP/b1.json" counters.fault_duplicated)
breord=$(jget "$TMP/b1.json" counters.fault_reordered)
[ "$bdup" -gt 0 ] && [ "$breord" -gt 0 ] || fail "(b): duplicated $bdup, reordered $breord"
cmp -s "$TMP/b0.npy" "$TMP/b1.npy" || fail "(b): duplicates and reordering changed the model"

# (c) corruption: every corrupted copy is dropped and counted
run_gcdl "$TMP/c" --profile "$CI_PROFILE" --quiet --rounds 60 --set faults.corrupt_p=0.2 ||
	fail "gcdl exited with $?: $(tail -n 20 "$TMP/c")"
ccorr=$(jget "$TMP/c.json" counters.fault_corrupted)
[ "$ccorr" -gt 0 ] || fail "(c): nothing corrupted"
assert_eq "$(jget "$TMP/c.json" counters.drops)" "$ccorr" "(c): drops against corrupted copies"
echo "ok: bands reached in $sum1 rounds with faults, $sum0 without (limit $limit;$per)" \
	"seed 7: $dropped dropped, $duplicated duplicated, $reordered reordered, $delayed delayed;" \
	"8 runs: $nlate rounds closed past deadline + 1 ms, all while the aggregator lcore was not" \
	"running, worst overshoot while it ran $worst us; dup+reorder model identical;" \
	"$ccorr corrupted all dropped"
