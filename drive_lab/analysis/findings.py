"""The sentences a careful instructor would write about a table, computed from the table.

The course never types a finding: each "what to look for" is followed by one of these,
so the text stays true under every preset (smoke, cpu, gpu) and every rerun. Each
function takes a table from :mod:`.tables`, :mod:`.terms` or :mod:`.costs` and returns
a string (or a list of strings, one per row), in plain words with the numbers behind
them: who is ahead, by how much, with the interval and the number of seeds, and "no
detectable difference" when the interval covers 0.

Agreement between rankings is put in words with fixed thresholds, stated with the word:
Spearman ρ ≥ 0.9 "largely agree", 0.5 ≤ ρ < 0.9 "partly agree", below 0.5 "disagree";
a kept-set overlap (Jaccard) ≥ 0.9 "nearly the same weights", ≥ 0.5 "mostly the same",
below 0.5 "mostly different".
"""
from __future__ import annotations

import math
from typing import Sequence

import pandas as pd

from .labels import display_name

CONFIDENCE = 0.95


def _pct(sparsity: float) -> str:
    """99.5% as '99.5%', 0.9 as '90%' (never rounded to a misleading '1.00')."""
    return f"{100 * float(sparsity):.4g}%"


def describe(difference: float, low: float, high: float, n: int, a: str, b: str, a_wins: int | None = None,
             unit: str = "points", confidence: float = CONFIDENCE) -> str:
    """The sentence about a paired difference ``a − b`` (in ``unit``), with its interval.

    ``"DRIVE is ahead of SNIP by 1.23 points (95% CI +0.51 to +1.95 points; ahead in 5 of 5
    seeds)"``, or ``"no detectable difference between ..."`` when the interval covers 0; a
    single pair has no interval and says so.
    """
    def interval(lo: float, hi: float) -> str:
        return f"{100 * confidence:.0f}% CI {lo:+.2f} to {hi:+.2f} {unit}" if math.isfinite(lo) else "one seed: no interval"

    seeds = f"; ahead in {a_wins} of {n} seeds" if a_wins is not None else f"; n = {n}"
    if math.isfinite(low) and low <= 0 <= high:
        return (f"no detectable difference between {a} and {b} ({a} − {b} = {difference:+.2f} {unit}, "
                f"{interval(low, high)}{seeds})")
    if difference >= 0:
        return f"{a} is ahead of {b} by {difference:.2f} {unit} ({interval(low, high)}{seeds})"
    wins = f"; ahead in {n - a_wins} of {n} seeds" if a_wins is not None else f"; n = {n}"
    return f"{b} is ahead of {a} by {-difference:.2f} {unit} ({interval(-high, -low)}{wins})"


def paired_sentences(table: pd.DataFrame, a: str | None = None, b: str | None = None,
                     where: Sequence[str] | str = ("sparsity",), scale: float = 100.0, unit: str = "points") -> list[str]:
    """One sentence per row of a :func:`~drive_lab.analysis.paired_difference` table.

    ``a``/``b`` default to the table's ``attrs``; ``where`` names the columns that say where
    (a sparsity is written as a percentage); ``scale`` turns accuracy fractions into points.
    """
    a = display_name(a or table.attrs.get("a", "a"))
    b = display_name(b or table.attrs.get("b", "b"))
    where = [where] if isinstance(where, str) else list(where)
    out = []
    for row in table.itertuples(index=False):
        place = ", ".join(_pct(getattr(row, w)) + " sparsity" if w == "sparsity" else f"{w} = {getattr(row, w)}"
                          for w in where if hasattr(row, w))
        if row.n == 0:
            out.append(f"At {place}: no pair of runs to compare.")
            continue
        low, high = row.ci_low * scale, row.ci_high * scale
        sentence = describe(row.difference * scale, low if row.n > 1 else math.nan, high if row.n > 1 else math.nan,
                            int(row.n), a, b, int(row.a_wins), unit=unit)
        out.append(f"At {place}: {sentence}." if place else sentence[0].upper() + sentence[1:] + ".")
    return out


def agreement(rho: float) -> str:
    """Spearman ρ in words (thresholds in the module docstring)."""
    if not math.isfinite(rho):
        return "cannot be compared (a constant ranking)"
    return "largely agree" if rho >= 0.9 else "partly agree" if rho >= 0.5 else "disagree"


def overlap_words(jaccard: float) -> str:
    """A kept-set overlap |A ∩ B| / |A ∪ B| in words (thresholds in the module docstring)."""
    return ("keep nearly the same weights" if jaccard >= 0.9 else "keep mostly the same weights" if jaccard >= 0.5
            else "keep mostly different weights")


