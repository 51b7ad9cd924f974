"""ProsPr's meta-gradient checked against finite differences of an independently written unrolled loss."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import drive_lab
from drive_lab import scores
from drive_lab.masks import Masks


def tiny(seed=0, batchnorm=False):
    torch.manual_seed(seed)
    layers = [nn.Linear(4, 5)] + ([nn.BatchNorm1d(5)] if batchnorm else []) + [nn.Tanh(), nn.Linear(5, 3)]
    return nn.Sequential(*layers).double()


def batch(seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(8, 4, generator=generator, dtype=torch.float64), torch.randint(0, 3, (8,), generator=generator)


def unrolled_loss(model, gates: dict, x, y, steps, lr, keep=None):
    """L after ``steps`` plain SGD steps from gates ⊙ θ₀, written from the definition (no torch.func)."""
    with torch.no_grad():
        state = {n: p.clone() for n, p in model.named_parameters()}
        for n, g in gates.items():
            state[n] = state[n] * g
        for _ in range(steps):
            with torch.enable_grad():
                params = {n: t.clone().requires_grad_() for n, t in state.items()}
                loss = F.cross_entropy(torch.func.functional_call(model, params, (x,)), y)
                grads = torch.autograd.grad(loss, list(params.values()))
            for (n, t), g in zip(params.items(), grads):
                state[n] = t.detach() - lr * (g * keep[n] if keep is not None and n in keep else g)
        return float(F.cross_entropy(torch.func.functional_call(model, state, (x,)), y))


@pytest.mark.parametrize("steps", [1, 3])
def test_meta_gradient_matches_finite_differences_of_the_loss_after_the_steps(steps):
    model, (x, y) = tiny(), batch()
    got = scores.prospr(model, [(x, y)], steps=steps, lr=0.5)
    eps = 1e-6
    ones = {n: torch.ones_like(p) for n, p in model.named_parameters() if n.endswith("weight")}
    for name, index in [("0.weight", (0, 0)), ("0.weight", (3, 2)), ("2.weight", (1, 4)), ("2.weight", (2, 0))]:
        up, down = {n: g.clone() for n, g in ones.items()}, {n: g.clone() for n, g in ones.items()}
        up[name][index] += eps
        down[name][index] -= eps
        numeric = (unrolled_loss(model, up, x, y, steps, 0.5) - unrolled_loss(model, down, x, y, steps, 0.5)) / (2 * eps)
        assert float(got[name][index]) == pytest.approx(abs(numeric), rel=1e-5, abs=1e-9)


def test_zero_steps_is_snip_and_steps_change_the_ranking():
    model, data = tiny(), [batch()]
    snip = scores.snip(model, data)
    at_zero = scores.prospr(model, data, steps=0)
    for name in snip:
        assert torch.allclose(at_zero[name], snip[name], rtol=1e-10, atol=1e-12)
    three = scores.prospr(model, data, steps=3, lr=0.5)
    assert any(not torch.allclose(three[n], snip[n]) for n in snip)


def test_pruned_weights_score_minus_inf_stay_zero_and_the_model_is_untouched():
    model, data = tiny(batchnorm=True), [batch()]
    model.train()
    before = {n: t.clone() for n, t in model.state_dict().items()}
    kept = {n: torch.ones_like(p, dtype=torch.bool) for n, p in drive_lab.masks.prunable_parameters(model).items()}
    kept["0.weight"][0, :] = False
    masks = Masks(kept)
    got = scores.prospr(model, data, masks, steps=2, lr=0.5)
    assert torch.isinf(got["0.weight"][0]).all() and torch.isfinite(got["0.weight"][1:]).all()
    # pruned weights are held at zero through the steps: check against the independent unrolled loss
    keep = {n: masks[n].double() for n in masks}
    gates = {n: torch.ones_like(p) for n, p in model.named_parameters() if n in masks}
    eps = 1e-6
    up = {n: g.clone() for n, g in gates.items()}
    down = {n: g.clone() for n, g in gates.items()}
    up["3.weight"][0, 0] += eps
    down["3.weight"][0, 0] -= eps
    # the reference loss starts from masked weights: fold the mask into the gates
    for d in (up, down):
        d["0.weight"] = d["0.weight"] * keep["0.weight"]
    x, y = data[0]
    after = {n: t.clone() for n, t in model.state_dict().items()}  # before the reference loop moves the BN statistics
    numeric = (unrolled_loss(model, up, x, y, 2, 0.5, keep) - unrolled_loss(model, down, x, y, 2, 0.5, keep)) / (2 * eps)
    assert float(got["3.weight"][0, 0]) == pytest.approx(abs(numeric), rel=1e-4)
    # scoring zeroes the pruned weights (invariant 3) and changes nothing else, buffers included
    before["0.weight"][0, :] = 0
    assert all(torch.equal(before[n], after[n]) for n in before)


def test_prospr_runs_as_a_registered_method():
    drive_lab.set_progress(False)
    config = drive_lab.RunConfig(method="prospr", sparsity=0.9, epochs=1, subset=300, test_subset=100, device="cpu")
    assert config.resolved().score_mode == "train" and config.resolved().iterations == 1
    result = drive_lab.run(config)
    assert result.kept_weights == round(0.1 * result.prunable_weights)
    assert result.seconds["scoring"] > 0 and result.seconds["pruning"] >= result.seconds["scoring"]
    with pytest.raises(ValueError, match="steps must be >= 0"):
        scores.prospr(tiny(), [batch()], steps=-1)
