#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Keyed frames fit the MTU (as root, over af_packet in namespaces,
# scripts/cluster.sh): a star of 1 aggregator and 4 workers with a job key,
# on veths of MTU 1500 and then 9000, with a model large enough that its
# chunks fill the frames (softmax over synthetic data: 20,010 coordinates at
# MTU 1500, 50,000 at 9000). Each job runs every round with every frame
# accepted (no stragglers, a 1 s deadline), the replicas end identical, and
# the aggregator's capture (--pcap) shows the largest frames within the MTU
# and filled to it: a 1-bit gradient or update frame within one scale block
# (12 bytes) of it, a float32 model frame exactly at it. Before, chunk sizes ignored the 16-byte tag:
# at MTU 1500 with a key no gradient frame got through and the workers hung.
# The summary names each port's MTU (the interface's, for net_af_packet);
# coding.mtu = 9000 on links of MTU 1500 is refused by every node at start.
. "$(dirname "$0")/common.sh"

[ "$(id -u)" = 0 ] || { echo "skipped: needs root (network namespaces)"; exit 77; }
. "$ROOT/scripts/cluster.sh"
CLUSTER_GCDL=$GCDL
CLUSTER_TIMEOUT=180
CLUSTER_EXTRA_CLEANUP=${KEEP:-'rm -rf "$TMP"'}
R=10
OWN_DROPS='d["counters"]["drops"] - d["counters"]["drop_ethertype"] - d["counters"]["drop_type"]'

# frame_sizes PCAP TYPE: the largest and the smallest length of the frames of
# gcdl message TYPE (1 = 1-bit gradient, 4 = update) in a capture, and how many
frame_sizes() {
	python3 - "$1" "$2" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
want = int(sys.argv[2])
endian = "<" if struct.unpack("<I", data[:4])[0] == 0xa1b2c3d4 else ">"
off, sizes = 24, []
while off + 16 <= len(data):
    incl = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
    f = data[off + 16:off + 16 + incl]
    off += 16 + incl
    if len(f) > 17 and f[12:14] == b"\x88\xb5" and f[17] == want:
        sizes.append(len(f))
print(max(sizes), min(sizes), len(sizes))
PY
}

