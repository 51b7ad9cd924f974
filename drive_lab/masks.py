"""Binary pruning masks over the prunable weights, and the four mask invariants.

What is prunable (method.md): the ``.weight`` of every ``nn.Conv2d`` and ``nn.Linear``,
the classifier included. Biases, BatchNorm parameters and buffers are never pruned.

Invariants (method.md), and where each is kept:

1. Nested: :func:`keep_top` sets the scores of already-pruned weights to ``-inf``, so a
   weight pruned once stays pruned.
2. Exact: :func:`keep_top` keeps exactly ``round(density * n_prunable)`` weights by a
   global top-k with deterministic tie-breaking, never by a ``<=`` threshold.
3. Enforced: :meth:`Masks.apply` / :class:`BoundMasks` zero pruned weights in place;
   training calls them after every optimiser step, scoring before every score.
4. Observable: :meth:`Masks.layer_density`, :meth:`Masks.collapsed`, :meth:`Masks.report`.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Iterator

import torch
from torch import nn

from .paths import atomic_write

PRUNABLE_TYPES = (nn.Conv2d, nn.Linear)


def prunable_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """The prunable weights of ``model``, keyed as in ``model.named_parameters()``.

    Raises ``ValueError`` when the model has no ``nn.Conv2d``/``nn.Linear`` weight.
    """
    weights = {
        f"{module_name}.weight" if module_name else "weight": module.weight
        for module_name, module in model.named_modules()
        if isinstance(module, PRUNABLE_TYPES) and module.weight is not None
    }
    if not weights:
        raise ValueError(
            f"{type(model).__name__} has no prunable layer: drive_lab prunes the .weight of "
            "nn.Conv2d and nn.Linear modules, and this model contains none"
        )
    return weights


class Masks(Mapping):
    """Immutable set of boolean masks (``True`` = kept), one per prunable weight.

    Behaves like a read-only ``dict[str, torch.BoolTensor]`` keyed by parameter name; each
    mask has its weight's shape. Pruning returns a new ``Masks``; nothing mutates one.
    """

    def __init__(self, masks: Mapping[str, torch.Tensor]):
        if not masks:
            raise ValueError("Masks needs at least one prunable weight")
        self._masks = {name: m.detach().to(torch.bool) for name, m in masks.items()}
        self._factors: dict[tuple, list[torch.Tensor]] = {}

    @classmethod
    def ones(cls, model: nn.Module) -> "Masks":
        """Masks that keep every prunable weight of ``model`` (density 1)."""
        return cls({name: torch.ones_like(w, dtype=torch.bool) for name, w in prunable_parameters(model).items()})

    # Mapping interface
    def __getitem__(self, name: str) -> torch.Tensor:
        return self._masks[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._masks)

    def __len__(self) -> int:
        return len(self._masks)

    def __repr__(self) -> str:
        return f"Masks({len(self)} layers, density={self.density():.4f}, kept={self.kept()}/{self.total()})"

    # Counting (invariant 4)
    def total(self) -> int:
        """Number of prunable weights."""
        return sum(m.numel() for m in self._masks.values())

    def kept(self) -> int:
        """Number of weights kept (mask = 1)."""
        return int(sum(int(m.sum()) for m in self._masks.values()))

    def density(self) -> float:
        """Fraction of prunable weights kept, in [0, 1] (= 1 - sparsity)."""
        return self.kept() / self.total()

    def layer_density(self) -> dict[str, float]:
        """Fraction kept in each prunable weight, by parameter name."""
        return {name: float(m.sum()) / m.numel() for name, m in self._masks.items()}

    def collapsed(self) -> list[str]:
        """Names of the prunable weights with no weight left (a disconnected network)."""
        return [name for name, m in self._masks.items() if not bool(m.any())]

    def report(self) -> list[dict]:
        """One row per prunable weight: name, shape, kept, total, density, collapsed."""
        return [
            {
                "layer": name,
                "shape": list(m.shape),
                "kept": int(m.sum()),
                "total": m.numel(),
                "density": float(m.sum()) / m.numel(),
                "collapsed": not bool(m.any()),
            }
            for name, m in self._masks.items()
        ]

    # Enforcement (invariant 3)
    def factors(self, dtype: torch.dtype, device: torch.device) -> list[torch.Tensor]:
        """The masks as 0/1 tensors of ``dtype`` on ``device`` (cached: masks never change)."""
        key = (dtype, torch.device(device))
        if key not in self._factors:
            self._factors[key] = [m.to(device=device, dtype=dtype) for m in self._masks.values()]
        return self._factors[key]

    def bind(self, model: nn.Module) -> "BoundMasks":
        """Attach to ``model``'s weights for repeated, cheap enforcement (training loops)."""
        return BoundMasks(self, model)

    def apply(self, model: nn.Module) -> nn.Module:
        """Zero the pruned weights of ``model`` in place; returns ``model``."""
        self.bind(model).zero_pruned_weights()
        return model

    def to(self, device: torch.device | str) -> "Masks":
        return Masks({name: m.to(device) for name, m in self._masks.items()})

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Plain dict of CPU bool tensors, for saving."""
        return {name: m.cpu() for name, m in self._masks.items()}


class BoundMasks:
    """Masks bound to one model's weight tensors; two fused ops per training step."""

    def __init__(self, masks: Masks, model: nn.Module):
        weights = prunable_parameters(model)
        if set(weights) != set(masks):
            missing = sorted(set(weights) ^ set(masks))
            raise ValueError(f"masks do not match the model's prunable weights; differing names: {missing}")
        self.masks = masks
        self.weights = [weights[name] for name in masks]
        self._factors = masks.factors(self.weights[0].dtype, self.weights[0].device)

    @torch.no_grad()
    def zero_pruned_weights(self) -> None:
        torch._foreach_mul_(self.weights, self._factors)

    @torch.no_grad()
    def zero_pruned_gradients(self) -> None:
        """Zero gradients of pruned weights, so momentum never builds up behind a mask."""
        pairs = [(w.grad, f) for w, f in zip(self.weights, self._factors) if w.grad is not None]
        if pairs:
            grads, factors = zip(*pairs)
            torch._foreach_mul_(list(grads), list(factors))


