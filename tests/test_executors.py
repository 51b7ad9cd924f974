"""Sweeps on executors: local worker processes and a Dask cluster give the serial records."""
import json
import os
import subprocess
import sys
from concurrent.futures import Future
from pathlib import Path

import pytest

import drive_lab
from drive_lab.config import RunConfig
from drive_lab.executors import dask_workers_for_torch, local_executor, worker_gpu, worker_threads
from drive_lab.sweep import sweep

BASE = RunConfig(method="drive", model="mlp", dataset="digits", epochs=1, warmup_epochs=0, iterations=2,
                 subset=300, test_subset=100, device="cpu")
GRID = {"sparsity": [0.5, 0.9], "seed": [0, 1]}
OUTCOME = ("final_test_accuracy", "final_test_loss", "kept_weights", "layer_density")


@pytest.fixture(autouse=True)
def quiet():
    drive_lab.set_progress(False)


def _records(folder):
    records = {}
    for path in sorted((folder / "runs").glob("*.json")):
        record = json.loads(path.read_text())
        records[path.stem] = {name: record[name] for name in OUTCOME}
    return records


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serial")
    frame = sweep(BASE, GRID, results_dir=folder)
    assert frame.attrs["computed"] == 4
    return _records(folder)


def test_worker_threads_divide_the_cores():
    assert worker_threads(2, cores=2) == 1 and worker_threads(3, cores=16) == 5 and worker_threads(8, cores=2) == 1


def test_workers_take_one_visible_gpu_each():
    # No restriction: GPUs 0..n-1, round robin.
    assert [worker_gpu(i, 2) for i in range(4)] == ["0", "1", "0", "1"]
    # The caller restricted CUDA to physical GPUs 2 and 3: the workers share those two.
    assert [worker_gpu(i, 2, "2,3") for i in range(3)] == ["2", "3", "2"]
    assert [worker_gpu(i, 2, "GPU-aaaa, GPU-bbbb") for i in range(2)] == ["GPU-aaaa", "GPU-bbbb"]
    assert worker_gpu(5, 1, "7") == "7"


def test_local_workers_give_the_serial_records(tmp_path, serial):
    with local_executor(2) as pool:
        frame = sweep(BASE, GRID, results_dir=tmp_path, executor=pool)
    assert frame.attrs["computed"] == 4 and len(frame) == 4
    assert _records(tmp_path) == serial
    with local_executor(2) as pool:  # everything stored: nothing is submitted
        assert sweep(BASE, GRID, results_dir=tmp_path, executor=pool).attrs["computed"] == 0


def test_cli_jobs_two(tmp_path, serial):
    completed = subprocess.run(
        [sys.executable, "-m", "drive_lab", "sweep", "--model", "mlp", "--epochs", "1", "--warmup-epochs", "0",
         "--iterations", "2", "--subset", "300", "--test-subset", "100", "--device", "cpu", "--jobs", "2",
         "--grid", "sparsity=0.5,0.9", "seed=0,1", "--results-dir", str(tmp_path), "--quiet"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "DRIVE_LAB_PROGRESS": "0"})
    assert completed.returncode == 0, completed.stderr
    assert "4 computed" in completed.stdout and _records(tmp_path) == serial


@pytest.mark.parametrize("argv, starts", [
    (["sweep", "--jobs", "2", "--grid", "seed=0,1"], True),
    (["experiment", "overview", "--jobs=3"], True),
    (["sweep", "--jobs", "1"], False),            # serial: no workers
    (["sweep", "--grid", "seed=0,1"], False),
    (["run", "--jobs", "2"], False),              # not a sweep (the parser refuses it)
    (["sweep", "--jobs", "2", "--dask", "tcp://127.0.0.1:8786"], False),
    (["sweep", "--jobs", "two"], False),          # bad input: the parser's to report
    (["sweep", "--jobs", "2", "--help"], False),
    ([], False),
])
def test_the_cli_starts_the_worker_server_only_for_local_workers(monkeypatch, argv, starts):
    from drive_lab import executors

    calls = []
    monkeypatch.setattr(executors, "start_worker_server", lambda: calls.append(True))
    executors.start_worker_server_for(argv)
    assert bool(calls) is starts


