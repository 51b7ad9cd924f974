"""Interactive ablations for live demos: run and compare DRIVE variants without writing code.

Two widgets (ipywidgets 8; JupyterLab 4 and Notebook 7)::

    from drive_lab import widgets
    widgets.ablation_explorer()          # choose DRIVE's term weights, E, N, sparsity, seeds; press Run
    widgets.results_browser()            # filter the stored runs and plot them

This module only builds the controls and wires them to pure functions that take the control
values and return tables and figures, so everything a widget shows can be reproduced (and is
tested) without a browser: :mod:`drive_lab.explorer` (controls -> configs -> runs -> tables),
:mod:`drive_lab.term_contributions`, :mod:`drive_lab.browser` (filters, names, summaries) and
:mod:`drive_lab.plots.explorer` (the figures). Their names are re-exported here
(``widgets.filter_results``, ...); :func:`run_ablation` here also draws the figures.

Errors inside a widget callback are shown in the widget as a readable message (and kept in
its ``.error``); give ``raise_errors=True`` to have them raised as well (the tests do).
"""
from __future__ import annotations

import base64
import html
import io
import traceback

import ipywidgets as ipw
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from .browser import (FILTER_COLUMNS, browser_options, browser_summary, default_filters, filter_results,
                      label_runs, load_runs, updated_filters)
from .config import RunConfig
from .explorer import (BASELINE_CHOICES, DEFAULT_BASELINES, AblationControls, AblationOutcome, ProgressCallback,
                       ablation_configs, as_preset, baseline_choices, control_problem, dataset_choices,
                       default_controls, describe_run, model_choices, resolve_controls, variant_name)
from .explorer import run_ablation as run_ablation_tables
from .methods import METHODS, display_name
from .plots.explorer import (TERM_LABELS, ablation_figures, accuracy_figure, browser_figures, contribution_figure,
                             layer_density_figure)
from .presets import Preset
from .scores.drive import COMBINATIONS, TERMS
from .store import ResultStore
from .term_contributions import ALL_KEPT, kept_term_contributions, term_contributions

__all__ = [
    "AblationControls", "AblationOutcome", "AblationExplorer", "ResultsBrowser", "BASELINE_CHOICES",
    "DEFAULT_BASELINES", "ALL_KEPT", "FILTER_COLUMNS", "ablation_explorer", "results_browser", "default_controls",
    "control_problem", "resolve_controls", "ablation_configs", "variant_name", "run_ablation", "term_contributions",
    "kept_term_contributions", "accuracy_figure", "contribution_figure", "layer_density_figure", "browser_options",
    "default_filters", "filter_results", "label_runs", "browser_summary", "browser_figures", "readable_error",
]

_DPI = 80  # figures shown inside the widgets (PNG)


def run_ablation(controls: AblationControls | dict | None = None, preset: Preset | str | None = None,
                 results_dir=None, on_progress: ProgressCallback | None = None, contributions: bool = True,
                 **values) -> AblationOutcome:
    """What the explorer's Run button computes: :func:`drive_lab.explorer.run_ablation` (same
    arguments), with the outcome's ``figures`` drawn by :func:`drive_lab.plots.explorer.ablation_figures`:
    ``accuracy``, ``layer_density`` and, with ``contributions``, ``contributions``."""
    outcome = run_ablation_tables(controls, preset, results_dir, on_progress, contributions, **values)
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
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
                     "text/plain": f"<Figure: {figure.axes[0].get_title() if figure.axes else ''}>"}}


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


