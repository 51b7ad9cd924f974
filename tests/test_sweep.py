"""ResultStore and sweep: resuming, caching, corruption, atomic writes, the DataFrame, the CLI."""
import datetime
import json
import os
import warnings

import pandas as pd
import pytest

import drive_lab
from drive_lab import cli, pipeline
from drive_lab import paths as paths_module
from drive_lab import results as results_module
from drive_lab.config import RunConfig
from drive_lab.results import RunResult
from drive_lab.store import ResultStore
from drive_lab.sweep import COLUMNS, expand_grid, load_results, parse_value, sweep

BASE = RunConfig(epochs=1, warmup_epochs=0, iterations=2, subset=200, test_subset=100, device="cpu")
GRID = {"sparsity": [0.5, 0.7, 0.9], "seed": [0, 1]}


class FakeRunner:
    """``config -> RunResult`` without training; counts calls; optionally raises on call ``fail_on``."""

    def __init__(self, fail_on=None, error=KeyboardInterrupt):
        self.calls = []
        self.fail_on, self.error = fail_on, error

    def __call__(self, config):
        if self.fail_on is not None and len(self.calls) + 1 == self.fail_on:
            self.calls.append(None)
            raise self.error("stop here")
        self.calls.append(config)
        config = config.resolved()
        kept = round((1 - config.sparsity) * 1000)
        return RunResult(
            key=config.key(), config=config.to_dict(),
            final_test_accuracy=0.9 - 0.1 * config.sparsity + 0.01 * config.seed, best_test_accuracy=0.95,
            final_test_loss=0.3, density=kept / 1000, kept_weights=kept, prunable_weights=1000,
            layer_density={"fc1.weight": kept / 1000}, collapsed_layers=["fc2.weight"] if config.sparsity > 0.8 else [],
            seconds={"warmup": 1.0, "scoring": 0.5, "pruning": 1.5, "training": 2.0, "total": 3.5},
            environment={"drive_lab": drive_lab.__version__, "device": "cpu"},
            created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        )

    @property
    def computed(self):
        return [c for c in self.calls if c is not None]


@pytest.fixture(autouse=True)
def quiet():
    drive_lab.set_progress(False)


def json_files(tmp_path):
    return sorted((tmp_path / "runs").glob("*.json"))


def test_interrupted_sweep_resumes_without_recomputing(tmp_path):
    first = FakeRunner(fail_on=3)
    with pytest.raises(KeyboardInterrupt):
        sweep(BASE, GRID, results_dir=tmp_path, runner=first)
    assert len(first.computed) == 2 and len(json_files(tmp_path)) == 2

    second = FakeRunner()
    df = sweep(BASE, GRID, results_dir=tmp_path, runner=second)
    assert len(second.calls) == 4
    assert {c.key() for c in second.computed}.isdisjoint(c.key() for c in first.computed)
    assert len(df) == 6 and df.key.is_unique
    assert list(zip(df.sparsity, df.seed)) == [(s, seed) for s in GRID["sparsity"] for seed in GRID["seed"]]
    assert df.attrs["computed"] == 4 and df.attrs["cached"] == 2


def test_crash_in_a_run_stops_the_sweep_and_keeps_finished_runs(tmp_path):
    runner = FakeRunner(fail_on=2, error=RuntimeError)
    with pytest.raises(RuntimeError, match="stop here"):
        sweep(BASE, GRID, results_dir=tmp_path, runner=runner)
    assert len(json_files(tmp_path)) == 1


def test_second_identical_sweep_computes_nothing(tmp_path):
    first = sweep(BASE, GRID, results_dir=tmp_path, runner=FakeRunner())
    runner = FakeRunner()
    again = sweep(BASE, GRID, results_dir=tmp_path, runner=runner)
    assert runner.calls == [] and again.attrs["computed"] == 0 and again.attrs["cached"] == 6
    pd.testing.assert_frame_equal(first, again)
    # A grid point equal to the method default (DRIVE: E = 3) is the same run as None.
    runner = FakeRunner()
    df = sweep(BASE.replace(warmup_epochs=None), {"warmup_epochs": [None, 3]}, results_dir=tmp_path, runner=runner)
    assert len(runner.calls) == 1 and len(df) == 1


