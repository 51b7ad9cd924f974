"""DRIVE against its expensive reference (IMP) and the sanity checks, put in sentences.

Inputs: result frames with IMP and DRIVE runs (``full_runs`` or the study's ``study_imp``),
the table of :func:`drive_lab.analysis.claims.speedup` and that of
:func:`drive_lab.analysis.claims.sanity_table` (``study_sanity`` and ``study_sanity_imp``
concatenated). Accuracy differences are paired by seed, in percentage points, with 95%
Student-t intervals; time ratios are geometric means of per-seed ratios.
"""
from __future__ import annotations

import math

import pandas as pd

from .findings import _pct
from .labels import display_name
from .tables import require_columns

__all__ = ["imp_epochs", "imp_epoch_sentences", "layer_spread_sentences", "sanity_sentences", "speedup_sentences"]

CHECK_NAMES = {"shuffle": "its mask shuffled within layers", "reinit": "its mask on re-initialised weights",
               "invert": "its inverted ranking"}


def imp_epochs(frame: pd.DataFrame) -> pd.DataFrame:
    """Training epochs spent before the final training, IMP against DRIVE, per model and sparsity.

    IMP trains the network once per round: ``imp_rounds`` (its ``iterations`` column) × T
    (``epochs``) plus any warm-up (its rewind point); DRIVE trains E (``warmup_epochs``) dense
    epochs, then scores for N iterations (no training). Columns: ``model, sparsity, imp_rounds,
    epochs, imp_pruning_epochs, drive_warmup_epochs, epoch_ratio`` (IMP's pruning epochs / DRIVE's
    E, inf when E = 0), ``imp_total_epochs, drive_total_epochs`` (with the final T-epoch training).
    """
    frame = require_columns(frame, ["model", "method", "sparsity", "iterations", "epochs", "warmup_epochs"])
    rows = []
    for (model, sparsity), part in frame.groupby(["model", "sparsity"], sort=True):
        imp, drive = part[part["method"] == "imp"], part[part["method"] == "drive"]
        if imp.empty or drive.empty:
            continue
        rounds, t = int(imp["iterations"].iloc[0]), int(imp["epochs"].iloc[0])
        imp_pruning = rounds * t + int(imp["warmup_epochs"].iloc[0])
        e, drive_t = int(drive["warmup_epochs"].iloc[0]), int(drive["epochs"].iloc[0])
        rows.append({"model": model, "sparsity": sparsity, "imp_rounds": rounds, "epochs": t,
                     "imp_pruning_epochs": imp_pruning, "drive_warmup_epochs": e,
                     "epoch_ratio": imp_pruning / e if e else math.inf,
                     "imp_total_epochs": imp_pruning + t, "drive_total_epochs": e + drive_t})
    return pd.DataFrame(rows)


def imp_epoch_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per row of :func:`imp_epochs`."""
    return [f"At {_pct(r.sparsity)} sparsity ({r.model}): IMP trains {r.imp_rounds} rounds × T = {r.epochs} epochs = "
            f"{r.imp_pruning_epochs} epochs before its final training, DRIVE E = {r.drive_warmup_epochs} "
            f"({r.epoch_ratio:.0f}× fewer); with the final training, {r.imp_total_epochs} against "
            f"{r.drive_total_epochs} epochs." for r in table.itertuples(index=False)]


def speedup_sentences(table: pd.DataFrame, paper_epochs: int | None = None,
                      claim: tuple[float, float] | None = None) -> list[str]:
    """Sentences for :func:`drive_lab.analysis.claims.speedup`: measured ratio with its interval, then the
    extrapolation to ``paper_epochs`` (marked as such), compared with the paper's ``claim`` range if given."""
    out = []
    for r in table.itertuples(index=False):
        interval = (f"95% CI {r.ratio_low:.1f}× to {r.ratio_high:.1f}×" if r.n > 1 and math.isfinite(r.ratio_low)
                    else "one seed, no interval")
        text = (f"At {_pct(r.sparsity)} sparsity ({r.model}, {r.n} seeds): measured on this machine, IMP's pruning "
                f"({r.imp_rounds} rounds of T = {r.epochs} epochs, {r.imp_seconds:.1f} s) took {r.ratio:.1f}× DRIVE's "
                f"({r.drive_seconds:.1f} s; {interval})")
        if claim is not None and r.n > 1 and math.isfinite(r.ratio_low):
            if r.ratio_high < claim[0]:
                text += f", below the paper's claimed {claim[0]:g}×–{claim[1]:g}×"
            elif r.ratio_low > claim[1]:
                text += f", above the paper's claimed {claim[0]:g}×–{claim[1]:g}×"
            elif r.ratio_low >= claim[0] and r.ratio_high <= claim[1]:
                text += f", inside the paper's claimed {claim[0]:g}×–{claim[1]:g}×"
            else:
                text += f", overlapping the edge of the paper's claimed {claim[0]:g}×–{claim[1]:g}×"
        if paper_epochs is not None and "ratio_at_paper_epochs" in table.columns:
            text += (f". Extrapolation, not a measurement: with IMP's round trainings scaled from T = {r.epochs} to "
                     f"T = {paper_epochs} epochs and DRIVE's pruning unchanged, the ratio would be about "
                     f"{r.ratio_at_paper_epochs:.0f}×")
        out.append(text + ".")
    return out


