"""The course's named sweeps, sized by a preset, with their results as committed CSV.

Each experiment is one or more ``(base RunConfig, grid)`` pairs. :func:`results` returns
its table: read from ``results/<preset>/<name>.csv`` when that file exists (produced by
``python -m drive_lab experiment NAME --preset PRESET``), else computed through the
resumable sweep store and then written there. Next to each CSV, a JSON file records the
command that produced it, the library and package versions, and the hardware.
"""
from __future__ import annotations

import datetime
import json
import os
import shlex
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .config import RunConfig
from .methods import DRIVE_VARIANTS, METHODS, baselines
from .paths import atomic_write, default_tables_dir
from . import study
from .presets import PRESETS, Preset, get_preset
from .sweep import expand_grid, run_configs

# The baselines that prune before training (by a score), in registration order.
PRUNING_BASELINES = tuple(name for name in baselines() if METHODS[name].kind in ("one-shot", "iterative"))

# DRIVE's term-weight variants in the ablation experiment: label -> RunConfig changes.
TERM_VARIANTS: dict[str, dict] = {label: DRIVE_VARIANTS[label] for label in (
    "DRIVE (full)", "without convergence", "without connection", "without magnitude", "product")}


@dataclass(frozen=True)
class Experiment:
    """A named sweep: ``plan(preset)`` returns its ``[(base_config, grid), ...]``."""

    name: str
    description: str
    plan: Callable[[Preset], list[tuple[RunConfig, dict]]]

    def configs(self, preset: Preset) -> list[RunConfig]:
        configs = [config for base, grid in self.plan(preset) for config in expand_grid(base, grid)]
        return list(dict.fromkeys(configs))  # a run listed twice (shared by two designs) runs once


def _study_question(name: str):
    build = study.QUESTIONS[name][1]

    def plan(p: Preset) -> list[tuple[RunConfig, dict]]:
        if p.study is None:
            raise ValueError(f"preset {p.name!r} has no study plan; presets with one: "
                             f"{', '.join(n for n, q in PRESETS.items() if q.study is not None)}")
        return [(config, {}) for config in build(p.run, p.study)]

    return plan


def _per_method(p: Preset, methods, grid: dict, **changes) -> list[tuple[RunConfig, dict]]:
    """One (base, grid) per method, so each method gets its own defaults (one-shot or iterative)."""
    return [(p.config(method=method, **changes), dict(grid)) for method in methods]


def _overview(p: Preset):
    one_seed = {"seed": list(p.seeds[:1])}
    return (_per_method(p, ["dense"], one_seed)
            + _per_method(p, ["drive"], {"sparsity": [p.sparsities[0], p.sparsities[-1]], **one_seed}))


def _baselines(p: Preset):
    grid = {"sparsity": sorted(set(p.sparsities) | set(p.extreme_sparsities)), "seed": list(p.seeds[:1])}
    return (_per_method(p, ["drive", *PRUNING_BASELINES], grid)
            # one-shot vs iterative: the same scores applied in N steps, or in 1
            + _per_method(p, ["snip", "magnitude"], grid, iterations=p.iterations)
            + _per_method(p, ["synflow", "drive"], grid, iterations=1))


def _ablation_terms(p: Preset):
    grid = {"sparsity": list(p.sparsities), "seed": list(p.seeds)}
    return [(p.config(method="drive", **changes), dict(grid)) for changes in TERM_VARIANTS.values()]


def _ablation_warmup(p: Preset):
    grid = {"warmup_epochs": list(p.warmup_grid), "sparsity": [p.sparsities[1], p.sparsities[-1]],
            "seed": list(p.seeds)}
    # SNIP with the same warm-up: does warm-up alone explain DRIVE's results?
    return _per_method(p, ["drive", "snip"], grid)


def _full_runs(p: Preset):
    grid = {"sparsity": list(p.full_sparsities), "seed": list(p.seeds)}
    return [pair for model in p.models
            for pair in _per_method(p, ["dense", "drive", "imp", "snip", "grasp", "synflow", "random"], grid, model=model)]


EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in [
    Experiment("overview", "dense network vs DRIVE at two sparsities", _overview),
    Experiment("baselines", "DRIVE and every one-shot baseline over the sparsity grid and at extreme sparsity; "
               "one-shot vs iterative", _baselines),
    Experiment("ablation_terms", "DRIVE without each of its terms, and the product reading, over seeds", _ablation_terms),
    Experiment("ablation_warmup", "warm-up epochs E from 0 upward, for DRIVE and for SNIP", _ablation_warmup),
    Experiment("full_runs", "DRIVE vs IMP, SNIP, GraSP, SynFlow, Random and the dense network, "
               "every model of the preset, up to at least 99% sparsity", _full_runs),
    *(Experiment(name, description, _study_question(name)) for name, (description, _) in study.QUESTIONS.items()),
]}
# ``experiment study`` runs every question of the reproduction study, each into its own table.
GROUPS: dict[str, tuple[str, ...]] = {"study": tuple(study.QUESTIONS)}


def get_experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; valid choices: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def command(name: str, preset: str | Preset | None = None) -> str:
    """The one command that regenerates an experiment's table."""
    preset = preset if isinstance(preset, Preset) else get_preset(preset)
    return f"python -m drive_lab experiment {name} --preset {preset.name} --recompute"


def table_path(name: str, preset: Preset, tables_dir: str | os.PathLike = "results") -> Path:
    return Path(tables_dir) / preset.name / f"{name}.csv"


def results(name: str, preset: str | Preset | None = None, recompute: bool = False,
            tables_dir: str | os.PathLike | None = None, results_dir: str | os.PathLike | None = None,
            executor=None, extend: bool = False):
    """The experiment's table (pandas DataFrame, one row per run; see ``load_results``).

    Reads the committed ``<tables_dir>/<preset>/<name>.csv`` when present and
    ``recompute`` is False; otherwise runs the sweep (finished runs come from the store in
    ``results_dir``) and writes the CSV and its JSON provenance. ``frame.attrs["source"]``
    says which happened. ``tables_dir`` defaults to the ``results/`` folder of the
    repository when drive_lab runs from a checkout, else ``results/`` here.

    ``extend``: keep the committed table's rows that the plan still holds and run only the
    planned runs it lacks (e.g. a network added to the study), then write the union. For when
    the run store no longer holds the table's runs; the sidecar records the extension.
    """
    experiment = get_experiment(name)
    preset = preset if isinstance(preset, Preset) else get_preset(preset)
    tables = Path(tables_dir) if tables_dir is not None else default_tables_dir()
    path = table_path(name, preset, tables)
    if extend and recompute:
        raise ValueError("extend and recompute exclude each other: extend keeps the committed rows, recompute rewrites them")
    if extend and path.exists():
        return _extended(name, preset, path, results_dir, executor)
    if path.exists() and not recompute:
        frame = _read_table(path)
        meta = _sidecar(path)
        frame.attrs["source"] = (f"{path} (committed; produced by `{meta.get('command', command(name, preset))}` "
                                 f"on {meta.get('hardware', 'unrecorded hardware')}, {meta.get('created', '')})")
        stale = _plan_difference(frame, experiment.configs(preset))
        if stale:
            # A plan changed since the table was written: say so rather than pass the old table off as the plan's.
            frame.attrs["source"] += f"; does not match the preset's plan ({stale}): rerun with --recompute"
            warnings.warn(f"{path} does not match the {preset.name} preset's plan for {name!r} ({stale}); "
                          f"`{command(name, preset)}` brings it up to date", stacklevel=2)
        return frame
    configs = experiment.configs(preset)
    if not configs:
        raise ValueError(f"experiment {name!r} has no runs on preset {preset.name!r} (its study plan leaves it out)")
    # One sweep over the whole plan: every point checked up front, every worker kept busy.
    start = time.perf_counter()
    frame = run_configs(configs, results_dir=results_dir, executor=executor, show=("method", "sparsity", "seed"))
    frame = frame.drop_duplicates("key").reset_index(drop=True)
    if preset.name != "smoke":  # smoke tables are throw-away CI output
        write_table(frame, name, preset, path, wall_seconds=time.perf_counter() - start)
        frame.attrs["source"] = f"computed now and written to {path}"
    else:
        frame.attrs["source"] = "computed now (smoke preset: not written)"
    return frame


