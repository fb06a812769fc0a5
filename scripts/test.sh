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
gcdl_python_path

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

# Three libFuzzer targets (clang, ASan + UBSan) over the whole pure core:
# fuzz_frame (frame decoding and payload reads), fuzz_ingest (the
# aggregator's per-frame path: decode, engine ingest, round close) and
# fuzz_mesh (commit/repair payloads and the mesh node's state machine), each
# GCDL_FUZZ_SECONDS (default 30) seconds. New inputs go to build/fuzz/; the
# committed seeds and regressions (tests/fuzz/) are read only.
fuzz_s=${GCDL_FUZZ_SECONDS:-30}
mkdir -p build/fuzz
for t in frame ingest mesh; do
	seeds=tests/fuzz/corpus
	[ "$t" = frame ] || seeds=tests/fuzz/corpus-$t
	echo "== fuzz: fuzz_$t, $fuzz_s s (libFuzzer + ASan + UBSan)"
	clang -std=gnu11 -D_GNU_SOURCE -O1 -g -ffp-contract=off \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-Iinclude -Ilib/core/util -Ilib/core/coding -Ibuild/lib/core \
		-DGCDL_PROJECT_VERSION='"fuzz"' tests/fuzz/fuzz_$t.c lib/core/*/*.c \
		-lopenblas -lsodium -lz -lm -lpthread -o build/fuzz/fuzz_$t
	mkdir -p build/fuzz/corpus-$t
	build/fuzz/fuzz_$t -max_total_time="$fuzz_s" -print_final_stats=1 \
		-artifact_prefix=build/fuzz/$t- build/fuzz/corpus-$t "$seeds" \
		tests/fuzz/regress/$t 2>build/fuzz/fuzz-$t.log || {
		tail -n 40 build/fuzz/fuzz-$t.log >&2
		echo "gcdl: fuzz_$t found a crash: $(ls build/fuzz/$t-* 2>/dev/null | head -n 1);" \
			"fix it and add the input to tests/fuzz/regress/$t/" >&2
		exit 1
	}
	grep -E 'stat::number_of_executed_units' build/fuzz/fuzz-$t.log || true
done

echo "gcdl: all test suites passed"
echo "tests: $total_ok passed, $total_bad failed"
