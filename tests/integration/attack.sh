#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# An attacker on the segment (as root, af_packet in namespaces,
# scripts/cluster.sh): a star of 1 aggregator and 4 workers on a bridge, and
# a fifth host on the same bridge that is not part of the job and does not
# hold its key. It runs tests/integration/attacker.py, a raw-socket frame
# generator written from the wire format alone (no gcdl code).
#   (1) a clean run with the cluster's job key; the aggregator captures every
#       frame it receives and sends (--pcap);
#   (2) the same job again (same key, same seed) while the attacker sends
#       spoofed gradients (scales 1e30 and NaN, untagged or with a key of its
#       own), forged hellos and resyncs for round 3000, NaN updates to every
#       worker, and every frame of run (1) replayed, twice. Every replica and
#       the aggregator's model are bit-identical to run (1)'s; every frame of
#       the attacker is counted where it arrived: as auth (wrong, missing or
#       old-session tag), as a challenge (a replayed hello earns the session
#       and nothing else), late (a replayed config echoes an incarnation
#       nobody has), or malformed; 0 of the replays is accepted: the joins
#       are the workers' own, nothing was resent or caught up.
#   (3) with job.insecure = true (no key) the value checks hold alone: a
#       sweep over every round but 0 of gradients with scales of 1e30 and NaN
#       updates changes no model.
#   (4) a flood of 100,000 frames: every one that reaches a node is dropped
#       and counted; the ones the kernel's af_packet ring had no room for are
#       reported (a genuine frame among them makes its round lose a worker,
#       and the note names the rounds).
# The switch does not learn MACs on the attacker's port (port security). No
# stragglers, and the deadline is 1 s: every round closes when its last
# genuine frame is in, so a frame the attacker delays changes the round's
# time, never its model.
. "$(dirname "$0")/common.sh"

[ "$(id -u)" = 0 ] || { echo "skipped: needs root (network namespaces)"; exit 77; }
. "$ROOT/scripts/cluster.sh"
CLUSTER_GCDL=$GCDL
CLUSTER_TIMEOUT=180
CLUSTER_EXTRA_CLEANUP=${KEEP:-'rm -rf "$TMP"'}
CLUSTER_TAG=g$$-at
R=600
# worker 0's frames held back 15 ms: rounds of ~15 ms, so that the attack
# (a few seconds) falls inside the job; a held-back frame is never late
JOB=(--profile "$CI_PROFILE" --quiet --rounds $R --set deadline.fixed_us=1000000 --set stragglers.p=0
     --set faults.slow_workers=0:+15000us)
ATTACKER=$ROOT/tests/integration/attacker.py

cluster_init af_packet 4 1 "$TMP/c"
cluster_add_host x
# the switch does not learn addresses on the attacker's port (port security):
# a bridge that did would send a worker's frames to whoever last used its
# MAC as a source, a denial of service below gcdl (README: threat model)
ip -n "$CLUSTER_TAG-sw" link set dev "$CLUSTER_TAG-x" type bridge_slave learning off

# run_job DIR gcdl-options...: the job; the aggregator's model in DIR/model.npy
# (it logs the joins: the attacker starts after them); AGG_OPTS for it alone
run_job() {
	local dir=$1 k
	shift
	mkdir -p "$dir"
	CLUSTER_DIR=$dir
	CLUSTER_EAL_EXTRA=(--log-level gcdl.control:notice)
	cluster_start_aggregator 0 "${JOB[@]}" --save-model "$dir/model.npy" ${AGG_OPTS[@]+"${AGG_OPTS[@]}"} "$@"
	CLUSTER_EAL_EXTRA=()
	for k in 0 1 2 3; do cluster_start_worker "$k" "${JOB[@]}" "$@"; done
	for k in 0 1 2 3; do
		cluster_wait_pid "${CLUSTER_WORKER_PID[$k]}" ||
			fail "$dir: worker $k exited with $?: $(tail -n 5 "$dir/w$k.out")"
	done
	cluster_wait_pid "${CLUSTER_AGG_PID[0]}" ||
		fail "$dir: aggregator exited with $?: $(tail -n 5 "$dir/a0.out")"
	assert_eq "$(jget "$dir/a0.json" rounds)" $R "$dir: rounds"
}

# same_model DIR: the aggregator's model and every replica are run (1)'s
same_model() {
	local dir=$1 k
	cmp -s "$TMP/clean/model.npy" "$dir/model.npy" || fail "$dir: the aggregator's model changed"
	for k in 0 1 2 3; do
		assert_eq "$(jget "$dir/w$k.json" model_crc)" "$(jget "$TMP/clean/w$k.json" model_crc)" \
			"$dir: worker $k's replica"
	done
}

