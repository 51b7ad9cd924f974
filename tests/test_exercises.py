"""Exercise checkers accept right answers, reject wrong ones, and tolerate untouched stubs."""
import torch
import torch.nn.functional as F

from drive_lab import exercises
from drive_lab.masks import prunable_parameters


def reference_convergence(model, batches):
    """Written here from the definition: |mean over batches of ∂L/∂θ|."""
    weights = prunable_parameters(model)
    total = {n: torch.zeros_like(w) for n, w in weights.items()}
    for x, y in batches:
        grads = torch.autograd.grad(F.cross_entropy(model(x), y), list(weights.values()))
        for n, g in zip(weights, grads):
            total[n] += g / len(batches)
    return {n: g.abs() for n, g in total.items()}


def test_convergence_checker_accepts_a_correct_answer():
    assert exercises.check_convergence_sensitivity(reference_convergence)


def test_convergence_checker_rejects_sum_of_abs_per_batch():
    def wrong(model, batches):
        weights = prunable_parameters(model)
        out = {n: torch.zeros_like(w) for n, w in weights.items()}
        for x, y in batches:
            grads = torch.autograd.grad(F.cross_entropy(model(x), y), list(weights.values()))
            for n, g in zip(weights, grads):
                out[n] += g.abs()
        return out
    assert not exercises.check_convergence_sensitivity(wrong)


def test_connection_checker():
    def right(model, batches):
        conv = reference_convergence(model, batches)
        return {n: (w.detach() * c).abs() for (n, w), c in zip(prunable_parameters(model).items(), conv.values())}
    assert exercises.check_connection_sensitivity(right)
    assert not exercises.check_connection_sensitivity(reference_convergence)


def test_stub_counts_as_not_attempted(capsys):
    def stub(model, batches):
        raise NotImplementedError
    verdict = exercises.check_convergence_sensitivity(stub)
    assert not verdict and not verdict.attempted
    assert "not attempted" in capsys.readouterr().out


def test_schedule_checker():
    assert exercises.check_schedule(lambda d, n: [d ** (k / n) for k in range(1, n + 1)])
    assert not exercises.check_schedule(lambda d, n: [1 - (1 - d) * k / n for k in range(1, n + 1)])


def test_kept_count_and_product_and_collapse():
    assert exercises.check_kept_count(100, 1000, 0.9)
    assert not exercises.check_kept_count(99, 1000, 0.9)
    assert exercises.check_product_ranks_like_snip(True)
    assert not exercises.check_product_ranks_like_snip(False)
    history = [{"iteration": 1, "collapsed": []}, {"iteration": 2, "collapsed": ["fc.weight"]}]
    assert exercises.check_first_collapse("fc.weight", history)
    assert not exercises.check_first_collapse("conv.weight", history)
    assert exercises.check_first_collapse(None, [{"iteration": 1, "collapsed": []}])


def test_speedup_checker():
    import pandas as pd
    frame = pd.DataFrame({"method": ["imp", "drive"], "model": ["mlp"] * 2, "dataset": ["d"] * 2,
                          "sparsity": [0.9, 0.9], "seconds_pruning": [100.0, 4.0]})
    assert exercises.check_speedup(25.0, frame, "drive", 0.9)
    assert not exercises.check_speedup(4.0, frame, "drive", 0.9)


def test_largest_gap_checker(capsys):
    import pandas as pd
    rows = []
    for seed in (0, 1):  # gaps: 90% -> 0.02, 99% -> |-0.10| (the largest, and negative)
        for sparsity, full, without in [(0.9, 0.80 + seed / 100, 0.78 + seed / 100), (0.99, 0.50, 0.60)]:
            rows.append({"method": "drive", "sparsity": sparsity, "seed": seed, "final_test_accuracy": full})
            rows.append({"method": "drive", "sparsity": sparsity, "seed": seed, "convergence": 0.0,
                         "final_test_accuracy": without})
    frame = pd.DataFrame(rows)
    assert exercises.check_largest_gap(0.99, frame, "DRIVE (full)", "without convergence")
    assert exercises.check_largest_gap(99, frame, "DRIVE (full)", "without convergence")  # in percent
    assert not exercises.check_largest_gap(0.9, frame, "DRIVE (full)", "without convergence")
    verdict = exercises.check_largest_gap(None, frame, "DRIVE (full)", "without convergence")
    assert not verdict and not verdict.attempted
    assert "not attempted" in capsys.readouterr().out


def test_best_warmup_checker_accepts_ties_and_both_criteria():
    import pandas as pd
    rows = [{"method": "drive", "sparsity": s, "warmup_epochs": e, "seed": 0, "final_test_accuracy": acc,
             "seconds_pruning": sec}
            for s, values in {0.9: [(0, 0.5, 1.0), (1, 0.7, 3.0), (2, 0.8, 5.0)],
                              0.99: [(0, 0.2, 1.0), (1, 0.4, 3.0), (2, 0.6, 5.0), (4, 0.7, 9.0)]}.items()
            for e, acc, sec in values]
    frame = pd.DataFrame(rows)
    # at 0.99 (the default, highest): E=1 and E=2 both gain 10 points per extra second; E=4 highest accuracy
    assert exercises.check_best_warmup(1, frame) and exercises.check_best_warmup(2, frame)
    assert not exercises.check_best_warmup(4, frame)
    assert exercises.check_best_warmup(4, frame, criterion="mean")
    assert exercises.check_best_warmup(1, frame, sparsity=0.9)  # 10 points/s vs 7.5
    assert not exercises.check_best_warmup(2, frame, sparsity=0.9)
    assert not exercises.check_best_warmup(None, frame).attempted


