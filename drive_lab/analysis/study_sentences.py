"""The reproduction study's tables in sentences, as the course notebooks state them.

Each function takes one of the study's tables (:mod:`drive_lab.study`) and returns the
sentences a notebook prints: paired by seed, with the interval and the number of seeds
(:func:`.findings.paired_sentences`).
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import pandas as pd

from .claims import convergence_map, fair_setting
from .findings import paired_sentences
from .labels import add_labels
from .tables import paired_difference

__all__ = ["convergence_sentences", "emptied_layer_sentences", "fair_score_sentences", "term_sentences"]


def _prefixed(prefix: str, lines: list[str]) -> list[str]:
    """``lines`` with ``prefix`` in front, each line's first letter lowered to continue it."""
    return [f"{prefix}{line[0].lower()}{line[1:]}" for line in lines]


def fair_score_sentences(scores: pd.DataFrame, rivals: Sequence[str] = ("snip", "synflow", "grasp", "magnitude",
                                                                      "random")) -> list[str]:
    """DRIVE against each rival score at the same (E, N), paired by seed, per network and sparsity.

    ``scores``: a ``study_scores`` table. Each sentence names the network, the setting and
    the sparsity, with the paired interval (:func:`~drive_lab.analysis.findings.paired_sentences`).
    """
    out = []
    for model in dict.fromkeys(scores["model"]):
        part = scores[scores["model"] == model]
        e, n = fair_setting(part)
        same = part[(part["warmup_epochs"] == e) & (part["iterations"] == n)]
        for rival in rivals:
            if not (same["method"] == rival).any():
                continue
            table = paired_difference(same, "drive", rival, column="method")
            out += _prefixed(f"{model}, both E = {e}, N = {n}, ", paired_sentences(table))
    return out


def term_sentences(terms: pd.DataFrame, variant: str = "without convergence") -> list[str]:
    """DRIVE (full) against ``variant`` per network and sparsity of a ``study_terms`` table, paired by seed."""
    out = []
    labelled = add_labels(terms)
    for model in dict.fromkeys(labelled["model"]):
        part = labelled[labelled["model"] == model]
        if not (part["label"] == variant).any():
            continue
        table = paired_difference(part, "DRIVE (full)", variant)
        out += _prefixed(f"{model}, ", paired_sentences(table))
    return out


def convergence_sentences(frame: pd.DataFrame) -> list[str]:
    """The E x λ map of a ``study_convergence`` table (one model) in words: where it peaks, and
    per E the default λ = 1 against the term dropped (λ = 0), paired by seed."""
    table = convergence_map(frame)
    stacked = table.stack()
    (best_e, best_l), (worst_e, worst_l) = stacked.idxmax(), stacked.idxmin()
    spread = (table.max(axis=1) - table.min(axis=1))
    out = [f"The map peaks at E = {int(best_e)}, λ = {best_l:g} ({stacked.max():.2f}%) and is lowest at E = {int(worst_e)}, "
           f"λ = {worst_l:g} ({stacked.min():.2f}%); across λ at one E the means differ by at most {spread.max():.2f} "
           f"points, across E by up to {(table.max(axis=0) - table.min(axis=0)).max():.2f}."]
    if {0.0, 1.0} <= set(frame["convergence"]):
        pairs = paired_difference(frame, 1.0, 0.0, by="warmup_epochs", column="convergence")
        out += paired_sentences(pairs.rename(columns={"warmup_epochs": "E"}), a="λ = 1", b="λ = 0", where=("E",))
    return out


def emptied_layer_sentences(frame: pd.DataFrame, names: pd.Series | None = None) -> list[str]:
    """Which layers each variant of a result table empties (density 0), in how many of its runs.

    ``frame``: result rows with a ``layer_density`` column of ``{layer: fraction kept}`` dicts.
    One sentence per variant, in the table's order, layers in network order, with the
    variant's mean test accuracy when the frame has ``final_test_accuracy``. A variant is a
    :func:`~drive_lab.analysis.labels.add_labels` label, or a name of ``names`` (one per row
    of ``frame``, same index), e.g. :func:`drive_lab.browser.label_runs`, which also names
    the settings (E, N) that tell runs of one method apart.
    """
    out = []
    labelled = add_labels(frame)
    if names is not None:
        if len(names) != len(frame) or not names.index.equals(frame.index):
            raise ValueError(f"names must have one entry per row of frame, with its index; got {len(names)} "
                             f"for {len(frame)} rows")
        labelled["label"] = names.astype(str).to_numpy()
    for label in dict.fromkeys(labelled["label"]):
        part = labelled[labelled["label"] == label]
        densities = list(part["layer_density"])
        emptied = Counter(layer for run in densities for layer, kept in run.items() if kept == 0)
        runs = f"{len(densities)} run{'s' if len(densities) != 1 else ''}"
        accuracy = (f"; mean test accuracy {100 * part['final_test_accuracy'].mean():.2f}%"
                    if "final_test_accuracy" in part else "")
        if not emptied:
            out.append(f"{label} keeps weights in every layer ({runs}{accuracy}).")
            continue
        order = list(densities[0])
        listed = ", ".join(f"{layer} ({emptied[layer]} of {len(densities)})"
                           for layer in sorted(emptied, key=order.index))
        out.append(f"{label} empties {len(emptied)} of {len(order)} layers in at least one of {runs}{accuracy}: "
                   f"{listed}.")
    return out
