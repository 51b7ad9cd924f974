"""In-memory image data on the compute device, batching and augmentation.

Every data set fits in memory, so batches are plain tensor indexing
(:meth:`ImageData.epoch`), with the optional CIFAR-style augmentation (random
crop with :data:`CROP_PADDING` = 4 pixels of padding + horizontal flip) done as
batched tensor operations on the same device (:func:`augment_batch`).  All
randomness (shuffling and augmentation) comes from a caller-supplied CPU
``torch.Generator``, so a seed fully determines the batches, on any device.
"""
from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn.functional as F

from ..runtime import resolve_device

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


def check_positive_int(value, what: str) -> int:
    """``value`` as an int; ``ValueError`` naming ``what`` unless it is a positive int (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{what} must be a positive int; got {value!r}")
    return int(value)


@dataclass(repr=False)
class ImageData:
    """A train/test pair of image tensors on one device, ready for batching.

    Attributes:
        name: data set name (a key of :data:`DATASETS`).
        x_train: float32 ``(N_train, C, H, W)``, each channel normalised with
            the full training set's mean/std (so roughly zero mean, unit std).
        y_train: int64 ``(N_train,)`` class indices in ``0 .. num_classes-1``.
        x_test: float32 ``(N_test, C, H, W)``, normalised with the *training*
            statistics.
        y_test: int64 ``(N_test,)``.
        num_classes: number of classes.
        augment: whether training batches from :meth:`epoch` / :meth:`stream`
            get random crop (padding :data:`CROP_PADDING`) + horizontal flip.
        mean, std: per-channel statistics (of pixels scaled to ``[0, 1]``)
            used for normalisation; ``pixel_01 = x * std + mean``.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    augment: bool
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

    @property
    def device(self) -> torch.device:
        """Device holding the tensors (that of ``x_train``)."""
        return self.x_train.device

    def __repr__(self) -> str:
        # The default dataclass repr would print tensor contents.
        return (
            f"ImageData(name={self.name!r}, train={tuple(self.x_train.shape)}, "
            f"test={tuple(self.x_test.shape)}, num_classes={self.num_classes}, "
            f"augment={self.augment}, device={self.device})"
        )

    def epoch(
        self,
        batch_size: int,
        generator: torch.Generator | None,
        train: bool = True,
        shuffle: bool = True,
        drop_last: bool = False,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One pass over the training (``train=True``) or test tensors.

        Yields ``(x, y)`` with ``x`` float32 ``(B, C, H, W)`` and ``y`` int64
        ``(B,)`` on :attr:`device`; ``B = batch_size`` except possibly a
        smaller last batch (dropped when ``drop_last``).  With ``shuffle`` the
        order is a permutation drawn from ``generator`` (a CPU
        ``torch.Generator``); training batches are augmented when
        :attr:`augment` and ``train`` are both true, also with random numbers
        from ``generator``.  ``generator`` may be ``None`` only when neither
        shuffling nor augmentation needs it.
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        augment = self.augment and train
        if generator is None:
            if shuffle or augment:
                raise ValueError(
                    "generator is required for shuffle=True or augmentation; "
                    "pass a CPU torch.Generator (e.g. torch.Generator().manual_seed(0))"
                )
        elif not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
            raise ValueError(f"generator must be a CPU torch.Generator; got {generator!r}")

        images, labels = (self.x_train, self.y_train) if train else (self.x_test, self.y_test)
        count = images.shape[0]
        # Draw the order on the CPU (seeded, device independent), move once.
        order = torch.randperm(count, generator=generator).to(images.device) if shuffle else None
        stop = count - count % batch_size if drop_last else count
        for start in range(0, stop, batch_size):
            end = min(start + batch_size, count)
            if order is None:
                x, y = images[start:end], labels[start:end]
            else:
                index = order[start:end]
                x, y = images[index], labels[index]
            if augment:
                x = augment_batch(x, generator)
            yield x, y

    def stream(
        self, batch_size: int, generator: torch.Generator
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Endless training batches, reshuffled every epoch (augmented if :attr:`augment`).

        Used to draw fresh batches (e.g. for pruning scores).  Every batch has
        exactly ``batch_size`` examples -- the incomplete tail of each epoch is
        dropped -- unless ``batch_size`` exceeds the training set, in which
        case every batch is the whole (shuffled) training set.
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        if self.x_train.shape[0] == 0:
            raise ValueError("cannot stream batches from an empty training set")
        drop_last = batch_size <= self.x_train.shape[0]
        while True:
            yield from self.epoch(batch_size, generator, train=True, shuffle=True, drop_last=drop_last)

    def balanced_batch(self, per_class: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """A training batch of ``per_class`` random examples of every class (augmented if :attr:`augment`).

        Returns ``(x, y)``: ``x`` float32 ``(per_class * classes, C, H, W)``, ``y`` int64,
        grouped by class. The examples of each class are drawn without replacement from
        ``generator`` (a CPU ``torch.Generator``); a class with fewer examples gives all
        it has. This is the scoring set of the SNIP/GraSP reference code (10 per class).
        """
        per_class = check_positive_int(per_class, "per_class")
        labels = self.y_train.cpu()
        order = torch.randperm(labels.shape[0], generator=generator)
        shuffled = labels[order]
        by_class = torch.argsort(shuffled, stable=True)  # classes in order, random within each class
        sorted_labels = shuffled[by_class]
        first = torch.searchsorted(sorted_labels, sorted_labels, side="left")
        rank = torch.arange(labels.shape[0]) - first  # position within its class
        index = order[by_class[rank < per_class]].to(self.x_train.device)
        x, y = self.x_train[index], self.y_train[index]
        if self.augment:
            x = augment_batch(x, generator)
        return x, y

    def to(self, device: str | torch.device) -> "ImageData":
        """A copy with every tensor on ``device`` (``"auto"`` picks CUDA when present)."""
        target = resolve_device(device)
        return dataclasses.replace(
            self,
            x_train=self.x_train.to(target),
            y_train=self.y_train.to(target),
            x_test=self.x_test.to(target),
            y_test=self.y_test.to(target),
        )
