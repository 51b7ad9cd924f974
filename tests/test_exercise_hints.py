"""The build-the-method checkers: a right answer passes, each usual mistake is named.

Every right answer here is written out in the test, the way a learner would write it, and
every wrong one is the mistake a learner makes; the checker must tell them apart and say
which mistake it saw.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from drive_lab import exercises


def verdict_text(capsys) -> str:
    return capsys.readouterr().out


def mean_gradients(model, batches, masks=None, reduction="mean"):
    names = [n for n, _ in model.named_parameters() if n.endswith("weight")]
    params = dict(model.named_parameters())
    if masks is not None:
        with torch.no_grad():
            for n in names:
                params[n].mul_(masks[n])
    total = {n: torch.zeros_like(params[n]) for n in names}
    for x, y in batches:
        grads = torch.autograd.grad(F.cross_entropy(model(x), y, reduction=reduction), [params[n] for n in names])
        for n, g in zip(names, grads):
            total[n] += g
    return {n: total[n] / len(batches) for n in names}, {n: params[n].detach() for n in names}


# ----------------------------------------------------------------------------------- score terms
def test_convergence_sensitivity_right_and_each_mistake_named(capsys):
    assert exercises.check_convergence_sensitivity(lambda m, b: {n: g.abs() for n, g in mean_gradients(m, b)[0].items()})
    assert not exercises.check_convergence_sensitivity(lambda m, b: mean_gradients(m, b)[0])
    assert "absolute value" in verdict_text(capsys)
    summed = lambda m, b: {n: (2 * g).abs() for n, g in mean_gradients(m, b)[0].items()}  # noqa: E731
    assert not exercises.check_convergence_sensitivity(summed)
    assert "summed over the batches" in verdict_text(capsys)
    per_example_sum = lambda m, b: {n: g.abs() for n, g in mean_gradients(m, b, reduction="sum")[0].items()}  # noqa: E731
    assert not exercises.check_convergence_sensitivity(per_example_sum)
    assert "mean cross-entropy" in verdict_text(capsys)


def test_connection_sensitivity_right_and_mistakes_named(capsys):
    def right(model, batches):
        g, theta = mean_gradients(model, batches)
        return {n: (theta[n] * g[n]).abs() for n in g}

    def signed(model, batches):
        g, theta = mean_gradients(model, batches)
        return {n: theta[n] * g[n] for n in g}

    assert exercises.check_connection_sensitivity(right)
    assert not exercises.check_connection_sensitivity(signed)
    assert "absolute value" in verdict_text(capsys)
    assert not exercises.check_connection_sensitivity(lambda m, b: {n: g.abs() for n, g in mean_gradients(m, b)[0].items()})
    assert "multiply by the weight" in verdict_text(capsys)


def drive_score(model, batches, masks, per_layer=False, minus_inf=True, mask_gradient=True):
    """DRIVE's sum score written out by hand, with the learner's usual slips as switches."""
    keep = {n: m.bool() for n, m in masks.items()}
    g, theta = mean_gradients(model, batches, {n: m.float() for n, m in keep.items()})
    if mask_gradient:
        g = {n: g[n] * keep[n] for n in g}
    terms = [{n: theta[n].abs() for n in g}, {n: (theta[n] * g[n]).abs() for n in g}, {n: g[n].abs() for n in g}]
    out = {n: torch.zeros_like(g[n]) for n in g}
    for term in terms:
        network_total = sum(t.sum() for t in term.values())
        for n in g:
            out[n] += term[n] / (term[n].sum() if per_layer else network_total)
    if minus_inf:
        out = {n: s.masked_fill(~keep[n], float("-inf")) for n, s in out.items()}
    return out


def test_drive_score_right_and_each_mistake_named(capsys):
    assert exercises.check_drive_score(drive_score)
    for switch, words in ((dict(per_layer=True), "whole network"), (dict(minus_inf=False), "−inf"),
                          (dict(mask_gradient=False), "g ⊙ m")):
        assert not exercises.check_drive_score(lambda m, b, k, s=switch: drive_score(m, b, k, **s))
        assert words in verdict_text(capsys), switch


# ------------------------------------------------------------------------------------ global top-k
def keep_top(scores, masks, density, ties="exact", per_layer=False, revive=False, of_survivors=False):
    names = list(masks)
    total = sum(masks[n].numel() for n in names)
    alive = sum(int(masks[n].sum()) for n in names)
    if per_layer:
        return {n: keep_top({n: scores[n]}, {n: masks[n]}, density)[n] for n in names}
    flat = torch.cat([(scores[n] if revive else scores[n].masked_fill(~masks[n], float("-inf"))).reshape(-1)
                      for n in names])
    k = round(density * (alive if of_survivors else total))
    if ties == "exact":
        keep = torch.zeros_like(flat, dtype=torch.bool)
        keep[torch.topk(flat, k).indices] = True
    else:
        threshold = torch.sort(flat, descending=True).values[k - 1]
        keep = flat >= threshold if ties == ">=" else flat > threshold
    out, start = {}, 0
    for n in names:
        out[n] = keep[start:start + masks[n].numel()].view(masks[n].shape)
        start += masks[n].numel()
    return out


def test_keep_top_right_and_each_mistake_named(capsys):
    assert exercises.check_keep_top(keep_top)
    assert exercises.check_keep_top(exercises.reference_keep_top)
    for options, words in ((dict(ties=">="), "tied with the k-th"), (dict(ties=">"), "strict threshold"),
                           (dict(per_layer=True), "each layer on its own"), (dict(revive=True), "came back"),
                           (dict(of_survivors=True), "not only the survivors")):
        assert not exercises.check_keep_top(lambda s, m, d, o=options: keep_top(s, m, d, **o)), options
        assert words in verdict_text(capsys), options


def test_reference_keep_top_is_exact_nested_and_global():
    scores = {"a": torch.tensor([[3.0, 1.0], [2.0, 2.0]]), "b": torch.tensor([5.0, 2.0, 0.0])}
    masks = {"a": torch.tensor([[True, True], [False, True]]), "b": torch.tensor([True, True, True])}
    kept = exercises.reference_keep_top(scores, masks, 3 / 7)
    # survivors' scores: a 3, 1, 2 (the 2 at [1, 0] is pruned); b 5, 2, 0 -> top 3: b0=5, a00=3, then a
    # tie at 2 between a[1,1] and b1, broken by layer order (a first)
    assert kept["a"].tolist() == [[True, False], [False, True]]
    assert kept["b"].tolist() == [True, False, False]


# ---------------------------------------------------------------------------------- pruning loop
def test_prune_loop_right_and_mistakes_named(capsys):
    def right(score, keep_top_fn, masks, density, iterations):
        for k in range(1, iterations + 1):
            masks = keep_top_fn(score(masks), masks, density ** (k / iterations))
        return masks

    def linear(score, keep_top_fn, masks, density, iterations):
        for k in range(1, iterations + 1):
            masks = keep_top_fn(score(masks), masks, 1 - (1 - density) * k / iterations)
        return masks

    def scored_once(score, keep_top_fn, masks, density, iterations):
        s = score(masks)
        for k in range(1, iterations + 1):
            masks = keep_top_fn(s, masks, density ** (k / iterations))
        return masks

    def not_nested(score, keep_top_fn, masks, density, iterations):
        everything = {n: torch.ones_like(m) for n, m in masks.items()}
        for k in range(1, iterations + 1):
            masks = keep_top_fn(score(masks), everything, density ** (k / iterations))
        return masks

    assert exercises.check_prune_loop(right)
    for wrong, words in ((linear, "linear"), (scored_once, "computed once"), (not_nested, "nested")):
        assert not exercises.check_prune_loop(wrong)
        assert words in verdict_text(capsys), wrong.__name__


# ------------------------------------------------------------------------------------- IMP round
def imp_round(trained, initial, masks, fraction, of_all=False, rewind=True, mask_rewound=True):
    names = list(masks)
    flat = torch.cat([trained[n].abs().masked_fill(~masks[n], float("-inf")).reshape(-1) for n in names])
    alive = int(sum(int(m.sum()) for m in masks.values()))
    keep_count = alive - round(fraction * flat.numel()) if of_all else round((1 - fraction) * alive)
    keep = torch.zeros_like(flat, dtype=torch.bool)
    keep[torch.topk(flat, keep_count).indices] = True
    new, start = {}, 0
    for n in names:
        new[n] = keep[start:start + masks[n].numel()].view(masks[n].shape)
        start += masks[n].numel()
    source = initial if rewind else trained
    return new, {n: source[n] * new[n] if mask_rewound else source[n].clone() for n in names}


def test_imp_round_right_and_mistakes_named(capsys):
    assert exercises.check_imp_round(imp_round)
    for options, words in ((dict(of_all=True), "of the survivors"), (dict(rewind=False), "initial values"),
                           (dict(mask_rewound=False), "must be masked")):
        assert not exercises.check_imp_round(lambda t, i, m, f, o=options: imp_round(t, i, m, f, **o)), options
        assert words in verdict_text(capsys), options


# ----------------------------------------------------------------------------- masked SGD step
def test_masked_sgd_step_right_and_momentum_revival_named(capsys):
    def right(weight, grad, buffer, mask, lr, momentum):
        buffer = (momentum * buffer + grad) * mask
        return (weight - lr * buffer) * mask, buffer

    def gradient_only(weight, grad, buffer, mask, lr, momentum):
        buffer = momentum * buffer + grad * mask
        return weight - lr * buffer, buffer

    assert exercises.check_masked_sgd_step(right)
    assert not exercises.check_masked_sgd_step(gradient_only)
    assert "momentum buffer" in verdict_text(capsys)


# --------------------------------------------------------------------- answers of the wrong type
def test_value_answers_are_validated(capsys):
    assert not exercises.check_kept_count(266.9, 2669, 0.9)  # would round down to 266 by int()
    assert "whole number" in verdict_text(capsys)
    assert exercises.check_kept_count(267.0, 2669, 0.9)
    assert not exercises.check_kept_count(True, 10, 0.9)
    assert not exercises.check_kept_count(2402, 2669, 0.9)
    assert "number pruned" in verdict_text(capsys)
    assert not exercises.check_product_ranks_like_snip("True")
    assert "without quotes" in verdict_text(capsys)
    assert exercises.check_product_ranks_like_snip(True)


def test_schedule_mistakes_named(capsys):
    assert not exercises.check_schedule(lambda d, n: [d ** (k / n) for k in range(0, n + 1)])
    assert "starting density" in verdict_text(capsys)
    assert not exercises.check_schedule(lambda d, n: [1 - (1 - d) * k / n for k in range(1, n + 1)])
    assert "linear" in verdict_text(capsys)
