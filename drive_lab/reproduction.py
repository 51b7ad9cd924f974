"""The reproduction report: the study's committed tables turned into docs/reproduction.md.

``python scripts/reproduction_report.py`` (or :func:`write_report`) reads
``results/<preset>/study_*.csv``, never runs anything, and writes the claims table, the
decomposition, the pruning-time ratios, the E x lambda map, the sanity checks and the
literature values, with the command and hardware behind every table. Questions whose table
is not committed yet are listed as pending with the command that produces them. Notebook 07
shows the same tables and figures.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path

import pandas as pd

from . import literature, study
from .analysis import claims
from .analysis.labels import display_name
from .config import RunConfig
from .experiments import command, results, table_path
from .paths import atomic_write, default_tables_dir
from .presets import Preset, get_preset
from .sanity import pruning_identity

REPORT_PATH = Path("docs") / "reproduction.md"
README_START, README_END = "<!-- claims:start -->", "<!-- claims:end -->"


def load_study(preset: str | Preset | None = "cpu", tables_dir: str | os.PathLike | None = None) -> dict[str, pd.DataFrame]:
    """The committed study tables of ``preset`` by question name (missing ones left out; nothing runs)."""
    preset = preset if isinstance(preset, Preset) else get_preset(preset)
    tables = Path(tables_dir) if tables_dir is not None else default_tables_dir()
    out = {}
    for name in study.QUESTIONS:
        if table_path(name, preset, tables).exists():
            out[name] = results(name, preset, tables_dir=tables)
    return out


def study_preset(preset: str | Preset | None = None, tables_dir: str | os.PathLike | None = None) -> Preset:
    """The preset whose committed study tables a notebook shows: ``preset`` when it has any,
    else ``cpu`` (the smoke preset's study is never committed; a GPU machine without
    committed ``gpu`` tables shows the cpu evidence and says how to produce its own)."""
    preset = preset if isinstance(preset, Preset) else get_preset(preset)
    tables = Path(tables_dir) if tables_dir is not None else default_tables_dir()
    if any(table_path(name, preset, tables).exists() for name in study.QUESTIONS):
        return preset
    return get_preset("cpu")


def summary_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per claim and network: how many of its rows are supported, not supported, inconclusive."""
    out = []
    for (paper, model), rows in table.groupby(["paper", "model"], sort=False):
        counts = rows["verdict"].value_counts()
        parts = [f"{counts[v]} {v}" for v in ("supported", "not supported", "inconclusive") if v in counts]
        out.append(f"{paper} ({model}): {', '.join(parts)} of {len(rows)} comparisons "
                   f"({', '.join(sorted({f'{100 * s:.3g}%' for s in rows['sparsity']}))}).")
    return out


def provenance(name: str, preset: Preset, tables_dir: Path) -> dict:
    path = table_path(name, preset, tables_dir).with_suffix(".json")
    return json.loads(path.read_text()) if path.exists() else {}


def _f(value: float, digits: int = 2) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _markdown(frame: pd.DataFrame) -> str:
    columns = list(frame.columns)
    lines = ["| " + " | ".join(map(str, columns)) + " |", "|" + "---|" * len(columns)]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(str(row[c]) for c in columns) + " |")
    return "\n".join(lines)


def _pct(sparsity: float) -> str:
    return f"{100 * sparsity:.3g}%"


