#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Install what is missing, build, run every test suite, then run the unit
# suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
# shellcheck source=scripts/setup.sh
. "$(dirname "$0")/setup.sh"
cd "$GCDL_ROOT"

gcdl_install_packages
gcdl_build build

# meson test, then one plain closing line: "N passed, N failed"
run_suites() {
	local dir=$1 log
	shift
	log=$(mktemp)
	set +e
	meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	set -e
	awk '/^Ok:/ {ok=$2} /^Fail:/ {f=$2} /^Timeout:/ {t=$2}
	     END {printf "%s: %d passed, %d failed\n", "'"$dir"'", ok, f+t}' "$log"
	rm -f "$log"
	return "$rc"
}

echo "== meson test (all suites)"
run_suites build

echo "== unit suite under ASan + UBSan"
gcdl_build build-asan -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	run_suites build-asan --suite unit --timeout-multiplier 3

echo "gcdl: all test suites passed"
