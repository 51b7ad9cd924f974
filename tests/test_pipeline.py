"""run(RunConfig) end to end on the bundled digits: determinism, invariants, bad input."""
import json
import os

import pytest
import torch

import drive_lab
from drive_lab import phases, pipeline
from drive_lab.config import RunConfig

FAST = dict(epochs=2, warmup_epochs=1, iterations=5, subset=400, test_subset=200, device="cpu")


@pytest.fixture(scope="module")
def result():
    drive_lab.set_progress(False)
    return drive_lab.run(RunConfig(sparsity=0.8, **FAST))


def test_result_fields(result):
    assert result.config["method"] == "drive" and result.config["iterations"] == 5
    assert result.kept_weights == round(0.2 * result.prunable_weights)
    assert result.density == pytest.approx(0.2, abs=1 / result.prunable_weights)
    assert set(result.layer_density) == {"features.0.weight", "features.3.weight", "features.7.weight",
                                         "features.10.weight", "fc1.weight", "classifier.weight"}
    assert 0.0 <= result.final_test_accuracy <= result.best_test_accuracy <= 1.0
    assert result.final_test_accuracy > 0.3  # well above chance (0.1) after 1+2 epochs
    assert set(result.seconds) == {"warmup", "scoring", "pruning", "training", "total"}
    assert result.seconds["pruning"] == pytest.approx(result.seconds["warmup"] + result.seconds["scoring"])
    assert len(result.pruning_history) == 5 and len(result.training_history) == 2
    assert result.environment["device"] == "cpu" and "torch" in result.environment
    json.loads(json.dumps(result.to_dict()))  # JSON-serialisable


def test_same_seed_same_masks_and_accuracy():
    drive_lab.set_progress(False)
    config = RunConfig(sparsity=0.9, **FAST)
    runs = []
    for _ in range(2):
        runs.append(drive_lab.run(config))
    a, b = runs
    assert a.layer_density == b.layer_density
    assert a.final_test_accuracy == b.final_test_accuracy
    assert a.training_history == b.training_history or [e["train_loss"] for e in a.training_history] == [e["train_loss"] for e in b.training_history]
    c = drive_lab.run(config.replace(seed=1))
    assert c.layer_density != a.layer_density


def test_pruned_weights_stay_zero_through_training(monkeypatch):
    """Intercept the model after the final training: every pruned weight is exactly 0.0."""
    drive_lab.set_progress(False)
    captured = {}
    original = pipeline.finish

    def spy(config, device, model, data, masks, *args, **kwargs):
        out = original(config, device, model, data, masks, *args, **kwargs)
        captured["model"], captured["masks"] = model, masks
        return out

    monkeypatch.setattr(pipeline, "finish", spy)
    drive_lab.run(RunConfig(sparsity=0.95, weight_decay=1e-2, momentum=0.9, **FAST))
    weights = dict(captured["model"].named_parameters())
    for name, mask in captured["masks"].items():
        assert torch.all(weights[name][~mask] == 0.0)
        assert torch.any(weights[name][mask] != 0.0)


def test_rewind_to_init_keeps_initial_values_of_survivors(monkeypatch):
    drive_lab.set_progress(False)
    captured = {}
    monkeypatch.setattr(phases, "train", _no_final_training(captured, phases.train))
    config = RunConfig(rewind="init", sparsity=0.5, **FAST)
    drive_lab.run(config)
    _, _, fresh, _ = pipeline.prepare(config)
    weights = dict(captured["model"].named_parameters())
    for name, mask in captured["masks"].items():
        initial = dict(fresh.named_parameters())[name]
        assert torch.equal(weights[name][mask], initial[mask])


def _no_final_training(captured, real_train):
    def fake(model, data, epochs, optimisation, masks=None, **kwargs):
        if masks is not None:  # the final training: record what it would start from
            captured["model"], captured["masks"] = model, masks
            epochs = 0
        return real_train(model, data, epochs, optimisation, masks=masks, **kwargs)
    return fake


