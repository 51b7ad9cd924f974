"""What the warm-up buys and what it costs: paired gains against E = 0, gain per second, equal budgets.

Inputs are result frames (one row per run; accuracies are fractions in [0, 1], times in
seconds): the ``ablation_warmup`` table (E varies, T fixed) and the study's
``study_budget`` table (E at fixed T, and E at equal total E + T). Every comparison is
paired by seed (same initial weights, same batches), with the 95% Student-t interval of
the mean paired difference (:func:`~drive_lab.analysis.paired_difference`).

A gain per second is a ratio of two measured differences. Wall-clock seconds carry timing
noise (other work on a shared machine), so a ratio is only stated when the extra pruning
time itself is measured: its interval lies above 0. When that interval covers 0, or with a
single seed (no interval), the time difference cannot be told from timing noise and the
ratio is refused (NaN, with the reason in ``per_second_note``).
"""
from __future__ import annotations

import math
from typing import Sequence

import pandas as pd

from .findings import _pct, describe
from .labels import display_name
from .tables import paired_difference, require_columns

__all__ = ["budget_comparisons", "budget_sentences", "gain_per_second", "gain_per_second_sentences",
           "warmup_step_sentences", "warmup_steps"]


def _ratio_range(gain_low: float, gain_high: float, seconds_low: float, seconds_high: float) -> tuple[float, float]:
    """Smallest and largest g / s over the box [gain_low, gain_high] × [seconds_low, seconds_high], seconds_low > 0."""
    low = gain_low / seconds_high if gain_low >= 0 else gain_low / seconds_low
    high = gain_high / seconds_low if gain_high >= 0 else gain_high / seconds_high
    return low, high


