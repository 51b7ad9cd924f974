"""The GPU benchmark's code paths, run on the CPU (its dry run), so a GPU session finds a working script.

Timings are never asserted (benchmarks/ measures them); only that every part runs and
records what it should.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from drive_lab import data

ROOT = Path(__file__).resolve().parents[1]


def _fashion_mnist_available() -> bool:
    try:
        data.check_available("fashion_mnist")
    except Exception:
        return False
    return True


@pytest.mark.skipif(not _fashion_mnist_available(), reason="part (d) reads Fashion-MNIST")
def test_gpu_benchmark_dry_run_completes_every_part(tmp_path):
    output = tmp_path / "gpu-dry-run.json"
    completed = subprocess.run(
        [sys.executable, "benchmarks/bench_gpu.py", "--allow-cpu", "--skip-compile", "--models", "resnet18",
         "--e2e-epochs", "1", "--e2e-warmup-epochs", "0", "--e2e-iterations", "2", "--e2e-subset", "64",
         "--e2e-test-subset", "50", "--output", str(output)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    record = json.loads(output.read_text())
    assert record["dry_run"] is True
    assert {name: part["status"] for name, part in record["parts"].items()} == {
        "tests": "ok", "training": "ok", "scoring": "ok", "e2e": "ok"}
    scoring = record["parts"]["scoring"]["models"]["resnet18"]
    assert set(scoring["seconds"]) == {"plain_forward_backward", "drive", "drive_plus_keep_top",
                                       "drive_survivors_plus_keep_top_survivors"}
    assert scoring["ratio_pruner_route"] > 0 and scoring["kept_after_keep_top"] < scoring["prunable_weights"]
    assert "DRY RUN" in completed.stderr
