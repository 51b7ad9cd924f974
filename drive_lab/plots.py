"""Figures for the course: accuracy against sparsity, layer collapse, DRIVE's terms, cost.

Every function draws one figure and RETURNS it (a :class:`matplotlib.figure.Figure`); none
calls ``plt.show()``, clears output or closes a figure. Give ``ax=`` to draw into an
existing axes (the function then returns that axes' figure). Figures are made with
``plt.subplots``, so Jupyter's inline backend shows them at the end of the cell; end the
line with ``;`` (or assign the figure) when it is the cell's last expression, otherwise
the returned figure is shown a second time.

Units on the axes: accuracy in %, time in s, density as the fraction of prunable
weights kept, sparsity in %. Colours are fixed per method (:data:`METHOD_COLORS`, the
Okabe–Ito colour-blind-safe palette) and per DRIVE ablation variant
(:data:`ABLATION_COLORS`, Paul Tol's "muted" palette), so DRIVE is the same vermillion
in every figure of every notebook; :func:`color` resolves a method key, a display name
(``"SNIP"``) or an ablation label (``"without convergence"``).
"""
from __future__ import annotations

import warnings
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import torch
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from . import analysis
from .analysis import ABLATION_LABELS, DISPLAY_NAMES

# Okabe & Ito (2008) colour-blind-safe palette, one colour per method.
METHOD_COLORS = {
    "drive": "#d55e00",      # vermillion
    "imp": "#e69f00",        # orange
    "snip": "#0072b2",       # blue
    "grasp": "#009e73",      # bluish green
    "synflow": "#cc79a7",    # reddish purple
    "magnitude": "#56b4e9",  # sky blue
    "random": "#999999",     # grey
    "dense": "#000000",      # black
}
METHOD_MARKERS = {"drive": "o", "imp": "s", "snip": "^", "grasp": "v", "synflow": "D", "magnitude": "P",
                  "random": "X", "dense": "*"}

# DRIVE's term-weight variants (labels of analysis.ablation_label); Paul Tol's "muted" palette.
ABLATION_COLORS = {
    "DRIVE (full)": METHOD_COLORS["drive"],
    "without magnitude": "#332288",            # indigo
    "without connection": "#117733",           # green
    "without convergence": "#882255",          # wine
    "magnitude only": "#88ccee",               # cyan
    "connection only": "#44aa99",              # teal
    "convergence only": "#ddcc77",             # sand
    "product": "#aa4499",                      # purple
    "product without connection": "#999933",   # olive
    "product without convergence": "#cc6677",  # rose
}
ABLATION_MARKERS = dict(zip(ABLATION_LABELS, ("o", "s", "^", "v", "<", ">", "D", "P", "X", "h")))

# The three DRIVE terms in term-level figures, and their symbols (method.md notation).
TERM_COLORS = {"magnitude": "#4477aa", "connection": "#228833", "convergence": "#ee6677"}
TERM_SYMBOLS = {"magnitude": "|θ|", "connection": "|θ·g|", "convergence": "|g|"}

# Colours for names nothing else claims: picked by a stable hash of the name (Tol "bright").
_FALLBACK_COLORS = ("#4477aa", "#66ccee", "#228833", "#ccbb44", "#ee6677", "#aa3377", "#bbbbbb")
_METHOD_BY_DISPLAY = {name.lower(): method for method, name in DISPLAY_NAMES.items()}
# Legend order: DRIVE and its variants first, then the baselines, then the references.
_ORDER = [*METHOD_COLORS, "DRIVE", *ABLATION_LABELS, *(DISPLAY_NAMES[m] for m in METHOD_COLORS if m != "drive")]


def _canonical(name: Any) -> tuple[str, str] | None:
    """``("method", key)`` or ``("ablation", label)`` for a known name, else ``None``."""
    text = str(name)
    if text in ABLATION_COLORS:
        return ("ablation", text)
    lower = text.lower()
    if lower in METHOD_COLORS:
        return ("method", lower)
    if lower in _METHOD_BY_DISPLAY:
        return ("method", _METHOD_BY_DISPLAY[lower])
    base = text.split(" (")[0]  # "without convergence (magn=2, conn=1)" -> "without convergence"
    if base != text:
        return _canonical(base)
    return None


def color(method_or_label: Any) -> str:
    """The fixed colour (hex string) of a method key, display name or DRIVE ablation label.

    ``"drive"``, ``"DRIVE"`` and ``"DRIVE (full)"`` share one colour; ``"without
    convergence"`` etc. have their own; any other name gets a colour chosen by a stable
    hash of the name (the same in every session).
    """
    known = _canonical(method_or_label)
    if known is None:
        return _FALLBACK_COLORS[zlib.crc32(str(method_or_label).encode()) % len(_FALLBACK_COLORS)]
    kind, key = known
    return METHOD_COLORS[key] if kind == "method" else ABLATION_COLORS[key]


