"""Interactive ablations for live demos: run and compare DRIVE variants without writing code.

Two widgets (ipywidgets 8; JupyterLab 4 and Notebook 7)::

    from drive_lab import widgets
    widgets.ablation_explorer()          # choose DRIVE's term weights, E, N, sparsity, seeds; press Run
    widgets.results_browser()            # filter the stored runs and plot them

The widgets only wire controls to the pure functions of this module, which take the control
values and return tables and figures, so everything a widget shows can be reproduced (and is
tested) without a browser:

- explorer: :class:`AblationControls`, :func:`default_controls`, :func:`ablation_configs`
  (validated configs of your setting and of its references), :func:`run_ablation` (runs them
  through the result store, so a setting already computed comes back at once, and returns an
  :class:`AblationOutcome` with the table and figures), :func:`term_contributions` (which
  share of the kept weights' score each DRIVE term supplies) and the figure functions;
- browser: :func:`browser_options`, :func:`default_filters`, :func:`filter_results`,
  :func:`label_runs`, :func:`browser_summary` and :func:`browser_figures`.

Errors inside a widget callback are shown in the widget as a readable message (and kept in
its ``.error``); give ``raise_errors=True`` to have them raised as well (the tests do).
"""
from __future__ import annotations

import base64
import dataclasses
import html
import io
import math
import traceback
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as ipw
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from . import analysis, plots
from . import progress as _progress_module
from .config import RunConfig
from .data import dataset_info
from .masks import Masks, keep_top
from .models import MODELS
from .presets import Preset, get_preset
from .results import RunResult
from .scores.drive import COMBINATIONS, TERMS, combine_terms, drive_terms, normalise, validate_weights
from .store import ResultStore
from .sweep import load_results, results_frame

__all__ = [
    "AblationControls", "AblationOutcome", "AblationExplorer", "ResultsBrowser", "BASELINE_CHOICES",
    "DEFAULT_BASELINES", "ablation_explorer", "results_browser", "default_controls", "control_problem",
    "resolve_controls", "ablation_configs", "variant_name", "run_ablation", "term_contributions",
    "kept_term_contributions", "accuracy_figure", "contribution_figure", "layer_density_figure", "browser_options",
    "default_filters", "filter_results", "label_runs", "browser_summary", "browser_figures", "readable_error",
]

# Baselines the explorer can run beside DRIVE (same sparsity, model, data and seeds).
BASELINE_CHOICES = ("snip", "synflow", "random", "magnitude", "grasp", "imp", "dense")
DEFAULT_BASELINES = ("snip", "synflow", "random")  # cheap: one-shot or data-free; IMP trains many rounds

TERM_LABELS = {term: f"{term} {plots.TERM_SYMBOLS[term]}" for term in TERMS}
ROLE_VARIANT, ROLE_BOTH, ROLE_FULL, ROLE_BASELINE = ("your setting", "your setting = full DRIVE",
                                                     "full DRIVE", "baseline")
ALL_KEPT = "all kept weights"
_DPI = 80  # figures shown inside the widgets (PNG)


# ============================================================================ explorer: pure logic
@dataclass(frozen=True)
class AblationControls:
    """The explorer's control values. ``None`` means "the preset's value".

    Term weights a, b, c (``magnitude``, ``connection``, ``convergence``): 0 switches that
    term off. ``combine``: ``"sum"`` (S = a·M/ΣM + b·C/ΣC + c·V/ΣV) or ``"product"``
    (S = M·(b·C/ΣC + c·V/ΣV)), see ``docs/method.md``. ``warmup_epochs`` E and ``iterations``
    N of your setting; ``sparsity``: target fraction of prunable weights removed, in (0, 1);
    ``model``/``dataset``: within the preset; ``seeds``: one run per seed; ``baselines``:
    methods (from :data:`BASELINE_CHOICES`) run with their preset defaults for comparison.
    """

    magnitude: float = 1.0
    connection: float = 1.0
    convergence: float = 1.0
    combine: str = "sum"
    warmup_epochs: int | None = None
    iterations: int | None = None
    sparsity: float | None = None
    model: str | None = None
    dataset: str | None = None
    seeds: tuple[int, ...] | None = None
    baselines: tuple[str, ...] = DEFAULT_BASELINES

    def replace(self, **changes) -> "AblationControls":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _preset(preset: Preset | str | None) -> Preset:
    return preset if isinstance(preset, Preset) else get_preset(preset)


def model_choices(preset: Preset) -> tuple[str, ...]:
    """The models the explorer offers: the preset's default model and its full-run models."""
    return tuple(dict.fromkeys((preset.run.model, *preset.models)))


def dataset_choices(preset: Preset) -> tuple[str, ...]:
    """The data sets the explorer offers: the preset's."""
    return (preset.run.dataset,)


def default_controls(preset: Preset | str | None = None) -> AblationControls:
    """The explorer's initial control values for ``preset`` (every field concrete).

    DRIVE without its convergence term (c = 0) against the full DRIVE, at the preset's
    largest ablation sparsity, E and N of the preset, its model, data and seeds, and the
    cheap baselines SNIP, SynFlow and Random.
    """
    preset = _preset(preset)
    return AblationControls(
        magnitude=1.0, connection=1.0, convergence=0.0, combine="sum",
        warmup_epochs=preset.warmup_epochs, iterations=preset.iterations, sparsity=max(preset.sparsities),
        model=preset.run.model, dataset=preset.run.dataset, seeds=tuple(preset.seeds[:1]),
        baselines=DEFAULT_BASELINES,
    )


