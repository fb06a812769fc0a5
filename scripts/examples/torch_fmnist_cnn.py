#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A small CNN on Fashion-MNIST with PyTorch's DDP, over gcdl and over Gloo.

    scripts/examples/torch_fmnist_cnn.py                  # gcdl, then Gloo, compared
    scripts/examples/torch_fmnist_cnn.py --backend gcdl --steps 200 --model tiny

gcdl: one aggregator and N ranks; each rank is a PyTorch process beside its
own gcdl worker (lib/python/gcdl: the DDP communication hook gcdl.ddp), over
af_packet on veths and a Linux bridge (as on a switch), or memif. Every round each rank's gradient goes up as 1 bit per coordinate
(onebit_gc_ef, configs/torch-fmnist.ini), the accepted frames come down
relayed (every worker decodes the same gradient) and each rank steps its own
optimizer: the replicas stay bit-identical (checked at the end). Stragglers
are injected (stragglers.p); --sleep-rank K makes rank K really slow.

Gloo: the same model, optimizer, seed and data, DDP's default allreduce.
Both report accuracy, wall time, bytes per step, and the final model's CRC on
every rank. --json FILE writes the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lib" / "python"))
# one thread per rank, BLAS included: Debian's PyTorch uses OpenBLAS, which
# starts a thread per core whatever torch.set_num_threads says (the ranks
# inherit this before they import torch)
os.environ["OPENBLAS_NUM_THREADS"] = "1"

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402
from torch.nn.parallel import DistributedDataParallel as DDP  # noqa: E402

import gcdl.ddp  # noqa: E402
from gcdl.baseline import free_port, main_gloo, make_optimizer  # noqa: E402
from gcdl.channel import RUNNING, GradChannel  # noqa: E402
from gcdl.data import load_fashion_mnist  # noqa: E402
from gcdl.models import MODELS, decayed_lr, evaluate, model_checksum, param_count  # noqa: E402
from gcdl.node import Job  # noqa: E402
from gcdl.sampler import PartitionBatches, coded_loss  # noqa: E402


