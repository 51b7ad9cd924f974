"""Published figures the course compares against, with their sources (never our measurements).

PAPER_SPEEDUP_CLAIM: DRIVE's pruning-time speed-up over IMP as stated by Saikumar &
Varghese, arXiv 2404.03687 (2024). SYNFLOW_CIFAR10: CIFAR-10 test accuracies (%, mean of 3
seeds, maximum over training) published by Tanaka et al., "Pruning neural networks without
any data by iteratively conserving synaptic flow", NeurIPS 2020; ``None`` = not reported.
"""
from __future__ import annotations

PAPER_SPEEDUP_CLAIM: tuple[float, float] = (43.0, 869.0)

SYNFLOW_CIFAR10: list[dict] = [
    {"model": "vgg16", "sparsity": 0.99, "random": 79.1, "magnitude": 89.8, "snip": 89.2, "grasp": 87.5, "synflow": 90.1},
    {"model": "vgg16", "sparsity": 0.999, "random": 10.0, "magnitude": 10.0, "snip": 76.3, "grasp": 70.9, "synflow": 80.4},
    {"model": "resnet18", "sparsity": 0.99, "random": None, "magnitude": None, "snip": 90.8, "grasp": 89.7, "synflow": 90.4},
]


def synflow_cifar10():
    """The Synaptic-Flow reference table as a DataFrame (accuracy in %; 10.0 = layer collapse)."""
    import pandas

    return pandas.DataFrame(SYNFLOW_CIFAR10).set_index(["model", "sparsity"])
