"""DRIVE's terms and scores against a hand computation on a tiny two-layer network.

The expected values are computed here with NumPy from the chain rule written out by hand,
not with autograd, so they are independent of the library.
"""
import numpy as np
import pytest
import torch
from torch import nn

from drive_lab import scores
from drive_lab.masks import Masks


def tiny_network() -> nn.Sequential:
    """Linear(2→2, with bias) → ReLU → Linear(2→3, no bias): 4 + 6 prunable weights."""
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 3, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[0.5, -1.0], [1.5, 0.25]]))
        model[0].bias.copy_(torch.tensor([0.1, -0.2]))
        model[2].weight.copy_(torch.tensor([[1.0, -0.5], [-2.0, 0.75], [0.3, 1.2]]))
    return model


X = np.array([[1.0, 2.0], [-1.0, 0.5]])
Y = np.array([2, 0])


def hand_gradients(w1, b1, w2):
    """Mean cross-entropy over the batch; gradients by the chain rule, by hand."""
    pre = X @ w1.T + b1                      # (2 examples, 2 hidden)
    hidden = np.maximum(pre, 0.0)
    logits = hidden @ w2.T                   # (2, 3)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(3)[Y]
    d_logits = (p - onehot) / len(X)         # ∂L/∂logits of the batch mean
    g2 = d_logits.T @ hidden                 # ∂L/∂W2, (3, 2)
    d_pre = (d_logits @ w2) * (pre > 0)      # back through ReLU
    g1 = d_pre.T @ X                         # ∂L/∂W1, (2, 2)
    return g1, g2


def hand_drive(mask1=np.ones((2, 2)), mask2=np.ones((3, 2)), a=1.0, b=1.0, c=1.0, combine="sum"):
    w1 = np.array([[0.5, -1.0], [1.5, 0.25]]) * mask1
    b1 = np.array([0.1, -0.2])
    w2 = np.array([[1.0, -0.5], [-2.0, 0.75], [0.3, 1.2]]) * mask2
    g1, g2 = hand_gradients(w1, b1, w2)
    M = [np.abs(w1), np.abs(w2)]
    C = [np.abs(w1 * g1) * mask1, np.abs(w2 * g2) * mask2]
    V = [np.abs(g1) * mask1, np.abs(g2) * mask2]
    sM, sC, sV = (sum(t.sum() for t in term) for term in (M, C, V))
    if combine == "sum":
        S = [a * M[i] / sM + b * C[i] / sC + c * V[i] / sV for i in range(2)]
    else:
        S = [M[i] * (b * C[i] / sC + c * V[i] / sV) for i in range(2)]
    S = [np.where(m > 0, s, -np.inf) for s, m in zip(S, (mask1, mask2))]
    return {"M": M, "C": C, "V": V, "S": S}


def batches():
    return [(torch.tensor(X, dtype=torch.float32), torch.tensor(Y))]


