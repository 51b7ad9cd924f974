"""The five networks used in the experiments, plus input checks and parameter counts.

Every model returns logits of shape ``(B, num_classes)``; all parameters are float32.

==========  ================================================================
name        architecture
==========  ================================================================
mlp         LeNet-300-100 (fully connected)
conv        small 4-conv CNN with BatchNorm, for 8x8 digits up to 64x64 images
alexnet     the common CIFAR variant of AlexNet (no dropout, one linear layer)
vgg16       VGG-16 with BatchNorm, CIFAR head (global pool + one linear layer)
resnet18    CIFAR ResNet-18 (3x3 stem, no max-pool)
transformer a small pre-norm Transformer encoder reading an image as a sequence of its rows
text_       the same encoder on token ids (an ``nn.Embedding`` in front), for text data
transformer
==========  ================================================================

The image models take ``(B, in_channels, image_size, image_size)`` float images; the text
model takes ``(B, sequence_length)`` int64 token ids (0 = padding) and is built with
``vocab_size`` and ``sequence_length`` instead.

Choices that hold for every model:

* The last layer is always an ``nn.Linear`` called ``classifier``, so
  ``classifier.weight`` names the output layer in every model.
* Attribute names are chosen so ``named_parameters()`` reads well in per-layer
  plots: ``features.0.weight``, ``layer1.0.conv1.weight``, ``classifier.weight``.
* ``nn.ReLU`` is never in-place: pruning scores often hook activations, and
  in-place ReLUs break backward hooks.
* Initialisation (``init``, :data:`INITS`): ``"reference"`` (default) draws every
  ``nn.Conv2d`` and ``nn.Linear`` weight from ``kaiming_normal_`` (fan-in, ReLU gain),
  as open_lth's and Synaptic-Flow's CIFAR models do; ``"legacy"`` is drive_lab 0.1.0's:
  conv weights Kaiming fan-out, ``nn.Linear`` left at PyTorch's default (uniform, much
  smaller than the convs' weights, so magnitude pruning empties the classifier first).
  Either way biases are 0 and every BatchNorm has weight 1 and bias 0. The Transformer
  follows the Vision Transformer reference instead: ``"reference"`` draws every
  ``nn.Linear`` weight and the position embedding from a normal distribution with standard
  deviation 0.02 truncated at ±2 std, LayerNorms 1 and 0; ``"legacy"`` keeps PyTorch's
  defaults. Builds draw from
  torch's global RNG, so ``torch.manual_seed`` before :func:`build` makes them reproducible.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

__all__ = ["MODELS", "TEXT_MODELS", "build", "check_input", "count_parameters", "count_prunable"]

MODELS: tuple[str, ...] = ("mlp", "conv", "alexnet", "vgg16", "resnet18", "transformer", "text_transformer")
#: The models that read token ids (a text data set) instead of images.
TEXT_MODELS: tuple[str, ...] = ("text_transformer",)

# VGG-16 conv widths; "M" is a 2x2 max-pool.
_VGG16_CHANNELS: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512,
)


class _InputTooSmall(Exception):
    """Raised while building when the image shrinks to nothing before the classifier."""


# --------------------------------------------------------------------------- models


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
            nn.MaxPool2d(2),
            *_conv_bn_relu(32, 64),
            *_conv_bn_relu(64, 64),
            nn.MaxPool2d(2),
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
            nn.MaxPool2d(2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
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
                layers.append(nn.MaxPool2d(2))
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


class SelfAttention(nn.Module):
    """Multi-head self-attention with its four projections as ``nn.Linear`` layers.

    ``query``, ``key``, ``value`` and ``output`` are ``Linear(width, width)``: unlike
    ``nn.MultiheadAttention``, whose input projection is a raw ``in_proj_weight`` parameter,
    every attention weight here is a prunable ``Linear.weight``. Input and output
    ``(B, tokens, width)``. The attention is written out (softmax(q kᵀ / √d) v), not fused,
    so second derivatives (GraSP's Hessian-gradient product) work on every device.
    """

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not a multiple of heads {heads}")
        self.heads = heads
        self.query, self.key, self.value, self.output = (nn.Linear(width, width) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, w = x.shape
        split = lambda y: y.view(b, t, self.heads, w // self.heads).transpose(1, 2)  # (B, heads, t, d)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        weights = torch.softmax(q @ k.transpose(-2, -1) / (w // self.heads) ** 0.5, dim=-1)
        return self.output((weights @ v).transpose(1, 2).reshape(b, t, w))


class EncoderBlock(nn.Module):
    """Pre-norm Transformer block: x + attention(LN(x)), then x + MLP(LN(x)) (MLP: width → 2·width → width, GELU)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attention = SelfAttention(width, heads)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class RowTransformer(nn.Module):
    """A small Transformer encoder that reads an image as the sequence of its rows.

    ``(B, C, H, W)`` → ``H`` tokens of ``C·W`` pixels → ``embed`` (Linear to ``width``) + a
    learned position embedding → ``depth`` pre-norm :class:`EncoderBlock` s → LayerNorm →
    mean over tokens → ``classifier``. Defaults (width 64, depth 2, 4 heads) give about 70k
    parameters on 28x28 images. Prunable: every ``Linear.weight`` (embedding, the four
    attention projections, the MLPs, the classifier); LayerNorms, biases and the position
    embedding are not (see docs/method.md).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, image_size: int = 28,
                 width: int = 64, depth: int = 2, heads: int = 4) -> None:
        super().__init__()
        self.embed = nn.Linear(in_channels * image_size, width)
        self.position = nn.Parameter(torch.zeros(1, image_size, width))
        self.blocks = nn.Sequential(*(EncoderBlock(width, heads) for _ in range(depth)))
        self.norm = nn.LayerNorm(width)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        tokens = x.permute(0, 2, 1, 3).reshape(b, h, c * w)  # one token per row, its channels side by side
        y = self.blocks(self.embed(tokens) + self.position)
        return self.classifier(self.norm(y).mean(dim=1))

    def reset_reference(self) -> None:
        """The Vision Transformer reference init (module docstring)."""
        _reset_transformer(self)


class TextTransformer(nn.Module):
    """The encoder of :class:`RowTransformer` on token ids: a text classifier.

    ``(B, sequence_length)`` int64 ids → ``embed`` (``nn.Embedding``, id 0 = padding, kept at
    zero) + a learned position embedding → ``depth`` :class:`EncoderBlock` s → LayerNorm →
    mean over the non-padding tokens → ``classifier``. Prunable: every ``Linear.weight``
    (attention projections, MLPs, classifier); the token embedding is a lookup table, not a
    connection between units, and stays dense like LayerNorms, biases and the position
    embedding (see docs/method.md). Padding tokens are not masked inside attention (a
    simplification: they carry only the position embedding).
    """

    def __init__(self, num_classes: int, vocab_size: int, sequence_length: int,
                 width: int = 64, depth: int = 2, heads: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, width, padding_idx=0)
        self.position = nn.Parameter(torch.zeros(1, sequence_length, width))
        self.blocks = nn.Sequential(*(EncoderBlock(width, heads) for _ in range(depth)))
        self.norm = nn.LayerNorm(width)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise ValueError(f"expected int64 token ids (B, sequence_length); got {ids.dtype} {tuple(ids.shape)}")
        y = self.norm(self.blocks(self.embed(ids) + self.position))
        words = (ids != 0).unsqueeze(-1).to(y.dtype)  # (B, L, 1): 1 for a word, 0 for padding
        return self.classifier((y * words).sum(dim=1) / words.sum(dim=1).clamp(min=1))

    def reset_reference(self) -> None:
        """The Vision Transformer reference init; the token embedding like the Linear weights."""
        _reset_transformer(self)
        nn.init.trunc_normal_(self.embed.weight, std=0.02, a=-0.04, b=0.04)
        with torch.no_grad():
            self.embed.weight[0].zero_()  # the padding id


def _reset_transformer(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02, a=-0.04, b=0.04)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    nn.init.trunc_normal_(model.position, std=0.02, a=-0.04, b=0.04)


# --------------------------------------------------------------------------- building


INITS = ("reference", "legacy")


def _init_weights(model: nn.Module, init: str = "reference") -> None:
    """Initialise ``model`` in place by scheme ``init`` (see the module docstring)."""
    if any(p.is_meta for p in model.parameters()):
        # A shape-only build (the input checks): there are no values to draw, and drawing on
        # the meta device imports torch._dynamo, seconds of start-up.
        return
    if isinstance(model, (RowTransformer, TextTransformer)):
        if init == "reference":
            model.reset_reference()
        return
    for module in model.modules():
        if isinstance(module, nn.Conv2d) or (init == "reference" and isinstance(module, nn.Linear)):
            mode = "fan_in" if init == "reference" else "fan_out"
            nn.init.kaiming_normal_(module.weight, mode=mode, nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def reinitialise(model: nn.Module, init: str = "reference", seed: int = 0) -> nn.Module:
    """Draw fresh weights for ``model`` in place, by scheme ``init``, from ``seed``.

    Every module's own ``reset_parameters`` first (PyTorch's defaults, BatchNorm running
    statistics included), then ``init`` as :func:`build` applies it: the same distribution
    a newly built model has, new values. The global random state is left as it was.
    """
    if init not in INITS:
        raise ValueError(f"unknown init={init!r}; valid choices: {', '.join(INITS)}")
    devices = [p.device for p in model.parameters() if p.device.type == "cuda"]
    with torch.random.fork_rng(devices=sorted({d.index or 0 for d in devices}) if devices else []):
        torch.manual_seed(seed)
        with torch.no_grad():
            for module in model.modules():
                if hasattr(module, "reset_parameters"):
                    module.reset_parameters()
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.reset_running_stats()
            _init_weights(model, init)
    return model


def _construct(name: str, num_classes: int, in_channels: int, image_size: int, init: str = "reference",
               vocab_size: int | None = None, sequence_length: int | None = None) -> nn.Module:
    """Instantiate and initialise model ``name`` (arguments already validated).

    Raises :class:`_InputTooSmall` where the size is fixed at build time and too small.
    """
    if name == "mlp":
        model: nn.Module = MLP(num_classes, in_channels, image_size)
    elif name == "conv":
        model = SmallConvNet(num_classes, in_channels)
    elif name == "alexnet":
        model = AlexNetCIFAR(num_classes, in_channels, image_size)
    elif name == "vgg16":
        model = VGG16BN(num_classes, in_channels)
    elif name == "resnet18":
        model = ResNet18CIFAR(num_classes, in_channels)
    elif name == "transformer":
        model = RowTransformer(num_classes, in_channels, image_size)
    else:
        model = TextTransformer(num_classes, vocab_size, sequence_length)
    _init_weights(model, init)
    return model


@contextlib.contextmanager
def mode(model: nn.Module, training: bool) -> Iterator[nn.Module]:
    """Within the block ``model`` is in training (``True``) or eval mode; afterwards every
    submodule's own flag is restored (a model may mix modes, e.g. frozen BatchNorms)."""
    flags = [(module, module.training) for module in model.modules()]
    model.train(training)
    try:
        yield model
    finally:
        for module, flag in flags:
            module.training = flag


