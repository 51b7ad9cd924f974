"""Which weights are prunable: the ``.weight`` of every ``nn.Conv2d`` and ``nn.Linear``."""
from __future__ import annotations

from torch import nn

PRUNABLE_TYPES = (nn.Conv2d, nn.Linear)


def prunable_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """The prunable weights of ``model``, keyed as in ``model.named_parameters()``.

    Raises ``ValueError`` when the model has no ``nn.Conv2d``/``nn.Linear`` weight.
    """
    weights = {
        f"{module_name}.weight" if module_name else "weight": module.weight
        for module_name, module in model.named_modules()
        if isinstance(module, PRUNABLE_TYPES) and module.weight is not None
    }
    if not weights:
        raise ValueError(
            f"{type(model).__name__} has no prunable layer: drive_lab prunes the .weight of "
            "nn.Conv2d and nn.Linear modules, and this model contains none"
        )
    return weights


def _prunable_modules(model: nn.Module) -> dict[str, nn.Module]:
    """The prunable modules of ``model`` keyed by their weight's name (as :func:`prunable_parameters`)."""
    modules = {f"{module_name}.weight" if module_name else "weight": module
               for module_name, module in model.named_modules()
               if isinstance(module, PRUNABLE_TYPES) and getattr(module, "weight", None) is not None}
    if not modules:
        prunable_parameters(model)  # raises the error that names the problem
    return modules
