"""The reproduction study: one experiment per question, each designed to isolate one factor.

Every question is a named experiment (``python -m drive_lab experiment study_scores``;
``experiment study`` runs them all), sized by the preset's :class:`StudyPlan`, so the
whole study regenerates, resumably, with one command. The questions (docs/reproduction.md):

1. ``study_scores``: the score, other things equal. DRIVE, SNIP, SynFlow, GraSP, Magnitude
   and Random with the same warm-up E, the same N iterations and the same scoring set; and
   all of them one-shot at initialisation (E = 0, N = 1, the literature's setting); and the
   dense network trained for T epochs, the reference every pruned network is measured by.
2. ``study_decomposition``: the factorial {E = 0, E} x {one-shot, N} x {SNIP, DRIVE}, which
   splits DRIVE's lead over one-shot SNIP at initialisation into warm-up, iteration and score.
3. ``study_terms`` (drop each term) and ``study_convergence`` (a map over E x lambda, lambda
   the weight of convergence sensitivity).
4. ``study_budget``: warm-up at a fixed T (warm-up epochs come on top) and at an equal total
   budget (E + T constant), for DRIVE and for SNIP after the same warm-up.
5. ``study_imp``: DRIVE vs IMP, accuracy and pruning time on the same machine.
6. ``study_sanity`` (and ``study_sanity_imp`` for IMP, whose every check reruns its whole
   trajectory): every method's final mask shuffled within layers, re-initialised, and its
   ranking inverted (:mod:`drive_lab.sanity`).

IMP's sanity checks share the unmodified run's trajectory (shuffle and reinit act after
pruning), so ``study_sanity_imp`` computed before ``study_imp`` costs one trajectory per
seed for both.

Scoring set: every data-using method scores on :attr:`StudyPlan.score_per_class` examples of
each class per iteration (the SNIP/GraSP reference codes' 10 per class), so the scores see the
same data; each keeps its reference BatchNorm mode (method.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .config import RunConfig
from .methods import DRIVE_VARIANTS, METHODS

# The scores compared in question 1, DRIVE first.
STUDY_SCORES = ("drive", "snip", "synflow", "grasp", "magnitude", "random")
# Methods whose final masks get the sanity checks (question 6).
SANITY_METHODS = ("drive", "snip", "synflow", "grasp", "magnitude", "imp")
STUDY_TERM_VARIANTS = ("DRIVE (full)", "without convergence", "without connection", "without magnitude", "product")


@dataclass(frozen=True)
class StudyArchitecture:
    """One architecture of the study: its RunConfig changes and how much of the study it gets.

    changes: applied to the preset's base run (model, subset, epochs ...). sparsities:
    the study's grid for this architecture. seeds / ablation_seeds: headline comparisons
    (questions 1, 2, 5) / the rest; imp_seeds: question 5's seeds where IMP's cost asks for
    fewer (default: seeds). warmup_epochs: E of the fair setting. questions: the
    experiments that include this architecture (all by default). extra_scores: methods this
    architecture adds to :data:`STUDY_SCORES` and :data:`SANITY_METHODS` (e.g. ``("prospr",)``).
    """

    model: str
    changes: dict = field(default_factory=dict)
    sparsities: tuple[float, ...] = (0.9, 0.98, 0.99)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    ablation_seeds: tuple[int, ...] = (0, 1, 2)
    imp_seeds: tuple[int, ...] | None = None
    warmup_epochs: int = 2
    questions: tuple[str, ...] | None = None
    iterations: int | None = None
    extra_scores: tuple[str, ...] = ()
    note: str = ""

    @property
    def question5_seeds(self) -> tuple[int, ...]:
        return self.seeds if self.imp_seeds is None else self.imp_seeds

    def takes(self, question: str) -> bool:
        return self.questions is None or question in self.questions


@dataclass(frozen=True)
class StudyPlan:
    """How the study is sized on one preset.

    warmup_grid and convergence_grid span the E x lambda map (at ``map_sparsity``);
    budget_warmups are the E values of the equal-budget question, whose total E + T is
    the fair setting's E plus the base run's T.
    """

    architectures: tuple[StudyArchitecture, ...]
    iterations: int = 100
    score_per_class: int = 10
    warmup_grid: tuple[int, ...] = (0, 1, 2, 4)
    convergence_grid: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
    map_sparsity: float = 0.98
    budget_warmups: tuple[int, ...] = (0, 1, 2, 4)
    budget_sparsity: float = 0.98
    description: str = ""

    def iterations_for(self, arch: StudyArchitecture) -> int:
        """N of the fair setting on ``arch``: its own, else the plan's."""
        return self.iterations if arch.iterations is None else arch.iterations


