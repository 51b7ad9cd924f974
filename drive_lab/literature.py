"""Published figures the course compares against, with their sources (never our measurements).

PAPER_SPEEDUP_CLAIM: DRIVE's pruning-time speed-up over IMP as stated by Saikumar &
Varghese, arXiv 2404.03687 (2024). SYNFLOW_CIFAR10: CIFAR-10 test accuracies (%, mean of 3
runs) from the authors' committed result arrays of Tanaka et al., "Pruning neural networks
without any data by iteratively conserving synaptic flow", NeurIPS 2020.
"""
from __future__ import annotations

PAPER_SPEEDUP_CLAIM: tuple[float, float] = (43.0, 869.0)

# Sparsity = 1 - 10**-x for the arrays' compression exponents x = 1, 1.75, 2, 3 (90%, 98.2%,
# 99.0%, 99.9%). Source: ganguli-lab/Synaptic-Flow, Results/data/Accuracy_CompRatio/*.npy
# (3 runs each; "magnitude" is magnitude at initialisation; 10.0 = layer collapse). Recipe:
# SGD lr 0.1, 160 epochs, drops at 60/120, wd 1e-4, batch 128, scored on 10 examples per class,
# SynFlow 100 iterations and the others once.
SYNFLOW_CIFAR10_SOURCE = ("Tanaka et al., NeurIPS 2020: the authors' committed arrays, ganguli-lab/Synaptic-Flow "
                          "Results/data/Accuracy_CompRatio (CIFAR-10, mean of 3 runs)")
SYNFLOW_CIFAR10: list[dict] = [
    {"model": "vgg16", "sparsity": 0.9, "random": 91.15, "magnitude": 93.12, "snip": 92.26, "grasp": 91.84, "synflow": 93.26},
    {"model": "vgg16", "sparsity": 1 - 10 ** -1.75, "random": 84.08, "magnitude": 90.93, "snip": 90.61, "grasp": 88.96,
     "synflow": 91.21},
    {"model": "vgg16", "sparsity": 0.99, "random": 79.14, "magnitude": 89.80, "snip": 89.15, "grasp": 87.49, "synflow": 90.08},
    {"model": "vgg16", "sparsity": 0.999, "random": 10.00, "magnitude": 10.00, "snip": 76.25, "grasp": 70.93, "synflow": 80.39},
    {"model": "resnet18", "sparsity": 0.9, "random": 92.92, "magnitude": 94.40, "snip": 94.29, "grasp": 93.78,
     "synflow": 94.07},
    {"model": "resnet18", "sparsity": 1 - 10 ** -1.75, "random": 87.34, "magnitude": 10.00, "snip": 91.84, "grasp": 91.18,
     "synflow": 91.75},
    {"model": "resnet18", "sparsity": 0.99, "random": 82.98, "magnitude": 10.00, "snip": 90.80, "grasp": 89.71,
     "synflow": 90.36},
    {"model": "resnet18", "sparsity": 0.999, "random": 13.51, "magnitude": 10.00, "snip": 78.65, "grasp": 71.44,
     "synflow": 79.85},
]


def synflow_cifar10():
    """The Synaptic-Flow reference table as a DataFrame (accuracy in %; 10.0 = layer collapse)."""
    import pandas

    return pandas.DataFrame(SYNFLOW_CIFAR10).set_index(["model", "sparsity"])
