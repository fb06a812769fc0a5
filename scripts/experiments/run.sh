#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Reproducible sweeps with gcdl-sim: the method against its baselines, across
# straggler rates, redundancy, shard layouts and decoders, on Fashion-MNIST.
#
#   scripts/experiments/run.sh NAME|all [--quick] [--seeds K] [--jobs J] [--out DIR]
#
# NAME is one of: methods, stragglers, layouts, decoders, variance, ef (or all).
# Every run is seeded (job.seed = 1..K) and writes its metrics CSV under
# OUT/raw/NAME/; a run whose CSV exists is not run again (delete it to redo).
# Then summarize.py writes OUT/NAME/summary.csv and summary.md and plots.sh
# draws OUT/plots/*.png. --quick runs the same grids on 10,000 training rows
# for a few rounds (for CI: it checks the plumbing, not the science).
#
# Exit status: 0 ok, 1 a run, the summary or a plot failed, 2 bad command line.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/scripts/experiments
SIM=${GCDL_SIM:-$ROOT/build/app/gcdl-sim}
SWEEPS=(methods stragglers variance decoders layouts ef)
NICE=${GCDL_EXP_NICE:-10}

usage() {
	cat <<EOF
usage: $0 NAME|all [--quick] [--seeds K] [--jobs J] [--out DIR]

Sweeps (gcdl-sim on Fashion-MNIST, N = M = 10 workers):
  methods     onebit_gc, sgc, signsgd_mv, ignore, onebit_uncoded x {softmax, mlp}
              x {iid, label} partitions x downlink {onebit, relay, float32},
              p = 0.2, d = 2; compared on total bits (uplink + downlink)
  stragglers  onebit_gc softmax, label partitions: p in {0,0.1,0.2,0.3,0.5} x d in {1,2,3},
              each run long enough for the same uplink bit budget
  layouts     onebit_gc softmax, label partitions: pairwise, cyclic, random, fractional
              at d = 2, and pairwise, cyclic, random at d = 3
  decoders    onebit_gc softmax iid, p = 0.2, d = 2: normalised and unbiased decoder
              under packet loss 0, 0.1, 0.3
  variance    decoded gradient against the exact gradient at the initial model:
              layouts x d in {2,3,5} x {onebit_gc, sgc, onebit_gc_ef} x {iid, label},
              500 draws
  ef          error feedback under gradient coding (onebit_gc_ef) and its levers
              (momentum 0/0.5/0.9 at the aggregator or on the workers, scale blocks
              128/256/512, relay downlink) against onebit_gc, sgc and signsgd_mv, on
              total bits: softmax label p = 0.3 (full partitions, 600 rounds),
              softmax label p in {0.1,0.3,0.5} (minibatch 500), softmax iid p = 0.2,
              MLP iid p = 0.2 and label p = 0.3 (3000 rounds)
  all         every sweep above

Options:
  --quick     10,000 training rows, a few rounds, 200 variance draws (CI)
  --seeds K   seeds per point (default 3; --quick: 1)
  --jobs J    runs in parallel (default: number of cores)
  --out DIR   output directory (default runs/experiments, --quick runs/experiments-quick)
  -h, --help  this text

Environment: GCDL_SIM (default build/app/gcdl-sim).
Outputs: OUT/raw/NAME/*.csv (one metrics CSV per run), OUT/NAME/summary.csv and
summary.md, OUT/plots/*.png, OUT/wall.txt (wall time of each sweep).
EOF
}

die() {
	echo "experiments: $*" >&2
	exit 2
}

names=() quick=0 seeds= jobs=$(nproc) out=
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--quick) quick=1; shift ;;
	--seeds) [ $# -ge 2 ] || die "--seeds needs a number"; seeds=$2; shift 2 ;;
	--jobs) [ $# -ge 2 ] || die "--jobs needs a number"; jobs=$2; shift 2 ;;
	--out) [ $# -ge 2 ] || die "--out needs a directory"; out=$2; shift 2 ;;
	all) names+=("${SWEEPS[@]}"); shift ;;
	methods | stragglers | layouts | decoders | variance | ef) names+=("$1"); shift ;;
	*) die "unknown sweep or option '$1' (see --help)" ;;
	esac
done
[ ${#names[@]} -gt 0 ] || die "name a sweep or 'all' (see --help)"
[ -n "$seeds" ] || seeds=$(( quick ? 1 : 3 ))
[[ $seeds =~ ^[1-9][0-9]*$ ]] || die "--seeds needs a positive integer, got '$seeds'"
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "--jobs needs a positive integer, got '$jobs'"
[ -x "$SIM" ] || die "$SIM not found: build first (ninja -C build)"
command -v python3 > /dev/null || die "python3 is needed for the summaries"
command -v gnuplot > /dev/null || die "gnuplot is needed for the plots (package gnuplot-nox)"
[ -n "$out" ] || out=$ROOT/runs/experiments$( ((quick)) && echo -quick || true)
mkdir -p "$out"
out=$(cd "$out" && pwd)

SM=$ROOT/configs/sim-fmnist-softmax.ini
MLP=$ROOT/configs/sim-fmnist-mlp.ini
# Softmax runs take minibatches of SM_BATCH rows per partition and round
# (configs/sim-fmnist-softmax.ini uses the full partition, 12x the compute per
# round): the whole set must fit in an hour on two shared cores.
SM_BATCH=500
if ((quick)); then
	DATA=(--set data.train_rows=10000 --set data.test_rows=2000)
else
	DATA=()
fi

# r QUICK_ROUNDS FULL_ROUNDS: the rounds of a run in this mode
r() { if ((quick)); then echo "$1"; else echo "$2"; fi; }

# Learning rate per method and model: signsgd_mv steps by lr * sign, so it
# needs a much smaller lr than the methods that send gradient estimates
# (0.0003, the best of {0.2, 0.01, 0.001, 0.0003} in a probe, see docs/RESULTS.md).
lr_for() { # model method
	case $2 in
	signsgd_mv) echo 0.0003 ;;
	*) if [ "$1" = softmax ]; then echo 0.2; else echo 0.01; fi ;;
	esac
}

# Each spec line: ID<TAB>gcdl-sim arguments (ID: the CSV's base name, ending
# in -sSEED). Runs go seed by seed, so a sweep cut short leaves whole grids.
specs_methods() {
	local model part method seed prof rounds ev batch dl
	for model in softmax mlp; do
		for part in iid label; do
			for method in onebit_gc sgc signsgd_mv ignore onebit_uncoded; do
			for dl in onebit relay float32; do
				prof=$SM batch=" --set model.batch=$SM_BATCH"
				[ $model = mlp ] && prof=$MLP batch=
				# float32 methods spend the bits of ~32 one-bit rounds per round:
				# fewer rounds, evaluated often, cover the same bit range
				case $model/$method in
				softmax/sgc | softmax/ignore) rounds=$(r 20 60) ev=1 ;;
				softmax/*) rounds=$(r 40 150) ev=$(r 5 10) ;;
				mlp/sgc | mlp/ignore) rounds=$(r 20 40) ev=$(r 2 4) ;;
				mlp/*) rounds=$(r 60 200) ev=$(r 10 40) ;;
				esac
				for seed in $(seq 1 "$seeds"); do
					printf '%s-%s-%s-%s-s%s\t--profile %s --seed %s --method %s --rounds %s --set job.eval_every=%s --set data.partitioning=%s --set optim.lr=%s --set downlink.mode=%s%s\n' \
						$model $part $method $dl $seed "$prof" $seed $method "$rounds" "$ev" $part "$(lr_for $model $method)" $dl "$batch"
				done
			done
			done
		done
	done
}

# Rounds so that every p reaches the bits of R0 rounds at p = 0, plus 10%.
specs_stragglers() {
	local p d seed r0 rounds
	r0=$(r 20 60)
	for d in 1 2 3; do
		for p in 0 0.1 0.2 0.3 0.5; do
			rounds=$(python3 -c "import math; print(math.ceil(1.1 * $r0 / (1 - $p)))")
			for seed in $(seq 1 "$seeds"); do
				printf 'd%s-p%s-s%s\t--profile %s --seed %s --rounds %s --set job.eval_every=%s --set data.partitioning=label --set cluster.redundancy=%s --set stragglers.p=%s --set model.batch='"$SM_BATCH"'\n' \
					$d $p $seed "$SM" $seed "$rounds" "$(r 2 5)" $d $p
			done
		done
	done
}

specs_layouts() {
	local d layout seed
	for d in 2 3; do
		for layout in pairwise cyclic random fractional; do
			[ $d = 3 ] && [ $layout = fractional ] && continue # needs d | N
			for seed in $(seq 1 "$seeds"); do
				printf 'd%s-%s-s%s\t--profile %s --seed %s --rounds %s --set job.eval_every=%s --set data.partitioning=label --set cluster.redundancy=%s --set cluster.layout=%s --set model.batch='"$SM_BATCH"'\n' \
					$d $layout $seed "$SM" $seed "$(r 30 100)" "$(r 5 10)" $d $layout
			done
		done
	done
}

specs_decoders() {
	local dec loss seed
	for dec in normalised unbiased; do
		for loss in 0 0.1 0.3; do
			for seed in $(seq 1 "$seeds"); do
				printf '%s-loss%s-s%s\t--profile %s --seed %s --rounds %s --set job.eval_every=%s --set coding.decoder=%s --packet-loss %s --set model.batch='"$SM_BATCH"'\n' \
					$dec $loss $seed "$SM" $seed "$(r 30 100)" "$(r 5 10)" $dec $loss
			done
		done
	done
}

# Variance: no training (--variance-at start), so every layout, method and p
# is measured at the same seeded initial model.
specs_variance() {
	local part method d layout seed
	for part in iid label; do
		for method in onebit_gc sgc onebit_gc_ef; do
			for d in 2 3 5; do
				for layout in pairwise cyclic random fractional; do
					[ $d = 3 ] && [ $layout = fractional ] && continue
					for seed in $(seq 1 "$seeds"); do
						printf '%s-%s-d%s-%s-s%s\t--profile %s --seed %s --method %s --set data.partitioning=%s --set cluster.redundancy=%s --set cluster.layout=%s --variance %s --variance-at start\n' \
							$part $method $d $layout $seed "$SM" $seed $method $part $d $layout "$(r 200 500)"
					done
				done
			done
		done
	done
}

# The configurations of the ef sweep: a name, then its gcdl-sim options
# (softmax: lr 0.2, momentum 0.9 from the profile; MLP: lr 0.01, momentum 0.9).
ef_cfg() {
	case $1 in
	sgc | sgc_m0.9) echo "--method sgc --set downlink.mode=float32" ;;
	sgc_m0.5) echo "--method sgc --set downlink.mode=float32 --set optim.momentum=0.5" ;;
	gc | gc_m0.9) echo "--method onebit_gc" ;;
	gc_m0.5) echo "--method onebit_gc --set optim.momentum=0.5" ;;
	gc_lr0.02) echo "--method onebit_gc --set optim.lr=0.02" ;;
	ef | ef_m0.9) echo "--method onebit_gc_ef" ;;
	ef_m0.5) echo "--method onebit_gc_ef --set optim.momentum=0.5" ;;
	ef_m0) echo "--method onebit_gc_ef --set optim.momentum=0" ;;
	ef_m0.5_b128) echo "--method onebit_gc_ef --set optim.momentum=0.5 --set coding.scale_block=128" ;;
	ef_m0.5_b512) echo "--method onebit_gc_ef --set optim.momentum=0.5 --set coding.scale_block=512" ;;
	ef_m0.5_relay) echo "--method onebit_gc_ef --set optim.momentum=0.5 --set downlink.mode=relay" ;;
	efw_m0.9) echo "--method onebit_gc_ef --set optim.momentum_at=workers" ;;
	ef_lr0.02) echo "--method onebit_gc_ef --set optim.lr=0.02" ;;
	sign) echo "--method signsgd_mv --set optim.lr=0.0003" ;;
	*) die "ef: unknown configuration $1" ;;
	esac
}

# ID: MODEL-PART-pP-bBATCH-CFG-sSEED
specs_ef() {
	local line model part p batch cfgs cfg seed prof rounds ev
	while read -r model part p batch cfgs; do
		prof=$SM rounds=$(r 40 600) ev=$(r 5 25)
		[ "$model" = mlp ] && prof=$MLP rounds=$(r 60 3000) ev=$(r 10 100)
		for cfg in $cfgs; do
			for seed in $(seq 1 "$seeds"); do
				printf '%s-%s-p%s-b%s-%s-s%s\t--profile %s --seed %s --rounds %s --set job.eval_every=%s --set data.partitioning=%s --set stragglers.p=%s --set model.batch=%s %s\n' \
					"$model" "$part" "$p" "$batch" "$cfg" "$seed" "$prof" "$seed" "$rounds" "$ev" \
					"$part" "$p" "$batch" "$(ef_cfg "$cfg")"
			done
		done
	done <<EOF
softmax label 0.3 0 sgc_m0.9 sgc_m0.5 gc_m0.9 gc_m0.5 ef_m0.9 ef_m0.5 ef_m0 ef_m0.5_b128 ef_m0.5_b512 efw_m0.9 ef_m0.5_relay
softmax label 0.1 $SM_BATCH sgc_m0.9 gc_m0.9 ef_m0.5
softmax label 0.3 $SM_BATCH sgc_m0.9 gc_m0.9 ef_m0.5
softmax label 0.5 $SM_BATCH sgc_m0.9 gc_m0.9 ef_m0.5
softmax iid 0.2 0 sign gc_m0.9 ef_m0.5
mlp iid 0.2 64 sign gc gc_lr0.02 ef ef_lr0.02
mlp label 0.3 64 sgc gc ef_lr0.02
EOF
}

# run_one SWEEP ID ARGS...: one gcdl-sim run; output written atomically.
run_one() {
	local sweep=$1 id=$2 dir final tmp
	shift 2
	dir=$out/raw/$sweep
	final=$dir/$id.csv
	[ -s "$final" ] && return 0
	tmp=$dir/.$id.tmp.csv
	if [ "$sweep" = variance ]; then
		set -- "$@" --variance-out "$tmp"
	else
		set -- "$@" --metrics "$tmp"
	fi
	# shellcheck disable=SC2086
	if ! nice -n "$NICE" "$SIM" --quiet "${DATA[@]}" "$@" > "$dir/$id.log" 2>&1; then
		echo "experiments: run $sweep/$id failed (see $dir/$id.log)" >&2
		rm -f "$tmp"
		return 1
	fi
	mv "$tmp" "$final"
}
export -f run_one
export out SIM NICE
export DATA_STR="${DATA[*]}"

rc=0
for name in "${names[@]}"; do
	mkdir -p "$out/raw/$name" "$out/$name"
	t0=$(date +%s)
	n=0
	failed=0
	while IFS=$'\t' read -r id args; do
		# shellcheck disable=SC2086
		printf '%s\0%s\0' "$id" "$args"
		n=$((n + 1))
	done < <("specs_$name" | sed 's/^\([^\t]*-s\([0-9]*\)\)\t/\2\t\1\t/' | sort -s -n -k1,1 | cut -f2-) \
		> "$out/raw/$name/.specs"
	total=$(( $(tr -cd '\0' < "$out/raw/$name/.specs" | wc -c) / 2 ))
	echo "experiments: $name: $total runs, $seeds seed(s) per point, $jobs in parallel -> $out/raw/$name"
	# shellcheck disable=SC2016
	if ! xargs -0 -n 2 -P "$jobs" bash -c '
		set -f
		read -r -a data <<< "$DATA_STR"
		DATA=("${data[@]}")
		# shellcheck disable=SC2086
		run_one "$0" "$1" $2' "$name" < "$out/raw/$name/.specs"; then
		failed=1
	fi
	t1=$(date +%s)
	sed -i "/^$name /d" "$out/wall.txt" 2> /dev/null || true
	echo "$name $((t1 - t0)) s wall, $total runs, jobs $jobs, quick $quick" >> "$out/wall.txt"
	if ((failed)); then
		echo "experiments: $name: some runs failed" >&2
		rc=1
		continue
	fi
	if ! python3 "$HERE/summarize.py" "$name" "$out"; then
		echo "experiments: $name: summary failed" >&2
		rc=1
		continue
	fi
	if ! bash "$HERE/plots.sh" "$name" "$out"; then
		echo "experiments: $name: plots failed" >&2
		rc=1
		continue
	fi
	echo "experiments: $name: $((t1 - t0)) s; $out/$name/summary.md"
done
exit $rc
