"""Checkers for the course's exercises: a learner writes an answer, a checker verifies it.

Every checker prints a short verdict and returns a :class:`Verdict` (truthy when correct).
An answer that still raises ``NotImplementedError`` counts as "not attempted yet", so a
notebook with untouched exercise stubs runs from top to bottom.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import torch
from torch import nn

from . import scores
from .masks import Masks


@dataclass(frozen=True)
class Verdict:
    correct: bool
    message: str
    attempted: bool = True

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:
        return ("✔ " if self.correct else ("… " if not self.attempted else "✘ ")) + self.message

    def _ipython_display_(self) -> None:
        """Jupyter shows nothing more: the checker has already printed the verdict."""


def _verdict(correct: bool, message: str, attempted: bool = True) -> Verdict:
    verdict = Verdict(correct, message, attempted)
    print(repr(verdict))
    return verdict


def _not_attempted(what: str, value_answer: bool = False) -> Verdict:
    how = "fill in your answer" if value_answer else "replace `raise NotImplementedError` with your code"
    return _verdict(False, f"{what}: not attempted yet ({how})", False)


def exercise_network(seed: int = 0) -> tuple[nn.Module, list[tuple[torch.Tensor, torch.Tensor]], Masks]:
    """A small fixed network, two scoring batches, and masks with 30% pruned: the checkers' test bench."""
    generator = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 5))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    batches = [(torch.randn(8, 1, 4, 4, generator=generator), torch.randint(0, 5, (8,), generator=generator))
               for _ in range(2)]
    masks = Masks({name: torch.rand(p.shape, generator=generator) > 0.3
                   for name, p in model.named_parameters() if name.endswith("weight")})
    return model, batches, masks


def _compare_scores(what: str, answer: Callable, expected: Callable, with_masks: bool) -> Verdict:
    model, batches, masks = exercise_network()
    try:
        got = answer(model, batches, masks) if with_masks else answer(model, batches)
    except NotImplementedError:
        return _not_attempted(what)
    want = expected(model, batches, masks if with_masks else None)
    if not isinstance(got, Mapping) or set(got) != set(want):
        return _verdict(False, f"{what}: return a dict keyed by the prunable weights' names {sorted(want)}, "
                               f"got {type(got).__name__} with keys {sorted(got) if isinstance(got, Mapping) else '-'}")
    for name in want:
        g, w = torch.as_tensor(got[name]).detach().float(), want[name].float()
        if g.shape != w.shape:
            return _verdict(False, f"{what}: {name} has shape {tuple(g.shape)}, expected {tuple(w.shape)}")
        finite = torch.isfinite(w)
        if not torch.equal(torch.isfinite(g), finite) or not torch.allclose(g[finite], w[finite], rtol=1e-4, atol=1e-7):
            return _verdict(False, f"{what}: values differ from the reference in {name} "
                                   "(hint: average the gradient over the batches, then take the absolute value)")
    return _verdict(True, f"{what}: correct")


def check_convergence_sensitivity(answer: Callable) -> Verdict:
    """``answer(model, batches) -> {name: |∂L/∂θ|}`` (mean cross-entropy, averaged over batches)."""
    return _compare_scores("convergence sensitivity", answer,
                           lambda m, b, _: scores.drive_terms(m, b)["convergence"], with_masks=False)


def check_connection_sensitivity(answer: Callable) -> Verdict:
    """``answer(model, batches) -> {name: |θ ⊙ ∂L/∂θ|}``."""
    return _compare_scores("connection sensitivity", answer,
                           lambda m, b, _: scores.drive_terms(m, b)["connection"], with_masks=False)


def check_drive_score(answer: Callable) -> Verdict:
    """``answer(model, batches, masks) -> DRIVE's normalised-sum score`` (pruned = -inf)."""
    return _compare_scores("DRIVE score", answer, lambda m, b, k: scores.drive(m, b, k), with_masks=True)


