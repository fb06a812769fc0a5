#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The performance suite of docs/PERFORMANCE.md, in one run, into one JSON-lines
# file, then a short summary of medians on stdout:
#   machine   CPU model and flags, kernel path, load average, git revision;
#   kernels   gcdl-bench --json (each kernel next to a memcpy of the same bytes),
#             in cache (262144 coords) and DRAM-resident (16777216 coords);
#   dataplane gcdl in local mode on configs/bench.ini (synthetic gradients, one
#             worker lcore, one aggregator lcore), 1500- and 9000-byte frames,
#             methods onebit_gc and sgc (float32 frames);
#   testpmd   dpdk-testpmd io forwarding between two net_ring vdevs, the same
#             kind of virtual device, 1500- and 9000-byte frames.
#
#   scripts/bench.sh [-o FILE] [--runs N] [--quick]
#
# --runs N repeats every measurement N times (default 5; the summary quotes
# medians). --quick is a smoke run (1 run, tiny sizes) for CI. Takes about
# 4 minutes with the defaults on a 2-core machine. The binaries come from
# build/ (GCDL_BUILD=DIR for another build directory). Exit status 0 done, 1 a
# run failed, 2 bad command line or missing build.
set -euo pipefail
# shellcheck source=scripts/setup.sh
. "$(dirname "$0")/setup.sh"
cd "$GCDL_ROOT"

out=""
runs=5
quick=0
while [ $# -gt 0 ]; do
	case $1 in
	-o)
		[ $# -ge 2 ] || { echo "bench.sh: -o needs a file" >&2; exit 2; }
		out=$2
		shift 2
		;;
	--runs)
		[ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]?$ ]] || {
			echo "bench.sh: --runs needs an integer in 1..99" >&2; exit 2; }
		runs=$2
		shift 2
		;;
	--quick)
		quick=1
		shift
		;;
	-h | --help)
		sed -n '3,21p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "bench.sh: unknown argument '$1' (see --help)" >&2
		exit 2
		;;
	esac
done

bdir=${GCDL_BUILD:-build}
for b in "$bdir/app/gcdl" "$bdir/app/gcdl-bench"; do
	[ -x "$b" ] || { echo "bench.sh: $b is missing: build first (scripts/run.sh or ninja -C build)" >&2; exit 2; }
done
command -v dpdk-testpmd >/dev/null || { echo "bench.sh: dpdk-testpmd is missing (package dpdk-dev)" >&2; exit 2; }

if [ "$quick" = 1 ]; then
	runs=1
	sizes=(4096)
	min_time=0.02
	rounds=3
	tp_secs=2
else
	sizes=(262144 16777216)
	min_time=0.05
	rounds=20
	tp_secs=4
