"""Training: masks enforced at every step, divergence named by epoch and step, schedules."""
import math

import pytest
import torch
from torch import nn

from drive_lab import data as data_module
from drive_lab.masks import Masks, keep_top, prunable_parameters
from drive_lab.sgd import SGD
from drive_lab.training import Optimisation, TrainingDiverged, _check_finite, _lr_factor, train


@pytest.fixture(scope="module")
def digits():
    return data_module.load("digits", subset=256, test_subset=64)


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


class NanOnCall(nn.Module):
    """Wraps a model; its n-th forward pass returns NaN logits."""

    def __init__(self, model, bad_call):
        super().__init__()
        self.model, self.bad_call, self.calls = model, bad_call, 0

    def forward(self, x):
        self.calls += 1
        out = self.model(x)
        return out * float("nan") if self.calls == self.bad_call else out


def test_nan_loss_names_epoch_and_step(digits):
    steps_per_epoch = math.ceil(256 / 32)  # 8
    model = NanOnCall(mlp(), bad_call=steps_per_epoch + 3)  # epoch 2, step 3
    with pytest.raises(TrainingDiverged, match=r"epoch 2, step 3/8"):
        train(model, digits, 3, Optimisation(batch_size=32), evaluate_every_epoch=False)


def test_infinite_loss_from_a_huge_learning_rate(digits):
    with pytest.raises(TrainingDiverged, match=r"epoch \d+, step \d+/\d+.*smaller lr"):
        train(mlp(), digits, 5, Optimisation(lr=1e12, batch_size=32, momentum=0.0))


def test_deferred_check_finds_the_first_bad_step():
    losses = torch.tensor([0.5, 0.4, float("inf"), float("nan"), 0.3])

    class Bar:
        def close(self):
            pass

    with pytest.raises(TrainingDiverged, match="step 3/5"):
        _check_finite(losses, 0, 5, "training", 4, 5, 0.1, Bar())
    with pytest.raises(TrainingDiverged, match="step 4/5"):  # only the new steps are looked at
        _check_finite(losses, 3, 5, "training", 4, 5, 0.1, Bar())
    _check_finite(losses, 0, 2, "training", 4, 5, 0.1, Bar())  # finite: no error


def test_pruned_weights_are_zero_after_every_step(digits, monkeypatch):
    model = mlp()
    masks = keep_top({n: torch.rand_like(w) for n, w in prunable_parameters(model).items()}, Masks.ones(model), 0.2)
    weights = prunable_parameters(model)
    seen = []
    real_step = SGD.step

    def checked_step(self, *args, **kwargs):
        out = real_step(self, *args, **kwargs)
        seen.append(1)
        return out

    monkeypatch.setattr(SGD, "step", checked_step)
    original_forward = model.forward

    def forward(x):  # every forward pass sees exact zeros behind the mask
        for name, mask in masks.items():
            assert torch.all(weights[name][~mask] == 0.0)
        return original_forward(x)

    model.forward = forward
    train(model, digits, 2, Optimisation(batch_size=32, weight_decay=0.1), masks=masks)
    assert len(seen) == 2 * 8
    for name, mask in masks.items():
        assert torch.all(weights[name][~mask] == 0.0)


def test_history_records_each_epoch(digits):
    history = train(mlp(), digits, 3, Optimisation(batch_size=32))
    assert [e.epoch for e in history.epochs] == [1, 2, 3]
    assert history.epochs[-1].train_loss < history.epochs[0].train_loss
    assert all(0 <= e.test_accuracy <= 1 for e in history.epochs)


def test_mean_loss_weights_the_short_last_batch(digits):
    """250 examples in batches of 100: the epoch's loss is the mean over examples, not batches."""
    small = data_module.load("digits", subset=250, test_subset=10)
    model = mlp()
    history = train(model, small, 1, Optimisation(lr=1e-12, batch_size=100, momentum=0.0))  # weights barely move
    with torch.no_grad():
        expected = nn.functional.cross_entropy(model(small.x_train), small.y_train).item()
    assert history.epochs[0].train_loss == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("schedule,expected", [
    ("constant", [1.0, 1.0, 1.0, 1.0]),
    ("step", [1.0, 1.0, 0.1, 0.01]),          # x0.1 at 50% and at 75% of training
    ("cosine", [1.0, 0.5 * (1 + math.cos(math.pi / 4)), 0.5, 0.5 * (1 + math.cos(3 * math.pi / 4))]),
])
def test_learning_rate_schedules(schedule, expected):
    factor = _lr_factor(schedule, 8)
    assert [factor(step) for step in (0, 2, 4, 6)] == pytest.approx(expected)


def test_onecycle_rises_then_falls():
    factor = _lr_factor("onecycle", 100)
    values = [factor(step) for step in range(100)]
    peak = values.index(max(values))
    assert 0 < peak < 50 and values[0] < 0.1 and values[-1] < 0.01 and max(values) == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("bad,match", [
    ({"lr_schedule": "linear"}, "valid choices"), ({"lr": -1.0}, "lr"), ({"momentum": 1.0}, "momentum"),
    ({"batch_size": 0}, "batch_size"), ({"nesterov": True, "momentum": 0.0}, "nesterov"),
])
def test_bad_optimisation_settings(bad, match, digits):
    with pytest.raises(ValueError, match=match):
        train(mlp(), digits, 1, Optimisation(**bad))
