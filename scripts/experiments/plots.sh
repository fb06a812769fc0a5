#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Draw the plots of one sweep from the data files summarize.py wrote.
#
#   scripts/experiments/plots.sh NAME OUT
#
# methods:    OUT/plots/methods_accuracy_vs_bits.png (against total bits, uplink +
#             downlink) and methods_accuracy_vs_uplink_bits.png (mean over seeds, a
#             colour per method, a dash per downlink mode, a panel per model and
#             partitioning)
# stragglers: OUT/plots/stragglers_budget_vs_p.png (accuracy at the bit budget
#             against p, one line per d, error bars: sd over seeds)
# layouts:    OUT/plots/layouts_curves.png (accuracy against round, one line per layout)
# decoders:   OUT/plots/decoders_curves.png (accuracy against round per decoder and loss)
# variance:   OUT/plots/variance_layouts.png (E||g - grad F||^2 / ||grad F||^2 against
#             d, one line per layout; a panel per partitioning and method)
# ef:         OUT/plots/ef_accuracy_vs_bits.png (a panel per setting, a line per
#             configuration, against total bits) and ef_label_vs_p.png
# PNGs are 900x600 (900x700 for 2x2 grids). Exit status: 0, 1 gnuplot failed,
# 2 bad command line or missing data.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 NAME OUT" >&2; exit 2; }
name=$1 out=$2
dir=$out/$name
mkdir -p "$out/plots"
term=png
gnuplot -e 'set terminal' < /dev/null 2>&1 | grep -qw pngcairo && term='pngcairo font ",9"'

need() { [ -s "$1" ] || { echo "plots.sh: $1 missing" >&2; exit 2; }; }

# titles FILE: the '# title' line of every index block, one per line
titles() { grep '^# ' "$1" | grep -v '^# round\|^# p \|^# d ' | sed 's/^# //'; }

# plot_blocks FILE XCOL YCOL: a gnuplot plot clause over every index block
plot_blocks() {
	local f=$1 x=$2 y=$3 i=0 clause=
	while IFS= read -r t; do
		clause+="${clause:+, }'$f' index $i using $x:$y with linespoints ls $((i + 1)) title '$t'"
		i=$((i + 1))
	done < <(titles "$f")
	echo "$clause"
}

STYLES="
set style line 1 lc rgb '#1f77b4' lw 2 pt 7 ps 0.5
set style line 2 lc rgb '#d62728' lw 2 pt 5 ps 0.5
set style line 3 lc rgb '#2ca02c' lw 2 pt 9 ps 0.5
set style line 4 lc rgb '#9467bd' lw 2 pt 11 ps 0.5
set style line 5 lc rgb '#ff7f0e' lw 2 pt 13 ps 0.5
set style line 6 lc rgb '#8c564b' lw 2 pt 7 ps 0.5
set grid
set key bottom right
"

# method_blocks FILE XCOL: a plot clause over the blocks titled "METHOD MODE": a
# colour per method, a dash type per downlink mode
method_blocks() {
	local f=$1 x=$2 i=0 clause= m d ls dt
	while IFS=' ' read -r m d; do
		case $m in onebit_gc) ls=1 ;; sgc) ls=2 ;; signsgd_mv) ls=3 ;; ignore) ls=4 ;; *) ls=5 ;; esac
		case $d in onebit) dt=1 ;; relay) dt=2 ;; *) dt=3 ;; esac
		clause+="${clause:+, }'$f' index $i using $x:3 with linespoints ls $ls dt $dt title '$m $d'"
		i=$((i + 1))
	done < <(titles "$f")
	echo "$clause"
}

# error_blocks FILE < titles: a plot clause of x, y and its error bar over
# the index blocks of FILE, one per title line read
error_blocks() {
	local f=$1 i=0 clause= t
	while IFS= read -r t; do
		clause+="${clause:+, }'$f' index $i using 1:2:3 with yerrorlines ls $((i + 1)) title '$t'"
		i=$((i + 1))
	done
	echo "$clause"
}

# grid_head PNG TITLE XLABEL: a 2x2 multiplot of accuracy against bits (log x)
grid_head() {
	echo "set terminal $term size 1100,900 noenhanced
set output '$out/plots/$1'
$STYLES
set key bottom right font ',7' spacing 0.8
set multiplot layout 2,2 title '$2'
set logscale x
set format x '1e%L'
set xlabel '$3'
set ylabel 'test accuracy'
"
}

case $name in
methods)
	script=
	for what in total uplink; do
		png=methods_accuracy_vs_bits.png col=2 xl='uplink + downlink bits on the wire'
		[ $what = uplink ] && png=methods_accuracy_vs_uplink_bits.png col=6 xl='uplink bits on the wire'
		script+=$(grid_head "$png" "Test accuracy against cumulative $what bits (mean over seeds; solid: onebit, dashed: relay, dotted: float32 downlink)" "$xl")
		script+="
