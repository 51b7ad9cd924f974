"""The generic iterative pruner: schedule, nested exact steps, history, collapse."""
import math

import pytest
import torch
from torch import nn

from drive_lab import scores
from drive_lab.masks import Masks, keep_top
from drive_lab.pruning import exponential_schedule, prune


def test_exponential_schedule_values():
    # κ = 0.01, N = 4: densities 0.01^(1/4), 0.01^(2/4), 0.01^(3/4), 0.01
    assert exponential_schedule(0.01, 4) == pytest.approx([0.01**0.25, 0.1, 0.01**0.75, 0.01])
    assert exponential_schedule(0.2, 1) == [0.2]
    # from a start density d0, the schedule ends at κ and is geometric
    steps = exponential_schedule(0.1, 2, start=0.4)
    assert steps == pytest.approx([0.2, 0.1])


@pytest.mark.parametrize("density,iterations", [(0.0, 3), (1.5, 3), (0.5, 0)])
def test_schedule_rejects_bad_input(density, iterations):
    with pytest.raises(ValueError):
        exponential_schedule(density, iterations)


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 4))


def data():
    g = torch.Generator().manual_seed(1)
    return lambda: [(torch.randn(8, 1, 4, 4, generator=g), torch.randint(0, 4, (8,), generator=g))]


def test_iterative_pruning_is_nested_and_exact():
    model = mlp()
    total = 16 * 12 + 12 * 4
    masks, history = prune(model, scores.drive, data(), density=0.05, iterations=6, show_progress=False)
    assert len(history.steps) == 6
    previous = None
    for step, target in zip(history.steps, exponential_schedule(0.05, 6)):
        assert step.kept == round(target * total)
        assert step.target_density == pytest.approx(target)
        assert set(step.layer_density) == {"1.weight", "3.weight"}
    assert masks.kept() == round(0.05 * total)
    # pruned weights are zero in the model
    for name, module in (("1.weight", model[1]), ("3.weight", model[3])):
        assert torch.all(module.weight[~masks[name]] == 0)


def test_nestedness_across_iterations_with_a_score_that_prefers_pruned_weights():
    """A score that ranks pruned (zero) weights highest cannot bring them back."""
    def inverse_magnitude(model, batches, masks):
        return {n: 1.0 / (m.float() * 0 + 1e-3 + p.detach().abs()) for (n, p), m in
                zip(((n, dict(model.named_parameters())[n]) for n in masks), masks.values())}

    model = mlp()
    seen = []

    def recording(model, batches, masks):
        seen.append(masks)
        return inverse_magnitude(model, batches, masks)

    masks, _ = prune(model, recording, None, density=0.1, iterations=5, show_progress=False)
    seen.append(masks)
    for earlier, later in zip(seen, seen[1:]):
        for name in earlier:
            assert not torch.any(later[name] & ~earlier[name])


def test_collapse_is_reported_and_warned():
    model = mlp()

    def prefer_first_layer(model, batches, masks):
        return {n: torch.full_like(m, 1.0 if n == "1.weight" else 0.0, dtype=torch.float32) for n, m in masks.items()}

    with pytest.warns(UserWarning, match="layer collapse: 3.weight"):
        masks, history = prune(model, prefer_first_layer, None, density=0.5, iterations=1, show_progress=False)
    assert masks.collapsed() == ["3.weight"]
    assert history.steps[-1].collapsed == ["3.weight"]


def test_history_times_are_recorded():
    _, history = prune(mlp(), scores.drive, data(), density=0.5, iterations=3, show_progress=False)
    assert all(step.seconds > 0 for step in history.steps)
    assert math.isclose(history.seconds, sum(s.seconds for s in history.steps))


def reference_step(scores, masks, k):
    """keep_top's rule written independently: stable argsort over the survivors."""
    import numpy as np

    names = list(masks)
    flat_scores = np.concatenate([scores[n].detach().double().numpy().ravel() for n in names])
    flat_masks = np.concatenate([masks[n].numpy().ravel() for n in names])
    survivors = np.flatnonzero(flat_masks)
    keep = np.zeros(flat_masks.size, dtype=bool)
    keep[survivors[np.argsort(-flat_scores[survivors], kind="stable")[:k]]] = True
    return keep


@pytest.mark.parametrize("numpy_on_cpu", [True, False])
def test_every_drive_step_matches_an_independent_reference(numpy_on_cpu, monkeypatch):
    """prune() with DRIVE over many iterations: each step's masks are exactly the reference
    top-k of that step's scores among the previous survivors, and the model's pruned
    weights are zero when each scoring starts and at the end."""
    import numpy as np

    from drive_lab.masks import container as masks_module  # where NUMPY_ON_CPU is read

    monkeypatch.setattr(masks_module, "NUMPY_ON_CPU", numpy_on_cpu)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 32), nn.ReLU(), nn.Linear(32, 4))
    g = torch.Generator().manual_seed(2)
    batch = [(torch.randn(16, 1, 8, 8, generator=g), torch.randint(0, 4, (16,), generator=g))]
    seen = []

    def recording(model, batches, masks):
        for name, w in ((n, dict(model.named_parameters())[n]) for n in masks):
            assert torch.all(w[~masks[name]] == 0), "scoring must see m ⊙ θ"
        result = scores.drive(model, batches, masks)
        seen.append((masks, {n: t.clone() for n, t in result.items()}))
        return result

    final, history = prune(model, recording, lambda: batch, density=0.02, iterations=25, show_progress=False)
    total = 64 * 48 + 48 * 32 + 32 * 4
    after = [m for m, _ in seen[1:]] + [final]
    for (before, step_scores), result, step in zip(seen, after, history.steps):
        expected = reference_step(step_scores, before, step.kept)
        got = np.concatenate([result[n].numpy().ravel() for n in result])
        np.testing.assert_array_equal(got, expected)
        assert step.kept == round(step.target_density * total) == int(got.sum())
        assert step.layer_density == {n: int(result[n].sum()) / result[n].numel() for n in result}
    for name, module in (("1.weight", model[1]), ("3.weight", model[3]), ("5.weight", model[5])):
        assert torch.all(module.weight[~final[name]] == 0)


def test_a_scorer_that_changes_weights_in_place_still_ends_masked():
    """If scoring touches the weights (here: adds 1 in place), the pruner's shortcut (zero
    only the newly pruned weights) must not be taken: every pruned weight ends at zero."""
    def meddling(model, batches, masks):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
        return scores.magnitude(model, batches, masks)

    model = mlp()
    masks, _ = prune(model, meddling, None, density=0.1, iterations=6, show_progress=False)
    for name, module in (("1.weight", model[1]), ("3.weight", model[3])):
        assert torch.all(module.weight[~masks[name]] == 0)
        assert torch.all(module.weight[masks[name]] != 0)


def test_steady_state_pruning_equals_step_by_step_application():
    """Many iterations in one prune() call give the same masks and weights as doing each
    step by hand with keep_top and a full Masks.apply."""
    a, b = mlp(), mlp()
    data_a, data_b = data(), data()
    masks_a, _ = prune(a, scores.drive, data_a, density=0.05, iterations=8, show_progress=False)
    masks_b = Masks.ones(b)
    for target in exponential_schedule(0.05, 8):
        masks_b = keep_top(scores.drive(b, data_b(), masks_b), masks_b, target)
        masks_b.apply(b)
    for n in masks_a:
        assert torch.equal(masks_a[n], masks_b[n])
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
