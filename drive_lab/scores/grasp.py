"""GraSP: preserve the gradient flow (method.md, "Baselines").

GraSP looks at the gradient norm after pruning. Removing weights δ = -θ ⊙ (1 - m)
changes ΔL(θ) = gᵀg (the gradient flow) to first order by 2 δᵀ H g, with g = ∂L/∂θ and
H = ∂²L/∂θ² the Hessian. The paper's saliency per weight is

    S_paper(θ_j) = -θ_j · (H g)_j

and it removes the weights with the HIGHEST S_paper (their removal reduces the gradient
flow least, or even increases it). Under drive_lab's keep-highest convention the score is
therefore

    S_j = θ_j · (H g)_j          (signed, no absolute value)

H g is a Hessian-gradient product, obtained without forming H by a double backward pass:
with g fixed (detached), ∂/∂θ (gᵀ ∂L/∂θ) = H g. Logits are divided by a temperature T
before the cross-entropy (T = 200 in the original), which keeps the softmax from
saturating at initialisation.
"""
from __future__ import annotations

from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from ..masks import Masks
from .gradients import Batch, loss_gradients, masked_weights, preserved_buffers, pruned_to_minus_inf


class _Tempered(nn.Module):
    """``model(x) / temperature``: lets :func:`loss_gradients` score tempered logits."""

    def __init__(self, model: nn.Module, temperature: float):
        super().__init__()
        self.model = model
        self.temperature = temperature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) / self.temperature


def hessian_gradient_product(
    model: nn.Module,
    batches: Iterable[Batch],
    weights: dict[str, nn.Parameter],
    temperature: float = 200.0,
    masks: Masks | None = None,
) -> dict[str, torch.Tensor]:
    """H g for the tempered cross-entropy L(θ) = mean over batches of CE(model(x)/T, y).

    First pass (no graph kept): g = ∂L/∂θ, averaged over ``batches``; with ``masks``, g is
    restricted to the surviving weights (g ⊙ m: pruned weights are not free variables).
    Second pass, per batch b: the gradient ∇L_b with ``create_graph=True``, then
    z_b = Σ_j g_j · (∇L_b)_j with g detached, and ∂z_b/∂θ = H_b g; the results are averaged
    over batches, so H is the Hessian of the same averaged loss.

    Args:
        model: the network (its weights are used as they are; nothing is masked here).
        batches: ``(x, y)`` batches; materialised into a list (two passes are needed).
        weights: ``{param_name: Parameter}``, the variables θ (usually the prunable weights).
        temperature: T > 0 dividing the logits.
        masks: optional masks restricting g to the survivors.

    Returns:
        ``{param_name: Tensor}``, (H g) with each weight's shape. BatchNorm statistics and
        ``.grad`` fields are left as they were.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    batches = list(batches)
    if not batches:
        raise ValueError("scoring needs at least one batch of data; got an empty iterable")
    names = list(weights)
    params = [weights[n] for n in names]
    g = loss_gradients(_Tempered(model, temperature), batches, weights)
    if masks is not None:
        g = {n: g[n] * masks[n].to(device=g[n].device, dtype=g[n].dtype) for n in names}
    g_list = [g[n].detach() for n in names]
    hg = [torch.zeros_like(p) for p in params]
    with preserved_buffers(model):
        for x, y in batches:
            loss = F.cross_entropy(model(x) / temperature, y)
            grads = torch.autograd.grad(loss, params, create_graph=True)
            z = sum((gj * dj).sum() for gj, dj in zip(g_list, grads))
            products = torch.autograd.grad(z, params, allow_unused=True)
            # A weight whose gradient does not depend on θ (unused) has H g = 0 there.
            torch._foreach_add_(hg, [torch.zeros_like(p) if h is None else h for p, h in zip(params, products)])
    torch._foreach_div_(hg, float(len(batches)))
    return dict(zip(names, hg))


def grasp(
    model: nn.Module, batches: Iterable[Batch], masks: Masks | None = None, temperature: float = 200.0
) -> dict[str, torch.Tensor]:
    """GraSP score S_j = θ_j · (H g)_j per prunable weight (signed); higher = kept, pruned = -inf.

    θ are the masked weights m ⊙ θ, g = ∂L/∂θ the gradient of the tempered cross-entropy
    (logits / ``temperature``) averaged over ``batches``, H its Hessian; see
    :func:`hessian_gradient_product`. The paper removes the highest -θ ⊙ Hg, i.e. keeps the
    highest θ ⊙ Hg, which is what is returned (scores may be negative; no absolute value).

    Args:
        model: the network; its pruned weights are zeroed in place first (invariant 3).
        batches: iterable of ``(x, y)`` batches, ``x`` of shape ``(B, ...)``, ``y`` of
            shape ``(B,)``; materialised into a list (iterated twice).
        masks: current masks (``None``: nothing pruned yet).
        temperature: T > 0 dividing the logits (200 in the original).

    Returns:
        ``{param_name: Tensor}`` with each weight's shape.

    Reference: Wang, Zhang & Grosse, "Picking winning tickets before training by
    preserving gradient flow", ICLR 2020.
    """
    weights, masks = masked_weights(model, masks)
    hg = hessian_gradient_product(model, batches, weights, temperature, masks)
    scores = {name: w.detach() * hg[name] for name, w in weights.items()}
    return pruned_to_minus_inf(scores, masks)