fi
[ -n "$out" ] || { mkdir -p runs; out=runs/bench-$(date +%Y%m%d-%H%M%S).jsonl; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/results.jsonl"
ncpu=$(nproc)
lcores="(0-2)@(0-$((ncpu - 1)))"
eal=(--no-huge --no-pci --no-shconf -m 1024 --lcores "$lcores")

# machine
python3 - "$tmp/results.jsonl" "$runs" "$quick" <<'EOF'
import json, os, subprocess, sys
info = {}
for line in open('/proc/cpuinfo'):
    k, _, v = line.partition(':')
    k = k.strip()
    if k in ('model name', 'flags') and k not in info:
        info[k] = v.strip()
try:
    rev = subprocess.run(['git', 'rev-parse', 'HEAD'], capture_output=True, text=True).stdout.strip()
except OSError:
    rev = ''
rec = {'type': 'machine', 'cpu_model': info.get('model name', ''),
       'cpu_flags': info.get('flags', '').split(), 'cpus': os.cpu_count(),
       'loadavg': open('/proc/loadavg').read().split()[:3], 'git': rev,
       'runs': int(sys.argv[2]), 'quick': sys.argv[3] == '1',
       'kernels_env': os.environ.get('GCDL_KERNELS', '')}
with open(sys.argv[1], 'a') as f:
    f.write(json.dumps(rec) + '\n')
EOF

echo "bench.sh: kernels (gcdl-bench, ${sizes[*]} coords, $runs runs)" >&2
for r in $(seq 1 "$runs"); do
	for d in "${sizes[@]}"; do
		"$bdir/app/gcdl-bench" --json --coords "$d" --min-time "$min_time" >"$tmp/k.json" || {
			echo "bench.sh: gcdl-bench failed" >&2; exit 1; }
		sed "s/^{/{\"type\": \"kernel\", \"run\": $r, /" "$tmp/k.json" >>"$tmp/results.jsonl"
	done
done

# gcdl's JSON summary (--summary-json) -> one JSON line
dp_record() { # method mtu run summary.json
	python3 - "$@" <<'EOF'
import json, sys
method, mtu, run, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
d = json.load(open(path))
c, f = d['counters'], d['figures']
rounds, wall = d['rounds'], f['wall_s']
payload, wire, accepted = c['uplink_payload_bytes'], c['uplink_wire_bytes'], c['uplink_accepted']
enc_s, tx_s = c['cpu_encode_ns'] / 1e9, c['cpu_tx_ns'] / 1e9
ing_s, dec_s = c['cpu_ingest_ns'] / 1e9, c['cpu_decode_ns'] / 1e9
def per(x, s):
    return x / s if s > 0 else None
rec = {'type': 'dataplane', 'method': method, 'mtu': mtu, 'run': run, 'rounds': rounds,
       'uplink_frames': accepted, 'uplink_payload_bytes': payload, 'uplink_wire_bytes': wire,
       'downlink_tx_bytes': c['downlink_tx_bytes'],
       'payload_bytes_per_round': payload / rounds, 'wire_bytes_per_round': wire / rounds,
       'wall_s': wall, 'time_per_round_ms': 1e3 * wall / rounds if wall else None,
       'worker_encode_ms': enc_s * 1e3, 'worker_tx_ms': tx_s * 1e3,
       'worker_coords': c['encode_coords'],
       'worker_coords_per_s': per(c['encode_coords'], enc_s + tx_s),
       'agg_ingest_ms': ing_s * 1e3, 'agg_frames_per_s': per(accepted, ing_s),
       'agg_payload_gbit_per_s': per(payload * 8 / 1e9, ing_s),
       'agg_coords_per_s': per(c['ingest_coords'], ing_s),
       'decode_ms': dec_s * 1e3, 'decode_coords_per_s': per(c['decode_coords'], dec_s)}
print(json.dumps(rec))
EOF
}

echo "bench.sh: data plane (configs/bench.ini, onebit_gc and sgc, 1500 and 9000 bytes, $runs runs)" >&2
for r in $(seq 1 "$runs"); do
	for method in onebit_gc sgc; do
		for mtu in 1500 9000; do
			log=$tmp/dp.log
			if ! "$bdir/app/gcdl" "${eal[@]}" --file-prefix "gcdl-bench-$$" -- \
				--profile configs/bench.ini --rounds "$rounds" --quiet \
				--set job.method=$method --set coding.mtu=$mtu \
				--summary-json "$tmp/dp.json" >"$log" 2>&1; then
				cat "$log" >&2
				echo "bench.sh: gcdl failed ($method, mtu $mtu)" >&2
				exit 1
			fi
			dp_record "$method" "$mtu" "$r" "$tmp/dp.json" >>"$tmp/results.jsonl"
		done
	done
done

echo "bench.sh: DPDK ceiling (dpdk-testpmd io, net_ring, 1500 and 9000 bytes, $runs runs)" >&2
for r in $(seq 1 "$runs"); do
	for len in 1500 9000; do
		# driven from python: SIGINT once tp_secs periods of stats were printed
		# (the first second, which includes the start, is dropped), or after 60 s
		python3 - "$len" "$r" "$tp_secs" "$tmp/tp.log" dpdk-testpmd "${eal[@]}" \
			--file-prefix "tp-bench-$$" --vdev net_ring0 --vdev net_ring1 -- \
			--forward-mode=io --tx-first --stats-period 1 --txpkts "$len" \
			--mbuf-size 9216 --max-pkt-len 9018 --nb-cores 1 --total-num-mbufs 4096 \
			>>"$tmp/results.jsonl" <<'EOF'
import json, re, signal, statistics, subprocess, sys, time
length, run, secs, log = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
p = subprocess.Popen(sys.argv[5:], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT, text=True)
pps, out, t0 = [], [], time.time()
for line in p.stdout:
    out.append(line)
    m = re.search(r'Rx-pps:\s+(\d+)', line)
    if m:
        pps.append(int(m.group(1)))
    if len(pps) >= 2 * (secs + 1) or time.time() - t0 > 60:
        break
p.send_signal(signal.SIGINT)
try:
    rest, _ = p.communicate(timeout=30)
    out.append(rest or '')
except subprocess.TimeoutExpired:
    p.kill()
    p.communicate()
open(log, 'w').write(''.join(out))
# one value per port per period; the first period includes the start
per_s = [(pps[i] + pps[i + 1]) / 2 for i in range(0, len(pps) - 1, 2)]
if not per_s:
    sys.exit('bench.sh: dpdk-testpmd printed no Rx-pps in 60 s:\n' + ''.join(out)[-3000:])
if len(per_s) > 1:
    per_s = per_s[1:]
fps = statistics.median(per_s)
print(json.dumps({'type': 'testpmd', 'vdev': 'net_ring', 'mode': 'io', 'frame_bytes': length,
                  'run': run, 'periods': len(per_s), 'frames_per_s_per_port': fps,
                  'gbit_per_s_per_port': fps * length * 8 / 1e9}))
EOF
	done
done

cp "$tmp/results.jsonl" "$out"

python3 - "$out" <<'EOF'
import json, statistics as st, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
mach = recs[0]
med = lambda xs: st.median(xs) if xs else float('nan')
print('== gcdl bench: %s, %d cpus, load %s, %d run(s), medians ==' %
      (mach['cpu_model'], mach['cpus'], ' '.join(mach['loadavg']), mach['runs']))
ks = [r for r in recs if r['type'] == 'kernel']
for coords in sorted({r['coords'] for r in ks}):
    print('kernels, %d coords (path %s):' % (coords, ks[0]['path']))
    for k in dict.fromkeys(r['kernel'] for r in ks):
        sel = [r for r in ks if r['kernel'] == k and r['coords'] == coords]
        print('  %-16s %9.1f Mcoords/s  ratio_vs_memcpy %.3f' %
              (k, med([r['mcoords_per_s'] for r in sel]), med([r['ratio_vs_memcpy'] for r in sel])))
dp = [r for r in recs if r['type'] == 'dataplane']
print('data plane (1 worker lcore, 1 aggregator lcore, CPU time of each):')
for m in ('onebit_gc', 'sgc'):
    for mtu in (1500, 9000):
        sel = [r for r in dp if r['method'] == m and r['mtu'] == mtu]
        if not sel:
            continue
        print('  %-9s mtu %4d: worker %.3g coords/s; aggregator %.3g frames/s, %.2f Gbit/s payload, '
              '%.3g coords/s; decode %.3g coords/s; %.1f ms/round' %
              (m, mtu, med([r['worker_coords_per_s'] for r in sel]),
               med([r['agg_frames_per_s'] for r in sel]), med([r['agg_payload_gbit_per_s'] for r in sel]),
               med([r['agg_coords_per_s'] for r in sel]), med([r['decode_coords_per_s'] for r in sel]),
               med([r['time_per_round_ms'] for r in sel])))
for mtu in (1500, 9000):
    a = [r for r in dp if r['method'] == 'onebit_gc' and r['mtu'] == mtu]
    b = [r for r in dp if r['method'] == 'sgc' and r['mtu'] == mtu]
    if a and b:
        print('  sgc / onebit_gc, mtu %d: %.1fx the payload bytes per round, %.1fx the wire bytes, '
              '%.2fx the time per round' %
              (mtu, med([r['payload_bytes_per_round'] for r in b]) / med([r['payload_bytes_per_round'] for r in a]),
               med([r['wire_bytes_per_round'] for r in b]) / med([r['wire_bytes_per_round'] for r in a]),
               med([r['time_per_round_ms'] for r in b]) / med([r['time_per_round_ms'] for r in a])))
tp = [r for r in recs if r['type'] == 'testpmd']
for length in (1500, 9000):
    sel = [r for r in tp if r['frame_bytes'] == length]
    if sel:
        print('DPDK ceiling, testpmd io on net_ring, %d bytes: %.3g frames/s per port (%.0f Gbit/s)' %
              (length, med([r['frames_per_s_per_port'] for r in sel]), med([r['gbit_per_s_per_port'] for r in sel])))
print('results: %s' % sys.argv[1])
EOF
