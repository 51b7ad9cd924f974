"""``"digits"``: scikit-learn's bundled 8x8 handwritten digits.

No download and no files to find (``root`` is ignored): the default for quick
experiments.  1797 grey images with integer values ``0..16``, split once by a
fixed seed into 1438 train / 359 test.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .registry import DatasetInfo, RawSplit, register_dataset

# Fixed seed: the train/test split must be the same on every call,
# independent of any experiment seed.
_DIGITS_SPLIT_SEED = 0
_DIGITS_TEST_FRACTION = 0.2

INFO = DatasetInfo(
    1, 8, 10,
    "scikit-learn's bundled 8x8 handwritten digits (1797 images, no download); "
    "fixed split of 1438 train / 359 test",
)


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


def _read_digits(name: str = "digits", root: str | os.PathLike | None = None, download: bool = False) -> RawSplit:
    """scikit-learn's digits, 1797 8x8 images with values 0..16, fixed 1438/359 split.

    A registry reader; its arguments are ignored (nothing to find or download).
    """
    table = _digits_table()
    images = table[:, :64].astype(np.uint8).reshape(-1, 1, 8, 8)  # (1797, 1, 8, 8), values 0..16
    labels = table[:, 64].astype(np.int64)
    order = np.random.default_rng(_DIGITS_SPLIT_SEED).permutation(labels.shape[0])
    num_test = round(_DIGITS_TEST_FRACTION * labels.shape[0])
    test, train = order[:num_test], order[num_test:]
    return RawSplit(images[train], labels[train], images[test], labels[test], max_value=16, num_classes=10)


register_dataset("digits", INFO, _read_digits)
