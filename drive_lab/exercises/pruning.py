"""Checkers for the pruning exercises: schedule, global top-k, the iterative loop, an IMP
round, a masked SGD step with momentum, a within-layer shuffle, counts and collapse.

Masks in these exercises are plain ``{name: bool tensor}`` dicts (a :class:`~drive_lab.masks.Masks`
works too). Each checker builds its own small case, computes the expected result with
straightforward code written here, and, for a wrong answer, names the mistake it matches:
ties kept at the threshold, per-layer instead of global ranking, pruned weights revived,
momentum bringing pruned weights back, ...
"""
from __future__ import annotations

import math
from typing import Callable, Mapping

import torch

from .verdicts import Verdict, _not_attempted, _verdict, _whole_number

BoolMasks = dict[str, torch.Tensor]


def _bool_dict(what: str, got, like: Mapping[str, torch.Tensor]) -> tuple[BoolMasks | None, Verdict | None]:
    """The answer as ``{name: bool tensor}`` with ``like``'s names and shapes, or a verdict why not."""
    if not isinstance(got, Mapping) or set(got) != set(like):
        return None, _verdict(False, f"{what}: return a dict of masks keyed {sorted(like)}, got "
                                     f"{type(got).__name__}" + (f" with keys {sorted(got)}" if isinstance(got, Mapping) else ""))
    out = {}
    for name in like:
        value = got[name]
        if not isinstance(value, torch.Tensor) or value.shape != like[name].shape:
            return None, _verdict(False, f"{what}: {name} must be a tensor of shape {tuple(like[name].shape)}")
        if value.dtype != torch.bool and not bool(((value == 0) | (value == 1)).all()):
            return None, _verdict(False, f"{what}: {name} holds values other than 0 and 1; a mask is boolean")
        out[name] = value.bool()
    return out, None


def _count(masks: Mapping[str, torch.Tensor]) -> int:
    return sum(int(m.sum()) for m in masks.values())


def _size(masks: Mapping[str, torch.Tensor]) -> int:
    return sum(m.numel() for m in masks.values())


def _is_global_top(kept: BoolMasks, scores: Mapping[str, torch.Tensor], alive: BoolMasks) -> bool:
    """Every kept weight scores at least as high as every surviving weight left out."""
    kept_scores = torch.cat([scores[n][kept[n]] for n in kept])
    dropped = torch.cat([scores[n][alive[n] & ~kept[n]] for n in kept])
    return not len(kept_scores) or not len(dropped) or bool(kept_scores.min() >= dropped.max())


def reference_keep_top(scores: Mapping[str, torch.Tensor], masks: Mapping[str, torch.Tensor],
                       density: float) -> BoolMasks:
    """Global exact top-k over the survivors: k = round(density · all prunable weights).

    A plain reference (one stable sort of the concatenated scores, pruned entries at −inf):
    ties are kept in layer order, then flattened index order, as ``drive_lab.masks.keep_top``.
    """
    names = list(masks)
    flat = torch.cat([scores[n].detach().float().reshape(-1).masked_fill(~masks[n].bool().reshape(-1), float("-inf"))
                      for n in names])
    k = int(round(density * flat.numel()))
    order = torch.sort(flat, descending=True, stable=True).indices[:k]
    keep = torch.zeros(flat.numel(), dtype=torch.bool)
    keep[order] = True
    out, start = {}, 0
    for n in names:
        size = masks[n].numel()
        out[n] = keep[start:start + size].view(masks[n].shape)
        start += size
    return out


# ------------------------------------------------------------------------------------- schedule
def check_schedule(answer: Callable) -> Verdict:
    """``answer(density, iterations) -> list of the N densities κ^(k/N), k = 1..N``."""
    try:
        got = answer(0.02, 5)
    except NotImplementedError:
        return _not_attempted("schedule")
    want = [0.02 ** (k / 5) for k in range(1, 6)]
    try:
        got = [float(d) for d in got]
    except (TypeError, ValueError):
        return _verdict(False, f"schedule: return a list of {len(want)} numbers, got {type(got).__name__}")
    if len(got) == len(want) and all(math.isclose(g, w, rel_tol=1e-9) for g, w in zip(got, want)):
        return _verdict(True, "schedule: correct, the density falls by the same factor κ^(1/N) every iteration")
    if len(got) == len(want) + 1 and math.isclose(got[0], 1.0) and all(
            math.isclose(g, w, rel_tol=1e-9) for g, w in zip(got[1:], want)):
        return _verdict(False, "schedule: leave out the starting density 1: one entry per pruning iteration, k = 1..N")
    linear = [1 - (1 - 0.02) * k / 5 for k in range(1, 6)]
    if len(got) == len(want) and all(math.isclose(g, w, rel_tol=1e-9) for g, w in zip(got, linear)):
        return _verdict(False, "schedule: that is a linear schedule; DRIVE's is exponential, κ^(k/N), so every "
                               "iteration removes the same fraction of the survivors")
    return _verdict(False, f"schedule: for κ=0.02, N=5 expected {[round(w, 4) for w in want]}, "
                           f"got {[round(g, 4) for g in got]}")


