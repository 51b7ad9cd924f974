"""python -m drive_lab: --help documents every flag; a run prints a table and writes JSON."""
import dataclasses
import json
import subprocess
import sys

import pytest

from drive_lab import cli
from drive_lab.config import RunConfig


def test_help_documents_every_config_field(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for f in dataclasses.fields(RunConfig):
        flag = "--" + f.name.replace("_", "-")
        assert flag in text, f"{flag} missing from --help"
    assert "drive,random,magnitude,snip,grasp,prospr,synflow,imp,dense" in text.replace(" ", "").replace("\n", "")


def test_run_prints_summary_and_writes_json(tmp_path, capsys):
    out = tmp_path / "result.json"
    code = cli.main(["run", "--quiet", "--epochs", "1", "--warmup-epochs", "1", "--iterations", "3",
                     "--subset", "300", "--test-subset", "100", "--sparsity", "0.8", "--device", "cpu",
                     "--output", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "final test accuracy" in text and "achieved sparsity" in text and "features.0.weight" in text
    record = json.loads(out.read_text())
    assert record["config"]["sparsity"] == 0.8 and record["config"]["iterations"] == 3
    assert record["kept_weights"] == round(0.2 * record["prunable_weights"])


def test_default_output_goes_to_results_store(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DRIVE_LAB_RESULTS", str(tmp_path))
    cli.main(["run", "--quiet", "--epochs", "0", "--warmup-epochs", "0", "--iterations", "1", "--subset", "100",
              "--test-subset", "50", "--device", "cpu"])
    written = list((tmp_path / "runs").glob("*.json"))
    assert len(written) == 1
    assert written[0].stem == RunConfig(epochs=0, warmup_epochs=0, iterations=1, subset=100, test_subset=50).key()


@pytest.mark.parametrize("argv,message", [
    (["run", "--sparsity", "1.5"], "sparsity must be a number strictly between 0 and 1"),
    (["run", "--method", "obd"], "invalid choice"),
    (["run", "--iterations", "0"], "iterations must be >= 1"),
    (["run", "--epochs", "-3"], "epochs must be an integer >= 0"),
])
def test_bad_flags_give_clear_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_module_entry_point_runs():
    completed = subprocess.run([sys.executable, "-m", "drive_lab", "--help"], capture_output=True, text=True)
    assert completed.returncode == 0 and "run" in completed.stdout and "sweep" in completed.stdout


def test_experiment_spot_check_prints_the_comparison(tmp_path, capsys):
    from drive_lab import experiments
    from drive_lab.presets import get_preset
    from drive_lab.sweep import run_configs

    smoke = get_preset("smoke")
    frame = run_configs(experiments.get_experiment("overview").configs(smoke), results_dir=tmp_path / "store")
    experiments.write_table(frame, "overview", smoke, experiments.table_path("overview", smoke, tmp_path))
    capsys.readouterr()
    assert cli.main(["experiment", "overview", "--preset", "smoke", "--spot-check", "1", "--tables-dir",
                     str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "overview: 1 of 1 recomputed runs identical to the table" in out and "table acc" in out
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["experiment", "overview", "--preset", "smoke", "--spot-check", "1", "--recompute"])
    assert exit_info.value.code == 2
    assert "excludes --recompute and --extend" in capsys.readouterr().err
