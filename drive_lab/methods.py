"""The pruning methods, registered by name: the one place a method is described.

A :class:`MethodSpec` says everything the rest of the package asks about a method: its
score function, its kind (one-shot, iterative, training-based, or the dense reference),
its defaults E and N, which method-specific config fields it reads, how it resolves
and validates a config, which run procedure executes it, and how figures show it
(display name, colour, marker). Nothing else in drive_lab special-cases a method by name.

Add a method in one call (jaxpruner's ``register_algorithm``, open_lth's registries)::

    from drive_lab.methods import register_method

    def my_score(model, batches, masks):           # {param_name: tensor}, higher = kept
        ...

    register_method("mine", score=my_score, kind="one-shot", display_name="Mine")
    drive_lab.run(method="mine", sparsity=0.9)

Every method may be given warm-up epochs and iterations by the config ("SNIP after
warm-up", "iterative SNIP"); ``None`` in the config means the method's default.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from . import scores
from .data import dataset_info
from .pruning import imp_rounds
from .scores.drive import validate_weights

KINDS = ("dense", "one-shot", "iterative", "training-based")
# Run procedures (drive_lab.pipeline.PROCEDURES): "score" = warm-up, prune by the score in N
# steps, train; "imp" = train-prune-rewind rounds. Named here, implemented above this layer.
PROCEDURE_NAMES = ("score", "imp")


def _no_options(config) -> dict:
    return {}


def _no_changes(config) -> dict:
    return {}


def _no_check(config) -> None:
    return None


@dataclass(frozen=True)
class MethodSpec:
    """One pruning method.

    Attributes:
        name: the key used in configs, the CLI and stored results (``"drive"``).
        score: ``score(model, batches, masks, **options) -> {param_name: tensor}``
            (higher = kept); ``None`` for methods with no score (``dense``, ``imp``).
        kind: one of :data:`KINDS`; ``dense`` and ``training-based`` methods ignore the
            config's ``iterations`` (their schedule follows from the method).
        warmup_epochs: default E (dense epochs before pruning).
        iterations: default N (1 = one-shot).
        uses_data: whether scoring consumes training batches.
        score_mode: the network's mode while it is scored, ``"eval"`` (BatchNorm uses its
            running statistics) or ``"train"`` (batch statistics), when the config leaves
            it unset; the reference code's choice for each baseline.
        score_per_class: the default scoring set: this many examples of every class per
            iteration (0: ``score_batches`` batches of ``batch_size``).
        config_fields: method-specific :class:`~drive_lab.config.RunConfig` fields this
            method reads; other methods' specific fields are reset to their defaults by
            ``RunConfig.resolved()``, so they never split one run into several keys.
        options: ``config -> dict`` of keyword arguments for ``score``.
        resolve: ``config -> dict`` of field changes ``RunConfig.resolved()`` applies
            after filling E and N (e.g. IMP's rounds, the dense run's sparsity 0).
        validate: ``config -> None``, raising ``ValueError`` for settings the method rejects.
        procedure: which run procedure executes it (:data:`PROCEDURE_NAMES`).
        display_name, color, marker: how tables and figures show it.
        description: one line for ``--help`` and the docs; reference: the paper.
        baseline: offered as a comparison in the course's explorer and experiments.
        cheap: quick enough to be a default comparison in a live demo.
        legend_rank: position in legends, tables and choice lists (lower first; ties
            keep registration order): DRIVE, then the references and baselines.
    """

    name: str
    score: Callable | None
    kind: str
    warmup_epochs: int = 0
    iterations: int = 1
    uses_data: bool = True
    score_mode: str = "train"
    score_per_class: int = 0
    config_fields: tuple[str, ...] = ()
    options: Callable[[Any], dict] = _no_options
    resolve: Callable[[Any], dict] = _no_changes
    validate: Callable[[Any], None] = _no_check
    procedure: str = "score"
    display_name: str = ""
    color: str = "#777777"
    marker: str = "o"
    description: str = ""
    reference: str = ""
    baseline: bool = False
    cheap: bool = False
    legend_rank: float = 50.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"method {self.name!r}: unknown kind={self.kind!r}; valid choices: {', '.join(KINDS)}")
        if self.procedure not in PROCEDURE_NAMES:
            raise ValueError(f"method {self.name!r}: unknown procedure={self.procedure!r}; "
                             f"valid choices: {', '.join(PROCEDURE_NAMES)}")
        if self.procedure == "score" and self.kind != "dense" and self.score is None:
            raise ValueError(f"method {self.name!r} prunes by score but has no score function")
        if not self.display_name:
            object.__setattr__(self, "display_name", self.name)

    @property
    def takes_iterations(self) -> bool:
        """Whether the config's ``iterations`` (N) applies; dense and IMP set their own."""
        return self.kind not in ("dense", "training-based")

    @property
    def prunes(self) -> bool:
        return self.kind != "dense"

    @property
    def scores_with_data(self) -> bool:
        """Whether its score reads training data, so the scoring mode and set apply to it."""
        return self.uses_data and self.prunes and self.procedure == "score"


