# SPDX-License-Identifier: BSD-3-Clause
"""The uncoded baseline: PyTorch DDP over Gloo on one machine.

``ranks`` processes, each on one thread; rank k holds partition k of
M = ranks iid partitions (:class:`gcdl.sampler.PartitionBatches`) and
differentiates the plain mean cross-entropy of its batch of it (weight 1:
DDP AVERAGES the ranks' gradients, so the step follows the mean over
partitions, the same objective as gcdl's coded jobs). Every rank appends one
JSON line of results to ``args.out``; :func:`main_gloo` spawns the ranks,
collects the lines and prints a summary.

Run as ``python3 -m gcdl.baseline --ranks 2 --steps 200`` from
``lib/python`` (``--help`` for the options), or call :func:`main_gloo` with
any object that has some of :class:`BaselineArgs`' attributes (such as the
``argparse`` namespace of ``scripts/examples/torch_fmnist_cnn.py``).

OpenBLAS (which Debian's PyTorch calls for its matrix products) starts its
own threads whatever ``torch.set_num_threads`` says, and they spin on the
other cores; :func:`main_gloo` sets ``OPENBLAS_NUM_THREADS=1`` in the
environment the ranks inherit.
"""

import argparse
import dataclasses
import json
import os
import socket
import tempfile
import time
from typing import Any, Optional

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel as DDP

from .data import DEFAULT_PATH, load_fashion_mnist
from .models import MODELS, decayed_lr, evaluate, model_checksum, param_count
from .sampler import PartitionBatches, coded_loss


@dataclasses.dataclass
class BaselineArgs:
    """The options of a baseline run (the command line's, one for one)."""
    ranks: int = 2                  # processes, and partitions M
    steps: int = 200                # optimizer steps (rounds)
    batch: int = 64                 # rows per rank and step; 0: the whole partition
    model: str = "small"            # a key of gcdl.models.MODELS
    optim: str = "adam"             # adam or sgd
    lr: float = 1e-3
    momentum: float = 0.9           # sgd only
    seed: int = 1                   # model init and data split
    data: str = DEFAULT_PATH        # the Fashion-MNIST directory
    train_rows: int = 0             # first training rows only (0: all 60,000)
    port: int = 0                   # rendezvous port on 127.0.0.1 (0: a free one)
    out: Optional[str] = None       # JSON lines file (None: a temporary one)
    decay_at: float = 0.0           # lr x 0.1 from this fraction of the steps on (0: never)


def run_gloo(rank: int, world: int, port: int, args: BaselineArgs) -> None:
    """One rank of the baseline (the target of ``torch.multiprocessing.spawn``).

    Trains ``args.steps`` steps and appends one JSON line to ``args.out``:
    the args, ``rank``, ``wall_s`` (the training loop only, from a barrier
    after the set-up), ``params`` (P), ``bytes_per_step`` (the FORMULA
    2 (world - 1) / world * 4 P, what a ring allreduce of P float32 sends per
    rank, not a measurement), ``crc`` (:func:`gcdl.models.model_checksum`)
    and, on rank 0 only, ``test_accuracy`` and ``test_loss`` on the 10,000
    test rows.
    """
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}",
                            rank=rank, world_size=world)
    try:
        x, y = load_fashion_mnist(args.data, train=True, limit=args.train_rows or None)
        torch.manual_seed(args.seed)  # the same init everywhere (DDP broadcasts rank 0's anyway)
        model = MODELS[args.model]()
        ddp = DDP(model, broadcast_buffers=False)
        optim = make_optimizer(args, ddp.parameters())
        batches = PartitionBatches(len(x), world, args.seed, args.batch)
        dist.barrier()
        start = time.perf_counter()
        for t in range(args.steps):
            for g in optim.param_groups:
                g["lr"] = decayed_lr(args.lr, t, args.steps, args.decay_at)
            optim.zero_grad()
            coded_loss(ddp, x, y, [(batches.batch(t, rank), 1.0)]).backward()
            optim.step()
        wall = time.perf_counter() - start
        p = param_count(model)
        result = dict(dataclasses.asdict(args), rank=rank, wall_s=wall, params=p,
                      bytes_per_step=2 * (world - 1) / world * 4 * p, crc=model_checksum(model))
        if rank == 0:
            xt, yt = load_fashion_mnist(args.data, train=False)
            result["test_accuracy"], result["test_loss"] = evaluate(model, xt, yt)
        with open(args.out, "a") as f:
            f.write(json.dumps(result) + "\n")
    finally:
        dist.destroy_process_group()


