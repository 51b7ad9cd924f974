"""Notebooks 04 and 05: warm-up gains and their cost, equal budgets, DRIVE vs IMP, sanity checks, their figures.

Every expectation is computed by hand (or with scipy's t quantile) from frames whose answers are known.
"""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

from drive_lab import exercises, plots  # noqa: E402
from drive_lab.analysis import references, warmup  # noqa: E402

T975_2 = stats.t.ppf(0.975, 2)  # 3 seeds


def _warmup_frame(accuracy_gain=(0.020, 0.022, 0.018), extra_seconds=(1.0, 1.1, 0.9), e=2):
    rows = []
    for seed in range(3):
        rows.append(dict(method="drive", sparsity=0.9, warmup_epochs=0, seed=seed,
                         final_test_accuracy=0.80 + 0.01 * seed, seconds_pruning=1.0 + 0.1 * seed))
        rows.append(dict(method="drive", sparsity=0.9, warmup_epochs=e, seed=seed,
                         final_test_accuracy=0.80 + 0.01 * seed + accuracy_gain[seed],
                         seconds_pruning=1.0 + 0.1 * seed + extra_seconds[seed]))
    return pd.DataFrame(rows)


def test_gain_per_second_pairs_by_seed_and_bounds_the_ratio_by_both_intervals():
    row = warmup.gain_per_second(_warmup_frame()).iloc[0]
    half_seconds = T975_2 * 0.1 / math.sqrt(3)  # differences 1.0, 1.1, 0.9 s: std 0.1
    half_points = T975_2 * 0.2 / math.sqrt(3)  # differences 2.0, 2.2, 1.8 points: std 0.2
    assert row["n"] == 3 and row["reference"] == 0 and row["warmup_epochs"] == 2
    assert row["gain_points"] == pytest.approx(2.0)
    assert row["extra_seconds"] == pytest.approx(1.0)
    assert row["seconds_low"] == pytest.approx(1.0 - half_seconds)
    assert row["per_second_note"] == "measured"
    assert row["points_per_second"] == pytest.approx(2.0)
    assert row["per_second_low"] == pytest.approx((2.0 - half_points) / (1.0 + half_seconds))
    assert row["per_second_high"] == pytest.approx((2.0 + half_points) / (1.0 - half_seconds))


def test_gain_per_second_is_refused_when_the_extra_time_is_within_timing_noise():
    table = warmup.gain_per_second(_warmup_frame(extra_seconds=(0.5, -0.5, 0.1)))
    row = table.iloc[0]
    assert row["seconds_low"] < 0 < row["seconds_high"]
    assert row["per_second_note"] == "within timing noise"
    assert math.isnan(row["points_per_second"]) and math.isnan(row["per_second_low"])
    sentence = warmup.gain_per_second_sentences(table)[0]
    assert "within timing noise" in sentence and "points per second" not in sentence


def test_gain_per_second_with_one_seed_states_no_ratio():
    frame = _warmup_frame()
    table = warmup.gain_per_second(frame[frame.seed == 0])
    assert table.iloc[0]["per_second_note"] == "one seed: no interval"
    assert math.isnan(table.iloc[0]["points_per_second"])
    assert "one seed" in warmup.gain_per_second_sentences(table)[0]


def _curve(second_step_gain):
    """E = 0, 2, 8 over 3 seeds: +3 points from 0 to 2 (with seed noise), then ``second_step_gain`` per seed."""
    rows = []
    for seed in range(3):
        base = 0.7 + 0.01 * seed
        for e, acc in ((0, base), (2, base + 0.03 + 0.001 * seed), (8, base + 0.03 + 0.001 * seed + second_step_gain[seed])):
            rows.append(dict(method="snip", sparsity=0.99, warmup_epochs=e, seed=seed, final_test_accuracy=acc))
    return pd.DataFrame(rows)


