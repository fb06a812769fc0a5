#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Start-up errors exit with status 2 and one line naming what is wrong.
. "$(dirname "$0")/common.sh"

# expect_exit2 NAME PATTERN gcdl-args...: exit status 2 and PATTERN in the output
expect_exit2() {
	local name=$1 pattern=$2 rc=0
	shift 2
	timeout 60 "$GCDL" "$@" >"$TMP/$name.out" 2>&1 || rc=$?
	[ $rc = 2 ] || fail "$name: exit status $rc, want 2: $(tail -n 5 "$TMP/$name.out")"
	grep -q -- "$pattern" "$TMP/$name.out" ||
		fail "$name: no '$pattern' in: $(tail -n 5 "$TMP/$name.out")"
}

# an unknown key: the message names file:line and the key
sed 's/^burst = 32$/brust = 32/' "$CI_PROFILE" >"$TMP/bad.ini"
line=$(grep -n '^brust = 32$' "$TMP/bad.ini" | cut -d: -f1)
[ -n "$line" ] || fail "could not make the bad profile"
expect_exit2 unknown_key "$TMP/bad.ini:$line:.*dataplane.brust" "${EAL[@]}" -- --profile "$TMP/bad.ini"
expect_exit2 missing_profile "cannot\|No such file" "${EAL[@]}" -- --profile "$TMP/none.ini"
expect_exit2 no_profile "--profile FILE is required" "${EAL[@]}" --
expect_exit2 role_worker_no_id "--role worker needs --id" "${EAL[@]}" -- --profile "$CI_PROFILE" --role worker
expect_exit2 role_worker_bad_id "--id 4: this job has workers 0..3" "${EAL[@]}" -- --profile "$CI_PROFILE" --role worker --id 4
expect_exit2 role_worker_id_text "--id 'x'" "${EAL[@]}" -- --profile "$CI_PROFILE" --role worker --id x
expect_exit2 role_aggregator_bad_id "--id 1: this job has aggregators 0..0" "${EAL[@]}" -- --profile "$CI_PROFILE" --role aggregator --id 1
expect_exit2 role_aggregator_no_port "no ethdev port" "${EAL[@]}" -- --profile "$CI_PROFILE" --role aggregator --set job.insecure=true
expect_exit2 role_local_id "--id is for --role worker or aggregator" "${EAL[@]}" -- --profile "$CI_PROFILE" --id 1
expect_exit2 role_worker_metrics "--metrics is written by the aggregator" "${EAL[@]}" -- --profile "$CI_PROFILE" --role worker --id 0 --metrics "$TMP/wm.csv"
expect_exit2 topology_mesh_aggregator "network.topology mesh has no aggregator" "${EAL[@]}" -- --profile "$CI_PROFILE" --role aggregator --set network.topology=mesh
expect_exit2 local_sharded_checkpoint "key checkpoint.every: checkpoints of a sharded job are written by each aggregator process" \
	"${EAL[@]}" -- --profile "$CI_PROFILE" --set network.topology=sharded --set network.aggregators=2 \
	--set coding.mtu=64 --set coding.scale_block=8 --set checkpoint.every=5 --set checkpoint.path="$TMP/ck.bin"
expect_exit2 local_vdev "--vdev net_null0: --role local makes its own net_ring ports" \
	"${EAL[@]}" --vdev net_null0 -- --profile "$CI_PROFILE"
expect_exit2 local_ports "the local mode needs 40 net_ring ports (one pair per link), DPDK has room for 32" \
	"${EAL[@]}" -- --profile "$CI_PROFILE" --set cluster.workers=20 --set cluster.partitions=20 \
	--set dataplane.mbufs=100000
expect_exit2 topology_star_two "network.aggregators 2: topology star has one aggregator" "${EAL[@]}" -- --profile "$CI_PROFILE" --role aggregator --set network.aggregators=2
expect_exit2 sharded_too_few_chunks "only 1 uplink chunks" "${EAL[@]}" -- --profile "$CI_PROFILE" --role aggregator --set network.topology=sharded --set network.aggregators=2 --set job.insecure=true
expect_exit2 worker_macs_bad "network.worker_macs" "${EAL[@]}" -- --profile "$CI_PROFILE" --role aggregator --set network.worker_macs=02:00:00:00:00:01 --set job.insecure=true
[ ! -e "$TMP/wm.csv" ] || fail "a refused start wrote --metrics"
expect_exit2 role_bad "unknown --role" "${EAL[@]}" -- --profile "$CI_PROFILE" --role boss
expect_exit2 rounds_bad "--rounds '12x'" "${EAL[@]}" -- --profile "$CI_PROFILE" --rounds 12x
expect_exit2 garbage_bad "--inject-garbage '-1'" "${EAL[@]}" -- --profile "$CI_PROFILE" --inject-garbage -1
expect_exit2 set_bad "job.rounds" "${EAL[@]}" -- --profile "$CI_PROFILE" --set job.rounds=0
expect_exit2 synthetic_bad "dataplane.synthetic_gradient" "${EAL[@]}" -- --profile "$CI_PROFILE" \
	--set dataplane.synthetic_gradient=2
