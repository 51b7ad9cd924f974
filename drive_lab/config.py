"""``RunConfig``: one typed, validated description of a pruning run.

Every field has a default, so ``RunConfig()`` is the README's main job: DRIVE on the
embedded digits data. ``None`` for ``warmup_epochs``/``iterations`` means "the method's
default" (method.md): DRIVE warms up E = 3 epochs and prunes in N = 100 iterations.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from .data import DATASETS
from .models import MODELS
from .scores.drive import COMBINATIONS, validate_weights
from .training import LR_SCHEDULES, Optimisation

IMP_PRUNE_FRACTION = 0.2  # of the surviving weights, per IMP round (method.md)

REWIND_CHOICES = ("none", "init")


def _help(text: str, **kwargs) -> dict:
    return {"metadata": {"help": text}, **kwargs}


@dataclass(frozen=True)
class RunConfig:
    """All settings of one run. Units: epochs are passes over the training set."""

    method: str = field(default="drive", **_help("pruning method"))
    model: str = field(default="conv", **_help("network architecture"))
    dataset: str = field(default="digits", **_help("dataset (digits is bundled, no download)"))
    sparsity: float = field(default=0.9, **_help("fraction of prunable weights removed, in (0, 1)"))
    warmup_epochs: int | None = field(default=None, **_help("dense training epochs before pruning, E (default: the method's; DRIVE 3)"))
    iterations: int | None = field(default=None, **_help("pruning iterations, N (default: the method's; DRIVE 100, SynFlow 100, "
                                                         "others 1); ignored by imp (rounds follow from the sparsity) and dense"))
    score_batches: int = field(default=1, **_help("mini-batches scored per pruning iteration"))
    epochs: int = field(default=10, **_help("training epochs after pruning, T"))
    batch_size: int = field(default=64, **_help("examples per training and scoring batch"))
    lr: float = field(default=0.05, **_help("peak learning rate (SGD)"))
    momentum: float = field(default=0.9, **_help("SGD momentum"))
    nesterov: bool = field(default=False, **_help("use Nesterov momentum"))
    weight_decay: float = field(default=5e-4, **_help("L2 weight decay on weights (not biases or BatchNorm)"))
    lr_schedule: str = field(default="cosine", **_help("learning-rate schedule over the T epochs"))
    magnitude: float = field(default=1.0, **_help("DRIVE weight a of the magnitude term (0 drops it)"))
    connection: float = field(default=1.0, **_help("DRIVE weight b of the connection-sensitivity term (0 drops it)"))
    convergence: float = field(default=1.0, **_help("DRIVE weight c of the convergence-sensitivity term (0 drops it)"))
    combine: str = field(default="sum", **_help("how DRIVE combines its normalised terms"))
    rewind: str = field(default="none", **_help("weights to train after pruning: none = keep warm-up weights, init = rewind to initialisation"))
    seed: int = field(default=0, **_help("random seed (weights, batches, augmentation)"))
    subset: int | None = field(default=None, **_help("use only this many training examples"))
    test_subset: int | None = field(default=None, **_help("use only this many test examples"))
    augment: bool | None = field(default=None, **_help("crop+flip augmentation (default: on for CIFAR and Tiny ImageNet)"))
    data_root: str | None = field(default=None, **_help("folder holding the dataset's files"))
    download: bool = field(default=False, **_help("allow downloading the dataset"))
    device: str = field(default="auto", **_help("compute device: auto, cpu, cuda, cuda:N"))

    def __post_init__(self) -> None:
        # 1 and 1.0 are the same setting: store floats so both get the same key
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type in ("float", float) and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, f.name, float(value))
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the problem and the valid choices."""
        from .methods import METHODS  # late import: methods needs the scores, not the config

        def choose(field_name: str, value, choices) -> None:
            if value not in choices:
                raise ValueError(f"unknown {field_name}={value!r}; valid choices: {', '.join(choices)}")

        choose("method", self.method, tuple(METHODS))
        choose("model", self.model, MODELS)
        choose("dataset", self.dataset, tuple(DATASETS))
        choose("combine", self.combine, COMBINATIONS)
        choose("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        choose("rewind", self.rewind, REWIND_CHOICES)
        dense = self.method == "dense"
        if (isinstance(self.sparsity, bool) or not isinstance(self.sparsity, (int, float))
                or not (0 <= self.sparsity < 1 if dense else 0 < self.sparsity < 1)):
            raise ValueError(f"sparsity must be a number strictly between 0 and 1 (e.g. 0.9 keeps 10% of the weights), got {self.sparsity!r}")
        for name in ("warmup_epochs", "iterations", "subset", "test_subset"):
            value = getattr(self, name)
            if value is not None and not _is_int(value):
                raise ValueError(f"{name} must be an integer or None, got {value!r}")
        if self.warmup_epochs is not None and self.warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be >= 0, got {self.warmup_epochs}")
        if self.method in ("dense", "imp"):
            pass  # their rounds follow from the method (see resolved()): a grid's iterations do not apply
        elif self.iterations is not None and self.iterations < 1:
            raise ValueError(f"iterations must be >= 1 (1 = one-shot pruning), got {self.iterations}")
        if not _is_int(self.epochs) or self.epochs < 0:
            raise ValueError(f"epochs must be an integer >= 0, got {self.epochs!r}")
        if not _is_int(self.score_batches) or self.score_batches < 1:
            raise ValueError(f"score_batches must be an integer >= 1, got {self.score_batches!r}")
        if not _is_int(self.seed):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        for name in ("subset", "test_subset"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 or None, got {value}")
        if self.method == "drive":
            validate_weights(self.magnitude, self.connection, self.convergence, self.combine)
        self.optimisation.validate()
        if not (self.device in ("auto", "cpu") or self.device.startswith(("cuda", "mps"))):
            raise ValueError(f"unknown device={self.device!r}; valid choices: auto, cpu, cuda, cuda:N")

    @property
    def optimisation(self) -> Optimisation:
        return Optimisation(self.lr, self.momentum, self.nesterov, self.weight_decay, self.lr_schedule, self.batch_size)

    def resolved(self) -> "RunConfig":
        """A copy with ``None`` method defaults replaced by the method's values."""
        from .methods import METHODS

        spec = METHODS[self.method]
        iterations = spec.iterations if self.iterations is None else self.iterations
        if self.method == "imp":
            iterations = imp_rounds(1 - self.sparsity)
        changes = {"warmup_epochs": spec.warmup_epochs if self.warmup_epochs is None else self.warmup_epochs,
                   "iterations": iterations}
        if self.method == "dense":
            # Sparsity and DRIVE's options mean nothing for the dense network: one identity
            # (and one stored run) serves every sparsity of a sweep.
            changes.update(sparsity=0.0, iterations=0, rewind="none")
        if self.method == "imp":
            changes["rewind"] = "init"  # IMP always rewinds, to the weights after E warm-up epochs
        if self.method != "drive":
            defaults = RunConfig()
            changes.update(magnitude=defaults.magnitude, connection=defaults.connection,
                           convergence=defaults.convergence, combine=defaults.combine)
        return dataclasses.replace(self, **changes)

    def replace(self, **changes) -> "RunConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "RunConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown RunConfig field(s) {unknown}; valid fields: {', '.join(sorted(known))}")
        return cls(**values)

    def key(self) -> str:
        """Content address of this run: a hash of the resolved config and the library version.

        ``device`` is excluded, so a run is found again whatever device computed it.
        """
        from . import __version__

        content = self.resolved().to_dict()
        content.pop("device")
        blob = json.dumps({"config": content, "version": __version__}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def imp_rounds(density: float, fraction: float = IMP_PRUNE_FRACTION) -> int:
    """Rounds L for IMP to reach ``density``: the smallest L with (1 - fraction)^L <= density.

    method.md: 90% sparsity 11 rounds, 95% 14, 98% 18, 99% 21.
    """
    import math

    if not 0 < density < 1:
        raise ValueError(f"density must be in (0, 1), got {density}")
    # tolerance: 0.8**L computed in floating point may land a hair above an exact target
    return max(1, math.ceil(math.log(density) / math.log(1 - fraction) - 1e-9))
