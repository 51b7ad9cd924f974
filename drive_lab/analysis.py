"""Tables for the course: summaries over seeds, speed-up against IMP, and how DRIVE's terms relate.

Two kinds of input:

- *result frames*, one row per run, from :func:`drive_lab.sweep.load_results` or
  :func:`drive_lab.sweep.results_frame` (accuracies are fractions in [0, 1], times in
  seconds, densities are fractions of prunable weights kept);
- *terms*, ``{"magnitude" | "connection" | "convergence": {param_name: Tensor}}`` from
  :func:`drive_lab.scores.drive.drive_terms` (pruned weights are 0 in every term).

Every function returns a :class:`pandas.DataFrame` (or a plain value) and never plots:
:mod:`drive_lab.plots` draws these tables. Work over weights is vectorised in torch;
Python loops run over runs, layers and terms only.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
import torch

from .masks import Masks, keep_top

Terms = Mapping[str, Mapping[str, torch.Tensor]]

DISPLAY_NAMES = {"drive": "DRIVE", "snip": "SNIP", "grasp": "GraSP", "synflow": "SynFlow", "imp": "IMP",
                 "random": "Random", "magnitude": "Magnitude", "dense": "Dense"}

# The DRIVE term-weight variants that :func:`ablation_label` names, in teaching order.
ABLATION_LABELS = ("DRIVE (full)", "without magnitude", "without connection", "without convergence",
                   "magnitude only", "connection only", "convergence only",
                   "product", "product without connection", "product without convergence")

_TERM_NAMES = ("magnitude", "connection", "convergence")


# ----------------------------------------------------------------------------- result frames
def display_name(method: str) -> str:
    """The printed name of a method key (``"grasp"`` -> ``"GraSP"``); unknown keys are returned as given."""
    return DISPLAY_NAMES.get(method, method)


def _field(row: Mapping[str, Any], name: str, default: Any) -> Any:
    """``row[name]``, or ``default`` when the field is missing or NaN (frames written by older versions)."""
    value = row.get(name, default) if hasattr(row, "get") else default
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return default
    return value


def _weights_text(names: Sequence[str], weights: Sequence[float]) -> str:
    return ", ".join(f"{name[:4]}={weight:g}" for name, weight in zip(names, weights))


def ablation_label(row_or_frame: Mapping[str, Any] | pd.DataFrame) -> str | pd.Series:
    """A readable name for a run, naming DRIVE's term-weight variants.

    Args:
        row_or_frame: one run (a frame row, a dict, or a ``RunResult.config``) with the
            fields ``method`` and, for DRIVE, ``magnitude``, ``connection``,
            ``convergence`` (term weights a, b, c) and ``combine``; or a whole result
            frame. Missing term fields count as the defaults (1, 1, 1, ``"sum"``).

    Returns:
        For a row, a string; for a frame, a Series of strings aligned with its index.

        - non-DRIVE methods: the method's display name (``"SNIP"``, ``"IMP"``, ...);
        - ``combine="sum"``: ``"DRIVE (full)"`` when a = b = c > 0 (equal positive weights
          rank exactly like a = b = c = 1); ``"without convergence"`` (etc.) when exactly
          one weight is 0; ``"magnitude only"`` (etc.) when two are 0. Unequal non-zero
          weights are appended, e.g. ``"without convergence (magn=2, conn=1)"``;
        - ``combine="product"`` (S = M·(b·C/ΣC + c·V/ΣV); a only rescales): ``"product"``
          when b = c > 0, ``"product without connection"`` / ``"product without
          convergence"`` when one is 0, otherwise ``"product (conn=…, conv=…)"``.
    """
    if isinstance(row_or_frame, pd.DataFrame):
        if len(row_or_frame) == 0:
            return pd.Series([], index=row_or_frame.index, dtype=object, name="label")
        return row_or_frame.apply(ablation_label, axis=1).rename("label")  # rows are runs, not weights
    row = row_or_frame
    method = str(_field(row, "method", "drive"))
    return _drive_label(row) + _schedule_suffix(row, method) if method == "drive" else \
        display_name(method) + _schedule_suffix(row, method)


def _schedule_suffix(row, method: str) -> str:
    """" (one-shot)" / " (iterative)" when a run departs from its method's usual schedule."""
    from .methods import METHODS

    iterations = _field(row, "iterations", None)
    if method not in METHODS or method in ("imp", "dense") or iterations is None or pd.isna(iterations):
        return ""
    usual = METHODS[method].iterations
    if int(iterations) == 1 and usual > 1:
        return " (one-shot)"
    if int(iterations) > 1 and usual == 1:
        return " (iterative)"
    return ""


