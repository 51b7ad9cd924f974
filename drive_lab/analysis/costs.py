"""What pruning buys: layer sizes and compute, what each run keeps, and where layers collapse.

Densities are fractions of a layer's (or all prunable) weights kept, in [0, 1]; a layer
with density 0 has *collapsed* (a plain network is disconnected; residual paths can bypass it). Compute is counted in
multiply-accumulates (MACs) per example.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd
import torch

from ..masks import PRUNABLE_TYPES
from .labels import add_labels

__all__ = ["emptying_sparsity", "first_collapse", "layer_costs", "layer_density_table", "pruning_savings"]


def _results_to_frame(frame_or_results: pd.DataFrame | Iterable) -> pd.DataFrame:
    """A result frame (returned as is) or ``RunResult`` objects (as :func:`drive_lab.sweep.results_frame`)."""
    if isinstance(frame_or_results, pd.DataFrame):
        return frame_or_results
    from ..sweep import results_frame  # the sweep layer imports the pipeline: only when needed

    return results_frame(list(frame_or_results))


def layer_density_table(frame_or_results: pd.DataFrame | Iterable, average_seeds: bool = False) -> pd.DataFrame:
    """Density kept in every layer, one row per run (or per variant and sparsity).

    Args:
        frame_or_results: a result frame (its ``layer_density`` column holds one
            ``{layer: fraction kept}`` dict per run) or an iterable of ``RunResult``.
        average_seeds: ``True``: mean over the runs that share label and sparsity
            (default ``False``).

    Returns:
        Rows indexed by ``(label, sparsity, seed)`` (``(label, sparsity)`` when averaged;
        ``label`` from :func:`~drive_lab.analysis.labels.ablation_label`), columns = layer
        names in model order, values = fraction of the layer's weights kept in [0, 1]; 0
        marks a collapsed layer. Layers a run does not have are NaN.
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
        ``(iteration, layer_name)``: the 1-based iteration (as recorded; its position in
        the history when not recorded) and the first layer named in that step's
        ``collapsed`` list (or, if the step has no such list, the first layer whose
        ``layer_density`` is 0). When several layers collapse in the same step the first
        in model order is returned.
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


def emptying_sparsity(scores: Mapping[str, torch.Tensor]) -> pd.DataFrame:
    """Per layer: from which sparsity one-shot global top-k by ``scores`` keeps none of it.

    A layer keeps no weight once the number kept, k, is below the global rank of its
    best-scored weight: with r = 1 + (weights scored strictly higher than the layer's
    best) and n weights in all, the layer is empty for k <= r − 1, i.e. for sparsity
    >= 1 − (r − 1) / n. (Ties with the layer's best are counted in its favour.)

    Returns:
        One row per layer, in ``scores`` order: ``layer``, ``weights``, ``best_rank`` (r)
        and ``empties_at`` (that sparsity; 1.0 for the layer holding the global best).
    """
    values = torch.cat([s.detach().flatten().double().cpu() for s in scores.values()])
    total = values.numel()
    rows = []
    for name, score in scores.items():
        best = score.detach().double().max().cpu()
        rank = int((values > best).sum()) + 1
        rows.append(dict(layer=name, weights=score.numel(), best_rank=rank, empties_at=1 - (rank - 1) / total))
    return pd.DataFrame(rows)


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
        ``KeyError`` when the runs have layers ``costs`` does not.
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
