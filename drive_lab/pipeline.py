"""``run(config)``: warm-up, prune, train, evaluate — one complete pruning experiment."""
from __future__ import annotations

import copy
import dataclasses
import datetime
import itertools
import time
import warnings

import torch

from . import data as data_module
from .config import RunConfig
from .masks import Masks
from .methods import METHODS
from .models import build, check_input
from .pruning import prune
from .results import RunResult
from .runtime import environment, resolve_device, seed_everything, synchronize
from .training import train

# Scoring batches and the final training draw from their own random streams, so changing
# N, the number of scoring batches or the pruning method leaves the other streams alone.
SCORING_STREAM = 1_000_003
FINAL_TRAINING_STREAM = 2_000_003


def prepare(config: RunConfig):
    """Validate ``config``, then build the model and load the data (nothing is trained).

    Returns ``(config, device, model, data)`` with ``config`` resolved. Every check that
    can fail (names, ranges, model/input mismatch) runs before any data is loaded.
    """
    config = config.resolved()
    device = resolve_device(config.device)
    info = data_module.dataset_info(config.dataset)
    seed_everything(config.seed)
    model = build(config.model, num_classes=info.num_classes, in_channels=info.in_channels, image_size=info.image_size)
    check_input(model, info.in_channels, info.image_size, config.model)
    data = data_module.load(
        config.dataset, root=config.data_root, subset=config.subset, test_subset=config.test_subset,
        device=device, download=config.download, augment=config.augment,
    )
    if data.num_classes != info.num_classes:  # e.g. a partial Tiny ImageNet folder
        seed_everything(config.seed)
        model = build(config.model, num_classes=data.num_classes, in_channels=info.in_channels, image_size=info.image_size)
    model = model.to(device)
    _prime(model, data, config.batch_size)
    return config, device, model, data


def _prime(model, data, batch_size: int) -> None:
    """One untimed forward-backward pass on a throw-away copy of the model.

    The first pass in a process pays one-off costs (kernel selection, allocator growth,
    lazy initialisation) of several seconds on CPU; without this they would be charged to
    whichever phase of whichever run comes first and skew pruning-time comparisons.
    """
    scratch = copy.deepcopy(model).train()
    # The first optimiser built in a process imports torch._dynamo (seconds): do it here.
    optimiser = torch.optim.SGD(scratch.parameters(), lr=0.0, momentum=0.9, foreach=True)
    x, y = data.x_train[:batch_size], data.y_train[:batch_size]
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=x.device.type == "cuda"):
        loss = torch.nn.functional.cross_entropy(scratch(x).float(), y)
    loss.backward()
    optimiser.step()
    synchronize(x.device)


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
    if config.method == "imp":
        from .imp import run_imp

        return run_imp(config)
    config, device, model, data = prepare(config)
    spec = METHODS[config.method]
    generator = torch.Generator().manual_seed(config.seed)
    initial_state = copy.deepcopy(model.state_dict()) if config.rewind == "init" else None
    warmup_history, seconds = warm_up(model, data, config, generator)

    stream = data.stream(config.batch_size, torch.Generator().manual_seed(config.seed + SCORING_STREAM))
    batches = (lambda: list(itertools.islice(stream, config.score_batches))) if spec.uses_data else None
    start = time.perf_counter()
    if spec.score is None:  # dense: nothing to prune
        masks, pruning_history = Masks.ones(model), []
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # collapse is reported once, in finish(), with the run's context
            masks, history = prune(model, spec.score, batches, 1.0 - config.sparsity, config.iterations,
                                   score_options=spec.options(config))
        pruning_history = history.to_dict()
    synchronize(device)
    seconds["scoring"] = time.perf_counter() - start
    seconds["pruning"] = seconds["warmup"] + seconds["scoring"]
    final_generator = torch.Generator().manual_seed(config.seed + FINAL_TRAINING_STREAM)
    return finish(config, device, model, data, masks, initial_state, final_generator, seconds,
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
    config, device, model, data = prepare(config)
    warm_up(model, data, config, torch.Generator().manual_seed(config.seed))
    stream = data.stream(config.batch_size, torch.Generator().manual_seed(config.seed + SCORING_STREAM))
    return model, data, list(itertools.islice(stream, config.score_batches))


def warm_up(model, data, config: RunConfig, generator: torch.Generator):
    """E dense epochs at a constant learning rate (decay belongs to the final training).

    Returns ``(history, {"warmup": seconds})``.
    """
    device = data.device
    synchronize(device)
    start = time.perf_counter()
    optimisation = dataclasses.replace(config.optimisation, lr_schedule="constant")
    history = train(model, data, config.warmup_epochs, optimisation, generator=generator,
                    desc="warm-up", evaluate_every_epoch=False)
    synchronize(device)
    return history, {"warmup": time.perf_counter() - start}


def finish(config: RunConfig, device, model, data, masks: Masks, initial_state, generator, seconds: dict,
           warmup_history: list, pruning_history: list) -> RunResult:
    """Final phase shared by every method: optional rewind, train T epochs, evaluate, record."""
    if initial_state is not None:
        model.load_state_dict(initial_state)
    masks.apply(model)
    collapsed = masks.collapsed()
    if collapsed:
        warnings.warn(
            f"layer collapse in {config.method} at sparsity {config.sparsity}: {', '.join(collapsed)} "
            "kept no weight, so the network is disconnected", stacklevel=3,
        )
    start = time.perf_counter()
    history = train(model, data, config.epochs, config.optimisation, masks=masks, generator=generator, desc="training")
    synchronize(device)
    seconds["training"] = time.perf_counter() - start
    seconds["total"] = seconds["pruning"] + seconds["training"]
    if history.epochs:
        final_loss, final_accuracy = history.epochs[-1].test_loss, history.epochs[-1].test_accuracy
        best_accuracy = max(e.test_accuracy for e in history.epochs)
    else:
        from .training import evaluate

        final_loss, final_accuracy = evaluate(model, data)
        best_accuracy = final_accuracy
    return RunResult(
        key=config.key(),
        config=config.to_dict(),
        final_test_accuracy=final_accuracy,
        best_test_accuracy=best_accuracy,
        final_test_loss=final_loss,
        density=masks.density(),
        kept_weights=masks.kept(),
        prunable_weights=masks.total(),
        layer_density=masks.layer_density(),
        collapsed_layers=collapsed,
        seconds=seconds,
        environment=environment(device),
        training_history=history.to_dict(),
        warmup_history=warmup_history,
        pruning_history=pruning_history,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )
