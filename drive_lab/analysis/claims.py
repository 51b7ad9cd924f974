"""The paper's claims tested on the reproduction study's tables, and the sentences that state the results.

Inputs are the study's result frames (one row per run, as :func:`drive_lab.experiments.results`
returns them), keyed by question: ``{"study_scores": frame, ...}``. Every comparison is
paired by seed (same initial weights and batches), so the seed-to-seed noise the two runs
share cancels; intervals are Student-t intervals of the mean paired difference.

Verdicts use a Bonferroni correction within each claim: a claim tested in ``m`` rows (networks,
sparsities, settings) gets the ``1 - 0.05 / m`` interval in each row, so the chance that any of
that claim's verdicts is a false "supported" or "not supported" is at most 5%. Each claim is its
own family (a reader asks about one claim at a time); across the whole table, about 5% of the
claims could still carry one false verdict. The table shows the plain 95% interval and the
corrected one.

Verdicts, per row:

* ``supported``: the corrected interval lies wholly on the claimed side (above 0 for "beats";
  above ``-margin`` for "close to");
* ``not supported``: it lies wholly on the other side;
* ``inconclusive``: it covers the boundary (no detectable difference in this setting).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .findings import describe
from .labels import display_name
from .tables import paired_difference

CONFIDENCE = 0.95
CLOSE_MARGIN_POINTS = 1.0  # "close to IMP": DRIVE at most this many points below IMP
PAPER_EPOCHS = 160  # the paper's T (CIFAR-10), for the marked extrapolation of IMP's cost


@dataclass(frozen=True)
class Comparison:
    """One claims-table row before its verdict: ``a − b`` paired by seed, in accuracy points."""

    claim: str
    paper: str
    setting: str
    model: str
    sparsity: float
    a: str
    b: str
    n: int
    difference: float  # points
    sem: float  # points
    a_mean: float  # %
    b_mean: float  # %
    a_wins: int
    margin: float = 0.0  # the claimed side is difference > -margin


def _half_width(sem: float, n: int, confidence: float) -> float:
    from scipy import stats

    if n < 2 or not math.isfinite(sem):
        return float("nan")
    return float(sem * stats.t.ppf(1 - (1 - confidence) / 2, n - 1))


def verdict(low: float, high: float, margin: float = 0.0) -> str:
    """``supported`` when ``low > -margin``, ``not supported`` when ``high < -margin``, else ``inconclusive``."""
    if math.isnan(low) or math.isnan(high):
        return "inconclusive"
    if low > -margin:
        return "supported"
    if high < -margin:
        return "not supported"
    return "inconclusive"


# ------------------------------------------------------------------------------- variants of a run
def _setting(row) -> str:
    return f"E={int(row['warmup_epochs'])}, N={int(row['iterations'])}"


def _variant(frame: pd.DataFrame, method: str | None = None, **fields) -> pd.Series:
    keep = pd.Series(True, index=frame.index)
    if method is not None:
        keep &= frame["method"] == method
    for name, value in fields.items():
        keep &= frame[name] == value
    return keep


def _compare(frame: pd.DataFrame, a: pd.Series, b: pd.Series, claim: str, paper: str, setting: str, a_name: str,
             b_name: str, sparsities: Sequence[float] | None = None, margin: float = 0.0) -> list[Comparison]:
    rows = []
    tagged = pd.concat([frame[a].assign(_variant="a"), frame[b].assign(_variant="b")])
    for model in dict.fromkeys(tagged["model"]):
        part = tagged[tagged["model"] == model]
        if set(part["_variant"]) != {"a", "b"}:
            continue
        table = paired_difference(part, "a", "b", by=("sparsity",), column="_variant", pair_on=("seed",))
        for _, t in table.iterrows():
            if sparsities is not None and not any(math.isclose(t["sparsity"], s) for s in sparsities):
                continue
            if t["n"] == 0:
                continue
            rows.append(Comparison(claim, paper, setting, model, float(t["sparsity"]), a_name, b_name, int(t["n"]),
                                   100 * float(t["difference"]), 100 * float(t["sem"]), 100 * float(t["mean_a"]),
                                   100 * float(t["mean_b"]), int(t["a_wins"]), margin))
    return rows


def high_sparsities(frame: pd.DataFrame, threshold: float = 0.98) -> list[float]:
    """The sparsities of ``frame`` at or above ``threshold`` (the paper's "high sparsity")."""
    return sorted(s for s in set(frame["sparsity"]) if s >= threshold - 1e-9)


def fair_setting(frame: pd.DataFrame, model: str | None = None) -> tuple[int, int]:
    """(E, N) of the study's fair setting in a ``study_scores`` frame: DRIVE's warm-up and iterations."""
    rows = frame[(frame["method"] == "drive") & (frame["warmup_epochs"] > 0)]
    if model is not None:
        rows = rows[rows["model"] == model]
    if rows.empty:
        raise ValueError("the frame has no DRIVE run with warm-up (E > 0): not a study_scores table")
    return int(rows["warmup_epochs"].max()), int(rows["iterations"].max())


# ------------------------------------------------------------------------------- the claims
def score_comparisons(scores: pd.DataFrame) -> list[Comparison]:
    """Claims 1-2: DRIVE beats SNIP and SynFlow at high sparsity, as the paper compares and other things equal."""
    rows = []
    high = high_sparsities(scores)
    for model in dict.fromkeys(scores["model"]):
        part = scores[scores["model"] == model]
        e, n = fair_setting(part)
        drive = _variant(part, "drive", warmup_epochs=e, iterations=n)
        for rival, paper in (("snip", "DRIVE beats SNIP at high sparsity"),
                             ("synflow", "DRIVE beats SynFlow at high sparsity"),
                             ("prospr", "(not the paper's: a later method) DRIVE beats ProsPr at high sparsity")):
            if not (part["method"] == rival).any():
                continue  # ProsPr is in the study on some networks only
            published_n = n if rival == "synflow" else 1  # SynFlow is published with 100 iterations at init
            at_init = _variant(part, rival, warmup_epochs=0, iterations=published_n)
            if not at_init.any():
                at_init = _variant(part, rival, warmup_epochs=0, iterations=1)
                published_n = 1
            rows += _compare(part, drive, at_init, f"beats {display_name(rival)}", paper,
                             f"as published: DRIVE E={e}, N={n} vs {display_name(rival)} E=0, N={published_n}",
                             "DRIVE", display_name(rival), high)
            rows += _compare(part, drive, _variant(part, rival, warmup_epochs=e, iterations=n),
                             f"beats {display_name(rival)}", paper,
                             f"other things equal: both E={e}, N={n}", "DRIVE", display_name(rival), high)
    return rows


def imp_comparisons(imp: pd.DataFrame) -> list[Comparison]:
    """Claim 3: DRIVE is close to IMP (at most ``CLOSE_MARGIN_POINTS`` below)."""
    drive = imp["method"] == "drive"
    return _compare(imp, drive, imp["method"] == "imp", "close to IMP", "DRIVE's accuracy is close to IMP's",
                    "DRIVE E, N vs IMP (20% per round, rewind to init)", "DRIVE", "IMP", None,
                    margin=CLOSE_MARGIN_POINTS)


def term_comparisons(terms: pd.DataFrame) -> list[Comparison]:
    """Claim 4: convergence sensitivity matters (the full score beats the score without it)."""
    sum_rows = terms["combine"] == "sum"
    full = sum_rows & (terms["magnitude"] == 1) & (terms["connection"] == 1) & (terms["convergence"] == 1)
    without = sum_rows & (terms["magnitude"] == 1) & (terms["connection"] == 1) & (terms["convergence"] == 0)
    return _compare(terms, full, without, "convergence sensitivity matters",
                    "the convergence-sensitivity term improves DRIVE", "DRIVE full vs without convergence (c = 0)",
                    "DRIVE (full)", "without convergence", high_sparsities(terms))


def warmup_comparisons(decomposition: pd.DataFrame, budget: pd.DataFrame | None = None) -> list[Comparison]:
    """Claim 5: warm-up helps; at fixed T (decomposition) and at equal E + T (budget)."""
    rows = []
    for model in dict.fromkeys(decomposition["model"]):
        part = decomposition[(decomposition["model"] == model) & (decomposition["method"] == "drive")]
        e = int(part["warmup_epochs"].max())
        n = int(part["iterations"].max())
        rows += _compare(part, _variant(part, warmup_epochs=e, iterations=n), _variant(part, warmup_epochs=0, iterations=n),
                         "warm-up helps", "a few warm-up epochs before pruning improve accuracy",
                         f"fixed T: DRIVE E={e} vs E=0 (N={n}), warm-up epochs on top", f"DRIVE E={e}", "DRIVE E=0",
                         high_sparsities(part))
    if budget is not None and not budget.empty:
        for model in dict.fromkeys(budget["model"]):
            part = budget[(budget["model"] == model) & (budget["method"] == "drive")]
            # the equal budget's total: E = 0 trains longest, T = E + T (the design of study_budget)
            total = int(part.loc[part["warmup_epochs"] == 0, "epochs"].max())
            warm = sorted(set(part.loc[part["warmup_epochs"] > 0, "warmup_epochs"]))
            for e in warm:
                a = _variant(part, warmup_epochs=e) & (part["epochs"] == total - e)
                b = _variant(part, warmup_epochs=0) & (part["epochs"] == total)
                rows += _compare(part, a, b, "warm-up helps", "a few warm-up epochs before pruning improve accuracy",
                                 f"equal budget E + T = {total}: DRIVE E={e}, T={total - e} vs E=0, T={total}",
                                 f"DRIVE E={e}", "DRIVE E=0")
    return rows


def speedup(imp: pd.DataFrame, paper_epochs: int = PAPER_EPOCHS) -> pd.DataFrame:
    """Claim 6: IMP's pruning time over DRIVE's, paired by seed, per model and sparsity.

    Columns: ``model, sparsity, n, ratio`` (geometric mean of the per-seed ratios of
    ``seconds_pruning``), ``ratio_low, ratio_high`` (95% t-interval of the mean log ratio,
    exponentiated), ``imp_rounds``, ``epochs`` (T of the runs) and ``ratio_at_paper_epochs``:
    the same ratio with IMP's round trainings scaled from T to ``paper_epochs`` epochs and
    DRIVE's pruning time unchanged (warm-up and scoring do not grow with T). That last
    column is an extrapolation, not a measurement.
    """
    rows = []
    for model in dict.fromkeys(imp["model"]):
        part = imp[imp["model"] == model]
        for sparsity in sorted(set(part["sparsity"])):
            at = part[np.isclose(part["sparsity"], sparsity)]
            a = at[at["method"] == "imp"].set_index("seed")
            b = at[at["method"] == "drive"].set_index("seed")
            seeds = a.index.intersection(b.index)
            if len(seeds) == 0:
                continue
            logs = np.log(a.loc[seeds, "seconds_pruning"].to_numpy() / b.loc[seeds, "seconds_pruning"].to_numpy())
            n = len(logs)
            sem = logs.std(ddof=1) / math.sqrt(n) if n > 1 else float("nan")
            half = _half_width(sem, n, CONFIDENCE)
            epochs = int(a.loc[seeds, "epochs"].iloc[0])
            scaled = (a.loc[seeds, "seconds_rounds"] * paper_epochs / epochs
                      + a.loc[seeds, "seconds_scoring"] + a.loc[seeds, "seconds_warmup"])
            rows.append({
                "model": model, "sparsity": sparsity, "n": n, "ratio": float(np.exp(logs.mean())),
                "ratio_low": float(np.exp(logs.mean() - half)) if n > 1 else float("nan"),
                "ratio_high": float(np.exp(logs.mean() + half)) if n > 1 else float("nan"),
                "imp_rounds": int(a.loc[seeds, "iterations"].iloc[0]), "epochs": epochs,
                "imp_seconds": float(a.loc[seeds, "seconds_pruning"].mean()),
                "drive_seconds": float(b.loc[seeds, "seconds_pruning"].mean()),
                "ratio_at_paper_epochs": float(np.exp(np.log(scaled.to_numpy() / b.loc[seeds, "seconds_pruning"].to_numpy()).mean())),
            })
    return pd.DataFrame(rows)


def claims_table(tables: Mapping[str, pd.DataFrame], confidence: float = CONFIDENCE) -> pd.DataFrame:
    """One row per claim, architecture, setting and sparsity, with the effect and the verdict.

    ``tables``: study frames by question name; questions not present are left out (their
    claims are reported as pending by the report). Columns: ``claim, paper, setting, model,
    sparsity, a, b, n, a_mean, b_mean, difference`` (points), ``ci_low, ci_high``
    (``confidence`` interval), ``adjusted_low, adjusted_high`` (Bonferroni within the claim),
    ``family_size`` (the claim's rows), ``adjusted_confidence``, ``a_wins, verdict, finding``
    (the sentence).
    """
    comparisons: list[Comparison] = []
    if "study_scores" in tables:
        comparisons += score_comparisons(tables["study_scores"])
    if "study_imp" in tables:
        comparisons += imp_comparisons(tables["study_imp"])
    if "study_terms" in tables:
        comparisons += term_comparisons(tables["study_terms"])
    if "study_decomposition" in tables:
        comparisons += warmup_comparisons(tables["study_decomposition"], tables.get("study_budget"))
    family = {}
    for c in comparisons:
        family[c.paper] = family.get(c.paper, 0) + 1
    rows = []
    for c in comparisons:
        adjusted = 1 - (1 - confidence) / family[c.paper]
        half = _half_width(c.sem, c.n, confidence)
        half_adjusted = _half_width(c.sem, c.n, adjusted)
        low, high = c.difference - half, c.difference + half
        rows.append({
            "claim": c.claim, "paper": c.paper, "setting": c.setting, "model": c.model, "sparsity": c.sparsity,
            "a": c.a, "b": c.b, "n": c.n, "a_mean": c.a_mean, "b_mean": c.b_mean, "difference": c.difference,
            "ci_low": low, "ci_high": high, "adjusted_low": c.difference - half_adjusted,
            "adjusted_high": c.difference + half_adjusted, "family_size": family[c.paper],
            "adjusted_confidence": adjusted, "a_wins": c.a_wins,
            "verdict": verdict(c.difference - half_adjusted, c.difference + half_adjusted, c.margin),
            "finding": describe(c.difference, low, high, c.n, c.a, c.b, c.a_wins, confidence=confidence),
        })
    table = pd.DataFrame(rows)
    table.attrs.update(confidence=confidence, family_sizes=family)
    return table


def decomposition(frame: pd.DataFrame) -> pd.DataFrame:
    """DRIVE(E, N) − SNIP(0, 1) split along the path warm-up → iteration → score, per model and sparsity.

    Steps (each a paired difference in points, with its 95% interval): ``warm-up`` = SNIP(E, 1)
    − SNIP(0, 1); ``iteration`` = SNIP(E, N) − SNIP(E, 1); ``score`` = DRIVE(E, N) − SNIP(E, N);
    ``total`` = DRIVE(E, N) − SNIP(0, 1) (the sum of the three). Along another path through
    the factorial the steps differ by the factors' interactions.
    """
    rows = []
    for model in dict.fromkeys(frame["model"]):
        part = frame[frame["model"] == model]
        e, n = int(part["warmup_epochs"].max()), int(part["iterations"].max())
        cells = {(m, w, k): _variant(part, m, warmup_epochs=w, iterations=k)
                 for m in ("snip", "drive") for w in (0, e) for k in (1, n)}
        steps = [("warm-up", ("snip", e, 1), ("snip", 0, 1)), ("iteration", ("snip", e, n), ("snip", e, 1)),
                 ("score", ("drive", e, n), ("snip", e, n)), ("total", ("drive", e, n), ("snip", 0, 1))]
        for step, a, b in steps:
            for c in _compare(part, cells[a], cells[b], step, "", f"{a} − {b}", str(a), str(b)):
                half = _half_width(c.sem, c.n, CONFIDENCE)
                rows.append({"model": model, "sparsity": c.sparsity, "step": step,
                             "from": f"{display_name(b[0])} E={b[1]}, N={b[2]}",
                             "to": f"{display_name(a[0])} E={a[1]}, N={a[2]}", "n": c.n,
                             "difference": c.difference, "ci_low": c.difference - half, "ci_high": c.difference + half})
    return pd.DataFrame(rows)


def sanity_table(frame: pd.DataFrame, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Per method, model and sparsity: accuracy unmodified and under each check, and the paired drop.

    Columns: ``model, method, sparsity, check, n, method_mean`` (%), ``check_mean`` (%),
    ``drop`` (points, unmodified − check), ``ci_low, ci_high``, ``finding``: when the drop's
    95% interval lies above 0, "positions matter" (shuffle), "the weights' values matter"
    (reinit) or "the ranking beats its reverse" (invert); below 0, "the <check> check does
    better"; else "no detectable difference" (a survived shuffle would mean the method found
    only per-layer densities).
    """
    rows = []
    meaning = {"shuffle": "positions matter", "reinit": "the weights' values matter",
               "invert": "the ranking beats its reverse"}
    for model in dict.fromkeys(frame["model"]):
        for method in dict.fromkeys(frame["method"]):
            part = frame[(frame["model"] == model) & (frame["method"] == method)]
            for check in ("shuffle", "reinit", "invert"):
                if not (part["sanity"] == check).any():
                    continue
                for c in _compare(part, part["sanity"] == "none", part["sanity"] == check, check, "", "", method, check):
                    half = _half_width(c.sem, c.n, confidence)
                    low, high = c.difference - half, c.difference + half
                    finding = ("no detectable difference" if not (math.isfinite(low) and (low > 0 or high < 0))
                               else meaning[check] if low > 0 else f"the {check} check does better")
                    rows.append({"model": model, "method": method, "sparsity": c.sparsity, "check": check, "n": c.n,
                                 "method_mean": c.a_mean, "check_mean": c.b_mean, "drop": c.difference,
                                 "ci_low": low, "ci_high": high, "finding": finding})
    return pd.DataFrame(rows)


SANITY_MARKS = {"detected": "✓", "none": "≈", "reversed": "✗"}


def sanity_outcome(sanity: pd.DataFrame, model: str, label: str, sparsity: float) -> str:
    """The sanity checks of the method shown as ``label`` (its display name) at ``model``, ``sparsity``, in short.

    ``sanity``: a :func:`sanity_table`. Returns e.g. ``"DRIVE: shuffle +13.3 ✓, reinit +2.3 ✓,
    invert +72.8 ✓"`` (drops in points; ✓ the check hurts, its interval above 0; ≈ no
    detectable difference; ✗ the check does better), or ``""`` when ``label`` names no
    method checked there (e.g. "DRIVE E=0", or a network the checks did not run on).
    """
    if sanity is None or sanity.empty:
        return ""
    rows = sanity[(sanity["model"] == model) & np.isclose(sanity["sparsity"], sparsity)
                  & (sanity["method"].map(display_name) == label)]
    if rows.empty:
        return ""
    parts = []
    for _, r in rows.iterrows():
        mark = (SANITY_MARKS["none"] if r["finding"] == "no detectable difference"
                else SANITY_MARKS["reversed"] if r["finding"].endswith("check does better") else SANITY_MARKS["detected"])
        parts.append(f"{r['check']} {r['drop']:+.1f} {mark}")
    return f"{label}: " + ", ".join(parts)


def accuracy_table(frame: pd.DataFrame, by: Sequence[str] = ("model", "method", "warmup_epochs", "iterations", "sparsity")
                   ) -> pd.DataFrame:
    """Mean, standard deviation and n of the final test accuracy (%) for each cell of a design."""
    grouped = frame.groupby(list(by))["final_test_accuracy"]
    table = grouped.agg(["mean", "std", "count"]).reset_index()
    table["mean"] *= 100
    table["std"] *= 100
    return table.rename(columns={"count": "n"})


def convergence_map(frame: pd.DataFrame) -> pd.DataFrame:
    """The E x lambda map: mean accuracy (%) with E as rows and lambda as columns (one model)."""
    table = frame.groupby(["warmup_epochs", "convergence"])["final_test_accuracy"].mean().unstack("convergence")
    return 100 * table
