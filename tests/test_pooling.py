"""drive_lab.models.pooling.MaxPool2d: the same values, gradients and second derivatives as nn.MaxPool2d."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from drive_lab.models import build
from drive_lab.models.pooling import MaxPool2d


def _post_relu(shape, seed=0):
    """Activations as the networks pool them: many exact zeros (ties) and a few repeated values."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=generator).relu()
    x[..., ::3, ::2] = x[..., ::3, ::2].round()  # integer ties inside some windows
    return x


def test_hand_computed_window_maxima_and_first_maximum_gets_the_gradient():
    # One 4x4 map per channel; windows are the four 2x2 quarters.
    x = torch.tensor([[[[1., 5., 0., 0.],
                        [2., 3., 0., 0.],
                        [7., 7., 4., 9.],
                        [7., 1., 9., 2.]],
                       [[0., 0., 0., 0.],
                        [0., 0., 0., 0.],
                        [-1., -2., 3., 3.],
                        [-3., -1., 3., 3.]]]], requires_grad=True)
    out = MaxPool2d(2)(x)
    assert out.tolist() == [[[[5., 0.], [7., 9.]], [[0., 0.], [-1., 3.]]]]
    out.backward(torch.tensor([[[[10., 20.], [30., 40.]], [[50., 60.], [70., 80.]]]]))
    # Ties go to the first maximum in row-major order within the window (as nn.MaxPool2d).
    expected = torch.zeros(1, 2, 4, 4)
    expected[0, 0, 0, 1] = 10   # 5
    expected[0, 0, 0, 2] = 20   # all zeros: the first
    expected[0, 0, 2, 0] = 30   # three 7s: the first
    expected[0, 0, 2, 3] = 40   # 9 at (2, 3) comes before 9 at (3, 2)
    expected[0, 1, 0, 0] = 50
    expected[0, 1, 0, 2] = 60
    expected[0, 1, 2, 0] = 70   # -1 at (2, 0) before -1 at (3, 1)
    expected[0, 1, 2, 2] = 80   # four 3s: the first
    assert torch.equal(x.grad, expected)


@pytest.mark.parametrize("shape", [(64, 32, 8, 8), (5, 7, 9, 6), (3, 64, 28, 28)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_values_and_gradients_bit_identical_to_torch(shape, dtype):
    x = _post_relu(shape).to(dtype)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours, theirs = MaxPool2d(2)(a), nn.MaxPool2d(2)(b)
    assert ours.is_contiguous() and ours.shape == theirs.shape
    assert torch.equal(ours, theirs)
    grad = torch.randn(theirs.shape, dtype=dtype, generator=torch.Generator().manual_seed(1))
    ours.backward(grad)
    theirs.backward(grad)
    assert torch.equal(a.grad, b.grad)
    with torch.no_grad():  # the inference route
        assert torch.equal(MaxPool2d(2)(x), nn.MaxPool2d(2)(x))


def test_second_derivatives_bit_identical_to_torch():
    """A Hessian-gradient product through conv + max-pool, as GraSP takes it."""
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(4, 3, 8, 8, generator=generator)
    weight0 = torch.randn(6, 3, 3, 3, generator=generator)

    def hessian_gradient(pool):
        weight = weight0.clone().requires_grad_()
        loss = pool(torch.conv2d(x, weight, padding=1).relu()).pow(2).sum()
        (g,) = torch.autograd.grad(loss, weight, create_graph=True)
        (hg,) = torch.autograd.grad((g * g.detach()).sum(), weight)
        return hg

    ours, theirs = hessian_gradient(MaxPool2d(2)), hessian_gradient(nn.MaxPool2d(2))
    assert ours.abs().sum() > 0  # a second derivative that is not identically zero
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("settings", [dict(kernel_size=3, stride=2), dict(kernel_size=2, padding=1),
                                      dict(kernel_size=2, ceil_mode=True), dict(kernel_size=2, dilation=2)])
def test_other_settings_are_torch_own(settings):
    x = _post_relu((2, 4, 9, 9)).requires_grad_()
    y = x.detach().clone().requires_grad_()
    ours, theirs = MaxPool2d(**settings)(x), nn.MaxPool2d(**settings)(y)
    assert torch.equal(ours, theirs)
    ours.sum().backward()
    theirs.sum().backward()
    assert torch.equal(x.grad, y.grad)


def test_return_indices_and_channels_last_inputs_keep_torch_behaviour():
    x = _post_relu((2, 4, 8, 8))
    out, positions = MaxPool2d(2, return_indices=True)(x)
    expected, expected_positions = F.max_pool2d(x, 2, return_indices=True)
    assert torch.equal(out, expected) and torch.equal(positions, expected_positions)
    channels_last = x.contiguous(memory_format=torch.channels_last)
    assert MaxPool2d(2)(channels_last).is_contiguous(memory_format=torch.channels_last)


def test_repr_and_type_are_nn_maxpool2d():
    pool = MaxPool2d(2)
    assert isinstance(pool, nn.MaxPool2d)
    assert repr(pool) == repr(nn.MaxPool2d(2))


def test_conv_training_step_bit_identical_with_torch_pooling():
    """The conv model (BatchNorm, two max-pools): one SGD step's gradients and loss are unchanged."""
    torch.manual_seed(0)
    model = build("conv", num_classes=10, in_channels=1, image_size=28)
    reference = copy.deepcopy(model)
    for name, module in list(reference.features.named_children()):
        if isinstance(module, MaxPool2d):
            reference.features[int(name)] = nn.MaxPool2d(module.kernel_size)
    assert sum(type(m) is nn.MaxPool2d for m in reference.modules()) == 2
    generator = torch.Generator().manual_seed(3)
    x, y = torch.randn(16, 1, 28, 28, generator=generator), torch.randint(0, 10, (16,), generator=generator)
    grads = []
    for net in (model, reference):
        loss = F.cross_entropy(net(x), y)
        grads.append([loss.detach()] + list(torch.autograd.grad(loss, list(net.parameters()))))
    assert all(torch.equal(a, b) for a, b in zip(*grads))
