"""Checkers for reading result tables: speed-ups, gaps, warm-up trade-offs, intervals."""
from __future__ import annotations

import math
from typing import Callable

from .verdicts import Verdict, _not_attempted, _true_or_false, _verdict


def check_speedup(answer: float, frame, method: str = "drive", sparsity: float | None = None,
                  rel_tol: float = 0.02) -> Verdict:
    """Speed-up of ``method`` over IMP (IMP pruning seconds / method pruning seconds) in ``frame``."""
    from ..analysis import speedup_vs_imp

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
    answer, refused = _true_or_false("product reading", answer)
    if refused is not None:
        return refused
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
    from ..analysis import paired_difference

    if answer is None or answer is NotImplemented:
        return _not_attempted("largest gap", value_answer=True)
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
    from ..analysis import tradeoff

    what = "best warm-up" + (" per second" if criterion == "points_per_second" else "")
    if criterion not in ("mean", "points_per_second"):
        raise ValueError(f"criterion is 'mean' or 'points_per_second', not {criterion!r}")
    if answer is None or answer is NotImplemented:
        return _not_attempted(what, value_answer=True)
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
    from ..analysis import tradeoff

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
        return _not_attempted("epoch ratio", value_answer=True)
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
