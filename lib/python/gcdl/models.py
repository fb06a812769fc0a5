# SPDX-License-Identifier: BSD-3-Clause
"""Small CNNs for Fashion-MNIST (1 x 28 x 28 inputs, 10 classes).

No batch normalisation and no dropout: the replicas of a data-parallel job
must stay bit-identical, and DDP does not synchronise buffers here
(``broadcast_buffers=False``), so a model has parameters only and a
deterministic forward pass.
"""

import zlib
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn


class SmallCNN(nn.Sequential):
    """conv 5x5 (1 -> 16) ReLU maxpool 2, conv 5x5 (16 -> 32) ReLU maxpool 2,
    linear 32*7*7 -> 10: 28,938 parameters."""

    def __init__(self):
        super().__init__(
            nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 7 * 7, 10))


class TinyCNN(nn.Sequential):
    """conv 3x3 stride 2 (1 -> 8) ReLU, conv 3x3 stride 2 (8 -> 16) ReLU,
    linear 16*7*7 -> 10: 9,098 parameters, for fast tests."""

    def __init__(self):
        super().__init__(
            nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(16 * 7 * 7, 10))


MODELS = {"small": SmallCNN, "tiny": TinyCNN}


def param_count(model: nn.Module) -> int:
    """P, the number of trainable scalars (the length of the gradient)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def model_checksum(model: nn.Module) -> int:
    """zlib.crc32 of all the parameters' float32 bytes, in order: equal on two
    replicas exactly when they are bit-identical."""
    return zlib.crc32(b"".join(p.detach().numpy().tobytes() for p in model.parameters()))


def decayed_lr(lr: float, t: int, steps: int, decay_at: float) -> float:
    """The step size of round t: ``lr``, and a tenth of it from round
    ``decay_at * steps`` on (``decay_at`` 0: no decay). A function of the
    round only, so that every replica (and a rank catching up) uses the same."""
    return lr * 0.1 if 0 < decay_at and t >= decay_at * steps else lr


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
             batch: int = 1000) -> Tuple[float, float]:
    """(accuracy, mean cross-entropy) of ``model`` on (x, y), in batches."""
    model.eval()
    correct, loss = 0, 0.0
    for i in range(0, len(x), batch):
        out = model(x[i:i + batch])
        correct += int((out.argmax(1) == y[i:i + batch]).sum())
        loss += float(F.cross_entropy(out, y[i:i + batch], reduction="sum"))
    model.train()
    return correct / len(x), loss / len(x)


if __name__ == "__main__":
    for name, cls in MODELS.items():
        m = cls()
        print(f"{name}: {cls.__name__}, P = {param_count(m)}, "
              f"output {tuple(m(torch.zeros(2, 1, 28, 28)).shape)}")
