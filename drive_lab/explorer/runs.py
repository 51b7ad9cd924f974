"""One press of the explorer's Run: your setting and its references, through the result store, as tables.

:func:`run_ablation` turns control values into configs (:mod:`drive_lab.explorer.controls`),
gets every run from a table of finished runs (``known``, e.g. :func:`committed_runs`) or
from :meth:`drive_lab.store.ResultStore.get_or_run` (stored runs come back at once, computed
ones are stored), and returns an :class:`AblationOutcome`: one row per run, a summary per
name and a sentence built from the numbers. Figures are drawn above this layer
(:func:`drive_lab.widgets.run_ablation`).

While runs are computed, ``on_step`` sees every training step and pruning iteration as a
:class:`RunProgress` (elapsed and estimated remaining seconds), and setting the ``stop``
event ends the work between two steps with :class:`RunStopped`: the run that was
interrupted is not stored, the runs finished before it are.
"""
from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from .. import analysis
from ..config import RunConfig
from ..methods import DRIVE_VARIANTS, display_name
from ..presets import Preset
from ..progress import progress_disabled, watching_steps
from ..results import RunResult
from ..store import ResultStore
from ..sweep import results_frame
from ..term_contributions import kept_term_contributions
from .controls import AblationControls, as_preset, resolve
from .steps import CONTRIBUTIONS_RUN, RunProgress, RunStopped, StepProgressCallback, StepTracker  # noqa: F401

FULL_DRIVE = next(label for label, changes in DRIVE_VARIANTS.items() if not changes)  # "DRIVE (full)"
ROLE_VARIANT, ROLE_BOTH, ROLE_FULL, ROLE_BASELINE = ("your setting", "your setting = full DRIVE",
                                                     "full DRIVE", "baseline")
_SCHEDULE_SUFFIXES = (" (one-shot)", " (iterative)")  # added by analysis.ablation_label


# ============================================================================ names
def term_variant(label: str) -> str:
    """An ablation label without its one-shot/iterative note: the DRIVE term variant (``"without convergence"``)."""
    for suffix in _SCHEDULE_SUFFIXES:
        label = label.removesuffix(suffix)
    return label


def variant_name(config: RunConfig, preset: Preset | str | None = None) -> str:
    """The display name of a DRIVE setting: its ablation label, plus E/N where they differ from the preset.

    ``"without convergence"``, ``"without convergence (E=0)"``, ``"without convergence (N=1)"``;
    full terms with another E or N: ``"DRIVE with E=0"``, ``"DRIVE with N=1"`` (so it never
    looks like the reference :data:`FULL_DRIVE`).
    """
    preset = as_preset(preset)
    label = analysis.ablation_label(config.to_dict())
    parts = []
    if config.warmup_epochs != preset.warmup_epochs:
        parts.append(f"E={config.warmup_epochs}")
    if config.iterations != preset.iterations:
        parts.append(f"N={config.iterations}")
    if not parts:
        return label
    base = term_variant(label)
    return f"DRIVE with {', '.join(parts)}" if base == FULL_DRIVE else f"{base} ({', '.join(parts)})"


def describe_run(config: RunConfig) -> str:
    """A short name of one run for progress messages: ``"without convergence, seed 0"``, ``"SNIP, seed 1"``."""
    name = analysis.ablation_label(config.to_dict()) if config.method == "drive" else display_name(config.method)
    return f"{name}, seed {config.seed}"


def _row_name(config: RunConfig, role: str, preset: Preset) -> str:
    if role in (ROLE_VARIANT, ROLE_BOTH):
        return variant_name(config, preset)
    return FULL_DRIVE if role == ROLE_FULL else display_name(config.method)


# ============================================================================ running
@dataclass
class AblationOutcome:
    """What one press of Run produced.

    ``controls``: the resolved control values; ``preset``: its name; ``frame``: one row per
    run (the columns of :func:`drive_lab.load_results`, plus ``name`` and ``role``: your
    setting, full DRIVE or baseline); ``summary``: :func:`ablation_summary`; ``contributions``:
    :func:`drive_lab.term_contributions.kept_term_contributions` of your setting (first
    seed), or ``None``; ``computed``/``cached``: runs trained now or read from the store;
    ``message``: :func:`ablation_message`; ``results_dir``: the store's folder; ``notes``:
    warnings raised while running (e.g. layer collapse); ``figures``: ``{name: Figure}``,
    empty here, drawn by :func:`drive_lab.widgets.run_ablation` (``accuracy``,
    ``layer_density`` and, with contributions, ``contributions``); ``known``: runs read from
    the ``known`` table given to :func:`run_ablation` (``cached`` counts the store's only).
    """

    controls: AblationControls
    preset: str
    frame: pd.DataFrame
    summary: pd.DataFrame
    contributions: pd.DataFrame | None
    computed: int
    cached: int
    message: str
    results_dir: str
    notes: list[str] = field(default_factory=list)
    figures: dict = field(default_factory=dict)
    known: int = 0  # runs read from the ``known`` table (e.g. the committed tables), not from the store

    def close_figures(self) -> None:
        """Release the figures from pyplot (they can still be drawn and saved)."""
        import matplotlib.pyplot as plt

        for figure in self.figures.values():
            plt.close(figure)