def _as_controls(controls: AblationControls | Mapping | None, values: Mapping,
                 base: AblationControls) -> AblationControls:
    """``controls`` as AblationControls (``None``: ``base``; a dict changes fields of ``base``), ``values`` applied."""
    if controls is None:
        controls, values = base, dict(values)
    elif isinstance(controls, Mapping):
        controls, values = base, {**dict(controls), **values}
    elif not isinstance(controls, AblationControls):
        raise TypeError(f"controls must be AblationControls or a dict, got {type(controls).__name__}")
    names = [f.name for f in dataclasses.fields(AblationControls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"unknown control(s) {unknown}; valid: {', '.join(names)}")
    return controls.replace(**values) if values else controls


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def resolve_controls(preset: Preset | str | None = None, controls: AblationControls | Mapping | None = None,
                     **values) -> AblationControls:
    """``controls`` (default: :func:`default_controls`; ``values`` change single fields), checked,
    with every ``None`` replaced by the preset's value.

    Raises ``ValueError`` with a message meant for a learner: all terms switched off, a
    sparsity outside (0, 1), no seed chosen, an unknown baseline, and so on.
    """
    preset = _preset(preset)
    defaults = default_controls(preset)
    c = _as_controls(controls, values, defaults)
    weights = {}
    for term in TERMS:
        value = getattr(c, term)
        if not _is_number(value) or not math.isfinite(float(value)) or float(value) < 0:
            raise ValueError(f"the weight of the {term} term must be a number >= 0 (0 switches the term off); got {value!r}")
        weights[term] = round(float(value), 6)
    if c.combine not in COMBINATIONS:
        raise ValueError(f"combination must be one of {', '.join(COMBINATIONS)}; got {c.combine!r}")
    if c.combine == "sum" and not any(weights.values()):
        raise ValueError("all three DRIVE terms (magnitude, connection, convergence) are switched off, so every "
                         "weight would score 0 and there is nothing to rank by: switch at least one term on")
    if c.combine == "product" and weights["magnitude"] == 0:
        raise ValueError("the product reading S = M·(b·C/ΣC + c·V/ΣV) multiplies by the magnitude term, so magnitude "
                         "cannot be switched off there: switch magnitude on, or choose 'sum' to drop magnitude")
    if c.combine == "product" and weights["connection"] == weights["convergence"] == 0:
        raise ValueError("the product reading needs connection or convergence switched on "
                         "(S = M·(b·C/ΣC + c·V/ΣV) would be 0 for every weight)")
    sparsity = defaults.sparsity if c.sparsity is None else c.sparsity
    if not _is_number(sparsity) or not 0 < float(sparsity) < 1:
        raise ValueError(f"target sparsity must be strictly between 0 and 1 (0.9 removes 90% of the prunable weights; "
                         f"1.0 would remove every weight and leave nothing to train); got {sparsity!r}")
    sparsity = round(float(sparsity), 6)
    if not 0 < sparsity < 1:
        raise ValueError(f"target sparsity {c.sparsity!r} rounds to {sparsity}: choose a value strictly between 0 and 1")
    warmup = defaults.warmup_epochs if c.warmup_epochs is None else c.warmup_epochs
    if not _is_int(warmup) or warmup < 0:
        raise ValueError(f"warm-up epochs E must be a whole number >= 0 (0 = prune at initialisation); got {warmup!r}")
    iterations = defaults.iterations if c.iterations is None else c.iterations
    if not _is_int(iterations) or iterations < 1:
        raise ValueError(f"pruning iterations N must be a whole number >= 1 (1 = one-shot); got {iterations!r}")
    seeds = defaults.seeds if c.seeds is None else c.seeds
    if _is_int(seeds):
        seeds = (seeds,)
    seeds = tuple(dict.fromkeys(seeds))
    if not seeds:
        raise ValueError("no seed is selected: choose at least one seed")
    if not all(_is_int(s) for s in seeds):
        raise ValueError(f"seeds must be whole numbers; got {seeds!r}")
    baselines = (c.baselines,) if isinstance(c.baselines, str) else tuple(dict.fromkeys(c.baselines or ()))
    unknown = [b for b in baselines if b not in BASELINE_CHOICES]
    if unknown:
        raise ValueError(f"unknown baseline(s) {', '.join(map(repr, unknown))}; choose from {', '.join(BASELINE_CHOICES)}")
    model = defaults.model if c.model is None else c.model
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose from {', '.join(MODELS)}")
    dataset = defaults.dataset if c.dataset is None else c.dataset
    try:
        dataset_info(dataset)
    except ValueError as error:
        raise ValueError(str(error)) from None
    return AblationControls(combine=c.combine, warmup_epochs=int(warmup), iterations=int(iterations),
                            sparsity=sparsity, model=model, dataset=dataset, seeds=tuple(int(s) for s in seeds),
                            baselines=baselines, **weights)


def control_problem(preset: Preset | str | None = None, controls: AblationControls | Mapping | None = None,
                    **values) -> str | None:
    """The message the explorer shows for these control values, or ``None`` when they are valid.

    ``controls`` default to :func:`default_controls` of the preset; ``values`` change single
    fields, e.g. ``control_problem(preset, sparsity=1.0)``.
    """
    preset = _preset(preset)
    try:
        ablation_configs(preset, default_controls(preset) if controls is None else controls, **values)
    except ValueError as error:
        return readable_error(error)
    return None


def ablation_configs(preset: Preset | str | None = None, controls: AblationControls | Mapping | None = None,
                     **values) -> tuple[list[RunConfig], list[RunConfig]]:
    """The runs behind one press of Run: ``(your setting's configs, reference configs)``.

    Your setting: DRIVE with the chosen term weights, combination, E, N, sparsity, model and
    data, one config per seed. References, one per seed each: the full DRIVE with the
    preset's defaults (a = b = c = 1, sum, the preset's E and N) and every chosen baseline
    with its preset defaults, at the same sparsity, model and data. Configs come from
    ``preset.config`` (epochs, optimiser and data sizes are the preset's). ``ValueError`` with
    a readable message for invalid control values (see :func:`resolve_controls`).
    """
    preset = _preset(preset)
    c = resolve_controls(preset, controls, **values)
    common = {"sparsity": c.sparsity, "model": c.model, "dataset": c.dataset}

    def make(**changes) -> RunConfig:
        try:
            return preset.config(**common, **changes)
        except ValueError as error:
            raise ValueError(f"invalid setting: {error}") from None

    variants = [make(method="drive", magnitude=c.magnitude, connection=c.connection, convergence=c.convergence,
                     combine=c.combine, warmup_epochs=c.warmup_epochs, iterations=c.iterations, seed=seed)
                for seed in c.seeds]
    references = [make(method="drive", seed=seed) for seed in c.seeds]
    references += [make(method=method, seed=seed) for method in c.baselines for seed in c.seeds]
    return variants, references


_SCHEDULE_SUFFIXES = (" (one-shot)", " (iterative)")  # added by analysis.ablation_label


def _strip_schedule(label: str) -> str:
    for suffix in _SCHEDULE_SUFFIXES:
        label = label.removesuffix(suffix)
    return label


def variant_name(config: RunConfig, preset: Preset | str | None = None) -> str:
    """The display name of a DRIVE setting: its ablation label, plus E/N where they differ from the preset.

    ``"without convergence"``, ``"without convergence (E=0)"``, ``"without convergence (N=1)"``;
    full terms with another E or N: ``"DRIVE with E=0"``, ``"DRIVE with N=1"`` (so it never
    looks like the reference ``"DRIVE (full)"``).
    """
    preset = _preset(preset)
    label = analysis.ablation_label(config.to_dict())
    base = _strip_schedule(label)
    parts = []
    if config.warmup_epochs != preset.warmup_epochs:
        parts.append(f"E={config.warmup_epochs}")
    if config.iterations != preset.iterations:
        parts.append(f"N={config.iterations}")
    if not parts:
        return label
    return f"DRIVE with {', '.join(parts)}" if base == "DRIVE (full)" else f"{base} ({', '.join(parts)})"


@dataclass
class AblationOutcome:
    """What one press of Run produced.

    ``controls``: the resolved control values; ``frame``: one row per run (the columns of
    :func:`drive_lab.load_results`, plus ``name`` and ``role``: your setting, full DRIVE or
    baseline); ``summary``: one row per name (mean ± std accuracy over seeds, pruning time,
    collapsed layers); ``contributions``: :func:`term_contributions` of your setting (first
    seed), or ``None``; ``figures``: ``accuracy``, ``layer_density`` and (with
    contributions) ``contributions``; ``computed``/``cached``: runs trained now or read from
    the store; ``message``: a sentence built from the numbers; ``notes``: warnings raised
    while running (e.g. layer collapse).
    """

    controls: AblationControls
    preset: str
    frame: pd.DataFrame
    summary: pd.DataFrame
    contributions: pd.DataFrame | None
    figures: dict[str, Figure]
    computed: int
    cached: int
    message: str
    results_dir: str
    notes: list[str] = field(default_factory=list)

    def close_figures(self) -> None:
        """Release the figures from pyplot (they can still be drawn and saved)."""
        for figure in self.figures.values():
            plt.close(figure)


ProgressCallback = Callable[[int, int, "RunConfig | None"], None]


def _describe(config: RunConfig) -> str:
    name = analysis.display_name(config.method)
    if config.method == "drive":
        name = analysis.ablation_label(config.to_dict())
    return f"{name}, seed {config.seed}"


def run_ablation(controls: AblationControls | Mapping | None = None, preset: Preset | str | None = None,
                 results_dir=None, on_progress: ProgressCallback | None = None, contributions: bool = True,
                 **values) -> AblationOutcome:
    """Run (or read from the store) your setting and its references; return tables and figures.

    Args:
        controls: control values (:class:`AblationControls` or a dict); ``values`` override
            single fields. Default: :func:`default_controls` of the preset.
        preset: the preset that sizes the runs (default: ``get_preset()``).
        results_dir: the result store (default ``$DRIVE_LAB_RESULTS``, else ``results/``);
            every run is looked up there first and stored there when computed, so repeating
            a setting is instant.
        on_progress: called as ``on_progress(done, total, config)`` before the first run
            (``done = 0``, ``config = None``) and after each computed run; ``total`` counts
            the runs not in the store.
        contributions: also compute :func:`kept_term_contributions` of your setting (one
            warm-up of the first seed; no training after pruning).

    Returns:
        An :class:`AblationOutcome`. Raises ``ValueError`` for invalid control values.
    """
    preset = _preset(preset)
    resolved = resolve_controls(preset, controls, **values)
    variants, references = ablation_configs(preset, resolved)
    roles: dict[str, tuple[RunConfig, str]] = {}
    for config in variants:
        roles[config.key()] = (config, ROLE_VARIANT)
    for config in references:
        key = config.key()
        if key in roles:
            if config.method == "drive" and roles[key][1] == ROLE_VARIANT:
                roles[key] = (roles[key][0], ROLE_BOTH)
            continue
        roles[key] = (config, ROLE_FULL if config.method == "drive" else ROLE_BASELINE)
    store = ResultStore(results_dir)
    results: dict[str, RunResult] = {}
    for key, (config, _) in roles.items():
        stored = store.get(config)
        if stored is not None:
            results[key] = stored
    todo = [config for key, (config, _) in roles.items() if key not in results]
    notes: list[str] = []
    if on_progress is not None:
        on_progress(0, len(todo), None)
    computed = 0
    with warnings.catch_warnings(record=True) as caught, _progress_module.progress_disabled():
        warnings.simplefilter("always")
        for done, config in enumerate(todo, start=1):
            result, was_computed = store.get_or_run(config)  # rechecks: another process may have stored it
            results[config.key()] = result
            computed += was_computed
            if on_progress is not None:
                on_progress(done, len(todo), config)
        table = (kept_term_contributions(variants[0]) if contributions else None)
    notes += list(dict.fromkeys(str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)))
    frame = results_frame(results[key] for key in roles)
    frame["role"] = [roles[key][1] for key in frame["key"]]
    frame["name"] = [_row_name(roles[key][0], roles[key][1], preset) for key in frame["key"]]
    summary = _summary(frame)
    figures = {"accuracy": accuracy_figure(frame), "layer_density": layer_density_figure(frame)}
    if table is not None:
        figures["contributions"] = contribution_figure(table, title=_contribution_title(resolved, variants[0], preset))
    message = _message(summary, resolved)
    return AblationOutcome(controls=resolved, preset=preset.name, frame=frame, summary=summary, contributions=table,
                           figures=figures, computed=computed, cached=len(roles) - computed, message=message,
                           results_dir=str(store.root), notes=notes)


