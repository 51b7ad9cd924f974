"""Mask invariants of method.md: nested, exact, enforced, observable; save/load."""
import pytest
import torch
from torch import nn

from drive_lab.masks import Masks, keep_top, load, prunable_parameters, save


def small_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))


def test_prunable_set_is_conv_and_linear_weights_only():
    names = list(prunable_parameters(small_model()))
    assert names == ["0.weight", "4.weight"]  # no biases, no BatchNorm


def test_no_prunable_layer_is_a_clear_error():
    with pytest.raises(ValueError, match="no prunable layer"):
        Masks.ones(nn.Sequential(nn.ReLU(), nn.BatchNorm1d(3)))


def test_exact_count_with_many_ties():
    model = small_model()
    masks = Masks.ones(model)
    total = masks.total()  # 36 + 720 = 756
    assert total == 4 * 9 + 5 * 144
    # every score equal: a "<=" threshold would keep all or nothing; top-k keeps exactly k
    scores = {n: torch.zeros_like(m, dtype=torch.float32) for n, m in masks.items()}
    for density in (0.5, 0.1, 0.013, 1 / total, 0.0):
        kept = keep_top(scores, masks, density)
        assert kept.kept() == round(density * total)


def test_ties_broken_deterministically_by_position():
    masks = Masks({"a": torch.ones(4, dtype=torch.bool), "b": torch.ones(4, dtype=torch.bool)})
    scores = {"a": torch.tensor([1.0, 2.0, 2.0, 0.0]), "b": torch.tensor([2.0, 2.0, 3.0, 2.0])}
    kept = keep_top(scores, masks, 0.5)  # 4 of 8: the 3, then the first three 2s in order
    assert kept["a"].tolist() == [False, True, True, False]
    assert kept["b"].tolist() == [True, False, True, False]


def test_nested_pruned_weights_never_return():
    masks = Masks({"w": torch.tensor([True, False, True, False, True, True])})
    # pruned weights get huge scores: they must still stay pruned
    scores = {"w": torch.tensor([1.0, 100.0, 2.0, 100.0, 3.0, 4.0])}
    kept = keep_top(scores, masks, 2 / 6)
    assert kept["w"].tolist() == [False, False, False, False, True, True]
    with pytest.raises(ValueError, match="nested"):
        keep_top(scores, masks, 5 / 6)  # more than the 4 survivors


def test_nan_scores_are_rejected():
    masks = Masks({"w": torch.ones(3, dtype=torch.bool)})
    with pytest.raises(ValueError, match="NaN"):
        keep_top({"w": torch.tensor([1.0, float("nan"), 0.0])}, masks, 0.5)


def test_float64_scores_keep_their_precision():
    masks = Masks({"w": torch.ones(2, dtype=torch.bool)})
    # equal in float32, different in float64: the larger must win
    scores = {"w": torch.tensor([1.0, 1.0 + 1e-12], dtype=torch.float64)}
    assert keep_top(scores, masks, 0.5)["w"].tolist() == [False, True]


def test_report_and_collapse():
    masks = Masks({"a.weight": torch.zeros(2, 3, dtype=torch.bool), "b.weight": torch.tensor([True, False, True, True])})
    assert masks.collapsed() == ["a.weight"]
    assert masks.layer_density() == {"a.weight": 0.0, "b.weight": 0.75}
    assert masks.density() == pytest.approx(3 / 10)
    rows = masks.report()
    assert rows[0] == {"layer": "a.weight", "shape": [2, 3], "kept": 0, "total": 6, "density": 0.0, "collapsed": True}


def test_apply_zeroes_pruned_weights_and_keeps_others():
    model = small_model()
    before = model[4].weight.detach().clone()
    masks = keep_top({n: torch.rand_like(w) for n, w in prunable_parameters(model).items()}, Masks.ones(model), 0.3)
    masks.apply(model)
    m = masks["4.weight"]
    assert torch.all(model[4].weight[~m] == 0)
    assert torch.equal(model[4].weight[m], before[m])


def test_save_load_round_trip(tmp_path):
    model = small_model()
    masks = keep_top({n: torch.rand_like(w) for n, w in prunable_parameters(model).items()}, Masks.ones(model), 0.2)
    with torch.no_grad():
        model[4].weight.add_(1.0)  # pruned entries are now non-zero: save must store m ⊙ θ
    save(tmp_path / "ckpt.pt", model, masks)
    other = small_model()
    with torch.no_grad():
        for p in other.parameters():
            p.fill_(7.0)
    loaded = load(tmp_path / "ckpt.pt", other)
    for name in masks:
        assert torch.equal(loaded[name], masks[name])
    assert torch.all(other[4].weight[~masks["4.weight"]] == 0.0)
    assert torch.all(other[0].weight[~masks["0.weight"]] == 0.0)
    assert loaded.kept() == round(0.2 * masks.total())


def test_bound_masks_reject_other_model():
    masks = Masks({"other.weight": torch.ones(3, dtype=torch.bool)})
    with pytest.raises(ValueError, match="do not match"):
        masks.bind(small_model())