ProgressCallback = Callable[[int, int, "RunConfig | None"], None]


def _roles(variants: list[RunConfig], references: list[RunConfig]) -> dict[str, tuple[RunConfig, str]]:
    """``{key: (config, role)}`` in run order; a reference that is your setting is one run, ROLE_BOTH."""
    roles = {config.key(): (config, ROLE_VARIANT) for config in variants}
    for config in references:
        key = config.key()
        if key not in roles:
            roles[key] = (config, ROLE_FULL if config.method == "drive" else ROLE_BASELINE)
        elif config.method == "drive" and roles[key][1] == ROLE_VARIANT:
            roles[key] = (roles[key][0], ROLE_BOTH)
    return roles


def committed_runs(preset: Preset | str | None = None, tables_dir=None, names=None) -> pd.DataFrame:
    """Every run of the preset's committed experiment tables (``results/<preset>/*.csv``), one row
    per key (the :func:`drive_lab.load_results` columns); an empty frame when none is committed
    (e.g. the smoke preset). Only tables that exist are read: nothing is computed.

    Give it to :func:`run_ablation` (``known``) so that a setting the course already ran comes
    back at once, on any machine, without the local store. ``names``: only these experiments'
    tables (default: every experiment's).
    """
    from .. import experiments

    preset = as_preset(preset)
    tables = tables_dir if tables_dir is not None else experiments.default_tables_dir()
    frames = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a table behind its plan: its finished runs are still valid runs
        for name in (names or experiments.EXPERIMENTS):
            if experiments.table_path(name, preset, tables).exists():
                frames.append(experiments.results(name, preset, tables_dir=tables))
    if not frames:
        return results_frame([])
    return pd.concat(frames, ignore_index=True).drop_duplicates("key").reset_index(drop=True)


def run_ablation(controls: AblationControls | Mapping | None = None, preset: Preset | str | None = None,
                 results_dir=None, on_progress: ProgressCallback | None = None, contributions: bool = True,
                 on_step: StepProgressCallback | None = None, stop: threading.Event | None = None,
                 known: pd.DataFrame | None = None, **values) -> AblationOutcome:
    """Run (or read) your setting and its references; return the tables (no figures).

    Args:
        controls: control values (:class:`AblationControls` or a dict); ``values`` override
            single fields. Default: :func:`default_controls` of the preset.
        preset: the preset that sizes the runs (default: ``get_preset()``).
        results_dir: the result store (default ``$DRIVE_LAB_RESULTS``, else ``results/``);
            every run not in ``known`` goes through :meth:`drive_lab.store.ResultStore.get_or_run`,
            so a run already stored comes back at once and a computed one is stored.
        on_progress: called as ``on_progress(done, total, config)`` before the first run
            (``done = 0``, ``config = None``) and after each run that was not stored yet;
            ``total`` counts those runs.
        contributions: also compute :func:`~drive_lab.term_contributions.kept_term_contributions`
            of your setting (one warm-up of the first seed; no training after pruning).
        on_step: called with a :class:`RunProgress` after every training step and pruning
            iteration of the runs being computed (and of the contribution warm-up).
        stop: a ``threading.Event``; once set (e.g. from another thread), the work ends
            before the next run or at the next step with :class:`RunStopped`. The
            interrupted run is not stored; runs finished before it are.
        known: finished runs to read instead of the store, one row per run with its
            ``key`` (e.g. :func:`committed_runs`).

    Returns:
        An :class:`AblationOutcome` (``figures`` empty). Raises ``ValueError`` for invalid
        control values and :class:`RunStopped` when stopped.
    """
    preset = as_preset(preset)
    resolved, variants, references = resolve(preset, controls, values)
    roles = _roles(variants, references)
    known_rows = (known.drop_duplicates("key").set_index("key", drop=False)
                  if known is not None and len(known) else None)
    from_table = [key for key in roles if known_rows is not None and key in known_rows.index]
    store = ResultStore(results_dir)
    missing = [key for key, (config, _) in roles.items() if key not in from_table and config not in store]
    todo = [(roles[key][0], describe_run(roles[key][0]), False) for key in missing]
    if contributions:
        todo.append((variants[0], CONTRIBUTIONS_RUN, True))
    tracker = StepTracker(todo, on_step, stop)
    if on_progress is not None:
        on_progress(0, len(missing), None)
    results: dict[str, RunResult] = {}
    computed = 0
    with warnings.catch_warnings(record=True) as caught, progress_disabled(), watching_steps(tracker):
        warnings.simplefilter("always")
        for key, (config, _) in roles.items():
            if key in from_table:
                continue
            if key in missing:
                tracker.begin(missing.index(key))
            results[key], was_computed = store.get_or_run(config)
            computed += was_computed
            if key in missing:
                tracker.end()
                if on_progress is not None:
                    on_progress(missing.index(key) + 1, len(missing), config)
        if contributions:
            tracker.begin(len(todo) - 1)
            table = kept_term_contributions(variants[0])
            tracker.end(counts=False)
        else:
            table = None
    notes = list(dict.fromkeys(str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)))
    parts = [known_rows.loc[[key]] if key in from_table else results_frame([results[key]]) for key in roles]
    frame = pd.concat(parts, ignore_index=True)
    frame["role"] = [roles[key][1] for key in frame["key"]]
    frame["name"] = [_row_name(roles[key][0], roles[key][1], preset) for key in frame["key"]]
    summary = ablation_summary(frame)
    return AblationOutcome(controls=resolved, preset=preset.name, frame=frame, summary=summary, contributions=table,
                           computed=computed, cached=len(roles) - computed - len(from_table),
                           message=ablation_message(summary, resolved), results_dir=str(store.root), notes=notes,
                           known=len(from_table))


