#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Multi-host test harness: one gcdl process per node.
#
#   af_packet: every node is a network namespace whose eth0 is one end of a
#              veth pair; the other ends are ports of a Linux bridge inside a
#              "switch" namespace. Each process runs net_af_packet on its eth0.
#   memif:     no namespaces; aggregator a is the memif server of a socket
#              with one interface per worker (id = worker), each worker a
#              client of every aggregator's socket.
#              With 0 aggregators (topology mesh) every pair of nodes has a
#              memif link of its own (the lower id serves).
#
# Used two ways:
#   sourced (tests):  . scripts/cluster.sh; cluster_init TRANSPORT WORKERS AGGS DIR;
#                     cluster_start_aggregator A [gcdl options]; cluster_start_worker K ...;
#                     cluster_wait ...; everything is removed by cluster_cleanup, which
#                     cluster_init installs as an EXIT trap (also on failure).
#   run:              scripts/cluster.sh [--transport af_packet|memif] [--workers N]
#                     [--aggregators K] [--out DIR] [--gcdl PATH] [--rate RATE]
#                     -- [gcdl options]
#                     runs a whole job and prints every node's summary.
# CLUSTER_MTU sets the veths' MTU (af_packet), CLUSTER_AF_PACKET_ARGS adds
# net_af_packet arguments (framesz=...,blocksz=... for jumbo frames),
# CLUSTER_MEMIF_ARGS adds net_memif arguments (bsize=...,rsize=... for jumbo
# frames and deep rings). CLUSTER_MEM is each process's -m (MiB, default 64),
# CLUSTER_LCORES its --lcores (default one lcore: 0@(all CPUs)).
# CLUSTER_RATE (af_packet) caps every host's link to a thin link: a tc token
# bucket (tbf) of that rate (tc syntax: 1gbit, 100mbit) on the switch's end
# of each veth. net_af_packet bypasses the host's qdisc (and with
# qdisc_bypass=0 its socket's send buffer, 212 KB, stalls the ring), so the
# caps that act are the switch's egress ports, one per host: every frame a
# host receives crosses one, multicast once per port. Their queue
# (CLUSTER_RATE_LIMIT, default 64mb) stands for the switch's buffers. A
# burst reaches them through the kernel's per-CPU backlog
# (net.core.netdev_max_backlog, 1000 frames by default, global): raise it for
# jumbo bursts (bench_thin.sh does, and puts it back).
# CLUSTER_VLAN (af_packet) makes the switch VLAN-aware (802.1Q): every
# host's port is a tagged member of that VLAN only (the nodes then need
# --set network.vlan=VID); cluster_add_host NAME VID puts a host on another.
# A frame that comes in on a port untagged or tagged with another VLAN, or
# would go out on such a port, is dropped (and counted) by the switch. The
# bridge's own vlan_filtering is not used: kernels built without
# CONFIG_BRIDGE_VLAN_FILTERING (this project's test VMs) refuse it; nftables
# rules on the bridge's forward hook (nft, bridge family) do the same.
# links.txt in DIR gets every namespace's qdisc and link counters at the end.
# Keys: cluster_init makes a job key (gcdl --gen-key DIR/job.key) and every node
# gets --set job.key_file=DIR/job.key, unless its options name job.key_file or
# job.insecure themselves, or CLUSTER_KEY= (empty) is set before cluster_init.
# Needs root (namespaces) for af_packet, iproute2, and a built gcdl.

CLUSTER_TAG=${CLUSTER_TAG:-g$$}
CLUSTER_NS=()
CLUSTER_PIDS=()
CLUSTER_PREFIXES=()