def sanity_sentences(table: pd.DataFrame, verdict_only: bool = False) -> list[str]:
    """Per model and method: each check's accuracy drop by sparsity, then what the shuffle check says.

    ``table``: :func:`drive_lab.analysis.claims.sanity_table` (``drop`` = unmodified − check, points).
    The shuffle verdict: the method beats its shuffled mask at every sparsity (its positions carry
    information beyond the per-layer densities), at some, or at none (what it found is, as far as
    these seeds tell, its per-layer densities). ``verdict_only``: that last sentence alone.
    """
    out = []
    for (model, method), rows in table.groupby(["model", "method"], sort=False):
        name = display_name(method)
        parts = []
        for check, by_check in rows.groupby("check", sort=False):
            cells = []
            for r in by_check.sort_values("sparsity").itertuples(index=False):
                interval = f"95% CI {r.ci_low:+.2f} to {r.ci_high:+.2f}" if r.n > 1 else "one seed"
                cells.append(f"{_pct(r.sparsity)}: {r.drop:+.2f} points ({interval}, {r.finding})")
            parts.append(f"accuracy lost with {CHECK_NAMES.get(check, check)}: " + "; ".join(cells))
        text = f"{name} ({model}): " + ". ".join(p[0].upper() + p[1:] for p in parts) + "."
        verdict = ""
        shuffle = rows[rows["check"] == "shuffle"]
        if len(shuffle):
            beats = shuffle[(shuffle["n"] > 1) & (shuffle["ci_low"] > 0)]
            if len(beats) == len(shuffle):
                verdict = (f"{name} ({model}) beats its shuffled mask at every sparsity tested: it found more than "
                           "per-layer densities.")
            elif len(beats):
                verdict = (f"{name} ({model}) beats its shuffled mask at {', '.join(_pct(s) for s in beats['sparsity'])} "
                           "only; elsewhere its positions add nothing detectable to its per-layer densities.")
            else:
                verdict = (f"{name} ({model}) does not beat its shuffled mask at any sparsity tested: what it found "
                           "there is, as far as these seeds tell, a set of per-layer densities.")
        out.append(verdict if verdict_only else f"{text} So {verdict}" if verdict else text)
    return out


def layer_spread_sentences(densities: pd.DataFrame) -> list[str]:
    """Per method: how unevenly it spreads its budget over the layers (densest and sparsest layer, their ratio).

    ``densities``: :func:`drive_lab.analysis.layer_density_table` (rows: ``(label, sparsity)``, columns:
    layers, values: fraction of each layer's weights kept). A layer with no weight kept is named as collapsed.
    """
    out = []
    for key, row in densities.iterrows():
        label, sparsity = key if isinstance(key, tuple) else (key, None)
        row = row.dropna().astype(float)
        if row.empty:
            continue
        densest, sparsest = row.idxmax(), row.idxmin()
        where = f" at {_pct(sparsity)} sparsity" if sparsity is not None else ""
        if row[sparsest] == 0:
            spread = f"{sparsest} keeps no weight (collapsed)"
        elif row[densest] / row[sparsest] < 1.5:
            spread = f"{sparsest} keeps {100 * row[sparsest]:.3g}%: about the same density in every layer"
        else:
            spread = (f"{sparsest} keeps {100 * row[sparsest]:.3g}%, "
                      f"{row[densest] / row[sparsest]:.0f}× less than the densest")
        out.append(f"{label}{where}: {densest} keeps {100 * row[densest]:.3g}% of its weights, {spread}.")
    return out