def claims_markdown(table: pd.DataFrame, sanity: pd.DataFrame | None = None) -> str:
    """The claims table; with ``sanity`` (a :func:`claims.sanity_table`), a column of both sides' sanity checks."""
    if table.empty:
        return "_No claim can be tested yet: no study table is committed._"
    shown = pd.DataFrame({
        "claim (paper)": table["paper"],
        "our setting": table["setting"],
        "network": table["model"],
        "sparsity": table["sparsity"].map(_pct),
        "a − b, points (95% CI)": [f"{d:+.2f} ({lo:+.2f}, {hi:+.2f})" for d, lo, hi
                                    in zip(table["difference"], table["ci_low"], table["ci_high"])],
        "corrected CI": [f"({lo:+.2f}, {hi:+.2f})" for lo, hi in zip(table["adjusted_low"], table["adjusted_high"])],
        "a / b, %": [f"{a:.2f} / {b:.2f}" for a, b in zip(table["a_mean"], table["b_mean"])],
        "n (a ahead)": [f"{n} ({w})" for n, w in zip(table["n"], table["a_wins"])],
        "rows": table["family_size"],
        "verdict": ["**" + v + "**" for v in table["verdict"]],
    })
    if sanity is not None and not sanity.empty:
        shown["sanity checks of a's and b's masks (drop, points)"] = [
            "; ".join(text for text in (claims.sanity_outcome(sanity, r["model"], r["a"], r["sparsity"]),
                                        claims.sanity_outcome(sanity, r["model"], r["b"], r["sparsity"])) if text) or "–"
            for _, r in table.iterrows()]
    return _markdown(shown)


FIDELITY_PATH = Path("results") / "fidelity" / "effects.json"


def fidelity_markdown(root: str | os.PathLike = ".") -> str:
    """The measured effect of each fidelity choice on the masks, from results/fidelity/effects.json."""
    path = Path(root) / FIDELITY_PATH
    if not path.exists():
        return f"_`{FIDELITY_PATH}` is not committed; `python scripts/fidelity_effects.py` measures it._"
    record = json.loads(path.read_text())
    settings = record.get("settings", {})
    rows = [{"comparison": name, "mean": f"{value['mean']:.2f}",
             "per seed": ", ".join(f"{v:.2f}" for v in value.get("per_seed", []))}
            for name, value in record["figures"].items()]
    return (f"`{record.get('command', 'python scripts/fidelity_effects.py')}` on {record.get('hardware', 'unrecorded hardware')}"
            f" ({settings.get('dataset', '?')}, {settings.get('subset', '?')} images, seeds "
            f"{', '.join(map(str, settings.get('seeds', [])))}; the SNIP and GraSP masks on the `conv` BatchNorm CNN at "
            "initialisation, the classifier shares on CIFAR-shaped VGG-16 and ResNet-18). \"train vs eval mode\" and \"64-example batch vs "
            "10 per class\": the fraction of the weights kept by one choice that the other keeps too (1 = the same "
            "mask); \"classifier share kept\": the fraction of the last layer's weights that magnitude pruning at "
            "initialisation keeps (0 = the classifier is emptied and the network disconnected). Each choice and "
            "its default is in docs/method.md.\n\n" + _markdown(pd.DataFrame(rows)))


_COST_COLUMNS = {"key", "method", "sanity", "seconds_rounds", "seconds_total"}


def compute_seconds(frames: list[pd.DataFrame]) -> float:
    """Seconds of compute the study tables' runs cost, each distinct run once and each IMP
    trajectory once.

    ``frames``: study tables (one row per run, ``key`` and ``seconds_*`` columns). A run in several
    tables counts once. IMP targets that share a trajectory (same settings but the sparsity and
    an after-pruning sanity check, :func:`drive_lab.imp.trajectory_identity`) pay for the shared
    rounds once, the longest member's ``seconds_rounds``, and each its own final training.
    """
    runs = pd.concat(frames, ignore_index=True).drop_duplicates("key")
    imp = runs[runs["method"] == "imp"]
    other = float(runs.loc[runs["method"] != "imp", "seconds_total"].sum())
    if imp.empty:
        return other
    settings = [f.name for f in dataclasses.fields(RunConfig) if f.name in imp.columns and f.name not in ("sparsity", "sanity")]
    imp = imp.assign(_prunes_like=imp["sanity"].map(pruning_identity))
    shared_rounds = imp.groupby(settings + ["_prunes_like"], dropna=False)["seconds_rounds"].max().sum()
    return other + float(shared_rounds) + float((imp["seconds_total"] - imp["seconds_rounds"]).sum())


