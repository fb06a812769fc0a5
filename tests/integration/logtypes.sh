#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The log types are gcdl.control, gcdl.dataplane and gcdl.engine: a
# --log-level pattern on the gcdl. prefix turns the aggregator's per-round
# debug lines on, and they are off by default.
. "$(dirname "$0")/common.sh"

R=5
BASE=("${EAL[@]}")
# EAL options are parsed left to right: the later --log-level wins for gcdl.*
EAL+=(--log-level 'gcdl.*:debug')
run_gcdl "$TMP/debug" --profile "$CI_PROFILE" --rounds $R --quiet ||
	fail "gcdl exited with $?: $(tail -n 20 "$TMP/debug")"
n=$(grep -c '^gcdl\.control: aggregator 0: round [0-9]* closed' "$TMP/debug" || true)
[ "$n" = $R ] || fail "$n 'gcdl.control: aggregator 0: round N closed' lines with gcdl.*:debug, want $R"
grep -q '^gcdl\.control: aggregator 0: worker [0-9]*: round [0-9]* complete' "$TMP/debug" ||
	fail "no per-worker debug line of gcdl.control"

EAL=("${BASE[@]}")
run_gcdl "$TMP/default" --profile "$CI_PROFILE" --rounds $R --quiet ||
	fail "gcdl exited with $?: $(tail -n 20 "$TMP/default")"
! grep -q '^gcdl\.control:' "$TMP/default" || fail "debug lines printed at the default level"

# a pattern that names only another type leaves gcdl.control quiet
EAL=("${BASE[@]}" --log-level 'gcdl.dataplane:debug')
run_gcdl "$TMP/other" --profile "$CI_PROFILE" --rounds $R --quiet ||
	fail "gcdl exited with $?: $(tail -n 20 "$TMP/other")"
! grep -q '^gcdl\.control:' "$TMP/other" || fail "gcdl.dataplane:debug enabled gcdl.control"
echo "ok: gcdl.control debug lines follow --log-level"
