"""The results browser's logic: filter stored runs, name them, summarise them, prepare its figures.

Pure functions on result frames (one row per run, the columns of
:func:`drive_lab.sweep.load_results`: accuracies are fractions in [0, 1], times in
seconds), so everything the browser (:func:`drive_lab.widgets.results_browser`) shows can
be reproduced without a browser::

    from drive_lab import browser, load_results
    runs = load_results()
    selection = browser.filter_results(runs, **browser.default_filters(runs, "smoke"))
    browser.browser_summary(selection)       # the figures: drive_lab.plots.explorer.browser_figures

Filters, in :data:`FILTER_COLUMNS`: method, sparsity, warm-up epochs E, DRIVE's term
variant, seed, model and data set.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import analysis, plots
from .explorer import as_preset, dataset_choices, model_choices, term_variant
from .methods import DRIVE_VARIANTS, METHODS, display_name, method_order
from .presets import Preset
from .scores.drive import TERMS
from .store import ResultStore
from .sweep import load_results

__all__ = ["FILTER_COLUMNS", "BrowserTables", "load_runs", "prepare_frame", "browser_options", "default_filters",
           "updated_filters", "filter_results", "label_runs", "browser_summary", "browser_tables"]

# {filter name: the column it filters} ("terms": DRIVE's term variant, added by prepare_frame)
FILTER_COLUMNS = {"methods": "method", "sparsities": "sparsity", "warmup_epochs": "warmup_epochs",
                  "term_weights": "terms", "seeds": "seed", "models": "model", "datasets": "dataset"}
# settings that may differ between runs of one label: named in the label when they do
_SETTING_NAMES = {"model": "model", "dataset": "data", "warmup_epochs": "E", "iterations": "N", "epochs": "T",
                  "score_batches": "score batches", "batch_size": "batch", "lr": "lr", "momentum": "momentum",
                  "weight_decay": "wd", "lr_schedule": "schedule", "rewind": "rewind", "subset": "subset",
                  "test_subset": "test subset", "augment": "augment", "score_per_class": "per class",
                  "score_mode": "BN", "init": "init", "version": "version"}


def load_runs(results_dir: str | os.PathLike | None = None, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """The runs to browse: ``frame`` when given, else every stored run (:func:`drive_lab.sweep.load_results`).

    ``results_dir``: the result store (default ``$DRIVE_LAB_RESULTS``, else ``results/``);
    ``FileNotFoundError`` when a folder given here does not exist. An empty store gives an
    empty frame.
    """
    if frame is not None:
        return frame
    store = ResultStore(results_dir)
    if results_dir is not None and not store.root.is_dir():
        raise FileNotFoundError(f"the results folder {store.root} does not exist: give the folder that holds "
                                "runs/ (the explorer and `python -m drive_lab sweep` write there)")
    return load_results(results_dir)


def prepare_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with ``label`` (:func:`drive_lab.analysis.ablation_label`) and ``terms`` (the label
    without its one-shot/iterative note: the DRIVE term variant) columns."""
    frame = frame.copy()
    frame["label"] = analysis.ablation_label(frame) if len(frame) else pd.Series(dtype=object)
    frame["terms"] = frame["label"].map(term_variant) if len(frame) else pd.Series(dtype=object)
    return frame


def _rank(order: Iterable[Any]) -> Callable[[Any], tuple[int, str]]:
    """Sort key: position in ``order``, unknown values after it, alphabetically."""
    order = list(order)
    return lambda value: (order.index(value) if value in order else len(order), str(value))