def added_seconds(frames: list[pd.DataFrame]) -> list[float]:
    """Per table, in order, the seconds its runs add to the tables before it (:func:`compute_seconds`
    of the first i + 1 tables minus that of the first i): what each question costs beyond the others."""
    totals = [0.0] + [compute_seconds(frames[:i + 1]) for i in range(len(frames))]
    return [b - a for a, b in zip(totals, totals[1:])]


def _own_minutes(frame: pd.DataFrame, recorded_seconds: float) -> float:
    """A table's runs' own minutes: :func:`compute_seconds` when it has the columns, else as recorded."""
    return (compute_seconds([frame]) if _COST_COLUMNS <= set(frame.columns) else recorded_seconds) / 60


def study_time_line(preset: Preset, metas: list[dict], frames: list[pd.DataFrame] | None = None,
                    names: list[str] | None = None) -> str:
    """The study's cost: its distinct runs' own seconds (:func:`compute_seconds`) over 2 workers, and
    the invocations' wall time as recorded in the tables' sidecars (:func:`provenance`); with
    ``names`` (one per frame), what each table adds (:func:`added_seconds`)."""
    wall = sum(m.get("wall_seconds") or 0 for m in metas)
    frames = frames if frames and all(_COST_COLUMNS <= set(f.columns) for f in frames) else None
    run_seconds = compute_seconds(frames) if frames else sum(m.get("run_seconds") or 0 for m in metas)
    counted = ("each distinct run once and IMP's shared trajectories once" if frames else
               "IMP's shared trajectories counted once per grid member, so overstated")
    return (f"The whole study is `python -m drive_lab experiment study --preset {preset.name} --jobs 2`. Its runs took "
            f"{run_seconds / 3600:.1f} h of their own time in all ({counted}; timed while other work shared the "
            f"machine), so about {run_seconds / 7200:.1f} h of wall time on 2 workers from an empty store; "
            f"the invocations that wrote the committed tables took {wall / 3600:.1f} h in all (runs already stored "
            "cost nothing; some of them ran side by side)."
            + (" On 2 workers, each table adds (runs not in a table before it): "
               + ", ".join(f"`{n}` {t / 7200:.2f} h" for n, t in zip(names, added_seconds(frames))) + "."
               if frames and names else ""))


def speedup_markdown(table: pd.DataFrame) -> str:
    shown = pd.DataFrame({
        "network": table["model"], "sparsity": table["sparsity"].map(_pct),
        "IMP rounds x T": [f"{r} x {t}" for r, t in zip(table["imp_rounds"], table["epochs"])],
        "IMP pruning time, s": table["imp_seconds"].map(lambda v: _f(v, 1)),
        "DRIVE pruning time, s": table["drive_seconds"].map(lambda v: _f(v, 1)),
        "ratio, measured (95% CI)": [f"{r:.1f}x ({_f(lo, 1)}, {_f(hi, 1)})" for r, lo, hi
                                     in zip(table["ratio"], table["ratio_low"], table["ratio_high"])],
        f"ratio extrapolated to T = {claims.PAPER_EPOCHS} (not measured)": table["ratio_at_paper_epochs"].map(
            lambda v: f"{v:.0f}x"),
        "n": table["n"],
    })
    return _markdown(shown)


def speedup_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The speed-up claim as claims-table rows: supported when the measured ratio's interval lies above 43."""
    low_claim = literature.PAPER_SPEEDUP_CLAIM[0]
    rows = []
    for _, r in table.iterrows():
        low = r["ratio_low"] if math.isfinite(r["ratio_low"]) else float("nan")
        high = r["ratio_high"] if math.isfinite(r["ratio_high"]) else float("nan")
        verdict = ("inconclusive" if math.isnan(low) else "supported" if low >= low_claim
                   else "not supported" if high < low_claim else "inconclusive")
        rows.append({"paper": f"{low_claim:.0f}x to {literature.PAPER_SPEEDUP_CLAIM[1]:.0f}x less pruning time than IMP",
                     "model": r["model"], "sparsity": _pct(r["sparsity"]),
                     "measured": f"{r['ratio']:.1f}x ({_f(low, 1)}, {_f(high, 1)}), n = {r['n']}",
                     "extrapolated to T = 160": f"{r['ratio_at_paper_epochs']:.0f}x", "verdict": f"**{verdict}**"})
    return pd.DataFrame(rows)


