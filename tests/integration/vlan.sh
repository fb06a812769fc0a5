#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# 802.1Q VLANs (network.vlan). In one process (local mode, ring ports) a job
# tagged with VLAN 100 trains to the untagged job's model bit for bit, and
# every frame is 4 bytes longer on the ports. Over af_packet in namespaces
# (scripts/cluster.sh) on a VLAN-aware switch whose ports are tagged members
# of VLAN 100: a keyed star of 1 aggregator and 2 workers with
# network.vlan = 100 trains every round, replicas identical, every frame in
# the aggregator's capture tagged, no port promiscuous. Two more
# hosts run as worker 1 of the same job and key:
#   x: its port on VLAN 200, network.vlan = 200: it receives nothing at
#      all (the bridge keeps VLAN 100 from it) and gives up;
#   y: its port on VLAN 100, network.vlan = 200: it receives the job's
#      broadcasts and multicasts tagged 100 and counts every one as
#      wrong_vlan (none validated, none taken); its own frames, tagged 200,
#      the bridge drops: the aggregator never hears of it.
. "$(dirname "$0")/common.sh"

# ---- local mode: tagged = untagged, 4 bytes a frame more ------------------
for v in 0 100; do
	run_gcdl "$TMP/local$v.out" --profile "$CI_PROFILE" --quiet --rounds 40 \
		--set network.vlan=$v --set network.vlan_priority=3 ||
		fail "local mode, network.vlan $v: exit $?: $(tail -n 5 "$TMP/local$v.out")"
done
assert_eq "$(jget "$TMP/local100.out.json" model_crc)" "$(jget "$TMP/local0.out.json" model_crc)" \
	"local mode: the model on VLAN 100 and untagged"
assert_eq "$(jget "$TMP/local100.out.json" counters.wrong_vlan)" 0 "local mode: wrong_vlan"
frames=$(jget "$TMP/local100.out.json" counters.rx_frames)
assert_eq "$frames" "$(jget "$TMP/local0.out.json" counters.rx_frames)" "local mode: frames"
assert_eq "$(jget "$TMP/local100.out.json" counters.rx_bytes)" \
	$(($(jget "$TMP/local0.out.json" counters.rx_bytes) + 4 * frames)) "local mode: bytes"
echo "local mode: VLAN 100 = untagged, $frames frames 4 bytes longer each"

[ "$(id -u)" = 0 ] || { echo "skipped: needs root (network namespaces)"; exit 77; }
. "$ROOT/scripts/cluster.sh"
CLUSTER_GCDL=$GCDL
CLUSTER_TIMEOUT=180
CLUSTER_EXTRA_CLEANUP=${KEEP:-'rm -rf "$TMP"'}
CLUSTER_VLAN=100
R=20
opts=(--profile "$CI_PROFILE" --quiet --rounds $R --set cluster.workers=2
      --set cluster.partitions=2 --set stragglers.model=none
      --set deadline.fixed_us=1000000 --set job.eval_every=0 --set network.vlan=100
      --set network.vlan_priority=5)
cluster_init af_packet 2 1 "$TMP/ns"
cluster_add_host x 200
cluster_add_host y 100
cluster_start_aggregator 0 "${opts[@]}" --pcap "$TMP/ns/a0.pcap"
for k in 0 1; do cluster_start_worker "$k" "${opts[@]}"; done
# the two strays: worker 1 of the same job on VLAN 200
stray=(--role worker --id 1 "${opts[@]}" --set network.vlan=200 --set network.idle_timeout_ms=4000)
cluster_run x "$TMP/ns/x.out" "${stray[@]}"
XPID=$CLUSTER_PID
cluster_run y "$TMP/ns/y.out" "${stray[@]}"
YPID=$CLUSTER_PID
for k in 0 1; do
	cluster_wait_pid "${CLUSTER_WORKER_PID[$k]}" ||
		fail "worker $k exited with $?: $(tail -n 5 "$TMP/ns/w$k.out")"
