#!/usr/bin/env python
"""GPU check and benchmark of drive_lab on one CUDA device, ~6 minutes on an H200.

Four parts, each with its own time budget and its own try/except, so a failure or an
overrun in one part is recorded (status, error, traceback) without losing the others'
figures. The JSON output is rewritten after every part.

(a) **CUDA tests**: ``python -m pytest tests/test_cuda.py -q`` as a subprocess; pass / fail /
    skip counts, exit status, seconds and the output's tail.

(b) **Training step throughput**: ``vgg16`` and ``resnet18`` (CIFAR heads) on synthetic
    CIFAR-shaped tensors (3x32x32, 10 classes; batch ``--batch-size``, default 128), in
    fp32 and in bf16 autocast + channels_last (the library's GPU path), each eager and under
    ``torch.compile`` (the model is compiled; the optimiser is not). One step = forward,
    cross-entropy, ``zero_grad``, backward, SGD step from ``drive_lab.training.make_optimiser``.
    The first step (which, compiled, includes the compilation) and the other warm-up steps
    are excluded; the compile time is reported separately (first step minus a median step).
    ``--steps`` timed steps (default 20), each bracketed by CUDA events, and the whole run
    by ``torch.cuda.synchronize`` + wall clock: images/s = steps x batch / wall seconds.
    FLOPs per training step are estimated as 3 x the forward FLOPs counted by
    ``torch.utils.flop_counter.FlopCounterMode`` on one forward pass (convolutions and
    matmuls, 2 FLOPs per multiply-add); achieved TFLOP/s is set against the device's
    vendor *dense* peak (see ``PEAK_TFLOPS``). In "fp32", cuDNN convolutions use TF32 tensor
    cores when ``torch.backends.cudnn.allow_tf32`` is true (PyTorch's default), so fp32
    rows are set against both the fp32 and the TF32 peak; the flags are recorded.

(c) **One DRIVE scoring iteration vs a plain forward + backward**, same batch of 128 for
    ``vgg16`` and ``resnet18``: plain = ``autograd.grad`` of the cross-entropy w.r.t. the
    prunable weights; DRIVE = ``drive_lab.scores.drive(model, [(x, y)], masks)``; DRIVE +
    ``masks.keep_top`` to the first density of DRIVE's default schedule (90% sparsity in 100
    iterations); and the route ``prune`` takes for DRIVE, ``drive_survivors`` +
    ``keep_top_survivors`` (no full-size scores). float32, as the library scores; the model is channels_last on CUDA, as it
    is after the library's warm-up training. Interleaved in rotating order after a warm-up;
    medians; ratios to plain.

(d) **A short DRIVE run end to end**: ``drive_lab.run(RunConfig(method="drive",
    model="resnet18", dataset="fashion_mnist", epochs=2, warmup_epochs=1, iterations=20,
    device="cuda", data_root=...))``. Fashion-MNIST is looked for in ``--data-root``, then
    the library's search path (``$DRIVE_LAB_DATA``, ``./data``,
    ``/usr/share/datasets/fashion-mnist``); with ``--download`` torchvision fetches it.
    If neither works, the part is recorded as skipped, with the reason.

Usage (from the repository root, with the package installed)::

    python benchmarks/bench_gpu.py                          # everything, ~4-6 minutes on an H200
    python benchmarks/bench_gpu.py --data-root /path/to/fashion-mnist --download
    python benchmarks/bench_gpu.py --skip-compile --skip-e2e --steps 50
    python benchmarks/bench_gpu.py --train-budget 120 --output /tmp/gpu.json

Exit status: 0 when every part that ran succeeded (and every CUDA test passed), 1 when a
part failed or ran out of time, or a test failed, 2 when CUDA is not available.

Writes JSON (default ``results/benchmarks/gpu-<device name slug>.json``) with every
figure, the exact command, the settings, ``drive_lab.runtime.environment(device)``, the GPU
properties, the TF32 / cuDNN flags and (when ``nvidia-smi`` is there) clocks and power limit.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

REPO_ROOT = Path(__file__).resolve().parent.parent
NUM_CLASSES = 10
CHANNELS = 3
MODELS = ("vgg16", "resnet18")

# Vendor datasheet peaks in TFLOP/s, *dense* (the datasheets' "with sparsity" tensor-core
# figures halved), at boost clock: (pattern matched against torch.cuda.get_device_name,
# label, fp32 (CUDA cores), tf32 tensor, bf16 tensor with fp32 accumulate). None: no such
# mode on that GPU. More specific patterns come first. Not measured here: what a GPU
# reaches also depends on its clocks and power limit (recorded from nvidia-smi).
PEAK_TFLOPS: tuple[tuple[str, str, float, float | None, float | None], ...] = (
    (r"\bGH200\b", "GH200 (H100-class GPU)", 67.0, 494.7, 989.4),
    (r"\bH200 NVL\b", "H200 NVL", 60.0, 417.5, 835.5),
    (r"\bH200\b", "H200 SXM", 67.0, 494.7, 989.4),
    (r"\bH100 NVL\b", "H100 NVL", 60.0, 417.5, 835.5),
    (r"\bH100\b.*\bPCIe\b", "H100 PCIe", 51.0, 378.0, 756.0),
    (r"\bH100\b", "H100 SXM", 67.0, 494.7, 989.4),
    (r"\bA100\b", "A100", 19.5, 156.0, 312.0),
    (r"\bL4\b", "L4", 30.3, 60.0, 121.0),
    (r"\bT4\b", "T4 (no TF32/BF16 tensor cores; FP16 tensor 65)", 8.1, None, None),
    (r"RTX 4090", "GeForce RTX 4090", 82.6, 82.6, 165.2),
)
PEAK_NOTE = ("vendor datasheet dense peaks (sparsity figures halved) at boost clock, not measured; "
             "RTX 4090 bf16 is the FP32-accumulate rate")


# --------------------------------------------------------------------------- helpers


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def summary(samples: list[float]) -> dict:
    """Median, min, max, count and relative spread ((max - min) / median) of ``samples``."""
    median = statistics.median(samples)
    return {
        "median": median,
        "min": min(samples),
        "max": max(samples),
        "n": len(samples),
        "spread": (max(samples) - min(samples)) / median if median > 0 else math.nan,
        "samples": samples,
    }


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, fn: Callable[[], object]) -> float:
    """Wall seconds of ``fn()``, with the device's queue drained before and after."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


