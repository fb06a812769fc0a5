# SPDX-License-Identifier: BSD-3-Clause
"""The gradient-coding data split and the loss a worker differentiates.

As in ``docs/METHOD.md``: the n training rows are cut into M partitions
D_1..D_M (iid: a seeded permutation of the rows cut into M nearly equal
contiguous pieces), the objective is F(w) = (1/M) sum_i f_i(w), and a worker
k holding the partitions S_k computes

    v_k = sum over i in S_k of grad f_i(w) / (M r_i),

r_i the number of workers holding partition i, so that the sum of v_k over
all workers is grad F(w) exactly. Here f_i is the mean cross-entropy over a
batch of partition i's rows; for the sum to decode to the full gradient,
every worker holding partition i must draw the SAME batch of it in a round,
which is what :class:`PartitionBatches` guarantees: the batch depends only on
(seed, round, partition), never on the worker.
"""

from typing import Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class PartitionBatches:
    """M iid partitions of n rows and the batch each one contributes per round.

    The permutation is ``torch.randperm(n_rows)`` from
    ``torch.Generator().manual_seed(seed)``; partition i is
    ``perm[off[i]:off[i + 1]]`` with ``off[i] = i * n_rows // M`` (torch
    keeps only the low 32 bits of that seed).

    Args:
        n_rows: rows in the training set.
        partitions: M, at most n_rows.
        seed: the job's seed, 0 <= seed < 2^128.
        batch: rows drawn per partition and round, uniformly with replacement;
            0 (or at least the partition's size) means the whole partition.
    """

    def __init__(self, n_rows: int, partitions: int, seed: int, batch: int):
        if not 0 < partitions <= n_rows:
            raise ValueError(f"{partitions} partitions of {n_rows} rows: need 1..{n_rows}")
        if seed < 0 or batch < 0:
            raise ValueError(f"seed {seed} and batch {batch} must not be negative")
        self.partitions, self.seed, self.rows_per_batch = partitions, int(seed), batch
        self.perm = torch.randperm(n_rows, generator=torch.Generator().manual_seed(self.seed))
        self.offsets = [i * n_rows // partitions for i in range(partitions + 1)]

    def partition(self, i: int) -> torch.Tensor:
        """All the row indices of partition i (0-based), as a LongTensor."""
        return self.perm[self.offsets[i]:self.offsets[i + 1]]

    def batch(self, round_t: int, partition_i: int) -> torch.Tensor:
        """The rows partition i contributes in round t, identical on every rank.

        Drawn from numpy's counter-based Philox4x64 stream, keyed by the seed,
        its counter starting at ((round_t << 16) | partition_i) << 128: for
        round_t < 2^32 and partition_i < 2^16 every (round, partition) has its
        own stream, with no possible collision (torch's CPU generator would
        not do: it keeps only the low 32 bits of its seed). numpy does not
        promise the same draws across its versions: ranks on different
        machines need the same numpy.
        """
        round_t, partition_i = int(round_t), int(partition_i)  # Python ints: no overflow below
        if not (0 <= round_t < 1 << 32 and 0 <= partition_i < min(self.partitions, 1 << 16)):
            raise ValueError(f"round {round_t}, partition {partition_i}: out of range")
        rows = self.partition(partition_i)
        if self.rows_per_batch == 0 or self.rows_per_batch >= len(rows):
            return rows
        stream = np.random.Philox(key=self.seed, counter=((round_t << 16) | partition_i) << 128)
        pick = np.random.Generator(stream).integers(0, len(rows), self.rows_per_batch)
        return rows[torch.from_numpy(pick)]


def coded_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
               batches: Sequence[Tuple[torch.Tensor, float]]) -> torch.Tensor:
    """The loss whose gradient is one rank's share of the round's gradient.

    Returns sum over (rows, weight) in ``batches`` of
    ``weight * cross_entropy(model(x[rows]), y[rows])``, each cross-entropy the
    mean over its batch; one forward pass over all the rows together.

    The weights decide what the ranks' gradients add up to:

    * Gradient coding (gcdl sums the ranks' gradients, it does not average
      them): rank k passes one entry per partition i it holds, weight
      1 / (M * r_i); the sum over all ranks is then the gradient of
      (1/M) sum_i f_i, the mean over partitions.
    * The Gloo baseline (DDP AVERAGES the gradients over the ``world`` ranks,
      M = world, rank k holds partition k only): rank k passes
      ``[(batch of partition k, 1.0)]``, its own plain mean cross-entropy;
      DDP's average is then the same mean over partitions. Weight 1/M there
      would shrink the step M times.
    """
    rows = torch.cat([r for r, _ in batches])
    per_row = torch.cat([torch.full((len(r),), w / len(r)) for r, w in batches])
    losses = F.cross_entropy(model(x[rows]), y[rows], reduction="none")
    return (losses * per_row).sum()


if __name__ == "__main__":
    pb = PartitionBatches(n_rows=60000, partitions=4, seed=1, batch=8)
    print("partition sizes:", [len(pb.partition(i)) for i in range(4)])
    print("round 0, partition 2:", pb.batch(0, 2).tolist())
    again = PartitionBatches(n_rows=60000, partitions=4, seed=1, batch=8)
    assert torch.equal(pb.batch(7, 3), again.batch(7, 3)), "a batch must not depend on the rank"
    assert not torch.equal(pb.batch(7, 3), pb.batch(8, 3))
    assert set(pb.batch(5, 1).tolist()) <= set(pb.partition(1).tolist())
    # Coding weights: with 3 workers holding {0,1}, {1,2}, {2,0} (r_i = 2, M = 3),
    # the ranks' gradients sum to the gradient of the mean over partitions.
    torch.manual_seed(0)
    model, x, y = nn.Linear(5, 3), torch.randn(60, 5), torch.randint(0, 3, (60,))
    pb = PartitionBatches(60, 3, seed=1, batch=0)
    parts = [pb.partition(i) for i in range(3)]
    full = sum(F.cross_entropy(model(x[p]), y[p]) for p in parts) / 3
    coded = sum(coded_loss(model, x, y, [(parts[i], 1 / 6), (parts[(i + 1) % 3], 1 / 6)])
                for i in range(3))
    print(f"mean over partitions {full.item():.6f}, sum of the coded losses {coded.item():.6f}")
    assert torch.allclose(full, coded)