def marker(method_or_label: Any) -> str:
    """The fixed line marker of a method or ablation label (shapes help where colours are hard to tell apart)."""
    known = _canonical(method_or_label)
    if known is None:
        return "o"
    kind, key = known
    return METHOD_MARKERS[key] if kind == "method" else ABLATION_MARKERS[key]


def _order(names: Iterable[Any]) -> list[Any]:
    """Methods in the fixed order of :data:`METHOD_COLORS`, then ablation variants, then the rest sorted."""
    def key(name: Any) -> tuple[int, str]:
        text = str(name)
        return (_ORDER.index(text) if text in _ORDER else len(_ORDER), text)
    return sorted(dict.fromkeys(names), key=key)


def _shown_name(hue: str, value: Any) -> str:
    return analysis.display_name(str(value)) if hue == "method" else str(value)


def _new_axes(ax: Axes | None, figsize: tuple[float, float] = (6.4, 4.2)) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    figure, ax = plt.subplots(figsize=figsize, layout="constrained")
    return figure, ax


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.4g}%"


def _is_accuracy(value: str) -> bool:
    return "accuracy" in value


def _value_label(value: str) -> str:
    """Axis label with units for a result column (accuracy fractions are shown in %)."""
    text = value.replace("_", " ")
    if _is_accuracy(value):
        return f"{text} (%)"
    if value.startswith("seconds_"):
        return f"{value[len('seconds_'):]} time (s)"
    if value.endswith("loss"):
        return f"{text} (cross-entropy, nats)"
    if value in ("density", "sparsity_achieved"):
        return f"{text} (fraction of prunable weights)"
    return text


def _seeds_text(counts: Iterable[int], band: str = "std") -> str:
    """``"mean ± std over 3 seeds"`` (``"1–3 seeds"`` when groups differ)."""
    counts = sorted({int(n) for n in counts if n > 0})
    if not counts:
        return ""
    spread = "± std" if band == "std" else "(band: min–max)"
    if counts[-1] == 1:
        return "single seed (no spread)"
    seeds = f"{counts[0]} seeds" if len(counts) == 1 else f"{counts[0]}–{counts[-1]} seeds"
    return f"mean {spread} over {seeds}"


def _sparsity_axis(ax: Axes, sparsities: Iterable[float], log_density: bool) -> None:
    """x axis of sparsities: log scale of the density kept (inverted) so 90/95/98/99% spread out."""
    values = np.unique(np.asarray([s for s in sparsities if pd.notna(s)], dtype=float))
    if log_density:
        ax.set_xscale("log")
        if len(values):
            densities = 1.0 - values
            ax.set_xticks(densities, [_percent(s) for s in values])
            ax.set_xlim(densities.max() * 1.3, densities.min() / 1.3)  # inverted: sparsity grows rightwards
        ax.xaxis.set_minor_locator(mticker.NullLocator())
        ax.set_xlabel("sparsity (% of weights removed; log scale of weights kept)")
    else:
        if len(values):
            ax.set_xticks(100 * values, [_percent(s) for s in values])
        ax.set_xlabel("sparsity (% of weights removed)")


def _x(sparsity: pd.Series | np.ndarray, log_density: bool) -> np.ndarray:
    sparsity = np.asarray(sparsity, dtype=float)
    return 1.0 - sparsity if log_density else 100.0 * sparsity


def _hue_column(frame: pd.DataFrame, hue: str | None) -> str:
    if hue is not None:
        return hue
    return "label" if "label" in frame.columns else "method"


def _warn_mixed_variants(frame: pd.DataFrame, hue: str) -> None:
    """Warn when ``hue="method"`` would average different DRIVE variants (ablations) together."""
    if hue != "method" or "method" not in frame.columns:
        return
    drive = frame[frame["method"] == "drive"]
    if len(drive) and analysis.ablation_label(drive).nunique() > 1:
        warnings.warn("the frame holds several DRIVE variants (term weights or combine differ) and hue='method' "
                      "averages them together; pass hue='label' to keep them apart", stacklevel=3)


