"""Progress bars for every long loop, with one library-wide switch.

``drive_lab.set_progress(False)`` (or the environment variable
``DRIVE_LAB_PROGRESS=0``) turns every bar off, e.g. for logs or CI. When stderr is not a
terminal (a log file, a pipe, a batch job) and not a notebook, a bar becomes one line
written when its loop ends, e.g. ``warm-up: 150 steps in 1.2 s (epoch=3/3, train loss=0.41)``.

:func:`watching_steps` lets a caller see every step of every bar of its own thread (even
with bars switched off) and stop the work between two steps by raising from its callback,
e.g. a widget's Stop button; nothing here imports a widget library.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Iterable, Iterator, TypeVar

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


def _interactive() -> bool:
    """A terminal or a notebook (where bars redraw in place), not a log file or a pipe."""
    if "ipykernel" in sys.modules:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


class LineProgress:
    """The part of tqdm's interface drive_lab uses, reporting one line when the loop ends."""

    def __init__(self, iterable: Iterable | None = None, total: int | None = None, desc: str = "",
                 unit: str = "it", log_each: bool = False, **_ignored) -> None:
        self.iterable, self.desc, self.unit, self.log_each = iterable, desc, unit, log_each
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.n, self.postfix, self.closed = 0, "", False
        self.start = time.perf_counter()

    def __iter__(self) -> Iterator:
        for item in self.iterable:
            yield item
            self.n += 1
        self.close()

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.log_each and n:
            extra = f" ({self.postfix})" if self.postfix else ""
            print(f"{self.desc}: {self.n}/{self.total} {self.unit}s done{extra}, "
                  f"{time.perf_counter() - self.start:.1f} s", file=sys.stderr, flush=True)

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **kwargs) -> None:
        values = {**dict(ordered_dict or {}), **kwargs}
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def set_postfix_str(self, text: str = "", refresh: bool = True) -> None:
        self.postfix = str(text)

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""

    def refresh(self) -> None:
        pass

    def write(self, text: str) -> None:
        print(text, file=sys.stderr)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if (self.n == 0 and not self.total) or (self.log_each and self.n):
            return  # an empty loop (e.g. zero warm-up epochs), or every update was reported already
        extra = f" ({self.postfix})" if self.postfix else ""
        print(f"{self.desc}: {self.n} {self.unit}{'' if self.n == 1 else 's'} in "
              f"{time.perf_counter() - self.start:.1f} s{extra}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Step:
    """One step of a progress bar, as a :func:`watching_steps` callback sees it.

    ``desc``: the bar's description (``"warm-up"``, ``"pruning"``, ``"training"``, ``"IMP
    round 2/5"``); ``n``: steps done in this bar (1 after its first step); ``total``: the
    bar's steps, or ``None`` when unknown; ``unit``: ``"step"``, ``"iteration"``, ...
    """

    desc: str
    n: int
    total: int | None
    unit: str


StepCallback = Callable[[Step], None]
_watchers = threading.local()  # .callbacks: this thread's list of StepCallback


def _callbacks() -> list[StepCallback]:
    return getattr(_watchers, "callbacks", [])


@contextlib.contextmanager
def watching_steps(callback: StepCallback):
    """Within the block, ``callback(Step(...))`` runs after every step of every drive_lab
    progress bar started in this thread, whether bars are shown or not.

    An exception raised by the callback propagates out of the loop being run (a training
    step, a pruning iteration): this is how work is cancelled between two steps. Other
    threads are not affected; blocks nest (inner and outer callbacks both run).
    """
    previous = _callbacks()
    _watchers.callbacks = [*previous, callback]
    try:
        yield
    finally:
        _watchers.callbacks = previous


class _Watched:
    """A progress bar that also reports each step to this thread's :func:`watching_steps` callbacks."""

    def __init__(self, bar, iterable, total: int | None, desc: str, unit: str,
                 callbacks: list[StepCallback]) -> None:
        self._bar, self._iterable, self._callbacks = bar, iterable, callbacks
        if total is None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self._total, self._desc, self._unit, self._n = total, desc, unit, 0

    def _report(self, n: int) -> None:
        self._n += n
        step = Step(self._desc, self._n, self._total, self._unit)
        for callback in self._callbacks:
            callback(step)

    def __iter__(self):
        for item in self._bar:
            yield item
            self._report(1)

    def update(self, n: int = 1):
        result = self._bar.update(n)
        if n:
            self._report(n)
        return result

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._bar.close()

    def __getattr__(self, name):
        return getattr(self._bar, name)


def progress(iterable: Iterable[T] | None = None, log_each: bool = False, **kwargs) -> tqdm | LineProgress:
    """``tqdm.auto.tqdm`` that honours the library switch (``disable`` when off); a
    :class:`LineProgress` (one line per loop, or per update with ``log_each``) when stderr
    is not a terminal or notebook. Inside :func:`watching_steps`, every step is also
    reported to the block's callbacks."""
    kwargs.setdefault("leave", False)
    kwargs.setdefault("dynamic_ncols", True)
    if progress_enabled() and not _interactive():
        bar = LineProgress(iterable, log_each=log_each, **kwargs)
    else:
        bar = tqdm(iterable, disable=not progress_enabled(), **kwargs)
    callbacks = _callbacks()
    if not callbacks:
        return bar
    return _Watched(bar, iterable, kwargs.get("total"), str(kwargs.get("desc", "")), str(kwargs.get("unit", "it")),
                    list(callbacks))


def logging_lines() -> bool:
    """Whether progress is on and reported as lines (stderr is a log, not a terminal or notebook)."""
    return progress_enabled() and not _interactive()
