"""The image networks: mlp (LeNet-300-100), conv, alexnet, vgg16, resnet18 (see :mod:`drive_lab.models`)."""
from __future__ import annotations

import torch
from torch import nn

from .pooling import MaxPool2d

# VGG-16 conv widths; "M" is a 2x2 max-pool.
_VGG16_CHANNELS: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512,
)


class _InputTooSmall(Exception):
    """Raised while building when the image shrinks to nothing before the classifier."""


class MLP(nn.Module):
    """LeNet-300-100: Flatten -> Linear(in_channels*image_size**2, 300) -> ReLU
    -> Linear(300, 100) -> ReLU -> Linear(100, num_classes).

    Input ``(B, in_channels, image_size, image_size)``, output ``(B, num_classes)``.
    Only accepts exactly the ``image_size`` it was built for.
    """

    arch = "mlp"

    def __init__(self, num_classes: int = 10, in_channels: int = 1, image_size: int = 28) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(in_channels * image_size * image_size, 300)
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Linear(300, 100)
        self.relu2 = nn.ReLU()
        self.classifier = nn.Linear(100, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.fc1(self.flatten(x)))
        x = self.relu2(self.fc2(x))
        return self.classifier(x)


def _conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    """3x3 stride-1 pad-1 conv (no bias: the BatchNorm shift replaces it), BN, ReLU."""
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    ]


class SmallConvNet(nn.Module):
    """Small CNN for 8x8 (sklearn digits) to 64x64 inputs.

    ``features``: [Conv(in,32)-BN-ReLU, Conv(32,32)-BN-ReLU, MaxPool2,
    Conv(32,64)-BN-ReLU, Conv(64,64)-BN-ReLU, MaxPool2] (3x3 convs, pad 1, no bias);
    then AdaptiveAvgPool2d(2) -> Flatten -> ``fc1`` Linear(256, 128) -> ReLU ->
    ``classifier`` Linear(128, num_classes).
    Spatial sizes: 8 -> 4 -> 2 -> 2, 28 -> 14 -> 7 -> 2. Needs ``image_size >= 4``.
    Input ``(B, in_channels, H, W)``, output ``(B, num_classes)``.
    """

    arch = "conv"

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.features = nn.Sequential(
            *_conv_bn_relu(in_channels, 32),
            *_conv_bn_relu(32, 32),
            MaxPool2d(2),
            *_conv_bn_relu(32, 64),
            *_conv_bn_relu(64, 64),
            MaxPool2d(2),
        )
        # A fixed 2x2 map makes the classifier size independent of the input size.
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(64 * 2 * 2, 128)
        self.relu = nn.ReLU()
        self.classifier = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.flatten(self.pool(self.features(x)))
        return self.classifier(self.relu(self.fc1(x)))


def _spatial_size_after(layers: nn.Sequential, image_size: int) -> int:
    """Side length of the square map left after the convs and max-pools in ``layers``."""
    size = image_size
    for index, layer in enumerate(layers):
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
            # Conv2d stores (h, w) tuples, MaxPool2d plain ints; inputs are square.
            kernel, stride, padding = (
                value[0] if isinstance(value, tuple) else value
                for value in (layer.kernel_size, layer.stride, layer.padding)
            )
            size = (size + 2 * padding - kernel) // stride + 1
            if size < 1:
                raise _InputTooSmall(
                    f"its feature map shrinks to {size}x{size} at features.{index} ({type(layer).__name__})"
                )
    return size


class AlexNetCIFAR(nn.Module):
    """AlexNet, common CIFAR variant (with biases, no dropout).

    ``features``: Conv(in,64,k11,s4,p5)-ReLU-MaxPool2, Conv(64,192,k5,p2)-ReLU-MaxPool2,
    Conv(192,384,k3,p1)-ReLU, Conv(384,256,k3,p1)-ReLU, Conv(256,256,k3,p1)-ReLU-MaxPool2;
    then Flatten -> ``classifier`` Linear(256*s*s, num_classes), where ``s`` is the side
    left after ``features`` (1 for 32x32 input). Needs ``image_size >= 29``, and
    accepts only the ``image_size`` it was built for.
    Input ``(B, in_channels, image_size, image_size)``, output ``(B, num_classes)``.
    CIFAR-10 (3 channels, 32x32): 2,472,266 parameters.
    """

    arch = "alexnet"

    def __init__(self, num_classes: int = 10, in_channels: int = 3, image_size: int = 32) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=5),
            nn.ReLU(),
            MaxPool2d(2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(),
            MaxPool2d(2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            MaxPool2d(2),
        )
        side = _spatial_size_after(self.features, image_size)
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(256 * side * side, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.flatten(self.features(x)))


class VGG16BN(nn.Module):
    """VGG-16 with BatchNorm, CIFAR head.

    ``features``: 13 blocks of Conv3x3(pad 1, no bias)-BN-ReLU with widths
    64,64,M,128,128,M,256,256,256,M,512,512,512,M,512,512,512 (M = MaxPool2);
    then AdaptiveAvgPool2d(1) -> Flatten -> ``classifier`` Linear(512, num_classes).
    Conv biases are off because each conv feeds a BatchNorm whose shift makes a
    bias redundant. Four max-pools: needs ``image_size >= 16``.
    Input ``(B, in_channels, H, W)``, output ``(B, num_classes)``.
    CIFAR-10: 14,715,584 prunable (conv + linear) weights.
    """

    arch = "vgg16"

    def __init__(self, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        self.num_classes = num_classes
        layers: list[nn.Module] = []
        channels = in_channels
        for width in _VGG16_CHANNELS:
            if width == "M":
                layers.append(MaxPool2d(2))
            else:
                layers.extend(_conv_bn_relu(channels, width))
                channels = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.flatten(self.pool(self.features(x))))


class BasicBlock(nn.Module):
    """ResNet basic block: conv3x3(stride)-BN-ReLU-conv3x3-BN, plus shortcut, then ReLU.

    The shortcut is the identity, or a 1x1 conv (stride ``stride``, no bias) + BN when
    the stride or the channel count changes.
    Input ``(B, in_channels, H, W)``, output ``(B, out_channels, ceil(H/stride), ceil(W/stride))``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride != 1 or in_channels != out_channels:
            self.shortcut: nn.Module = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        else:
            self.shortcut = nn.Identity()
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class ResNet18CIFAR(nn.Module):
    """ResNet-18, CIFAR variant.

    Stem ``conv1`` 3x3 stride 1 (no bias) + ``bn1`` + ReLU, no max-pool; ``layer1``..``layer4``
    of 2 :class:`BasicBlock` each, widths 64/128/256/512, first-block strides 1/2/2/2;
    then AdaptiveAvgPool2d(1) -> Flatten -> ``classifier`` Linear(512, num_classes).
    Works for any ``image_size >= 1``.
    Input ``(B, in_channels, H, W)``, output ``(B, num_classes)``.
    CIFAR-10: 11,173,962 parameters.
    """

    arch = "resnet18"

    def __init__(self, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.layer1 = self._stage(64, 64, stride=1)
        self.layer2 = self._stage(64, 128, stride=2)
        self.layer3 = self._stage(128, 256, stride=2)
        self.layer4 = self._stage(256, 512, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(512, num_classes)

    @staticmethod
    def _stage(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
        return nn.Sequential(
            BasicBlock(in_channels, out_channels, stride), BasicBlock(out_channels, out_channels, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.classifier(self.flatten(self.pool(x)))
