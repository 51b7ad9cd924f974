"""The one matplotlib style of drive_lab: colours, markers, legend order, axes, fonts, labels.

Colours and markers of methods and of DRIVE's term-weight variants come from the method
registry (:mod:`drive_lab.methods`: ``MethodSpec.color``/``.marker``, the Okabe–Ito
colour-blind-safe palette, and ``DRIVE_VARIANT_STYLE``, Paul Tol's "muted" palette), so
DRIVE is the same vermillion in every figure of every notebook. :data:`METHOD_COLORS`
and :data:`METHOD_MARKERS` are live views of the registry: a method registered later
gets its own colour at once.

Font sizes live in :data:`FONT_SIZES`; the rc parameters derived from them
(:data:`RC_PARAMS`) are applied per figure, through :func:`figure_style` or the
:func:`styled` decorator, never by changing the global ``rcParams``.
"""
from __future__ import annotations

import contextlib
import functools
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..analysis import ABLATION_LABELS, DISPLAY_NAMES, MethodAttribute, display_name
from ..methods import DRIVE_VARIANT_STYLE, METHODS, method_order

__all__ = ["ABLATION_COLORS", "ABLATION_MARKERS", "FALLBACK_COLORS", "FIGSIZE", "FONT_SIZES", "LEGEND_ORDER",
           "METHOD_COLORS", "METHOD_MARKERS", "RC_PARAMS", "TERM_COLORS", "TERM_SYMBOLS", "canonical", "color",
           "is_accuracy", "marker", "method_order", "new_axes", "order", "percent", "seeds_text", "shown_name",
           "sparsity_axis", "sparsity_x", "figure_style", "styled", "value_label"]

# Legend order: the registry's (``legend_rank``, then registration order).
LEGEND_ORDER = tuple(method_order())


# ``{method key: hex colour}`` and ``{method key: marker}``: live views of the registry, in legend order.
METHOD_COLORS: MethodAttribute = MethodAttribute("color", order=method_order)
METHOD_MARKERS: MethodAttribute = MethodAttribute("marker", order=method_order)

# DRIVE's term-weight variants (labels of analysis.ablation_label), from methods.DRIVE_VARIANT_STYLE.
ABLATION_COLORS: dict[str, str] = {label: DRIVE_VARIANT_STYLE[label][0] for label in ABLATION_LABELS}
ABLATION_MARKERS: dict[str, str] = {label: DRIVE_VARIANT_STYLE[label][1] for label in ABLATION_LABELS}

# The three DRIVE terms in term-level figures, and their symbols (method.md notation).
TERM_COLORS = {"magnitude": "#4477aa", "connection": "#228833", "convergence": "#ee6677"}
TERM_SYMBOLS = {"magnitude": "|θ|", "connection": "|θ·g|", "convergence": "|g|"}

# Colours for names nothing else claims: picked by a stable hash of the name (Tol "bright").
FALLBACK_COLORS = ("#4477aa", "#66ccee", "#228833", "#ccbb44", "#ee6677", "#aa3377", "#bbbbbb")

# Font sizes in points, by role: notes written beside points and ticks of small panels
# ("note"); legends, layer names and labels of small panels ("small"); numbers in heatmap
# cells and titles of small panels ("medium"); the title of a heatmap ("heading").
FONT_SIZES = {"note": 7, "small": 8, "medium": 9, "heading": 10}
# rc parameters every figure of drive_lab.plots is drawn with (see figure_style()).
RC_PARAMS = {"legend.fontsize": FONT_SIZES["small"]}
# Default figure size, inches (width, height).
FIGSIZE = (6.4, 4.2)


@contextlib.contextmanager
def figure_style() -> Iterator[None]:
    """Draw with :data:`RC_PARAMS` inside the ``with`` block; those rcParams are restored after it.

    Only these keys are saved and restored: ``plt.rc_context`` restores every parameter,
    the backend included, which makes Jupyter's inline backend drop the figures drawn
    inside the block.
    """
    previous = {key: plt.rcParams[key] for key in RC_PARAMS}
    plt.rcParams.update(RC_PARAMS)
    try:
        yield
    finally:
        plt.rcParams.update(previous)


_Plot = TypeVar("_Plot", bound=Callable[..., Any])


