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
* ``"ag_news"`` -- AG News text classification from its CSV files (or fetched through
  Hugging Face ``datasets``), as token-id sequences (:class:`TextData`).

Files are searched for in ``root``, then in the folder named by the
environment variable ``DRIVE_LAB_DATA`` (see :data:`DATA_ENV_VAR`), then in
the default places described in :func:`load`.

Modules: :mod:`.registry` (:class:`DatasetInfo`, :func:`register_dataset`),
:mod:`.tensor_data` (:class:`TensorData`: batching), :mod:`.image_data` (:class:`ImageData`,
:func:`augment_batch`), :mod:`.text` (:class:`TextData`, tokens and vocabulary),
:mod:`.loading` (:func:`load`), :mod:`.search` (the search folders), and one reader per
source: :mod:`.digits`, :mod:`.fashion_mnist`, :mod:`.cifar`, :mod:`.tiny_imagenet`,
:mod:`.ag_news`.
The names re-exported here are bound once, at import: setting one on this package
does not change what a reader uses (e.g. in a test), so set it on the module that
defines it, such as ``drive_lab.data.fashion_mnist.DEBIAN_FASHION_MNIST_DIR``.
"""
from __future__ import annotations

from ..paths import DATA_ENV_VAR, DEFAULT_DATA_ROOT
from .image_data import CROP_PADDING, ImageData, augment_batch
from .tensor_data import TensorData
from .text import TextData
from .loading import check_available, load
from .registry import DATASETS, DatasetInfo, DatasetNotFoundError, RawSplit, dataset_info, register_dataset

# The built-in sources register themselves when imported, in this order, which is the
# order of DATASETS (and of the choices users are shown).
from . import digits, fashion_mnist, cifar, tiny_imagenet, ag_news  # noqa: F401
from .digits import _digits_table
from .fashion_mnist import DEBIAN_FASHION_MNIST_DIR, read_idx
from .tiny_imagenet import TINY_IMAGENET_CACHE_NAME, TINY_IMAGENET_URL

#: Former name of :data:`~drive_lab.paths.DEFAULT_DATA_ROOT` (``./data``), kept for old code.
DEFAULT_ROOT = DEFAULT_DATA_ROOT

__all__ = [
    "CROP_PADDING",
    "DATA_ENV_VAR",
    "DATASETS",
    "DEBIAN_FASHION_MNIST_DIR",
    "DEFAULT_DATA_ROOT",
    "DatasetInfo",
    "DatasetNotFoundError",
    "ImageData",
    "RawSplit",
    "TensorData",
    "TextData",
    "augment_batch",
    "check_available",
    "dataset_info",
    "load",
    "read_idx",
    "register_dataset",
]