def _row_name(config: RunConfig, role: str, preset: Preset) -> str:
    if role in (ROLE_VARIANT, ROLE_BOTH):
        return variant_name(config, preset)
    if role == ROLE_FULL:
        return "DRIVE (full)"
    return analysis.display_name(config.method)


def _summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per name, in the frame's order.

    Columns ``name, role, E, N, accuracy mean %, accuracy std %, seeds, pruning s, collapsed
    layers`` (std NaN for one seed; pruning seconds = warm-up + scoring, mean over seeds).
    """
    rows = []
    for name, group in frame.groupby("name", sort=False):
        accuracy = 100 * pd.to_numeric(group["final_test_accuracy"], errors="coerce")
        collapsed = sorted({layer for text in group["collapsed_layers"] for layer in str(text).split(",") if layer})
        rows.append({
            "name": name, "role": group["role"].iloc[0], "E": int(group["warmup_epochs"].iloc[0]),
            "N": int(group["iterations"].iloc[0]), "accuracy mean %": float(accuracy.mean()),
            "accuracy std %": float(accuracy.std()) if len(accuracy) > 1 else float("nan"),
            "seeds": int(accuracy.count()),
            "pruning s": float(pd.to_numeric(group["seconds_pruning"], errors="coerce").mean()),
            "collapsed layers": ", ".join(collapsed),
        })
    return pd.DataFrame(rows)


def _fmt_accuracy(row: Mapping) -> str:
    text = f"{row['accuracy mean %']:.1f}%"
    if row["seeds"] > 1:
        text += f" ± {row['accuracy std %']:.1f}"
    return text


def _message(summary: pd.DataFrame, controls: AblationControls) -> str:
    """A sentence built from the summary: your setting vs full DRIVE, the baselines, the highest mean."""
    seeds = len(controls.seeds)
    head = (f"At {100 * controls.sparsity:.4g}% sparsity ({controls.model} on {controls.dataset}, "
            f"{seeds} seed{'s' if seeds > 1 else ''}{', mean ± std' if seeds > 1 else ''}): ")
    mine = summary[summary["role"].isin([ROLE_VARIANT, ROLE_BOTH])].iloc[0]
    full = summary[summary["role"].isin([ROLE_FULL, ROLE_BOTH])].iloc[0]
    if mine["role"] == ROLE_BOTH:
        text = head + f"your setting is the full DRIVE: {_fmt_accuracy(mine)}"
    else:
        difference = mine["accuracy mean %"] - full["accuracy mean %"]
        text = (head + f"your setting, {mine['name']}: {_fmt_accuracy(mine)} vs full DRIVE: {_fmt_accuracy(full)} "
                f"({difference:+.1f} points)")
    baselines = summary[summary["role"] == ROLE_BASELINE]
    if len(baselines):
        text += "; baselines: " + ", ".join(f"{row['name']} {_fmt_accuracy(row)}" for _, row in baselines.iterrows())
    best = summary.loc[summary["accuracy mean %"].idxmax()]
    text += f". Highest mean accuracy: {best['name']}."
    collapsed = summary[summary["collapsed layers"] != ""]
    if len(collapsed):
        text += " Layer collapse in: " + "; ".join(f"{row['name']} ({row['collapsed layers']})"
                                                   for _, row in collapsed.iterrows()) + "."
    return text


# ---------------------------------------------------------------------------- term contributions
def term_contributions(terms: Mapping[str, Mapping[str, torch.Tensor]], masks: Mapping[str, torch.Tensor],
                       magnitude: float = 1.0, connection: float = 1.0, convergence: float = 1.0,
                       combine: str = "sum") -> pd.DataFrame:
    """How much of the kept weights' DRIVE score each term supplies, per layer and overall.

    Args:
        terms: ``{"magnitude" | "connection" | "convergence": {layer: Tensor}}`` from
            :func:`drive_lab.scores.drive_terms` (raw, not normalised; pruned weights 0).
        masks: the weights kept (``True``) after pruning by the combined score.
        magnitude, connection, convergence, combine: the score's weights a, b, c and
            combination, as in :func:`drive_lab.scores.combine_terms`.

    Each term is normalised by its sum over all scored weights (as DRIVE does). A kept
    weight's score splits into one part per term: ``sum``: a·M̂, b·Ĉ and c·V̂;
    ``product`` (S = M·(b·Ĉ + c·V̂)): M·b·Ĉ and M·c·V̂ — magnitude multiplies both parts and
    has no additive part of its own, so its contribution is 0 there.

    Returns:
        Long table, columns ``layer, term, contribution, share, kept, weights``: one row per
        layer and term, then the rows of layer ``"all kept weights"``. ``contribution`` =
        the part summed over the layer's kept weights; ``share`` = contribution / the
        layer's total kept score (the three shares of a layer sum to 1; NaN when the layer
        kept nothing); ``kept`` / ``weights``: kept and total weights of the layer.
        ``attrs`` hold the weights and combination.
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
        parts = {}
        for term in TERMS:
            if combine == "sum":
                part = weights[term] * normalised[term][layer]
            elif term == "magnitude":
                part = torch.zeros_like(normalised[term][layer])
            else:
                part = terms["magnitude"][layer].detach().to(torch.float64) * weights[term] * normalised[term][layer]
            parts[term] = float(part[keep].sum())
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

    Warms the network up for ``config.warmup_epochs`` (:func:`drive_lab.warmed_up`), scores it
    once with :func:`drive_lab.scores.drive_terms`, keeps the top ``1 - sparsity`` of the
    combined score (single-shot; DRIVE itself prunes in N steps, re-scoring each time), and
    splits the kept weights' score by term. ``attrs["single_shot"] = True``.
    """
    from .pipeline import warmed_up

    model, _, batches = warmed_up(config)
    everything = Masks.ones(model)
    terms = drive_terms(model, batches, everything)
    scores = combine_terms(terms, everything, config.magnitude, config.connection, config.convergence, config.combine)
    kept = keep_top(scores, everything, 1.0 - config.sparsity)
    table = term_contributions(terms, kept, config.magnitude, config.connection, config.convergence, config.combine)
    table.attrs.update(single_shot=True, sparsity=config.sparsity, warmup_epochs=config.warmup_epochs, seed=config.seed)
    return table


# ---------------------------------------------------------------------------- explorer figures
def _annotate_bar(ax, x: float, y: float, text: str) -> None:
    ax.text(x + 1.0, y, text, va="center", ha="left", fontsize=8)


def accuracy_figure(frame: pd.DataFrame, title: str | None = None) -> Figure:
    """Final test accuracy of every name in an ablation frame (``name``, ``role`` columns).

    Returns:
        The figure: one horizontal bar per name (mean over seeds, in %; ±1 std whisker
        when there are several seeds), each seed as a black dot, your setting on top and
        marked; a dotted line at chance accuracy (100 / number of classes).
    """
    names = list(dict.fromkeys(frame["name"]))
    fig, ax = plt.subplots(figsize=(6.8, 0.55 * len(names) + 1.6), layout="constrained")
    y_positions = np.arange(len(names))[::-1]
    for y, name in zip(y_positions, names):
        rows = frame[frame["name"] == name]
        values = 100 * pd.to_numeric(rows["final_test_accuracy"], errors="coerce").to_numpy(float)
        mean = float(np.nanmean(values))
        std = float(np.nanstd(values, ddof=1)) if len(values) > 1 else 0.0
        mine = rows["role"].iloc[0] in (ROLE_VARIANT, ROLE_BOTH)
        ax.barh(y, mean, color=plots.color(name), xerr=std if len(values) > 1 else None, capsize=3,
                edgecolor="black" if mine else "white", linewidth=1.5 if mine else 0.5, height=0.7)
        ax.scatter(values, np.full(len(values), y), color="black", s=12, zorder=3)
        _annotate_bar(ax, max(mean + std, float(np.nanmax(values))), y, f"{mean:.1f}%")
    labels = []
    for name in names:
        role = frame.loc[frame["name"] == name, "role"].iloc[0]
        labels.append(f"{name}\n({role})" if role in (ROLE_VARIANT, ROLE_BOTH) else name)
    ax.set_yticks(y_positions, labels, fontsize=9)
    datasets = sorted(set(frame["dataset"]))
    if len(datasets) == 1:
        chance = 100.0 / dataset_info(datasets[0]).num_classes
        ax.axvline(chance, color="black", linestyle=":", linewidth=1, label=f"chance ({chance:.3g}%)")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xlim(0, 112)
    ax.set_xlabel("final test accuracy (%)")
    ax.grid(axis="x", alpha=0.3)
    seeds = frame.groupby("name")["seed"].nunique().max()
    sparsity = float(frame["sparsity"].max())
    spread = f"mean ± std over {seeds} seeds, dots = seeds" if seeds > 1 else "single seed"
    ax.set_title(title or f"accuracy at {100 * sparsity:.4g}% sparsity — {frame['model'].iloc[0]} on "
                          f"{frame['dataset'].iloc[0]} ({spread})", fontsize=10)
    return fig


def layer_density_figure(frame: pd.DataFrame, title: str | None = None) -> Figure:
    """Per-layer density of your setting and of the full DRIVE (mean over seeds), via :func:`plots.layer_density`."""
    drive_rows = frame[frame["role"].isin([ROLE_VARIANT, ROLE_BOTH, ROLE_FULL])]
    table = {}
    for name, group in drive_rows.groupby("name", sort=False):
        table[name] = pd.DataFrame(list(group["layer_density"])).mean()
    table = pd.DataFrame(table).T
    sparsity = float(frame["sparsity"].max())
    return plots.layer_density(table, title=title or f"density kept per layer at {100 * sparsity:.4g}% sparsity "
                                                     "(after N iterations; mean over seeds)")


def _contribution_title(controls: AblationControls, config: RunConfig, preset: Preset) -> str:
    return (f"share of the kept weights' score from each term — {variant_name(config, preset)}\n"
            f"single-shot top-{100 * (1 - controls.sparsity):.3g}% of the combined score after E = "
            f"{config.warmup_epochs} warm-up epochs, seed {config.seed} (DRIVE itself prunes in N steps)")


def contribution_figure(table: pd.DataFrame, title: str | None = None) -> Figure:
    """Stacked horizontal bars of :func:`term_contributions`: each term's share per layer, in %.

    Returns:
        The figure: one bar per layer (``.weight`` dropped) and one for all kept weights (on
        top), split into magnitude, connection and convergence (fixed term colours); the
        number of weights kept is written at the right of each bar.
    """
    layers = list(dict.fromkeys(table["layer"]))
    layers = [ALL_KEPT] + [layer for layer in layers if layer != ALL_KEPT]
    shares = table.pivot(index="layer", columns="term", values="share").reindex(index=layers, columns=list(TERMS))
    kept = table.groupby("layer", sort=False)[["kept", "weights"]].first().reindex(layers)
    fig, ax = plt.subplots(figsize=(7.4, 0.42 * len(layers) + 1.9), layout="constrained")
    y_positions = np.arange(len(layers))[::-1]
    left = np.zeros(len(layers))
    for term in TERMS:
        values = 100 * shares[term].fillna(0.0).to_numpy(float)
        ax.barh(y_positions, values, left=left, color=plots.TERM_COLORS[term], height=0.7,
                label=TERM_LABELS[term], edgecolor="white", linewidth=0.5)
        for y, start, width in zip(y_positions, left, values):
            if width >= 8:
                ax.text(start + width / 2, y, f"{width:.0f}%", ha="center", va="center", fontsize=7, color="white")
        left += values
    for y, layer in zip(y_positions, layers):
        n_kept, n_weights = int(kept.loc[layer, "kept"]), int(kept.loc[layer, "weights"])
        note = f"{n_kept:,} of {n_weights:,} kept" if n_kept else "collapsed: none kept"
        ax.text(101.5, y, note, va="center", ha="left", fontsize=7, color="black" if n_kept else "red")
    ax.set_yticks(y_positions, [layer.removesuffix(".weight") for layer in layers], fontsize=8)
    ax.get_yticklabels()[0].set_fontweight("bold")
    ax.set_xlim(0, 128)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xlabel("share of the layer's kept score (%)")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=8)
    if table.attrs.get("combine") == "product":
        ax.text(0.0, 1.01, "product reading: magnitude multiplies both parts, so the bars split the score between "
                "connection and convergence", transform=ax.transAxes, fontsize=7, va="bottom")
    ax.set_title(title or "share of the kept weights' score from each DRIVE term", fontsize=9,
                 pad=14 if table.attrs.get("combine") == "product" else 6)
    return fig


# ============================================================================ browser: pure logic
FILTER_COLUMNS = {"methods": "method", "sparsities": "sparsity", "warmup_epochs": "warmup_epochs",
                  "term_weights": "terms", "seeds": "seed", "models": "model", "datasets": "dataset"}
# settings that may differ between runs of one label: named in the label when they do
_SETTING_NAMES = {"model": "model", "dataset": "data", "warmup_epochs": "E", "iterations": "N", "epochs": "T",
                  "score_batches": "score batches", "batch_size": "batch", "lr": "lr", "momentum": "momentum",
                  "weight_decay": "wd", "lr_schedule": "schedule", "rewind": "rewind", "subset": "subset",
                  "test_subset": "test subset", "augment": "augment", "version": "version"}


def _prepare_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with ``label`` (:func:`drive_lab.analysis.ablation_label`) and ``terms`` (the label
    without its one-shot/iterative note: the DRIVE term variant) columns."""
    frame = frame.copy()
    frame["label"] = analysis.ablation_label(frame) if len(frame) else pd.Series(dtype=object)
    frame["terms"] = frame["label"].map(_strip_schedule) if len(frame) else pd.Series(dtype=object)
    return frame


