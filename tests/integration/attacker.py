#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A host on the segment that is not part of the job: it sends gcdl frames
from a raw AF_PACKET socket, built here from the wire format of
include/gcdl/frame.h and the join payloads of docs/MULTIHOST.md (struct,
a CRC-32C of its own, hashlib.blake2b): nothing of gcdl's encoder is used.

It does not hold the job key. What it sends, --passes times each, once the
start file appears (the flood once, after the first pass):
  spoof     1-bit gradient frames in a worker's name, from its MAC, of a
            round of the job, with scales of 1e30 or NaN: untagged, or
            tagged with a key of its own
  hello     forged hellos for a worker (a new incarnation) and resyncs
            asking to catch up to round 3000, untagged or with its own key
  nan       1-bit update frames with NaN scales from the aggregator's MAC to
            each worker, untagged or with its own key
  sweep     every round from 1 in turn: scales of 1e30 in each worker's name and
            NaN updates to each worker, untagged (for job.insecure)
  replay    every frame of a capture of an earlier run with the same key,
            sent again to where it went then (the MACs are the same)
  flood     --flood frames as fast as it can: random bytes under gcdl's
            EtherType, and well-formed gradient frames of a worker id the
            job does not have (a receiver may miss some: counted as sent)
The report (JSON) counts the frames sent by kind and by destination, and
what each kind should be dropped as.
"""
import argparse
import hashlib
import json
import os
import random
import socket
import struct
import sys
import time

ETHERTYPE = 0x88B5
MAGIC = 0x4743
ONEBIT, FLOAT, SIGN, UPDATE, MODEL, HELLO, CONFIG, RESYNC = 1, 2, 3, 4, 5, 6, 7, 8
UPDATE1 = 11
FLAG_AUTH = 0x0001
JOIN_VERSION = 2
BROADCAST = b"\xff" * 6


def mac(text):
    return bytes(int(x, 16) for x in text.split(":"))


VERSION = 2  # frames carry a CRC-32C (version 1: zlib's CRC-32)


def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


CRC32C_TABLE = _crc32c_table()


def crc32c(data):
    """CRC-32C (Castagnoli), as gcdl_crc32c(0, data, len)."""
    c = 0xFFFFFFFF
    for b in data:
        c = CRC32C_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def header(mtype, job, rnd, sender, chunk, first, count, sblock, plen, flags):
    return struct.pack(">HBBIIHHIIIHHI", MAGIC, VERSION, mtype, job, rnd, sender, flags, chunk,
                       first, count, sblock, plen, 0)


def frame(dst, src, mtype, job, rnd, sender, payload, chunk=0, first=0, count=0, sblock=0,
          key=None):
    """One gcdl frame: CRC-32C over the header (crc zeroed) and the payload; with
    a key, the flag and a BLAKE2b-128 tag of EtherType..payload end."""
    flags = FLAG_AUTH if key is not None else 0
    h = bytearray(header(mtype, job, rnd, sender, chunk, first, count, sblock, len(payload),
                         flags))
    crc = crc32c(bytes(h) + payload)
    h[32:36] = struct.pack(">I", crc)
    f = dst + src + struct.pack(">H", ETHERTYPE) + bytes(h) + payload
    if key is not None:
        f += hashlib.blake2b(f[12:], digest_size=16, key=key).digest()
    return f.ljust(60, b"\0")


def hello_payload(worker, profile_hash, incarnation, rnd):
    return struct.pack(">IIQQI", JOIN_VERSION, worker, profile_hash, incarnation, rnd)


def read_pcap(path):
    data = open(path, "rb").read()
    end = "<" if struct.unpack("<I", data[:4])[0] == 0xa1b2c3d4 else ">"
    off, frames = 24, []
    while off + 16 <= len(data):
        incl = struct.unpack(end + "I", data[off + 8:off + 12])[0]
        frames.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return frames


class Attacker:
    def __init__(self, a):
        self.a = a
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETHERTYPE))
        self.s.bind((a.iface, 0))
        self.me = mac(a.mac)
        self.agg = mac(a.agg)
        self.workers = [mac(m) for m in a.workers.split(",")]
        self.own_key = os.urandom(32)
        self.rng = random.Random(a.seed)
        # counts[kind][dest] and what the receivers should count them as
        self.counts = {}
        self.expect = {}

    def send(self, kind, dest, f, expect, receivers=1):
        """Send one frame; `receivers` hosts of class dest count it as
        `expect` (a frame to a group address reaches every host)."""
        self.s.send(f)
        self.counts.setdefault(kind, {}).setdefault(dest, 0)
        self.counts[kind][dest] += 1
        self.expect_at(dest, expect, receivers)

    def expect_at(self, dest, expect, n=1):
        self.expect.setdefault(dest, {}).setdefault(expect, 0)
        self.expect[dest][expect] += n

    def onebit(self, rnd, k, scales, key):
        a = self.a
        nb = (a.coords + a.scale_block - 1) // a.scale_block
        pl = struct.pack(">%df" % nb, *scales[:nb]) if len(scales) >= nb else b""
        pl += self.rng.randbytes((a.coords + 7) // 8)
        return frame(self.agg, self.workers[k], ONEBIT, a.job, rnd, k, pl, 0, 0, a.coords,
                     a.scale_block, key)

    def spoof(self):
        a = self.a
        for k in range(len(self.workers)):
            rnd = self.rng.randrange(a.rounds)
            for key in (None, self.own_key):
                for v in (1e30, float("nan")):
                    self.send("spoof", "aggregator", self.onebit(rnd, k, [v] * 1024, key),
                              "auth")

    def hello(self):
        a = self.a
        for k in range(len(self.workers)):
            inc = self.rng.getrandbits(64)
            for key in (None, self.own_key):
                pl = hello_payload(k, a.profile_hash, inc, 0xffffffff)
                self.send("hello", "aggregator",
                          frame(BROADCAST, self.me, HELLO, a.job, 0, k, pl, key=key), "auth")
                pl = hello_payload(k, a.profile_hash, inc, 3000)
                self.send("hello", "aggregator",
                          frame(self.agg, self.workers[k], RESYNC, a.job, 0, k, pl, key=key),
                          "auth")

    def nan_update(self, rnd, k, key):
        """A 1-bit update frame (the downlink of downlink.mode onebit) whose
        scales are NaN, from the aggregator's MAC to worker k."""
        a = self.a
        n = len(self.workers)
        nb = (a.coords + a.scale_block - 1) // a.scale_block
        pl = struct.pack(">%df" % nb, *([float("nan")] * nb)) + b"\x55" * ((a.coords + 7) // 8)
        return frame(self.workers[k], self.agg, UPDATE1, a.job, rnd, n, pl, 0, 0, a.coords,
                     a.scale_block, key)

    def nan(self):
        a = self.a
        for k in range(len(self.workers)):
            rnd = self.rng.randrange(a.rounds)
            for key in (None, self.own_key):
                self.send("nan", "worker", self.nan_update(rnd, k, key), "auth")

    def sweep(self):
        """Every round in turn, fast: a gradient with scales of 1e30 in each
        worker's name and a NaN update to each worker, untagged. Without a
        key (job.insecure) the sweep meets the job's current round once a
        pass, and the value checks alone must hold."""
        a = self.a
        n = len(self.workers)
        # from round 1: round 0 has no earlier round to bound its scales by
        # (README, Security: only 10^30 holds there without a key)
        for rnd in range(1, a.rounds):
            for k in range(n):
                self.send("sweep", "aggregator", self.onebit(rnd, k, [1e30] * 1024, None),
                          "value")
                self.send("sweep", "worker", self.nan_update(rnd, k, None), "value")

    def replay(self, frames):
        """The earlier run's frames, each to where it went: a hello is
        answered with a challenge (a config the worker does not take), a
        config from the aggregator is late at the worker (not its
        incarnation), everything else fails its tag (another session).
        A frame to a group address (broadcast hellos, the multicast
        downlink) reaches every host: the aggregator drops a downlink frame
        by its type, every worker counts it."""
        n = len(self.workers)
        for f in frames:
            if len(f) < 50 or f[12:14] != b"\x88\xb5":
                continue
            mtype = f[17]
            src = f[6:12]
            group = f[0] & 1
            if src == self.agg:
                if group:
                    # the multicast downlink: every worker counts it; the
                    # aggregator gets it too and drops it by its type
                    self.send("replay", "worker", f, "auth", receivers=n)
                    self.expect_at("aggregator", "malformed")
                else:
                    self.send("replay", "worker", f, "late" if mtype == CONFIG else "auth")
            else:
                self.send("replay", "aggregator", f, "challenge" if mtype == HELLO else "auth")

    def flood(self, n):
        a = self.a
        flood_cache = {}
        t0 = time.monotonic()
        for i in range(n):
            if i % 2 == 0:
                body = self.rng.randbytes(self.rng.randrange(2, 120))
                f = self.agg + self.me + struct.pack(">H", ETHERTYPE) + body
                self.send("flood", "aggregator", f.ljust(60, b"\0"), "malformed")
            else:
                # well-formed, tagged with its own key, in the name of a
                # worker id the job does not have: malformed too (sender),
                # so that the paced kinds' auth drops stay countable exactly
                k = self.rng.randrange(len(self.workers))
                rnd = self.rng.randrange(a.rounds)
                f = flood_cache.get((rnd, k))
                if f is None:
                    # (cached: a CRC-32C in Python costs more than the send)
                    f = bytearray(self.onebit(rnd, k, [1.0] * 1024, None))
                    f[26:28] = struct.pack(">H", 1000 + k)
                    f[46:50] = b"\0\0\0\0"
                    f[46:50] = struct.pack(">I", crc32c(bytes(f[14:50]) + bytes(f[50:50 + (
                        struct.unpack(">H", f[44:46])[0])])))
                    f = flood_cache[(rnd, k)] = bytes(f)
                self.send("flood", "aggregator", f, "malformed")
        return time.monotonic() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--iface", default="eth0")
    p.add_argument("--mac", required=True, help="this host's MAC")
    p.add_argument("--agg", required=True, help="the aggregator's MAC")
    p.add_argument("--workers", required=True, help="the workers' MACs, comma-separated")
    p.add_argument("--job", type=int, default=1)
    p.add_argument("--rounds", type=int, required=True)
    p.add_argument("--coords", type=int, required=True, help="coordinates of a chunk")
    p.add_argument("--scale-block", type=int, default=64)
    p.add_argument("--profile-hash", type=lambda x: int(x, 0), default=0)
    p.add_argument("--replay", action="append", default=[], help="pcap of an earlier run")
    p.add_argument("--flood", type=int, default=0, help="frames of the flood")
    p.add_argument("--kinds", default="spoof,hello,nan,replay")
    p.add_argument("--pause-ms", type=float, default=0.5, help="between two frames of a kind")
    p.add_argument("--start-file", help="wait for this file before the first attack")
    p.add_argument("--passes", type=int, default=2, help="times every kind is sent")
    p.add_argument("--max-s", type=float, default=60.0, help="longest wait for the start file")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--report", required=True)
    a = p.parse_args()

    frames = [f for path in a.replay for f in read_pcap(path)]
    if a.profile_hash == 0:
        # the profile hash is no secret: every hello carries it
        for f in frames:
            if len(f) >= 50 + 28 and f[12:14] == b"\x88\xb5" and f[17] == HELLO:
                a.profile_hash = struct.unpack(">Q", f[58:66])[0]
                break
    x = Attacker(a)
    kinds = [k for k in a.kinds.split(",") if k]
    t0 = time.monotonic()
    if a.start_file:
        while not os.path.exists(a.start_file):
            if time.monotonic() - t0 > a.max_s:
                sys.exit("attacker: no start file after %.0f s" % a.max_s)
            time.sleep(0.01)
    t1 = time.monotonic()
    flood_s = 0.0
    for p in range(a.passes):
        for kind in kinds:
            before = sum(sum(d.values()) for d in x.counts.values())
            if kind == "replay":
                for f in frames:
                    x.replay([f])
                    time.sleep(a.pause_ms / 1000)
            else:
                getattr(x, kind)()
                sent = sum(sum(d.values()) for d in x.counts.values()) - before
                time.sleep(a.pause_ms / 1000 * sent)
        if a.flood and p == 0:
            flood_s = x.flood(a.flood)
    json.dump({"passes": a.passes, "sent": x.counts, "expect": x.expect,
               "flood_s": round(flood_s, 3), "attack_s": round(time.monotonic() - t1, 3),
               "end": time.time(), "replayed_frames": len(frames)},
              open(a.report, "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
