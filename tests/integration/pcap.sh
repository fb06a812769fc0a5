#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# --pcap: every frame aggregator 0 receives (worker 0's garbage and the
# workers' hellos included) and sends (configs, model and update frames) lands
# in a classic pcap file, and scripts/wireshark/gcdl.lua decodes it (the
# update goes down as 1-bit frames, downlink.mode onebit). The file
# is checked twice: its headers and record lengths by a small Python reader,
# against the aggregator's frame and byte counters (JSON summary); its gcdl
# fields through tshark and the dissector, against its drops, accepted frames
# and the shape of configs/ci.ini (N = 4 workers, one chunk, dim = 4 classes *
# (20 features + 1) = 84, scale_block 64: 2 scales a frame); and the
# dissector's CRC check: good on every frame of the nodes, bad on the garbage
# gcdl dropped for it.
#
# tshark as root: Debian's /usr/share/wireshark/init.lua sets
# run_user_scripts_when_superuser = true and does not set disable_lua, so
# `-X lua_script:FILE` runs as root with no -o option or environment; tshark
# only prints a "Running as user root" warning on stderr (discarded below).
# The test checks that the gcdl fields come out, so a tshark with Lua
# disabled fails here instead of passing silently.
. "$(dirname "$0")/common.sh"

R=20
G=2
N=4
LUA="$ROOT/scripts/wireshark/gcdl.lua"

# Rejection paths first: an unwritable file is one start-up line naming it, status 2.
rc=0
run_gcdl "$TMP/bad" --profile "$CI_PROFILE" --rounds 1 --quiet \
	--pcap "$TMP/no-such-dir/run.pcap" || rc=$?
[ $rc = 2 ] || fail "--pcap into a missing directory exited with $rc, want 2: $(tail -n 5 "$TMP/bad")"
grep -q "^gcdl: --pcap $TMP/no-such-dir/run.pcap: cannot create the capture file: " "$TMP/bad" ||
	fail "no start-up line naming the capture file: $(tail -n 5 "$TMP/bad")"
[ ! -e "$TMP/no-such-dir" ] || fail "the failed --pcap created something"
rc=0
run_gcdl "$TMP/noarg" --profile "$CI_PROFILE" --rounds 1 --quiet --pcap || rc=$?
[ $rc = 2 ] || fail "--pcap without a file exited with $rc, want 2"

t0=$(date +%s)
run_gcdl "$TMP/out" --profile "$CI_PROFILE" --rounds $R --quiet --metrics "$TMP/m.csv" \
	--inject-garbage $G --pcap "$TMP/run.pcap" ||
	fail "gcdl --pcap exited with $?: $(tail -n 20 "$TMP/out")"
t1=$(date +%s)

S=$TMP/out.json
A=nodes.$(jnode "$S" aggregator 0).counters
rx=$(jget "$S" $A.rx_frames)
rx_bytes=$(jget "$S" $A.rx_bytes)
tx=$(jget "$S" $A.tx_frames)
tx_bytes=$(jget "$S" $A.tx_bytes)
up_tx=$(jget "$S" counters.uplink_tx_frames)
accepted=$(jget "$S" $A.uplink_accepted)
late=$(jget "$S" $A.late)
dups=$(jget "$S" $A.duplicates)
skips=$(jget "$S" counters.skipped)
garbage=$(jget "$S" counters.garbage_sent)
[ "$garbage" = $((R * G)) ] || fail "garbage sent $garbage, want $((R * G))"
drop() { # the aggregator's drop counter of a reason
	jget "$S" $A.drop_$1
}

# 1. The file itself: global header, one record per frame, lengths = the summary's bytes.
python3 - "$TMP/run.pcap" "$((rx + tx))" "$((rx_bytes + tx_bytes))" \
	"$t0" "$t1" <<'PY' || fail "pcap file check failed"
import struct, sys
path, want_n, want_bytes, t0, t1 = sys.argv[1], *map(int, sys.argv[2:])
data = open(path, "rb").read()
magic, vmaj, vmin, zone, sigfigs, snaplen, linktype = struct.unpack_from("<IHHiIII", data, 0)
assert (magic, vmaj, vmin, snaplen, linktype) == (0xa1b2c3d4, 2, 4, 65535, 1), \
    f"global header {magic:#x} {vmaj}.{vmin} snaplen {snaplen} linktype {linktype}"
