"""Executors for :func:`drive_lab.sweep`: local worker processes, a Dask cluster, SLURM.

A sweep accepts any ``concurrent.futures.Executor``-style object (``submit(fn, *args)``
returning a future with ``result()``); every worker writes to the same content-addressed
store, whose per-run claims keep two workers from computing one run. Three ready ways:

Local processes (``python -m drive_lab sweep ... --jobs 2``)::

    from drive_lab.executors import local_executor
    with local_executor(2) as pool:                 # each worker: cores // 2 torch threads
        drive_lab.sweep(base, grid, executor=pool)

Dask (``--dask tcp://scheduler:8786``; ``pip install "dask[distributed]"``)::

    from dask.distributed import Client, LocalCluster
    from drive_lab.executors import dask_workers_for_torch
    dask_workers_for_torch()                        # before the workers start (see its docstring)
    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
        drive_lab.sweep(base, grid, executor=client.get_executor())
    # on a cluster: Client("tcp://scheduler:8786"); every worker needs drive_lab installed
    # and the same results folder (a shared file system), passed as results_dir=; start the
    # workers with the setting dask_workers_for_torch() makes (in their Dask config file:
    # distributed: {nanny: {pre-spawn-environ: {MALLOC_TRIM_THRESHOLD_: null}}})

SLURM through submitit (``pip install submitit``), one job per run::

    import submitit
    executor = submitit.AutoExecutor(folder="slurm_logs")
    executor.update_parameters(timeout_min=120, gpus_per_node=1, cpus_per_task=8, slurm_partition="gpu")
    drive_lab.sweep(base, grid, executor=executor, results_dir="/shared/drive_lab_results")

submitit's jobs are not ``concurrent.futures`` futures; the sweep polls them until done.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Iterator


def worker_threads(jobs: int, cores: int | None = None) -> int:
    """torch threads per worker: ``cores // jobs`` (at least 1); more would make the
    workers' OpenMP threads spin against each other and slow small ops many times."""
    cores = cores or os.cpu_count() or 1
    return max(1, cores // max(1, jobs))


def _start_worker(threads: int, counter, gpus: int) -> None:
    """Runs once in every worker process before its first run."""
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    if gpus > 0:  # one GPU per worker: set before CUDA initialises in this process
        os.environ["CUDA_VISIBLE_DEVICES"] = worker_gpu(index, gpus, os.environ.get("CUDA_VISIBLE_DEVICES"))
    import torch

    from .progress import set_progress

    torch.set_num_threads(threads)
    set_progress(False)  # the parent reports each finished run


def worker_gpu(index: int, gpus: int, visible: str | None = None) -> str:
    """The ``CUDA_VISIBLE_DEVICES`` value for worker ``index`` of a pool on ``gpus`` GPUs.

    Worker i takes visible GPU ``i mod gpus``. ``visible``: the caller's own
    ``CUDA_VISIBLE_DEVICES`` (e.g. ``"2,3"``): its entries name the GPUs the count refers
    to, so worker 0 gets ``"2"``, not physical GPU 0; unset, GPUs are numbered 0..gpus-1.
    """
    entries = [entry.strip() for entry in visible.split(",") if entry.strip()] if visible else []
    if entries:
        return entries[index % min(gpus, len(entries))]
    return str(index % gpus)


def _gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:  # no usable CUDA: CPU workers
        return 0


def local_executor(jobs: int, threads: int | None = None) -> ProcessPoolExecutor:
    """A pool of ``jobs`` worker processes on this machine for :func:`drive_lab.sweep`.

    Each worker uses ``threads`` torch threads (default :func:`worker_threads`); on a
    machine with several GPUs, worker i uses GPU ``i mod count``. Use it as a context
    manager so the workers end with the block.

    Workers never inherit this process's state (safe with CUDA and OpenMP). Where the
    platform has it (Linux, macOS) they are forked from a "forkserver", a fresh
    interpreter that has imported torch and the run code once (no CUDA): every worker
    starts with them imported, and :func:`start_worker_server` can start that server
    before this process imports torch itself (the CLI does for ``--jobs N``). Forked
    workers see the environment variables as they were when that server started (the
    first pool of the process). Elsewhere (Windows) each worker spawns a fresh
    interpreter and imports them itself.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    context = _worker_context()
    counter = context.Value("i", 0)
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_start_worker,
                               initargs=(threads or worker_threads(jobs), counter, _gpu_count()))
    # Start every worker now (the pool would start them one per submitted run): they import
    # torch and the run code while the caller is still checking its configs.
    for _ in range(jobs):
        pool.submit(_import_run_code)
    return pool


def _worker_context():
    """The multiprocessing context of the worker processes: forkserver where available, else spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # What the server imports once, before it forks any worker ("__main__", the default,
    # so functions of the caller's script still unpickle there). Ignored once this
    # process's server runs: it keeps what it has.
    context.set_forkserver_preload(["__main__", "drive_lab.pipeline"])
    return context


def start_worker_server() -> None:
    """Start the server the local workers fork from now (it imports torch and the run code
    in the background), so a pool created later starts its workers at once. No-op where
    workers are spawned instead (Windows)."""
    if _worker_context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def start_worker_server_for(argv: list[str]) -> None:
    """:func:`start_worker_server` when the command line ``argv`` (after ``python -m
    drive_lab``) is a ``sweep`` or ``experiment`` with ``--jobs N``, N > 1, and no ``--dask``.

    Called before the CLI imports torch, so the server's imports and this process's run
    side by side. Anything it cannot read (bad input is the parser's to report) starts
    nothing.
    """
    if not argv or argv[0] not in ("sweep", "experiment") or any(a in ("-h", "--help") for a in argv):
        return
    if any(a == "--dask" or a.startswith("--dask=") for a in argv):
        return
    jobs = None
    for position, arg in enumerate(argv):
        if arg == "--jobs" and position + 1 < len(argv):
            jobs = argv[position + 1]
        elif arg.startswith("--jobs="):
            jobs = arg.split("=", 1)[1]
    if jobs is not None and jobs.isdigit() and int(jobs) > 1:
        start_worker_server()


def _import_run_code() -> None:
    from . import pipeline  # noqa: F401  (the import is the point)


def dask_workers_for_torch() -> None:
    """Let Dask workers started from this process allocate memory as torch expects.

    Dask's nannies set ``MALLOC_TRIM_THRESHOLD_=65536`` in their workers' environment
    (``distributed.nanny.pre-spawn-environ``). Setting it turns off glibc's adaptive mmap
    threshold, so every tensor above 128 KiB is mapped and page-faulted afresh: a
    Fashion-MNIST mlp run took about 1.5x as long in such a worker as in a plain process
    (12.0 s vs 7.9 s, one worker, 2 idle cores). This unsets it, in this process's Dask
    config, for the workers started afterwards (``LocalCluster``, or a worker started from
    Python), and removes Dask's value from this process's environment, where an earlier
    nanny leaves it (spawned workers inherit it); workers started from the shell need the
    same in their config file.
    """
    import dask

    dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})
    if os.environ.get("MALLOC_TRIM_THRESHOLD_") == _DASK_TRIM_THRESHOLD:
        del os.environ["MALLOC_TRIM_THRESHOLD_"]


