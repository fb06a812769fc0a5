#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Start-up errors exit with status 2 and one line naming what is wrong.
. "$(dirname "$0")/common.sh"

# expect_exit2 NAME PATTERN gcdl-args...: exit status 2 and PATTERN in the output
expect_exit2() {
	local name=$1 pattern=$2 rc=0
	shift 2
	timeout 60 "$GCDL" "$@" >"$TMP/$name.out" 2>&1 || rc=$?
	[ $rc = 2 ] || fail "$name: exit status $rc, want 2: $(tail -n 5 "$TMP/$name.out")"
	grep -q -- "$pattern" "$TMP/$name.out" ||
		fail "$name: no '$pattern' in: $(tail -n 5 "$TMP/$name.out")"
}

# an unknown key: the message names file:line and the key
sed 's/^burst = 32$/brust = 32/' "$CI_PROFILE" >"$TMP/bad.ini"
line=$(grep -n '^brust = 32$' "$TMP/bad.ini" | cut -d: -f1)
[ -n "$line" ] || fail "could not make the bad profile"
expect_exit2 unknown_key "$TMP/bad.ini:$line:.*dataplane.brust" "${EAL[@]}" -- --profile "$TMP/bad.ini"
expect_exit2 missing_profile "cannot\|No such file" "${EAL[@]}" -- --profile "$TMP/none.ini"
expect_exit2 no_profile "--profile FILE is required" "${EAL[@]}" --
expect_exit2 role_worker "not implemented in this build" "${EAL[@]}" -- --profile "$CI_PROFILE" --role worker
expect_exit2 role_aggregator "not implemented in this build" "${EAL[@]}" -- --profile "$CI_PROFILE" --role aggregator
expect_exit2 role_bad "unknown --role" "${EAL[@]}" -- --profile "$CI_PROFILE" --role boss
expect_exit2 rounds_bad "--rounds '12x'" "${EAL[@]}" -- --profile "$CI_PROFILE" --rounds 12x
expect_exit2 garbage_bad "--inject-garbage '-1'" "${EAL[@]}" -- --profile "$CI_PROFILE" --inject-garbage -1
expect_exit2 set_bad "job.rounds" "${EAL[@]}" -- --profile "$CI_PROFILE" --set job.rounds=0
expect_exit2 no_separator "go after '--'" "${EAL[@]}"
# rte_eal_init() succeeds when a vdev fails to probe: gcdl must not
expect_exit2 vdev "--vdev net_af_packet0,iface=gcdl-no-such-if: the device failed to probe" \
	"${EAL[@]}" --vdev net_af_packet0,iface=gcdl-no-such-if -- --profile "$CI_PROFILE"
# too few lcores for 1 aggregator + 2 worker lcores
ONE=(--no-huge --no-pci --no-shconf --file-prefix "$PREFIX" -m 256 --lcores 0 --log-level '*:warning')
expect_exit2 lcores "dataplane.worker_lcores = 2 needs 3 EAL lcores" "${ONE[@]}" -- \
	--profile "$CI_PROFILE" --set dataplane.worker_lcores=2
# a mempool that does not fit in the memory given to the EAL
SMALL=(--no-huge --no-pci --no-shconf --file-prefix "$PREFIX" -m 16 --lcores "(0-2)@(0-$((NCPU - 1)))" --log-level '*:warning')
expect_exit2 mempool "mempool gcdl_pool_s0" "${SMALL[@]}" -- --profile "$CI_PROFILE" \
	--set dataplane.mbufs=100000
# one line each
for f in "$TMP"/*.out; do
	n=$(grep -c '^gcdl: ' "$f" || true)
	[ "$n" = 1 ] || fail "$(basename "$f"): $n 'gcdl:' lines, want 1: $(cat "$f")"
done
# --help lists every option and every profile key, exit 0
"$GCDL" -- --help >"$TMP/help.txt" || fail "--help exited with $?"
for opt in --profile --role --rounds --seed --metrics --save-model --inject-garbage --quiet --help; do
	grep -q -- "$opt" "$TMP/help.txt" || fail "--help does not list $opt"
done
for key in burst ring_size mbufs worker_lcores time_scale fixed_us scale_block; do
	grep -q "^    $key " "$TMP/help.txt" || fail "--help does not list the key $key"
done
echo "ok: start-up errors exit 2 with one line each"
