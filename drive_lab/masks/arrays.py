"""Small array helpers of the masks code: NumPy views, positions of kept entries, segment offsets."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def _np(t: torch.Tensor) -> np.ndarray:
    """Zero-copy NumPy view of a CPU tensor (detached first when it requires grad)."""
    return t.detach().numpy() if t.requires_grad else t.numpy()


def _true_positions(flags: torch.Tensor, count: int) -> torch.Tensor:
    """Sorted positions of the ``True`` entries of the 1-D bool ``flags``; ``count`` of them.

    On CUDA ``nonzero_static`` needs no host synchronisation (the count is known here).
    """
    if flags.device.type == "cuda" and hasattr(torch, "nonzero_static"):
        try:
            return torch.nonzero_static(flags, size=count).squeeze(1)
        except (RuntimeError, NotImplementedError):  # pragma: no cover - older builds
            pass
    return flags.nonzero().squeeze(1)


def _offsets(sizes: Sequence[int]) -> list[int]:
    offsets, offset = [], 0
    for size in sizes:
        offsets.append(offset)
        offset += size
    return offsets


def _bounds(counts: Sequence[int]) -> list[int]:
    """Cumulative counts without the first 0 and the total: where each layer's segment ends."""
    bounds, total = [], 0
    for c in counts[:-1]:
        total += c
        bounds.append(total)
    return bounds


def _written(tensors: list[torch.Tensor]) -> None:
    """Advance the version counters of tensors written through NumPy (as torch would)."""
    increment = getattr(torch.autograd.graph, "increment_version", None)
    if increment is not None:
        increment(tensors)
