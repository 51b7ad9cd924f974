"""Which share of the kept weights' DRIVE score each term supplies (the explorer's third figure).

:func:`term_contributions` splits the score of the weights a pruning kept into one part per
DRIVE term (magnitude, connection, convergence), per layer and overall;
:func:`kept_term_contributions` does it for a DRIVE config, pruned once for the illustration.
The figure is :func:`drive_lab.explorer_figures.contribution_figure`.
"""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import torch

from .config import RunConfig
from .masks import Masks, keep_top
from .pipeline import warmed_up
from .scores.drive import TERMS, combine_terms, drive_terms, normalise, validate_weights

ALL_KEPT = "all kept weights"  # the ``layer`` of the rows summed over every layer

__all__ = ["ALL_KEPT", "term_contributions", "kept_term_contributions"]


def _part(terms, normalised, weights: Mapping[str, float], combine: str, term: str, layer: str) -> torch.Tensor:
    """Term ``term``'s additive part of every weight's score in ``layer`` (float64, the layer's shape)."""
    if combine == "sum":
        return weights[term] * normalised[term][layer]
    if term == "magnitude":  # product: S = M·(b·Ĉ + c·V̂), magnitude has no additive part of its own
        return torch.zeros_like(normalised[term][layer])
    return terms["magnitude"][layer].detach().to(torch.float64) * weights[term] * normalised[term][layer]


def term_contributions(terms: Mapping[str, Mapping[str, torch.Tensor]], masks: Mapping[str, torch.Tensor],
                       magnitude: float = 1.0, connection: float = 1.0, convergence: float = 1.0,
                       combine: str = "sum") -> pd.DataFrame:
    """How much of the kept weights' DRIVE score each term supplies, per layer and overall.

    Args:
        terms: ``{"magnitude" | "connection" | "convergence": {layer: Tensor}}`` from
            :func:`drive_lab.scores.drive_terms` (raw, not normalised; pruned weights 0).
        masks: ``{layer: bool Tensor}``, the weights kept (``True``) after pruning by the
            combined score; same layers and shapes as ``terms``.
        magnitude, connection, convergence, combine: the score's weights a, b, c (default 1)
            and combination (default ``"sum"``), as in :func:`drive_lab.scores.combine_terms`;
            checked by :func:`drive_lab.scores.drive.validate_weights` (``ValueError``).

    Each term is normalised by its sum over all scored weights (as DRIVE does). A kept
    weight's score splits into one part per term: ``sum``: a·M̂, b·Ĉ and c·V̂;
    ``product`` (S = M·(b·Ĉ + c·V̂)): M·b·Ĉ and M·c·V̂ — magnitude multiplies both parts and
    has no additive part of its own, so its contribution is 0 there.

    Returns:
        Long table, columns ``layer, term, contribution, share, kept, weights``: one row per
        layer and term, then the rows of layer :data:`ALL_KEPT`. ``contribution`` = the
        part summed over the layer's kept weights (unitless: the terms are normalised);
        ``share`` = contribution / the layer's total kept score, a fraction in [0, 1] (the
        three shares of a layer sum to 1; NaN when the layer kept nothing); ``kept`` /
        ``weights``: kept and total weights of the layer. ``attrs`` hold the weights and
        combination.
    """
    validate_weights(magnitude, connection, convergence, combine)
    weights = {"magnitude": float(magnitude), "connection": float(connection), "convergence": float(convergence)}
    normalised = {term: normalise({layer: t.detach().to(torch.float64) for layer, t in terms[term].items()})
                  for term in TERMS}
    rows = []
    overall = {term: 0.0 for term in TERMS}
    kept_all = weights_all = 0
    for layer in masks:
        keep = masks[layer].detach().to(device=normalised["magnitude"][layer].device, dtype=torch.bool)
        parts = {term: float(_part(terms, normalised, weights, combine, term, layer)[keep].sum()) for term in TERMS}
        total = sum(parts.values())
        kept, size = int(keep.sum()), keep.numel()
        kept_all += kept
        weights_all += size
        for term in TERMS:
            overall[term] += parts[term]
            rows.append({"layer": layer, "term": term, "contribution": parts[term],
                         "share": parts[term] / total if kept and total > 0 else float("nan"),
                         "kept": kept, "weights": size})
    total = sum(overall.values())
    for term in TERMS:
        rows.append({"layer": ALL_KEPT, "term": term, "contribution": overall[term],
                     "share": overall[term] / total if total > 0 else float("nan"),
                     "kept": kept_all, "weights": weights_all})
    table = pd.DataFrame(rows, columns=["layer", "term", "contribution", "share", "kept", "weights"])
    table.attrs.update(combine=combine, **weights)
    return table


def kept_term_contributions(config: RunConfig) -> pd.DataFrame:
    """:func:`term_contributions` for a DRIVE config, pruned in ONE shot for the illustration.

    Warms the network up for ``config.warmup_epochs`` epochs (:func:`drive_lab.pipeline.warmed_up`),
    scores it once with :func:`drive_lab.scores.drive_terms` on ``config.score_batches``
    batches, keeps the top ``1 - config.sparsity`` fraction of the combined score
    (single-shot; DRIVE itself prunes in N steps, re-scoring each time), and splits the kept
    weights' score by term. No training after pruning. ``attrs`` add ``single_shot=True``,
    ``sparsity``, ``warmup_epochs`` and ``seed``.
    """
    model, _, batches = warmed_up(config)
    everything = Masks.ones(model)
    terms = drive_terms(model, batches, everything)
    scores = combine_terms(terms, everything, config.magnitude, config.connection, config.convergence, config.combine)
    kept = keep_top(scores, everything, 1.0 - config.sparsity)
    table = term_contributions(terms, kept, config.magnitude, config.connection, config.convergence, config.combine)
    table.attrs.update(single_shot=True, sparsity=config.sparsity, warmup_epochs=config.warmup_epochs, seed=config.seed)
    return table