def test_warmup_steps_say_which_reading_of_the_curve_holds():
    climbing = warmup.warmup_steps(_curve((0.010, 0.011, 0.012)), [(0, 2), (2, 8)])
    assert list(climbing["start"]) == [0, 2] and climbing["difference"].to_numpy() == pytest.approx([0.031, 0.011])
    assert "keeps climbing beyond E = 2" in warmup.warmup_step_sentences(climbing)[0]
    flat = warmup.warmup_steps(_curve((0.004, -0.004, 0.001)), [(0, 2), (2, 8)])
    sentence = warmup.warmup_step_sentences(flat)[0]
    assert "no detectable gain beyond E = 2" in sentence and "SNIP at 99% sparsity" in sentence
    falling = warmup.warmup_steps(_curve((-0.010, -0.011, -0.012)), [(0, 2), (2, 8)])
    assert "accuracy falls beyond E = 2" in warmup.warmup_step_sentences(falling)[0]


def test_budget_comparisons_read_fixed_T_and_equal_budget_against_the_right_E0_run():
    rows = []
    for seed in range(3):
        base = 0.6 + 0.01 * seed
        for e, t, acc in ((0, 8, base), (0, 10, base + 0.01), (2, 8, base + 0.03 + 0.001 * seed)):
            rows.append(dict(model="mlp", method="drive", sparsity=0.98, warmup_epochs=e, epochs=t, seed=seed,
                             final_test_accuracy=acc))
    table = warmup.budget_comparisons(pd.DataFrame(rows)).set_index("reading")
    # fixed T: E=2,T=8 vs E=0,T=8 = +0.031 on average; equal budget: E=2,T=8 vs E=0,T=10 = +0.021
    assert table.loc["fixed T", "difference"] == pytest.approx(0.031)
    assert table.loc["equal budget", "difference"] == pytest.approx(0.021)
    assert table.loc["equal budget", "reference_epochs"] == 10 and table.loc["equal budget", "total"] == 10
    assert table.loc["fixed T", "reference_epochs"] == 8 and table.loc["fixed T", "n"] == 3
    sentences = warmup.budget_sentences(table.reset_index())
    assert "equal budget: E = 2 then T = 8 vs E = 0 then T = 10" in sentences[1]
    assert "E = 2 is ahead of E = 0 by 2.10 points" in sentences[1]


def test_imp_epochs_counts_rounds_times_T_against_E():
    frame = pd.DataFrame([dict(model="mlp", method="imp", sparsity=0.99, iterations=21, epochs=8, warmup_epochs=0),
                          dict(model="mlp", method="drive", sparsity=0.99, iterations=100, epochs=8, warmup_epochs=2)])
    row = references.imp_epochs(frame).iloc[0]
    assert row["imp_pruning_epochs"] == 168 and row["epoch_ratio"] == pytest.approx(84.0)
    assert row["imp_total_epochs"] == 176 and row["drive_total_epochs"] == 10
    assert "21 rounds × T = 8 epochs = 168 epochs" in references.imp_epoch_sentences(references.imp_epochs(frame))[0]


def test_speedup_sentences_mark_the_extrapolation_and_place_the_interval_against_the_claim():
    table = pd.DataFrame([dict(model="mlp", sparsity=0.995, n=3, ratio=20.0, ratio_low=15.0, ratio_high=30.0,
                               imp_rounds=24, epochs=8, imp_seconds=80.0, drive_seconds=4.0, ratio_at_paper_epochs=400.0)])
    sentence = references.speedup_sentences(table, paper_epochs=160, claim=(43, 869))[0]
    assert "99.5% sparsity" in sentence and "1.00" not in sentence
    assert "below the paper's claimed 43×–869×" in sentence
    assert "Extrapolation, not a measurement" in sentence and "about 400×" in sentence
    inside = table.assign(ratio=60.0, ratio_low=50.0, ratio_high=70.0)
    assert "inside the paper's claimed" in references.speedup_sentences(inside, claim=(43, 869))[0]


