"""Binary pruning masks over the prunable weights, and the four mask invariants.

What is prunable (method.md): the ``.weight`` of every ``nn.Conv2d`` and ``nn.Linear``,
the classifier included. Biases, BatchNorm parameters and buffers are never pruned.

Invariants (method.md), and where each is kept:

1. Nested: :func:`keep_top` ranks only the weights that survive, so a weight pruned once
   stays pruned whatever its score (its score is treated as ``-inf``).
2. Exact: :func:`keep_top` keeps exactly ``round(density * n_prunable)`` weights by a
   global top-k with deterministic tie-breaking, never by a ``<=`` threshold.
3. Enforced: :meth:`Masks.apply` / :class:`BoundMasks` zero pruned weights in place;
   training calls them after every optimiser step, scoring before every score.
4. Observable: :meth:`Masks.layer_density`, :meth:`Masks.collapsed`, :meth:`Masks.report`.

Cost (one pruning iteration should cost about one forward + backward pass): a
:class:`Masks` never changes, so it keeps what it knows about itself, computed once: the
number kept in each layer (Python ints, so counting never touches the device again) and
the positions of the kept weights. :func:`keep_top` ranks only the survivors (at low
density most entries are already pruned), computes the per-layer counts of its result in
one vectorised step and brings them to the host together with its NaN check, in a single
transfer (the one host synchronisation of a step on a GPU).
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Iterator

import torch
from torch import nn

from .paths import atomic_write

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


def _true_positions(flags: torch.Tensor, count: int) -> torch.Tensor:
    """Sorted positions of the ``True`` entries of the 1-D bool ``flags``; ``count`` of them.

    On CUDA ``nonzero_static`` needs no host synchronisation (the count is known here).
    """
    if flags.device.type == "cuda" and hasattr(torch, "nonzero_static"):
        try:
            return torch.nonzero_static(flags, size=count).squeeze(1)
        except (RuntimeError, NotImplementedError):  # pragma: no cover - older builds
            pass
    return flags.nonzero().squeeze(1)


class Masks(Mapping):
    """Immutable set of boolean masks (``True`` = kept), one per prunable weight.

    Behaves like a read-only ``dict[str, torch.BoolTensor]`` keyed by parameter name; each
    mask has its weight's shape. Pruning returns a new ``Masks``; nothing mutates one (so
    what a ``Masks`` computes about itself, counts and kept positions, is cached).
    """

    def __init__(self, masks: Mapping[str, torch.Tensor]):
        if not masks:
            raise ValueError("Masks needs at least one prunable weight")
        self._init({name: m.detach().to(torch.bool) for name, m in masks.items()}, None, None)

    def _init(self, masks: dict[str, torch.Tensor], counts: list[int] | None, local: torch.Tensor | None) -> None:
        self._masks = masks
        self._flat: torch.Tensor | None = None  # all masks, flattened and concatenated (when known)
        self._sizes = [m.numel() for m in masks.values()]
        self._total = sum(self._sizes)
        self._counts = counts  # kept per layer, Python ints (None: not counted yet)
        self._local = local  # kept positions within each layer, layer after layer (see _kept_positions)
        self._factors: dict[tuple, list[torch.Tensor]] = {}

    @classmethod
    def _trusted(cls, masks: dict[str, torch.Tensor], counts: list[int], local: torch.Tensor | None) -> "Masks":
        """A ``Masks`` from bool tensors whose per-layer counts (and kept positions) are known."""
        self = cls.__new__(cls)
        self._init(masks, counts, local)
        return self

    @classmethod
    def _from_flat(cls, flat: torch.Tensor, like: "Masks", counts: list[int], local: torch.Tensor | None) -> "Masks":
        """Masks shaped like ``like`` whose tensors are views of the 1-D bool ``flat``."""
        masks, offset = {}, 0
        for (name, m), size in zip(like._masks.items(), like._sizes):
            masks[name] = flat[offset : offset + size].view(m.shape)
            offset += size
        out = cls._trusted(masks, counts, local)
        out._flat = flat
        return out

    def _flat_mask(self) -> torch.Tensor:
        """All masks flattened and concatenated in order (a view when built that way)."""
        if self._flat is None:
            self._flat = torch.cat([m.reshape(-1) for m in self._masks.values()])
        return self._flat

    @classmethod
    def ones(cls, model: nn.Module) -> "Masks":
        """Masks that keep every prunable weight of ``model`` (density 1)."""
        masks = {name: torch.ones_like(w, dtype=torch.bool) for name, w in prunable_parameters(model).items()}
        return cls._trusted(masks, [m.numel() for m in masks.values()], None)

    # Mapping interface
    def __getitem__(self, name: str) -> torch.Tensor:
        return self._masks[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._masks)

    def __len__(self) -> int:
        return len(self._masks)

    def __repr__(self) -> str:
        return f"Masks({len(self)} layers, density={self.density():.4f}, kept={self.kept()}/{self.total()})"

    # Counting (invariant 4): one device-to-host transfer per Masks, then Python ints
    def _layer_counts(self) -> list[int]:
        if self._counts is None:
            masks = list(self._masks.values())
            if len({m.device for m in masks}) == 1:
                self._counts = [int(c) for c in torch.stack([m.sum() for m in masks]).tolist()]
            else:
                self._counts = [int(m.sum()) for m in masks]
        return self._counts

    def total(self) -> int:
        """Number of prunable weights."""
        return self._total

    def kept(self) -> int:
        """Number of weights kept (mask = 1)."""
        return sum(self._layer_counts())

    def density(self) -> float:
        """Fraction of prunable weights kept, in [0, 1] (= 1 - sparsity)."""
        return self.kept() / self.total()

    def layer_density(self) -> dict[str, float]:
        """Fraction kept in each prunable weight, by parameter name."""
        return {name: c / size for name, c, size in zip(self._masks, self._layer_counts(), self._sizes)}

    def collapsed(self) -> list[str]:
        """Names of the prunable weights with no weight left (a disconnected network)."""
        return [name for name, c in zip(self._masks, self._layer_counts()) if c == 0]

    def report(self) -> list[dict]:
        """One row per prunable weight: name, shape, kept, total, density, collapsed."""
        return [
            {
                "layer": name,
                "shape": list(m.shape),
                "kept": c,
                "total": size,
                "density": c / size,
                "collapsed": c == 0,
            }
            for (name, m), c, size in zip(self._masks.items(), self._layer_counts(), self._sizes)
        ]

    # Kept positions: the survivors, layer after layer
    def _kept_positions(self) -> torch.Tensor | None:
        """Positions of the kept weights within their layer's flattened mask (int64, 1-D).

        Layer after layer in masks order, ascending within a layer; layer ``i`` holds
        ``_layer_counts()[i]`` entries. ``None`` when every weight is kept (then the
        survivors are simply all entries, and no index is stored).
        """
        if self.kept() == self._total:
            return None
        if self._local is None:
            self._local = torch.cat([
                _true_positions(m.reshape(-1), c) for m, c in zip(self._masks.values(), self._layer_counts())
            ])
        return self._local

    def _segments(self) -> list[tuple[int, int]]:
        """``(start, end)`` of each layer's survivors in :meth:`select` order."""
        segments, start = [], 0
        for c in self._layer_counts():
            segments.append((start, start + c))
            start += c
        return segments

    def select(self, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        """The entries of ``tensors`` at the kept weights, as one 1-D tensor.

        Args:
            tensors: one tensor per prunable weight, in masks order, each with that
                weight's number of entries.

        Returns:
            The kept entries, layer after layer (masks order), each layer in flattened index
            order: the order of :func:`keep_top`'s tie-breaking. On the tensors' device.
        """
        flats = [t.reshape(-1) for t in tensors]
        if len(flats) != len(self._sizes) or any(f.numel() != size for f, size in zip(flats, self._sizes)):
            raise ValueError("select needs one tensor per prunable weight, each with its weight's number of entries")
        local = self._kept_positions()
        if local is None:
            return torch.cat(flats)
        parts = [f.index_select(0, local[a:b].to(f.device)) for f, (a, b) in zip(flats, self._segments())]
        return torch.cat(parts) if len(parts) > 1 else parts[0]

    def expand(
        self, values: torch.Tensor, fill: float, out: Sequence[torch.Tensor] | None = None
    ) -> dict[str, torch.Tensor]:
        """Inverse of :meth:`select`: ``{name: tensor of the weight's shape}``.

        Kept entries take ``values`` (1-D, in :meth:`select` order), pruned entries ``fill``.

        Args:
            values: one value per kept weight.
            fill: the value of the pruned entries (e.g. ``-inf`` for scores).
            out: optional tensors to write into, one per prunable weight in masks order,
                each contiguous, of ``values``' dtype and device and the weight's number of
                entries (a scorer's spent gradient buffers: no new full-size memory). By
                default the tensors are views of one new flat buffer.
        """
        if values.dim() != 1 or values.numel() != self.kept():
            raise ValueError(f"expand needs a 1-D tensor of {self.kept()} values (one per kept weight)")
        shapes = [m.shape for m in self._masks.values()]
        local = self._kept_positions()
        if out is not None:
            out = list(out)
            if len(out) != len(shapes) or not all(
                t.is_contiguous() and t.numel() == size and t.dtype == values.dtype and t.device == values.device
                for t, size in zip(out, self._sizes)
            ):
                raise ValueError("expand's out needs one contiguous tensor per weight, of the values' dtype and device")
            tensors = [t.view(shape) for t, shape in zip(out, shapes)]
            flats = [t.view(-1) for t in tensors]
            if local is None:
                torch._foreach_copy_(flats, list(torch.split(values, self._sizes)))
            else:
                local = local.to(values.device)
                for flat, (a, b) in zip(flats, self._segments()):
                    flat.fill_(fill)
                    if b > a:
                        flat.index_copy_(0, local[a:b], values[a:b])
        else:
            if local is None:
                flat = values
            else:
                flat = torch.full((self._total,), fill, dtype=values.dtype, device=values.device)
                local = local.to(values.device)
                offset = 0
                for size, (a, b) in zip(self._sizes, self._segments()):
                    if b > a:
                        flat[offset : offset + size].index_copy_(0, local[a:b], values[a:b])
                    offset += size
            tensors, offset = [], 0
            for shape, size in zip(shapes, self._sizes):
                tensors.append(flat[offset : offset + size].view(shape))
                offset += size
        return _Scores.build(dict(zip(self._masks, tensors)), self, values, fill)

    # Enforcement (invariant 3)
    def factors(self, dtype: torch.dtype, device: torch.device) -> list[torch.Tensor]:
        """The masks as 0/1 tensors of ``dtype`` on ``device`` (cached: masks never change)."""
        key = (dtype, torch.device(device))
        if key not in self._factors:
            self._factors[key] = self._build_factors(dtype, torch.device(device))
        return self._factors[key]

    def _build_factors(self, dtype: torch.dtype, device: torch.device) -> list[torch.Tensor]:
        all_kept = self._counts is not None and self.kept() == self._total
        if not all_kept and self._local is None:
            return [m.to(device=device, dtype=dtype) for m in self._masks.values()]
        # From the kept positions: one zero-filled buffer and a scatter of ones, which is far
        # cheaper than converting bool tensors (and one allocation for the whole network).
        if all_kept:
            flat = torch.ones(self._total, dtype=dtype, device=device)
        else:
            flat = torch.zeros(self._total, dtype=dtype, device=device)
            local = self._local.to(device)
            offset = 0
            for size, (a, b) in zip(self._sizes, self._segments()):
                if b > a:
                    flat[offset : offset + size].index_fill_(0, local[a:b], 1)
                offset += size
        out, offset = [], 0
        for m, size in zip(self._masks.values(), self._sizes):
            out.append(flat[offset : offset + size].view(m.shape))
            offset += size
        return out

    def bind(self, model: nn.Module) -> "BoundMasks":
        """Attach to ``model``'s weights for repeated, cheap enforcement (training loops)."""
        return BoundMasks(self, model)

    def apply(self, model: nn.Module) -> nn.Module:
        """Zero the pruned weights of ``model`` in place; returns ``model``."""
        weights = _matching_weights(self, model)
        if self._counts is not None and self.kept() == self._total:
            return model  # nothing pruned: multiplying by ones would change nothing
        first = weights[0]
        if all(w.dtype == first.dtype and w.device == first.device for w in weights):
            factors = self.factors(first.dtype, first.device)  # cached: masks never change
        else:
            factors = [f.to(device=w.device, dtype=w.dtype) for f, w in zip(self.factors(first.dtype, first.device), weights)]
        with torch.no_grad():
            torch._foreach_mul_(weights, factors)
        return model

    def to(self, device: torch.device | str) -> "Masks":
        device = torch.device(device)
        if all(m.device == device for m in self._masks.values()):
            return self  # immutable: nothing to copy, and the cached counts stay
        moved = Masks({name: m.to(device) for name, m in self._masks.items()})
        moved._counts = self._counts
        return moved

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Plain dict of CPU bool tensors, for saving."""
        return {name: m.cpu() for name, m in self._masks.items()}


def _matching_weights(masks: Masks, model: nn.Module) -> list[nn.Parameter]:
    """``model``'s prunable weights in masks order; ValueError if the names differ."""
    weights = prunable_parameters(model)
    if weights.keys() != masks._masks.keys():
        missing = sorted(set(weights) ^ set(masks))
        raise ValueError(f"masks do not match the model's prunable weights; differing names: {missing}")
    wrong = [f"{name}: mask {tuple(masks[name].shape)}, weight {tuple(weights[name].shape)}"
             for name in masks if masks[name].shape != weights[name].shape]
    if wrong:
        raise ValueError(f"masks do not fit the model's prunable weights: {'; '.join(wrong)}")
    return [weights[name] for name in masks]


class BoundMasks:
    """Masks bound to one model's weight tensors; two fused ops per training step."""

    def __init__(self, masks: Masks, model: nn.Module):
        self.masks = masks
        self.weights = _matching_weights(masks, model)
        self._factors = masks.factors(self.weights[0].dtype, self.weights[0].device)

    @torch.no_grad()
    def zero_pruned_weights(self) -> None:
        torch._foreach_mul_(self.weights, self._factors)

    @torch.no_grad()
    def zero_pruned_gradients(self) -> None:
        """Zero gradients of pruned weights, so momentum never builds up behind a mask."""
        pairs = [(w.grad, f) for w, f in zip(self.weights, self._factors) if w.grad is not None]
        if pairs:
            grads, factors = zip(*pairs)
            torch._foreach_mul_(list(grads), list(factors))


def _kth_largest(values: torch.Tensor, k: int) -> torch.Tensor:
    """The k-th largest entry of the 1-D ``values`` (0-dim tensor on its device), 1 <= k <= numel."""
    n = values.numel()
    if values.device.type == "cuda":
        # topk has a multi-block select for long vectors (kthvalue one block per row);
        # take the shorter side.
        if k <= n - k + 1:
            return torch.topk(values, k, largest=True, sorted=False).values.min()
        return torch.topk(values, n - k + 1, largest=False, sorted=False).values.max()
    source = values.cpu() if values.device.type == "mps" else values
    return torch.kthvalue(source, n - k + 1).values.to(values.device)


def _nan_error(names: list[str], scores: Mapping[str, torch.Tensor]) -> ValueError | None:
    """The ValueError for NaN scores (naming the layers), or None if no score is NaN."""
    nan_layers = [name for name in names if bool(torch.isnan(scores[name]).any())]
    if nan_layers:
        return ValueError(f"score function returned NaN for {nan_layers}; scores must be numbers or -inf")
    return None


def keep_top(scores: Mapping[str, torch.Tensor], masks: Masks, density: float) -> Masks:
    """New masks keeping exactly ``round(density * n_prunable)`` weights with the highest scores.

    Args:
        scores: one tensor per prunable weight (same names and shapes as ``masks``);
            higher = more important. Already-pruned entries are treated as ``-inf``
            whatever their score (invariant 1, nested).
        masks: the current masks.
        density: target fraction of prunable weights to keep, in [0, 1].

    Ties are broken deterministically: among equal scores, the weight that comes first in
    ``masks`` order (then flattened index order) is kept (invariant 2, exact). A NaN score
    anywhere (pruned entries included) is a ``ValueError``.

    Only the survivors are ranked (the pruned entries could not be kept anyway): one
    k-th-value selection over them, no sort. On a GPU the only host synchronisation is one
    small transfer at the end, carrying the NaN check and the per-layer counts of the new
    masks (which then report density, collapse etc. without touching the device again).
    """
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must be in [0, 1], got {density}")
    if set(scores) != set(masks):
        raise ValueError(f"scores and masks name different weights: {sorted(set(scores) ^ set(masks))}")
    names = list(masks)
    dtype = torch.float32
    for name in names:
        dtype = torch.promote_types(dtype, scores[name].dtype)
    device = masks[names[0]].device
    n = masks.total()
    k = int(round(density * n))
    survivors = masks.kept()
    if k > survivors:
        error = _nan_error(names, scores)
        raise error or ValueError(
            f"cannot keep {k} weights (density {density:.6g}): only {survivors} survive; "
            "masks are nested, so density can only go down"
        )

    values = _Scores.survivor_values(scores, masks)
    if values is not None:
        # Scores from Masks.expand (e.g. DRIVE's), unchanged since: the pruned entries hold
        # the fill value (not NaN), and the survivors' values are at hand.
        nan_hint = values.sum().isnan()
    else:
        tensors = []
        for name in names:
            t = scores[name].detach()
            if t.numel() != masks[name].numel():
                raise ValueError(f"scores[{name!r}] has {t.numel()} entries, its mask {masks[name].numel()}")
            tensors.append(t if t.device == device else t.to(device))
        # NaN anywhere, pruned entries included: a NaN makes its layer's sum NaN (one
        # reduction per layer, no allocation). A NaN sum from +inf and -inf scores is a false
        # alarm, which the entry-by-entry check below clears.
        nan_hint = torch.stack([t.sum(dtype=dtype) for t in tensors]).isnan().any()
        values = masks.select(tensors)  # the survivors' scores, in tie-breaking order
    values = values.to(dtype)
    if device.type == "cpu":
        # Reading a flag costs nothing on the CPU: fail before doing any work, and take the
        # route that suits the CPU when few survivors go (the usual iterative step).
        if bool(nan_hint):
            error = _nan_error(names, scores)
            if error is not None:
                raise error
        if 0 < survivors - k <= survivors // 8:
            dropped = _lowest(values, survivors - k)
            if dropped is not None:
                return _without(masks, dropped)
    if k == 0:
        keep = torch.zeros(survivors, dtype=torch.bool, device=device)
    elif k == survivors:
        keep = torch.ones(survivors, dtype=torch.bool, device=device)
    else:
        # The k-th largest score is the threshold; everything strictly above it is kept and
        # the remaining places go to the earliest survivors that tie with it.
        threshold = _kth_largest(values, k)
        keep = None
        if device.type == "cpu":  # reading a count costs nothing here
            at_least = values >= threshold
            if int(at_least.sum()) == k:
                keep = at_least  # no tie straddles the threshold (the usual case)
        if keep is None:
            keep = values > threshold
            ties = values == threshold
            places = k - keep.sum()
            keep |= ties & (torch.cumsum(ties, 0) <= places)

    old_local = masks._kept_positions()
    segments = masks._sizes if old_local is None else masks._layer_counts()
    counts = torch.stack([part.sum() for part in torch.split(keep, segments)])
    # The one device-to-host transfer of a step: the NaN flag and the new per-layer counts.
    info = torch.cat([nan_hint.reshape(1).to(counts.dtype), counts]).tolist()
    if info[0]:
        error = _nan_error(names, scores)
        if error is not None:
            raise error
    new_counts = [int(c) for c in info[1:]]

    if k == n:
        local = None  # everything kept (and everything survived)
    elif old_local is None:  # every weight survived: a survivor's position is its flat index
        local = _local_positions(_true_positions(keep, k), new_counts, masks._sizes)
    elif device.type == "cuda":
        local = old_local.index_select(0, _true_positions(keep, k))  # no synchronisation
    else:
        local = old_local.masked_select(keep)
    if old_local is None:
        flat = keep  # over all n weights already
    else:
        flat = torch.zeros(n, dtype=torch.bool, device=device)
        offset, start = 0, 0
        for size, c in zip(masks._sizes, new_counts):
            if c:
                flat[offset : offset + size].index_fill_(0, local[start : start + c], True)
            offset += size
            start += c
    return Masks._from_flat(flat, masks, new_counts, local)


def _local_positions(positions: torch.Tensor, counts: list[int], sizes: list[int]) -> torch.Tensor:
    """Flat indices over all layers (ascending; ``counts[i]`` in layer ``i``) -> within-layer positions."""
    return torch.cat([segment - offset for segment, offset in zip(torch.split(positions, counts), _offsets(sizes))])


def _lowest(values: torch.Tensor, m: int) -> torch.Tensor | None:
    """Positions (ascending) of the ``m`` lowest of the 1-D CPU ``values``, ties taking the
    LATEST positions first: exactly the survivors that keep_top's rule does not keep.

    For a small ``m``: a strided sample bounds the m-th lowest value from above by ``hi``;
    one vectorised comparison collects the candidates ``values <= hi`` (a little more than
    ``m`` of them), and a stable sort of those few decides. If the bound turns out too low
    (fewer than ``m`` candidates) or useless (too many), returns ``None`` and the caller
    takes the general route: the answer never depends on the sample, only the speed does.
    (kthvalue/topk over all survivors are branchy selections, several times slower here.)
    """
    n = values.numel()
    step = max(1, n // 2048)
    sample = values[::step]
    expected = m * sample.numel() / n  # rank of the m-th lowest within the sample
    rank = int(expected + 4.0 * math.sqrt(expected) + 8)  # with a wide safety margin
    if rank >= sample.numel():
        return None
    hi = torch.kthvalue(sample, rank).values
    candidates = (values <= hi).nonzero().squeeze(1)  # ascending positions
    if not m <= candidates.numel() <= n // 4:
        return None
    # Order the candidates by (value ascending, position descending): list them latest
    # first, then sort stably by value. The first m are the ones that go.
    latest_first = candidates.flip(0)
    order = torch.sort(values.index_select(0, latest_first), stable=True).indices[:m]
    return latest_first.index_select(0, order).sort().values


def _without(masks: "Masks", dropped: torch.Tensor) -> "Masks":
    """``masks`` minus the survivors at positions ``dropped`` (ascending, in select order)."""
    counts = masks._layer_counts()
    bounds = []
    for c in counts[:-1]:
        bounds.append((bounds[-1] if bounds else 0) + c)
    cuts = torch.searchsorted(dropped, torch.tensor(bounds, dtype=dropped.dtype)).tolist() if bounds else []
    per_layer = [b - a for a, b in zip([0] + cuts, cuts + [dropped.numel()])]
    new_counts = [c - d for c, d in zip(counts, per_layer)]
    old_local = masks._kept_positions()
    survivors = sum(counts)
    keep = torch.ones(survivors, dtype=torch.bool)
    keep.index_fill_(0, dropped, False)
    if old_local is None:  # every weight survived: positions are flat indices
        flat = keep
        local = _local_positions(keep.nonzero().squeeze(1), new_counts, masks._sizes)
    else:
        offsets = torch.tensor(_offsets(masks._sizes), dtype=old_local.dtype)
        global_dropped = old_local.index_select(0, dropped) + torch.repeat_interleave(
            offsets, torch.tensor(per_layer, dtype=torch.int64))
        flat = masks._flat_mask().clone()
        flat.index_fill_(0, global_dropped, False)
        local = old_local.masked_select(keep)
    return Masks._from_flat(flat, masks, new_counts, local)


def _offsets(sizes: list[int]) -> list[int]:
    offsets, offset = [], 0
    for size in sizes:
        offsets.append(offset)
        offset += size
    return offsets


class _Scores(dict):
    """What :meth:`Masks.expand` returns: a plain ``{name: Tensor}`` dict that also keeps the
    survivors' values it was built from, so :func:`keep_top` need not gather them again.

    The shortcut is taken only while it is provably the same data: same ``Masks`` object,
    the same tensor objects under the same names, and neither the flat buffer nor the
    values modified in place since (their version counters unchanged). Anything else, a
    replaced entry, an in-place edit, other masks, goes the general way.
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
        if scores._values.device != masks[next(iter(masks))].device:
            return None
        return scores._values


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
