"""Figures for the course: accuracy against sparsity, layer collapse, DRIVE's terms, cost.

Every function draws one figure and RETURNS it (a :class:`matplotlib.figure.Figure`); none
calls ``plt.show()``, clears output or closes a figure. Give ``ax=`` to draw into an
existing axes (the function then returns that axes' figure). Figures are made with
``plt.subplots``, so Jupyter's inline backend shows them at the end of the cell; end the
line with ``;`` (or assign the figure) when it is the cell's last expression, otherwise
the returned figure is shown a second time.

Units on the axes: accuracy in %, time in s, density as the fraction of prunable
weights kept, sparsity in %. Colours are fixed per method (:data:`METHOD_COLORS`, the
Okabe–Ito colour-blind-safe palette, read from :mod:`drive_lab.methods`) and per DRIVE
ablation variant (:data:`ABLATION_COLORS`, Paul Tol's "muted" palette), so DRIVE is the
same vermillion in every figure of every notebook; :func:`color` resolves a method key,
a display name (``"SNIP"``) or an ablation label (``"without convergence"``).

Modules:

- :mod:`.style`: the one style of the package (colours, markers, legend order, font
  sizes, axes, :func:`percent` and axis labels with units);
- :mod:`.results`: accuracy vs sparsity, a metric vs any setting, time bars, speed-up
  over IMP, training curves;
- :mod:`.density`: density kept per layer, the pruning schedule;
- :mod:`.terms`: histograms of DRIVE's terms, heatmaps of their correlations and overlaps;
- :mod:`.claims`: the claims table as a forest of paired differences, the E x λ map as a heatmap;
- :mod:`.costs`: pruning time with error bars over seeds (honest on a log axis), the speed-up
  over IMP with its interval and the marked extrapolation.
"""
from .claims import claims_forest, convergence_map
from .costs import TIME_PARTS, pruning_time, speedup_intervals
from .density import layer_density, schedule
from .results import accuracy_vs_sparsity, metric_vs, speedup_vs_imp, time_bars, training_curves
from .style import (ABLATION_COLORS, ABLATION_MARKERS, FALLBACK_COLORS, FONT_SIZES, METHOD_COLORS, METHOD_MARKERS,
                    RC_PARAMS, TERM_COLORS, TERM_SYMBOLS, color, figure_style, marker, new_axes, percent, styled)
from .terms import taylor_check, term_correlation, term_histograms

__all__ = [
    # figures
    "accuracy_vs_sparsity", "layer_density", "metric_vs", "schedule", "speedup_vs_imp", "term_correlation",
    "term_histograms", "taylor_check", "convergence_map", "time_bars", "training_curves", "pruning_time", "speedup_intervals", "TIME_PARTS",
    # style
    "ABLATION_COLORS", "ABLATION_MARKERS", "FALLBACK_COLORS", "FONT_SIZES", "METHOD_COLORS", "METHOD_MARKERS",
    "RC_PARAMS", "TERM_COLORS", "TERM_SYMBOLS", "color", "figure_style", "marker", "new_axes", "percent", "styled",
]