def check_schedule(answer: Callable) -> Verdict:
    """``answer(density, iterations) -> list of the N densities κ^(k/N), k = 1..N``."""
    from .pruning import exponential_schedule

    try:
        got = [float(d) for d in answer(0.02, 5)]
    except NotImplementedError:
        return _not_attempted("schedule")
    want = exponential_schedule(0.02, 5)
    if len(got) != len(want) or not all(math.isclose(g, w, rel_tol=1e-9) for g, w in zip(got, want)):
        return _verdict(False, f"schedule: for κ=0.02, N=5 expected {[round(w, 4) for w in want]}, "
                               f"got {[round(g, 4) for g in got]}")
    return _verdict(True, "schedule: correct, the density falls by the same factor κ^(1/N) every iteration")


def check_kept_count(answer: int, prunable_weights: int, sparsity: float) -> Verdict:
    """How many weights survive pruning ``prunable_weights`` to ``sparsity`` (exact top-k)?"""
    want = round((1 - sparsity) * prunable_weights)
    if answer is None or answer is NotImplemented:
        return _not_attempted("kept count", value_answer=True)
    return _verdict(int(answer) == want, f"kept count: {'correct' if int(answer) == want else f'expected {want}, got {answer}'}"
                                         f" (round((1 - {sparsity}) × {prunable_weights}))")


def check_first_collapse(answer: str | None, pruning_history: list[dict]) -> Verdict:
    """Predict the first layer to collapse in ``pruning_history`` (None if none collapses)."""
    from .analysis import first_collapse

    if answer is NotImplemented:
        return _not_attempted("first collapsed layer", value_answer=True)
    found = first_collapse(pruning_history)
    want = None if found is None else found[1]
    if answer == want:
        return _verdict(True, f"first collapsed layer: correct ({want or 'no layer collapses'})")
    return _verdict(False, f"first collapsed layer: expected {want or 'no collapse'}, got {answer}"
                           + ("" if found is None else f" (it empties at iteration {found[0]})"))


def check_speedup(answer: float, frame, method: str = "drive", sparsity: float | None = None,
                  rel_tol: float = 0.02) -> Verdict:
    """Speed-up of ``method`` over IMP (IMP pruning seconds / method pruning seconds) in ``frame``."""
    from .analysis import speedup_vs_imp

    if answer is None or answer is NotImplemented:
        return _not_attempted("speed-up", value_answer=True)
    table = speedup_vs_imp(frame)
    rows = table[table["method"] == method]
    if sparsity is not None:
        rows = rows[(rows["sparsity"] - sparsity).abs() < 1e-9]
    if len(rows) != 1:
        return _verdict(False, f"speed-up: pick one setting (got {len(rows)} rows for method={method}, sparsity={sparsity})")
    want = float(rows["speedup"].iloc[0])
    ok = math.isclose(float(answer), want, rel_tol=rel_tol)
    return _verdict(ok, f"speed-up: {'correct' if ok else f'expected {want:.1f}×, got {float(answer):.1f}×'}"
                        " (mean IMP pruning seconds / mean method pruning seconds, same sparsity)")


def check_product_ranks_like_snip(answer: bool) -> Verdict:
    """True or False: ranking by M·C·V = |θ|·|θg|·|g| gives the same order as SNIP's |θg|."""
    if answer is NotImplemented or answer is None:
        return _not_attempted("product reading", value_answer=True)
    ok = answer is True
    return _verdict(ok, "product reading: " + ("correct: M·C·V = (θg)², a monotone function of |θg|"
                                               if ok else "not quite: write out M·C·V in terms of θ and g"))


