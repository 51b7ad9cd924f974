"""``ResultStore``: finished runs on disk, addressed by the content hash of their config.

A run's record lives at ``<results dir>/runs/<config.key()>.json`` — the same file
``python -m drive_lab run`` writes — so any run already computed, by the command line,
a notebook or an earlier (perhaps interrupted) sweep, is found again instead of rerun::

    store = ResultStore("results")
    result, computed = store.get_or_run(RunConfig(sparsity=0.95))

Records are written atomically (temporary file + rename), so a killed writer leaves at
most a hidden ``.<key>.json.tmp-<pid>`` file, which is ignored. A record that cannot be
trusted (invalid JSON, missing fields, or a config whose key does not match the file
name) is reported with a warning and moved to ``runs/corrupt/`` — never deleted — and
the run counts as missing, so it is computed again.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import math
import os
import re
import time
import warnings
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from filelock import FileLock

from .config import RunConfig
from .paths import RESULTS_FOLDER as DEFAULT_RESULTS_DIR
from .paths import check_writable_file, default_results_dir
from . import pipeline
from .results import RunResult
from .version import __version__

_KEY_NAME = re.compile(r"^[0-9a-f]{16}\.json$")
_TEMP_NAME = re.compile(r"^\..+\.tmp-\d+$")
STALE_TEMP_SECONDS = 3600.0  # a record is written in well under a second; older temp files are orphans

Runner = Callable[[RunConfig], RunResult]


class CorruptRecord(ValueError):
    """A stored record that cannot be trusted; the message says why."""


class ResultStore:
    """Finished runs under ``<results_dir>/runs/``, one JSON file per ``config.key()``.

    ``results_dir``: the folder; default ``$DRIVE_LAB_RESULTS``, else ``results/``.
    """

    def __init__(self, results_dir: str | os.PathLike | None = None) -> None:
        self.root = Path(results_dir) if results_dir else default_results_dir()

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def locks_dir(self) -> Path:
        return self.runs_dir / ".locks"

    @property
    def corrupt_dir(self) -> Path:
        return self.runs_dir / "corrupt"

    def __repr__(self) -> str:
        return f"ResultStore({str(self.root)!r})"

    def check_writable(self) -> None:
        """``ValueError`` unless records can be written here (a read-only folder, a file
        where the folder should be, a path too long); call it before computing anything."""
        check_writable_file(self.path("0" * 16), f"results folder {self.root}:")

    def path(self, config: RunConfig | str) -> Path:
        """Where the record of ``config`` (or of a key) lives, whether or not it exists."""
        key = config if isinstance(config, str) else config.key()
        return self.runs_dir / f"{key}.json"

    # ------------------------------------------------------------------ reading
    def get(self, config: RunConfig) -> RunResult | None:
        """The stored result of ``config``; ``None`` when missing or corrupt (corrupt: warned, moved aside)."""
        path = self.path(config)
        try:
            return _check(path, _read(path), expected_key=config.key())
        except (FileNotFoundError, NotADirectoryError):  # not stored (or no store here yet)
            return None
        except CorruptRecord as problem:
            self._quarantine(path, problem)
            return None
        except OSError as error:  # e.g. a path too long, no permission to read
            raise ValueError(f"cannot read the results folder {self.root} ({error.strerror or error}); "
                             "choose another results folder") from None

    def __contains__(self, config: RunConfig) -> bool:
        return self.get(config) is not None

    def records(self) -> Iterator[RunResult]:
        """Every valid stored result, in file-name order.

        Hidden temporary files of interrupted writers are skipped (and removed once older
        than an hour); JSON files not named like a key are not records and are skipped;
        corrupt records are warned about and moved aside. Intact records written by another
        library version (their key no longer matches their config) are kept and included:
        ``environment["drive_lab"]`` says which version computed them.
        """
        if not self.runs_dir.is_dir():
            return
        self.clean_temp_files()
        for path in sorted(self.runs_dir.glob("*.json")):
            if not _KEY_NAME.match(path.name) or not path.is_file():
                continue
            try:
                yield _check(path, _read(path), expected_key=None)
            except FileNotFoundError:  # removed meanwhile
                continue
            except CorruptRecord as problem:
                self._quarantine(path, problem)

    def __iter__(self) -> Iterator[RunResult]:
        return self.records()

    def clean_temp_files(self, older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
        """Remove temporary files of killed writers older than ``older_than`` seconds; return them."""
        removed = []
        if not self.runs_dir.is_dir():
            return removed
        now = time.time()
        for path in self.runs_dir.iterdir():
            if not _TEMP_NAME.match(path.name):
                continue
            try:
                if now - path.stat().st_mtime > older_than:
                    path.unlink()
                    removed.append(path)
            except OSError:  # another process got there first, or no permission: leave it
                pass
        return removed

    # ------------------------------------------------------------------ writing
    def put(self, result: RunResult) -> Path:
        """Store ``result`` atomically at ``runs/<result.key>.json``; return the path.

        Raises ``ValueError`` when ``result.key`` is not the key of ``result.config``
        (such a record could never be found again).
        """
        try:
            expected = RunConfig.from_dict(result.config).key()
        except (TypeError, ValueError) as error:
            raise ValueError(f"result.config is not a valid RunConfig: {error}") from error
        if result.key != expected:
            raise ValueError(f"result.key {result.key!r} is not the key of its config ({expected!r})")
        path = self.path(result.key)
        return result.save(path)  # atomic: a failed write leaves no fragment

    def get_or_run(self, config: RunConfig, runner: Runner | None = None) -> tuple[RunResult, bool]:
        """``(result, computed)``: the stored result of ``config``, else ``runner(config)``, stored.

        ``runner`` defaults to :func:`drive_lab.pipeline.run`. ``computed`` is ``True`` when
        the runner was called. The run is claimed first (:meth:`claim`): a second process
        asking for the same config waits for the first one's result instead of computing it.
        """
        results, computed = self.get_or_run_many([config], lambda missing: [(runner or pipeline.run)(missing[0])])
        return results[0], bool(computed)

    def get_or_run_many(self, configs: Sequence[RunConfig],
                        compute: Callable[[list[RunConfig]], list[RunResult]]) -> tuple[list[RunResult], int]:
        """``(results, computed)`` for ``configs``: stored ones are read, the missing ones
        computed together by ``compute(missing) -> results`` (e.g. one IMP trajectory for
        several sparsities) and stored; all under the claim of every key."""
        with self.claim(config.key() for config in configs):
            found = {config.key(): self.get(config) for config in configs}
            missing = [config for config in configs if found[config.key()] is None]
            if missing:
                for config, result in zip(missing, compute(missing), strict=True):
                    if result.key != config.key():
                        raise ValueError(f"the runner returned a result with key {result.key!r} "
                                         f"for config key {config.key()!r}")
                    self.put(result)
                    found[config.key()] = result
        return [found[config.key()] for config in configs], len(missing)

    @contextlib.contextmanager
    def claim(self, keys: Iterable[str]) -> Iterator[None]:
        """Hold the per-key locks of ``keys`` for the block (a process waits while another holds one).

        The locks are OS file locks (``filelock``) under ``runs/.locks/``: one left by a
        killed process is released by the OS with the process, so nothing blocks forever.
        Keys are locked in sorted order, so two claims never wait on each other in a cycle.
        """
        self.locks_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            for key in sorted(set(keys)):
                stack.enter_context(FileLock(self.locks_dir / f"{key}.lock"))
            yield

    # ------------------------------------------------------------------ helpers
    def _quarantine(self, path: Path, problem: CorruptRecord) -> Path | None:
        """Move a corrupt record to ``runs/corrupt/<name>.<timestamp>`` and warn."""
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        target = self.corrupt_dir / f"{path.name}.{stamp}"
        try:
            self.corrupt_dir.mkdir(parents=True, exist_ok=True)
            n = 1
            while target.exists():
                target = self.corrupt_dir / f"{path.name}.{stamp}-{n}"
                n += 1
            os.replace(path, target)
        except FileNotFoundError:  # another process moved it already
            return None
        except OSError as error:  # a read-only store: leave the record, skip it, say so
            warnings.warn(f"corrupt result record {path}: {problem}; it could not be moved to {self.corrupt_dir} "
                          f"({error.strerror or error}), so it stays and is skipped", stacklevel=3)
            return None
        warnings.warn(f"corrupt result record {path}: {problem}; moved to {target}, the run will be recomputed",
                      stacklevel=3)
        return target


def _read(path: Path) -> dict:
    """The JSON object in ``path``; ``CorruptRecord`` for anything that is not one
    (not UTF-8, invalid or too deeply nested JSON, another JSON value)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as error:
        raise CorruptRecord(f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    except IsADirectoryError:
        raise CorruptRecord("a folder, not a record") from None
    try:
        values = json.loads(text)  # records of 0.1.0 may hold NaN in their histories: accepted when read
    except RecursionError:
        raise CorruptRecord("JSON nested too deeply to be a record") from None
    except ValueError as error:  # JSONDecodeError and any other decoder complaint
        raise CorruptRecord(f"invalid JSON ({error})") from None
    if not isinstance(values, dict):
        raise CorruptRecord(f"expected a JSON object, found {type(values).__name__}")
    return values


_FINITE_FIELDS = ("final_test_accuracy", "best_test_accuracy", "final_test_loss", "density")
_CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(RunConfig))
_FIELD_TYPES = {
    "key": str, "config": dict, "final_test_accuracy": (int, float), "best_test_accuracy": (int, float),
    "final_test_loss": (int, float), "density": (int, float), "kept_weights": int, "prunable_weights": int,
    "layer_density": dict, "collapsed_layers": list, "seconds": dict, "environment": dict,
}