def test_terms_equal_hand_computation():
    terms = scores.drive_terms(tiny_network(), batches())
    expected = hand_drive()
    assert set(terms) == {"magnitude", "connection", "convergence"}
    for term, key in (("magnitude", "M"), ("connection", "C"), ("convergence", "V")):
        assert list(terms[term]) == ["0.weight", "2.weight"]  # biases are never prunable
        for name, hand in zip(["0.weight", "2.weight"], expected[key]):
            np.testing.assert_allclose(terms[term][name].numpy(), hand, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("a,b,c", [(1, 1, 1), (1, 1, 0), (0, 1, 1), (2.0, 0.5, 3.0)])
def test_sum_score_equals_hand_computation(a, b, c):
    result = scores.drive(tiny_network(), batches(), magnitude=a, connection=b, convergence=c)
    expected = hand_drive(a=a, b=b, c=c)["S"]
    for name, hand in zip(["0.weight", "2.weight"], expected):
        np.testing.assert_allclose(result[name].numpy(), hand, rtol=1e-5, atol=1e-7)


def test_product_score_equals_hand_computation():
    result = scores.drive(tiny_network(), batches(), combine="product")
    expected = hand_drive(combine="product")["S"]
    for name, hand in zip(["0.weight", "2.weight"], expected):
        np.testing.assert_allclose(result[name].numpy(), hand, rtol=1e-5, atol=1e-9)


def test_masked_score_uses_survivors_only():
    mask1 = np.array([[1.0, 0.0], [1.0, 1.0]])
    mask2 = np.array([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    model = tiny_network()
    masks = Masks({"0.weight": torch.tensor(mask1, dtype=torch.bool), "2.weight": torch.tensor(mask2, dtype=torch.bool)})
    result = scores.drive(model, batches(), masks)
    expected = hand_drive(mask1, mask2)["S"]
    for name, hand in zip(["0.weight", "2.weight"], expected):
        np.testing.assert_allclose(result[name].numpy(), hand, rtol=1e-5, atol=1e-7)
    # pruned weights are -inf and are zero in the model (scored on m ⊙ θ)
    assert torch.isneginf(result["0.weight"][0, 1]) and torch.isneginf(result["2.weight"][1, 0])
    assert model[0].weight[0, 1] == 0 and model[2].weight[2, 1] == 0


def test_normalised_terms_sum_to_one():
    terms = scores.drive_terms(tiny_network(), batches())
    for term in terms.values():
        total = sum(t.sum() for t in scores.normalise(term).values())
        assert float(total) == pytest.approx(1.0, rel=1e-6)


def test_plain_product_ranks_like_snip():
    """M·C·V = |θ|·|θg|·|g| = (θg)², a monotone function of SNIP's |θg|: the same ranking."""
    terms = scores.drive_terms(tiny_network(), batches())
    product = torch.cat([(terms["magnitude"][n] * terms["connection"][n] * terms["convergence"][n]).flatten() for n in terms["magnitude"]])
    snip = torch.cat([terms["connection"][n].flatten() for n in terms["connection"]])
    np.testing.assert_allclose(product.numpy(), (snip**2).numpy(), rtol=1e-5)
    assert torch.equal(torch.argsort(product), torch.argsort(snip))


def test_gradients_averaged_over_batches():
    """Two identical batches give the same score as one (averaged, not summed)."""
    one = scores.drive_terms(tiny_network(), batches())
    two = scores.drive_terms(tiny_network(), batches() * 2)
    for name in one["convergence"]:
        torch.testing.assert_close(one["convergence"][name], two["convergence"][name])


def test_scoring_leaves_model_untouched():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 6 * 6, 3))
    x, y = torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 2, 0])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    scores.drive(model, [(x, y)])
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k], msg=f"{k} changed")
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"magnitude": 0, "connection": 0, "convergence": 0}, "switched off"),
        ({"combine": "mean"}, "valid choices: sum, product"),
        ({"connection": -1}, ">= 0"),
        ({"combine": "product", "magnitude": 0}, "magnitude must be > 0"),
    ],
)
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        scores.drive(tiny_network(), batches(), **kwargs)


def random_network_and_masks(seed: int, density: float):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 5))
    g = torch.Generator().manual_seed(seed)
    masks = Masks({n: torch.rand(p.shape, generator=g) < density
                   for n, p in model.named_parameters() if n.endswith("weight") and p.dim() > 1})
    x, y = torch.randn(6, 1, 8, 8, generator=g), torch.randint(0, 5, (6,), generator=g)
    return model, masks, [(x, y)]


@pytest.mark.parametrize("options", [{}, {"magnitude": 2.0, "connection": 0.5, "convergence": 3.0},
                                     {"convergence": 0.0}, {"combine": "product"},
                                     {"combine": "product", "connection": 0.25}])
@pytest.mark.parametrize("density", [1.0, 0.4, 0.05])
def test_drive_equals_its_terms_combined(options, density):
    """drive() scores the survivors only (NumPy on the CPU); it must agree with the
    full-size route, combine_terms(drive_terms(...)), and put -inf on every pruned weight."""
    model, masks, batches = random_network_and_masks(3, density)
    fused = scores.drive(model, batches, masks, **options)
    separate = scores.combine_terms(scores.drive_terms(model, batches, masks), masks, **options)
    assert list(fused) == list(masks)
    for name in masks:
        assert fused[name].shape == masks[name].shape and fused[name].dtype == torch.float32
        assert torch.all(torch.isneginf(fused[name][~masks[name]]))
        torch.testing.assert_close(fused[name][masks[name]], separate[name][masks[name]], rtol=1e-5, atol=0)


def test_drive_numpy_and_torch_routes_agree(monkeypatch):
    from drive_lab.masks import container as masks_module  # where NUMPY_ON_CPU is read

    model, masks, batches = random_network_and_masks(4, 0.3)
    on_numpy = scores.drive(model, batches, masks)
    monkeypatch.setattr(masks_module, "NUMPY_ON_CPU", False)
    on_torch = scores.drive(model, batches, masks)
    for name in masks:
        torch.testing.assert_close(on_numpy[name], on_torch[name], rtol=1e-6, atol=0)


def test_drive_scores_are_fresh_tensors():
    """The scores may live in the spent gradient buffers, never in the weights or in
    anything the caller holds; scoring twice gives two independent results."""
    model, masks, batches = random_network_and_masks(5, 0.5)
    first = scores.drive(model, batches, masks)
    kept = {n: t.clone() for n, t in first.items()}
    second = scores.drive(model, batches, masks)
    weights = dict(model.named_parameters())
    for name in masks:
        assert first[name].data_ptr() != second[name].data_ptr() != weights[name].data_ptr()
        assert torch.equal(first[name], kept[name])
