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


# --------------------------------------------------------------------------------------
# keep_top against an independent reference (NumPy, stable argsort), on the cases a fast
# but wrong top-k would get wrong: ties at the threshold, -inf survivors, k = survivors,
# k = 0, huge scores on pruned weights, NaN, and many nested steps.

import numpy as np

from drive_lab.masks import container as masks_module  # where NUMPY_ON_CPU is read
from drive_lab.masks import selection


@pytest.fixture(params=["numpy", "torch"])
def route(request, monkeypatch):
    """Run a test through the CPU's NumPy route and through the torch route (the GPU's)."""
    monkeypatch.setattr(masks_module, "NUMPY_ON_CPU", request.param == "numpy")
    return request.param


def reference_keep(scores: dict, masks: Masks, k: int) -> dict:
    """Keep the k survivors with the highest score; ties: earliest layer, then flat index."""
    names = list(masks)
    flat_scores = np.concatenate([scores[n].detach().double().cpu().numpy().ravel() for n in names])
    flat_masks = np.concatenate([masks[n].cpu().numpy().ravel() for n in names])
    survivors = np.flatnonzero(flat_masks)
    order = np.argsort(-flat_scores[survivors], kind="stable")  # stable: earlier index first
    keep = np.zeros(flat_masks.size, dtype=bool)
    keep[survivors[order[:k]]] = True
    out, offset = {}, 0
    for n in names:
        size = masks[n].numel()
        out[n] = keep[offset : offset + size].reshape(tuple(masks[n].shape))
        offset += size
    return out


def assert_matches_reference(result: Masks, scores: dict, masks: Masks, density: float) -> None:
    k = round(density * masks.total())
    expected = reference_keep(scores, masks, k)
    for n in masks:
        assert result[n].dtype == torch.bool and tuple(result[n].shape) == tuple(masks[n].shape)
        np.testing.assert_array_equal(result[n].cpu().numpy(), expected[n], err_msg=n)
    # the cached counts (what density/kept/report use) agree with the tensors themselves
    assert result.kept() == k == sum(int(result[n].sum()) for n in result)
    assert result.layer_density() == {n: int(result[n].sum()) / result[n].numel() for n in result}
    assert result.collapsed() == [n for n in result if not bool(result[n].any())]
    for row in result.report():
        assert row["kept"] == int(result[row["layer"]].sum())
    # nested: nothing pruned before is kept now
    for n in masks:
        assert not torch.any(result[n] & ~masks[n])


def random_layers(generator: torch.Generator, sizes=((7, 5), (40, 31), (3,), (6, 2, 3, 3))) -> dict:
    return {f"l{i}.weight": torch.empty(shape) for i, shape in enumerate(sizes)}


def user_masks(shapes: dict, density: float, generator: torch.Generator) -> Masks:
    """Masks built from plain tensors (no cached positions), as a user would."""
    return Masks({n: torch.rand(t.shape, generator=generator) < density for n, t in shapes.items()})


