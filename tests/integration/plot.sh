#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# scripts/plot.sh: draws two gcdl-sim runs (two methods) into one PNG of the
# requested size, and rejects every bad command line or input with status 2
# and a message.
. "$(dirname "$0")/common.sh"

PLOT="$ROOT/scripts/plot.sh"
if ! command -v gnuplot >/dev/null 2>&1; then
	echo "SKIP: gnuplot not installed (Debian package gnuplot-nox)"
	exit 77
fi

mkdir -p "$TMP/onebit" "$TMP/sgc"
"$GCDL_SIM" --profile "$ROOT/configs/sim-synthetic.ini" --quiet \
	--metrics "$TMP/onebit/metrics.csv" >"$TMP/sim1.out" 2>&1 ||
	fail "gcdl-sim onebit_gc: $(cat "$TMP/sim1.out")"
"$GCDL_SIM" --profile "$ROOT/configs/sim-synthetic.ini" --quiet --method sgc \
	--metrics "$TMP/sgc/metrics.csv" >"$TMP/sim2.out" 2>&1 ||
	fail "gcdl-sim sgc: $(cat "$TMP/sim2.out")"

# png_size FILE: "WIDTH HEIGHT" from the IHDR chunk, after checking the signature
png_size() {
	local sig
	sig=$(od -An -tx1 -N8 "$1" | tr -d ' \n')
	[ "$sig" = 89504e470d0a1a0a ] || fail "$1 does not start with the PNG signature: $sig"
	[ "$(dd if="$1" bs=1 skip=12 count=4 2>/dev/null)" = IHDR ] || fail "$1: no IHDR chunk first"
	od -An -tu1 -j16 -N8 "$1" | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4,
					   $5 * 16777216 + $6 * 65536 + $7 * 256 + $8 }'
}

# two inputs, a chosen size
rc=0
GCDL_PLOT_WIDTH=1000 GCDL_PLOT_HEIGHT=700 "$PLOT" "$TMP/onebit/metrics.csv" \
	"$TMP/sgc/metrics.csv" -o "$TMP/two.png" >"$TMP/plot.out" 2>&1 || rc=$?
[ $rc -eq 0 ] || fail "plot.sh exited with $rc: $(cat "$TMP/plot.out")"
[ -s "$TMP/two.png" ] || fail "no or empty PNG"
size=$(png_size "$TMP/two.png")
[ "$size" = "1000 700" ] || fail "PNG is $size, want 1000 700"

# one input, the default size; -o before the input
rc=0
"$PLOT" -o "$TMP/one.png" "$TMP/onebit/metrics.csv" >"$TMP/plot1.out" 2>&1 || rc=$?
[ $rc -eq 0 ] || fail "plot.sh (one input) exited with $rc: $(cat "$TMP/plot1.out")"
size=$(png_size "$TMP/one.png")
[ "$size" = "1280 960" ] || fail "default PNG is $size, want 1280 960"
cmp -s "$TMP/one.png" "$TMP/two.png" && fail "one- and two-input plots are identical"

# labels: two inputs with the same base name get distinct legends; -l sets one
mkdir -p "$TMP/x" "$TMP/y"
cp "$TMP/onebit/metrics.csv" "$TMP/x/m.csv"
cp "$TMP/onebit/metrics.csv" "$TMP/y/m.csv"
"$PLOT" "$TMP/x/m.csv" "$TMP/y/m.csv" -o "$TMP/same.png" >"$TMP/same.out" 2>&1 ||
	fail "plot.sh (same names) exited with $?: $(cat "$TMP/same.out")"
grep -qx "plot.sh: line 1: m (onebit_gc) <- $TMP/x/m.csv" "$TMP/same.out" &&
	grep -qx "plot.sh: line 2: m (onebit_gc) #2 <- $TMP/y/m.csv" "$TMP/same.out" ||
	fail "legends of two m.csv: $(cat "$TMP/same.out")"
"$PLOT" -l "1 bit" "$TMP/x/m.csv" -l "float32, d = 2" "$TMP/sgc/metrics.csv" -o "$TMP/lab.png" \
	>"$TMP/lab.out" 2>&1 || fail "plot.sh -l exited with $?: $(cat "$TMP/lab.out")"
grep -qx "plot.sh: line 1: 1 bit (onebit_gc) <- $TMP/x/m.csv" "$TMP/lab.out" &&
	grep -qx "plot.sh: line 2: float32, d = 2 (sgc) <- $TMP/sgc/metrics.csv" "$TMP/lab.out" ||
	fail "legends with -l: $(cat "$TMP/lab.out")"
