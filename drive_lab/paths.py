"""Where drive_lab keeps things on disk, and the one way it writes a file.

- the run store: ``$DRIVE_LAB_RESULTS``, else the checkout's ``results/`` (so notebooks,
  run from ``notebooks/``, share the repository's store), else ``./results``;
- committed experiment tables: the checkout's ``results/<preset>/``, whatever
  ``$DRIVE_LAB_RESULTS`` says;
- data sets: ``$DRIVE_LAB_DATA``, else ``./data`` (see :mod:`drive_lab.data`).

:func:`atomic_write` writes through a hidden temporary file in the same folder and a
rename, so a reader never sees half a file and a killed writer leaves at most a
``.<name>.tmp-<pid>`` fragment (which the store cleans up).
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO, Callable, Iterator

RESULTS_ENV_VAR = "DRIVE_LAB_RESULTS"
DATA_ENV_VAR = "DRIVE_LAB_DATA"
RESULTS_FOLDER = "results"
DEFAULT_DATA_ROOT = Path("./data")


def checkout_root() -> Path | None:
    """The source checkout drive_lab is imported from (the folder with ``pyproject.toml``), else ``None``."""
    root = Path(__file__).resolve().parents[1]
    if (root / "pyproject.toml").exists() and (root / "drive_lab").is_dir():
        return root
    return None


def default_results_dir() -> Path:
    """The run store's folder: ``$DRIVE_LAB_RESULTS``, else the checkout's ``results/``, else ``./results``."""
    if os.environ.get(RESULTS_ENV_VAR):
        return Path(os.environ[RESULTS_ENV_VAR])
    return default_tables_dir()


def default_tables_dir() -> Path:
    """Where committed tables live: the checkout's ``results/`` when imported from one, else ``./results``."""
    root = checkout_root()
    return root / RESULTS_FOLDER if root is not None else Path(RESULTS_FOLDER)


def temporary_name(path: str | os.PathLike) -> Path:
    """The hidden temporary file :func:`atomic_write` uses for ``path`` in this process."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def check_writable_file(path: str | os.PathLike, what: str = "output file") -> Path:
    """``ValueError`` unless :func:`atomic_write` can write ``path`` (call before any compute).

    Creates the missing parent folders and probes with the very temporary file the write
    will use, so a read-only folder, a parent that is a file, a name or path too long for
    the file system, or a ``path`` that is a folder is reported now, not after the run.
    ``what`` names the setting in the message (e.g. ``"--output"``).
    """
    path = Path(path)
    try:
        if path.is_dir():
            raise ValueError(f"{what} {path} is a folder; give a file path such as {path / 'result.json'}")
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = temporary_name(path)
        with open(probe, "x", encoding="utf-8"):
            pass
        probe.unlink()
    except FileExistsError:  # a leftover probe of this process: the folder is writable
        return path
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ValueError(f"{what} {path} cannot be written ({reason}); choose another location") from None
    return path


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", fsync: bool = True) -> Iterator[IO]:
    """Open a temporary file next to ``path`` for writing; on success rename it to ``path``.

    ``mode``: ``"w"`` (text, UTF-8) or ``"wb"``. Parent folders are created. On any error
    (or Ctrl-C) the temporary file is removed and ``path`` is left as it was.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        with open(tmp, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as stream:
            yield stream
            stream.flush()
            if fsync:
                os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_atomically(path: str | os.PathLike, write: Callable[[IO], object], mode: str = "w") -> Path:
    """``write(stream)`` into ``path`` through :func:`atomic_write`; returns ``path``."""
    with atomic_write(path, mode) as stream:
        write(stream)
    return Path(path)
