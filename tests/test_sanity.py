"""Sanity-check modifiers (shuffle, reinit, invert), checked against independent expectations."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from drive_lab import models, scores
from drive_lab.config import RunConfig
from drive_lab.masks import Masks, keep_top
from drive_lab.sanity import SANITY_CHECKS, before_training, inverted, score_for, shuffled


def _random_masks(seed: int = 0) -> Masks:
    g = torch.Generator().manual_seed(seed)
    return Masks({"a.weight": torch.rand(30, 20, generator=g) < 0.3,
                  "b.weight": torch.rand(10, 30, generator=g) < 0.6,
                  "c.weight": torch.rand(5, 10, generator=g) < 0.9})


def test_shuffle_keeps_every_layer_count_and_moves_positions():
    masks = _random_masks()
    out = shuffled(masks, torch.Generator().manual_seed(1))
    for name in masks:
        assert out[name].shape == masks[name].shape
        assert int(out[name].sum()) == int(masks[name].sum())  # same per-layer count
    # Positions change: a 30x20 layer with 30% kept has C(600, ~180) placements
    assert not torch.equal(out["a.weight"], masks["a.weight"])
    overlap = (out["a.weight"] & masks["a.weight"]).sum() / masks["a.weight"].sum()
    assert overlap < 0.5  # a random placement overlaps about 30% with the original


def test_shuffle_is_reproducible_from_its_generator():
    masks = _random_masks()
    one = shuffled(masks, torch.Generator().manual_seed(7))
    two = shuffled(masks, torch.Generator().manual_seed(7))
    assert all(torch.equal(one[n], two[n]) for n in masks)


def _fixed_score(values: dict[str, torch.Tensor]):
    def score(model, batches, masks, **options):
        return {name: v.clone() for name, v in values.items()}
    return score


def test_invert_keeps_exactly_the_bottom_k_by_rank_of_signed_scores():
    g = torch.Generator().manual_seed(3)
    # Signed scores with zeros and duplicates-free values elsewhere (as GraSP's can be).
    values = {"a.weight": torch.randn(8, 6, generator=g), "b.weight": torch.randn(4, 8, generator=g)}
    values["a.weight"][0, :3] = 0.0
    masks = Masks({name: torch.ones_like(v, dtype=torch.bool) for name, v in values.items()})
    score = inverted(_fixed_score(values))(None, None, masks)
    k = 20
    kept = keep_top(score, masks, k / masks.total())
    flat = torch.cat([values[n].reshape(-1) for n in masks])
    expected = torch.zeros_like(flat, dtype=torch.bool)
    expected[torch.argsort(flat, stable=True)[:k]] = True  # the k lowest, independent of keep_top
    got = torch.cat([kept[n].reshape(-1) for n in masks])
    assert int(got.sum()) == k
    assert torch.equal(got, expected)


def test_invert_never_revives_pruned_weights():
    values = {"w.weight": torch.arange(10.0).reshape(2, 5)}
    masks = Masks({"w.weight": torch.tensor([[True, True, False, False, True], [True, False, True, True, True]])})
    score = inverted(_fixed_score(values))(None, None, masks)
    assert torch.isneginf(score["w.weight"][~masks["w.weight"]]).all()
    kept = keep_top(score, masks, 3 / 10)
    # survivors' scores 0,1,4,5,7,8,9: the lowest three are 0, 1, 4
    assert kept["w.weight"].reshape(-1).nonzero().squeeze(1).tolist() == [0, 1, 4]


def test_reinit_draws_new_weights_from_the_same_distribution():
    torch.manual_seed(0)
    model = models.build("mlp", num_classes=10, in_channels=1, image_size=28)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    masks = Masks.ones(model)
    out = before_training("reinit", model, masks, init="reference", seed=5)
    assert out is masks
    for name, p in model.named_parameters():
        if name.endswith("weight"):
            assert not torch.equal(p, before[name])
            # Kaiming fan-in normal: std = sqrt(2 / fan_in), whatever the draw
            fan_in = p.shape[1]
            assert p.std().item() == pytest.approx((2 / fan_in) ** 0.5, rel=0.1)
    # The global random state is left alone: the next draw is what it would have been.
    torch.manual_seed(1)
    expected = torch.rand(3)
    torch.manual_seed(1)
    before_training("reinit", model, masks, init="reference", seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_unknown_check_is_a_clear_error():
    with pytest.raises(ValueError, match="valid choices: none, shuffle, reinit, invert"):
        score_for(scores.magnitude, "flip")
    with pytest.raises(ValueError, match="valid choices"):
        RunConfig(sanity="shufle")
    with pytest.raises(ValueError, match="does not prune"):
        RunConfig(method="dense", sanity="shuffle")


def test_default_keeps_old_keys_and_checks_get_their_own():
    base = RunConfig()
    assert RunConfig(sanity="none").key() == base.key()
    keys = {RunConfig(sanity=check).key() for check in SANITY_CHECKS}
    assert len(keys) == len(SANITY_CHECKS)


@pytest.mark.parametrize("method", ["snip", "magnitude", "imp"])
def test_runs_apply_each_check(method):
    common = dict(method=method, model="mlp", dataset="digits", sparsity=0.9, epochs=0, subset=200,
                  test_subset=100, warmup_epochs=0, iterations=1 if method != "imp" else None)
    from drive_lab.pipeline import run

    plain = run(RunConfig(**common))
    for check in ("shuffle", "invert"):
        other = run(RunConfig(**common, sanity=check))
        assert other.config["sanity"] == check
        assert other.kept_weights == plain.kept_weights
    shuffled_run = run(RunConfig(**common, sanity="shuffle"))
    # shuffle keeps the per-layer densities exactly
    assert shuffled_run.layer_density == pytest.approx(plain.layer_density)