def test_corrupt_records_are_moved_aside_and_recomputed(tmp_path):
    sweep(BASE, GRID, results_dir=tmp_path, runner=FakeRunner())
    files = json_files(tmp_path)
    truncated, wrong_key, wrong_config = files[:3]
    originals = {p.name: p.read_text() for p in files[:3]}
    truncated.write_text(originals[truncated.name][:50])
    record = json.loads(originals[wrong_key.name])
    record["key"] = files[3].stem
    wrong_key.write_text(json.dumps(record))
    record = json.loads(originals[wrong_config.name])
    record["config"]["lr"] = 0.123  # edited config: its key no longer matches the file name
    wrong_config.write_text(json.dumps(record))

    runner = FakeRunner()
    with pytest.warns(UserWarning) as caught:
        df = sweep(BASE, GRID, results_dir=tmp_path, runner=runner)
    messages = "\n".join(str(w.message) for w in caught)
    assert truncated.name in messages and "invalid JSON" in messages
    assert wrong_key.name in messages and "does not match the file name" in messages
    assert wrong_config.name in messages
    assert len(runner.calls) == 3 and len(df) == 6
    moved = sorted((tmp_path / "runs" / "corrupt").iterdir())
    assert len(moved) == 3
    assert {p.name.split(".json.")[0] + ".json" for p in moved} == set(originals)
    assert all(json.loads(p.read_text())["key"] == p.stem for p in json_files(tmp_path))

    # a record with a field missing is corrupt too; store.get warns, moves it and returns None
    store = ResultStore(tmp_path)
    config = BASE.replace(**{"sparsity": 0.5, "seed": 0})
    record = json.loads(store.path(config).read_text())
    del record["density"]
    store.path(config).write_text(json.dumps(record))
    with pytest.warns(UserWarning, match="not a RunResult record"):
        assert store.get(config) is None
    assert not store.path(config).exists() and len(list(store.corrupt_dir.iterdir())) == 4


def test_crash_while_writing_leaves_no_record(tmp_path, monkeypatch):
    store = ResultStore(tmp_path)
    store.put(FakeRunner()(BASE))  # one good record
    result = FakeRunner()(BASE.replace(sparsity=0.6))

    def half_dump(values, f, **kwargs):
        f.write(json.dumps(values)[:40])
        raise OSError("disk full")

    monkeypatch.setattr(results_module.json, "dump", half_dump)
    with pytest.raises(OSError, match="disk full"):
        store.put(result)
    monkeypatch.undo()

    def no_replace(src, dst):
        raise OSError("killed before rename")

    monkeypatch.setattr(paths_module.os, "replace", no_replace)
    with pytest.raises(OSError, match="killed before rename"):
        store.put(result)
    monkeypatch.undo()

    assert [p.stem for p in json_files(tmp_path)] == [BASE.key()]
    assert store.get(result_config := BASE.replace(sparsity=0.6)) is None
    # a temp file left by a killed writer (another process) is ignored, then cleaned when old
    orphan = tmp_path / "runs" / f".{result_config.key()}.json.tmp-99999"
    orphan.write_text('{"key": "trunc')
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [r.key for r in store.records()] == [BASE.key()]
        assert len(load_results(tmp_path)) == 1
    assert orphan.exists()
    os.utime(orphan, (0, 0))
    assert store.clean_temp_files() == [orphan] and not orphan.exists()
    # put refuses a result whose key does not belong to its config
    result.key = BASE.key()
    with pytest.raises(ValueError, match="not the key of its config"):
        store.put(result)


