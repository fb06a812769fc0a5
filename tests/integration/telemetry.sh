#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# DPDK telemetry: run gcdl in the background on configs/ci.ini (Bernoulli
# stragglers and a fixed 20 ms deadline make most rounds wait, so the run
# lasts several seconds), with 2 malformed frames injected per round, and
# query /gcdl/round, /gcdl/stats, /gcdl/layout, /gcdl/workers and /gcdl/node
# through dpdk-telemetry.py while it runs. Checks the values against the profile, the
# layout's definition and gcdl's final summary; a command given parameters
# must be refused (null reply). gcdl must still exit 0.
. "$(dirname "$0")/common.sh"

TEL=$(command -v dpdk-telemetry.py) || {
	echo "SKIP: dpdk-telemetry.py not found (package dpdk-dev)"
	exit 77
}

R=600
GPID=
stop_gcdl() {
	if [ -n "$GPID" ] && kill -0 "$GPID" 2>/dev/null; then
		kill "$GPID" 2>/dev/null || true
		wait "$GPID" 2>/dev/null || true
	fi
	cleanup
}
trap stop_gcdl EXIT

timeout 240 "$GCDL" "${EAL[@]}" -- --profile "$CI_PROFILE" --rounds $R --quiet \
	--inject-garbage 2 --summary-json "$TMP/out.json" >"$TMP/out" 2>&1 &
GPID=$!

# tel COMMAND...: one telemetry session, one JSON reply per line
tel() {
	printf '%s\n' "$@" | python3 "$TEL" -f "$PREFIX" 2>&1
}

# wait until /gcdl/round answers with at least 3 rounds done, so that the
# first rounds' garbage has been received and counted
ready=0
for _ in $(seq 1 600); do
	kill -0 "$GPID" 2>/dev/null || break
	if tel /gcdl/round | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        r = json.loads(line).get("/gcdl/round")
    except ValueError:
        continue
    if isinstance(r, dict) and r["rounds_done"] >= 3:
        sys.exit(0)
sys.exit(1)' 2>/dev/null; then
		ready=1
		break
	fi
	sleep 0.05
done
[ $ready = 1 ] || fail "/gcdl/round never answered: $(tel /gcdl/round) $(tail -n 20 "$TMP/out")"

tel /gcdl/round /gcdl/stats /gcdl/layout /gcdl/workers /gcdl/stats,1 /gcdl/workers,x \
	/gcdl/node >"$TMP/tel.json"
rc=0
wait "$GPID" || rc=$?
GPID=
[ $rc = 0 ] || fail "gcdl exited with $rc: $(tail -n 20 "$TMP/out")"

accepted=$(jget "$TMP/out.json" counters.uplink_accepted)
assert_eq "$(jpy "$TMP/out.json" 'sum(x["counters"]["drops"] for x in n if x["role"] == "worker")')" 0 \
	"drops at the workers (the garbage goes to the aggregator)"

check_rc=0
python3 - "$TMP/tel.json" "$R" "$accepted" <<'EOF' || check_rc=$?
import json, sys

path, total, final_accepted = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lines = [json.loads(l) for l in open(path) if l.startswith("{")]
assert len(lines) == 7, f"{len(lines)} replies, want 7"
rnd, st, lay, wk, node = (lines[0]["/gcdl/round"], lines[1]["/gcdl/stats"],
                          lines[2]["/gcdl/layout"], lines[3]["/gcdl/workers"],
                          lines[6]["/gcdl/node"])

def check(cond, msg):
    if not cond:
        print("FAIL:", msg, file=sys.stderr)
        sys.exit(1)

# parameters are refused
check(lines[4] == {"/gcdl/stats": None}, f"/gcdl/stats,1 answered {lines[4]}")
check(lines[5] == {"/gcdl/workers": None}, f"/gcdl/workers,x answered {lines[5]}")

