"""The pruning methods selectable by name, with their defaults (method.md).

Every method may be given warm-up epochs and iterations by the config ("SNIP after
warm-up", "iterative SNIP"); ``None`` in the config means the method's default below.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import scores
from .data import dataset_info


@dataclass(frozen=True)
class MethodSpec:
    """How a method prunes when the config leaves E and N unset.

    score: the score function (``None`` for methods with their own loop: dense, imp);
    warmup_epochs: default E; iterations: default N; uses_data: whether scoring consumes
    training batches; options: config -> keyword arguments of the score function.
    """

    score: Callable | None
    warmup_epochs: int
    iterations: int
    uses_data: bool = True
    options: Callable[[object], dict] = lambda config: {}
    description: str = ""


def _drive_options(config) -> dict:
    return {"magnitude": config.magnitude, "connection": config.connection,
            "convergence": config.convergence, "combine": config.combine}


def _synflow_options(config) -> dict:
    info = dataset_info(config.dataset)
    return {"input_shape": (info.in_channels, info.image_size, info.image_size)}


METHODS: dict[str, MethodSpec] = {
    "drive": MethodSpec(scores.drive, 3, 100, options=_drive_options,
                        description="DRIVE: E warm-up epochs, then N iterations scored by magnitude + connection + convergence sensitivity"),
    "random": MethodSpec(scores.random, 0, 1, uses_data=False, options=lambda config: {"seed": config.seed},
                         description="uniform random scores, one-shot"),
    "magnitude": MethodSpec(scores.magnitude, 0, 1, uses_data=False,
                            description="|θ|, one-shot, at initialisation unless given warm-up epochs"),
    "snip": MethodSpec(scores.snip, 0, 1, description="SNIP |θ·g| at initialisation, one-shot (Lee et al. 2019)"),
    "grasp": MethodSpec(scores.grasp, 0, 1, description="GraSP θ·Hg at initialisation, one-shot (Wang et al. 2020)"),
    "synflow": MethodSpec(scores.synflow, 0, 100, uses_data=False, options=_synflow_options,
                          description="SynFlow, data-free, 100 iterations (Tanaka et al. 2020)"),
    "imp": MethodSpec(None, 0, 0, uses_data=False,
                      description="iterative magnitude pruning: train T epochs, prune 20% of survivors, rewind; repeat (Frankle & Carbin 2019)"),
    "dense": MethodSpec(None, 0, 0, uses_data=False, description="no pruning: the dense reference network"),
}
