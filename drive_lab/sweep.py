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

import concurrent.futures
import contextlib
import dataclasses
import itertools
import os
import time
import typing
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Iterable, Iterator

from . import pipeline
from .config import RunConfig, parse_value  # noqa: F401  (parse_value: re-exported, it lived here)
from .phases import check_run
from .pipeline import procedure
from .progress import logging_lines, progress, progress_disabled
from .result_frames import COLUMNS, REQUESTED_DEVICE, load_results, results_frame  # noqa: F401  (re-exported)
from .results import RunResult
from .store import ResultStore, Runner

POLL_SECONDS = 0.5  # how often futures without as_completed support are polled

if TYPE_CHECKING:
    import pandas

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
          results_dir: str | os.PathLike | None = None, runner: Runner | None = None,
          executor: Executor | None = None, check: bool = True) -> "pandas.DataFrame":
    """Run every config of the grid that is not stored yet; return their results, one row each.

    Args:
        base_config, grid: the runs, as in :func:`expand_grid`.
        results_dir: where records live (default ``$DRIVE_LAB_RESULTS``, else ``results/``).
        runner: ``config -> RunResult`` (default :func:`drive_lab.run`); a custom runner
            runs every config on its own (no shared IMP trajectories).
        executor: any ``concurrent.futures.Executor``-style object (``submit(fn, *args)``
            returning a future with ``result()``): a local process pool
            (:func:`local_executor`, ``--jobs N``), a Dask ``Client.get_executor()``
            (:func:`dask_executor`, ``--dask ADDRESS``), a submitit executor (SLURM). The
            workers write to the same store; ``None`` computes here, one run at a time.
        check: check every point of the grid (model/input fit, data presence and sizes,
            devices) and the store's writability before computing the first run.

    Configs that are the same run (same key, e.g. ``warmup_epochs=None`` and the method's
    default) run once and give one row. Each run is claimed in the store before it is
    computed, so overlapping sweeps never compute a run twice. If a run raises (or Ctrl-C),
    the sweep stops with that error and the runs finished so far stay stored: call
    ``sweep`` again to resume.

    The DataFrame has the columns of :func:`load_results`, rows in grid order;
    ``df.attrs`` holds ``computed`` and ``cached`` (how many runs were computed or reused)
    and ``results_dir``.
    """
    configs = expand_grid(base_config, grid or {})
    varied = [name for name in (grid or {}) if len({getattr(c, name) for c in configs}) > 1]
    return run_configs(configs, results_dir, runner, executor, check, show=varied)


def run_configs(configs: Iterable[RunConfig], results_dir: str | os.PathLike | None = None,
                runner: Runner | None = None, executor: Executor | None = None, check: bool = True,
                show: Iterable[str] = ()) -> "pandas.DataFrame":
    """:func:`sweep` over an explicit list of configs (e.g. several grids at once, so an
    executor keeps every worker busy); ``show``: config fields named in the progress line."""
    configs = list(configs)
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
    if todo:
        if check:
            check_configs(todo)
        store.check_writable()
        units = work_units(todo, shared_trajectories=runner is None)
        varied = list(show)
        bar = progress(total=len(todo), desc=f"sweep ({cached} cached, {len(todo)} to run)", unit="run", leave=True,
                       log_each=True)
        # In a log, one line per finished run: the runs' own phase lines are left out.
        quiet_runs = progress_disabled() if logging_lines() else contextlib.nullcontext()
        try:
            with quiet_runs:
                for unit, (unit_results, unit_computed) in _execute_reporting(units, store, runner, executor,
                                                                              bar, varied):
                    for config, result in zip(unit, unit_results):
                        results[config.key()] = result
                    computed += unit_computed
                    cached += len(unit) - unit_computed
        except BaseException as error:
            stored_now = sum(1 for config in unique.values() if store.path(config).exists())
            if hasattr(error, "add_note"):
                error.add_note(f"sweep stopped after {computed} new run(s); {stored_now} of {len(unique)} runs are "
                               f"stored in {store.runs_dir}; call sweep again with the same grid to resume")
            raise
        finally:
            bar.close()
    frame = results_frame(results[key] for key in unique)
    frame.attrs.update(computed=computed, cached=cached, results_dir=str(store.root))
    return frame


def work_units(todo: list[RunConfig], shared_trajectories: bool = True) -> list[list[RunConfig]]:
    """``todo`` split into the groups computed together: the configs one trajectory serves
    (IMP: its sparsities and after-pruning sanity checks) when the method's procedure has a
    grid runner, else one run each."""
    units, placed = [], set()
    for config in todo:
        if config.key() in placed:
            continue
        unit = [config]
        if shared_trajectories and procedure(config.method).run_grid is not None:
            unit = _trajectory_siblings(config, todo, placed)
        placed.update(c.key() for c in unit)
        units.append(unit)
    return units