# ============================================================================ the explorer widget
class AblationExplorer(_ErrorReporting, ipw.VBox):
    """The ablation explorer (build it with :func:`ablation_explorer`).

    Attributes: ``controls`` (dict of the control widgets by name), ``run_button``,
    ``progress`` (IntProgress), ``status`` (HTML: what happened, or the error),
    ``output`` (Output: table and figures), ``outcome`` (the last :class:`AblationOutcome`,
    ``None`` before the first run), ``error`` (the last error message, ``None`` after a
    successful run), ``raise_errors`` (re-raise errors from callbacks after showing them).
    """

    def __init__(self, preset: Preset | str | None = None, results_dir=None, raise_errors: bool = False,
                 contributions: bool = True, **initial) -> None:
        preset = as_preset(preset)
        start = default_controls(preset).replace(**{k: v for k, v in initial.items() if v is not None})
        style = _STYLE
        controls: dict[str, ipw.Widget] = {}
        term_rows = []
        for term in TERMS:
            weight = float(getattr(start, term))
            on = ipw.Checkbox(value=weight > 0, description=TERM_LABELS[term], indent=False,
                              layout=ipw.Layout(width="190px"))
            slider = ipw.FloatSlider(value=weight if weight > 0 else 1.0, min=0.0, max=3.0, step=0.25,
                                     description="weight", readout_format=".2f", disabled=weight <= 0, style=style,
                                     continuous_update=False)
            controls[f"{term}_on"], controls[term] = on, slider
            term_rows.append(ipw.HBox([on, slider]))
        controls["combine"] = ipw.ToggleButtons(options=list(COMBINATIONS), value=start.combine,
                                                description="combine", style={"button_width": "80px", **style},
                                                tooltips=["S = a·M/ΣM + b·C/ΣC + c·V/ΣV",
                                                          "S = M·(b·C/ΣC + c·V/ΣV)"])
        warmup_max = max(5, max(preset.warmup_grid), int(start.warmup_epochs or 0))
        controls["warmup_epochs"] = ipw.IntSlider(value=int(start.warmup_epochs), min=0, max=warmup_max,
                                                  description="warm-up epochs E", style=style,
                                                  continuous_update=False)
        controls["iterations"] = ipw.IntSlider(value=int(start.iterations), min=1,
                                               max=max(100, preset.iterations, int(start.iterations)),
                                               description="iterations N", style=style, continuous_update=False)
        controls["sparsity"] = ipw.FloatSlider(value=float(start.sparsity), min=0.0, max=1.0, step=0.001,
                                               readout_format=".3f", description="target sparsity", style=style,
                                               continuous_update=False)
        models = tuple(dict.fromkeys((*model_choices(preset), start.model)))
        controls["model"] = ipw.Dropdown(options=list(models), value=start.model, description="model", style=style)
        datasets = tuple(dict.fromkeys((*dataset_choices(preset), start.dataset)))
        controls["dataset"] = ipw.Dropdown(options=list(datasets), value=start.dataset, description="data",
                                           style=style)
        seed_choices = tuple(sorted(set(range(max(5, len(preset.seeds)))) | set(start.seeds)))
        controls["seeds"] = ipw.SelectMultiple(options=[(f"seed {s}", s) for s in seed_choices],
                                               value=tuple(start.seeds), rows=3, description="seeds", style=style)
        controls["baselines"] = ipw.SelectMultiple(
            options=[(display_name(b) + (" (slow)" if METHODS[b].kind == "training-based" else ""), b)
                     for b in baseline_choices()],
            value=tuple(start.baselines), rows=4, description="baselines", style=style)
        run_button = ipw.Button(description="Run", button_style="primary", icon="play",
                                tooltip="run your setting and its references (stored runs are reused)")
        bar = ipw.IntProgress(value=0, min=0, max=1, description="runs", style=style,
                              layout=ipw.Layout(visibility="hidden"))
        status = ipw.HTML(value="<i>Choose a setting and press <b>Run</b>. Runs already in the store come back "
                                "at once.</i>")
        output = ipw.Output(layout=ipw.Layout(border="1px solid #ddd", padding="4px"))
        terms_box = ipw.VBox([ipw.HTML("<b>DRIVE's terms</b> (untick to switch a term off)"), *term_rows,
                              controls["combine"]])
        schedule_box = ipw.VBox([ipw.HTML("<b>Schedule and target</b>"), controls["warmup_epochs"],
                                 controls["iterations"], controls["sparsity"]])
        setting_box = ipw.VBox([ipw.HTML(f"<b>Within the preset</b> ({html.escape(preset.name)})"), controls["model"],
                                controls["dataset"], ipw.HBox([controls["seeds"], controls["baselines"]])])
        super().__init__(children=[
            ipw.HTML(f"<h3 style='margin:2px'>DRIVE ablation explorer</h3>"),
            ipw.HBox([terms_box, schedule_box]), setting_box, ipw.HBox([run_button, bar]), status, output])
        self.add_class("drive-lab-ablation-explorer")
        self.preset, self.results_dir, self.raise_errors, self.contributions = (preset, results_dir, raise_errors,
                                                                                contributions)
        self.controls = controls
        self.run_button, self.progress, self.status, self.output = run_button, bar, status, output
        self.outcome: AblationOutcome | None = None
        self.error: str | None = None
        for term in TERMS:
            controls[f"{term}_on"].observe(self._toggle_term, names="value")
        run_button.on_click(lambda _button: self.run())

    # -- wiring
    def _toggle_term(self, change) -> None:
        for term in TERMS:
            self.controls[term].disabled = not self.controls[f"{term}_on"].value

    def control_values(self) -> AblationControls:
        """The current control values (a term switched off has weight 0)."""
        c = self.controls
        weights = {term: (float(c[term].value) if c[f"{term}_on"].value else 0.0) for term in TERMS}
        return AblationControls(combine=c["combine"].value, warmup_epochs=int(c["warmup_epochs"].value),
                                iterations=int(c["iterations"].value), sparsity=float(c["sparsity"].value),
                                model=c["model"].value, dataset=c["dataset"].value,
                                seeds=tuple(c["seeds"].value), baselines=tuple(c["baselines"].value), **weights)

    def _on_progress(self, done: int, total: int, config: RunConfig | None) -> None:
        self.progress.max = max(total, 1)
        self.progress.value = done
        self.progress.layout.visibility = "visible" if total else "hidden"
        if total and done < total:
            self.status.value = (f"<i>running {done + 1} of {total} (not in the store yet)"
                                 + (f"; finished: {html.escape(describe_run(config))}" if config else "") + " …</i>")
        elif total:
            self.status.value = "<i>all runs finished; drawing the figures …</i>"

    def run(self) -> AblationOutcome | None:
        """What the Run button does: run the current setting, then show the outcome (or the error)."""
        self.run_button.disabled = True
        self.error = None
        self.status.value = "<i>checking the setting …</i>"
        try:
            outcome = run_ablation(self.control_values(), preset=self.preset, results_dir=self.results_dir,
                                   on_progress=self._on_progress, contributions=self.contributions)
            outcome.close_figures()  # shown below as PNG; otherwise pyplot would show them again in the next cell
            self.outcome = outcome
            self.output.outputs = tuple(self._outputs(outcome))
            self.status.value = (f"<span class='drive-lab-done'>Done: {outcome.computed} run(s) computed, "
                                 f"{outcome.cached} read from the store ({html.escape(outcome.results_dir)}).</span>")
            return outcome
        except Exception as error:  # noqa: BLE001  (every error is shown to the learner, see _fail)
            self._fail(error)
            return None
        finally:
            self.run_button.disabled = False
            self.progress.layout.visibility = "hidden"

    @staticmethod
    def _outputs(outcome: AblationOutcome) -> list[dict]:
        items = [_html_output(f"<p>{html.escape(outcome.message)}</p>", outcome.message)]
        if outcome.notes:
            notes = "".join(f"<li>{html.escape(note)}</li>" for note in outcome.notes)
            items.append(_html_output(f"<ul style='color:#8a4b00'>{notes}</ul>", "\n".join(outcome.notes)))
        items.append(_table_output(outcome.summary))
        items += [_figure_output(figure) for figure in outcome.figures.values()]
        return items


