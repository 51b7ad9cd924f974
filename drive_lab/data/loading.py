"""Loading a data set: read once per process, take subsets, normalise, move to the device.

:func:`load` asks the data set's registered reader (see :mod:`~drive_lab.data.registry`)
for the integer pixels, scales them to ``[0, 1]``, normalises each channel with the
*training* set's mean and standard deviation, and moves the tensors to the compute
device as an :class:`~drive_lab.data.image_data.ImageData`.  The decoded pixels are
kept in memory for later calls in the same process (a sweep of many runs reads and
decodes each file once).  Subsets are fixed-seed, class-stratified draws.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from ..runtime import resolve_device
from .image_data import ImageData, check_positive_int
from .text import TextData, encoded, to_text_data
from .registry import DatasetNotFoundError, RawSplit, dataset_info, dataset_source
from .search import search_key

# Fixed seed: the subset selection must be the same on every call, independent
# of any experiment seed.
_SUBSET_SEED = 0


def load(
    name: str,
    *,
    root: str | os.PathLike | None = None,
    subset: int | None = None,
    test_subset: int | None = None,
    device: str | torch.device = "cpu",
    download: bool = False,
    augment: bool | None = None,
) -> ImageData | TextData:
    """Load data set ``name`` onto ``device`` as normalised tensors (token ids for text).

    Args:
        name: one of :data:`DATASETS` (``"digits"``, ``"fashion_mnist"``,
            ``"cifar10"``, ``"cifar100"``, ``"tiny_imagenet"``, ``"ag_news"``). A text
            data set returns a :class:`~drive_lab.data.text.TextData` (token ids, see
            :mod:`~drive_lab.data.text`; ``augment`` must not be True).
        root: folder holding the data set files.  Searched first; then
            ``$DRIVE_LAB_DATA``; then ``./data`` (only when ``root`` is
            None) and, for Fashion-MNIST, ``/usr/share/datasets/fashion-mnist``.
            Ignored for ``"digits"``.
        subset: keep this many training examples (``None``: all).  They are
            chosen by a fixed-seed, class-stratified draw, so the same ``n``
            always gives the same examples and a smaller subset is contained
            in a larger one; kept in their original order.
        test_subset: the same for the test set.
        device: where the tensors live (``"cpu"``, ``"cuda"``, ``"auto"``...).
        download: fetch Fashion-MNIST / CIFAR through torchvision into
            ``root`` (default ``./data``) when not found locally.  Tiny
            ImageNet cannot be downloaded here.
        augment: crop+flip training batches; ``None`` uses the data set's
            default (on for CIFAR-10/100 and Tiny ImageNet).

    Normalisation uses the per-channel mean and (population) std of the
    *full* training set's pixels scaled to ``[0, 1]``, whatever ``subset``
    is, so a subset sees the same input scale as the full data.

    Tiny ImageNet: ``num_classes`` is the number of class folders actually
    found under ``train/`` (a :class:`UserWarning` is issued when that is not
    200), and the labelled ``val`` split serves as the test set.

    Raises:
        ValueError: unknown ``name``, bad ``subset``/``test_subset``, or a
            malformed data file.
        DatasetNotFoundError: (a ``FileNotFoundError``) files not found and not
            downloadable; the message says how to get them.
    """
    info = dataset_info(name)
    if subset is not None:
        subset = check_positive_int(subset, "subset")
    if test_subset is not None:
        test_subset = check_positive_int(test_subset, "test_subset")
    target = resolve_device(device)
    if info.is_text:
        if augment:
            raise ValueError(f"augment=True is for images; {name} is text (token ids), which is never augmented")
        split = encoded(name, root, download)
        return to_text_data(name, split, _subset_index(split[1], subset, "subset", "training"),
                                 _subset_index(split[3], test_subset, "test_subset", "test"), target)

    raw, mean, std = _read_raw(name, root, download)

    train_index = _subset_index(raw.y_train, subset, "subset", "training")
    test_index = _subset_index(raw.y_test, test_subset, "test_subset", "test")

    return ImageData(
        name=name,
        x_train=_to_normalised_tensor(raw.x_train[train_index], raw.max_value, mean, std, target),
        y_train=torch.from_numpy(raw.y_train[train_index].astype(np.int64)).to(target),
        x_test=_to_normalised_tensor(raw.x_test[test_index], raw.max_value, mean, std, target),
        y_test=torch.from_numpy(raw.y_test[test_index].astype(np.int64)).to(target),
        num_classes=raw.num_classes,
        augment=info.default_augment if augment is None else bool(augment),
        mean=mean,
        std=std,
    )


def check_available(
    name: str,
    *,
    root: str | os.PathLike | None = None,
    download: bool = False,
    subset: int | None = None,
    test_subset: int | None = None,
) -> None:
    """Check, before any training, that :func:`load` with these arguments will succeed.

    Reads the data set's files the way :func:`load` does (the decoded pixels stay in
    this process's cache, so the later :func:`load` reads nothing again) and checks the
    subset sizes against the splits. With ``download=True`` missing files are accepted
    (they are fetched by :func:`load`; nothing is downloaded here).

    Raises:
        DatasetNotFoundError: the files are missing and ``download`` is False.
        ValueError: unknown ``name``, bad subset sizes, an empty split, or malformed files.
    """
    info = dataset_info(name)
    for value, argument in ((subset, "subset"), (test_subset, "test_subset")):
        if value is not None:
            check_positive_int(value, argument)
    try:
        if info.is_text:
            split = encoded(name, root, download=False)
            train_labels, test_labels = split[1], split[3]
        else:
            raw, _, _ = _read_raw(name, root, download=False)
            train_labels, test_labels = raw.y_train, raw.y_test
    except DatasetNotFoundError:
        if download:
            return
        raise
    _subset_index(train_labels, subset, "subset", "training")
    _subset_index(test_labels, test_subset, "test_subset", "test")


# Decoded data sets of this process, so a sweep of many runs reads and decodes each file
# once. Keyed by everything that decides which files are read; at most two are kept.
_RAW_CACHE: dict[tuple, tuple] = {}
_RAW_CACHE_SIZE = 2


def _read_raw(
    name: str, root: str | os.PathLike | None, download: bool
) -> tuple[RawSplit, tuple[float, ...], tuple[float, ...]]:
    """(raw split, channel means, channel stds) of data set ``name``, cached per process."""
    source = dataset_source(name)
    key = (name, *search_key(root), *source.cache_key())
    if key in _RAW_CACHE:
        return _RAW_CACHE[key]
    raw = source.read(name, root, download)

    for split, labels in (("training", raw.y_train), ("test", raw.y_test)):
        if labels.shape[0] == 0:  # e.g. a Tiny ImageNet folder with an empty val/
            raise ValueError(f"the {split} split of {name} is empty; check the data set's files")
        if labels.size and (labels.min() < 0 or labels.max() >= raw.num_classes):
            raise ValueError(
                f"{name} {split} labels must lie in 0..{raw.num_classes - 1}; "
                f"found {int(labels.min())}..{int(labels.max())}"
            )
    # Statistics of the full training set, before any subset is taken.
    mean, std = _channel_mean_std(raw.x_train, raw.max_value)
    # Tiny ImageNet opts out: its folder may change between loads, and it has its own disk cache.
    if source.keep_in_memory:
        while len(_RAW_CACHE) >= _RAW_CACHE_SIZE:
            _RAW_CACHE.pop(next(iter(_RAW_CACHE)))
        _RAW_CACHE[key] = (raw, mean, std)
    return raw, mean, std


def _channel_mean_std(pixels: np.ndarray, max_value: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and population std of ``pixels / max_value``.

    ``pixels``: unsigned integer ``(N, C, H, W)``.  Computed exactly from a
    histogram of the integer values, which avoids a float copy of the data.
    """
    means, stds = [], []
    values = np.arange(max_value + 1, dtype=np.float64) / max_value
    for channel in range(pixels.shape[1]):
        counts = np.bincount(pixels[:, channel].ravel(), minlength=max_value + 1).astype(np.float64)
        total = counts.sum()
        mean = float((counts * values).sum() / total)
        variance = float((counts * (values - mean) ** 2).sum() / total)
        means.append(mean)
        # A constant channel would divide by zero; leave it unscaled instead.
        stds.append(variance ** 0.5 if variance > 0 else 1.0)
    return tuple(means), tuple(stds)


