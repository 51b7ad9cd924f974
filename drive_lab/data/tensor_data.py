"""A train/test pair of tensors on one device, and how batches are drawn from it.

Every data set here fits in memory, so a batch is plain tensor indexing. All randomness
(shuffling, and an image set's augmentation) comes from a caller-supplied CPU
``torch.Generator``, so a seed fully determines the batches, on any device.
:class:`~drive_lab.data.image_data.ImageData` (images) and
:class:`~drive_lab.data.text.TextData` (token ids) add what their inputs are.
"""
from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Iterator

import torch

from ..runtime import resolve_device


def check_positive_int(value, what: str) -> int:
    """``value`` as an int; ``ValueError`` naming ``what`` unless it is a positive int (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{what} must be a positive int; got {value!r}")
    return int(value)


@dataclass(repr=False)
class TensorData:
    """Inputs and labels of a training and a test split, on one device.

    Attributes:
        name: data set name (a key of :data:`~drive_lab.data.DATASETS`).
        x_train: ``(N_train, ...)`` inputs (float images, or int64 token ids).
        y_train: int64 ``(N_train,)`` class indices in ``0 .. num_classes-1``.
        x_test, y_test: the same for the test split.
        num_classes: number of classes.
        augment: whether training batches pass through :meth:`augmented`.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    augment: bool

    @property
    def device(self) -> torch.device:
        """Device holding the tensors (that of ``x_train``)."""
        return self.x_train.device

    def __repr__(self) -> str:
        # The default dataclass repr would print tensor contents.
        return (
            f"{type(self).__name__}(name={self.name!r}, train={tuple(self.x_train.shape)}, "
            f"test={tuple(self.x_test.shape)}, num_classes={self.num_classes}, "
            f"augment={self.augment}, device={self.device})"
        )

    def augmented(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """A training batch's random augmentation (none here; images override it)."""
        return x

    def epoch(
        self,
        batch_size: int,
        generator: torch.Generator | None,
        train: bool = True,
        shuffle: bool = True,
        drop_last: bool = False,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One pass over the training (``train=True``) or test tensors.

        Yields ``(x, y)`` with ``x`` ``(B, ...)`` and ``y`` int64 ``(B,)`` on :attr:`device`;
        ``B = batch_size`` except possibly a smaller last batch (dropped when
        ``drop_last``).  With ``shuffle`` the order is a permutation drawn from
        ``generator`` (a CPU ``torch.Generator``); training batches are augmented when
        :attr:`augment` and ``train`` are both true, also with random numbers from
        ``generator``.  ``generator`` may be ``None`` only when neither shuffling nor
        augmentation needs it.
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

        inputs, labels = (self.x_train, self.y_train) if train else (self.x_test, self.y_test)
        count = inputs.shape[0]
        # Draw the order on the CPU (seeded, device independent), move once.
        order = torch.randperm(count, generator=generator).to(inputs.device) if shuffle else None
        stop = count - count % batch_size if drop_last else count
        for start in range(0, stop, batch_size):
            end = min(start + batch_size, count)
            if order is None:
                x, y = inputs[start:end], labels[start:end]
            else:
                index = order[start:end]
                x, y = inputs[index], labels[index]
            if augment:
                x = self.augmented(x, generator)
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

        Returns ``(x, y)``: ``x`` ``(per_class * classes, ...)``, ``y`` int64, grouped by
        class. The examples of each class are drawn without replacement from
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
            x = self.augmented(x, generator)
        return x, y

    def to(self, device: str | torch.device):
        """A copy with every tensor on ``device`` (``"auto"`` picks CUDA when present)."""
        target = resolve_device(device)
        return dataclasses.replace(
            self,
            x_train=self.x_train.to(target),
            y_train=self.y_train.to(target),
            x_test=self.x_test.to(target),
            y_test=self.y_test.to(target),
        )
