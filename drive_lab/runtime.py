"""Compute device, seeding and a record of the software/hardware environment."""
from __future__ import annotations

import contextlib
import os
import platform
import random
import sys
from typing import Iterator

import numpy as np
import torch

from .version import __version__


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The compute device: ``device`` if given, else CUDA when present, else CPU.

    ``"auto"`` and ``None`` mean "pick automatically".
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} was requested but CUDA is not available; valid choices here: 'auto', 'cpu'")
    return dev


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Within the block, torch computes on the CPU with ``count`` intra-op threads.

    CPU floating-point results depend on the thread count (reductions are split
    differently), so a run pins it; the previous setting is restored afterwards.
    """
    previous = torch.get_num_threads()
    if count != previous:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices); return a CPU generator seeded with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work so wall-clock phase timings are honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _distribution_version(name: str) -> str:
    # The installed distribution's version, read from its metadata: importing torchvision
    # only to print its version costs a second of start-up.
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment(device: torch.device) -> dict:
    """Versions and hardware, recorded with every result."""
    info = {
        "drive_lab": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchvision": _distribution_version("torchvision"),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        # CPU results depend on the machine, not only on the code: torch picks its kernels by
        # instruction set (method.md, "Run identity"), so the record names both.
        "cpu_model": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


def cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``; elsewhere ``platform.processor()``)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name") and ":" in line:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def source_revision() -> dict | None:
    """The git commit of the drive_lab source in use, and whether its files differ from it.

    ``{"commit": "<40 hex>", "modified": bool}`` when drive_lab runs from a git checkout,
    else ``None`` (an installed package). Recorded beside every committed table: two tables
    from different revisions can differ for the same run key (method.md, "Run identity").
    """
    import subprocess
    from pathlib import Path

    package = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=package, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=package, capture_output=True,
                                text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "modified": bool(status.strip())}
