"""``"cifar10"`` / ``"cifar100"``: CIFAR read from its "python version" pickle batches.

50000 train / 10000 test 32x32 colour images (CIFAR-100: its 100 fine labels), in
the folders ``cifar-10-batches-py/`` / ``cifar-100-python/`` that torchvision
downloads (the archives from https://www.cs.toronto.edu/~kriz/cifar.html).  Each
search folder (see :mod:`~drive_lab.data.search`) is tried with that sub-folder,
then as the batch folder itself.  With ``download=True`` torchvision fetches the
archive when it is not found.  Crop+flip augmentation is on by default.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from ..paths import DATA_ENV_VAR
from .registry import DatasetInfo, DatasetNotFoundError, RawSplit, dataset_info, register_dataset
from .search import download_root, folders_searched, search_roots

CIFAR10_INFO = DatasetInfo(
    3, 32, 10,
    "CIFAR-10 32x32 colour images, 10 classes (50000 train / 10000 test)",
    default_augment=True,
)
CIFAR100_INFO = DatasetInfo(
    3, 32, 100,
    "CIFAR-100 32x32 colour images, 100 fine classes (50000 train / 10000 test)",
    default_augment=True,
)

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


def _read_cifar(name: str, root: str | os.PathLike | None, download: bool) -> RawSplit:
    """CIFAR ``name`` as uint8 ``(N, 3, 32, 32)`` images (values 0..255) and int64 labels.

    Downloads through torchvision into ``root`` (default ``./data``) when not found and
    ``download``; otherwise :class:`DatasetNotFoundError` saying how to get the files.
    """
    folder_name, train_files, test_files, label_key = _CIFAR_LAYOUT[name]
    folders = []
    for base in search_roots(root):
        folders += [base / folder_name, base]  # the base may itself be the batch folder
    found = next((f for f in folders if all((f / n).is_file() for n in train_files + test_files)), None)
    if found is None and download:
        import torchvision

        target = download_root(root)
        dataset_class = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
        dataset_class(str(target), train=True, download=True)  # one archive holds both splits
        found = target / folder_name
    if found is None:
        where = download_root(root)
        raise DatasetNotFoundError(
            f"{name} was not found: expected the folder {where / folder_name} with "
            f"{', '.join(train_files + test_files)} (the 'python version' from "
            "https://www.cs.toronto.edu/~kriz/cifar.html). Get it by one of:\n"
            "  * pass download=True to fetch it with torchvision (needs internet)\n"
            "  * pass root=<folder containing " + folder_name + ">\n"
            f"  * set the environment variable {DATA_ENV_VAR}=<folder containing {folder_name}>\n"
            + folders_searched(folders)
        )

    def read(files: list[str]) -> tuple[np.ndarray, np.ndarray]:
        parts = [_read_cifar_file(found / f, label_key) for f in files]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    x_train, y_train = read(train_files)
    x_test, y_test = read(test_files)
    return RawSplit(x_train, y_train, x_test, y_test, max_value=255, num_classes=dataset_info(name).num_classes)



register_dataset("cifar10", CIFAR10_INFO, _read_cifar)
register_dataset("cifar100", CIFAR100_INFO, _read_cifar)
