"""Building blocks of drive_lab's widgets: readable errors, outputs, :class:`CheckboxList`,
static views, and the explorer's Run with figures (:func:`run_ablation`)."""
from __future__ import annotations

import base64
import html
import io
import threading
import traceback

import ipywidgets as ipw
import pandas as pd
import traitlets
from matplotlib.figure import Figure

from ..methods import display_name
from ..plots.explorer import ablation_figures
from ..presets import Preset
from ..scores.drive import TERMS
from .controls import AblationControls
from .runs import AblationOutcome, ProgressCallback
from .runs import run_ablation as run_ablation_tables
from .steps import StepProgressCallback

_DPI = 80  # figures shown inside the widgets (PNG)


def run_ablation(controls: AblationControls | dict | None = None, preset: Preset | str | None = None,
                 results_dir=None, on_progress: ProgressCallback | None = None, contributions: bool = True,
                 on_step: StepProgressCallback | None = None, stop: threading.Event | None = None,
                 known: pd.DataFrame | None = None, **values) -> AblationOutcome:
    """What the explorer's Run button computes: :func:`drive_lab.explorer.run_ablation` (same
    arguments), with the outcome's ``figures`` drawn by :func:`drive_lab.plots.explorer.ablation_figures`:
    ``accuracy``, ``layer_density`` and, with ``contributions``, ``contributions``."""
    outcome = run_ablation_tables(controls, preset, results_dir, on_progress, contributions, on_step=on_step,
                                  stop=stop, known=known, **values)
    outcome.figures.update(ablation_figures(outcome))
    return outcome


# ============================================================================ widget plumbing
READABLE_ERRORS = (ValueError, FileNotFoundError, KeyError)


def readable_error(error: BaseException) -> str:
    """The message a learner sees: ``ValueError``/``FileNotFoundError``/``KeyError`` as their text,
    anything else as ``Type: text`` (the traceback goes in a collapsed section of the widget)."""
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    if isinstance(error, READABLE_ERRORS):
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _figure_output(figure: Figure) -> dict:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    title = figure.axes[0].get_title() if figure.axes else ""
    # text/html is shown first: scaled down to the output area's width instead of cut off
    return {"output_type": "display_data", "metadata": {},
            "data": {"text/html": f"<img class='drive-lab-figure' style='max-width:100%;height:auto' "
                                  f"alt='{html.escape(title, quote=True)}' src='data:image/png;base64,{png}'/>",
                     "image/png": png, "text/plain": f"<Figure: {title}>"}}


def _html_output(markup: str, text: str = "") -> dict:
    return {"output_type": "display_data", "metadata": {}, "data": {"text/html": markup, "text/plain": text}}


def _table_output(table: pd.DataFrame) -> dict:
    return _html_output(table.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}"),
                        table.to_string(index=False))


def _error_markup(message: str, error: BaseException) -> str:
    markup = (f"<div style='color:#a00000;border:1px solid #a00000;padding:6px;border-radius:4px' "
              f"class='drive-lab-error'><b>Could not do that:</b> {html.escape(message)}")
    if not isinstance(error, READABLE_ERRORS):
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__)[-6:])
        markup += (f"<details><summary>technical details (for a bug report)</summary>"
                   f"<pre style='font-size:11px;white-space:pre-wrap'>{html.escape(trace)}</pre></details>")
    return markup + "</div>"


class _ErrorReporting:
    """Shared callback discipline: catch, keep in ``.error``, show in ``.status``, re-raise if asked."""

    status: ipw.HTML
    raise_errors: bool
    error: str | None

    def _fail(self, error: BaseException) -> None:
        self.error = readable_error(error)
        self.status.value = _error_markup(self.error, error)
        if self.raise_errors:
            raise error


_STYLE = {"description_width": "initial"}  # control labels as wide as their text
WIDTH = "680px"  # the widgets fit JupyterLab's output area at 1024 px with the file panel open (~700 px)
_UPDATE_EVERY = 0.25  # seconds between two progress redraws while a run computes


