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


def test_dense_change_sentences_give_the_direction_and_refuse_an_interval_for_one_run():
    table = pd.DataFrame([dict(method="drive", sparsity=0.98, mean=0.81, std=float("nan"), n=1, change=-0.005,
                               dense_mean=0.815, dense_n=1),
                          dict(method="drive", sparsity=0.9, mean=0.84, std=0.004, n=3, change=0.02,
                               dense_mean=0.82, dense_n=3)])
    one, three = findings.dense_change_sentences(table)
    assert "At 98% sparsity, DRIVE reaches 81.00%" in one and "0.50 points below the dense network (81.50%" in one
    assert "one run each, so no interval: a difference this small can be the seed's noise" in one
    assert "2.00 points above" in three and "std 0.40 points" in three


def test_layer_density_sentences_name_the_extremes_and_a_collapse_and_skip_the_dense_run():
    index = pd.MultiIndex.from_tuples([("dense", 0.0), ("DRIVE", 0.99)], names=["label", "sparsity"])
    densities = pd.DataFrame({"fc1.weight": [1.0, 0.004], "fc2.weight": [1.0, 0.05], "fc3.weight": [1.0, 0.0]},
                             index=index)
    (sentence,) = findings.layer_density_sentences(densities)
    assert sentence.startswith("DRIVE at 99% sparsity keeps most of fc2.weight (5% of its weights) and least of "
                               "fc3.weight (0%)")
    assert sentence.endswith("collapsed (no weight left, the network is disconnected): fc3.weight.")


def test_savings_sentences_tell_equal_and_unequal_fractions_apart():
    equal = pd.DataFrame(dict(label=["dense", "DRIVE"], sparsity=[0.0, 0.9], weight_fraction=[1.0, 0.1],
                              mac_fraction=[1.0, 0.1]))
    assert findings.savings_sentences(equal) == [
        "Every pruned run keeps the same fraction of the multiply-adds as of the weights (10% at 90% sparsity): each "
        "weight is used once per image, so the compute saved equals the weights saved."]
    unequal = equal.assign(mac_fraction=[1.0, 0.25])
    (sentence,) = findings.savings_sentences(unequal)
    assert "keeps 10% of the weights but 25% of the multiply-adds" in sentence and "kept more" in sentence


def test_phase_time_sentences_add_warmup_and_scoring():
    frame = pd.DataFrame(dict(method=["dense", "drive"], sparsity=[0.0, 0.9], seconds_warmup=[0.0, 2.0],
                              seconds_scoring=[0.0, 1.0], seconds_training=[10.0, 6.0]))
    dense, drive = findings.phase_time_sentences(frame)
    assert dense == "The dense network trained in 10.0 s."
    assert "pruning took 3.0 s (warm-up 2.0 s + scoring 1.0 s), 0.5× the 6.0 s" in drive


def test_term_findings_by_hand():
    from drive_lab.analysis import term_findings

    theta = torch.tensor([[1.0, -10.0], [0.1, 100.0]])
    grad = torch.tensor([[0.5, 0.5], [-2.0, 0.01]])
    terms = {"magnitude": {"w": theta.abs()}, "connection": {"w": (theta * grad).abs()}, "convergence": {"w": grad.abs()}}
    assert "is exactly 0" in term_findings.product_identity_sentence(terms)
    broken = {**terms, "connection": {"w": (theta * grad).abs() + 1e-3}}
    assert "at most 0.001 in size" in term_findings.product_identity_sentence(broken)
    # magnitude 0.1 .. 100: the 1st and 99th percentile of 4 values are the 1st and 3rd sorted (index 0 and 2)
    spread = term_findings.spread_sentences({"magnitude": {"w": theta.abs()}})
    assert spread[0].startswith(f"magnitude spans {math.log10(10 / 0.1):.1f} decades")
    before = {"magnitude": {"a": torch.ones(2), "b": torch.ones(2)}}
    after = {"magnitude": {"a": 2 * torch.ones(2), "b": 0.5 * torch.ones(2)}}
    (line,) = term_findings.term_change_sentences(analysis.term_change(before, after))
    assert line == "During warm-up the mean magnitude grew in a (×2), and shrank in b (×0.5)."


def test_taylor_sentence_reads_the_table():
    from drive_lab.analysis import term_findings

    table = pd.DataFrame(dict(estimate=[0.1, 0.2, 0.3, 0.4], actual=[0.11, 0.19, 0.33, 0.41]))
    table["error"] = table["actual"] - table["estimate"]
    sentence = term_findings.taylor_sentence(table)
    assert f"Pearson r = {table['estimate'].corr(table['actual']):.3f}" in sentence
    assert "largely agree (Spearman ρ = 1.000)" in sentence
    assert term_findings.taylor_sentence(table.head(2)).startswith("Only 2 weight(s)")


