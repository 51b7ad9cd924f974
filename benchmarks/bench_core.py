#!/usr/bin/env python
"""Core performance benchmark of drive_lab: masked training, DRIVE scoring, the default CLI run.

Three measurements, on the current device (CUDA when present, else CPU; ``--device`` to
choose), each through the library's own functions so the GPU path uses the library's
bf16 autocast and channels_last exactly as a real run does:

1. **Training epoch, masked vs dense.** ``drive_lab.training.train`` for one epoch of the
   ``conv`` model on a Fashion-MNIST subset (``--subset``, default 10000 examples; batch
   128), once with no masks and once with random 90%-sparse masks (``keep_top`` on
   random scores). The test set is cut to ``--test-subset`` (default 100) examples so
   the end-of-epoch evaluation is negligible; its cost is also measured separately.
   Dense and masked runs alternate (ABBA order) so both see the same background load.
   Target: median masked / median dense <= 1.05.

2. **One DRIVE scoring iteration vs one plain forward-backward pass**, same batch of 128
   training images, for the ``conv`` and ``mlp`` models:

   * plain:  ``loss = F.cross_entropy(model(x), y); torch.autograd.grad(loss, weights)``
     (the minimal work any gradient-based score needs);
   * DRIVE:  ``drive_lab.scores.drive(model, [(x, y)], masks)``;
   * DRIVE + mask update: the above followed by ``keep_top`` to the next density of a
     100-iteration exponential schedule;
   * the route ``prune`` takes for DRIVE: ``drive_survivors`` (the survivors' scores
     alone, no full-size result) and ``keep_top_survivors`` alone;
   * and, to locate any overhead: ``drive_terms`` alone, ``keep_top`` alone, and one
     full ``drive_lab.pruning.prune`` iteration (scoring + keep_top + apply + the
     per-step observability report), timed alone (the ``load_state_dict`` that puts the
     weights back for the next repeat runs outside the timing) and, for comparison with
     earlier figures, with that restore included; and ``prune`` over 10 iterations of the
     same schedule, per iteration (the steady state of a real run, where the model is
     already masked by the pruner when each scoring starts).

   All variants are interleaved (rotating order) after a warm-up. Targets: DRIVE / plain
   <= 1.2; prune() iteration / plain <= 1.3 for ``mlp``, <= 1.05 for ``conv``.

3. **The embedded-default CLI run**: ``python -m drive_lab run --quiet --output <tmp>``
   as a subprocess (wall seconds), with the per-phase seconds from the JSON it writes,
   and the wall time of a bare ``import drive_lab.pipeline`` subprocess (interpreter
   start + imports) so the unaccounted remainder can be read off, beside bare
   ``import torch`` and (lazy) ``import drive_lab`` subprocesses.

Each figure is the median of several repetitions (min and max are shown too, since other
processes may share the machine); the load average before and after is recorded.

Usage (from the repository root, with the package installed)::

    python benchmarks/bench_core.py                  # everything, ~2-4 minutes on 2 CPU cores
    python benchmarks/bench_core.py --quick          # fewer repetitions, ~1 minute
    python benchmarks/bench_core.py --skip-cli --score-repeats 50
    python benchmarks/bench_core.py --device cpu --output /tmp/core-cpu.json

Writes JSON (default ``results/benchmarks/core-<device>.json``) holding every sample, the
medians and ratios, the exact command line, the settings and
``drive_lab.runtime.environment(device)`` (versions, hardware, torch threads).
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from drive_lab import data as data_module
from drive_lab.masks import Masks, keep_top, keep_top_survivors, prunable_parameters
from drive_lab.models import build
from drive_lab.progress import set_progress
from drive_lab.pruning import prune
from drive_lab.runtime import environment, resolve_device, synchronize
from drive_lab.scores import drive, drive_survivors, drive_terms
from drive_lab.training import Optimisation, evaluate, make_optimiser, train

REPO_ROOT = Path(__file__).resolve().parent.parent
TARGET_TRAINING_RATIO = 1.05
TARGET_SCORING_RATIO = 1.2
# One full prune() iteration (score + exact global top-k + mask update + per-step report)
# over one plain forward + backward pass, per model; other models use the default.
TARGET_PRUNE_ITERATION_RATIO = {"mlp": 1.3, "conv": 1.05}
TARGET_PRUNE_ITERATION_RATIO_DEFAULT = 1.3


# --------------------------------------------------------------------------- helpers


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


def timed(device: torch.device, fn: Callable[[], object]) -> float:
    """Wall seconds of ``fn()``, with the device's queue drained before and after."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def random_masks(model: torch.nn.Module, density: float, seed: int) -> Masks:
    """Masks keeping ``density`` of the prunable weights, chosen by keep_top on random scores."""
    generator = torch.Generator().manual_seed(seed)
    scores = {name: torch.rand(w.shape, generator=generator) for name, w in prunable_parameters(model).items()}
    return keep_top(scores, Masks.ones(model), density)