off, n, total, last = 24, 0, 0, 0
while off < len(data):
    sec, usec, incl, orig = struct.unpack_from("<IIII", data, off)
    assert incl == orig and 0 < incl <= 9018, f"record {n}: incl {incl} orig {orig}"
    assert usec < 1000000 and t0 - 1 <= sec <= t1 + 1, f"record {n}: time {sec}.{usec}"
    ts = sec * 1000000 + usec
    assert ts >= last, f"record {n}: time goes back"
    last = ts
    off += 16 + incl
    n += 1
    total += orig
assert off == len(data), "trailing bytes"
assert n == want_n, f"{n} records, want {want_n} (received + sent)"
assert total == want_bytes, f"{total} bytes, want {want_bytes}"
PY

# 2. Through the dissector.
command -v tshark >/dev/null || { echo "SKIP: tshark is not installed (scripts/setup.sh installs it)"; exit 77; }
tshark -r "$TMP/run.pcap" -X lua_script:"$LUA" -T fields -E separator=/t -E occurrence=a \
	-E aggregator=, -e eth.src -e gcdl.magic -e gcdl.type -e gcdl.round -e gcdl.sender \
	-e gcdl.chunk -e gcdl.crc32 -e gcdl.scale -e gcdl.value_count -e gcdl.coord_count \
	-e gcdl.scale_block -e gcdl.payload_len >"$TMP/fields" 2>"$TMP/tshark.err" ||
	fail "tshark failed: $(tail -n 5 "$TMP/tshark.err")"
[ "$(wc -l <"$TMP/fields")" = $((rx + tx)) ] ||
	fail "tshark decoded $(wc -l <"$TMP/fields") frames, want $((rx + tx))"
grep -q "$(printf '\t0x4743\t')" "$TMP/fields" ||
	fail "no gcdl fields: is Lua disabled in tshark? $(head -n 3 "$TMP/tshark.err")"

# columns: 1 src 2 magic 3 type 4 round 5 sender 6 chunk 7 crc 8 scales 9 values
#          10 coord_count 11 scale_block 12 payload_len
GARBAGE_MAC=02:00:00:00:00:ee
awk -F'\t' -v R=$R -v N=$N -v gmac=$GARBAGE_MAC \
	-v rx="$rx" -v tx="$tx" -v up_tx="$up_tx" -v accepted="$accepted" \
	-v late="$late" -v dups="$dups" -v skips="$skips" \
	-v d_hdr="$(($(drop truncated) + $(drop ethertype) + $(drop magic)))" \
	-v d_sender="$(drop sender)" -v d_magic="$(drop magic)" -v drops="$(jget "$S" $A.drops)" \
	-v trunc_kind=$((R * G / 10)) '
