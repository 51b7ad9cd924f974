"""Claims table: paired effects, corrected intervals and verdicts, on frames with known answers."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from drive_lab.analysis import claims, study_sentences


def _row(method, seed, accuracy, sparsity=0.99, e=0, n=1, model="mlp", **extra):
    row = dict(method=method, seed=seed, final_test_accuracy=accuracy, sparsity=sparsity, warmup_epochs=e,
               iterations=n, model=model, epochs=8, magnitude=1.0, connection=1.0, convergence=1.0, combine="sum",
               sanity="none")
    row.update(extra)
    return row


def _scores_frame(drive_gain: float, noise: float = 0.0):
    """DRIVE at (2, 100) = base + gain + per-seed noise; every baseline at either setting = base."""
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(5):
        base = 0.80 + 0.01 * seed  # shared by all methods of a seed: cancels in the pairing
        for method in ("drive", "snip", "synflow"):
            for e, n in ((2, 100), (0, 1)):
                gain = drive_gain + noise * rng.standard_normal() if (method == "drive" and e == 2) else 0.0
                rows.append(_row(method, seed, base + gain, e=e, n=n))
        rows.append(_row("synflow", seed, base, e=0, n=100))
    return pd.DataFrame(rows)


def test_a_constant_gain_is_supported_with_its_exact_size():
    table = claims.claims_table({"study_scores": _scores_frame(0.01)})
    assert set(table["verdict"]) == {"supported"}
    assert table["difference"].to_numpy() == pytest.approx(1.0)  # points
    assert (table["a_wins"] == 5).all() and (table["n"] == 5).all()
    # SynFlow's "as published" row compares with its N=100 at initialisation, as the paper does
    assert any("SynFlow E=0, N=100" in s for s in table["setting"])


def test_no_difference_is_inconclusive_and_said_so():
    table = claims.claims_table({"study_scores": _scores_frame(0.0, noise=0.01)})
    covering = table[(table["adjusted_low"] <= 0) & (table["adjusted_high"] >= 0)]
    assert set(covering["verdict"]) == {"inconclusive"}


def test_a_loss_is_not_supported():
    table = claims.claims_table({"study_scores": _scores_frame(-0.02, noise=0.001)})
    assert set(table["verdict"]) == {"not supported"}
    assert all(s.startswith("SNIP is ahead of DRIVE") or s.startswith("SynFlow is ahead of DRIVE")
               for s in table["finding"])


def test_intervals_are_t_intervals_and_bonferroni_widens_them():
    frame = _scores_frame(0.01, noise=0.005)
    table = claims.claims_table({"study_scores": frame})
    row = table.iloc[0]
    # recompute by hand from the frame: DRIVE (2,100) minus SNIP (0,1), by seed
    d = frame[(frame.method == "drive") & (frame.warmup_epochs == 2)].set_index("seed").final_test_accuracy
    s = frame[(frame.method == "snip") & (frame.warmup_epochs == 0)].set_index("seed").final_test_accuracy
    diffs = 100 * (d - s).to_numpy()
    half = stats.t.ppf(0.975, 4) * diffs.std(ddof=1) / math.sqrt(5)
    assert row["ci_low"] == pytest.approx(diffs.mean() - half)
    m = row["family_size"]  # the rows of the same claim (DRIVE beats SNIP: as published and equal, at 99%)
    assert m == (table["paper"] == row["paper"]).sum() == 2
    half_adj = stats.t.ppf(1 - 0.025 / m, 4) * diffs.std(ddof=1) / math.sqrt(5)
    assert row["adjusted_high"] == pytest.approx(diffs.mean() + half_adj)


def test_close_to_imp_uses_the_margin():
    rows = []
    for seed in range(4):
        rows.append(_row("imp", seed, 0.85 + 0.001 * seed))
        rows.append(_row("drive", seed, 0.85 + 0.001 * seed - 0.005, e=2, n=100))  # 0.5 points below
    table = claims.claims_table({"study_imp": pd.DataFrame(rows)})
    assert list(table["verdict"]) == ["supported"]  # within the 1-point margin, with no spread at all


def test_decomposition_steps_add_up_to_the_total():
    rows = []
    effects = {("snip", 0, 1): 0.0, ("snip", 2, 1): 0.03, ("snip", 2, 100): 0.05, ("drive", 2, 100): 0.06,
               ("drive", 0, 1): 0.01, ("drive", 0, 100): 0.02, ("drive", 2, 1): 0.04, ("snip", 0, 100): 0.01}
    for seed in range(3):
        for (m, e, n), gain in effects.items():
            rows.append(_row(m, seed, 0.7 + gain + 0.001 * seed * (m == "drive"), e=e, n=n))
    table = claims.decomposition(pd.DataFrame(rows)).set_index("step")
    assert table.loc["warm-up", "difference"] == pytest.approx(3.0)
    assert table.loc["iteration", "difference"] == pytest.approx(2.0)
    assert table.loc["score", "difference"] == pytest.approx(1.0 + 0.1, abs=0.11)
    parts = table.loc[["warm-up", "iteration", "score"], "difference"].sum()
    assert parts == pytest.approx(table.loc["total", "difference"])


def test_speedup_is_a_geometric_mean_of_paired_ratios_with_a_marked_extrapolation():
    rows = []
    for seed, (imp_s, drive_s) in enumerate([(100.0, 2.0), (200.0, 2.0), (400.0, 4.0)]):
        rows.append(_row("imp", seed, 0.8, iterations=3, seconds_pruning=imp_s, seconds_rounds=imp_s,
                         seconds_scoring=0.0, seconds_warmup=0.0))
        rows.append(_row("drive", seed, 0.8, e=2, n=100, seconds_pruning=drive_s, seconds_rounds=0.0,
                         seconds_scoring=0.5, seconds_warmup=drive_s - 0.5))
    table = claims.speedup(pd.DataFrame(rows), paper_epochs=16)
    ratio = table.iloc[0]
    assert ratio["ratio"] == pytest.approx((50 * 100 * 100) ** (1 / 3))
    assert ratio["ratio_at_paper_epochs"] == pytest.approx(2 * ratio["ratio"])  # T 8 -> 16 doubles IMP's rounds


def test_sanity_table_reads_positions_and_ranking():
    rows = []
    for seed in range(3):
        rows += [_row("snip", seed, 0.80 + 0.01 * seed, sanity="none"),
                 _row("snip", seed, 0.80 + 0.01 * seed + 0.001 * (seed - 1), sanity="shuffle"),
                 _row("snip", seed, 0.60, sanity="invert")]
    table = claims.sanity_table(pd.DataFrame(rows)).set_index("check")
    assert table.loc["shuffle", "finding"] == "no detectable difference"
    assert table.loc["invert", "finding"] == "the ranking beats its reverse"


def test_describe_states_direction_interval_and_seeds():
    assert claims.describe(1.234, 0.5, 2.0, 5, "DRIVE", "SNIP", 5) == (
        "DRIVE is ahead of SNIP by 1.23 points (95% CI +0.50 to +2.00 points; ahead in 5 of 5 seeds)")
    assert claims.describe(-0.3, -0.9, 0.3, 3, "DRIVE", "SNIP", 1).startswith("no detectable difference")
    assert claims.describe(-1.0, -1.5, -0.5, 3, "DRIVE", "SNIP", 0) == (
        "SNIP is ahead of DRIVE by 1.00 points (95% CI +0.50 to +1.50 points; ahead in 3 of 3 seeds)")


def test_equal_budget_pairs_e_with_t_so_that_e_plus_t_is_constant():
    rows = []
    for seed in range(3):
        for e, t, gain in ((0, 8, 0.0), (0, 10, 0.01), (2, 8, 0.03), (4, 8, 0.05), (4, 6, 0.02)):
            rows.append(_row("drive", seed, 0.7 + gain + 0.001 * seed, e=e, n=100, epochs=t, sparsity=0.98))
    frame = pd.DataFrame(rows)
    decomposition = frame[frame["epochs"] == 8]
    comparisons = claims.warmup_comparisons(decomposition, frame)
    equal = [c for c in comparisons if c.setting.startswith("equal budget")]
    assert [c.setting for c in equal] == ["equal budget E + T = 10: DRIVE E=2, T=8 vs E=0, T=10",
                                          "equal budget E + T = 10: DRIVE E=4, T=6 vs E=0, T=10"]
    assert [c.difference for c in equal] == pytest.approx([2.0, 1.0])  # 0.03 − 0.01 and 0.02 − 0.01, in points


def test_sanity_outcome_marks_each_check_by_its_interval():
    rows = []
    for seed in range(3):
        base = 0.80 + 0.01 * seed
        rows += [_row("drive", seed, base, sanity="none"),
                 _row("drive", seed, base - 0.10 - 0.001 * seed, sanity="shuffle"),        # drop ~10 points: detected
                 _row("drive", seed, base + 0.001 * (seed - 1), sanity="reinit"),          # drops -0.1, 0, +0.1: none
                 _row("drive", seed, base + 0.05 + 0.001 * seed, sanity="invert")]        # the check does better
    table = claims.sanity_table(pd.DataFrame(rows))
    text = claims.sanity_outcome(table, "mlp", "DRIVE", 0.99)
    assert text == "DRIVE: shuffle +10.1 ✓, reinit +0.0 ≈, invert -5.1 ✗"
    assert claims.sanity_outcome(table, "mlp", "DRIVE E=2", 0.99) == ""   # a label that names no checked method
    assert claims.sanity_outcome(table, "conv", "DRIVE", 0.99) == ""


def test_fair_score_sentences_compare_at_the_same_setting_only():
    frame = _scores_frame(drive_gain=0.02)
    # a one-shot SNIP far ahead must not enter the fair comparison at (2, 100)
    frame.loc[(frame["method"] == "snip") & (frame["warmup_epochs"] == 0), "final_test_accuracy"] += 0.5
    lines = study_sentences.fair_score_sentences(frame)
    assert lines == [
        "mlp, both E = 2, N = 100, at 99% sparsity: DRIVE is ahead of SNIP by 2.00 points (95% CI +2.00 to +2.00 "
        "points; ahead in 5 of 5 seeds).",
        "mlp, both E = 2, N = 100, at 99% sparsity: DRIVE is ahead of SynFlow by 2.00 points (95% CI +2.00 to +2.00 "
        "points; ahead in 5 of 5 seeds)."]


def test_convergence_sentences_read_the_map_and_pair_lambda_one_with_zero():
    rows = []
    for seed in range(3):
        for e in (0, 2):
            for lam in (0.0, 1.0, 2.0):
                gain = 0.01 if (e == 2 and lam == 1.0) else 0.0  # λ = 1 helps by 1 point at E = 2 only
                rows.append(_row("drive", seed, 0.80 + 0.01 * seed + 0.02 * e + gain, e=e, n=100, convergence=lam))
    frame = pd.DataFrame(rows)
    peak, at0, at2 = study_sentences.convergence_sentences(frame)
    assert peak.startswith("The map peaks at E = 2, λ = 1 (86.00%) and is lowest at E = 0, λ = 0 (81.00%)")
    assert "at most 1.00 points, across E by up to 5.00" in peak
    assert at0.startswith("At E = 0: no detectable difference between λ = 1 and λ = 0")
    assert at2.startswith("At E = 2: λ = 1 is ahead of λ = 0 by 1.00 points")


def test_term_sentences_pair_full_with_the_variant_per_network():
    rows = [_row("drive", s, 0.8 + 0.01 * s, e=2, n=100) for s in range(3)]
    rows += [_row("drive", s, 0.8 + 0.01 * s - d, e=2, n=100, convergence=0.0) for s, d in enumerate((0.015, 0.02, 0.025))]
    (line,) = study_sentences.term_sentences(pd.DataFrame(rows))
    half = stats.t.ppf(0.975, 2) * 0.5 / math.sqrt(3)  # differences 1.5, 2, 2.5 points: sd 0.5
    assert line == (f"mlp, at 99% sparsity: DRIVE (full) is ahead of without convergence by 2.00 points "
                    f"(95% CI {2 - half:+.2f} to {2 + half:+.2f} points; ahead in 3 of 3 seeds).")