def decomposition_markdown(table: pd.DataFrame) -> str:
    shown = pd.DataFrame({
        "network": table["model"], "sparsity": table["sparsity"].map(_pct), "step": table["step"],
        "from → to": [f"{a} → {b}" for a, b in zip(table["from"], table["to"])],
        "points (95% CI)": [f"{d:+.2f} ({_f(lo)}, {_f(hi)})" for d, lo, hi
                            in zip(table["difference"], table["ci_low"], table["ci_high"])],
        "n": table["n"],
    })
    return _markdown(shown)


def sanity_markdown(table: pd.DataFrame) -> str:
    shown = pd.DataFrame({
        "network": table["model"], "method": table["method"].map(display_name), "sparsity": table["sparsity"].map(_pct),
        "check": table["check"], "unmodified, %": table["method_mean"].map(_f), "checked, %": table["check_mean"].map(_f),
        "drop, points (95% CI)": [f"{d:+.2f} ({_f(lo)}, {_f(hi)})" for d, lo, hi
                                  in zip(table["drop"], table["ci_low"], table["ci_high"])],
        "n": table["n"], "reading": table["finding"],
    })
    return _markdown(shown)


def literature_markdown() -> str:
    frame = literature.synflow_cifar10().reset_index()
    frame["sparsity"] = frame["sparsity"].map(lambda s: f"{100 * s:.1f}%")
    frame = frame.rename(columns={m: display_name(m) for m in ("random", "magnitude", "snip", "grasp", "synflow")})
    return _markdown(frame)


def _setting_lines(preset: Preset) -> list[str]:
    lines = [f"- Preset `{preset.name}`: {preset.description}. {preset.study.description}."]
    for arch in preset.study.architectures:
        asked = ", ".join(arch.questions) if arch.questions else "every question"
        lines.append(f"- `{arch.model}`: {arch.note or 'the preset run'}; sparsities "
                     f"{', '.join(map(_pct, arch.sparsities))}; {len(arch.seeds)} seeds for the headline comparisons, "
                     f"{len(arch.ablation_seeds)} for the rest"
                     f"{f' ({len(arch.question5_seeds)} for IMP)' if arch.imp_seeds is not None else ''}; E = {arch.warmup_epochs}, N = {preset.study.iterations_for(arch)}; "
                     f"{asked}.")
    lines.append(f"- Every data-using score sees {preset.study.score_per_class} examples of each class per "
                 "iteration; each keeps its reference BatchNorm mode (SNIP eval, GraSP and DRIVE train).")
    return lines


