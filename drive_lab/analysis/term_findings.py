"""The sentences stating what DRIVE's terms show on one network (notebook 01), computed from the terms.

Inputs are ``drive_terms`` output (``{term: {layer: Tensor}}``) or the tables of
:mod:`.terms`; each function returns sentences with the numbers behind them, agreement put
in words by :func:`.findings.agreement` (thresholds stated there).
"""
from __future__ import annotations

import pandas as pd
import torch

from .findings import agreement

__all__ = ["layer_agreement_sentences", "product_identity_sentence", "spread_sentences", "taylor_sentence",
           "term_change_sentences", "term_share_sentences"]


def product_identity_sentence(terms: dict) -> str:
    """How exactly connection = magnitude × convergence holds, weight by weight, in ``drive_terms`` output."""
    worst, count = 0.0, 0
    for layer, c in terms["connection"].items():
        product = terms["magnitude"][layer] * terms["convergence"][layer]
        worst = max(worst, float((c - product).abs().max()))
        count += c.numel()
    size = "exactly 0" if worst == 0 else f"at most {worst:.1g} in size (float rounding)"
    return (f"Over all {count:,} weights, connection − magnitude × convergence is {size}: "
            "C = M·V weight by weight (|θg| = |θ|·|g|), so C is not an independent term.")


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _positive(values):
    return values[values > 0]


def spread_sentences(terms: dict) -> list[str]:
    """Per term: decades between its 1st and 99th percentile (positive values), and the layers with the highest/lowest median."""
    out = []
    for term, layers in terms.items():
        values = _positive(torch.cat([v.detach().flatten().double() for v in layers.values()])).sort().values
        if values.numel() == 0:
            out.append(f"{term}: no positive value.")
            continue
        low, high = values[int(0.01 * (values.numel() - 1))], values[int(0.99 * (values.numel() - 1))]
        medians = {layer: float(_positive(v.detach().flatten().double()).median()) for layer, v in layers.items()
                   if _positive(v.detach().flatten()).numel()}
        top, bottom = max(medians, key=medians.get), min(medians, key=medians.get)
        out.append(f"{term} spans {float(torch.log10(high / low)):.1f} decades (1st to 99th percentile); its median is "
                   f"highest in {top} ({medians[top]:.3g}) and lowest in {bottom} ({medians[bottom]:.3g}).")
    return out


def term_share_sentences(statistics: pd.DataFrame) -> list[str]:
    """From :func:`~drive_lab.analysis.term_statistics`: who holds most of each term, and the largest share contrast."""
    shares = statistics.pivot_table(index="layer", columns="term", values="share", sort=False)
    out = [f"{shares[term].idxmax()} holds the largest share of {term} ({100 * shares[term].max():.1f}%)."
           for term in shares.columns]
    contrast = (shares.max(axis=1) / shares.min(axis=1)).replace(float("inf"), float("nan")).dropna()
    if len(contrast):
        layer = contrast.idxmax()
        high, low = shares.loc[layer].idxmax(), shares.loc[layer].idxmin()
        out.append(f"The largest contrast: {layer} holds {100 * shares.loc[layer, low]:.1f}% of {low} but "
                   f"{100 * shares.loc[layer, high]:.1f}% of {high} ({contrast[layer]:.2g}×), so in the normalised sum "
                   f"its weights compete best through {high}.")
    return out


def layer_agreement_sentences(per_layer: pd.DataFrame, a: str, b: str) -> list[str]:
    """Per layer of ``rank_correlation(..., per_layer=True)``: how much terms ``a`` and ``b`` agree."""
    rows = per_layer[((per_layer["term_a"] == a) & (per_layer["term_b"] == b)) |
                     ((per_layer["term_a"] == b) & (per_layer["term_b"] == a))]
    return [f"In {row.layer}, {a} and {b} {agreement(row.spearman)} (Spearman ρ = {row.spearman:.3f}, {row.n:,} weights)."
            for row in rows.itertuples(index=False)]


def term_change_sentences(change: pd.DataFrame, reference: str = "magnitude") -> list[str]:
    """From :func:`~drive_lab.analysis.term_change`: per term, where its mean grew or shrank; each term against ``reference``."""
    ratios = change.pivot_table(index="layer", columns="term", values="ratio", sort=False)
    out = []
    for term in ratios.columns:
        grew = [f"{layer} (×{r:.4g})" for layer, r in ratios[term].items() if r > 1]
        shrank = [f"{layer} (×{r:.4g})" for layer, r in ratios[term].items() if r < 1]
        parts = ([f"grew in {_join(grew)}"] if grew else []) + ([f"shrank in {_join(shrank)}"] if shrank else [])
        out.append(f"During warm-up the mean {term} {', and '.join(parts) or 'did not change'}.")
    if reference in ratios.columns:
        for term in ratios.columns.drop(reference):
            relative = ratios[term] / ratios[reference]
            smaller = int((relative < 1).sum())
            out.append(f"Relative to the {reference}, {term} became smaller in {smaller} of {len(relative)} layers "
                       f"(ratio of ratios from ×{relative.min():.2f} to ×{relative.max():.2f}).")
    return out


def taylor_sentence(table: pd.DataFrame) -> str:
    """From :func:`~drive_lab.analysis.taylor.first_order_loss_change`: how well −g·θ predicts the loss change."""
    n = len(table)
    if n < 3:
        return f"Only {n} weight(s) sampled: too few to compare."
    pearson = float(table["estimate"].corr(table["actual"]))
    rho = float(table["estimate"].abs().corr(table["actual"].abs(), method="spearman"))
    return (f"Over {n} sampled weights, the first-order estimate −g·θ and the actual loss change correlate with "
            f"Pearson r = {pearson:.3f}; ranked by size, |g·θ| and |ΔL| {agreement(rho)} (Spearman ρ = {rho:.3f}). "
            f"The median |ΔL| is {table['actual'].abs().median():.2g} and the median error of the estimate "
            f"{table['error'].abs().median():.2g} (loss units): what the first-order term misses is the curvature, "
            "½·H_jj·θ_j² and beyond.")
