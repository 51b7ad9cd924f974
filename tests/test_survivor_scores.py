"""The pruner's survivor route: DRIVE's survivors' scores ranked directly give the masks the full scores give."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from drive_lab.masks import Masks, container, keep_top, keep_top_survivors, prunable_parameters
from drive_lab.models import build
from drive_lab.pruning import prune
from drive_lab.scores import drive, drive_survivors


@pytest.fixture(params=["numpy", "torch"])
def route(request, monkeypatch):
    """Both CPU routes of the masks code: NumPy views, and torch ops (as on a GPU)."""
    monkeypatch.setattr(container, "NUMPY_ON_CPU", request.param == "numpy")
    return request.param


def _batches(seed: int, n: int = 32):
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randn(n, 1, 8, 8, generator=generator), torch.randint(0, 10, (n,), generator=generator))]


def _model(name: str = "mlp"):
    torch.manual_seed(0)
    return build(name, num_classes=10, in_channels=1, image_size=8)


def _general(score):
    """The same score without its survivor route: what prune() did before it existed."""
    def plain(*args, **kwargs):
        return score(*args, **kwargs)
    return plain


def test_hand_made_survivor_scores_keep_the_top_with_ties_to_the_earliest(route):
    model = nn.Sequential(nn.Linear(3, 2, bias=False), nn.Linear(2, 2, bias=False))
    masks = Masks({"0.weight": torch.tensor([[True, False, True], [True, True, False]]),
                   "1.weight": torch.tensor([[True, True], [False, True]])})
    assert masks.kept() == 7
    # Survivors in select order: layer 0 (0,0) (0,2) (1,0) (1,1), then layer 1 (0,0) (0,1) (1,1).
    values = torch.tensor([5.0, 1.0, 3.0, 3.0, 0.5, 3.0, 9.0])
    kept = keep_top_survivors(values, masks, 4 / 10)  # 4 of the 10 weights
    # 9 and 5, then two of the three 3s: the earliest two, both in layer 0.
    assert kept["0.weight"].tolist() == [[True, False, False], [True, True, False]]
    assert kept["1.weight"].tolist() == [[False, False], [False, True]]
    assert kept.kept() == 4
    reference = keep_top(masks.expand(values, float("-inf")), masks, 4 / 10)
    assert all(torch.equal(kept[name], reference[name]) for name in masks)
    del model


def test_survivor_scores_refuse_bad_input_with_the_problem_named(route):
    masks = Masks.ones(_model())
    with pytest.raises(ValueError, match="1-D tensor of"):
        keep_top_survivors(torch.zeros(3), masks, 0.5)
    values = torch.zeros(masks.kept())
    with pytest.raises(ValueError, match=r"density must be in \[0, 1\]"):
        keep_top_survivors(values, masks, 1.5)
    values[7] = float("nan")
    with pytest.raises(ValueError, match="NaN.*fc1.weight"):
        keep_top_survivors(values, masks, 0.5)
    half = keep_top_survivors(torch.arange(masks.kept(), dtype=torch.float32), masks, 0.5)
    with pytest.raises(ValueError, match="masks are nested"):
        keep_top_survivors(torch.zeros(half.kept()), half, 0.9)


@pytest.mark.parametrize("options", [{}, {"convergence": 0.0}, {"magnitude": 0.0, "connection": 2.0},
                                     {"combine": "product"}])
def test_drive_survivors_are_the_full_scores_at_the_kept_weights(route, options):
    model = _model()
    masks = keep_top({n: torch.rand(w.shape, generator=torch.Generator().manual_seed(4))
                      for n, w in prunable_parameters(model).items()}, Masks.ones(model), 0.3)
    masks.apply(model)
    full = drive(model, _batches(1), masks, **options)
    survivors = drive_survivors(model, _batches(1), masks, **options)
    assert survivors.shape == (masks.kept(),)
    assert torch.equal(survivors, masks.select([full[n] for n in masks]))


@pytest.mark.parametrize("name", ["mlp", "conv"])
def test_prune_through_the_survivor_route_gives_the_same_masks_and_steps(route, name):
    batches = lambda: _batches(2)  # noqa: E731
    runs = []
    for score in (drive, _general(drive)):
        model = _model(name)
        masks, history = prune(model, score, batches, density=0.05, iterations=12, show_progress=False)
        runs.append((masks, [(s.kept, s.layer_density, s.collapsed) for s in history.steps],
                     [p.detach().clone() for p in model.parameters()]))
    (masks_a, steps_a, weights_a), (masks_b, steps_b, weights_b) = runs
    assert all(torch.equal(masks_a[n], masks_b[n]) for n in masks_a)
    assert steps_a == steps_b
    assert all(torch.equal(a, b) for a, b in zip(weights_a, weights_b))  # pruned weights zeroed alike
    assert masks_a.kept() == round(0.05 * masks_a.total())
