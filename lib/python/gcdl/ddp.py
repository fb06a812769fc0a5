# SPDX-License-Identifier: BSD-3-Clause
"""gcdl as a DDP communication hook (PyTorch's convention for gradient compression).

Each round t, the hook hands this rank's gradient (all of DDP's buckets,
flattened in the order of ``model.parameters()``) to its gcdl worker, which
sends it as 1-bit frames; the future resolves with the gradient of round t
that every worker decoded from the same relayed frames (downlink.mode relay),
so ``optimizer.step()`` is PyTorch's own and every replica takes the same
step: any optimizer (SGD, Adam) keeps the replicas bit-identical.

A round never waits for a slow rank: the aggregator closes it at its deadline.
A rank that was late finds the round already decoded: :meth:`GcdlState.
catch_up` applies the rounds it missed, in order, without computing their
gradients; a rank that gcdl injects as a straggler of round t skips the
computation the same way (its gradient would not be sent).

The few lines a training script adds::

    state = gcdl.ddp.GcdlState(channel, ddp_model)
    ddp_model.register_comm_hook(state, gcdl.ddp.comm_hook)
    while state.round < rounds:
        if state.catch_up(optimizer):         # missed, or a straggler's round
            continue
        optimizer.zero_grad()
        loss_for(state.round).backward()       # the hook runs round state.round
        optimizer.step()
"""
from typing import List

import torch
import torch.distributed as dist

from .channel import GradChannel


# no "from __future__ import annotations" here: DDP checks the hook's
# annotations as objects (bucket: dist.GradBucket)


class GcdlState:
    """What the hook needs: the channel, the parameters' places in one vector."""

    def __init__(self, channel: GradChannel, model: torch.nn.Module, timeout: float = 600.0,
                 alive=None):
        params = [p for p in model.parameters() if p.requires_grad]
        dim = sum(p.numel() for p in params)
        if dim != channel.dim:
            raise ValueError(f"the model has {dim} parameters, the gcdl job model.dim = "
                             f"{channel.dim}")
        self.ch = channel
        self.params = params
        self.offset = {}
        off = 0
        for p in params:
            self.offset[id(p)] = (off, p.numel())
            off += p.numel()
        self.round = 0                     # the next round this replica applies
        self.flat = torch.zeros(dim)       # this rank's gradient of the round
        self.decoded = torch.zeros(dim)    # the round's decoded gradient
        self._pending: List[tuple] = []    # (bucket, future) until the last bucket
        self.timeout = timeout
        self.alive = alive
        self.skipped = 0                   # rounds applied without computing
        self.stragglers = 0                # of them, injected straggler rounds
        self.exchanges = 0                 # rounds computed (through the hook)

    def _read(self, t: int) -> None:
        self.ch.wait(lambda: self.ch.decoded > t, f"the decoded gradient of round {t}",
                     self.timeout, self.alive)
        self.ch.read(t, self.decoded.numpy())

    def catch_up(self, optimizer: torch.optim.Optimizer, lr_at=None) -> int:
        """Apply, without computing, every round this rank would only waste
        work on: the rounds already decoded (it was late), and a round in
        which gcdl injects this worker as a straggler. ``lr_at(t)``, if
        given, sets the step size of round t first (a schedule must depend
        on the round only, as every replica applies every round). Returns
        how many rounds it applied."""
        done = 0
        while self.round < self.ch.rounds:
            t = self.round
            # DDP rebuilds its buckets in a rank's second iteration, with a
            # broadcast every rank must join: every rank computes its first
            # two rounds, straggler or not (a late one is only applied)
            straggler = self.ch.is_straggler(t) and self.exchanges >= 2
            if not straggler and self.ch.decoded <= t:
                break
            self._read(t)
            for p in self.params:
                off, n = self.offset[id(p)]
                p.grad = self.decoded[off:off + n].view_as(p).clone()
            if lr_at is not None:
                for g in optimizer.param_groups:
                    g["lr"] = lr_at(t)
            optimizer.step()
            self.round += 1
            self.skipped += 1
            self.stragglers += straggler
            done += 1
        return done

    def exchange(self) -> None:
        """Round self.round: send self.flat, wait for the decoded gradient."""
        t = self.round
        if not self.ch.is_straggler(t) and self.ch.decoded <= t:
            self.ch.post(t, self.flat.numpy())
        self._read(t)
        self.round += 1
        self.exchanges += 1


def comm_hook(state: GcdlState, bucket: dist.GradBucket) -> torch.futures.Future[torch.Tensor]:
    """DDP communication hook: see the module's documentation."""
    for p, g in zip(bucket.parameters(), bucket.gradients()):
        off, n = state.offset[id(p)]
        state.flat[off:off + n].copy_(g.reshape(-1))
    fut: torch.futures.Future[torch.Tensor] = torch.futures.Future()
    state._pending.append((bucket, fut))
    if bucket.is_last():
        # every bucket of the iteration is in: one gcdl round for all of them
        state.exchange()
        for b, f in state._pending:
            # through the bucket's own views of its buffer
            for p, g in zip(b.parameters(), b.gradients()):
                off, n = state.offset[id(p)]
                g.copy_(state.decoded[off:off + n].view_as(g))
            f.set_result(b.buffer())
        state._pending.clear()
    return fut

