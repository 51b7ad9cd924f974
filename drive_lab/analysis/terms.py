"""How DRIVE's terms relate: rank correlations, overlaps of kept sets, per-layer statistics.

*Terms* are ``{"magnitude" | "connection" | "convergence": {param_name: Tensor}}`` from
:func:`drive_lab.scores.drive.drive_terms`: every term has the same layers, each tensor
the shape of its weight, and pruned weights are 0 in every term. *Masks* are
``{param_name: bool Tensor}`` of the same shapes (``True`` = surviving weight). Work over
weights is vectorised in torch; Python loops run over layers and terms only.
"""
from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import pandas as pd
import torch

from ..masks import Masks, keep_top

Terms = Mapping[str, Mapping[str, torch.Tensor]]

__all__ = ["Terms", "average_ranks", "flat_term", "kept_overlap", "layer_names", "rank_correlation",
           "term_change", "term_product", "term_statistics"]


def layer_names(terms: Terms) -> list[str]:
    """The layers (parameter names) of ``terms``, in the order of its first term."""
    first = next(iter(terms.values()))
    return list(first)


def flat_term(terms: Terms, term: str, layers: Sequence[str] | None = None,
              masks: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
    """One term's values over ``layers``, flattened and concatenated into a 1-D tensor.

    Args:
        terms: ``{term: {layer: Tensor}}``.
        term: the term to take (e.g. ``"convergence"``).
        layers: the layers, in the order wanted (default: all, as :func:`layer_names`).
        masks: ``{layer: bool Tensor}`` of the weights' shapes; only survivors (``True``)
            are kept when given (default: every weight).

    Returns:
        A float64 tensor of shape ``(n,)`` on the term's device, ``n`` = number of
        (surviving) weights of those layers, in layer order then row-major order within a
        layer; an empty float64 tensor when ``layers`` is empty.
    """
    layers = layer_names(terms) if layers is None else layers
    parts = []
    for layer in layers:
        values = terms[term][layer].detach().flatten().to(torch.float64)
        if masks is not None:
            values = values[masks[layer].detach().flatten().to(device=values.device, dtype=torch.bool)]
        parts.append(values)
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)


def average_ranks(values: torch.Tensor) -> torch.Tensor:
    """Ranks 1..n of a 1-D tensor, ties sharing their average rank (like ``scipy.stats.rankdata``).

    Vectorised: one stable sort, then runs of equal values (``unique_consecutive``) get the
    mean of the ranks they span. Returns float64 ranks of shape ``(n,)`` in the input's
    order (any input shape is flattened first).
    """
    values = values.flatten()
    sorted_values, order = torch.sort(values, stable=True)
    _, run_index, run_lengths = torch.unique_consecutive(sorted_values, return_inverse=True, return_counts=True)
    run_ends = torch.cumsum(run_lengths, 0).to(torch.float64)  # rank of the last member of each run
    run_mean_rank = run_ends - (run_lengths.to(torch.float64) - 1) / 2
    ranks = torch.empty(values.numel(), dtype=torch.float64, device=values.device)
    ranks[order] = run_mean_rank[run_index]
    return ranks


def _spearman_matrix(columns: Sequence[torch.Tensor]) -> torch.Tensor:
    """Spearman correlation matrix ``(k, k)`` of ``k`` equally long 1-D tensors: Pearson correlation of average ranks.

    A constant column (zero variance) gives NaN off the diagonal; fewer than 2 values give NaN.
    """
    k = len(columns)
    n = columns[0].numel() if k else 0
    if n < 2:
        return torch.full((k, k), float("nan"), dtype=torch.float64, device=columns[0].device if k else "cpu")
    ranks = torch.stack([average_ranks(column) for column in columns])
    centred = ranks - ranks.mean(dim=1, keepdim=True)
    covariance = centred @ centred.T
    scale = covariance.diagonal().sqrt()
    correlation = covariance / torch.outer(scale, scale)  # 0/0 -> NaN for a constant term
    correlation = correlation.clamp(-1.0, 1.0)
    correlation.fill_diagonal_(1.0)
    return correlation


