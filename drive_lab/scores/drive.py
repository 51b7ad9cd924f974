"""DRIVE's three score terms and their combination (method.md, "DRIVE").

For every prunable weight θ_j with loss gradient g_j = ∂L/∂θ_j (at the masked weights):

    magnitude    M_j = |θ_j|
    connection   C_j = |θ_j · g_j|      (= |∂L/∂m_j| at m = 1, SNIP's saliency)
    convergence  V_j = |g_j|

and the score (a = magnitude, b = connection, c = convergence weights):

    combine="sum":      S_j = a · M_j/ΣM + b · C_j/ΣC + c · V_j/ΣV
    combine="product":  S_j = M_j · (b · C_j/ΣC + c · V_j/ΣV)

Sums run over surviving prunable weights of the whole network. The terms are the
paper's; the combination is our reading (the paper's exact formula is not available).
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import torch
from torch import nn

from ..masks import Masks
from ..masks.container import _numpy_route
from .gradients import Batch, loss_gradients, masked_weights, pruned_to_minus_inf

TERMS = ("magnitude", "connection", "convergence")
COMBINATIONS = ("sum", "product")


def drive_terms(
    model: nn.Module, batches: Iterable[Batch], masks: Masks | None = None
) -> dict[str, dict[str, torch.Tensor]]:
    """The three DRIVE terms, separately (for teaching: each can be plotted alone).

    Args:
        model: the network; its prunable weights are masked in place first.
        batches: iterable of ``(x, y)`` scoring batches; gradients are averaged over them.
        masks: current masks (``None``: nothing pruned yet).

    Returns:
        ``{"magnitude" | "connection" | "convergence": {param_name: Tensor}}``, each tensor
        with its weight's shape, keyed as in ``model.named_parameters()``. Pruned weights
        have 0 in every term, so a sum over all entries is a sum over survivors.
    """
    weights, masks = masked_weights(model, masks)
    gradients = loss_gradients(model, batches, weights)
    names = list(weights)
    order = {name: i for i, name in enumerate(masks)}
    factors = masks.factors(gradients[names[0]].dtype, gradients[names[0]].device)
    grads = [gradients[name] for name in names]
    # Fused over layers: g ⊙ m (a pruned weight has no convergence to speak of), |g|, |θ|, |θ|·|g|.
    torch._foreach_mul_(grads, [factors[order[name]] for name in names])
    torch._foreach_abs_(grads)
    magnitudes = torch._foreach_abs([weights[name].detach() for name in names])
    connections = torch._foreach_mul(magnitudes, grads)  # |θ·g| = |θ|·|g|
    return {
        "magnitude": dict(zip(names, magnitudes)),
        "connection": dict(zip(names, connections)),
        "convergence": dict(zip(names, grads)),
    }


def normalise(term: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """term / Σ term over all entries (pruned entries are 0). An all-zero term stays 0."""
    total = sum(t.sum() for t in term.values())
    scale = torch.where(total > 0, 1.0 / total, torch.zeros_like(total))
    return {name: t * scale for name, t in term.items()}


def combine_terms(
    terms: dict[str, dict[str, torch.Tensor]],
    masks: Masks,
    magnitude: float = 1.0,
    connection: float = 1.0,
    convergence: float = 1.0,
    combine: str = "sum",
) -> dict[str, torch.Tensor]:
    """Combine terms from :func:`drive_terms` into one score per weight (see module docstring)."""
    validate_weights(magnitude, connection, convergence, combine)
    m_hat, c_hat, v_hat = (normalise(terms[t]) for t in TERMS)
    if combine == "sum":
        scores = {n: magnitude * m_hat[n] + connection * c_hat[n] + convergence * v_hat[n] for n in masks}
    else:
        scores = {n: terms["magnitude"][n] * (connection * c_hat[n] + convergence * v_hat[n]) for n in masks}
    return pruned_to_minus_inf(scores, masks)


def drive(
    model: nn.Module,
    batches: Iterable[Batch],
    masks: Masks | None = None,
    magnitude: float = 1.0,
    connection: float = 1.0,
    convergence: float = 1.0,
    combine: str = "sum",
) -> dict[str, torch.Tensor]:
    """DRIVE score per prunable weight; higher = more important, pruned = -inf.

    ``combine="sum"``: S = a·M/ΣM + b·C/ΣC + c·V/ΣV (default, a = b = c = 1).
    ``combine="product"``: S = M·(b·C/ΣC + c·V/ΣV) (``magnitude`` must then be > 0; it
    only rescales). A weight of 0 drops that term (the ablations). One backward pass per
    scoring batch gives both gradients, ∂L/∂θ and ∂L/∂m = θ·∂L/∂θ.

    Reference: Saikumar & Varghese, "DRIVE: Dual Gradient-Based Rapid Iterative Pruning",
    arXiv 2404.03687 (2024); the combination is drive_lab's reading (method.md).
    """
    masks = masks if masks is not None else Masks.ones(model)
    score, grads, on_numpy = _survivor_scores(model, batches, masks, magnitude, connection, convergence, combine)
    # The full-size scores go into the gradient buffers, spent by now and ours alone (fresh
    # from autograd.grad): no new memory the size of the network.
    if on_numpy:
        return masks._expand_np(score, float("-inf"), grads if _spare_all(grads, grads[0]) else None)
    return masks.expand(score, float("-inf"), out=grads if _spare_all(grads, score) else None)


def drive_survivors(
    model: nn.Module,
    batches: Iterable[Batch],
    masks: Masks | None = None,
    magnitude: float = 1.0,
    connection: float = 1.0,
    convergence: float = 1.0,
    combine: str = "sum",
) -> torch.Tensor:
    """:func:`drive`'s scores of the surviving weights only, as one 1-D tensor.

    The same numbers as ``masks.select(drive(...))``, bit for bit, without writing the
    full-size result (pruned entries would only be ``-inf``): what the pruner ranks
    (:func:`drive_lab.masks.keep_top_survivors`). Shape ``(masks.kept(),)``, in
    :meth:`Masks.select` order, on the masks' device.
    """
    masks = masks if masks is not None else Masks.ones(model)
    score, _, on_numpy = _survivor_scores(model, batches, masks, magnitude, connection, convergence, combine)
    return torch.from_numpy(score) if on_numpy else score


# The pruner ranks DRIVE's survivors directly (drive_lab.pruning.prune looks for this).
drive.survivor_scores = drive_survivors


def _survivor_scores(model: nn.Module, batches: Iterable[Batch], masks: Masks, magnitude: float, connection: float,
                     convergence: float, combine: str):
    """``(scores of the survivors, gradient buffers, computed with NumPy)`` for :func:`drive`."""
    validate_weights(magnitude, connection, convergence, combine)
    weights, masks = masked_weights(model, masks)
    gradients = loss_gradients(model, batches, weights)
    # The same arithmetic as combine_terms(drive_terms(...)), on the surviving weights only:
    # pruned weights are 0 in every term, so they add nothing to the sums, and their score
    # is -inf whatever it is. At density d this touches a fraction d of the entries, in a
    # handful of 1-D ops (in place where possible), and nothing waits for the device (the
    # sums stay tensors).
    names = list(masks)
    thetas = [weights[name].detach() for name in names]
    grads = [gradients[name] for name in names]
    if masks._device.type == "cpu" and _numpy_route(thetas + grads) and len({t.dtype for t in thetas + grads}) == 1 \
            and grads[0].dtype in (torch.float32, torch.float64):
        # On the CPU the same arithmetic in NumPy, on zero-copy views (cheaper small calls).
        return _score_numpy(masks, thetas, grads, magnitude, connection, convergence, combine), grads, True
    m_term = masks.select(thetas).abs_()  # fresh tensors
    v_term = masks.select(grads).abs_()
    c_term = m_term * v_term  # |θ·g| = |θ|·|g|
    totals = torch.stack([m_term.sum(), c_term.sum(), v_term.sum()])
    # term / Σ term as normalise() does it; an all-zero term stays 0
    m_scale, c_scale, v_scale = torch.where(totals > 0, 1.0 / totals, 0.0).unbind()
    # Each weighted part is computed as combine_terms writes it, weight · (term · scale),
    # and added in the same order, so the arithmetic (and its rounding) is the same.
    c_part = _weighted(c_term.mul_(c_scale), connection)
    v_part = _weighted(v_term.mul_(v_scale), convergence)
    if combine == "sum":
        score = _weighted(m_term.mul_(m_scale), magnitude).add_(c_part).add_(v_part)
    else:
        score = m_term.mul_(c_part.add_(v_part))
    return score, grads, False


def _score_numpy(masks: Masks, thetas: list[torch.Tensor], grads: list[torch.Tensor], magnitude: float,
                 connection: float, convergence: float, combine: str) -> np.ndarray:
    """The survivors' DRIVE scores with NumPy, operation for operation as the torch route."""
    m_term = masks._select_np([t.numpy() for t in thetas])  # fresh arrays
    v_term = masks._select_np([g.numpy() for g in grads])
    kind = m_term.dtype.type
    with np.errstate(all="ignore"):  # inf/NaN propagate silently, as in torch
        np.abs(m_term, out=m_term)
        np.abs(v_term, out=v_term)
        c_term = m_term * v_term  # |θ·g| = |θ|·|g|
        m_scale, c_scale, v_scale = (kind(1) / t if t > 0 else kind(0) for t in (m_term.sum(), c_term.sum(), v_term.sum()))
        c_term *= c_scale
        if connection != 1:
            c_term *= kind(connection)
        v_term *= v_scale
        if convergence != 1:
            v_term *= kind(convergence)
        if combine == "sum":
            m_term *= m_scale
            if magnitude != 1:
                m_term *= kind(magnitude)
            m_term += c_term
            m_term += v_term
        else:
            c_term += v_term
            m_term *= c_term
    return m_term