def test_curve_sentences_read_first_last_and_best_epochs():
    from types import SimpleNamespace

    history = [dict(epoch=1, test_accuracy=0.5), dict(epoch=2, test_accuracy=0.8), dict(epoch=3, test_accuracy=0.75)]
    run = SimpleNamespace(config=dict(method="dense", sparsity=0.0), training_history=history)
    (sentence,) = findings.curve_sentences([run])
    assert sentence.endswith(": 50.00% after epoch 1, 75.00% after epoch 3 (best 80.00%).")
    assert findings.curve_sentences([SimpleNamespace(config=run.config, training_history=[])])[0].startswith("No training")


def test_emptying_sparsity_by_hand():
    scores = {"a": torch.tensor([5.0, 1.0, 0.5]), "b": torch.tensor([4.0, 3.0]), "c": torch.tensor([0.1, 0.2, 0.3, 2.0, 0.0])}
    table = analysis.emptying_sparsity(scores)
    # ranks of each layer's best among 10 scores: a 5.0 first, b 4.0 second, c 2.0 fourth (after 5, 4, 3)
    assert table["best_rank"].tolist() == [1, 2, 4]
    assert table["empties_at"].tolist() == pytest.approx([1.0, 0.9, 0.7])
    # check against the definition: keeping k = 3 (sparsity 0.7) keeps 5, 4, 3 -> c empty; k = 4 keeps c's 2.0
    flat = torch.cat(list(scores.values()))
    assert 2.0 not in flat.topk(3).values.tolist() and 2.0 in flat.topk(4).values.tolist()
    (sentence,) = findings.emptying_sentences(table, "GraSP")
    assert sentence.startswith("GraSP's best-scored weight in c ranks 4 of 10, so one-shot GraSP empties c at every "
                               "sparsity from 70.00% on")


def test_collapse_and_schedule_sentences():
    frame = pd.DataFrame(dict(label=["SNIP", "SNIP", "Random"], method=["snip", "snip", "random"],
                              sparsity=[0.99, 0.999, 0.999], n_collapsed=[0, 1, 0], collapsed_layers=[[], ["fc1"], []],
                              iterations=[1, 1, 1], final_test_accuracy=[0.8, 0.1, 0.5]))
    assert findings.collapse_sentences(frame) == [
        "SNIP: first collapse at 99.9% sparsity (fc1); 1 of 2 runs collapsed a layer.",
        "Random: no layer collapsed, up to 99.9% sparsity."]
    both = pd.concat([frame, frame.assign(iterations=100, final_test_accuracy=[0.82, 0.7, 0.5], n_collapsed=0)])
    lines = findings.schedule_sentences(both)
    assert lines[0] == ("SNIP at 99.9% sparsity: one-shot 10.00%, iterative (N = 100) 70.00% (+60.00 points; "
                        "collapsed layers 1 vs 0; one run each, so no interval).")


def test_layer_shift_sentences_put_the_largest_change_first():
    index = pd.MultiIndex.from_tuples([("A", 0.99), ("B", 0.99)], names=["label", "sparsity"])
    densities = pd.DataFrame({"fc1": [0.01, 0.01], "fc2": [0.02, 0.05]}, index=index)
    assert findings.layer_shift_sentences(densities, "A", "B") == [
        "fc2: A keeps 2%, B 5% (B keeps 2.50× as much).", "fc1: A keeps 1%, B 1% (B keeps the same share)."]


def test_emptied_layer_sentences_count_the_runs_that_empty_each_layer():
    import pandas as pd

    from drive_lab.analysis.study_sentences import emptied_layer_sentences

    frame = pd.DataFrame([
        {"method": "snip", "seed": 0, "final_test_accuracy": 0.70,
         "layer_density": {"q.weight": 0.0, "k.weight": 0.0, "head.weight": 0.5}},
        {"method": "snip", "seed": 1, "final_test_accuracy": 0.80,
         "layer_density": {"q.weight": 0.0, "k.weight": 0.1, "head.weight": 0.5}},
        {"method": "random", "seed": 0, "final_test_accuracy": 0.25,
         "layer_density": {"q.weight": 0.02, "k.weight": 0.02, "head.weight": 0.02}},
    ])
    snip, random = emptied_layer_sentences(frame)
    assert snip == ("SNIP empties 2 of 3 layers in at least one of 2 runs; mean test accuracy 75.00%: "
                    "q.weight (2 of 2), k.weight (1 of 2).")
    assert random == "Random keeps weights in every layer (1 run; mean test accuracy 25.00%)."
    # names that tell the two SNIP runs apart give one sentence each
    named = emptied_layer_sentences(frame, pd.Series(["SNIP (E=0)", "SNIP (E=1)", "Random"], index=frame.index))
    assert named[0].startswith("SNIP (E=0) empties 2 of 3 layers in at least one of 1 run; mean test accuracy 70.00%")
    assert named[1] == ("SNIP (E=1) empties 1 of 3 layers in at least one of 1 run; mean test accuracy 80.00%: "
                        "q.weight (1 of 1).")
    with pytest.raises(ValueError, match="one entry per row"):
        emptied_layer_sentences(frame, pd.Series(["SNIP"]))
