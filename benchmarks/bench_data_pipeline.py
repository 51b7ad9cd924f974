#!/usr/bin/env python
"""Training throughput: drive_lab's device-resident tensors vs a torchvision Dataset + DataLoader.

One run compares, on the same device, model, batch size and number of steps, a training
epoch fed by

* **drive_lab**: an :class:`drive_lab.data.ImageData` (the whole normalised training set as
  one float32 tensor on the compute device) batched by ``ImageData.epoch(batch_size,
  generator)``, whose CIFAR augmentation (random crop after 4 pixels of zero padding +
  horizontal flip) is one batched gather (``augment_batch``) on that device; and
* **DataLoader**: the pipeline a user would otherwise write, shaped like
  ``torchvision.datasets.CIFAR10``: a ``Dataset`` of uint8 HWC images whose
  ``__getitem__`` makes a PIL image and applies, per sample,
  ``RandomCrop(32, padding=4)``, ``RandomHorizontalFlip()``, ``ToTensor()`` and
  ``Normalize(mean, std)``; a ``torch.utils.data.DataLoader`` (shuffle, default collate,
  ``pin_memory`` and non-blocking copies on CUDA, ``persistent_workers`` when
  ``num_workers > 0``) for each ``--workers`` value (default 0 and 2).

The data are synthetic CIFAR-shaped images (uint8, 3x32x32, 10 labels, seeded); the cost
of either pipeline does not depend on the pixel values. Both pipelines normalise with the
same per-channel mean/std. The training step is the body of ``drive_lab.training.train``'s
loop (the library's bf16 autocast and channels_last on CUDA; float32 on CPU): forward,
cross-entropy, zero_grad, backward, SGD step from ``make_optimiser``. Every timed epoch
starts from a freshly built model (same seed), built outside the timed region.

Measured, after a warm-up (two untimed training steps, and one untimed pass of each loader,
which also starts persistent workers; its time is reported as the first-pass time):

1. **training epochs**: ``--repeats`` epochs per pipeline, in rotating order so every
   pipeline sees the same background load; images/s = images / epoch seconds (device
   synchronised before and after); the ratio drive_lab / DataLoader of the median images/s.
2. **data-only passes**: the same epoch of batches, moved to the device, with no model, to
   show what the pipeline itself costs (``--data-repeats`` passes each).

The one-time cost of building the ImageData (uint8 -> normalised float32, copy to the device)
is timed separately and not included in the epochs (the library pays it once per process).

Usage (from the repository root, with the package installed)::

    python benchmarks/bench_data_pipeline.py                   # ~1 minute on 2 CPU cores
    python benchmarks/bench_data_pipeline.py --workers 0,2,4 --images 4096 --repeats 5
    python benchmarks/bench_data_pipeline.py --device cuda --images 50000 --model resnet18

Writes JSON (default ``results/benchmarks/data_pipeline-<cpu|gpu>.json``) with every sample,
medians, ratios, the exact command, the settings, ``drive_lab.runtime.environment(device)``,
the load average and the share of CPU time other processes used.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from drive_lab.data import ImageData
from drive_lab.models import build
from drive_lab.runtime import environment, resolve_device, synchronize
from drive_lab.training import Optimisation, make_optimiser

try:
    from drive_lab.training import _autocast  # the library's bf16-on-CUDA context
except ImportError:  # pragma: no cover - fall back to the documented behaviour
    def _autocast(device: torch.device):
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")

REPO_ROOT = Path(__file__).resolve().parent.parent
NUM_CLASSES = 10
IMAGE_SIZE = 32
CHANNELS = 3


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


def loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _live_children_seconds() -> float:
    """CPU seconds (user + system) of this process's live child processes (DataLoader workers)."""
    total, me = 0, os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:  # ppid
            total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


class CpuShare:
    """Fraction of the machine's CPU time used by *other* processes since construction (Linux).

    Counts this process and its children (live DataLoader workers included) as "own" time.
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
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        times = os.times()
        own = times.user + times.system + times.children_user + times.children_system + _live_children_seconds()
        return sum(fields), idle, own

    def others(self) -> float | None:
        end = self._snapshot()
        if self.start is None or end is None:
            return None
        hz = os.sysconf("SC_CLK_TCK")
        total = (end[0] - self.start[0]) / hz
        busy = total - (end[1] - self.start[1]) / hz
        if total <= 0:
            return None
        return max(0.0, min(1.0, (busy - (end[2] - self.start[2])) / total))


# --------------------------------------------------------------------------- data


def synthetic_images(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` uint8 HWC 32x32x3 images (as CIFAR's arrays after its transpose) and int64 labels."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, IMAGE_SIZE, IMAGE_SIZE, CHANNELS), dtype=np.uint8)
    labels = rng.integers(0, NUM_CLASSES, size=count, dtype=np.int64)
    return images, labels


def channel_stats(images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and population std of pixels scaled to [0, 1] (as drive_lab.data.load)."""
    pixels = images.reshape(-1, CHANNELS).astype(np.float64) / 255.0
    return tuple(float(v) for v in pixels.mean(0)), tuple(float(v) for v in pixels.std(0))


