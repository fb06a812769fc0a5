#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# scripts/setup-host.sh: --dry-run prints each step for this host (hugepages,
# hugetlbfs, the driver, the binding) and changes nothing; every bad
# argument is refused with exit status 2 and a message.
. "$(dirname "$0")/common.sh"

S=$ROOT/scripts/setup-host.sh
hp=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
before=$(cat $hp 2>/dev/null || echo none)
mounts=$(grep -c . /proc/mounts)
# a PCI device this host has (any), so that the binding steps are printed
dev=$(ls /sys/bus/pci/devices 2>/dev/null | head -n 1)
[ -n "$dev" ] || dev=0000:00:00.0
out=$("$S" --dry-run --hugepages 64 --bind "$dev" 2>&1) || fail "--dry-run exited with $?: $out"
for want in "hugepages" "modprobe vfio-pci" "--bind=vfio-pci $dev" "--status-dev net" \
	"dry run: nothing was changed"; do
	grep -qF -- "$want" <<<"$out" || fail "--dry-run does not print '$want': $out"
done
if [ "$before" != none ] && [ "$before" -lt 64 ]; then
	grep -qF "echo 64 > $hp" <<<"$out" || fail "--dry-run does not print the hugepage step: $out"
fi
assert_eq "$(cat $hp 2>/dev/null || echo none)" "$before" "hugepages after --dry-run"
assert_eq "$(grep -c . /proc/mounts)" "$mounts" "mounts after --dry-run"

for bad in "--bind 3b:00.x" "--bind" "--hugepages many" "--driver igb_uio" "--frobnicate"; do
	rc=0
	# shellcheck disable=SC2086
	msg=$("$S" --dry-run $bad 2>&1) || rc=$?
	assert_eq "$rc" 2 "setup-host.sh $bad: exit status"
	grep -q "setup-host.sh:" <<<"$msg" || fail "setup-host.sh $bad: no message: $msg"
done
"$S" --help | grep -q -- "--dry-run" || fail "--help does not list --dry-run"
echo "ok: --dry-run printed $(grep -c '^+ ' <<<"$out") steps for $dev and changed nothing; 5 bad arguments refused"