def gain_per_second(frame: pd.DataFrame, x: str = "warmup_epochs", by: Sequence[str] = ("method", "sparsity"),
                    value: str = "final_test_accuracy", cost: str = "seconds_pruning") -> pd.DataFrame:
    """Accuracy gained and pruning seconds spent against the smallest ``x`` (E = 0), paired by seed, with intervals.

    Args:
        frame: result frame with ``seed``, ``x``, ``value`` (fraction), ``cost`` (s) and ``by``.
        x: the setting (default warm-up epochs E); each value is compared with the group's smallest.
        by: columns that define one curve (one method at one sparsity).

    Returns:
        One row per ``(*by, x)`` with ``x`` above the smallest: ``reference`` (the smallest x),
        ``n`` (pairs), ``gain_points, gain_low, gain_high`` (100 × paired difference of
        ``value`` and its 95% interval, percentage points), ``extra_seconds, seconds_low,
        seconds_high`` (paired difference of ``cost``, s), ``points_per_second`` (gain /
        extra seconds; NaN unless ``seconds_low > 0``), ``per_second_low, per_second_high``
        (the range of gain / seconds the two intervals allow, a conservative box; NaN when
        refused) and ``per_second_note`` ("measured", "within timing noise" or "one seed: no
        interval").
    """
    by = list(by)
    frame = require_columns(frame, [*by, x, "seed", value, cost])
    rows = []
    for key, group in frame.groupby(by, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        settings = sorted(set(group[x]))
        reference = settings[0]
        for setting in settings[1:]:
            gain = paired_difference(group, setting, reference, by=(), value=value, column=x)
            seconds = paired_difference(group, setting, reference, by=(), value=cost, column=x)
            if gain.empty or seconds.empty or int(gain["n"].iloc[0]) == 0:
                continue
            g, s = gain.iloc[0], seconds.iloc[0]
            n = int(g["n"])
            row = dict(zip(by, key))
            row.update({x: setting, "reference": reference, "n": n, "gain_points": 100 * g["difference"],
                        "gain_low": 100 * g["ci_low"], "gain_high": 100 * g["ci_high"],
                        "extra_seconds": s["difference"], "seconds_low": s["ci_low"], "seconds_high": s["ci_high"]})
            if n < 2:
                note = "one seed: no interval"
            elif s["ci_low"] > 0:
                note = "measured"
            else:
                note = "within timing noise"
            if note == "measured":
                row["points_per_second"] = row["gain_points"] / row["extra_seconds"]
                row["per_second_low"], row["per_second_high"] = _ratio_range(row["gain_low"], row["gain_high"],
                                                                             row["seconds_low"], row["seconds_high"])
            else:
                row["points_per_second"] = row["per_second_low"] = row["per_second_high"] = math.nan
            row["per_second_note"] = note
            rows.append(row)
    return pd.DataFrame(rows)


def gain_per_second_sentences(table: pd.DataFrame, x: str = "warmup_epochs") -> list[str]:
    """One sentence per row of :func:`gain_per_second`: gain and seconds with intervals, then the ratio or why not."""
    out = []
    for row in table.itertuples(index=False):
        setting = getattr(row, x)
        name = "E" if x == "warmup_epochs" else x
        interval = (lambda lo, hi, unit: f"95% CI {lo:+.2f} to {hi:+.2f} {unit}") if row.n > 1 else (
            lambda lo, hi, unit: "one seed, no interval")
        text = (f"{display_name(row.method)} at {_pct(row.sparsity)} sparsity, {name} = {row.reference} → {setting}: "
                f"{row.gain_points:+.2f} points ({interval(row.gain_low, row.gain_high, 'points')}) for "
                f"{row.extra_seconds:+.2f} s ({interval(row.seconds_low, row.seconds_high, 's')}); ")
        if row.per_second_note == "measured":
            text += (f"{row.points_per_second:.2f} points per second (the intervals allow "
                     f"{row.per_second_low:.2f} to {row.per_second_high:.2f}; n = {row.n})")
        elif row.per_second_note == "within timing noise":
            text += "the extra time is within timing noise (its interval covers 0), so no gain per second is stated"
        else:
            text += "one seed cannot separate the extra time from timing noise, so no gain per second is stated"
        out.append(text + ".")
    return out


def warmup_steps(frame: pd.DataFrame, steps: Sequence[tuple[int, int]], x: str = "warmup_epochs",
                 by: Sequence[str] = ("method", "sparsity")) -> pd.DataFrame:
    """Paired accuracy differences between pairs of settings, e.g. ``[(0, 2), (2, 8)]`` for E 0→2 and 2→8.

    Returns one row per ``(*by, step)`` with ``start, end`` and the columns of
    :func:`~drive_lab.analysis.paired_difference` (``difference`` = end − start, a fraction).
    Steps whose ends are equal or missing from a group are left out.
    """
    by = list(by)
    frame = require_columns(frame, [*by, x, "seed", "final_test_accuracy"])
    parts = []
    for start, end in steps:
        if start == end:
            continue
        for key, group in frame.groupby(by, sort=True):
            if not {start, end} <= set(group[x]):
                continue
            table = paired_difference(group, end, start, by=(), column=x)
            key = key if isinstance(key, tuple) else (key,)
            parts.append(table.assign(**dict(zip(by, key)), start=start, end=end))
    if not parts:
        return pd.DataFrame(columns=[*by, "start", "end", "n", "difference", "ci_low", "ci_high", "a_wins"])
    table = pd.concat(parts, ignore_index=True)
    return table[[*by, "start", "end", *[c for c in table.columns if c not in (*by, "start", "end")]]]


def warmup_step_sentences(steps: pd.DataFrame) -> list[str]:
    """Per method and sparsity: what each step of E bought, and which reading of the curve holds.

    Readings (from the last step's interval): "accuracy keeps climbing beyond E = d" (above 0),
    "no detectable gain beyond E = d: a small E is enough" (covers 0), "accuracy falls beyond
    E = d" (below 0); with one seed, no reading.
    """
    out = []
    for (method, sparsity), rows in steps.groupby(["method", "sparsity"], sort=True):
        rows = rows.sort_values("start")
        parts = []
        for r in rows.itertuples(index=False):
            low, high = (100 * r.ci_low, 100 * r.ci_high) if r.n > 1 else (math.nan, math.nan)
            parts.append(f"E {r.start}→{r.end}: " + describe(100 * r.difference, low, high, int(r.n),
                                                            f"E = {r.end}", f"E = {r.start}", int(r.a_wins)))
        last = rows.iloc[-1]
        if last["n"] < 2:
            reading = "one seed: no reading of the curve"
        elif last["ci_low"] > 0:
            reading = f"accuracy keeps climbing beyond E = {last['start']}, at a price in pruning time"
        elif last["ci_high"] < 0:
            reading = f"accuracy falls beyond E = {last['start']}"
        else:
            reading = f"no detectable gain beyond E = {last['start']}: a small E is the efficient choice"
        out.append(f"{display_name(method)} at {_pct(sparsity)} sparsity: " + "; ".join(parts) + f". Reading: {reading}.")
    return out


def budget_comparisons(budget: pd.DataFrame) -> pd.DataFrame:
    """Warm-up at fixed T and at equal total budget E + T, paired by seed against E = 0 (``study_budget``).

    The design (drive_lab.study): at E = 0 the runs train T epochs (fixed-T reference) and
    E_max + T epochs (the equal-budget total); each E > 0 trains T epochs on top of its warm-up
    (fixed T) and total − E epochs (equal budget).

    Returns one row per ``model, method, sparsity, reading, warmup_epochs`` with ``reading`` in
    {"fixed T", "equal budget"}, ``epochs`` (T of the warm run), ``reference_epochs`` (T of the E = 0
    run), ``total`` (E + T of the warm run) and the paired difference of the final test accuracy
    (warm − E = 0, fraction): ``n, difference, ci_low, ci_high, a_wins``.
    """
    budget = require_columns(budget, ["model", "method", "sparsity", "warmup_epochs", "epochs", "seed",
                                      "final_test_accuracy"])
    rows = []
    for (model, method, sparsity), part in budget.groupby(["model", "method", "sparsity"], sort=True):
        cold = part[part["warmup_epochs"] == 0]
        if cold.empty:
            continue
        fixed, total = int(cold["epochs"].min()), int(cold["epochs"].max())
        for e in sorted(set(part.loc[part["warmup_epochs"] > 0, "warmup_epochs"])):
            for reading, t, reference in (("fixed T", fixed, fixed), ("equal budget", total - e, total)):
                if reading == "equal budget" and total == fixed:
                    continue  # the table holds no equal-budget design
                a = part[(part["warmup_epochs"] == e) & (part["epochs"] == t)].assign(_side="a")
                b = cold[cold["epochs"] == reference].assign(_side="b")
                if a.empty or b.empty:
                    continue
                pair = paired_difference(pd.concat([a, b]), "a", "b", by=(), column="_side").iloc[0]
                rows.append({"model": model, "method": method, "sparsity": sparsity, "reading": reading,
                             "warmup_epochs": int(e), "epochs": t, "reference_epochs": reference, "total": e + t,
                             "n": int(pair["n"]), "difference": pair["difference"], "ci_low": pair["ci_low"],
                             "ci_high": pair["ci_high"], "a_wins": int(pair["a_wins"])})
    return pd.DataFrame(rows)


def budget_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per row of :func:`budget_comparisons`, naming the reading and the epochs on each side."""
    out = []
    for r in table.itertuples(index=False):
        low, high = (100 * r.ci_low, 100 * r.ci_high) if r.n > 1 else (math.nan, math.nan)
        where = (f"{display_name(r.method)} ({r.model}, {_pct(r.sparsity)} sparsity), {r.reading}: "
                 f"E = {r.warmup_epochs} then T = {r.epochs} vs E = 0 then T = {r.reference_epochs}")
        out.append(f"{where}: " + describe(100 * r.difference, low, high, r.n, f"E = {r.warmup_epochs}", "E = 0",
                                           r.a_wins) + ".")
    return out