def _check_int(label: str, value: object, minimum: int) -> None:
    # bool is an int subclass, but True/False as a size is always a mistake.
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{label} must be an int >= {minimum}, got {value!r}")


def _check_name(name: object) -> None:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid choices: {', '.join(MODELS)}")


def build(name: str, num_classes: int = 10, in_channels: int = 1, image_size: int = 28,
          init: str = "reference", *, vocab_size: int | None = None, sequence_length: int | None = None) -> nn.Module:
    """Build model ``name`` (one of :data:`MODELS`) with fresh float32 weights.

    Args:
        name: one of :data:`MODELS`; those in :data:`TEXT_MODELS` read token ids.
        num_classes: number of output logits, ``>= 2`` (default 10).
        in_channels: image channels, ``>= 1`` (default 1, e.g. Fashion-MNIST).
        image_size: side of the square input images, ``>= 1`` (default 28).
            ``mlp`` and ``alexnet`` are sized for exactly this; the others adapt.
        init: initialisation scheme, one of :data:`INITS` (default ``"reference"``).
        vocab_size, sequence_length: a text model's input (ids ``0 .. vocab_size - 1``,
            ``sequence_length`` tokens); required for :data:`TEXT_MODELS`, refused for the
            image models (``in_channels`` and ``image_size`` are ignored for text).
            :meth:`drive_lab.data.DatasetInfo.model_inputs` gives the right arguments.

    Returns:
        A module in training mode mapping ``(B, in_channels, image_size, image_size)``
        to logits ``(B, num_classes)``. Weights come from torch's global RNG, so seed
        it first for a reproducible build.

    Raises:
        ValueError: unknown ``name``, a bad argument, or (``alexnet``) an ``image_size``
            too small for the network. Use :func:`check_input` to test that a built
            model really accepts a given input.
    """
    _check_name(name)
    _check_int("num_classes", num_classes, 2)
    _check_modality(name, vocab_size is not None or sequence_length is not None)
    if name in TEXT_MODELS:
        _check_int("vocab_size", vocab_size, 2)
        _check_int("sequence_length", sequence_length, 1)
    else:
        _check_int("in_channels", in_channels, 1)
        _check_int("image_size", image_size, 1)
    if init not in INITS:
        raise ValueError(f"unknown init={init!r}; valid choices: {', '.join(INITS)}")
    try:
        model = _construct(name, num_classes, in_channels, image_size, init, vocab_size, sequence_length)
    except _InputTooSmall as err:
        raise ValueError(_input_error(name, in_channels, image_size, str(err), built_for_size=False)) from None
    # Guard against a changed torch default dtype: the library assumes float32.
    return model.float()


