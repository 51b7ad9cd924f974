#!/usr/bin/env python
"""How much each fidelity choice changes the masks (docs/method.md, "Implementation notes").

    python scripts/fidelity_effects.py            # writes results/fidelity/effects.json

- BatchNorm mode while scoring (SNIP, GraSP on the ``conv`` model at initialisation):
  fraction of the weights kept in train mode that are also kept in eval mode;
- scoring set (SNIP, eval mode): one batch of 64 against 10 examples per class;
- initialisation (magnitude at initialisation, CIFAR-10 shapes): the classifier's share
  kept with 0.1.0's init and with the reference init.
Every figure is the mean over seeds, with each seed's value listed.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import drive_lab  # noqa: E402
from drive_lab import models, scores  # noqa: E402
from drive_lab.config import RunConfig  # noqa: E402
from drive_lab.analysis.score_modes import mask_in_mode, shared_fraction  # noqa: E402
from drive_lab.masks import Masks, keep_top  # noqa: E402
from drive_lab.phases import prepare, scoring_source  # noqa: E402
from drive_lab.runtime import environment, resolve_device  # noqa: E402


def bn_and_scoring_set(args) -> dict:
    out: dict = {}
    for seed in args.seeds:
        config = RunConfig(method="snip", model="conv", dataset=args.dataset, subset=args.subset, seed=seed,
                           device="cpu", batch_size=64, score_per_class=0)
        config, _, model, data = prepare(config)
        batch = scoring_source(data, config)()
        per_class = [data.balanced_batch(10, torch.Generator().manual_seed(seed + 7))]
        for sparsity in args.sparsities:
            density = 1 - sparsity
            for name, score in (("snip", scores.snip), ("grasp", scores.grasp)):
                train = mask_in_mode(score, model, batch, density, training=True)
                evaluated = mask_in_mode(score, model, batch, density, training=False)
                out.setdefault(f"{name} train vs eval mode, {sparsity:.0%}", []).append(shared_fraction(train, evaluated))
            one_batch = mask_in_mode(scores.snip, model, batch, density, training=False)
            balanced = mask_in_mode(scores.snip, model, per_class, density, training=False)
            out.setdefault(f"snip 64-example batch vs 10 per class, {sparsity:.0%}", []).append(shared_fraction(one_batch, balanced))
    return out


def classifier_share(args) -> dict:
    out: dict = {}
    for seed in args.seeds:
        for name in ("vgg16", "resnet18"):
            for init in ("legacy", "reference"):
                torch.manual_seed(seed)
                model = models.build(name, num_classes=10, in_channels=3, image_size=32, init=init)
                masks = Masks.ones(model)
                for sparsity in (0.98, 0.99):
                    kept = keep_top(scores.magnitude(model, None, masks), masks, 1 - sparsity)
                    key = f"{name} magnitude at init, classifier share kept at {sparsity:.0%}, {init} init"
                    out.setdefault(key, []).append(kept.layer_density()["classifier.weight"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--subset", type=int, default=5000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--sparsities", type=float, nargs="+", default=[0.9, 0.99])
    parser.add_argument("--output", default=str(ROOT / "results" / "fidelity" / "effects.json"))
    args = parser.parse_args(argv)
    drive_lab.set_progress(False)
    torch.set_num_threads(1)
    figures = {**bn_and_scoring_set(args), **classifier_share(args)}
    table = {name: {"mean": sum(values) / len(values), "per_seed": values} for name, values in figures.items()}
    env = environment(resolve_device("cpu"))
    record = {"command": shlex.join(["python", "scripts/fidelity_effects.py", *(argv or sys.argv[1:])]),
              "settings": vars(args), "figures": table,
              "hardware": f"{env['processor']}, {env['cpu_count']} CPU cores", "environment": env}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(record, indent=1) + "\n")
    width = max(map(len, table))
    for name, row in table.items():
        print(f"{name:<{width}}  {row['mean']:.3f}  ({', '.join(f'{v:.3f}' for v in row['per_seed'])})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