def styled(function: _Plot) -> _Plot:
    """Decorator: run a plotting function inside :func:`figure_style` (signature and docstring kept)."""
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with figure_style():
            return function(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


def new_axes(ax: Axes | None = None, figsize: tuple[float, float] = FIGSIZE) -> tuple[Figure, Axes]:
    """``(figure, axes)``: those of ``ax`` when given, else a new figure of ``figsize`` inches (constrained layout)."""
    if ax is not None:
        return ax.figure, ax
    figure, ax = plt.subplots(figsize=figsize, layout="constrained")
    return figure, ax


# ----------------------------------------------------------------------------- names, colours, order
def canonical(name: Any) -> tuple[str, str] | None:
    """``("method", key)`` or ``("ablation", label)`` for a known name, else ``None``.

    Known: a registered method key (any case), its display name (``"GraSP"``) or a DRIVE
    variant label; a suffix in brackets is ignored (``"without convergence (magn=2, conn=1)"``).
    """
    text = str(name)
    if text in ABLATION_COLORS:
        return ("ablation", text)
    lower = text.lower()
    if lower in METHODS:
        return ("method", lower)
    by_display = {shown.lower(): method for method, shown in DISPLAY_NAMES.items()}
    if lower in by_display:
        return ("method", by_display[lower])
    base = text.split(" (")[0]  # "without convergence (magn=2, conn=1)" -> "without convergence"
    if base != text:
        return canonical(base)
    return None


def color(method_or_label: Any) -> str:
    """The fixed colour (hex string) of a method key, display name or DRIVE ablation label.

    ``"drive"``, ``"DRIVE"`` and ``"DRIVE (full)"`` share one colour; ``"without
    convergence"`` etc. have their own; any other name gets a colour chosen by a stable
    hash of the name (the same in every session).
    """
    known = canonical(method_or_label)
    if known is None:
        return FALLBACK_COLORS[zlib.crc32(str(method_or_label).encode()) % len(FALLBACK_COLORS)]
    kind, key = known
    return METHOD_COLORS[key] if kind == "method" else ABLATION_COLORS[key]


def marker(method_or_label: Any) -> str:
    """The fixed line marker of a method or ablation label, ``"o"`` for any other name.

    Shapes help where colours are hard to tell apart.
    """
    known = canonical(method_or_label)
    if known is None:
        return "o"
    kind, key = known
    return METHOD_MARKERS[key] if kind == "method" else ABLATION_MARKERS[key]


def order(names: Iterable[Any]) -> list[Any]:
    """``names`` without repeats, in legend order: method keys (:func:`method_order`), DRIVE and its
    variants, the other methods' display names, then every other name sorted as text."""
    methods = method_order()
    fixed = [*methods, "DRIVE", *ABLATION_LABELS, *(DISPLAY_NAMES[m] for m in methods if m != "drive")]
    position = {name: i for i, name in reversed(list(enumerate(fixed)))}  # first occurrence wins

    def key(name: Any) -> tuple[int, str]:
        text = str(name)
        return (position.get(text, len(fixed)), text)
    return sorted(dict.fromkeys(names), key=key)


def shown_name(hue: str, value: Any) -> str:
    """How a value of the ``hue`` column is written: a method key's display name, anything else as text."""
    return display_name(str(value)) if hue == "method" else str(value)


# ----------------------------------------------------------------------------- units and axes
def percent(fraction: float) -> str:
    """A fraction as a percentage with up to 4 significant digits: ``0.999`` -> ``"99.9%"``, ``0.9`` -> ``"90%"``."""
    return f"{100 * fraction:.4g}%"


def is_accuracy(value: str) -> bool:
    """Whether a result column holds an accuracy (a fraction in [0, 1], drawn in %)."""
    return "accuracy" in value


def value_label(value: str) -> str:
    """Axis label with units for a result column (accuracy fractions are shown in %)."""
    text = value.replace("_", " ")
    if is_accuracy(value):
        return f"{text} (%)"
    if value.startswith("seconds_"):
        return f"{value[len('seconds_'):]} time (s)"
    if value.endswith("loss"):
        return f"{text} (cross-entropy, nats)"
    if value in ("density", "sparsity_achieved"):
        return f"{text} (fraction of prunable weights)"
    return text


def seeds_text(counts: Iterable[int], band: str = "std") -> str:
    """``"mean ± std over 3 seeds"`` (``"1–3 seeds"`` when groups differ; ``band="minmax"``: the band is min–max).

    ``counts`` are the runs per group; ``""`` when there are none.
    """
    counts = sorted({int(n) for n in counts if n > 0})
    if not counts:
        return ""
    spread = "± std" if band == "std" else "(band: min–max)"
    if counts[-1] == 1:
        return "single seed (no spread)"
    seeds = f"{counts[0]} seeds" if len(counts) == 1 else f"{counts[0]}–{counts[-1]} seeds"
    return f"mean {spread} over {seeds}"


def sparsity_axis(ax: Axes, sparsities: Iterable[float], log_density: bool) -> None:
    """x axis of sparsities (fractions removed), ticks labelled in %.

    ``log_density=True``: x = fraction kept (1 − sparsity) on an inverted log scale, so
    90/95/98/99% spread out; ``False``: x = sparsity in %, linear. Pair with :func:`sparsity_x`.
    """
    values = np.unique(np.asarray([s for s in sparsities if pd.notna(s)], dtype=float))
    if log_density:
        ax.set_xscale("log")
        if len(values):
            densities = 1.0 - values
            ax.set_xticks(densities, [percent(s) for s in values])
            ax.set_xlim(densities.max() * 1.3, densities.min() / 1.3)  # inverted: sparsity grows rightwards
        ax.xaxis.set_minor_locator(mticker.NullLocator())
        ax.set_xlabel("sparsity (% of weights removed; log scale of weights kept)")
    else:
        if len(values):
            ax.set_xticks(100 * values, [percent(s) for s in values])
        ax.set_xlabel("sparsity (% of weights removed)")


def sparsity_x(sparsity: pd.Series | np.ndarray, log_density: bool) -> np.ndarray:
    """x coordinates of sparsities on a :func:`sparsity_axis`: 1 − sparsity, or sparsity in %."""
    sparsity = np.asarray(sparsity, dtype=float)
    return 1.0 - sparsity if log_density else 100.0 * sparsity