def correlation_sentences(matrix: pd.DataFrame, pairs: Sequence[tuple[str, str]] | None = None,
                          overlap: pd.DataFrame | None = None) -> list[str]:
    """One sentence per pair of terms (or scores) of a rank-correlation matrix, with the kept-set overlap if given.

    ``matrix``: square, as :func:`~drive_lab.analysis.rank_correlation` returns it (or with a
    ``layer`` level: then the first block, the whole network, is read). ``pairs``: default
    every pair above the diagonal.
    """
    if isinstance(matrix.index, pd.MultiIndex):
        matrix = matrix.xs(matrix.index.get_level_values(0)[0], level=0)
    names = list(matrix.columns)
    pairs = pairs or [(names[i], names[j]) for i in range(len(names)) for j in range(i + 1, len(names))]
    out = []
    for x, y in pairs:
        rho = float(matrix.loc[x, y])
        sentence = f"{x} and {y} {agreement(rho)} (Spearman ρ = {rho:.3f})"
        if overlap is not None:
            jaccard = float(overlap.loc[x, y])
            sentence += f" and {overlap_words(jaccard)} (overlap {jaccard:.2f})"
        out.append(sentence + ".")
    return out


def leader_sentences(summary: pd.DataFrame, by: str = "method", where: str = "sparsity",
                     frame: pd.DataFrame | None = None, value: str = "final_test_accuracy") -> list[str]:
    """Per ``where`` value: who has the highest mean, and how it compares with the runner-up.

    ``summary``: :func:`~drive_lab.analysis.summarise` output (columns ``by``, ``where``,
    ``mean``, ``std``, ``n``). With ``frame`` (the runs behind it) the leader and the
    runner-up are compared paired by seed, with an interval; without it, only the means.
    """
    from .tables import paired_difference

    out = []
    for place, rows in summary.groupby(where, sort=True):
        rows = rows.sort_values("mean", ascending=False)
        if rows.empty:
            continue
        first = rows.iloc[0]
        text = (f"At {_pct(place)} sparsity, {display_name(first[by])} leads with {100 * first['mean']:.2f}% "
                f"(mean of {int(first['n'])})")
        if len(rows) > 1:
            second = rows.iloc[1]
            text += f", then {display_name(second[by])} with {100 * second['mean']:.2f}%"
            if frame is not None:
                pair = paired_difference(frame[(frame[where] - place).abs() < 1e-9], first[by], second[by],
                                         by=(), column=by, value=value)
                if len(pair) and pair["n"].iloc[0] > 0:
                    row = pair.iloc[0]
                    n = int(row["n"])
                    text += ": " + describe(100 * row["difference"], 100 * row["ci_low"] if n > 1 else math.nan,
                                            100 * row["ci_high"] if n > 1 else math.nan, n,
                                            display_name(first[by]), display_name(second[by]), int(row["a_wins"]))
        out.append(text + ".")
    return out


def share_sentence(costs: pd.DataFrame) -> str:
    """Weight share against compute share per layer (:func:`~drive_lab.analysis.layer_costs`)."""
    layers = costs[costs["layer"] != "total"] if "layer" in costs else costs
    gap = (layers["weight_share"] - layers["mac_share"]).abs()
    if float(gap.max()) < 1e-9:
        return ("Every layer's share of the weights equals its share of the multiply-adds: each weight is used "
                "once per image (fully connected layers), so pruning x% of the weights removes x% of the compute.")
    worst = layers.loc[gap.idxmax()]
    return (f"Weight share and compute share differ, most in {worst['layer']}: {100 * worst['weight_share']:.1f}% of "
            f"the weights but {100 * worst['mac_share']:.1f}% of the multiply-adds (a convolution reuses each "
            "weight at every position of its input), so the compute a sparsity saves depends on where the "
            "pruned weights are.")


