"""SynFlow: iterative synaptic flow, data-free (method.md, "Baselines").

Linearise the network: replace every parameter by its absolute value |θ|, put it in eval
mode (BatchNorm uses its running statistics and does not update them), and feed the
all-ones input 1. The "synaptic flow" objective is

    R = 1ᵀ f(1; |θ|)        (sum of all outputs)

and the synaptic saliency of weight j is S_j = |θ_j · ∂R/∂θ_j|. For a bias-free ReLU
network (all activations positive) this saliency is conserved: every layer's scores sum
to R. Products of many positive numbers overflow low precision, so everything is
computed in float64 on a copy; the model itself is not changed.

SynFlow is iterative (100 rounds of the exponential density schedule); that is the
pruner's job. This function scores once.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Iterable

import torch
from torch import nn

from ..masks import Masks, prunable_parameters
from .gradients import Batch, masked_weights, pruned_to_minus_inf


def _input_shape(batches: Iterable[Batch] | None, input_shape: Sequence[int] | None) -> tuple[int, ...]:
    """``input_shape``, else ``x.shape[1:]`` of the first batch of a list/tuple of batches."""
    if input_shape is not None:
        return tuple(int(d) for d in input_shape)
    if isinstance(batches, (list, tuple)) and len(batches) > 0:
        first = batches[0]
        x = first[0] if isinstance(first, (list, tuple)) else first
        if isinstance(x, torch.Tensor) and x.dim() >= 2:
            return tuple(x.shape[1:])
    raise ValueError(
        "synflow is data-free but needs the shape of one input, e.g. input_shape=(3, 32, 32) "
        "for CIFAR images; pass input_shape=..., or batches as a list of (x, y) batches "
        "(an iterator or DataLoader is never consumed to find it)"
    )


def synflow(
    model: nn.Module,
    batches: Iterable[Batch] | None = None,
    masks: Masks | None = None,
    input_shape: Sequence[int] | None = None,
) -> dict[str, torch.Tensor]:
    """SynFlow score S_j = |θ_j · ∂R/∂θ_j| per prunable weight; higher = kept, pruned = -inf.

    R = Σ f(1; |θ|): the sum of the outputs of a float64, eval-mode copy of the network
    with every parameter (weights, biases, BatchNorm affine) replaced by its absolute value,
    on one all-ones input of shape ``(1, *input_shape)``. Pruned weights are 0 in the copy
    (the masks are applied first), so they carry no flow. BatchNorm running statistics are
    used as they are (not made absolute, not updated).

    Args:
        model: the network; its pruned weights are zeroed in place (invariant 3), and
            nothing else about it changes (dtype, weights, buffers, mode, ``.grad``).
        batches: ignored as data and never consumed; if it is a list/tuple of ``(x, y)``
            batches and ``input_shape`` is ``None``, the input shape is read from
            ``batches[0][0].shape[1:]``.
        masks: current masks (``None``: nothing pruned yet).
        input_shape: shape of one input without the batch dimension, e.g. ``(3, 32, 32)``.

    Returns:
        ``{param_name: Tensor}`` with each weight's shape, float64, on the weight's device
        (MPS has no float64: there the copy is scored on the CPU and scores stay on the CPU).

    Reference: Tanaka, Kunin, Yamins & Ganguli, "Pruning neural networks without any data
    by iteratively conserving synaptic flow", NeurIPS 2020.
    """
    shape = _input_shape(batches, input_shape)
    weights, masks = masked_weights(model, masks)
    device = next(iter(weights.values())).device
    compute_device = torch.device("cpu") if device.type == "mps" else device

    linear = copy.deepcopy(model).to(device=compute_device, dtype=torch.float64).eval()
    with torch.no_grad():
        for p in linear.parameters():
            p.abs_()
    copy_weights = prunable_parameters(linear)
    names = list(weights)
    params = [copy_weights[n].requires_grad_(True) for n in names]

    ones = torch.ones((1, *shape), dtype=torch.float64, device=compute_device)
    flow = linear(ones).sum()
    grads = torch.autograd.grad(flow, params)
    scores = {n: (p.detach() * g).abs() for n, p, g in zip(names, params, grads)}
    return pruned_to_minus_inf(scores, masks)
