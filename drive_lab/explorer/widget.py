"""The ablation explorer widget (ipywidgets 8): build it with :func:`drive_lab.widgets.ablation_explorer`.

Everything it computes comes from :func:`drive_lab.explorer.run_ablation` (tables) and
:mod:`drive_lab.plots.explorer` (figures); its building blocks are in :mod:`.parts`.
"""
from __future__ import annotations

import html
import threading
import time

import ipywidgets as ipw
import pandas as pd

from ..config import RunConfig
from ..methods import METHODS, display_name
from ..plots.explorer import TERM_LABELS
from ..presets import Preset
from ..scores.drive import COMBINATIONS, TERMS
from .controls import (AblationControls, as_preset, baseline_choices, control_problem, dataset_choices,
                       default_controls, model_choices, resolve_controls)
from .parts import (_STYLE, _UPDATE_EVERY, WIDTH, CheckboxList, _controls_text, _ErrorReporting, _html_output,
                    _figure_output, _static_html, _table_output, _term_state, run_ablation)
from .runs import AblationOutcome
from .steps import RunProgress, RunStopped

__all__ = ["AblationExplorer", "ablation_explorer"]


# ============================================================================ the explorer widget
class AblationExplorer(_ErrorReporting, ipw.VBox):
    """The ablation explorer (build it with :func:`ablation_explorer`).

    Attributes: ``controls`` (dict of the control widgets by name; ``seeds`` and
    ``baselines`` are :class:`CheckboxList`), ``run_button``, ``stop_button``, ``progress``
    (IntProgress, in steps), ``progress_text`` (HTML: run, phase, step, elapsed and remaining
    time), ``check`` (HTML: why the current setting cannot run, empty when it can),
    ``status`` (HTML: what happened, or the error), ``output`` (Output: table and figures),
    ``outcome`` (the last :class:`AblationOutcome`, ``None`` before the first run),
    ``error`` (the last error message, ``None`` after a successful run), ``stopped``
    (the :class:`RunStopped` of the last Run, or ``None``), ``raise_errors``.

    Pressing **Run** computes in a background thread (``background=True``), so the kernel
    stays free and **Stop** works during a run: the run in progress ends at its next step and
    is not stored; the runs finished before it are. :meth:`run` computes in the calling
    thread (what the tests and scripts call); :meth:`wait` waits for a background run.
    """

    def __init__(self, preset: Preset | str | None = None, results_dir=None, raise_errors: bool = False,
                 contributions: bool = True, known: pd.DataFrame | None = None, background: bool = True,
                 **initial) -> None:
        preset = as_preset(preset)
        start = default_controls(preset).replace(**{k: v for k, v in initial.items() if v is not None})
        style = _STYLE
        controls: dict[str, ipw.Widget] = {}
        term_rows, self.term_states = [], {}
        for term in TERMS:
            weight = float(getattr(start, term))
            on = ipw.Checkbox(value=weight > 0, description=TERM_LABELS[term], indent=False,
                              layout=ipw.Layout(width="165px"))
            slider = ipw.FloatSlider(value=weight if weight > 0 else 1.0, min=0.0, max=3.0, step=0.25,
                                     description="weight", readout_format=".2f", disabled=weight <= 0, style=style,
                                     continuous_update=False, layout=ipw.Layout(width="290px"))
            state = ipw.HTML(_term_state(weight > 0, slider.value), layout=ipw.Layout(width="150px"))
            controls[f"{term}_on"], controls[term], self.term_states[term] = on, slider, state
            row = ipw.HBox([on, slider, state], layout=ipw.Layout(flex_flow="row wrap", align_items="center"))
            row.add_class(f"drive-lab-term-{term}")
            term_rows.append(row)
        controls["combine"] = ipw.ToggleButtons(options=list(COMBINATIONS), value=start.combine,
                                                description="combine", style={"button_width": "80px", **style},
                                                tooltips=["S = a·M/ΣM + b·C/ΣC + c·V/ΣV",
                                                          "S = M·(b·C/ΣC + c·V/ΣV)"])
        slider_layout = {"width": "330px"}
        warmup_max = max(5, max(preset.warmup_grid), int(start.warmup_epochs or 0))
        controls["warmup_epochs"] = ipw.IntSlider(value=int(start.warmup_epochs), min=0, max=warmup_max,
                                                  description="warm-up epochs E", style=style,
                                                  continuous_update=False, layout=ipw.Layout(**slider_layout))
        controls["iterations"] = ipw.IntSlider(value=int(start.iterations), min=1,
                                               max=max(100, preset.iterations, int(start.iterations)),
                                               description="iterations N", style=style, continuous_update=False,
                                               layout=ipw.Layout(**slider_layout))
        controls["sparsity"] = ipw.FloatSlider(value=float(start.sparsity), min=0.0, max=1.0, step=0.001,
                                               readout_format=".3f", description="target sparsity", style=style,
                                               continuous_update=False, layout=ipw.Layout(**slider_layout))
        models = tuple(dict.fromkeys((*model_choices(preset), start.model)))
        controls["model"] = ipw.Dropdown(options=list(models), value=start.model, description="model", style=style,
                                         layout=ipw.Layout(width="200px"))
        datasets = tuple(dict.fromkeys((*dataset_choices(preset), start.dataset)))
        controls["dataset"] = ipw.Dropdown(options=list(datasets), value=start.dataset, description="data",
                                           style=style, layout=ipw.Layout(width="240px"))
        seed_choices = tuple(sorted(set(range(max(5, len(preset.seeds)))) | set(start.seeds)))
        controls["seeds"] = CheckboxList([(f"seed {s}", s) for s in seed_choices], tuple(start.seeds),
                                         description="seeds (one run each)")
        controls["baselines"] = CheckboxList(
            [(display_name(b) + (" (slow)" if METHODS[b].kind == "training-based" else ""), b)
             for b in baseline_choices()], tuple(start.baselines), description="baselines (same sparsity)")
        run_button = ipw.Button(description="Run", button_style="primary", icon="play",
                                tooltip="run your setting and its references (stored runs are reused)")
        stop_button = ipw.Button(description="Stop", button_style="danger", icon="stop", disabled=True,
                                 tooltip="stop at the next training step: the unfinished run is not stored")
        bar = ipw.IntProgress(value=0, min=0, max=1, layout=ipw.Layout(width="200px", visibility="hidden"))
        progress_text = ipw.HTML("", layout=ipw.Layout(width="auto"))
        check = ipw.HTML("")
        status = ipw.HTML(value="<i>Choose a setting and press <b>Run</b>. Runs already in the store come back "
                                "at once; <b>Stop</b> ends a run between two training steps.</i>")
        output = ipw.Output(layout=ipw.Layout(border="1px solid #ddd", padding="4px", width="auto"))
        wrap = ipw.Layout(flex_flow="row wrap", align_items="center", grid_gap="4px 16px")
        terms_box = ipw.VBox([ipw.HTML("<b>DRIVE's terms</b> (untick to switch a term off)"), *term_rows,
                              controls["combine"]])
        schedule_box = ipw.VBox([ipw.HTML("<b>Schedule and target</b>"), controls["warmup_epochs"],
                                 controls["iterations"], controls["sparsity"]])
        setting_box = ipw.VBox([ipw.HTML(f"<b>Within the preset</b> ({html.escape(preset.name)})"),
                                ipw.HBox([controls["model"], controls["dataset"]], layout=wrap),
                                controls["seeds"], controls["baselines"]])
        super().__init__(children=[
            ipw.HTML("<h3 style='margin:2px'>DRIVE ablation explorer</h3>"), terms_box, schedule_box, setting_box,
            check, ipw.HBox([run_button, stop_button, bar], layout=wrap), progress_text, status, output],
            layout=ipw.Layout(max_width=WIDTH, width="100%"))
        self.add_class("drive-lab-ablation-explorer")
        self.preset, self.results_dir, self.raise_errors, self.contributions = (preset, results_dir, raise_errors,
                                                                                contributions)
        self.known, self.background = known, background
        self.controls = controls
        self.run_button, self.stop_button, self.progress, self.progress_text = run_button, stop_button, bar, progress_text
        self.check, self.status, self.output = check, status, output
        self.outcome: AblationOutcome | None = None
        self.error: str | None = None
        self.stopped: RunStopped | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._thread_error: BaseException | None = None
        self._shown: tuple = ()  # the outputs of the last Run, restored when the controls match it again
        self._last_draw = 0.0
        self._running = False
        for name, widget in controls.items():
            widget.observe(self._on_control, names="value")
        run_button.on_click(lambda _button: self.start())
        stop_button.on_click(lambda _button: self.stop())

    # -- controls
    def control_values(self) -> AblationControls:
        """The current control values (a term switched off has weight 0)."""
        c = self.controls
        weights = {term: (float(c[term].value) if c[f"{term}_on"].value else 0.0) for term in TERMS}
        return AblationControls(combine=c["combine"].value, warmup_epochs=int(c["warmup_epochs"].value),
                                iterations=int(c["iterations"].value), sparsity=float(c["sparsity"].value),
                                model=c["model"].value, dataset=c["dataset"].value,
                                seeds=tuple(c["seeds"].value), baselines=tuple(c["baselines"].value), **weights)

    def _on_control(self, change=None) -> None:
        """Live validation: terms show on/off, Run is enabled only for a valid setting, and results that no
        longer match the controls are cleared (and shown again when the controls return to them)."""
        for term in TERMS:
            on = bool(self.controls[f"{term}_on"].value)
            self.controls[term].disabled = not on or self._running
            self.term_states[term].value = _term_state(on, float(self.controls[term].value))
        if self._running:
            return
        problem = control_problem(self.preset, self.control_values())
        self.check.value = ("" if problem is None else
                            f"<div class='drive-lab-invalid' style='color:#8a4b00'><b>This setting cannot run:</b> "
                            f"{html.escape(problem)}</div>")
        self.run_button.disabled = problem is not None
        if self.outcome is None:
            return
        matches = problem is None and resolve_controls(self.preset, self.control_values()) == self.outcome.controls
        if matches and self.output.outputs != self._shown:
            self.output.outputs = self._shown
            self.status.value = self._done_text(self.outcome)
        elif not matches and self.output.outputs:
            self.output.outputs = ()
            self.status.value = ("<span class='drive-lab-stale'><i>The settings changed: the results of the last Run "
                                 f"({html.escape(_controls_text(self.outcome.controls))}) no longer match them and "
                                 "were cleared. Press <b>Run</b> for this setting.</i></span>")

    def _lock(self, running: bool) -> None:
        self._running = running
        for name, widget in self.controls.items():
            if name not in TERMS:
                widget.disabled = running
        self.run_button.disabled = running
        self.stop_button.disabled = not running
        self._on_control()

    # -- progress
    def _on_progress(self, done: int, total: int, config: RunConfig | None) -> None:
        self.progress.layout.visibility = "visible" if total or self.contributions else "hidden"
        if total and done == total:
            self.progress_text.value = "<i>all runs finished; drawing the figures …</i>"
        elif not total:
            self.progress_text.value = "<i>every run is stored already; drawing the figures …</i>"

    def _on_step(self, report: RunProgress) -> None:
        now = time.perf_counter()
        last_of_phase = report.steps is not None and report.step >= report.steps
        if now - self._last_draw < _UPDATE_EVERY and not last_of_phase:
            return
        self._last_draw = now
        self.progress.layout.visibility = "visible"
        self.progress.max = 1000
        self.progress.value = int(1000 * report.fraction)
        self.progress_text.value = f"<span class='drive-lab-progress'>{html.escape(report.text())}</span>"

    # -- running
    def start(self) -> None:
        """What the Run button does: check the setting, then run it (in a background thread by default)."""
        if self._thread is not None and self._thread.is_alive():
            return
        if not self.background:
            self.run()
            return
        self._thread_error = None
        self._lock(True)

        def work() -> None:
            try:
                self.run()
            except BaseException as error:  # noqa: BLE001  (shown by run(); kept for wait())
                self._thread_error = error

        self._thread = threading.Thread(target=work, name="drive-lab-explorer-run", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """What the Stop button does: end the current Run at its next training step or pruning iteration."""
        if self._running:
            self._stop.set()
            self.stop_button.disabled = True
            self.progress_text.value = "<i>stopping at the next step …</i>"

    def wait(self, timeout: float | None = None) -> AblationOutcome | None:
        """Wait for a background Run (``timeout`` seconds at most); its outcome (``None`` on error or stop).
        With ``raise_errors``, an error of the Run is raised here."""
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TimeoutError(f"the Run did not finish within {timeout} s")
        if self._thread_error is not None and self.raise_errors:
            error, self._thread_error = self._thread_error, None
            raise error
        return self.outcome if self.error is None and self.stopped is None else None

    @property
    def running(self) -> bool:
        """Whether a Run is in progress."""
        return self._running

    def _done_text(self, outcome: AblationOutcome) -> str:
        sources = [f"{outcome.computed} run(s) computed"]
        if outcome.known:
            sources.append(f"{outcome.known} read from the committed tables")
        sources.append(f"{outcome.cached} read from the store ({html.escape(outcome.results_dir)})")
        return (f"<span class='drive-lab-done'>Done: {', '.join(sources)}. Shown below: "
                f"{html.escape(_controls_text(outcome.controls))}.</span>")

    def run(self) -> AblationOutcome | None:
        """Run the current setting in this thread, then show the outcome (or the error, or that it stopped)."""
        self._lock(True)
        self._stop.clear()
        self.error, self.stopped = None, None
        self.status.value = "<i>checking the setting …</i>"
        self.progress_text.value = ""
        try:
            outcome = run_ablation(self.control_values(), preset=self.preset, results_dir=self.results_dir,
                                   on_progress=self._on_progress, contributions=self.contributions,
                                   on_step=self._on_step, stop=self._stop, known=self.known)
            outcome.close_figures()  # shown below as PNG; otherwise pyplot would show them again in the next cell
            self.outcome = outcome
            self._shown = tuple(self._outputs(outcome))
            self.output.outputs = self._shown
            self.status.value = self._done_text(outcome)
            return outcome
        except RunStopped as stopped:
            self.stopped = stopped
            self.output.outputs = ()
            message = str(stopped)
            self.status.value = (f"<span class='drive-lab-stopped' style='color:#8a4b00'><b>Stopped</b> "
                                 f"{html.escape(message.removeprefix('stopped '))}. Press <b>Run</b> to continue."
                                 "</span>")
            return None
        except Exception as error:  # noqa: BLE001  (every error is shown to the learner, see _fail)
            self._fail(error)
            return None
        finally:
            self.progress.layout.visibility = "hidden"
            self.progress_text.value = ""
            self._lock(False)

    @staticmethod
    def _outputs(outcome: AblationOutcome) -> list[dict]:
        items = [_html_output(f"<p>{html.escape(outcome.message)}</p>", outcome.message)]
        if outcome.notes:
            notes = "".join(f"<li>{html.escape(note)}</li>" for note in outcome.notes)
            items.append(_html_output(f"<ul style='color:#8a4b00'>{notes}</ul>", "\n".join(outcome.notes)))
        items.append(_table_output(outcome.summary.drop(columns=["role"]).rename(columns=_SHORT_COLUMNS)))
        items += [_figure_output(figure) for figure in outcome.figures.values()]
        return items

    # -- without a kernel
    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        c = self.control_values()
        rows = [("terms", ", ".join(f"{term}: {'weight ' + format(getattr(c, term), 'g') if getattr(c, term) else 'OFF'}"
                                    for term in TERMS) + f" ({c.combine})"),
                ("schedule", f"warm-up E = {c.warmup_epochs} epochs, N = {c.iterations} iterations, target sparsity "
                             f"{100 * c.sparsity:.4g}%"),
                ("setting", f"{c.model} on {c.dataset} ({self.preset.name} preset)"),
                ("seeds", ", ".join(map(str, c.seeds)) or "none"),
                ("baselines", ", ".join(display_name(b) for b in c.baselines) or "none")]
        note = ("static view of the last Run; the controls need a live kernel" if self.output.outputs
                else "static view: the controls need a live kernel; press Run there")
        text = "DRIVE ablation explorer — " + note + "\n" + "\n".join(f"  {k}: {v}" for k, v in rows)
        bundle.update({"text/plain": text,
                       "text/html": _static_html("DRIVE ablation explorer", note, rows, self.output.outputs)})
        return bundle


_SHORT_COLUMNS = {"accuracy mean %": "acc. %", "accuracy std %": "± std", "pruning s": "pruning s",
                  "collapsed layers": "collapsed"}


def ablation_explorer(preset: Preset | str | None = None, results_dir=None, raise_errors: bool = False,
                      contributions: bool = True, known: pd.DataFrame | None = None, background: bool = True,
                      **initial) -> AblationExplorer:
    """A widget to run a DRIVE ablation and compare it with the full DRIVE and baselines.

    Controls: each term's weight (magnitude, connection, convergence; untick to switch it
    off: its slider greys out and the row says OFF), sum or product, warm-up epochs E,
    iterations N, target sparsity, model and data within the preset, seeds and baselines
    (checkboxes). An invalid setting is named under the controls and Run stays disabled;
    results that no longer match the controls are cleared. Nothing runs until **Run** is
    pressed; then a progress bar counts the training steps with elapsed and remaining time,
    and **Stop** ends the Run at the next step (the unfinished run is not stored, finished
    ones are). It shows a sentence comparing the accuracies, a summary table, and three
    figures in one colour code: accuracy of your setting, the full DRIVE and the baselines;
    per-layer density of your setting and the full DRIVE; and the share of the kept
    weights' score from each term (:func:`kept_term_contributions`).

    Args:
        preset: sizes of every run (default: ``get_preset()``).
        results_dir: the result store (default ``$DRIVE_LAB_RESULTS``, else ``results/``).
        raise_errors: re-raise errors from the Run callback after showing them.
        contributions: compute the term-contribution figure (one extra warm-up per Run).
        known: finished runs read instead of the store (e.g. :func:`committed_runs` of the preset).
        background: Run computes in a background thread (so Stop works); ``False``: in the
            kernel's thread.
        initial: initial control values (fields of :class:`AblationControls`), overriding
            :func:`default_controls`.

    The same result without the widget: ``run_ablation(default_controls(preset))``.
    """
    return AblationExplorer(preset, results_dir=results_dir, raise_errors=raise_errors, contributions=contributions,
                            known=known, background=background, **initial)


