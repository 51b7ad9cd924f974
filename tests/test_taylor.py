"""SNIP's first-order estimate −g·θ against the actual loss change, on models where both are known by hand."""
from __future__ import annotations

import torch
from torch import nn

from drive_lab.analysis.taylor import first_order_loss_change


def _linear(weights):
    model = nn.Linear(len(weights[0]), len(weights), bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor(weights))
    return model


def test_a_loss_linear_in_the_weights_is_estimated_exactly():
    # L = mean over examples of sum(W x): linear in W, so zeroing w_ij changes L by exactly −g_ij w_ij
    model = _linear([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    x = torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 4.0]])
    table = first_order_loss_change(model, [(x, torch.zeros(2))], weights=6,
                                    loss_fn=lambda out, y: out.sum(dim=1).mean())
    assert len(table) == 6 and set(table["index"]) == set(range(6))
    # g_ij = mean_n x_nj, by hand
    expected_grad = x.mean(dim=0).repeat(2)
    for row in table.itertuples():
        assert abs(row.grad - float(expected_grad[row.index])) < 1e-6
        assert abs(row.actual - row.estimate) < 1e-5


def test_squared_error_leaves_exactly_the_second_order_term():
    # L = mean_n (w·x_n − y_n)²: zeroing w_j changes L by −g_j w_j + ½ H_jj w_j², H = 2 XᵀX / n
    model = _linear([[0.5, -1.0, 2.0]])
    x = torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 4.0], [2.0, 0.0, -1.0]])
    y = torch.tensor([1.0, -2.0, 0.5])
    table = first_order_loss_change(model, [(x, y)], weights=3,
                                    loss_fn=lambda out, target: ((out.squeeze(1) - target) ** 2).mean())
    hessian_diagonal = 2 * (x ** 2).mean(dim=0)
    for row in table.itertuples():
        second_order = 0.5 * float(hessian_diagonal[row.index]) * row.theta ** 2
        assert abs(row.error - second_order) < 1e-4


def test_zero_weights_are_never_sampled_and_the_model_is_restored():
    model = _linear([[0.0, 1.0], [2.0, 0.0]])
    before = model.weight.detach().clone()
    model.train()
    table = first_order_loss_change(model, [(torch.ones(1, 2), torch.zeros(1))], weights=10,
                                    loss_fn=lambda out, y: out.sum())
    assert sorted(table["index"]) == [1, 2]
    assert torch.equal(model.weight, before) and model.training