# ============================================================================ summary and message
def ablation_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per name of an ablation frame (``name``, ``role`` columns), in the frame's order.

    Columns ``name, role, E, N, accuracy mean %, accuracy std %, seeds, pruning s, collapsed
    layers``: accuracy in % (std over seeds, NaN for one seed); pruning seconds = warm-up +
    scoring, mean over seeds; collapsed layers comma-joined (``""`` when none).
    """
    rows = []
    for name, group in frame.groupby("name", sort=False):
        accuracy = 100 * pd.to_numeric(group["final_test_accuracy"], errors="coerce")
        collapsed = sorted({layer for text in group["collapsed_layers"] for layer in str(text).split(",") if layer})
        rows.append({
            "name": name, "role": group["role"].iloc[0], "E": int(group["warmup_epochs"].iloc[0]),
            "N": int(group["iterations"].iloc[0]), "accuracy mean %": float(accuracy.mean()),
            "accuracy std %": float(accuracy.std()) if len(accuracy) > 1 else float("nan"),
            "seeds": int(accuracy.count()),
            "pruning s": float(pd.to_numeric(group["seconds_pruning"], errors="coerce").mean()),
            "collapsed layers": ", ".join(collapsed),
        })
    return pd.DataFrame(rows)


def _fmt_accuracy(row: Mapping) -> str:
    text = f"{row['accuracy mean %']:.1f}%"
    if row["seeds"] > 1:
        text += f" ± {row['accuracy std %']:.1f}"
    return text


def ablation_message(summary: pd.DataFrame, controls: AblationControls) -> str:
    """A sentence built from :func:`ablation_summary`: your setting vs full DRIVE (difference in
    accuracy points), the baselines, the highest mean, and any layer collapse."""
    seeds = len(controls.seeds)
    head = (f"At {100 * controls.sparsity:.4g}% sparsity ({controls.model} on {controls.dataset}, "
            f"{seeds} seed{'s' if seeds > 1 else ''}{', mean ± std' if seeds > 1 else ''}): ")
    mine = summary[summary["role"].isin([ROLE_VARIANT, ROLE_BOTH])].iloc[0]
    full = summary[summary["role"].isin([ROLE_FULL, ROLE_BOTH])].iloc[0]
    if mine["role"] == ROLE_BOTH:
        text = head + f"your setting is the full DRIVE: {_fmt_accuracy(mine)}"
    else:
        difference = mine["accuracy mean %"] - full["accuracy mean %"]
        text = (head + f"your setting, {mine['name']}: {_fmt_accuracy(mine)} vs full DRIVE: {_fmt_accuracy(full)} "
                f"({difference:+.1f} points)")
    baselines_rows = summary[summary["role"] == ROLE_BASELINE]
    if len(baselines_rows):
        text += "; baselines: " + ", ".join(f"{row['name']} {_fmt_accuracy(row)}"
                                            for _, row in baselines_rows.iterrows())
    best = summary.loc[summary["accuracy mean %"].idxmax()]
    text += f". Highest mean accuracy: {best['name']}."
    collapsed = summary[summary["collapsed layers"] != ""]
    if len(collapsed):
        text += " Layer collapse in: " + "; ".join(f"{row['name']} ({row['collapsed layers']})"
                                                   for _, row in collapsed.iterrows()) + "."
    return text