class BudgetExceeded(BaseException):
    """A part ran past its time budget. A BaseException, so library code that catches
    ``Exception`` (e.g. torch.compile's fallbacks) does not swallow it."""


@contextlib.contextmanager
def deadline(seconds: float | None):
    """Raise :class:`BudgetExceeded` in the main thread once ``seconds`` have passed."""
    if not seconds or seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise BudgetExceeded(f"time budget of {seconds:.0f} s exceeded")

    # Nesting: an enclosing deadline's timer keeps running and is re-armed on exit.
    outer, _ = signal.getitimer(signal.ITIMER_REAL)
    entered = time.monotonic()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, min(seconds, outer) if outer > 0 else seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer > 0:
            signal.setitimer(signal.ITIMER_REAL, max(1e-3, outer - (time.monotonic() - entered)))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def device_peaks(name: str) -> dict:
    for pattern, label, fp32, tf32, bf16 in PEAK_TFLOPS:
        if re.search(pattern, name):
            return {"matched": label, "fp32": fp32, "tf32": tf32, "bf16": bf16, "note": PEAK_NOTE}
    return {"matched": "unknown", "fp32": None, "tf32": None, "bf16": None, "note": PEAK_NOTE}


def precision_flags() -> dict:
    flags = {
        "cudnn_enabled": torch.backends.cudnn.enabled,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
    }
    for key, path in (("cudnn_conv_fp32_precision", ("cudnn", "conv")), ("cuda_matmul_fp32_precision", ("cuda", "matmul"))):
        try:
            flags[key] = getattr(getattr(getattr(torch.backends, path[0]), path[1]), "fp32_precision")
        except Exception:  # older torch: no fp32_precision API
            pass
    return flags


def gpu_details(device: torch.device) -> dict:
    if device.type != "cuda":
        return {}
    props = torch.cuda.get_device_properties(device)
    details = {
        "name": props.name,
        "compute_capability": f"{props.major}.{props.minor}",
        "multiprocessors": props.multi_processor_count,
        "total_memory_gib": round(props.total_memory / 2**30, 2),
        "cudnn": torch.backends.cudnn.version(),
        "device_count": torch.cuda.device_count(),
    }
    try:
        query = "name,driver_version,clocks.sm,clocks.max.sm,power.limit,temperature.gpu,utilization.gpu"
        index = device.index if device.index is not None else torch.cuda.current_device()
        completed = subprocess.run(["nvidia-smi", f"--id={index}", f"--query-gpu={query}", "--format=csv"],
                                   capture_output=True, text=True, timeout=15)
        details["nvidia_smi"] = completed.stdout.strip() or completed.stderr.strip()
    except Exception as error:  # no nvidia-smi: fine
        details["nvidia_smi"] = f"unavailable ({error.__class__.__name__})"
    return details


def synthetic_batch(batch: int, image_size: int, device: torch.device, seed: int):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, CHANNELS, image_size, image_size, generator=generator)
    y = torch.randint(0, NUM_CLASSES, (batch,), generator=generator)
    return x.to(device), y.to(device)


def fresh_model(name: str, image_size: int, device: torch.device, seed: int, channels_last: bool):
    from drive_lab.models import build

    torch.manual_seed(seed)
    model = build(name, num_classes=NUM_CLASSES, in_channels=CHANNELS, image_size=image_size).to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return model.train()


