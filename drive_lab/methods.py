"""The pruning methods selectable by name, with their defaults (method.md)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import scores


@dataclass(frozen=True)
class MethodSpec:
    """How a method prunes when the config leaves E and N unset.

    score: the score function; warmup_epochs: default E; iterations: default N;
    uses_data: whether scoring consumes training batches; options: config -> score kwargs.
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


METHODS: dict[str, MethodSpec] = {
    "drive": MethodSpec(scores.drive, warmup_epochs=3, iterations=100, options=_drive_options,
                        description="DRIVE: warm-up, then iterative pruning by magnitude + connection + convergence sensitivity"),
}
