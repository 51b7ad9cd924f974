"""The figures of the ablation explorer and of the results browser (:mod:`drive_lab.widgets`).

Every function returns its figure and never shows or closes it. Units: accuracy in %,
shares of the kept score in %, sparsity in %, time in s.

- explorer (an :class:`~drive_lab.explorer.AblationOutcome`): :func:`accuracy_figure`,
  :func:`layer_density_figure`, :func:`contribution_figure`, all three: :func:`ablation_figures`;
- browser (a selection of runs): :func:`browser_figures`;
- :func:`message_figure`: a figure that says why there is nothing to draw.

Colours mean one thing in all figures of one output: every run name has the colour
:func:`name_colors` gives it (the method's or DRIVE variant's colour from
:mod:`drive_lab.plots.style`; a name without one gets a colour no other name of the output
and no DRIVE term uses), and the three term colours appear only in the contribution chart.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..browser import browser_tables
from ..data import dataset_info
from ..explorer import FULL_DRIVE, ROLE_BOTH, ROLE_FULL, ROLE_VARIANT, AblationOutcome
from ..scores.drive import TERMS
from ..term_contributions import ALL_KEPT
from .density import layer_density
from .results import accuracy_vs_sparsity, speedup_vs_imp, time_bars
from .style import FALLBACK_COLORS, FONT_SIZES, TERM_COLORS, TERM_SYMBOLS, canonical, color, new_axes, percent, styled

__all__ = ["TERM_LABELS", "name_colors", "accuracy_figure", "layer_density_figure", "contribution_figure", "contribution_title",
           "ablation_figures", "message_figure", "browser_figures"]

TERM_LABELS = {term: f"{term} {TERM_SYMBOLS[term]}" for term in TERMS}  # "magnitude |θ|"
_MINE = (ROLE_VARIANT, ROLE_BOTH)
NO_IMP = ("No IMP run in the selection. The speed-up is IMP's pruning time / a method's, with the same model, "
          "data and sparsity: select IMP runs, or add IMP to the explorer's baselines (slow: IMP trains T "
          "epochs per round), or run `python -m drive_lab experiment full_runs`.")


# ============================================================================ explorer
def name_colors(names) -> dict[str, str]:
    """``{name: hex colour}`` for the run names of one output, the same in all of its figures.

    A known method or DRIVE variant (``"SNIP"``, ``"without convergence (E=0)"``) keeps its
    style colour (:func:`drive_lab.plots.style.color`); any other name (``"DRIVE with E=0"``)
    gets the first of :data:`~drive_lab.plots.style.FALLBACK_COLORS` that no other name of
    the output and no DRIVE term (:data:`~drive_lab.plots.style.TERM_COLORS`) uses.
    """
    names = list(dict.fromkeys(str(name) for name in names))
    colors = {name: color(name) for name in names if canonical(name) is not None}
    taken = {value.lower() for value in (*colors.values(), *TERM_COLORS.values())}
    spare = [value for value in FALLBACK_COLORS if value.lower() not in taken]
    for name in names:
        if name not in colors:
            colors[name] = spare.pop(0) if spare else color(name)
    return colors


@styled
def accuracy_figure(frame: pd.DataFrame, title: str | None = None) -> Figure:
    """Final test accuracy of every name in an ablation frame (``name``, ``role`` columns).

    Returns:
        The figure: one horizontal bar per name (mean over seeds, in %; ±1 std whisker
        when there are several seeds), each seed as a black dot, your setting on top and
        marked; a dotted line at chance accuracy (100 / number of classes).
    """
    names = list(dict.fromkeys(frame["name"]))
    colors = name_colors(names)
    fig, ax = new_axes(figsize=(6.8, 0.55 * len(names) + 1.6))
    y_positions = np.arange(len(names))[::-1]
    for y, name in zip(y_positions, names):
        rows = frame[frame["name"] == name]
        values = 100 * pd.to_numeric(rows["final_test_accuracy"], errors="coerce").to_numpy(float)
        mean = float(np.nanmean(values))
        std = float(np.nanstd(values, ddof=1)) if len(values) > 1 else 0.0
        mine = rows["role"].iloc[0] in _MINE
        ax.barh(y, mean, color=colors[name], xerr=std if len(values) > 1 else None, capsize=3,
                edgecolor="black" if mine else "white", linewidth=1.5 if mine else 0.5, height=0.7)
        ax.scatter(values, np.full(len(values), y), color="black", s=12, zorder=3)
        ax.text(max(mean + std, float(np.nanmax(values))) + 1.0, y, f"{mean:.1f}%", va="center", ha="left",
                fontsize=FONT_SIZES["small"])
    labels = []
    for name in names:
        role = frame.loc[frame["name"] == name, "role"].iloc[0]
        labels.append(f"{name}\n({role})" if role in _MINE else name)
    ax.set_yticks(y_positions, labels, fontsize=FONT_SIZES["medium"])
    datasets = sorted(set(frame["dataset"]))
    if len(datasets) == 1:
        chance = 100.0 / dataset_info(datasets[0]).num_classes
        ax.axvline(chance, color="black", linestyle=":", linewidth=1, label=f"chance ({chance:.3g}%)")
        ax.legend(fontsize=FONT_SIZES["small"], loc="lower right")
    ax.set_xlim(0, 112)
    ax.set_xlabel("final test accuracy (%)")
    ax.grid(axis="x", alpha=0.3)
    seeds = frame.groupby("name")["seed"].nunique().max()
    sparsity = float(frame["sparsity"].max())
    spread = f"mean ± std over {seeds} seeds, dots = seeds" if seeds > 1 else "single seed"
    ax.set_title(title or f"accuracy at {percent(sparsity)} sparsity — {frame['model'].iloc[0]} on "
                          f"{frame['dataset'].iloc[0]} ({spread})", fontsize=FONT_SIZES["heading"])
    return fig


def layer_density_figure(frame: pd.DataFrame, title: str | None = None) -> Figure:
    """Per-layer density (fraction kept) of your setting and of the full DRIVE, mean over seeds,
    drawn by :func:`drive_lab.plots.layer_density`."""
    drive_rows = frame[frame["role"].isin([*_MINE, ROLE_FULL])]
    table = pd.DataFrame({name: pd.DataFrame(list(group["layer_density"])).mean()
                          for name, group in drive_rows.groupby("name", sort=False)}).T
    sparsity = float(frame["sparsity"].max())
    figure = layer_density(table, title=title or f"density kept per layer at {percent(sparsity)} sparsity "
                                                 "(after N iterations; mean over seeds)")
    colors = name_colors(frame["name"])  # the accuracy figure's colours, also for names without a style colour
    ax = figure.axes[0]
    for bars in ax.containers:
        if bars.get_label() in colors:
            for patch in bars:
                patch.set_facecolor(colors[bars.get_label()])
    legend = ax.get_legend()
    if legend is not None:
        for handle, text in zip(legend.legend_handles, legend.get_texts()):
            if text.get_text() in colors and hasattr(handle, "set_facecolor"):
                handle.set_facecolor(colors[text.get_text()])
    return figure


@styled
def contribution_figure(table: pd.DataFrame, title: str | None = None) -> Figure:
    """Stacked horizontal bars of a :func:`~drive_lab.term_contributions.term_contributions` table:
    each term's share of the kept score per layer, in %.

    Returns:
        The figure: one bar per layer (``.weight`` dropped) and one for all kept weights (on
        top), split into magnitude, connection and convergence (fixed term colours); the
        number of weights kept is written at the right of each bar.
    """
    layers = list(dict.fromkeys(table["layer"]))
    layers = [ALL_KEPT] + [layer for layer in layers if layer != ALL_KEPT]
    shares = table.pivot(index="layer", columns="term", values="share").reindex(index=layers, columns=list(TERMS))
    kept = table.groupby("layer", sort=False)[["kept", "weights"]].first().reindex(layers)
    fig, ax = new_axes(figsize=(7.4, 0.42 * len(layers) + 1.9))
    y_positions = np.arange(len(layers))[::-1]
    left = np.zeros(len(layers))
    for term in TERMS:
        values = 100 * shares[term].fillna(0.0).to_numpy(float)
        ax.barh(y_positions, values, left=left, color=TERM_COLORS[term], height=0.7,
                label=TERM_LABELS[term], edgecolor="white", linewidth=0.5)
        for y, start, width in zip(y_positions, left, values):
            if width >= 8:
                ax.text(start + width / 2, y, f"{width:.0f}%", ha="center", va="center", fontsize=FONT_SIZES["note"],
                        color="white")
        left += values
    for y, layer in zip(y_positions, layers):
        n_kept, n_weights = int(kept.loc[layer, "kept"]), int(kept.loc[layer, "weights"])
        note = f"{n_kept:,} of {n_weights:,} kept" if n_kept else "collapsed: none kept"
        ax.text(101.5, y, note, va="center", ha="left", fontsize=FONT_SIZES["note"], color="black" if n_kept else "red")
    ax.set_yticks(y_positions, [layer.removesuffix(".weight") for layer in layers], fontsize=FONT_SIZES["small"])
    ax.get_yticklabels()[0].set_fontweight("bold")
    ax.set_xlim(0, 128)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xlabel("share of the layer's kept score (%)")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=FONT_SIZES["small"])
    product = table.attrs.get("combine") == "product"
    if product:
        ax.text(0.0, 1.01, "product reading: magnitude multiplies both parts, so the bars split the score between "
                "connection and convergence", transform=ax.transAxes, fontsize=FONT_SIZES["note"], va="bottom")
    ax.set_title(title or "share of the kept weights' score from each DRIVE term", fontsize=FONT_SIZES["medium"],
                 pad=14 if product else 6)
    return fig


def contribution_title(outcome: AblationOutcome) -> str:
    """The contribution figure's title for an outcome: your setting's name, the single-shot
    top fraction kept (%), E (epochs) and the seed of the illustration."""
    mine = outcome.frame.loc[outcome.frame["role"].isin(_MINE), "name"]
    name = mine.iloc[0] if len(mine) else FULL_DRIVE
    c = outcome.controls
    return (f"share of the kept weights' score from each term — {name}\n"
            f"single-shot top-{100 * (1 - c.sparsity):.3g}% of the combined score after E = "
            f"{c.warmup_epochs} warm-up epochs, seed {c.seeds[0]} (DRIVE itself prunes in N steps)")


def ablation_figures(outcome: AblationOutcome) -> dict[str, Figure]:
    """The explorer's figures of one outcome: ``{"accuracy", "layer_density"[, "contributions"]}``
    (the last when the outcome holds term contributions)."""
    figures = {"accuracy": accuracy_figure(outcome.frame), "layer_density": layer_density_figure(outcome.frame)}
    if outcome.contributions is not None:
        figures["contributions"] = contribution_figure(outcome.contributions, title=contribution_title(outcome))
    return figures


# ============================================================================ browser
@styled
def message_figure(text: str, title: str) -> Figure:
    """A 6.4 × 2 inch figure holding only ``text`` (wrapped) under ``title``."""
    fig, ax = new_axes(figsize=(6.4, 2.0))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=FONT_SIZES["medium"],
            transform=ax.transAxes)
    ax.set_title(title, fontsize=FONT_SIZES["heading"])
    return fig


def browser_figures(frame: pd.DataFrame) -> dict[str, Figure]:
    """Figures of a selection of runs (e.g. from :func:`drive_lab.browser.filter_results`).

    Returns:
        ``{"accuracy": accuracy vs sparsity, "time": pruning time per run name and sparsity,
        "speedup": speed-up of each name over IMP}``, one line/bar per
        :func:`~drive_lab.browser.label_runs` name (tables: :func:`~drive_lab.browser.browser_tables`).
        Without an IMP run in the selection, ``"speedup"`` is a figure saying so; with only
        dense runs, so is ``"time"``. ``ValueError`` when the selection is empty.
    """
    tables = browser_tables(frame)
    with warnings.catch_warnings():  # a single sparsity: matplotlib widens the log axis itself; say nothing
        warnings.filterwarnings("ignore", message="Attempting to set identical low and high xlims")
        figures = {"accuracy": accuracy_vs_sparsity(tables.runs, hue="label",
                                                    title="final test accuracy vs sparsity (selection)")}
        figures["time"] = (time_bars(tables.runs, hue="label", log=tables.log_time) if len(tables.pruned)
                           else message_figure("only dense runs are selected: they do not prune", "pruning time"))
        figures["speedup"] = (speedup_vs_imp(tables.speedup, hue="label") if tables.speedup is not None
                              else message_figure(NO_IMP, "speed-up vs IMP"))
    return figures
