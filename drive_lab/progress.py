"""Progress bars for every long loop, with one library-wide switch.

``drive_lab.set_progress(False)`` (or the environment variable
``DRIVE_LAB_PROGRESS=0``) turns every bar off, e.g. for logs or CI.
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterable, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")

_enabled: bool | None = None  # None: decided by DRIVE_LAB_PROGRESS


def set_progress(enabled: bool) -> None:
    """Turn drive_lab's progress bars on or off for this process."""
    global _enabled
    _enabled = bool(enabled)


@contextlib.contextmanager
def progress_disabled():
    """Within the block, no drive_lab progress bar is shown (e.g. inside a widget with its own)."""
    global _enabled
    previous, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = previous


def progress_enabled() -> bool:
    """Whether progress bars are shown (default: on unless ``DRIVE_LAB_PROGRESS=0``)."""
    if _enabled is not None:
        return _enabled
    return os.environ.get("DRIVE_LAB_PROGRESS", "1").strip().lower() not in {"0", "false", "no", "off"}


def progress(iterable: Iterable[T] | None = None, **kwargs) -> tqdm:
    """``tqdm.auto.tqdm`` that honours the library switch (``disable`` when off)."""
    kwargs.setdefault("leave", False)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, disable=not progress_enabled(), **kwargs)
