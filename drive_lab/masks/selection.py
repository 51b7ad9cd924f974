"""Global exact top-k selection of new masks from scores: :func:`keep_top` (invariants 1
and 2 of :mod:`drive_lab.masks`: nested, exact, deterministic ties)."""
from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Mapping

import numpy as np
import torch

from .arrays import _bounds, _np, _offsets, _true_positions
from .container import _NUMPY_DTYPES, Masks, _numpy_on_cpu
from .scored import _Scores


def _nan_error(names: list[str], scores: Mapping[str, torch.Tensor]) -> ValueError | None:
    """The ValueError for NaN scores (naming the layers), or None if no score is NaN."""
    nan_layers = [name for name in names if bool(torch.isnan(scores[name]).any())]
    if nan_layers:
        return ValueError(f"score function returned NaN for {nan_layers}; scores must be numbers or -inf")
    return None


def _target_count(density: float, masks: Masks, nan_error: Callable[[], ValueError | None]) -> int:
    """k = round(density · n_prunable); a ValueError when fewer than k weights survive
    (``nan_error()`` instead, when a score is NaN: the likelier cause to report)."""
    k = int(round(density * masks.total()))
    survivors = masks.kept()
    if k > survivors:
        error = nan_error()
        raise error or ValueError(
            f"cannot keep {k} weights (density {density:.6g}): only {survivors} survive; "
            "masks are nested, so density can only go down"
        )
    return k


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

    Only the survivors are ranked (the pruned entries could not be kept anyway), by a
    selection, never a full sort. On a GPU the only host synchronisation is one small
    transfer at the end, carrying the NaN check and the per-layer counts of the new masks
    (which then report density, collapse etc. without touching the device again).
    """
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must be in [0, 1], got {density}")
    names = masks._names
    values = _Scores.survivor_values(scores, masks)  # Masks.expand's output: names match
    if values is None and set(scores) != set(masks):
        raise ValueError(f"scores and masks name different weights: {sorted(set(scores) ^ set(masks))}")
    dtype = torch.float32
    for t in (scores[name] for name in names) if values is None else (values,):
        dtype = torch.promote_types(dtype, t.dtype)
    device = masks._device
    k = _target_count(density, masks, lambda: _nan_error(names, scores))
    if values is None:
        tensors = []
        for name, size in zip(names, masks._sizes):
            t = scores[name].detach()
            if t.numel() != size:
                raise ValueError(f"scores[{name!r}] has {t.numel()} entries, its mask {size}")
            tensors.append(t if t.device == device else t.to(device))
    if _numpy_on_cpu() and device.type == "cpu" and dtype in (torch.float32, torch.float64):
        np_dtype = np.float32 if dtype == torch.float32 else np.float64
        if values is not None:
            # Scores from Masks.expand (DRIVE's), unchanged since: pruned entries hold the
            # fill value (not NaN), and the survivors' values are at hand.
            values = values.numpy().astype(np_dtype, copy=False)
            with np.errstate(invalid="ignore", over="ignore"):
                nan = bool(np.isnan(values.sum()))
        else:
            arrays = [_np(t if t.dtype in _NUMPY_DTYPES else t.to(dtype)) for t in tensors]
            # NaN anywhere, pruned entries included: a NaN makes its layer's sum NaN. A NaN
            # sum from +inf and -inf scores is a false alarm, cleared entry by entry below.
            with np.errstate(invalid="ignore", over="ignore"):
                nan = any(bool(np.isnan(a.sum(dtype=np_dtype))) for a in arrays)
            dtypes = {a.dtype for a in arrays}
            if len(dtypes) > 1:
                arrays = [a.astype(np_dtype) for a in arrays]
            values = masks._select_np(arrays).astype(np_dtype, copy=False)
        if nan:
            error = _nan_error(names, scores)
            if error is not None:
                raise error
        return _keep_top_numpy(values, masks, k)
    if values is not None:
        nan_hint = values.sum().isnan()
    else:
        # (as above) one reduction per layer, no allocation
        nan_hint = torch.stack([t.sum(dtype=dtype) for t in tensors]).isnan().any()
        values = masks.select(tensors)
    return _keep_top_torch(values.to(dtype), nan_hint, masks, k, names, scores)


def keep_top_survivors(values: torch.Tensor, masks: Masks, density: float) -> Masks:
    """:func:`keep_top` for scores given over the surviving weights only.

    Args:
        values: 1-D, one score per kept weight of ``masks``, in :meth:`Masks.select` order
            (what :func:`drive_lab.scores.drive_survivors` returns), on the masks' device.
        masks: the current masks.
        density: target fraction of prunable weights to keep, in [0, 1].

    The same masks as ``keep_top(masks.expand(values, -inf), masks, density)``, with the
    same exactness, nesting and tie rule, without the full-size scores.
    """
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must be in [0, 1], got {density}")
    if not isinstance(values, torch.Tensor) or values.dim() != 1 or values.numel() != masks.kept():
        raise ValueError(f"keep_top_survivors needs a 1-D tensor of {masks.kept()} scores (one per kept weight)")
    device = masks._device
    if values.device != device:
        values = values.to(device)
    names = masks._names

    def per_layer() -> dict[str, torch.Tensor]:  # the survivors' scores by layer, for NaN messages
        return dict(zip(names, torch.split(values, masks._layer_counts())))

    k = _target_count(density, masks, lambda: _nan_error(names, per_layer()))
    dtype = torch.promote_types(torch.float32, values.dtype)
    if _numpy_on_cpu() and device.type == "cpu" and dtype in (torch.float32, torch.float64):
        np_dtype = np.float32 if dtype == torch.float32 else np.float64
        array = values.detach().numpy().astype(np_dtype, copy=False)
        with np.errstate(invalid="ignore", over="ignore"):
            nan = bool(np.isnan(array.sum()))
        if nan:  # (a NaN sum from +inf and -inf scores is a false alarm)
            error = _nan_error(names, per_layer())
            if error is not None:
                raise error
        return _keep_top_numpy(array, masks, k)
    return _keep_top_torch(values.detach().to(dtype), values.sum().isnan(), masks, k, names, per_layer())


def _keep_top_numpy(values: np.ndarray, masks: Masks, k: int) -> Masks:
    """keep_top on the CPU: ``values`` are the survivors' scores (select order), no NaN."""
    survivors = values.size
    drop = survivors - k
    with np.errstate(invalid="ignore", over="ignore"):
        if drop <= survivors // 8:  # few go: find them directly (drop = 0 included)
            dropped = _lowest(values, drop)
            if dropped is not None:
                return _without(masks, dropped)
        return _with_keep(masks, _keep_mask(values, k))