def browser_options(frame: pd.DataFrame) -> dict[str, list[tuple[str, Any]]]:
    """The choices of each filter in ``frame``: ``{filter: [(shown label, value), ...]}``.

    Filters: ``methods`` (method keys, shown by display name), ``sparsities`` (shown in %),
    ``warmup_epochs``, ``term_weights`` (DRIVE's variants by ablation label, e.g.
    ``"without convergence"``; they apply to DRIVE runs only), ``seeds``, ``models``,
    ``datasets``. Values are sorted.
    """
    if len(frame) == 0:
        return {name: [] for name in FILTER_COLUMNS}
    labelled = _prepare_frame(frame)
    methods = sorted(set(labelled["method"]), key=lambda m: (list(plots.METHOD_COLORS).index(m)
                                                             if m in plots.METHOD_COLORS else 99, m))
    drive_labels = sorted(set(labelled.loc[labelled["method"] == "drive", "terms"]),
                          key=lambda label: (analysis.ABLATION_LABELS.index(label)
                                             if label in analysis.ABLATION_LABELS else 99, label))
    sparsities = sorted({round(float(s), 6) for s in labelled["sparsity"] if pd.notna(s)})
    warmups = sorted({int(w) for w in labelled["warmup_epochs"] if pd.notna(w)})
    seeds = sorted({int(s) for s in labelled["seed"] if pd.notna(s)})
    return {
        "methods": [(analysis.display_name(m), m) for m in methods],
        "sparsities": [(plots._percent(s) + (" (dense)" if s == 0 else ""), s) for s in sparsities],
        "warmup_epochs": [(f"E = {w}", w) for w in warmups],
        "term_weights": [(label, label) for label in drive_labels],
        "seeds": [(f"seed {s}", s) for s in seeds],
        "models": [(m, m) for m in sorted(set(labelled["model"].astype(str)))],
        "datasets": [(d, d) for d in sorted(set(labelled["dataset"].astype(str)))],
    }