BAD = [
    ({"sparsity": 0.0}, "sparsity"),
    ({"sparsity": 1.0}, "sparsity"),
    ({"sparsity": -0.5}, "sparsity"),
    ({"method": "obd"}, "valid choices: drive"),
    ({"model": "vgg19"}, "valid choices: mlp, conv, alexnet, vgg16, resnet18"),
    ({"dataset": "mnist"}, "valid choices: digits, fashion_mnist, cifar10, cifar100, tiny_imagenet"),
    ({"epochs": -1}, "epochs"),
    ({"warmup_epochs": -2}, "warmup_epochs"),
    ({"iterations": 0}, "iterations must be >= 1"),
    ({"score_batches": 0}, "score_batches"),
    ({"lr_schedule": "linear"}, "valid choices: constant, step, cosine, onecycle"),
    ({"magnitude": 0.0, "connection": 0.0, "convergence": 0.0}, "switched off"),
    ({"combine": "max"}, "valid choices: sum, product"),
    ({"lr": 0.0}, "lr"),
    ({"device": "tpu"}, "valid choices"),
]


@pytest.mark.parametrize("changes,match", BAD)
def test_bad_config_is_rejected_up_front(changes, match):
    with pytest.raises(ValueError, match=match):
        RunConfig(**changes)


def test_model_input_mismatch_is_rejected_before_training(monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(phases, "train", must_not_run)
    monkeypatch.setattr(phases.data_module, "load", must_not_run)
    with pytest.raises(ValueError, match="vgg16.*(mlp|conv|resnet18)"):
        drive_lab.run(RunConfig(model="vgg16", dataset="digits"))


def test_run_accepts_overrides():
    drive_lab.set_progress(False)
    result = drive_lab.run(sparsity=0.5, **{**FAST, "epochs": 0, "warmup_epochs": 0, "iterations": 1})
    assert result.config["sparsity"] == 0.5 and result.training_history == []
    assert result.kept_weights == round(0.5 * result.prunable_weights)


def test_config_key_is_content_addressed():
    a = RunConfig(sparsity=0.9)
    assert a.key() == RunConfig(sparsity=0.9).key()
    assert a.key() == RunConfig(sparsity=0.9, iterations=100, warmup_epochs=3).key()  # defaults resolved
    assert a.key() == RunConfig(sparsity=0.9, device="cpu").key()  # device does not change the result's identity
    assert a.key() != RunConfig(sparsity=0.95).key()
    assert RunConfig.from_dict(a.to_dict()) == a
    with pytest.raises(ValueError, match="unknown RunConfig field"):
        RunConfig.from_dict({"sparsity": 0.9, "sparsiti": 0.8})


def test_a_checked_run_needs_neither_dynamo_nor_torchvision():
    """Start-up: the pre-flight checks, a run and its optimiser use plain eager torch.
    (A meta-device forward pass or torch.optim.SGD would import torch._dynamo: seconds.)"""
    import subprocess
    import sys

    code = ("import sys, torch\n"
            "from drive_lab.config import RunConfig\n"
            "from drive_lab.phases import check_run\n"
            "from drive_lab import pipeline\n"
            "config = RunConfig(model='conv', dataset='digits', epochs=1, warmup_epochs=1, iterations=2, subset=128)\n"
            "state = torch.random.get_rng_state()\n"
            "check_run(config)\n"
            "assert torch.equal(state, torch.random.get_rng_state()), 'check_run moved the global RNG'\n"
            "pipeline.run(config)\n"
            "loaded = [m for m in ('torch._dynamo', 'torchvision') if m in sys.modules]\n"
            "assert not loaded, loaded\n")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               env={**os.environ, "DRIVE_LAB_PROGRESS": "0"})
    assert completed.returncode == 0, completed.stderr[-2000:]
