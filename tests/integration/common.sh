#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Shared set-up of the integration tests (sourced). Each test is run by meson as
#   bash tests/integration/NAME.sh GCDL GCDL_SIM SOURCE_ROOT
# and gets a private temporary directory and a unique EAL --file-prefix.
set -euo pipefail

GCDL=${1:?usage: $0 GCDL GCDL_SIM SOURCE_ROOT}
GCDL_SIM=${2:?}
ROOT=${3:?}
CI_PROFILE="$ROOT/configs/ci.ini"
TEST_NAME=$(basename "$0" .sh)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gcdl-it-$TEST_NAME.XXXXXX")
PREFIX="gcdl-it-$TEST_NAME-$$"
cleanup() {
	rm -rf "$TMP"
	# the EAL leaves an empty runtime directory per file prefix
	rm -rf "/var/run/dpdk/$PREFIX" 2>/dev/null || true
}
trap cleanup EXIT

# Same numbers on every run: single-threaded BLAS in gcdl-sim as in gcdl.
export OPENBLAS_NUM_THREADS=1

NCPU=$(nproc)
EAL=(--no-huge --no-pci --no-shconf --file-prefix "$PREFIX" -m 256
     --lcores "(0-2)@(0-$((NCPU - 1)))" --log-level '*:warning')

fail() {
	echo "FAIL ($TEST_NAME): $*" >&2
	exit 1
}

# run_gcdl OUT [app options...]: run gcdl on the EAL above; stdout+stderr to OUT.
# Returns gcdl's exit status.
run_gcdl() {
	local out=$1
	shift
	local rc=0
	timeout 240 "$GCDL" "${EAL[@]}" -- "$@" >"$out" 2>&1 || rc=$?
	return $rc
}

# summary OUT KEY: the value of "KEY: value" in gcdl's summary.
summary() {
	local v
	v=$(sed -n "s/^$2: //p" "$1" | head -n 1)
	[ -n "$v" ] || fail "no '$2' in the summary of $1: $(tail -n 30 "$1")"
	echo "$v"
}

# first number of a summary value
summary_num() {
	summary "$1" "$2" | awk '{print $1}'
}

# closes=$(check_close_times OUT CSV DEADLINE_US) || exit 1: no round of the run whose summary is
# OUT and metrics CSV closed later than its (fixed) deadline + 1 ms while the
# aggregator lcore was running. The metrics give each round's close time
# (wall_ms, from its start until the lcore closed it); every round past the
# bound must be one the summary counts as late only because the lcore was
# not running (descheduled by the OS or the hypervisor: on a shared 2-core VM
# even a lone spinning thread sees gaps of a few ms). Prints what it found.
check_close_times() {
	local out=$1 csv=$2 dl=$3 late line nlate nnr running
	# 1 us of rounding between the metrics' milliseconds and the summary's tsc
	late=$(awk -F, -v b="$dl" 'NR > 1 && $7 * 1000 > b + 1001 { n++ } END { print n + 0 }' "$csv")
	line=$(summary "$out" "late closes")
	read -r nlate nnr running < <(echo "$line" | sed -n \
		's/^\([0-9]*\) rounds closed .*, \([0-9]*\) of them .* while it ran \([0-9.]*\) us$/\1 \2 \3/p')
	[ -n "$running" ] || fail "unreadable summary line 'late closes: $line'"
	[ "$late" -le "$nlate" ] || fail "$csv has $late rounds past deadline + 1 ms, the summary $nlate"
	[ "$nnr" = "$nlate" ] ||
		fail "$((nlate - nnr)) rounds closed later than deadline + 1 ms while the lcore ran: $line"
	assert_float_ge 1000 "$running" "a round closed later than deadline + 1 ms while the lcore ran"
	echo "$nlate rounds past deadline + 1 ms, all while the lcore was not running; worst while running $running us"
}

# assert_float_ge A B MESSAGE
assert_float_ge() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }' || fail "$3 ($1 < $2)"
}

# assert_float_lt A B MESSAGE
assert_float_lt() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }' || fail "$3 ($1 >= $2)"
}
