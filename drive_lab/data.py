"""Image classification data sets held as tensors on the compute device.

Every data set here fits in memory, so :func:`load` reads it once, scales the
pixels to ``[0, 1]``, normalises each channel with the *training* set's mean
and standard deviation, and moves the tensors to the compute device.  Batches
are then plain tensor indexing (:meth:`ImageData.epoch`), with the optional
CIFAR-style augmentation (random crop with 4 pixels of padding + horizontal
flip) done as batched tensor operations on the same device.  All randomness
(shuffling and augmentation) comes from a caller-supplied CPU
``torch.Generator``, so a seed fully determines the batches.

Supported data sets (see :data:`DATASETS`):

* ``"digits"`` -- scikit-learn's bundled 8x8 handwritten digits; no download,
  the default for quick experiments.
* ``"fashion_mnist"`` -- read from the IDX files (``apt-get install
  dataset-fashion-mnist`` provides them offline).
* ``"cifar10"`` / ``"cifar100"`` -- read from the "python version" pickle
  batches that torchvision downloads.
* ``"tiny_imagenet"`` -- read from an unzipped ``tiny-imagenet-200`` folder.

Files are searched for in ``root``, then in the folder named by the
environment variable ``DRIVE_LAB_DATA`` (see :data:`DATA_ENV_VAR`), then in
the default places described in :func:`load`.
"""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import numbers
import os
import pickle
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from .runtime import resolve_device

__all__ = [
    "CROP_PADDING",
    "DATA_ENV_VAR",
    "DATASETS",
    "DEBIAN_FASHION_MNIST_DIR",
    "DatasetInfo",
    "DatasetNotFoundError",
    "ImageData",
    "augment_batch",
    "dataset_info",
    "load",
    "read_idx",
]

#: Environment variable naming a folder that holds downloaded data sets.
DATA_ENV_VAR = "DRIVE_LAB_DATA"
#: Where the Debian/Ubuntu package ``dataset-fashion-mnist`` installs the IDX files.
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
#: Root used for downloads (and searched last) when ``root`` is not given.
DEFAULT_ROOT = Path("./data")
#: Pixels of zero padding on each side before the random crop.
CROP_PADDING = 4
#: File name of the decoded Tiny ImageNet cache written inside its root.
TINY_IMAGENET_CACHE_NAME = "drive_lab_tiny_imagenet_cache.npz"
TINY_IMAGENET_URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"

# Fixed seeds: the digits train/test split and the subset selection must be
# the same on every call, independent of any experiment seed.
_DIGITS_SPLIT_SEED = 0
_DIGITS_TEST_FRACTION = 0.2
_SUBSET_SEED = 0


@dataclass(frozen=True)
class DatasetInfo:
    """Static description of a supported data set.

    ``image_size`` is the height = width in pixels.  ``default_augment`` is
    whether :func:`load` turns on crop+flip augmentation when ``augment`` is
    not given.
    """

    in_channels: int
    image_size: int
    num_classes: int
    description: str
    default_augment: bool = False


DATASETS: dict[str, DatasetInfo] = {
    "digits": DatasetInfo(
        1, 8, 10,
        "scikit-learn's bundled 8x8 handwritten digits (1797 images, no download); "
        "fixed split of 1438 train / 359 test",
    ),
    "fashion_mnist": DatasetInfo(
        1, 28, 10,
        "Fashion-MNIST 28x28 grey clothing images (60000 train / 10000 test)",
    ),
    "cifar10": DatasetInfo(
        3, 32, 10,
        "CIFAR-10 32x32 colour images, 10 classes (50000 train / 10000 test)",
        default_augment=True,
    ),
    "cifar100": DatasetInfo(
        3, 32, 100,
        "CIFAR-100 32x32 colour images, 100 fine classes (50000 train / 10000 test)",
        default_augment=True,
    ),
    "tiny_imagenet": DatasetInfo(
        3, 64, 200,
        "Tiny ImageNet 64x64 colour images, 200 classes (100000 train / 10000 val used as test)",
        default_augment=True,
    ),
}


class DatasetNotFoundError(FileNotFoundError):
    """The data set's files are not on this machine (and were not downloaded)."""


