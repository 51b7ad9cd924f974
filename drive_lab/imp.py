"""Iterative Magnitude Pruning (Frankle & Carbin 2019), as method.md pins it down.

Round r: rewind the surviving weights to the rewind point, train T epochs, prune 20% of
the survivors by global magnitude. After L rounds the density is 0.8^L, except the last
round, which prunes exactly to the target. The rewind point is the initialisation, or
the weights after E warm-up epochs ("rewind to epoch k" with k = E).

One trajectory passes through every intermediate density, so :func:`run_imp_targets`
serves a whole sparsity grid with the rounds of the sparsest target alone, and the
after-pruning sanity checks (shuffle, reinit) of those targets too; each target's pruning
time is still the time of its own L rounds (what a separate run would cost).
"""
from __future__ import annotations

import copy
import time
from typing import Sequence

import torch

from . import scores
from .config import RunConfig
from .masks import Masks, keep_top
from .methods import get_method
from .phases import final_training_generator, finish, prepare, warm_up
from .pruning import IMP_PRUNE_FRACTION, PruningStep, imp_densities, imp_rounds
from .results import RunResult
from .runtime import synchronize, torch_threads
from .sanity import AFTER_PRUNING_CHECKS, pruning_identity, score_for
from .training import train


def run_imp(config: RunConfig) -> RunResult:
    """One IMP run (``config.method == "imp"``)."""
    return run_imp_targets([config])[0]


def run_imp_grid(config: RunConfig, sparsities: Sequence[float]) -> list[RunResult]:
    """IMP at every sparsity in ``sparsities`` from one shared trajectory.

    Returns one :class:`RunResult` per sparsity, in the given order; each equals what
    ``run_imp(config.replace(sparsity=s))`` returns (the final training has its own
    random stream, so sharing the trajectory changes nothing but the cost).
    """
    if not sparsities:
        raise ValueError("run_imp_grid needs at least one sparsity")
    return run_imp_targets([config.replace(sparsity=s) for s in sparsities])


def trajectory_identity(config: RunConfig) -> str:
    """Equal for IMP configs that prune along the same trajectory: they differ at most in
    sparsity and in a sanity check that acts after pruning (shuffle, reinit)."""
    return config.replace(sparsity=0.5, sanity=pruning_identity(config.sanity)).key()


def run_imp_targets(configs: Sequence[RunConfig]) -> list[RunResult]:
    """IMP for every config in ``configs`` from one shared trajectory (see
    :func:`trajectory_identity`): one result per config, in order, each what
    ``run_imp(config)`` returns. Each target's pruning time is that of its own rounds."""
    if not configs:
        raise ValueError("run_imp_targets needs at least one config")
    config = configs[0]
    if get_method(config.method).procedure != "imp":
        raise ValueError(f"IMP runs need an IMP method such as method='imp', got {config.method!r}")
    identities = {trajectory_identity(c) for c in configs}
    if len(identities) > 1:
        raise ValueError("IMP targets of one trajectory may differ only in sparsity and in an after-pruning sanity "
                         f"check ({', '.join(AFTER_PRUNING_CHECKS)}); got {len(identities)} different trajectories")
    with torch_threads(config.threads):  # CPU results depend on the thread count: pin it as pipeline.run does
        return _run_imp_targets([c.resolved() for c in configs])


def _run_imp_targets(targets: list[RunConfig]) -> list[RunResult]:
    base, device, model, data = prepare(targets[0])
    generator = torch.Generator().manual_seed(base.seed)

    warmup, seconds = warm_up(model, data, base, generator)
    warmup_seconds = seconds["warmup"]
    rewind_state = copy.deepcopy(model.state_dict())

    last_round = max(t.iterations for t in targets)
    rank_by = score_for(scores.magnitude, base.sanity)  # inverted for the invert sanity check
    masks = Masks.ones(model).to(device)
    steps: list[PruningStep] = []
    finals: dict[int, Masks] = {}
    train_seconds: list[float] = []  # per round: rewind + T epochs of training
    for r in range(1, last_round + 1):
        synchronize(device)
        start = time.perf_counter()
        model.load_state_dict(rewind_state)
        masks.apply(model)
        train(model, data, base.epochs, base.optimisation, masks=masks, generator=generator,
              desc=f"IMP round {r}/{last_round}", evaluate_every_epoch=False)
        synchronize(device)
        train_seconds.append(time.perf_counter() - start)
        start = time.perf_counter()
        magnitudes = rank_by(model, None, masks)
        for i, target in enumerate(targets):
            if target.iterations == r:  # this target's last round prunes exactly to it
                finals[i] = keep_top(magnitudes, masks, 1 - target.sparsity)
        if r < last_round:
            masks = keep_top(magnitudes, masks, (1 - IMP_PRUNE_FRACTION) ** r)
        synchronize(device)
        prune_seconds = time.perf_counter() - start
        steps.append(PruningStep(r, masks.density(), masks.density(), masks.kept(), masks.layer_density(),
                                 masks.collapsed(), train_seconds[-1] + prune_seconds))

    results = []
    for i, target in enumerate(targets):
        rounds = target.iterations
        own_steps = [s.to_dict() for s in steps[:rounds]]
        final = finals[i]
        own_steps[-1].update(target_density=1 - target.sparsity, density=final.density(), kept=final.kept(),
                             layer_density=final.layer_density(), collapsed=final.collapsed())
        training_rounds = sum(train_seconds[:rounds])
        masking = sum(s.seconds for s in steps[:rounds]) - training_rounds
        # "rounds": the T-epoch trainings of the train-prune-rewind rounds; "scoring": the
        # magnitude ranking and masking; all of it is pruning time (method.md).
        seconds = {"warmup": warmup_seconds, "rounds": training_rounds, "scoring": masking,
                   "pruning": warmup_seconds + training_rounds + masking}
        results.append(finish(target, device, model, data, final, rewind_state, final_training_generator(target), seconds,
                              warmup.to_dict(), own_steps))
    return results