def gcdl_rank(k: int, args, job: Job, port: int, queue) -> None:
    """Rank k: its data, model and DDP; then its gcdl worker; then the rounds."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=k,
                            world_size=args.ranks)
    x, y = load_fashion_mnist(args.data, train=True, limit=args.train_rows or None)
    torch.manual_seed(args.seed)
    model = MODELS[args.model]()
    # DDP broadcasts rank 0's parameters; the hook replaces its allreduce
    ddp = DDP(model, broadcast_buffers=False)
    opt = make_optimizer(args, model.parameters())
    res = {"rank": k}
    if k == 0:
        xt, yt = load_fashion_mnist(args.data, train=False)
        res["test_rows"] = len(yt)
        if args.initial_accuracy:
            res["initial_accuracy"], _ = evaluate(model, xt, yt)
    proc = job.start_worker(k)
    try:
        res.update(gcdl_rounds(k, args, job, proc, ddp, opt, x, y))
    finally:
        if proc.poll() is None:  # this rank failed: so does its worker
            proc.terminate()
            proc.wait(10)
        dist.destroy_process_group()
    res["crc"] = model_checksum(model)
    if k == 0:
        res["test_accuracy"], res["test_loss"] = evaluate(model, xt, yt)
    queue.put(res)


def gcdl_rounds(k: int, args, job: Job, proc, ddp, opt, x, y) -> dict:
    """Rank k's rounds, beside its running gcdl worker."""
    alive = lambda: proc.poll() is None  # noqa: E731
    ch = GradChannel(job.channel_path(k), timeout=120, alive=alive)
    ch.wait(lambda: ch.state == RUNNING, "the first round", 300, alive)
    state = gcdl.ddp.GcdlState(ch, ddp, alive=alive)
    ddp.register_comm_hook(state, gcdl.ddp.comm_hook)
    batches = PartitionBatches(len(y), ch.partitions, ch.seed, args.batch)
    t0 = time.monotonic()
    computed = 0

    def lr_at(t):
        return decayed_lr(args.lr, t, ch.rounds, args.decay_at)
    while state.round < ch.rounds:
        if state.catch_up(opt, lr_at):
            continue
        t = state.round
        for g in opt.param_groups:
            g["lr"] = lr_at(t)
        if k == args.sleep_rank and args.sleep_from <= t < args.sleep_to:
            time.sleep(args.sleep_s)  # a slow rank: the others do not wait for it
        opt.zero_grad()
        loss = coded_loss(ddp, x, y, [(batches.batch(t, i), w)
                                      for i, w in zip(ch.parts, ch.weights)])
        loss.backward()  # the hook: round t over gcdl
        opt.step()
        computed += 1
        if k == 0 and args.progress and (t + 1) % args.progress == 0:
            print(f"gcdl rank 0: round {t + 1}/{ch.rounds} loss {loss.item():.4f} "
                  f"{time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    wall = time.monotonic() - t0
    rc = job.wait(f"w{k}", 60)
    out = {"wall_s": wall, "computed": computed, "skipped": state.skipped,
           "straggler_rounds": state.stragglers, "stale": ch.stale, "worker_exit": rc}
    ch.close()
    return out


def run_gcdl(args) -> dict:
    model = MODELS[args.model]()
    dim = param_count(model)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="gcdl-torch-"))
    sets = [f"stragglers.p={args.stragglers}", f"job.seed={args.seed}"] + args.set
    job = Job(args.profile, args.ranks, dim, str(work), sets=sets,
              rounds=args.steps, transport=args.transport)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = free_port()
    t0 = time.monotonic()
    procs = [ctx.Process(target=gcdl_rank, args=(k, args, job, port, queue))
             for k in range(args.ranks)]
    results = []
    try:
        job.start_aggregator()
        for p in procs:
            p.start()
        while len(results) < args.ranks:
            try:
                results.append(queue.get(timeout=5))
            except Exception:  # noqa: BLE001 (queue.Empty): is everyone alive?
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead or job.procs["agg"].poll() not in (None, 0):
                    raise RuntimeError("a rank or the aggregator failed:\n" +
                                       "\n".join(f"{w}: {job.tail(w)}" for w in
                                                 ["agg"] + [f"w{k}" for k in
                                                            range(args.ranks)]))
        agg_rc = job.wait("agg", 120)
        for p in procs:
            p.join(60)
    finally:
        for p in procs:  # a failed run: no rank outlives it
            if p.is_alive():
                p.terminate()
                p.join(10)
        job.stop()
    wall = time.monotonic() - t0
    results.sort(key=lambda r: r["rank"])
    agg = job.summary("agg")["counters"]
    workers = [job.summary(f"w{k}")["counters"] for k in range(args.ranks)]
    up = sum(w.get("uplink_tx_bytes", 0) for w in workers)
    down = agg.get("tx_bytes", 0) - agg.get("control_tx_bytes", 0)
    recv = [w.get("rx_bytes", 0) for w in workers]
    steps = args.steps
    out = {
        "backend": "gcdl", "ranks": args.ranks, "steps": steps, "params": dim,
        "model": args.model, "optim": args.optim, "stragglers_p": args.stragglers,
        "test_accuracy": results[0]["test_accuracy"], "test_loss": results[0]["test_loss"],
        "test_rows": results[0]["test_rows"],
        "initial_accuracy": results[0].get("initial_accuracy"), "wall_s": wall,
        "train_wall_s": max(r["wall_s"] for r in results),
        "crcs": [r["crc"] for r in results],
        "replicas_identical": len({r["crc"] for r in results}) == 1,
        "computed": [r["computed"] for r in results],
        "skipped": [r["skipped"] for r in results],
        "straggler_rounds": [r["straggler_rounds"] for r in results],
        "stale": [r["stale"] for r in results],
        "aggregator_exit": agg_rc, "worker_exits": [r["worker_exit"] for r in results],
        "uplink_bytes": up, "downlink_bytes": down, "all_tx_bytes": up + agg.get("tx_bytes", 0) +
        sum(w.get("tx_bytes", 0) - w.get("uplink_tx_bytes", 0) for w in workers),
        "rx_bytes_per_rank": recv,
        "stragglers_counted": agg.get("stragglers", 0),
        "late": agg.get("late", 0),
    }
    # every byte any process sent (the aggregator's multicast downlink once, as
    # it sends it; joins and control included), and a rank's link: what its
    # worker sent and received
    out["total_bytes_per_step"] = out["all_tx_bytes"] / steps
    out["rank_link_bytes_per_step"] = (sum(w.get("tx_bytes", 0) for w in workers) +
                                       sum(recv)) / args.ranks / steps
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=["gcdl", "gloo", "both"], default="both")
    ap.add_argument("--ranks", type=int, default=4)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=64, help="rows per partition per step")
    ap.add_argument("--model", choices=sorted(MODELS), default="small")
    ap.add_argument("--optim", choices=["adam", "sgd"], default="adam")
    ap.add_argument("--lr", type=float, default=None, help="default: 2e-3 Adam, 0.05 SGD")
    ap.add_argument("--decay-at", type=float, default=0.75,
                    help="the step size x 0.1 from this fraction of the steps on (0: never)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stragglers", type=float, default=0.2, help="gcdl: injected p")
    ap.add_argument("--sleep-rank", type=int, default=-1, help="gcdl: this rank sleeps ...")
    ap.add_argument("--sleep-from", type=int, default=0, help="... from this round")
    ap.add_argument("--sleep-to", type=int, default=0, help="... to this one")
    ap.add_argument("--sleep-s", type=float, default=0.0, help="... this long each round")
    ap.add_argument("--train-rows", type=int, default=0, help="0: all 60000")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--profile", default=str(next(
        (p for p in (ROOT / "configs" / "torch-fmnist.ini",   # in the source tree
                     Path(__file__).resolve().parents[1] / "configs" / "torch-fmnist.ini")
         if p.exists()), "torch-fmnist.ini")), help="gcdl: the job's profile")
    ap.add_argument("--set", action="append", default=[], help="gcdl profile key S.K=V")
    ap.add_argument("--workdir", default=None, help="gcdl: outputs and sockets")
    ap.add_argument("--transport", choices=["memif", "af_packet"], default="af_packet",
                    help="gcdl: memif (a link per worker) or af_packet (veths on a bridge, "
                    "the downlink multicast once; root)")
    ap.add_argument("--progress", type=int, default=100, help="rounds between lines (0: none)")
    ap.add_argument("--json", default=None, help="write the figures here")
    ap.add_argument("--initial-accuracy", action="store_true",
                    help="also evaluate the untrained model (rank 0)")
    args = ap.parse_args()
    if args.lr is None:
        args.lr = 2e-3 if args.optim == "adam" else 0.05
    if args.ranks < 2 or args.steps < 1:
        ap.error("--ranks >= 2 and --steps >= 1")
    report = {}
    if args.backend in ("gcdl", "both"):
        report["gcdl"] = run_gcdl(args)
        print("gcdl:", json.dumps(report["gcdl"]), flush=True)
    if args.backend in ("gloo", "both"):
        b = main_gloo(args)
        # the ring allreduce's formula (not a measurement): 2 (N-1)/N x 4 bytes
        # per parameter sent by each rank, and as many received
        b["total_bytes_per_step"] = args.ranks * b["bytes_per_step"]
        b["rank_link_bytes_per_step"] = 2 * b["bytes_per_step"]
        report["gloo"] = b
        print("gloo:", json.dumps({k: v for k, v in b.items() if k != "per_rank"}), flush=True)
    if "gcdl" in report and "gloo" in report:
        g, b = report["gcdl"], report["gloo"]
        report["total_bytes_ratio"] = b["total_bytes_per_step"] / g["total_bytes_per_step"]
        report["rank_link_bytes_ratio"] = (b["rank_link_bytes_per_step"] /
                                           g["rank_link_bytes_per_step"])
        print(f"accuracy gcdl {g['test_accuracy']:.4f} gloo {b['test_accuracy']:.4f}; "
              f"wall gcdl {g['wall_s']:.0f} s gloo {b['wall_s']:.0f} s; bytes per step, all "
              f"processes: gcdl {g['total_bytes_per_step']:.0f} gloo "
              f"{b['total_bytes_per_step']:.0f} ({report['total_bytes_ratio']:.1f}x fewer); "
              f"a rank's link (sent + received): gcdl {g['rank_link_bytes_per_step']:.0f} "
              f"gloo {b['rank_link_bytes_per_step']:.0f} "
              f"({report['rank_link_bytes_ratio']:.1f}x fewer)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
