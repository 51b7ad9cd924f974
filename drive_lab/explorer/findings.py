"""Sentences the explorer notebook states about what the widgets show, computed from their tables.

Each function turns a table into the sentence a careful instructor would say, so the text
stays true under every preset: :func:`accuracy_finding` (your setting vs the full DRIVE,
paired by seed), :func:`density_finding` (first and last layer), :func:`contribution_finding`
(which term supplies the kept weights' score) and :func:`selection_findings` (the results
browser's selection: who leads at each sparsity, and how much of DRIVE's pruning time is
its warm-up).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from .. import analysis
from ..analysis.findings import describe, leader_sentences
from ..term_contributions import ALL_KEPT
from .runs import FULL_DRIVE, ROLE_BOTH, ROLE_FULL, ROLE_VARIANT, AblationOutcome

__all__ = ["accuracy_finding", "density_finding", "contribution_finding", "selection_findings"]


def _mine_and_full(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return frame[frame["role"].isin([ROLE_VARIANT, ROLE_BOTH])], frame[frame["role"].isin([ROLE_FULL, ROLE_BOTH])]


def accuracy_finding(outcome: AblationOutcome) -> str:
    """Your setting − full DRIVE in final test accuracy (points), paired by seed, with the 95%
    Student-t interval over seeds (:func:`drive_lab.analysis.findings.describe`); one seed has
    no interval and the sentence says a single seed cannot tell the difference from noise."""
    mine, full = _mine_and_full(outcome.frame)
    if (mine["role"] == ROLE_BOTH).all():
        return "Your setting is the full DRIVE itself: there is nothing to compare; change a term, E or N."
    name = mine["name"].iloc[0]
    paired = mine.set_index("seed")["final_test_accuracy"].astype(float).sub(
        full.set_index("seed")["final_test_accuracy"].astype(float)).dropna() * 100
    n = len(paired)
    mean = float(paired.mean())
    if n > 1:
        half = float(stats.t.ppf(0.975, n - 1) * paired.std(ddof=1) / math.sqrt(n))
        low, high = mean - half, mean + half
    else:
        low = high = math.nan
    sentence = describe(mean, low, high, n, name, FULL_DRIVE, a_wins=int((paired > 0).sum()))
    sentence = sentence[0].upper() + sentence[1:] + "."
    if n == 1:
        sentence += " With one seed this cannot be told apart from seed-to-seed noise: tick more seeds."
    return sentence


def density_finding(outcome: AblationOutcome) -> str:
    """Density kept in the model's first and last prunable layer, your setting vs the full DRIVE
    (means over seeds, in %), and the layers that collapsed in any run of the outcome."""
    mine, full = _mine_and_full(outcome.frame)
    table = {role: pd.DataFrame(list(rows["layer_density"])).mean() for role, rows in (("mine", mine), ("full", full))}
    layers = list(table["mine"].index)
    first, last = layers[0], layers[-1]
    model = outcome.controls.model

    def pair(layer: str) -> str:
        return f"{100 * table['mine'][layer]:.3g}% vs {100 * table['full'][layer]:.3g}%"

    text = (f"In {model}, the first prunable layer ({first.removesuffix('.weight')}) keeps {pair(first)} of its weights "
            f"(your setting vs the full DRIVE) and the last ({last.removesuffix('.weight')}) keeps {pair(last)}")
    shares = table["mine"] - table["full"]
    moved = shares.abs().idxmax()
    text += (f"; the largest change is in {moved.removesuffix('.weight')} ({100 * shares[moved]:+.3g} points of "
             "density).")
    collapsed = outcome.summary[outcome.summary["collapsed layers"] != ""]
    if len(collapsed):
        text += " Layer collapse in: " + "; ".join(f"{r['name']} ({r['collapsed layers']})"
                                                 for _, r in collapsed.iterrows()) + "."
    else:
        text += " No layer collapsed in any of these runs."
    return text


def contribution_finding(table: pd.DataFrame, name: str) -> str:
    """Which term supplies the kept weights' score: each term's share over all kept weights
    (%), and the layer where the largest term's share is highest, of a
    :func:`~drive_lab.term_contributions.term_contributions` table for the setting ``name``."""
    shares = table.pivot(index="layer", columns="term", values="share")
    overall = shares.loc[ALL_KEPT].dropna()
    parts = ", ".join(f"{term} {100 * share:.0f}%" for term, share in overall.sort_values(ascending=False).items())
    per_layer = shares.drop(index=ALL_KEPT)
    text = f"{name}: over all kept weights the score comes from {parts}"
    convergence = per_layer["convergence"].dropna() if "convergence" in per_layer else pd.Series(dtype=float)
    if len(convergence) and convergence.max() > 0:
        layer = convergence.idxmax()
        text += (f"; convergence's |g| carries its largest share in {layer.removesuffix('.weight')} "
                 f"({100 * convergence.max():.0f}%) and its smallest in "
                 f"{convergence.idxmin().removesuffix('.weight')} ({100 * convergence.min():.0f}%)")
    else:
        text += "; the convergence term is switched off, so it supplies nothing"
    return text + "."


def selection_findings(selection: pd.DataFrame, labels: pd.Series | None = None) -> list[str]:
    """Sentences about a browser selection: per sparsity the leader and its paired comparison with
    the runner-up (:func:`drive_lab.analysis.findings.leader_sentences`), the full DRIVE's rank
    there, and the share of DRIVE's pruning time that is its warm-up (means over runs).

    ``labels``: one name per run (e.g. :func:`drive_lab.browser.label_runs`, the browser's
    names); default: the selection's ``label`` column.
    """
    named = selection.assign(label=labels) if labels is not None else selection
    summary = analysis.summarise(named, by=["label", "sparsity"])
    # Pair by seed only where each name has one run per seed and sparsity; names that mix
    # settings (e.g. no ``labels`` given) are compared by their means alone.
    paired = not named.duplicated(["label", "sparsity", "seed"]).any()
    out = leader_sentences(summary, by="label", frame=named if paired else None)
    ranks = []
    for sparsity, rows in summary[summary["sparsity"] > 0].groupby("sparsity"):
        order = list(rows.sort_values("mean", ascending=False)["label"])
        if FULL_DRIVE in order:
            ranks.append(f"{100 * sparsity:.4g}%: {order.index(FULL_DRIVE) + 1} of {len(order)}")
    if ranks:
        out.append("Rank of the full DRIVE by mean accuracy (1 = best) at each sparsity: " + "; ".join(ranks) + ".")
    drive = named[named["label"] == FULL_DRIVE]
    if len(drive):
        warmup = pd.to_numeric(drive["seconds_warmup"], errors="coerce")
        pruning = pd.to_numeric(drive["seconds_pruning"], errors="coerce")
        share = float(np.nanmean(warmup / pruning))
        out.append(f"Of the full DRIVE's pruning time ({pruning.mean():.3g} s on average over {len(drive)} runs), "
                   f"{100 * share:.0f}% is its dense warm-up and {100 * (1 - share):.0f}% the scoring iterations.")
    return out
