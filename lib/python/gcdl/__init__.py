# SPDX-License-Identifier: BSD-3-Clause
"""gcdl for PyTorch: train any model over gcdl's 1-bit data plane.

- :mod:`gcdl.ddp`: the DDP communication hook (``GcdlState``, ``comm_hook``)
- :mod:`gcdl.channel`: the trainer's side of a worker's gradient channel
- :mod:`gcdl.node`: starting the gcdl aggregator and workers of a job
- :mod:`gcdl.sampler`: the gradient-coding partitions and each rank's loss
- :mod:`gcdl.data`, :mod:`gcdl.models`, :mod:`gcdl.baseline`: Fashion-MNIST,
  small CNNs, and the same job over Gloo for comparison

Tested with Debian 12's python3-torch 1.13 (CPU tensors).
"""
__version__ = "0.1.0"