SPOT_CHECK_COLUMNS = ("final_test_accuracy", "final_test_loss", "kept_weights")


def spot_check(name: str, preset: str | Preset | None = None, rows: int = 3, seed: int = 0,
               tables_dir: str | os.PathLike | None = None, executor=None):
    """Recompute ``rows`` runs of a committed table, drawn at random, in a fresh store, and compare.

    For a reader who wants to know whether a table's numbers come out of the code on their
    machine. Nothing is read from or written to any run store (the runs compute in a
    temporary one), and the table is not touched.

    Args:
        name, preset: the experiment and its preset (as :func:`results`).
        rows: how many of the table's runs to recompute (at most all of them).
        seed: which ones (the draw is ``random.Random(seed)`` over the table's planned keys).

    Returns:
        A DataFrame, one row per recomputed run: ``key``, ``method``, ``model``,
        ``sparsity``, ``seed``, then ``<column>_table`` and ``<column>_now`` for each of
        :data:`SPOT_CHECK_COLUMNS`, and ``identical`` (all three equal). ``attrs["hardware"]``
        names the table's and this machine's CPU kernels: on a different CPU the last bits,
        and after training small accuracy differences, are expected (method.md, "Run identity").
    """
    import random
    import tempfile

    import pandas

    from .runtime import environment, resolve_device

    preset = preset if isinstance(preset, Preset) else get_preset(preset)
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise ValueError(f"rows must be an integer >= 1, got {rows!r}")
    tables = Path(tables_dir) if tables_dir is not None else default_tables_dir()
    path = table_path(name, preset, tables)
    if not path.exists():
        raise ValueError(f"no committed table to check at {path}; `{command(name, preset)}` writes it")
    table = _read_table(path).drop_duplicates("key").set_index("key")
    planned = {c.key(): c for c in get_experiment(name).configs(preset)}
    keys = sorted(set(table.index) & set(planned))
    if not keys:
        raise ValueError(f"{path} holds none of the {preset.name} preset's planned runs for {name!r}")
    chosen = random.Random(seed).sample(keys, min(rows, len(keys)))
    with tempfile.TemporaryDirectory(prefix="drive_lab_spot_check_") as store:
        now = run_configs([planned[k] for k in chosen], results_dir=store, executor=executor,
                          show=("method", "sparsity", "seed")).drop_duplicates("key").set_index("key")
    out = []
    for key in chosen:
        row = {"key": key, **{f: table.at[key, f] for f in ("method", "model", "sparsity", "seed")}}
        for column in SPOT_CHECK_COLUMNS:
            row[f"{column}_table"], row[f"{column}_now"] = table.at[key, column], now.at[key, column]
        row["identical"] = all(row[f"{c}_table"] == row[f"{c}_now"] for c in SPOT_CHECK_COLUMNS)
        out.append(row)
    frame = pandas.DataFrame(out)
    meta = _sidecar(path)
    env = environment(resolve_device("auto"))
    frame.attrs["hardware"] = (f"table: {meta.get('hardware', 'unrecorded')}; now: {env['processor']} "
                               f"({env['cpu_model']}, {env['cpu_capability']}), {env['cpu_count']} CPU cores")
    return frame


def _sidecar(path: Path) -> dict:
    """The JSON provenance written beside a table's CSV (``{}`` when there is none)."""
    meta = path.with_suffix(".json")
    return json.loads(meta.read_text()) if meta.exists() else {}


def _read_table(path: Path):
    import pandas

    frame = pandas.read_csv(path, keep_default_na=False, na_values=[""])
    frame["collapsed_layers"] = frame["collapsed_layers"].astype(object).fillna("")
    if "layer_density" in frame:  # stored as JSON text in the CSV
        frame["layer_density"] = frame["layer_density"].map(json.loads)
    return frame


