#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Draw training curves from gcdl / gcdl-sim metrics CSV files with gnuplot.
#
#   scripts/plot.sh [-l LABEL] METRICS.csv [[-l LABEL] MORE.csv ...] -o OUT.png
#
# Writes one PNG (GCDL_PLOT_WIDTH x GCDL_PLOT_HEIGHT, default 1280x960) with
# four panels: test accuracy and training loss against the round, and test
# accuracy against the cumulative uplink bits and against the total bits
# (uplink + downlink) on the wire. Each input file is
# one line, labelled with -l LABEL when given before it, else with its parent
# directory (for a file named metrics.csv) or its base name, and the method
# column; two lines that would carry the same label get " #2", " #3". The
# label of each line is printed. Only rows with an evaluation
# (non-empty train_loss and test_accuracy) are drawn.
#
# Exit status: 0 on success, 1 when gnuplot fails, 2 for a bad command line
# or input (missing -o, unreadable file, wrong header, no evaluated row).
set -euo pipefail

HEADER='round,method,train_loss,test_accuracy,uplink_bits,downlink_bits,stragglers,wall_ms'
WIDTH=${GCDL_PLOT_WIDTH:-1280}
HEIGHT=${GCDL_PLOT_HEIGHT:-960}

usage() {
	cat <<EOF
usage: $0 [-l LABEL] METRICS.csv [[-l LABEL] MORE.csv ...] -o OUT.png

Draws a 2x2 grid of training curves into OUT.png (${WIDTH}x${HEIGHT} pixels):
test accuracy and training loss against the round, test accuracy against the
uplink bits and against the total bits (uplink + downlink), one line per
input file. Inputs are metrics CSV files written by
gcdl or gcdl-sim --metrics, with the header
  $HEADER
Only evaluated rows (non-empty train_loss and test_accuracy) are plotted.

Options:
  -o FILE    the PNG to write (required)
  -l LABEL   the legend of the next input (default: its directory for a
             metrics.csv, else its base name; repeated labels get #2, #3)
  -h, --help this text

Environment: GCDL_PLOT_WIDTH, GCDL_PLOT_HEIGHT (pixels).
Needs gnuplot (Debian package gnuplot-nox).
Exit status: 0 ok, 1 gnuplot failed, 2 bad command line or input.
EOF
}

die() {
	echo "plot.sh: $*" >&2
	exit 2
}

inputs=()
labels=()
pending=
has_pending=0
out=
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	-l | --label)
		[ $# -ge 2 ] || die "$1 needs a label (see --help)"
		[ $has_pending = 0 ] || die "two labels ('$pending', '$2') for one input"
		pending=$2 has_pending=1
		shift 2
		;;
	-o)
		[ $# -ge 2 ] || die "-o needs a file name (see --help)"
		out=$2
		shift 2
		;;
	-o?*)
		out=${1#-o}
		shift
		;;
	--)
		shift
		for a in "$@"; do
			inputs+=("$a")
			labels+=("$pending")
			pending= has_pending=0
		done
		break
		;;
	-?*)
		die "unknown option '$1' (see --help)"
		;;
	*)
		inputs+=("$1")
		labels+=("$pending")
		pending= has_pending=0
		shift
		;;
	esac
done
[ $has_pending = 0 ] || die "-l '$pending' is not followed by an input"

