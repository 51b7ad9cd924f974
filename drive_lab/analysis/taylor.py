"""SNIP's first-order derivation, checked: the actual loss change of removing a weight vs −g·θ.

Removing weight θ_j sets it to 0, i.e. moves the weights from θ to θ − θ_j e_j. A first-order
Taylor expansion of the loss around θ gives

    L(θ − θ_j e_j) − L(θ) ≈ −(∂L/∂θ_j) · θ_j = −g_j θ_j,

so |θ·g| (connection sensitivity, SNIP's saliency) estimates how much the loss changes when
the weight is removed; the error is the second-order term ½ H_jj θ_j² and beyond.
:func:`first_order_loss_change` measures both sides for a sample of weights of a network.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..masks import prunable_parameters

__all__ = ["first_order_loss_change"]

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _mean_loss(model: nn.Module, batches: list, loss_fn: Loss) -> torch.Tensor:
    return torch.stack([loss_fn(model(x), y) for x, y in batches]).mean()


def first_order_loss_change(model: nn.Module, batches: Iterable, weights: int = 200, seed: int = 0,
                            loss_fn: Loss = F.cross_entropy) -> pd.DataFrame:
    """Actual loss change when zeroing each of a sample of weights, next to its first-order estimate.

    Args:
        model: the network; its prunable weights (``.weight`` of conv/linear layers) are
            sampled, uniformly over all of them, among the non-zero ones. The model is
            evaluated in eval mode (its mode is restored) and its weights are restored.
        batches: ``(x, y)`` batches; the loss L is ``loss_fn`` (default: mean
            cross-entropy) averaged over the batches, g = ∂L/∂θ at the current weights.
        weights: how many weights to sample (default 200; fewer if the model has fewer
            non-zero weights). One forward pass over ``batches`` per sampled weight.
        seed: seed of the sample.

    Returns:
        One row per sampled weight: ``layer`` (parameter name), ``index`` (flat index in
        the layer), ``theta`` (θ_j), ``grad`` (g_j), ``estimate`` (= −g_j θ_j, the
        first-order change of L, in loss units), ``actual`` (L with θ_j = 0 minus L, loss
        units, computed in float64 differences of float32 losses) and ``error`` (actual −
        estimate). ``attrs["loss"]`` is L at the current weights.
    """
    batches = list(batches)
    params = prunable_parameters(model)
    names = list(params)
    was_training = model.training
    model.eval()
    try:
        loss = _mean_loss(model, batches, loss_fn)
        grads = torch.autograd.grad(loss, [params[n] for n in names])
        base = float(loss.detach())
        # sample among the non-zero weights of all layers at once (flat positions, no loop over weights)
        flat_all = torch.cat([params[n].detach().flatten().cpu() for n in names])
        nonzero = torch.nonzero(flat_all).flatten()
        generator = torch.Generator().manual_seed(seed)
        sample = nonzero[torch.randperm(len(nonzero), generator=generator)[:weights]]
        sizes = torch.tensor([params[n].numel() for n in names])
        ends = sizes.cumsum(0)
        layers = torch.searchsorted(ends, sample, right=True)
        starts = ends - sizes
        rows = []
        with torch.no_grad():
            for layer, position in zip(layers.tolist(), sample.tolist()):
                name, index = names[layer], position - int(starts[layer])
                flat = params[name].view(-1)
                theta = float(flat[index])
                grad = float(grads[names.index(name)].flatten()[index])
                flat[index] = 0.0
                try:
                    changed = float(_mean_loss(model, batches, loss_fn))
                finally:
                    flat[index] = theta
                rows.append({"layer": name, "index": index, "theta": theta, "grad": grad,
                             "estimate": -grad * theta, "actual": changed - base})
    finally:
        model.train(was_training)
    table = pd.DataFrame(rows, columns=["layer", "index", "theta", "grad", "estimate", "actual"])
    table["error"] = table["actual"] - table["estimate"]
    table.attrs["loss"] = base
    return table
