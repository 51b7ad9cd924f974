"""The phases every pruning run shares: prepare, dense warm-up, and finish (train, evaluate, record).

:func:`drive_lab.pipeline.run` and :mod:`drive_lab.imp` both build on these, so neither
needs the other. Times are wall-clock seconds, with the GPU synchronised around each phase.
"""
from __future__ import annotations

import copy
import dataclasses
import datetime
import functools
import itertools
import math
import time
import warnings

import torch

from . import data as data_module
from .config import RunConfig
from .masks import Masks
from .models import build, check_input
from .results import RunResult
from .runtime import environment, resolve_device, seed_everything, synchronize
from .sgd import SGD
from .sanity import before_training
from .training import TrainingDiverged, evaluate, train

# Scoring batches and the final training draw from their own random streams, so changing
# N, the number of scoring batches or the pruning method leaves the other streams alone.
SCORING_STREAM = 1_000_003
FINAL_TRAINING_STREAM = 2_000_003


@functools.lru_cache(maxsize=64)
def check_model_fits(model_name: str, dataset: str) -> None:
    """``ValueError`` unless model ``model_name`` accepts ``dataset``'s inputs (images or token ids).

    Built on the CPU and run on two dummy inputs (milliseconds for the small models, about
    0.3 s for VGG-16), torch's RNG left as it was; cached per (model, dataset). Not on the
    meta device: a meta forward pass imports ``torch._dynamo`` through torch's
    decompositions, seconds of start-up for every process that checks a run.
    """
    info = data_module.dataset_info(dataset)
    with torch.random.fork_rng(devices=[]):
        model = build(model_name, num_classes=info.num_classes, **info.model_inputs())
    check_input(model, name=model_name, **info.model_inputs())


def check_run(config: RunConfig) -> None:
    """Every check that can fail before any compute: the config's values (at construction),
    the device, the model against the data's input size, and the data's presence and
    size. Raises ``ValueError`` (``DatasetNotFoundError`` for missing files) naming the
    problem; loads and trains nothing."""
    config = config.resolved()
    resolve_device(config.device)
    check_model_fits(config.model, config.dataset)
    data_module.check_available(config.dataset, root=config.data_root, download=config.download,
                                subset=config.subset, test_subset=config.test_subset)


def prepare(config: RunConfig):
    """Validate ``config``, then build the model and load the data (nothing is trained).

    Returns ``(config, device, model, data)`` with ``config`` resolved. Every check that
    can fail (names, ranges, model/input mismatch) runs before any data is loaded.
    """
    config = config.resolved()
    device = resolve_device(config.device)
    info = data_module.dataset_info(config.dataset)
    seed_everything(config.seed)
    model = build(config.model, num_classes=info.num_classes, init=config.init, **info.model_inputs())
    check_input(model, name=config.model, **info.model_inputs())
    data = data_module.load(
        config.dataset, root=config.data_root, subset=config.subset, test_subset=config.test_subset,
        device=device, download=config.download, augment=config.augment,
    )
    if data.num_classes != info.num_classes:  # e.g. a partial Tiny ImageNet folder
        seed_everything(config.seed)
        model = build(config.model, num_classes=data.num_classes, init=config.init, **info.model_inputs())
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
    optimiser = SGD([{"params": scratch.parameters()}], lr=0.0, momentum=0.9)
    x, y = data.x_train[:batch_size], data.y_train[:batch_size]
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=x.device.type == "cuda"):
        loss = torch.nn.functional.cross_entropy(scratch(x).float(), y)
    loss.backward()
    optimiser.step()
    synchronize(x.device)


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


def check_finite_outcome(model: torch.nn.Module, test_loss: float, config: RunConfig) -> None:
    """``TrainingDiverged`` when the trained weights or the final test loss are not finite.

    The per-step check in training sees only training losses; a run can still end with
    non-finite weights (divergence in the very last step) or an infinite test loss. Such
    a run must never be stored as a result.
    """
    finite = torch.stack([torch.isfinite(p).all() for p in model.parameters()]).all()
    if not bool(finite) or not math.isfinite(test_loss):
        what = "weights" if not bool(finite) else f"test loss ({test_loss})"
        raise TrainingDiverged(
            f"{config.method} run diverged: the trained network's {what} are not finite "
            f"(lr={config.lr}, weight_decay={config.weight_decay}); lower lr or weight_decay")


def scoring_batches(data, config: RunConfig) -> list:
    """The first scoring set of a run: what :func:`scoring_source` gives on its first call."""
    return scoring_source(data, config)()


def scoring_source(data, config: RunConfig):
    """``() -> [(x, y), ...]``: a fresh scoring set per call, from the run's own random stream.

    ``config.score_per_class`` > 0: one batch of that many examples of every class
    (:meth:`~drive_lab.data.ImageData.balanced_batch`); else ``config.score_batches``
    successive batches of ``config.batch_size``.
    """
    generator = torch.Generator().manual_seed(config.seed + SCORING_STREAM)
    if config.score_per_class:
        return lambda: [data.balanced_batch(config.score_per_class, generator)]
    stream = data.stream(config.batch_size, generator)
    return lambda: list(itertools.islice(stream, config.score_batches))


def scoring_stream(data, config: RunConfig):
    """The endless stream of scoring batches ``(x, y)`` of a run (its own random stream)."""
    return data.stream(config.batch_size, torch.Generator().manual_seed(config.seed + SCORING_STREAM))


def final_training_generator(config: RunConfig) -> torch.Generator:
    """The random stream of the final training (its own, so every method trains on the same batches)."""
    return torch.Generator().manual_seed(config.seed + FINAL_TRAINING_STREAM)


def finish(config: RunConfig, device, model, data, masks: Masks, initial_state, generator, seconds: dict,
           warmup_history: list, pruning_history: list) -> RunResult:
    """Final phase shared by every method: optional rewind, train T epochs, evaluate, record."""
    if initial_state is not None:
        model.load_state_dict(initial_state)
    # Sanity checks that act on the pruned network: shuffled masks, or freshly drawn weights.
    masks = before_training(config.sanity, model, masks, init=config.init, seed=config.seed)
    masks.apply(model)
    collapsed = masks.collapsed()
    if collapsed:
        warnings.warn(
            f"layer collapse in {config.method} at sparsity {config.sparsity}: {', '.join(collapsed)} "
            "kept no weight: a plain network is disconnected, while residual connections bypass an empty layer "
            "(see docs/method.md, layer collapse)", stacklevel=3,
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
        final_loss, final_accuracy = evaluate(model, data)
        best_accuracy = final_accuracy
    check_finite_outcome(model, final_loss, config)
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
