# SPDX-License-Identifier: BSD-3-Clause
"""Starting the gcdl processes of a PyTorch job.

A job is one ``gcdl --role aggregator`` and, beside each trainer (rank k), one
``gcdl --role worker --id k --grad-shm FILE``: the data plane, its wire format
and its aggregator stay gcdl's own; the trainer only exchanges one gradient
per round with its worker through FILE (gcdl.channel). They are processes of
their own, not a library inside the trainer, because a DPDK process pins
poll-mode lcores, owns hugepages and NIC queues and installs signal handlers:
none of which belongs inside a Python interpreter that PyTorch also runs its
threads in, and a crash of either side is then reported by the other instead
of taking it down.

Transports on one host, for development and the example:

- ``memif`` (the default): UNIX sockets in ``workdir``, a point-to-point link
  per worker, so the aggregator sends the downlink once per worker;
- ``af_packet``: a veth per process on a Linux bridge (root, iproute2), a
  shared segment as on a switch: the downlink is sent once, to its multicast
  group, and the bridge copies it to every worker's port.

``eal`` replaces the EAL options of every process for real NICs (then pass
``transport=None`` and name the ports with ``--vdev``/``-a`` yourself).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import List, Optional, Sequence


def gcdl_binary() -> str:
    """``$GCDL_BIN``, else this source tree's ``build/app/gcdl``, else ``gcdl`` on PATH."""
    env = os.environ.get("GCDL_BIN")
    if env:
        return env
    tree = Path(__file__).resolve().parents[3] / "build" / "app" / "gcdl"
    if tree.is_file():
        return str(tree)
    found = shutil.which("gcdl")
    if found:
        return found
    raise FileNotFoundError("no gcdl program: build it (scripts/run.sh or meson) or set GCDL_BIN")


