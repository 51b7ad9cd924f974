"""Figures of result frames: accuracy against sparsity or any setting, pruning time, speed-up, training curves.

Inputs are result frames, one row per run (:func:`drive_lab.sweep.load_results`), the
tables of :mod:`drive_lab.analysis`, or ``RunResult`` objects. Units on the axes:
accuracy in %, time in s, sparsity in %. Every function returns its figure.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..analysis import ablation_label, require_columns, summarise
from ..analysis import speedup_vs_imp as analysis_speedup_vs_imp
from .style import (FONT_SIZES, canonical, color, is_accuracy, marker, new_axes, order, percent, seeds_text, shown_name,
                    sparsity_axis, sparsity_x, styled, value_label)

__all__ = ["accuracy_vs_sparsity", "metric_vs", "speedup_vs_imp", "time_bars", "training_curves"]


def _hue_column(frame: pd.DataFrame, hue: str | None) -> str:
    if hue is not None:
        return hue
    return "label" if "label" in frame.columns else "method"


def _warn_mixed_variants(frame: pd.DataFrame, hue: str) -> None:
    """Warn when ``hue="method"`` would average different DRIVE variants (ablations) together.

    The warning names the line that called the public (``@styled``) plotting function.
    """
    if hue != "method" or "method" not in frame.columns:
        return
    drive = frame[frame["method"] == "drive"]
    if len(drive) and ablation_label(drive).nunique() > 1:
        warnings.warn("the frame holds several DRIVE variants (term weights or combine differ) and hue='method' "
                      "averages them together; pass hue='label' to keep them apart", stacklevel=4)


@styled
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
    frame = require_columns(frame, [hue, "method", "sparsity", value])
    _warn_mixed_variants(frame, hue)
    scale = 100.0 if is_accuracy(value) else 1.0
    is_dense = frame["method"] == "dense"
    table = summarise(frame[~is_dense], by=(hue, "sparsity"), value=value)
    fig, ax = new_axes(ax)
    counts = list(table["n"])
    for name in order(table[hue]):
        rows = table[table[hue] == name].sort_values("sparsity")
        shown = shown_name(hue, name)
        x = sparsity_x(rows["sparsity"], log_density)
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
    sparsity_axis(ax, table["sparsity"], log_density)
    ax.set_ylabel(value_label(value))
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # outside the data
        ax.legend(title=seeds_text(counts, band) or None, title_fontsize=FONT_SIZES["small"], loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.set_title(title or f"{value.replace('_', ' ')} vs sparsity")
    return fig


@styled
def metric_vs(frame: pd.DataFrame, x: str, value: str = "final_test_accuracy", hue: str = "method",
              style: str | None = "sparsity", ax: Axes | None = None, title: str | None = None) -> Figure:
    """A result column against any config column (e.g. accuracy vs warm-up epochs E).

    Args:
        frame: result frame (one row per run).
        x: the config column on the x axis (numeric, e.g. ``"warmup_epochs"``).
        value: the column on the y axis (accuracies are shown in %, seconds in s).
        hue: colour by this column (``"method"`` or ``"label"``).
        style: one line style per value of this column (default ``"sparsity"``), or None.
        ax: axes to draw into (default: a new figure).
        title: figure title (default: names the value, ``x`` and the seeds averaged).

    Returns:
        The figure: mean over seeds with ±1 std error bars, one line per (hue, style).
    """
    frame = require_columns(frame, [hue, x, value] + ([style] if style else []))
    keys = [hue] + ([style] if style else [])
    table = summarise(frame, by=tuple(keys + [x]), value=value)
    scale = 100.0 if is_accuracy(value) else 1.0
    fig, ax = new_axes(ax)
    line_styles = ["-", "--", ":", "-."]
    styles = sorted(table[style].unique()) if style else [None]
    for name in order(table[hue]):
        for s, style_value in enumerate(styles):
            rows = table[(table[hue] == name) & ((table[style] == style_value) if style else True)].sort_values(x)
            if rows.empty:
                continue
            shown = shown_name(hue, name)
            suffix = "" if style is None else (f", {percent(style_value)} sparsity" if style == "sparsity"
                                               else f", {style}={style_value}")
            ax.errorbar(rows[x], rows["mean"] * scale, yerr=rows["std"].fillna(0.0) * scale, color=color(shown),
                        marker=marker(shown), linestyle=line_styles[s % len(line_styles)], capsize=3,
                        label=shown + suffix)
    ax.set_xlabel({"warmup_epochs": "warm-up epochs E"}.get(x, x.replace("_", " ")))
    ax.set_ylabel(value_label(value))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.grid(alpha=0.3)
    ax.set_title(title or f"{value_label(value)} vs {x.replace('_', ' ')} ({seeds_text(table['n'])})")
    return fig


@styled
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
        train–prune–rewind rounds); the stack's height is the mean ``seconds_pruning``, with
        a ± 1 std error bar over seeds. With ``log=True`` each bar is the total alone (a stacked
        segment's length on a log axis does not show its size); see
        :func:`drive_lab.plots.pruning_time` for the parts on a log axis.
        Dense runs are left out (no pruning).
    """
    frame = require_columns(frame, [hue, "method", "seconds_pruning"])
    frame = frame[frame["method"] != "dense"].copy()
    for column in ("seconds_warmup", "seconds_scoring", "seconds_pruning"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce") if column in frame.columns else np.nan
    if "sparsity" not in frame.columns:
        frame["sparsity"] = np.nan
    table = (frame.groupby([hue, "sparsity"], dropna=False)
             .agg(warmup=("seconds_warmup", "mean"), scoring=("seconds_scoring", "mean"),
                  pruning=("seconds_pruning", "mean"), pruning_std=("seconds_pruning", "std"),
                  n=("seconds_pruning", "count")).reset_index())
    table[["warmup", "scoring"]] = table[["warmup", "scoring"]].fillna(0.0)
    table["other"] = (table["pruning"] - table["warmup"] - table["scoring"]).clip(lower=0.0).fillna(0.0)
    sparsities = sorted(table["sparsity"].dropna().unique()) or [np.nan]
    names = order(table[hue])
    fig, ax = new_axes(ax, figsize=(max(6.4, 0.35 * len(names) * len(sparsities) + 4), 4.2))
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
            shown = shown_name(hue, name)
            bottom = 0.0
            spread = float(row["pruning_std"]) if pd.notna(row["pruning_std"]) else 0.0
            if log:  # a stacked segment's length on a log axis does not show its size: draw the total only
                ax.bar(x, float(row["pruning"]), width * 0.9, yerr=spread, capsize=2, color=color(shown),
                       edgecolor="white", linewidth=0.5, error_kw={"elinewidth": 0.8})
            for column, hatch, alpha, _ in ([] if log else segments):
                height = float(row[column])
                if height > 0:
                    ax.bar(x, height, width * 0.9, bottom=bottom, color=color(shown), alpha=alpha, hatch=hatch,
                           edgecolor="white", linewidth=0.5)
                    used_segments.add(column)
                    bottom += height
            if not log and spread > 0:
                ax.errorbar(x, bottom, yerr=spread, color="#333333", capsize=2, linewidth=0.8)
            bar_positions.append(x)
            bar_names.append(shown)
    if len(sparsities) == 1:
        ax.set_xticks(bar_positions, bar_names, rotation=30, ha="right")
        only = sparsities[0]
        ax.set_xlabel("method" + (f" (sparsity {percent(only)})" if pd.notna(only) else ""))
    else:
        ax.set_xticks(range(len(sparsities)), [percent(s) for s in sparsities])
        ax.set_xlabel("target sparsity (%)")
    if log:
        ax.set_yscale("log")
    ax.set_ylabel("pruning time (s)" + (", log scale" if log else ""))
    method_handles = [Patch(color=color(shown_name(hue, name)), label=shown_name(hue, name)) for name in names]
    segment_handles = [Patch(facecolor="#dddddd", edgecolor="#555555", hatch=hatch, label=text)
                       for column, hatch, _, text in segments if column in used_segments]
    handles = (method_handles if len(sparsities) > 1 else []) + segment_handles
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.grid(axis="y", alpha=0.3)
    seeds = seeds_text(table["n"]).replace(" ± std", "")
    ax.set_title(title or ("pruning time per method" + (f" ({seeds})" if seeds else "")))
    return fig


@styled
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
        speedup_frame = analysis_speedup_vs_imp(speedup_frame, hue=hue or "method")
    hue = _hue_column(speedup_frame, hue)
    table = require_columns(speedup_frame, [hue, "sparsity", "speedup"])
    settings = [name for name in ("model", "dataset") if name in table.columns and table[name].nunique() > 1]
    styles = ("-", "--", ":", "-.")
    setting_keys = (list(table.groupby(settings, sort=True).groups) if settings else [None])
    fig, ax = new_axes(ax)
    is_imp = table[hue].map(lambda name: canonical(name) == ("method", "imp"))
    method_rows = table[~is_imp]
    for name in order(method_rows[hue]):
        shown = shown_name(hue, name)
        for s, key in enumerate(setting_keys):
            rows = method_rows[method_rows[hue] == name]
            if settings:
                key = key if isinstance(key, tuple) else (key,)
                rows = rows[np.logical_and.reduce([rows[col] == val for col, val in zip(settings, key)])]
            rows = rows.dropna(subset=["speedup"]).sort_values("sparsity")
            if rows.empty:
                continue
            suffix = f" — {'/'.join(map(str, key))}" if settings else ""
            x, y = sparsity_x(rows["sparsity"], log_density), rows["speedup"].to_numpy(float)
            ax.plot(x, y, marker=marker(shown), color=color(shown), linestyle=styles[s % len(styles)],
                    label=shown + suffix)
            if annotate:
                for xi, yi in zip(x, y):  # one label per point (a handful of sparsities)
                    ax.annotate(f"{yi:,.0f}×" if yi >= 10 else f"{yi:.2g}×", (xi, yi), textcoords="offset points",
                                xytext=(4, 4), fontsize=FONT_SIZES["note"],
                                color=color(shown))
    finish_speedup_axes(ax, table["sparsity"], log_density, log, "speed-up vs IMP (×, IMP pruning s ÷ method's)")
    ax.set_title(title or "pruning speed-up over IMP (same model, data and sparsity)")
    return fig


def finish_speedup_axes(ax: Axes, sparsities, log_density: bool, log: bool, ylabel: str) -> None:
    """The frame of every speed-up-over-IMP chart: IMP's 1× line, ×-labelled (log) y axis, sparsity x axis, legend outside."""
    ax.axhline(1.0, color=color("imp"), linestyle="--", linewidth=1.2, label="IMP (1×)")
    if log:
        ax.set_yscale("log")
    ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}×"))
    sparsity_axis(ax, sparsities, log_density)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)


@styled
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
    fig, ax = new_axes(ax)
    scale = 100.0 if is_accuracy(value) else 1.0
    styles = ("-", "--", ":", "-.")
    seen: dict[str, int] = {}
    for item in items:
        if hasattr(item, "training_history"):
            base = ablation_label(item.config)
            label, history = f"{base}, {percent(1.0 - item.density)}", item.training_history
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
    ax.set_ylabel(value_label(value) if value != "lr" else "learning rate")
    ax.xaxis.set_major_locator(mticker.MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    ax.set_title(title or f"{value.replace('_', ' ')} during training")
    return fig
