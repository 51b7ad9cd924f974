"""Figures of DRIVE's terms: per-layer histograms and heatmaps of correlations or overlaps.

*Terms* are ``{term: {layer: Tensor}}`` from :func:`drive_lab.scores.drive.drive_terms`;
tables come from :func:`drive_lab.analysis.rank_correlation` and
:func:`~drive_lab.analysis.kept_overlap`. Every function returns its figure.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from ..analysis import flat_term
from .style import FONT_SIZES, TERM_COLORS, TERM_SYMBOLS, color, new_axes, styled

__all__ = ["term_correlation", "term_histograms"]


def _pick_layers(layers: Sequence[str], max_layers: int) -> list[str]:
    """At most ``max_layers`` of ``layers``, evenly spaced, first and last included."""
    layers = list(layers)
    if len(layers) <= max_layers:
        return layers
    picks = np.unique(np.linspace(0, len(layers) - 1, max_layers).round().astype(int))
    return [layers[i] for i in picks]


@styled
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
            values = flat_term(terms, term, [layer], masks)
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
                ax.text(0.5, 0.5, "no values > 0", transform=ax.transAxes, ha="center", va="center",
                        fontsize=FONT_SIZES["small"])
            ax.set_xlabel(f"log10 {symbol}", fontsize=FONT_SIZES["small"])
            if c == 0:
                ax.set_ylabel(f"{term}\nnumber of weights", fontsize=FONT_SIZES["small"])
            if r == 0:
                ax.set_title(layer.removesuffix(".weight"), fontsize=FONT_SIZES["medium"])
            ax.tick_params(labelsize=FONT_SIZES["note"])
    fig.suptitle(title or "DRIVE terms per layer (log10 of values > 0; dotted: median)")
    return fig


@styled
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
    fig, ax = new_axes(ax, figsize=(max(4.2, 1.0 * cols + 2.4), max(3.4, 0.55 * rows + 1.6)))
    image = ax.imshow(matrix, vmin=vmin, vmax=vmax, cmap=cmap, aspect="auto")
    colormap = image.get_cmap()
    for (i, j), v in np.ndenumerate(matrix):  # one number per cell (a few cells)
        if np.isfinite(v):
            r, g, b = to_rgb(colormap(image.norm(v)))
            ink = "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"
        else:
            ink = "black"
        ax.text(j, i, format(v, fmt), ha="center", va="center", color=ink, fontsize=FONT_SIZES["medium"])
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
    ax.set_title(title or default, fontsize=FONT_SIZES["heading"])
    return fig


@styled
def taylor_check(table: pd.DataFrame, ax: Axes | None = None, title: str | None = None) -> Figure:
    """Actual loss change of zeroing each sampled weight against its first-order estimate −g·θ.

    Args:
        table: :func:`drive_lab.analysis.taylor.first_order_loss_change` output (columns
            ``estimate`` and ``actual``, loss units).
        ax: axes to draw into (default: a new figure).
        title: figure title.

    Returns:
        The figure: one point per weight, the diagonal where the estimate is exact.
    """
    fig, ax = new_axes(ax, figsize=(5.2, 4.6))
    ax.scatter(table["estimate"], table["actual"], s=14, alpha=0.7, color=color("snip"), label="one sampled weight")
    values = np.concatenate([table["estimate"].to_numpy(float), table["actual"].to_numpy(float)])
    low, high = (float(values.min()), float(values.max())) if values.size else (-1.0, 1.0)
    ax.plot([low, high], [low, high], color="black", linestyle="--", linewidth=1, label="estimate exact")
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.axvline(0, color="grey", linewidth=0.5)
    ax.set_xlabel("first-order estimate −g·θ (loss change)")
    ax.set_ylabel("actual loss change of zeroing the weight")
    ax.set_title(title or "SNIP's first-order estimate against the truth")
    ax.legend(loc="upper left", frameon=False)
    return fig
