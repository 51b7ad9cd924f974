"""Baseline scores: random, magnitude, SNIP, GraSP, SynFlow (method.md, "Baselines").

Every expectation is computed independently of the score code: SNIP from explicit mask
gates, GraSP's Hessian-gradient product from finite differences of the gradient, SynFlow
from its conservation law and a hand-written forward pass.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from drive_lab.masks import Masks, keep_top, prunable_parameters
from drive_lab.scores.grasp import grasp, hessian_gradient_product
from drive_lab.scores.simple import magnitude, random
from drive_lab.scores.snip import snip
from drive_lab.scores.synflow import synflow


# --------------------------------------------------------------------------- helpers


def tiny_mlp(dtype=torch.float32, activation=nn.ReLU) -> nn.Module:
    return nn.Sequential(nn.Linear(6, 5), activation(), nn.Linear(5, 3)).to(dtype)


def tiny_conv_bn() -> nn.Module:
    """Conv(bias)-BN-ReLU-Conv-BN-ReLU-pool-Linear(bias): biases and BatchNorm buffers."""
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=True), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 5, 3, padding=1, bias=False), nn.BatchNorm2d(5), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 3),
    )


def mlp_batches(n=2, dtype=torch.float32, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return [(torch.randn(4, 6, generator=gen, dtype=dtype), torch.randint(0, 3, (4,), generator=gen)) for _ in range(n)]


def image_batches(n=2, dtype=torch.float32, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return [(torch.randn(4, 3, 6, 6, generator=gen, dtype=dtype), torch.randint(0, 3, (4,), generator=gen)) for _ in range(n)]


def random_masks(model: nn.Module, keep: float = 0.6, seed: int = 3) -> Masks:
    gen = torch.Generator().manual_seed(seed)
    return Masks({n: torch.rand(w.shape, generator=gen) < keep for n, w in prunable_parameters(model).items()})


def call(fn, model, batches, masks=None):
    """Every score function through the common interface."""
    if fn is synflow:
        return synflow(model, batches, masks)  # batches is a list: input shape from batches[0]
    if fn is grasp:
        return grasp(model, batches, masks, temperature=2.0)
    return fn(model, batches, masks)


ALL = [random, magnitude, snip, grasp, synflow]
IDS = [f.__name__ for f in ALL]


# --------------------------------------------------------------------------- common contract


@pytest.mark.parametrize("fn", ALL, ids=IDS)
def test_keys_are_prunable_weights_only(fn):
    torch.manual_seed(0)
    model = tiny_conv_bn()
    scores = call(fn, model, image_batches())
    expected = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert list(scores) == [f"{n}.weight" for n in expected]
    assert not any(name.endswith("bias") for name in scores)
    params = dict(model.named_parameters())
    for name, s in scores.items():
        assert s.shape == params[name].shape
        assert not torch.isnan(s).any()


@pytest.mark.parametrize("fn", ALL, ids=IDS)
def test_pure_function_of_model_and_data(fn):
    """No change to weights, buffers, .grad fields or training mode (tiny conv net, BN, train mode)."""
    torch.manual_seed(0)
    model = tiny_conv_bn().train()
    with torch.no_grad():  # non-trivial running statistics
        for _ in range(3):
            model(torch.randn(8, 3, 6, 6) + 0.5)
    sentinel = torch.full_like(model[0].weight, 7.0)
    model[0].weight.grad = sentinel.clone()  # one .grad set, the others None
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    scores = call(fn, model, image_batches())
    assert model.training and all(m.training for m in model.modules())
    after = model.state_dict()
    for k, v in before.items():
        assert torch.equal(after[k], v), k
        assert after[k].dtype == v.dtype
    assert torch.equal(model[0].weight.grad, sentinel)
    assert all(p.grad is None for n, p in model.named_parameters() if n != "0.weight")
    assert all(torch.isfinite(s).all() for s in scores.values())

    model.eval()
    call(fn, model, image_batches())
    assert not any(m.training for m in model.modules())


@pytest.mark.parametrize("fn", ALL, ids=IDS)
def test_pruned_weights_get_minus_inf_and_are_zeroed(fn):
    torch.manual_seed(0)
    model = tiny_conv_bn()
    masks = random_masks(model)
    scores = call(fn, model, image_batches(), masks)
    weights = prunable_parameters(model)
    for name, s in scores.items():
        assert torch.all(s[~masks[name]] == float("-inf")), name
        assert torch.isfinite(s[masks[name]]).all(), name
        assert torch.all(weights[name][~masks[name]] == 0), name  # invariant 3: scored on m ⊙ θ
    keep_top(scores, masks, 0.3)  # the scores feed the pruner as they are


# --------------------------------------------------------------------------- random, magnitude


def test_random_is_seeded_and_ignores_data():
    torch.manual_seed(0)
    model = tiny_conv_bn()
    batches = iter(image_batches())
    a, b = random(model, batches, seed=5), random(model, batches, seed=5)
    c = random(model, batches, seed=6)
    assert len(list(batches)) == 2  # not consumed
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert not any(torch.equal(a[n], c[n]) for n in a)
    assert all(((s >= 0) & (s < 1)).all() for s in a.values())
    # Same seed with a mask: survivors keep their scores.
    masks = random_masks(model)
    d = random(model, None, masks, seed=5)
    assert all(torch.equal(d[n][masks[n]], a[n][masks[n]]) for n in a)


def test_magnitude_is_abs_weight():
    torch.manual_seed(0)
    model = tiny_conv_bn()
    raw = {n: w.detach().clone() for n, w in prunable_parameters(model).items()}
    scores = magnitude(model, None)
    assert all(torch.equal(scores[n], raw[n].abs()) for n in raw)
    masks = random_masks(model)
    scores = magnitude(model, None, masks)
    for n in raw:
        expected = raw[n].abs().masked_fill(~masks[n], float("-inf"))
        assert torch.equal(scores[n], expected)


# --------------------------------------------------------------------------- SNIP


def gate_sensitivities(model, batches, gates_init):
    """|∂L/∂m| with explicit gates m: the network computes with m ⊙ W (torch.func)."""
    weights = prunable_parameters(model)
    raw = {n: p.detach().clone() for n, p in model.named_parameters()}
    gates = {n: gates_init[n].to(raw[n].dtype).clone().requires_grad_(True) for n in weights}
    losses = []
    for x, y in batches:
        params = {n: gates[n] * raw[n] if n in gates else raw[n] for n in raw}
        losses.append(F.cross_entropy(functional_call(model, params, (x,)), y))
    loss = torch.stack(losses).mean()
    grads = torch.autograd.grad(loss, list(gates.values()))
    return {n: g.abs() for n, g in zip(gates, grads)}


def test_snip_equals_mask_gradient():
    torch.manual_seed(0)
    model = tiny_mlp()
    batches = mlp_batches()
    expected = gate_sensitivities(model, batches, {n: torch.ones_like(w) for n, w in prunable_parameters(model).items()})
    scores = snip(model, batches)
    for n in expected:
        torch.testing.assert_close(scores[n], expected[n], rtol=1e-5, atol=1e-7)


def test_snip_with_masks_equals_mask_gradient_at_survivors():
    torch.manual_seed(0)
    model = tiny_mlp()
    batches = mlp_batches()
    masks = random_masks(model)
    expected = gate_sensitivities(model, batches, {n: m.float() for n, m in masks.items()})
    scores = snip(model, batches, masks)
    for n in expected:
        torch.testing.assert_close(scores[n][masks[n]], expected[n][masks[n]], rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------- GraSP


def tempered_gradient(model, params, batches, names, temperature):
    """∇θ of mean_b CE(f(x_b; params)/T, y_b), by torch.func on a parameter dict."""
    params = {n: p.detach().clone().requires_grad_(n in names) for n, p in params.items()}
    buffers = {n: b.detach().clone() for n, b in model.named_buffers()}  # BN train mode: copies absorb updates
    loss = torch.stack(
        [F.cross_entropy(functional_call(model, {**params, **buffers}, (x,)) / temperature, y) for x, y in batches]
    ).mean()
    return dict(zip(names, torch.autograd.grad(loss, [params[n] for n in names])))


def finite_difference_hg(model, batches, temperature, masks=None, eps=1e-5):
    """(∇L(θ + εg) − ∇L(θ − εg)) / 2ε with g = ∇L(θ) fixed (⊙ m with masks)."""
    names = list(prunable_parameters(model))
    theta = {n: p.detach().clone() for n, p in model.named_parameters()}
    g = tempered_gradient(model, theta, batches, names, temperature)
    if masks is not None:
        g = {n: g[n] * masks[n] for n in names}
    plus = tempered_gradient(model, {n: t + eps * g[n] if n in g else t for n, t in theta.items()}, batches, names, temperature)
    minus = tempered_gradient(model, {n: t - eps * g[n] if n in g else t for n, t in theta.items()}, batches, names, temperature)
    return {n: (plus[n] - minus[n]) / (2 * eps) for n in names}


@pytest.mark.parametrize("temperature", [1.0, 200.0])
@pytest.mark.parametrize("net", ["mlp_tanh", "conv_bn_train"])
def test_hessian_gradient_product_matches_finite_differences(net, temperature):
    torch.manual_seed(0)
    if net == "mlp_tanh":
        model, batches = tiny_mlp(torch.float64, nn.Tanh), mlp_batches(dtype=torch.float64)
    else:
        model, batches = tiny_conv_bn().double().train(), image_batches(dtype=torch.float64)
    expected = finite_difference_hg(model, batches, temperature)
    hg = hessian_gradient_product(model, batches, prunable_parameters(model), temperature)
    for n in expected:
        scale = expected[n].abs().max()
        assert scale > 0
        torch.testing.assert_close(hg[n], expected[n], rtol=1e-5, atol=1e-6 * float(scale))


def test_grasp_is_signed_theta_times_hg():
    torch.manual_seed(0)
    model, batches = tiny_mlp(torch.float64), mlp_batches(dtype=torch.float64)
    expected_hg = finite_difference_hg(model, batches, 2.0)
    theta = {n: w.detach().clone() for n, w in prunable_parameters(model).items()}
    scores = grasp(model, iter(batches), temperature=2.0)  # an iterator: both passes must see the data
    for n in theta:
        expected = theta[n] * expected_hg[n]
        torch.testing.assert_close(scores[n], expected, rtol=1e-5, atol=1e-6 * float(expected.abs().max()))
    flat = torch.cat([s.flatten() for s in scores.values()])
    assert (flat < 0).any() and (flat > 0).any()  # signed, no absolute value


def test_grasp_with_masks_restricts_gradient_to_survivors():
    torch.manual_seed(0)
    model, batches = tiny_mlp(torch.float64), mlp_batches(dtype=torch.float64)
    masks = random_masks(model)
    masks.apply(model)
    expected_hg = finite_difference_hg(model, batches, 2.0, masks)
    scores = grasp(model, batches, masks, temperature=2.0)
    for n, w in prunable_parameters(model).items():
        expected = w.detach() * expected_hg[n]
        m = masks[n]
        torch.testing.assert_close(scores[n][m], expected[m], rtol=1e-5, atol=1e-6 * float(expected.abs().max()))


# --------------------------------------------------------------------------- SynFlow


def bias_free_relu_mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(5, 7, bias=False), nn.ReLU(), nn.Linear(7, 6, bias=False), nn.ReLU(), nn.Linear(6, 3, bias=False)
    )


@pytest.mark.parametrize("pruned", [False, True])
def test_synflow_conserves_synaptic_flow(pruned):
    """Bias-free ReLU net: every layer's scores sum to R = 1ᵀ|W3| relu(|W2| relu(|W1| 1))."""
    torch.manual_seed(0)
    model = bias_free_relu_mlp()
    masks = random_masks(model, keep=0.7) if pruned else None
    if masks is not None:
        masks.apply(model)
    w1, w2, w3 = (model[i].weight.detach().double().abs() for i in (0, 2, 4))
    flow = (w3 @ torch.relu(w2 @ torch.relu(w1 @ torch.ones(5, dtype=torch.float64)))).sum()
    scores = synflow(model, input_shape=(5,), masks=masks)
    assert all(s.dtype == torch.float64 for s in scores.values())
    for name, s in scores.items():
        survivors = s[torch.isfinite(s)]
        assert (survivors >= 0).all()
        torch.testing.assert_close(survivors.sum(), flow, rtol=1e-9, atol=0.0, msg=name)


