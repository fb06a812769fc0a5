#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# PyTorch over gcdl (lib/python/gcdl, scripts/examples/torch_fmnist_cnn.py):
# 4 DDP ranks with the gcdl communication hook, each beside its own gcdl
# worker (model.type external), one aggregator, af_packet on a bridge; a tiny
# CNN on 10,000 Fashion-MNIST rows, 1 bit up (onebit_gc_ef), relay down,
# injected stragglers p = 0.2.
#  (a) Adam, rank 3 sleeping 1.5 s in each of rounds 40..49: every replica
#      ends bit-identical (the same CRC on the 4 ranks); the test accuracy
#      beats the untrained model's by more than 10 standard errors of the two
#      measurements (binomial, 10,000 test rows); rank 3 missed rounds beyond
#      its injected stragglers (the aggregator did not wait for it: its frames
#      were not accepted), the others about none, and rank 3 caught up by
#      applying rounds it had not computed;
#  (b) SGD (momentum 0.9): bit-identical replicas and the same margin;
#  (d) over memif instead of af_packet (a link per worker): bit-identical
#      replicas, every process exits 0;
#  (c) refusals: model.type external without --grad-shm, in local mode, in
#      gcdl-sim, without model.dim, with another downlink; --grad-shm on a
#      built-in model.
. "$(dirname "$0")/common.sh"

PY=/usr/bin/python3
if ! "$PY" -c 'import torch' 2>/dev/null; then
	fail "python3-torch is not installed (scripts/setup.sh installs it)"
fi
EX="$ROOT/scripts/examples/torch_fmnist_cnn.py"

# (c) first: the refusals, each with its message and exit 2
EXT=(--profile "$ROOT/configs/torch-fmnist.ini" --set model.dim=1000)
refuse() {
	local name=$1 pattern=$2 rc=0
	shift 2
	"$@" >"$TMP/$name.out" 2>&1 || rc=$?
	[ $rc = 2 ] || fail "$name: exit $rc, expected 2: $(tail -n 3 "$TMP/$name.out")"
	grep -q -- "$pattern" "$TMP/$name.out" || fail "$name: no '$pattern' in: $(tail -n 3 "$TMP/$name.out")"
}
refuse no_shm "a worker needs --grad-shm FILE" \
	"$GCDL" "${EAL[@]}" --vdev net_null0 -- "${EXT[@]}" --role worker --id 0 --set job.insecure=true
refuse local "its trainers run beside their own worker nodes" \
	"$GCDL" "${EAL[@]}" -- "${EXT[@]}"
refuse sim "model.type external: the model is a trainer's" "$GCDL_SIM" "${EXT[@]}"
refuse no_dim "model.type external needs model.dim" \
	"$GCDL_SIM" --profile "$ROOT/configs/torch-fmnist.ini"
refuse onebit "model.type external needs downlink.mode = relay" \
	"$GCDL_SIM" "${EXT[@]}" --set downlink.mode=onebit
refuse builtin "--grad-shm is for --role worker with model.type external" \
	"$GCDL" "${EAL[@]}" --vdev net_null0 -- --profile "$CI_PROFILE" --role worker --id 0 \
	--set job.insecure=true --grad-shm "$TMP/x.grad"
echo "ok: (c) 6 refusals"

run() {
	local name=$1
	shift
	GCDL_BIN="$GCDL" timeout 280 "$PY" "$EX" --backend gcdl --ranks 4 --model tiny \
		--train-rows 10000 --steps 120 --batch 32 --progress 0 --initial-accuracy \
		--workdir "$TMP/$name" --json "$TMP/$name.json" "$@" >"$TMP/$name.log" 2>&1 ||
		fail "$name: exit $?: $(grep -v '^ ' "$TMP/$name.log" | tail -n 20)"
}
check() {
	local name=$1
	"$PY" - "$TMP/$name.json" "$name" <<'PY' || fail "$name: $(cat "$TMP/$name.json")"
import json, math, sys
r = json.load(open(sys.argv[1]))["gcdl"]
name = sys.argv[2]
crcs = r["crcs"]
assert len(set(crcs)) == 1, f"replicas differ: CRCs {crcs}"
a0, a1, n = r["initial_accuracy"], r["test_accuracy"], r["test_rows"]
se = math.sqrt(a0 * (1 - a0) / n + a1 * (1 - a1) / n)
assert a1 - a0 > 10 * se, f"accuracy {a1} not above the untrained {a0} by 10 x {se:.4f}"
assert a1 > 0.1 + 10 * math.sqrt(0.09 / n), f"accuracy {a1}: chance is 0.1"
assert r["aggregator_exit"] == 0 and r["worker_exits"] == [0, 0, 0, 0], r
# p = 0.2 over 4 ranks and 120 rounds: injected stragglers were flagged ahead
# and their rounds applied without computing
assert sum(r["straggler_rounds"]) > 0, r["straggler_rounds"]
print(f"ok: ({name}) replicas identical (CRC {crcs[0]:08x}), accuracy {a1:.4f} "
      f"from {a0:.4f} (10 SE = {10 * se:.4f})")
PY
}

# (a) Adam, a sleeping rank
run adam --optim adam --sleep-rank 3 --sleep-from 40 --sleep-to 50 --sleep-s 1.5
check adam
"$PY" - "$TMP/adam.json" "$TMP/adam" <<'PY' || fail "(a) the sleeping rank: $(cat "$TMP/adam.json")"
import json, sys
r = json.load(open(sys.argv[1]))["gcdl"]
d = sys.argv[2]
rounds = r["steps"]
agg = json.load(open(f"{d}/agg.json"))
missed = []
for k in range(4):
    w = json.load(open(f"{d}/w{k}.json"))["counters"]
    # the rounds it neither sent in time nor was told to skip (injected)
    accepted = agg["nodes"][0]["workers"][k]["accepted_since_join"]
    frames = w["uplink_tx_frames"] // max(w["contributed"], 1) if w["contributed"] else 1
    missed.append(rounds - w["skipped"] - accepted // frames)
print("missed rounds beyond the injected stragglers, by rank:", missed,
      "rank 3 applied without computing:", r["skipped"][3], "stale:", r["stale"])
assert missed[3] >= 5, f"rank 3 slept in 10 rounds but missed only {missed[3]}"
assert missed[3] >= max(missed[:3]) + 4, f"the others missed as many: {missed}"
assert r["skipped"][3] > r["straggler_rounds"][3], "rank 3 did not catch up by skipping"
PY
echo "ok: (a) rank 3 slept; the aggregator closed its rounds without it, and it caught up"

# (b) SGD
run sgd --optim sgd --lr 0.05
check sgd

# (d) memif
run memif --optim adam --steps 40 --transport memif
"$PY" - "$TMP/memif.json" <<'PY' || fail "(d) memif: $(cat "$TMP/memif.json")"
import json, sys
r = json.load(open(sys.argv[1]))["gcdl"]
assert len(set(r["crcs"])) == 1, r["crcs"]
assert r["aggregator_exit"] == 0 and r["worker_exits"] == [0, 0, 0, 0], r
print(f"ok: (d) memif: 40 rounds, replicas identical (CRC {r['crcs'][0]:08x})")
PY
