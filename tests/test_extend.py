"""`experiment NAME --extend`: a committed table grows by the planned runs it lacks, nothing else reruns."""
import dataclasses
import json

import pytest

from drive_lab import experiments
from drive_lab.presets import get_preset


def test_extend_runs_only_the_missing_rows_and_keeps_the_committed_ones(tmp_path):
    preset = dataclasses.replace(get_preset("smoke"), name="tiny")  # a preset whose tables are written
    tables = tmp_path / "tables"
    first = experiments.results("overview", preset, tables_dir=tables, results_dir=tmp_path / "store1")
    path = experiments.table_path("overview", preset, tables)
    assert len(first) == 3 and path.exists()

    # The store is gone and the plan gained a run the table lacks (simulated by dropping a row).
    lost = first.loc[first["method"] == "drive"].iloc[-1]
    text = path.read_text().splitlines()
    path.write_text("\n".join(line for line in text if not line.startswith(lost["key"])) + "\n")
    store = tmp_path / "store2"
    extended = experiments.results("overview", preset, tables_dir=tables, results_dir=store, extend=True)

    assert len(list(store.rglob("*.json"))) == 1  # one run computed: the missing one
    assert sorted(extended["key"]) == sorted(first["key"])
    kept = extended.set_index("key").drop(lost["key"])
    assert kept["final_test_accuracy"].to_dict() == first.set_index("key").drop(lost["key"])["final_test_accuracy"].to_dict()
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["extended"]["rows_added"] == 1 and meta["extended"]["rows_kept"] == 2
    with pytest.raises(ValueError, match="extend and recompute exclude each other"):
        experiments.results("overview", preset, tables_dir=tables, recompute=True, extend=True)