# ------------------------------------------------------------------------------------ global top-k
def _keep_top_case() -> tuple[dict[str, torch.Tensor], BoolMasks, float]:
    """Scores with ties at the threshold and high scores on already-pruned weights."""
    generator = torch.Generator().manual_seed(5)
    scores = {"a.weight": torch.randint(0, 6, (6, 5), generator=generator).float(),
              "b.weight": torch.randint(0, 6, (4, 10), generator=generator).float() * 0.5}
    masks = {name: torch.rand(s.shape, generator=generator) > 0.25 for name, s in scores.items()}
    for name in scores:  # pruned weights score highest: only the −inf rule keeps them out
        scores[name][~masks[name]] = 10.0
    return scores, masks, 0.4


def check_keep_top(answer: Callable) -> Verdict:
    """``answer(scores, masks, density) -> new masks``: global exact top-k over the survivors.

    Keep exactly k = round(density · all prunable weights) weights, the highest-scoring
    surviving ones across all layers; a pruned weight stays pruned whatever its score. Any
    rule among exactly tied scores is accepted.
    """
    scores, masks, density = _keep_top_case()
    try:
        got = answer({n: s.clone() for n, s in scores.items()}, {n: m.clone() for n, m in masks.items()}, density)
    except NotImplementedError:
        return _not_attempted("global top-k")
    got, refused = _bool_dict("global top-k", got, masks)
    if refused is not None:
        return refused
    k = int(round(density * _size(masks)))
    if any(bool((got[n] & ~masks[n]).any()) for n in masks):
        return _verdict(False, "global top-k: a pruned weight came back. Set the pruned entries' scores to −inf "
                               "before ranking: the masks are nested, density only goes down")
    per_layer = {n: reference_keep_top({n: scores[n]}, {n: masks[n]}, density)[n] for n in masks}
    same_layer_counts = all(int(got[n].sum()) == int(per_layer[n].sum()) for n in masks)
    if same_layer_counts and not _is_global_top(got, scores, masks):
        return _verdict(False, "global top-k: that ranks each layer on its own; concatenate the scores of all "
                               "layers and keep the k highest overall (the layers' densities are the outcome)")
    if _count(got) == int(round(density * _count(masks))):
        return _verdict(False, f"global top-k: k counts all prunable weights, not only the survivors: "
                               f"k = round({density} × {_size(masks)}) = {k}")
    if _count(got) > k and _is_global_top(got, scores, masks):
        return _verdict(False, f"global top-k: {_count(got)} weights kept instead of {k}. A threshold test "
                               "(score >= k-th value) keeps every weight tied with the k-th; keep exactly k, e.g. "
                               "with torch.topk on the concatenated scores")
    if _count(got) < k and _is_global_top(got, scores, masks):
        return _verdict(False, f"global top-k: {_count(got)} weights kept instead of {k}. A strict threshold "
                               "(score > k-th value) drops the weights tied with the k-th; keep exactly k")
    if _count(got) != k:
        return _verdict(False, f"global top-k: {_count(got)} weights kept instead of k = round({density} × "
                               f"{_size(masks)}) = {k}")
    if not _is_global_top(got, scores, masks):
        return _verdict(False, "global top-k: a kept weight scores lower than a surviving weight you dropped; "
                               "keep the highest scores (descending order)")
    return _verdict(True, f"global top-k: correct, exactly {k} weights, the highest-scoring survivors of all layers")


