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

NCPU=$(nproc)
EAL=(--no-huge --no-pci --no-shconf --file-prefix "$PREFIX" -m 256
     --lcores "(0-2)@(0-$((NCPU - 1)))" --log-level '*:warning')

fail() {
	echo "FAIL ($TEST_NAME): $*" >&2
	exit 1
}

# run_gcdl OUT [app options...]: run gcdl on the EAL above; stdout+stderr to
# OUT, its JSON summary (--summary-json) to OUT.json. Returns gcdl's exit status.
run_gcdl() {
	local out=$1
	shift
	local rc=0
	timeout 240 "$GCDL" "${EAL[@]}" -- "$@" --summary-json "$out.json" >"$out" 2>&1 || rc=$?
	return $rc
}

# jget FILE PATH: one value of a JSON summary (include/gcdl/summary.h) by a dot
# path: counters.drops, nodes.0.workers.3.joins, test_accuracy. Numbers as
# JSON has them, strings bare, true/false/null; objects and lists as JSON.
# Fails the test when the file or the path is missing.
jget() {
	python3 - "$1" "$2" <<'PY' || fail "no '$2' in ${1}: $(tail -c 300 "$1" 2>/dev/null)"
import json, sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    d = d[int(k)] if isinstance(d, list) else d[k]
if isinstance(d, bool):
    print("true" if d else "false")
elif d is None:
    print("null")
elif isinstance(d, (dict, list)):
    print(json.dumps(d))
else:
    print(d)
PY
}

# jpy FILE EXPR: a Python expression over the JSON summary d (and its node
# list n), e.g. jpy f 'sum(x["counters"]["late"] for x in n)'.
jpy() {
	python3 - "$1" "$2" <<'PY' || fail "cannot evaluate '$2' on ${1}: $(tail -c 300 "$1" 2>/dev/null)"
import json, sys
d = json.load(open(sys.argv[1]))
n = d["nodes"]
v = eval(sys.argv[2])
print(("true" if v else "false") if isinstance(v, bool) else v)
PY
}

# jnode FILE ROLE ID: the index in "nodes" of role ROLE (worker, aggregator,
# peer) id ID.
jnode() {
	jpy "$1" "[i for i, x in enumerate(n) if x['role'] == '$2' and x['id'] == $3][0]"
}

# assert_eq A B MESSAGE
assert_eq() {
	[ "$1" = "$2" ] || fail "$3 ($1 != $2)"
}

# closes=$(check_close_times OUT CSV DEADLINE_US) || exit 1: no round of the run whose JSON
# summary is OUT.json and metrics CSV closed later than its (fixed) deadline + 1 ms while the
# aggregator lcore was running. The metrics give each round's close time
# (wall_ms, from its start until the lcore closed it); every round past the
# bound must be one the summary counts as late only because the lcore was
# not running (descheduled by the OS or the hypervisor: on a shared 2-core VM
# even a lone spinning thread sees gaps of a few ms). Prints what it found.
check_close_times() {
	local out=$1 csv=$2 dl=$3 late nlate nnr running
	# 1 us of rounding between the metrics' milliseconds and the summary's tsc
	late=$(awk -F, -v b="$dl" 'NR > 1 && $8 * 1000 > b + 1001 { n++ } END { print n + 0 }' "$csv")
	nlate=$(jget "$out.json" counters.closed_late)
	nnr=$(jget "$out.json" counters.closed_late_not_running)
	running=$(jget "$out.json" figures.max_overshoot_running_us)
	[ "$late" -le "$nlate" ] || fail "$csv has $late rounds past deadline + 1 ms, the summary $nlate"
	[ "$nnr" = "$nlate" ] ||
		fail "$((nlate - nnr)) rounds closed later than deadline + 1 ms while the lcore ran" \
			"(worst $running us)"
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