[ ${#inputs[@]} -gt 0 ] || die "no input: give at least one metrics CSV file (see --help)"
[ -n "$out" ] || die "missing -o OUT.png (see --help)"
case $WIDTH$HEIGHT in
*[!0-9]*) die "GCDL_PLOT_WIDTH/GCDL_PLOT_HEIGHT must be pixel counts" ;;
esac
out_dir=$(dirname -- "$out")
{ [ -d "$out_dir" ] && [ -w "$out_dir" ]; } || die "cannot write '$out': directory '$out_dir' is missing or not writable"
command -v gnuplot >/dev/null 2>&1 ||
	die "gnuplot not found; as root run: apt-get install -y gnuplot-nox"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gcdl-plot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# gnuplot single-quoted string: a ' is written ''
gp_quote() {
	printf "'%s'" "${1//\'/\'\'}"
}

plots_round_acc=()
plots_round_loss=()
plots_bits_acc=()
plots_total_acc=()
declare -A used=()
i=0
for f in "${inputs[@]}"; do
	{ [ -f "$f" ] && [ -r "$f" ]; } || die "cannot read '$f'"
	first=$(head -n 1 -- "$f")
	[ "$first" = "$HEADER" ] ||
		die "'$f' is not a metrics CSV: its header is '$first', expected '$HEADER'"
	data="$tmp/$i.dat"
	# evaluated rows as "round accuracy loss uplink total"; the methods seen on stdout
	rc=0
	methods=$(awk -F, -v data="$data" -v file="$f" '
		NR == 1 { next }
		NF != 8 {
			printf "plot.sh: %s line %d: %d fields, expected 8\n", file, NR, NF > "/dev/stderr"
			bad = 1; exit 2
		}
		$3 != "" && $4 != "" {
			print $1, $4, $3, $5, $5 + $6 > data
			n++
			if (!($2 in seen)) { seen[$2] = 1; m = m (m == "" ? "" : "+") $2 }
		}
		END {
			if (bad) exit 2
			if (n == 0) exit 3
			print m
		}' "$f") || rc=$?
	[ $rc -eq 3 ] && die "'$f' has no evaluated row (train_loss and test_accuracy are empty on every row)"
	[ $rc -eq 0 ] || exit 2
	if [ -n "${labels[$i]}" ]; then
		name=${labels[$i]}
	elif [ "$(basename -- "$f")" = metrics.csv ]; then
		name=$(basename -- "$(cd "$(dirname -- "$f")" && pwd)")
	else
		name=$(basename -- "$f" .csv)
	fi
	label="$name ($methods)"
	if [ -n "${used[$label]+set}" ]; then
		used[$label]=$((used[$label] + 1))
		label="$label #${used[$label]}"
	else
		used[$label]=1
	fi
	legend[$i]=$label
	title=$(gp_quote "$label")
	q=$(gp_quote "$data")
	plots_round_acc+=("$q using 1:2 with linespoints ls $((i % 8 + 1)) title $title")
	plots_round_loss+=("$q using 1:3 with linespoints ls $((i % 8 + 1)) title $title")
	plots_bits_acc+=("$q using 4:2 with linespoints ls $((i % 8 + 1)) title $title")
	plots_total_acc+=("$q using 5:2 with linespoints ls $((i % 8 + 1)) title $title")
	i=$((i + 1))
done

join() {
	local IFS=,
	echo "$*"
}

term=png
gnuplot -e 'set terminal' </dev/null 2>&1 | grep -qw pngcairo && term='pngcairo font ",10"'

script="$tmp/plot.gp"
cat >"$script" <<EOF
set terminal $term size $WIDTH,$HEIGHT noenhanced
set output $(gp_quote "$out")
set datafile separator whitespace
set grid
set key bottom right
set style line 1 lc rgb '#1f77b4' lw 2 pt 7 ps 0.6
set style line 2 lc rgb '#d62728' lw 2 pt 5 ps 0.6
set style line 3 lc rgb '#2ca02c' lw 2 pt 9 ps 0.6
set style line 4 lc rgb '#9467bd' lw 2 pt 11 ps 0.6
set style line 5 lc rgb '#ff7f0e' lw 2 pt 13 ps 0.6
set style line 6 lc rgb '#8c564b' lw 2 pt 7 ps 0.6
set style line 7 lc rgb '#e377c2' lw 2 pt 5 ps 0.6
set style line 8 lc rgb '#7f7f7f' lw 2 pt 9 ps 0.6
set multiplot layout 2,2 title 'gcdl training curves'

set title 'Test accuracy vs round'
set xlabel 'round'
set ylabel 'test accuracy'
set key bottom right
plot $(join "${plots_round_acc[@]}")

set title 'Training loss vs round'
set xlabel 'round'
set ylabel 'training loss'
set key top right
plot $(join "${plots_round_loss[@]}")

set title 'Test accuracy vs uplink bits'
set xlabel 'uplink bits on the wire (cumulative)'
set ylabel 'test accuracy'
set format x '%.1s%c'
set key bottom right
plot $(join "${plots_bits_acc[@]}")

set title 'Test accuracy vs total bits (uplink + downlink)'
set xlabel 'uplink + downlink bits on the wire (cumulative)'
set ylabel 'test accuracy'
set key bottom right
plot $(join "${plots_total_acc[@]}")

unset multiplot
set output
EOF

if ! gnuplot "$script" </dev/null 2>"$tmp/gnuplot.err"; then
	cat "$tmp/gnuplot.err" >&2
	echo "plot.sh: gnuplot failed to draw '$out'" >&2
	exit 1
fi
[ -s "$out" ] || { echo "plot.sh: gnuplot wrote no '$out'" >&2; exit 1; }
echo "plot.sh: wrote $out (${WIDTH}x${HEIGHT}, ${#inputs[@]} input(s))"
for ((j = 0; j < ${#inputs[@]}; j++)); do
	echo "plot.sh: line $((j + 1)): ${legend[$j]} <- ${inputs[$j]}"
done