# ----------------------------------------------------------------------------- results
def accuracy_vs_sparsity(frame: pd.DataFrame, hue: str = "method", value: str = "final_test_accuracy",
                         ax: Axes | None = None, log_density: bool = True, band: str = "std",
                         title: str | None = None) -> Figure:
    """Accuracy (mean over seeds, with a shaded spread) against sparsity, one line per method.

    Args:
        frame: result frame (``load_results``/``sweep``), one row per run; needs
            ``method``, ``sparsity``, ``value`` and the ``hue`` column.
        hue: ``"method"`` or ``"label"`` (DRIVE ablation variants; added when absent).
        value: the column plotted; accuracy fractions are shown in %.
        ax: axes to draw into (default: a new figure).
        log_density: ``True``: x = fraction of weights kept on an inverted log scale,
            ticks labelled as sparsity % (90, 95, 98, 99 % spread out); ``False``: linear %.
        band: ``"std"``: shaded mean ± 1 sample std (ddof = 1); ``"minmax"``: shaded
            min–max over seeds. The legend title says which and over how many seeds.
        title: figure title (default: names the value).

    Returns:
        The figure. Dense runs (``method == "dense"``) appear as one dashed horizontal
        line at their mean.
    """
    frame = analysis._with_columns(frame, [hue, "method", "sparsity", value])
    _warn_mixed_variants(frame, hue)
    scale = 100.0 if _is_accuracy(value) else 1.0
    is_dense = frame["method"] == "dense"
    table = analysis.summarise(frame[~is_dense], by=(hue, "sparsity"), value=value)
    fig, ax = _new_axes(ax)
    counts = list(table["n"])
    for name in _order(table[hue]):
        rows = table[table[hue] == name].sort_values("sparsity")
        shown = _shown_name(hue, name)
        x = _x(rows["sparsity"], log_density)
        mean = scale * rows["mean"].to_numpy(float)
        if band == "minmax":
            low, high = scale * rows["min"].to_numpy(float), scale * rows["max"].to_numpy(float)
        else:
            spread = scale * rows["std"].fillna(0.0).to_numpy(float)
            low, high = mean - spread, mean + spread
        ax.plot(x, mean, marker=marker(shown), color=color(shown), label=shown)
        ax.fill_between(x, low, high, color=color(shown), alpha=0.2, linewidth=0)
    if is_dense.any():
        dense = pd.to_numeric(frame.loc[is_dense, value], errors="coerce").dropna()
        if len(dense):
            counts.append(len(dense))
            ax.axhline(scale * dense.mean(), color=color("dense"), linestyle="--", linewidth=1.2,
                       label=f"Dense ({len(dense)} run{'s' if len(dense) > 1 else ''})")
            if len(dense) > 1:
                spread = dense.std() if band == "std" else None
                low, high = ((dense.mean() - spread, dense.mean() + spread) if spread is not None
                             else (dense.min(), dense.max()))
                ax.axhspan(scale * low, scale * high, color=color("dense"), alpha=0.08, linewidth=0)
    _sparsity_axis(ax, table["sparsity"], log_density)
    ax.set_ylabel(_value_label(value))
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(title=_seeds_text(counts, band) or None, fontsize=8, title_fontsize=8)
    ax.set_title(title or f"{value.replace('_', ' ')} vs sparsity")
    return fig


def _row_names(index: pd.Index) -> list[str]:
    """Readable names of layer-table rows: ``"DRIVE (full), 90%, seed 0"``."""
    names = []
    for key in index:
        parts = key if isinstance(key, tuple) else (key,)
        text = []
        for level, part in zip(index.names if len(index.names) == len(parts) else [None] * len(parts), parts):
            if level == "sparsity":
                text.append(_percent(float(part)))
            elif level == "seed":
                text.append(f"seed {part}")
            else:
                text.append(_shown_name(level or "", part))
        names.append(", ".join(text))
    return names


def _row_hues(index: pd.Index) -> list[str]:
    """The method/label of each row (first level), for its colour."""
    return [str(key[0] if isinstance(key, tuple) else key) for key in index]