# cluster_init TRANSPORT WORKERS AGGREGATORS DIR: set up the hosts (af_packet) or
# the socket names (memif); outputs go to DIR/<node>.out.
cluster_init() {
	CLUSTER_TRANSPORT=$1
	CLUSTER_WORKERS=$2
	CLUSTER_AGGS=$3
	CLUSTER_DIR=$4
	CLUSTER_GCDL=${CLUSTER_GCDL:-build/app/gcdl}
	mkdir -p "$CLUSTER_DIR"
	trap cluster_cleanup EXIT
	CLUSTER_SERVERS_SEEN=
	# the multi-host roles need a job key: one for the whole cluster
	if [ -z "${CLUSTER_KEY+set}" ]; then
		CLUSTER_KEY=$CLUSTER_DIR/job.key
		rm -f "$CLUSTER_KEY"
		"$CLUSTER_GCDL" --gen-key "$CLUSTER_KEY" >/dev/null || return 2
	fi
	case "$CLUSTER_TRANSPORT" in
	af_packet)
		cluster_ns_add "$CLUSTER_TAG-sw"
		# a switch sends nothing of its own (no IPv6 chatter from br0)
		ip netns exec "$CLUSTER_TAG-sw" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 \
			net.ipv6.conf.all.disable_ipv6=1 || true
		ip -n "$CLUSTER_TAG-sw" link add br0 type bridge
		# forward at once: no STP listening delay
		ip -n "$CLUSTER_TAG-sw" link set br0 type bridge stp_state 0 forward_delay 0
		if [ -n "${CLUSTER_VLAN:-}" ]; then
			ip netns exec "$CLUSTER_TAG-sw" nft add table bridge vlans || return 2
			ip netns exec "$CLUSTER_TAG-sw" nft add chain bridge vlans forward \
				'{ type filter hook forward priority 0; policy accept; }' || return 2
			# nor anything of the bridge's own (its IGMP reports are untagged)
			ip netns exec "$CLUSTER_TAG-sw" nft add chain bridge vlans output \
				'{ type filter hook output priority 0; policy drop; }' || return 2
		fi
		ip -n "$CLUSTER_TAG-sw" link set br0 up
		local h
		for h in $(cluster_hosts); do
			cluster_add_host "$h"
		done
		;;
	memif) ;;
	*)
		echo "cluster: unknown transport '$CLUSTER_TRANSPORT' (af_packet or memif)" >&2
		return 2
		;;
	esac
}

# cluster_add_host NAME [VID] (af_packet): a namespace $CLUSTER_TAG-NAME whose
# eth0 is a port of the bridge (cluster_init adds a0.., w0..; a test may add
# more, e.g. a host that is not part of the job); with CLUSTER_VLAN, a tagged
# member of VLAN VID only (default CLUSTER_VLAN)
cluster_add_host() {
	local h=$1 vid=${2:-${CLUSTER_VLAN:-}}
	cluster_ns_add "$CLUSTER_TAG-$h"
	ip link add "$CLUSTER_TAG-$h" type veth peer name eth0 netns "$CLUSTER_TAG-$h"
	ip link set "$CLUSTER_TAG-$h" netns "$CLUSTER_TAG-sw"
	ip -n "$CLUSTER_TAG-sw" link set "$CLUSTER_TAG-$h" master br0 up
	if [ -n "${CLUSTER_VLAN:-}" ]; then
		# frames in and out of this port carry the tag of VLAN vid, no other
		local dir rule
		for dir in iifname oifname; do
			for rule in "vlan id != $vid" "ether type != 8021q"; do
				ip netns exec "$CLUSTER_TAG-sw" nft add rule bridge vlans forward \
					"$dir" "\"$CLUSTER_TAG-$h\"" $rule counter drop || return 2
			done
		done
	fi
	# no IPv6 chatter (router solicitations) on the test links
	ip netns exec "$CLUSTER_TAG-$h" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1 || true
	if [ -n "${CLUSTER_MTU:-}" ]; then
		# jumbo frames: both ends of the veth (the bridge follows its ports)
		ip -n "$CLUSTER_TAG-sw" link set "$CLUSTER_TAG-$h" mtu "$CLUSTER_MTU"
		ip -n "$CLUSTER_TAG-$h" link set eth0 mtu "$CLUSTER_MTU"
	fi
	ip -n "$CLUSTER_TAG-$h" link set eth0 up
	if [ -n "${CLUSTER_RATE:-}" ]; then
		# the switch's port towards the host (see CLUSTER_RATE above);
		# a burst of 256 KB holds a few jumbo frames at any rate
		local tbf=(root tbf rate "$CLUSTER_RATE" burst 256kb limit "${CLUSTER_RATE_LIMIT:-64mb}")
		ip netns exec "$CLUSTER_TAG-sw" tc qdisc replace dev "$CLUSTER_TAG-$h" "${tbf[@]}" ||
			return 2
	fi
}

# cluster_mac NAME (af_packet): the MAC of that host's eth0
cluster_mac() {
	ip netns exec "$CLUSTER_TAG-$1" cat /sys/class/net/eth0/address
}

cluster_hosts() {
	local a k
	for ((a = 0; a < CLUSTER_AGGS; a++)); do echo "a$a"; done
	for ((k = 0; k < CLUSTER_WORKERS; k++)); do echo "w$k"; done
}

cluster_ns_add() {
	ip netns add "$1"
	CLUSTER_NS+=("$1")
}

