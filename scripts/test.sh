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

# meson test, then one plain line: "N passed, N failed"
total_ok=0
total_bad=0
run_suites() {
	local dir=$1 log
	shift
	log=$(mktemp)
	set +e
	meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	set -e
	read -r ok bad < <(awk '/^Ok:/ {ok=$2} /^Fail:/ {f=$2} /^Timeout:/ {t=$2}
				END {print ok+0, f+t}' "$log")
	echo "$dir: $ok passed, $bad failed"
	total_ok=$((total_ok + ok))
	total_bad=$((total_bad + bad))
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

echo "== fuzz: frame decoder and payload reads, ${GCDL_FUZZ_SECONDS:-30} s (libFuzzer + ASan + UBSan)"
mkdir -p build/fuzz/corpus
clang -O1 -g -fsanitize=fuzzer,address,undefined -Iinclude \
	tests/fuzz/fuzz_frame.c lib/core/frame.c lib/core/quant.c lib/core/rng.c \
	-lz -lm -o build/fuzz/fuzz_frame
# new inputs go to build/fuzz/corpus; the committed seeds are read only
build/fuzz/fuzz_frame -max_total_time="${GCDL_FUZZ_SECONDS:-30}" -print_final_stats=1 \
	build/fuzz/corpus tests/fuzz/corpus 2>build/fuzz/fuzz.log || {
	tail -n 40 build/fuzz/fuzz.log >&2
	echo "gcdl: the frame fuzzer found a crash (input saved in the current directory)" >&2
	exit 1
}
grep -E 'stat::number_of_executed_units' build/fuzz/fuzz.log || true

echo "gcdl: all test suites passed"
echo "tests: $total_ok passed, $total_bad failed"
