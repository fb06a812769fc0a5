#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# gcdl's progress on stderr: plain lines (no carriage return) when stderr is
# not a terminal, with increasing rounds out of the job's total and the last
# line agreeing with the summary; none with --quiet; a single line updated
# with \r and ended by a newline on a terminal (through script(1)).
. "$(dirname "$0")/common.sh"

# the fields of one progress line
LINE_RE='^round ([0-9]+)/300 (loss [0-9.]+ acc [0-9.]+|loss - acc -) [0-9.]+ rounds/s [0-9]+ frames/s [0-9.]+ Gbit/s stragglers [0-4] late [0-9]+ ETA [0-9]+ s$'

# 1. not a terminal
run_gcdl "$TMP/out" --profile "$CI_PROFILE" ||
	fail "gcdl exited with $?: $(tail -n 20 "$TMP/out")"
if grep -q $'\r' "$TMP/out"; then
	fail "carriage return in the output of a run whose stderr is a file"
fi
grep '^round [0-9]*/' "$TMP/out" >"$TMP/lines" || fail "no progress line: $(tail -n 20 "$TMP/out")"
n=$(wc -l <"$TMP/lines")
[ "$n" -ge 2 ] || fail "$n progress line(s), want several for 300 rounds"
bad=$(grep -Ev "$LINE_RE" "$TMP/lines" | head -n 1) || true
[ -z "$bad" ] || fail "malformed progress line: '$bad'"
awk '{ split($2, a, "/"); r = a[1] + 0
       if (r <= prev) { printf "round %d after %d\n", r, prev; exit 1 }
       prev = r }' "$TMP/lines" >"$TMP/order" || fail "rounds do not increase: $(cat "$TMP/order")"
last=$(tail -n 1 "$TMP/lines")
case $last in
"round 300/300 "*) ;;
*) fail "last progress line is not round 300/300: '$last'" ;;
esac
assert_eq "$(jget "$TMP/out.json" rounds)" 300 "rounds"
# the last line shows the final evaluation of the summary (4 decimals there)
loss=$(sed -n 's/.* loss \([0-9.]*\) acc .*/\1/p' <<<"$last")
acc=$(sed -n 's/.* acc \([0-9.]*\) .*/\1/p' <<<"$last")
sloss=$(jget "$TMP/out.json" train_loss)
awk -v a="$loss" -v b="$sloss" 'BEGIN { d = a - b; exit !(d < 6e-5 && d > -6e-5) }' ||
	fail "last progress loss '$loss' is not the summary's $sloss"
[ "$acc" = "$(printf '%.4f' "$(jget "$TMP/out.json" test_accuracy)")" ] ||
	fail "last progress accuracy '$acc' is not the summary's $(jget "$TMP/out.json" test_accuracy)"
# the run is over: ETA 0 on the last line
case $last in
*" ETA 0 s") ;;
*) fail "last progress line has a non-zero ETA: '$last'" ;;
esac

# 2. --quiet: no progress at all
run_gcdl "$TMP/quiet" --profile "$CI_PROFILE" --rounds 60 --quiet ||
	fail "gcdl --quiet exited with $?: $(tail -n 20 "$TMP/quiet")"
if grep -q 'round [0-9]*/' "$TMP/quiet"; then
	fail "progress with --quiet: $(grep -m1 'round [0-9]*/' "$TMP/quiet")"
fi
assert_eq "$(jget "$TMP/quiet.json" rounds)" 60 "--quiet run's rounds"

# 3. a terminal: script(1) gives gcdl a pseudo-terminal as stdout and stderr
if ! command -v script >/dev/null 2>&1; then
	echo "ok: $n plain progress lines, none with --quiet (no script(1): terminal mode not checked)"
	exit 0
fi
cmd=$(printf '%q ' timeout 240 "$GCDL" "${EAL[@]}" -- --profile "$CI_PROFILE" --rounds 60)
rc=0
script -qec "$cmd" /dev/null >"$TMP/tty" 2>&1 </dev/null || rc=$?
[ $rc -eq 0 ] || fail "gcdl on a terminal exited with $rc: $(tail -n 20 "$TMP/tty")"
python3 - "$TMP/tty" <<'EOF' || fail "terminal progress is wrong (output in $TMP/tty)"
import re, sys
out = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
# the terminal turns \n into \r\n; an update is a \r directly before "round"
updates = re.findall(r"\rround (\d+)/60 ([^\r\n]*)", out)
if len(updates) < 2:
    sys.exit("want several \\r-updated progress reports, got %d" % len(updates))
rounds = [int(r) for r, _ in updates]
if rounds != sorted(set(rounds)) or rounds[-1] != 60:
    sys.exit("updated rounds not increasing up to 60: %s" % rounds)
# every report starts with \r, none on a line of its own after a newline
starts = re.findall(r"(.)round \d+/60", out, re.S)
if len(starts) != len(updates) or any(c != "\r" for c in starts):
    sys.exit("a progress report on the terminal does not start with \\r")
# the updating line ends with a newline after the last round
if not re.search(r"\rround 60/60 [^\r\n]*ETA 0 s\r?\n", out):
    sys.exit("the last report is not ended by a newline")
for _, rest in updates:
    if not re.search(r"frames/s [0-9.]+ Gbit/s stragglers [0-4] late \d+ ETA \d+ s", rest):
        sys.exit("malformed terminal report: %r" % rest)
EOF
echo "ok: $n plain progress lines, none with --quiet, \\r-updated line on a terminal"
