"""Result keys: stable across releases and new fields, and every committed run still resolves."""
import csv
import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

import drive_lab
from drive_lab import version
from drive_lab.config import LEGACY_VALUES, RunConfig, key_content, parse_value

TABLES = sorted((Path(__file__).resolve().parents[1] / "results").glob("*/*.csv"))
TABLES = [path for path in TABLES if path.parent.name != "benchmarks"]
FIELDS = [f.name for f in dataclasses.fields(RunConfig)]


def _config_of(row: dict) -> RunConfig:
    values = {}
    for name in FIELDS:
        column = "requested_device" if name == "device" else name
        if column not in row:  # a field added after the table was written: what those runs used
            if name in LEGACY_VALUES:
                values[name] = LEGACY_VALUES[name]
            continue
        text = row[column]
        values[name] = None if text == "" else parse_value(name, text)
    return RunConfig(**values)


@pytest.mark.parametrize("table", TABLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_committed_run_keeps_its_key(table):
    """The committed tables were written by 0.1.0: their keys must still address their configs."""
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert rows
    for row in rows:
        assert _config_of(row).key() == row["key"], f"{table.name}: {row['key']} no longer resolves"


def test_key_is_the_schema_one_hash_written_out_by_hand():
    """An independent computation of schema 1's hash: the config columns of a table written
    by 0.1.0 (all its fields but the device) and the schema's label."""
    header = TABLES[0].read_text(encoding="utf-8").splitlines()[0].split(",")
    old_fields = header[1: header.index("requested_device")]
    config = RunConfig(method="snip", sparsity=0.95, seed=3, **LEGACY_VALUES)  # what 0.1.0 computed
    fields = {name: getattr(config.resolved(), name) for name in old_fields}
    blob = json.dumps({"config": fields, "version": "0.1.0"}, sort_keys=True)
    assert config.key() == hashlib.sha256(blob.encode()).hexdigest()[:16]


def test_a_new_default_that_changes_results_gets_new_keys():
    """The reference initialisation changed what a default run computes: its key moved,
    while a run asking for 0.1.0's initialisation keeps 0.1.0's key."""
    header = TABLES[0].read_text(encoding="utf-8").splitlines()[0].split(",")
    old_fields = header[1: header.index("requested_device")]
    legacy = RunConfig(init="legacy")
    blob = json.dumps({"config": {name: getattr(legacy.resolved(), name) for name in old_fields},
                       "version": "0.1.0"}, sort_keys=True)
    assert legacy.key() == hashlib.sha256(blob.encode()).hexdigest()[:16] != RunConfig().key()
    assert key_content(RunConfig())["config"]["init"] == "reference"


def test_key_does_not_depend_on_the_package_version(monkeypatch):
    before = RunConfig(sparsity=0.8).key()
    monkeypatch.setattr(version, "__version__", "9.9.9")
    monkeypatch.setattr(drive_lab, "__version__", "9.9.9", raising=False)
    assert RunConfig(sparsity=0.8).key() == before


def test_adding_a_field_with_a_default_leaves_old_keys_unchanged():
    Extended = dataclasses.make_dataclass(
        "Extended", [("future_field", str, dataclasses.field(default="eval"))], bases=(RunConfig,), frozen=True)
    for changes in ({}, {"method": "snip", "sparsity": 0.98}, {"method": "imp", "seed": 2}, {"method": "dense"}):
        assert Extended(**changes).key() == RunConfig(**changes).key()
    changed = Extended(future_field="train")
    assert changed.key() != RunConfig().key()
    assert key_content(changed)["config"]["future_field"] == "train"
    assert "future_field" not in key_content(Extended())["config"]


def test_device_and_other_methods_fields_do_not_split_a_run():
    assert RunConfig(device="cpu").key() == RunConfig(device="auto").key()
    # DRIVE's term weights mean nothing to SNIP: one run whatever they say
    assert RunConfig(method="snip", convergence=0.0).key() == RunConfig(method="snip").key()
    assert RunConfig(method="drive", convergence=0.0).key() != RunConfig(method="drive").key()
    # a method default written out is the same run as the default left to the method
    assert RunConfig(method="drive", warmup_epochs=3, iterations=100).key() == RunConfig(method="drive").key()
