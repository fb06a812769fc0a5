# SPDX-License-Identifier: BSD-3-Clause
"""Fashion-MNIST from its IDX gzip files, as standardized PyTorch tensors.

The four files are the ones Debian's ``dataset-fashion-mnist`` package
installs in ``/usr/share/datasets/fashion-mnist`` (the same ones gcdl's C job
reads, ``lib/core/job/job.c``). Pixels are scaled to [0, 1], then
standardized with one mean and one standard deviation computed over every
pixel of the whole training set; the test set uses the training statistics.
"""

import functools
import gzip
import os
from typing import Optional, Tuple

import numpy as np
import torch

DEFAULT_PATH = "/usr/share/datasets/fashion-mnist"
IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
CLASSES = 10


def _read(path: str) -> bytes:
    """The decompressed bytes of one gzip file, with clear errors."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file (the Fashion-MNIST files come "
                                f"with `apt-get install dataset-fashion-mnist`)")
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as e:
        raise ValueError(f"{path}: not a readable gzip file: {e}") from e


def _header(path: str, raw: bytes, magic: int, dims: int) -> Tuple[int, ...]:
    """Check an IDX header (big-endian int32 magic, then one int32 per dimension)."""
    if len(raw) < 4 * (1 + dims):
        raise ValueError(f"{path}: {len(raw)} bytes, too short for an IDX header")
    head = np.frombuffer(raw, dtype=">u4", count=1 + dims)
    if head[0] != magic:
        raise ValueError(f"{path}: magic number {head[0]}, expected {magic}")
    shape = tuple(int(v) for v in head[1:])
    want = 4 * (1 + dims) + int(np.prod(shape))
    if len(raw) != want:
        raise ValueError(f"{path}: {len(raw)} bytes, the header {shape} says {want}")
    return shape


@functools.lru_cache(maxsize=None)
def _load_raw(path: str, split: str) -> Tuple[np.ndarray, np.ndarray]:
    """One split's images (N x rows x cols, uint8) and labels (N, uint8).

    Read once per process (the arrays are read-only views of the file's bytes).
    """
    img_path = os.path.join(path, f"{split}-images-idx3-ubyte.gz")
    lbl_path = os.path.join(path, f"{split}-labels-idx1-ubyte.gz")
    img_raw, lbl_raw = _read(img_path), _read(lbl_path)
    shape = _header(img_path, img_raw, IMAGES_MAGIC, 3)
    (n_labels,) = _header(lbl_path, lbl_raw, LABELS_MAGIC, 1)
    if n_labels != shape[0]:
        raise ValueError(f"{lbl_path}: {n_labels} labels for the {shape[0]} images of {img_path}")
    images = np.frombuffer(img_raw, dtype=np.uint8, offset=16).reshape(shape)
    labels = np.frombuffer(lbl_raw, dtype=np.uint8, offset=8)
    if labels.max(initial=0) >= CLASSES:
        raise ValueError(f"{lbl_path}: label {labels.max()} is not one of the {CLASSES} classes")
    return images, labels


@functools.lru_cache(maxsize=None)
def train_statistics(path: str = DEFAULT_PATH) -> Tuple[float, float]:
    """Mean and standard deviation of every training pixel, scaled to [0, 1].

    Computed in float64 over all 60,000 training images (whatever ``limit``
    a caller of :func:`load_fashion_mnist` gives), once per path.
    """
    images, _ = _load_raw(path, "train")
    scaled = images.astype(np.float64) / 255.0
    return float(scaled.mean()), float(scaled.std())


def load_fashion_mnist(path: str = DEFAULT_PATH, train: bool = True,
                       limit: Optional[int] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Load one split of Fashion-MNIST.

    Args:
        path: the directory holding the four ``*-idx?-ubyte.gz`` files.
        train: the 60,000 training rows if true, else the 10,000 test rows.
        limit: keep only the first ``limit`` rows (None: all of them).

    Returns:
        ``(x, y)``: x float32 of shape N x 1 x 28 x 28, standardized with the
        training set's statistics (:func:`train_statistics`); y int64 of shape N.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: a file is not gzip, has the wrong magic number, or its
        size does not match its header (the message names the file).
    """
    images, labels = _load_raw(path, "train" if train else "t10k")
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    mean, std = train_statistics(path)
    x = (images.astype(np.float32) / np.float32(255.0) - np.float32(mean)) / np.float32(std)
    return torch.from_numpy(x[:, None]), torch.from_numpy(labels.astype(np.int64))


if __name__ == "__main__":
    for split in (True, False):
        x, y = load_fashion_mnist(train=split)
        print(f"{'train' if split else 'test'}: x {tuple(x.shape)} {x.dtype} "
              f"mean {x.mean():.4f} std {x.std():.4f}, y {tuple(y.shape)} "
              f"counts {torch.bincount(y).tolist()}")
    print("train statistics (mean, std) of the [0, 1] pixels:", train_statistics())
