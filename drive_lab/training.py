"""Training and evaluation with masks enforced at every step.

SGD with momentum (optionally Nesterov) and weight decay; learning-rate schedules
``constant``, ``step`` (×0.1 at 50% and 75% of training, as 80/120 of 160 epochs),
``cosine`` and ``onecycle``, all stepped per batch. On CUDA the forward pass runs under
bf16 autocast with channels_last tensors; on CPU everything stays float32.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .data import TensorData
from .masks import Masks
from .progress import progress
from .runtime import synchronize
from .sgd import SGD

LR_SCHEDULES = ("constant", "step", "cosine", "onecycle")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names the epoch and step."""


@dataclass(frozen=True)
class Optimisation:
    """How to train: optimiser and schedule settings (defaults suit the small presets).

    lr: peak learning rate; batch_size: examples per step; weight_decay: L2 coefficient.
    """

    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    lr_schedule: str = "cosine"
    batch_size: int = 64

    def validate(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"unknown lr_schedule={self.lr_schedule!r}; valid choices: {', '.join(LR_SCHEDULES)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise ValueError(f"batch_size must be an integer >= 1, got {self.batch_size!r}")


@dataclass
class EpochRecord:
    """Metrics of one epoch. Losses are mean cross-entropy (nats); accuracies in [0, 1]."""

    epoch: int
    lr: float
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    seconds: float


@dataclass
class History:
    epochs: list[EpochRecord] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(e.seconds for e in self.epochs)

    def to_dict(self) -> list[dict]:
        return [asdict(e) for e in self.epochs]


def _lr_factor(schedule: str, total_steps: int):
    """Multiplier of the peak learning rate at a given step (0-based)."""
    if schedule == "constant":
        return lambda step: 1.0
    if schedule == "step":
        return lambda step: 0.1 ** ((step >= 0.5 * total_steps) + (step >= 0.75 * total_steps))
    if schedule == "cosine":
        return lambda step: 0.5 * (1 + math.cos(math.pi * step / total_steps))
    # one-cycle: linear warm-up over the first 30% from 1/25 of the peak, then cosine to ~0
    warm = max(1, int(0.3 * total_steps))

    def onecycle(step: int) -> float:
        if step < warm:
            return 0.04 + 0.96 * step / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total_steps - warm)))

    return onecycle


_CHECK_EVERY = 25  # steps between NaN checks on a GPU (each check waits for the GPU)


def _check_finite(losses: torch.Tensor, start: int, stop: int, desc: str, epoch: int, steps_per_epoch: int,
                  lr: float, bar, weight_decay: float | None = None) -> None:
    """Raise TrainingDiverged naming the first step in ``start+1..stop`` whose loss is NaN or infinite."""
    finite = torch.isfinite(losses[start:stop])
    if bool(finite.all()):
        return
    step = start + int((~finite).nonzero()[0]) + 1
    bar.close()
    raise TrainingDiverged(
        f"{desc}: loss became {float(losses[step - 1])} at epoch {epoch}, step {step}/{steps_per_epoch} "
        f"(lr {lr:.3g} at the start of the epoch"
        + (f", weight_decay {weight_decay:.3g}); try a smaller lr or weight_decay" if weight_decay is not None
           else "); try a smaller lr")
    )


def _mean_example_loss(step_losses: torch.Tensor, seen: int, batch_size: int) -> float:
    """Mean loss per example: every batch is full except possibly the last."""
    last = seen - batch_size * (len(step_losses) - 1)
    weights = torch.full_like(step_losses, float(batch_size))
    weights[-1] = last
    return float((step_losses * weights).sum()) / seen


def _autocast(device: torch.device):
    # bf16 keeps float32's exponent range, so no loss scaling is needed.
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


def check_examples(model: nn.Module, x: torch.Tensor, y: torch.Tensor, split: str) -> None:
    """``ValueError`` for an empty split or labels outside ``0 .. classes-1`` of ``model``.

    The number of classes is read from the model's last ``nn.Linear`` (every model of the
    zoo ends in one); one reduction and one host sync per call, before any step.
    """
    if len(x) == 0 or len(y) == 0:
        raise ValueError(f"the {split} set is empty: nothing to train on or evaluate; check the data and subset sizes")
    if len(x) != len(y):
        raise ValueError(f"the {split} set has {len(x)} images but {len(y)} labels")
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if linears:
        classes = linears[-1].out_features
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= classes:
            raise ValueError(f"the {split} labels span {low}..{high}, but the model has {classes} outputs "
                             f"(classes 0..{classes - 1}); build the model with num_classes={high + 1}")


