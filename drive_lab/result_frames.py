"""Stored runs as one pandas DataFrame: one row per run, config fields and outcomes as columns.

::

    from drive_lab import load_results
    frame = load_results()                 # every run in the store
    frame.groupby(["method", "sparsity"]).final_test_accuracy.mean()
"""
from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Iterable

from .config import RunConfig
from .results import RunResult
from .store import ResultStore

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
