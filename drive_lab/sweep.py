"""Grids of runs that resume where they stopped, and all results as one DataFrame.

::

    from drive_lab import RunConfig
    from drive_lab.sweep import sweep

    df = sweep(RunConfig(epochs=5), {"method": ["drive", "snip"], "sparsity": [0.5, 0.9], "seed": [0, 1, 2]})
    df.groupby(["method", "sparsity"]).final_test_accuracy.mean()

Every finished run is stored at once (:class:`~drive_lab.store.ResultStore`), so a sweep
that was interrupted — Ctrl-C, a killed kernel, a crash — picks up where it stopped when
called again, and a sweep that already finished computes nothing.
"""
from __future__ import annotations

import dataclasses
import itertools
import os
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from .config import RunConfig, parse_value  # noqa: F401  (parse_value: re-exported, it lived here)
from .pipeline import procedure
from .progress import progress
from .results import RunResult
from .store import ResultStore, Runner

if TYPE_CHECKING:
    import pandas

SECONDS = ("warmup", "scoring", "rounds", "pruning", "training", "total")
# The config field ``device`` (the device asked for) becomes this column; ``device`` is the one used.
REQUESTED_DEVICE = "requested_device"
CONFIG_COLUMNS = tuple(REQUESTED_DEVICE if f.name == "device" else f.name for f in dataclasses.fields(RunConfig))
RESULT_COLUMNS = (
    "final_test_accuracy", "best_test_accuracy", "final_test_loss", "density", "sparsity_achieved",
    "kept_weights", "prunable_weights", "collapsed_layers", "n_collapsed", "layer_density",
    *(f"seconds_{phase}" for phase in SECONDS), "device", "version", "created",
)
COLUMNS = ("key", *CONFIG_COLUMNS, *RESULT_COLUMNS)


def _field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(RunConfig)]


def _hints() -> dict:
    return typing.get_type_hints(RunConfig)


def expand_grid(base: RunConfig | None, grid: dict[str, Iterable]) -> list[RunConfig]:
    """Every combination of ``grid``'s values applied to ``base`` (cartesian product).

    Order is stable: the grid's fields in the order given, the last one varying fastest.
    A value that is a string or not iterable counts as a one-value list. Integers given
    for float fields are stored as floats (``lr=1`` and ``lr=1.0`` are one run). Repeated
    combinations appear once. Every config is validated here, before anything runs:
    unknown fields, empty value lists and invalid values raise ``ValueError``.
    """
    base = RunConfig() if base is None else base
    if not isinstance(grid, dict):
        raise ValueError(f"grid must be a dict of field -> list of values, got {type(grid).__name__}")
    names = _field_names()
    unknown = [name for name in grid if name not in names]
    if unknown:
        raise ValueError(f"unknown RunConfig field(s) in grid: {', '.join(map(str, unknown))}; "
                         f"valid fields: {', '.join(names)}")
    hints = _hints()
    axes = []
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            values = [values]
        values = list(values)
        if not values:
            raise ValueError(f"grid field {name!r} has no values; give at least one")
        if hints[name] is float:
            values = [float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in values]
        axes.append(values)
    configs: list[RunConfig] = []
    seen: set[RunConfig] = set()
    for combination in itertools.product(*axes):
        changes = dict(zip(grid, combination))
        try:
            config = base.replace(**changes)
        except (TypeError, ValueError) as error:
            raise ValueError(f"invalid grid point {changes}: {error}") from None
        if config not in seen:
            seen.add(config)
            configs.append(config)
    return configs


