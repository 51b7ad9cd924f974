"""Where the readers look for data set files.

Files are searched for in ``root``, then in the folder named by the
environment variable ``DRIVE_LAB_DATA`` (see :data:`~drive_lab.paths.DATA_ENV_VAR`),
then, only when no ``root`` is given, in ``./data``
(:data:`~drive_lab.paths.DEFAULT_DATA_ROOT`, also where downloads go by default).
Each reader then tries its own sub-folders of every base folder.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..paths import DATA_ENV_VAR, DEFAULT_DATA_ROOT


def search_roots(root: str | os.PathLike | None) -> list[Path]:
    """Base folders to search, in order: ``root``, ``$DRIVE_LAB_DATA``, then ``./data`` if no root."""
    bases = []
    if root is not None:
        bases.append(Path(root).expanduser())
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        bases.append(Path(env).expanduser())
    if root is None:
        bases.append(DEFAULT_DATA_ROOT)
    return bases


def download_root(root: str | os.PathLike | None) -> Path:
    """Folder that downloads go into (and that error messages point at): ``root``, else ``./data``."""
    return Path(root).expanduser() if root is not None else DEFAULT_DATA_ROOT


def search_key(root: str | os.PathLike | None) -> tuple:
    """Everything (besides a reader's own fixed folders) that decides which folders are searched.

    Relative folders depend on the working directory, so it is part of the key.
    """
    return (None if root is None else str(Path(root).resolve()), os.environ.get(DATA_ENV_VAR),
            str(DEFAULT_DATA_ROOT), os.getcwd())


def folders_searched(folders: list[Path]) -> str:
    """The ``Folders searched:`` paragraph that ends every :class:`DatasetNotFoundError` message."""
    listing = "\n".join(f"  - {folder}" for folder in folders) or "  (none)"
    return f"Folders searched:\n{listing}"
