"""Checkers for the score exercises: the three DRIVE terms and their combination.

Each checker runs the learner's function on a small fixed network (:func:`exercise_network`)
and compares it with a plain autograd computation written here, independently of
:mod:`drive_lab.scores`. When the answer is wrong, the checker recomputes the usual wrong
versions (summed instead of averaged gradients, no absolute value, per-layer normalisation,
pruned weights not at −inf, ...) and names the one the answer matches.
"""
from __future__ import annotations

import copy
from typing import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ..masks import Masks
from .verdicts import Verdict, _not_attempted, _verdict

Scores = dict[str, torch.Tensor]


def exercise_network(seed: int = 0) -> tuple[nn.Module, list[tuple[torch.Tensor, torch.Tensor]], Masks]:
    """A small fixed network, two scoring batches, and masks with 30% pruned: the checkers' test bench.

    The network is Flatten -> Linear(16, 12) -> ReLU -> Linear(12, 5), weights N(0, 0.5²);
    each batch holds 8 inputs of shape (1, 4, 4) and labels in 0..4. The prunable weights
    are ``"1.weight"`` (12, 16) and ``"3.weight"`` (5, 12).
    """
    generator = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 5))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    batches = [(torch.randn(8, 1, 4, 4, generator=generator), torch.randint(0, 5, (8,), generator=generator))
               for _ in range(2)]
    masks = Masks({name: torch.rand(p.shape, generator=generator) > 0.3
                   for name, p in model.named_parameters() if name.endswith("weight")})
    return model, batches, masks


# --------------------------------------------------------------- independent reference computations
def _per_batch_gradients(model: nn.Module, batches, masks: Mapping[str, torch.Tensor] | None,
                         reduction: str = "mean", mask_weights: bool = True) -> list[Scores]:
    """∂L_b/∂θ for each batch b, L_b the cross-entropy (``reduction``) at the masked weights."""
    model = copy.deepcopy(model)
    weights = {name: p for name, p in model.named_parameters() if name.endswith("weight")}
    if masks is not None and mask_weights:
        with torch.no_grad():
            for name, p in weights.items():
                p.mul_(masks[name].to(p.dtype))
    out = []
    for x, y in batches:
        loss = F.cross_entropy(model(x), y, reduction=reduction)
        out.append(dict(zip(weights, torch.autograd.grad(loss, list(weights.values())))))
    return out


def _mean(per_batch: list[Scores]) -> Scores:
    return {name: sum(g[name] for g in per_batch) / len(per_batch) for name in per_batch[0]}


def _weights(model: nn.Module, masks: Mapping[str, torch.Tensor] | None = None) -> Scores:
    return {name: p.detach() * (masks[name].to(p.dtype) if masks is not None else 1)
            for name, p in model.named_parameters() if name.endswith("weight")}


def _normalised(term: Scores, per_layer: bool = False) -> Scores:
    if per_layer:
        return {name: t / t.sum() for name, t in term.items()}
    total = sum(t.sum() for t in term.values())
    return {name: t / total for name, t in term.items()}


def _drive_sum(theta: Scores, grad: Scores, masks, per_layer: bool = False, minus_inf: bool = True,
               mask_gradient: bool = True) -> Scores:
    """DRIVE's sum of normalised terms, M/ΣM + C/ΣC + V/ΣV, with the chosen mistakes switched on."""
    g = {name: grad[name] * masks[name] if mask_gradient else grad[name] for name in grad}
    m = {name: theta[name].abs() for name in theta}
    v = {name: g[name].abs() for name in g}
    c = {name: m[name] * v[name] for name in m}
    m_hat, c_hat, v_hat = (_normalised(t, per_layer) for t in (m, c, v))
    score = {name: m_hat[name] + c_hat[name] + v_hat[name] for name in m}
    if minus_inf:
        score = {name: s.masked_fill(~masks[name], float("-inf")) for name, s in score.items()}
    return score


# ------------------------------------------------------------------------------------ comparison
def _as_scores(what: str, got, want: Scores) -> tuple[Scores | None, Verdict | None]:
    if not isinstance(got, Mapping) or set(got) != set(want):
        return None, _verdict(False, f"{what}: return a dict keyed by the prunable weights' names {sorted(want)}, "
                                     f"got {type(got).__name__} with keys "
                                     f"{sorted(got) if isinstance(got, Mapping) else '-'}")
    out = {}
    for name in want:
        value = torch.as_tensor(got[name]).detach().float()
        if value.shape != want[name].shape:
            return None, _verdict(False, f"{what}: {name} has shape {tuple(value.shape)}, "
                                         f"expected {tuple(want[name].shape)}")
        out[name] = value
    return out, None


def _matches(got: Scores, want: Scores, where: Mapping[str, torch.Tensor] | None = None) -> bool:
    """Equal up to float round-off (infinities where they should be), optionally only on ``where``."""
    for name, w in want.items():
        g, w = got[name], w.float()
        if where is not None:
            g, w = g[where[name]], w[where[name]]
        finite = torch.isfinite(w)
        if not torch.equal(torch.isfinite(g), finite) or not torch.equal(g[~finite], w[~finite]):
            return False
        if not torch.allclose(g[finite], w[finite], rtol=1e-4, atol=1e-7):
            return False
    return True