def keep_top(scores: Mapping[str, torch.Tensor], masks: Masks, density: float) -> Masks:
    """New masks keeping exactly ``round(density * n_prunable)`` weights with the highest scores.

    Args:
        scores: one tensor per prunable weight (same names and shapes as ``masks``);
            higher = more important. Already-pruned entries are treated as ``-inf``
            whatever their score (invariant 1, nested).
        masks: the current masks.
        density: target fraction of prunable weights to keep, in [0, 1].

    Ties are broken deterministically: among equal scores, the weight that comes first in
    ``masks`` order (then flattened index order) is kept (invariant 2, exact).
    """
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must be in [0, 1], got {density}")
    if set(scores) != set(masks):
        raise ValueError(f"scores and masks name different weights: {sorted(set(scores) ^ set(masks))}")
    names = list(masks)
    dtype = torch.promote_types(torch.float32, scores[names[0]].dtype)
    for name in names:
        dtype = torch.promote_types(dtype, scores[name].dtype)
    device = masks[names[0]].device
    flat_scores = torch.cat([scores[name].detach().to(device=device, dtype=dtype).flatten() for name in names])
    flat_masks = torch.cat([masks[name].flatten() for name in names])
    if bool(torch.isnan(flat_scores).any()):  # one check (one GPU sync); name the layers only on failure
        nan_layers = [name for name in names if torch.isnan(scores[name]).any()]
        raise ValueError(f"score function returned NaN for {nan_layers}; scores must be numbers or -inf")
    flat_scores = flat_scores.masked_fill(~flat_masks, float("-inf"))

    n = flat_scores.numel()
    k = int(round(density * n))
    survivors = int(flat_masks.sum())
    if k > survivors:
        raise ValueError(
            f"cannot keep {k} weights (density {density:.6g}): only {survivors} survive; "
            "masks are nested, so density can only go down"
        )
    keep = torch.zeros(n, dtype=torch.bool, device=device)
    if k > 0:
        # The k-th largest score is the threshold; everything strictly above it is kept and
        # the remaining places go to the earliest weights that tie with it.
        threshold = torch.kthvalue(flat_scores.cpu() if device.type == "mps" else flat_scores, n - k + 1).values
        keep = flat_scores > threshold
        ties = (flat_scores == threshold) & flat_masks  # a -inf threshold must not revive pruned weights
        places_left = k - int(keep.sum())
        keep |= ties & (torch.cumsum(ties, 0) <= places_left)
    new_masks, offset = {}, 0
    for name in names:
        size = masks[name].numel()
        new_masks[name] = keep[offset : offset + size].view_as(masks[name])
        offset += size
    return Masks(new_masks)


def save(path: str | os.PathLike, model: nn.Module, masks: Masks, **extra) -> None:
    """Save model weights and masks together (atomically: written to a temporary file, then renamed)."""
    masks.apply(model)
    state = {"model": model.state_dict(), "masks": masks.state_dict(), **extra}
    with atomic_write(path, "wb") as stream:
        torch.save(state, stream)


def load(path: str | os.PathLike, model: nn.Module, map_location: str | torch.device = "cpu") -> Masks:
    """Load weights saved by :func:`save` into ``model``; returns the masks, already enforced."""
    state = torch.load(path, map_location=map_location, weights_only=True)
    model.load_state_dict(state["model"])
    device = next(model.parameters()).device
    masks = Masks(state["masks"]).to(device)
    masks.apply(model)
    return masks
