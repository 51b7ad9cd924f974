"""The scores dict :meth:`Masks.expand` returns, which also carries the survivors' values."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .container import Masks


class _Scores(dict):
    """What :meth:`Masks.expand` returns: a plain ``{name: Tensor}`` dict that also keeps the
    survivors' values it was built from, so :func:`keep_top` need not gather them again.

    The shortcut is taken only while it is provably the same data: same ``Masks`` object,
    the same tensor objects under the same names, and neither they nor the values modified
    in place since (their version counters unchanged). Anything else, a replaced entry, an
    in-place edit, other masks, goes the general way.
    """

    __slots__ = ("_masks", "_values", "_tensors", "_versions")

    def __reduce__(self):  # pickles (torch.save, deepcopy) as the plain dict it is
        return (dict, (dict(self),))

    @classmethod
    def build(cls, tensors: dict[str, torch.Tensor], masks: "Masks", values: torch.Tensor, fill: float) -> dict:
        out = cls(tensors)
        out._masks = masks if not math.isnan(fill) else None
        out._values = values
        out._tensors = list(tensors.values())
        out._versions = [values._version] + [t._version for t in out._tensors]
        return out

    @staticmethod
    def survivor_values(scores: Mapping[str, torch.Tensor], masks: "Masks") -> torch.Tensor | None:
        if type(scores) is not _Scores or scores._masks is not masks or len(scores) != len(masks):
            return None
        if any(scores.get(name) is not t for name, t in zip(masks, scores._tensors)):
            return None
        if [scores._values._version] + [t._version for t in scores._tensors] != scores._versions:
            return None
        if scores._values.device != masks._device:
            return None
        return scores._values
