"""Figures of densities: the density kept per layer (layer collapse) and the pruning schedule.

Densities are fractions of weights kept, in [0, 1]; a layer with density 0 has
collapsed. Every function returns its figure.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..analysis import layer_density_table
from .style import FALLBACK_COLORS, FONT_SIZES, color, new_axes, percent, shown_name, styled

__all__ = ["layer_density", "schedule"]


def _row_names(index: pd.Index) -> list[str]:
    """Readable names of layer-table rows: ``"DRIVE (full), 90%, seed 0"``."""
    names = []
    for key in index:
        parts = key if isinstance(key, tuple) else (key,)
        text = []
        for level, part in zip(index.names if len(index.names) == len(parts) else [None] * len(parts), parts):
            if level == "sparsity":
                text.append(percent(float(part)))
            elif level == "seed":
                text.append(f"seed {part}")
            else:
                text.append(shown_name(level or "", part))
        names.append(", ".join(text))
    return names


def _row_hues(index: pd.Index) -> list[str]:
    """The method/label of each row (first level), for its colour."""
    return [str(key[0] if isinstance(key, tuple) else key) for key in index]


@styled
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
        table = (layer_density_table(layer_density) if "layer_density" in layer_density.columns
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
    fig, ax = new_axes(ax, figsize=(max(6.4, 0.45 * len(layers) * max(1.0, runs / 2) + 2.5), 4.4))
    positions = np.arange(len(layers), dtype=float)
    width = 0.8 / max(runs, 1)
    seen: dict[str | None, int] = {}
    any_collapsed = False
    for i, row in enumerate(values):
        hue = hues[i]
        repeat = seen.get(hue, 0)  # rows of one method (other sparsities, seeds) fade
        seen[hue] = repeat + 1
        colour = color(hue) if hue is not None else FALLBACK_COLORS[0]
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
                        va="bottom", color="red", fontsize=FONT_SIZES["note"])
    ax.set_xticks(positions, [name.removesuffix(".weight") for name in layers], rotation=60, ha="right",
                  fontsize=FONT_SIZES["small"])
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
        ax.legend(handles, labels)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title or "density kept per layer")
    return fig


@styled
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
    fig, ax = new_axes(ax)
    targets: set[float] = set()
    for i, (label, values) in enumerate(series.items()):
        values = list(values)
        if values and isinstance(values[0], Mapping):
            values = [step["density"] for step in values]
        y = np.asarray(([start] if start is not None else []) + [float(v) for v in values], dtype=float)
        k = np.arange(0 if start is not None else 1, (0 if start is not None else 1) + len(y))
        colour = FALLBACK_COLORS[i % len(FALLBACK_COLORS)]
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
    ax.legend()
    ax.set_title(title or "exponential pruning schedule: density κ^(k/N)")
    return fig
