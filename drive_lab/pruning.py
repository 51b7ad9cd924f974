"""A generic iterative pruner: any score function + a density schedule + nested exact top-k.

In the spirit of open_lth and Torch-Pruning, the three pieces are separate: the *scorer*
(``drive_lab.scores``), the *schedule* (:func:`exponential_schedule`) and the *pruner*
(:func:`prune`), which is a pure function ``(model, masks, data) -> masks`` apart from
zeroing the pruned weights of ``model`` in place.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable, Mapping

import torch
from torch import nn

from .masks import Masks, keep_top, keep_top_survivors
from .masks.container import _APPLIED_BY_PRUNER
from .progress import progress
from .runtime import synchronize

ScoreFunction = Callable[..., Mapping[str, torch.Tensor]]

IMP_PRUNE_FRACTION = 0.2  # of the surviving weights, per IMP round (method.md)


def exponential_schedule(density: float, iterations: int, start: float = 1.0) -> list[float]:
    """Densities after each of ``iterations`` pruning steps, from ``start`` down to ``density``.

    Step k (1..N) reaches ``start · (density/start)^(k/N)``; from a dense start that is
    κ^(k/N) (method.md: the iterative-SynFlow schedule). The last entry is ``density``.
    """
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    if not 0.0 < density <= start <= 1.0:
        raise ValueError(f"need 0 < density <= start <= 1, got density={density}, start={start}")
    ratio = density / start
    return [start * ratio ** (k / iterations) for k in range(1, iterations)] + [density]


def imp_rounds(density: float, fraction: float = IMP_PRUNE_FRACTION) -> int:
    """Rounds L for IMP to reach ``density``: the smallest L with (1 - fraction)^L <= density.

    method.md: 90% sparsity 11 rounds, 95% 14, 98% 18, 99% 21.
    """
    if not 0 < density < 1:
        raise ValueError(f"density must be in (0, 1), got {density}")
    # tolerance: 0.8**L computed in floating point may land a hair above an exact target
    return max(1, math.ceil(math.log(density) / math.log(1 - fraction) - 1e-9))


def imp_densities(density: float, fraction: float = IMP_PRUNE_FRACTION) -> list[float]:
    """Densities after each IMP round: (1-fraction)^1, ..., (1-fraction)^(L-1), density."""
    rounds = imp_rounds(density, fraction)
    return [(1 - fraction) ** r for r in range(1, rounds)] + [density]


@dataclass
class PruningStep:
    """What one pruning iteration did (invariant 4: observable after every step)."""

    iteration: int
    target_density: float
    density: float
    kept: int
    layer_density: dict[str, float]
    collapsed: list[str]
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PruningHistory:
    """The steps of one pruning run plus the time spent scoring and masking, in seconds."""

    steps: list[PruningStep] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(step.seconds for step in self.steps)

    def to_dict(self) -> list[dict]:
        return [step.to_dict() for step in self.steps]


def prune(
    model: nn.Module,
    score: ScoreFunction,
    batches: Callable[[], Iterable] | None,
    density: float,
    iterations: int = 1,
    masks: Masks | None = None,
    score_options: Mapping | None = None,
    show_progress: bool = True,
    warn_collapse: bool = True,
) -> tuple[Masks, PruningHistory]:
    """Prune ``model`` iteratively to ``density`` (fraction of prunable weights kept).

    Args:
        model: the network (its pruned weights are zeroed in place; nothing else changes).
        score: a score function ``score(model, batches, masks, **score_options)``. One
            with a ``survivor_scores`` attribute (a function of the same arguments giving
            the survivors' scores as one 1-D tensor, as :func:`drive_lab.scores.drive` has)
            is ranked through that instead, with the same result.
        batches: called once per iteration, returns that iteration's scoring batches
            (fresh training batches each time); ``None`` for data-free scores.
        density: final density κ in (0, 1].
        iterations: N; iteration k prunes to κ^(k/N) (exponential schedule). 1 = one-shot.
        masks: masks to start from (default: nothing pruned). Density only goes down.
        score_options: keyword arguments for ``score`` (e.g. DRIVE's term weights).

    Returns:
        ``(masks, history)``: the final masks and one :class:`PruningStep` per iteration.
        A layer left with no weight is named in every step's ``collapsed`` and warned about.

    Cost: one iteration is about one scoring pass. After each step only the weights pruned
    in that step are zeroed when the weights are as the previous step left them (PyTorch's
    version counters unchanged: any in-place torch operation on them, e.g. by the scorer,
    makes it a full ``masks.apply``; writes through ``.data`` are not counted, so a scorer
    must not un-zero pruned weights that way); the scorer's own masking of weights the pruner has
    just masked is skipped on the same condition. The per-step report (density, kept,
    layer densities, collapse) comes from counts the masks already hold.
    """
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be an integer >= 1 (1 = one-shot), got {iterations!r}")
    masks = masks if masks is not None else Masks.ones(model)
    device = next(model.parameters()).device
    masks = masks.to(device)
    schedule = exponential_schedule(density, iterations, start=masks.density())
    options = dict(score_options or {})
    history = PruningHistory()
    steps = progress(schedule, desc="pruning", unit="iteration") if show_progress else schedule
    applied = None  # the masks this loop has applied to the model itself
    # A score that can give its survivors' values alone (DRIVE: ``score.survivor_scores``)
    # is ranked from those: the same masks, without full-size score tensors per iteration.
    survivor_scores = getattr(score, "survivor_scores", None)
    scorer, select = (survivor_scores, keep_top_survivors) if callable(survivor_scores) else (score, keep_top)
    for k, target in enumerate(steps, start=1):
        synchronize(device)
        start = time.perf_counter()
        # While the scorer runs, the masks it is given count as applied by the pruner, so
        # the scorer's own masking of the (unchanged) weights is not done a second time.
        token = _APPLIED_BY_PRUNER.set(applied)
        try:
            scores = scorer(model, batches() if batches is not None else None, masks, **options)
        finally:
            _APPLIED_BY_PRUNER.reset(token)
        previous, masks = masks, select(scores, masks, target)
        # Zero what this step pruned: only the newly pruned weights when the model is as
        # `previous` left it (version counters unchanged), else a full masks.apply(model).
        masks._apply_step(model, previous)
        applied = masks
        synchronize(device)
        seconds = time.perf_counter() - start
        history.steps.append(
            PruningStep(k, target, masks.density(), masks.kept(), masks.layer_density(), masks.collapsed(), seconds)
        )
    collapsed = masks.collapsed()
    if collapsed and warn_collapse:
        warnings.warn(f"layer collapse: {', '.join(collapsed)} kept no weight at density {density:.4g}", stacklevel=2)
    return masks, history
