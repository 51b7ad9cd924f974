"""The claims table as a figure: each paired difference with its intervals, coloured by verdict."""
from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .style import new_axes, styled

# Okabe-Ito: bluish green, vermillion, grey; the verdict is also written beside each row.
VERDICT_COLORS = {"supported": "#009e73", "not supported": "#d55e00", "inconclusive": "#7f7f7f"}


@styled
def claims_forest(table: pd.DataFrame, ax: Axes | None = None, title: str | None = None) -> Figure:
    """One row per claims-table row: the mean paired difference a − b (points), its 95% interval
    (thick) and the corrected interval (thin), a line at 0, the verdict written at the right.

    ``table``: :func:`drive_lab.analysis.claims.claims_table`'s output.
    """
    if table.empty:
        raise ValueError("the claims table is empty: no study table is committed yet")
    height = 0.9 + 0.42 * len(table)
    figure, ax = new_axes(ax, figsize=(8.0, height))
    rows = table.reset_index(drop=True)
    labels = [f"{r.model} {100 * r.sparsity:.3g}%: {r.a} − {r.b}\n{r.setting}" for r in rows.itertuples()]
    y = list(range(len(rows)))[::-1]
    for yi, r in zip(y, rows.itertuples()):
        colour = VERDICT_COLORS.get(r.verdict, "#000000")
        ax.plot([r.adjusted_low, r.adjusted_high], [yi, yi], color=colour, linewidth=1.2)
        ax.plot([r.ci_low, r.ci_high], [yi, yi], color=colour, linewidth=4, solid_capstyle="butt")
        ax.plot(r.difference, yi, "o", color="white", markeredgecolor=colour, markersize=6)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel("a − b, accuracy points (thick: 95% CI; thin: corrected)")
    right = ax.secondary_yaxis("right")
    right.set_yticks(y, list(rows["verdict"]), fontsize=8)
    ax.set_title(title or "The paper's claims, paired by seed")
    return figure
