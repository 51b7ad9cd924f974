"""Model weights and masks saved together, and loaded back enforced."""
from __future__ import annotations

import os

import torch
from torch import nn

from ..paths import atomic_write
from .container import Masks


def save(path: str | os.PathLike, model: nn.Module, masks: Masks, **extra) -> None:
    """Save model weights and masks together (atomically: written to a temporary file, then renamed)."""
    masks.apply(model)
    state = {"model": model.state_dict(), "masks": masks.state_dict(), **extra}
    with atomic_write(path, "wb") as stream:
        torch.save(state, stream)


def load(path: str | os.PathLike, model: nn.Module, map_location: str | torch.device = "cpu") -> Masks:
    """Load weights saved by :func:`save` into ``model``; returns the masks, already enforced."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"{path} is not a file written by drive_lab.masks.save (truncated or another format: "
                         f"{' '.join(str(error).split())[:120]})") from None
    if not isinstance(state, dict) or "model" not in state or "masks" not in state:
        raise ValueError(f"{path} is not a file written by drive_lab.masks.save (no model and masks entries)")
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as error:
        raise ValueError(f"{path} holds another network's weights than this {type(model).__name__}: "
                         f"{' '.join(str(error).split())[:300]}") from None
    device = next(model.parameters()).device
    masks = Masks(state["masks"]).to(device)
    masks.apply(model)
    return masks