# /gcdl/round
check(1 <= rnd["round"] <= total, f"round {rnd['round']} outside [1, {total}]")
check(rnd["rounds_total"] == total, f"rounds_total {rnd['rounds_total']}")
check(3 <= rnd["rounds_done"] <= total, f"rounds_done {rnd['rounds_done']}")
check(rnd["deadline_us"] == 20000, f"deadline_us {rnd['deadline_us']} (ci.ini: fixed 20000)")
check(rnd["stragglers"] <= 4, f"stragglers {rnd['stragglers']} > 4 workers")
if rnd["evaluated"]:
    check(float(rnd["train_loss"]) > 0, f"train_loss {rnd['train_loss']}")
    check(0 <= float(rnd["test_accuracy"]) <= 1, f"test_accuracy {rnd['test_accuracy']}")
else:
    check(rnd["rounds_done"] < 25, "not evaluated after eval_every = 25 rounds")
    check(rnd["train_loss"] == "" and rnd["test_accuracy"] == "", "loss without evaluation")

# /gcdl/layout: pairwise, N = M = 4, d = 2
props = {"kind": "pairwise", "workers": 4, "partitions": 4, "rep_min": 2, "rep_max": 2,
         "load_min": 2, "load_max": 2}
for k, v in props.items():
    check(lay.get(k) == v, f"layout {k} = {lay.get(k)}, want {v}")
check(sorted(k for k in lay if k.startswith("w") and k != "workers") ==
      ["w0", "w1", "w2", "w3"], f"layout worker keys {sorted(lay)}")
held = [0] * 4
for k in range(4):
    parts = [int(p) for p in lay[f"w{k}"].split(",")]
    check(len(parts) == 2 and len(set(parts)) == 2, f"w{k} holds {parts}")
    for p in parts:
        check(0 <= p < 4, f"w{k}: partition {p} out of range")
        held[p] += 1
check(held == [2, 2, 2, 2], f"replication per partition {held}, want 2 each")
check(lay["pair_max"] <= 2 and lay["pair_min"] <= lay["pair_max"], "pair counts")

# /gcdl/stats
names = ["truncated", "ethertype", "magic", "version", "type", "flags", "length", "crc",
         "job", "sender", "round", "chunk", "offset", "count", "scale_block", "payload",
         "auth"]
drop_keys = sorted(k for k in st if k.startswith("drop_"))
check(drop_keys == sorted("drop_" + n for n in names), f"drop keys {drop_keys}")
check(st["drops"] == sum(st["drop_" + n] for n in names), "drops != sum of drop_<name>")
check(st["uplink_rx_frames"] > 0, "no uplink frames received")
check(st["garbage_sent"] >= 6, f"garbage_sent {st['garbage_sent']} after 3 rounds")
check(st["drops"] > 0 and st["drop_truncated"] > 0, "the injected garbage was not dropped")
check(st["uplink_accepted"] <= final_accepted, "accepted above the final summary's")
check(st["downlink_tx_frames"] > 0 and st["downlink_rx_frames"] > 0, "no downlink counted")

# /gcdl/node: this process runs the whole cluster
check(node["role"] == "local" and node["topology"] == "star", f"node {node}")
check(node["nodes"] == 5, f"{node['nodes']} nodes, want 5")
check(node["node_list"] == "aggregator 0,worker 0,worker 1,worker 2,worker 3",
      f"node_list {node['node_list']}")

# /gcdl/workers
check(sorted(wk) == ["w0", "w1", "w2", "w3"], f"worker keys {sorted(wk)}")
acc = 0
for k in range(4):
    w = wk[f"w{k}"]
    for f in ("last_round", "accepted", "duplicates", "late", "rejected"):
        check(f in w, f"w{k} has no {f}")
    check(w["last_round"] <= total, f"w{k} last_round {w['last_round']}")
    check(w["accepted"] == 0 or w["last_round"] >= 1, f"w{k}: frames but no last round")
    acc += w["accepted"]
check(acc > 0, "no worker has an accepted frame after 3 rounds")
check(acc <= final_accepted, f"workers' accepted {acc} above the final {final_accepted}")
print(f"ok: round {rnd['round']}/{total}, {st['uplink_rx_frames']} rx frames, "
      f"{st['drops']} drops, workers' accepted {acc}")
EOF
[ $check_rc = 0 ] || fail "telemetry replies: $(cat "$TMP/tel.json")"