def make_optimizer(args: Any, params) -> torch.optim.Optimizer:
    """``args.optim``'s optimizer (adam, or sgd with ``args.momentum``, 0.9 if
    absent) at ``args.lr``: the same for the Gloo ranks and the gcdl ranks."""
    if args.optim == "adam":
        return torch.optim.Adam(params, lr=args.lr)
    if args.optim == "sgd":
        return torch.optim.SGD(params, lr=args.lr, momentum=getattr(args, "momentum", 0.9))
    raise ValueError(f"optimizer {args.optim!r}: adam or sgd")


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (the ranks' rendezvous)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main_gloo(options: Any) -> dict:
    """Spawn the ranks of :func:`run_gloo`, wait, summarise.

    ``options``: a :class:`BaselineArgs`, or any object whose attributes of
    the same names are taken (the others keep their defaults).

    Returns and prints (one line a rank) ``{"backend": "gloo", "ranks",
    "steps", "params", "model", "optim", "test_accuracy", "test_loss" (rank
    0's), "wall_s" (spawn to exit, set-up included), "train_wall_s" (the
    slowest rank's training loop), "crcs" (by rank), "replicas_identical",
    "bytes_per_step" (the ring allreduce formula, not measured), "per_rank"
    (the ranks' JSON records)}``. Only the lines this run appends to
    ``out`` are read back.
    """
    args = BaselineArgs(**{f.name: getattr(options, f.name)
                           for f in dataclasses.fields(BaselineArgs) if hasattr(options, f.name)})
    os.environ["OPENBLAS_NUM_THREADS"] = "1"  # inherited by the spawned ranks
    if args.out is None:
        fd, path = tempfile.mkstemp(prefix="gcdl-gloo-", suffix=".jsonl")
        os.close(fd)
        args.out = path
    start = os.path.getsize(args.out) if os.path.exists(args.out) else 0
    t0 = time.monotonic()
    mp.spawn(run_gloo, args=(args.ranks, args.port or free_port(), args),
             nprocs=args.ranks, join=True)
    wall = time.monotonic() - t0
    with open(args.out) as f:
        f.seek(start)
        per_rank = sorted((json.loads(line) for line in f), key=lambda r: r["rank"])
    r0 = per_rank[0]
    summary = {"backend": "gloo", "ranks": args.ranks, "steps": args.steps,
               "params": r0["params"], "model": args.model, "optim": args.optim,
               "test_accuracy": r0["test_accuracy"], "test_loss": r0["test_loss"],
               "wall_s": wall, "train_wall_s": max(r["wall_s"] for r in per_rank),
               "crcs": [r["crc"] for r in per_rank],
               "replicas_identical": len({r["crc"] for r in per_rank}) == 1,
               "bytes_per_step": r0["bytes_per_step"], "per_rank": per_rank}
    print(f"gloo baseline: {args.ranks} ranks, {args.model} (P = {r0['params']}), {args.optim} "
          f"lr {args.lr}, {args.steps} steps of {args.batch} rows per rank, {wall:.1f} s in all")
    for r in per_rank:
        print(f"  rank {r['rank']}: training {r['wall_s']:.2f} s "
              f"({args.steps / r['wall_s']:.1f} steps/s), crc {r['crc']:08x}")
    print(f"  replicas identical: {summary['replicas_identical']}; test accuracy "
          f"{r0['test_accuracy']:.4f}; {r0['bytes_per_step']:.0f} bytes sent per rank per step "
          f"(ring allreduce formula, not measured); records in {args.out}")
    return summary


def parse_args(argv=None) -> BaselineArgs:
    """A :class:`BaselineArgs` from the command line (``--help`` lists the defaults)."""
    d = BaselineArgs()
    p = argparse.ArgumentParser(description="PyTorch DDP over Gloo, the uncoded baseline.")
    p.add_argument("--ranks", type=int, default=d.ranks, help="processes, and partitions M")
    p.add_argument("--steps", type=int, default=d.steps, help="optimizer steps")
    p.add_argument("--batch", type=int, default=d.batch, help="rows per rank and step (0: all)")
    p.add_argument("--model", choices=sorted(MODELS), default=d.model)
    p.add_argument("--optim", choices=("adam", "sgd"), default=d.optim)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--momentum", type=float, default=d.momentum, help="sgd only")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--data", default=d.data, help="Fashion-MNIST directory")
    p.add_argument("--train-rows", type=int, default=d.train_rows, help="0: all 60,000")
    p.add_argument("--port", type=int, default=d.port, help="rendezvous port (0: a free one)")
    p.add_argument("--out", default=d.out, help="JSON lines file (default: a temporary one)")
    return BaselineArgs(**vars(p.parse_args(argv)))


if __name__ == "__main__":
    main_gloo(parse_args())
