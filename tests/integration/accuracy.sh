#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# (a) gcdl on configs/ci.ini trains to a good model: final test accuracy in
# [0.95, 1.0] (gcdl-sim reaches 0.996 on this seeded 4-class mixture; a
# broken coder, decoder or downlink leaves it near chance, 0.25), every
# replica ends bit-identical to the aggregator's model, the metrics file has
# one row per round, and --save-model writes a .npy of the model's size.
# The same job in the other topologies, every node in this process: sharded
# (K = 2 aggregators; 3 chunks per worker at coding.mtu = 64) and mesh (4
# peers) end in the same band with identical replicas.
. "$(dirname "$0")/common.sh"

run_gcdl "$TMP/out" --profile "$CI_PROFILE" --quiet --metrics "$TMP/m.csv" \
	--save-model "$TMP/model.npy" || fail "gcdl exited with $?: $(tail -n 20 "$TMP/out")"

S=$TMP/out.json
rounds=$(sed -n 's/^rounds = //p' "$CI_PROFILE")
assert_eq "$(jget "$S" rounds)" "$rounds" "rounds"
acc=$(jget "$S" test_accuracy)
assert_float_ge "$acc" 0.95 "final test accuracy too low"
assert_float_ge 1.0 "$acc" "final test accuracy above 1"
assert_eq "$(jget "$S" replicas_checked) $(jget "$S" replicas_identical)" "4 4" \
	"replicas checked and bit-identical to the aggregator's model"
assert_eq "$(jget "$S" counters.drops)" 0 "drops without garbage"
# ci.ini's deadline is generous: nothing to warn about
assert_eq "$(jget "$S" warning)" "" "the summary's warning on a run in time"

# a deadline no machine can keep (10 us): the run is flagged in the summary,
# the JSON and on stderr, whatever its exit status
rc=0
run_gcdl "$TMP/short" --profile "$CI_PROFILE" --quiet --rounds 30 \
	--set deadline.fixed_us=10 --set network.absent_rounds=1000 || rc=$?
w=$(jget "$TMP/short.json" warning)
grep -q "gradient frames late" <<<"$w" || fail "no warning with a 10 us deadline (exit $rc): '$w'"
grep -q "^gcdl: WARNING: rounds closed without frames that came too late" "$TMP/short" ||
	fail "no WARNING line on stderr: $(tail -n 5 "$TMP/short")"
grep -q "^WARNING: " "$TMP/short" || fail "no WARNING line in the summary"

[ "$(head -n 1 "$TMP/m.csv")" = "round,method,train_loss,test_accuracy,uplink_bits,downlink_bits,stragglers,wall_ms" ] ||
	fail "metrics header: $(head -n 1 "$TMP/m.csv")"
[ "$(($(wc -l <"$TMP/m.csv") - 1))" = "$rounds" ] || fail "metrics rows: $(wc -l <"$TMP/m.csv")"
last_acc=$(tail -n 1 "$TMP/m.csv" | cut -d, -f4)
[ "$last_acc" = "$(printf '%.4f' "$acc")" ] || fail "last metrics row accuracy $last_acc != summary $acc"

# .npy: magic, version 1.0, header to 128 bytes, then dim (84 = 21 x 4) float32
[ "$(od -An -tx1 -N8 "$TMP/model.npy" | tr -d ' \n')" = "934e554d50590100" ] ||
	fail "npy magic/version"
grep -a -q "'descr': '<f4', 'fortran_order': False, 'shape': (84,)" "$TMP/model.npy" ||
	fail "npy header"
[ "$(stat -c %s "$TMP/model.npy")" = $((128 + 84 * 4)) ] || fail "npy size $(stat -c %s "$TMP/model.npy")"

for topo in sharded mesh; do
	set -- --set network.topology=$topo
	[ $topo = sharded ] && set -- "$@" --set network.aggregators=2 --set coding.mtu=64 \
		--set coding.scale_block=8
	run_gcdl "$TMP/$topo" --profile "$CI_PROFILE" --quiet "$@" --save-model "$TMP/$topo.npy" ||
		fail "local $topo exited with $?: $(tail -n 20 "$TMP/$topo")"
	S=$TMP/$topo.json
	assert_eq "$(jget "$S" topology) $(jget "$S" rounds)" "$topo $rounds" "local $topo rounds"
	a=$(jget "$S" test_accuracy)
	assert_float_ge "$a" 0.95 "local $topo: final test accuracy too low"
	n=$([ $topo = mesh ] && echo 3 || echo 4)
	assert_eq "$(jget "$S" replicas_checked) $(jget "$S" replicas_identical)" "$n $n" \
		"local $topo: replicas checked and bit-identical"
	[ "$(stat -c %s "$TMP/$topo.npy")" = $((128 + 84 * 4)) ] || fail "local $topo: npy size"
	acc="$acc, $topo $a"
done
echo "ok: accuracy $acc; replicas identical, metrics and model written"