def default_filters(frame: pd.DataFrame, preset: Preset | str | None = None) -> dict[str, tuple]:
    """The browser's initial selection: everything, except models and data sets other than the preset's.

    (When the store holds none of the preset's runs, every model and data set is selected.)
    """
    options = browser_options(frame)
    selection = {name: tuple(value for _, value in choices) for name, choices in options.items()}
    preset = _preset(preset)
    for name, wanted in (("models", model_choices(preset)), ("datasets", dataset_choices(preset))):
        mine = tuple(value for value in selection[name] if value in wanted)
        if mine:
            selection[name] = mine
    return selection


def _matches(values: pd.Series, chosen: Iterable, numeric: bool) -> pd.Series:
    chosen = list(chosen)
    if numeric:
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(float)
        targets = np.asarray([float(c) for c in chosen], dtype=float)
        if not len(targets):
            return pd.Series(False, index=values.index)
        return pd.Series(np.isclose(numbers[:, None], targets[None, :], rtol=0, atol=1e-9).any(axis=1),
                         index=values.index)
    return values.astype(str).isin([str(c) for c in chosen])


def _term_weight_match(frame: pd.DataFrame, chosen: Iterable) -> pd.Series:
    """DRIVE rows whose label (or (a, b, c[, combine]) weights) is chosen; other methods always pass."""
    keep = pd.Series(False, index=frame.index)
    for item in chosen:
        if isinstance(item, str):
            keep |= frame["terms"] == item
        else:
            item = tuple(item)
            if len(item) not in (3, 4):
                raise ValueError(f"a term-weight filter is a label like 'without convergence' or a tuple "
                                 f"(magnitude, connection, convergence[, combine]); got {item!r}")
            match = pd.Series(True, index=frame.index)
            for column, value in zip(TERMS, item[:3]):
                match &= np.isclose(pd.to_numeric(frame[column], errors="coerce"), float(value))
            if len(item) == 4:
                match &= frame["combine"] == item[3]
            keep |= match
    return keep | (frame["method"] != "drive")


def filter_results(frame: pd.DataFrame, methods: Iterable[str] | None = None, sparsities: Iterable[float] | None = None,
                   warmup_epochs: Iterable[int] | None = None, term_weights: Iterable | None = None,
                   seeds: Iterable[int] | None = None, models: Iterable[str] | None = None,
                   datasets: Iterable[str] | None = None) -> pd.DataFrame:
    """The rows of a result frame that match every given filter (``None``: no filter on that column).

    Args:
        frame: result frame (:func:`drive_lab.load_results`, a sweep, an experiment table).
        methods: method keys (``"drive"``, ``"snip"``, ...).
        sparsities: target sparsities (compared to within 1e-9); a dense run has sparsity 0.
        warmup_epochs: E values (as resolved in the stored config).
        term_weights: DRIVE variants, as ablation labels (``"DRIVE (full)"``, ``"without
            convergence"``, ... see :func:`drive_lab.analysis.ablation_label`; its one-shot /
            iterative note is ignored here) or weight tuples ``(magnitude, connection,
            convergence[, combine])``. Only DRIVE rows are filtered by it; other methods pass.
        seeds, models, datasets: values to keep.

    Returns:
        The matching rows (a copy, original index), with a ``label`` column (ablation label).
        An empty choice (``[]``) keeps nothing.
    """
    labelled = _prepare_frame(frame)
    if len(labelled) == 0:
        return labelled
    keep = pd.Series(True, index=labelled.index)
    for name, chosen, numeric in (("method", methods, False), ("sparsity", sparsities, True),
                                  ("warmup_epochs", warmup_epochs, True), ("seed", seeds, True),
                                  ("model", models, False), ("dataset", datasets, False)):
        if chosen is not None:
            keep &= _matches(labelled[name], chosen, numeric)
    if term_weights is not None:
        keep &= _term_weight_match(labelled, term_weights)
    return labelled[keep].copy()