# One run read out (notebook 00): against the dense network, where the weights went, what they cost.
def dense_change_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per row of :func:`~drive_lab.analysis.versus_dense`: accuracy against the dense network.

    States the pruned mean, the change in points with its direction, both n, and, when a
    side has a single run, that there is no interval (a fraction of a point can be seed noise).
    """
    out = []
    for row in table.itertuples(index=False):
        name = display_name(getattr(row, "label", None) or row.method)
        change = 100 * float(row.change)
        side = "the same as" if abs(change) < 0.005 else f"{abs(change):.2f} points {'above' if change > 0 else 'below'}"
        text = (f"At {_pct(row.sparsity)} sparsity, {name} reaches {100 * row.mean:.2f}% test accuracy (n = {row.n}), "
                f"{side} the dense network ({100 * row.dense_mean:.2f}%, n = {row.dense_n})")
        if min(int(row.n), int(row.dense_n)) < 2:
            text += ("; one run each, so no interval" + (": a difference this small can be the seed's noise"
                                                         if abs(change) < 1 else ""))
        else:
            text += f" (spread over seeds: std {100 * row.std:.2f} points)"
        out.append(text + ".")
    return out


def layer_density_sentences(densities: pd.DataFrame) -> list[str]:
    """Per pruned run of :func:`~drive_lab.analysis.layer_density_table`: the layers kept most and least, and collapse.

    Rows whose every layer keeps density 1 (the dense network) are skipped; a layer at
    density 0 is named as collapsed.
    """
    out = []
    for key, row in densities.iterrows():
        row = row.dropna().astype(float)
        if row.empty or bool((row >= 1).all()):
            continue
        key = key if isinstance(key, tuple) else (key,)
        names = dict(zip(densities.index.names, key))
        where = f" at {_pct(names['sparsity'])} sparsity" if "sparsity" in names else ""
        most, least = row.idxmax(), row.idxmin()
        text = (f"{names.get('label', key[0])}{where} keeps most of {most} ({100 * row[most]:.3g}% of its weights) "
                f"and least of {least} ({100 * row[least]:.3g}%)")
        collapsed = [layer for layer, density in row.items() if density == 0]
        text += (f"; collapsed (no weight left, the network is disconnected): {', '.join(collapsed)}." if collapsed
                 else "; no layer collapsed.")
        out.append(text)
    return out


def savings_sentences(savings: pd.DataFrame) -> list[str]:
    """Kept weights against kept compute, per pruned run of :func:`~drive_lab.analysis.pruning_savings`."""
    pruned = savings[savings["weight_fraction"] < 1]
    if pruned.empty:
        return ["No pruned run: every run keeps all its weights and multiply-adds."]
    gap = (pruned["weight_fraction"] - pruned["mac_fraction"]).abs()
    if float(gap.max()) < 1e-9:
        return ["Every pruned run keeps the same fraction of the multiply-adds as of the weights (" +
                ", ".join(f"{100 * f:.3g}% at {_pct(s)} sparsity" for f, s in zip(pruned["weight_fraction"], pruned["sparsity"])) +
                "): each weight is used once per image, so the compute saved equals the weights saved."]
    out = []
    for row in pruned.itertuples(index=False):
        more = row.mac_fraction > row.weight_fraction
        out.append(f"{getattr(row, 'label', 'The run')} at {_pct(row.sparsity)} sparsity keeps {100 * row.weight_fraction:.3g}% "
                   f"of the weights but {100 * row.mac_fraction:.3g}% of the multiply-adds: the compute-heavy layers kept "
                   f"{'more' if more else 'less'} of their weights than the average layer.")
    return out


def phase_time_sentences(frame: pd.DataFrame) -> list[str]:
    """Per pruned run: pruning cost (warm-up + scoring seconds) against the final training's seconds.

    ``frame``: result frame with ``seconds_warmup``, ``seconds_scoring``, ``seconds_training``.
    Single timings are rough, so the comparison is a ratio with two significant digits.
    """
    out = []
    for row in frame.itertuples(index=False):
        if row.method == "dense":
            out.append(f"The dense network trained in {row.seconds_training:.1f} s.")
            continue
        pruning = row.seconds_warmup + row.seconds_scoring
        ratio = pruning / row.seconds_training if row.seconds_training > 0 else float("nan")
        out.append(f"{display_name(row.method)} at {_pct(row.sparsity)} sparsity: pruning took {pruning:.1f} s "
                   f"(warm-up {row.seconds_warmup:.1f} s + scoring {row.seconds_scoring:.1f} s), {ratio:.2g}× the "
                   f"{row.seconds_training:.1f} s of its final training.")
    return out


def curve_sentences(runs: Sequence) -> list[str]:
    """Per stored run (``RunResult``): test accuracy after the first and the last training epoch, and the best."""
    from .labels import ablation_label

    out = []
    for run in runs:
        history = [h for h in run.training_history if "test_accuracy" in h]
        if not history:
            continue
        best = max(h["test_accuracy"] for h in history)
        config = run.config  # the run's config as a dict (RunResult.config)
        sparsity = f" at {_pct(config['sparsity'])} sparsity" if config["method"] != "dense" else ""
        out.append(f"{ablation_label(config)}{sparsity}: {100 * history[0]['test_accuracy']:.2f}% after epoch "
                   f"{history[0]['epoch']}, {100 * history[-1]['test_accuracy']:.2f}% after epoch {history[-1]['epoch']} "
                   f"(best {100 * best:.2f}%).")
    return out or ["No training history of these runs is in the result store here, so there is no curve to read."]



# Baselines and collapse (notebook 02).
def collapse_sentences(frame: pd.DataFrame, by: str = "label") -> list[str]:
    """Per ``by`` value of a result frame: the lowest sparsity at which a run collapsed a layer, and which.

    ``frame`` needs ``sparsity``, ``n_collapsed`` and ``collapsed_layers`` (a list or its
    text form). A variant with no collapse says so, with the highest sparsity it ran at.
    """
    out = []
    for name, rows in frame.groupby(by, sort=False):
        collapsed = rows[rows["n_collapsed"] > 0].sort_values("sparsity")
        if collapsed.empty:
            out.append(f"{name}: no layer collapsed, up to {_pct(rows['sparsity'].max())} sparsity.")
            continue
        first = collapsed.iloc[0]
        layers = first["collapsed_layers"]
        layers = ", ".join(layers) if isinstance(layers, (list, tuple)) else str(layers)
        out.append(f"{name}: first collapse at {_pct(first['sparsity'])} sparsity ({layers}); "
                   f"{len(collapsed)} of {len(rows)} runs collapsed a layer.")
    return out


def schedule_sentences(frame: pd.DataFrame, value: str = "final_test_accuracy") -> list[str]:
    """Per method run both one-shot (N = 1) and iteratively (N > 1): the two at its highest common sparsity.

    Means over seeds; the number of runs is stated, and a single run each gets no verdict
    beyond the numbers.
    """
    out = []
    for method, rows in frame.groupby("method", sort=False):
        one, many = rows[rows["iterations"] <= 1], rows[rows["iterations"] > 1]
        common = sorted(set(one["sparsity"]) & set(many["sparsity"]))
        if not common:
            continue
        s = common[-1]
        a, b = one[one["sparsity"] == s], many[many["sparsity"] == s]
        diff = 100 * (b[value].mean() - a[value].mean())
        text = (f"{display_name(method)} at {_pct(s)} sparsity: one-shot {100 * a[value].mean():.2f}%, iterative "
                f"(N = {int(b['iterations'].iloc[0])}) {100 * b[value].mean():.2f}% ({diff:+.2f} points; "
                f"collapsed layers {int(a['n_collapsed'].sum())} vs {int(b['n_collapsed'].sum())}")
        n = min(len(a), len(b))
        text += "; one run each, so no interval)." if n < 2 else f"; {n} runs each)."
        out.append(text)
    return out


def emptying_sentences(table: pd.DataFrame, score: str) -> list[str]:
    """From :func:`~drive_lab.analysis.emptying_sparsity`: the layer a one-shot ``score`` empties first."""
    first = table.sort_values("empties_at").iloc[0]
    return [f"{score}'s best-scored weight in {first['layer']} ranks {int(first['best_rank']):,} of "
            f"{int(table['weights'].sum()):,}, so one-shot {score} empties {first['layer']} at every sparsity from "
            f"{100 * first['empties_at']:.2f}% on (the first layer to go; {int(first['weights']):,} weights)."]


def layer_shift_sentences(densities: pd.DataFrame, a: str, b: str) -> list[str]:
    """Where variant ``b`` puts its kept weights differently from ``a``, layer by layer.

    ``densities``: :func:`~drive_lab.analysis.layer_density_table` averaged over seeds
    (index ``(label, sparsity)``), one sparsity. One sentence per layer, largest ratio first.
    """
    rows = densities.droplevel("sparsity") if "sparsity" in densities.index.names else densities
    first, second = rows.loc[a].astype(float), rows.loc[b].astype(float)
    ratio = (second / first).replace([float("inf")], float("nan"))
    out = []
    for layer in ratio.abs().sort_values(ascending=False, key=lambda r: (r.fillna(1) - 1).abs()).index:
        r = ratio[layer]
        change = ("the same share" if r == r and abs(r - 1) < 0.005 else
                  f"{r:.2f}× as much" if r == r else "some, where the other keeps none")
        out.append(f"{layer}: {a} keeps {100 * first[layer]:.3g}%, {b} {100 * second[layer]:.3g}% ({b} keeps {change}).")
    return out
