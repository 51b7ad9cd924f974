"""IMP: 0.8^L densities, nested masks, rewinding, and one trajectory for a sparsity grid."""
import pytest
import torch

import drive_lab
from drive_lab import imp, phases, pipeline
from drive_lab.config import RunConfig, imp_rounds
from drive_lab.store import ResultStore

FAST = dict(method="imp", epochs=1, subset=300, test_subset=100, device="cpu", batch_size=100)


def test_rounds_from_method_md():
    assert [imp_rounds(1 - s) for s in (0.9, 0.95, 0.98, 0.99)] == [11, 14, 18, 21]
    assert imp_rounds(0.8) == 1 and imp_rounds(0.64) == 2 and imp_rounds(0.5) == 4


def test_densities_follow_powers_of_point_eight():
    assert imp.imp_densities(0.1) == pytest.approx([0.8**r for r in range(1, 11)] + [0.1])
    assert imp.imp_densities(0.64) == pytest.approx([0.8, 0.64])


@pytest.fixture(scope="module")
def trajectory():
    """Record every mask and the weights at the start of every round of one IMP run."""
    drive_lab.set_progress(False)
    recorded = []
    real_train = imp.train

    def recording_train(model, data, epochs, optimisation, masks=None, **kwargs):
        if masks is not None:
            recorded.append((masks, {n: p.detach().clone() for n, p in model.named_parameters()}))
        return real_train(model, data, epochs, optimisation, masks=masks, **kwargs)

    # the rounds train through imp.train, the final training through phases.train
    imp.train = phases.train = recording_train
    try:
        config = RunConfig(sparsity=0.5, **FAST)
        result = drive_lab.run(config)
    finally:
        imp.train = phases.train = real_train
    return config, result, recorded


def test_imp_masks_are_nested_with_density_point_eight_per_round(trajectory):
    config, result, recorded = trajectory
    pruning_masks = [m for m, _ in recorded[:-1]]  # the last record is the final training
    total = pruning_masks[0].total()
    assert len(pruning_masks) == imp_rounds(0.5) == 4
    for r, masks in enumerate(pruning_masks):  # round r+1 trains with density 0.8^r
        assert masks.kept() == round(0.8**r * total)
    final_masks = recorded[-1][0]
    assert final_masks.kept() == round(0.5 * total)
    chain = pruning_masks + [final_masks]
    for earlier, later in zip(chain, chain[1:]):
        for name in earlier:
            assert not torch.any(later[name] & ~earlier[name])
    assert [s["kept"] for s in result.pruning_history][-1] == round(0.5 * total)
    assert result.config["iterations"] == 4


def test_survivors_rewound_to_initial_values(trajectory):
    config, result, recorded = trajectory
    _, _, fresh, _ = pipeline.prepare(config)
    initial = dict(fresh.named_parameters())
    for masks, weights in recorded:
        for name, mask in masks.items():
            assert torch.equal(weights[name][mask], initial[name][mask])
            assert torch.all(weights[name][~mask] == 0)


def test_pruning_time_counts_every_round(trajectory):
    _, result, _ = trajectory
    rounds = sum(step["seconds"] for step in result.pruning_history)
    assert result.seconds["rounds"] + result.seconds["scoring"] == pytest.approx(rounds)
    assert result.seconds["rounds"] > result.seconds["scoring"] > 0  # training dominates masking
    assert result.seconds["pruning"] == pytest.approx(result.seconds["warmup"] + rounds)


@pytest.fixture
def round_trainings(monkeypatch):
    """The calls of IMP's round training (imp.train), one entry per round trained."""
    drive_lab.set_progress(False)
    calls = []
    real_train = imp.train
    monkeypatch.setattr(imp, "train", lambda *a, **k: calls.append(1) or real_train(*a, **k))
    return calls


def test_grid_reuses_one_trajectory_and_matches_single_runs(round_trainings):
    base = RunConfig(sparsity=0.5, **FAST)
    calls = round_trainings
    grid = imp.run_imp_grid(base, [0.36, 0.5])  # 0.64 density = 2 rounds; 0.5 = 4 rounds
    assert len(calls) == 4  # the rounds of the sparsest target only; final trainings go through finish
    single = drive_lab.run(base.replace(sparsity=0.36))
    assert grid[0].kept_weights == single.kept_weights
    assert grid[0].layer_density == single.layer_density
    assert grid[0].final_test_accuracy == single.final_test_accuracy
    assert grid[1].config["iterations"] == 4 and grid[0].config["iterations"] == 2


def test_one_trajectory_serves_the_after_pruning_checks_as_single_runs_would(round_trainings):
    base = RunConfig(sparsity=0.36, **FAST)
    calls = round_trainings
    targets = [base.replace(sanity=c) for c in ("reinit", "none", "shuffle")]
    shared = imp.run_imp_targets(targets)
    assert len(calls) == 2  # the two rounds of 0.36 once, not once per check
    for target, result in zip(targets, shared):
        single = drive_lab.run(target)
        assert result.key == single.key
        assert result.layer_density == single.layer_density
        assert result.final_test_accuracy == single.final_test_accuracy
    assert shared[0].final_test_accuracy != shared[1].final_test_accuracy  # the checks did act
    with pytest.raises(ValueError, match="differ only in sparsity"):
        imp.run_imp_targets([base, base.replace(sanity="invert")])
    with pytest.raises(ValueError, match="differ only in sparsity"):
        imp.run_imp_targets([base, base.replace(seed=1)])


def test_shared_trajectories_compute_with_the_configs_thread_count(monkeypatch, tmp_path):
    """CPU results depend on the thread count, so a sweep's shared IMP trajectory must pin
    config.threads as a single run does, whatever the calling process has set."""
    drive_lab.set_progress(False)
    seen = []
    real_train = imp.train
    monkeypatch.setattr(imp, "train", lambda *a, **k: seen.append(torch.get_num_threads()) or real_train(*a, **k))
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        base = RunConfig(sparsity=0.36, threads=1, **FAST)
        frame = drive_lab.sweep(base, {"sparsity": [0.2, 0.36]}, results_dir=tmp_path)
        assert torch.get_num_threads() == 2  # restored afterwards
    finally:
        torch.set_num_threads(previous)
    assert seen and set(seen) == {1}
    assert len(frame) == 2
    stored = ResultStore(tmp_path).get(base)
    assert stored.environment["torch_threads"] == 1


def test_imp_rounds_follow_from_sparsity_whatever_iterations_says():
    config = RunConfig(method="imp", sparsity=0.9, iterations=5)
    assert config.resolved().iterations == 11
    assert config.key() == RunConfig(method="imp", sparsity=0.9).key()


def test_dense_method_is_not_pruned():
    drive_lab.set_progress(False)
    result = drive_lab.run(RunConfig(method="dense", epochs=1, subset=300, test_subset=100, device="cpu"))
    assert result.density == 1.0 and result.config["sparsity"] == 0.0 and result.pruning_history == []
    # every sparsity of a sweep maps to the same dense run
    assert RunConfig(method="dense", sparsity=0.9).key() == RunConfig(method="dense", sparsity=0.5).key()