def _spare_all(buffers: list[torch.Tensor], score: torch.Tensor) -> bool:
    """Whether the gradient ``buffers`` can take the full-size scores (distinct, spare)."""
    return all(_spare(g, score) for g in buffers) and len({g.data_ptr() for g in buffers}) == len(buffers)


def _spare(buffer: torch.Tensor, score: torch.Tensor) -> bool:
    """Whether ``buffer`` can take the scores: contiguous, of their dtype, spanning its whole storage."""
    return (buffer.is_contiguous() and buffer.storage_offset() == 0
            and buffer.untyped_storage().nbytes() == buffer.numel() * buffer.element_size()
            and buffer.dtype == score.dtype and buffer.device == score.device)


def _weighted(part: torch.Tensor, weight: float) -> torch.Tensor:
    """``weight · part``, in place (skipped for weight 1, where it is exact anyway)."""
    return part if weight == 1 else part.mul_(weight)


def validate_weights(magnitude: float, connection: float, convergence: float, combine: str) -> None:
    """ValueError for an unknown combination, a negative weight, or no term left."""
    if combine not in COMBINATIONS:
        raise ValueError(f"unknown combine={combine!r}; valid choices: {', '.join(COMBINATIONS)}")
    weights = {"magnitude": magnitude, "connection": connection, "convergence": convergence}
    negative = [k for k, v in weights.items() if not v >= 0]
    if negative:
        raise ValueError(f"term weights must be >= 0; got {', '.join(f'{k}={weights[k]}' for k in negative)}")
    if combine == "sum" and magnitude == connection == convergence == 0:
        raise ValueError("all three DRIVE terms are switched off (magnitude = connection = convergence = 0); keep at least one")
    if combine == "product":
        if magnitude == 0:
            raise ValueError("combine='product' multiplies by the magnitude term, so magnitude must be > 0; "
                             "use combine='sum' with magnitude=0 to drop magnitude")
        if connection == convergence == 0:
            raise ValueError("combine='product' needs connection > 0 or convergence > 0")