def label_runs(frame: pd.DataFrame) -> pd.Series:
    """One readable name per run, naming the settings that differ between runs of one method.

    The ablation label (``"SNIP"``, ``"DRIVE (full)"``, ``"without convergence"``, with its
    one-shot/iterative note), followed by the settings that take more than one value among
    the selected runs of that method, e.g. ``"DRIVE (full) (E=0)"``, ``"without convergence
    (E=1)"`` when DRIVE runs with E = 0 and 1 are selected, or ``"SNIP (data=digits)"``; N is
    named when it varies among runs of the same label. So runs that differ in more than
    sparsity and seed are never averaged together. Sparsity and seed are not named (plots put
    them on an axis or average over them); nor is N for IMP and dense runs, where it follows
    from the sparsity.
    """
    labelled = frame if "label" in frame.columns else _prepare_frame(frame)
    names = pd.Series(labelled["label"].astype(str), index=labelled.index, name="label")
    if len(labelled) == 0:
        return names
    suffixes = {index: [] for index in labelled.index}
    for column, short in _SETTING_NAMES.items():
        if column not in labelled.columns:
            continue
        # N: within one label (the label already says one-shot/iterative); the rest: within one method
        by = "label" if column == "iterations" else "method"
        for key, group in labelled.groupby(by, sort=False):
            if column == "iterations" and set(group["method"]) <= {"imp", "dense"}:
                continue
            if group[column].astype(str).nunique(dropna=False) > 1:
                for index, value in group[column].items():
                    suffixes[index].append(f"{short}={value:g}" if isinstance(value, float) else f"{short}={value}")
    for index, parts in suffixes.items():
        if parts:
            names[index] = f"{names[index]} ({', '.join(parts)})"
    return names


