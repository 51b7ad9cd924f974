"""ProsPr: prospect pruning by meta-gradients (method.md, "Beyond the paper").

Alizadeh, Tailor, Zintgraf, van Amersfoort, Farquhar, Lane & Gal, "Prospect Pruning:
Finding Trainable Weights at Initialization using Meta-Gradients", ICLR 2022.

SNIP asks how the loss at initialisation depends on each weight's gate m_j. ProsPr asks
how the loss *after a few steps of training* depends on it: start from the gated weights
m ⊙ θ₀, take K steps of SGD (learning rate η, no weight decay), and differentiate the
loss after those steps with respect to m, through the steps:

    θ_0' = m ⊙ θ₀,    θ_{k+1}' = θ_k' − η ∇L(θ_k'),    S_j = |∂L(θ_K') / ∂m_j|  at m = 1.

The derivative runs through every step (second order: K Hessian-vector products), as the
reference code's "full" mode does. Reference defaults (its CLI): K = 3 inner steps, η = 0.1,
no momentum, every step on the same batch of 128 examples, one-shot at initialisation,
the network in train mode.
"""
from __future__ import annotations

from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ..masks import Masks
from .gradients import Batch, masked_weights, pruned_to_minus_inf

PROSPR_STEPS = 3
PROSPR_LR = 0.1


def prospr(model: nn.Module, batches: Iterable[Batch], masks: Masks | None = None, steps: int = PROSPR_STEPS,
           lr: float = PROSPR_LR) -> dict[str, torch.Tensor]:
    """ProsPr score S_j = |∂L(θ_K)/∂m_j| at m = 1, K = ``steps`` SGD steps of size ``lr``.

    Args:
        model: the network, in the mode it is to be scored in (the reference: train). Its
            parameters and buffers (BatchNorm statistics) are left unchanged: the steps run
            on copies through :func:`torch.func.functional_call`.
        batches: ``(x, y)`` scoring batches; the first is used for every inner step and for
            the loss after them (the reference's default), so pass one batch.
        masks: current masks (``None``: nothing pruned). Pruned weights start at 0 and stay
            at 0 through the inner steps (masked SGD), and score −inf.
        steps: K, the inner SGD steps (>= 0; 0 gives SNIP's |θ·g|).
        lr: η, their learning rate.

    Returns:
        ``{param_name: Tensor}`` with each prunable weight's shape (float32).

    Cost: K + 1 forward passes and a backward pass through all of them, about (2K + 1)
    backward passes' worth of compute and K steps' activations kept in memory.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if batches is None:
        raise ValueError("ProsPr needs training batches (a list of (x, y)); got None")
    batches = list(batches)
    if not batches:
        raise ValueError("scoring needs at least one batch of data; got an empty iterable")
    x, y = batches[0]
    weights, masks = masked_weights(model, masks)
    gates = {name: torch.ones_like(w, requires_grad=True) for name, w in weights.items()}
    kept = {name: masks[name].to(w.device, w.dtype) for name, w in weights.items()}
    # buffers are copied: a train-mode forward updates BatchNorm statistics in place
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    fast = {name: (p.detach() * gates[name] if name in gates else p.detach().requires_grad_())
            for name, p in model.named_parameters()}
    names = list(fast)

    def loss_at(parameters: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(functional_call(model, {**parameters, **buffers}, (x,)), y)

    for _ in range(steps):
        grads = torch.autograd.grad(loss_at(fast), [fast[n] for n in names], create_graph=True)
        fast = {n: fast[n] - lr * (g * kept[n] if n in kept else g) for n, g in zip(names, grads)}
    meta = torch.autograd.grad(loss_at(fast), [gates[n] for n in weights])
    scores = {name: g.detach().abs() for name, g in zip(weights, meta)}
    return pruned_to_minus_inf(scores, masks)
