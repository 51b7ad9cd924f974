"""Progress in logs: one line per phase (or finished run), not hundreds of bar redraws."""
import os
import subprocess
import sys

from drive_lab.progress import LineProgress


def test_a_run_logs_one_line_per_phase(tmp_path):
    env = {**os.environ, "DRIVE_LAB_RESULTS": str(tmp_path)}
    env.pop("DRIVE_LAB_PROGRESS", None)  # progress on, as for a user; stderr is a pipe, not a terminal
    completed = subprocess.run([sys.executable, "-m", "drive_lab", "run", "--model", "mlp", "--epochs", "2",
                                "--warmup-epochs", "1", "--iterations", "5"],
                               capture_output=True, text=True, timeout=300, env=env)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["warm-up", "pruning", "training"], lines
    assert "5 iterations" in lines[1] and "nan" not in completed.stderr
    assert "test acc=" in lines[2] and "%" in lines[2]


def test_a_sweep_logs_its_finished_runs(tmp_path):
    env = {**os.environ, "DRIVE_LAB_RESULTS": str(tmp_path)}
    env.pop("DRIVE_LAB_PROGRESS", None)
    completed = subprocess.run([sys.executable, "-m", "drive_lab", "sweep", "--model", "mlp", "--epochs", "0",
                                "--warmup-epochs", "0", "--iterations", "1", "--grid", "seed=0,1,2"],
                               capture_output=True, text=True, timeout=300, env=env)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("sweep (0 cached, 3 to run):") for line in lines), lines
    assert "3/3 runs done (seed=2)" in lines[-1]


def test_line_progress_counts_and_reports_once(capsys):
    bar = LineProgress(total=4, desc="phase", unit="step")
    for _ in range(4):
        bar.update()
    bar.set_postfix({"loss": "0.5"})
    bar.close()
    bar.close()
    assert capsys.readouterr().err.count("\n") == 1
    assert list(LineProgress(range(3), desc="loop")) == [0, 1, 2]
    assert "loop: 3 its in" in capsys.readouterr().err