def layer_density(layer_density: Mapping[str, float] | pd.Series | pd.DataFrame, ax: Axes | None = None,
                  log: bool = False, label: str | None = None, title: str | None = None) -> Figure:
    """Bar chart of the density kept in every layer; collapsed layers marked with a red ✗.

    Args:
        layer_density: one run's ``{layer: fraction kept}`` (``RunResult.layer_density``),
            or a table from :func:`drive_lab.analysis.layer_density_table` (rows = runs,
            drawn side by side per layer), or a result frame (converted with it).
        ax: axes to draw into (default: a new figure).
        log: log-scale y (the small densities of late layers become visible).
        label: name of the single run when a dict is given (sets its colour and legend).
        title: figure title.

    Returns:
        The figure: x = layers (``.weight`` dropped), y = fraction of the layer's weights
        kept. A layer with density 0 (collapsed: the network is disconnected) gets a red
        ✗ at the bottom of the axes and the word "collapsed".
    """
    if isinstance(layer_density, pd.DataFrame):
        table = (analysis.layer_density_table(layer_density) if "layer_density" in layer_density.columns
                 else layer_density)
        hues: list[str | None] = _row_hues(table.index)
        names: list[str | None] = _row_names(table.index)
    else:
        series = pd.Series(dict(layer_density), dtype=float)
        table = series.to_frame(name=label if label is not None else "run").T
        hues, names = [label], [label]
    layers = [str(name) for name in table.columns]
    values = table.to_numpy(dtype=float)
    runs = len(table)
    fig, ax = _new_axes(ax, figsize=(max(6.4, 0.45 * len(layers) * max(1.0, runs / 2) + 2.5), 4.4))
    positions = np.arange(len(layers), dtype=float)
    width = 0.8 / max(runs, 1)
    seen: dict[str | None, int] = {}
    any_collapsed = False
    for i, row in enumerate(values):
        hue = hues[i]
        repeat = seen.get(hue, 0)  # rows of one method (other sparsities, seeds) fade
        seen[hue] = repeat + 1
        colour = color(hue) if hue is not None else "#4477aa"
        offsets = positions - 0.4 + width * (i + 0.5)
        ax.bar(offsets, np.nan_to_num(row, nan=0.0), width, color=colour, alpha=max(0.35, 1.0 - 0.2 * repeat),
               edgecolor="white", linewidth=0.5, label=names[i])
        collapsed = offsets[row == 0]
        if len(collapsed):
            any_collapsed = True
            ax.scatter(collapsed, np.full(len(collapsed), 0.03), transform=ax.get_xaxis_transform(), marker="x",
                       color="red", s=50, linewidths=2, zorder=5, clip_on=False)
            for x in collapsed:  # one note per collapsed layer
                ax.text(x, 0.07, "collapsed", transform=ax.get_xaxis_transform(), rotation=90, ha="center",
                        va="bottom", color="red", fontsize=7)
    ax.set_xticks(positions, [name.removesuffix(".weight") for name in layers], rotation=60, ha="right", fontsize=8)
    ax.set_xlabel("layer (prunable weight)")
    if log:
        ax.set_yscale("log")
        positive = values[np.isfinite(values) & (values > 0)]
        if len(positive):
            ax.set_ylim(positive.min() / 2, 1.5)
        ax.set_ylabel("density (fraction of weights kept, log scale)")
    else:
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("density (fraction of weights kept)")
    handles, labels = ax.get_legend_handles_labels()
    if any_collapsed:
        handles.append(Line2D([], [], color="red", marker="x", linestyle="none", markeredgewidth=2))
        labels.append("collapsed layer (no weight left)")
    if handles:
        ax.legend(handles, labels, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title or "density kept per layer")
    return fig


