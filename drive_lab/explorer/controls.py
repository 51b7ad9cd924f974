"""The explorer's controls: their values, their defaults, and the run configs they stand for.

What is valid is decided by :class:`~drive_lab.config.RunConfig`: the controls are turned
into configs, and the config's checks raise (types, ranges, choices, and DRIVE's term
weights through :func:`drive_lab.scores.drive.validate_weights`, via the methods registry). This
module only converts control values to config values (rounding, NumPy integers) and puts
the config's complaint into the explorer's words (:data:`_WORDING`). The baselines on
offer are the registry's (:func:`drive_lab.methods.baselines`).
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..config import RunConfig
from ..methods import baselines
from ..presets import Preset, get_preset
from ..scores.drive import COMBINATIONS, TERMS


def baseline_choices() -> tuple[str, ...]:
    """The methods the explorer offers beside DRIVE: the registry's baselines, the cheap ones first."""
    cheap = baselines(cheap_only=True)
    return (*cheap, *(name for name in baselines() if name not in cheap))


# As registered at import (drive_lab.methods); the functions below ask the registry each time.
BASELINE_CHOICES = baseline_choices()
DEFAULT_BASELINES = baselines(cheap_only=True)  # SNIP, SynFlow, Random: one-shot or data-free


@dataclass(frozen=True)
class AblationControls:
    """The explorer's control values. ``None`` means "the preset's value".

    Term weights a, b, c (``magnitude``, ``connection``, ``convergence``; default 1, unitless):
    0 switches that term off. ``combine``: ``"sum"`` (S = a·M/ΣM + b·C/ΣC + c·V/ΣV, default) or
    ``"product"`` (S = M·(b·C/ΣC + c·V/ΣV)), see ``docs/method.md``. ``warmup_epochs`` E
    (epochs) and ``iterations`` N of your setting; ``sparsity``: target fraction of prunable
    weights removed, in (0, 1); ``model``/``dataset``: within the preset; ``seeds``: one run
    per seed; ``baselines``: methods (from :func:`baseline_choices`) run with their preset
    defaults for comparison (default :data:`DEFAULT_BASELINES`).
    """

    magnitude: float = 1.0
    connection: float = 1.0
    convergence: float = 1.0
    combine: str = "sum"
    warmup_epochs: int | None = None
    iterations: int | None = None
    sparsity: float | None = None
    model: str | None = None
    dataset: str | None = None
    seeds: tuple[int, ...] | None = None
    baselines: tuple[str, ...] = DEFAULT_BASELINES

    def replace(self, **changes) -> "AblationControls":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def as_preset(preset: Preset | str | None) -> Preset:
    """``preset`` itself, or the preset of that name (``None``: :func:`drive_lab.presets.get_preset`)."""
    return preset if isinstance(preset, Preset) else get_preset(preset)


def model_choices(preset: Preset) -> tuple[str, ...]:
    """The models the explorer offers: the preset's default model and its full-run models."""
    return tuple(dict.fromkeys((preset.run.model, *preset.models)))


def dataset_choices(preset: Preset) -> tuple[str, ...]:
    """The data sets the explorer offers: the preset's."""
    return (preset.run.dataset,)


def default_controls(preset: Preset | str | None = None) -> AblationControls:
    """The explorer's initial control values for ``preset`` (every field concrete).

    DRIVE without its convergence term (c = 0) against the full DRIVE, at the preset's
    largest ablation sparsity, E and N of the preset, its model, data and first seed, and
    the registry's cheap baselines (SNIP, SynFlow and Random).
    """
    preset = as_preset(preset)
    return AblationControls(
        magnitude=1.0, connection=1.0, convergence=0.0, combine="sum",
        warmup_epochs=preset.warmup_epochs, iterations=preset.iterations, sparsity=max(preset.sparsities),
        model=preset.run.model, dataset=preset.run.dataset, seeds=tuple(preset.seeds[:1]),
        baselines=baselines(cheap_only=True),
    )