def test_gain_per_second_checker():
    def reference(frame, method, sparsity, warmup):
        rows = frame[(frame["method"] == method) & (frame["sparsity"] == sparsity)]
        means = rows.groupby("warmup_epochs")[["final_test_accuracy", "seconds_pruning"]].mean()
        first = means.iloc[0]
        return 100 * (means.loc[warmup, "final_test_accuracy"] - first["final_test_accuracy"]) / (
            means.loc[warmup, "seconds_pruning"] - first["seconds_pruning"])

    def per_seed_zero(frame, method, sparsity, warmup):  # uses one seed instead of the mean
        return reference(frame[frame["seed"] == 0], method, sparsity, warmup) * 1.01

    def stub(frame, method, sparsity, warmup):
        raise NotImplementedError
    assert exercises.check_gain_per_second(reference)
    assert not exercises.check_gain_per_second(per_seed_zero)
    assert not exercises.check_gain_per_second(stub).attempted


def test_epoch_ratio_checker():
    import pandas as pd
    frame = pd.DataFrame([
        {"method": "imp", "model": "mlp", "sparsity": 0.9, "iterations": 11, "epochs": 8, "warmup_epochs": 0},
        {"method": "imp", "model": "mlp", "sparsity": 0.99, "iterations": 21, "epochs": 8, "warmup_epochs": 0},
        {"method": "drive", "model": "mlp", "sparsity": 0.9, "iterations": 100, "epochs": 8, "warmup_epochs": 2},
        {"method": "drive", "model": "mlp", "sparsity": 0.99, "iterations": 100, "epochs": 8, "warmup_epochs": 2},
    ])
    assert exercises.check_epoch_ratio(84.0, frame)  # highest sparsity: 21 × 8 / 2
    assert exercises.check_epoch_ratio(44.0, frame, sparsity=0.9)
    assert not exercises.check_epoch_ratio(44.0, frame)
    two_models = pd.concat([frame, frame.assign(model="conv")])
    assert not exercises.check_epoch_ratio(84.0, two_models)  # ambiguous: asks for model=
    assert exercises.check_epoch_ratio(84.0, two_models, model="conv")
    assert not exercises.check_epoch_ratio(None, frame).attempted


def test_shuffle_checker_accepts_a_within_layer_permutation_and_names_the_mistakes(capsys):
    import torch

    from drive_lab import exercises

    def within_layers(masks, generator):
        return {n: m.reshape(-1)[torch.randperm(m.numel(), generator=generator)].view(m.shape) for n, m in masks.items()}

    def across_layers(masks, generator):
        flat = torch.cat([m.reshape(-1) for m in masks.values()])
        flat = flat[torch.randperm(flat.numel(), generator=generator)]
        out, start = {}, 0
        for n, m in masks.items():
            out[n] = flat[start:start + m.numel()].view(m.shape)
            start += m.numel()
        return out

    assert exercises.check_shuffle_within_layers(within_layers)
    assert not exercises.check_shuffle_within_layers(across_layers)
    assert "keeps" in capsys.readouterr().out.splitlines()[-1]
    assert not exercises.check_shuffle_within_layers(lambda masks, generator: masks)
    assert "unchanged" in capsys.readouterr().out


def test_paired_interval_checker_knows_paired_from_unpaired(capsys):
    import math

    import numpy as np

    from drive_lab import exercises

    t4 = 2.7764451051977987  # Student t, 0.975 quantile, 4 degrees of freedom (tables)

    def paired(a, b):
        d = a - b
        return d.mean(), t4 * d.std(ddof=1) / math.sqrt(len(d))

    def unpaired(a, b):
        return (a - b).mean(), t4 * math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))

    assert exercises.check_paired_interval(paired)
    assert not exercises.check_paired_interval(unpaired)
    assert "unpaired" in capsys.readouterr().out
    assert not exercises.check_paired_interval(lambda a, b: "0.01")


def test_value_answers_left_empty_ask_for_a_value_not_for_code(capsys):
    import pandas as pd

    frame = pd.DataFrame(dict(label=["a", "b"], sparsity=[0.9, 0.9], seed=[0, 0], final_test_accuracy=[0.8, 0.7],
                              method=["drive", "drive"], warmup_epochs=[0, 1], seconds_pruning=[1.0, 2.0]))
    exercises.check_largest_gap(None, frame, "a", "b")
    exercises.check_best_warmup(None, frame)
    out = capsys.readouterr().out
    assert out.count("fill in your answer") == 2 and "NotImplementedError" not in out