def time_bars(frame: pd.DataFrame, ax: Axes | None = None, hue: str = "method", log: bool = False,
              title: str | None = None) -> Figure:
    """Pruning time per method (mean over seeds), split into warm-up, scoring and the rest.

    Args:
        frame: result frame with ``method``, ``seconds_pruning`` and, where recorded,
            ``seconds_warmup`` and ``seconds_scoring`` (s); ``sparsity`` groups the bars.
        ax: axes to draw into (default: a new figure).
        hue: ``"method"`` or ``"label"`` (DRIVE ablation variants).
        log: log-scale y (IMP is orders of magnitude slower than DRIVE).
        title: figure title.

    Returns:
        The figure: one stacked bar per method (and sparsity): warm-up (hatched ``//``),
        scoring + masking (solid) and any remaining pruning time (dotted, e.g. IMP's
        train–prune–rewind rounds); the stack's height is the mean ``seconds_pruning``.
        Dense runs are left out (no pruning).
    """
    frame = analysis._with_columns(frame, [hue, "method", "seconds_pruning"])
    frame = frame[frame["method"] != "dense"].copy()
    for column in ("seconds_warmup", "seconds_scoring", "seconds_pruning"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce") if column in frame.columns else np.nan
    if "sparsity" not in frame.columns:
        frame["sparsity"] = np.nan
    table = (frame.groupby([hue, "sparsity"], dropna=False)
             .agg(warmup=("seconds_warmup", "mean"), scoring=("seconds_scoring", "mean"),
                  pruning=("seconds_pruning", "mean"), n=("seconds_pruning", "count")).reset_index())
    table[["warmup", "scoring"]] = table[["warmup", "scoring"]].fillna(0.0)
    table["other"] = (table["pruning"] - table["warmup"] - table["scoring"]).clip(lower=0.0).fillna(0.0)
    sparsities = sorted(table["sparsity"].dropna().unique()) or [np.nan]
    names = _order(table[hue])
    fig, ax = _new_axes(ax, figsize=(max(6.4, 0.35 * len(names) * len(sparsities) + 4), 4.2))
    width = 0.8 / max(len(names), 1)
    segments = (("warmup", "//", 0.55, "warm-up (dense training)"), ("scoring", "", 1.0, "scoring + masking"),
                ("other", "..", 0.8, "other pruning time (e.g. IMP rounds)"))
    used_segments: set[str] = set()
    bar_positions, bar_names = [], []
    for g, sparsity in enumerate(sparsities):
        for i, name in enumerate(names):
            match = table[(table[hue] == name) & ((table["sparsity"] == sparsity) if pd.notna(sparsity)
                                                  else table["sparsity"].isna())]
            if match.empty:
                continue
            row = match.iloc[0]
            x = g - 0.4 + width * (i + 0.5)
            shown = _shown_name(hue, name)
            bottom = 0.0
            for column, hatch, alpha, _ in segments:
                height = float(row[column])
                if height > 0:
                    ax.bar(x, height, width * 0.9, bottom=bottom, color=color(shown), alpha=alpha, hatch=hatch,
                           edgecolor="white", linewidth=0.5)
                    used_segments.add(column)
                    bottom += height
            bar_positions.append(x)
            bar_names.append(shown)
    if len(sparsities) == 1:
        ax.set_xticks(bar_positions, bar_names, rotation=30, ha="right")
        only = sparsities[0]
        ax.set_xlabel("method" + (f" (sparsity {_percent(only)})" if pd.notna(only) else ""))
    else:
        ax.set_xticks(range(len(sparsities)), [_percent(s) for s in sparsities])
        ax.set_xlabel("target sparsity (%)")
    if log:
        ax.set_yscale("log")
    ax.set_ylabel("pruning time (s)" + (", log scale" if log else ""))
    method_handles = [Patch(color=color(_shown_name(hue, name)), label=_shown_name(hue, name)) for name in names]
    segment_handles = [Patch(facecolor="#dddddd", edgecolor="#555555", hatch=hatch, label=text)
                       for column, hatch, _, text in segments if column in used_segments]
    handles = (method_handles if len(sparsities) > 1 else []) + segment_handles
    if handles:
        ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.grid(axis="y", alpha=0.3)
    seeds = _seeds_text(table["n"]).replace(" ± std", "")
    ax.set_title(title or ("pruning time per method" + (f" ({seeds})" if seeds else "")))
    return fig


def speedup_vs_imp(speedup_frame: pd.DataFrame, ax: Axes | None = None, hue: str | None = None, log: bool = True,
                   log_density: bool = True, annotate: bool = True, title: str | None = None) -> Figure:
    """Speed-up of each method's pruning over IMP's (×) against sparsity.

    Args:
        speedup_frame: table from :func:`drive_lab.analysis.speedup_vs_imp` (columns
            ``sparsity``, ``method`` or ``label``, ``speedup``, optionally ``model``,
            ``dataset``); a raw result frame is converted with it.
        ax: axes to draw into (default: a new figure).
        hue: the method column (default ``"label"`` when present, else ``"method"``).
        log: log-scale y (speed-ups span 10× to 1000×).
        log_density: sparsity axis as in :func:`accuracy_vs_sparsity`.
        annotate: write each point's value (e.g. ``25×``) beside it.
        title: figure title.

    Returns:
        The figure: one line per method (line style per model/dataset when several), IMP
        as the dashed reference line at 1×. Points with no IMP run in their group (NaN)
        are skipped.
    """
    if "speedup" not in speedup_frame.columns:
        speedup_frame = analysis.speedup_vs_imp(speedup_frame, hue=hue or "method")
    hue = _hue_column(speedup_frame, hue)
    table = analysis._with_columns(speedup_frame, [hue, "sparsity", "speedup"])
    settings = [name for name in ("model", "dataset") if name in table.columns and table[name].nunique() > 1]
    styles = ("-", "--", ":", "-.")
    setting_keys = (list(table.groupby(settings, sort=True).groups) if settings else [None])
    fig, ax = _new_axes(ax)
    is_imp = table[hue].map(lambda name: _canonical(name) == ("method", "imp"))
    method_rows = table[~is_imp]
    for name in _order(method_rows[hue]):
        shown = _shown_name(hue, name)
        for s, key in enumerate(setting_keys):
            rows = method_rows[method_rows[hue] == name]
            if settings:
                key = key if isinstance(key, tuple) else (key,)
                rows = rows[np.logical_and.reduce([rows[col] == val for col, val in zip(settings, key)])]
            rows = rows.dropna(subset=["speedup"]).sort_values("sparsity")
            if rows.empty:
                continue
            suffix = f" — {'/'.join(map(str, key))}" if settings else ""
            x, y = _x(rows["sparsity"], log_density), rows["speedup"].to_numpy(float)
            ax.plot(x, y, marker=marker(shown), color=color(shown), linestyle=styles[s % len(styles)],
                    label=shown + suffix)
            if annotate:
                for xi, yi in zip(x, y):  # one label per point (a handful of sparsities)
                    ax.annotate(f"{yi:,.0f}×" if yi >= 10 else f"{yi:.2g}×", (xi, yi), textcoords="offset points",
                                xytext=(4, 4), fontsize=7,
                                color=color(shown))
    ax.axhline(1.0, color=color("imp"), linestyle="--", linewidth=1.2, label="IMP (1×)")
    if log:
        ax.set_yscale("log")
    ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}×"))
    _sparsity_axis(ax, table["sparsity"], log_density)
    ax.set_ylabel("speed-up vs IMP (×, IMP pruning s ÷ method's)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.set_title(title or "pruning speed-up over IMP (same model, data and sparsity)")
    return fig


def training_curves(results: Sequence | Mapping, ax: Axes | None = None, value: str = "test_accuracy",
                    title: str | None = None) -> Figure:
    """Test accuracy (or another per-epoch value) against epoch of the training after pruning.

    Args:
        results: ``[(label, training_history), ...]`` or ``{label: training_history}``,
            where ``training_history`` is ``RunResult.training_history`` (dicts with
            ``epoch`` and ``value``); ``RunResult`` objects are accepted too and labelled
            with :func:`drive_lab.analysis.ablation_label` and their sparsity.
        ax: axes to draw into (default: a new figure).
        value: ``test_accuracy`` (default), ``train_accuracy``, ``test_loss``,
            ``train_loss`` or ``lr``; accuracies are shown in %.
        title: figure title.

    Returns:
        The figure, one line per run; runs with the same method/label share its colour and
        differ in line style.
    """
    items = list(results.items()) if isinstance(results, Mapping) else list(results)
    fig, ax = _new_axes(ax)
    scale = 100.0 if _is_accuracy(value) else 1.0
    styles = ("-", "--", ":", "-.")
    seen: dict[str, int] = {}
    for item in items:
        if hasattr(item, "training_history"):
            base = analysis.ablation_label(item.config)
            label, history = f"{base}, {_percent(1.0 - item.density)}", item.training_history
        else:
            label, history = item
            base = str(label)
        history = pd.DataFrame(list(history))
        if history.empty or value not in history.columns:
            continue
        epochs = history["epoch"].to_numpy() if "epoch" in history.columns else np.arange(1, len(history) + 1)
        repeat = seen.get(base, 0)
        seen[base] = repeat + 1
        ax.plot(epochs, scale * history[value].to_numpy(float), color=color(base), marker=marker(base),
                markersize=3, linestyle=styles[repeat % len(styles)], label=str(label))
    ax.set_xlabel("training epoch after pruning")
    ax.set_ylabel(_value_label(value) if value != "lr" else "learning rate")
    ax.xaxis.set_major_locator(mticker.MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    ax.set_title(title or f"{value.replace('_', ' ')} during training")
    return fig


def schedule(densities: Sequence[float] | Sequence[Mapping] | Mapping[str, Sequence[float]], ax: Axes | None = None,
             log: bool = True, start: float | None = 1.0, title: str | None = None) -> Figure:
    """Density after each pruning iteration, to teach the exponential schedule κ^(k/N).

    Args:
        densities: the densities after iterations 1..N (e.g.
            ``drive_lab.pruning.exponential_schedule(0.01, 100)``), or a pruning history
            (dicts with ``density``), or ``{label: densities}`` to compare schedules.
        ax: axes to draw into (default: a new figure).
        log: log-scale y: the exponential schedule is then a straight line (each step
            removes the same fraction of the survivors).
        start: density before the first iteration, drawn at k = 0 (``None``: not drawn).
        title: figure title.

    Returns:
        The figure: x = iteration k, y = fraction of prunable weights kept; a dotted line
        marks each schedule's final density κ.
    """
    series = dict(densities) if isinstance(densities, Mapping) else {None: densities}
    fig, ax = _new_axes(ax)
    targets: set[float] = set()
    for i, (label, values) in enumerate(series.items()):
        values = list(values)
        if values and isinstance(values[0], Mapping):
            values = [step["density"] for step in values]
        y = np.asarray(([start] if start is not None else []) + [float(v) for v in values], dtype=float)
        k = np.arange(0 if start is not None else 1, (0 if start is not None else 1) + len(y))
        colour = _FALLBACK_COLORS[i % len(_FALLBACK_COLORS)]
        ax.plot(k, y, color=colour, marker="o" if len(y) <= 30 else None, markersize=3,
                label=f"κ^(k/N), N = {len(values)}" if label is None else str(label))
        if len(values) and round(float(values[-1]), 12) not in targets:  # one line per distinct target
            targets.add(round(float(values[-1]), 12))
            ax.axhline(float(values[-1]), color="black", linestyle=":", linewidth=1,
                       label=f"target κ = {float(values[-1]):.4g}")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("pruning iteration k")
    ax.set_ylabel("density (fraction of weights kept" + (", log scale)" if log else ")"))
    ax.xaxis.set_major_locator(mticker.MaxNLocator(integer=True))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(title or "exponential pruning schedule: density κ^(k/N)")
    return fig


# ----------------------------------------------------------------------------- DRIVE's terms
def _pick_layers(layers: Sequence[str], max_layers: int) -> list[str]:
    """At most ``max_layers`` of ``layers``, evenly spaced, first and last included."""
    layers = list(layers)
    if len(layers) <= max_layers:
        return layers
    picks = np.unique(np.linspace(0, len(layers) - 1, max_layers).round().astype(int))
    return [layers[i] for i in picks]


def term_histograms(terms: Mapping[str, Mapping[str, torch.Tensor]], layers: Sequence[str] | None = None,
                    bins: int = 50, masks: Mapping[str, torch.Tensor] | None = None, max_layers: int = 6,
                    title: str | None = None) -> Figure:
    """Histograms of log10 of each DRIVE term, one row per term and one column per layer.

    Args:
        terms: ``{term: {layer: Tensor}}`` from ``drive_terms``.
        layers: layers to show (default: all); at most ``max_layers`` are drawn, evenly
            spaced from first to last.
        bins: bins per histogram (edges shared along a row).
        masks: current masks: only survivors are counted (default: all weights).
        max_layers: most columns drawn.
        title: figure title.

    Returns:
        The figure: x = log10 of the term value (magnitude |θ|, connection |θ·g|,
        convergence |g|; only values > 0, since pruned weights and exact zeros have no
        logarithm), shared within a row so layers compare directly; y = number of weights;
        a dotted line marks each layer's median.
    """
    names = list(terms)
    chosen = _pick_layers(list(layers) if layers is not None else list(next(iter(terms.values()))), max_layers)
    fig, axes = plt.subplots(len(names), len(chosen), figsize=(2.5 * len(chosen) + 1.2, 2.1 * len(names) + 0.9),
                             sharex="row", squeeze=False, layout="constrained")
    for r, term in enumerate(names):
        logs = {}
        for layer in chosen:
            values = analysis._flat(terms, term, [layer], masks)
            logs[layer] = torch.log10(values[values > 0]).cpu().numpy()
        finite = [v for v in logs.values() if len(v)]
        if finite:
            low, high = min(float(v.min()) for v in finite), max(float(v.max()) for v in finite)
            if high - low < 1e-9:
                low, high = low - 0.5, high + 0.5
            edges = np.linspace(low, high, bins + 1)
        symbol = TERM_SYMBOLS.get(term, term)
        for c, layer in enumerate(chosen):
            ax = axes[r, c]
            if len(logs[layer]):
                ax.hist(logs[layer], bins=edges, color=TERM_COLORS.get(term, color(term)))
                ax.axvline(float(np.median(logs[layer])), color="black", linestyle=":", linewidth=1)
            else:
                ax.text(0.5, 0.5, "no values > 0", transform=ax.transAxes, ha="center", va="center", fontsize=8)
            ax.set_xlabel(f"log10 {symbol}", fontsize=8)
            if c == 0:
                ax.set_ylabel(f"{term}\nnumber of weights", fontsize=8)
            if r == 0:
                ax.set_title(layer.removesuffix(".weight"), fontsize=9)
            ax.tick_params(labelsize=7)
    fig.suptitle(title or "DRIVE terms per layer (log10 of values > 0; dotted: median)")
    return fig


def term_correlation(corr_frame: pd.DataFrame, ax: Axes | None = None, value_label: str | None = None,
                     fmt: str = ".2f", title: str | None = None) -> Figure:
    """Heatmap with the numbers written in: rank correlations or kept-set overlaps of the terms.

    Args:
        corr_frame: a square terms × terms table from
            :func:`drive_lab.analysis.rank_correlation` or :func:`~drive_lab.analysis.kept_overlap`,
            or ``rank_correlation(..., per_layer=True)``'s long table (drawn layers × pairs).
        ax: axes to draw into (default: a new figure).
        value_label: colour-bar label (default: ``corr_frame.attrs["value"]``).
        fmt: number format of the cell annotations.
        title: figure title (default: the value, with the density for overlaps).

    Returns:
        The figure. Colours: diverging −1…1 when values can be negative (correlations),
        sequential 0…1 for overlaps; NaN cells are left blank and written "nan".
    """
    attrs = dict(corr_frame.attrs)
    if {"layer", "term_a", "term_b"} <= set(corr_frame.columns):
        column = "spearman" if "spearman" in corr_frame.columns else corr_frame.columns[-1]
        pairs = corr_frame.assign(pair=corr_frame["term_a"] + " – " + corr_frame["term_b"])
        matrix_frame = pairs.pivot(index="layer", columns="pair", values=column).reindex(
            index=list(dict.fromkeys(corr_frame["layer"])), columns=list(dict.fromkeys(pairs["pair"])))
        matrix_frame.index = [str(name).removesuffix(".weight") for name in matrix_frame.index]
        x_name, y_name = "pair of terms", "layer"
    else:
        matrix_frame = corr_frame
        x_name = corr_frame.columns.name or "term"
        y_name = corr_frame.index.name or "term"
    matrix = matrix_frame.to_numpy(dtype=float)
    value_label = value_label or attrs.get("value", "value")
    finite = matrix[np.isfinite(matrix)]
    if finite.size and (finite.min() < 0 or "correlation" in value_label.lower()) and np.abs(finite).max() <= 1:
        vmin, vmax, cmap = -1.0, 1.0, "RdBu_r"
    elif finite.size and finite.min() >= 0 and finite.max() <= 1:
        vmin, vmax, cmap = 0.0, 1.0, "viridis"
    else:
        vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        cmap = "viridis"
    rows, cols = matrix.shape
    fig, ax = _new_axes(ax, figsize=(max(4.2, 1.0 * cols + 2.4), max(3.4, 0.55 * rows + 1.6)))
    image = ax.imshow(matrix, vmin=vmin, vmax=vmax, cmap=cmap, aspect="auto")
    colormap = image.get_cmap()
    for (i, j), v in np.ndenumerate(matrix):  # one number per cell (a few cells)
        if np.isfinite(v):
            r, g, b = to_rgb(colormap(image.norm(v)))
            ink = "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"
        else:
            ink = "black"
        ax.text(j, i, format(v, fmt), ha="center", va="center", color=ink, fontsize=9)
    column_names = [str(c) for c in matrix_frame.columns]
    slanted = cols > 3 or max(map(len, column_names), default=0) > 12
    ax.set_xticks(range(cols), column_names, rotation=25 if slanted else 0, ha="right" if slanted else "center")
    ax.set_yticks(range(rows), [str(r) for r in matrix_frame.index])
    ax.set_xlabel(x_name)
    ax.set_ylabel(y_name)
    fig.colorbar(image, ax=ax, label=value_label)
    default = value_label
    if "density" in attrs:
        default += f" at density {attrs['density']:.3g}"
    if attrs.get("n"):
        default += f" ({attrs['n']:,} weights)"
    ax.set_title(title or default, fontsize=10)
    return fig


def metric_vs(frame: pd.DataFrame, x: str, value: str = "final_test_accuracy", hue: str = "method",
              style: str | None = "sparsity", ax: Axes | None = None, title: str | None = None) -> Figure:
    """A result column against any config column (e.g. accuracy vs warm-up epochs E).

    Args:
        frame: result frame (one row per run).
        x: the config column on the x axis (numeric, e.g. ``"warmup_epochs"``).
        value: the column on the y axis (accuracies are shown in %, seconds in s).
        hue: colour by this column (``"method"`` or ``"label"``).
        style: one line style per value of this column (e.g. ``"sparsity"``), or None.

    Returns:
        The figure: mean over seeds with ±1 std error bars, one line per (hue, style).
    """
    frame = analysis._with_columns(frame, [hue, x, value] + ([style] if style else []))
    keys = [hue] + ([style] if style else [])
    table = analysis.summarise(frame, by=tuple(keys + [x]), value=value)
    scale = 100.0 if _is_accuracy(value) else 1.0
    fig, ax = _new_axes(ax)
    line_styles = ["-", "--", ":", "-."]
    styles = sorted(table[style].unique()) if style else [None]
    for name in _order(table[hue]):
        for s, style_value in enumerate(styles):
            rows = table[(table[hue] == name) & ((table[style] == style_value) if style else True)].sort_values(x)
            if rows.empty:
                continue
            shown = _shown_name(hue, name)
            suffix = "" if style is None else (f", {_percent(style_value)} sparsity" if style == "sparsity"
                                               else f", {style}={style_value}")
            ax.errorbar(rows[x], rows["mean"] * scale, yerr=rows["std"].fillna(0.0) * scale, color=color(shown),
                        marker=marker(shown), linestyle=line_styles[s % len(line_styles)], capsize=3,
                        label=shown + suffix)
    ax.set_xlabel({"warmup_epochs": "warm-up epochs E"}.get(x, x.replace("_", " ")))
    ax.set_ylabel(_value_label(value))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.grid(alpha=0.3)
    ax.set_title(title or f"{_value_label(value)} vs {x.replace('_', ' ')} ({_seeds_text(table['n'])})")
    return fig
