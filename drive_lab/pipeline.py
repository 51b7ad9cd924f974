"""``run(config)``: warm-up, prune, train, evaluate — one complete pruning experiment.

The method's registry entry (:mod:`drive_lab.methods`) names the procedure that runs it:
``"score"`` (:func:`run_scored`: warm-up, N scoring iterations, training) or ``"imp"``
(:func:`drive_lab.imp.run_imp`: train-prune-rewind rounds). Register another procedure
with :func:`register_procedure`.
"""
from __future__ import annotations

import copy
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from .config import RunConfig
from .imp import run_imp, run_imp_targets, trajectory_identity
from .masks import Masks
from .methods import PROCEDURE_NAMES, get_method
from . import models
from .phases import (FINAL_TRAINING_STREAM, SCORING_STREAM, check_run, final_training_generator, finish, prepare,
                     scoring_batches, scoring_source, scoring_stream, warm_up)
from .pruning import prune
from .results import RunResult
from .runtime import synchronize, torch_threads
from .sanity import score_for


@dataclass(frozen=True)
class Procedure:
    """How runs of one kind execute.

    run: ``config -> RunResult``; run_grid: ``[config, ...] -> [RunResult]``, one
    trajectory serving several configs (IMP: a sparsity grid and its after-pruning sanity
    checks), or ``None`` when every config is its own run; grid_identity: ``config -> str``,
    equal for the configs one run_grid call may serve.
    """

    run: Callable[[RunConfig], RunResult]
    run_grid: Callable[[Sequence[RunConfig]], list[RunResult]] | None = None
    grid_identity: Callable[[RunConfig], str] | None = None


PROCEDURES: dict[str, Procedure] = {}


def register_procedure(name: str, run: Callable[[RunConfig], RunResult],
                       run_grid: Callable[[Sequence[RunConfig]], list[RunResult]] | None = None,
                       grid_identity: Callable[[RunConfig], str] | None = None) -> None:
    """Make ``name`` a procedure a method may name in its registry entry (``run_grid``
    needs ``grid_identity``)."""
    if (run_grid is None) != (grid_identity is None):
        raise ValueError("register_procedure needs both run_grid and grid_identity, or neither")
    PROCEDURES[name] = Procedure(run, run_grid, grid_identity)


def procedure(method: str) -> Procedure:
    """The procedure that runs ``method``."""
    name = get_method(method).procedure
    if name not in PROCEDURES:
        raise ValueError(f"method {method!r} names procedure {name!r}, which is not registered; "
                         f"registered: {', '.join(PROCEDURES)}")
    return PROCEDURES[name]


def run(config: RunConfig | None = None, **overrides) -> RunResult:
    """Run one pruning experiment and return its :class:`RunResult`.

    ``run(RunConfig(...))`` or ``run(method="drive", sparsity=0.95, ...)``. Phases, each
    timed in wall-clock seconds: dense warm-up (E epochs, constant learning rate), pruning
    (N scoring iterations of the method's score function on fresh training batches), and
    training of the sparse network (T epochs, fresh optimiser and schedule). IMP runs its
    own train-prune-rewind rounds (:mod:`drive_lab.imp`); ``dense`` skips pruning.
    """
    config = config or RunConfig()
    if overrides:
        config = config.replace(**overrides)
    with torch_threads(config.threads):
        return procedure(config.method).run(config)


def run_grid(configs: Sequence[RunConfig]) -> list[RunResult]:
    """The runs of ``configs`` from one shared computation of their procedure's grid runner
    (IMP: one trajectory; see :func:`Procedure.run_grid <Procedure>`), one result per config,
    in order, each what ``run(config)`` returns. The configs must share a grid identity and
    so a thread count, which is pinned here as :func:`run` pins it."""
    if not configs:
        raise ValueError("run_grid needs at least one config")
    chosen = procedure(configs[0].method)
    if chosen.run_grid is None:
        raise ValueError(f"method {configs[0].method!r} has no grid runner; run its configs one by one with run()")
    with torch_threads(configs[0].threads):
        return chosen.run_grid(list(configs))


def run_scored(config: RunConfig) -> RunResult:
    """The ``"score"`` procedure: E warm-up epochs, N scoring iterations, T training epochs."""
    config, device, model, data = prepare(config)
    spec = get_method(config.method)
    generator = torch.Generator().manual_seed(config.seed)
    initial_state = copy.deepcopy(model.state_dict()) if config.rewind == "init" else None
    warmup_history, seconds = warm_up(model, data, config, generator)

    batches = scoring_source(data, config) if spec.uses_data else None
    start = time.perf_counter()
    if not spec.prunes:
        masks, pruning_history = Masks.ones(model), []
    else:
        # Scores see the network in the run's scoring mode (BatchNorm running or batch statistics).
        with warnings.catch_warnings(), models.mode(model, training=config.score_mode != "eval"):
            warnings.simplefilter("ignore")  # collapse is reported once, in finish(), with the run's context
            masks, history = prune(model, score_for(spec.score, config.sanity), batches, 1.0 - config.sparsity, config.iterations,
                                   score_options=spec.options(config))
        pruning_history = history.to_dict()
    synchronize(device)
    seconds["scoring"] = time.perf_counter() - start
    seconds["pruning"] = seconds["warmup"] + seconds["scoring"]
    return finish(config, device, model, data, masks, initial_state, final_training_generator(config), seconds,
                  warmup_history.to_dict(), pruning_history)


def warmed_up(config: RunConfig | None = None, **overrides):
    """A network after DRIVE's dense warm-up, ready to be scored (for teaching and analysis).

    Returns ``(model, data, batches)``: the model after ``config.warmup_epochs`` epochs
    (0: at initialisation; same seed, same initial weights), its data, and
    ``config.score_batches`` training batches for scoring.
    """
    config = config or RunConfig()
    if overrides:
        config = config.replace(**overrides)
    with torch_threads(config.threads):
        config, device, model, data = prepare(config)
        warm_up(model, data, config, torch.Generator().manual_seed(config.seed))
        return model, data, scoring_batches(data, config)



register_procedure("score", run_scored)
register_procedure("imp", run_imp, run_imp_targets, trajectory_identity)
assert set(PROCEDURES) == set(PROCEDURE_NAMES), "every procedure the registry names is implemented here"

__all__ = ["run", "run_scored", "warmed_up", "check_run", "prepare", "warm_up", "finish", "Procedure", "PROCEDURES",
           "register_procedure", "procedure", "SCORING_STREAM", "FINAL_TRAINING_STREAM"]
