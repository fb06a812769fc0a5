#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Shared set-up for scripts/run.sh and scripts/test.sh (sourced, not run):
# install the Debian packages gcdl needs, then configure and build.
# Idempotent: does nothing slow when everything is already there.

GCDL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Every package the build, the tests and the default job need.
GCDL_PACKAGES=(
	build-essential   # gcc, make, libc headers
	pkg-config
	meson
	ninja-build
	libdpdk-dev       # DPDK 22.11: EAL, ethdev, mempool, ring, net_ring/net_null/memif/af_packet PMDs
	dpdk-dev          # dpdk-testpmd, dpdk-telemetry.py
	libnuma-dev       # NUMA placement of what DPDK does not allocate
	check             # unit-test framework
	zlib1g-dev        # gzip IDX files, CRC-32
	libsodium-dev     # keyed BLAKE2b frame tags (job.key_file)
	libopenblas-dev   # CBLAS for the models
	dataset-fashion-mnist # the real data: /usr/share/datasets/fashion-mnist
	clang             # libFuzzer build of the frame parser
	python3           # test helpers
	gnuplot-nox       # scripts/plot.sh: training curves as PNG
	tshark            # decodes --pcap captures with scripts/wireshark/gcdl.lua (integration_pcap)
	iproute2          # scripts/cluster.sh: network namespaces, veth pairs, bridge (multi-host tests)
	procps            # pgrep in scripts/cluster.sh
	nftables          # scripts/cluster.sh CLUSTER_VLAN: a VLAN-aware switch (integration_vlan)
	libopenmpi-dev    # the peer baseline: an MPI ring allreduce (gcdl-mpi-allreduce)
	openmpi-bin       # mpirun for it (scripts/bench_allreduce.sh)
	python3-torch     # PyTorch 1.13 (CPU) for lib/python/gcdl: the DDP hook, its example and test
	python3-numpy     # lib/python/gcdl: the gradient channel's arrays
)

gcdl_missing_packages() {
	local p missing=()
	for p in "${GCDL_PACKAGES[@]}"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$p")
		fi
	done
	echo "${missing[@]}"
}

gcdl_install_packages() {
	local missing
	missing=$(gcdl_missing_packages)
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "gcdl: missing Debian packages; as root run:" >&2
		echo "  apt-get update && apt-get install -y $missing" >&2
		exit 2
	fi
	echo "gcdl: installing Debian packages: $missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q || { echo "gcdl: apt-get update failed" >&2; exit 2; }
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing || {
		echo "gcdl: apt-get install failed for: $missing" >&2; exit 2; }
}

# gcdl_build DIR [meson options...]: configure DIR once, then build it.
gcdl_build() {
	local dir=$1
	shift
	if [ ! -f "$GCDL_ROOT/$dir/build.ninja" ]; then
		meson setup "$GCDL_ROOT/$dir" "$GCDL_ROOT" -Dwerror=true "$@" >"$GCDL_ROOT/$dir.setup.log" 2>&1 || {
			cat "$GCDL_ROOT/$dir.setup.log" >&2
			echo "gcdl: meson setup of $dir failed" >&2
			exit 2
		}
	fi
	ninja -C "$GCDL_ROOT/$dir" >/dev/null || {
		ninja -C "$GCDL_ROOT/$dir" >&2
		echo "gcdl: build of $dir failed" >&2
		exit 2
	}
}

# `import gcdl` for Debian's python3 (PyTorch's): a .pth file in its
# /usr/local site directory naming this tree's lib/python (an editable
# install; `meson install` copies the package instead). Root only.
gcdl_python_path() {
	local site pth
	[ "$(id -u)" -eq 0 ] || return 0
	site=$(/usr/bin/python3 -c 'import site; print(site.getsitepackages()[0])' 2>/dev/null) || return 0
	pth="$site/gcdl.pth"
	if [ "$(cat "$pth" 2>/dev/null)" != "$GCDL_ROOT/lib/python" ]; then
		mkdir -p "$site" && echo "$GCDL_ROOT/lib/python" >"$pth"
	fi
}