def check_largest_gap(answer: float | None, frame, a_label: str, b_label: str,
                      value: str = "final_test_accuracy") -> Verdict:
    """At which sparsity do variants ``a_label`` and ``b_label`` differ most in ``value``?

    The gap at a sparsity is |mean over seeds of (a − b)|, runs paired by seed
    (:func:`drive_lab.analysis.paired_difference`; labels from ``analysis.add_labels``).
    ``answer`` is a sparsity as a fraction (0.95) or in percent (95); ties accept either.
    """
    from .analysis import paired_difference

    if answer is None or answer is NotImplemented:
        return _not_attempted("largest gap")
    table = paired_difference(frame, a_label, b_label, by="sparsity", value=value).dropna(subset=["difference"])
    if table.empty:
        return _verdict(False, f"largest gap: no sparsity has runs of both {a_label!r} and {b_label!r}")
    gaps = table["difference"].abs()
    largest = gaps.max()
    best = [float(s) for s in table.loc[(gaps - largest).abs() <= 1e-12, "sparsity"]]
    got = float(answer) / 100 if float(answer) > 1 else float(answer)
    scale = 100.0 if "accuracy" in value else 1.0
    unit = " points" if scale == 100.0 else ""
    gap_text = ", ".join(f"{100 * s:.4g}%: {scale * g:.2f}{unit}" for s, g in zip(table["sparsity"], gaps))
    ok = any(math.isclose(got, s, abs_tol=1e-9) for s in best)
    if ok:
        return _verdict(True, f"largest gap: correct ({gap_text})")
    return _verdict(False, f"largest gap: expected {' or '.join(f'{100 * s:.4g}%' for s in best)}, "
                           f"got {100 * got:.4g}% (|mean of {a_label} − {b_label}| per sparsity: {gap_text})")


def _one_setting(frame, what: str, method: str, sparsity: float | None, model: str | None = None):
    """Rows of ``method`` at ``sparsity`` (default: its highest) and ``model``.

    Returns ``(rows, sparsity)``, or ``(None, message)`` when the setting is missing or ambiguous.
    """
    rows = frame[frame["method"] == method]
    if model is not None and "model" in rows:
        rows = rows[rows["model"] == model]
    if len(rows) and "model" in rows and rows["model"].nunique() > 1:
        return None, f"{what}: the frame holds several models; pass model=... (one of {sorted(rows['model'].unique())})"
    if len(rows) and sparsity is None:
        sparsity = float(rows["sparsity"].max())
    rows = rows[(rows["sparsity"] - (sparsity if sparsity is not None else float("nan"))).abs() < 1e-9]
    if rows.empty:
        return None, f"{what}: no {method} runs at sparsity {sparsity} in this frame"
    return rows, sparsity


def check_best_warmup(answer, frame, method: str = "drive", sparsity: float | None = None,
                      criterion: str = "points_per_second") -> Verdict:
    """Which warm-up epochs E is best for ``method`` at ``sparsity`` (default: the highest) in ``frame``?

    ``criterion="mean"``: the highest mean accuracy over seeds; ``"points_per_second"``:
    the largest accuracy gain per extra second of pruning against the smallest E
    (:func:`drive_lab.analysis.tradeoff`). Every E tied at the best value is accepted.
    """
    from .analysis import tradeoff

    what = "best warm-up" + (" per second" if criterion == "points_per_second" else "")
    if criterion not in ("mean", "points_per_second"):
        raise ValueError(f"criterion is 'mean' or 'points_per_second', not {criterion!r}")
    if answer is None or answer is NotImplemented:
        return _not_attempted(what)
    rows, sparsity = _one_setting(frame, what, method, sparsity)
    if rows is None:
        return _verdict(False, sparsity)
    table = tradeoff(rows, by="method").dropna(subset=[criterion])
    if table.empty:
        return _verdict(False, f"{what}: no E > 0 costs more pruning time than the smallest E, so nothing to compare")
    best = float(table[criterion].max())
    tied = (table[criterion] - best).abs() <= 1e-9 * max(1.0, abs(best))
    winners = [int(e) for e in table.loc[tied, "warmup_epochs"]]
    unit = "accuracy points per extra second" if criterion == "points_per_second" else "mean accuracy"
    shown = f"{best:.3g} {unit}" if criterion == "points_per_second" else f"{100 * best:.2f}% {unit}"
    ok = int(answer) in winners
    return _verdict(ok, f"{what}: {'correct' if ok else f'expected E = {winners}, got E = {answer}'} "
                        f"({method} at sparsity {sparsity:g}: {shown})")