def _as_controls(controls: AblationControls | Mapping | None, values: Mapping,
                 base: AblationControls) -> AblationControls:
    """``controls`` as AblationControls (``None``: ``base``; a dict changes fields of ``base``), ``values`` applied."""
    if controls is None:
        controls, values = base, dict(values)
    elif isinstance(controls, Mapping):
        controls, values = base, {**dict(controls), **values}
    elif not isinstance(controls, AblationControls):
        raise TypeError(f"controls must be AblationControls or a dict, got {type(controls).__name__}")
    names = [f.name for f in dataclasses.fields(AblationControls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"unknown control(s) {unknown}; valid: {', '.join(names)}")
    return controls.replace(**values) if values else controls


# ---------------------------------------------------------------------------- control -> config values
def _number(value: Any) -> Any:
    """A finite real number as a float rounded to 6 decimals (slider noise must not split one
    run into several store keys); anything else unchanged, for the config to judge."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
        return round(float(value), 6)
    return value


def _integer(value: Any) -> Any:
    """A NumPy integer as a Python int (what RunConfig takes); anything else unchanged."""
    return int(value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else value


def _seeds(value: Any) -> tuple:
    values = tuple(value) if isinstance(value, Iterable) and not isinstance(value, str) else (value,)
    return tuple(dict.fromkeys(_integer(seed) for seed in values))


# ---------------------------------------------------------------------------- RunConfig's complaint, worded
Words = Callable[[Mapping, Mapping, Exception], str]  # (controls as given, config values, the config's error)
_PRODUCT = "the product reading S = M·(b·C/ΣC + c·V/ΣV)"


def _weight_words(term: str) -> Words:
    return lambda given, changes, error: (f"the weight of the {term} term must be a number >= 0 (0 switches the "
                                          f"term off); got {given[term]!r}")


def _terms_words(given: Mapping, changes: Mapping, error: Exception) -> str:
    if changes["combine"] == "product":
        return ("the product reading needs connection or convergence switched on "
                "(S = M·(b·C/ΣC + c·V/ΣV) would be 0 for every weight)")
    return ("all three DRIVE terms (magnitude, connection, convergence) are switched off, so every weight would "
            "score 0 and there is nothing to rank by: switch at least one term on")


def _sparsity_words(given: Mapping, changes: Mapping, error: Exception) -> str:
    rounded = changes["sparsity"]
    if isinstance(rounded, float) and math.isfinite(rounded) and rounded != given["sparsity"]:
        return f"target sparsity {given['sparsity']!r} rounds to {rounded}: choose a value strictly between 0 and 1"
    return ("target sparsity must be strictly between 0 and 1 (0.9 removes 90% of the prunable weights; 1.0 would "
            f"remove every weight and leave nothing to train); got {given['sparsity']!r}")


def _config_words(given: Mapping, changes: Mapping, error: Exception) -> str:
    return str(error)  # RunConfig's own words serve: "unknown model='x'; valid choices: ..."


# (the config fields a probe sets on the preset's valid DRIVE config, the message when
# RunConfig rejects that probe), tried in order: the first rejected probe names the problem.
_WORDING: tuple[tuple[tuple[str, ...], Words], ...] = (
    (("combine",), lambda given, changes, error: (f"combination must be one of {', '.join(COMBINATIONS)}; "
                                                  f"got {given['combine']!r}")),
    *(((term,), _weight_words(term)) for term in TERMS),
    (("combine", "magnitude"), lambda given, changes, error: (
        f"{_PRODUCT} multiplies by the magnitude term, so magnitude cannot be switched off there: switch "
        "magnitude on, or choose 'sum' to drop magnitude")),
    (("combine", *TERMS), _terms_words),
    (("sparsity",), _sparsity_words),
    (("warmup_epochs",), lambda given, changes, error: ("warm-up epochs E must be a whole number >= 0 (0 = prune "
                                                        f"at initialisation); got {given['warmup_epochs']!r}")),
    (("iterations",), lambda given, changes, error: ("pruning iterations N must be a whole number >= 1 "
                                                     f"(1 = one-shot); got {given['iterations']!r}")),
    (("seed",), _config_words),
    (("model",), _config_words),
    (("dataset",), _config_words),
)


def _drive_config(preset: Preset, changes: Mapping, given: Mapping) -> RunConfig:
    """``preset.config(method="drive", **changes)``; its ``ValueError`` in the explorer's words."""
    try:
        return preset.config(method="drive", **changes)
    except (TypeError, ValueError) as error:  # RunConfig: TypeError for a value of the wrong type
        base = preset.config(method="drive")
        for fields, words in _WORDING:
            try:
                base.replace(**{name: changes[name] for name in fields})
            except (TypeError, ValueError) as rejected:
                raise ValueError(words(given, changes, rejected)) from None
        raise ValueError(f"invalid setting: {error}") from None


# ---------------------------------------------------------------------------- controls -> configs
def resolve(preset: Preset, controls: AblationControls | Mapping | None = None,
            values: Mapping | None = None) -> tuple[AblationControls, list[RunConfig], list[RunConfig]]:
    """``(resolved controls, your setting's configs, reference configs)``: :func:`resolve_controls`
    and :func:`ablation_configs` in one pass (``values`` change single fields of ``controls``)."""
    defaults = default_controls(preset)
    c = _as_controls(controls, values or {}, defaults)
    given = {name: getattr(defaults, name) if getattr(c, name) is None else getattr(c, name)
             for name in ("warmup_epochs", "iterations", "sparsity", "model", "dataset", "seeds")}
    given.update({term: getattr(c, term) for term in TERMS}, combine=c.combine)
    changes = {term: _number(given[term]) for term in TERMS}
    changes.update(combine=c.combine, sparsity=_number(given["sparsity"]), model=given["model"],
                   dataset=given["dataset"], warmup_epochs=_integer(given["warmup_epochs"]),
                   iterations=_integer(given["iterations"]))
    seeds = given["seeds"] = _seeds(given["seeds"])
    if not seeds:
        raise ValueError("no seed is selected: choose at least one seed")
    variants = [_drive_config(preset, {**changes, "seed": seed}, given) for seed in seeds]
    chosen = (c.baselines,) if isinstance(c.baselines, str) else tuple(dict.fromkeys(c.baselines or ()))
    offered = baseline_choices()
    unknown = [name for name in chosen if name not in offered]
    if unknown:
        raise ValueError(f"unknown baseline(s) {', '.join(map(repr, unknown))}; choose from {', '.join(offered)}")
    common = {"sparsity": changes["sparsity"], "model": changes["model"], "dataset": changes["dataset"]}
    try:
        references = [preset.config(method=method, **common, seed=seed)
                      for method in ("drive", *chosen) for seed in seeds]
    except (TypeError, ValueError) as error:
        raise ValueError(f"invalid setting: {error}") from None
    mine = variants[0]
    resolved = AblationControls(**{term: getattr(mine, term) for term in TERMS}, combine=mine.combine,
                                warmup_epochs=mine.warmup_epochs, iterations=mine.iterations, sparsity=mine.sparsity,
                                model=mine.model, dataset=mine.dataset, seeds=seeds, baselines=chosen)
    return resolved, variants, references


def resolve_controls(preset: Preset | str | None = None, controls: AblationControls | Mapping | None = None,
                     **values) -> AblationControls:
    """``controls`` (default: :func:`default_controls`; ``values`` change single fields), checked,
    with every ``None`` replaced by the preset's value (weights and sparsity rounded to 6 decimals).

    Raises ``ValueError`` with a message meant for a learner (:func:`control_problem`): all
    terms switched off, a sparsity outside (0, 1), no seed chosen, an unknown baseline, ...
    """
    return resolve(as_preset(preset), controls, values)[0]


def control_problem(preset: Preset | str | None = None, controls: AblationControls | Mapping | None = None,
                    **values) -> str | None:
    """The message the explorer shows for these control values, or ``None`` when they are valid.

    ``controls`` default to :func:`default_controls` of the preset; ``values`` change single
    fields, e.g. ``control_problem(preset, sparsity=1.0)``.
    """
    try:
        resolve(as_preset(preset), controls, values)
    except ValueError as error:
        return str(error) or type(error).__name__
    return None


def ablation_configs(preset: Preset | str | None = None, controls: AblationControls | Mapping | None = None,
                     **values) -> tuple[list[RunConfig], list[RunConfig]]:
    """The runs behind one press of Run: ``(your setting's configs, reference configs)``.

    Your setting: DRIVE with the chosen term weights, combination, E, N, sparsity, model and
    data, one config per seed. References, one per seed each: the full DRIVE with the
    preset's defaults (a = b = c = 1, sum, the preset's E and N) and every chosen baseline
    with its preset defaults, at the same sparsity, model and data. Configs come from
    ``preset.config`` (epochs, optimiser and data sizes are the preset's). ``ValueError`` with
    a readable message for invalid control values (see :func:`resolve_controls`).
    """
    _, variants, references = resolve(as_preset(preset), controls, values)
    return variants, references