expect_exit2 no_separator "go after '--'" "${EAL[@]}"
# rte_eal_init() succeeds when a vdev fails to probe: gcdl must not
expect_exit2 vdev "--vdev net_af_packet0,iface=gcdl-no-such-if: the device failed to probe" \
	"${EAL[@]}" --vdev net_af_packet0,iface=gcdl-no-such-if -- --profile "$CI_PROFILE" --role aggregator \
	--set job.insecure=true
# too few lcores for 1 aggregator + 2 worker lcores
ONE=(--no-huge --no-pci --no-shconf --file-prefix "$PREFIX" -m 256 --lcores 0 --log-level '*:warning')
expect_exit2 lcores "dataplane.worker_lcores = 2 needs 3 EAL lcores" "${ONE[@]}" -- \
	--profile "$CI_PROFILE" --set dataplane.worker_lcores=2
# a mempool that does not fit in the memory given to the EAL
SMALL=(--no-huge --no-pci --no-shconf --file-prefix "$PREFIX" -m 16 --lcores "(0-2)@(0-$((NCPU - 1)))" --log-level '*:warning')
expect_exit2 mempool "mempool gcdl0_pool_s0" "${SMALL[@]}" -- --profile "$CI_PROFILE" \
	--set dataplane.mbufs=100000
# every value range and relation names file:line:key (tests/test_profile.c
# covers each key and relation; here one of each kind through the program)
sed 's/^ring_size = 1024$/ring_size = 64/; s/^burst = 32$/burst = 65/' "$CI_PROFILE" >"$TMP/rel.ini"
line=$(grep -n '^burst = 65$' "$TMP/rel.ini" | cut -d: -f1)
expect_exit2 relation "$TMP/rel.ini:$line: key dataplane.burst: dataplane.burst 65 is above" \
	"${EAL[@]}" -- --profile "$TMP/rel.ini"
sed 's/^mtu = 1500$/mtu = 9001/' "$CI_PROFILE" >"$TMP/range.ini"
line=$(grep -n '^mtu = 9001$' "$TMP/range.ini" | cut -d: -f1)
expect_exit2 range "$TMP/range.ini:$line: key coding.mtu: 9001 is out of range 64..9000" \
	"${EAL[@]}" -- --profile "$TMP/range.ini"
printf '\n[faults]\nslow_workers = 9:5\n' | cat "$CI_PROFILE" - >"$TMP/slow.ini"
line=$(grep -n '^slow_workers = 9:5$' "$TMP/slow.ini" | cut -d: -f1)
expect_exit2 slow_workers "$TMP/slow.ini:$line: key faults.slow_workers: .*0 <= K < workers (4)" \
	"${EAL[@]}" -- --profile "$TMP/slow.ini"
sed 's/^mbufs = 4095$/mbufs = 1023/; s/^workers = 4$/workers = 40/; s/^partitions = 4$/partitions = 40/' \
	"$CI_PROFILE" >"$TMP/mbufs.ini"
line=$(grep -n '^mbufs = 1023$' "$TMP/mbufs.ini" | cut -d: -f1)
expect_exit2 mbufs_small "$TMP/mbufs.ini:$line: key dataplane.mbufs: dataplane.mbufs 1023 is below" \
	"${EAL[@]}" -- --profile "$TMP/mbufs.ini"
# outputs that cannot be created are start-up errors, before any work
expect_exit2 metrics_dir "is a directory" "${EAL[@]}" -- --profile "$CI_PROFILE" --metrics "$TMP"
expect_exit2 save_nodir "$TMP/no/such/dir/m.npy: cannot create the model file: directory $TMP/no/such/dir" "${EAL[@]}" -- \
	--profile "$CI_PROFILE" --save-model "$TMP/no/such/dir/m.npy"
expect_exit2 pcap_nodir "$TMP/nodir/x.pcap: cannot create the capture file: directory" "${EAL[@]}" -- --profile "$CI_PROFILE" \
	--pcap "$TMP/nodir/x.pcap"
