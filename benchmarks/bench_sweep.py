#!/usr/bin/env python
"""Wall time of one sweep of small runs: serial, ``--jobs N`` local workers, a Dask LocalCluster.

    python benchmarks/bench_sweep.py                    # 8 runs, 2 workers, writes results/benchmarks/sweep-cpu.json
    python benchmarks/bench_sweep.py --size tiny --output results/benchmarks/sweep-tiny-cpu.json

Each variant is the whole ``python -m drive_lab sweep`` process (start-up included) on a
fresh temporary store, so nothing is reused between them; the records of every variant
are compared with the serial ones (they must be identical: same keys, same numbers).
Benchmark on a quiet machine: another busy process on the same cores distorts the ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drive_lab.runtime import environment, resolve_device  # noqa: E402


# Run sizes: "tiny" runs (about 0.7 s each on 2 idle cores) show the fixed costs of a
# sweep process and its workers; "study" runs are the cpu preset's DRIVE runs on the mlp
# (10,000 images, E = 1, N = 100, T = 8, 98% sparsity; about 5 s each), what
# the reproduction study's sweeps are made of.
SIZES = {
    "tiny": dict(subset=3000, epochs=2, iterations=20, warmup_epochs=1, test_subset=1000),
    "study": dict(subset=10000, epochs=8, iterations=100, warmup_epochs=1, test_subset=None),
}


def sweep_command(store: Path, args, extra: list[str]) -> list[str]:
    seeds = ",".join(str(seed) for seed in range(args.runs))
    size = SIZES[args.size]
    test = ["--test-subset", str(size["test_subset"])] if size["test_subset"] else []
    return [sys.executable, "-m", "drive_lab", "sweep", "--model", args.model, "--dataset", args.dataset,
            "--epochs", str(size["epochs"]), "--warmup-epochs", str(size["warmup_epochs"]),
            "--iterations", str(size["iterations"]), "--subset", str(size["subset"]), "--sparsity", "0.98",
            *test, "--device", "cpu", "--quiet", "--results-dir", str(store), "--grid", f"seed={seeds}", *extra]


def records(store: Path) -> dict:
    out = {}
    for path in sorted((store / "runs").glob("*.json")):
        record = json.loads(path.read_text())
        out[path.stem] = (record["final_test_accuracy"], record["final_test_loss"], record["kept_weights"])
    return out


def run_seconds(store: Path) -> float:
    """Sum of the runs' own total times (each record's ``seconds.total``), in seconds."""
    return sum(json.loads(path.read_text())["seconds"]["total"] for path in (store / "runs").glob("*.json"))


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "DRIVE_LAB_PROGRESS": "0"})
    seconds = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit(f"failed: {shlex.join(command)}\n{completed.stderr}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=8, help="runs in the sweep (seeds 0..runs-1)")
    parser.add_argument("--jobs", type=int, default=2, help="local workers / Dask workers")
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--size", choices=sorted(SIZES), default="study",
                        help="run size: study (the cpu preset's mlp runs, default) or tiny (fixed costs dominate)")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask variant")
    parser.add_argument("--output", default=str(ROOT / "results" / "benchmarks" / "sweep-cpu.json"))
    args = parser.parse_args(argv)

    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="drive_lab_bench_sweep_") as tmp:
        tmp = Path(tmp)
        serial_store, jobs_store, dask_store = tmp / "serial", tmp / "jobs", tmp / "dask"
        figures["serial_s"] = timed(sweep_command(serial_store, args, []))
        print(f"serial: {figures['serial_s']:.1f} s", flush=True)
        figures["jobs_s"] = timed(sweep_command(jobs_store, args, ["--jobs", str(args.jobs)]))
        print(f"--jobs {args.jobs}: {figures['jobs_s']:.1f} s", flush=True)
        reference = records(serial_store)
        figures["jobs_records_identical"] = records(jobs_store) == reference
        # How much slower each run computes beside another (shared caches, memory bandwidth,
        # SMT siblings): the speed-up's ceiling is jobs / this.
        figures["serial_run_s"] = run_seconds(serial_store)
        figures["jobs_run_s"] = run_seconds(jobs_store)
        figures["jobs_run_slowdown"] = figures["jobs_run_s"] / figures["serial_run_s"]
        print(f"  runs' own time: serial {figures['serial_run_s']:.1f} s, --jobs {args.jobs} "
              f"{figures['jobs_run_s']:.1f} s ({figures['jobs_run_slowdown']:.2f}x slower side by side)", flush=True)
        if not args.no_dask:
            from distributed import LocalCluster

            from drive_lab.executors import dask_workers_for_torch

            dask_workers_for_torch()

            with LocalCluster(n_workers=args.jobs, threads_per_worker=1, host="127.0.0.1",
                              dashboard_address=None) as cluster:
                figures["dask_s"] = timed(sweep_command(dask_store, args, ["--dask", cluster.scheduler_address]))
            figures["dask_records_identical"] = records(dask_store) == reference
            print(f"--dask (LocalCluster, {args.jobs} workers, started beforehand): {figures['dask_s']:.1f} s", flush=True)
    figures["jobs_speedup"] = figures["serial_s"] / figures["jobs_s"]
    if "dask_s" in figures:
        figures["dask_speedup"] = figures["serial_s"] / figures["dask_s"]
    env = environment(resolve_device("cpu"))
    out = {"command": shlex.join([sys.executable, *sys.argv]), "settings": vars(args), "figures": figures,
           "hardware": f"{env['processor']} ({env['cpu_model']}, {env['cpu_capability']}), {env['cpu_count']} CPU cores", "environment": env}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
