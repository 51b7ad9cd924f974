"""The generic iterative pruner: schedule, nested exact steps, history, collapse."""
import math

import pytest
import torch
from torch import nn

from drive_lab import scores
from drive_lab.masks import Masks
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