def _check(path: Path, values: dict, expected_key: str | None) -> RunResult:
    """A ``RunResult`` from a record's JSON, or ``CorruptRecord`` saying what is wrong.

    ``expected_key``: the key the caller looks for (a mismatch is corruption even for a
    record from another library version).
    """
    try:
        result = RunResult.from_dict(values)  # fields a newer version added are ignored
    except TypeError as error:  # missing fields
        raise CorruptRecord(f"not a RunResult record ({error})") from None
    for name, kind in _FIELD_TYPES.items():
        value = getattr(result, name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise CorruptRecord(f"field {name!r} has a {type(value).__name__}, expected {kind}")
    for name in _FINITE_FIELDS:
        if not math.isfinite(getattr(result, name)):
            raise CorruptRecord(f"field {name!r} is {getattr(result, name)}, not a finite number (a diverged run)")
    stem = path.name[: -len(".json")]
    if result.key != stem:
        raise CorruptRecord(f"its key {result.key!r} does not match the file name")
    newer_fields = sorted(set(result.config) - _CONFIG_FIELDS)
    if newer_fields:
        # Written by a newer drive_lab whose config has fields this one lacks: keep it as
        # it is, under the key that version gave it (store.py never rewrites such records).
        return result
    try:
        config_key = RunConfig.from_dict(result.config).key()
    except (TypeError, ValueError) as error:
        config_key, config_problem = None, f"its config is not valid here ({error})"
    else:
        config_problem = f"its config has key {config_key!r}, not the file name's"
    if config_key == stem:
        return result
    if expected_key is None and _other_version(result):
        return result  # an intact record of another library version: not ours to judge
    raise CorruptRecord(config_problem)


def _other_version(result: RunResult) -> bool:
    recorded = result.environment.get("drive_lab")
    return recorded is not None and recorded != __version__