def _drive_label(row) -> str:
    combine = str(_field(row, "combine", "sum"))
    weights = {name: float(_field(row, name, 1.0)) for name in _TERM_NAMES}
    if combine == "product":
        active = {name: weights[name] for name in ("connection", "convergence")}
        dropped = [name for name, weight in active.items() if weight == 0]
        kept = {name: weight for name, weight in active.items() if weight != 0}
        label = "product" + (f" without {dropped[0]}" if len(dropped) == 1 else "")
        if len(set(kept.values())) > 1:
            label += f" ({_weights_text(list(kept), list(kept.values()))})"
        return label
    dropped = [name for name in _TERM_NAMES if weights[name] == 0]
    kept = {name: weights[name] for name in _TERM_NAMES if weights[name] != 0}
    if not dropped:
        label = "DRIVE (full)"
    elif len(dropped) == 1:
        label = f"without {dropped[0]}"
    elif len(kept) == 1:
        label = f"{next(iter(kept))} only"
    else:  # all three dropped: not a valid config, named anyway
        label = "DRIVE (no term)"
    if len(set(kept.values())) > 1:
        label += f" ({_weights_text(list(kept), list(kept.values()))})"
    return label


def add_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of the result ``frame`` with a ``label`` column from :func:`ablation_label`."""
    labelled = frame.copy()
    labelled["label"] = ablation_label(frame) if len(frame) else pd.Series(dtype=object)
    return labelled


def _with_columns(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """``frame``, labelled when ``"label"`` is asked for but absent; ``KeyError`` naming missing columns."""
    columns = list(columns)
    if "label" in columns and "label" not in frame.columns:
        frame = add_labels(frame)
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise KeyError(f"result frame has no column(s) {missing}; it has: {', '.join(map(str, frame.columns))}")
    return frame


def summarise(frame: pd.DataFrame, by: Sequence[str] | str = ("method", "sparsity"),
              value: str = "final_test_accuracy") -> pd.DataFrame:
    """Mean, spread and count of ``value`` over the runs of each group (typically: over seeds).

    Args:
        frame: result frame, one row per run.
        by: grouping column(s), e.g. ``("method", "sparsity")`` or ``("label", "sparsity")``
            (``"label"`` is added with :func:`add_labels` when absent).
        value: the column to summarise, in its own units (accuracies stay fractions).

    Returns:
        One row per group, sorted by ``by``, with columns ``*by, mean, std, n, min, max``;
        ``std`` is the sample standard deviation (ddof = 1), NaN for a group of one run.
        NaN values of ``value`` are ignored (``n`` counts the non-NaN ones).
    """
    by = [by] if isinstance(by, str) else list(by)
    frame = _with_columns(frame, [*by, value])
    values = pd.to_numeric(frame[value], errors="coerce")
    grouped = values.groupby([frame[name] for name in by], dropna=False, sort=True)
    table = grouped.agg(["mean", "std", "count", "min", "max"]).rename(columns={"count": "n"}).reset_index()
    table["n"] = table["n"].astype(int)
    return table.sort_values(by, kind="stable").reset_index(drop=True)


def speedup_vs_imp(frame: pd.DataFrame, by: Sequence[str] | str = ("model", "dataset", "sparsity"),
                   hue: str = "method") -> pd.DataFrame:
    """Pruning time of every method and its speed-up against IMP in the same setting (method.md).

    Args:
        frame: result frame with ``method``, ``seconds_pruning`` (s) and the ``by`` columns.
        by: columns that define "the same setting" (same model, data and sparsity).
        hue: the column that names a method: ``"method"``, or ``"label"`` to keep DRIVE's
            ablation variants apart. IMP rows are found by ``method == "imp"`` either way.

    Returns:
        Columns ``*by, <hue>, pruning_seconds, imp_pruning_seconds, speedup``:
        ``pruning_seconds`` is the mean over seeds of ``seconds_pruning``;
        ``speedup = imp_pruning_seconds / pruning_seconds`` (×, > 1 means faster than IMP),
        NaN when the group has no IMP run (IMP's own row has speed-up 1). Dense runs are
        left out (they do not prune).
    """
    by = [by] if isinstance(by, str) else list(by)
    frame = _with_columns(frame, [*by, hue, "method", "seconds_pruning"])
    frame = frame[frame["method"] != "dense"]
    seconds = pd.to_numeric(frame["seconds_pruning"], errors="coerce")
    per_method = (seconds.groupby([frame[name] for name in [*by, hue]], dropna=False, sort=True).mean()
                  .rename("pruning_seconds").reset_index())
    is_imp = frame["method"] == "imp"
    imp = (seconds[is_imp].groupby([frame.loc[is_imp, name] for name in by], dropna=False).mean()
           .rename("imp_pruning_seconds").reset_index())
    table = per_method.merge(imp, on=by, how="left") if by else per_method.assign(
        imp_pruning_seconds=float(seconds[is_imp].mean()) if is_imp.any() else float("nan"))
    table["speedup"] = table["imp_pruning_seconds"] / table["pruning_seconds"]
    return table.sort_values([*by, hue], kind="stable").reset_index(drop=True)


def _results_to_frame(frame_or_results: pd.DataFrame | Iterable) -> pd.DataFrame:
    if isinstance(frame_or_results, pd.DataFrame):
        return frame_or_results
    from .sweep import results_frame

    return results_frame(list(frame_or_results))


def layer_density_table(frame_or_results: pd.DataFrame | Iterable, average_seeds: bool = False) -> pd.DataFrame:
    """Density kept in every layer, one row per run (or per variant and sparsity).

    Args:
        frame_or_results: a result frame (its ``layer_density`` column holds one
            ``{layer: fraction kept}`` dict per run) or an iterable of ``RunResult``.
        average_seeds: ``True``: mean over the runs that share label and sparsity.

    Returns:
        Rows indexed by ``(label, sparsity, seed)`` (``(label, sparsity)`` when averaged;
        ``label`` from :func:`ablation_label`), columns = layer names in model order,
        values = fraction of the layer's weights kept in [0, 1]; 0 marks a collapsed
        layer. Layers a run does not have are NaN.
    """
    frame = add_labels(_results_to_frame(frame_or_results))
    index_names = [name for name in ("label", "sparsity", "seed") if name in frame.columns]
    densities = pd.DataFrame([dict(d) if isinstance(d, Mapping) else {} for d in frame["layer_density"]],
                             index=pd.MultiIndex.from_frame(frame[index_names]))
    densities.columns.name = "layer"
    if average_seeds:
        keys = [name for name in index_names if name != "seed"]
        densities = densities.groupby(level=keys, sort=False).mean()
    return densities


def first_collapse(pruning_history: Iterable) -> tuple[int, str] | None:
    """The first pruning step that left a layer with no weight, or ``None`` if none did.

    Args:
        pruning_history: ``RunResult.pruning_history`` (a list of dicts with ``iteration``,
            ``collapsed`` and/or ``layer_density``), a ``PruningHistory`` or its ``steps``.

    Returns:
        ``(iteration, layer_name)``: the 1-based iteration (as recorded) and the first layer
        named in that step's ``collapsed`` list (or, if the step has no such list, the first
        layer whose ``layer_density`` is 0). When several layers collapse in the same step
        the first in model order is returned.
    """
    steps = getattr(pruning_history, "steps", pruning_history)
    for position, step in enumerate(steps, start=1):
        get = step.get if isinstance(step, Mapping) else lambda name, default=None: getattr(step, name, default)
        collapsed = get("collapsed", None)
        if collapsed is None:
            collapsed = [name for name, density in (get("layer_density", None) or {}).items() if density == 0]
        if collapsed:
            return int(get("iteration", position)), collapsed[0]
    return None


# ----------------------------------------------------------------------------- DRIVE's terms
def _layer_names(terms: Terms) -> list[str]:
    first = next(iter(terms.values()))
    return list(first)


def _flat(terms: Terms, term: str, layers: Sequence[str], masks: Mapping[str, torch.Tensor] | None) -> torch.Tensor:
    """One term over ``layers`` concatenated (float64, on the term's device), survivors only when ``masks`` is given."""
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
    mean of the ranks they span. Returns float64 ranks in the input's order.
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
    """Spearman correlation matrix of equally long 1-D tensors: Pearson correlation of average ranks.

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
    layers = _layer_names(terms)
    if per_layer:
        rows = []
        for layer in layers:
            columns = [_flat(terms, name, [layer], masks) for name in names]
            correlation = _spearman_matrix(columns)
            for (i, a), (j, b) in itertools.combinations(enumerate(names), 2):
                rows.append({"layer": layer, "term_a": a, "term_b": b,
                             "spearman": float(correlation[i, j]), "n": int(columns[0].numel())})
        table = pd.DataFrame(rows, columns=["layer", "term_a", "term_b", "spearman", "n"])
        table.attrs["value"] = "Spearman rank correlation"
        return table
    columns = [_flat(terms, name, layers, masks) for name in names]
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
    layers = _layer_names(terms)
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
        layer_values = {layer: _flat(terms, term, [layer], masks) for layer in by_layer}
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


# ----------------------------------------------------------------------------- what pruning buys
def layer_costs(model: torch.nn.Module, example: torch.Tensor) -> pd.DataFrame:
    """Size and compute of every prunable layer: weights and multiply-accumulates per example.

    Args:
        model: the network (its prunable layers are the ``nn.Conv2d`` and ``nn.Linear``
            of method.md).
        example: an input batch ``(B, C, H, W)`` on the model's device; only its first
            example is run (in eval mode, without gradients; the model's mode is restored
            and no buffer changes).

    Returns:
        One row per prunable weight, in model order, with columns ``layer`` (parameter
        name), ``type`` (``Conv2d``/``Linear``), ``shape``, ``weights`` (count),
        ``weight_share`` (fraction of all prunable weights), ``macs`` (multiply-accumulates
        of the layer for ONE example = output elements × fan-in = ``weights`` × output
        positions, i.e. H_out·W_out for a convolution, 1 for a linear layer) and
        ``mac_share`` (fraction of the prunable layers' MACs). Biases, BatchNorm,
        activations and pooling are not counted.
    """
    from .masks import PRUNABLE_TYPES

    modules = {f"{name}.weight" if name else "weight": module for name, module in model.named_modules()
               if isinstance(module, PRUNABLE_TYPES) and module.weight is not None}
    outputs: dict[str, int] = {}
    hooks = [module.register_forward_hook(lambda _m, _i, out, name=name: outputs.__setitem__(name, out[0].numel()))
             for name, module in modules.items()]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(example[:1])
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    rows = []
    for name, module in modules.items():
        weight = module.weight
        fan_in = weight[0].numel()  # weights feeding one output element
        rows.append({"layer": name, "type": type(module).__name__, "shape": tuple(weight.shape),
                     "weights": int(weight.numel()), "macs": int(outputs.get(name, 0) * fan_in)})
    table = pd.DataFrame(rows, columns=["layer", "type", "shape", "weights", "macs"])
    table.insert(4, "weight_share", table["weights"] / table["weights"].sum())
    table["mac_share"] = table["macs"] / table["macs"].sum()
    return table


def pruning_savings(costs: pd.DataFrame, frame_or_results: pd.DataFrame | Iterable) -> pd.DataFrame:
    """Weights and multiply-accumulates that each pruned run keeps, against the dense network.

    Unstructured pruning removes single weights; a layer keeping a fraction d of its
    weights keeps the same fraction d of its multiply-accumulates (every weight of a layer
    is used equally often). These are the counts a sparse kernel would have to compute;
    dense GPU kernels still do all of them.

    Args:
        costs: :func:`layer_costs` of the model the runs pruned.
        frame_or_results: result frame (with ``layer_density``) or ``RunResult`` objects.

    Returns:
        One row per run with ``label``, ``sparsity``, ``seed`` (where present), ``weights``
        (kept, count), ``weight_fraction`` (of the dense prunable weights), ``macs`` (kept
        per example) and ``mac_fraction`` (of the dense MACs); a dense run has fractions 1.
    """
    densities = layer_density_table(frame_or_results)
    per_layer = costs.set_index("layer")
    missing = [layer for layer in densities.columns if layer not in per_layer.index]
    if missing:
        raise KeyError(f"the runs have layers {missing} that `costs` does not: were they pruned from another model?")
    layers = list(densities.columns)
    weights = per_layer.loc[layers, "weights"].to_numpy(float)
    macs = per_layer.loc[layers, "macs"].to_numpy(float)
    values = densities.to_numpy(float)
    table = densities.index.to_frame(index=False)
    table["weights"] = (values @ weights).round().astype(int)
    table["weight_fraction"] = table["weights"] / float(costs["weights"].sum())
    table["macs"] = (values @ macs).round().astype(int)
    table["mac_fraction"] = table["macs"] / float(costs["macs"].sum())
    return table


def versus_dense(frame: pd.DataFrame, by: Sequence[str] | str = ("method", "sparsity"),
                 value: str = "final_test_accuracy") -> pd.DataFrame:
    """:func:`summarise` of the pruned runs, each group compared with the dense network.

    Args:
        frame: result frame with dense runs (``method == "dense"``) and pruned runs.
        by: grouping of the pruned runs (``"label"`` is added when asked for).
        value: the column compared (accuracies stay fractions).

    Returns:
        The pruned groups' ``*by, mean, std, n, min, max`` plus ``dense_mean`` and
        ``dense_n`` (mean and count of ``value`` over every dense run of the frame) and
        ``change = mean - dense_mean`` (in ``value``'s units; negative = worse than dense
        for an accuracy). NaN when the frame has no dense run.
    """
    frame = _with_columns(frame, [by] if isinstance(by, str) else by)
    is_dense = frame["method"] == "dense"
    table = summarise(frame[~is_dense], by=by, value=value)
    dense = pd.to_numeric(frame.loc[is_dense, value], errors="coerce").dropna()
    table["dense_mean"] = float(dense.mean()) if len(dense) else float("nan")
    table["dense_n"] = int(len(dense))
    table["change"] = table["mean"] - table["dense_mean"]
    return table


def stored_results(frame: pd.DataFrame, results_dir: str | Any | None = None) -> list:
    """The full ``RunResult`` records (with training and pruning histories) of a frame's runs.

    A result table (e.g. from :func:`drive_lab.experiments.results`) holds one row per run
    but not its per-epoch histories; those live in the result store, one JSON record per
    run key. Nothing is computed here: runs without a record are skipped.

    Args:
        frame: result frame with a ``key`` column.
        results_dir: the store's folder. Default: look in ``$DRIVE_LAB_RESULTS``, then the
            ``results/`` folder of the source checkout, then ``./results``; the first
            record found for a key is used.

    Returns:
        The records found, in the frame's row order (possibly fewer than its rows).
    """
    import os
    from pathlib import Path

    from .experiments import default_tables_dir
    from .results import RunResult
    from .store import ResultStore

    if results_dir is not None:
        roots = [Path(results_dir)]
    else:
        roots = [Path(p) for p in (os.environ.get("DRIVE_LAB_RESULTS"), default_tables_dir(), "results") if p]
    stores = [ResultStore(root) for root in dict.fromkeys(roots)]
    found = []
    for key in frame["key"]:
        for store in stores:
            path = store.path(str(key))
            if not path.is_file():
                continue
            try:
                result = RunResult.load(path)
            except (OSError, ValueError, TypeError):  # unreadable record: treat as missing
                continue
            if result.key == key:
                found.append(result)
                break
    return found


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
    for layer in _layer_names(terms):
        value = terms[names[0]][layer].detach().to(torch.float64)
        for name in names[1:]:
            value = value * terms[name][layer].detach().to(torch.float64)
        product[layer] = value
    return product


def paired_difference(frame: pd.DataFrame, a: str, b: str, by: Sequence[str] | str = ("sparsity",),
                      value: str = "final_test_accuracy", column: str = "label",
                      pair_on: Sequence[str] | str = ("seed",)) -> pd.DataFrame:
    """Difference ``a − b`` of ``value`` between two variants, paired run by run (same seed).

    An ablation compares variants trained from the same seed (same initial weights, same
    batches), so the seed-to-seed noise they share cancels in the paired difference. This
    is the table behind a sentence such as "the full score beats the score without
    convergence sensitivity by x ± y points at 95% sparsity, in 3 of 3 seeds".

    Args:
        frame: result frame, one row per run.
        a, b: the two values of ``column`` to compare (e.g. ``"DRIVE (full)"`` and
            ``"without convergence"``); ``KeyError`` naming the available ones if absent.
        by: grouping column(s) (default: one row per sparsity); ``()`` for one row overall.
        value: the column compared, in its own units (accuracies stay fractions).
        column: the column naming the variants (``"label"`` is added with
            :func:`add_labels` when absent; ``"method"`` works too).
        pair_on: the column(s) that, with ``by``, pair one run of ``a`` with one run of
            ``b`` (e.g. ``by=(), pair_on=("sparsity", "seed")`` for one row over everything).

    Returns:
        One row per group, sorted by ``by``, with columns ``*by, n, mean_a, mean_b,
        difference, std, sem, ci_low, ci_high, a_wins, b_wins, ties``: ``n`` pairs (runs
        without a partner, or with a NaN value, are left out); ``difference`` = mean over
        pairs of a − b; ``std`` = sample standard deviation (ddof = 1) of the differences,
        NaN when n < 2; ``sem = std / √n``; ``ci_low``/``ci_high`` = the 95% Student-t
        confidence interval of the mean difference, ``difference ± t(0.975, n − 1) · sem``
        (NaN when n < 2; it contains 0 when the data cannot tell the variants apart);
        ``a_wins``/``b_wins``/``ties`` count pairs with a > b, a < b, a = b. ``attrs`` records ``a``, ``b`` and ``value``. ``ValueError`` when one
        variant has two runs with the same ``by`` and ``pair_on`` values.
    """
    by = [by] if isinstance(by, str) else list(by)
    pair_on = [pair_on] if isinstance(pair_on, str) else list(pair_on)
    frame = _with_columns(frame, [*by, *pair_on, column, value])
    keys = [*by, *[name for name in pair_on if name not in by]]
    available = list(dict.fromkeys(frame[column]))
    sides = []
    for name in (a, b):
        if name not in available:
            raise KeyError(f"no run has {column} == {name!r}; available: {', '.join(map(str, available))}")
        rows = frame[frame[column] == name]
        if rows.duplicated(keys).any():
            raise ValueError(f"{column} == {name!r} has several runs with the same {', '.join(keys)}: "
                             "cannot pair them (select one run each, e.g. one model and dataset)")
        sides.append(rows[keys].assign(_value=pd.to_numeric(rows[value], errors="coerce").to_numpy()))
    pairs = sides[0].merge(sides[1], on=keys, suffixes=("_a", "_b")).dropna(subset=["_value_a", "_value_b"])
    pairs["_difference"] = pairs["_value_a"] - pairs["_value_b"]
    group_keys = by if by else pd.Series(0, index=pairs.index)
    grouped = pairs.groupby(group_keys, sort=True)
    table = pd.DataFrame({
        "n": grouped["_difference"].size(),
        "mean_a": grouped["_value_a"].mean(),
        "mean_b": grouped["_value_b"].mean(),
        "difference": grouped["_difference"].mean(),
        "std": grouped["_difference"].std(ddof=1),
        "a_wins": grouped["_difference"].apply(lambda d: int((d > 0).sum())),
        "b_wins": grouped["_difference"].apply(lambda d: int((d < 0).sum())),
        "ties": grouped["_difference"].apply(lambda d: int((d == 0).sum())),
    })
    table["sem"] = table["std"] / table["n"].pow(0.5)
    from scipy import stats  # installed with scikit-learn

    half_width = table["sem"] * stats.t.ppf(0.975, (table["n"] - 1).clip(lower=1))
    table["ci_low"], table["ci_high"] = table["difference"] - half_width, table["difference"] + half_width
    table = table.reset_index() if by else table.reset_index(drop=True)
    columns = [*by, "n", "mean_a", "mean_b", "difference", "std", "sem", "ci_low", "ci_high", "a_wins", "b_wins", "ties"]
    table = table.reindex(columns=columns)
    table["n"] = table["n"].fillna(0).astype(int)
    table.attrs.update(a=a, b=b, value=value)
    return table


# ----------------------------------------------------------------------------- cost against benefit
def tradeoff(frame: pd.DataFrame, x: str = "warmup_epochs", by: Sequence[str] | str = ("method", "sparsity"),
             value: str = "final_test_accuracy", cost: str = "seconds_pruning") -> pd.DataFrame:
    """Accuracy gained per extra second of pruning as a setting ``x`` (e.g. warm-up epochs E) grows.

    Within each group of ``by`` (e.g. one method at one sparsity), every value of ``x`` is
    compared with the group's smallest ``x`` (the reference, e.g. E = 0: pruning at
    initialisation): how many accuracy points it gains and how many seconds of pruning
    it costs on top.

    Args:
        frame: result frame, one row per run (typically several seeds per setting).
        x: the setting that buys accuracy with time (a numeric column).
        by: columns that define one curve (``"label"`` is added when asked for).
        value: the accuracy column (a fraction in [0, 1]).
        cost: the time column in seconds (``seconds_pruning``: warm-up + scoring, the
            pruning time of method.md's cost accounting).

    Returns:
        One row per ``(*by, x)``, sorted, with columns ``*by, x, mean, std, n`` (of
        ``value`` over the runs, as :func:`summarise`), ``seconds`` (mean ``cost``, s),
        ``seconds_warmup`` and ``seconds_scoring`` (means, s; NaN when the frame lacks
        them), ``gain_points = 100 · (mean − reference mean)`` (percentage points of
        accuracy), ``extra_seconds = seconds − reference seconds`` (s) and
        ``points_per_second = gain_points / extra_seconds`` (NaN for the reference row and
        whenever ``extra_seconds <= 0``).
    """
    by = [by] if isinstance(by, str) else list(by)
    frame = _with_columns(frame, [*by, x, value, cost])
    table = summarise(frame, by=[*by, x], value=value)[[*by, x, "mean", "std", "n"]]
    keys = [frame[name] for name in [*by, x]]
    for column, name in ((cost, "seconds"), ("seconds_warmup", "seconds_warmup"),
                         ("seconds_scoring", "seconds_scoring")):
        if column in frame.columns:
            means = pd.to_numeric(frame[column], errors="coerce").groupby(keys, dropna=False, sort=True).mean()
            table = table.merge(means.rename(name).reset_index(), on=[*by, x], how="left")
        else:
            table[name] = float("nan")
    table = table.sort_values([*by, x], kind="stable").reset_index(drop=True)
    groups = [table[name] for name in by] if by else [pd.Series(0, index=table.index)]
    reference = table.groupby(groups, dropna=False, sort=False)[["mean", "seconds"]].transform(lambda s: s.iloc[0])
    table["gain_points"] = 100.0 * (table["mean"] - reference["mean"])
    table["extra_seconds"] = table["seconds"] - reference["seconds"]
    positive = table["extra_seconds"].where(table["extra_seconds"] > 0)
    table["points_per_second"] = table["gain_points"] / positive
    return table


def ranking(frame: pd.DataFrame, by: Sequence[str] | str = ("model", "sparsity"), hue: str = "method",
            value: str = "final_test_accuracy", focus: str = "drive") -> pd.DataFrame:
    """Which method is best in each setting, and where ``focus`` (DRIVE) ranks.

    Dense runs are left out (they do not prune). Methods are ranked by their mean
    ``value`` over seeds; ties share the better rank.

    Args:
        frame: result frame, one row per run.
        by: columns that define one setting (``"model"``/``"dataset"`` are skipped when absent).
        hue: the column naming a method (``"method"`` or ``"label"``).
        value: the column compared (accuracies stay fractions; higher is better).
        focus: the ``hue`` value to follow (default ``"drive"``).

    Returns:
        One row per setting with columns ``*by, methods`` (how many were compared),
        ``best`` (the ``hue`` value with the highest mean), ``best_mean, best_std, best_n``,
        ``focus_mean, focus_std, focus_n, focus_rank`` (1 = best; NaN when ``focus`` did
        not run there), ``runner_up, runner_up_mean, runner_up_std, runner_up_n`` (the best
        method other than ``focus``) and ``gap_points = 100 · (focus_mean − runner_up_mean)``
        (percentage points; positive: ``focus`` beats every other method).
    """
    by = [name for name in ([by] if isinstance(by, str) else list(by)) if name in frame.columns or name == "label"]
    frame = _with_columns(frame, [*by, hue, "method", value])
    table = summarise(frame[frame["method"] != "dense"], by=[*by, hue], value=value)
    rows = []
    for key, group in (table.groupby(by, sort=True, dropna=False) if by else [((), table)]):
        key = key if isinstance(key, tuple) else (key,)
        group = group.dropna(subset=["mean"]).sort_values("mean", ascending=False, kind="stable")
        if group.empty:
            continue
        best = group.iloc[0]
        mine = group[group[hue] == focus]
        others = group[group[hue] != focus]
        row = dict(zip(by, key))
        row.update(methods=len(group), best=best[hue], best_mean=best["mean"], best_std=best["std"],
                   best_n=int(best["n"]))
        if len(mine):
            focus_mean = float(mine["mean"].iloc[0])
            row.update(focus_mean=focus_mean, focus_std=float(mine["std"].iloc[0]), focus_n=int(mine["n"].iloc[0]),
                       focus_rank=int((group["mean"] > focus_mean).sum()) + 1)
        else:
            row.update(focus_mean=float("nan"), focus_std=float("nan"), focus_n=0, focus_rank=float("nan"))
        if len(others):
            second = others.iloc[0]
            row.update(runner_up=second[hue], runner_up_mean=float(second["mean"]),
                       runner_up_std=float(second["std"]), runner_up_n=int(second["n"]))
        else:
            row.update(runner_up=None, runner_up_mean=float("nan"), runner_up_std=float("nan"), runner_up_n=0)
        row["gap_points"] = 100.0 * (row["focus_mean"] - row["runner_up_mean"])
        rows.append(row)
    columns = [*by, "methods", "best", "best_mean", "best_std", "best_n", "focus_mean", "focus_std", "focus_n",
               "focus_rank", "runner_up", "runner_up_mean", "runner_up_std", "runner_up_n", "gap_points"]
    result = pd.DataFrame(rows, columns=columns)
    result.attrs.update(focus=focus, value=value)
    return result


def format_mean(mean: float, std: float = float("nan"), n: int = 1, percent: bool = True, digits: int = 2) -> str:
    """``"98.33 ± 0.12% (n = 3)"``: a mean with its spread over ``n`` runs, for sentences built from tables.

    Args:
        mean, std: the values, in the column's units (accuracy fractions when ``percent``).
        n: the number of runs; the ``± std`` part is left out when ``n < 2`` or ``std`` is NaN.
        percent: show fractions as % (× 100) rather than as plain numbers.
        digits: decimals shown.
    """
    scale, unit = (100.0, "%") if percent else (1.0, "")
    spread = f" ± {scale * std:.{digits}f}" if n >= 2 and not math.isnan(float(std)) else ""
    return f"{scale * mean:.{digits}f}{spread}{unit} (n = {int(n)})"
