"""``RunResult``: everything one run measured, JSON-serialisable, written atomically."""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .paths import atomic_write


def strict_json(value):
    """``value`` with every non-finite float replaced by ``None`` (JSON has no NaN:
    an epoch whose test set was not evaluated is written as ``null``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(item) for item in value]
    return value


@dataclass
class RunResult:
    """The outcome of :func:`drive_lab.run`.

    Accuracies are fractions in [0, 1]; densities are fractions of prunable weights kept;
    ``seconds`` holds wall-clock seconds per phase: ``warmup``, ``scoring``, ``training``,
    ``pruning`` (= everything before the final training, method.md) and ``total``; IMP
    adds ``rounds`` (the training of its train-prune-rewind rounds, part of ``pruning``).
    """

    key: str
    config: dict
    final_test_accuracy: float
    best_test_accuracy: float
    final_test_loss: float
    density: float
    kept_weights: int
    prunable_weights: int
    layer_density: dict[str, float]
    collapsed_layers: list[str]
    seconds: dict[str, float]
    environment: dict
    training_history: list[dict] = field(default_factory=list)
    warmup_history: list[dict] = field(default_factory=list)
    pruning_history: list[dict] = field(default_factory=list)
    created: str = ""

    @property
    def sparsity(self) -> float:
        return 1.0 - self.density

    @property
    def pruning_seconds(self) -> float:
        return self.seconds["pruning"]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "RunResult":
        """The result in ``values``; fields this version does not know (written by a newer
        one) are ignored, missing required fields raise ``TypeError``."""
        known = {f.name for f in fields(cls)}
        return cls(**{name: value for name, value in values.items() if name in known})

    def save(self, path: str | os.PathLike) -> Path:
        """Write JSON atomically (temporary file + rename): no half-written file can exist."""
        with atomic_write(path) as stream:
            json.dump(strict_json(self.to_dict()), stream, indent=1, allow_nan=False)
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "RunResult":
        with open(path) as f:
            return cls.from_dict(json.load(f))

    def summary(self) -> str:
        """A readable table of the run's outcome."""
        c = self.config
        rows = [
            ("method", c["method"]),
            ("model / dataset", f"{c['model']} / {c['dataset']}"),
            ("target sparsity", f"{c['sparsity']:.4f}"),
            ("achieved sparsity", f"{self.sparsity:.4f}  ({self.kept_weights:,} of {self.prunable_weights:,} weights kept)"),
            ("warm-up E / iterations N / epochs T", f"{c['warmup_epochs']} / {c['iterations']} / {c['epochs']}"),
            ("final test accuracy", f"{100 * self.final_test_accuracy:.2f} %"),
            ("best test accuracy", f"{100 * self.best_test_accuracy:.2f} %"),
            ("collapsed layers", ", ".join(self.collapsed_layers) or "none"),
            ("time: warm-up", f"{self.seconds['warmup']:.2f} s"),
            ("time: scoring", f"{self.seconds['scoring']:.2f} s"),
            *([("time: IMP rounds (training)", f"{self.seconds['rounds']:.2f} s")] if "rounds" in self.seconds else []),
            ("time: pruning (warm-up + scoring)", f"{self.seconds['pruning']:.2f} s"),
            ("time: final training", f"{self.seconds['training']:.2f} s"),
            ("device", self.environment.get("gpu", self.environment.get("device", "?"))),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"{name:<{width}}  {value}" for name, value in rows]
        lines.append("")
        lines.append(f"{'layer':<{width}}  density")
        lines += [f"{name:<{width}}  {density:.4f}" for name, density in self.layer_density.items()]
        return "\n".join(lines)
