"""Tests for drive_lab.models: parameter counts, output shapes, input checks, validation."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from drive_lab.models import MODELS, TEXT_MODELS, build, check_input, count_parameters, count_prunable

IMAGE_MODELS = [name for name in MODELS if name not in TEXT_MODELS]


def forward_shape(model: nn.Module, in_channels: int, image_size: int) -> tuple[int, ...]:
    model.eval()
    with torch.no_grad():
        return tuple(model(torch.randn(2, in_channels, image_size, image_size)).shape)


# ------------------------------------------------------------------ parameter counts


def test_alexnet_cifar10_total_parameters():
    assert count_parameters(build("alexnet", 10, in_channels=3, image_size=32)) == 2_472_266


def test_vgg16_cifar10_prunable_weights():
    model = build("vgg16", 10, in_channels=3, image_size=32)
    assert count_prunable(model) == 14_715_584
    # Prunable = conv + linear weights only, so BN and biases make up the rest.
    assert count_parameters(model) > count_prunable(model)


def test_resnet18_cifar10_total_parameters():
    assert count_parameters(build("resnet18", 10, in_channels=3, image_size=32)) == 11_173_962


def test_mlp_fashion_mnist_counts():
    fc1, fc2, fc3 = 784 * 300, 300 * 100, 100 * 10
    biases = 300 + 100 + 10
    assert fc1 + fc2 + fc3 + biases == 266_610
    model = build("mlp", 10, in_channels=1, image_size=28)
    assert count_parameters(model) == 266_610
    assert count_prunable(model) == fc1 + fc2 + fc3


def test_conv_fashion_mnist_counts():
    conv_weights = 1 * 32 * 9 + 32 * 32 * 9 + 32 * 64 * 9 + 64 * 64 * 9  # no conv biases
    bn_affine = 2 * (32 + 32 + 64 + 64)  # weight + bias per channel
    fc1 = 256 * 128 + 128  # 64 channels x 2 x 2 after the adaptive pool
    classifier = 128 * 10 + 10
    model = build("conv", 10, in_channels=1, image_size=28)
    assert count_parameters(model) == conv_weights + bn_affine + fc1 + classifier == 99_370
    assert count_prunable(model) == conv_weights + 256 * 128 + 128 * 10


def test_count_prunable_on_a_custom_module():
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(5, 3))
    assert count_prunable(model) == 2 * 4 * 9 + 5 * 3
    assert count_parameters(model) == 2 * 4 * 9 + 4 + 8 + 5 * 3 + 3


# ------------------------------------------------------------------ shapes, dtype, names


@pytest.mark.parametrize(
    "name, in_channels, image_size",
    [
        ("mlp", 1, 8),
        ("mlp", 1, 28),
        ("conv", 1, 8),
        ("conv", 1, 28),
        ("conv", 3, 32),
        ("conv", 3, 64),
        ("alexnet", 3, 32),
        ("vgg16", 3, 32),
        ("resnet18", 3, 32),
        ("resnet18", 3, 64),
        ("transformer", 1, 8),
        ("transformer", 1, 28),
        ("transformer", 3, 32),
    ],
)
def test_output_shape(name, in_channels, image_size):
    model = build(name, 10, in_channels=in_channels, image_size=image_size)
    assert forward_shape(model, in_channels, image_size) == (2, 10)
    check_input(model, in_channels, image_size)
    assert all(p.dtype == torch.float32 for p in model.parameters())


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_hundred_classes(name):
    model = build(name, num_classes=100, in_channels=3, image_size=32)
    assert forward_shape(model, 3, 32) == (2, 100)
    check_input(model, 3, 32, name)


def test_readable_parameter_names():
    names = {n for n, _ in build("alexnet", in_channels=3, image_size=32).named_parameters()}
    assert {"features.0.weight", "features.0.bias", "classifier.weight"} <= names
    names = {n for n, _ in build("resnet18", in_channels=3, image_size=32).named_parameters()}
    assert {"conv1.weight", "layer1.0.conv1.weight", "layer2.0.shortcut.0.weight", "classifier.weight"} <= names
    names = {n for n, _ in build("mlp").named_parameters()}
    assert names == {f"{layer}.{kind}" for layer in ("fc1", "fc2", "classifier") for kind in ("weight", "bias")}


def test_initialisation():
    model = build("conv", 10, in_channels=1, image_size=8)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            assert torch.all(module.weight == 1) and torch.all(module.bias == 0)
    alexnet = build("alexnet", in_channels=3, image_size=32)
    assert torch.all(alexnet.features[0].bias == 0)


# ------------------------------------------------------------------ check_input


def test_check_input_vgg16_on_digits_names_working_models():
    model = build("vgg16", 10, in_channels=1, image_size=8)
    with pytest.raises(ValueError) as caught:
        check_input(model, 1, 8, "vgg16")
    message = str(caught.value)
    assert "vgg16" in message and "(2, 1, 8, 8)" in message
    assert "mlp, conv, resnet18" in message


def test_check_input_names_model_without_explicit_name():
    with pytest.raises(ValueError, match="vgg16"):
        check_input(build("vgg16", 10, in_channels=1, image_size=8), 1, 8)


def test_alexnet_on_digits_rejected():
    # Built for 32x32 but fed 8x8: the forward pass fails.
    model = build("alexnet", 10, in_channels=1, image_size=32)
    with pytest.raises(ValueError) as caught:
        check_input(model, 1, 8, "alexnet")
    message = str(caught.value)
    assert "alexnet" in message and "mlp, conv, resnet18" in message
    # Built for 8x8 directly: build itself refuses, with the same guidance.
    with pytest.raises(ValueError, match="alexnet.*mlp, conv, resnet18"):
        build("alexnet", 10, in_channels=1, image_size=8)


def test_check_input_suggests_rebuild_for_wrong_size():
    model = build("mlp", 10, in_channels=1, image_size=28)
    with pytest.raises(ValueError, match="rebuild it"):
        check_input(model, 1, 8, "mlp")


def test_check_input_wrong_channels():
    with pytest.raises(ValueError, match="resnet18"):
        check_input(build("resnet18", 10, in_channels=3, image_size=32), 1, 32)


def test_check_input_restores_training_mode_and_leaves_rng_alone():
    model = build("conv", 10, in_channels=1, image_size=8)
    model.train()
    model.features[1].eval()  # a mixed state must come back exactly
    stats_before = model.features[1].running_mean.clone()
    rng_before = torch.get_rng_state()
    check_input(model, 1, 8)
    with pytest.raises(ValueError):
        check_input(model, 1, 2)  # too small: computing the working models must not draw randoms
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert model.training and not model.features[1].training and model.features[0].training
    assert torch.equal(model.features[1].running_mean, stats_before)


def test_check_input_rejects_wrong_output_shape():
    class NotLogits(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(ValueError, match="output"):
        check_input(NotLogits(), 1, 8, "identity")


# ------------------------------------------------------------------ argument validation


@pytest.mark.parametrize("name", ["lenet", "VGG16", "", None])
def test_unknown_name_lists_choices(name):
    with pytest.raises(ValueError) as caught:
        build(name)
    assert all(choice in str(caught.value) for choice in MODELS)


@pytest.mark.parametrize(
    "kwargs, problem",
    [
        ({"num_classes": 1}, "num_classes"),
        ({"num_classes": 2.0}, "num_classes"),
        ({"in_channels": 0}, "in_channels"),
        ({"image_size": 0}, "image_size"),
        ({"image_size": True}, "image_size"),
    ],
)
def test_bad_arguments(kwargs, problem):
    with pytest.raises(ValueError, match=rf"{problem} must be an int >= \d"):
        build("mlp", **kwargs)


# ------------------------------------------------------------------ reproducibility


@pytest.mark.parametrize("name", MODELS)
def test_seeded_builds_identical(name):
    sizes = {"vocab_size": 50, "sequence_length": 8} if name in TEXT_MODELS else {"in_channels": 3, "image_size": 32}
    torch.manual_seed(0)
    first = build(name, 10, **sizes).state_dict()
    torch.manual_seed(0)
    second = build(name, 10, **sizes).state_dict()
    assert first.keys() == second.keys()
    assert all(torch.equal(first[key], second[key]) for key in first)


# ------------------------------------------------------------------ the Transformer


def test_transformer_counts_by_hand():
    # 28x28 images, width 64, depth 2, 4 heads, 10 classes; prunable = every Linear weight
    embed, attention, mlp, head = 28 * 64, 4 * 64 * 64, 64 * 128 + 128 * 64, 64 * 10
    prunable = embed + 2 * (attention + mlp) + head
    biases = 64 + 2 * (4 * 64 + 128 + 64) + 10
    norms = 2 * 64 * (2 * 2 + 1)                   # two LayerNorms per block and a final one, weight and bias
    model = build("transformer")
    assert count_prunable(model) == prunable == 67_968
    assert count_parameters(model) == prunable + biases + norms + 28 * 64   # + the position embedding


def test_transformer_attention_equals_pytorch_multihead_attention():
    # the same projections copied into nn.MultiheadAttention: an independent implementation
    from drive_lab.models import SelfAttention
    torch.manual_seed(0)
    ours = SelfAttention(16, 4)
    reference = nn.MultiheadAttention(16, 4, batch_first=True)
    with torch.no_grad():
        reference.in_proj_weight.copy_(torch.cat([ours.query.weight, ours.key.weight, ours.value.weight]))
        reference.in_proj_bias.copy_(torch.cat([ours.query.bias, ours.key.bias, ours.value.bias]))
        reference.out_proj.weight.copy_(ours.output.weight)
        reference.out_proj.bias.copy_(ours.output.bias)
    x = torch.randn(3, 5, 16)
    expected, _ = reference(x, x, x, need_weights=False)
    torch.testing.assert_close(ours(x), expected, rtol=1e-5, atol=1e-6)


def test_transformer_reads_rows_as_tokens_and_every_projection_is_prunable():
    from drive_lab.masks import prunable_parameters
    model = build("transformer", image_size=8)
    names = set(prunable_parameters(model))
    for block in range(2):
        assert {f"blocks.{block}.attention.{p}.weight" for p in ("query", "key", "value", "output")} <= names
    assert "position" not in names and not any("norm" in n for n in names)
    # without position information a Transformer is blind to token order: the same rows in
    # another order give the same logits; with it, they do not
    x = torch.randn(2, 1, 8, 8)
    flipped = x.flip(2)
    assert not torch.allclose(model(x), model(flipped))
    with torch.no_grad():
        model.position.zero_()
    torch.testing.assert_close(model(x), model(flipped), rtol=1e-5, atol=1e-6)


def test_transformer_reference_init_is_the_vision_transformer_one():
    torch.manual_seed(0)
    model = build("transformer")
    weights = torch.cat([m.weight.flatten() for m in model.modules() if isinstance(m, nn.Linear)])
    assert weights.abs().max() <= 0.04 and 0.015 < weights.std() < 0.02   # truncated at 2 std of 0.02
    assert all(torch.all(m.weight == 1) and torch.all(m.bias == 0) for m in model.modules() if isinstance(m, nn.LayerNorm))
    legacy = build("transformer", init="legacy")
    assert legacy.embed.weight.abs().max() > 0.04   # PyTorch's default: uniform(±1/sqrt(fan_in)) = ±0.189
