"""The sentences stating a table's findings, checked against hand-computed tables."""
from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats
import torch
from torch import nn

from drive_lab import analysis
from drive_lab.analysis import findings


def frame_of(rows):
    return pd.DataFrame(rows, columns=["method", "sparsity", "seed", "final_test_accuracy"])


def test_paired_sentences_state_the_interval_by_hand():
    # DRIVE − SNIP = +2, +2.5, +3 points over three seeds: mean 2.5, sd 0.5, t(0.975, 2) = 4.303
    rows = [("drive", 0.99, s, 0.80 + d) for s, d in enumerate((0.02, 0.025, 0.03))]
    rows += [("snip", 0.99, s, 0.80) for s in range(3)]
    table = analysis.paired_difference(frame_of(rows), "drive", "snip", column="method")
    half = stats.t.ppf(0.975, 2) * 0.5 / math.sqrt(3)
    (sentence,) = findings.paired_sentences(table)
    assert sentence == (f"At 99% sparsity: DRIVE is ahead of SNIP by 2.50 points "
                        f"(95% CI {2.5 - half:+.2f} to {2.5 + half:+.2f} points; ahead in 3 of 3 seeds).")


def test_an_interval_over_zero_is_no_detectable_difference_and_the_leader_is_named_from_its_side():
    rows = [("drive", 0.9, s, 0.8 + d) for s, d in enumerate((0.01, -0.02, 0.005))]
    rows += [("snip", 0.9, s, 0.8) for s in range(3)]
    (sentence,) = findings.paired_sentences(analysis.paired_difference(frame_of(rows), "drive", "snip", column="method"))
    assert "no detectable difference between DRIVE and SNIP" in sentence
    rows = [("drive", 0.9, s, 0.7) for s in range(3)] + [("snip", 0.9, s, 0.8 + 0.001 * s) for s in range(3)]
    (sentence,) = findings.paired_sentences(analysis.paired_difference(frame_of(rows), "drive", "snip", column="method"))
    assert sentence.startswith("At 90% sparsity: SNIP is ahead of DRIVE by 10.10 points")
    assert "ahead in 3 of 3 seeds" in sentence


def test_sparsities_are_written_as_percentages_not_rounded_fractions():
    assert findings._pct(0.995) == "99.5%" and findings._pct(0.9) == "90%" and findings._pct(0.998) == "99.8%"


@pytest.mark.parametrize("rho, words", [(0.927, "largely agree"), (0.9, "largely agree"), (0.6, "partly agree"),
                                        (0.2, "disagree")])
def test_agreement_words_follow_the_stated_thresholds(rho, words):
    assert findings.agreement(rho) == words


def test_correlation_sentences_read_the_matrix_and_overlap():
    names = ["magnitude", "connection"]
    matrix = pd.DataFrame([[1.0, 0.927], [0.927, 1.0]], index=names, columns=names)
    overlap = pd.DataFrame([[1.0, 0.84], [0.84, 1.0]], index=names, columns=names)
    (sentence,) = findings.correlation_sentences(matrix, overlap=overlap)
    assert sentence == ("magnitude and connection largely agree (Spearman ρ = 0.927) and keep mostly the same "
                        "weights (overlap 0.84).")


def test_share_sentence_equal_for_an_mlp_and_different_for_a_cnn():
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))
    assert findings.share_sentence(analysis.layer_costs(mlp, torch.zeros(1, 1, 4, 4))).startswith(
        "Every layer's share of the weights equals")
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 8 * 8, 3))
    sentence = findings.share_sentence(analysis.layer_costs(cnn, torch.zeros(1, 1, 8, 8)))
    # conv: 36 weights × 64 positions = 2304 MACs; linear: 768 weights, 768 MACs
    assert "most in 0.weight: 4.5% of the weights but 75.0% of the multiply-adds" in sentence


def test_leader_sentences_compare_the_top_two_paired():
    rows = [("drive", 0.99, s, 0.85 + 0.01 * s) for s in range(3)] + [("snip", 0.99, s, 0.80 + 0.01 * s) for s in range(3)]
    frame = frame_of(rows)
    summary = analysis.summarise(frame, by=("method", "sparsity"))
    (sentence,) = findings.leader_sentences(summary, frame=frame)
    assert sentence.startswith("At 99% sparsity, DRIVE leads with 86.00% (mean of 3), then SNIP with 81.00%")
    assert "DRIVE is ahead of SNIP by 5.00 points" in sentence
