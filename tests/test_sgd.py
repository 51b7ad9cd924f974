"""drive_lab.sgd.SGD against the reference: torch.optim.SGD (foreach) with LambdaLR."""
import copy
import math

import pytest
import torch
from torch import nn

from drive_lab import data as data_module
from drive_lab.sgd import SGD
from drive_lab.training import Optimisation, _lr_factor, make_optimiser, train


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 5))


def _groups(model, weight_decay):
    return [{"params": [p for p in model.parameters() if p.ndim > 1], "weight_decay": weight_decay},
            {"params": [p for p in model.parameters() if p.ndim <= 1], "weight_decay": 0.0}]


@pytest.mark.parametrize("momentum, nesterov, weight_decay", [(0.0, False, 0.0), (0.9, False, 5e-4),
                                                              (0.9, True, 5e-4), (0.5, True, 0.0)])
def test_steps_are_bit_identical_to_torch_sgd_with_lambda_lr(momentum, nesterov, weight_decay):
    ours, reference = _net(), _net()
    factor = _lr_factor("cosine", 10)
    mine = SGD(_groups(ours, weight_decay), lr=0.1, momentum=momentum, nesterov=nesterov)
    mine.set_lr_factor(factor(0))
    theirs = torch.optim.SGD(_groups(reference, weight_decay), lr=0.1, momentum=momentum, nesterov=nesterov,
                             foreach=True)
    schedule = torch.optim.lr_scheduler.LambdaLR(theirs, factor)
    torch.manual_seed(1)
    for step in range(1, 11):
        x, y = torch.randn(8, 12), torch.randint(0, 5, (8,))
        for model, optimiser in ((ours, mine), (reference, theirs)):
            optimiser.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(model(x), y).backward()
            optimiser.step()
        schedule.step()
        mine.set_lr_factor(factor(step))
        assert mine.param_groups[0]["lr"] == theirs.param_groups[0]["lr"]
        for a, b in zip(ours.parameters(), reference.parameters()):
            assert torch.equal(a, b), f"step {step}"


def test_one_hand_computed_momentum_step():
    """θ = 1, ∇ = 2, λ = 0.5, μ = 0.9, η = 0.1: g = 2.5, b = 2.5 then b = 0.9·2.5 + g."""
    p = nn.Parameter(torch.tensor([1.0]))
    optimiser = SGD([{"params": [p], "weight_decay": 0.5}], lr=0.1, momentum=0.9)
    p.grad = torch.tensor([2.0])
    optimiser.step()
    assert p.item() == pytest.approx(1 - 0.1 * 2.5)
    theta = p.item()
    p.grad = torch.tensor([2.0])
    optimiser.step()
    g = 2.0 + 0.5 * theta
    assert p.item() == pytest.approx(theta - 0.1 * (0.9 * 2.5 + g))


def test_parameters_without_gradients_are_left_alone():
    used, unused = nn.Parameter(torch.ones(2)), nn.Parameter(torch.ones(2))
    optimiser = SGD([{"params": [used, unused], "weight_decay": 1.0}], lr=0.1, momentum=0.9)
    used.grad = torch.ones(2)
    optimiser.step()
    assert torch.equal(unused, torch.ones(2)) and not torch.equal(used, torch.ones(2))


def test_bad_settings_are_refused():
    p = nn.Parameter(torch.ones(1))
    with pytest.raises(ValueError, match="lr >= 0"):
        SGD([{"params": [p]}], lr=-0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        SGD([{"params": [p]}], lr=0.1, nesterov=True)


def test_train_matches_a_loop_over_torch_sgd_and_lambda_lr():
    """train() as a reference loop would write it with torch's optimiser and scheduler."""
    data = data_module.load("digits", subset=256, test_subset=64)
    optimisation = Optimisation(batch_size=32, lr=0.05, momentum=0.9, weight_decay=5e-4, lr_schedule="cosine")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    reference = copy.deepcopy(model)
    history = train(model, data, 2, optimisation, generator=torch.Generator().manual_seed(3))

    optimiser = torch.optim.SGD(_groups(reference, optimisation.weight_decay), lr=0.05, momentum=0.9, foreach=True)
    steps = math.ceil(256 / 32)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, _lr_factor("cosine", 2 * steps))
    generator = torch.Generator().manual_seed(3)
    lrs = []
    for _ in range(2):
        lrs.append(optimiser.param_groups[0]["lr"])
        for x, y in data.epoch(32, generator):
            optimiser.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(reference(x), y).backward()
            optimiser.step()
            schedule.step()
    for a, b in zip(model.parameters(), reference.parameters()):
        assert torch.equal(a, b)
    assert [e.lr for e in history.epochs] == lrs


def test_make_optimiser_decays_weights_only():
    model = _net()
    optimiser = make_optimiser(model, Optimisation(weight_decay=0.1))
    decayed, plain = optimiser.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.ndim > 1 for p in decayed["params"]) and all(p.ndim == 1 for p in plain["params"])