def test_load_results_columns_and_env_var(tmp_path, monkeypatch):
    empty = load_results(tmp_path / "nothing")
    assert empty.empty and list(empty.columns) == list(COLUMNS)

    monkeypatch.setenv("DRIVE_LAB_RESULTS", str(tmp_path))
    assert ResultStore().root == tmp_path
    df = sweep(BASE, {"sparsity": [0.5, 0.9]}, runner=FakeRunner())
    assert len(json_files(tmp_path)) == 2
    loaded = load_results()
    assert len(loaded) == 2 and list(loaded.columns) == list(COLUMNS)
    assert set(loaded.key) == set(df.key)
    row = loaded.set_index("sparsity").loc[0.9]
    assert row.method == "drive" and row.requested_device == "cpu" and row.device == "cpu"
    assert row.sparsity_achieved == pytest.approx(0.9) and row.density == pytest.approx(0.1)
    assert row.collapsed_layers == "fc2.weight" and row.n_collapsed == 1
    assert loaded.set_index("sparsity").loc[0.5].collapsed_layers == ""
    assert row.layer_density == {"fc1.weight": pytest.approx(0.1)}
    assert row.seconds_pruning == 1.5 and row.seconds_total == 3.5 and row.version == drive_lab.__version__
    # records of `python -m drive_lab run` live in the same place and are reused
    monkeypatch.setattr(pipeline, "run", FakeRunner())
    assert cli.main(["run", "--epochs", "1", "--warmup-epochs", "0", "--iterations", "2", "--subset", "200",
                     "--test-subset", "100", "--device", "cpu", "--sparsity", "0.7", "--quiet"]) == 0
    runner = FakeRunner()
    assert len(sweep(BASE, {"sparsity": [0.5, 0.7, 0.9]}, runner=runner)) == 3 and runner.calls == []


def test_expand_grid_order_and_validation():
    configs = expand_grid(BASE, {"method": ["drive", "snip"], "sparsity": [0.5, 0.9], "lr": [1]})
    assert [(c.method, c.sparsity) for c in configs] == [("drive", 0.5), ("drive", 0.9), ("snip", 0.5), ("snip", 0.9)]
    assert configs[0].lr == 1.0 and isinstance(configs[0].lr, float)
    assert expand_grid(BASE, {}) == [BASE]
    with pytest.raises(ValueError, match="unknown RunConfig field.*sparsty.*valid fields: method, model"):
        expand_grid(BASE, {"sparsty": [0.5]})
    with pytest.raises(ValueError, match="'seed' has no values"):
        expand_grid(BASE, {"seed": []})
    runner = FakeRunner()
    with pytest.raises(ValueError, match="sparsity must be a number strictly between 0 and 1"):
        sweep(BASE, {"seed": [0, 1], "sparsity": [0.5, 1.5]}, runner=runner)  # fails before anything runs
    assert runner.calls == []
    assert parse_value("warmup_epochs", "none") is None and parse_value("warmup_epochs", "3") == 3
    assert parse_value("nesterov", "true") is True and parse_value("augment", "None") is None
    assert parse_value("sparsity", "0.5") == 0.5 and parse_value("method", "snip") == "snip"
    with pytest.raises(ValueError, match="integer"):
        parse_value("seed", "1.5")