def _warmup_example_frame():
    """A small fixed result frame for :func:`check_gain_per_second` (two methods, two sparsities, two seeds)."""
    import pandas as pd

    rows = []
    for m, method in enumerate(("drive", "snip")):
        for s, sparsity in enumerate((0.9, 0.99)):
            for warmup in (0, 1, 3):
                for seed in (0, 1):
                    rows.append({"method": method, "sparsity": sparsity, "warmup_epochs": warmup, "seed": seed,
                                 "final_test_accuracy": 0.6 + 0.05 * warmup / (1 + s) - 0.1 * m + 0.01 * seed,
                                 "seconds_pruning": 2.0 - 1.5 * m + 4.0 * warmup + 0.5 * seed})
    return pd.DataFrame(rows)


def check_gain_per_second(answer: Callable) -> Verdict:
    """``answer(frame, method, sparsity, warmup_epochs) -> accuracy points gained per extra second of pruning``.

    Against the smallest warm-up of that method and sparsity, with means over seeds:
    100 · (mean accuracy at E − at E_min) / (mean seconds_pruning at E − at E_min).
    Checked on a small fixed frame.
    """
    from .analysis import tradeoff

    frame = _warmup_example_frame()
    want = tradeoff(frame)
    cases = [(row.method, row.sparsity, row.warmup_epochs, row.points_per_second)
             for row in want.dropna(subset=["points_per_second"]).itertuples()]
    for method, sparsity, warmup, expected in cases:
        try:
            got = answer(frame.copy(), method, sparsity, warmup)
        except NotImplementedError:
            return _not_attempted("gain per second")
        if got is None or not math.isclose(float(got), expected, rel_tol=1e-6):
            return _verdict(False, f"gain per second: for {method} at sparsity {sparsity}, E = {warmup} expected "
                                   f"{expected:.4f} points/s, got {got} (hint: average over seeds first, then "
                                   "compare with the smallest E of the same method and sparsity)")
    return _verdict(True, f"gain per second: correct on all {len(cases)} settings of the example frame")


def check_epoch_ratio(answer: float, frame, sparsity: float | None = None, model: str | None = None,
                      method: str = "drive", rel_tol: float = 0.01) -> Verdict:
    """IMP's pruning epochs (rounds × T) divided by ``method``'s warm-up epochs E at one sparsity.

    The speed-up over IMP one would expect if only training epochs cost time (method.md's
    cost accounting without the scoring iterations). IMP's rounds are its ``iterations``
    column, T its ``epochs``; E is ``method``'s ``warmup_epochs``. Default sparsity: the
    highest of ``method`` in ``frame``.
    """
    if answer is None or answer is NotImplemented:
        return _not_attempted("epoch ratio")
    rows, sparsity = _one_setting(frame, "epoch ratio", method, sparsity, model)
    if rows is None:
        return _verdict(False, sparsity)
    imp, _ = _one_setting(frame, "epoch ratio", "imp", sparsity, model)
    if imp is None:
        return _verdict(False, f"epoch ratio: no IMP run at sparsity {sparsity} in this frame")
    rounds, epochs = int(imp["iterations"].iloc[0]), int(imp["epochs"].iloc[0])
    warmup = int(rows["warmup_epochs"].iloc[0])
    want = rounds * epochs / warmup if warmup else math.inf
    ok = math.isclose(float(answer), want, rel_tol=rel_tol) or (math.isinf(want) and math.isinf(float(answer)))
    return _verdict(ok, f"epoch ratio: {'correct' if ok else f'expected {want:.1f}×, got {float(answer):.1f}×'} "
                        f"(IMP {rounds} rounds × T = {epochs} epochs / E = {warmup} warm-up epochs, "
                        f"sparsity {sparsity:g})")


