"""What a scoring choice changes in a mask: the same score in BatchNorm train and eval mode.

A BatchNorm layer normalises with the batch's own statistics in train mode and with its
running statistics in eval mode, so the gradient a score reads, and the weights it keeps,
depend on the mode (method.md, "BatchNorm mode while scoring"). :func:`shared_fraction`
measures how many kept weights two masks of equal size have in common.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import pandas as pd
from torch import nn

from ..masks import Masks, keep_top
from ..models import mode

__all__ = ["mask_in_mode", "mode_comparison", "shared_fraction"]


def shared_fraction(a: Masks, b: Masks) -> float:
    """|kept by a and by b| / |kept by a|: 1 when both keep the same weights (equal counts assumed)."""
    if a.kept() == 0:
        raise ValueError("mask a keeps no weight: the shared fraction is undefined")
    both = sum(int((a[name] & b[name].to(a[name].device)).sum()) for name in a)
    return both / a.kept()


def mask_in_mode(score: Callable, model: nn.Module, batches: list, density: float, training: bool) -> Masks:
    """The one-shot mask ``score`` keeps at ``density`` (fraction kept) with ``model`` in
    train (``True``) or eval mode; the model's modes are restored afterwards."""
    masks = Masks.ones(model)
    with mode(model, training):
        return keep_top(score(model, batches, masks), masks, density)


def mode_comparison(scores: dict[str, Callable], model: nn.Module, batches: list,
                    sparsities: Iterable[float]) -> pd.DataFrame:
    """Per score and sparsity: the fraction of kept weights train-mode and eval-mode scoring share.

    Returns columns ``score``, ``sparsity``, ``kept`` (weights each mask keeps) and
    ``shared`` (:func:`shared_fraction`, 1 = the mode changes nothing).
    """
    rows = []
    for name, score in scores.items():
        for sparsity in sparsities:
            train = mask_in_mode(score, model, batches, 1 - sparsity, training=True)
            evaluated = mask_in_mode(score, model, batches, 1 - sparsity, training=False)
            rows.append(dict(score=name, sparsity=sparsity, kept=train.kept(), shared=shared_fraction(train, evaluated)))
    return pd.DataFrame(rows)