# attack DIR REPORT attacker-options...: the attacker starts once the
# aggregator logged the 4 joins (so that every frame finds the nodes up)
attack() {
	local dir=$1 report=$2
	shift 2
	rm -f "$TMP/start"
	ip netns exec "$CLUSTER_TAG-x" python3 "$ATTACKER" --mac "$(cluster_mac x)" \
		--agg "$(cluster_mac a0)" \
		--workers "$(cluster_mac w0),$(cluster_mac w1),$(cluster_mac w2),$(cluster_mac w3)" \
		--rounds $R --coords 84 --scale-block 64 --replay "$TMP/clean/a0.pcap" \
		--start-file "$TMP/start" --max-s 60 --report "$report" "$@" >"$TMP/attacker.out" 2>&1 &
	ATTACKER_PID=$!
	(
		for ((i = 0; i < 600; i++)); do
			[ "$(grep -c 'joined at round' "$dir/a0.out" 2>/dev/null)" -ge 4 ] && break
			sleep 0.05
		done
		touch "$TMP/start"
	) &
}
# attack_end DIR: the attacker is done, and was done before the aggregator
# exited (every frame it sent found the job running)
attack_end() {
	local dir=$1
	wait "$ATTACKER_PID" || fail "the attacker failed: $(tail -n 5 "$TMP/attacker.out")"
	python3 - "$REPORT" "$dir/a0.json" <<'PY' || fail "the job ended before the attacker: raise R"
import json, os, sys
sys.exit(0 if json.load(open(sys.argv[1]))["end"] + 0.2 < os.path.getmtime(sys.argv[2]) else 1)
PY
}

# sum DIR EXPR: EXPR over the 4 workers' JSON summaries (d)
wsum() {
	local dir=$1 expr=$2 k s=0
	for k in 0 1 2 3; do s=$((s + $(jpy "$dir/w$k.json" "$expr"))); done
	echo $s
}
c() { echo "d[\"counters\"][\"$1\"]"; }

# (1) -----------------------------------------------------------------------
AGG_OPTS=(--pcap "$TMP/clean/a0.pcap")
run_job "$TMP/clean"
AGG_OPTS=()
echo "(1) clean run: $(jget "$TMP/clean/a0.json" counters.uplink_accepted) gradient frames accepted"

# (2) -----------------------------------------------------------------------
REPORT=$TMP/keyed.rep
attack "$TMP/keyed" "$REPORT"
run_job "$TMP/keyed"
attack_end "$TMP/keyed"
same_model "$TMP/keyed"
A=$TMP/keyed/a0.json
rep() { python3 -c "import json,sys; d=json.load(open('$1')); print(eval(sys.argv[1]))" "$2"; }
passes=$(rep "$TMP/keyed.rep" 'd["passes"]')
e_auth=$(rep "$TMP/keyed.rep" 'd["expect"]["aggregator"].get("auth", 0)')
e_chal=$(rep "$TMP/keyed.rep" 'd["expect"]["aggregator"].get("challenge", 0)')
e_bad=$(rep "$TMP/keyed.rep" 'd["expect"]["aggregator"].get("malformed", 0)')
w_auth=$(rep "$TMP/keyed.rep" 'd["expect"]["worker"].get("auth", 0)')
w_late=$(rep "$TMP/keyed.rep" 'd["expect"]["worker"].get("late", 0)')
auth=$(jget "$A" counters.drop_auth)
chal=$(jget "$A" counters.challenges)
missed=$(jget "$A" counters.port_missed)
bad=$(jpy "$A" 'd["counters"]["drops"] - d["counters"]["drop_auth"] - d["counters"]["drop_ethertype"]')
# every frame to the aggregator is counted under what it is
assert_eq "$auth" "$e_auth" "(2) aggregator: frames dropped as auth"
assert_eq "$bad" "$e_bad" "(2) aggregator: frames dropped as malformed"
assert_eq "$missed" 0 "(2) aggregator: frames the port missed"
legit_hellos=$(wsum "$TMP/keyed" "$(c control_tx_frames) - $(c resync_requests)")
[ "$chal" -ge "$e_chal" ] && [ "$((chal - e_chal))" -le "$legit_hellos" ] ||
	fail "(2) challenges $chal: replayed hellos $e_chal, the workers' own $legit_hellos"
# 0 of the replays accepted: the joins are the workers' own, nothing was resent
assert_eq "$(jget "$A" counters.joins)" 4 "(2) joins at the aggregator"
assert_eq "$(jget "$A" counters.resyncs)" 0 "(2) models resent"
assert_eq "$(jget "$A" counters.closed_catchup)" 0 "(2) rounds caught up"
assert_eq "$(jget "$A" counters.uplink_accepted)" "$(jget "$TMP/clean/a0.json" counters.uplink_accepted)" \
	"(2) gradient frames accepted"