def browser_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Selection summary: per run name (:func:`label_runs`) and sparsity, accuracy (%) and pruning time (s).

    Columns ``name, sparsity %, accuracy mean %, accuracy std %, runs, pruning s`` (means
    over seeds; std NaN for one run), sorted by name then sparsity.
    """
    columns = ["name", "sparsity %", "accuracy mean %", "accuracy std %", "runs", "pruning s"]
    if len(frame) == 0:
        return pd.DataFrame(columns=columns)
    named = frame.assign(name=label_runs(frame))
    table = (named.assign(acc=100 * pd.to_numeric(named["final_test_accuracy"], errors="coerce"),
                          pruning=pd.to_numeric(named["seconds_pruning"], errors="coerce"),
                          sp=(100 * pd.to_numeric(named["sparsity"], errors="coerce")).round(4))
             .groupby(["name", "sp"], sort=True)
             .agg(mean=("acc", "mean"), std=("acc", "std"), runs=("acc", "count"), pruning=("pruning", "mean"))
             .reset_index())
    table.columns = columns
    return table.round({"accuracy mean %": 2, "accuracy std %": 2, "pruning s": 3})


def _message_figure(text: str, title: str) -> Figure:
    fig, ax = plt.subplots(figsize=(6.4, 2.0), layout="constrained")
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=9, transform=ax.transAxes)
    ax.set_title(title, fontsize=10)
    return fig


def browser_figures(frame: pd.DataFrame) -> dict[str, Figure]:
    """Figures of a selection of runs (e.g. from :func:`filter_results`).

    Returns:
        ``{"accuracy": accuracy vs sparsity, "time": pruning time per run name and sparsity,
        "speedup": speed-up of each name over IMP}``, one line/bar per :func:`label_runs`
        name. Without an IMP run in the selection, ``"speedup"`` is a figure saying so.
        ``ValueError`` when the selection is empty.
    """
    if len(frame) == 0:
        raise ValueError("no stored run matches the selection: select more values in the filters "
                         "(or run some with the explorer or `python -m drive_lab sweep`)")
    named = frame.assign(label=label_runs(frame))
    with warnings.catch_warnings():  # a single sparsity: matplotlib widens the log axis itself; say nothing
        warnings.filterwarnings("ignore", message="Attempting to set identical low and high xlims")
        figures = {"accuracy": plots.accuracy_vs_sparsity(named, hue="label",
                                                          title="final test accuracy vs sparsity (selection)")}
        pruned = named[named["method"] != "dense"]
        if len(pruned):
            seconds = pd.to_numeric(pruned["seconds_pruning"], errors="coerce")
            positive = seconds[seconds > 0]
            log = bool(len(positive) and positive.max() / positive.min() > 50)
            figures["time"] = plots.time_bars(named, hue="label", log=log)
        else:
            figures["time"] = _message_figure("only dense runs are selected: they do not prune", "pruning time")
        if (named["method"] == "imp").any() and len(pruned):
            table = analysis.speedup_vs_imp(named, hue="label")
            figures["speedup"] = plots.speedup_vs_imp(table, hue="label")
        else:
            figures["speedup"] = _message_figure(
                "No IMP run in the selection. The speed-up is IMP's pruning time / a method's, with the same model, "
                "data and sparsity: select IMP runs, or add IMP to the explorer's baselines (slow: IMP trains T "
                "epochs per round), or run `python -m drive_lab experiment full_runs`.", "speed-up vs IMP")
    return figures


# ============================================================================ widget plumbing
READABLE_ERRORS = (ValueError, FileNotFoundError, KeyError)


def readable_error(error: BaseException) -> str:
    """The message a learner sees: ``ValueError``/``FileNotFoundError``/``KeyError`` as their text,
    anything else as ``Type: text`` (the traceback goes in a collapsed section of the widget)."""
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    if isinstance(error, READABLE_ERRORS):
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _figure_output(figure: Figure) -> dict:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
                     "text/plain": f"<Figure: {figure.axes[0].get_title() if figure.axes else ''}>"}}


def _html_output(markup: str, text: str = "") -> dict:
    return {"output_type": "display_data", "metadata": {}, "data": {"text/html": markup, "text/plain": text}}


def _table_output(table: pd.DataFrame) -> dict:
    return _html_output(table.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}"),
                        table.to_string(index=False))


def _error_markup(message: str, error: BaseException) -> str:
    markup = (f"<div style='color:#a00000;border:1px solid #a00000;padding:6px;border-radius:4px' "
              f"class='drive-lab-error'><b>Could not do that:</b> {html.escape(message)}")
    if not isinstance(error, READABLE_ERRORS):
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__)[-6:])
        markup += (f"<details><summary>technical details (for a bug report)</summary>"
                   f"<pre style='font-size:11px;white-space:pre-wrap'>{html.escape(trace)}</pre></details>")
    return markup + "</div>"


class _ErrorReporting:
    """Shared callback discipline: catch, keep in ``.error``, show in ``.status``, re-raise if asked."""

    status: ipw.HTML
    raise_errors: bool
    error: str | None

    def _fail(self, error: BaseException) -> None:
        self.error = readable_error(error)
        self.status.value = _error_markup(self.error, error)
        if self.raise_errors:
            raise error


def _style() -> dict:
    return {"description_width": "initial"}


# ============================================================================ the explorer widget
class AblationExplorer(_ErrorReporting, ipw.VBox):
    """The ablation explorer (build it with :func:`ablation_explorer`).

    Attributes: ``controls`` (dict of the control widgets by name), ``run_button``,
    ``progress`` (IntProgress), ``status`` (HTML: what happened, or the error),
    ``output`` (Output: table and figures), ``outcome`` (the last :class:`AblationOutcome`,
    ``None`` before the first run), ``error`` (the last error message, ``None`` after a
    successful run), ``raise_errors`` (re-raise errors from callbacks after showing them).
    """

    def __init__(self, preset: Preset | str | None = None, results_dir=None, raise_errors: bool = False,
                 contributions: bool = True, **initial) -> None:
        preset = _preset(preset)
        start = default_controls(preset).replace(**{k: v for k, v in initial.items() if v is not None})
        style = _style()
        controls: dict[str, ipw.Widget] = {}
        term_rows = []
        for term in TERMS:
            weight = float(getattr(start, term))
            on = ipw.Checkbox(value=weight > 0, description=TERM_LABELS[term], indent=False,
                              layout=ipw.Layout(width="190px"))
            slider = ipw.FloatSlider(value=weight if weight > 0 else 1.0, min=0.0, max=3.0, step=0.25,
                                     description="weight", readout_format=".2f", disabled=weight <= 0, style=style,
                                     continuous_update=False)
            controls[f"{term}_on"], controls[term] = on, slider
            term_rows.append(ipw.HBox([on, slider]))
        controls["combine"] = ipw.ToggleButtons(options=list(COMBINATIONS), value=start.combine,
                                                description="combine", style={"button_width": "80px", **style},
                                                tooltips=["S = a·M/ΣM + b·C/ΣC + c·V/ΣV",
                                                          "S = M·(b·C/ΣC + c·V/ΣV)"])
        warmup_max = max(5, max(preset.warmup_grid), int(start.warmup_epochs or 0))
        controls["warmup_epochs"] = ipw.IntSlider(value=int(start.warmup_epochs), min=0, max=warmup_max,
                                                  description="warm-up epochs E", style=style,
                                                  continuous_update=False)
        controls["iterations"] = ipw.IntSlider(value=int(start.iterations), min=1,
                                               max=max(100, preset.iterations, int(start.iterations)),
                                               description="iterations N", style=style, continuous_update=False)
        controls["sparsity"] = ipw.FloatSlider(value=float(start.sparsity), min=0.0, max=1.0, step=0.001,
                                               readout_format=".3f", description="target sparsity", style=style,
                                               continuous_update=False)
        models = model_choices(preset)
        models = models if start.model in models else (*models, start.model)
        controls["model"] = ipw.Dropdown(options=list(models), value=start.model, description="model", style=style)
        datasets = dataset_choices(preset)
        datasets = datasets if start.dataset in datasets else (*datasets, start.dataset)
        controls["dataset"] = ipw.Dropdown(options=list(datasets), value=start.dataset, description="data",
                                           style=style)
        seed_choices = tuple(sorted(set(range(max(5, len(preset.seeds)))) | set(start.seeds)))
        controls["seeds"] = ipw.SelectMultiple(options=[(f"seed {s}", s) for s in seed_choices],
                                               value=tuple(start.seeds), rows=3, description="seeds", style=style)
        controls["baselines"] = ipw.SelectMultiple(
            options=[(analysis.display_name(b) + (" (slow)" if b == "imp" else ""), b) for b in BASELINE_CHOICES],
            value=tuple(start.baselines), rows=4, description="baselines", style=style)
        run_button = ipw.Button(description="Run", button_style="primary", icon="play",
                                tooltip="run your setting and its references (stored runs are reused)")
        bar = ipw.IntProgress(value=0, min=0, max=1, description="runs", style=style,
                              layout=ipw.Layout(visibility="hidden"))
        status = ipw.HTML(value="<i>Choose a setting and press <b>Run</b>. Runs already in the store come back "
                                "at once.</i>")
        output = ipw.Output(layout=ipw.Layout(border="1px solid #ddd", padding="4px"))
        terms_box = ipw.VBox([ipw.HTML("<b>DRIVE's terms</b> (untick to switch a term off)"), *term_rows,
                              controls["combine"]])
        schedule_box = ipw.VBox([ipw.HTML("<b>Schedule and target</b>"), controls["warmup_epochs"],
                                 controls["iterations"], controls["sparsity"]])
        setting_box = ipw.VBox([ipw.HTML(f"<b>Within the preset</b> ({html.escape(preset.name)})"), controls["model"],
                                controls["dataset"], ipw.HBox([controls["seeds"], controls["baselines"]])])
        super().__init__(children=[
            ipw.HTML(f"<h3 style='margin:2px'>DRIVE ablation explorer</h3>"),
            ipw.HBox([terms_box, schedule_box]), setting_box, ipw.HBox([run_button, bar]), status, output])
        self.add_class("drive-lab-ablation-explorer")
        self.preset = preset
        self.results_dir = results_dir
        self.raise_errors = raise_errors
        self.contributions = contributions
        self.controls = controls
        self.run_button, self.progress, self.status, self.output = run_button, bar, status, output
        self.outcome: AblationOutcome | None = None
        self.error: str | None = None
        for term in TERMS:
            controls[f"{term}_on"].observe(self._toggle_term, names="value")
        run_button.on_click(self._on_click)

    # -- wiring
    def _toggle_term(self, change) -> None:
        for term in TERMS:
            self.controls[term].disabled = not self.controls[f"{term}_on"].value

    def control_values(self) -> AblationControls:
        """The current control values (a term switched off has weight 0)."""
        c = self.controls
        weights = {term: (float(c[term].value) if c[f"{term}_on"].value else 0.0) for term in TERMS}
        return AblationControls(combine=c["combine"].value, warmup_epochs=int(c["warmup_epochs"].value),
                                iterations=int(c["iterations"].value), sparsity=float(c["sparsity"].value),
                                model=c["model"].value, dataset=c["dataset"].value,
                                seeds=tuple(c["seeds"].value), baselines=tuple(c["baselines"].value), **weights)

    def _on_progress(self, done: int, total: int, config: RunConfig | None) -> None:
        self.progress.max = max(total, 1)
        self.progress.value = done
        self.progress.layout.visibility = "visible" if total else "hidden"
        if total and done < total:
            self.status.value = (f"<i>running {done + 1} of {total} (not in the store yet)"
                                 + (f"; finished: {html.escape(_describe(config))}" if config else "") + " …</i>")
        elif total:
            self.status.value = "<i>all runs finished; drawing the figures …</i>"

    def _on_click(self, _button=None) -> None:
        self.run()

    def run(self) -> AblationOutcome | None:
        """What the Run button does: run the current setting, then show the outcome (or the error)."""
        self.run_button.disabled = True
        self.error = None
        self.status.value = "<i>checking the setting …</i>"
        try:
            outcome = run_ablation(self.control_values(), preset=self.preset, results_dir=self.results_dir,
                                   on_progress=self._on_progress, contributions=self.contributions)
            outcome.close_figures()  # shown below as PNG; otherwise pyplot would show them again in the next cell
            self.outcome = outcome
            self.output.outputs = tuple(self._outputs(outcome))
            self.status.value = (f"<span class='drive-lab-done'>Done: {outcome.computed} run(s) computed, "
                                 f"{outcome.cached} read from the store ({html.escape(outcome.results_dir)}).</span>")
            return outcome
        except Exception as error:  # noqa: BLE001  (every error is shown to the learner, see _fail)
            self._fail(error)
            return None
        finally:
            self.run_button.disabled = False
            self.progress.layout.visibility = "hidden"

    @staticmethod
    def _outputs(outcome: AblationOutcome) -> list[dict]:
        items = [_html_output(f"<p>{html.escape(outcome.message)}</p>", outcome.message)]
        if outcome.notes:
            notes = "".join(f"<li>{html.escape(note)}</li>" for note in outcome.notes)
            items.append(_html_output(f"<ul style='color:#8a4b00'>{notes}</ul>", "\n".join(outcome.notes)))
        items.append(_table_output(outcome.summary))
        items += [_figure_output(figure) for figure in outcome.figures.values()]
        return items


def ablation_explorer(preset: Preset | str | None = None, results_dir=None, raise_errors: bool = False,
                      contributions: bool = True, **initial) -> AblationExplorer:
    """A widget to run a DRIVE ablation and compare it with the full DRIVE and baselines.

    Controls: each term's weight (magnitude, connection, convergence; untick to switch it
    off), sum or product, warm-up epochs E, iterations N, target sparsity, model and data
    within the preset, seeds, baselines. Nothing runs until **Run** is pressed; a progress bar
    counts the runs that are not in the store yet. Then it shows a sentence comparing the
    accuracies, a summary table, and three figures: accuracy of your setting, the full DRIVE
    and the baselines; per-layer density of your setting and the full DRIVE; and the share
    of the kept weights' score from each term (:func:`kept_term_contributions`).

    Args:
        preset: sizes of every run (default: ``get_preset()``).
        results_dir: the result store (default ``$DRIVE_LAB_RESULTS``, else ``results/``).
        raise_errors: re-raise errors from the Run callback after showing them.
        contributions: compute the term-contribution figure (one extra warm-up per Run).
        initial: initial control values (fields of :class:`AblationControls`), overriding
            :func:`default_controls`.

    The same result without the widget: ``run_ablation(default_controls(preset))``.
    """
    return AblationExplorer(preset, results_dir=results_dir, raise_errors=raise_errors,
                            contributions=contributions, **initial)


# ============================================================================ the browser widget
class ResultsBrowser(_ErrorReporting, ipw.VBox):
    """The stored-runs browser (build it with :func:`results_browser`).

    Attributes: ``filters`` (dict of SelectMultiple widgets by filter name, see
    :func:`filter_results`), ``reload_button``, ``status``, ``output``, ``all_runs`` (every
    run read), ``selection`` (the filtered rows), ``summary``, ``figures``, ``error``,
    ``raise_errors``. Changing a filter redraws at once (no training happens here).
    """

    def __init__(self, results_dir=None, frame: pd.DataFrame | None = None, preset: Preset | str | None = None,
                 raise_errors: bool = False) -> None:
        style = _style()
        labels = {"methods": "method", "sparsities": "sparsity", "warmup_epochs": "warm-up E",
                  "term_weights": "DRIVE terms", "seeds": "seed", "models": "model", "datasets": "data"}
        filters = {name: ipw.SelectMultiple(options=[], value=(), rows=5, description=labels[name], style=style,
                                            layout=ipw.Layout(width="auto"))
                   for name in FILTER_COLUMNS}
        reload_button = ipw.Button(description="Reload", icon="refresh",
                                   tooltip="read the result store again (new runs of the explorer)")
        status = ipw.HTML()
        output = ipw.Output(layout=ipw.Layout(border="1px solid #ddd", padding="4px"))
        grid = ipw.GridBox(list(filters.values()),
                           layout=ipw.Layout(grid_template_columns="repeat(4, minmax(160px, 1fr))", grid_gap="4px"))
        super().__init__(children=[
            ipw.HTML("<h3 style='margin:2px'>Stored runs</h3><i>Ctrl/Shift-click to select several values; "
                     "'DRIVE terms' filters DRIVE runs only.</i>"),
            grid, reload_button, status, output])
        self.add_class("drive-lab-results-browser")
        self.results_dir, self.source_frame, self.preset = results_dir, frame, preset
        self.raise_errors = raise_errors
        self.filters, self.reload_button, self.status, self.output = filters, reload_button, status, output
        self.all_runs = pd.DataFrame()
        self.selection: pd.DataFrame | None = None
        self.summary: pd.DataFrame | None = None
        self.figures: dict[str, Figure] = {}
        self.error: str | None = None
        self._updating = False
        self._known: dict[str, tuple] = {}
        for widget in filters.values():
            widget.observe(self._on_change, names="value")
        reload_button.on_click(lambda _button: self.reload())
        self.reload()

    def _load(self) -> pd.DataFrame:
        if self.source_frame is not None:
            return self.source_frame
        store = ResultStore(self.results_dir)
        if self.results_dir is not None and not store.root.is_dir():
            raise FileNotFoundError(f"the results folder {store.root} does not exist: give the folder that holds "
                                    "runs/ (the explorer and `python -m drive_lab sweep` write there)")
        return load_results(self.results_dir)

    def reload(self) -> None:
        """Read the runs again, refresh the filters' choices (keeping the selection where possible), redraw."""
        self.error = None
        try:
            previous = {name: widget.value for name, widget in self.filters.items()} if len(self.all_runs) else None
            self.all_runs = self._load()
            options = browser_options(self.all_runs)
            initial = default_filters(self.all_runs, self.preset)
            self._updating = True
            try:
                for name, widget in self.filters.items():
                    values = [value for _, value in options[name]]
                    keep = (tuple(v for v in previous[name] if v in values) if previous is not None
                            else initial[name])
                    new = tuple(v for v in values if v not in self._known.get(name, ())) if previous is not None else ()
                    widget.options = options[name]
                    widget.value = tuple(dict.fromkeys((*keep, *new)))
                    self._known[name] = tuple(values)
            finally:
                self._updating = False
        except Exception as error:  # noqa: BLE001
            self._updating = False
            self._fail(error)
            return
        self.plot()

    def _on_change(self, change) -> None:
        if not self._updating:
            self.plot()

    def filter_values(self) -> dict[str, tuple]:
        """The current selection of every filter."""
        return {name: tuple(widget.value) for name, widget in self.filters.items()}

    def plot(self) -> None:
        """Filter the runs with the current selection and draw the table and figures (what a filter change does)."""
        self.error = None
        try:
            if len(self.all_runs) == 0:
                where = "the given table" if self.source_frame is not None else f"{ResultStore(self.results_dir).runs_dir}"
                raise ValueError(f"no stored runs yet in {where}: run a setting with the explorer, "
                                 "or `python -m drive_lab sweep ...`, then press Reload")
            selection = filter_results(self.all_runs, **self.filter_values())
            figures = browser_figures(selection)
            for figure in figures.values():
                plt.close(figure)  # shown below as PNG
            self.selection, self.figures = selection, figures
            self.summary = browser_summary(selection)
            self.output.outputs = tuple([_table_output(self.summary)]
                                        + [_figure_output(figure) for figure in figures.values()])
            self.status.value = (f"<span class='drive-lab-done'>{len(selection)} of {len(self.all_runs)} stored "
                                 f"run(s) selected.</span>")
        except Exception as error:  # noqa: BLE001
            self.selection, self.figures, self.summary = None, {}, None
            self.output.outputs = ()
            self._fail(error)


def results_browser(results_dir=None, frame: pd.DataFrame | None = None, preset: Preset | str | None = None,
                    raise_errors: bool = False) -> ResultsBrowser:
    """A widget to filter stored runs and plot them: accuracy vs sparsity, pruning time, speed-up vs IMP.

    Args:
        results_dir: the result store to read (default ``$DRIVE_LAB_RESULTS``, else
            ``results/``); **Reload** reads it again (e.g. after runs of the explorer).
        frame: browse this result table instead (e.g. ``experiments.results("full_runs", preset)``).
        preset: its model and data set are selected at first (default: ``get_preset()``).
        raise_errors: re-raise errors from callbacks after showing them.

    Filters: method, sparsity, warm-up epochs, DRIVE's term weights (by variant label),
    seed, model and data. The same result without the widget:
    ``browser_figures(filter_results(load_results(), **default_filters(load_results())))``.
    """
    return ResultsBrowser(results_dir, frame=frame, preset=preset, raise_errors=raise_errors)
