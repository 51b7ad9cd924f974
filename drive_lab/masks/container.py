"""The :class:`Masks` container: binary masks over the prunable weights, what they count
and report, and their enforcement on a model (:meth:`Masks.apply`, :class:`BoundMasks`).

The package docstring (:mod:`drive_lab.masks`) states the invariants and the cost model.
"""
from __future__ import annotations

import contextvars
import weakref
from collections.abc import Mapping, Sequence
from typing import Iterator

import numpy as np
import torch
from torch import nn

from .arrays import _np, _offsets, _true_positions, _written
from .prunable import PRUNABLE_TYPES, _prunable_modules, prunable_parameters
from .scored import _Scores

__all__ = ["Masks", "BoundMasks", "PRUNABLE_TYPES", "prunable_parameters"]

# CPU bookkeeping in NumPy (see the package docstring). The torch route computes the same
# masks; tests switch this off (here, where it is read) to run it on the CPU too.
NUMPY_ON_CPU = True


def _numpy_on_cpu() -> bool:
    """Whether the CPU bookkeeping takes the NumPy route (:data:`NUMPY_ON_CPU`, read at call time)."""
    return NUMPY_ON_CPU


_NUMPY_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bool, torch.int64, torch.int32,
                 torch.int16, torch.int8, torch.uint8)


def _numpy_route(tensors: Sequence[torch.Tensor]) -> bool:
    """Whether ``tensors`` can be handled by the NumPy route (CPU, a NumPy dtype)."""
    return NUMPY_ON_CPU and all(t.device.type == "cpu" and t.dtype in _NUMPY_DTYPES for t in tensors)