_DASK_TRIM_THRESHOLD = "65536"  # what distributed's nannies set (distributed.yaml)


@contextlib.contextmanager
def dask_executor(address: str) -> Iterator:
    """A ``concurrent.futures`` executor on the Dask scheduler at ``address``
    (e.g. ``tcp://127.0.0.1:8786``); the client closes with the block."""
    try:
        from distributed import Client
    except ImportError:
        raise ValueError('--dask needs Dask\'s distributed scheduler: pip install "dask[distributed]"') from None
    try:
        client = Client(address, timeout="10s")
    except OSError as error:
        raise ValueError(f"no Dask scheduler answered at {address!r} ({error}); "
                         "start one with `dask scheduler` or check the address") from None
    try:
        yield client.get_executor()
    finally:
        client.close()


@contextlib.contextmanager
def executor_for(jobs: int = 1, dask: str | None = None) -> Iterator:
    """The executor the CLI's ``--jobs N`` / ``--dask ADDRESS`` ask for (``None``: serial)."""
    if dask:
        with dask_executor(dask) as executor:
            yield executor
    elif jobs > 1:
        with local_executor(jobs) as executor:
            try:
                yield executor
            except BaseException:
                executor.shutdown(wait=False, cancel_futures=True)
                raise
    else:
        yield None
