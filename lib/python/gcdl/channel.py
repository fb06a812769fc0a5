# SPDX-License-Identifier: BSD-3-Clause
"""The trainer's side of the external-gradient channel (include/gcdl/extgrad.h).

A gcdl worker node started with ``--grad-shm FILE`` (model.type external)
creates FILE, a shared mapping. Round t: the trainer writes its gradient v_k
into ``in`` and sets ``in_round = t + 1``; the node quantizes and sends it;
every worker decodes the round from the relayed 1-bit frames into slot
t % slots of ``out`` and sets ``out_rounds = t + 1``. No system call per
round on either side: both poll the counters (aligned 64-bit words, written by
one side each). This side issues no memory barrier: it relies on x86-64's
store and load ordering (the data is written before its counter and read
after it), and refuses other machines.
"""
from __future__ import annotations

import mmap
import os
import platform
import struct
import time

import numpy as np

MAGIC = 0x44475847
VERSION = 1
DATA_OFF = 4096
MAX_PARTS = 64

STARTING, RUNNING, ENDED, FAILED = 0, 1, 2, 3
STATE_NAMES = {STARTING: "starting", RUNNING: "running", ENDED: "ended", FAILED: "failed"}

# byte offsets of gcdl_extgrad_hdr (static-asserted in lib/core/job/extgrad.c)
_OFF_STATE = 36
_OFF_PARTS = 64
_OFF_WEIGHTS = 320
_OFF_MESSAGE = 576
_OFF_IN_ROUND = 1024
_OFF_TAKEN = 1088
_OFF_OUT_ROUNDS = 1152
_OFF_STRAGGLER = 1216
_OFF_STALE = 1280


class ChannelError(RuntimeError):
    """The node failed, ended early, or the trainer fell too far behind."""


class GradChannel:
    """One trainer's view of its worker node's channel."""

    def __init__(self, path: str, timeout: float = 60.0, alive=None):
        """Map ``path`` once the node has created it (waits up to ``timeout`` s;
        ``alive()``, if given, is polled meanwhile and False aborts the wait)."""
        if platform.machine() not in ("x86_64", "AMD64"):
            raise ChannelError(f"{platform.machine()}: the channel's ordering is x86-64's; "
                               "other machines need memory barriers this module lacks")
        deadline = time.monotonic() + timeout
        while True:
            try:
                fd = os.open(path, os.O_RDWR)
                size = os.fstat(fd).st_size
                if size >= DATA_OFF:
                    break
                os.close(fd)
            except FileNotFoundError:
                pass
            if alive is not None and not alive():
                raise ChannelError(f"{path}: the gcdl worker exited before creating it")
            if time.monotonic() > deadline:
                raise ChannelError(f"{path}: not created within {timeout:.0f} s")
            time.sleep(0.01)
        try:
            self._mm = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self._u32 = np.frombuffer(self._mm, dtype=np.uint32, count=DATA_OFF // 4)
        self._u64 = np.frombuffer(self._mm, dtype=np.uint64, count=DATA_OFF // 8)
        while int(self._u32[0]) != MAGIC:  # written last by the node
            if time.monotonic() > deadline:
                raise ChannelError(f"{path}: no gcdl channel header")
            time.sleep(0.01)
        (magic, version, self.dim, self.slots, self.worker, self.workers, self.partitions,
         nparts, self.rounds, _state, self.seed, stride, out_off) = struct.unpack_from(
            "<10IQQQ", self._mm, 0)
        if version != VERSION:
            raise ChannelError(f"{path}: channel version {version}, this package reads {VERSION}")
        if not 0 < nparts <= MAX_PARTS:
            raise ChannelError(f"{path}: {nparts} partitions")
        self.parts = list(struct.unpack_from(f"<{nparts}I", self._mm, _OFF_PARTS))
        self.weights = list(struct.unpack_from(f"<{nparts}f", self._mm, _OFF_WEIGHTS))
        self._in = np.frombuffer(self._mm, dtype=np.float32, count=self.dim, offset=DATA_OFF)
        self._stride = stride
        self._out_off = out_off
        self.path = path

    # -- the counters -------------------------------------------------------
    def _get(self, off: int) -> int:
        return int(self._u64[off // 8])

    @property
    def state(self) -> int:
        return int(self._u32[_OFF_STATE // 4])

    @property
    def message(self) -> str:
        raw = self._mm[_OFF_MESSAGE:_OFF_MESSAGE + 448]
        return raw.split(b"\0", 1)[0].decode("utf-8", "replace")

    @property
    def decoded(self) -> int:
        """Rounds decoded so far: the gradient of round t is readable for t < decoded."""
        return self._get(_OFF_OUT_ROUNDS)

    @property
    def stale(self) -> int:
        """Gradients this trainer posted after their round had closed."""
        return self._get(_OFF_STALE)

    def is_straggler(self, t: int) -> bool:
        """True when this worker is an injected straggler of round t (known once
        round t - 1 is decoded): its gradient would not be sent."""
        return self._get(_OFF_STRAGGLER) == t + 1

    # -- the rounds ---------------------------------------------------------
    def check(self) -> None:
        """Raise ChannelError if the node failed."""
        if self.state == FAILED:
            raise ChannelError(f"gcdl worker {self.worker} failed: {self.message}")

    def wait(self, cond, what: str, timeout: float, alive=None) -> None:
        """Poll until cond() (sleeping 50 us to 1 ms), the node fails, or timeout."""
        deadline = time.monotonic() + timeout
        nap = 50e-6
        while not cond():
            st = self.state
            if st == FAILED:
                raise ChannelError(f"gcdl worker {self.worker} failed: {self.message}")
            if st == ENDED and not cond():
                raise ChannelError(f"gcdl worker {self.worker} ended while waiting for {what}")
            if alive is not None and not alive():
                raise ChannelError(f"gcdl worker {self.worker} exited while waiting for {what}")
            if time.monotonic() > deadline:
                raise ChannelError(f"gcdl worker {self.worker}: no {what} within {timeout:.0f} s")
            time.sleep(nap)
            nap = min(nap * 2, 1e-3)

    def post(self, t: int, grad: np.ndarray) -> None:
        """Hand the node this trainer's gradient v_k of round t (dim float32)."""
        if grad.shape != (self.dim,):
            raise ValueError(f"gradient of {grad.shape} coordinates, the channel has {self.dim}")
        self._in[:] = grad
        self._u64[_OFF_IN_ROUND // 8] = t + 1  # after the data (stores stay in order)

    def read(self, t: int, out: np.ndarray) -> None:
        """Copy the decoded gradient of round t (t < decoded) into out."""
        if t >= self.decoded:
            raise ValueError(f"round {t} is not decoded yet ({self.decoded} are)")
        start = self._out_off + (t % self.slots) * self._stride
        src = np.frombuffer(self._mm, dtype=np.float32, count=self.dim, offset=start)
        np.copyto(out, src)
        # the node overwrites slot t % slots with round t + slots before it
        # counts it: from decoded = t + slots on, the copy may be torn
        if self.decoded >= t + self.slots:
            raise ChannelError(f"round {t}: overwritten while read; this trainer fell more than "
                               f"{self.slots} rounds behind its gcdl worker")

    def close(self) -> None:
        self._in = self._u32 = self._u64 = None
        self._mm.close()