def fresh_model(name: str, data: data_module.ImageData, seed: int, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build(name, num_classes=data.num_classes, in_channels=data.in_channels, image_size=data.image_size)
    return model.to(device)


def loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


class CpuShare:
    """How much of the machine's CPU time *other* processes used between start and stop.

    Reads ``/proc/stat`` (Linux); elsewhere the share is ``None``. Used to flag figures taken
    while the machine was busy: with torch's default thread count (one per core) another
    busy process makes every parallel region wait for a descheduled thread, which can slow
    small operations by one or two orders of magnitude.
    """

    def __init__(self) -> None:
        self.start = self._snapshot()

    @staticmethod
    def _snapshot():
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        times = os.times()
        own = times.user + times.system + times.children_user + times.children_system
        return sum(fields), idle, own, time.perf_counter()

    def others(self) -> float | None:
        """Fraction of all CPUs' time spent by other processes since construction."""
        end = self._snapshot()
        if self.start is None or end is None:
            return None
        hz = os.sysconf("SC_CLK_TCK")
        total = (end[0] - self.start[0]) / hz
        busy = total - (end[1] - self.start[1]) / hz
        if total <= 0:
            return None
        return max(0.0, min(1.0, (busy - (end[2] - self.start[2])) / total))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- 1. training


def bench_training(args, device: torch.device, data: data_module.ImageData) -> dict:
    optimisation = Optimisation(batch_size=args.batch_size)
    density = 1.0 - args.sparsity

    def one_epoch(masked: bool, epoch_data: data_module.ImageData) -> tuple[float, float]:
        model = fresh_model("conv", epoch_data, args.seed, device)
        masks = random_masks(model, density, args.seed) if masked else None
        generator = torch.Generator().manual_seed(args.seed)
        synchronize(device)
        start = time.perf_counter()
        history = train(model, epoch_data, 1, optimisation, masks=masks, generator=generator,
                        desc="bench", evaluate_every_epoch=False)
        synchronize(device)
        return time.perf_counter() - start, history.epochs[-1].seconds

    # Warm-up (allocator, kernels, cuDNN/oneDNN choices) on a few batches, both variants.
    few = args.batch_size * 4
    small = dataclasses.replace(data, x_train=data.x_train[:few], y_train=data.y_train[:few])
    for masked in (False, True):
        one_epoch(masked, small)

    walls = {"dense": [], "masked": []}
    for repeat in range(args.repeats):
        order = ("dense", "masked") if repeat % 2 == 0 else ("masked", "dense")  # ABBA
        for kind in order:
            wall, _ = one_epoch(kind == "masked", data)
            walls[kind].append(wall)
            log(f"  training {kind:6s} repeat {repeat + 1}/{args.repeats}: {wall:.3f} s")

    # The end-of-epoch evaluation included above (test_subset examples).
    model = fresh_model("conv", data, args.seed, device)
    model.train()
    evaluate(model, data)
    eval_seconds = [timed(device, lambda: evaluate(model, data)) for _ in range(5)]

    # Cost of mask enforcement alone: the two fused ops train() adds per optimiser step.
    masks = random_masks(model, density, args.seed)
    bound = masks.bind(model)
    x, y = data.x_train[: args.batch_size], data.y_train[: args.batch_size]
    F.cross_entropy(model(x), y).backward()
    def enforce() -> None:
        bound.zero_pruned_gradients()
        bound.zero_pruned_weights()
    enforce()
    inner = 50
    per_step = [timed(device, lambda: [enforce() for _ in range(inner)]) / inner for _ in range(5)]

    paired = paired_steps(args, device, data) if args.step_pairs > 0 else None

    steps = math.ceil(len(data.x_train) / args.batch_size)
    dense, masked = summary(walls["dense"]), summary(walls["masked"])
    enforcement = summary(per_step)
    return {
        "model": "conv",
        "train_examples": len(data.x_train),
        "test_examples": len(data.x_test),
        "batch_size": args.batch_size,
        "steps_per_epoch": steps,
        "sparsity": args.sparsity,
        "dense_seconds": dense,
        "masked_seconds": masked,
        "ratio": masked["median"] / dense["median"],
        "target_ratio": TARGET_TRAINING_RATIO,
        "evaluate_seconds": summary(eval_seconds),
        "mask_enforcement_per_step_seconds": enforcement,
        "mask_enforcement_per_epoch_seconds": enforcement["median"] * steps,
        # Noise-free estimate of the masked overhead: enforcement cost / dense epoch.
        "estimated_ratio_from_enforcement": 1.0 + enforcement["median"] * steps / dense["median"],
        "paired_steps": paired,
    }


def paired_steps(args, device: torch.device, data: data_module.ImageData) -> dict:
    """Dense and masked training steps interleaved one by one (robust to slow load drifts).

    Each step is exactly the body of ``train``'s loop: forward (under the library's
    autocast, channels_last on CUDA), cross-entropy, finiteness check, zero_grad, backward,
    gradient masking, SGD step (same parameter groups), weight masking.
    """
    try:
        from drive_lab.training import _autocast  # the library's own bf16-on-CUDA context
    except ImportError:  # pragma: no cover - fall back to the documented behaviour
        def _autocast(dev):
            return torch.autocast("cuda", dtype=torch.bfloat16, enabled=dev.type == "cuda")
    optimisation = Optimisation(batch_size=args.batch_size)

    def setup(masked: bool):
        model = fresh_model("conv", data, args.seed, device)
        if device.type == "cuda":
            model.to(memory_format=torch.channels_last)
        bound = random_masks(model, 1.0 - args.sparsity, args.seed).bind(model) if masked else None
        if bound is not None:
            bound.zero_pruned_weights()
        optimiser = make_optimiser(model, optimisation)  # the same optimiser train() builds
        model.train()
        return model, bound, optimiser

    def step(state, x, y) -> None:
        model, bound, optimiser = state
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with _autocast(device):
            logits = model(x)
            loss = F.cross_entropy(logits.float(), y)
        if not torch.isfinite(loss):
            raise RuntimeError("benchmark training diverged")
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        if bound is not None:
            bound.zero_pruned_gradients()
        optimiser.step()
        if bound is not None:
            bound.zero_pruned_weights()

    states = {"dense": setup(False), "masked": setup(True)}
    stream = data.stream(args.batch_size, torch.Generator().manual_seed(args.seed))
    for _ in range(2):  # warm-up
        x, y = next(stream)
        for state in states.values():
            step(state, x, y)
    samples: dict[str, list[float]] = {"dense": [], "masked": []}
    for pair in range(args.step_pairs):
        x, y = next(stream)
        for kind in (("dense", "masked") if pair % 2 == 0 else ("masked", "dense")):
            samples[kind].append(timed(device, lambda: step(states[kind], x, y)))
    dense, masked = summary(samples["dense"]), summary(samples["masked"])
    # Ratio of the per-pair ratios' median: each pair shares the same moment's load.
    per_pair = [m / d for d, m in zip(samples["dense"], samples["masked"])]
    return {"pairs": args.step_pairs, "dense_step_seconds": dense, "masked_step_seconds": masked,
            "ratio_of_medians": masked["median"] / dense["median"],
            "median_of_pair_ratios": statistics.median(per_pair)}


# --------------------------------------------------------------------------- 2. scoring


def bench_scoring_model(name: str, args, device: torch.device, data: data_module.ImageData) -> dict:
    model = fresh_model(name, data, args.seed, device)
    model.train()
    density = 1.0 - args.sparsity
    masks = random_masks(model, density, args.seed).to(device)
    masks.apply(model)
    # The next density of the default 100-iteration schedule, continuing from `density`.
    target = density * (density ** (1.0 / 100))
    x, y = next(data.stream(args.batch_size, torch.Generator().manual_seed(args.seed)))
    batches = [(x, y)]
    weights = list(prunable_parameters(model).values())
    initial_state = {k: v.clone() for k, v in model.state_dict().items()}

    def plain() -> None:
        loss = F.cross_entropy(model(x), y)
        torch.autograd.grad(loss, weights)

    def drive_score() -> None:
        drive(model, batches, masks)

    def drive_and_update() -> None:
        keep_top(drive(model, batches, masks), masks, target)

    def terms() -> None:
        drive_terms(model, batches, masks)

    scores = drive(model, batches, masks)

    def update_only() -> None:
        keep_top(scores, masks, target)

    def survivors_score() -> None:
        drive_survivors(model, batches, masks)

    survivor_values = drive_survivors(model, batches, masks)

    def survivors_update() -> None:
        keep_top_survivors(survivor_values, masks, target)

    def prune_iteration() -> None:
        # One full library iteration: score, keep_top, apply, observability report.
        prune(model, drive, lambda: batches, target, iterations=1, masks=masks,
              show_progress=False, warn_collapse=False)

    steady = 10  # iterations of a multi-iteration run, to read the steady-state cost per iteration
    steady_target = density * (density ** (steady / 100))

    def prune_steady() -> None:
        # prune() over `steady` iterations of the same 100-iteration schedule: in a real run
        # every iteration after the first finds the model already masked by the pruner.
        prune(model, drive, lambda: batches, steady_target, iterations=steady, masks=masks,
              show_progress=False, warn_collapse=False)

    def restore() -> None:
        # prune() zeroed more weights in place: put them back (untimed for the variant above).
        model.load_state_dict(initial_state)

    def prune_iteration_and_restore() -> None:
        # As measured before the untimed variant existed (kept for comparison).
        prune_iteration()
        restore()

    variants = {
        "plain_forward_backward": plain,
        "drive": drive_score,
        "drive_plus_keep_top": drive_and_update,
        "drive_terms_only": terms,
        "keep_top_only": update_only,
        "drive_survivors": survivors_score,
        "keep_top_survivors_only": survivors_update,
        "prune_iteration": prune_iteration,
        "prune_iteration_incl_state_restore": prune_iteration_and_restore,
        "prune_per_iteration_of_10": prune_steady,
    }
    # run after the timed call, outside the timing
    untimed_after = {"prune_iteration": restore, "prune_per_iteration_of_10": restore}
    divisor = {"prune_per_iteration_of_10": steady}  # report per iteration
    for key, fn in variants.items():
        for _ in range(args.score_warmup):
            fn()
            untimed_after.get(key, lambda: None)()
    samples: dict[str, list[float]] = {key: [] for key in variants}
    keys = list(variants)
    for repeat in range(args.score_repeats):
        shift = repeat % len(keys)  # rotate the order: no variant always runs first
        for key in keys[shift:] + keys[:shift]:
            samples[key].append(timed(device, variants[key]) / divisor.get(key, 1))
            untimed_after.get(key, lambda: None)()
    result = {key: summary(value) for key, value in samples.items()}
    plain_median = result["plain_forward_backward"]["median"]
    prune_target = TARGET_PRUNE_ITERATION_RATIO.get(name, TARGET_PRUNE_ITERATION_RATIO_DEFAULT)
    return {
        "model": name,
        "batch_size": args.batch_size,
        "prunable_weights": masks.total(),
        "mask_density": masks.density(),
        "keep_top_target_density": target,
        "seconds": result,
        "ratio_drive": result["drive"]["median"] / plain_median,
        "ratio_drive_plus_keep_top": result["drive_plus_keep_top"]["median"] / plain_median,
        "ratio_drive_survivors": result["drive_survivors"]["median"] / plain_median,
        "target_ratio": TARGET_SCORING_RATIO,
        "ratio_prune_iteration": result["prune_iteration"]["median"] / plain_median,
        "ratio_prune_iteration_incl_state_restore":
            result["prune_iteration_incl_state_restore"]["median"] / plain_median,
        "target_prune_iteration_ratio": prune_target,
        "ratio_prune_per_iteration_of_10": result["prune_per_iteration_of_10"]["median"] / plain_median,
    }


def bench_scoring(args, device: torch.device, data: data_module.ImageData) -> dict:
    out = {}
    for name in args.score_models:
        log(f"  scoring {name} ...")
        out[name] = bench_scoring_model(name, args, device, data)
    return out


# --------------------------------------------------------------------------- 3. CLI


def bench_cli(args, device: torch.device) -> dict:
    env = dict(os.environ, DRIVE_LAB_PROGRESS="0")
    if args.threads is not None:
        env["OMP_NUM_THREADS"] = str(args.threads)
    extra = [] if args.device in (None, "auto") else ["--device", str(device)]
    walls, imports, phases = [], [], []
    bare = {"torch": [], "drive_lab": []}  # interpreter start + one import, for comparison
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        for repeat in range(args.cli_repeats):
            output = Path(tmp) / f"run-{repeat}.json"
            command = [sys.executable, "-m", "drive_lab", "run", "--quiet", "--output", str(output), *extra]
            start = time.perf_counter()
            completed = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - start
            if completed.returncode != 0:
                raise RuntimeError(f"CLI run failed ({completed.returncode}):\n{completed.stderr[-2000:]}")
            walls.append(wall)
            phases.append(json.loads(output.read_text())["seconds"])
            log(f"  cli repeat {repeat + 1}/{args.cli_repeats}: {wall:.2f} s wall")

            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import drive_lab.pipeline, drive_lab.cli"],
                           cwd=REPO_ROOT, env=env, check=True)
            imports.append(time.perf_counter() - start)
            for name, code in (("torch", "import torch"), ("drive_lab", "import drive_lab")):
                start = time.perf_counter()
                subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, check=True)
                bare[name].append(time.perf_counter() - start)

    phase_summary = {key: summary([p[key] for p in phases]) for key in phases[0]}
    wall = summary(walls)
    return {
        "command": shlex.join(["python", "-m", "drive_lab", "run", "--quiet", "--output", "<tmp>", *extra]),
        "wall_seconds": wall,
        "phase_seconds": phase_summary,
        "import_seconds": summary(imports),
        "import_torch_seconds": summary(bare["torch"]),
        "import_drive_lab_bare_seconds": summary(bare["drive_lab"]),
        "unaccounted_seconds": wall["median"] - phase_summary["total"]["median"],
    }


