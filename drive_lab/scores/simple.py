"""Data-independent baselines: random and magnitude scores (method.md, "Baselines").

For every prunable weight θ_j (at the masked weights m ⊙ θ):

    random     S_j ~ U[0, 1), drawn from a generator seeded with ``seed``
    magnitude  S_j = |θ_j|

Pruned weights get ``-inf``. Both scores ignore the data; they accept ``batches`` only
to share the score-function interface, and never iterate over it.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from ..masks import Masks
from .gradients import Batch, masked_weights, pruned_to_minus_inf


def random(
    model: nn.Module, batches: Iterable[Batch] | None = None, masks: Masks | None = None, seed: int = 0
) -> dict[str, torch.Tensor]:
    """Uniform random score per prunable weight; higher = kept, pruned = -inf.

    S_j ~ U[0, 1), i.i.d., from a CPU ``torch.Generator`` seeded with ``seed`` and drawn
    layer by layer in ``named_parameters()`` order, so the same seed gives the same scores
    on any device (the tensors are then moved to each weight's device). Scores are float64:
    float32 has only 2^24 distinct values in [0, 1), and on a network of millions of
    weights the ties this creates would all be broken in layer order.

    Args:
        model: the network; its pruned weights are zeroed in place (invariant 3).
        batches: ignored (not consumed); accepted for the common interface.
        masks: current masks (``None``: nothing pruned yet).
        seed: seed of the generator.

    Returns:
        ``{param_name: Tensor}`` with each weight's shape, float64.

    Reference: the random-pruning baseline of the pruning-at-initialisation literature,
    e.g. Tanaka et al., "Pruning neural networks without any data by iteratively
    conserving synaptic flow", NeurIPS 2020.
    """
    weights, masks = masked_weights(model, masks)
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    scores = {
        name: torch.rand(w.shape, generator=generator, dtype=torch.float64).to(w.device)
        for name, w in weights.items()
    }
    return pruned_to_minus_inf(scores, masks)


def magnitude(
    model: nn.Module, batches: Iterable[Batch] | None = None, masks: Masks | None = None
) -> dict[str, torch.Tensor]:
    """Magnitude score S_j = |θ_j| per prunable weight; higher = kept, pruned = -inf.

    Args:
        model: the network; its pruned weights are zeroed in place first (invariant 3),
            so the score is |m ⊙ θ|.
        batches: ignored (not consumed); accepted for the common interface.
        masks: current masks (``None``: nothing pruned yet).

    Returns:
        ``{param_name: Tensor}`` with each weight's shape and dtype.

    Reference: global magnitude pruning, Han et al., "Learning both weights and
    connections for efficient neural networks", NeurIPS 2015; at initialisation as a
    baseline in Frankle et al., "Pruning neural networks at initialization: why are we
    missing the mark?", ICLR 2021.
    """
    weights, masks = masked_weights(model, masks)
    scores = {name: w.detach().abs() for name, w in weights.items()}
    return pruned_to_minus_inf(scores, masks)