cmp -s "$TMP/same.png" "$TMP/lab.png" && fail "the labels did not change the picture"

"$PLOT" --help >"$TMP/help.out" 2>&1 || fail "--help exited with $?"
grep -q 'usage:' "$TMP/help.out" || fail "--help prints no usage"

# rejections: status 2 and a message naming the problem
# reject PATTERN ARGS...: plot.sh ARGS must exit 2 with PATTERN on stderr and no PNG
reject() {
	local pattern=$1 rc=0
	shift
	rm -f "$TMP/bad.png"
	"$PLOT" "$@" >"$TMP/rej.out" 2>"$TMP/rej.err" || rc=$?
	[ $rc -eq 2 ] || fail "plot.sh $* exited with $rc, want 2: $(cat "$TMP/rej.err")"
	grep -q -- "$pattern" "$TMP/rej.err" ||
		fail "plot.sh $*: no '$pattern' in: $(cat "$TMP/rej.err")"
	[ ! -e "$TMP/bad.png" ] || fail "plot.sh $* wrote a PNG although it failed"
}

printf 'round,method,loss,accuracy\n1,sgc,0.5,0.9\n' >"$TMP/header.csv"
{
	echo 'round,method,train_loss,test_accuracy,uplink_bits,downlink_bits,stragglers,wall_ms'
	echo '1,sgc,,,100,50,0,1.0'
	echo '2,sgc,,,200,100,1,1.0'
} >"$TMP/noeval.csv"
{
	echo 'round,method,train_loss,test_accuracy,uplink_bits,downlink_bits,stragglers,wall_ms'
	echo '1,sgc,0.5,0.9,100,50,0'
} >"$TMP/fields.csv"
# the old header (before downlink_bits) is refused by name
{
	echo 'round,method,train_loss,test_accuracy,uplink_bits,stragglers,wall_ms'
	echo '1,sgc,0.5,0.9,100,0,1.0'
} >"$TMP/old.csv"

reject 'no input' -o "$TMP/bad.png"
reject 'no input'
reject 'missing -o' "$TMP/onebit/metrics.csv"
reject '-o needs a file name' "$TMP/onebit/metrics.csv" -o
reject 'cannot read' "$TMP/absent.csv" -o "$TMP/bad.png"
reject 'cannot read' "$TMP" -o "$TMP/bad.png"
reject 'not a metrics CSV' "$TMP/header.csv" -o "$TMP/bad.png"
reject 'not a metrics CSV' "$TMP/onebit/metrics.csv" "$TMP/header.csv" -o "$TMP/bad.png"
reject 'no evaluated row' "$TMP/noeval.csv" -o "$TMP/bad.png"
reject 'expected 8' "$TMP/fields.csv" -o "$TMP/bad.png"
reject 'not a metrics CSV' "$TMP/old.csv" -o "$TMP/bad.png"
reject 'unknown option' --width 3 "$TMP/onebit/metrics.csv" -o "$TMP/bad.png"
reject '-l needs a label' "$TMP/onebit/metrics.csv" -o "$TMP/bad.png" -l
reject 'is not followed by an input' "$TMP/onebit/metrics.csv" -l late -o "$TMP/bad.png"
reject 'two labels' -l a -l b "$TMP/onebit/metrics.csv" -o "$TMP/bad.png"
reject 'is missing or not writable' "$TMP/onebit/metrics.csv" -o "$TMP/nodir/bad.png"

# On a terminal (scripts/run.sh in tmux) gnuplot must not wait for commands on
# stdin: run plot.sh under a pseudo-terminal whose input stays open and silent.
if command -v script >/dev/null 2>&1; then
	rc=0
	exec 3< <(exec sleep 60 2>/dev/null)
	silent=$!
	timeout 30 script -qec "'$PLOT' '$TMP/onebit/metrics.csv' -o '$TMP/tty.png'" \
		/dev/null <&3 >"$TMP/tty.out" 2>&1 || rc=$?
	exec 3<&-
	kill "$silent" 2>/dev/null || true
	[ "$rc" = 0 ] || fail "plot.sh on a terminal: exit $rc (124: it hung): $(cat "$TMP/tty.out")"
	[ -s "$TMP/tty.png" ] || fail "plot.sh on a terminal wrote no PNG"
fi

echo "ok: 2 runs drawn into 1000x700 and 1280x960 PNGs, 13 rejections"