def sweep(base_config: RunConfig | None = None, grid: dict[str, Iterable] | None = None,
          results_dir: str | os.PathLike | None = None, runner: Runner | None = None) -> "pandas.DataFrame":
    """Run every config of the grid that is not stored yet; return their results, one row each.

    ``results_dir``: where records live (default ``$DRIVE_LAB_RESULTS``, else ``results/``);
    ``runner``: ``config -> RunResult`` (default :func:`drive_lab.run`). Configs that are
    the same run (same key, e.g. ``warmup_epochs=None`` and the method's default) run once
    and give one row. If a run raises (or Ctrl-C), the sweep stops with that error and the
    runs finished so far stay stored: call ``sweep`` again to resume.

    The DataFrame has the columns of :func:`load_results`, rows in grid order;
    ``df.attrs`` holds ``computed`` and ``cached`` (how many runs were computed or reused)
    and ``results_dir``.
    """
    configs = expand_grid(base_config, grid or {})
    store = ResultStore(results_dir)
    unique: dict[str, RunConfig] = {}
    for config in configs:
        unique.setdefault(config.key(), config)
    results: dict[str, RunResult] = {}
    todo = []
    for key, config in unique.items():
        stored = store.get(config)
        if stored is None:
            todo.append(config)
        else:
            results[key] = stored
    cached, computed = len(results), 0
    varied = [name for name in (grid or {}) if len({getattr(c, name) for c in configs}) > 1]
    if todo:
        bar = progress(total=len(todo), desc=f"sweep ({cached} cached, {len(todo)} to run)", unit="run", leave=True)
        try:
            for config in todo:
                if config.key() in results:  # computed with its IMP siblings
                    continue
                bar.set_postfix_str(", ".join(f"{name}={getattr(config, name)}" for name in varied), refresh=True)
                run_grid = procedure(config.method).run_grid if runner is None else None
                siblings = _sparsity_siblings(config, todo, results) if run_grid else []
                if len(siblings) > 1:
                    # One trajectory serves every sparsity of the grid (IMP, method.md).
                    for sibling, result in zip(siblings, run_grid(config, [c.sparsity for c in siblings])):
                        store.put(result)
                        results[sibling.key()] = result
                        computed += 1
                        bar.update()
                    continue
                result, was_computed = store.get_or_run(config, runner)  # rechecks: a parallel sweep may have done it
                results[config.key()] = result
                computed += was_computed
                cached += not was_computed
                bar.update()
        except BaseException as error:
            if hasattr(error, "add_note"):
                error.add_note(f"sweep stopped after {computed} new run(s); {len(results)} of {len(unique)} are stored "
                               f"in {store.runs_dir}; call sweep again with the same grid to resume")
            raise
        finally:
            bar.close()
    frame = results_frame(results[key] for key in unique)
    frame.attrs.update(computed=computed, cached=cached, results_dir=str(store.root))
    return frame


def _sparsity_siblings(config: RunConfig, todo: list[RunConfig], done: dict) -> list[RunConfig]:
    """The configs still to run that differ from ``config`` only in sparsity (``config`` first)."""
    identity = config.replace(sparsity=0.5).key()
    return [c for c in todo if c.key() not in done and c.replace(sparsity=0.5).key() == identity]


def load_results(results_dir: str | os.PathLike | None = None) -> "pandas.DataFrame":
    """All stored runs as a DataFrame, one row per run, oldest first.

    Columns: ``key``; every RunConfig field (the field ``device`` as ``requested_device``);
    ``final_test_accuracy``, ``best_test_accuracy``, ``final_test_loss``, ``density``,
    ``sparsity_achieved``, ``kept_weights``, ``prunable_weights``, ``collapsed_layers``
    (comma-joined, ``""`` if none), ``n_collapsed``, ``layer_density`` (dicts),
    ``seconds_warmup`` … ``seconds_total``, ``device`` (GPU name, else the torch device
    used), ``version`` (drive_lab version that computed the run) and ``created``.
    """
    frame = results_frame(ResultStore(results_dir).records())
    if len(frame):
        frame = frame.sort_values(["created", "key"], kind="stable").reset_index(drop=True)
    return frame


def results_frame(results: Iterable[RunResult]) -> "pandas.DataFrame":
    """The :func:`load_results` DataFrame of the given results, in their order."""
    import pandas

    rows = [_row(result) for result in results]
    if not rows:
        return pandas.DataFrame({name: pandas.Series(dtype=object) for name in COLUMNS})
    extra = [name for row in rows for name in row if name not in COLUMNS]  # config fields of other versions
    columns = list(COLUMNS) + list(dict.fromkeys(extra))
    return pandas.DataFrame(rows, columns=columns)


def _row(result: RunResult) -> dict:
    row: dict = {"key": result.key}
    for name, value in result.config.items():
        row[REQUESTED_DEVICE if name == "device" else name] = value
    env = result.environment
    row.update(
        final_test_accuracy=result.final_test_accuracy,
        best_test_accuracy=result.best_test_accuracy,
        final_test_loss=result.final_test_loss,
        density=result.density,
        sparsity_achieved=1.0 - result.density,
        kept_weights=result.kept_weights,
        prunable_weights=result.prunable_weights,
        collapsed_layers=",".join(result.collapsed_layers),
        n_collapsed=len(result.collapsed_layers),
        layer_density=dict(result.layer_density),
        **{f"seconds_{phase}": result.seconds.get(phase, float("nan")) for phase in SECONDS},
        device=env.get("gpu", env.get("device")),
        version=env.get("drive_lab"),
        created=result.created,
    )
    return row