# run_mtu MTU FEATURES CLASSES: the job on veths of that MTU
run_mtu() {
	local mtu=$1 f=$2 c=$3 dir=$TMP/mtu$1 k crc="" max min n opts
	CLUSTER_TAG=g$$-$mtu
	CLUSTER_MTU=$mtu
	CLUSTER_PIDS=()
	if [ "$mtu" -gt 1500 ]; then
		# af_packet's ring frames must hold a jumbo frame; mbufs of 9 KiB
		CLUSTER_AF_PACKET_ARGS=framesz=9216,blocksz=36864
		CLUSTER_MEM=256
	else
		CLUSTER_AF_PACKET_ARGS=
		CLUSTER_MEM=128
	fi
	unset CLUSTER_KEY
	opts=(--profile "$CI_PROFILE" --quiet --rounds $R --set coding.mtu="$mtu"
	      --set data.synthetic_features="$f" --set data.synthetic_classes="$c"
	      --set stragglers.model=none --set deadline.fixed_us=1000000
	      --set dataplane.mbufs=2047 --set job.eval_every=0)
	cluster_init af_packet 4 1 "$dir"
	cluster_start_aggregator 0 "${opts[@]}" --pcap "$dir/a0.pcap"
	for k in 0 1 2 3; do cluster_start_worker "$k" "${opts[@]}"; done
	for k in 0 1 2 3; do
		cluster_wait_pid "${CLUSTER_WORKER_PID[$k]}" ||
			fail "MTU $mtu: worker $k exited with $?: $(tail -n 5 "$dir/w$k.out")"
	done
	cluster_wait_pid "${CLUSTER_AGG_PID[0]}" ||
		fail "MTU $mtu: aggregator exited with $?: $(tail -n 5 "$dir/a0.out")"
	A=$dir/a0.json
	assert_eq "$(jget "$A" rounds)" $R "MTU $mtu: rounds"
	assert_eq "$(jget "$dir/w0.json" nodes.0.crc_count)" $(((f + 1) * c)) "MTU $mtu: model coordinates"
	assert_eq "$(jget "$A" counters.stragglers)" 0 "MTU $mtu: stragglers"
	# other hosts' chatter (not gcdl's EtherType; workers' broadcast hellos
	# at the other workers) aside, nothing dropped: no frame cut or too long
	assert_eq "$(jpy "$A" "$OWN_DROPS")" 0 "MTU $mtu: gcdl frames dropped by the aggregator"
	assert_eq "$(jget "$A" counters.closed_complete)" $R "MTU $mtu: rounds closed complete"
	for k in 0 1 2 3; do
		W=$dir/w$k.json
		assert_eq "$(jpy "$W" "$OWN_DROPS")" 0 "MTU $mtu: gcdl frames dropped by worker $k"
		[ -z "$crc" ] && crc=$(jget "$W" model_crc)
		assert_eq "$(jget "$W" model_crc)" "$crc" "MTU $mtu: worker $k's replica"
	done
	# the port's MTU (net_af_packet: its interface's) in every summary
	assert_eq "$(jget "$A" nodes.0.ports.0.mtu)" "$mtu" "MTU $mtu: the aggregator's port MTU"
	assert_eq "$(jget "$dir/w0.json" nodes.0.ports.0.mtu)" "$mtu" "MTU $mtu: worker 0's port MTU"
	read -r max min n < <(frame_sizes "$dir/a0.pcap" 1)
	[ "$max" -le $((14 + mtu)) ] || fail "MTU $mtu: a 1-bit frame of $max bytes"
	[ "$max" -gt $((14 + mtu - 12)) ] || fail "MTU $mtu: the largest 1-bit frame, $max bytes, is not filled"
	assert_eq "$n" "$(jget "$A" counters.uplink_accepted)" "MTU $mtu: 1-bit frames captured and accepted"
	echo "MTU $mtu: $n 1-bit frames of $min..$max bytes"
	# the 1-bit update (downlink.mode onebit): laid out as a 1-bit gradient
	read -r max min n < <(frame_sizes "$dir/a0.pcap" 11)
	[ "$max" -le $((14 + mtu)) ] || fail "MTU $mtu: a 1-bit update frame of $max bytes"
	[ "$max" -gt $((14 + mtu - 12)) ] || fail "MTU $mtu: the largest 1-bit update frame, $max bytes, is not filled"
	echo "MTU $mtu: $n 1-bit update frames of $min..$max bytes"
	# float32 frames (the model at the joins) fill it exactly
	read -r max min n < <(frame_sizes "$dir/a0.pcap" 5)
	assert_eq "$max" $((14 + mtu)) "MTU $mtu: the largest model frame"
	echo "MTU $mtu: $n model frames of $min..$max bytes"
	CLUSTER_EXTRA_CLEANUP= cluster_cleanup
}

run_mtu 1500 2000 10
run_mtu 9000 4999 10

# coding.mtu = 9000 on links of MTU 1500: every node refuses its port at
# start (exit 2, the interface and both MTUs named) instead of sending
# frames the link drops
CLUSTER_TAG=g$$-small CLUSTER_MTU= CLUSTER_PIDS=() CLUSTER_AF_PACKET_ARGS=framesz=9216,blocksz=36864
unset CLUSTER_KEY
cluster_init af_packet 1 1 "$TMP/small"
cluster_start_aggregator 0 --profile "$CI_PROFILE" --quiet --rounds 3 --set coding.mtu=9000
cluster_start_worker 0 --profile "$CI_PROFILE" --quiet --rounds 3 --set coding.mtu=9000
for who in a0:"${CLUSTER_AGG_PID[0]}" w0:"${CLUSTER_WORKER_PID[0]}"; do
	rc=0
	cluster_wait_pid "${who#*:}" || rc=$?
	assert_eq "$rc" 2 "coding.mtu 9000 on an MTU-1500 link: ${who%%:*}'s exit status"
	grep -q "the interface's MTU is 1500, below coding.mtu = 9000" "$TMP/small/${who%%:*}.out" ||
		fail "no MTU message from ${who%%:*}: $(tail -n 3 "$TMP/small/${who%%:*}.out")"
done
CLUSTER_EXTRA_CLEANUP= cluster_cleanup
echo "ok: keyed jobs at MTU 1500 and 9000 with frames filled to the MTU and the port MTU in" \
	"the summary; a link of MTU 1500 refused for coding.mtu = 9000"