# a start that fails after the EAL is up writes no output file and leaves an
# existing one as it was
mkdir "$TMP/outs"
echo "keep me" >"$TMP/outs/old.csv"
expect_exit2 no_outputs "dataplane.mbufs 1023 is below" "${EAL[@]}" -- --profile "$TMP/mbufs.ini" \
	--metrics "$TMP/outs/old.csv" --pcap "$TMP/outs/new.pcap" --save-model "$TMP/outs/new.npy"
[ "$(cat "$TMP/outs/old.csv")" = "keep me" ] || fail "a failed start changed an existing metrics file"
[ "$(ls -A "$TMP/outs")" = "old.csv" ] || fail "a failed start left files: $(ls -A "$TMP/outs")"
# the multi-host roles need a key (or job.insecure = true, with a warning)
expect_exit2 no_key "key job.key_file (default): the multi-host roles need a job key.*gcdl --gen-key FILE" \
	"${EAL[@]}" --vdev net_null0 -- --profile "$CI_PROFILE" --role worker --id 0
expect_exit2 no_key_mesh "need a job key" "${EAL[@]}" --vdev net_null0 -- --profile "$CI_PROFILE" \
	--role worker --id 1 --set network.topology=mesh
# dataplane.ports: a name the EAL did not probe is refused, listing the
# probed ones; in local mode the key has no meaning and is refused
expect_exit2 ports_unknown "dataplane.ports names 'net_null2', which the EAL did not probe (probed: net_null0, net_null1)" \
	"${EAL[@]}" --vdev net_null0 --vdev net_null1 -- --profile "$CI_PROFILE" --role worker --id 0 \
	--set job.insecure=true --set dataplane.ports=net_null2
expect_exit2 ports_empty "dataplane.ports ',net_null0': an empty or too long name" \
	"${EAL[@]}" --vdev net_null0 -- --profile "$CI_PROFILE" --role worker --id 0 \
	--set job.insecure=true --set dataplane.ports=,net_null0
expect_exit2 ports_local "dataplane.ports = net_null0: --role local makes its own net_ring ports" \
	"${EAL[@]}" -- --profile "$CI_PROFILE" --set dataplane.ports=net_null0
# dataplane.flow_isolate: a PMD without rte_flow's isolated mode (every
# vdev here) is refused, naming the port; local mode has no flow rules
expect_exit2 isolate_unsupported "port 0 (net_null0): dataplane.flow_isolate = true: the PMD has no rte_flow isolated mode" \
	"${EAL[@]}" --vdev net_null0 -- --profile "$CI_PROFILE" --role worker --id 0 \
	--set job.insecure=true --set dataplane.flow_isolate=true
expect_exit2 isolate_local "dataplane.flow_isolate = true: --role local makes its own net_ring ports" \
	"${EAL[@]}" -- --profile "$CI_PROFILE" --set dataplane.flow_isolate=true
# and a named port is the only one the node takes (the worker then gives up
# on its absent aggregator: exit 1, its summary lists its ports)
rc=0
timeout 60 "$GCDL" "${EAL[@]}" --vdev net_null0 --vdev net_null1 -- --profile "$CI_PROFILE" \
	--role worker --id 0 --set job.insecure=true --set dataplane.ports=net_null1 \
	--set network.idle_timeout_ms=300 --summary-json "$TMP/ports.json" >"$TMP/ports.log" 2>&1 || rc=$?
assert_eq "$rc" 1 "a worker alone on net_null1: exit status"
assert_eq "$(jget "$TMP/ports.json" nodes.0.ports.0.name)" net_null1 "the named port"
assert_eq "$(jpy "$TMP/ports.json" 'len(d["nodes"][0]["ports"])')" 1 "ports taken"
# a port that cannot start (a memif client without its server, a misspelt
# devarg that DPDK ignores) is the port's fault, not the profile's
expect_exit2 memif_no_server "^gcdl: port 0 (net_memif0): cannot start it: .*check the --vdev arguments" \
	"${EAL[@]}" --vdev "net_memif0,rolee=client,socket=$TMP/none.sock" -- --profile "$CI_PROFILE" \
	--role worker --id 0 --set job.insecure=true
"$GCDL" --gen-key "$TMP/job.key" >"$TMP/genkey.txt" || fail "--gen-key exited with $?"
[ "$(stat -c %a "$TMP/job.key")" = 600 ] || fail "--gen-key: mode $(stat -c %a "$TMP/job.key")"
grep -Eqx '[0-9a-f]{64}' "$TMP/job.key" || fail "--gen-key wrote: $(cat "$TMP/job.key")"
cp "$TMP/job.key" "$TMP/job.key.first"
expect_exit2 gen_key_exists "never overwritten" --gen-key "$TMP/job.key"
cmp -s "$TMP/job.key" "$TMP/job.key.first" || fail "--gen-key changed an existing key"
"$GCDL" -- --gen-key "$TMP/other.key" >/dev/null || fail "--gen-key after -- exited with $?"
cmp -s "$TMP/job.key" "$TMP/other.key" && fail "two --gen-key runs wrote the same key"
expect_exit2 insecure_warns "no ethdev port" "${EAL[@]}" -- --profile "$CI_PROFILE" --role aggregator \
	--set job.insecure=true