def rank_correlation(terms: Terms, masks: Mapping[str, torch.Tensor] | None = None,
                     per_layer: bool = False) -> pd.DataFrame:
    """Spearman rank correlation between DRIVE's terms (do they rank the weights alike?).

    Args:
        terms: ``{term: {layer: Tensor}}`` from ``drive_terms`` (any number of terms with
            the same layers and shapes).
        masks: current masks; only surviving weights (mask ``True``) are compared. Without
            masks every weight is compared, so pass the masks once anything is pruned
            (pruned weights are 0 in every term and would add a block of ties).
        per_layer: ``False``: one matrix over all layers flattened together;
            ``True``: a long table, one row per layer and pair of terms.

    Returns:
        ``per_layer=False``: a terms × terms DataFrame of Spearman ρ in [-1, 1] (1 on the
        diagonal), ``attrs["value"] = "Spearman rank correlation"``, ``attrs["n"]`` = number
        of weights compared. ``per_layer=True``: columns ``layer, term_a, term_b,
        spearman, n``. Ties get their average rank (exact Spearman, as ``scipy``); a term
        that is constant over the compared weights gives NaN. Runs on the terms' device
        (one sort per term; about 2 s per term and 5 million weights on one CPU core);
        memory: one float64 rank per weight and term.
    """
    names = list(terms)
    layers = layer_names(terms)
    if per_layer:
        rows = []
        for layer in layers:
            columns = [flat_term(terms, name, [layer], masks) for name in names]
            correlation = _spearman_matrix(columns)
            for (i, a), (j, b) in itertools.combinations(enumerate(names), 2):
                rows.append({"layer": layer, "term_a": a, "term_b": b,
                             "spearman": float(correlation[i, j]), "n": int(columns[0].numel())})
        table = pd.DataFrame(rows, columns=["layer", "term_a", "term_b", "spearman", "n"])
        table.attrs["value"] = "Spearman rank correlation"
        return table
    columns = [flat_term(terms, name, layers, masks) for name in names]
    table = pd.DataFrame(_spearman_matrix(columns).cpu().numpy(), index=pd.Index(names, name="term"),
                         columns=pd.Index(names, name="term"))
    table.attrs.update(value="Spearman rank correlation", n=int(columns[0].numel()) if columns else 0)
    return table


def kept_overlap(terms: Terms, density: float, masks: Masks | Mapping[str, torch.Tensor] | None = None) -> pd.DataFrame:
    """How much the weights kept by each term alone overlap (Jaccard index).

    For each term, prune to ``density`` by that term alone with
    :func:`drive_lab.masks.keep_top` (exact global top-k, deterministic ties), then compare
    the kept sets A and B of every pair: |A ∩ B| / |A ∪ B|.

    Args:
        terms: ``{term: {layer: Tensor}}``; higher = more important.
        density: fraction of ALL prunable weights to keep, in [0, 1] (as ``keep_top``:
            with ``masks`` given it must not exceed their density).
        masks: current masks (only survivors can be kept); default: every weight survives.

    Returns:
        terms × terms DataFrame of Jaccard overlaps in [0, 1] (1 on the diagonal; NaN when
        nothing is kept), ``attrs["value"] = "Jaccard overlap of kept weights"``,
        ``attrs["density"]``, ``attrs["kept"]`` = weights kept per term.
    """
    names = list(terms)
    layers = layer_names(terms)
    if masks is None:
        masks = Masks({layer: torch.ones_like(terms[names[0]][layer], dtype=torch.bool) for layer in layers})
    elif not isinstance(masks, Masks):
        masks = Masks(masks)
    kept_sets = []
    for name in names:
        kept = keep_top({layer: terms[name][layer] for layer in masks}, masks, density)
        kept_sets.append(torch.cat([kept[layer].flatten() for layer in masks]))
    stacked = torch.stack(kept_sets).to(torch.float64)  # terms × weights, 0/1
    intersection = stacked @ stacked.T
    sizes = stacked.sum(dim=1)
    union = sizes[:, None] + sizes[None, :] - intersection
    overlap = torch.where(union > 0, intersection / union.clamp_min(1), torch.full_like(union, float("nan")))
    table = pd.DataFrame(overlap.cpu().numpy(), index=pd.Index(names, name="term"),
                         columns=pd.Index(names, name="term"))
    table.attrs.update(value="Jaccard overlap of kept weights", density=float(density),
                       kept=int(sizes[0]) if len(sizes) else 0)
    return table


