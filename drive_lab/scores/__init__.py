"""Score functions: ``score(model, batches, masks=None, **options) -> {param_name: Tensor}``.

Convention (method.md): one tensor per prunable weight, keyed as in
``model.named_parameters()``; a HIGHER score means MORE important (kept); already-pruned
weights get ``-inf``. Gradient scores average ∂L/∂θ over the scoring batches.
"""
from .drive import COMBINATIONS, TERMS, combine_terms, drive, drive_survivors, drive_terms, normalise
from .grasp import grasp, hessian_gradient_product
from .prospr import prospr
from .simple import magnitude, random
from .snip import snip
from .synflow import synflow

__all__ = [
    "COMBINATIONS", "TERMS", "combine_terms", "drive", "drive_survivors", "drive_terms", "normalise",
    "grasp", "hessian_gradient_product", "magnitude", "prospr", "random", "snip", "synflow",
]