def forward_flops(name: str, batch: int, image_size: int) -> dict:
    """FLOPs of one forward pass (FlopCounterMode), counted on the meta device (no compute)."""
    from torch.utils.flop_counter import FlopCounterMode

    from drive_lab.models import build

    with torch.device("meta"):
        model = build(name, num_classes=NUM_CLASSES, in_channels=CHANNELS, image_size=image_size)
        x = torch.empty(batch, CHANNELS, image_size, image_size)
    with FlopCounterMode(display=False) as counter:
        model(x)
    by_op = {str(op): int(count) for op, count in counter.get_flop_counts().get("Global", {}).items()}
    forward = int(counter.get_total_flops())
    return {"forward": forward, "training_step_estimate": 3 * forward, "forward_by_op": by_op,
            "counted_on": "meta device, one forward pass, batch %d" % batch}


# --------------------------------------------------------------------------- (a) tests


def part_tests(args, device: torch.device, record: dict) -> None:
    command = [sys.executable, "-m", "pytest", "tests/test_cuda.py", "-q", "-p", "no:cacheprovider"]
    record["command"] = shlex.join(["python", *command[1:]])
    env = dict(os.environ, DRIVE_LAB_PROGRESS="0")
    start = time.perf_counter()
    try:
        completed = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                                   timeout=max(1.0, args.tests_budget))
    except subprocess.TimeoutExpired as error:
        output = (error.stdout or b"")
        output = output.decode(errors="replace") if isinstance(output, bytes) else output
        record.update(seconds=time.perf_counter() - start, output_tail=output[-3000:])
        raise BudgetExceeded(f"pytest did not finish within --tests-budget {args.tests_budget:g} s") from None
    output = completed.stdout + completed.stderr
    counts = {}
    lines = [line for line in output.strip().splitlines() if line.strip()]
    final = next((line for line in reversed(lines) if re.search(r"\d+ (passed|failed|skipped|errors?|no tests)", line)), "")
    for number, kind in re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected|warnings?)", final):
        counts["errors" if kind.startswith("error") else "warnings" if kind.startswith("warning") else kind] = int(number)
    record.update(
        returncode=completed.returncode,
        seconds=time.perf_counter() - start,
        counts=counts,
        summary_line=final.strip("= "),
        # On a GPU nothing may be skipped: a skip there means the tests did not see CUDA.
        all_passed=(completed.returncode == 0 and counts.get("failed", 0) == 0 and counts.get("errors", 0) == 0
                    and (device.type != "cuda" or counts.get("skipped", 0) == 0)),
        output_tail=output[-3000:],
    )
    log(f"  pytest tests/test_cuda.py: {record['summary_line'] or 'no summary'} (exit {completed.returncode})")


# --------------------------------------------------------------------------- (b) training