function bad(msg) { print "FAIL (pcap): " msg > "/dev/stderr"; err = 1; exit 1 }
$2 != "" && $7 == "" { short++ }
$2 == "0x4744" { bad_magic++ }
$2 == "0x4743" && $3 == 1 && $7 != "" {
	onebit++
	if ($5 + 0 >= N) out_of_range++
	if ($1 == gmac) next
	worker++
	if ($5 + 0 >= N || $6 != "0") bad("worker frame " NR ": sender " $5 " chunk " $6)
	if ($10 != "84" || $11 != "64" || $12 != "19") bad("frame " NR ": count " $10 " block " $11 " len " $12)
	ns = split($8, s, ",")
	if (ns != 2) bad("frame " NR ": " ns " scales, want ceil(84/64) = 2")
	for (i = 1; i <= ns; i++) { if (s[i] + 0 < 0) bad("frame " NR ": scale " s[i]); if (s[i] + 0 > 0) pos++ }
	r = $4 + 0; if (r >= R) bad("frame " NR ": round " r)
	if (++per_round[r] > N) bad("round " r ": more than " N " worker frames")
	if (worker == 1 || r < rmin) rmin = r
	if (r > rmax) rmax = r
	next
}
$2 == "0x4743" && $3 == 11 {
	# the 1-bit update (downlink.mode onebit): 2 scales + 11 bytes of bits,
	# one per port, the mbuf shared by the 4 ports of the aggregator
	updates++
	if ($5 != N || $6 != "0" || $10 != "84" || $11 != "64" || $12 != "19")
		bad("1-bit update frame " NR ": sender " $5 " chunk " $6 " count " $10 " block " $11 " len " $12)
	up_round[$4 + 0]++
	next
}
$2 == "0x4743" && $3 == 4 {
	updates++
	if ($5 != N || $6 != "0" || $9 != "84") bad("update frame " NR ": sender " $5 " chunk " $6 " values " $9)
	up_round[$4 + 0]++
	next
}
$2 == "0x4743" && $3 == 5 { models++; if ($5 != N || $9 != "84") bad("model frame " NR); next }
$2 == "0x4743" && $3 == 6 { hellos++; next }
$2 == "0x4743" && $3 == 7 { configs++; next }
END {
	if (err) exit 1
	if (hellos != N || configs != N || models != N)
		bad(hellos " hellos, " configs " configs, " models " model frames, want " N " each")
	if (updates + models + configs != tx) bad("frames sent " updates + models + configs ", summary " tx)
	if (onebit != rx - hellos - d_hdr) bad("onebit frames " onebit " != received " rx " - hellos - header drops " d_hdr)
	if (onebit - (drops - d_hdr) != accepted + late + dups)
		bad("onebit " onebit " - later drops " drops - d_hdr " != accepted " accepted " + late " late " + dups " dups)
	# garbage kinds the dissector must show as such: a 49-byte frame with half a
	# header (kinds cycle over 10, so R*G/10 of them), and magic 0x4744
	if (short != trunc_kind) bad(short " gcdl frames with a truncated header, want " trunc_kind)
	if (bad_magic != d_magic) bad(bad_magic " frames with magic 0x4744, drop magic " d_magic)
	if (worker != up_tx) bad("worker frames " worker ", summary uplink sent " up_tx)
	if (worker != R * N - skips) bad("worker frames " worker ", want " R * N - skips)
	if (out_of_range != d_sender) bad("onebit frames with sender >= N: " out_of_range ", drop sender " d_sender)
	if (pos == 0) bad("every scale is zero")
	if (rmin != 0 || rmax != R - 1) bad("worker frames span rounds " rmin ".." rmax ", want 0.." R - 1)
	for (r = 0; r < R; r++)
		if (up_round[r] != N) bad("round " r ": " up_round[r] " update frames, want " N)
	printf "ok: %d frames captured, %d onebit (%d from workers), %d updates, rounds 0..%d\n", \
		NR, onebit, worker, updates, R - 1
}' "$TMP/fields" || fail "decoded frames do not match the summary"

# 3. The dissector checks the CRC: every frame of the nodes is good, and the
# garbage frames gcdl dropped for their CRC are flagged (more may be: garbage
# of other kinds, dropped earlier for their magic or length, is corrupted too)
tshark -r "$TMP/run.pcap" -X lua_script:"$LUA" -T fields -E separator=/t \
	-e eth.src -e gcdl.crc32.good >"$TMP/crcs" 2>>"$TMP/tshark.err" ||
	fail "tshark (CRC) failed: $(tail -n 5 "$TMP/tshark.err")"
nodes_good=$(awk -F'\t' -v g=$GARBAGE_MAC '$1 != g && $2 == 1' "$TMP/crcs" | wc -l)
# (random garbage has random MACs and EtherTypes: no gcdl fields, no verdict)
nodes_bad=$(awk -F'\t' -v g=$GARBAGE_MAC '$1 != g && $2 == 0' "$TMP/crcs" | wc -l)
garbage_bad=$(awk -F'\t' -v g=$GARBAGE_MAC '$1 == g && $2 == 0' "$TMP/crcs" | wc -l)
assert_eq "$nodes_bad" 0 "the nodes' frames the dissector does not find a good CRC in"
[ "$nodes_good" -gt 0 ] || fail "no frame with a good CRC"
[ "$(drop crc)" -gt 0 ] || fail "no garbage frame dropped for its CRC (drop_crc 0)"
[ "$garbage_bad" -ge "$(drop crc)" ] ||
	fail "the dissector flags $garbage_bad garbage frames' CRC, gcdl dropped $(drop crc) for it"
tshark -r "$TMP/run.pcap" -X lua_script:"$LUA" >"$TMP/lines" 2>/dev/null ||
	fail "tshark (summary lines) failed"
grep -q "\[BAD CRC\]" "$TMP/lines" || fail "no [BAD CRC] in the info column"
echo "ok: CRC good on all $nodes_good frames of the nodes; $garbage_bad garbage frames flagged (drop crc $(drop crc))"