@pytest.mark.parametrize("seed", range(6))
def test_keep_top_matches_reference_with_heavy_ties(seed, route):
    g = torch.Generator().manual_seed(seed)
    shapes = random_layers(g)
    masks = user_masks(shapes, 0.7, g)
    # integer scores in a tiny range: almost every threshold is a tie
    scores = {n: torch.randint(0, 4, t.shape, generator=g).float() for n, t in shapes.items()}
    survivors = masks.kept()
    for k in sorted({0, 1, 2, survivors // 3, survivors // 2, survivors - 2, survivors - 1, survivors}):
        density = k / masks.total()
        assert_matches_reference(keep_top(scores, masks, density), scores, masks, density)


def test_keep_top_minus_inf_survivors_fill_last_places_in_order(route):
    masks = Masks({"a": torch.tensor([True, True, False, True]), "b": torch.tensor([True, True, True])})
    inf = float("inf")
    scores = {"a": torch.tensor([-inf, 1.0, 9.0, -inf]), "b": torch.tensor([-inf, 2.0, -inf])}
    # 6 survivors, 2 finite; keeping 4 takes the two finite ones and the first two -inf
    # survivors in order (a[0], a[3]); the pruned a[2] never comes back
    kept = keep_top(scores, masks, 4 / 7)
    assert kept["a"].tolist() == [True, True, False, True]
    assert kept["b"].tolist() == [False, True, False]
    for k in range(7):
        assert_matches_reference(keep_top(scores, masks, k / 7), scores, masks, k / 7)


def test_keep_top_all_minus_inf_and_k_equal_survivors(route):
    masks = Masks({"w": torch.tensor([True, False, True, True, False])})
    scores = {"w": torch.full((5,), float("-inf"))}
    kept = keep_top(scores, masks, 3 / 5)  # k = survivors: all survivors, nothing else
    assert kept["w"].tolist() == [True, False, True, True, False]
    assert keep_top(scores, masks, 2 / 5)["w"].tolist() == [True, False, True, False, False]
    assert keep_top(scores, masks, 0.0).kept() == 0


def test_keep_top_k_zero_and_collapse_counts(route):
    masks = Masks.ones(small_model())
    scores = {n: torch.rand(m.shape) for n, m in masks.items()}
    none = keep_top(scores, masks, 0.0)
    assert none.kept() == 0 and none.density() == 0.0
    assert none.collapsed() == list(masks)
    assert all(not bool(m.any()) for m in none.values())


def test_keep_top_ignores_scores_of_pruned_weights_even_huge(route):
    g = torch.Generator().manual_seed(3)
    shapes = random_layers(g)
    masks = user_masks(shapes, 0.5, g)
    scores = {n: torch.where(masks[n], torch.rand(t.shape, generator=g), torch.tensor(1e30)) for n, t in shapes.items()}
    for density in (0.0, 0.05, 0.2, masks.density()):
        assert_matches_reference(keep_top(scores, masks, density), scores, masks, density)


@pytest.mark.parametrize("where", ["survivor", "pruned"])
def test_nan_anywhere_is_rejected(where, route):
    masks = Masks({"a": torch.tensor([True, False, True]), "b": torch.tensor([True, True])})
    scores = {"a": torch.tensor([1.0, 2.0, 3.0]), "b": torch.tensor([4.0, 5.0])}
    scores["a"][0 if where == "survivor" else 1] = float("nan")
    with pytest.raises(ValueError, match=r"NaN for \['a'\]"):
        keep_top(scores, masks, 0.4)


def test_nan_reported_before_nested_error(route):
    masks = Masks({"w": torch.tensor([True, False, False])})
    with pytest.raises(ValueError, match="NaN"):
        keep_top({"w": torch.tensor([float("nan"), 0.0, 0.0])}, masks, 1.0)


def test_plus_and_minus_inf_scores_are_not_mistaken_for_nan(route):
    # +inf and -inf in one layer sum to NaN: that alone must not be reported as a NaN score
    masks = Masks({"w": torch.ones(4, dtype=torch.bool)})
    scores = {"w": torch.tensor([float("inf"), float("-inf"), 1.0, 0.5])}
    assert keep_top(scores, masks, 0.5)["w"].tolist() == [True, False, True, False]


def test_keep_top_leaves_inputs_untouched(route):
    g = torch.Generator().manual_seed(4)
    shapes = random_layers(g)
    masks = user_masks(shapes, 0.6, g)
    scores = {n: torch.rand(t.shape, generator=g) for n, t in shapes.items()}
    scores_before = {n: t.clone() for n, t in scores.items()}
    masks_before = {n: m.clone() for n, m in masks.items()}
    keep_top(scores, masks, 0.3)
    for n in masks:
        assert torch.equal(scores[n], scores_before[n]) and torch.equal(masks[n], masks_before[n])


def test_score_size_mismatch_is_a_clear_error():
    masks = Masks({"w": torch.ones(4, dtype=torch.bool)})
    with pytest.raises(ValueError, match="entries"):
        keep_top({"w": torch.ones(5)}, masks, 0.5)


@pytest.mark.parametrize("kind", ["continuous", "ties", "float64", "minus_inf"])
def test_many_nested_steps_match_reference(kind, route):
    """A long iterative schedule on a network-sized vector: each step equals the reference
    computed from the previous masks, both through a plain dict of scores and through the
    scores Masks.expand builds (the path DRIVE takes)."""
    from drive_lab.pruning import exponential_schedule

    g = torch.Generator().manual_seed(11)
    shapes = random_layers(g, sizes=((60, 70), (30, 40, 3), (10, 60), (5,)))  # > 2048 survivors
    masks = Masks({n: torch.ones(t.shape, dtype=torch.bool) for n, t in shapes.items()})
    for step, density in enumerate(exponential_schedule(0.02, 40)):
        if kind == "continuous":
            scores = {n: torch.rand(t.shape, generator=g) for n, t in shapes.items()}
        elif kind == "ties":
            scores = {n: torch.randint(0, 50, t.shape, generator=g).float() for n, t in shapes.items()}
        elif kind == "float64":
            scores = {n: 1.0 + 1e-12 * torch.randint(0, 1000, t.shape, generator=g, dtype=torch.float64)
                      for n, t in shapes.items()}
        else:
            scores = {n: torch.where(torch.rand(t.shape, generator=g) < 0.3, float("-inf"),
                                     torch.rand(t.shape, generator=g)) for n, t in shapes.items()}
        if step % 2:  # every other step: the survivors-only scores that Masks.expand builds
            values = masks.select([scores[n] for n in masks])
            scores = masks.expand(values, float("-inf"))
        result = keep_top(scores, masks, density)
        assert_matches_reference(result, dict(scores), masks, density)
        assert torch.equal(  # the same through a plain dict (no shortcut)
            torch.cat([m.flatten() for m in keep_top(dict(scores), masks, density).values()]),
            torch.cat([m.flatten() for m in result.values()]))
        masks = result


def test_few_survivors_dropped_selection_matches_general_route():
    """The CPU selection for a small drop (a sampled bound, then a k-th value among the few
    candidates) gives exactly the reference's dropped set, ties included."""
    g = torch.Generator().manual_seed(5)
    taken = 0
    for trial in range(20):
        n = int(torch.randint(3000, 9000, (1,), generator=g))
        values = torch.randint(0, [3, 30, 10**6][trial % 3], (n,), generator=g).float()
        if trial % 4 == 0:
            values[torch.rand(n, generator=g) < 0.1] = float("-inf")
        m = int(torch.randint(1, n // 8, (1,), generator=g))
        order = np.lexsort((-np.arange(n), values.double().numpy()))  # value asc, then latest first
        expected = np.sort(order[:m])
        dropped = selection._lowest(values.numpy(), m)
        if dropped is not None:  # None = declined (e.g. massive ties): the general route runs
            np.testing.assert_array_equal(dropped, expected)
            taken += 1
    assert taken >= 10  # the fast route was really exercised


def test_gpu_style_selection_helpers_on_cpu():
    """The pieces used on CUDA (topk-based threshold, count-aware positions) give the same
    answer as the CPU ones."""
    g = torch.Generator().manual_seed(6)
    values = torch.randint(0, 20, (1000,), generator=g).float()
    for k in (1, 2, 499, 500, 998, 999, 1000):
        expected = torch.kthvalue(values, 1000 - k + 1).values
        top = torch.topk(values, k, largest=True, sorted=False).values.min()
        bottom = torch.topk(values, 1000 - k + 1, largest=False, sorted=False).values.max()
        assert top == expected == bottom
    flags = torch.rand(1000, generator=g) < 0.3
    assert torch.equal(torch.nonzero_static(flags, size=int(flags.sum())).squeeze(1), flags.nonzero().squeeze(1))


def test_expanded_scores_changed_in_place_are_seen(route):
    """keep_top's shortcut for Masks.expand output must notice edits made after expand."""
    masks = Masks({"a": torch.tensor([True, True, False, True]), "b": torch.tensor([True, False, True])})
    scores = masks.expand(torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]), float("-inf"))
    assert keep_top(scores, masks, 2 / 7)["b"].tolist() == [True, False, True]
    scores["a"][0] = 100.0  # in place, after expand
    assert keep_top(scores, masks, 2 / 7)["a"].tolist() == [True, False, False, False]
    scores["b"] = torch.tensor([0.0, 0.0, 0.0])  # replaced entry
    assert keep_top(scores, masks, 2 / 7)["a"].tolist() == [True, False, False, True]
    other = Masks({n: m.clone() for n, m in masks.items()})  # equal masks, other object
    assert keep_top(scores, other, 2 / 7)["a"].tolist() == [True, False, False, True]


def test_select_and_expand_round_trip(route):
    g = torch.Generator().manual_seed(8)
    shapes = random_layers(g)
    masks = user_masks(shapes, 0.4, g)
    tensors = [torch.rand(t.shape, generator=g) for t in shapes.values()]
    picked = masks.select(tensors)
    expected = torch.cat([t[masks[n]] for t, n in zip(tensors, masks)])
    assert torch.equal(picked, expected)
    back = masks.expand(picked, -1.0)
    for t, n in zip(tensors, masks):
        assert torch.equal(back[n], torch.where(masks[n], t, torch.tensor(-1.0)))
    assert isinstance(back, dict)
    import pickle
    assert type(pickle.loads(pickle.dumps(back))) is dict  # saved as the plain dict it is


def test_masks_from_keep_top_behave_like_user_masks(route):
    """Counting, factors, apply, state_dict and to() agree between a keep_top result and
    Masks rebuilt from its plain tensors."""
    model = small_model()
    g = torch.Generator().manual_seed(9)
    masks = Masks.ones(model)
    for density in (0.6, 0.3, 0.1):
        masks = keep_top({n: torch.rand(m.shape, generator=g) for n, m in masks.items()}, masks, density)
    plain = Masks({n: m.clone() for n, m in masks.items()})
    assert masks.kept() == plain.kept() and masks.report() == plain.report()
    for f1, f2 in zip(masks.factors(torch.float32, "cpu"), plain.factors(torch.float32, "cpu")):
        assert torch.equal(f1, f2)
    assert masks.to("cpu") is masks
    a, b = small_model(), small_model()
    masks.apply(a)
    plain.apply(b)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert all(torch.equal(masks.state_dict()[n], plain[n]) for n in masks)


def test_incremental_enforcement_equals_a_full_apply(route):
    """The pruner zeroes only the newly pruned weights when the model is as the previous
    masks left it; the result is bit for bit a full apply (x * 0 keeps the sign of zero)."""
    g = torch.Generator().manual_seed(12)
    model, reference = small_model(), small_model()
    masks = Masks.ones(model)
    for density in (0.7, 0.5, 0.3, 0.29, 0.1):
        scores = {n: torch.rand(m.shape, generator=g) for n, m in masks.items()}
        new = keep_top(scores, masks, density)
        new._apply_step(model, masks)
        new.apply(reference)
        for a, b in zip(prunable_parameters(model).values(), prunable_parameters(reference).values()):
            assert torch.equal(a, b) and torch.equal(torch.signbit(a), torch.signbit(b))
        masks = new


def test_incremental_enforcement_falls_back_when_weights_changed(route):
    model = small_model()
    g = torch.Generator().manual_seed(13)
    masks = keep_top({n: torch.rand(m.shape, generator=g) for n, m in Masks.ones(model).items()},
                     Masks.ones(model), 0.5)
    masks.apply(model)
    new = keep_top({n: torch.rand(m.shape, generator=g) for n, m in masks.items()}, masks, 0.4)
    with torch.no_grad():
        for w in prunable_parameters(model).values():
            w.add_(1.0)  # in place: every pruned weight is non-zero again
    new._apply_step(model, masks)
    for name, w in prunable_parameters(model).items():
        assert torch.all(w[~new[name]] == 0)
        assert torch.all(w[new[name]] != 0)


def test_scoring_skips_masking_only_for_what_the_pruner_just_applied(route):
    """Outside prune() the scorer always masks; inside it only skips masks the pruner has
    applied to weights unchanged since."""
    from drive_lab.scores.gradients import masked_weights

    model = small_model()
    g = torch.Generator().manual_seed(14)
    masks = keep_top({n: torch.rand(m.shape, generator=g) for n, m in Masks.ones(model).items()},
                     Masks.ones(model), 0.4)
    masks.apply(model)
    with torch.no_grad():
        model[4].weight.data.add_(1.0)  # not seen by the version counter
    masked_weights(model, masks)  # outside prune: a full apply regardless
    assert torch.all(model[4].weight[~masks["4.weight"]] == 0)
    token = masks_module._APPLIED_BY_PRUNER.set(masks)
    try:
        with torch.no_grad():
            model[4].weight.add_(1.0)  # a tracked in-place change: the skip must not happen
        masked_weights(model, masks)
        assert torch.all(model[4].weight[~masks["4.weight"]] == 0)
    finally:
        masks_module._APPLIED_BY_PRUNER.reset(token)


def test_masks_built_on_demand_match_their_counts(route):
    g = torch.Generator().manual_seed(15)
    shapes = random_layers(g)
    masks = user_masks(shapes, 0.8, g)
    for density in (0.7, 0.6, 0.2):
        masks = keep_top({n: torch.rand(t.shape, generator=g) for n, t in shapes.items()}, masks, density)
        counts = [row["kept"] for row in masks.report()]  # from the cached counts ...
        assert counts == [int(masks[n].sum()) for n in masks]  # ... and from the tensors
        assert all(masks[n].dtype == torch.bool and masks[n].shape == shapes[n].shape for n in masks)


def test_masks_pickle_and_deepcopy(route):
    import copy
    import pickle

    model = small_model()
    masks = Masks.ones(model)
    g = torch.Generator().manual_seed(16)
    for density in (0.5, 0.2):
        new = keep_top({n: torch.rand(m.shape, generator=g) for n, m in masks.items()}, masks, density)
        new._apply_step(model, masks)
        masks = new
    for other in (pickle.loads(pickle.dumps(masks)), copy.deepcopy(masks)):
        assert list(other) == list(masks) and other.report() == masks.report()
        assert all(torch.equal(other[n], masks[n]) for n in masks)
        assert keep_top({n: torch.ones(m.shape) for n, m in other.items()}, other, 0.1).kept() == round(0.1 * other.total())


def test_torch_prune_round_trip_enforces_the_same_masks():
    from torch.nn.utils import prune as torch_prune

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    g = torch.Generator().manual_seed(1)
    masks = Masks({name: torch.rand(w.shape, generator=g) < 0.4 for name, w in
                   [("0.weight", model[0].weight), ("3.weight", model[3].weight)]})
    original = {n: p.detach().clone() for n, p in model.named_parameters()}
    masks.to_torch_prune(model)
    # PyTorch's own bookkeeping: weight_orig is the untouched parameter, weight = orig * mask
    assert torch.equal(model[0].weight_orig, original["0.weight"])
    assert torch.equal(model[3].weight, original["3.weight"] * masks["3.weight"])
    back = Masks.from_torch_prune(model)
    assert all(torch.equal(back[n], masks[n]) for n in masks)
    # after prune.remove the zeros are permanent and drive_lab reads the same masks off them
    for module in (model[0], model[3]):
        torch_prune.remove(module, "weight")
    assert all(torch.equal(model.get_parameter(n) != 0, masks[n]) for n in masks)


def test_from_torch_prune_of_an_unpruned_model_keeps_everything():
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    assert Masks.from_torch_prune(model).density() == 1.0
    with pytest.raises(ValueError, match="name different weights"):
        Masks({"0.weight": torch.ones(4, 5, dtype=torch.bool)}).to_torch_prune(model)
