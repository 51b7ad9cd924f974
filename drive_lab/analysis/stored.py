"""Look-up of the stored ``RunResult`` records behind a result table's rows."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..paths import RESULTS_ENV_VAR, RESULTS_FOLDER, default_tables_dir
from ..results import RunResult

__all__ = ["stored_results"]


def stored_results(frame: pd.DataFrame, results_dir: str | os.PathLike | None = None) -> list[RunResult]:
    """The full ``RunResult`` records (with training and pruning histories) of a frame's runs.

    A result table (e.g. from :func:`drive_lab.experiments.results`) holds one row per
    run but not its per-epoch histories; those live in the result store, one JSON record
    per run key. Nothing is computed here: runs without a readable record are skipped.

    Args:
        frame: result frame with a ``key`` column.
        results_dir: the store's folder. Default: look in ``$DRIVE_LAB_RESULTS``, then the
            ``results/`` folder of the source checkout, then ``./results``; the first
            record found for a key is used.

    Returns:
        The records found, in the frame's row order (possibly fewer than its rows).
    """
    from ..store import ResultStore  # the store layer imports the pipeline: only when needed

    if results_dir is not None:
        roots = [Path(results_dir)]
    else:
        roots = [Path(p) for p in (os.environ.get(RESULTS_ENV_VAR), default_tables_dir(), RESULTS_FOLDER) if p]
    stores = [ResultStore(root) for root in dict.fromkeys(roots)]
    found = []
    for key in frame["key"]:
        for store in stores:
            path = store.path(str(key))
            if not path.is_file():
                continue
            try:
                result = RunResult.load(path)
            except (OSError, ValueError, TypeError):  # unreadable record: treat as missing
                continue
            if result.key == key:
                found.append(result)
                break
    return found