def _taking(plan: StudyPlan, question: str) -> list[StudyArchitecture]:
    """The plan's architectures that ``question`` runs on."""
    return [arch for arch in plan.architectures if arch.takes(question)]


def _uses_data(method: str) -> bool:
    return METHODS[method].uses_data


def _config(base: RunConfig, arch: StudyArchitecture, plan: StudyPlan, method: str, **changes) -> RunConfig:
    values = {**arch.changes, "method": method, **changes}
    if _uses_data(method) and method != "imp":
        values.setdefault("score_per_class", plan.score_per_class)
    return base.replace(**values)


def _grid(base: RunConfig, arch: StudyArchitecture, plan: StudyPlan, method: str, sparsities, seeds, **changes):
    return [_config(base, arch, plan, method, sparsity=s, seed=seed, **changes) for s in sparsities for seed in seeds]


def scores_configs(base: RunConfig, plan: StudyPlan) -> list[RunConfig]:
    """Question 1: every score at (E, N) and at (0, 1), and the dense network as the reference."""
    out = []
    for arch in _taking(plan, "study_scores"):
        # The dense reference, trained for T epochs like every pruned network (one run per seed).
        out += _grid(base, arch, plan, "dense", arch.sparsities[:1], arch.seeds)
        for method in STUDY_SCORES + arch.extra_scores:
            settings = [(arch.warmup_epochs, plan.iterations_for(arch)), (0, 1)]
            if method == "synflow":
                settings.append((0, plan.iterations_for(arch)))  # as published: iterative, from initialisation
            for e, n in settings:
                out += _grid(base, arch, plan, method, arch.sparsities, arch.seeds, warmup_epochs=e, iterations=n)
    return out


def decomposition_configs(base: RunConfig, plan: StudyPlan) -> list[RunConfig]:
    """Question 2: {0, E} x {1, N} x {SNIP, DRIVE}."""
    out = []
    for arch in _taking(plan, "study_decomposition"):
        for method in ("snip", "drive"):
            for e in (0, arch.warmup_epochs):
                for n in (1, plan.iterations_for(arch)):
                    out += _grid(base, arch, plan, method, arch.sparsities, arch.seeds, warmup_epochs=e, iterations=n)
    return out


def terms_configs(base: RunConfig, plan: StudyPlan) -> list[RunConfig]:
    """Question 3a: DRIVE without each term (and the product reading), at (E, N)."""
    out = []
    for arch in _taking(plan, "study_terms"):
        for label in STUDY_TERM_VARIANTS:
            out += _grid(base, arch, plan, "drive", arch.sparsities, arch.ablation_seeds,
                         warmup_epochs=arch.warmup_epochs, iterations=plan.iterations_for(arch), **DRIVE_VARIANTS[label])
    return out


def convergence_configs(base: RunConfig, plan: StudyPlan) -> list[RunConfig]:
    """Question 3b: the E x lambda map at ``map_sparsity``."""
    out = []
    for arch in _taking(plan, "study_convergence"):
        for e in plan.warmup_grid:
            for weight in plan.convergence_grid:
                out += _grid(base, arch, plan, "drive", [plan.map_sparsity], arch.ablation_seeds,
                             warmup_epochs=e, iterations=plan.iterations_for(arch), convergence=weight)
    return out