# --------------------------------------------------------------------------- report


def fmt_s(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:8.3f} s "
    return f"{seconds * 1e3:8.2f} ms"


def table(results: dict) -> str:
    lines = []
    head = f"{'measurement':52s} {'median':>11s} {'min':>11s} {'max':>11s} {'n':>4s} {'spread':>7s}"
    rule = "-" * len(head)

    def row(label: str, s: dict) -> None:
        lines.append(f"{label:52s} {fmt_s(s['median'])} {fmt_s(s['min'])} {fmt_s(s['max'])} "
                     f"{s['n']:4d} {s['spread'] * 100:6.1f}%")

    def ratio(label: str, value: float, target: float) -> None:
        verdict = "MET" if value <= target else "NOT MET"
        lines.append(f"{label:52s} {value:9.3f}x   (target <= {target:g}: {verdict})")

    env = results["environment"]
    lines.append(f"drive_lab {env['drive_lab']}, torch {env['torch']}, device {env['device']}"
                 + (f" ({env['gpu']})" if "gpu" in env else "")
                 + f", torch threads {env['torch_threads']}, cpu_count {env['cpu_count']}")
    lines.append(f"load average before {results['loadavg_before']}, after {results['loadavg_after']}")
    shares = {k: v for k, v in results.get("other_processes_cpu_share", {}).items() if v is not None}
    if shares:
        lines.append("CPU time used by other processes: "
                     + ", ".join(f"{k} {v * 100:.0f}%" for k, v in shares.items()))
        if env["device"].startswith("cpu") and max(shares.values()) > 0.10:
            lines.append("WARNING: the machine was shared while measuring; CPU figures are inflated and noisy "
                         "(rerun on an idle machine, or compare with --threads 1).")
    if "training" in results:
        t = results["training"]
        lines += ["", f"1. Training epoch, conv on Fashion-MNIST ({t['train_examples']} train / "
                      f"{t['test_examples']} test examples, batch {t['batch_size']}, "
                      f"{t['steps_per_epoch']} steps, sparsity {t['sparsity']:g})", head, rule]
        row("train(1 epoch), dense", t["dense_seconds"])
        row("train(1 epoch), masked", t["masked_seconds"])
        row("  of which evaluate() at epoch end", t["evaluate_seconds"])
        row("  mask enforcement per step (grads + weights)", t["mask_enforcement_per_step_seconds"])
        lines.append(f"{'  mask enforcement x steps per epoch':52s} {fmt_s(t['mask_enforcement_per_epoch_seconds'])}")
        ratio("ratio masked / dense (medians)", t["ratio"], t["target_ratio"])
        lines.append(f"{'  1 + enforcement x steps / dense (estimate)':52s} {t['estimated_ratio_from_enforcement']:9.3f}x")
        if t.get("paired_steps"):
            p = t["paired_steps"]
            lines.append(f"  steps interleaved one by one ({p['pairs']} pairs, same batches):")
            row("  one training step, dense", p["dense_step_seconds"])
            row("  one training step, masked", p["masked_step_seconds"])
            ratio("  ratio masked / dense (median of pair ratios)", p["median_of_pair_ratios"], t["target_ratio"])
    if "scoring" in results:
        for name, s in results["scoring"].items():
            lines += ["", f"2. One scoring iteration, {name} ({s['prunable_weights']} prunable weights, "
                          f"batch {s['batch_size']}, mask density {s['mask_density']:.3f} -> "
                          f"{s['keep_top_target_density']:.4f})", head, rule]
            sec = s["seconds"]
            row("plain forward + autograd.grad", sec["plain_forward_backward"])
            row("drive(model, [(x, y)], masks)", sec["drive"])
            row("drive + keep_top", sec["drive_plus_keep_top"])
            row("  drive_terms only", sec["drive_terms_only"])
            row("  keep_top only", sec["keep_top_only"])
            if "drive_survivors" in sec:  # the route prune() takes for DRIVE
                row("drive_survivors (the survivors' scores alone)", sec["drive_survivors"])
                row("  keep_top_survivors only", sec["keep_top_survivors_only"])
            if "prune_iteration" in sec:
                row("prune() 1 iteration", sec["prune_iteration"])
            row("  prune() 1 iteration (+ load_state_dict)", sec["prune_iteration_incl_state_restore"])
            if "prune_per_iteration_of_10" in sec:
                row("prune() 10 iterations, per iteration", sec["prune_per_iteration_of_10"])
            ratio("ratio drive / plain", s["ratio_drive"], s["target_ratio"])
            lines.append(f"{'ratio (drive + keep_top) / plain':52s} {s['ratio_drive_plus_keep_top']:9.3f}x")
            if "ratio_drive_survivors" in s:
                lines.append(f"{'ratio drive_survivors / plain':52s} {s['ratio_drive_survivors']:9.3f}x")
            if "ratio_prune_iteration" in s:
                ratio("ratio prune() iteration / plain", s["ratio_prune_iteration"],
                      s["target_prune_iteration_ratio"])
                lines.append(f"{'  the same incl. load_state_dict / plain':52s} "
                             f"{s['ratio_prune_iteration_incl_state_restore']:9.3f}x")
            if "ratio_prune_per_iteration_of_10" in s:
                lines.append(f"{'ratio prune() per iteration (of 10) / plain':52s} "
                             f"{s['ratio_prune_per_iteration_of_10']:9.3f}x")
    if "cli" in results:
        c = results["cli"]
        lines += ["", f"3. Default CLI run: {c['command']}", head, rule]
        row("wall time (subprocess)", c["wall_seconds"])
        for key, s in c["phase_seconds"].items():
            row(f"  phase '{key}' (from its JSON)", s)
        row("  interpreter start + import drive_lab (subprocess)", c["import_seconds"])
        if "import_torch_seconds" in c:
            row("    for comparison: python -c 'import torch'", c["import_torch_seconds"])
            row("    python -c 'import drive_lab' (lazy, no torch)", c["import_drive_lab_bare_seconds"])
        lines.append(f"{'  wall - total phases (start, imports, data, save)':52s} {fmt_s(c['unaccounted_seconds'])}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N (default: auto)")
    parser.add_argument("--subset", type=int, default=10000, help="Fashion-MNIST training examples (default: 10000)")
    parser.add_argument("--test-subset", type=int, default=100, help="test examples evaluated after the epoch (default: 100)")
    parser.add_argument("--batch-size", type=int, default=128, help="training and scoring batch size (default: 128)")
    parser.add_argument("--sparsity", type=float, default=0.9, help="mask sparsity (default: 0.9)")
    parser.add_argument("--repeats", type=int, default=None, help="training epochs timed per variant (default: 3; --quick: 1)")
    parser.add_argument("--score-repeats", type=int, default=None, help="timed scoring iterations per variant (default: 30; --quick: 10)")
    parser.add_argument("--score-warmup", type=int, default=3, help="untimed scoring iterations per variant first (default: 3)")
    parser.add_argument("--score-models", default="conv,mlp", help="comma-separated models for part 2 (default: conv,mlp)")
    parser.add_argument("--step-pairs", type=int, default=None,
                        help="dense/masked training steps interleaved one by one in part 1 (default: 20; --quick: 6; 0: skip)")
    parser.add_argument("--cli-repeats", type=int, default=None, help="CLI subprocess runs (default: 3; --quick: 1)")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke test; noisier figures)")
    parser.add_argument("--skip-training", action="store_true", help="skip part 1 (training epoch)")
    parser.add_argument("--skip-scoring", action="store_true", help="skip part 2 (scoring iteration)")
    parser.add_argument("--skip-cli", action="store_true", help="skip part 3 (CLI run)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads for this process and OMP_NUM_THREADS for the CLI subprocess "
                             "(default: leave torch's default)")
    parser.add_argument("--seed", type=int, default=0, help="seed for models, masks and batches (default: 0)")
    parser.add_argument("--data-root", default=None, help="folder with the Fashion-MNIST IDX files (default: library search path)")
    parser.add_argument("--output", default=None, help="JSON path (default: results/benchmarks/core-<device>.json)")
    args = parser.parse_args(argv)
    args.repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    args.score_repeats = args.score_repeats if args.score_repeats is not None else (10 if args.quick else 30)
    args.step_pairs = args.step_pairs if args.step_pairs is not None else (6 if args.quick else 20)
    if args.step_pairs < 0:
        parser.error("--step-pairs must be >= 0")
    args.cli_repeats = args.cli_repeats if args.cli_repeats is not None else (1 if args.quick else 3)
    args.score_models = [m.strip() for m in args.score_models.split(",") if m.strip()]
    for name in ("repeats", "score_repeats", "cli_repeats", "subset", "test_subset", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.score_warmup < 0:
        parser.error("--score-warmup must be >= 0")
    if not 0 < args.sparsity < 1:
        parser.error("--sparsity must be strictly between 0 and 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    set_progress(False)
    if args.threads is not None:
        if args.threads < 1:
            raise SystemExit("--threads must be >= 1")
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    started = time.perf_counter()
    results: dict = {
        "benchmark": "bench_core",
        "command": shlex.join([sys.executable, *sys.argv]) if argv is None else shlex.join(["bench_core.py", *argv]),
        "cwd": os.getcwd(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "settings": {k: v for k, v in vars(args).items() if k != "output"},
        "environment": environment(device),
        "loadavg_before": loadavg(),
    }
    log(f"bench_core on {device} ({torch.get_num_threads()} torch threads)")

    data = None
    if not (args.skip_training and args.skip_scoring):
        data = data_module.load("fashion_mnist", root=args.data_root, subset=args.subset,
                                test_subset=args.test_subset, device=device)
    whole = CpuShare()
    parts = [("training", "1. training epoch, dense vs masked", args.skip_training, bench_training),
             ("scoring", "2. scoring iteration", args.skip_scoring, bench_scoring),
             ("cli", "3. default CLI run", args.skip_cli, lambda a, d, _: bench_cli(a, d))]
    results["other_processes_cpu_share"] = {}
    for key, title, skip, bench in parts:
        if skip:
            continue
        log(title)
        share = CpuShare()
        results[key] = bench(args, device, data)
        results["other_processes_cpu_share"][key] = share.others()
    results["other_processes_cpu_share"]["whole_run"] = whole.others()
    results["loadavg_after"] = loadavg()
    results["benchmark_seconds"] = time.perf_counter() - started

    targets = {}
    if "training" in results:
        targets["training_masked_over_dense"] = results["training"]["ratio"] <= TARGET_TRAINING_RATIO
        if results["training"]["paired_steps"]:
            targets["training_paired_steps_masked_over_dense"] = (
                results["training"]["paired_steps"]["median_of_pair_ratios"] <= TARGET_TRAINING_RATIO)
    for name, s in results.get("scoring", {}).items():
        targets[f"scoring_{name}_drive_over_plain"] = s["ratio_drive"] <= TARGET_SCORING_RATIO
        targets[f"scoring_{name}_prune_iteration_over_plain"] = (
            s["ratio_prune_iteration"] <= s["target_prune_iteration_ratio"])
    results["targets_met"] = targets

    print(table(results))
    print(f"\nbenchmark took {results['benchmark_seconds']:.1f} s")
    output = Path(args.output) if args.output else REPO_ROOT / "results" / "benchmarks" / f"core-{device.type}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f"{output.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    os.replace(tmp, output)
    print(f"results written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