done
cluster_wait_pid "${CLUSTER_AGG_PID[0]}" ||
	fail "aggregator exited with $?: $(tail -n 5 "$TMP/ns/a0.out")"
A=$TMP/ns/a0.json
assert_eq "$(jget "$A" rounds)" $R "rounds"
assert_eq "$(jget "$A" counters.closed_complete)" $R "rounds closed complete"
assert_eq "$(jget "$A" counters.joins)" 2 "joins (the strays never reach the aggregator)"
assert_eq "$(jget "$A" counters.wrong_vlan)" 0 "the aggregator's wrong_vlan"
assert_eq "$(jget "$TMP/ns/w0.json" model_crc)" "$(jget "$TMP/ns/w1.json" model_crc)" "replicas"
# not promiscuous: the interface's own MAC, the broadcast and all multicast
for h in a0 w0; do
	assert_eq "$(jget "$TMP/ns/$h.json" nodes.0.ports.0.promiscuous)" false "$h promiscuous"
	assert_eq "$(jget "$TMP/ns/$h.json" nodes.0.ports.0.allmulticast)" true "$h allmulticast"
	grep -q "ALLMULTI" <(ip netns exec "$CLUSTER_TAG-$h" ip link show eth0) ||
		fail "$h: eth0 is not ALLMULTI: $(ip netns exec "$CLUSTER_TAG-$h" ip link show eth0)"
done
# the capture shows every frame tagged: TPID 0x8100, PCP 5, VLAN 100
python3 - "$TMP/ns/a0.pcap" <<'PY' || fail "the aggregator's capture"
import struct, sys
data = open(sys.argv[1], "rb").read()
endian = "<" if struct.unpack("<I", data[:4])[0] == 0xa1b2c3d4 else ">"
off, n = 24, 0
while off + 16 <= len(data):
    incl = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
    f = data[off + 16:off + 16 + incl]
    off += 16 + incl
    if f[12:14] == b"\x86\xdd" or f[12:14] == b"\x08\x06":
        continue  # the kernel's own chatter, if any
    assert f[12:14] == b"\x81\x00" and f[14:16] == bytes([0xa0, 100]) and f[16:18] == b"\x88\xb5", \
        f[:18].hex()
    n += 1
assert n > 40, n
print("capture: %d frames, all tagged VLAN 100 PCP 5" % n)
PY
for h in x y; do
	pid=$XPID
	[ $h = y ] && pid=$YPID
	rc=0
	cluster_wait_pid "$pid" || rc=$?
	[ $rc != 0 ] || fail "stray $h finished a job it cannot reach"
	grep -q "no frame from aggregator 0 for network.idle_timeout_ms" "$TMP/ns/$h.out" ||
		fail "stray $h: $(tail -n 3 "$TMP/ns/$h.out")"
	for c in uplink_rx_frames downlink_rx_frames control_rx_frames drops applied; do
		assert_eq "$(jget "$TMP/ns/$h.json" "counters.$c")" 0 "stray $h: $c"
	done
done
assert_eq "$(jget "$TMP/ns/x.json" counters.rx_frames)" 0 "stray x (VLAN 200): frames received"
assert_eq "$(jget "$TMP/ns/x.json" counters.wrong_vlan)" 0 "stray x: wrong_vlan"
yv=$(jget "$TMP/ns/y.json" counters.wrong_vlan)
[ "$yv" -gt 0 ] || fail "stray y counted no wrong_vlan frame"
assert_eq "$yv" "$(jget "$TMP/ns/y.json" counters.rx_frames)" "stray y: every frame it got is wrong_vlan"
grep -q "frames of another VLAN came: is network.vlan = 200 the job's?" "$TMP/ns/y.out" ||
	fail "stray y does not name the VLAN: $(tail -n 2 "$TMP/ns/y.out")"
echo "ok: VLAN 100 trained $R rounds; a node on VLAN 200 received nothing; one on a" \
	"VLAN-100 port configured for 200 dropped all $yv frames it got as wrong_vlan"
