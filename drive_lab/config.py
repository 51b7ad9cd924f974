"""``RunConfig``: one typed, validated description of a pruning run.

Every field has a default, so ``RunConfig()`` is the README's main job: DRIVE on the
embedded digits data. ``None`` for ``warmup_epochs``/``iterations`` means "the method's
default" (method.md): DRIVE warms up E = 3 epochs and prunes in N = 100 iterations.
"""
from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import re
import typing
from dataclasses import dataclass, field

from .data import DATASETS
from .methods import METHODS, get_method, method_specific_fields
from .models import INITS, MODELS
from .pruning import IMP_PRUNE_FRACTION, imp_rounds
from .sanity import SANITY_CHECKS
from .scores.drive import COMBINATIONS
from .training import LR_SCHEDULES, Optimisation
from .version import RESULTS_SCHEMA

REWIND_CHOICES = ("none", "init")
SCORE_MODES = ("eval", "train")

# The fields of results schema 1 and the label its key hash has always carried. Schema 1's
# key hashes these fields (defaults included) exactly as drive_lab 0.1.0 did, so every run
# stored since then keeps its address; a field added later enters the hash only when it
# differs from its default, so adding a field with a default orphans no stored run.
_SCHEMA_1_FIELDS = (
    "method", "model", "dataset", "sparsity", "warmup_epochs", "iterations", "score_batches", "epochs",
    "batch_size", "lr", "momentum", "nesterov", "weight_decay", "lr_schedule", "magnitude", "connection",
    "convergence", "combine", "rewind", "seed", "subset", "test_subset", "augment", "data_root", "download",
)
_SCHEMA_LABELS = {1: "0.1.0"}
# Fields that never change what a run computes (where it ran), left out of the key.
_UNKEYED_FIELDS = ("device",)
# What runs stored before a field existed were computed with: a later field enters the
# key only when it differs from this (its default where not listed), so those runs keep
# their keys while a new default that changes the results gets keys of its own.
# None means "does not apply to this method" (after resolved()) and is never hashed.
LEGACY_VALUES = {"init": "legacy", "threads": 1, "score_mode": "train", "score_per_class": 0}


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
    score_batches: int = field(default=1, **_help("mini-batches scored per pruning iteration (when score_per_class is unset)"))
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
    score_mode: str | None = field(default=None, **_help("network mode while scoring: eval (BatchNorm uses its running "
                                                         "statistics) or train (batch statistics); default: the method's "
                                                         "(SNIP eval, GraSP and DRIVE train)"))
    score_per_class: int | None = field(default=None, **_help("score each iteration on this many examples of every class; "
                                                             "0 = on score_batches batches of batch_size (default: the "
                                                             "method's; SNIP and GraSP 10 as their reference code, others 0)"))
    init: str = field(default="reference", **_help("weight initialisation: reference = Kaiming fan-in on every conv and "
                                                  "linear weight (open_lth, Synaptic-Flow); legacy = drive_lab 0.1.0's "
                                                  "(conv fan-out, PyTorch's default for linear layers)"))
    sanity: str = field(default="none", **_help("sanity check applied to the method (Frankle et al. 2021): none; "
                                                "shuffle = its final mask permuted within each layer; reinit = its "
                                                "final mask with freshly drawn weights; invert = keep its lowest-ranked "
                                                "weights at every iteration"))
    threads: int = field(default=1, **_help("torch CPU threads the run computes with; CPU results depend on it "
                                            "(reductions split differently), so it is part of the run's key"))

    def __post_init__(self) -> None:
        check_types(self)
        # 1 and 1.0 are the same setting: store floats so both get the same key
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type in ("float", float) and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, f.name, float(value))
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the problem and the valid choices."""
        check_types(self)
        spec = get_method(self.method)
        choose("model", self.model, MODELS)
        choose("dataset", self.dataset, tuple(DATASETS))
        choose("combine", self.combine, COMBINATIONS)
        choose("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        choose("rewind", self.rewind, REWIND_CHOICES)
        choose("init", self.init, INITS)
        choose("sanity", self.sanity, SANITY_CHECKS)
        if self.sanity != "none" and not spec.prunes:
            raise ValueError(f"sanity={self.sanity!r} needs a pruning method; {self.method!r} does not prune")
        if self.score_mode is not None:
            choose("score_mode", self.score_mode, SCORE_MODES)
        if self.score_per_class is not None and self.score_per_class < 0:
            raise ValueError(f"score_per_class must be >= 0 (0: batches) or None, got {self.score_per_class}")
        dense = not spec.prunes
        if (isinstance(self.sparsity, bool) or not isinstance(self.sparsity, (int, float))
                or not (0 <= self.sparsity < 1 if dense else 0 < self.sparsity < 1)):
            raise ValueError(f"sparsity must be a number strictly between 0 and 1 (e.g. 0.9 keeps 10% of the weights), got {self.sparsity!r}")
        for name in ("warmup_epochs", "iterations", "subset", "test_subset", "score_per_class"):
            value = getattr(self, name)
            if value is not None and not _is_int(value):
                raise ValueError(f"{name} must be an integer or None, got {value!r}")
        if self.warmup_epochs is not None and self.warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be >= 0, got {self.warmup_epochs}")
        if not spec.takes_iterations:
            pass  # their rounds follow from the method (see resolved()): a grid's iterations do not apply
        elif self.iterations is not None and self.iterations < 1:
            raise ValueError(f"iterations must be >= 1 (1 = one-shot pruning), got {self.iterations}")
        if not _is_int(self.epochs) or self.epochs < 0:
            raise ValueError(f"epochs must be an integer >= 0, got {self.epochs!r}")
        if self.threads < 1:
            raise ValueError(f"threads must be an integer >= 1, got {self.threads!r}")
        if not _is_int(self.score_batches) or self.score_batches < 1:
            raise ValueError(f"score_batches must be an integer >= 1, got {self.score_batches!r}")
        if not _is_int(self.seed) or not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed must be an integer from 0 to 2**62, got {self.seed!r}")
        for name in ("subset", "test_subset"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 or None, got {value}")
        spec.validate(self)
        self.optimisation.validate()
        if not (self.device in ("auto", "cpu", "cuda") or re.fullmatch(r"cuda:\d+", self.device)):
            raise ValueError(f"unknown device={self.device!r}; valid choices: auto, cpu, cuda, cuda:N "
                             "(drive_lab runs on CPUs and NVIDIA GPUs)")

    @property
    def optimisation(self) -> Optimisation:
        return Optimisation(self.lr, self.momentum, self.nesterov, self.weight_decay, self.lr_schedule, self.batch_size)

    def resolved(self) -> "RunConfig":
        """A copy with ``None`` method defaults replaced by the method's values.

        The method's own ``resolve`` changes follow (IMP's rounds, the dense run's sparsity
        0), and fields specific to other methods (DRIVE's term weights for SNIP) are reset
        to their defaults, so they cannot split one run into several keys.
        """
        spec = get_method(self.method)
        changes = {"warmup_epochs": spec.warmup_epochs if self.warmup_epochs is None else self.warmup_epochs,
                   "iterations": spec.iterations if self.iterations is None else self.iterations}
        if not spec.scores_with_data:  # the mode and the scoring set mean nothing to this method
            changes.update(score_mode=None, score_per_class=None, score_batches=1)
        else:
            changes["score_mode"] = spec.score_mode if self.score_mode is None else self.score_mode
            changes["score_per_class"] = spec.score_per_class if self.score_per_class is None else self.score_per_class
            if changes["score_per_class"]:
                changes["score_batches"] = 1  # the per-class set replaces the batches
        changes.update(spec.resolve(self))
        defaults = _defaults(type(self))
        for name in method_specific_fields():
            if name not in spec.config_fields:
                changes[name] = defaults[name]
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
        """Content address of this run: 16 hex digits of a hash of the resolved config.

        What is hashed (results schema :data:`~drive_lab.version.RESULTS_SCHEMA`): the
        schema-1 fields with their values, every later field that differs from its
        default, and the schema's label; not ``device`` (a run is found again whatever
        device computed it) and not the package version (a release orphans no stored run).
        """
        content = key_content(self)
        blob = json.dumps(content, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


MAX_SEED = 2**62  # torch seeds are 64-bit; the runs' random streams add offsets to the seed


def choose(field_name: str, value, choices) -> None:
    """``ValueError`` unless ``value`` is one of ``choices``, naming them and the closest match."""
    if value not in choices:
        close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown {field_name}={value!r}{hint}; valid choices: {', '.join(map(str, choices))}")


def _type_name(kind) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[kind]


def check_types(config) -> None:
    """``TypeError`` naming the field, the value and the type allowed, for every field of ``config``.

    ``bool`` fields take only ``True``/``False`` (not ``"no"``, which is truthy); ``int``
    fields reject booleans and floats; ``float`` fields take ints and floats but not
    booleans, and must be finite; ``None`` only where the field is optional.
    """
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        hint = hints[f.name]
        args = typing.get_args(hint)
        optional = type(None) in args
        kind = next((a for a in args if a is not type(None)), hint) if args else hint
        if value is None and optional:
            continue
        if kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, kind)
        if not ok:
            allowed = _type_name(kind) + (" or None" if optional else "")
            raise TypeError(f"{f.name}={value!r} has type {type(value).__name__}; {f.name} takes {allowed}")
        if kind is float and not math.isfinite(value):
            raise ValueError(f"{f.name} must be a finite number, got {value!r}")


def key_content(config: RunConfig) -> dict:
    """What :meth:`RunConfig.key` hashes, as a JSON-ready dict (for inspection and tests)."""
    values = config.resolved().to_dict()
    defaults = _defaults(type(config))
    content = {name: values[name] for name in _SCHEMA_1_FIELDS}
    content.update({name: value for name, value in values.items()
                    if name not in _SCHEMA_1_FIELDS and name not in _UNKEYED_FIELDS and value is not None
                    and value != LEGACY_VALUES.get(name, defaults[name])})
    return {"config": content, "version": _SCHEMA_LABELS[RESULTS_SCHEMA]}


_TRUE, _FALSE, _NONE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}, {"none", "default", "null"}


def parse_value(name: str, text: str):
    """``text`` as a value of RunConfig field ``name`` (int, float, bool, str or None).

    ``"none"``/``"default"`` give ``None`` for optional fields; booleans accept
    true/false, yes/no, on/off, 1/0. ``ValueError`` says what the field takes.
    """
    hint = typing.get_type_hints(RunConfig)[name]
    args = typing.get_args(hint)
    optional = type(None) in args
    kind = next((a for a in args if a is not type(None)), hint) if args else hint
    word = text.strip()
    if optional and word.lower() in _NONE:
        return None
    if kind is bool:
        if word.lower() in _TRUE:
            return True
        if word.lower() in _FALSE:
            return False
        raise ValueError(f"{name} takes true or false{' or none' if optional else ''}, not {text!r}")
    if kind in (int, float):
        try:
            return kind(word)
        except ValueError:
            raise ValueError(f"{name} takes {'an integer' if kind is int else 'a number'}"
                             f"{' or none' if optional else ''}, not {text!r}") from None
    return word


def _defaults(cls: type | None = None) -> dict:
    return {f.name: f.default for f in dataclasses.fields(cls or RunConfig)}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


__all__ = ["RunConfig", "REWIND_CHOICES", "IMP_PRUNE_FRACTION", "imp_rounds", "key_content", "parse_value", "METHODS"]