def time_training(name: str, precision: str, compiled: bool, args, device: torch.device) -> dict:
    from drive_lab.training import Optimisation, make_optimiser

    bf16 = precision == "bf16"
    channels_last = bf16 and device.type == "cuda"  # the library's GPU path
    model = fresh_model(name, args.image_size, device, args.seed, channels_last)
    optimiser = make_optimiser(model, Optimisation(batch_size=args.batch_size))
    x, y = synthetic_batch(args.batch_size, args.image_size, device, args.seed)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    if compiled:
        torch._dynamo.reset()
    forward = torch.compile(model, mode=args.compile_mode) if compiled else model

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = forward(x)
            loss = F.cross_entropy(logits.float(), y)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    first = timed(device, step)  # compiled: includes compiling forward and backward
    warmup = [timed(device, step) for _ in range(max(0, args.warmup_steps - 1))]

    cuda = device.type == "cuda"
    if cuda:
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(args.steps)]
    synchronize(device)
    start = time.perf_counter()
    cpu_steps = []
    for index in range(args.steps):
        if cuda:
            events[index][0].record()
            step()
            events[index][1].record()
        else:
            begin = time.perf_counter()
            step()
            cpu_steps.append(time.perf_counter() - begin)
    synchronize(device)
    wall = time.perf_counter() - start
    steps = [a.elapsed_time(b) / 1e3 for a, b in events] if cuda else cpu_steps
    step_summary = summary(steps)
    result = {
        "model": name,
        "precision": precision,
        "precision_detail": ("bf16 autocast" + (" + channels_last" if channels_last else "")) if bf16 else "float32",
        "compiled": compiled,
        "compile_mode": args.compile_mode if compiled else None,
        "batch_size": args.batch_size,
        "timed_steps": args.steps,
        "warmup_steps": args.warmup_steps,
        "first_step_seconds": first,
        "warmup_step_seconds": warmup,
        "wall_seconds": wall,
        "step_seconds": step_summary,
        "step_timing": "CUDA events around each step" if cuda else "perf_counter around each step",
        "images_per_second": args.steps * args.batch_size / wall,
        "final_loss_finite": None,
    }
    if compiled:
        result["compile_seconds_estimate"] = max(0.0, first - step_summary["median"])
    if cuda:
        result["peak_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 3)
    # On the eager module (same parameters): a no_grad call of the compiled one would recompile.
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        result["final_loss_finite"] = bool(torch.isfinite(F.cross_entropy(model(x).float(), y)))
    del forward, model, optimiser
    if compiled:
        torch._dynamo.reset()
    return result


def part_training(args, device: torch.device, record: dict) -> None:
    started = time.perf_counter()
    peaks = device_peaks(torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu")
    record["peaks_tflops"] = peaks
    record["precision_flags"] = precision_flags()
    record["flops"] = {}
    for name in args.models:
        try:
            record["flops"][name] = forward_flops(name, args.batch_size, args.image_size)
        except Exception as error:
            record["flops"][name] = {"error": repr(error)}
    # Eager configurations first (cheap, the most important figures), then compiled ones,
    # bf16 (the library's GPU path) before fp32, so a tight budget loses the least.
    configs = [(m, p, False) for m in args.models for p in ("fp32", "bf16")]
    configs += [(m, p, True) for p in ("bf16", "fp32") for m in args.models]
    record["configurations"] = []
    out_of_time = None
    for name, precision, compiled in configs:
        entry = {"model": name, "precision": precision, "compiled": compiled}
        record["configurations"].append(entry)
        if compiled and args.skip_compile:
            entry.update(status="skipped", reason="--skip-compile")
            continue
        if compiled and device.type != "cuda" and not args.cpu_compile:
            entry.update(status="skipped", reason="torch.compile is not run in the --allow-cpu dry run")
            continue
        left = args.train_budget - (time.perf_counter() - started)
        if out_of_time is not None or left < 5:
            entry.update(status="skipped", reason=f"--train-budget {args.train_budget:g} s used up")
            continue
        label = f"{name} {precision}{' compiled' if compiled else ''}"
        log(f"  training step {label} ...")
        try:
            entry["status"] = "running"
            # The hard stop: what is left of the part's budget.
            with deadline(left):
                result = time_training(name, precision, compiled, args, device)
        except BudgetExceeded as error:
            entry.update(status="timeout", reason=f"--train-budget {args.train_budget:g} s ran out during this configuration")
            log(f"    {entry['reason']}")
            out_of_time = error
            if compiled:
                with contextlib.suppress(Exception):
                    torch._dynamo.reset()
            continue
        except Exception as error:
            entry.update(status="error", error=repr(error), traceback=traceback.format_exc()[-3000:])
            log(f"    error: {error!r}")
            continue
        finally:
            if device.type == "cuda":
                torch.cuda.empty_cache()
        flops = record["flops"].get(name, {}).get("training_step_estimate")
        if flops:
            achieved = flops / result["wall_seconds"] * args.steps / 1e12
            result["achieved_tflops"] = achieved
            modes = ("bf16",) if precision == "bf16" else ("fp32", "tf32")
            result["fraction_of_peak"] = {mode: achieved / peaks[mode] for mode in modes if peaks.get(mode)}
        entry.update(result, status="ok")
        log(f"    {result['images_per_second']:.0f} images/s, step {result['step_seconds']['median'] * 1e3:.2f} ms"
            + (f", {result['achieved_tflops']:.1f} TFLOP/s" if "achieved_tflops" in result else "")
            + (f", compile {result['compile_seconds_estimate']:.1f} s" if compiled else ""))
    if out_of_time is not None:
        raise out_of_time


# --------------------------------------------------------------------------- (c) scoring


def score_model(name: str, args, device: torch.device, target: float) -> dict:
    """Plain forward-backward, DRIVE, DRIVE + keep_top on one batch of ``name``: medians and ratios."""
    from drive_lab.masks import Masks, keep_top, keep_top_survivors, prunable_parameters
    from drive_lab.scores import drive, drive_survivors

    model = fresh_model(name, args.image_size, device, args.seed, channels_last=device.type == "cuda")
    x, y = synthetic_batch(args.score_batch_size, args.image_size, device, args.seed + 1)
    masks = Masks.ones(model)
    weights = list(prunable_parameters(model).values())
    batches = [(x, y)]

    def plain() -> None:
        torch.autograd.grad(F.cross_entropy(model(x), y), weights)

    def drive_score() -> None:
        drive(model, batches, masks)

    def drive_and_keep_top() -> None:
        keep_top(drive(model, batches, masks), masks, target)

    def pruner_route() -> None:  # what prune() runs for DRIVE: the survivors' scores, ranked directly
        keep_top_survivors(drive_survivors(model, batches, masks), masks, target)

    variants = {"plain_forward_backward": plain, "drive": drive_score, "drive_plus_keep_top": drive_and_keep_top,
                "drive_survivors_plus_keep_top_survivors": pruner_route}
    for fn in variants.values():
        for _ in range(args.score_warmup):
            fn()
    samples: dict[str, list[float]] = {key: [] for key in variants}
    keys = list(variants)
    for repeat in range(args.score_repeats):
        shift = repeat % len(keys)  # rotate the order: no variant always runs first
        for key in keys[shift:] + keys[:shift]:
            samples[key].append(timed(device, variants[key]))
    seconds = {key: summary(value) for key, value in samples.items()}
    plain_median = seconds["plain_forward_backward"]["median"]
    return {
        "batch_size": args.score_batch_size,
        "prunable_weights": masks.total(),
        "keep_top_target_density": target,
        "kept_after_keep_top": keep_top(drive(model, batches, masks), masks, target).kept(),
        "model_memory_format": "channels_last" if device.type == "cuda" else "contiguous",
        "precision": "float32 (no autocast), as drive_lab scores",
        "seconds": seconds,
        "ratio_drive": seconds["drive"]["median"] / plain_median,
        "ratio_drive_plus_keep_top": seconds["drive_plus_keep_top"]["median"] / plain_median,
        "ratio_pruner_route": seconds["drive_survivors_plus_keep_top_survivors"]["median"] / plain_median,
    }


def part_scoring(args, device: torch.device, record: dict) -> None:
    started = time.perf_counter()
    target = 0.1 ** (1 / 100)  # first density of DRIVE's default schedule: 90% sparsity, 100 iterations
    record["models"] = {}
    out_of_time = None
    for name in args.models:
        left = args.scoring_budget - (time.perf_counter() - started)
        if out_of_time is not None or left < 2:
            record["models"][name] = {"status": "skipped", "reason": f"--scoring-budget {args.scoring_budget:g} s used up"}
            continue
        entry = record["models"][name] = {"status": "running"}
        log(f"  scoring {name} ...")
        try:
            with deadline(left):
                entry.update(score_model(name, args, device, target), status="ok")
            log(f"    plain {entry['seconds']['plain_forward_backward']['median'] * 1e3:.2f} ms, "
                f"drive {entry['ratio_drive']:.2f}x, drive + keep_top {entry['ratio_drive_plus_keep_top']:.2f}x, "
                f"pruner's route {entry['ratio_pruner_route']:.2f}x")
        except BudgetExceeded as error:
            entry.update(status="timeout", reason=f"--scoring-budget {args.scoring_budget:g} s ran out")
            out_of_time = error
        except Exception as error:
            entry.update(status="error", error=repr(error), traceback=traceback.format_exc()[-3000:])
            log(f"    error: {error!r}")
        finally:
            if device.type == "cuda":
                torch.cuda.empty_cache()
    if out_of_time is not None:
        raise out_of_time


# --------------------------------------------------------------------------- (d) end to end


class Skip(Exception):
    """The part cannot run here (e.g. no data); recorded as skipped, not as an error."""


def part_e2e(args, device: torch.device, record: dict) -> None:
    import drive_lab
    from drive_lab import data as data_module
    from drive_lab.config import RunConfig

    drive_lab.set_progress(False)
    try:
        data_module.check_available("fashion_mnist", root=args.data_root, subset=args.e2e_subset,
                                    test_subset=args.e2e_test_subset)
        record["data"] = "found locally"
        download = False
    except data_module.DatasetNotFoundError as error:
        record["data_not_found"] = str(error)
        if not args.download:
            raise Skip("Fashion-MNIST was not found (see data_not_found) and --download was not given; "
                       "pass --data-root <folder with the IDX files> or --download") from None
        log("  Fashion-MNIST not found locally; downloading it with torchvision (--download) ...")
        start = time.perf_counter()
        try:
            data_module.load("fashion_mnist", root=args.data_root, download=True, subset=64, test_subset=64)
        except Exception as download_error:
            raise Skip(f"Fashion-MNIST was not found and the download failed: {download_error!r}") from None
        record["data"] = f"downloaded in {time.perf_counter() - start:.1f} s"
        download = True

    config = RunConfig(method="drive", model="resnet18", dataset="fashion_mnist", epochs=args.e2e_epochs,
                       warmup_epochs=args.e2e_warmup_epochs, iterations=args.e2e_iterations, device=str(device),
                       data_root=args.data_root, download=download, subset=args.e2e_subset,
                       test_subset=args.e2e_test_subset)
    record["config"] = config.to_dict() if hasattr(config, "to_dict") else {
        k: getattr(config, k) for k in config.__dataclass_fields__}
    log(f"  drive_lab.run(method=drive, model=resnet18, dataset=fashion_mnist, epochs={args.e2e_epochs}, "
        f"warmup_epochs={args.e2e_warmup_epochs}, iterations={args.e2e_iterations}, device={device}) ...")
    start = time.perf_counter()
    result = drive_lab.run(config)
    wall = time.perf_counter() - start
    train_examples = args.e2e_subset or 60000
    steps_per_epoch = math.ceil(train_examples / config.batch_size)
    seconds = result.seconds
    record.update(
        wall_seconds=wall,
        phase_seconds=seconds,
        final_test_accuracy=result.final_test_accuracy,
        best_test_accuracy=result.best_test_accuracy,
        density=result.density,
        kept_weights=result.kept_weights,
        prunable_weights=result.prunable_weights,
        invariant_kept_equals_round=result.kept_weights == round((1 - config.sparsity) * result.prunable_weights),
        collapsed_layers=result.collapsed_layers,
        environment_device=result.environment.get("device"),
        train_examples=train_examples,
        batch_size=config.batch_size,
        steps_per_epoch=steps_per_epoch,
        training_images_per_second=(train_examples * args.e2e_epochs / seconds["training"]
                                    if seconds.get("training") else None),
        warmup_images_per_second=(train_examples * args.e2e_warmup_epochs / seconds["warmup"]
                                  if seconds.get("warmup") else None),
        scoring_seconds_per_iteration=(seconds["scoring"] / args.e2e_iterations if seconds.get("scoring") else None),
    )
    log(f"    {wall:.1f} s wall, final test accuracy {100 * result.final_test_accuracy:.2f}%, "
        f"phases " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()))


# --------------------------------------------------------------------------- report


def report(results: dict) -> str:
    lines = []
    env = results["environment"]
    lines.append(f"drive_lab {env['drive_lab']}, torch {env['torch']}, CUDA {env.get('cuda')}, device {env['device']}"
                 + (f" ({env['gpu']})" if "gpu" in env else "") + f"; benchmark {results.get('benchmark_seconds', 0):.0f} s")
    if results.get("dry_run"):
        lines.append("DRY RUN on CPU (--allow-cpu): tiny sizes, "
                     + ("torch.compile on the CPU" if results["settings"].get("cpu_compile") else "no torch.compile")
                     + "; not a GPU result.")
    parts = results["parts"]

    tests = parts.get("tests", {})
    lines += ["", f"(a) CUDA tests: {tests.get('status')}"
              + (f" - {tests.get('summary_line')} (exit {tests.get('returncode')}, {tests.get('seconds', 0):.1f} s)"
                 if "summary_line" in tests else "") + _why(tests)]

    training = parts.get("training", {})
    lines += ["", f"(b) training step, batch {results['settings']['batch_size']}, {results['settings']['steps']} timed steps: "
              f"{training.get('status')}{_why(training)}"]
    peaks = training.get("peaks_tflops")
    if peaks:
        lines.append(f"    peak TFLOP/s ({peaks['matched']}): fp32 {peaks['fp32']}, tf32 {peaks['tf32']}, "
                     f"bf16 {peaks['bf16']} - {peaks['note']}")
    for name, flops in training.get("flops", {}).items():
        if "forward" in flops:
            lines.append(f"    {name}: {flops['forward'] / 1e9:.1f} GFLOP per forward pass of the batch, "
                         f"x3 = {flops['training_step_estimate'] / 1e9:.1f} GFLOP per training step")
    head = (f"    {'model':9s} {'precision':10s} {'compile':7s} {'images/s':>10s} {'step ms':>9s} "
            f"{'TFLOP/s':>8s} {'% peak':>14s} {'compile s':>9s} {'mem GiB':>8s}")
    if training.get("configurations"):
        lines += [head, "    " + "-" * (len(head) - 4)]
    for entry in training.get("configurations", []):
        label = f"    {entry['model']:9s} {entry['precision']:10s} {'yes' if entry['compiled'] else 'no':7s}"
        if entry.get("status") != "ok":
            lines.append(f"{label} {entry.get('status')}: {entry.get('reason') or entry.get('error', '')}"[:160])
            continue
        fractions = " ".join(f"{k} {v * 100:.0f}%" for k, v in entry.get("fraction_of_peak", {}).items()) or "-"
        tflops = f"{entry['achieved_tflops']:8.1f}" if "achieved_tflops" in entry else f"{'-':>8s}"
        compile_s = f"{entry['compile_seconds_estimate']:9.1f}" if "compile_seconds_estimate" in entry else f"{'-':>9s}"
        memory = f"{entry['peak_memory_gib']:8.2f}" if "peak_memory_gib" in entry else f"{'-':>8s}"
        lines.append(f"{label} {entry['images_per_second']:10.0f} {entry['step_seconds']['median'] * 1e3:9.2f} "
                     f"{tflops} {fractions:>14s} {compile_s} {memory}")

    scoring = parts.get("scoring", {})
    lines += ["", f"(c) one DRIVE scoring iteration vs plain forward + backward: {scoring.get('status')}{_why(scoring)}"]
    for name, entry in scoring.get("models", {}).items():
        if entry.get("status") != "ok":
            lines.append(f"    {name}: {entry.get('status')}: {entry.get('reason') or entry.get('error', '')}"[:160])
            continue
        sec = entry["seconds"]
        lines.append(f"    {name} (batch {entry['batch_size']}): plain {sec['plain_forward_backward']['median'] * 1e3:.2f} ms, "
                     f"drive {sec['drive']['median'] * 1e3:.2f} ms ({entry['ratio_drive']:.2f}x), "
                     f"drive + keep_top {sec['drive_plus_keep_top']['median'] * 1e3:.2f} ms "
                     f"({entry['ratio_drive_plus_keep_top']:.2f}x), pruner's route (drive_survivors + "
                     f"keep_top_survivors) {sec['drive_survivors_plus_keep_top_survivors']['median'] * 1e3:.2f} ms "
                     f"({entry['ratio_pruner_route']:.2f}x)")

    e2e = parts.get("e2e", {})
    lines += ["", f"(d) DRIVE run end to end (resnet18, Fashion-MNIST): {e2e.get('status')}{_why(e2e)}"]
    if e2e.get("status") == "ok":
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in e2e["phase_seconds"].items())
        lines.append(f"    {e2e['wall_seconds']:.1f} s wall ({phases}); final test accuracy "
                     f"{100 * e2e['final_test_accuracy']:.2f}%, kept {e2e['kept_weights']}/{e2e['prunable_weights']}")
        if e2e.get("training_images_per_second"):
            lines.append(f"    training {e2e['training_images_per_second']:.0f} images/s, warm-up "
                         f"{(e2e.get('warmup_images_per_second') or 0):.0f} images/s, scoring "
                         f"{(e2e.get('scoring_seconds_per_iteration') or 0) * 1e3:.1f} ms per iteration")
    return "\n".join(lines)


