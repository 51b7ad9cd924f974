"""BatchNorm mode while scoring: what the masks of one score share, checked by hand and by construction."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from drive_lab import scores
from drive_lab.analysis import score_modes
from drive_lab.masks import Masks


def test_shared_fraction_by_hand():
    a = Masks({"w": torch.tensor([True, True, False, False]), "v": torch.tensor([True, False])})
    b = Masks({"w": torch.tensor([True, False, True, False]), "v": torch.tensor([True, False])})
    assert score_modes.shared_fraction(a, b) == pytest.approx(2 / 3)  # w[0] and v[0] of a's three
    assert score_modes.shared_fraction(a, a) == 1.0
    with pytest.raises(ValueError, match="keeps no weight"):
        score_modes.shared_fraction(Masks({"w": torch.zeros(3, dtype=torch.bool)}), a)


def _batch(seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randn(32, 8, generator=generator) * 3 + 1, torch.randint(0, 3, (32,), generator=generator))]


def test_without_batchnorm_the_mode_changes_nothing_and_with_it_the_mask_moves():
    torch.manual_seed(0)
    plain = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    table = score_modes.mode_comparison({"snip": scores.snip}, plain, _batch(), [0.5, 0.9])
    assert table["shared"].tolist() == [1.0, 1.0]
    assert table["kept"].tolist() == [round(0.5 * 176), round(0.1 * 176)]
    torch.manual_seed(0)
    normed = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
    normed.train()
    table = score_modes.mode_comparison({"snip": scores.snip}, normed, _batch(), [0.5])
    assert table["shared"].iloc[0] < 1.0  # batch statistics (mean ≈ 1, std ≈ 3) differ from the running ones (0, 1)
    assert normed.training and normed[1].training  # modes restored