def build_image_data(images: np.ndarray, labels: np.ndarray, mean, std, device: torch.device) -> ImageData:
    """The drive_lab side: normalised float32 NCHW tensors on ``device``, crop+flip augmentation on."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)
    x = (x - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)
    x = x.contiguous().to(device)
    y = torch.from_numpy(labels).to(device)
    return ImageData(name="synthetic_cifar", x_train=x, y_train=y, x_test=x[:0], y_test=y[:0],
                     num_classes=NUM_CLASSES, augment=True, mean=mean, std=std)


class UInt8ImageDataset(torch.utils.data.Dataset):
    """uint8 HWC images + labels; ``__getitem__`` as ``torchvision.datasets.CIFAR10``'s (PIL + transform)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        from PIL import Image

        image = self.transform(Image.fromarray(self.images[index]))
        return image, int(self.labels[index])


def make_loader(images, labels, mean, std, batch_size: int, workers: int, device: torch.device, seed: int):
    from torchvision import transforms

    transform = transforms.Compose([
        transforms.RandomCrop(IMAGE_SIZE, padding=4),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(mean, std),
    ])
    return torch.utils.data.DataLoader(
        UInt8ImageDataset(images, labels, transform),
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
        drop_last=False,
        generator=torch.Generator().manual_seed(seed),
    )


# --------------------------------------------------------------------------- timing


class Pipeline:
    """One way of producing an epoch of ``(x, y)`` batches on the device."""

    def __init__(self, name: str, batches, description: str) -> None:
        self.name, self._batches, self.description = name, batches, description

    def epoch(self):
        return self._batches()


def drive_lab_pipeline(data: ImageData, batch_size: int, seed: int) -> Pipeline:
    generator = torch.Generator().manual_seed(seed)
    return Pipeline("drive_lab", lambda: data.epoch(batch_size, generator),
                    "ImageData.epoch (device-resident tensors, batched crop+flip on the device)")


def loader_pipeline(loader, device: torch.device, workers: int) -> Pipeline:
    non_blocking = device.type == "cuda"

    def batches():
        for x, y in loader:
            yield x.to(device, non_blocking=non_blocking), y.to(device, non_blocking=non_blocking)

    return Pipeline(f"dataloader_workers{workers}", batches,
                    f"torchvision transforms per sample + DataLoader(num_workers={workers})")


def training_step(model, optimiser, x, y, device: torch.device) -> None:
    """The body of drive_lab.training.train's loop (without the bookkeeping)."""
    if device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    with _autocast(device):
        logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()


def fresh_model(name: str, seed: int, device: torch.device, batch_size: int):
    torch.manual_seed(seed)
    model = build(name, num_classes=NUM_CLASSES, in_channels=CHANNELS, image_size=IMAGE_SIZE).to(device)
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    model.train()
    return model, make_optimiser(model, Optimisation(batch_size=batch_size))


def train_epoch(pipeline: Pipeline, model_name: str, seed: int, device: torch.device, batch_size: int):
    """(seconds, steps, images) of one training epoch fed by ``pipeline``."""
    model, optimiser = fresh_model(model_name, seed, device, batch_size)
    steps = images = 0
    synchronize(device)
    start = time.perf_counter()
    for x, y in pipeline.epoch():
        training_step(model, optimiser, x, y, device)
        steps += 1
        images += len(y)
    synchronize(device)
    return time.perf_counter() - start, steps, images


