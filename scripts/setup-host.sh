#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Prepare a host of the rack for a gcdl node on a real NIC: hugepages, the
# IOMMU check, vfio-pci, and the NIC ports bound to it (dpdk-devbind.py,
# Debian package dpdk). Run as root; --dry-run prints every step it would
# take (and the checks' findings) and changes nothing.
#
#   scripts/setup-host.sh [--dry-run] [--hugepages N] [--bind PCI]... [--driver D]
#
#   --hugepages N  2 MiB hugepages to reserve (default 1024: 2 GiB; 0 leaves them)
#   --bind PCI     a NIC port to give to DPDK, e.g. 0000:3b:00.0 (repeat it);
#                  its kernel interface must be down: gcdl owns it from then on
#   --driver D     vfio-pci (default) or uio_pci_generic
#   --dry-run      print the steps, change nothing
#
# Exit status: 0 done (or printed), 1 a step failed, 2 bad command line.
# Afterwards run gcdl without --no-huge/--no-pci: e.g.
#   gcdl -a 0000:3b:00.0 -l 0-2 -- --role worker --id 0 --profile /etc/gcdl/job.ini
set -uo pipefail

dry=0 pages=1024 driver=vfio-pci bind=()
while [ $# -gt 0 ]; do
	case $1 in
	--dry-run) dry=1; shift ;;
	--hugepages) pages=${2:-}; shift 2 || { echo "setup-host.sh: --hugepages needs N" >&2; exit 2; } ;;
	--bind) bind+=("${2:-}"); shift 2 || { echo "setup-host.sh: --bind needs a PCI address" >&2; exit 2; } ;;
	--driver) driver=${2:-}; shift 2 || { echo "setup-host.sh: --driver needs a name" >&2; exit 2; } ;;
	-h | --help) sed -n '3,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "setup-host.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
[[ $pages =~ ^[0-9]+$ ]] || { echo "setup-host.sh: --hugepages '$pages' is not a number" >&2; exit 2; }
case $driver in
vfio-pci | uio_pci_generic) ;;
*) echo "setup-host.sh: --driver '$driver': vfio-pci or uio_pci_generic" >&2; exit 2 ;;
esac
for b in "${bind[@]}"; do
	[[ $b =~ ^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$ ]] ||
		{ echo "setup-host.sh: --bind '$b' is not a PCI address (like 0000:3b:00.0)" >&2; exit 2; }
done
if [ $dry = 0 ] && [ "$(id -u)" != 0 ]; then
	echo "setup-host.sh: needs root (or --dry-run)" >&2
	exit 2
fi

step() { # a command: printed, and run unless --dry-run
	echo "+ $*"
	[ $dry = 1 ] && return 0
	"$@" || { echo "setup-host.sh: failed: $*" >&2; exit 1; }
}
note() { echo "# $*"; }

# 1. IOMMU (vfio-pci needs it; uio_pci_generic does not, but offers no isolation)
groups=$(ls /sys/kernel/iommu_groups 2>/dev/null | wc -l)
if [ "$groups" -gt 0 ]; then
	note "IOMMU: on ($groups groups)"
elif [ "$driver" = vfio-pci ]; then
	note "IOMMU: off: vfio-pci will refuse the ports. Add 'intel_iommu=on iommu=pt'"
	note "  (AMD: 'amd_iommu=on iommu=pt') to GRUB_CMDLINE_LINUX in /etc/default/grub,"
	note "  run update-grub and reboot; or use --driver uio_pci_generic (no isolation)"
	[ ${#bind[@]} -eq 0 ] || [ $dry = 1 ] || { echo "setup-host.sh: IOMMU off, cannot bind to vfio-pci" >&2; exit 1; }
fi

# 2. hugepages (2 MiB), and hugetlbfs mounted where DPDK looks
hp=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
if [ "$pages" -gt 0 ]; then
	if [ -r $hp ]; then
		note "hugepages: $(cat $hp) of 2 MiB now, $pages wanted"
		[ "$(cat $hp)" -ge "$pages" ] || step sh -c "echo $pages > $hp"
	else
		note "hugepages: this kernel has no 2 MiB hugepages ($hp)"
	fi
	if grep -qs ' hugetlbfs ' /proc/mounts; then
		note "hugetlbfs: mounted at $(awk '$3 == "hugetlbfs" { print $2; exit }' /proc/mounts)"
	else
		step mkdir -p /dev/hugepages
		step mount -t hugetlbfs nodev /dev/hugepages
	fi
	note "to keep them after a reboot: vm.nr_hugepages = $pages in /etc/sysctl.d/80-gcdl.conf"
fi

# 3. the driver and the ports
if [ ${#bind[@]} -gt 0 ]; then
	devbind=$(command -v dpdk-devbind.py || true)
	[ -n "$devbind" ] || { [ $dry = 1 ] && devbind=dpdk-devbind.py && note "dpdk-devbind.py not found: apt-get install dpdk"; } ||
		{ echo "setup-host.sh: dpdk-devbind.py not found (apt-get install dpdk)" >&2; exit 1; }
	step modprobe "$driver"
	for b in "${bind[@]}"; do
		[[ $b == *:*:* ]] || b=0000:$b
		if [ -e "/sys/bus/pci/devices/$b" ]; then
			cur=$(basename "$(readlink "/sys/bus/pci/devices/$b/driver" 2>/dev/null)" 2>/dev/null)
			note "$b: now driven by ${cur:-nothing}"
			for n in /sys/bus/pci/devices/$b/net/*; do
				[ -e "$n" ] || continue
				note "$b: kernel interface $(basename "$n") goes away (take SSH elsewhere)"
				step ip link set "$(basename "$n")" down
			done
		else
			note "$b: no such PCI device on this host"
			[ $dry = 1 ] || { echo "setup-host.sh: no PCI device $b" >&2; exit 1; }
		fi
		step "$devbind" --bind="$driver" "$b"
	done
	step "$devbind" --status-dev net
fi
[ $dry = 1 ] && note "dry run: nothing was changed"
exit 0
