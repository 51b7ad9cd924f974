"""Building models by name, their initialisation, input checks and parameter counts."""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

from .images import MLP, VGG16BN, AlexNetCIFAR, ResNet18CIFAR, SmallConvNet, _InputTooSmall
from .transformers import RowTransformer, TextTransformer

MODELS: tuple[str, ...] = ("mlp", "conv", "alexnet", "vgg16", "resnet18", "transformer", "text_transformer")
#: The models that read token ids (a text data set) instead of images.
TEXT_MODELS: tuple[str, ...] = ("text_transformer",)


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