def _trajectory_siblings(config: RunConfig, todo: list[RunConfig], placed: set) -> list[RunConfig]:
    """The configs still to run on ``config``'s trajectory (``config`` first)."""
    identity_of = procedure(config.method).grid_identity
    identity = identity_of(config)
    return [c for c in todo if c.key() not in placed and c.method == config.method and identity_of(c) == identity]


def compute_unit(unit: list[RunConfig], results_dir: str, runner: Runner | None = None) -> tuple[list[RunResult], int]:
    """Compute (or read, if another process stored them meanwhile) one work unit's runs and
    store them; returns ``(results, computed)``. Runs in a worker process or here."""
    store = ResultStore(results_dir)
    if len(unit) > 1:
        return store.get_or_run_many(unit, pipeline.run_grid)
    return store.get_or_run_many(unit, lambda missing: [(runner or pipeline.run)(missing[0])])


def compute_unit_quietly(unit: list[RunConfig], results_dir: str, runner: Runner | None = None):
    """:func:`compute_unit` without progress output: what an executor's worker runs (the
    parent reports each finished run; a Dask worker's log would otherwise fill with bars)."""
    from .progress import progress_disabled

    with progress_disabled():
        return compute_unit(unit, results_dir, runner)


def _execute(units, store: ResultStore, runner, executor) -> Iterator[tuple[list[RunConfig], tuple]]:
    """``(unit, (results, computed))`` for every unit, in the order they finish."""
    if executor is None:
        for unit in units:
            yield unit, compute_unit(unit, str(store.root), runner)
        return
    futures = [(executor.submit(compute_unit_quietly, unit, str(store.root), runner), unit) for unit in units]
    try:
        for future, unit in _as_completed(futures):
            yield unit, future.result()
    finally:
        for future, _ in futures:
            future.cancel()  # on error or Ctrl-C: queued runs never start; finished ones stay stored


def _execute_reporting(units, store, runner, executor, bar, varied) -> Iterator[tuple]:
    """:func:`_execute`, advancing ``bar`` as each unit finishes."""
    for unit, outcome in _execute(units, store, runner, executor):
        bar.set_postfix_str(", ".join(f"{name}={getattr(unit[-1], name)}" for name in varied), refresh=False)
        bar.update(len(unit))
        yield unit, outcome


def _as_completed(futures: list[tuple]) -> Iterator[tuple]:
    """The ``(future, unit)`` pairs as their futures finish: ``concurrent.futures`` futures
    through ``as_completed``, any other kind (submitit jobs) by polling ``done()``."""
    if all(isinstance(future, concurrent.futures.Future) for future, _ in futures):
        unit_of = {future: unit for future, unit in futures}
        for future in concurrent.futures.as_completed(unit_of):
            yield future, unit_of[future]
        return
    pending = list(futures)
    while pending:
        finished = [pair for pair in pending if pair[0].done()]
        for pair in finished:
            pending.remove(pair)
            yield pair
        if not finished:
            time.sleep(POLL_SECONDS)


def check_configs(configs: Iterable[RunConfig]) -> None:
    """``ValueError`` listing every config that cannot run (model/input fit, data presence
    and sizes, device), checked before anything is computed; each distinct check runs once."""
    problems: dict[str, list[str]] = {}
    seen: dict[tuple, str | None] = {}
    for config in configs:
        resolved = config.resolved()
        identity = (resolved.model, resolved.dataset, resolved.data_root, resolved.download, resolved.subset,
                    resolved.test_subset, resolved.device)
        if identity not in seen:
            try:
                check_run(resolved)
                seen[identity] = None
            except (ValueError, TypeError, OSError) as error:
                seen[identity] = " ".join(str(error).split())  # one line, the remedy kept
        if seen[identity] is not None:
            point = f"model={resolved.model}, dataset={resolved.dataset}"
            point += "".join(f", {name}={getattr(resolved, name)}" for name in ("subset", "test_subset", "device")
                             if getattr(resolved, name) != getattr(RunConfig, name, None))
            problems.setdefault(seen[identity], []).append(point)
    if problems:
        lines = [f"{len(points)} grid point(s) cannot run ({'; '.join(dict.fromkeys(points))}): {problem}"
                 for problem, points in problems.items()]
        raise ValueError("nothing was computed: " + " | ".join(lines))