def dataset_info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` for ``name``; ``ValueError`` for an unknown name."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown data set {name!r}; valid choices: {', '.join(repr(n) for n in DATASETS)}"
        ) from None


# ---------------------------------------------------------------------------
# In-memory data and batching
# ---------------------------------------------------------------------------


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


def _check_positive_int(value, what: str) -> int:
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
        batch_size = _check_positive_int(batch_size, "batch_size")
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
        batch_size = _check_positive_int(batch_size, "batch_size")
        if self.x_train.shape[0] == 0:
            raise ValueError("cannot stream batches from an empty training set")
        drop_last = batch_size <= self.x_train.shape[0]
        while True:
            yield from self.epoch(batch_size, generator, train=True, shuffle=True, drop_last=drop_last)

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


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


@dataclass
class _RawSplit:
    """Undecoded integer pixels as read from disk.

    ``x_*``: unsigned integer ``(N, C, H, W)`` arrays with values in
    ``0 .. max_value``; ``y_*``: int64 ``(N,)``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    max_value: int
    num_classes: int


def load(
    name: str,
    *,
    root: str | os.PathLike | None = None,
    subset: int | None = None,
    test_subset: int | None = None,
    device: str | torch.device = "cpu",
    download: bool = False,
    augment: bool | None = None,
) -> ImageData:
    """Load data set ``name`` onto ``device`` as normalised tensors.

    Args:
        name: one of :data:`DATASETS` (``"digits"``, ``"fashion_mnist"``,
            ``"cifar10"``, ``"cifar100"``, ``"tiny_imagenet"``).
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
        subset = _check_positive_int(subset, "subset")
    if test_subset is not None:
        test_subset = _check_positive_int(test_subset, "test_subset")
    target = resolve_device(device)

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


# Decoded data sets of this process, so a sweep of many runs reads and decodes each file
# once. Keyed by everything that decides which files are read; at most two are kept.
_RAW_CACHE: dict[tuple, tuple] = {}
_RAW_CACHE_SIZE = 2


def _read_raw(name: str, root, download: bool):
    """(raw split, channel means, channel stds) of data set ``name``, cached per process."""
    key = (name, None if root is None else str(Path(root).resolve()), os.environ.get(DATA_ENV_VAR),
           str(DEBIAN_FASHION_MNIST_DIR), str(DEFAULT_ROOT), os.getcwd())
    if key in _RAW_CACHE:
        return _RAW_CACHE[key]
    if name == "digits":
        raw = _read_digits()
    elif name == "fashion_mnist":
        raw = _read_fashion_mnist(root, download)
    elif name in ("cifar10", "cifar100"):
        raw = _read_cifar(name, root, download)
    else:  # tiny_imagenet
        raw = _read_tiny_imagenet(root)

    for split, labels in (("training", raw.y_train), ("test", raw.y_test)):
        if labels.size and (labels.min() < 0 or labels.max() >= raw.num_classes):
            raise ValueError(
                f"{name} {split} labels must lie in 0..{raw.num_classes - 1}; "
                f"found {int(labels.min())}..{int(labels.max())}"
            )
    # Statistics of the full training set, before any subset is taken.
    mean, std = _channel_mean_std(raw.x_train, raw.max_value)
    if name != "tiny_imagenet":  # a folder that changes between loads is re-read (it has its own disk cache)
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


def _search_roots(root: str | os.PathLike | None) -> list[Path]:
    """Base folders to search, in order: ``root``, ``$DRIVE_LAB_DATA``, then ``./data`` if no root."""
    bases = []
    if root is not None:
        bases.append(Path(root).expanduser())
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        bases.append(Path(env).expanduser())
    if root is None:
        bases.append(DEFAULT_ROOT)
    return bases


def _format_searched(folders: list[Path]) -> str:
    return "\n".join(f"  - {folder}" for folder in folders) or "  (none)"


# --- digits -----------------------------------------------------------------


def _digits_table() -> np.ndarray:
    """The (1797, 65) table of scikit-learn's bundled digits: 64 pixels, then the label.

    Read straight from the CSV file that scikit-learn ships, found without importing
    scikit-learn (that import alone costs seconds); ``load_digits`` is the fallback.
    """
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.exists():
            return np.loadtxt(path, delimiter=",", dtype=np.float64)
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return np.column_stack([bunch.data, bunch.target])


def _read_digits() -> _RawSplit:
    """scikit-learn's digits, 1797 8x8 images with values 0..16, fixed 1438/359 split."""
    table = _digits_table()
    images = table[:, :64].astype(np.uint8).reshape(-1, 1, 8, 8)  # (1797, 1, 8, 8), values 0..16
    labels = table[:, 64].astype(np.int64)
    order = np.random.default_rng(_DIGITS_SPLIT_SEED).permutation(labels.shape[0])
    num_test = round(_DIGITS_TEST_FRACTION * labels.shape[0])
    test, train = order[:num_test], order[num_test:]
    return _RawSplit(images[train], labels[train], images[test], labels[test], max_value=16, num_classes=10)


# --- Fashion-MNIST (IDX files) -----------------------------------------------

_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
_IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension


def _idx_file(folder: Path, stem: str) -> Path | None:
    """``folder/stem`` or ``folder/stem.gz``, whichever exists (plain first)."""
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file of unsigned bytes (optionally gzipped) as a uint8 array.

    The header is a big-endian int32 magic number ``0x000008DD`` (``08``:
    unsigned byte, ``DD``: number of dimensions) followed by one big-endian
    int32 per dimension.  ``ValueError`` naming the file if it is malformed.
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                content = handle.read()
        else:
            content = path.read_bytes()
    except (OSError, EOFError) as error:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"malformed IDX file {path}: cannot read it ({error})") from error
    if len(content) < 4:
        raise ValueError(f"malformed IDX file {path}: only {len(content)} bytes, shorter than the header")
    magic = int.from_bytes(content[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(
            f"malformed IDX file {path}: magic number {magic:#010x}, expected {expected_magic:#010x}"
        )
    if content[0] != 0 or content[1] != 0 or content[2] != 0x08:
        raise ValueError(f"malformed IDX file {path}: magic number {magic:#010x} is not an unsigned-byte IDX header")
    ndim = content[3]
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise ValueError(f"malformed IDX file {path}: truncated header")
    shape = tuple(int.from_bytes(content[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected_size = header_size + int(np.prod(shape, dtype=np.int64))
    if len(content) != expected_size:
        raise ValueError(
            f"malformed IDX file {path}: header says shape {shape} ({expected_size} bytes) "
            f"but the file has {len(content)} bytes"
        )
    # bytearray: a writable buffer, so the array can become a tensor without warnings.
    return np.frombuffer(bytearray(content), dtype=np.uint8, offset=header_size).reshape(shape)


def _fashion_mnist_folders(root: str | os.PathLike | None) -> list[Path]:
    folders = []
    for base in _search_roots(root):
        folders += [base, base / "fashion_mnist", base / "FashionMNIST" / "raw"]
    folders.append(DEBIAN_FASHION_MNIST_DIR)
    return folders


def _read_fashion_mnist(root: str | os.PathLike | None, download: bool) -> _RawSplit:
    folders = _fashion_mnist_folders(root)
    found = next((f for f in folders if all(_idx_file(f, stem) for stem in _IDX_FILES.values())), None)
    if found is None and download:
        import torchvision

        download_root = Path(root).expanduser() if root is not None else DEFAULT_ROOT
        for train in (True, False):
            torchvision.datasets.FashionMNIST(str(download_root), train=train, download=True)
        found = download_root / "FashionMNIST" / "raw"
    if found is None:
        raise DatasetNotFoundError(
            "Fashion-MNIST IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
            "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) were not found. Get them by one of:\n"
            "  * sudo apt-get install dataset-fashion-mnist  (installs them in "
            f"{DEBIAN_FASHION_MNIST_DIR})\n"
            "  * pass root=<folder holding the files>\n"
            f"  * set the environment variable {DATA_ENV_VAR}=<folder>\n"
            "  * pass download=True to fetch them with torchvision (needs internet)\n"
            f"Folders searched:\n{_format_searched(folders)}"
        )

    def read(key: str, magic: int) -> np.ndarray:
        return read_idx(_idx_file(found, _IDX_FILES[key]), magic)

    x_train = read("train_images", _IDX_IMAGES_MAGIC)
    y_train = read("train_labels", _IDX_LABELS_MAGIC)
    x_test = read("test_images", _IDX_IMAGES_MAGIC)
    y_test = read("test_labels", _IDX_LABELS_MAGIC)
    for split, images, labels in (("train", x_train, y_train), ("t10k", x_test, y_test)):
        if images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"Fashion-MNIST {split} files in {found} disagree: "
                f"{images.shape[0]} images but {labels.shape[0]} labels"
            )
        if images.shape[1:] != (28, 28):
            raise ValueError(f"Fashion-MNIST {split} images in {found} are {images.shape[1:]}, expected (28, 28)")
    return _RawSplit(
        x_train[:, None], y_train.astype(np.int64), x_test[:, None], y_test.astype(np.int64),
        max_value=255, num_classes=10,
    )


# --- CIFAR-10 / CIFAR-100 (python pickle batches) -----------------------------

_CIFAR_LAYOUT = {
    # folder name, training files, test files, label key
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], "labels"),
    "cifar100": ("cifar-100-python", ["train"], ["test"], "fine_labels"),
}


def _read_cifar_file(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """One pickle batch -> uint8 ``(N, 3, 32, 32)`` images and int64 ``(N,)`` labels.

    Uses ``pickle``: only load files you trust (as torchvision does).
    """
    try:
        with open(path, "rb") as handle:
            batch = pickle.load(handle, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError) as error:
        raise ValueError(f"malformed CIFAR batch file {path}: cannot unpickle it ({error})") from error
    if not isinstance(batch, dict):
        raise ValueError(f"malformed CIFAR batch file {path}: expected a dict, got {type(batch).__name__}")

    def entry(key: str):
        for candidate in (key.encode(), key):
            if candidate in batch:
                return batch[candidate]
        raise ValueError(f"malformed CIFAR batch file {path}: no {key!r} entry (has {sorted(map(str, batch))})")

    data = np.asarray(entry("data"))
    labels = np.asarray(entry(label_key), dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(
            f"malformed CIFAR batch file {path}: 'data' must be uint8 (N, 3072), "
            f"got {data.dtype} {data.shape}"
        )
    if labels.shape != (data.shape[0],):
        raise ValueError(
            f"malformed CIFAR batch file {path}: {data.shape[0]} images but labels of shape {labels.shape}"
        )
    # Rows are the red, green, blue 32x32 planes, each row-major.
    return data.reshape(-1, 3, 32, 32), labels


def _read_cifar(name: str, root: str | os.PathLike | None, download: bool) -> _RawSplit:
    folder_name, train_files, test_files, label_key = _CIFAR_LAYOUT[name]
    folders = []
    for base in _search_roots(root):
        folders += [base / folder_name, base]  # the base may itself be the batch folder
    found = next((f for f in folders if all((f / n).is_file() for n in train_files + test_files)), None)
    if found is None and download:
        import torchvision

        download_root = Path(root).expanduser() if root is not None else DEFAULT_ROOT
        dataset_class = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
        dataset_class(str(download_root), train=True, download=True)  # one archive holds both splits
        found = download_root / folder_name
    if found is None:
        where = Path(root).expanduser() if root is not None else DEFAULT_ROOT
        raise DatasetNotFoundError(
            f"{name} was not found: expected the folder {where / folder_name} with "
            f"{', '.join(train_files + test_files)} (the 'python version' from "
            "https://www.cs.toronto.edu/~kriz/cifar.html). Get it by one of:\n"
            "  * pass download=True to fetch it with torchvision (needs internet)\n"
            "  * pass root=<folder containing " + folder_name + ">\n"
            f"  * set the environment variable {DATA_ENV_VAR}=<folder containing {folder_name}>\n"
            f"Folders searched:\n{_format_searched(folders)}"
        )

    def read(files: list[str]) -> tuple[np.ndarray, np.ndarray]:
        parts = [_read_cifar_file(found / f, label_key) for f in files]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    x_train, y_train = read(train_files)
    x_test, y_test = read(test_files)
    return _RawSplit(x_train, y_train, x_test, y_test, max_value=255, num_classes=dataset_info(name).num_classes)


# --- Tiny ImageNet (image folders) --------------------------------------------

_IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png", ".bmp", ".gif", ".webp"}


def _image_files(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES)


def _tiny_imagenet_listing(root: Path) -> tuple[list[str], list[tuple[Path, int]], list[tuple[Path, int]]]:
    """Class ids (sorted train folder names) and (image path, label) lists for train and val."""
    train_dir, val_dir = root / "train", root / "val"
    classes = sorted(p.name for p in train_dir.iterdir() if p.is_dir())
    if not classes:
        raise ValueError(f"Tiny ImageNet folder {train_dir} has no class sub-folders")
    label_of = {wnid: i for i, wnid in enumerate(classes)}

    def class_images(folder: Path) -> list[Path]:
        # Official layout keeps them in <wnid>/images/; plain ImageFolder has them in <wnid>/.
        return _image_files(folder / "images") if (folder / "images").is_dir() else _image_files(folder)

    train = [(path, label_of[wnid]) for wnid in classes for path in class_images(train_dir / wnid)]

    if not val_dir.is_dir():
        raise ValueError(f"Tiny ImageNet folder {root} has no val/ folder (used as the test set)")
    annotations = val_dir / "val_annotations.txt"
    val = []
    if annotations.is_file():
        for line_number, line in enumerate(annotations.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) < 2:
                raise ValueError(f"malformed line {line_number} in {annotations}: expected 'filename<TAB>wnid...'")
            filename, wnid = fields[0].strip(), fields[1].strip()
            if wnid not in label_of:
                raise ValueError(f"{annotations} line {line_number}: class {wnid!r} has no folder in {train_dir}")
            val.append((val_dir / "images" / filename, label_of[wnid]))
    else:
        val_classes = sorted(p.name for p in val_dir.iterdir() if p.is_dir())
        unknown = [wnid for wnid in val_classes if wnid not in label_of]
        if unknown:
            raise ValueError(f"Tiny ImageNet val classes {unknown[:5]} have no folder in {train_dir}")
        val = [(path, label_of[wnid]) for wnid in val_classes for path in class_images(val_dir / wnid)]
    return classes, train, val


def _read_image(path: Path, size: int) -> np.ndarray:
    """Decode one image as uint8 RGB ``(size, size, 3)``, resizing if needed."""
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB")
        if image.size != (size, size):
            image = image.resize((size, size), Image.BILINEAR)
        return np.asarray(image, dtype=np.uint8)


def _decode_images(items: list[tuple[Path, int]], size: int) -> tuple[np.ndarray, np.ndarray]:
    images = np.empty((len(items), 3, size, size), dtype=np.uint8)
    for i, (path, _) in enumerate(items):  # decoding is per file; batching is not
        images[i] = _read_image(path, size).transpose(2, 0, 1)
    labels = np.array([label for _, label in items], dtype=np.int64)
    return images, labels


def _listing_fingerprint(root: Path, items: list[tuple[Path, int]]) -> str:
    """Hash of relative paths, sizes and labels: changes when the image files change."""
    digest = hashlib.sha256()
    for path, label in items:
        digest.update(f"{path.relative_to(root)}\t{path.stat().st_size}\t{label}\n".encode())
    return digest.hexdigest()


def _write_cache(cache: Path, **arrays: np.ndarray) -> None:
    """Write ``arrays`` to ``cache`` atomically; silently skip if the folder is read-only."""
    try:
        handle, temporary = tempfile.mkstemp(dir=cache.parent, prefix=".drive_lab_cache_", suffix=".npz")
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **arrays)
        os.replace(temporary, cache)
    except OSError:
        Path(temporary).unlink(missing_ok=True)


def _tiny_imagenet_root(root: str | os.PathLike | None) -> Path:
    folders = []
    for base in _search_roots(root):
        folders += [base, base / "tiny-imagenet-200", base / "tiny_imagenet"]
    found = next((f for f in folders if (f / "train").is_dir()), None)
    if found is None:
        raise DatasetNotFoundError(
            "Tiny ImageNet was not found (a folder with train/<wnid>/... and val/ sub-folders) and "
            f"cannot be downloaded by drive_lab. Download {TINY_IMAGENET_URL}, unzip it, then pass "
            f"root=<path to tiny-imagenet-200> or set {DATA_ENV_VAR} to the folder containing it.\n"
            f"Folders searched:\n{_format_searched(folders)}"
        )
    return found


def _read_tiny_imagenet(root: str | os.PathLike | None) -> _RawSplit:
    info = DATASETS["tiny_imagenet"]
    folder = _tiny_imagenet_root(root)
    classes, train, val = _tiny_imagenet_listing(folder)
    missing = [path for path, _ in val if not path.is_file()]
    if missing:
        raise ValueError(f"Tiny ImageNet validation images listed in val_annotations.txt are missing, e.g. {missing[0]}")
    fingerprint = _listing_fingerprint(folder, train + val)

    cache = folder / TINY_IMAGENET_CACHE_NAME
    arrays = None
    if cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as stored:
                if str(stored["fingerprint"]) == fingerprint:
                    arrays = {key: stored[key] for key in ("x_train", "y_train", "x_test", "y_test")}
        except (OSError, ValueError, KeyError, EOFError):
            arrays = None  # unreadable or stale cache: decode again and overwrite it
    if arrays is None:
        x_train, y_train = _decode_images(train, info.image_size)
        x_test, y_test = _decode_images(val, info.image_size)
        arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
        _write_cache(cache, fingerprint=np.array(fingerprint), **arrays)

    if len(classes) != info.num_classes:
        warnings.warn(
            f"Tiny ImageNet at {folder} has {len(classes)} class folders, not {info.num_classes}; "
            f"using num_classes={len(classes)}",
            UserWarning,
            stacklevel=3,
        )
    return _RawSplit(
        arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"],
        max_value=255, num_classes=len(classes),
    )
