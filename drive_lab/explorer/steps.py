"""Per-step progress and stopping of one press of the explorer's Run (no widgets).

:func:`drive_lab.explorer.run_ablation` watches every training step and pruning iteration
of the runs it computes (:func:`drive_lab.progress.watching_steps`) through a
:class:`StepTracker`: it reports a :class:`RunProgress` (elapsed and estimated remaining
seconds) and raises :class:`RunStopped` once the caller's stop event is set.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..config import RunConfig
from ..methods import METHODS
from ..progress import Step

__all__ = ["RunStopped", "RunProgress", "StepProgressCallback", "CONTRIBUTIONS_RUN", "clock", "planned_steps",
           "StepTracker"]


class RunStopped(Exception):
    """The learner stopped a Run (:func:`run_ablation`'s ``stop`` event was set).

    ``finished``: runs computed and stored before the stop; ``total``: runs that were to be
    computed. The run in progress when the event was set is not stored.
    """

    def __init__(self, finished: int, total: int) -> None:
        self.finished, self.total = finished, total
        kept = (f"the {finished} run(s) finished before it are stored and come back at once next time"
                if finished else "no run had finished, nothing was stored")
        super().__init__(f"stopped after {finished} of {total} run(s): the run in progress was dropped "
                         f"(not stored); {kept}")


@dataclass(frozen=True)
class RunProgress:
    """Where one press of Run stands, after a training step or pruning iteration.

    ``run``/``runs``: the run being computed (1-based) and the runs to compute, counted as
    :class:`RunStopped` counts them (the term-contribution warm-up, computed last and not
    stored, is not a run: while it computes, ``run == runs``); ``name``: :func:`describe_run` of it; ``phase``:
    ``"warm-up"``, ``"pruning"``, ``"training"``, ``"IMP round 2/5"``, ...; ``step``/``steps``:
    steps done and planned in that phase (``steps`` ``None`` when unknown); ``done_steps``:
    steps done in all computed runs; ``planned_steps``: steps of all runs to compute, ``None``
    until the first training phase tells how many steps an epoch has; ``elapsed``: seconds
    since computing began; ``remaining``: estimated seconds left (elapsed / done_steps ×
    steps left; ``None`` while unknown and until 2% of the steps are done).
    """

    run: int
    runs: int
    name: str
    phase: str
    step: int
    steps: int | None
    done_steps: int
    planned_steps: int | None
    elapsed: float
    remaining: float | None

    @property
    def fraction(self) -> float:
        """Share of the planned steps done, in [0, 1] (by runs while the steps are unknown)."""
        if self.planned_steps:
            return min(1.0, self.done_steps / self.planned_steps)
        return (self.run - 1) / max(self.runs, 1)

    def text(self) -> str:
        """``"run 2 of 4 (SNIP, seed 0): training step 120/300 · elapsed 0:12 · remaining ≈ 0:20"``."""
        steps = f"/{self.steps}" if self.steps else ""
        remaining = f"remaining ≈ {clock(self.remaining)}" if self.remaining is not None else "remaining: estimating"
        where = (f"{self.name}, after the {self.runs} run(s)" if self.name == CONTRIBUTIONS_RUN
                 else f"run {self.run} of {self.runs} ({self.name})")
        return f"{where}: {self.phase} step {self.step}{steps} · elapsed {clock(self.elapsed)} · {remaining}"


def clock(seconds: float) -> str:
    """Seconds as ``m:ss`` (``h:mm:ss`` from an hour): ``75.2`` -> ``"1:15"``."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


StepProgressCallback = Callable[[RunProgress], None]
CONTRIBUTIONS_RUN = "term contributions (one warm-up)"


def _phase_epochs(config: RunConfig, phase: str) -> int | None:
    """Epochs of a training phase of ``config`` (resolved): warm-up E, training or an IMP round T."""
    if phase == "warm-up":
        return config.warmup_epochs
    if phase == "training" or phase.startswith("IMP round"):
        return config.epochs
    return None


def planned_steps(config: RunConfig, steps_per_epoch: int, warmup_only: bool = False) -> int:
    """Training steps plus pruning iterations one run of ``config`` takes.

    ``steps_per_epoch`` = ceil(training examples / batch size). A scored method: E warm-up
    epochs, N pruning iterations (none for a method that does not prune), T training epochs;
    IMP: E epochs, then T epochs in each of its rounds. ``warmup_only``: only the E epochs
    (the term-contribution illustration).
    """
    c = config.resolved()
    spec = METHODS[c.method]
    if warmup_only:
        return steps_per_epoch * c.warmup_epochs
    if spec.procedure == "imp":
        return steps_per_epoch * (c.warmup_epochs + c.epochs * c.iterations)
    return steps_per_epoch * (c.warmup_epochs + c.epochs) + (c.iterations if spec.prunes else 0)


class StepTracker:
    """Turns the :class:`~drive_lab.progress.Step` reports of the runs being computed into
    :class:`RunProgress` for ``on_step``, and raises :class:`RunStopped` once ``stop`` is set."""

    def __init__(self, todo: list[tuple[RunConfig, str, bool]], on_step: StepProgressCallback | None,
                 stop: threading.Event | None) -> None:
        self.todo = todo  # (config, name, warm-up only)
        self.on_step, self.stop = on_step, stop
        self.index, self.finished = 0, 0
        self.runs = sum(1 for _, name, _ in todo if name != CONTRIBUTIONS_RUN)  # what RunStopped counts too
        self.steps_per_epoch: int | None = None
        self.done = 0
        self.bar: tuple[str, int] = ("", 0)  # (phase, steps seen) of the current bar
        self.start = time.perf_counter()

    def check(self) -> None:
        if self.stop is not None and self.stop.is_set():
            raise RunStopped(self.finished, self.runs)

    def begin(self, index: int) -> None:
        self.check()
        self.index, self.bar = index, ("", 0)

    def end(self, counts: bool = True) -> None:
        self.finished += counts

    def planned(self) -> int | None:
        if self.steps_per_epoch is None:
            return None
        return sum(planned_steps(config, self.steps_per_epoch, only) for config, _, only in self.todo)

    def __call__(self, step: Step) -> None:
        config, name, _ = self.todo[self.index]
        phase, seen = self.bar
        new_bar = step.desc != phase or step.n <= seen
        self.done += step.n if new_bar else step.n - seen
        self.bar = (step.desc, step.n)
        if self.steps_per_epoch is None and step.total:
            epochs = _phase_epochs(config.resolved(), step.desc)
            if epochs:
                self.steps_per_epoch = math.ceil(step.total / epochs)
        if self.on_step is not None:
            elapsed = time.perf_counter() - self.start
            planned = self.planned()
            if planned is not None:
                planned = max(planned, self.done)
            # an estimate from a handful of steps mostly measures start-up (data loading): wait for 2%
            settled = planned is not None and self.done >= max(5, planned // 50)
            remaining = elapsed / self.done * (planned - self.done) if settled else None
            self.on_step(RunProgress(min(self.index + 1, self.runs), self.runs, name, step.desc, step.n, step.total,
                                     self.done, planned, elapsed, remaining))
        self.check()