def _models_accepting(in_channels: int, image_size: int) -> list[str]:
    """The names in MODELS that, built for this input size, run a forward pass on it.

    Built and run on the meta device: shapes are checked as usual, but no memory is
    allocated, nothing is computed, and torch's RNG is left untouched.
    """
    accepting = []
    for name in (n for n in MODELS if n not in TEXT_MODELS):
        try:
            with torch.device("meta"):
                model = _construct(name, 10, in_channels, image_size).eval()
                logits = model(torch.empty(2, in_channels, image_size, image_size))
        except (_InputTooSmall, RuntimeError, ValueError):
            continue
        if tuple(logits.shape) == (2, 10):
            accepting.append(name)
    return accepting


def _input_error(name: str, in_channels: int, image_size: int, reason: str, built_for_size: bool) -> str:
    shape = (2, in_channels, image_size, image_size)
    accepting = _models_accepting(in_channels, image_size)
    valid = ", ".join(accepting) if accepting else "none"
    message = (
        f"model {name!r} cannot take input of shape {shape} ({reason}). "
        f"Models in MODELS that accept {in_channels}-channel {image_size}x{image_size} input: {valid}"
    )
    if built_for_size and name in accepting:
        message += f" (including {name!r} itself: rebuild it with in_channels={in_channels}, image_size={image_size})"
    return message