def ablation_explorer(preset: Preset | str | None = None, results_dir=None, raise_errors: bool = False,
                      contributions: bool = True, **initial) -> AblationExplorer:
    """A widget to run a DRIVE ablation and compare it with the full DRIVE and baselines.

    Controls: each term's weight (magnitude, connection, convergence; untick to switch it
    off), sum or product, warm-up epochs E, iterations N, target sparsity, model and data
    within the preset, seeds, baselines. Nothing runs until **Run** is pressed; a progress bar
    counts the runs that are not in the store yet. Then it shows a sentence comparing the
    accuracies, a summary table, and three figures: accuracy of your setting, the full DRIVE
    and the baselines; per-layer density of your setting and the full DRIVE; and the share
    of the kept weights' score from each term (:func:`kept_term_contributions`).

    Args:
        preset: sizes of every run (default: ``get_preset()``).
        results_dir: the result store (default ``$DRIVE_LAB_RESULTS``, else ``results/``).
        raise_errors: re-raise errors from the Run callback after showing them.
        contributions: compute the term-contribution figure (one extra warm-up per Run).
        initial: initial control values (fields of :class:`AblationControls`), overriding
            :func:`default_controls`.

    The same result without the widget: ``run_ablation(default_controls(preset))``.
    """
    return AblationExplorer(preset, results_dir=results_dir, raise_errors=raise_errors,
                            contributions=contributions, **initial)