def test_synflow_input_shape_from_list_only():
    torch.manual_seed(0)
    model = bias_free_relu_mlp()
    from_list = synflow(model, [(torch.randn(2, 5), torch.zeros(2, dtype=torch.long))])
    given = synflow(model, None, input_shape=(5,))
    assert all(torch.equal(from_list[n], given[n]) for n in given)
    batches = iter([(torch.randn(2, 5), torch.zeros(2, dtype=torch.long))])
    with pytest.raises(ValueError, match="input_shape"):
        synflow(model, batches)
    assert len(list(batches)) == 1  # not consumed
    with pytest.raises(ValueError, match="input_shape"):
        synflow(model)


def test_synflow_vgg16_bn_finite_and_model_unchanged():
    models = pytest.importorskip("drive_lab.models")
    torch.manual_seed(0)
    model = models.build("vgg16", num_classes=10, in_channels=3, image_size=32).train()
    with torch.no_grad():  # non-trivial BN running statistics
        model(torch.randn(4, 3, 32, 32))
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    masks = keep_top(magnitude(model, None), Masks.ones(model), 0.05)
    for m in (None, masks):
        scores = synflow(model, input_shape=(3, 32, 32), masks=m)
        for name, s in scores.items():
            kept = torch.ones_like(s, dtype=torch.bool) if m is None else m[name]
            assert torch.isfinite(s[kept]).all(), name
            assert (s[~kept] == float("-inf")).all(), name
        assert model.training
        after = model.state_dict()
        for k, v in before.items():
            # Pruning zeroes weights (magnitude at density 0.05); nothing else may move.
            expected = v * masks[k] if (m is not None and k in masks) else v
            assert after[k].dtype == v.dtype, k
            assert torch.equal(after[k], expected), k
        assert all(p.dtype == torch.float32 and p.grad is None for p in model.parameters())