def budget_configs(base: RunConfig, plan: StudyPlan) -> list[RunConfig]:
    """Question 4: E at fixed T, and E at equal total E + T, for DRIVE and SNIP."""
    out = []
    for arch in _taking(plan, "study_budget"):
        epochs = arch.changes.get("epochs", base.epochs)
        total = arch.warmup_epochs + epochs
        for method, n in (("drive", plan.iterations_for(arch)), ("snip", 1)):
            for e in plan.budget_warmups:
                for t in sorted({epochs, total - e}):
                    if t < 1:
                        continue
                    out += _grid(base, arch, plan, method, [plan.budget_sparsity], arch.ablation_seeds,
                                 warmup_epochs=e, iterations=n, epochs=t)
    return out


def imp_configs(base: RunConfig, plan: StudyPlan) -> list[RunConfig]:
    """Question 5: IMP (rewinding to initialisation) and DRIVE at (E, N)."""
    out = []
    for arch in _taking(plan, "study_imp"):
        out += _grid(base, arch, plan, "imp", arch.sparsities, arch.question5_seeds)
        out += _grid(base, arch, plan, "drive", arch.sparsities, arch.question5_seeds, warmup_epochs=arch.warmup_epochs,
                     iterations=plan.iterations_for(arch))
    return out


def sanity_configs(base: RunConfig, plan: StudyPlan) -> list[RunConfig]:
    """Question 6 for the scores (every method but IMP): see :func:`_sanity_configs`."""
    return [c for c in _sanity_configs(base, plan) if c.method != "imp"]


def sanity_imp_configs(base: RunConfig, plan: StudyPlan) -> list[RunConfig]:
    """Question 6 for IMP alone (its own table: each check reruns IMP's whole trajectory)."""
    return [c for c in _sanity_configs(base, plan) if c.method == "imp"]


def _sanity_configs(base: RunConfig, plan: StudyPlan) -> list[RunConfig]:
    """Question 6: each method at its own setting, unmodified, shuffled, re-initialised, inverted.

    "Its own setting": DRIVE at (E, N), SynFlow at N iterations from initialisation, the
    others one-shot at initialisation (as the literature runs them). IMP is not inverted
    (its inversion would be a different trajectory of 20% rounds; left out for cost).
    """
    out = []
    for arch in _taking(plan, "study_sanity"):
        for method in SANITY_METHODS + arch.extra_scores:
            own = {"drive": dict(warmup_epochs=arch.warmup_epochs, iterations=plan.iterations_for(arch)),
                   "synflow": dict(warmup_epochs=0, iterations=plan.iterations_for(arch)),
                   "imp": {}}.get(method, dict(warmup_epochs=0, iterations=1))
            checks = ("none", "shuffle", "reinit") if method == "imp" else ("none", "shuffle", "reinit", "invert")
            for check in checks:
                out += _grid(base, arch, plan, method, arch.sparsities, arch.ablation_seeds, sanity=check, **own)
    return out


QUESTIONS = {
    "study_scores": ("the score, other things equal: every score at the same E, N and scoring set, "
                     "and all one-shot at initialisation", scores_configs),
    "study_decomposition": ("DRIVE's lead over one-shot SNIP at initialisation split into warm-up, iteration "
                            "and score: {0, E} x {1, N} x {SNIP, DRIVE}", decomposition_configs),
    "study_terms": ("DRIVE without each of its terms, and the product reading, at (E, N)", terms_configs),
    "study_convergence": ("the E x lambda map, lambda the weight of convergence sensitivity", convergence_configs),
    "study_budget": ("warm-up at fixed T and at equal total budget E + T, DRIVE and SNIP", budget_configs),
    "study_imp": ("DRIVE vs IMP: accuracy and pruning time on the same machine", imp_configs),
    "study_sanity": ("sanity checks: each method's mask shuffled within layers, re-initialised, ranking inverted",
                     sanity_configs),
    "study_sanity_imp": ("sanity checks of IMP: its final mask shuffled within layers and re-initialised",
                         sanity_imp_configs),
}