METHODS: dict[str, MethodSpec] = {}


def register_method(name: str, *, score: Callable | None, kind: str, replace: bool = False, **fields) -> MethodSpec:
    """Register a method under ``name`` (see :class:`MethodSpec` for ``fields``); returns its spec.

    ``replace=True`` overwrites an existing registration (otherwise ``ValueError``).
    """
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise ValueError(f"a method name is a lower-case identifier such as 'my_score', got {name!r}")
    if name in METHODS and not replace:
        raise ValueError(f"method {name!r} is registered already; pass replace=True to overwrite it")
    spec = MethodSpec(name=name, score=score, kind=kind, **fields)
    METHODS[name] = spec
    return spec


def unregister_method(name: str) -> None:
    """Remove a method registered by :func:`register_method` (for tests and experiments)."""
    METHODS.pop(name, None)


def get_method(name: str) -> MethodSpec:
    """The spec of ``name``; ``ValueError`` naming the valid choices (and a close match) otherwise."""
    if name not in METHODS:
        from difflib import get_close_matches

        close = get_close_matches(str(name), list(METHODS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown method={name!r}{hint}; valid choices: {', '.join(METHODS)}")
    return METHODS[name]


def method_specific_fields() -> tuple[str, ...]:
    """Every config field some method declares in ``config_fields``, in registration order."""
    return tuple(dict.fromkeys(name for spec in METHODS.values() for name in spec.config_fields))


def display_name(method: str) -> str:
    """The printed name of a method key (``"grasp"`` -> ``"GraSP"``); unknown keys are returned as given."""
    spec = METHODS.get(method)
    return spec.display_name if spec else method


def method_order() -> list[str]:
    """The registered method names in display order (``legend_rank``, then registration order)."""
    ranked = sorted(enumerate(METHODS.values()), key=lambda pair: (pair[1].legend_rank, pair[0]))
    return [spec.name for _, spec in ranked]


def baselines(cheap_only: bool = False) -> tuple[str, ...]:
    """Names of the methods registered as baselines (optionally only the cheap ones), in display order."""
    return tuple(name for name in method_order()
                 if METHODS[name].baseline and (METHODS[name].cheap or not cheap_only))


# ----------------------------------------------------------------------------- DRIVE's variants
TERMS = scores.TERMS

# DRIVE's term-weight variants, by the label figures and tables use for them
# (drive_lab.analysis.ablation_label gives these labels to runs), in teaching order.
DRIVE_VARIANTS: dict[str, dict] = {
    "DRIVE (full)": {},
    "without magnitude": {"magnitude": 0.0},
    "without connection": {"connection": 0.0},
    "without convergence": {"convergence": 0.0},
    "magnitude only": {"connection": 0.0, "convergence": 0.0},
    "connection only": {"magnitude": 0.0, "convergence": 0.0},
    "convergence only": {"magnitude": 0.0, "connection": 0.0},
    "product": {"combine": "product"},
    "product without connection": {"combine": "product", "connection": 0.0},
    "product without convergence": {"combine": "product", "convergence": 0.0},
}
# Colours and markers of the variants (Paul Tol's "muted" palette; the full score has DRIVE's colour).
DRIVE_VARIANT_STYLE: dict[str, tuple[str, str]] = {
    "DRIVE (full)": ("#d55e00", "o"),
    "without magnitude": ("#332288", "s"),
    "without connection": ("#117733", "^"),
    "without convergence": ("#882255", "v"),
    "magnitude only": ("#88ccee", "<"),
    "connection only": ("#44aa99", ">"),
    "convergence only": ("#ddcc77", "D"),
    "product": ("#aa4499", "P"),
    "product without connection": ("#999933", "X"),
    "product without convergence": ("#cc6677", "h"),
}


# ----------------------------------------------------------------------------- built-in methods
def _drive_options(config) -> dict:
    return {"magnitude": config.magnitude, "connection": config.connection,
            "convergence": config.convergence, "combine": config.combine}


def _drive_validate(config) -> None:
    validate_weights(config.magnitude, config.connection, config.convergence, config.combine)


def _synflow_options(config) -> dict:
    info = dataset_info(config.dataset)
    return {"input_shape": (info.in_channels, info.image_size, info.image_size)}


def _synflow_validate(config) -> None:
    # SynFlow's all-ones input and |θ| network are defined for continuous inputs; token ids
    # index an embedding, so there is no "input of ones" to send through it.
    if dataset_info(config.dataset).is_text:
        raise ValueError(f"synflow needs a continuous input (its score is the flow of an all-ones image); "
                         f"data set {config.dataset!r} is text; every other method (e.g. drive, snip, prospr) reads text")


def _dense_resolve(config) -> dict:
    # Sparsity means nothing for the dense network: one identity (and one stored run)
    # serves every sparsity of a sweep.
    return {"sparsity": 0.0, "iterations": 0, "rewind": "none"}


def _imp_resolve(config) -> dict:
    # IMP's rounds follow from the sparsity; it always rewinds, to the weights after E epochs.
    return {"iterations": imp_rounds(1 - config.sparsity), "rewind": "init"}


def _register_builtins() -> None:
    # Okabe & Ito (2008) colour-blind-safe palette, one colour per method.
    register_method(
        "drive", legend_rank=0, score=scores.drive, kind="iterative", warmup_epochs=3, iterations=100,
        config_fields=("magnitude", "connection", "convergence", "combine"),
        options=_drive_options, validate=_drive_validate,
        display_name="DRIVE", color="#d55e00", marker="o",
        description="DRIVE: E warm-up epochs, then N iterations scored by magnitude + connection + convergence sensitivity",
        reference="Saikumar & Varghese 2024, arXiv 2404.03687")
    register_method(
        "random", legend_rank=6, score=scores.random, kind="one-shot", uses_data=False, options=lambda config: {"seed": config.seed},
        display_name="Random", color="#999999", marker="X",
        description="uniform random scores, one-shot", baseline=True, cheap=True)
    register_method(
        "magnitude", legend_rank=5, score=scores.magnitude, kind="one-shot", uses_data=False,
        display_name="Magnitude", color="#56b4e9", marker="P",
        description="|θ|, one-shot, at initialisation unless given warm-up epochs", baseline=True)
    register_method(
        "snip", legend_rank=2, score=scores.snip, kind="one-shot",
        score_mode="eval", score_per_class=10,  # Lee et al.'s and Synaptic-Flow's code
        display_name="SNIP", color="#0072b2", marker="^",
        description="SNIP |θ·g| at initialisation, one-shot (Lee et al. 2019)",
        reference="Lee, Ajanthan & Torr 2019, ICLR", baseline=True, cheap=True)
    register_method(
        "grasp", legend_rank=3, score=scores.grasp, kind="one-shot",
        score_mode="train", score_per_class=10,  # Wang et al.'s code
        display_name="GraSP", color="#009e73", marker="v",
        description="GraSP θ·Hg at initialisation, one-shot (Wang et al. 2020)",
        reference="Wang, Zhang & Grosse 2020, ICLR", baseline=True)
    register_method(
        "prospr", legend_rank=4.5, score=scores.prospr, kind="one-shot",
        score_mode="train",  # Alizadeh et al.'s code scores with net.train()
        display_name="ProsPr", color="#661100", marker="h",
        description="ProsPr |∂L(θ after 3 SGD steps)/∂m| at initialisation, one-shot (Alizadeh et al. 2022)",
        reference="Alizadeh, Tailor, Zintgraf, van Amersfoort, Farquhar, Lane & Gal 2022, ICLR", baseline=True)
    register_method(
        "synflow", legend_rank=4, score=scores.synflow, kind="iterative", iterations=100, uses_data=False,
        options=_synflow_options, validate=_synflow_validate, display_name="SynFlow", color="#cc79a7", marker="D",
        description="SynFlow, data-free, 100 iterations (Tanaka et al. 2020)",
        reference="Tanaka, Kunin, Yamins & Ganguli 2020, NeurIPS", baseline=True, cheap=True)
    register_method(
        "imp", legend_rank=1, score=None, kind="training-based", warmup_epochs=0, iterations=0, uses_data=False,
        resolve=_imp_resolve, procedure="imp", display_name="IMP", color="#e69f00", marker="s",
        description="iterative magnitude pruning: train T epochs, prune 20% of survivors, rewind; repeat (Frankle & Carbin 2019)",
        reference="Frankle & Carbin 2019, ICLR", baseline=True)
    register_method(
        "dense", legend_rank=7, score=None, kind="dense", warmup_epochs=0, iterations=0, uses_data=False, resolve=_dense_resolve,
        display_name="Dense", color="#000000", marker="*",
        description="no pruning: the dense reference network", baseline=True)

_register_builtins()