def browser_options(frame: pd.DataFrame) -> dict[str, list[tuple[str, Any]]]:
    """The choices of each filter in ``frame``: ``{filter: [(shown label, value), ...]}``.

    Filters: ``methods`` (method keys, shown by display name, in the figures' legend
    order), ``sparsities`` (fractions, shown in %), ``warmup_epochs`` (E, epochs),
    ``term_weights`` (DRIVE's variants by ablation label, e.g. ``"without convergence"``,
    in :data:`drive_lab.methods.DRIVE_VARIANTS` order; they apply to DRIVE runs only),
    ``seeds``, ``models``, ``datasets``. Values are sorted; an empty frame gives empty lists.
    """
    if len(frame) == 0:
        return {name: [] for name in FILTER_COLUMNS}
    labelled = prepare_frame(frame)
    methods = sorted(set(labelled["method"]), key=_rank(method_order()))
    drive_labels = sorted(set(labelled.loc[labelled["method"] == "drive", "terms"]), key=_rank(DRIVE_VARIANTS))
    sparsities = sorted({round(float(s), 6) for s in labelled["sparsity"] if pd.notna(s)})
    warmups = sorted({int(w) for w in labelled["warmup_epochs"] if pd.notna(w)})
    seeds = sorted({int(s) for s in labelled["seed"] if pd.notna(s)})
    return {
        "methods": [(display_name(m), m) for m in methods],
        "sparsities": [(plots.percent(s) + (" (dense)" if s == 0 else ""), s) for s in sparsities],
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
    preset = as_preset(preset)
    for name, wanted in (("models", model_choices(preset)), ("datasets", dataset_choices(preset))):
        mine = tuple(value for value in selection[name] if value in wanted)
        if mine:
            selection[name] = mine
    return selection


def updated_filters(options: Mapping[str, list[tuple[str, Any]]], previous: Mapping[str, tuple] | None,
                    initial: Mapping[str, tuple], known: Mapping[str, tuple]) -> dict[str, tuple]:
    """Every filter's selection after the runs were read (again).

    Args:
        options: :func:`browser_options` of the runs now.
        previous: the selection before (``None`` the first time: then ``initial``, e.g.
            :func:`default_filters`, is the selection).
        initial: the first selection.
        known: ``{filter: values offered before}``.

    Returns:
        ``{filter: values}``: the previous selection where still offered, plus every value
        not offered before (so the runs of a new setting show up selected).
    """
    selection = {}
    for name, choices in options.items():
        values = [value for _, value in choices]
        if previous is None:
            selection[name] = tuple(initial[name])
            continue
        keep = [value for value in previous[name] if value in values]
        new = [value for value in values if value not in known.get(name, ())]
        selection[name] = tuple(dict.fromkeys((*keep, *new)))
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
        sparsities: target sparsities, fractions (compared to within 1e-9); a dense run has sparsity 0.
        warmup_epochs: E values, epochs (as resolved in the stored config).
        term_weights: DRIVE variants, as ablation labels (``"DRIVE (full)"``, ``"without
            convergence"``, ... see :func:`drive_lab.analysis.ablation_label`; its one-shot /
            iterative note is ignored here) or weight tuples ``(magnitude, connection,
            convergence[, combine])``. Only DRIVE rows are filtered by it; other methods pass.
        seeds, models, datasets: values to keep.

    Returns:
        The matching rows (a copy, original index), with ``label`` (ablation label) and
        ``terms`` columns (:func:`prepare_frame`). An empty choice (``[]``) keeps nothing.
    """
    labelled = prepare_frame(frame)
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


def _sets_own_iterations(methods: Iterable[str]) -> bool:
    """Whether every one of ``methods`` sets its own N (IMP's rounds, the dense run), per the registry."""
    return all(method in METHODS and not METHODS[method].takes_iterations for method in methods)


def label_runs(frame: pd.DataFrame) -> pd.Series:
    """One readable name per run, naming the settings that differ between runs of one method.

    The ablation label (``"SNIP"``, ``"DRIVE (full)"``, ``"without convergence"``, with its
    one-shot/iterative note), followed by the settings that take more than one value among
    the selected runs of that method, e.g. ``"DRIVE (full) (E=0)"``, ``"without convergence
    (E=1)"`` when DRIVE runs with E = 0 and 1 are selected, or ``"SNIP (data=digits)"``; N is
    named when it varies among runs of the same label. So runs that differ in more than
    sparsity and seed are never averaged together. Sparsity and seed are not named (plots put
    them on an axis or average over them); nor is N for methods that set it themselves (IMP,
    whose rounds follow from the sparsity, and the dense run).
    """
    labelled = frame if "label" in frame.columns else prepare_frame(frame)
    names = pd.Series(labelled["label"].astype(str), index=labelled.index, name="label")
    if len(labelled) == 0:
        return names
    suffixes = {index: [] for index in labelled.index}
    for column, short in _SETTING_NAMES.items():
        if column not in labelled.columns:
            continue
        # N: within one label (the label already says one-shot/iterative); the rest: within one method
        by = "label" if column == "iterations" else "method"
        for _, group in labelled.groupby(by, sort=False):
            if column == "iterations" and _sets_own_iterations(set(group["method"])):
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


@dataclass(frozen=True)
class BrowserTables:
    """What the browser's figures show (:func:`browser_tables`).

    ``runs``: the selection with ``label`` = :func:`label_runs` (one line/bar per label);
    ``pruned``: the runs that prune (not the dense reference); ``log_time``: whether pruning
    times (s) span more than a factor 50, so the time bars want a log axis; ``speedup``:
    :func:`drive_lab.analysis.speedup_vs_imp` by label, or ``None`` without an IMP run.
    """

    runs: pd.DataFrame
    pruned: pd.DataFrame
    log_time: bool
    speedup: pd.DataFrame | None


def browser_tables(frame: pd.DataFrame) -> BrowserTables:
    """The tables behind the browser's figures for a selection of runs (e.g. from :func:`filter_results`).

    ``ValueError`` when the selection is empty.
    """
    if len(frame) == 0:
        raise ValueError("no stored run matches the selection: select more values in the filters "
                         "(or run some with the explorer or `python -m drive_lab sweep`)")
    named = frame.assign(label=label_runs(frame))
    prunes = named["method"].map(lambda method: method not in METHODS or METHODS[method].prunes)
    pruned = named[prunes.astype(bool)]
    seconds = pd.to_numeric(pruned["seconds_pruning"], errors="coerce")
    positive = seconds[seconds > 0]
    log_time = bool(len(positive) and positive.max() / positive.min() > 50)
    has_imp = bool((named["method"] == "imp").any()) and len(pruned) > 0
    speedup = analysis.speedup_vs_imp(named, hue="label") if has_imp else None
    return BrowserTables(runs=named, pruned=pruned, log_time=log_time, speedup=speedup)
