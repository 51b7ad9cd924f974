"""The reproduction report is generated from committed tables: claims, pending questions, README block."""
from __future__ import annotations

import pandas as pd

from drive_lab import reproduction
from drive_lab.experiments import write_table
from drive_lab.presets import get_preset

from test_claims import _scores_frame


def _commit(tmp_path, name, frame):
    frame = frame.assign(collapsed_layers="", key=[f"k{i}" for i in range(len(frame))])
    write_table(frame, name, get_preset("cpu"), tmp_path / "results" / "cpu" / f"{name}.csv")


def test_report_states_verdicts_and_lists_what_is_pending(tmp_path):
    _commit(tmp_path, "study_scores", _scores_frame(0.01))
    text = reproduction.report_markdown("cpu", tmp_path / "results")
    assert text.count("| **supported** |") == 4 and "| **not supported** |" not in text
    assert "DRIVE is ahead of SNIP by 1.00 points" in text
    pending = text.split("## Pending", 1)[1]
    assert "study_imp" in pending and "study_scores" not in pending.split("## Provenance")[0]


def test_write_report_replaces_only_the_readme_block(tmp_path):
    _commit(tmp_path, "study_scores", _scores_frame(-0.02, noise=0.001))
    (tmp_path / "README.md").write_text("before\n<!-- claims:start -->\nold\n<!-- claims:end -->\nafter\n")
    path = reproduction.write_report("cpu", tmp_path)
    readme = (tmp_path / "README.md").read_text()
    assert readme.startswith("before\n<!-- claims:start -->\n") and readme.endswith("<!-- claims:end -->\nafter\n")
    assert "old" not in readme and "| not supported |" in readme
    assert path.read_text().startswith("# Reproduction study")


def test_no_tables_no_claims(tmp_path):
    text = reproduction.report_markdown("cpu", tmp_path / "results")
    assert "No claim can be tested yet" in text
    assert reproduction.load_study("cpu", tmp_path / "results") == {}


def test_report_gives_fidelity_effects_and_study_time(tmp_path):
    import json
    _commit(tmp_path, "study_scores", _scores_frame(0.01))
    (tmp_path / "results" / "fidelity").mkdir(parents=True)
    (tmp_path / "results" / "fidelity" / "effects.json").write_text(json.dumps(
        {"command": "python scripts/fidelity_effects.py", "settings": {"dataset": "fashion_mnist", "subset": 5000, "seeds": [0]},
         "figures": {"snip train vs eval mode, 90%": {"mean": 0.34, "per_seed": [0.34]}}}))
    text = reproduction.report_markdown("cpu", tmp_path / "results")
    fidelity = text.split("## Fidelity", 1)[1].split("##", 1)[0]
    assert "| snip train vs eval mode, 90% | 0.34 | 0.34 |" in fidelity
    assert "python -m drive_lab experiment study --preset cpu --jobs 2" in text.split("## Provenance", 1)[1]


def test_the_study_cost_counts_each_run_once_and_each_imp_trajectory_once():
    import pandas as pd

    from drive_lab.reproduction import added_seconds, compute_seconds

    def row(key, method, sparsity, sanity, rounds, total):
        return {"key": key, "method": method, "model": "mlp", "seed": 0, "sparsity": sparsity, "sanity": sanity,
                "seconds_rounds": rounds, "seconds_total": total}

    drive = row("d", "drive", 0.98, "none", 0.0, 5.0)
    table_a = pd.DataFrame([drive, row("i90", "imp", 0.9, "none", 10.0, 13.0), row("i98", "imp", 0.98, "none", 30.0, 34.0)])
    table_b = pd.DataFrame([drive, row("i98", "imp", 0.98, "none", 30.0, 34.0),
                            row("s98", "imp", 0.98, "shuffle", 30.0, 35.0),   # after pruning: the same trajectory
                            row("v98", "imp", 0.98, "invert", 40.0, 45.0)])   # prunes differently: its own
    # DRIVE once (5); rounds: the shared trajectory's longest (30) and invert's (40); each IMP
    # run's own final training: 3 + 4 + 5 + 5
    assert compute_seconds([table_a, table_b]) == 5 + 30 + 40 + (3 + 4 + 5 + 5)
    # table_a alone: DRIVE, the trajectory's 30 s, two final trainings; table_b adds invert's
    # own trajectory (40) and the two new runs' final trainings (5 + 5)
    assert added_seconds([table_a, table_b]) == [5 + 30 + 3 + 4, 40 + 5 + 5]
