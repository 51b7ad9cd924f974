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