# ------------------------------------------------------------------------------- the pruning loop
def _loop_case():
    """A score that changes with the mask (as a real score does after each iteration)."""
    generator = torch.Generator().manual_seed(8)
    base = {"a.weight": torch.rand(8, 6, generator=generator), "b.weight": torch.rand(5, 8, generator=generator)}
    calls = []

    def score(masks: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        # Survivors of a sparse layer gain weight, so the ranking depends on the current masks;
        # pruned weights score high (as a pruned weight's gradient can be large): only the
        # nesting rule keeps them out.
        calls.append(1)
        density = {n: float(masks[n].float().mean()) for n in base}
        return {n: (base[n] * (1.0 + 2.0 * (1.0 - density[n])) + 0.01 * len(calls) * base[n].flip(0))
                .masked_fill(~masks[n].bool(), 5.0) for n in base}

    masks = {n: torch.ones_like(t, dtype=torch.bool) for n, t in base.items()}
    return score, calls, masks


def _reference_loop(density: float, iterations: int, nested: bool = True, schedule: str = "exponential") -> BoolMasks:
    score, _, masks = _loop_case()
    for k in range(1, iterations + 1):
        target = density ** (k / iterations) if schedule == "exponential" else 1 - (1 - density) * k / iterations
        alive = masks if nested else {n: torch.ones_like(m) for n, m in masks.items()}
        masks = reference_keep_top(score(masks), alive, target)
    return masks


def check_prune_loop(answer: Callable) -> Verdict:
    """``answer(score, keep_top, masks, density, iterations) -> final masks``: iterative pruning.

    For k = 1..N: score the current network (``score(masks)``, a fresh score every
    iteration), then keep the top κ^(k/N) of all weights among the survivors
    (``keep_top(scores, masks, target_density)``, this module's :func:`reference_keep_top`).
    """
    density, iterations = 0.1, 5
    score, calls, masks = _loop_case()
    try:
        got = answer(score, reference_keep_top, masks, density, iterations)
    except NotImplementedError:
        return _not_attempted("pruning loop")
    got, refused = _bool_dict("pruning loop", got, masks)
    if refused is not None:
        return refused
    if len(calls) == 1 and iterations > 1:
        return _verdict(False, "pruning loop: the score was computed once; recompute it every iteration, on the "
                               "network as the previous iteration left it (that is what makes pruning iterative)")
    if len(calls) != iterations:
        return _verdict(False, f"pruning loop: the score was computed {len(calls)} times for {iterations} iterations")
    if all(torch.equal(got[n], w[n]) for w in [_reference_loop(density, iterations)] for n in w):
        return _verdict(True, f"pruning loop: correct, {iterations} nested steps down to density {density}")
    for hint, wrong in (
            ("the schedule is linear; iteration k keeps κ^(k/N) of the weights (exponential)",
             _reference_loop(density, iterations, schedule="linear")),
            ("pass the current masks to keep_top: a weight pruned at an earlier iteration must stay pruned "
             "(nested masks), not compete again", _reference_loop(density, iterations, nested=False))):
        if all(torch.equal(got[n], wrong[n]) for n in wrong):
            return _verdict(False, f"pruning loop: {hint}")
    kept = _count(got)
    want = int(round(density * _size(masks)))
    return _verdict(False, f"pruning loop: the final masks differ from the reference (kept {kept}, expected {want}); "
                           "check the target density of each iteration and that each step starts from the last")


# ------------------------------------------------------------------------------------- an IMP round
def _imp_case():
    generator = torch.Generator().manual_seed(13)
    initial = {"a.weight": torch.randn(10, 8, generator=generator), "b.weight": torch.randn(4, 10, generator=generator)}
    masks = {n: torch.rand(t.shape, generator=generator) > 0.3 for n, t in initial.items()}
    trained = {n: (t + 0.7 * torch.randn(t.shape, generator=generator)) * masks[n] for n, t in initial.items()}
    return trained, initial, masks


def _reference_imp_round(trained, initial, masks, fraction: float, of_survivors: bool = True, per_layer: bool = False):
    alive = _count(masks)
    if per_layer:
        new = {}
        for n in masks:
            keep = int(round((1 - fraction) * int(masks[n].sum())))
            new[n] = reference_keep_top({n: trained[n].abs()}, {n: masks[n]}, keep / masks[n].numel())[n]
    else:
        # right: keep 80% of the survivors; the usual slip: prune 20% of all weights
        keep = int(round((1 - fraction) * alive)) if of_survivors else alive - int(round(fraction * _size(masks)))
        new = reference_keep_top({n: t.abs() for n, t in trained.items()}, masks, keep / _size(masks))
    return new, {n: initial[n] * new[n] for n in new}


def check_imp_round(answer: Callable) -> Verdict:
    """``answer(trained, initial, masks, fraction) -> (new_masks, rewound_weights)``: one IMP round.

    Prune ``fraction`` (0.2) of the *surviving* weights, those of smallest magnitude |θ|
    after training, globally across layers; then rewind: the survivors get their initial
    values back (pruned weights are 0). method.md, "IMP".
    """
    trained, initial, masks = _imp_case()
    fraction = 0.2
    try:
        got = answer({n: t.clone() for n, t in trained.items()}, {n: t.clone() for n, t in initial.items()},
                     {n: m.clone() for n, m in masks.items()}, fraction)
    except NotImplementedError:
        return _not_attempted("IMP round")
    if not isinstance(got, tuple) or len(got) != 2:
        return _verdict(False, "IMP round: return a pair (new_masks, rewound_weights)")
    new, refused = _bool_dict("IMP round", got[0], masks)
    if refused is not None:
        return refused
    weights = got[1]
    if not isinstance(weights, Mapping) or set(weights) != set(masks):
        return _verdict(False, f"IMP round: rewound_weights must be a dict keyed {sorted(masks)}")
    want_masks, want_weights = _reference_imp_round(trained, initial, masks, fraction)
    if any(bool((new[n] & ~masks[n]).any()) for n in masks):
        return _verdict(False, "IMP round: a weight pruned in an earlier round came back; rank only the survivors")
    if not all(torch.equal(new[n], want_masks[n]) for n in masks):
        for hint, kw in (("20% of the survivors, not of all weights: each round keeps 80% of what is left",
                          dict(of_survivors=False)),
                         ("rank globally, across layers, as open_lth's global magnitude pruning does; per-layer "
                          "rounds fix each layer's density", dict(per_layer=True))):
            wrong, _ = _reference_imp_round(trained, initial, masks, fraction, **kw)
            if all(torch.equal(new[n], wrong[n]) for n in masks):
                return _verdict(False, f"IMP round: {hint}")
        lowest = reference_keep_top({n: -t.abs() for n, t in trained.items()}, masks,
                                    _count(want_masks) / _size(masks))
        if all(torch.equal(new[n], lowest[n]) for n in masks):
            return _verdict(False, "IMP round: that keeps the smallest weights; prune the smallest |θ|, keep the largest")
        return _verdict(False, f"IMP round: the new masks keep {_count(new)} weights, expected "
                               f"{_count(want_masks)} (the largest |θ| of the trained survivors)")
    for name in masks:
        w = torch.as_tensor(weights[name]).detach().float()
        if w.shape != masks[name].shape:
            return _verdict(False, f"IMP round: rewound {name} must have shape {tuple(masks[name].shape)}")
        if torch.allclose(w, trained[name] * new[name]) and not torch.allclose(w, want_weights[name]):
            return _verdict(False, "IMP round: rewind the survivors to their initial values, not their trained ones "
                                   "(the lottery ticket is the mask applied to the initialisation)")
        if torch.allclose(w, initial[name]) and not torch.allclose(w, want_weights[name]):
            return _verdict(False, "IMP round: the rewound weights must be masked: pruned weights are 0")
        if not torch.allclose(w, want_weights[name]):
            return _verdict(False, f"IMP round: rewound {name} differs from initial ⊙ new mask")
    return _verdict(True, f"IMP round: correct, {_count(masks)} → {_count(new)} weights (20% of the survivors "
                          "pruned by magnitude), survivors rewound to their initial values")


# ----------------------------------------------------------------------- a masked SGD step, momentum
def check_masked_sgd_step(answer: Callable) -> Verdict:
    """``answer(weight, grad, buffer, mask, lr, momentum) -> (new_weight, new_buffer)``.

    One step of SGD with momentum that keeps pruned weights at exactly 0:
    ``buffer ← momentum · buffer + grad``, ``weight ← weight − lr · buffer``, with the pruned
    entries of the weight (and, so they cannot leak back later, of the buffer) set to 0. The
    test buffer still carries velocity from before pruning, as after a warm-up.
    """
    generator = torch.Generator().manual_seed(21)
    mask = torch.rand(6, 7, generator=generator) > 0.5
    weight = torch.randn(6, 7, generator=generator) * mask
    grad = torch.randn(6, 7, generator=generator)
    buffer = torch.randn(6, 7, generator=generator)  # from the dense warm-up: non-zero where now pruned
    lr, momentum = 0.1, 0.9
    try:
        got = answer(weight.clone(), grad.clone(), buffer.clone(), mask.clone(), lr, momentum)
    except NotImplementedError:
        return _not_attempted("masked SGD step")
    if not isinstance(got, tuple) or len(got) != 2:
        return _verdict(False, "masked SGD step: return a pair (new_weight, new_buffer)")
    new_weight, new_buffer = (torch.as_tensor(t).detach().float() for t in got)
    if new_weight.shape != weight.shape or new_buffer.shape != weight.shape:
        return _verdict(False, f"masked SGD step: both tensors keep the shape {tuple(weight.shape)}")
    if bool((new_weight[~mask] != 0).any()):
        only_grad = weight - lr * (momentum * buffer + grad * mask)
        if torch.allclose(new_weight, only_grad):
            return _verdict(False, "masked SGD step: masking the gradient is not enough: the momentum buffer still "
                                   "holds velocity from before pruning and moves pruned weights away from 0. Zero "
                                   "the pruned weights after the step (and their buffer entries)")
        return _verdict(False, "masked SGD step: pruned weights moved away from 0; multiply the updated weight by "
                               "the mask")
    want_buffer = momentum * buffer + grad
    want_weight = (weight - lr * want_buffer) * mask
    if not torch.allclose(new_weight[mask], want_weight[mask]):
        return _verdict(False, "masked SGD step: the surviving weights should move by −lr · (momentum · buffer + grad)")
    if not (torch.allclose(new_buffer, want_buffer * mask) or torch.allclose(new_buffer, (momentum * buffer + grad * mask) * mask)):
        return _verdict(False, "masked SGD step: the buffer should be momentum · buffer + grad, with pruned entries 0")
    return _verdict(True, "masked SGD step: correct, survivors follow SGD with momentum, pruned weights stay at 0")


# ------------------------------------------------------------------------------ counts and collapse
def check_kept_count(answer: int, prunable_weights: int, sparsity: float) -> Verdict:
    """How many weights survive pruning ``prunable_weights`` to ``sparsity`` (exact top-k)?"""
    if answer is None or answer is NotImplemented:
        return _not_attempted("kept count", value_answer=True)
    answer, refused = _whole_number("kept count", answer)
    if refused is not None:
        return refused
    want = round((1 - sparsity) * prunable_weights)
    if answer == want:
        return _verdict(True, f"kept count: correct (round((1 − {sparsity}) × {prunable_weights}) = {want})")
    if answer == prunable_weights - want:
        return _verdict(False, f"kept count: {answer} is the number pruned; the sparsity is the pruned fraction, "
                               f"so {want} are kept")
    return _verdict(False, f"kept count: expected round((1 − {sparsity}) × {prunable_weights}) = {want}, got {answer}")


def check_first_collapse(answer: str | None, pruning_history: list[dict]) -> Verdict:
    """Predict the first layer to collapse in ``pruning_history`` (None if none collapses)."""
    from ..analysis import first_collapse

    if answer is NotImplemented:
        return _not_attempted("first collapsed layer", value_answer=True)
    found = first_collapse(pruning_history)
    want = None if found is None else found[1]
    if answer == want:
        return _verdict(True, f"first collapsed layer: correct ({want or 'no layer collapses'})")
    return _verdict(False, f"first collapsed layer: expected {want or 'no collapse'}, got {answer}"
                           + ("" if found is None else f" (it empties at iteration {found[0]})"))


# --------------------------------------------------------------------------- the sanity check's shuffle
def check_shuffle_within_layers(answer: Callable) -> Verdict:
    """``answer(masks: dict[name, bool tensor], generator) -> dict``: the sanity check's shuffle.

    Correct: every layer keeps its shape and exactly its count of kept weights, and the kept
    positions move. The hints name the usual mistakes: permuting across layers (counts
    change), drawing a fresh random mask (counts change), returning the original mask
    (Synaptic-Flow's public shuffle permutes a local copy and changes nothing).
    """
    generator = torch.Generator().manual_seed(11)
    masks = {"a.weight": torch.rand(20, 15, generator=generator) < 0.2,
             "b.weight": torch.rand(10, 20, generator=generator) < 0.7}
    original = {name: m.clone() for name, m in masks.items()}
    try:
        out = answer({name: m.clone() for name, m in masks.items()}, torch.Generator().manual_seed(3))
    except NotImplementedError:
        return _not_attempted("shuffle within layers")
    if not isinstance(out, Mapping) or set(out) != set(masks):
        return _verdict(False, f"return a dict with the same layer names {sorted(masks)}")
    for name, mask in out.items():
        if not isinstance(mask, torch.Tensor) or mask.shape != masks[name].shape:
            return _verdict(False, f"{name}: return a tensor of shape {tuple(masks[name].shape)}")
        if int(mask.bool().sum()) != int(original[name].sum()):
            return _verdict(False, f"{name} keeps {int(mask.bool().sum())} weights instead of {int(original[name].sum())}: "
                                   "permute within each layer (torch.randperm of that layer's entries), do not draw a "
                                   "new random mask or mix layers")
    if all(torch.equal(out[name].bool(), original[name]) for name in masks):
        return _verdict(False, "the masks are unchanged: the permuted positions must be returned (a permutation of a "
                               "local copy that is then discarded changes no mask)")
    return _verdict(True, "every layer keeps its count and its kept positions move: a shuffle within layers")