def test_cli_sweep(tmp_path, monkeypatch, capsys):
    runner = FakeRunner()
    monkeypatch.setattr(pipeline, "run", runner)
    flags = ["--epochs", "1", "--warmup-epochs", "0", "--iterations", "2", "--subset", "200", "--test-subset", "100",
             "--device", "cpu", "--results-dir", str(tmp_path), "--quiet"]
    csv = tmp_path / "table.csv"
    assert cli.main(["sweep", *flags, "--grid", "method=drive,random", "sparsity=0.5,0.9", "--grid", "seed=0",
                     "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert len(runner.calls) == 4 and len(json_files(tmp_path)) == 4
    assert "final acc %" in out and "pruning s" in out and "random" in out and str(tmp_path / "runs") in out
    table = pd.read_csv(csv)
    assert len(table) == 4 and "layer_density" not in table.columns and "final_test_accuracy" in table.columns
    assert cli.main(["sweep", *flags, "--grid", "method=drive,random", "sparsity=0.5,0.9"]) == 0
    assert len(runner.calls) == 4 and "0 computed, 4 from the store" in capsys.readouterr().out

    for bad, message in [("sparsty=0.5", "valid fields: method, model"), ("sparsity", "FIELD=V1,V2"),
                         ("seed=a", "integer"), ("sparsity=0.5,1.5", "strictly between"), ("seed=", "empty value")]:
        with pytest.raises(SystemExit):
            cli.main(["sweep", *flags, "--grid", bad])
        assert message in capsys.readouterr().err
    assert len(runner.calls) == 4


def test_real_tiny_sweep(tmp_path):
    drive_lab.set_progress(False)
    df = sweep(BASE, {"sparsity": [0.5, 0.8]}, results_dir=tmp_path, runner=drive_lab.run)
    assert len(df) == 2 and df.attrs["computed"] == 2
    assert df.sparsity_achieved.tolist() == pytest.approx([0.5, 0.8], abs=1e-3)
    assert df.final_test_accuracy.between(0, 1).all() and (df.device == "cpu").all()
    assert (df.seconds_pruning > 0).all() and df.warmup_epochs.tolist() == [0, 0]
    never = FakeRunner(fail_on=1, error=AssertionError)
    again = sweep(BASE, {"sparsity": [0.5, 0.8]}, results_dir=tmp_path, runner=never)
    assert never.calls == [] and again.final_test_accuracy.tolist() == df.final_test_accuracy.tolist()


def test_imp_sparsity_grid_runs_one_trajectory(tmp_path, monkeypatch):
    """A sweep over IMP sparsities goes through one trajectory, and stores every target."""
    import drive_lab.imp as imp_module

    drive_lab.set_progress(False)
    calls = []
    real = imp_module.run_imp_targets
    monkeypatch.setitem(pipeline.PROCEDURES, "imp", pipeline.Procedure(
        imp_module.run_imp, lambda configs: calls.append([c.sparsity for c in configs]) or real(configs),
        imp_module.trajectory_identity))
    base = RunConfig(method="imp", epochs=1, subset=200, test_subset=100, device="cpu", batch_size=100)
    frame = drive_lab.sweep(base, {"sparsity": [0.2, 0.36]}, results_dir=tmp_path)
    assert calls == [[0.2, 0.36]]
    assert list(frame["iterations"]) == [1, 2] and frame.attrs["computed"] == 2
    again = drive_lab.sweep(base, {"sparsity": [0.2, 0.36]}, results_dir=tmp_path)
    assert again.attrs["computed"] == 0 and calls == [[0.2, 0.36]]


def test_imp_after_pruning_checks_share_the_trajectory_but_invert_does_not():
    """shuffle and reinit prune like the unmodified run (one unit); invert prunes otherwise."""
    from drive_lab.sweep import work_units

    base = RunConfig(method="imp", epochs=1, subset=200, test_subset=100, device="cpu")
    todo = [base.replace(sparsity=s, sanity=c) for s in (0.2, 0.36) for c in ("none", "shuffle", "reinit", "invert")]
    todo += [base.replace(seed=1), RunConfig(method="drive", sparsity=0.2), RunConfig(method="drive", sparsity=0.36)]
    units = work_units(todo)
    shapes = sorted((u[0].method, u[0].seed, sorted({c.sanity for c in u}), len(u)) for u in units)
    assert shapes == [("drive", 0, ["none"], 1), ("drive", 0, ["none"], 1),
                      ("imp", 0, ["invert"], 2), ("imp", 0, ["none", "reinit", "shuffle"], 6),
                      ("imp", 1, ["none"], 1)]
