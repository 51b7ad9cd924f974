"""``"fashion_mnist"``: Fashion-MNIST read from its IDX files.

60000 train / 10000 test 28x28 grey images of clothing, 10 classes.  The four
IDX files (plain or ``.gz``) are looked for in every search folder (see
:mod:`~drive_lab.data.search`), its ``fashion_mnist/`` and torchvision's
``FashionMNIST/raw/`` sub-folders, then in :data:`DEBIAN_FASHION_MNIST_DIR`
(``apt-get install dataset-fashion-mnist`` provides them offline).  With
``download=True`` torchvision fetches them when they are not found.
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from ..paths import DATA_ENV_VAR
from .registry import DatasetInfo, DatasetNotFoundError, RawSplit, register_dataset
from .search import download_root, folders_searched, search_roots

#: Where the Debian/Ubuntu package ``dataset-fashion-mnist`` installs the IDX files.
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

INFO = DatasetInfo(
    1, 28, 10,
    "Fashion-MNIST 28x28 grey clothing images (60000 train / 10000 test)",
)

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
    int32 per dimension.  ``expected_magic``: the magic number required (``None``,
    the default: any unsigned-byte IDX).  Returns a uint8 array of the header's shape;
    ``ValueError`` naming the file if it is malformed.
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
    """Folders that may hold the IDX files, in search order (the Debian folder last)."""
    folders = []
    for base in search_roots(root):
        folders += [base, base / "fashion_mnist", base / "FashionMNIST" / "raw"]
    folders.append(DEBIAN_FASHION_MNIST_DIR)
    return folders


def _read_fashion_mnist(name: str, root: str | os.PathLike | None, download: bool) -> RawSplit:
    """The four IDX files as uint8 ``(N, 1, 28, 28)`` images (values 0..255) and int64 labels.

    Downloads through torchvision into ``root`` (default ``./data``) when not found and
    ``download``; otherwise :class:`DatasetNotFoundError` saying how to get the files.
    """
    folders = _fashion_mnist_folders(root)
    found = next((f for f in folders if all(_idx_file(f, stem) for stem in _IDX_FILES.values())), None)
    if found is None and download:
        import torchvision

        target = download_root(root)
        for train in (True, False):
            torchvision.datasets.FashionMNIST(str(target), train=train, download=True)
        found = target / "FashionMNIST" / "raw"
    if found is None:
        raise DatasetNotFoundError(
            "Fashion-MNIST IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
            "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) were not found. Get them by one of:\n"
            "  * sudo apt-get install dataset-fashion-mnist  (installs them in "
            f"{DEBIAN_FASHION_MNIST_DIR})\n"
            "  * pass root=<folder holding the files>\n"
            f"  * set the environment variable {DATA_ENV_VAR}=<folder>\n"
            "  * pass download=True to fetch them with torchvision (needs internet)\n"
            + folders_searched(folders)
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
    return RawSplit(
        x_train[:, None], y_train.astype(np.int64), x_test[:, None], y_test.astype(np.int64),
        max_value=255, num_classes=10,
    )


# The Debian folder is looked up when reading (it can be pointed elsewhere, as the tests
# do), so a change of it must not reuse data read from the old one.
register_dataset(
    "fashion_mnist", INFO, _read_fashion_mnist, cache_key=lambda: (str(DEBIAN_FASHION_MNIST_DIR),)
)