def _extended(name: str, preset: Preset, path: Path, results_dir, executor):
    """The committed table's planned rows plus the planned runs it lacks (see :func:`results`)."""
    import pandas

    configs = get_experiment(name).configs(preset)
    old = _read_table(path)
    planned = {c.key() for c in configs}
    kept = old[old["key"].isin(planned)]
    todo = [c for c in configs if c.key() not in set(kept["key"])]
    previous = _sidecar(path)
    start = time.perf_counter()
    frame = kept
    if todo:
        new = run_configs(todo, results_dir=results_dir, executor=executor, show=("model", "method", "sparsity", "seed"))
        frame = pandas.concat([kept, new[kept.columns.intersection(new.columns)]], ignore_index=True)
    frame = frame.drop_duplicates("key").reset_index(drop=True)
    wall = (previous.get("wall_seconds") or 0) + time.perf_counter() - start
    write_table(frame, name, preset, path, wall_seconds=wall,
                extended={"previous_created": previous.get("created"), "rows_kept": int(len(kept)),
                          "rows_added": int(len(frame) - len(kept)), "rows_dropped": int(len(old) - len(kept))})
    frame.attrs["source"] = f"extended by {len(frame) - len(kept)} runs and written to {path}"
    return frame


def _plan_difference(frame, configs) -> str:
    """'' when the table holds exactly the plan's runs, else how many runs it lacks and has extra."""
    planned = {c.key() for c in configs}
    held = set(frame["key"]) if "key" in frame else set()
    missing, extra = len(planned - held), len(held - planned)
    parts = ([f"{missing} planned runs missing"] if missing else []) + ([f"{extra} runs not in the plan"] if extra else [])
    return ", ".join(parts)


def _integer_fields() -> list[str]:
    import dataclasses
    import typing

    hints = typing.get_type_hints(RunConfig)
    return [f.name for f in dataclasses.fields(RunConfig)
            if int in (typing.get_args(hints[f.name]) or (hints[f.name],)) and hints[f.name] is not bool]


def write_table(frame, name: str, preset: Preset, path: Path | str, wall_seconds: float | None = None,
                extended: dict | None = None) -> None:
    """CSV (without the per-layer dicts) plus a JSON sidecar with command, versions and hardware.

    The sidecar also records ``wall_seconds`` (this invocation, runs found in the store
    cost nothing) and ``run_seconds`` (the sum of every run's own total time, what the
    table costs from scratch on one worker). ``extended``: how an ``extend`` invocation
    changed the committed table (its ``wall_seconds`` then adds this invocation's to the
    previous ones).
    """
    from .runtime import environment, resolve_device, source_revision

    import pandas as pd

    path = Path(path)
    table = frame.copy()
    # Integer settings stay integers in the CSV even where a column also holds None (a
    # float column would write 2000 as 2000.0, which no longer parses as the setting).
    for column in _integer_fields():
        if column in table:
            table[column] = pd.to_numeric(table[column]).astype("Int64")
    if "layer_density" in table:
        table["layer_density"] = table["layer_density"].map(lambda d: json.dumps(d, separators=(",", ":")))
    with atomic_write(path) as stream:
        table.to_csv(stream, index=False)
    devices = sorted(set(frame["device"].astype(str))) if "device" in frame else []
    env = environment(resolve_device("auto"))
    meta = {
        "experiment": name,
        "description": get_experiment(name).description,
        "preset": preset.to_dict(),
        "command": command(name, preset),
        "invoked_as": " ".join(shlex.quote(a) for a in sys.argv),
        "runs": int(len(frame)),
        "devices": devices,
        "hardware": f"{env['processor']}" + (f" ({env['cpu_model']}, {env['cpu_capability']})" if "cpu_model" in env else "")
                    + f", {env['cpu_count']} CPU cores" + (f", {env['gpu']}" if "gpu" in env else ""),
        "environment": env,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "source_revision": source_revision(),
        "wall_seconds": None if wall_seconds is None else round(wall_seconds, 1),
        "run_seconds": round(float(frame["seconds_total"].sum()), 1) if "seconds_total" in frame else None,
    }
    if extended is not None:
        meta["extended"] = extended
    with atomic_write(path.with_suffix(".json")) as stream:
        stream.write(json.dumps(meta, indent=1) + "\n")
