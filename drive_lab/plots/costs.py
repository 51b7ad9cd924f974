"""Figures of what pruning costs: pruning time with its spread over seeds, the speed-up over IMP with its interval.

Inputs are result frames (one row per run; times in s) and the table of
:func:`drive_lab.analysis.claims.speedup`. Every value is a dot (mean over seeds) with an
error bar (± one sample standard deviation, or the 95% interval where stated), so a log
axis shows each value honestly (no stacked bars). Every function returns its figure.
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..analysis import require_columns, summarise
from .results import finish_speedup_axes
from .style import FIGSIZE, color, marker, new_axes, order, seeds_text, shown_name, sparsity_axis, sparsity_x, styled

__all__ = ["TIME_PARTS", "pruning_time", "speedup_intervals"]

# The columns of a result frame that split the pruning time, and how the figures name them (s).
TIME_PARTS = {"seconds_pruning": "pruning time, total", "seconds_warmup": "warm-up (dense training)",
              "seconds_scoring": "scoring + masking", "seconds_rounds": "IMP's train–prune–rewind rounds"}


@styled
def pruning_time(frame: pd.DataFrame, x: str = "sparsity", parts: Sequence[str] = ("seconds_pruning",),
                 hue: str = "method", log: bool = False, title: str | None = None) -> Figure:
    """Pruning time against ``x``, mean over seeds with ± 1 std error bars, one panel per part of the time.

    Args:
        frame: result frame with ``hue``, ``x`` and the ``parts`` columns (s); dense runs are left out.
        x: ``"sparsity"`` (an inverted log axis of the fraction kept, labelled in %) or any numeric
            config column (e.g. ``"warmup_epochs"``).
        parts: time columns, one panel each (names in :data:`TIME_PARTS`); a method without a
            part (NaN) is left out of that panel.
        hue: ``"method"`` or ``"label"``.
        log: log-scale y (IMP is orders of magnitude slower than the others).
        title: figure title.

    Returns:
        The figure; methods are offset slightly along x so their error bars do not overlap.
    """
    parts = list(parts)
    frame = require_columns(frame, [hue, "method", x])
    frame = frame[frame["method"] != "dense"]
    width = FIGSIZE[0] * (0.75 + 0.45 * (len(parts) - 1)) + 1.6
    fig, axes = plt.subplots(1, len(parts), figsize=(width, FIGSIZE[1]), layout="constrained", squeeze=False)
    names = order(frame[hue])
    counts: list[int] = []
    for ax, part in zip(axes[0], parts):
        if part not in frame.columns:
            ax.set_visible(False)
            continue
        table = summarise(frame, by=(hue, x), value=part).dropna(subset=["mean"])
        counts += list(table["n"])
        for i, name in enumerate(names):
            rows = table[table[hue] == name].sort_values(x)
            if rows.empty:
                continue
            shown = shown_name(hue, name)
            offset = (i - (len(names) - 1) / 2) * 0.04
            if x == "sparsity":
                positions = sparsity_x(rows[x], True) * (1 + offset)
            else:
                steps = np.diff(sorted(set(frame[x]))) if frame[x].nunique() > 1 else np.array([1.0])
                positions = rows[x].to_numpy(float) + offset * float(np.min(steps)) * 2
            ax.errorbar(positions, rows["mean"], yerr=rows["std"].fillna(0.0), color=color(shown),
                        marker=marker(shown), linestyle="-", capsize=3, label=shown)
        if x == "sparsity":
            sparsity_axis(ax, frame[x], True)
        else:
            ax.set_xlabel({"warmup_epochs": "warm-up epochs E"}.get(x, x.replace("_", " ")))
            ax.xaxis.set_major_locator(mticker.MaxNLocator(integer=True))
        if log:
            ax.set_yscale("log")
        ax.set_ylabel("seconds" + (" (log scale)" if log else ""))
        ax.set_title(TIME_PARTS.get(part, part))
        ax.grid(alpha=0.3, which="both")
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        axes[0][-1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0,
                           title=seeds_text(counts) or None)
    fig.suptitle(title or "pruning time per method")
    return fig


@styled
def speedup_intervals(table: pd.DataFrame, claim: tuple[float, float] | None = None, ax: Axes | None = None,
                      title: str | None = None) -> Figure:
    """IMP's pruning time over DRIVE's (×) against sparsity: measured ratio with its 95% interval, and the
    extrapolation to the paper's T as a separate, hollow, dashed series (not a measurement).

    Args:
        table: :func:`drive_lab.analysis.claims.speedup` (``model, sparsity, ratio, ratio_low, ratio_high``
            and optionally ``ratio_at_paper_epochs``).
        claim: the paper's claimed range (e.g. ``(43, 869)``), drawn as a shaded band.
        ax: axes to draw into.
        title: figure title.
    """
    table = require_columns(table, ["model", "sparsity", "ratio", "ratio_low", "ratio_high"])
    fig, ax = new_axes(ax, figsize=(FIGSIZE[0] + 1.6, FIGSIZE[1]))
    styles = ("-", "--", ":", "-.")
    for s, (model, rows) in enumerate(table.groupby("model", sort=True)):
        rows = rows.sort_values("sparsity")
        x = sparsity_x(rows["sparsity"], True)
        low = (rows["ratio"] - rows["ratio_low"]).fillna(0.0).clip(lower=0)
        high = (rows["ratio_high"] - rows["ratio"]).fillna(0.0).clip(lower=0)
        ax.errorbar(x, rows["ratio"], yerr=[low, high], color=color("drive"), marker=marker("DRIVE"),
                    linestyle=styles[s % len(styles)], capsize=3, label=f"measured here ({model}, 95% CI)")
        if "ratio_at_paper_epochs" in rows:
            ax.plot(x, rows["ratio_at_paper_epochs"], color=color("drive"), marker="o", markerfacecolor="none",
                    linestyle=":", label=f"extrapolated to the paper's T ({model}; not measured)")
    if claim is not None:
        ax.axhspan(*claim, color="#999999", alpha=0.15, linewidth=0, label=f"paper's claim {claim[0]:g}×–{claim[1]:g}×")
    finish_speedup_axes(ax, table["sparsity"], True, True, "IMP pruning time ÷ DRIVE's (×, log scale)")
    ax.set_title(title or "DRIVE's pruning speed-up over IMP")
    return fig