grep -q "warning: job.insecure = true: frames carry no tag" "$TMP/insecure_warns.out" ||
	fail "no warning for job.insecure: $(cat "$TMP/insecure_warns.out")"
# outputs are written only to regular files or new paths: a rename over
# /dev/null, run as root, used to replace the device with a regular file
for o in --metrics --pcap --save-model --summary-json; do
	expect_exit2 "devnull$o" "$o /dev/null: cannot create the .*: it exists and is not a regular file" \
		"${EAL[@]}" -- --profile "$CI_PROFILE" $o /dev/null
	[ -c /dev/null ] || fail "$o /dev/null replaced /dev/null"
done
mkfifo "$TMP/fifo"
expect_exit2 fifo_metrics "not a regular file" "${EAL[@]}" -- --profile "$CI_PROFILE" --metrics "$TMP/fifo"
expect_exit2 ckpt_devnull "checkpoint.path /dev/null: cannot create the checkpoint file" \
	"${EAL[@]}" -- --profile "$CI_PROFILE" --set checkpoint.every=5 --set checkpoint.path=/dev/null
# a checkpoint directory that does not exist fails at start, not at the first checkpoint
expect_exit2 ckpt_nodir "checkpoint.path $TMP/nodir/ck.bin: cannot create the checkpoint file: directory" \
	"${EAL[@]}" -- --profile "$CI_PROFILE" --set checkpoint.every=5 --set checkpoint.path="$TMP/nodir/ck.bin"
# --resume checks type and size before reading: /dev/zero used to be read for ~2 GiB
start=$(date +%s%N)
expect_exit2 resume_devzero "--resume /dev/zero: .*not a regular file" "${EAL[@]}" -- \
	--profile "$CI_PROFILE" --resume /dev/zero
echo "--resume /dev/zero refused in $((($(date +%s%N) - start) / 1000000)) ms"
truncate -s 16G "$TMP/huge.bin"
expect_exit2 resume_huge "--resume $TMP/huge.bin: .*bytes" "${EAL[@]}" -- \
	--profile "$CI_PROFILE" --resume "$TMP/huge.bin"
rm -f "$TMP/huge.bin"
# temporary files a killed gcdl left (DIR/.NAME.tmp-PID of a dead PID) go at
# the next start; a live process's stay
mkdir "$TMP/stale"
sleep 1000 &
live=$!
dead=$(sh -c 'echo $$')
touch "$TMP/stale/.m.csv.tmp-$dead" "$TMP/stale/.m.csv.tmp-$live" "$TMP/stale/ck.bin.tmp-$dead" \
	"$TMP/stale/.other.tmp-$dead"
expect_exit2 stale "dataplane.mbufs 1023 is below" "${EAL[@]}" -- --profile "$TMP/mbufs.ini" \
	--metrics "$TMP/stale/m.csv" --set checkpoint.every=5 --set checkpoint.path="$TMP/stale/ck.bin"
kill $live
[ "$(ls -A "$TMP/stale" | sort | tr '\n' ' ')" = ".m.csv.tmp-$live .other.tmp-$dead " ] ||
	fail "stale temporary files: left $(ls -A "$TMP/stale" | tr '\n' ' ')"
# one line each
for f in "$TMP"/*.out; do
	n=$(grep '^gcdl: ' "$f" | grep -vc '^gcdl: warning: job.insecure' || true)
	[ "$n" = 1 ] || fail "$(basename "$f"): $n 'gcdl:' lines, want 1: $(cat "$f")"
done
# --help lists every option and every profile key, exit 0
"$GCDL" -- --help >"$TMP/help.txt" || fail "--help exited with $?"
for opt in --profile --role --id --rounds --seed --metrics --summary-json --save-model --pcap \
	--inject-garbage --inject-hostile --resume --quiet --help; do
	grep -q -- "$opt" "$TMP/help.txt" || fail "--help does not list $opt"
done
for key in burst ring_size mbufs worker_lcores time_scale synthetic_gradient fixed_us scale_block; do
	grep -q "^    $key " "$TMP/help.txt" || fail "--help does not list the key $key"
done
echo "ok: start-up errors exit 2 with one line each"
