"""Fidelity to the reference implementations: choices that change which weights a mask keeps."""
import pytest
import torch

from drive_lab import scores
from drive_lab.masks import Masks, keep_top
from drive_lab.models import build


def _classifier_density(model_name: str, init: str, sparsity: float, seed: int = 0) -> float:
    torch.manual_seed(seed)
    model = build(model_name, num_classes=10, in_channels=3, image_size=32, init=init)
    masks = Masks.ones(model)
    kept = keep_top(scores.magnitude(model, None, masks), masks, 1 - sparsity)
    return kept.layer_density()["classifier.weight"]


@pytest.mark.parametrize("model_name,sparsity,expected", [
    ("vgg16", 0.98, 0.36), ("vgg16", 0.99, 0.28), ("resnet18", 0.98, 0.23), ("resnet18", 0.99, 0.14),
])
def test_reference_init_keeps_the_classifier_under_magnitude_pruning(model_name, sparsity, expected):
    """Magnitude at initialisation, CIFAR-10 shapes. With Kaiming fan-in on linear layers too
    (open_lth, Synaptic-Flow) the classifier keeps about the share the reference code keeps;
    with PyTorch's default linear init (0.1.0's) it is emptied."""
    assert _classifier_density(model_name, "reference", sparsity) == pytest.approx(expected, abs=0.04)
    assert _classifier_density(model_name, "legacy", sparsity) == 0.0


def test_reference_init_draws_kaiming_fan_in():
    torch.manual_seed(0)
    model = build("vgg16", num_classes=10, in_channels=3, image_size=32)
    conv = model.features[0].weight if hasattr(model, "features") else next(
        m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    fan_in = conv[0].numel()
    assert conv.std().item() == pytest.approx((2 / fan_in) ** 0.5, rel=0.1)
    classifier = model.classifier.weight
    assert classifier.std().item() == pytest.approx((2 / classifier.shape[1]) ** 0.5, rel=0.1)
    assert torch.count_nonzero(model.classifier.bias) == 0


# ----------------------------------------------------------------------------- BatchNorm mode while scoring
def _example_gradients(training: bool):
    from drive_lab.models import mode
    from drive_lab.scores.gradients import loss_gradients

    torch.manual_seed(0)
    model = build("conv", num_classes=10, in_channels=1, image_size=8)
    with torch.no_grad():  # non-trivial running statistics, as after some training
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    x, y = torch.randn(2, 1, 8, 8), torch.tensor([3, 7])
    weights = {name: p for name, p in model.named_parameters() if name.endswith("weight") and p.ndim > 1}
    with mode(model, training):
        pair = loss_gradients(model, [(x, y)], weights)
        first = loss_gradients(model, [(x[:1], y[:1])], weights)
        second = loss_gradients(model, [(x[1:], y[1:])], weights)
    return pair, first, second, model


def test_eval_mode_gradient_of_a_pair_is_the_mean_of_single_gradients():
    pair, first, second, model = _example_gradients(training=False)
    for name in pair:
        # equal up to float32 round-off, which scales with the gradient's size (up to ~3 here)
        scale = float(pair[name].abs().max())
        assert torch.allclose(pair[name], (first[name] + second[name]) / 2, atol=1e-6 * scale)
    assert model.training  # the mode is restored after the block


def test_train_mode_couples_the_examples_through_batch_statistics():
    pair, first, second, _ = _example_gradients(training=True)
    differences = [float((pair[n] - (first[n] + second[n]) / 2).abs().max()) for n in pair]
    assert max(differences) > 1e-3


def test_runs_score_in_the_methods_mode_and_record_it():
    import drive_lab
    from drive_lab.config import RunConfig
    from drive_lab.methods import register_method, unregister_method

    seen = []

    def spy(model, batches, masks):
        seen.append((model.training, sum(len(y) for _, y in batches)))
        return scores.magnitude(model, None, masks)

    register_method("mode_spy", score=spy, kind="one-shot", score_mode="eval", score_per_class=3)
    try:
        drive_lab.set_progress(False)
        base = dict(method="mode_spy", model="conv", dataset="digits", epochs=0, warmup_epochs=0,
                    subset=200, test_subset=50, device="cpu")
        result = drive_lab.run(RunConfig(**base))
        assert seen[-1] == (False, 30) and result.config["score_mode"] == "eval"
        assert result.config["score_per_class"] == 3
        drive_lab.run(RunConfig(**base, score_mode="train", score_per_class=0, batch_size=16))
        assert seen[-1] == (True, 16)
    finally:
        unregister_method("mode_spy")
    snip = RunConfig(method="snip").resolved()
    assert (snip.score_mode, snip.score_per_class) == ("eval", 10)
    assert RunConfig(method="grasp").resolved().score_mode == "train"
    assert RunConfig(method="drive").resolved().score_per_class == 0
    assert RunConfig(method="random", score_mode="eval").key() == RunConfig(method="random").key()  # n/a


def test_balanced_batch_draws_per_class_without_replacement():
    from drive_lab.data import ImageData

    labels = torch.tensor([0] * 5 + [1] * 7 + [2] * 2)
    images = torch.arange(len(labels), dtype=torch.float32).view(-1, 1, 1, 1)
    data = ImageData("toy", images, labels, images[:2], labels[:2], 3, augment=False, mean=(0.0,), std=(1.0,))
    x, y = data.balanced_batch(3, torch.Generator().manual_seed(0))
    assert torch.bincount(y, minlength=3).tolist() == [3, 3, 2]  # class 2 has only two examples
    picked = x.flatten().long()
    assert len(set(picked.tolist())) == len(picked) and torch.equal(labels[picked], y)
    again, _ = data.balanced_batch(3, torch.Generator().manual_seed(0))
    assert torch.equal(x, again)
    other, _ = data.balanced_batch(3, torch.Generator().manual_seed(1))
    assert not torch.equal(x, other)
