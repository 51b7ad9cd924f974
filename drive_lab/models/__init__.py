"""The networks used in the experiments, plus input checks and parameter counts.

Modules: :mod:`.images` (the image networks), :mod:`.transformers` (the Transformer
encoders), :mod:`.building` (:func:`build` by name, initialisation, input checks, counts).

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
from .building import (INITS, MODELS, TEXT_MODELS, build, check_input, count_parameters, count_prunable, mode,
                       reinitialise)
from .images import MLP, VGG16BN, AlexNetCIFAR, BasicBlock, ResNet18CIFAR, SmallConvNet
from .transformers import EncoderBlock, RowTransformer, SelfAttention, TextTransformer

__all__ = ["MODELS", "TEXT_MODELS", "INITS", "build", "check_input", "count_parameters", "count_prunable", "mode",
           "reinitialise", "MLP", "SmallConvNet", "AlexNetCIFAR", "VGG16BN", "BasicBlock", "ResNet18CIFAR",
           "SelfAttention", "EncoderBlock", "RowTransformer", "TextTransformer"]