def term_statistics(terms: Terms, masks: Mapping[str, torch.Tensor] | None = None) -> pd.DataFrame:
    """Per layer and term: size of the term's values and the layer's share of the term's total.

    Args:
        terms: ``{term: {layer: Tensor}}`` (non-negative, as DRIVE's terms are).
        masks: only surviving weights are counted when given (pruned ones are 0 anyway,
            but they would pull the mean and median down).

    Returns:
        Long table with columns ``layer, term, n, mean, median, max, sum, share``: ``n``
        weights counted; mean/median/max of the term in its own units (magnitude |θ|,
        connection |θ·g| and convergence |g|, with g in loss per weight unit); ``share`` =
        the layer's sum / the term's sum over all layers, i.e. the layer's mass in the
        normalised term T/ΣT that DRIVE adds up (shares of a term sum to 1).
    """
    rows = []
    for term, by_layer in terms.items():
        layer_values = {layer: flat_term(terms, term, [layer], masks) for layer in by_layer}
        total = sum(float(values.sum()) for values in layer_values.values())
        for layer, values in layer_values.items():
            empty = values.numel() == 0
            layer_sum = float(values.sum())
            rows.append({
                "layer": layer, "term": term, "n": int(values.numel()),
                "mean": float("nan") if empty else float(values.mean()),
                "median": float("nan") if empty else float(values.median()),
                "max": float("nan") if empty else float(values.max()),
                "sum": layer_sum,
                "share": layer_sum / total if total > 0 else float("nan"),
            })
    return pd.DataFrame(rows, columns=["layer", "term", "n", "mean", "median", "max", "sum", "share"])


def term_change(before: Terms, after: Terms, masks: Mapping[str, torch.Tensor] | None = None) -> pd.DataFrame:
    """How each term changes per layer between two moments (e.g. initialisation and after warm-up).

    Args:
        before, after: ``{term: {layer: Tensor}}`` from ``drive_terms`` at the two moments
            (same terms and layers).
        masks: survivors to count at both moments (default: every weight).

    Returns:
        Columns ``layer, term, mean_before, mean_after, ratio, share_before, share_after``:
        means in the term's own units, ``ratio = mean_after / mean_before`` (×; NaN when the
        mean before is 0), shares as in :func:`term_statistics`.
    """
    first = term_statistics(before, masks)[["layer", "term", "mean", "share"]]
    second = term_statistics(after, masks)[["layer", "term", "mean", "share"]]
    table = first.merge(second, on=["layer", "term"], how="inner", suffixes=("_before", "_after"))
    mean_before = table["mean_before"].where(table["mean_before"] != 0)
    table["ratio"] = table["mean_after"] / mean_before
    return table[["layer", "term", "mean_before", "mean_after", "ratio", "share_before", "share_after"]]


def term_product(terms: Terms, names: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """Weight-by-weight product of DRIVE's terms, e.g. M·C·V = |θ|·|θg|·|g| = (θg)².

    Args:
        terms: ``{term: {layer: Tensor}}`` from ``drive_terms``.
        names: the terms to multiply (default: all of them).

    Returns:
        ``{layer: Tensor}`` in float64 (a product of three float32 terms underflows in
        float32), each with its weight's shape; usable wherever a score is, e.g. in
        :func:`rank_correlation` next to SNIP's scores.
    """
    names = list(names) if names is not None else list(terms)
    product = {}
    for layer in layer_names(terms):
        value = terms[names[0]][layer].detach().to(torch.float64)
        for name in names[1:]:
            value = value * terms[name][layer].detach().to(torch.float64)
        product[layer] = value
    return product