@torch.no_grad()
def evaluate(model: nn.Module, data: TensorData, train: bool = False, batch_size: int = 1000) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of ``model`` on the test set (or the training set)."""
    x_all, y_all = (data.x_train, data.y_train) if train else (data.x_test, data.y_test)
    check_examples(model, x_all, y_all, "training" if train else "test")
    device = x_all.device
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    for start in range(0, len(x_all), batch_size):
        x, y = x_all[start : start + batch_size], y_all[start : start + batch_size]
        if device.type == "cuda" and x.dim() == 4:  # images only; token ids stay as they are
            x = x.contiguous(memory_format=torch.channels_last)
        with _autocast(device):
            logits = model(x)
        loss_sum += F.cross_entropy(logits.float(), y, reduction="sum")
        correct += (logits.argmax(1) == y).sum()
    model.train(was_training)
    n = len(x_all)
    return float(loss_sum) / n, int(correct) / n


def make_optimiser(model: nn.Module, optimisation: Optimisation) -> SGD:
    """SGD (:class:`drive_lab.sgd.SGD`, what ``torch.optim.SGD`` computes) over ``model``'s
    parameters; weight decay on weights only, not on biases or BatchNorm parameters
    (common practice)."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    return SGD([{"params": decay, "weight_decay": optimisation.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
               lr=optimisation.lr, momentum=optimisation.momentum, nesterov=optimisation.nesterov)


def train(
    model: nn.Module,
    data: TensorData,
    epochs: int,
    optimisation: Optimisation = Optimisation(),
    masks: Masks | None = None,
    generator: torch.Generator | None = None,
    desc: str = "training",
    evaluate_every_epoch: bool = True,
) -> History:
    """Train ``model`` for ``epochs`` epochs with a fresh optimiser and schedule.

    Pruned weights (``masks``) are exactly zero before the first step and after every
    optimiser step, and their gradients are zeroed so momentum never builds up behind a
    mask. A NaN or infinite loss raises :class:`TrainingDiverged` naming epoch and step.

    Returns a :class:`History` (one record per epoch; test metrics each epoch when
    ``evaluate_every_epoch``, else only after the last).
    """
    optimisation.validate()
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be an integer >= 0, got {epochs!r}")
    history = History()
    if epochs == 0:
        return history
    check_examples(model, data.x_train, data.y_train, "training")
    check_examples(model, data.x_test, data.y_test, "test")
    device = data.x_train.device
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    bound = masks.bind(model) if masks is not None else None
    if bound is not None:
        bound.zero_pruned_weights()

    optimiser = make_optimiser(model, optimisation)
    steps_per_epoch = math.ceil(len(data.x_train) / optimisation.batch_size)
    factor = _lr_factor(optimisation.lr_schedule, epochs * steps_per_epoch)
    optimiser.set_lr_factor(factor(0))
    steps_done = 0

    model.train()
    bar = progress(total=epochs * steps_per_epoch, desc=desc, unit="step")
    for epoch in range(1, epochs + 1):
        synchronize(device)
        start = time.perf_counter()
        lr = optimiser.param_groups[0]["lr"]
        # Per-step losses stay on the device; they are checked for NaN/inf every
        # _CHECK_EVERY steps (every step on CPU, where the check costs no GPU sync).
        step_losses = torch.zeros(steps_per_epoch, device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        seen = 0
        check_every = 1 if device.type == "cpu" else _CHECK_EVERY
        checked = 0  # steps already checked: each check looks only at the new ones
        for step, (x, y) in enumerate(data.epoch(optimisation.batch_size, generator), start=1):
            if device.type == "cuda" and x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            with _autocast(device):
                logits = model(x)
                loss = F.cross_entropy(logits.float(), y)
            step_losses[step - 1] = loss.detach()
            if step % check_every == 0 or step == steps_per_epoch:
                _check_finite(step_losses, checked, step, desc, epoch, steps_per_epoch, lr, bar,
                              optimisation.weight_decay)
                checked = step
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            if bound is not None:
                bound.zero_pruned_gradients()
            optimiser.step()
            steps_done += 1
            optimiser.set_lr_factor(factor(steps_done))  # schedules step per batch
            if bound is not None:
                bound.zero_pruned_weights()
            correct += (logits.argmax(1) == y).sum()
            seen += len(y)
            bar.update(1)
        last = epoch == epochs
        test_loss, test_accuracy = evaluate(model, data) if (evaluate_every_epoch or last) else (math.nan, math.nan)
        synchronize(device)
        history.epochs.append(
            EpochRecord(epoch, lr, _mean_example_loss(step_losses, seen, optimisation.batch_size), int(correct) / seen,
                        test_loss, test_accuracy,
                        time.perf_counter() - start)
        )
        postfix = {"epoch": f"{epoch}/{epochs}", "train loss": f"{history.epochs[-1].train_loss:.3f}"}
        if not math.isnan(test_accuracy):  # the test set is evaluated only where asked
            postfix["test acc"] = f"{100 * test_accuracy:.2f}%"
        bar.set_postfix(postfix)
    bar.close()
    return history
