"""Result tables: summaries over seeds, paired differences, trade-offs, rankings, speed-up, dense.

Every function takes a *result frame*, one row per run, from
:func:`drive_lab.sweep.load_results` or :func:`drive_lab.sweep.results_frame`
(accuracies are fractions in [0, 1], times in seconds), and returns a
:class:`pandas.DataFrame` (or, for :func:`format_mean`, a string). A grouping column
``"label"`` is added with :func:`~drive_lab.analysis.labels.add_labels` when asked for
but absent.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import pandas as pd

from .labels import add_labels

__all__ = ["format_mean", "paired_difference", "ranking", "require_columns", "speedup_vs_imp", "summarise",
           "tradeoff", "versus_dense"]


def _names(columns: Sequence[str] | str) -> list[str]:
    """``"sparsity"`` -> ``["sparsity"]``; a sequence of column names -> a list of them."""
    return [columns] if isinstance(columns, str) else list(columns)


def require_columns(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """``frame`` with every column in ``columns``, or ``KeyError`` naming the missing ones.

    Args:
        frame: a result frame (or any table, e.g. from :func:`speedup_vs_imp`).
        columns: the column names the caller reads.

    Returns:
        ``frame`` itself, or a labelled copy (:func:`~drive_lab.analysis.labels.add_labels`)
        when ``"label"`` is asked for but absent; the input is never modified.
    """
    columns = list(columns)
    if "label" in columns and "label" not in frame.columns:
        frame = add_labels(frame)
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise KeyError(f"result frame has no column(s) {missing}; it has: {', '.join(map(str, frame.columns))}")
    return frame


def summarise(frame: pd.DataFrame, by: Sequence[str] | str = ("method", "sparsity"),
              value: str = "final_test_accuracy") -> pd.DataFrame:
    """Mean, spread and count of ``value`` over the runs of each group (typically: over seeds).

    Args:
        frame: result frame, one row per run.
        by: grouping column(s), e.g. ``("method", "sparsity")`` or ``("label", "sparsity")``
            (``"label"`` is added with :func:`add_labels` when absent).
        value: the column to summarise, in its own units (accuracies stay fractions).

    Returns:
        One row per group, sorted by ``by``, with columns ``*by, mean, std, n, min, max``;
        ``std`` is the sample standard deviation (ddof = 1), NaN for a group of one run.
        NaN values of ``value`` are ignored (``n`` counts the non-NaN ones).
    """
    by = _names(by)
    frame = require_columns(frame, [*by, value])
    values = pd.to_numeric(frame[value], errors="coerce")
    grouped = values.groupby([frame[name] for name in by], dropna=False, sort=True)
    table = grouped.agg(["mean", "std", "count", "min", "max"]).rename(columns={"count": "n"}).reset_index()
    table["n"] = table["n"].astype(int)
    return table.sort_values(by, kind="stable").reset_index(drop=True)


def speedup_vs_imp(frame: pd.DataFrame, by: Sequence[str] | str = ("model", "dataset", "sparsity"),
                   hue: str = "method") -> pd.DataFrame:
    """Pruning time of every method and its speed-up against IMP in the same setting (method.md).

    Args:
        frame: result frame with ``method``, ``seconds_pruning`` (s) and the ``by`` columns.
        by: columns that define "the same setting" (same model, data and sparsity).
        hue: the column that names a method: ``"method"``, or ``"label"`` to keep DRIVE's
            ablation variants apart. IMP rows are found by ``method == "imp"`` either way.

    Returns:
        Columns ``*by, <hue>, pruning_seconds, imp_pruning_seconds, speedup``:
        ``pruning_seconds`` is the mean over seeds of ``seconds_pruning``;
        ``speedup = imp_pruning_seconds / pruning_seconds`` (×, > 1 means faster than IMP),
        NaN when the group has no IMP run (IMP's own row has speed-up 1). Dense runs are
        left out (they do not prune).
    """
    by = _names(by)
    frame = require_columns(frame, [*by, hue, "method", "seconds_pruning"])
    frame = frame[frame["method"] != "dense"]
    seconds = pd.to_numeric(frame["seconds_pruning"], errors="coerce")
    per_method = (seconds.groupby([frame[name] for name in [*by, hue]], dropna=False, sort=True).mean()
                  .rename("pruning_seconds").reset_index())
    is_imp = frame["method"] == "imp"
    imp = (seconds[is_imp].groupby([frame.loc[is_imp, name] for name in by], dropna=False).mean()
           .rename("imp_pruning_seconds").reset_index())
    table = per_method.merge(imp, on=by, how="left") if by else per_method.assign(
        imp_pruning_seconds=float(seconds[is_imp].mean()) if is_imp.any() else float("nan"))
    table["speedup"] = table["imp_pruning_seconds"] / table["pruning_seconds"]
    return table.sort_values([*by, hue], kind="stable").reset_index(drop=True)


def versus_dense(frame: pd.DataFrame, by: Sequence[str] | str = ("method", "sparsity"),
                 value: str = "final_test_accuracy") -> pd.DataFrame:
    """:func:`summarise` of the pruned runs, each group compared with the dense network.

    Args:
        frame: result frame with dense runs (``method == "dense"``) and pruned runs.
        by: grouping of the pruned runs (``"label"`` is added when asked for).
        value: the column compared (accuracies stay fractions).

    Returns:
        The pruned groups' ``*by, mean, std, n, min, max`` plus ``dense_mean`` and
        ``dense_n`` (mean and count of ``value`` over every dense run of the frame) and
        ``change = mean - dense_mean`` (in ``value``'s units; negative = worse than dense
        for an accuracy). NaN when the frame has no dense run.
    """
    frame = require_columns(frame, _names(by))
    is_dense = frame["method"] == "dense"
    table = summarise(frame[~is_dense], by=by, value=value)
    dense = pd.to_numeric(frame.loc[is_dense, value], errors="coerce").dropna()
    table["dense_mean"] = float(dense.mean()) if len(dense) else float("nan")
    table["dense_n"] = int(len(dense))
    table["change"] = table["mean"] - table["dense_mean"]
    return table


def paired_difference(frame: pd.DataFrame, a: str, b: str, by: Sequence[str] | str = ("sparsity",),
                      value: str = "final_test_accuracy", column: str = "label",
                      pair_on: Sequence[str] | str = ("seed",)) -> pd.DataFrame:
    """Difference ``a − b`` of ``value`` between two variants, paired run by run (same seed).

    An ablation compares variants trained from the same seed (same initial weights, same
    batches), so the seed-to-seed noise they share cancels in the paired difference. This
    is the table behind a sentence such as "the full score beats the score without
    convergence sensitivity by x ± y points at 95% sparsity, in 3 of 3 seeds".

    Args:
        frame: result frame, one row per run.
        a, b: the two values of ``column`` to compare (e.g. ``"DRIVE (full)"`` and
            ``"without convergence"``); ``KeyError`` naming the available ones if absent.
        by: grouping column(s) (default: one row per sparsity); ``()`` for one row overall.
        value: the column compared, in its own units (accuracies stay fractions).
        column: the column naming the variants (``"label"`` is added with
            :func:`add_labels` when absent; ``"method"`` works too).
        pair_on: the column(s) that, with ``by``, pair one run of ``a`` with one run of
            ``b`` (e.g. ``by=(), pair_on=("sparsity", "seed")`` for one row over everything).

    Returns:
        One row per group, sorted by ``by``, with columns ``*by, n, mean_a, mean_b,
        difference, std, sem, ci_low, ci_high, a_wins, b_wins, ties``: ``n`` pairs (runs
        without a partner, or with a NaN value, are left out); ``difference`` = mean over
        pairs of a − b; ``std`` = sample standard deviation (ddof = 1) of the differences,
        NaN when n < 2; ``sem = std / √n``; ``ci_low``/``ci_high`` = the 95% Student-t
        confidence interval of the mean difference, ``difference ± t(0.975, n − 1) · sem``
        (NaN when n < 2; it contains 0 when the data cannot tell the variants apart);
        ``a_wins``/``b_wins``/``ties`` count pairs with a > b, a < b, a = b. ``attrs``
        records ``a``, ``b`` and ``value``. ``ValueError`` when one variant has two runs
        with the same ``by`` and ``pair_on`` values.
    """
    by = _names(by)
    pair_on = _names(pair_on)
    frame = require_columns(frame, [*by, *pair_on, column, value])
    keys = [*by, *[name for name in pair_on if name not in by]]
    available = list(dict.fromkeys(frame[column]))
    sides = []
    for name in (a, b):
        if name not in available:
            raise KeyError(f"no run has {column} == {name!r}; available: {', '.join(map(str, available))}")
        rows = frame[frame[column] == name]
        if rows.duplicated(keys).any():
            raise ValueError(f"{column} == {name!r} has several runs with the same {', '.join(keys)}: "
                             "cannot pair them (select one run each, e.g. one model and dataset)")
        sides.append(rows[keys].assign(_value=pd.to_numeric(rows[value], errors="coerce").to_numpy()))
    pairs = sides[0].merge(sides[1], on=keys, suffixes=("_a", "_b")).dropna(subset=["_value_a", "_value_b"])
    pairs["_difference"] = pairs["_value_a"] - pairs["_value_b"]
    group_keys = by if by else pd.Series(0, index=pairs.index)
    grouped = pairs.groupby(group_keys, sort=True)
    table = pd.DataFrame({
        "n": grouped["_difference"].size(),
        "mean_a": grouped["_value_a"].mean(),
        "mean_b": grouped["_value_b"].mean(),
        "difference": grouped["_difference"].mean(),
        "std": grouped["_difference"].std(ddof=1),
        "a_wins": grouped["_difference"].apply(lambda d: int((d > 0).sum())),
        "b_wins": grouped["_difference"].apply(lambda d: int((d < 0).sum())),
        "ties": grouped["_difference"].apply(lambda d: int((d == 0).sum())),
    })
    table["sem"] = table["std"] / table["n"].pow(0.5)
    from scipy import stats  # installed with scikit-learn

    half_width = table["sem"] * stats.t.ppf(0.975, (table["n"] - 1).clip(lower=1))
    table["ci_low"], table["ci_high"] = table["difference"] - half_width, table["difference"] + half_width
    table = table.reset_index() if by else table.reset_index(drop=True)
    columns = [*by, "n", "mean_a", "mean_b", "difference", "std", "sem", "ci_low", "ci_high",
               "a_wins", "b_wins", "ties"]
    table = table.reindex(columns=columns)
    table["n"] = table["n"].fillna(0).astype(int)
    table.attrs.update(a=a, b=b, value=value)
    return table


# ----------------------------------------------------------------------------- cost against benefit
def tradeoff(frame: pd.DataFrame, x: str = "warmup_epochs", by: Sequence[str] | str = ("method", "sparsity"),
             value: str = "final_test_accuracy", cost: str = "seconds_pruning") -> pd.DataFrame:
    """Accuracy gained per extra second of pruning as a setting ``x`` (e.g. warm-up epochs E) grows.

    Within each group of ``by`` (e.g. one method at one sparsity), every value of ``x`` is
    compared with the group's smallest ``x`` (the reference, e.g. E = 0: pruning at
    initialisation): how many accuracy points it gains and how many seconds of pruning
    it costs on top.

    Args:
        frame: result frame, one row per run (typically several seeds per setting).
        x: the setting that buys accuracy with time (a numeric column).
        by: columns that define one curve (``"label"`` is added when asked for).
        value: the accuracy column (a fraction in [0, 1]).
        cost: the time column in seconds (``seconds_pruning``: warm-up + scoring, the
            pruning time of method.md's cost accounting).

    Returns:
        One row per ``(*by, x)``, sorted, with columns ``*by, x, mean, std, n`` (of
        ``value`` over the runs, as :func:`summarise`), ``seconds`` (mean ``cost``, s),
        ``seconds_warmup`` and ``seconds_scoring`` (means, s; NaN when the frame lacks
        them), ``gain_points = 100 · (mean − reference mean)`` (percentage points of
        accuracy), ``extra_seconds = seconds − reference seconds`` (s) and
        ``points_per_second = gain_points / extra_seconds`` (NaN for the reference row and
        whenever ``extra_seconds <= 0``).
    """
    by = _names(by)
    frame = require_columns(frame, [*by, x, value, cost])
    table = summarise(frame, by=[*by, x], value=value)[[*by, x, "mean", "std", "n"]]
    keys = [frame[name] for name in [*by, x]]
    for column, name in ((cost, "seconds"), ("seconds_warmup", "seconds_warmup"),
                         ("seconds_scoring", "seconds_scoring")):
        if column in frame.columns:
            means = pd.to_numeric(frame[column], errors="coerce").groupby(keys, dropna=False, sort=True).mean()
            table = table.merge(means.rename(name).reset_index(), on=[*by, x], how="left")
        else:
            table[name] = float("nan")
    table = table.sort_values([*by, x], kind="stable").reset_index(drop=True)
    groups = [table[name] for name in by] if by else [pd.Series(0, index=table.index)]
    reference = table.groupby(groups, dropna=False, sort=False)[["mean", "seconds"]].transform(lambda s: s.iloc[0])
    table["gain_points"] = 100.0 * (table["mean"] - reference["mean"])
    table["extra_seconds"] = table["seconds"] - reference["seconds"]
    positive = table["extra_seconds"].where(table["extra_seconds"] > 0)
    table["points_per_second"] = table["gain_points"] / positive
    return table


def ranking(frame: pd.DataFrame, by: Sequence[str] | str = ("model", "sparsity"), hue: str = "method",
            value: str = "final_test_accuracy", focus: str = "drive") -> pd.DataFrame:
    """Which method is best in each setting, and where ``focus`` (DRIVE) ranks.

    Dense runs are left out (they do not prune). Methods are ranked by their mean
    ``value`` over seeds; ties share the better rank.

    Args:
        frame: result frame, one row per run.
        by: columns that define one setting (``"model"``/``"dataset"`` are skipped when absent).
        hue: the column naming a method (``"method"`` or ``"label"``).
        value: the column compared (accuracies stay fractions; higher is better).
        focus: the ``hue`` value to follow (default ``"drive"``).

    Returns:
        One row per setting with columns ``*by, methods`` (how many were compared),
        ``best`` (the ``hue`` value with the highest mean), ``best_mean, best_std, best_n``,
        ``focus_mean, focus_std, focus_n, focus_rank`` (1 = best; NaN when ``focus`` did
        not run there), ``runner_up, runner_up_mean, runner_up_std, runner_up_n`` (the best
        method other than ``focus``) and ``gap_points = 100 · (focus_mean − runner_up_mean)``
        (percentage points; positive: ``focus`` beats every other method).
    """
    by = [name for name in _names(by) if name in frame.columns or name == "label"]
    frame = require_columns(frame, [*by, hue, "method", value])
    table = summarise(frame[frame["method"] != "dense"], by=[*by, hue], value=value)
    rows = []
    for key, group in (table.groupby(by, sort=True, dropna=False) if by else [((), table)]):
        key = key if isinstance(key, tuple) else (key,)
        group = group.dropna(subset=["mean"]).sort_values("mean", ascending=False, kind="stable")
        if group.empty:
            continue
        best = group.iloc[0]
        mine = group[group[hue] == focus]
        others = group[group[hue] != focus]
        row = dict(zip(by, key))
        row.update(methods=len(group), best=best[hue], best_mean=best["mean"], best_std=best["std"],
                   best_n=int(best["n"]))
        if len(mine):
            focus_mean = float(mine["mean"].iloc[0])
            row.update(focus_mean=focus_mean, focus_std=float(mine["std"].iloc[0]), focus_n=int(mine["n"].iloc[0]),
                       focus_rank=int((group["mean"] > focus_mean).sum()) + 1)
        else:
            row.update(focus_mean=float("nan"), focus_std=float("nan"), focus_n=0, focus_rank=float("nan"))
        if len(others):
            second = others.iloc[0]
            row.update(runner_up=second[hue], runner_up_mean=float(second["mean"]),
                       runner_up_std=float(second["std"]), runner_up_n=int(second["n"]))
        else:
            row.update(runner_up=None, runner_up_mean=float("nan"), runner_up_std=float("nan"), runner_up_n=0)
        row["gap_points"] = 100.0 * (row["focus_mean"] - row["runner_up_mean"])
        rows.append(row)
    columns = [*by, "methods", "best", "best_mean", "best_std", "best_n", "focus_mean", "focus_std", "focus_n",
               "focus_rank", "runner_up", "runner_up_mean", "runner_up_std", "runner_up_n", "gap_points"]
    result = pd.DataFrame(rows, columns=columns)
    result.attrs.update(focus=focus, value=value)
    return result


def format_mean(mean: float, std: float = float("nan"), n: int = 1, percent: bool = True, digits: int = 2) -> str:
    """``"98.33 ± 0.12% (n = 3)"``: a mean with its spread over ``n`` runs, for sentences built from tables.

    Args:
        mean, std: the values, in the column's units (accuracy fractions when ``percent``).
        n: the number of runs; the ``± std`` part is left out when ``n < 2`` or ``std`` is NaN.
        percent: show fractions as % (× 100) rather than as plain numbers (default ``True``).
        digits: decimals shown (default 2).
    """
    scale, unit = (100.0, "%") if percent else (1.0, "")
    spread = f" ± {scale * std:.{digits}f}" if n >= 2 and not math.isnan(float(std)) else ""
    return f"{scale * mean:.{digits}f}{spread}{unit} (n = {int(n)})"
