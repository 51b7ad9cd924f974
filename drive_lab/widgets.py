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
(``widgets.filter_results``, ...); :func:`run_ablation` here also draws the figures. The
explorer widget lives in :mod:`drive_lab.explorer.widget`, the browser widget here.

Errors inside a widget callback are shown in the widget as a readable message (and kept in
its ``.error``); give ``raise_errors=True`` to have them raised as well (the tests do).
"""
from __future__ import annotations

import html

import ipywidgets as ipw
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from .browser import (FILTER_COLUMNS, browser_options, browser_summary, default_filters, filter_results,
                      label_runs, load_runs, updated_filters)
from .explorer import (BASELINE_CHOICES, DEFAULT_BASELINES, AblationControls, AblationOutcome, RunProgress,
                       RunStopped, ablation_configs, committed_runs, control_problem, default_controls,
                       resolve_controls, variant_name)
from .explorer.parts import (READABLE_ERRORS, WIDTH, CheckboxList, _ErrorReporting, _figure_output, _static_html,
                             _table_output, readable_error, run_ablation)
from .explorer.widget import AblationExplorer, ablation_explorer
from .plots.explorer import accuracy_figure, browser_figures, contribution_figure, layer_density_figure
from .presets import Preset
from .store import ResultStore
from .term_contributions import ALL_KEPT, kept_term_contributions, term_contributions

__all__ = [
    "AblationControls", "AblationOutcome", "AblationExplorer", "ResultsBrowser", "BASELINE_CHOICES",
    "DEFAULT_BASELINES", "ALL_KEPT", "FILTER_COLUMNS", "ablation_explorer", "results_browser", "default_controls",
    "control_problem", "resolve_controls", "ablation_configs", "variant_name", "run_ablation", "term_contributions",
    "kept_term_contributions", "accuracy_figure", "contribution_figure", "layer_density_figure", "browser_options",
    "default_filters", "filter_results", "label_runs", "browser_summary", "browser_figures", "readable_error",
    "CheckboxList", "RunProgress", "RunStopped", "committed_runs", "READABLE_ERRORS",
]

# ============================================================================ the browser widget
class ResultsBrowser(_ErrorReporting, ipw.VBox):
    """The stored-runs browser (build it with :func:`results_browser`).

    Attributes: ``filters`` (dict of :class:`CheckboxList` widgets by filter name, see
    :func:`filter_results`), ``reload_button``, ``status``, ``output``, ``all_runs`` (every
    run read), ``selection`` (the filtered rows), ``summary``, ``figures``, ``error``,
    ``raise_errors``. Changing a filter redraws at once (no training happens here).
    """

    def __init__(self, results_dir=None, frame: pd.DataFrame | None = None, preset: Preset | str | None = None,
                 raise_errors: bool = False, known: pd.DataFrame | None = None) -> None:
        labels = {"methods": "method", "sparsities": "sparsity", "warmup_epochs": "warm-up E",
                  "term_weights": "DRIVE terms", "seeds": "seed", "models": "model", "datasets": "data"}
        filters = {name: CheckboxList([], (), description=labels[name], direction="column")
                   for name in FILTER_COLUMNS}
        reload_button = ipw.Button(description="Reload", icon="refresh",
                                   tooltip="read the result store again (new runs of the explorer)")
        status = ipw.HTML()
        output = ipw.Output(layout=ipw.Layout(border="1px solid #ddd", padding="4px"))
        grid = ipw.GridBox(list(filters.values()),
                           layout=ipw.Layout(grid_template_columns="repeat(auto-fill, minmax(150px, 1fr))",
                                             grid_gap="6px 12px", width="auto"))
        super().__init__(children=[
            ipw.HTML("<h3 style='margin:2px'>Stored runs</h3><i>Tick the values to show; "
                     "'DRIVE terms' filters DRIVE runs only.</i>"),
            grid, reload_button, status, output], layout=ipw.Layout(max_width=WIDTH, width="100%"))
        self.add_class("drive-lab-results-browser")
        self.results_dir, self.source_frame, self.preset, self.known = results_dir, frame, preset, known
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
            runs = load_runs(self.results_dir, self.source_frame)
            if self.known is not None and len(self.known):  # e.g. the committed tables, next to the store's runs
                runs = pd.concat([self.known, runs], ignore_index=True).drop_duplicates("key").reset_index(drop=True)
            self.all_runs = runs
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


    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        rows = [(name, ", ".join(label for label, value in widget.options if value in widget.value) or "none")
                for name, widget in self.filters.items()]
        selected = (f"{len(self.selection)} of {len(self.all_runs)} run(s) selected" if self.selection is not None
                    else (self.error or "nothing selected"))
        note = f"static view of the default selection, {selected}; filtering needs a live kernel"
        text = "Stored runs — " + note + "\n" + "\n".join(f"  {k}: {v}" for k, v in rows)
        bundle.update({"text/plain": text, "text/html": _static_html("Stored runs", note, rows, self.output.outputs)})
        return bundle


def results_browser(results_dir=None, frame: pd.DataFrame | None = None, preset: Preset | str | None = None,
                    raise_errors: bool = False, known: pd.DataFrame | None = None) -> ResultsBrowser:
    """A widget to filter stored runs and plot them: accuracy vs sparsity, pruning time, speed-up vs IMP.

    Args:
        results_dir: the result store to read (default ``$DRIVE_LAB_RESULTS``, else
            ``results/``); **Reload** reads it again (e.g. after runs of the explorer).
        frame: browse this result table instead (e.g. ``experiments.results("full_runs", preset)``).
        preset: its model and data set are selected at first (default: ``get_preset()``).
        raise_errors: re-raise errors from callbacks after showing them.
        known: runs browsed next to the store's (e.g. :func:`committed_runs` of the preset);
            a run in both is shown once.

    Filters (checkbox lists): method, sparsity, warm-up epochs, DRIVE's term weights (by variant label),
    seed, model and data. The same result without the widget:
    ``browser_figures(filter_results(load_results(), **default_filters(load_results())))``.
    """
    return ResultsBrowser(results_dir, frame=frame, preset=preset, raise_errors=raise_errors, known=known)
