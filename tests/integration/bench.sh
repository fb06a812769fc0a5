#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# scripts/bench.sh --quick: one JSON-lines file with the machine, every kernel,
# the data plane for both methods and frame sizes, and the DPDK ceiling; the
# byte counts it reports follow from the frame format (no timing is checked);
# bad command lines are refused with status 2.
. "$(dirname "$0")/common.sh"

BENCH="$ROOT/scripts/bench.sh"
BUILD=$(cd "$(dirname "$GCDL")/.." && pwd)
if ! command -v dpdk-testpmd >/dev/null 2>&1; then
	echo "SKIP: dpdk-testpmd not installed (Debian package dpdk-dev)"
	exit 77
fi

for bad in "--runs 0" "--runs x" "--frobnicate" "-o"; do
	rc=0
	# shellcheck disable=SC2086
	GCDL_BUILD="$BUILD" bash "$BENCH" $bad >"$TMP/bad.out" 2>&1 || rc=$?
	[ "$rc" = 2 ] || fail "bench.sh $bad: status $rc, want 2"
	grep -q "bench.sh:" "$TMP/bad.out" || fail "bench.sh $bad: no message"
done
rc=0
GCDL_BUILD="$TMP/nowhere" bash "$BENCH" --quick -o "$TMP/x.jsonl" >"$TMP/nob.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "missing build: status $rc, want 2"
[ ! -e "$TMP/x.jsonl" ] || fail "a failed start wrote its results file"

GCDL_BUILD="$BUILD" bash "$BENCH" --quick -o "$TMP/r.jsonl" >"$TMP/out" 2>&1 ||
	fail "bench.sh --quick: $(grep -A30 'bench.sh:' "$TMP/out" | tail -40)"
grep -q "sgc / onebit_gc, mtu 9000" "$TMP/out" || fail "no sgc comparison in the summary"

python3 - "$TMP/r.jsonl" <<'PY' >"$TMP/check.out" 2>&1 || fail "results file: $(cat "$TMP/check.out")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
types = [r['type'] for r in recs]
assert types[0] == 'machine' and recs[0]['cpu_model'] and recs[0]['cpu_flags'], recs[0]
ks = {r['kernel'] for r in recs if r['type'] == 'kernel'}
assert ks >= {'quantize_1bit', 'sign_1bit', 'accumulate_1bit', 'unpack_1bit', 'rng_stream'}, ks
for r in recs:
    if r['type'] == 'kernel':
        assert r['mcoords_per_s'] > 0 and r['memcpy_gbytes_per_s'] > 0, r
dp = {(r['method'], r['mtu']): r for r in recs if r['type'] == 'dataplane'}
assert set(dp) == {(m, u) for m in ('onebit_gc', 'sgc') for u in (1500, 9000)}, set(dp)
dim, S, workers = 1000001, 256, 4
for (m, mtu), r in dp.items():
    # every worker sends its whole gradient every round (no stragglers)
    assert r['worker_coords'] == r['rounds'] * workers * dim, r
    assert r['agg_frames_per_s'] > 0 and r['worker_coords_per_s'] > 0, r
# payload bytes per worker and round: bits + one float32 scale per block,
# against 4 bytes per coordinate; a little more than 28x
for mtu in (1500, 9000):
    ratio = dp[('sgc', mtu)]['payload_bytes_per_round'] / dp[('onebit_gc', mtu)]['payload_bytes_per_round']
    assert 28.0 < ratio < 28.9, (mtu, ratio)
    assert dp[('sgc', mtu)]['payload_bytes_per_round'] == workers * 4 * dim
    assert dp[('onebit_gc', 9000)]['uplink_frames'] < dp[('onebit_gc', 1500)]['uplink_frames'] / 5
tp = {r['frame_bytes'] for r in recs if r['type'] == 'testpmd'}
assert tp == {1500, 9000}, tp
PY

# the round-level grid, one tiny cell: every figure there, the bytes exact
"$ROOT/scripts/bench_grid.sh" --quick --out "$TMP/grid.jsonl" >"$TMP/grid.md" 2>"$TMP/grid.err" ||
	fail "bench_grid.sh --quick failed: $(tail -n 5 "$TMP/grid.err")"
python3 - "$TMP/grid.jsonl" <<'PY' || fail "bench_grid.sh: records wrong"
import json, sys
rows = {r['label']: r for r in map(json.loads, open(sys.argv[1])) if 'label' in r}
one, sgc = rows['onebit_gc D=10000 N=4'], rows['sgc D=10000 N=4']
for r in (one, sgc):
    assert set(r['phases_ms']) == {'quantize', 'send', 'ingest', 'close', 'dl_encode', 'dl_rx'}, r
    assert r['phases_ms']['quantize'] > 0 and r['agg_rate'] > 0, r
# 1-bit up and down against float32 both ways: ~28x fewer bytes
assert 27 < sgc['total_B'] / one['total_B'] < 29, (sgc['total_B'], one['total_B'])
if 'mpi_ring D=10000 N=4' in rows:
    assert rows['mpi_ring D=10000 N=4']['total_B'] == 2 * 3 / 4 * 4 * 10000 * 4
PY
grep -q '^| onebit_gc D=10000 N=4 |' "$TMP/grid.md" || fail "bench_grid.sh: no table"
echo "OK"