def _to_normalised_tensor(
    pixels: np.ndarray,
    max_value: int,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    device: torch.device,
) -> torch.Tensor:
    """Integer ``(N, C, H, W)`` pixels -> float32 ``(pixels/max_value - mean) / std`` on ``device``."""
    # Move the compact integers first (4x less to copy), convert on the device.
    images = torch.from_numpy(np.ascontiguousarray(pixels)).to(device).to(torch.float32)
    mean_t = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    return images.div_(max_value).sub_(mean_t).div_(std_t)


def _stratified_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """A fixed-seed ordering of ``range(len(labels))`` whose every prefix is class-stratified.

    Each example gets the key ``(rank within its class + 1/2) / class size``
    where the rank comes from a seeded shuffle; sorting by the key interleaves
    the classes so any prefix holds them in proportion to their frequency.
    """
    count = labels.shape[0]
    shuffle = np.random.default_rng(seed).permutation(count)
    shuffled_labels = labels[shuffle]
    by_class = np.argsort(shuffled_labels, kind="stable")
    sorted_labels = shuffled_labels[by_class]
    class_start = np.searchsorted(sorted_labels, sorted_labels, side="left")
    rank = np.empty(count, dtype=np.float64)
    rank[by_class] = np.arange(count) - class_start
    _, class_id, class_size = np.unique(shuffled_labels, return_inverse=True, return_counts=True)
    key = (rank + 0.5) / class_size[class_id]
    return shuffle[np.argsort(key, kind="stable")]


def _subset_index(labels: np.ndarray, size: int | None, argument: str, split: str) -> np.ndarray | slice:
    """Indices of the ``size`` examples kept (all of them when ``size`` is None)."""
    available = labels.shape[0]
    if size is None:
        return slice(None)
    if size > available:
        raise ValueError(
            f"{argument}={size} is larger than the {split} set, which has {available} examples; "
            f"choose 1..{available} or None for all"
        )
    return np.sort(_stratified_order(labels, _SUBSET_SEED)[:size])
