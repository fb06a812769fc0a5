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

echo "== meson test (all suites)"
meson test -C build --print-errorlogs --num-processes 2

echo "== unit suite under ASan + UBSan"
gcdl_build build-asan -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-asan --suite unit --print-errorlogs --num-processes 2 --timeout-multiplier 3

echo "gcdl: all test suites passed"
