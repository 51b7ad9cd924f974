"""Sanity checks for pruning methods (Frankle et al. 2021, "Pruning neural networks at
initialization: why are we missing the mark?"), as modifiers any method can take.

``RunConfig(sanity=...)``, one of :data:`SANITY_CHECKS`:

* ``"shuffle"``: the method's final mask, with its kept positions permuted at random
  *within each layer*: every layer keeps exactly its count, the positions are new. If a
  method's accuracy survives this, what it found is a set of per-layer densities.
* ``"reinit"``: the method's final mask, with freshly drawn weights (same initialisation
  scheme, an independent random stream) in place of the weights it would have trained.
* ``"invert"``: the method's ranking turned upside down *by rank*: at every pruning
  iteration the lowest-scored survivors are kept (the scores are negated, an exact order
  reversal; ties keep the same tie rule). Not ``1/score``, which is undefined for zeros
  and reorders signed scores (GraSP) wrongly.

Shuffle and reinit change the mask or the weights after pruning, just before the final
training; invert changes the scoring, so pruning itself runs under it.
"""
from __future__ import annotations

from typing import Callable, Mapping

import torch
from torch import nn

from .masks import Masks
from .models import reinitialise

SANITY_CHECKS = ("none", "shuffle", "reinit", "invert")
# The checks that act only after pruning: a run with one of them prunes exactly as the
# unmodified run does, so one pruning trajectory can serve both.
AFTER_PRUNING_CHECKS = ("none", "shuffle", "reinit")
# Random stream of the shuffle and of the re-drawn weights (independent of all others).
SANITY_STREAM = 3_000_017

ScoreFunction = Callable[..., Mapping[str, torch.Tensor]]


def inverted(score: ScoreFunction) -> ScoreFunction:
    """``score`` with its ranking reversed: ``-score`` on the survivors, ``-inf`` on pruned entries.

    :func:`~drive_lab.masks.keep_top` on the result keeps exactly the ``k`` survivors with
    the *lowest* original scores (ties: the first in mask order, as always).
    """

    def inverted_score(model: nn.Module, batches, masks: Masks, **options) -> dict[str, torch.Tensor]:
        scores = score(model, batches, masks, **options)
        return {name: torch.where(masks[name].to(s.device), -s, torch.full_like(s, float("-inf")))
                for name, s in scores.items()}

    inverted_score.__name__ = f"inverted_{getattr(score, '__name__', 'score')}"
    inverted_score.__doc__ = f"The ranking of {getattr(score, '__name__', 'a score')} reversed (sanity check)."
    return inverted_score


def shuffled(masks: Masks, generator: torch.Generator) -> Masks:
    """``masks`` with each layer's kept positions permuted uniformly at random.

    Every layer keeps exactly as many weights as before (so per-layer and overall
    densities are unchanged); which ones is drawn from ``generator`` (CPU).
    """
    out = {}
    for name, mask in masks.items():
        flat = mask.reshape(-1)
        order = torch.randperm(flat.numel(), generator=generator).to(flat.device)
        out[name] = flat[order].view(mask.shape)
    return Masks(out)


def score_for(score: ScoreFunction, check: str) -> ScoreFunction:
    """The score a run with sanity check ``check`` prunes by (inverted for ``"invert"``)."""
    _check_name(check)
    return inverted(score) if check == "invert" else score


def before_training(check: str, model: nn.Module, masks: Masks, *, init: str, seed: int) -> Masks:
    """Apply sanity check ``check`` to a pruned network just before its final training.

    ``"shuffle"`` returns shuffled masks; ``"reinit"`` re-draws ``model``'s weights in
    place (scheme ``init``, stream ``seed + SANITY_STREAM``); the others return ``masks``.
    """
    _check_name(check)
    if check == "shuffle":
        return shuffled(masks, torch.Generator().manual_seed(seed + SANITY_STREAM))
    if check == "reinit":
        reinitialise(model, init, seed + SANITY_STREAM)
    return masks


def pruning_identity(check: str) -> str:
    """The sanity check that prunes like ``check``: ``"none"`` for the after-pruning checks."""
    _check_name(check)
    return "none" if check in AFTER_PRUNING_CHECKS else check


def _check_name(check: str) -> None:
    if check not in SANITY_CHECKS:
        raise ValueError(f"unknown sanity check {check!r}; valid choices: {', '.join(SANITY_CHECKS)}")
