"""Shared machinery for gradient-based scores: masked weights, one backward pass per batch."""
from __future__ import annotations

import contextlib
from typing import Iterable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..masks import Masks, prunable_parameters
from ..masks.container import _ensure_applied

Batch = tuple[torch.Tensor, torch.Tensor]


@contextlib.contextmanager
def preserved_buffers(model: nn.Module) -> Iterator[None]:
    """Restore every buffer (BatchNorm running statistics) on exit.

    Scoring runs forward passes in training mode; a score function must not leave
    the model's statistics changed behind it (it is a pure function of model and data).
    """
    named = list(model.named_buffers())
    if not named:  # nothing to keep (e.g. no BatchNorm): no second walk over the modules
        yield
        return
    saved = {name: buf.detach().clone() for name, buf in named}
    try:
        yield
    finally:
        with torch.no_grad():
            current = list(model.named_buffers())
            torch._foreach_copy_([buf for _, buf in current], [saved[name] for name, _ in current])


def masked_weights(model: nn.Module, masks: Masks | None) -> tuple[dict[str, nn.Parameter], Masks]:
    """The prunable weights with pruned entries zeroed (invariant 3: score on m ⊙ θ).

    Inside :func:`drive_lab.pruning.prune`, masks the pruner has just applied to these very
    weights (unchanged since) are not applied a second time.
    """
    weights = prunable_parameters(model)
    if masks is None:
        masks = Masks.ones(model)
    _ensure_applied(masks, model, weights)
    return weights, masks


def loss_gradients(model: nn.Module, batches: Iterable[Batch], weights: dict[str, nn.Parameter]) -> dict[str, torch.Tensor]:
    """g = ∂L/∂θ of the mean cross-entropy, averaged over ``batches``; one backward pass per batch.

    Uses ``torch.autograd.grad`` so ``.grad`` fields are left untouched. float32 (no autocast):
    scores rank weights, and low precision would create spurious ties.
    """
    if batches is None:
        raise ValueError("this score needs training batches (a list of (x, y)); got None")
    names = list(weights)
    params = [weights[n] for n in names]
    total: list[torch.Tensor] | None = None
    n_batches = 0
    with preserved_buffers(model):
        for x, y in batches:
            loss = F.cross_entropy(model(x), y)
            grads = list(torch.autograd.grad(loss, params))
            if total is None:
                total = grads  # one batch (the usual case): no extra copies
            else:
                torch._foreach_add_(total, grads)
            n_batches += 1
    if total is None:
        raise ValueError("scoring needs at least one batch of data; got an empty iterable")
    if n_batches > 1:
        torch._foreach_div_(total, float(n_batches))
    return dict(zip(names, total))


def pruned_to_minus_inf(scores: dict[str, torch.Tensor], masks: Masks) -> dict[str, torch.Tensor]:
    """Apply the score convention: already-pruned weights get -inf (invariant 1)."""
    minus_inf = float("-inf")
    return {name: torch.where(masks[name].to(s.device), s, minus_inf) for name, s in scores.items()}