def _sanity_rows(method, lows):
    return [dict(model="mlp", method=method, sparsity=s, check="shuffle", n=3, drop=low + 1.0, ci_low=low,
                 ci_high=low + 2.0, finding="positions matter" if low > 0 else "no detectable difference") for s, low in zip((0.9, 0.99), lows)]


def test_sanity_sentences_say_whether_a_method_beats_its_shuffled_mask():
    table = pd.DataFrame(_sanity_rows("drive", (0.5, 3.0)) + _sanity_rows("snip", (-1.0, 2.0))
                         + _sanity_rows("grasp", (-1.5, -0.5)))
    sentences = references.sanity_sentences(table)
    assert "So DRIVE (mlp) beats its shuffled mask at every sparsity tested" in sentences[0]
    assert "beats its shuffled mask at 99% only" in sentences[1]
    assert "does not beat its shuffled mask at any sparsity" in sentences[2]
    assert references.sanity_sentences(table, verdict_only=True)[0].startswith("DRIVE (mlp) beats its shuffled mask")


def test_layer_spread_names_the_densest_and_sparsest_layer():
    densities = pd.DataFrame({"fc1": [0.004, 0.005], "fc2": [0.2, 0.0051]},
                             index=pd.MultiIndex.from_tuples([("DRIVE", 0.995), ("Random", 0.995)]))
    drive, random = references.layer_spread_sentences(densities)
    assert "fc2 keeps 20% of its weights, fc1 keeps 0.4%, 50× less than the densest" in drive
    assert "about the same density in every layer" in random


def _timed_frame():
    rows = []
    for seed, jitter in enumerate((-0.1, 0.0, 0.1)):
        for sparsity in (0.9, 0.99):
            rows.append(dict(method="drive", label="DRIVE", sparsity=sparsity, seed=seed, seconds_warmup=1.0,
                             seconds_scoring=0.5 + jitter, seconds_pruning=1.5 + jitter))
            rows.append(dict(method="imp", label="IMP", sparsity=sparsity, seed=seed, seconds_warmup=0.0,
                             seconds_scoring=0.1, seconds_pruning=100.0 + 10 * jitter))
    return pd.DataFrame(rows)


def test_pruning_time_draws_means_with_std_error_bars_on_a_log_axis():
    fig = plots.pruning_time(_timed_frame(), log=True)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    means = sorted(np.round(np.asarray(line.get_ydata(), dtype=float), 6).tolist() for line in ax.get_lines() if len(line.get_ydata()) == 2
                   and line.get_linestyle() == "-")
    assert [1.5, 1.5] in means and [100.0, 100.0] in means
    assert ax.containers and all(len(c.lines[2]) > 0 for c in ax.containers)  # error bars drawn
    plt.close(fig)


def test_time_bars_on_a_log_axis_draw_totals_not_stacked_segments():
    fig = plots.time_bars(_timed_frame(), log=True)
    ax = fig.axes[0]
    bars = [p for p in ax.patches if p.get_height() > 0]
    assert len(bars) == 4  # one bar per method and sparsity, no segments
    assert all(p.get_y() == 0 for p in bars)
    assert sorted(round(p.get_height(), 6) for p in bars) == [1.5, 1.5, 100.0, 100.0]
    plt.close(fig)


def test_speedup_intervals_keep_the_extrapolation_a_separate_marked_series():
    table = pd.DataFrame([dict(model="mlp", sparsity=s, ratio=r, ratio_low=r / 2, ratio_high=r * 2,
                               ratio_at_paper_epochs=10 * r) for s, r in ((0.9, 20.0), (0.99, 40.0))])
    fig = plots.speedup_intervals(table, claim=(43, 869))
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert any("not measured" in label for label in labels) and any("95% CI" in label for label in labels)
    assert fig.axes[0].get_yscale() == "log"
    plt.close(fig)


def test_epoch_ratio_left_empty_asks_for_an_answer_not_for_code(capsys):
    verdict = exercises.check_epoch_ratio(None, pd.DataFrame())
    assert not verdict and "fill in your answer" in capsys.readouterr().out