# ============================================================================ the browser widget
class ResultsBrowser(_ErrorReporting, ipw.VBox):
    """The stored-runs browser (build it with :func:`results_browser`).

    Attributes: ``filters`` (dict of SelectMultiple widgets by filter name, see
    :func:`filter_results`), ``reload_button``, ``status``, ``output``, ``all_runs`` (every
    run read), ``selection`` (the filtered rows), ``summary``, ``figures``, ``error``,
    ``raise_errors``. Changing a filter redraws at once (no training happens here).
    """

    def __init__(self, results_dir=None, frame: pd.DataFrame | None = None, preset: Preset | str | None = None,
                 raise_errors: bool = False) -> None:
        style = _STYLE
        labels = {"methods": "method", "sparsities": "sparsity", "warmup_epochs": "warm-up E",
                  "term_weights": "DRIVE terms", "seeds": "seed", "models": "model", "datasets": "data"}
        filters = {name: ipw.SelectMultiple(options=[], value=(), rows=5, description=labels[name], style=style,
                                            layout=ipw.Layout(width="auto"))
                   for name in FILTER_COLUMNS}
        reload_button = ipw.Button(description="Reload", icon="refresh",
                                   tooltip="read the result store again (new runs of the explorer)")
        status = ipw.HTML()
        output = ipw.Output(layout=ipw.Layout(border="1px solid #ddd", padding="4px"))
        grid = ipw.GridBox(list(filters.values()),
                           layout=ipw.Layout(grid_template_columns="repeat(4, minmax(160px, 1fr))", grid_gap="4px"))
        super().__init__(children=[
            ipw.HTML("<h3 style='margin:2px'>Stored runs</h3><i>Ctrl/Shift-click to select several values; "
                     "'DRIVE terms' filters DRIVE runs only.</i>"),
            grid, reload_button, status, output])
        self.add_class("drive-lab-results-browser")
        self.results_dir, self.source_frame, self.preset = results_dir, frame, preset
        self.raise_errors = raise_errors
        self.filters, self.reload_button, self.status, self.output = filters, reload_button, status, output
        self.all_runs = pd.DataFrame()
        self.selection: pd.DataFrame | None = None
        self.summary: pd.DataFrame | None = None
        self.figures: dict[str, Figure] = {}
        self.error: str | None = None
        self._updating = False
        self._known: dict[str, tuple] = {}
        for widget in filters.values():
            widget.observe(self._on_change, names="value")
        reload_button.on_click(lambda _button: self.reload())
        self.reload()

    def reload(self) -> None:
        """Read the runs again, refresh the filters' choices (keeping the selection where possible), redraw."""
        self.error = None
        try:
            previous = self.filter_values() if len(self.all_runs) else None
            self.all_runs = load_runs(self.results_dir, self.source_frame)
            options = browser_options(self.all_runs)
            selection = updated_filters(options, previous, default_filters(self.all_runs, self.preset), self._known)
            self._updating = True
            try:
                for name, widget in self.filters.items():
                    widget.options = options[name]
                    widget.value = selection[name]
            finally:
                self._updating = False
            self._known = {name: tuple(value for _, value in choices) for name, choices in options.items()}
        except Exception as error:  # noqa: BLE001
            self._fail(error)
            return
        self.plot()

    def _on_change(self, change) -> None:
        if not self._updating:
            self.plot()

    def filter_values(self) -> dict[str, tuple]:
        """The current selection of every filter."""
        return {name: tuple(widget.value) for name, widget in self.filters.items()}

    def plot(self) -> None:
        """Filter the runs with the current selection and draw the table and figures (what a filter change does)."""
        self.error = None
        try:
            if len(self.all_runs) == 0:
                where = "the given table" if self.source_frame is not None else ResultStore(self.results_dir).runs_dir
                raise ValueError(f"no stored runs yet in {where}: run a setting with the explorer, "
                                 "or `python -m drive_lab sweep ...`, then press Reload")
            selection = filter_results(self.all_runs, **self.filter_values())
            figures = browser_figures(selection)
            for figure in figures.values():
                plt.close(figure)  # shown below as PNG
            self.selection, self.figures = selection, figures
            self.summary = browser_summary(selection)
            self.output.outputs = tuple([_table_output(self.summary)]
                                        + [_figure_output(figure) for figure in figures.values()])
            self.status.value = (f"<span class='drive-lab-done'>{len(selection)} of {len(self.all_runs)} stored "
                                 f"run(s) selected.</span>")
        except Exception as error:  # noqa: BLE001
            self.selection, self.figures, self.summary = None, {}, None
            self.output.outputs = ()
            self._fail(error)


def results_browser(results_dir=None, frame: pd.DataFrame | None = None, preset: Preset | str | None = None,
                    raise_errors: bool = False) -> ResultsBrowser:
    """A widget to filter stored runs and plot them: accuracy vs sparsity, pruning time, speed-up vs IMP.

    Args:
        results_dir: the result store to read (default ``$DRIVE_LAB_RESULTS``, else
            ``results/``); **Reload** reads it again (e.g. after runs of the explorer).
        frame: browse this result table instead (e.g. ``experiments.results("full_runs", preset)``).
        preset: its model and data set are selected at first (default: ``get_preset()``).
        raise_errors: re-raise errors from callbacks after showing them.

    Filters: method, sparsity, warm-up epochs, DRIVE's term weights (by variant label),
    seed, model and data. The same result without the widget:
    ``browser_figures(filter_results(load_results(), **default_filters(load_results())))``.
    """
    return ResultsBrowser(results_dir, frame=frame, preset=preset, raise_errors=raise_errors)