def test_python_m_drive_lab_does_not_import_torch_before_starting_the_server():
    """The server must start while the parent is still importing torch, not after."""
    script = (
        "import sys, drive_lab.executors as e\n"
        "seen = []\n"
        "e.start_worker_server = lambda: seen.append('torch' in sys.modules)\n"
        "e.start_worker_server_for(['sweep', '--jobs', '2'])\n"
        "print(seen)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[False]"
    main = (Path(drive_lab.__file__).parent / "__main__.py").read_text()
    assert main.index("start_worker_server_for") < main.index("from .cli import main")


class PollOnly:
    """An executor whose futures only offer done()/result(), like submitit's jobs."""

    class Job:
        def __init__(self, future):
            self.future = future

        def done(self):
            return self.future.done()

        def result(self):
            return self.future.result()

        def cancel(self):
            return self.future.cancel()

    def __init__(self, inner):
        self.inner = inner

    def submit(self, fn, *args):
        return self.Job(self.inner.submit(fn, *args))


def test_any_executor_with_submit_and_result(tmp_path, serial):
    with local_executor(2) as pool:
        frame = sweep(BASE, GRID, results_dir=tmp_path, executor=PollOnly(pool))
    assert frame.attrs["computed"] == 4 and _records(tmp_path) == serial
    assert not isinstance(PollOnly(pool).Job(Future()), Future)


def test_dask_local_cluster_gives_the_serial_records(tmp_path, serial):
    distributed = pytest.importorskip("distributed")
    import dask

    with dask.config.set({}):  # restores the config afterwards
        dask_workers_for_torch()
        _dask_sweeps(distributed, tmp_path, serial)


def _dask_sweeps(distributed, tmp_path, serial):
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        # dask_workers_for_torch: the workers keep glibc's adaptive allocator (no trim threshold)
        assert set(client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_").values()) == {None}
        frame = sweep(BASE, GRID, results_dir=tmp_path, executor=client.get_executor())
        assert frame.attrs["computed"] == 4 and _records(tmp_path) == serial
        # the CLI's --dask ADDRESS reaches the same scheduler
        completed = subprocess.run(
            [sys.executable, "-m", "drive_lab", "sweep", "--model", "mlp", "--epochs", "1", "--warmup-epochs", "0",
             "--iterations", "2", "--subset", "300", "--test-subset", "100", "--device", "cpu",
             "--dask", cluster.scheduler_address, "--grid", "sparsity=0.5,0.9", "seed=0,1,2",
             "--results-dir", str(tmp_path), "--quiet"],
            capture_output=True, text=True, timeout=300)
        assert completed.returncode == 0, completed.stderr
        assert "2 computed, 4 from the store" in completed.stdout


def test_unreachable_dask_scheduler_is_a_clear_error(tmp_path):
    pytest.importorskip("distributed")
    completed = subprocess.run(
        [sys.executable, "-m", "drive_lab", "sweep", "--epochs", "0", "--dask", "tcp://127.0.0.1:9",
         "--results-dir", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2 and "no Dask scheduler answered" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_workers_compute_without_progress_output(tmp_path):
    from drive_lab import progress
    from drive_lab.config import RunConfig
    from drive_lab.sweep import compute_unit_quietly

    seen = []

    def runner(config):
        seen.append(progress.progress_enabled())
        raise RuntimeError("stop here")  # nothing needs to be computed for this check

    progress.set_progress(True)
    try:
        with pytest.raises(RuntimeError):
            compute_unit_quietly([RunConfig(epochs=0)], str(tmp_path), runner)
        assert seen == [False]
        assert progress.progress_enabled()  # the caller's setting is back afterwards
    finally:
        progress._enabled = None