# Set by drive_lab.pruning.prune around a scorer call: the Masks it has just applied to the
# model itself, so the scorer's own masking of the same weights (unchanged since, as their
# version counters show) can be skipped. Outside prune() every apply is a full one.
_APPLIED_BY_PRUNER: contextvars.ContextVar["Masks | None"] = contextvars.ContextVar(
    "drive_lab_masks_applied_by_pruner", default=None)


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

    def _init(self, masks: dict[str, torch.Tensor] | None, counts: list[int] | None, local: torch.Tensor | None,
              like: "Masks | None" = None) -> None:
        # The bool tensors themselves (``_store``) may be built lazily, from the kept
        # positions (see _masks): the pruning loop itself never needs them.
        self._store = masks
        if masks is not None:
            self._names = list(masks)
            self._shapes = [m.shape for m in masks.values()]
            self._sizes = [m.numel() for m in masks.values()]
            self._device = next(iter(masks.values())).device
        else:
            self._names, self._shapes, self._sizes, self._device = like._names, like._shapes, like._sizes, like._device
        self._total = sum(self._sizes)
        self._counts = counts  # kept per layer, Python ints (None: not counted yet)
        self._local = local  # kept positions within each layer, layer after layer (see _kept_positions)
        self._parts: list[torch.Tensor] | None = None  # _local split by layer
        self._parts_np: list[np.ndarray] | None = None
        self._factors: dict[tuple, list[torch.Tensor]] = {}
        self._applied: list[tuple] | None = None  # the weights this was last applied to (see _is_applied_to)
        self._parent: weakref.ref | None = None  # the Masks this was pruned from by keep_top ...
        self._dropped: list[np.ndarray] | None = None  # ... and the positions it dropped, per layer

    @classmethod
    def _trusted(cls, masks: dict[str, torch.Tensor], counts: list[int], local: torch.Tensor | None) -> "Masks":
        """A ``Masks`` from bool tensors whose per-layer counts (and kept positions) are known."""
        self = cls.__new__(cls)
        self._init(masks, counts, local)
        return self

    @classmethod
    def _lazy(cls, like: "Masks", counts: list[int], local: np.ndarray | None) -> "Masks":
        """CPU masks shaped like ``like``, known by their kept positions; tensors built on demand."""
        self = cls.__new__(cls)
        self._init(None, counts, None if local is None else torch.from_numpy(local), like=like)
        return self

    @property
    def _masks(self) -> dict[str, torch.Tensor]:
        if self._store is None:  # CPU masks from keep_top: build them from the kept positions
            parts = self._local_parts_np()
            flat = np.zeros(self._total, dtype=bool) if parts is not None else np.ones(self._total, dtype=bool)
            store, offset = {}, 0
            for i, (name, shape, size) in enumerate(zip(self._names, self._shapes, self._sizes)):
                layer = flat[offset : offset + size]
                if parts is not None:
                    layer[parts[i]] = True
                store[name] = torch.from_numpy(layer.reshape(shape))
                offset += size
            self._store = store
        return self._store

    @classmethod
    def _from_flat(cls, flat: torch.Tensor, like: "Masks", counts: list[int], local: torch.Tensor | None) -> "Masks":
        """Masks shaped like ``like`` whose tensors are views of the 1-D bool ``flat``."""
        masks, offset = {}, 0
        for name, shape, size in zip(like._names, like._shapes, like._sizes):
            masks[name] = flat[offset : offset + size].view(shape)
            offset += size
        return cls._trusted(masks, counts, local)

    @classmethod
    def ones(cls, model: nn.Module) -> "Masks":
        """Masks that keep every prunable weight of ``model`` (density 1)."""
        masks = {name: torch.ones_like(w, dtype=torch.bool) for name, w in prunable_parameters(model).items()}
        return cls._trusted(masks, [m.numel() for m in masks.values()], None)

    def __getstate__(self) -> dict:  # pickle / deepcopy: the masks and counts, not the caches
        state = self.__dict__.copy()
        state.update(_store=self._masks, _applied=None, _parent=None, _dropped=None, _factors={},
                     _parts=None, _parts_np=None)
        return state

    # Mapping interface
    def __getitem__(self, name: str) -> torch.Tensor:
        return self._masks[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"Masks({len(self)} layers, density={self.density():.4f}, kept={self.kept()}/{self.total()})"

    # Counting (invariant 4): one device-to-host transfer per Masks, then Python ints
    def _layer_counts(self) -> list[int]:
        if self._counts is None:
            masks = list(self._masks.values())
            if _numpy_route(masks):
                self._counts = [int(np.count_nonzero(_np(m))) for m in masks]
            elif len({m.device for m in masks}) == 1:
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
        return {name: c / size for name, c, size in zip(self._names, self._layer_counts(), self._sizes)}

    def collapsed(self) -> list[str]:
        """Names of the prunable weights with no weight left (a disconnected network)."""
        return [name for name, c in zip(self._names, self._layer_counts()) if c == 0]

    def report(self) -> list[dict]:
        """One row per prunable weight: name, shape, kept, total, density, collapsed."""
        return [
            {
                "layer": name,
                "shape": list(shape),
                "kept": c,
                "total": size,
                "density": c / size,
                "collapsed": c == 0,
            }
            for name, shape, c, size in zip(self._names, self._shapes, self._layer_counts(), self._sizes)
        ]

    # Kept positions: the survivors, layer after layer
    def _all_kept(self) -> bool:
        return self.kept() == self._total

    def _kept_positions(self) -> torch.Tensor | None:
        """Positions of the kept weights within their layer's flattened mask (int64, 1-D).

        Layer after layer in masks order, ascending within a layer; layer ``i`` holds
        ``_layer_counts()[i]`` entries. ``None`` when every weight is kept (then the
        survivors are simply all entries, and no index is stored).
        """
        if self._all_kept():
            return None
        if self._local is None:
            masks = list(self._masks.values())
            if _numpy_route(masks):
                self._local = torch.from_numpy(np.concatenate([np.flatnonzero(_np(m)) for m in masks]))
            else:
                self._local = torch.cat([
                    _true_positions(m.reshape(-1), c) for m, c in zip(masks, self._layer_counts())
                ])
        return self._local

    def _segments(self) -> list[tuple[int, int]]:
        """``(start, end)`` of each layer's survivors in :meth:`select` order."""
        segments, start = [], 0
        for c in self._layer_counts():
            segments.append((start, start + c))
            start += c
        return segments

    def _local_parts(self) -> list[torch.Tensor] | None:
        """:meth:`_kept_positions` split by layer (views), or ``None`` when all are kept."""
        local = self._kept_positions()
        if local is None:
            return None
        if self._parts is None:
            self._parts = [local[a:b] for a, b in self._segments()]
        return self._parts

    def _local_parts_np(self) -> list[np.ndarray] | None:
        local = self._kept_positions()
        if local is None:
            return None
        if self._parts_np is None:
            whole = local.numpy()
            self._parts_np = [whole[a:b] for a, b in self._segments()]
        return self._parts_np

    def select(self, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        """The entries of ``tensors`` at the kept weights, as one 1-D tensor.

        Args:
            tensors: one tensor per prunable weight, in masks order, each with that
                weight's number of entries.

        Returns:
            The kept entries, layer after layer (masks order), each layer in flattened index
            order: the order of :func:`keep_top`'s tie-breaking. On the tensors' device.
        """
        tensors = list(tensors)
        if len(tensors) != len(self._sizes) or any(t.numel() != size for t, size in zip(tensors, self._sizes)):
            raise ValueError("select needs one tensor per prunable weight, each with its weight's number of entries")
        if self._device.type == "cpu" and _numpy_route(tensors) and len({t.dtype for t in tensors}) == 1:
            return torch.from_numpy(self._select_np([_np(t) for t in tensors]))
        parts = self._local_parts()
        if parts is None:
            return torch.cat([t.reshape(-1) for t in tensors])
        picked = [t.reshape(-1).index_select(0, p.to(t.device)) for t, p in zip(tensors, parts)]
        return torch.cat(picked) if len(picked) > 1 else picked[0]

    def _select_np(self, arrays: Sequence[np.ndarray]) -> np.ndarray:
        """:meth:`select` on NumPy arrays of one dtype; returns a new array."""
        parts = self._local_parts_np()
        if parts is None:
            return np.concatenate([a.reshape(-1) for a in arrays])
        out = np.empty(self.kept(), dtype=arrays[0].dtype)
        for a, p, (start, end) in zip(arrays, parts, self._segments()):
            np.take(a.reshape(-1), p, out=out[start:end], mode="clip")  # positions are in range
        return out

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
                entries (e.g. a scorer's spent gradient buffers: no new memory the size of
                the network). By default the result is one new buffer.
        """
        if values.dim() != 1 or values.numel() != self.kept():
            raise ValueError(f"expand needs a 1-D tensor of {self.kept()} values (one per kept weight)")
        if out is not None:
            out = list(out)
            if len(out) != len(self._sizes) or not all(
                t.is_contiguous() and t.numel() == size and t.dtype == values.dtype and t.device == values.device
                for t, size in zip(out, self._sizes)
            ):
                raise ValueError("expand's out needs one contiguous tensor per weight, of the values' dtype and device")
        if self._device.type == "cpu" and _numpy_route([values] + (out or [])):
            return self._expand_np(values.numpy(), fill, out)
        shapes = self._shapes
        parts = self._local_parts()
        if out is not None:
            tensors = [t.view(shape) for t, shape in zip(out, shapes)]
            flats = [t.view(-1) for t in tensors]
            if parts is None:
                torch._foreach_copy_(flats, list(torch.split(values, self._sizes)))
            else:
                for flat, p, (a, b) in zip(flats, parts, self._segments()):
                    flat.fill_(fill)
                    if b > a:
                        flat.index_copy_(0, p.to(values.device), values[a:b])
        else:
            if parts is None:
                flat = values
            else:
                flat = torch.full((self._total,), fill, dtype=values.dtype, device=values.device)
                for offset, size, p, (a, b) in zip(_offsets(self._sizes), self._sizes, parts, self._segments()):
                    if b > a:
                        flat[offset : offset + size].index_copy_(0, p.to(values.device), values[a:b])
            tensors, offset = [], 0
            for shape, size in zip(shapes, self._sizes):
                tensors.append(flat[offset : offset + size].view(shape))
                offset += size
        return _Scores.build(dict(zip(self._names, tensors)), self, values, fill)

    def _expand_np(self, values: np.ndarray, fill: float, out: list[torch.Tensor] | None) -> dict:
        shapes = self._shapes
        parts = self._local_parts_np()
        if out is not None:
            tensors = [t if t.shape == shape else t.view(shape) for t, shape in zip(out, shapes)]
            for t, p, (a, b) in zip(tensors, parts or [None] * len(tensors), self._segments()):
                flat = t.numpy().reshape(-1)  # a view: the tensor is contiguous
                if p is None:
                    flat[:] = values[a:b]
                else:
                    flat.fill(fill)
                    flat[p] = values[a:b]
            _written(tensors)
        else:
            if parts is None:
                flat = values
            else:
                flat = np.full(self._total, fill, dtype=values.dtype)
                for offset, size, p, (a, b) in zip(_offsets(self._sizes), self._sizes, parts, self._segments()):
                    flat[offset : offset + size][p] = values[a:b]
            tensors, offset = [], 0
            for shape, size in zip(shapes, self._sizes):
                tensors.append(torch.from_numpy(flat[offset : offset + size].reshape(shape)))
                offset += size
        return _Scores.build(dict(zip(self._names, tensors)), self, torch.from_numpy(values), fill)

    # Enforcement (invariant 3)
    def factors(self, dtype: torch.dtype, device: torch.device) -> list[torch.Tensor]:
        """The masks as 0/1 tensors of ``dtype`` on ``device`` (cached: masks never change)."""
        key = (dtype, torch.device(device))
        if key not in self._factors:
            self._factors[key] = self._build_factors(dtype, torch.device(device))
        return self._factors[key]

    def _build_factors(self, dtype: torch.dtype, device: torch.device) -> list[torch.Tensor]:
        shapes, offsets = self._shapes, _offsets(self._sizes)
        positions_known = self._counts is not None and (self._all_kept() or self._local is not None)
        if not positions_known:  # masks given as tensors: convert them
            if device.type == "cpu" and NUMPY_ON_CPU and dtype in _NUMPY_DTYPES and _numpy_route(self._masks.values()):
                np_dtype = torch.empty(0, dtype=dtype).numpy().dtype
                return [torch.from_numpy(_np(m).astype(np_dtype)) for m in self._masks.values()]
            return [m.to(device=device, dtype=dtype) for m in self._masks.values()]
        # From the kept positions: one zero-filled buffer and a scatter of ones per layer,
        # cheaper than converting bool tensors (and one allocation for the whole network).
        if device.type == "cpu" and self._device.type == "cpu" and NUMPY_ON_CPU and dtype in _NUMPY_DTYPES:
            np_dtype = torch.empty(0, dtype=dtype).numpy().dtype
            parts = self._local_parts_np()
            flat = np.ones(self._total, dtype=np_dtype) if parts is None else np.zeros(self._total, dtype=np_dtype)
            if parts is not None:
                for offset, size, p in zip(offsets, self._sizes, parts):
                    flat[offset : offset + size][p] = 1
            return [torch.from_numpy(flat[o : o + s].reshape(shape)) for o, s, shape in zip(offsets, self._sizes, shapes)]
        parts = self._local_parts()
        if parts is None:
            flat = torch.ones(self._total, dtype=dtype, device=device)
        else:
            flat = torch.zeros(self._total, dtype=dtype, device=device)
            for offset, size, p in zip(offsets, self._sizes, parts):
                if p.numel():
                    flat[offset : offset + size].index_fill_(0, p.to(device), 1)
        return [flat[o : o + s].view(shape) for o, s, shape in zip(offsets, self._sizes, shapes)]

    def bind(self, model: nn.Module) -> "BoundMasks":
        """Attach to ``model``'s weights for repeated, cheap enforcement (training loops)."""
        return BoundMasks(self, model)

    def apply(self, model: nn.Module) -> nn.Module:
        """Zero the pruned weights of ``model`` in place; returns ``model``."""
        self._apply_to(_matching_weights(self, model))
        return model

    def _apply_to(self, weights: list[torch.Tensor]) -> None:
        """Full enforcement on ``weights`` (masks order): weight ⊙ mask, one fused op."""
        if not self._all_kept():  # multiplying by ones would change nothing
            first = weights[0]
            if all(w.dtype == first.dtype and w.device == first.device for w in weights):
                factors = self.factors(first.dtype, first.device)  # cached: masks never change
            else:
                factors = [f.to(device=w.device, dtype=w.dtype)
                           for f, w in zip(self.factors(first.dtype, first.device), weights)]
            with torch.no_grad():
                torch._foreach_mul_(weights, factors)
        self._record(weights)

    def _record(self, weights: list[torch.Tensor]) -> None:
        """Remember that ``weights`` are masked by this, as they stand now."""
        self._applied = [(weakref.ref(w), w.data_ptr(), w._version) for w in weights]

    def _is_applied_to(self, weights: list[torch.Tensor]) -> bool:
        """Whether ``weights`` are still as this left them: same tensors, same memory, and
        no in-place change since (PyTorch's version counters, which every in-place torch
        operation advances)."""
        if self._counts is not None and self._all_kept():
            return True
        record = self._applied
        return record is not None and len(record) == len(weights) and all(
            ref() is w and ptr == w.data_ptr() and version == w._version
            for (ref, ptr, version), w in zip(record, weights))

    def _apply_step(self, model: nn.Module, previous: "Masks") -> None:
        """Enforce masks that :func:`keep_top` derived from ``previous`` (used by the pruner).

        When the weights are exactly as ``previous`` left them (masked; see
        :meth:`_is_applied_to`), only the weights dropped in this step are zeroed
        (multiplied by 0, as a full apply would); otherwise this is a full :meth:`apply`.
        """
        weights = _matching_weights(self, model)
        parent = self._parent() if self._parent is not None else None
        if (parent is previous and self._dropped is not None and previous._is_applied_to(weights)
                and _numpy_route(weights) and all(w.is_contiguous() for w in weights)):
            with torch.no_grad():
                for w, d in zip(weights, self._dropped):
                    if d.size:
                        flat = _np(w).reshape(-1)
                        flat[d] *= 0
            _written(weights)
            self._record(weights)
        else:
            self._apply_to(weights)

    def to(self, device: torch.device | str) -> "Masks":
        device = torch.device(device)
        if self._device == device and (self._store is None or all(m.device == device for m in self._store.values())):
            return self  # immutable: nothing to copy, and the cached counts stay
        moved = Masks({name: m.to(device) for name, m in self._masks.items()})
        moved._counts = self._counts
        return moved

    # Bridge to PyTorch's own pruning utilities (torch.nn.utils.prune)
    def to_torch_prune(self, model: nn.Module) -> nn.Module:
        """Attach these masks to ``model`` the way ``torch.nn.utils.prune`` does, and return it.

        Every prunable module gets ``prune.custom_from_mask(module, "weight", mask)``: its
        parameter becomes ``weight_orig``, the mask the buffer ``weight_mask``, and
        ``weight`` is recomputed as their product before each forward pass, so PyTorch
        enforces the mask from then on (``prune.remove`` makes it permanent). A module pruned
        before keeps both masks combined, as PyTorch does.
        """
        from torch.nn.utils import prune as torch_prune

        modules = _prunable_modules(model)
        if set(modules) != set(self._names):
            raise ValueError(f"masks and model name different weights: {sorted(set(modules) ^ set(self._names))}")
        for name, module in modules.items():
            torch_prune.custom_from_mask(module, "weight", self[name].to(module.weight.device))
        return model

    @classmethod
    def from_torch_prune(cls, model: nn.Module) -> "Masks":
        """The masks ``torch.nn.utils.prune`` keeps on ``model`` (``weight_mask`` buffers).

        A prunable module without a ``weight_mask`` counts as unpruned (all kept); names
        are drive_lab's (``"features.0.weight"``), whatever PyTorch renamed the parameter to.
        """
        masks = {}
        for name, module in _prunable_modules(model).items():
            mask = getattr(module, "weight_mask", None)
            masks[name] = mask.detach().bool().clone() if mask is not None else torch.ones_like(module.weight, dtype=torch.bool)
        return cls(masks)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Plain dict of CPU bool tensors, for saving."""
        return {name: m.cpu() for name, m in self._masks.items()}


def _matching_weights(masks: Masks, model: nn.Module, weights: Mapping[str, torch.Tensor] | None = None) -> list:
    """``model``'s prunable weights in masks order; ValueError if the names differ."""
    weights = prunable_parameters(model) if weights is None else weights
    if len(weights) != len(masks._names) or not all(name in weights for name in masks._names):
        missing = sorted(set(weights) ^ set(masks))
        raise ValueError(f"masks do not match the model's prunable weights; differing names: {missing}")
    wrong = [f"{name}: mask {tuple(shape)}, weight {tuple(weights[name].shape)}"
             for name, shape in zip(masks._names, masks._shapes) if shape != weights[name].shape]
    if wrong:
        raise ValueError(f"masks do not fit the model's prunable weights: {'; '.join(wrong)}")
    return [weights[name] for name in masks]


def _ensure_applied(masks: Masks, model: nn.Module, weights: Mapping[str, torch.Tensor]) -> None:
    """Scoring's enforcement (invariant 3): ``masks.apply(model)``, skipped only when the
    pruner applied these very masks to these weights and they have not changed since."""
    ordered = _matching_weights(masks, model, weights)
    if _APPLIED_BY_PRUNER.get() is masks and masks._is_applied_to(ordered):
        return
    masks._apply_to(ordered)


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
