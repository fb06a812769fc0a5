#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Install what is missing, build into build/, and run the main job: the whole
# cluster (10 workers, one aggregator) in one DPDK process over net_ring port
# pairs, training on Fashion-MNIST.
#
#   scripts/run.sh [PROFILE] [-- extra gcdl options]
#
# PROFILE defaults to configs/local.ini. The EAL options used are printed, so
# the binary can be run directly.
set -euo pipefail
# shellcheck source=scripts/setup.sh
. "$(dirname "$0")/setup.sh"
cd "$GCDL_ROOT"

profile=configs/local.ini
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
	profile=$1
	shift
fi
[ "${1:-}" = "--" ] && shift
if [ ! -r "$profile" ]; then
	echo "gcdl: cannot read profile '$profile'" >&2
	exit 2
fi

gcdl_install_packages
gcdl_build build
gcdl_python_path

out=${GCDL_OUT:-runs/$(basename "$profile" .ini)-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
eal=(--no-huge --no-pci --no-shconf --file-prefix "gcdl-$$" -m 512
     --lcores "(0-2)@(0-$(( $(nproc) - 1 )))" --log-level "gcdl.*:info")
app=(--profile "$profile" --metrics "$out/metrics.csv" --save-model "$out/model.npy" "$@")
echo "gcdl: build/app/gcdl ${eal[*]} -- ${app[*]}"
build/app/gcdl "${eal[@]}" -- "${app[@]}"
echo "gcdl: metrics in $out/metrics.csv, model in $out/model.npy"
scripts/plot.sh "$out/metrics.csv" -o "$out/curves.png"
echo "gcdl: curves in $out/curves.png"