assert_eq "$(wsum "$TMP/keyed" "$(c drop_auth) + $(c no_session)")" "$w_auth" \
	"(2) workers: NaN and replayed updates dropped as auth (or before the session)"
assert_eq "$(wsum "$TMP/keyed" "$(c joins)")" 4 "(2) configs the workers took"
[ "$(wsum "$TMP/keyed" "$(c late)")" -ge "$w_late" ] || fail "(2) replayed configs not all late"
echo "(2) keyed, $passes attack passes: $(rep "$TMP/keyed.rep" 'd["sent"]') frames;" \
	"aggregator: auth $auth, challenges $chal ($e_chal replayed hellos), malformed $bad," \
	"models identical;" \
	"attack $(rep "$TMP/keyed.rep" 'd["attack_s"]') s, job $(jget "$TMP/keyed/a0.json" figures.wall_s) s" \
	"(clean $(jget "$TMP/clean/a0.json" figures.wall_s) s)"

# (3) -----------------------------------------------------------------------
REPORT=$TMP/insecure.rep
attack "$TMP/insecure" "$REPORT" --kinds sweep --passes 12 --pause-ms 0.01
run_job "$TMP/insecure" --set job.insecure=true
attack_end "$TMP/insecure"
same_model "$TMP/insecure"
A=$TMP/insecure/a0.json
e_spoof=$(rep "$REPORT" 'd["sent"]["sweep"]["aggregator"]')
rejected=$(jget "$A" counters.rejected)
other=$(jpy "$A" 'd["counters"]["drop_round"] + d["counters"]["late"] + d["counters"]["duplicates"]')
# each one refused by the value bound, or outside its round, or after the
# genuine frame of its round: none taken (the model says so); a worker sent
# to resync by a forged later update may send a genuine frame twice: >=
[ $((rejected + other)) -ge "$e_spoof" ] ||
	fail "(3) insecure: spoofed gradients refused $rejected + outside/duplicate $other < $e_spoof"
[ "$rejected" -gt 0 ] || fail "(3) insecure: the sweep never met the current round"
w_rejected=$(wsum "$TMP/insecure" "$(c rejected)")
[ "$w_rejected" -gt 0 ] || fail "(3) insecure: no NaN update met its round"
echo "(3) insecure: $e_spoof spoofed gradients of 1e30: $rejected refused by coding.value_bound," \
	"$other outside their round or after the genuine one; $w_rejected NaN updates refused" \
	"by the workers, which sent $(wsum "$TMP/insecure" "$(c control_tx_frames)") control frames" \
	"(4 hellos to join; a forged later update sends a worker back to hello without a key);" \
	"models identical"
# (4) -----------------------------------------------------------------------
# a flood: 100,000 frames as fast as the attacker can (random bytes under
# gcdl's EtherType, well-formed frames of worker ids the job does not have)
REPORT=$TMP/flood.rep
AGG_OPTS=(--metrics "$TMP/flood.csv")
attack "$TMP/flood" "$REPORT" --kinds "" --passes 1 --flood 100000
run_job "$TMP/flood"
AGG_OPTS=()
attack_end "$TMP/flood"
A=$TMP/flood/a0.json
e_bad=$(rep "$REPORT" 'd["expect"]["aggregator"]["malformed"]')
bad=$(jpy "$A" 'd["counters"]["drops"] - d["counters"]["drop_ethertype"]')
[ "$bad" -le "$e_bad" ] || fail "(4) aggregator: $bad drops, $e_bad sent"
for k in 0 1 2 3; do
	assert_eq "$(jget "$TMP/flood/w$k.json" model_crc)" "$(jget "$TMP/flood/w0.json" model_crc)" \
		"(4) worker $k's replica"
done
# af_packet's kernel ring overflows when the node falls behind: those frames,
# the flood's and perhaps a genuine one, never reach gcdl, and DPDK 22.11's
# af_packet does not count them (port_missed stays 0). A genuine frame lost
# makes its worker a straggler of that round: the model then differs from the
# clean run's, as it would for any loss; with none lost it is the same
stragglers=$(jget "$A" counters.stragglers)
lost_rounds=$(awk -F, 'NR > 1 && $7 > 0 { printf "%s%s", s, $1; s = "," }' "$TMP/flood.csv")
if [ "$stragglers" = 0 ]; then
	same_model "$TMP/flood"
	flood_note="no genuine frame lost, models identical to the clean run's"
else
	flood_note="$stragglers genuine frames lost below gcdl (rounds $lost_rounds closed by their deadline without them): replicas identical, model that of those rounds' loss"
fi
echo "(4) flood of $e_bad frames in $(rep "$REPORT" 'd["flood_s"]') s: $bad dropped and counted by" \
	"the aggregator, $((e_bad - bad)) never reached it (af_packet's ring full); $flood_note"
echo "ok: no frame of the attacker changed a model; every one that arrived counted"