class Job:
    """The gcdl side of a job: its profile, options and processes."""

    def __init__(self, profile: str, workers: int, dim: int, workdir: str,
                 sets: Sequence[str] = (), rounds: Optional[int] = None,
                 transport: Optional[str] = "memif", eal: Optional[List[str]] = None,
                 mem_mb: int = 64, key_file: Optional[str] = None, binary: Optional[str] = None):
        self.profile = profile
        self.workers = workers
        self.dim = dim
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.transport = transport
        self.eal = eal
        self.mem_mb = mem_mb
        self.binary = binary or gcdl_binary()
        self.procs: dict = {}
        self.token = uuid.uuid4().hex[:8]  # names this job's files and EAL prefixes
        self.links: List[tuple] = []
        if transport not in ("memif", "af_packet", None):
            raise ValueError(f"transport {transport!r}: memif, af_packet or None")
        if key_file is None:
            # safe by default: every frame tagged with a fresh job key
            key_file = str(self.workdir / "job.key")
            if not os.path.exists(key_file):
                subprocess.run([self.binary, "--gen-key", key_file], check=True,
                               stdout=subprocess.DEVNULL)
        self.options = ["--profile", profile, "--set", f"model.dim={dim}",
                        "--set", f"cluster.workers={workers}",
                        "--set", f"job.key_file={key_file}"]
        if rounds is not None:
            self.options += ["--rounds", str(rounds)]
        for s in sets:
            self.options += ["--set", s]

    def __getstate__(self):
        # a Job goes to the trainers' processes without the processes it started
        d = self.__dict__.copy()
        d["procs"] = {}
        return d

    # -- paths --------------------------------------------------------------
    def socket(self) -> str:
        return str(self.workdir / "agg.sock")

    def channel_path(self, k: int) -> str:
        """Worker k's channel: on /dev/shm when there is one (no disk writes)."""
        base = Path("/dev/shm") if Path("/dev/shm").is_dir() else self.workdir
        return str(base / f"gcdl-{self.token}-w{k}.grad")

    def output(self, who: str) -> Path:
        return self.workdir / f"{who}.out"

    def summary(self, who: str) -> dict:
        """The JSON summary (--summary-json) of "agg" or "w<k>"."""
        with open(self.workdir / f"{who}.json") as f:
            return json.load(f)

    # -- processes ----------------------------------------------------------
    def _eal(self, who: str, vdevs: List[str]) -> List[str]:
        if self.eal is not None:
            return list(self.eal) + ["--file-prefix", f"gcdl-{self.token}-{who}"]
        ncpu = os.cpu_count() or 1
        args = ["--no-huge", "--no-pci", "--no-shconf", "--file-prefix",
                f"gcdl-{self.token}-{who}", "-m", str(self.mem_mb),
                "--lcores", f"0@(0-{ncpu - 1})", "--log-level", "*:warning"]
        for v in vdevs:
            args += ["--vdev", v]
        return args

    def _start(self, who: str, vdevs: List[str], role: List[str]) -> subprocess.Popen:
        cmd = ([self.binary] + self._eal(who, vdevs) + ["--"] + self.options + role +
               ["--quiet", "--summary-json", str(self.workdir / f"{who}.json")])
        if self.transport == "af_packet":
            cmd = ["ip", "netns", "exec", self.netns(who)] + cmd
        out = open(self.output(who), "w")
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()
        self.procs[who] = p
        return p

    def netns(self, who: str) -> str:
        """af_packet: the network namespace of who's process (its eth0 a bridge port)."""
        return f"g{self.token[:6]}-{who}"

    def _bridge(self) -> None:
        """af_packet: a bridge, and per process a namespace whose eth0 is a port
        of it (one namespace each: DPDK's af_packet fanout groups are per
        namespace, and two processes' groups may collide in one)."""
        if self.links:
            return
        br = f"g{self.token[:6]}br"

        def ip(*a):
            subprocess.run(["ip", *a], check=True, stdout=subprocess.DEVNULL)
        ip("link", "add", br, "type", "bridge")
        self.links.append(("link", br))
        ip("link", "set", br, "up")
        for i, who in enumerate(["agg"] + [f"w{k}" for k in range(self.workers)]):
            ns, dev = self.netns(who), f"g{self.token[:6]}p{i}"
            ip("netns", "add", ns)
            self.links.append(("netns", ns))
            ip("link", "add", dev, "type", "veth", "peer", "name", "eth0", "netns", ns)
            ip("link", "set", dev, "master", br, "up")
            # no IPv6 chatter on the links (gcdl would count it as drops)
            subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                            "net.ipv6.conf.eth0.disable_ipv6=1"], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ip("-n", ns, "link", "set", "eth0", "up")

    def start_aggregator(self, extra: Sequence[str] = ()) -> subprocess.Popen:
        """Start the aggregator; with memif, wait until its socket listens."""
        vdevs = []
        if self.transport == "af_packet":
            self._bridge()
            vdevs = ["net_af_packet0,iface=eth0"]
        if self.transport == "memif":
            vdevs = [f"net_memif{k},role=server,id={k},socket={self.socket()}"
                     for k in range(self.workers)]
        p = self._start("agg", vdevs, ["--role", "aggregator"] + list(extra))
        if self.transport == "memif":
            deadline = time.monotonic() + 30
            while self.socket() not in open("/proc/net/unix").read():
                if p.poll() is not None:
                    raise RuntimeError(f"gcdl aggregator exited ({p.returncode}): "
                                       f"{self.tail('agg')}")
                if time.monotonic() > deadline:
                    raise RuntimeError("gcdl aggregator: its memif socket never listened")
                time.sleep(0.05)
            time.sleep(0.3)  # its other interfaces register right after
        return p

    def start_worker(self, k: int, extra: Sequence[str] = ()) -> subprocess.Popen:
        """Start worker k with its channel (gcdl.channel.GradChannel(channel_path(k)))."""
        vdevs = []
        if self.transport == "af_packet":
            vdevs = ["net_af_packet0,iface=eth0"]
        if self.transport == "memif":
            vdevs = [f"net_memif0,role=client,id={k},socket={self.socket()}"]
        return self._start(f"w{k}", vdevs, ["--role", "worker", "--id", str(k),
                                            "--grad-shm", self.channel_path(k)] + list(extra))

    def tail(self, who: str, lines: int = 8) -> str:
        try:
            text = self.output(who).read_text(errors="replace").splitlines()
        except OSError:
            return ""
        keep = [x for x in text if "mp action" not in x and "TELEMETRY" not in x]
        return "\n".join(keep[-lines:])

    def wait(self, who: str, timeout: float) -> int:
        p = self.procs[who]
        try:
            return p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.terminate()
            return p.wait(timeout=10)

    def stop(self) -> None:
        """Stop what this job started (processes, files, links); idempotent."""
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        for k in range(self.workers):
            try:
                os.unlink(self.channel_path(k))
            except OSError:
                pass
        for kind, name in reversed(self.links):  # a namespace takes its veth along
            subprocess.run(["ip", kind, "del", name], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.links = []
        # the EAL's runtime directories of this job's processes
        for run in ("/var/run/dpdk", os.environ.get("XDG_RUNTIME_DIR", "") + "/dpdk"):
            for d in Path(run).glob(f"gcdl-{self.token}-*") if os.path.isdir(run) else []:
                shutil.rmtree(d, ignore_errors=True)