"
		for c in softmax_iid softmax_label mlp_iid mlp_label; do
			f=$dir/curves_$c.dat
			need "$f"
			lo=$([ "${c%%_*}" = softmax ] && echo 0.6 || echo 0.65)
			script+="set title '${c/_/, } partitions'
set yrange [$lo:*]
plot $(method_blocks "$f" $col)
"
		done
		script+="unset multiplot
"
	done
	;;
stragglers)
	f=$dir/budget.dat
	need "$f"
	clause=$(error_blocks "$f" < <(grep '^# d=' "$f" | sed 's/^# //'))
	script="set terminal $term size 900,600 noenhanced
set output '$out/plots/stragglers_budget_vs_p.png'
$STYLES
set key top right
set title 'onebit_gc, softmax, label partitions: test accuracy at a fixed uplink bit budget'
set xlabel 'straggler probability p'
set ylabel 'test accuracy at the budget'
set xrange [-0.05:0.55]
plot $clause"
	;;
layouts)
	script="set terminal $term size 900,450 noenhanced
set output '$out/plots/layouts_curves.png'
$STYLES
set multiplot layout 1,2 title 'onebit_gc, softmax, label partitions, p = 0.2: test accuracy (mean over seeds)'
set xlabel 'round'
set ylabel 'test accuracy'
"
	for d in 2 3; do
		f=$dir/curves_d$d.dat
		need "$f"
		script+="set title 'd = $d'
plot $(plot_blocks "$f" 1 3)
"
	done
	script+="unset multiplot"
	;;
decoders)
	f=$dir/curves.dat
	need "$f"
	script="set terminal $term size 900,600 noenhanced
set output '$out/plots/decoders_curves.png'
$STYLES
set title 'onebit_gc, softmax, iid, p = 0.2, d = 2: decoders under packet loss (mean over seeds)'
set xlabel 'round'
set ylabel 'test accuracy'
plot $(plot_blocks "$f" 1 3)"
	;;
variance)
	f=$dir/variance.dat
	need "$f"
	script="set terminal $term size 1300,700 noenhanced
set output '$out/plots/variance_layouts.png'
$STYLES
set key top right
set multiplot layout 2,3 title 'Decoded gradient: E||g - grad F||^2 / ||grad F||^2 at the initial model, p = 0.2 (mean over seeds)'
set xlabel 'redundancy d'
set ylabel 'relative mean squared error'
set xtics (2, 3, 5)
set format y '%g'
set xrange [1.5:5.5]
"
	blk=0
	for part in iid label; do
		for method in onebit_gc sgc onebit_gc_ef; do
			clause=
			for j in 0 1 2 3; do
				t=$(grep '^# ' "$f" | grep -v '^# d ' | sed -n "$((blk + j + 1))p" | awk '{print $4}')
				clause+="${clause:+, }'$f' index $((blk + j)) using 1:2:3 with yerrorlines ls $((j + 1)) title '$t'"
			done
			blk=$((blk + 4))
			script+="set title '$method, $part partitions'
plot $clause
"
		done
	done
	script+="unset multiplot"
	;;
ef)
	script=$(grid_head ef_accuracy_vs_bits.png "onebit_gc_ef and its levers against onebit_gc, sgc and signsgd_mv: test accuracy against cumulative uplink + downlink bits (mean over seeds)" "uplink + downlink bits on the wire")
	script+="
set style line 7 lc rgb '#e377c2' lw 2 pt 7 ps 0.5
set style line 8 lc rgb '#7f7f7f' lw 2 pt 5 ps 0.5
set style line 9 lc rgb '#bcbd22' lw 2 pt 9 ps 0.5
set style line 10 lc rgb '#17becf' lw 2 pt 11 ps 0.5
set style line 11 lc rgb '#000000' lw 2 pt 13 ps 0.5
"
	for c in softmax_label_p0.3_b0 softmax_iid_p0.2_b0 mlp_iid_p0.2_b64 mlp_label_p0.3_b64; do
		f=$dir/curves_$c.dat
		need "$f"
		script+="set title '${c//_/, }'
set yrange [0.6:*]
plot $(plot_blocks "$f" 2 3)
"
	done
	script+="unset multiplot
set terminal $term size 900,600 noenhanced
set output '$out/plots/ef_label_vs_p.png'
unset logscale x
set format x '%g'
set key bottom left
set title 'softmax, label partitions, minibatch 500: mean of the last 8 evaluations against p'
set xlabel 'straggler probability p'
set ylabel 'test accuracy (last 8 evaluations)'
set xrange [0.05:0.55]
set yrange [*:*]
"
	f=$dir/p.dat
	need "$f"
	clause=$(error_blocks "$f" < <(titles "$f"))
	script+="plot $clause"
	;;
*)
	echo "plots.sh: unknown sweep '$name'" >&2
	exit 2
	;;
esac
gnuplot 2> "$out/plots/$name.gnuplot.log" <<< "$script" || {
	cat "$out/plots/$name.gnuplot.log" >&2
	exit 1
}