def _check_modality(name: str, text_input: bool) -> None:
    """``ValueError`` when a text model gets image sizes or an image model gets token ids."""
    images = [n for n in MODELS if n not in TEXT_MODELS]
    if name in TEXT_MODELS and not text_input:
        raise ValueError(f"model {name!r} reads token ids: it needs a text data set (vocab_size and "
                         f"sequence_length, e.g. dataset 'ag_news'); models for images: {', '.join(images)}")
    if name not in TEXT_MODELS and text_input:
        raise ValueError(f"model {name!r} reads images, not token ids; models for a text data set: "
                         f"{', '.join(TEXT_MODELS)}")


def check_input(model: nn.Module, in_channels: int | None = None, image_size: int | None = None,
                name: str | None = None, *, vocab_size: int | None = None, sequence_length: int | None = None) -> None:
    """Check that ``model`` maps a ``(2, in_channels, image_size, image_size)`` batch to
    logits ``(2, num_classes)``, by a dummy forward pass of zeros.

    The pass runs under ``torch.no_grad`` in eval mode (so BatchNorm running stats
    are untouched), on the device and dtype of the model's parameters; each
    submodule's training flag is restored afterwards.

    Args:
        model: the network to check.
        in_channels: image channels, ``>= 1``.
        image_size: side of the square input images, ``>= 1``.
        name: name used in the error message (default: the model's ``arch``
            attribute, e.g. ``"vgg16"``, else its class name).

    Raises:
        ValueError: the forward pass fails (e.g. the image is too small for the
            network's pooling, or channels don't match) or the output is not
            ``(2, num_classes)``; the message names the model, the input shape and
            the models in :data:`MODELS` that do accept this input size.
    """
    label = name if name is not None else getattr(model, "arch", type(model).__name__)
    text_input = vocab_size is not None or sequence_length is not None
    if isinstance(model, TextTransformer) != text_input:
        _check_modality(TEXT_MODELS[0] if isinstance(model, TextTransformer) else label, text_input)
    if text_input:
        _check_int("vocab_size", vocab_size, 2)
        _check_int("sequence_length", sequence_length, 1)
    else:
        _check_int("in_channels", in_channels, 1)
        _check_int("image_size", image_size, 1)

    reference = next(iter(model.parameters()), None)
    device = reference.device if reference is not None else torch.device("cpu")
    dtype = reference.dtype if reference is not None else torch.float32
    if text_input:  # token ids: all padding but the last id, the largest a data set can hold
        dummy = torch.zeros(2, sequence_length, device=device, dtype=torch.long)
        dummy[:, 0] = vocab_size - 1
    else:
        dummy = torch.zeros(2, in_channels, image_size, image_size, device=device, dtype=dtype)

    training_flags = [(module, module.training) for module in model.modules()]
    try:
        model.eval()
        with torch.no_grad():
            logits = model(dummy)
    except (RuntimeError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if text_input:
            raise ValueError(f"model {label!r} cannot take token ids of shape (2, {sequence_length}) below "
                             f"vocab_size={vocab_size} ({reason}); rebuild it with these sizes") from err
        raise ValueError(_input_error(label, in_channels, image_size, reason, built_for_size=True)) from err
    finally:
        for module, was_training in training_flags:
            module.training = was_training

    num_classes = getattr(model, "num_classes", None)
    expected = f"(2, {num_classes})" if num_classes is not None else "(2, num_classes)"
    shape_ok = (
        isinstance(logits, torch.Tensor)
        and logits.dim() == 2
        and logits.shape[0] == 2
        and (num_classes is None or logits.shape[1] == num_classes)
    )
    if not shape_ok:
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        if text_input:
            raise ValueError(f"model {label!r} maps token ids to output {got}, expected {expected}")
        raise ValueError(_input_error(label, in_channels, image_size, f"output {got}, expected {expected}", True))


def count_parameters(model: nn.Module) -> int:
    """Total number of scalars in all of ``model``'s parameters (shared ones counted once)."""
    return sum(parameter.numel() for parameter in model.parameters())


def count_prunable(model: nn.Module) -> int:
    """Number of prunable weights: the sum of ``.weight.numel()`` over every
    ``nn.Conv2d`` and ``nn.Linear`` in ``model`` (biases and BatchNorm excluded)."""
    return sum(
        module.weight.numel() for module in model.modules() if isinstance(module, (nn.Conv2d, nn.Linear))
    )