# ----------------------------------------------------------------------------- reproduction report (07)
def check_shuffle_within_layers(answer: Callable) -> Verdict:
    """``answer(masks: dict[name, bool tensor], generator) -> dict``: the sanity check's shuffle.

    Correct: every layer keeps its shape and exactly its count of kept weights, and the kept
    positions move. The hints name the usual mistakes: permuting across layers (counts
    change), drawing a fresh random mask (counts change), returning the original mask
    (Synaptic-Flow's public shuffle permutes a local copy and changes nothing).
    """
    generator = torch.Generator().manual_seed(11)
    masks = {"a.weight": torch.rand(20, 15, generator=generator) < 0.2,
             "b.weight": torch.rand(10, 20, generator=generator) < 0.7}
    original = {name: m.clone() for name, m in masks.items()}
    try:
        out = answer({name: m.clone() for name, m in masks.items()}, torch.Generator().manual_seed(3))
    except NotImplementedError:
        return _not_attempted("shuffle within layers")
    if not isinstance(out, Mapping) or set(out) != set(masks):
        return _verdict(False, f"return a dict with the same layer names {sorted(masks)}")
    for name, mask in out.items():
        if not isinstance(mask, torch.Tensor) or mask.shape != masks[name].shape:
            return _verdict(False, f"{name}: return a tensor of shape {tuple(masks[name].shape)}")
        if int(mask.bool().sum()) != int(original[name].sum()):
            return _verdict(False, f"{name} keeps {int(mask.bool().sum())} weights instead of {int(original[name].sum())}: "
                                   "permute within each layer (torch.randperm of that layer's entries), do not draw a "
                                   "new random mask or mix layers")
    if all(torch.equal(out[name].bool(), original[name]) for name in masks):
        return _verdict(False, "the masks are unchanged: the permuted positions must be returned (a permutation of a "
                               "local copy that is then discarded changes no mask)")
    return _verdict(True, "every layer keeps its count and its kept positions move: a shuffle within layers")


def check_paired_interval(answer: Callable) -> Verdict:
    """``answer(a, b) -> (mean, half_width)``: the 95% interval of the mean paired difference a − b.

    ``a`` and ``b`` are 1-D float arrays, one entry per seed. Correct: the Student-t interval
    of the differences, ``mean ± t(0.975, n − 1) · std(a − b, ddof=1) / √n``.
    """
    import numpy as np
    from scipy import stats

    a = np.array([0.851, 0.846, 0.859, 0.842, 0.855])
    b = np.array([0.842, 0.840, 0.847, 0.838, 0.846])
    d = a - b
    mean = d.mean()
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    try:
        got = answer(a.copy(), b.copy())
    except NotImplementedError:
        return _not_attempted("paired interval")
    try:
        got_mean, got_half = (float(v) for v in got)
    except (TypeError, ValueError):
        return _verdict(False, "return two numbers: (mean difference, half-width of the interval)")
    if not math.isclose(got_mean, mean, rel_tol=1e-6, abs_tol=1e-9):
        return _verdict(False, f"the mean difference should be {mean:.5f} (a − b, seed by seed), got {got_mean:.5f}")
    welch = stats.t.ppf(0.975, len(d) - 1) * math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    if math.isclose(got_half, welch, rel_tol=1e-3):
        return _verdict(False, "that is an unpaired interval: pair the runs by seed and use the spread of the "
                               "differences a − b, which share each seed's noise")
    if math.isclose(got_half, 1.96 * d.std(ddof=1) / math.sqrt(len(d)), rel_tol=1e-3):
        return _verdict(False, "with 5 seeds use Student's t (scipy.stats.t.ppf(0.975, n - 1)), not the normal 1.96")
    if math.isclose(got_half, stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=0) / math.sqrt(len(d)), rel_tol=1e-3):
        return _verdict(False, "use the sample standard deviation (ddof=1) of the differences")
    if not math.isclose(got_half, half, rel_tol=1e-3):
        return _verdict(False, f"the half-width should be {half:.5f}, got {got_half:.5f}")
    return _verdict(True, f"mean {mean:.5f} ± {half:.5f}: the paired Student-t interval")
