"""Checkers for the course's exercises: a learner writes an answer, a checker verifies it.

Every checker prints a short verdict and returns a :class:`Verdict` (truthy when correct).
An answer that still raises ``NotImplementedError`` counts as "not attempted yet", so a
notebook with untouched exercise stubs runs from top to bottom.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import torch
from torch import nn

from . import scores
from .masks import Masks


@dataclass(frozen=True)
class Verdict:
    correct: bool
    message: str
    attempted: bool = True

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:
        return ("✔ " if self.correct else ("… " if not self.attempted else "✘ ")) + self.message


def _verdict(correct: bool, message: str, attempted: bool = True) -> Verdict:
    verdict = Verdict(correct, message, attempted)
    print(repr(verdict))
    return verdict


def _not_attempted(what: str) -> Verdict:
    return _verdict(False, f"{what}: not attempted yet (replace `raise NotImplementedError` with your answer)", False)


def exercise_network(seed: int = 0) -> tuple[nn.Module, list[tuple[torch.Tensor, torch.Tensor]], Masks]:
    """A small fixed network, two scoring batches, and masks with 30% pruned: the checkers' test bench."""
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


def _compare_scores(what: str, answer: Callable, expected: Callable, with_masks: bool) -> Verdict:
    model, batches, masks = exercise_network()
    try:
        got = answer(model, batches, masks) if with_masks else answer(model, batches)
    except NotImplementedError:
        return _not_attempted(what)
    want = expected(model, batches, masks if with_masks else None)
    if not isinstance(got, Mapping) or set(got) != set(want):
        return _verdict(False, f"{what}: return a dict keyed by the prunable weights' names {sorted(want)}, "
                               f"got {type(got).__name__} with keys {sorted(got) if isinstance(got, Mapping) else '-'}")
    for name in want:
        g, w = torch.as_tensor(got[name]).detach().float(), want[name].float()
        if g.shape != w.shape:
            return _verdict(False, f"{what}: {name} has shape {tuple(g.shape)}, expected {tuple(w.shape)}")
        finite = torch.isfinite(w)
        if not torch.equal(torch.isfinite(g), finite) or not torch.allclose(g[finite], w[finite], rtol=1e-4, atol=1e-7):
            return _verdict(False, f"{what}: values differ from the reference in {name} "
                                   "(hint: average the gradient over the batches, then take the absolute value)")
    return _verdict(True, f"{what}: correct")


def check_convergence_sensitivity(answer: Callable) -> Verdict:
    """``answer(model, batches) -> {name: |∂L/∂θ|}`` (mean cross-entropy, averaged over batches)."""
    return _compare_scores("convergence sensitivity", answer,
                           lambda m, b, _: scores.drive_terms(m, b)["convergence"], with_masks=False)


def check_connection_sensitivity(answer: Callable) -> Verdict:
    """``answer(model, batches) -> {name: |θ ⊙ ∂L/∂θ|}``."""
    return _compare_scores("connection sensitivity", answer,
                           lambda m, b, _: scores.drive_terms(m, b)["connection"], with_masks=False)


def check_drive_score(answer: Callable) -> Verdict:
    """``answer(model, batches, masks) -> DRIVE's normalised-sum score`` (pruned = -inf)."""
    return _compare_scores("DRIVE score", answer, lambda m, b, k: scores.drive(m, b, k), with_masks=True)


def check_schedule(answer: Callable) -> Verdict:
    """``answer(density, iterations) -> list of the N densities κ^(k/N), k = 1..N``."""
    from .pruning import exponential_schedule

    try:
        got = [float(d) for d in answer(0.02, 5)]
    except NotImplementedError:
        return _not_attempted("schedule")
    want = exponential_schedule(0.02, 5)
    if len(got) != len(want) or not all(math.isclose(g, w, rel_tol=1e-9) for g, w in zip(got, want)):
        return _verdict(False, f"schedule: for κ=0.02, N=5 expected {[round(w, 4) for w in want]}, "
                               f"got {[round(g, 4) for g in got]}")
    return _verdict(True, "schedule: correct, the density falls by the same factor κ^(1/N) every iteration")


def check_kept_count(answer: int, prunable_weights: int, sparsity: float) -> Verdict:
    """How many weights survive pruning ``prunable_weights`` to ``sparsity`` (exact top-k)?"""
    want = round((1 - sparsity) * prunable_weights)
    if answer is None or answer is NotImplemented:
        return _not_attempted("kept count")
    return _verdict(int(answer) == want, f"kept count: {'correct' if int(answer) == want else f'expected {want}, got {answer}'}"
                                         f" (round((1 - {sparsity}) × {prunable_weights}))")


def check_first_collapse(answer: str | None, pruning_history: list[dict]) -> Verdict:
    """Predict the first layer to collapse in ``pruning_history`` (None if none collapses)."""
    from .analysis import first_collapse

    if answer is NotImplemented:
        return _not_attempted("first collapsed layer")
    found = first_collapse(pruning_history)
    want = None if found is None else found[1]
    if answer == want:
        return _verdict(True, f"first collapsed layer: correct ({want or 'no layer collapses'})")
    return _verdict(False, f"first collapsed layer: expected {want or 'no collapse'}, got {answer}"
                           + ("" if found is None else f" (it empties at iteration {found[0]})"))


def check_speedup(answer: float, frame, method: str = "drive", sparsity: float | None = None,
                  rel_tol: float = 0.02) -> Verdict:
    """Speed-up of ``method`` over IMP (IMP pruning seconds / method pruning seconds) in ``frame``."""
    from .analysis import speedup_vs_imp

    if answer is None or answer is NotImplemented:
        return _not_attempted("speed-up")
    table = speedup_vs_imp(frame)
    rows = table[table["method"] == method]
    if sparsity is not None:
        rows = rows[(rows["sparsity"] - sparsity).abs() < 1e-9]
    if len(rows) != 1:
        return _verdict(False, f"speed-up: pick one setting (got {len(rows)} rows for method={method}, sparsity={sparsity})")
    want = float(rows["speedup"].iloc[0])
    ok = math.isclose(float(answer), want, rel_tol=rel_tol)
    return _verdict(ok, f"speed-up: {'correct' if ok else f'expected {want:.1f}×, got {float(answer):.1f}×'}"
                        " (mean IMP pruning seconds / mean method pruning seconds, same sparsity)")


def check_product_ranks_like_snip(answer: bool) -> Verdict:
    """True or False: ranking by M·C·V = |θ|·|θg|·|g| gives the same order as SNIP's |θg|."""
    if answer is NotImplemented or answer is None:
        return _not_attempted("product reading")
    ok = answer is True
    return _verdict(ok, "product reading: " + ("correct: M·C·V = (θg)², a monotone function of |θg|"
                                               if ok else "not quite: write out M·C·V in terms of θ and g"))