def report_markdown(preset: str | Preset | None = "cpu", tables_dir: str | os.PathLike | None = None) -> str:
    """docs/reproduction.md for ``preset``'s committed study tables."""
    preset = preset if isinstance(preset, Preset) else get_preset(preset)
    tables_path = Path(tables_dir) if tables_dir is not None else default_tables_dir()
    frames = load_study(preset, tables_path)
    table = claims.claims_table(frames)
    sanity_parts = [frames[name] for name in ("study_sanity", "study_sanity_imp") if name in frames]
    sanity_frame = claims.sanity_table(pd.concat(sanity_parts, ignore_index=True)) if sanity_parts else None
    out = ["# Reproduction study: DRIVE's claims tested", "",
           "Generated by `python scripts/reproduction_report.py` from the committed tables in "
           f"`results/{preset.name}/`; do not edit by hand. The design of each question is in "
           "`drive_lab/study.py`; `python -m drive_lab experiment study --preset "
           f"{preset.name}` regenerates every table (resumably).", "", "## Setting", "", *_setting_lines(preset), ""]
    out += ["## Claims", "",
            "Each row is a paired difference a − b in test-accuracy points, by seed (same initial weights and "
            "batches). Verdicts use intervals corrected within each claim (Bonferroni over the claim's rows, "
            "column \"rows\": each row at 1 − 0.05 / rows, so each claim's verdicts are false with at most 5% "
            "chance): **supported** when the "
            "corrected interval lies on the claimed side (for \"close to IMP\": above "
            f"−{claims.CLOSE_MARGIN_POINTS:g} point), **not supported** when it lies on the other side, "
            "**inconclusive** when it covers the boundary. \"As published\" compares DRIVE after warm-up with the "
            "baseline at initialisation (the paper's comparison, confounded by warm-up and iteration); \"other "
            "things equal\" gives the baseline the same E, N and scoring data. The last column gives the sanity checks "
            "(section below) of each side's mask at that method's own setting: the drop in accuracy when its kept "
            "positions are shuffled within layers, its weights re-initialised or its ranking inverted; ✓ the check "
            "hurts (interval above 0: the method found more than that), ≈ no detectable difference, ✗ the check does "
            "better; – not checked there.", "", claims_markdown(table, sanity_frame), ""]
    if not table.empty:
        out += ["Findings, in words (95% intervals):", ""]
        out += [f"- {r['model']}, {_pct(r['sparsity'])}, {r['setting']}: {r['finding']}." for _, r in table.iterrows()]
        out.append("")
    if "study_scores" in frames:
        cells = claims.accuracy_table(frames["study_scores"])
        cells["cell"] = [f"{m:.2f} ± {sd:.2f}" if n > 1 else f"{m:.2f}" for m, sd, n in zip(cells["mean"], cells["std"], cells["n"])]
        cells["column"] = [f"{model} {_pct(sp)}" for model, sp in zip(cells["model"], cells["sparsity"])]
        cells["method"] = cells["method"].map(display_name)
        grid = cells.pivot_table(index=["method", "warmup_epochs", "iterations"], columns="column", values="cell",
                                 aggfunc="first").fillna("–").reset_index()
        grid = grid.rename(columns={"warmup_epochs": "E", "iterations": "N"})
        out += ["## Accuracy of every cell of question 1 (test accuracy %, mean ± std over seeds)", "",
                "The levels behind the claims: a network trained too briefly, or a collapsed one (10% on ten classes), "
                "shows here.", "", _markdown(grid), ""]
    if "study_imp" in frames:
        speed = claims.speedup(frames["study_imp"])
        out += ["## Pruning time against IMP", "",
                "Pruning time = warm-up + scoring for DRIVE, and the train-prune-rewind rounds for IMP (method.md), "
                "measured on the same machine in the same sweep. The last column scales IMP's round trainings from "
                f"T to the paper's T = {claims.PAPER_EPOCHS} epochs and keeps DRIVE's time: an extrapolation, "
                "marked as such. The claim is supported when the measured ratio's interval lies above "
                f"{literature.PAPER_SPEEDUP_CLAIM[0]:.0f}x.", "", speedup_markdown(speed), "",
                _markdown(speedup_rows(speed)), ""]
    if "study_decomposition" in frames:
        out += ["## Where DRIVE's lead over one-shot SNIP comes from", "",
                "The path SNIP at initialisation → SNIP after warm-up → SNIP iterated → DRIVE: each step changes one "
                "factor of the {E = 0, E} x {1, N} x {SNIP, DRIVE} factorial (other paths differ by interactions).",
                "", decomposition_markdown(claims.decomposition(frames["study_decomposition"])), ""]
    if "study_convergence" in frames:
        for model, part in frames["study_convergence"].groupby("model"):
            grid = claims.convergence_map(part).round(2)
            grid.index = [f"E = {e}" for e in grid.index]
            grid.columns = [f"λ = {c:g}" for c in grid.columns]
            out += [f"## Convergence weight λ against warm-up E ({model}, {_pct(part['sparsity'].iloc[0])}, mean % "
                    f"over {part['seed'].nunique()} seeds)", "", _markdown(grid.reset_index(names="")), ""]
    if sanity_frame is not None:
        out += ["## Sanity checks (Frankle et al. 2021)", "",
                "Each method at its own setting; shuffle = kept positions permuted within each layer; reinit = the "
                "mask with freshly drawn weights; invert = the lowest-ranked weights kept at every iteration. A drop "
                "whose interval lies above 0 means the check destroyed something the method found.", "",
                sanity_markdown(sanity_frame), ""]
    out += ["## Fidelity to the reference implementations: measured effects on the masks", "",
            fidelity_markdown(tables_path.parent), ""]
    out += ["## Literature values (not our measurements)", "",
            f"{literature.SYNFLOW_CIFAR10_SOURCE}; test accuracy, %. A different data set and recipe from ours "
            "(the `gpu` preset is the comparable setting), shown for orientation.", "", literature_markdown(), ""]
    pending = [name for name in study.QUESTIONS if name not in frames
               and any(True for _ in study.QUESTIONS[name][1](preset.run, preset.study))]
    if pending:
        out += ["## Pending", "", "Not committed yet (their claims are missing from the table above):", ""]
        out += [f"- `{name}`: {study.QUESTIONS[name][0]}; `{command(name, preset)}`" for name in pending]
        out.append("")
    metas = {name: provenance(name, preset, tables_path) for name in frames}
    out += ["## Provenance", "", study_time_line(preset, list(metas.values()), list(frames.values()), list(frames)), ""]
    for name, meta in metas.items():
        wall = meta.get("wall_seconds")
        cost = meta.get("run_seconds")
        out.append(f"- `{name}`: {meta.get('runs', len(frames[name]))} runs, `{meta.get('command', command(name, preset))}`"
                   f" on {meta.get('hardware', 'unrecorded hardware')}, {meta.get('created', '')}"
                   + (f"; {_own_minutes(frames[name], cost):.0f} min of its runs' own times" if cost else "")
                   + (f"; the invocation that wrote it took {wall / 60:.1f} min (runs already stored cost nothing)"
                      if wall else "") + ".")
    out.append("")
    return "\n".join(out)