def _check(what: str, got, want: Scores, mistakes: list[tuple[str, Scores, Mapping | None]], done: str) -> Verdict:
    """Compare; when wrong, name the first mistake whose result the answer reproduces."""
    got, refused = _as_scores(what, got, want)
    if refused is not None:
        return refused
    if _matches(got, want):
        return _verdict(True, f"{what}: correct, {done}")
    for hint, wrong, where in mistakes:
        if _matches(got, wrong, where):
            return _verdict(False, f"{what}: {hint}")
    worst = max(want, key=lambda n: float((got[n] - want[n]).nan_to_num(0, 0, 0).abs().max()))
    return _verdict(False, f"{what}: values differ from the reference in {worst} and match none of the usual "
                           "mistakes; print your result next to the formula term by term")


def _run(what: str, answer: Callable, *args):
    try:
        return answer(*args), None
    except NotImplementedError:
        return None, _not_attempted(what)


# -------------------------------------------------------------------------------------- checkers
def check_convergence_sensitivity(answer: Callable) -> Verdict:
    """``answer(model, batches) -> {name: |∂L/∂θ|}``, L the mean cross-entropy, ∂L/∂θ averaged over batches."""
    model, batches, _ = exercise_network()
    got, not_yet = _run("convergence sensitivity", answer, copy.deepcopy(model), batches)
    if not_yet is not None:
        return not_yet
    per_batch = _per_batch_gradients(model, batches, None)
    grad = _mean(per_batch)
    summed = _per_batch_gradients(model, batches, None, reduction="sum")
    mistakes = [
        ("the gradients are summed over the batches: average them (divide by the number of batches)",
         {n: (per_batch[0][n] + per_batch[1][n]).abs() for n in grad}, None),
        ("take the absolute value: the score is |∂L/∂θ|, a size, not a signed gradient", grad, None),
        ("the absolute value comes after averaging: |mean of the gradients|, not the mean of their sizes",
         _mean([{n: g[n].abs() for n in g} for g in per_batch]), None),
        ("the loss is summed over the examples: use the mean cross-entropy (F.cross_entropy's default)",
         {n: _mean(summed)[n].abs() for n in grad}, None),
    ]
    return _check("convergence sensitivity", got, {n: g.abs() for n, g in grad.items()}, mistakes,
                  "|∂L/∂θ| averaged over the scoring batches")


def check_connection_sensitivity(answer: Callable) -> Verdict:
    """``answer(model, batches) -> {name: |θ ⊙ ∂L/∂θ|}`` (SNIP's saliency), gradients averaged over batches."""
    model, batches, _ = exercise_network()
    got, not_yet = _run("connection sensitivity", answer, copy.deepcopy(model), batches)
    if not_yet is not None:
        return not_yet
    per_batch = _per_batch_gradients(model, batches, None)
    grad, theta = _mean(per_batch), _weights(model)
    mistakes = [
        ("take the absolute value of θ·g: the saliency is the size of the first-order loss change",
         {n: theta[n] * grad[n] for n in grad}, None),
        ("that is |∂L/∂θ| alone (convergence sensitivity): multiply by the weight θ",
         {n: grad[n].abs() for n in grad}, None),
        ("the gradients are summed over the batches: average them",
         {n: (theta[n] * (per_batch[0][n] + per_batch[1][n])).abs() for n in grad}, None),
        ("the absolute value comes after averaging the gradient over the batches",
         _mean([{n: (theta[n] * g[n]).abs() for n in g} for g in per_batch]), None),
    ]
    return _check("connection sensitivity", got, {n: (theta[n] * grad[n]).abs() for n in grad}, mistakes,
                  "|θ ⊙ ∂L/∂θ|, the first-order estimate of the loss change when θ is removed")


def check_drive_score(answer: Callable) -> Verdict:
    """``answer(model, batches, masks) -> DRIVE's normalised-sum score``, pruned weights at −inf.

    S = M/ΣM + C/ΣC + V/ΣV with M = |θ|, C = |θ·g|, V = |g| at the masked weights, sums over
    the surviving weights of the whole network (method.md, "DRIVE").
    """
    model, batches, masks = exercise_network()
    bool_masks = {name: m.bool() for name, m in masks.items()}
    got, not_yet = _run("DRIVE score", answer, copy.deepcopy(model), batches, masks)
    if not_yet is not None:
        return not_yet
    grad = _mean(_per_batch_gradients(model, batches, bool_masks))
    theta = _weights(model, bool_masks)
    survivors = bool_masks
    unmasked_grad = _mean(_per_batch_gradients(model, batches, bool_masks, mask_weights=False))
    mistakes = [
        ("each term is normalised by its own layer's sum: normalise by the sum over the whole network "
         "(the score ranks weights globally)", _drive_sum(theta, grad, bool_masks, per_layer=True), survivors),
        ("pruned weights must score −inf, so they can never be kept again (the masks are nested)",
         _drive_sum(theta, grad, bool_masks, minus_inf=False), None),
        ("pruned weights still count in the convergence term's sum: their gradient is not zero, so mask it "
         "(g ⊙ m) before taking |g| and its sum", _drive_sum(theta, grad, bool_masks, mask_gradient=False), None),
        ("the gradient is taken at the unpruned weights: apply the masks to the weights before the forward pass",
         _drive_sum(_weights(model, bool_masks), unmasked_grad, bool_masks), None),
        ("each term must be divided by its sum before adding: the three terms have different scales",
         {n: (theta[n].abs() + (theta[n] * grad[n]).abs() + (grad[n] * bool_masks[n]).abs())
          .masked_fill(~bool_masks[n], float("-inf")) for n in grad}, None),
    ]
    return _check("DRIVE score", got, _drive_sum(theta, grad, bool_masks), mistakes,
                  "M/ΣM + C/ΣC + V/ΣV over the surviving weights of the whole network, pruned at −inf")