def data_pass(pipeline: Pipeline, device: torch.device):
    """(seconds, steps, images) of one epoch of batches on the device, no model."""
    steps = images = 0
    synchronize(device)
    start = time.perf_counter()
    for x, y in pipeline.epoch():
        steps += 1
        images += len(y)
    synchronize(device)
    return time.perf_counter() - start, steps, images


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N (default: auto)")
    parser.add_argument("--model", default="conv", help="drive_lab model name (default: conv)")
    parser.add_argument("--images", type=int, default=2048,
                        help="synthetic training images, i.e. one epoch (default: 2048, ~1 minute on 2 CPU cores)")
    parser.add_argument("--batch-size", type=int, default=128, help="batch size (default: 128)")
    parser.add_argument("--workers", default="0,2", help="comma-separated DataLoader num_workers values (default: 0,2)")
    parser.add_argument("--repeats", type=int, default=4, help="timed training epochs per pipeline (default: 4)")
    parser.add_argument("--data-repeats", type=int, default=3, help="timed data-only passes per pipeline (default: 3; 0: skip)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads for the main process")
    parser.add_argument("--seed", type=int, default=0, help="seed for data, models and batches (default: 0)")
    parser.add_argument("--output", default=None, help="JSON path (default: results/benchmarks/data_pipeline-<cpu|gpu>.json)")
    args = parser.parse_args(argv)
    try:
        args.workers = [int(w) for w in args.workers.split(",") if w.strip()]
    except ValueError:
        parser.error(f"--workers must be comma-separated integers, got {args.workers!r}")
    if not args.workers or any(w < 0 for w in args.workers):
        parser.error("--workers needs at least one value, each >= 0")
    for name in ("images", "batch_size", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.data_repeats < 0:
        parser.error("--data-repeats must be >= 0")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    started = time.perf_counter()
    whole = CpuShare()
    results: dict = {
        "benchmark": "bench_data_pipeline",
        "command": shlex.join([sys.executable, *sys.argv]) if argv is None else shlex.join(["bench_data_pipeline.py", *argv]),
        "cwd": os.getcwd(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "settings": {k: v for k, v in vars(args).items() if k != "output"},
        "environment": environment(device),
        "loadavg_before": loadavg(),
    }
    log(f"bench_data_pipeline on {device} ({torch.get_num_threads()} torch threads), model {args.model}, "
        f"{args.images} images, batch {args.batch_size}, workers {args.workers}")

    images, labels = synthetic_images(args.images, args.seed)
    mean, std = channel_stats(images)

    synchronize(device)
    start = time.perf_counter()
    data = build_image_data(images, labels, mean, std, device)
    synchronize(device)
    setup_seconds = time.perf_counter() - start

    pipelines = [drive_lab_pipeline(data, args.batch_size, args.seed)]
    loaders = {}
    for workers in args.workers:
        loaders[workers] = make_loader(images, labels, mean, std, args.batch_size, workers, device, args.seed)
        pipelines.append(loader_pipeline(loaders[workers], device, workers))

    # Warm-up: kernels, allocator, oneDNN/cuDNN choices; one untimed pass of every pipeline
    # (starts the persistent workers; its time is reported as first_pass_seconds).
    model, optimiser = fresh_model(args.model, args.seed, device, args.batch_size)
    x, y = next(iter(pipelines[0].epoch()))
    for _ in range(2):
        training_step(model, optimiser, x, y, device)
    first_pass = {}
    for pipeline in pipelines:
        first_pass[pipeline.name], _, _ = data_pass(pipeline, device)
    del model, optimiser

    data_seconds: dict[str, list[float]] = {p.name: [] for p in pipelines}
    epoch_seconds: dict[str, list[float]] = {p.name: [] for p in pipelines}
    counts: dict[str, tuple[int, int]] = {}
    shares = {}
    share = CpuShare()
    for repeat in range(args.data_repeats):
        for pipeline in pipelines[repeat % len(pipelines):] + pipelines[:repeat % len(pipelines)]:
            seconds, steps, seen = data_pass(pipeline, device)
            data_seconds[pipeline.name].append(seconds)
    shares["data_only"] = share.others()

    share = CpuShare()
    for repeat in range(args.repeats):
        order = pipelines[repeat % len(pipelines):] + pipelines[:repeat % len(pipelines)]
        for pipeline in order:
            seconds, steps, seen = train_epoch(pipeline, args.model, args.seed, device, args.batch_size)
            epoch_seconds[pipeline.name].append(seconds)
            counts[pipeline.name] = (steps, seen)
            log(f"  epoch {repeat + 1}/{args.repeats} {pipeline.name:22s} {seconds:7.3f} s  "
                f"{seen / seconds:8.1f} images/s ({steps} steps)")
    shares["training"] = share.others()
    shares["whole_run"] = whole.others()

    step_counts = {steps for steps, _ in counts.values()}
    if len(step_counts) != 1:
        raise RuntimeError(f"pipelines ran different numbers of steps: {counts}")

    out = {}
    for pipeline in pipelines:
        steps, seen = counts[pipeline.name]
        train = summary(epoch_seconds[pipeline.name])
        entry = {
            "description": pipeline.description,
            "steps_per_epoch": steps,
            "images_per_epoch": seen,
            "epoch_seconds": train,
            "images_per_second": seen / train["median"],
            "first_pass_seconds": first_pass[pipeline.name],
        }
        if data_seconds[pipeline.name]:
            passed = summary(data_seconds[pipeline.name])
            entry["data_only_seconds"] = passed
            entry["data_only_images_per_second"] = seen / passed["median"]
        out[pipeline.name] = entry
    reference = out["drive_lab"]
    ratios = {}
    for pipeline in pipelines[1:]:
        other = out[pipeline.name]
        ratios[pipeline.name] = {
            "training_images_per_second_ratio": reference["images_per_second"] / other["images_per_second"],
            "data_only_images_per_second_ratio": (
                reference["data_only_images_per_second"] / other["data_only_images_per_second"]
                if "data_only_images_per_second" in reference else None),
            # Ratio within each round (both epochs under the same background load).
            "training_median_of_round_ratios": statistics.median(
                b / a for a, b in zip(epoch_seconds["drive_lab"], epoch_seconds[pipeline.name])),
        }
    results.update({
        "model": args.model,
        "image_shape": [CHANNELS, IMAGE_SIZE, IMAGE_SIZE],
        "num_classes": NUM_CLASSES,
        "image_data_setup_seconds": setup_seconds,
        "pipelines": out,
        "ratio_drive_lab_over_dataloader": ratios,
        "other_processes_cpu_share": shares,
        "loadavg_after": loadavg(),
        "benchmark_seconds": time.perf_counter() - started,
    })

    env = results["environment"]
    print(f"drive_lab {env['drive_lab']}, torch {env['torch']}, torchvision {env['torchvision']}, device {env['device']}"
          + (f" ({env['gpu']})" if "gpu" in env else "")
          + f", torch threads {env['torch_threads']}, cpu_count {env['cpu_count']}")
    print(f"model {args.model}, {args.images} synthetic 3x32x32 uint8 images, batch {args.batch_size}, "
          f"{reference['steps_per_epoch']} steps per epoch, {args.repeats} epochs per pipeline; "
          f"ImageData setup (once) {setup_seconds * 1e3:.1f} ms")
    print(f"load average before {results['loadavg_before']}, after {results['loadavg_after']}; CPU share of other "
          "processes " + ", ".join(f"{k} {v * 100:.0f}%" for k, v in shares.items() if v is not None))
    if device.type == "cpu" and max((v for v in shares.values() if v is not None), default=0) > 0.10:
        print("WARNING: other processes used over 10% of the CPU time while measuring; CPU figures are inflated "
              "and noisy (rerun on an idle machine" + (")." if torch.get_num_threads() == 1 else ", or compare with --threads 1)."))
    head = f"{'pipeline':24s} {'train img/s':>12s} {'epoch s (median)':>17s} {'spread':>7s} {'data-only img/s':>16s} {'1st pass s':>11s}"
    print(head)
    print("-" * len(head))
    for name, entry in out.items():
        data_rate = entry.get("data_only_images_per_second")
        print(f"{name:24s} {entry['images_per_second']:12.1f} {entry['epoch_seconds']['median']:17.3f} "
              f"{entry['epoch_seconds']['spread'] * 100:6.1f}% "
              f"{(f'{data_rate:16.0f}' if data_rate else f'{chr(45):>16s}')} {entry['first_pass_seconds']:11.3f}")
    for name, ratio in ratios.items():
        data_ratio = ratio["data_only_images_per_second_ratio"]
        print(f"ratio drive_lab / {name}: training {ratio['training_images_per_second_ratio']:.3f}x "
              f"(median of per-round ratios {ratio['training_median_of_round_ratios']:.3f}x)"
              + (f", data only {data_ratio:.1f}x" if data_ratio else ""))
    print(f"benchmark took {results['benchmark_seconds']:.1f} s")

    kind = "gpu" if device.type == "cuda" else "cpu"
    output = Path(args.output) if args.output else REPO_ROOT / "results" / "benchmarks" / f"data_pipeline-{kind}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f"{output.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    os.replace(tmp, output)
    print(f"results written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
