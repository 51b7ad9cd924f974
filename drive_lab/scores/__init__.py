"""Score functions: ``score(model, batches, masks=None, **options) -> {param_name: Tensor}``.

Convention (method.md): one tensor per prunable weight, keyed as in
``model.named_parameters()``; a HIGHER score means MORE important (kept); already-pruned
weights get ``-inf``.
"""
from .drive import COMBINATIONS, TERMS, combine_terms, drive, drive_terms, normalise

__all__ = ["COMBINATIONS", "TERMS", "combine_terms", "drive", "drive_terms", "normalise"]
