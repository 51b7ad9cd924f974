"""The claims table as a figure: each paired difference with its intervals, coloured by verdict."""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .style import FONT_SIZES, new_axes, styled

# Okabe-Ito: bluish green, vermillion, grey; the verdict is also written beside each row.
VERDICT_COLORS = {"supported": "#009e73", "not supported": "#d55e00", "inconclusive": "#7f7f7f"}


@styled
def claims_forest(table: pd.DataFrame, title: str | None = None) -> Figure:
    """One row per claims-table row: the mean paired difference a − b (points), its 95% interval
    (thick) and the corrected interval (thin), a line at 0, the verdict written at the right.
    One panel per network, each with its own x axis (their spreads differ by an order of magnitude).

    ``table``: :func:`drive_lab.analysis.claims.claims_table`'s output.
    """
    import matplotlib.pyplot as plt

    if table.empty:
        raise ValueError("the claims table is empty: no study table is committed yet")
    models = list(dict.fromkeys(table["model"]))
    counts = [int((table["model"] == m).sum()) for m in models]
    figure, axes = plt.subplots(len(models), 1, figsize=(8.0, 1.2 + 0.45 * len(table)), layout="constrained",
                                gridspec_kw={"height_ratios": counts}, squeeze=False)
    for ax, model in zip(axes[:, 0], models):
        _panel(ax, table[table["model"] == model].reset_index(drop=True), model)
    axes[-1, 0].set_xlabel("a − b, accuracy points (thick: 95% CI; thin: corrected for the table's rows)")
    figure.suptitle(title or "The paper's claims, paired by seed")
    return figure


def _panel(ax: Axes, rows: pd.DataFrame, model: str) -> None:
    labels = [f"{100 * r.sparsity:.3g}%: {r.a} − {r.b}\n{r.setting}" for r in rows.itertuples()]
    y = list(range(len(rows)))[::-1]
    for yi, r in zip(y, rows.itertuples()):
        colour = VERDICT_COLORS.get(r.verdict, "#000000")
        ax.plot([r.adjusted_low, r.adjusted_high], [yi, yi], color=colour, linewidth=1.2)
        ax.plot([r.ci_low, r.ci_high], [yi, yi], color=colour, linewidth=4, solid_capstyle="butt")
        ax.plot(r.difference, yi, "o", color="white", markeredgecolor=colour, markersize=6)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    right = ax.secondary_yaxis("right")
    right.set_yticks(y, list(rows["verdict"]), fontsize=8)
    ax.set_title(model, loc="left", fontsize=10)


@styled
def convergence_map(table: pd.DataFrame, title: str | None = None) -> Figure:
    """Heatmap of :func:`drive_lab.analysis.claims.convergence_map`: mean accuracy (%) per warm-up
    epochs E (rows) and convergence weight λ (columns), the numbers written in each cell."""
    values = table.to_numpy(dtype=float)
    fig, ax = new_axes(None, figsize=(1.1 * values.shape[1] + 2.6, 0.6 * values.shape[0] + 1.8))
    image = ax.imshow(values, cmap="viridis", aspect="auto")
    middle = np.nanmean(values)
    for (i, j), v in np.ndenumerate(values):  # a few dozen cells at most
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=FONT_SIZES["medium"],
                color="black" if v >= middle else "white")
    ax.set_xticks(range(values.shape[1]), [f"{c:g}" for c in table.columns])
    ax.set_yticks(range(values.shape[0]), [str(int(r)) for r in table.index])
    ax.set_xlabel("convergence weight λ (0 = term dropped, 1 = default)")
    ax.set_ylabel("warm-up epochs E")
    fig.colorbar(image, ax=ax, label="mean test accuracy (%)")
    ax.set_title(title or "DRIVE over warm-up E and convergence weight λ")
    return fig
