"""Presets: the sizes of every course experiment, chosen by one switch.

``DRIVE_LAB_PRESET`` = ``smoke`` (CI: each notebook in about a minute on 2 CPU cores),
``cpu`` (Fashion-MNIST, real results in minutes on a laptop CPU) or ``gpu`` (the paper's
setting: CIFAR-10 with VGG-16 and ResNet-18, the literature recipe of method.md).
Without the variable: ``gpu`` when CUDA is present and gpu tables are committed, else ``cpu``. The notebooks read the
preset in their first cell; the sizes live here, not in the notebooks.
"""
from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path
from dataclasses import dataclass

import torch

from .config import RunConfig
from .paths import default_tables_dir
from .study import StudyArchitecture, StudyPlan

PRESET_ENV_VAR = "DRIVE_LAB_PRESET"


@dataclass(frozen=True)
class Preset:
    """Sizes for one hardware budget.

    run: RunConfig defaults shared by every experiment of the preset (data, model,
    epochs, optimiser). models: architectures for the full pruning runs. sparsities:
    the grid for comparisons and ablations; full_sparsities: the grid of the full runs
    (up to at least 99%); extreme_sparsities: where layer collapse shows. seeds: repeats.
    warmup_grid: warm-up epochs E for the warm-up ablation.
    """

    name: str
    description: str
    run: RunConfig
    models: tuple[str, ...]
    sparsities: tuple[float, ...]
    full_sparsities: tuple[float, ...]
    extreme_sparsities: tuple[float, ...]
    seeds: tuple[int, ...]
    warmup_grid: tuple[int, ...]
    iterations: int = 100
    warmup_epochs: int = 3
    study: StudyPlan | None = None  # the reproduction study's sizes (drive_lab.study)

    def config(self, **changes) -> RunConfig:
        """The preset's RunConfig for ``changes["method"]`` (default DRIVE), with ``changes`` applied.

        The iterative methods get the preset's N (``iterations``: DRIVE, SynFlow) and DRIVE
        its E (``warmup_epochs``); the other methods keep their own defaults (one-shot, no
        warm-up) unless ``changes`` sets them.
        """
        method = changes.get("method", self.run.method)
        defaults = {}
        if method in ("drive", "synflow"):
            defaults["iterations"] = self.iterations
        if method == "drive":
            defaults["warmup_epochs"] = self.warmup_epochs
        return self.run.replace(**{**defaults, **changes})

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        values["run"] = self.run.to_dict()
        return values


PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        name="smoke",
        description="CI smoke test: bundled digits, tiny budgets (each notebook in about a minute on 2 CPU cores)",
        run=RunConfig(dataset="digits", model="conv", epochs=2, batch_size=64, lr=0.05, device="auto"),
        models=("conv",),
        sparsities=(0.5, 0.9),
        full_sparsities=(0.5, 0.9, 0.99),
        extreme_sparsities=(0.999,),
        seeds=(0,),
        warmup_grid=(0, 1, 2),
        iterations=10,
        warmup_epochs=1,
        study=StudyPlan(
            architectures=(StudyArchitecture("conv", sparsities=(0.9,), seeds=(0,), ablation_seeds=(0,), warmup_epochs=1),),
            iterations=5, warmup_grid=(0, 1), convergence_grid=(0.0, 1.0), map_sparsity=0.9, budget_warmups=(0, 1),
            budget_sparsity=0.9, description="CI: one seed, one sparsity, the conv network on digits"),
    ),
    "cpu": Preset(
        name="cpu",
        description="laptop CPU: Fashion-MNIST (10,000 training images), LeNet-300-100, minutes per sweep",
        run=RunConfig(dataset="fashion_mnist", model="mlp", subset=10000, epochs=8, batch_size=128, lr=0.05,
                      device="auto"),
        models=("mlp",),
        sparsities=(0.8, 0.9, 0.95, 0.98, 0.99),
        full_sparsities=(0.8, 0.9, 0.95, 0.98, 0.99, 0.995),
        extreme_sparsities=(0.99, 0.998, 0.999),
        seeds=(0, 1, 2),
        warmup_grid=(0, 1, 2, 4, 8),
        iterations=100,
        warmup_epochs=2,
        study=StudyPlan(
            architectures=(
                StudyArchitecture("mlp", sparsities=(0.9, 0.98, 0.99), seeds=(0, 1, 2, 3, 4), ablation_seeds=(0, 1, 2),
                                  warmup_epochs=2,
                                  note="LeNet-300-100 (no BatchNorm), 10,000 training images, T = 8"),
                StudyArchitecture("conv", changes={"model": "conv", "subset": 4000, "test_subset": 2000, "epochs": 6,
                                                   "batch_size": 64},
                                  sparsities=(0.98,), seeds=(0, 1, 2, 3, 4), ablation_seeds=(0, 1, 2),
                                  imp_seeds=(0, 1, 2), warmup_epochs=1, iterations=25,
                                  questions=("study_scores", "study_decomposition", "study_terms", "study_imp",
                                             "study_sanity", "study_sanity_imp", "study_convergence", "study_budget"),
                                  note="4-conv BatchNorm CNN, 4,000 training and 2,000 test images, T = 6 (378 "
                                       "optimiser steps of batch 64 after pruning), N = 25 pruning iterations, one "
                                       "sparsity; IMP (18 rounds of T epochs at 98%) on 3 seeds: sized to CPU sessions"),
                StudyArchitecture("transformer", changes={"model": "transformer", "subset": 4000, "test_subset": 2000,
                                                          "epochs": 6, "batch_size": 64},
                                  sparsities=(0.98,), seeds=(0, 1, 2, 3, 4), ablation_seeds=(0, 1, 2),
                                  imp_seeds=(0, 1, 2), warmup_epochs=1, iterations=25, extra_scores=("prospr",),
                                  questions=("study_scores", "study_imp", "study_sanity", "study_sanity_imp"),
                                  note="a 2-block Transformer encoder reading each image as 28 row tokens (no "
                                       "convolution, LayerNorm instead of BatchNorm), the conv network's data and "
                                       "schedule; ProsPr joins the scores here; the headline questions and sanity "
                                       "checks only"),
            ),
            iterations=100, warmup_grid=(0, 1, 2, 4), convergence_grid=(0.0, 0.25, 0.5, 1.0, 2.0, 4.0),
            map_sparsity=0.98, budget_warmups=(0, 1, 2, 4), budget_sparsity=0.98,
            description="Fashion-MNIST: the whole study on LeNet-300-100, the headline questions on a BatchNorm CNN "
                        "and on a Transformer"),
    ),
    "gpu": Preset(
        name="gpu",
        description="the paper's setting: CIFAR-10, VGG-16 and ResNet-18, 160 epochs (SGD 0.1, ×0.1 at 80/120)",
        run=RunConfig(dataset="cifar10", model="vgg16", epochs=160, batch_size=128, lr=0.1, lr_schedule="step", weight_decay=5e-4, download=True, device="auto"),
        models=("vgg16", "resnet18"),
        sparsities=(0.9, 0.95, 0.98, 0.99),
        full_sparsities=(0.9, 0.95, 0.98, 0.99, 0.995, 0.998),
        extreme_sparsities=(0.99, 0.998, 0.999),
        seeds=(0, 1, 2),
        warmup_grid=(0, 1, 3, 5, 10),
        iterations=100,
        warmup_epochs=3,
        study=StudyPlan(
            architectures=tuple(
                StudyArchitecture(model, changes={"model": model}, sparsities=(0.9, 0.98, 0.99), seeds=(0, 1, 2, 3, 4),
                                  ablation_seeds=(0, 1, 2), warmup_epochs=3,
                                  questions=None if model == "vgg16" else ("study_scores", "study_decomposition",
                                                                           "study_imp", "study_sanity"))
                for model in ("vgg16", "resnet18")),
            iterations=100, warmup_grid=(0, 1, 3, 5), map_sparsity=0.98, budget_warmups=(0, 1, 3, 5),
            budget_sparsity=0.98, description="CIFAR-10, the paper's recipe: the whole study on VGG-16, "
                                              "the headline questions and sanity checks on ResNet-18 (days of GPU time)"),
    ),
    "gpu_short": Preset(
        name="gpu_short",
        description="about an hour on one GPU: CIFAR-10 ResNet-18, 20 epochs, the headline questions at 98%",
        run=RunConfig(dataset="cifar10", model="resnet18", epochs=20, batch_size=128, lr=0.1, lr_schedule="cosine",
                      weight_decay=5e-4, download=True, device="auto"),
        models=("resnet18",),
        sparsities=(0.9, 0.98),
        full_sparsities=(0.9, 0.98, 0.99),
        extreme_sparsities=(0.99,),
        seeds=(0,),
        warmup_grid=(0, 1, 2),
        iterations=100,
        warmup_epochs=2,
        study=StudyPlan(
            architectures=(StudyArchitecture("resnet18", changes={"model": "resnet18"}, sparsities=(0.98,), seeds=(0,),
                                             ablation_seeds=(0,), warmup_epochs=2,
                                             questions=("study_scores", "study_decomposition")),),
            iterations=100, description="CIFAR-10 ResNet-18, 20 epochs, one seed, 98%: the headline questions"),
    ),
}


def has_committed_tables(name: str, tables_dir: str | os.PathLike | None = None) -> bool:
    """Whether ``results/<name>/`` holds any committed experiment table (CSV)."""
    folder = Path(tables_dir) if tables_dir is not None else default_tables_dir()
    return any((folder / name).glob("*.csv"))


def default_preset_name() -> str:
    """``$DRIVE_LAB_PRESET``; else ``gpu`` when CUDA is present *and* gpu tables are committed; else ``cpu``.

    On a CUDA machine without committed ``gpu`` tables, opening a notebook would otherwise
    start the gpu preset's sweeps (CIFAR-10, 160 epochs: days of compute). It shows the
    committed cpu tables instead and warns how to ask for the gpu preset.
    """
    if os.environ.get(PRESET_ENV_VAR):
        return os.environ[PRESET_ENV_VAR]
    if torch.cuda.is_available():
        if has_committed_tables("gpu"):
            return "gpu"
        warnings.warn("CUDA is available but no gpu-preset tables are committed under results/gpu/, so the cpu "
                      "preset's committed tables are shown. The gpu sweeps take days on one GPU (CIFAR-10, 160 "
                      "epochs per run): start them with `python -m drive_lab experiment all --preset gpu`, or set "
                      f"{PRESET_ENV_VAR}=gpu (or gpu_short, about an hour of the study) to run them from a notebook.",
                      stacklevel=2)
    return "cpu"


def get_preset(name: str | None = None) -> Preset:
    """The preset called ``name`` (default: :func:`default_preset_name`)."""
    name = (name or default_preset_name()).strip().lower()
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r} (from {PRESET_ENV_VAR} or the argument); "
                         f"valid choices: {', '.join(PRESETS)}")
    return PRESETS[name]