def _lowest(values: np.ndarray, m: int) -> np.ndarray | None:
    """Positions (ascending) of the ``m`` lowest ``values``, ties taking the LATEST positions
    first: exactly the survivors that keep_top's rule does not keep.

    For a small ``m``: a strided sample bounds the m-th lowest value from above by ``hi``;
    one vectorised comparison collects the candidates ``values <= hi`` (a little more than
    ``m`` of them), and a k-th-value selection among those few decides. If the bound is too low
    (fewer than ``m`` candidates) or useless (too many), returns ``None`` and the caller
    takes the general route: the answer never depends on the sample, only the speed does.
    """
    n = values.size
    if m == 0:
        return np.empty(0, dtype=np.int64)
    step = max(1, n // 1024)
    sample = values[::step]
    expected = m * sample.size / n  # rank of the m-th lowest within the sample
    rank = int(expected + 4.0 * math.sqrt(expected) + 8)  # with a wide safety margin
    if rank >= sample.size:
        return None
    hi = np.partition(sample, rank - 1)[rank - 1]
    candidates = np.flatnonzero(values <= hi)  # ascending positions
    if not m <= candidates.size <= n // 4:
        return None
    # The m-th lowest candidate is the threshold: all below it go, and of those equal to
    # it, the latest.
    values_c = values[candidates]
    threshold = np.partition(values_c, m - 1)[m - 1]
    at_most = values_c <= threshold
    if np.count_nonzero(at_most) == m:  # no tie straddles the threshold (the usual case)
        return candidates[at_most]
    below = values_c < threshold
    ties = np.flatnonzero(values_c == threshold)
    below[ties[ties.size - (m - np.count_nonzero(below)):]] = True
    return candidates[below]


def _keep_mask(values: np.ndarray, k: int) -> np.ndarray:
    """Bool array over the survivors: the k highest values, ties to the earliest."""
    survivors = values.size
    if k == 0:
        return np.zeros(survivors, dtype=bool)
    if k == survivors:
        return np.ones(survivors, dtype=bool)
    threshold = np.partition(values, survivors - k)[survivors - k]  # the k-th largest
    keep = values >= threshold
    if np.count_nonzero(keep) != k:  # ties straddle the threshold: the earliest take the places
        keep = values > threshold
        ties = values == threshold
        keep |= ties & (np.cumsum(ties) <= k - np.count_nonzero(keep))
    return keep


def _without(masks: Masks, dropped: np.ndarray) -> Masks:
    """``masks`` minus the survivors at positions ``dropped`` (ascending, select order).

    Works on the kept positions only; the bool tensors are built if and when asked for.
    """
    counts = masks._layer_counts()
    bounds = _bounds(counts)
    cuts = np.searchsorted(dropped, bounds).tolist() if bounds else []
    per_layer = [b - a for a, b in zip([0] + cuts, cuts + [dropped.size])]
    new_counts = [c - d for c, d in zip(counts, per_layer)]
    old_local = masks._kept_positions()
    if old_local is None:  # every weight survived: positions are flat indices
        offsets = _offsets(masks._sizes)
        if dropped.size == 0:
            local = None
        else:
            keep = np.ones(masks.total(), dtype=bool)
            keep[dropped] = False
            local = np.flatnonzero(keep) - np.repeat(offsets, new_counts)
        dropped_local = dropped - np.repeat(offsets, per_layer)
    else:
        old = old_local.numpy()
        dropped_local = old[dropped]
        keep = np.ones(old.size, dtype=bool)
        keep[dropped] = False
        local = old[keep]
    out = Masks._lazy(masks, new_counts, local)
    out._parent = weakref.ref(masks)
    out._dropped = [dropped_local[a:b] for a, b in zip([0] + cuts, cuts + [dropped.size])]
    return out


def _with_keep(masks: Masks, keep: np.ndarray) -> Masks:
    """``masks`` keeping only the survivors flagged in ``keep`` (select order)."""
    old_local = masks._kept_positions()
    segments = masks._sizes if old_local is None else masks._layer_counts()
    bounds = _bounds(segments)
    new_counts = [int(np.count_nonzero(part)) for part in (np.split(keep, bounds) if bounds else [keep])]
    if sum(new_counts) == masks.total():
        local = None
    elif old_local is None:
        local = np.flatnonzero(keep) - np.repeat(_offsets(masks._sizes), new_counts)
    else:
        local = old_local.numpy()[keep]
    return Masks._lazy(masks, new_counts, local)


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


def _keep_top_torch(values: torch.Tensor, nan_hint: torch.Tensor, masks: Masks, k: int,
                    names: list[str], scores: Mapping[str, torch.Tensor]) -> Masks:
    """keep_top with torch ops (GPU and other devices): no host synchronisation but one."""
    device = values.device
    survivors = values.numel()
    n = masks.total()
    if k == 0:
        keep = torch.zeros(survivors, dtype=torch.bool, device=device)
    elif k == survivors:
        keep = torch.ones(survivors, dtype=torch.bool, device=device)
    else:
        # The k-th largest score is the threshold; everything strictly above it is kept and
        # the remaining places go to the earliest survivors that tie with it.
        threshold = _kth_largest(values, k)
        keep = values > threshold
        ties = values == threshold
        keep |= ties & (torch.cumsum(ties, 0) <= k - keep.sum())

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
        positions = _true_positions(keep, k)
        local = torch.cat([segment - offset for segment, offset in
                           zip(torch.split(positions, new_counts), _offsets(masks._sizes))])
    else:
        local = old_local.index_select(0, _true_positions(keep, k))
    if old_local is None:
        flat = keep  # over all n weights already
    else:
        flat = torch.zeros(n, dtype=torch.bool, device=device)
        for offset, size, part in zip(_offsets(masks._sizes), masks._sizes, torch.split(local, new_counts)):
            if part.numel():
                flat[offset : offset + size].index_fill_(0, part, True)
    return Masks._from_flat(flat, masks, new_counts, local)