def _why(part: dict) -> str:
    if part.get("status") in ("error", "timeout", "skipped"):
        return f" - {part.get('reason') or part.get('error', '')}"[:300]
    return ""


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda or cuda:N (default: cuda)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated models for (b) and (c) (default: vgg16,resnet18)")
    parser.add_argument("--batch-size", type=int, default=None, help="training-step batch size for (b) (default: 128)")
    parser.add_argument("--steps", type=int, default=None, help="timed training steps per configuration (default: 20)")
    parser.add_argument("--warmup-steps", type=int, default=None,
                        help="untimed steps per configuration, the first (compile) included (default: 5)")
    parser.add_argument("--image-size", type=int, default=32, help="side of the synthetic CIFAR-shaped images (default: 32)")
    parser.add_argument("--skip-compile", action="store_true", help="(b) without the torch.compile configurations")
    parser.add_argument("--compile-mode", default=None,
                        help="torch.compile mode for (b), e.g. max-autotune-no-cudagraphs (default: torch's default)")
    parser.add_argument("--score-batch-size", type=int, default=None, help="scoring batch size for (c) (default: 128)")
    parser.add_argument("--score-repeats", type=int, default=None, help="timed repeats per scoring variant (default: 20)")
    parser.add_argument("--score-warmup", type=int, default=None, help="untimed repeats per scoring variant (default: 3)")
    parser.add_argument("--data-root", default=None, help="folder holding the Fashion-MNIST IDX files for (d)")
    parser.add_argument("--download", action="store_true", help="(d): let torchvision download Fashion-MNIST if not found")
    parser.add_argument("--e2e-epochs", type=int, default=2, help="(d): training epochs T after pruning (default: 2)")
    parser.add_argument("--e2e-warmup-epochs", type=int, default=1, help="(d): warm-up epochs E (default: 1)")
    parser.add_argument("--e2e-iterations", type=int, default=None, help="(d): DRIVE pruning iterations N (default: 20)")
    parser.add_argument("--e2e-subset", type=int, default=None, help="(d): training examples (default: all 60000)")
    parser.add_argument("--e2e-test-subset", type=int, default=None, help="(d): test examples (default: all 10000)")
    for part, default in (("tests", 60), ("train", 165), ("scoring", 30), ("e2e", 90)):
        parser.add_argument(f"--{part}-budget", type=float, default=default,
                            help=f"seconds allowed for part {part} (default: {default})")
    for part in ("tests", "train", "scoring", "e2e"):
        parser.add_argument(f"--skip-{part}", action="store_true", help=f"skip part {part}")
    parser.add_argument("--seed", type=int, default=0, help="seed for models and synthetic data (default: 0)")
    parser.add_argument("--output", default=None, help="JSON path (default: results/benchmarks/gpu-<device name slug>.json)")
    # Debug only: the same code paths on the CPU with tiny sizes, to check the script runs.
    parser.add_argument("--allow-cpu", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cpu-compile", action="store_true", help=argparse.SUPPRESS)  # with --allow-cpu: do compile
    args = parser.parse_args(argv)
    tiny = args.allow_cpu
    defaults = {"batch_size": (4, 128), "steps": (2, 20), "warmup_steps": (1, 5), "score_batch_size": (4, 128),
                "score_repeats": (2, 20), "score_warmup": (1, 3), "e2e_iterations": (2, 20),
                "e2e_subset": (256, None), "e2e_test_subset": (100, None)}
    for name, (cpu_value, gpu_value) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, cpu_value if tiny else gpu_value)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    for name in ("batch_size", "steps", "warmup_steps", "score_batch_size", "score_repeats", "e2e_iterations", "image_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.score_warmup < 0 or args.e2e_epochs < 0 or args.e2e_warmup_epochs < 0:
        parser.error("--score-warmup, --e2e-epochs and --e2e-warmup-epochs must be >= 0")
    return args


def write(results: dict, output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f"{output.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(results, indent=2, default=str) + "\n")
    os.replace(tmp, output)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.allow_cpu:
        args.device = "cpu"
        device = torch.device("cpu")
    else:
        if not torch.cuda.is_available():
            print(f"bench_gpu.py: CUDA is not available (torch {torch.__version__}, built for CUDA "
                  f"{torch.version.cuda or 'none'}); this benchmark needs a GPU. Nothing was run.",
                  file=sys.stderr)
            return 2
        device = torch.device(args.device)
        if device.type != "cuda":
            print(f"bench_gpu.py: --device must be cuda or cuda:N, got {args.device!r}", file=sys.stderr)
            return 2
        if device.index is not None and device.index >= torch.cuda.device_count():
            print(f"bench_gpu.py: {device} does not exist ({torch.cuda.device_count()} CUDA devices)", file=sys.stderr)
            return 2
        if device.index is not None:
            torch.cuda.set_device(device)

    from drive_lab.runtime import environment

    started = time.perf_counter()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    if args.output:
        output = Path(args.output)
    elif args.allow_cpu:  # never a GPU result: keep it out of results/
        output = Path(tempfile.gettempdir()) / "bench_gpu-cpu-dryrun.json"
    else:
        output = REPO_ROOT / "results" / "benchmarks" / f"gpu-{slug(name)}.json"
    results: dict = {
        "benchmark": "bench_gpu",
        "dry_run": args.allow_cpu,
        "command": shlex.join([sys.executable, *sys.argv]) if argv is None else shlex.join(["bench_gpu.py", *argv]),
        "cwd": os.getcwd(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "settings": {k: v for k, v in vars(args).items() if k != "output"},
        "environment": environment(device),
        "gpu_details": gpu_details(device),
        "parts": {},
    }
    log(f"bench_gpu on {device} ({name}){' - CPU DRY RUN' if args.allow_cpu else ''}; results -> {output}")

    parts = [
        ("tests", "(a) CUDA tests", args.skip_tests, args.tests_budget, part_tests),
        ("training", "(b) training-step throughput", args.skip_train, args.train_budget, part_training),
        ("scoring", "(c) DRIVE scoring vs plain forward-backward", args.skip_scoring, args.scoring_budget, part_scoring),
        ("e2e", "(d) DRIVE run end to end", args.skip_e2e, args.e2e_budget, part_e2e),
    ]
    failed = False
    try:
        for key, title, skip, budget, function in parts:
            record: dict = {"budget_seconds": budget}
            results["parts"][key] = record
            if skip:
                record.update(status="skipped", reason=f"--skip-{'train' if key == 'training' else key}")
                continue
            log(title)
            start = time.perf_counter()
            try:
                # A hard stop a little after the budget; parts also check it between steps.
                with deadline(budget + 5):
                    function(args, device, record)
                record["status"] = "ok"
            except BudgetExceeded as error:
                record.update(status="timeout", reason=str(error))
                failed = True
            except Skip as error:
                record.update(status="skipped", reason=str(error))
            except Exception as error:
                record.update(status="error", error=repr(error), traceback=traceback.format_exc()[-4000:])
                failed = True
                log(f"  {title} failed: {error!r}")
            finally:
                record["seconds"] = time.perf_counter() - start
                if device.type == "cuda":
                    with contextlib.suppress(Exception):
                        torch.cuda.synchronize(device)
                        torch.cuda.empty_cache()
                results["benchmark_seconds"] = time.perf_counter() - started
                write(results, output)
            if key == "tests" and record.get("status") == "ok" and not record.get("all_passed"):
                failed = True
            entries = record.get("configurations", []) + list(record.get("models", {}).values())
            if any(e.get("status") in ("error", "timeout") for e in entries):
                failed = True
                if record.get("status") == "ok":
                    record["status"] = "partial"  # some configurations failed; see each one's error
                    write(results, output)
    finally:
        results["benchmark_seconds"] = time.perf_counter() - started
        write(results, output)
    print(report(results))
    print(f"\nresults written to {output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