class CheckboxList(ipw.VBox):
    """A list of checkboxes with a ``value`` tuple, like ``SelectMultiple`` without Ctrl-click.

    ``options``: ``[(label, value), ...]`` (or plain values, shown as text); ``value``: the
    ticked values, in option order; ``direction``: ``"row"`` (boxes side by side, wrapping)
    or ``"column"``. Observe ``value`` as with any widget. A value that is not an option
    raises ``traitlets.TraitError``.
    """

    value = traitlets.Tuple()
    options = traitlets.List()

    def __init__(self, options=(), value=(), description: str = "", direction: str = "row",
                 box_width: str = "auto", **kwargs) -> None:
        self._direction, self._box_width, self._syncing = direction, box_width, False
        self.boxes: list[ipw.Checkbox] = []
        self._items = ipw.Box(layout=ipw.Layout(display="flex", flex_flow="row wrap" if direction == "row" else "column",
                                                 grid_gap="0px 12px"))
        children = ([ipw.HTML(f"<b>{html.escape(description)}</b>")] if description else []) + [self._items]
        kwargs.setdefault("layout", ipw.Layout(width="auto"))
        super().__init__(children, **kwargs)
        self.add_class("drive-lab-checkbox-list")
        self.observe(self._rebuild, names="options")
        self.observe(self._show_value, names="value")
        self.options = [item if isinstance(item, tuple) else (str(item), item) for item in options]
        self.value = tuple(value)

    @traitlets.validate("options")
    def _valid_options(self, proposal):
        return [item if isinstance(item, tuple) else (str(item), item) for item in proposal["value"]]

    @traitlets.validate("value")
    def _valid_value(self, proposal):
        values = [value for _, value in self.options]
        unknown = [v for v in proposal["value"] if v not in values]
        if unknown:
            raise traitlets.TraitError(f"not among the options: {unknown!r}")
        chosen = set(range(len(values))) & {values.index(v) for v in proposal["value"]}
        return tuple(values[i] for i in sorted(chosen))

    def _rebuild(self, change=None) -> None:
        self.boxes = [ipw.Checkbox(value=False, description=str(label), indent=False,
                                   layout=ipw.Layout(width=self._box_width, margin="0px"))
                      for label, _ in self.options]
        for box in self.boxes:
            box.observe(self._from_boxes, names="value")
        self._items.children = self.boxes
        values = [value for _, value in self.options]
        kept = tuple(v for v in self.value if v in values)
        if kept != self.value:
            self.value = kept
        self._show_value()

    def _show_value(self, change=None) -> None:
        self._syncing = True
        try:
            for box, (_, value) in zip(self.boxes, self.options):
                box.value = value in self.value
        finally:
            self._syncing = False

    def _from_boxes(self, change) -> None:
        if not self._syncing:
            self.value = tuple(value for box, (_, value) in zip(self.boxes, self.options) if box.value)

    @property
    def disabled(self) -> bool:
        return all(box.disabled for box in self.boxes) if self.boxes else False

    @disabled.setter
    def disabled(self, value: bool) -> None:
        for box in self.boxes:
            box.disabled = bool(value)


def _term_state(on: bool, weight: float) -> str:
    if on:
        return f"<span class='drive-lab-term-on' style='color:#1a6d1a'>on · weight {weight:.2f}</span>"
    return "<span class='drive-lab-term-off' style='color:#888;font-weight:bold'>OFF · weight 0</span>"


def _controls_text(c: AblationControls) -> str:
    terms = ", ".join(f"{term} {getattr(c, term):g}" if getattr(c, term) else f"{term} off" for term in TERMS)
    return (f"terms: {terms} ({c.combine}); E = {c.warmup_epochs}, N = {c.iterations}, sparsity "
            f"{100 * c.sparsity:.4g}%; {c.model} on {c.dataset}; seeds {', '.join(map(str, c.seeds)) or 'none'}; "
            f"baselines {', '.join(display_name(b) for b in c.baselines) or 'none'}")


def _static_html(title: str, note: str, rows: list[tuple[str, str]], outputs) -> str:
    """A readable stand-in for a widget where no kernel runs (GitHub, nbviewer, an exported page)."""
    table = "".join(f"<tr><th style='text-align:left;padding-right:8px'>{html.escape(k)}</th>"
                    f"<td style='text-align:left'>{html.escape(v)}</td></tr>" for k, v in rows)
    parts = [f"<div class='drive-lab-static' style='max-width:{WIDTH};border:1px solid #ccc;padding:6px'>"
             f"<b>{html.escape(title)}</b> <i>({html.escape(note)})</i><table>{table}</table>"]
    for item in outputs:
        data = item.get("data", {})
        if "text/html" in data:
            parts.append(data["text/html"])
    return "".join(parts) + "</div>"


