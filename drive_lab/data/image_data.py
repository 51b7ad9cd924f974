"""In-memory image data on the compute device, batching and augmentation.

Every data set fits in memory, so batches are plain tensor indexing
(:meth:`~drive_lab.data.tensor_data.TensorData.epoch`), with the optional CIFAR-style augmentation (random
crop with :data:`CROP_PADDING` = 4 pixels of padding + horizontal flip) done as
batched tensor operations on the same device (:func:`augment_batch`).  All
randomness (shuffling and augmentation) comes from a caller-supplied CPU
``torch.Generator``, so a seed fully determines the batches, on any device.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .tensor_data import TensorData, check_positive_int  # noqa: F401  (check_positive_int: re-exported)

#: Pixels of zero padding on each side before the random crop.
CROP_PADDING = 4


def augment_batch(
    images: torch.Tensor,
    generator: torch.Generator,
    *,
    padding: int = CROP_PADDING,
    flip: bool = True,
) -> torch.Tensor:
    """Random crop after zero padding, then random horizontal flip, per sample.

    ``images``: float ``(B, C, H, W)`` on any device.  Each sample is zero
    padded by ``padding`` pixels on every side (zero is the training-set mean
    colour, since the data are already normalised) and an ``H x W`` window at
    a random offset in ``0 .. 2 * padding`` (both axes) is kept; then, with
    probability 1/2 (when ``flip``), the width axis is reversed.  The random
    numbers are drawn on the CPU from ``generator`` (so results depend only on
    its seed, not on the device), then moved to ``images.device``.

    Returns a new ``(B, C, H, W)`` tensor; ``images`` is not modified.
    """
    if images.dim() != 4:
        raise ValueError(f"images must have shape (B, C, H, W); got shape {tuple(images.shape)}")
    if not isinstance(padding, numbers.Integral) or isinstance(padding, bool) or padding < 0:
        raise ValueError(f"padding must be a non-negative int; got {padding!r}")
    batch, channels, height, width = images.shape
    device = images.device
    # Draw on the CPU generator so one seed gives the same crops on CPU and GPU.
    offsets = torch.randint(0, 2 * padding + 1, (2, batch), generator=generator).to(device)
    # Drawn even when not flipping, so flip=False keeps the same crops for a seed.
    flipped = (torch.rand(batch, generator=generator) < 0.5).to(device)
    if not flip:
        flipped = torch.zeros_like(flipped)

    padded = F.pad(images, (padding, padding, padding, padding))
    row_index = offsets[0, :, None] + torch.arange(height, device=device)  # (B, H)
    columns = torch.arange(width, device=device)
    # A flip is just reading the crop's columns right-to-left, so crop and flip
    # are a single gather.
    column_order = torch.where(flipped[:, None], (width - 1) - columns, columns)  # (B, W)
    column_index = offsets[1, :, None] + column_order  # (B, W)
    sample_index = torch.arange(batch, device=device)[:, None, None, None]
    channel_index = torch.arange(channels, device=device)[None, :, None, None]
    return padded[sample_index, channel_index, row_index[:, None, :, None], column_index[:, None, None, :]]


@dataclass(repr=False)
class ImageData(TensorData):
    """A train/test pair of image tensors on one device, ready for batching.

    Attributes (besides :class:`~drive_lab.data.tensor_data.TensorData`'s):
        x_train: float32 ``(N_train, C, H, W)``, each channel normalised with
            the full training set's mean/std (so roughly zero mean, unit std).
        x_test: float32 ``(N_test, C, H, W)``, normalised with the *training*
            statistics.
        augment: whether training batches from :meth:`epoch` / :meth:`stream`
            get random crop (padding :data:`CROP_PADDING`) + horizontal flip.
        mean, std: per-channel statistics (of pixels scaled to ``[0, 1]``)
            used for normalisation; ``pixel_01 = x * std + mean``.
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def in_channels(self) -> int:
        """Channels C of each image."""
        return int(self.x_train.shape[1])

    @property
    def image_size(self) -> int:
        """Height (= width) of each image in pixels."""
        return int(self.x_train.shape[-1])

    def augmented(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Random crop + flip (:func:`augment_batch`)."""
        return augment_batch(x, generator)
