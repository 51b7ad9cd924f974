"""SNIP: connection sensitivity (method.md, "Baselines").

Give every prunable weight a gate m_j (the mask, relaxed to a real number) so the
network computes with m ⊙ θ. The sensitivity of the loss to removing connection j is

    ∂L/∂m_j |_(m = 1) = θ_j · ∂L/∂θ_j = θ_j · g_j,

so SNIP's score is S_j = |θ_j · g_j|: one backward pass per batch, no gates needed.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from ..masks import Masks
from .gradients import Batch, loss_gradients, masked_weights, pruned_to_minus_inf


def snip(model: nn.Module, batches: Iterable[Batch], masks: Masks | None = None) -> dict[str, torch.Tensor]:
    """SNIP score S_j = |θ_j · g_j| per prunable weight; higher = kept, pruned = -inf.

    θ are the masked weights m ⊙ θ and g = ∂L/∂θ the gradient of the mean cross-entropy,
    averaged over ``batches`` (at the current masked weights, in the model's current
    training mode; BatchNorm statistics and ``.grad`` fields are left untouched).

    Args:
        model: the network; its pruned weights are zeroed in place first (invariant 3).
        batches: iterable of ``(x, y)`` scoring batches, ``x`` of shape ``(B, ...)`` and
            ``y`` of shape ``(B,)`` class indices; iterated once.
        masks: current masks (``None``: nothing pruned yet).

    Returns:
        ``{param_name: Tensor}`` with each weight's shape.

    Reference: Lee, Ajanthan & Torr, "SNIP: Single-shot network pruning based on
    connection sensitivity", ICLR 2019. (The paper normalises by Σ|θ·g|; a positive
    factor does not change the ranking, so it is left out.)
    """
    weights, masks = masked_weights(model, masks)
    gradients = loss_gradients(model, batches, weights)
    scores = {name: (w.detach() * gradients[name]).abs() for name, w in weights.items()}
    return pruned_to_minus_inf(scores, masks)
