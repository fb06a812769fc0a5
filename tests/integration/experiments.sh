#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# scripts/experiments/run.sh --quick: every sweep runs and leaves every expected
# output well-formed (check.py; it never asserts which method wins); bad command
# lines of run.sh and of gcdl-sim's --packet-loss / --variance options exit 2
# and write nothing.
. "$(dirname "$0")/common.sh"

RUN="$ROOT/scripts/experiments/run.sh"
if ! command -v gnuplot >/dev/null 2>&1 || ! command -v python3 >/dev/null 2>&1; then
	echo "SKIP: gnuplot or python3 not installed"
	exit 77
fi
if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
	echo "SKIP: Fashion-MNIST not installed (dataset-fashion-mnist)"
	exit 77
fi

# expect_status2 NAME CMD...: exit status 2 with a message on stderr
expect_status2() {
	local name=$1 rc=0
	shift
	"$@" >"$TMP/$name.out" 2>"$TMP/$name.err" || rc=$?
	[ $rc -eq 2 ] || fail "$name: exit status $rc, want 2: $(cat "$TMP/$name.err")"
	[ -s "$TMP/$name.err" ] || fail "$name: no message"
}

SYN="$ROOT/configs/sim-synthetic.ini"
expect_status2 loss_range "$GCDL_SIM" --profile "$SYN" --quiet --packet-loss 1.5 --metrics "$TMP/x.csv"
grep -q "packet-loss" "$TMP/loss_range.err" || fail "loss_range: $(cat "$TMP/loss_range.err")"
expect_status2 loss_text "$GCDL_SIM" --profile "$SYN" --quiet --packet-loss 0.1x
expect_status2 var_small "$GCDL_SIM" --profile "$SYN" --quiet --variance 1
expect_status2 var_frac "$GCDL_SIM" --profile "$SYN" --quiet --variance 10.5
expect_status2 var_out_alone "$GCDL_SIM" --profile "$SYN" --quiet --variance-out "$TMP/v.csv"
expect_status2 var_at_bad "$GCDL_SIM" --profile "$SYN" --quiet --variance 10 --variance-at middle
expect_status2 var_at_metrics "$GCDL_SIM" --profile "$SYN" --quiet --variance 10 --variance-at start \
	--metrics "$TMP/x.csv"
expect_status2 var_sign "$GCDL_SIM" --profile "$SYN" --quiet --method signsgd_mv --variance 10 \
	--variance-out "$TMP/v.csv"
[ ! -e "$TMP/x.csv" ] && [ ! -e "$TMP/v.csv" ] || fail "a failed start wrote an output file"

# a variance measurement: header and one row, E||g - grad F||^2 = variance + bias^2
"$GCDL_SIM" --profile "$SYN" --quiet --packet-loss 0.1 --variance 50 --variance-at start \
	--variance-out "$TMP/v.csv" >"$TMP/v.out" 2>&1 || fail "variance run: $(cat "$TMP/v.out")"
[ "$(wc -l <"$TMP/v.csv")" -eq 2 ] || fail "variance CSV: $(cat "$TMP/v.csv")"
awk -F, 'NR == 2 { d = $12 - ($14 + $15); if (d < 0) d = -d; exit !($8 == 0.1 && $10 == 50 && d <= 1e-6 * $12) }' \
	"$TMP/v.csv" || fail "variance row: $(cat "$TMP/v.csv")"

expect_status2 run_noname bash "$RUN"
expect_status2 run_badname bash "$RUN" nosuchsweep
expect_status2 run_badseeds bash "$RUN" methods --seeds 0
GCDL_SIM=/nonexistent expect_status2 run_nosim bash "$RUN" methods --quick --out "$TMP/none"

rc=0
GCDL_SIM="$GCDL_SIM" timeout 600 bash "$RUN" all --quick --jobs "$NCPU" --out "$TMP/exp" \
	>"$TMP/run.out" 2>&1 || rc=$?
[ $rc -eq 0 ] || fail "run.sh all --quick exited with $rc: $(tail -n 20 "$TMP/run.out")"
python3 "$ROOT/scripts/experiments/check.py" "$TMP/exp" >"$TMP/check.out" 2>&1 ||
	fail "outputs: $(cat "$TMP/check.out")"
cat "$TMP/exp/wall.txt"
# a rerun finds every run done and only redraws the summaries
rm "$TMP/exp/plots/layouts_curves.png"
GCDL_SIM="$GCDL_SIM" bash "$RUN" layouts --quick --out "$TMP/exp" >"$TMP/rerun.out" 2>&1 ||
	fail "rerun: $(tail -n 20 "$TMP/rerun.out")"
python3 "$ROOT/scripts/experiments/check.py" "$TMP/exp" layouts >/dev/null 2>&1 ||
	fail "rerun outputs"
# check.py catches a broken summary
sed -i '3d' "$TMP/exp/stragglers/summary.csv"
python3 "$ROOT/scripts/experiments/check.py" "$TMP/exp" stragglers >/dev/null 2>&1 &&
	fail "check.py accepted a summary with a missing row"
echo "ok"