def headline_markdown(preset: str | Preset | None = "cpu", tables_dir: str | os.PathLike | None = None) -> str:
    """The README's headline rows: each claim's verdict at the study's highest sparsity per network."""
    preset = preset if isinstance(preset, Preset) else get_preset(preset)
    table = claims.claims_table(load_study(preset, tables_dir))
    if table.empty:
        return "_The reproduction study's tables are not committed yet; see docs/reproduction.md._"
    top = table[table["sparsity"] == table.groupby("model")["sparsity"].transform("max")]
    shown = pd.DataFrame({
        "claim": top["paper"], "our setting": top["setting"], "network": top["model"],
        "sparsity": top["sparsity"].map(_pct),
        "a − b, points (95% CI)": [f"{d:+.2f} ({lo:+.2f}, {hi:+.2f})" for d, lo, hi
                                    in zip(top["difference"], top["ci_low"], top["ci_high"])],
        "verdict": top["verdict"],
    })
    return (f"Headline rows (preset `{preset.name}`, highest sparsity per network; the full table, the corrected "
            "intervals and the sanity checks are in [docs/reproduction.md](docs/reproduction.md)):\n\n" + _markdown(shown))


def write_report(preset: str | Preset | None = "cpu", root: str | os.PathLike = ".") -> Path:
    """Write docs/reproduction.md and the README's headline block (between its markers) under ``root``."""
    root = Path(root)
    tables = root / "results"
    path = root / REPORT_PATH
    with atomic_write(path) as stream:
        stream.write(report_markdown(preset, tables))
    readme = root / "README.md"
    text = readme.read_text()
    if README_START in text and README_END in text:
        head, rest = text.split(README_START, 1)
        _, tail = rest.split(README_END, 1)
        with atomic_write(readme) as stream:
            stream.write(head + README_START + "\n" + headline_markdown(preset, tables) + "\n" + README_END + tail)
    return path