# Stop every process we started (by pid), delete the namespaces (and with them
# the veths and the bridge), the memif sockets and the EAL runtime directories.
cluster_cleanup() {
	local p ns pre rc=$? f
	if [ $rc != 0 ] && [ -n "${CLUSTER_DIR:-}" ] && [ -z "${CLUSTER_QUIET_FAIL:-}" ]; then
		for f in "$CLUSTER_DIR"/*.out; do
			[ -e "$f" ] || continue
			echo "--- $f (last lines)" >&2
			grep -v 'memif_probe\|TELEMETRY' "$f" | tail -n 12 >&2
		done
	fi
	for p in "${CLUSTER_PIDS[@]}"; do
		cluster_kill9 "$p"
	done
	for p in "${CLUSTER_PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	# where frames were queued or dropped outside gcdl: the qdiscs and links
	if [ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR" ]; then
		for ns in "${CLUSTER_NS[@]}"; do
			echo "== $ns"
			ip netns exec "$ns" tc -s qdisc show 2>/dev/null || true
			ip netns exec "$ns" ip -s link show 2>/dev/null || true
			[ -z "${CLUSTER_VLAN:-}" ] || ip netns exec "$ns" nft list ruleset 2>/dev/null || true
		done >"$CLUSTER_DIR/links.txt" 2>&1
	fi
	for ns in "${CLUSTER_NS[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	for pre in "${CLUSTER_PREFIXES[@]}"; do
		rm -rf "/var/run/dpdk/$pre" 2>/dev/null || true
	done
	rm -f "/tmp/gcdl-$CLUSTER_TAG"-*.sock 2>/dev/null || true
	[ -z "${CLUSTER_EXTRA_CLEANUP:-}" ] || eval "$CLUSTER_EXTRA_CLEANUP"
}

# cluster_kill9 PID: SIGKILL a node started by cluster_run: gcdl (the child of
# timeout) first, then timeout itself.
cluster_kill9() {
	local c
	for c in $(pgrep -P "$1" 2>/dev/null); do
		kill -9 "$c" 2>/dev/null || true
	done
	kill -9 "$1" 2>/dev/null || true
}

cluster_sock() {
	echo "/tmp/gcdl-$CLUSTER_TAG-a$1.sock"
}

# cluster_eal NODE: the EAL options of one node (its vdevs and file prefix).
cluster_eal() {
	local node=$1 a k pre="gcdl-$CLUSTER_TAG-$1-$RANDOM"
	CLUSTER_PREFIXES+=("$pre")
	CLUSTER_EAL=(--no-huge --no-pci --no-shconf --file-prefix "$pre" -m "${CLUSTER_MEM:-64}"
		     --lcores "${CLUSTER_LCORES:-0@(0-$(($(nproc) - 1)))}" --log-level "${CLUSTER_LOG_LEVEL:-*:warning}")
	# more EAL options for every node, e.g. (--log-level gcdl.control:notice)
	CLUSTER_EAL+=(${CLUSTER_EAL_EXTRA[@]+"${CLUSTER_EAL_EXTRA[@]}"})
	case "$CLUSTER_TRANSPORT" in
	af_packet)
		CLUSTER_EAL+=(--vdev "net_af_packet0,iface=eth0${CLUSTER_AF_PACKET_ARGS:+,$CLUSTER_AF_PACKET_ARGS}")
		;;
	memif)
		if [ "$CLUSTER_AGGS" = 0 ]; then
			# mesh: one memif link per pair of nodes; the lower id serves
			k=${node#w}
			local j
			for ((j = 0; j < CLUSTER_WORKERS; j++)); do
				if ((j > k)); then
					CLUSTER_EAL+=(--vdev "net_memif$j,role=server,id=$j,socket=$(cluster_sock "m$k")${CLUSTER_MEMIF_ARGS:+,$CLUSTER_MEMIF_ARGS}")
				elif ((j < k)); then
					CLUSTER_EAL+=(--vdev "net_memif$j,role=client,id=$k,socket=$(cluster_sock "m$j")${CLUSTER_MEMIF_ARGS:+,$CLUSTER_MEMIF_ARGS}")
				fi
			done
		elif [[ $node == a* ]]; then
			a=${node#a}
			for ((k = 0; k < CLUSTER_WORKERS; k++)); do
				CLUSTER_EAL+=(--vdev "net_memif$k,role=server,id=$k,socket=$(cluster_sock "$a")${CLUSTER_MEMIF_ARGS:+,$CLUSTER_MEMIF_ARGS}")
			done
		else
			k=${node#w}
			for ((a = 0; a < CLUSTER_AGGS; a++)); do
				CLUSTER_EAL+=(--vdev "net_memif$a,role=client,id=$k,socket=$(cluster_sock "$a")${CLUSTER_MEMIF_ARGS:+,$CLUSTER_MEMIF_ARGS}")
			done
		fi
		;;
	esac
}

# cluster_run NODE OUT gcdl-options...: start gcdl for NODE in the background,
# its output in OUT and its JSON summary in OUT without .out, plus .json; its
# pid is in CLUSTER_PID (and remembered for the cleanup), its EAL file prefix
# in CLUSTER_PREFIX (telemetry: dpdk-telemetry.py -f PREFIX).
cluster_run() {
	local node=$1 out=$2
	shift 2
	set -- "$@" --summary-json "${out%.out}.json"
	case " $* " in
	*job.key_file=* | *job.insecure=*) ;;
	*) [ -z "${CLUSTER_KEY:-}" ] || set -- "$@" --set job.key_file="$CLUSTER_KEY" ;;
	esac
	cluster_eal "$node"
	CLUSTER_PREFIX=${CLUSTER_PREFIXES[${#CLUSTER_PREFIXES[@]}-1]}
	if [ "$CLUSTER_TRANSPORT" = af_packet ]; then
		ip netns exec "$CLUSTER_TAG-$node" \
			timeout "${CLUSTER_TIMEOUT:-240}" "$CLUSTER_GCDL" "${CLUSTER_EAL[@]}" -- "$@" \
			>"$out" 2>&1 &
	else
		timeout "${CLUSTER_TIMEOUT:-240}" "$CLUSTER_GCDL" \
			"${CLUSTER_EAL[@]}" -- "$@" >"$out" 2>&1 &
	fi
	CLUSTER_PID=$!
	CLUSTER_PIDS+=("$CLUSTER_PID")
}

# cluster_start_aggregator A gcdl-options...  (output: DIR/a<A>.out, or $CLUSTER_OUT)
cluster_start_aggregator() {
	local a=$1
	shift
	cluster_run "a$a" "${CLUSTER_OUT:-$CLUSTER_DIR/a$a.out}" --role aggregator --id "$a" "$@"
	CLUSTER_AGG_PID[$a]=$CLUSTER_PID
}

# memif: a client cannot start before its server listens; wait (up to 30 s)
# until every aggregator's socket is in /proc/net/unix (abstract or not).
cluster_wait_servers() {
	local a i
	[ "$CLUSTER_TRANSPORT" = memif ] || return 0
	for ((a = 0; a < CLUSTER_AGGS; a++)); do
		for ((i = 0; i < 300; i++)); do
			grep -q -- "$(cluster_sock "$a")" /proc/net/unix && break
			sleep 0.1
		done
	done
	# the server's other interfaces register right after its socket appears
	[ -n "${CLUSTER_SERVERS_SEEN:-}" ] || sleep 0.3
	CLUSTER_SERVERS_SEEN=1
}

# cluster_start_worker K gcdl-options...  (output: DIR/w<K>.out, or $CLUSTER_OUT)
cluster_start_worker() {
	local k=$1
	shift
	cluster_wait_servers
	cluster_run "w$k" "${CLUSTER_OUT:-$CLUSTER_DIR/w$k.out}" --role worker --id "$k" "$@"
	CLUSTER_WORKER_PID[$k]=$CLUSTER_PID
}

# cluster_wait_pid PID: its exit status.
cluster_wait_pid() {
	local rc=0
	wait "$1" || rc=$?
	return $rc
}

# Run as a program: a whole job, then every node's summary.
cluster_main() {
	local transport=af_packet workers=4 aggs=1 out="" a k rc=0
	while [ $# -gt 0 ]; do
		case "$1" in
		--transport) transport=$2; shift 2 ;;
		--workers) workers=$2; shift 2 ;;
		--aggregators) aggs=$2; shift 2 ;;
		--out) out=$2; shift 2 ;;
		--gcdl) CLUSTER_GCDL=$2; shift 2 ;;
		--rate) CLUSTER_RATE=$2; shift 2 ;;
		--) shift; break ;;
		-h | --help)
			sed -n '2,49p' "$0"
			return 0
			;;
		*) echo "cluster.sh: unknown option '$1' (try --help)" >&2; return 2 ;;
		esac
	done
	if [ -z "$out" ]; then
		out=$(mktemp -d /tmp/gcdl-cluster.XXXXXX)
	fi
	cluster_init "$transport" "$workers" "$aggs" "$out" || return 2
	for ((a = 0; a < aggs; a++)); do
		cluster_start_aggregator "$a" "$@"
	done
	for ((k = 0; k < workers; k++)); do
		cluster_start_worker "$k" "$@"
	done
	for ((a = 0; a < aggs; a++)); do
		cluster_wait_pid "${CLUSTER_AGG_PID[$a]}" || rc=1
	done
	for ((k = 0; k < workers; k++)); do
		cluster_wait_pid "${CLUSTER_WORKER_PID[$k]}" || rc=1
	done
	for f in "$out"/a*.out "$out"/w*.out; do
		[ -e "$f" ] || continue
		echo "=== $(basename "$f" .out)"
		sed -n '/== gcdl summary ==/,$p' "$f"
		grep '^gcdl: .*failed' "$f" || true
	done
	echo "JSON summaries: $out/*.json"
	echo "outputs in $out"
	return $rc
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -uo pipefail
	cluster_main "$@"
fi
