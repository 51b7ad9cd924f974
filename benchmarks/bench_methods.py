#!/usr/bin/env python
"""Pruning time of every method and speed-up versus IMP; cost of one scoring iteration.

    python benchmarks/bench_methods.py                     # Fashion-MNIST, mlp and conv, 90/95/98%
    python benchmarks/bench_methods.py --subset 5000 --epochs 1 --models mlp

Part 1 runs every method (DRIVE, Random, Magnitude, SNIP, GraSP, SynFlow, IMP) at each
sparsity with the same T through the results store, then writes
``results/benchmarks/pruning_time-<device>.csv`` (one row per method, model and sparsity:
pruning seconds and speed-up versus IMP = IMP pruning seconds / method pruning seconds) and a
JSON file with the command, versions and hardware. IMP's sparsity grid shares one
trajectory, but each target is charged its own rounds (method.md).

Part 2 times one scoring iteration of each score function on one batch, relative to one
plain forward-backward pass (loss and ∂L/∂θ) on the same batch: median of repeats.
"""
from __future__ import annotations

import argparse
import datetime
import json
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import drive_lab
from drive_lab import analysis, scores
from drive_lab.data import load
from drive_lab.masks import Masks, prunable_parameters
from drive_lab.methods import METHODS
from drive_lab.models import build
from drive_lab.runtime import environment, resolve_device, synchronize

PRUNING_METHODS = ("drive", "random", "magnitude", "snip", "grasp", "synflow", "imp")


def pruning_times(args, device) -> "pandas.DataFrame":
    frames = []
    for model in args.models:
        base = drive_lab.RunConfig(dataset="fashion_mnist", model=model, subset=args.subset, test_subset=args.test_subset,
                                   epochs=args.epochs, batch_size=128, device=str(device))
        for method in PRUNING_METHODS:
            frames.append(drive_lab.sweep(base.replace(method=method), {"sparsity": args.sparsities},
                                          results_dir=args.results_dir))
    import pandas

    frame = pandas.concat(frames, ignore_index=True)
    speedup = analysis.speedup_vs_imp(frame)
    accuracy = frame.groupby(["model", "sparsity", "method"])["final_test_accuracy"].mean().rename("final_test_accuracy")
    return speedup.merge(accuracy.reset_index(), on=["model", "sparsity", "method"])


def _median_seconds(fn, repeats: int, device) -> float:
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def scoring_costs(args, device) -> list[dict]:
    rows = []
    data = load("fashion_mnist", subset=1024, test_subset=100, device=device)
    x, y = data.x_train[:128], data.y_train[:128]
    for model_name in args.models:
        torch.manual_seed(0)
        model = build(model_name, 10, 1, 28).to(device)
        masks = Masks.ones(model).to(device)
        weights = list(prunable_parameters(model).values())

        def plain():
            torch.autograd.grad(F.cross_entropy(model(x), y), weights)

        options = {"synflow": {"input_shape": (1, 28, 28)}}
        for _ in range(3):  # warm caches
            plain()
        baseline = _median_seconds(plain, args.repeats, device)
        for method in ("drive", "snip", "grasp", "synflow", "magnitude", "random"):
            score = METHODS[method].score
            fn = lambda: score(model, [(x, y)], masks, **options.get(method, {}))  # noqa: E731
            fn()
            seconds = _median_seconds(fn, args.repeats, device)
            rows.append({"model": model_name, "method": method, "seconds": seconds,
                         "forward_backward_seconds": baseline, "relative_to_forward_backward": seconds / baseline})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["mlp", "conv"])
    parser.add_argument("--sparsities", nargs="+", type=float, default=[0.9, 0.95, 0.98])
    parser.add_argument("--subset", type=int, default=10000, help="training examples (default 10000)")
    parser.add_argument("--test-subset", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2, help="T, the same for every method and every IMP round")
    parser.add_argument("--repeats", type=int, default=20, help="repeats of each scoring timing")
    parser.add_argument("--results-dir", default=None, help="run store (default: the results store)")
    parser.add_argument("--output-dir", default="results/benchmarks")
    parser.add_argument("--skip-pruning", action="store_true")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    drive_lab.set_progress(False)
    device = resolve_device(args.device)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = environment(device)
    meta = {"command": "python " + " ".join(shlex.quote(a) for a in sys.argv), "environment": env,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "settings": {k: v for k, v in vars(args).items()}}

    costs = scoring_costs(args, device)
    print("scoring iteration cost relative to one forward-backward pass (batch 128, median):")
    for row in costs:
        print(f"  {row['model']:5s} {row['method']:9s} {1000 * row['seconds']:8.2f} ms  "
              f"{row['relative_to_forward_backward']:6.2f}x  (forward-backward {1000 * row['forward_backward_seconds']:.2f} ms)")
    (out / f"scoring_cost-{device.type}.json").write_text(json.dumps({**meta, "rows": costs}, indent=1) + "\n")

    if not args.skip_pruning:
        table = pruning_times(args, device)
        path = out / f"pruning_time-{device.type}.csv"
        table.to_csv(path, index=False)
        path.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
        print(f"\npruning time and speed-up vs IMP (T = {args.epochs} epochs, {args.subset} training images):")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
