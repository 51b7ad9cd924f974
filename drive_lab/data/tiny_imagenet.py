"""``"tiny_imagenet"``: Tiny ImageNet read from an unzipped ``tiny-imagenet-200`` folder.

100000 train / 10000 val 64x64 colour images, 200 classes; the labelled ``val``
split serves as the test set.  Each search folder (see :mod:`~drive_lab.data.search`)
is tried as the data set folder, then its ``tiny-imagenet-200/`` and
``tiny_imagenet/`` sub-folders.  Both the official layout
(``train/<wnid>/images/*.JPEG``, ``val/images/`` + ``val/val_annotations.txt``) and a
plain image-folder layout (``train/<wnid>/*``, ``val/<wnid>/*``) are read; images of
another size or mode are converted to 64x64 RGB.  It cannot be downloaded by
drive_lab (:data:`TINY_IMAGENET_URL`).

Decoding some 110000 image files is slow, so the decoded arrays are cached in
:data:`TINY_IMAGENET_CACHE_NAME` inside the data set folder, tagged with a
fingerprint of the file listing (a changed folder is decoded again); a read-only
folder just goes uncached.  Crop+flip augmentation is on by default.
"""
from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np

from ..paths import DATA_ENV_VAR, atomic_write
from .registry import DatasetInfo, DatasetNotFoundError, RawSplit, register_dataset
from .search import folders_searched, search_roots

#: File name of the decoded Tiny ImageNet cache written inside its root.
TINY_IMAGENET_CACHE_NAME = "drive_lab_tiny_imagenet_cache.npz"
TINY_IMAGENET_URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"

INFO = DatasetInfo(
    3, 64, 200,
    "Tiny ImageNet 64x64 colour images, 200 classes (100000 train / 10000 val used as test)",
    default_augment=True,
)

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
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            if image.size != (size, size):
                image = image.resize((size, size), Image.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as error:  # truncated or not an image
        raise ValueError(f"cannot decode the image {path} ({error}); remove or replace the file") from None


def _decode_images(items: list[tuple[Path, int]], size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(path, label)`` items -> uint8 ``(N, 3, size, size)`` images and int64 ``(N,)`` labels."""
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
    """Write ``arrays`` to ``cache`` (an ``.npz``) atomically; silently skip if that fails.

    The cache only saves time, so a read-only or full folder is not an error.
    """
    try:
        with atomic_write(cache, "wb") as stream:
            np.savez(stream, **arrays)
    except OSError:
        pass


def _tiny_imagenet_root(root: str | os.PathLike | None) -> Path:
    """The first search folder with a ``train/`` sub-folder; else :class:`DatasetNotFoundError`."""
    folders = []
    for base in search_roots(root):
        folders += [base, base / "tiny-imagenet-200", base / "tiny_imagenet"]
    found = next((f for f in folders if (f / "train").is_dir()), None)
    if found is None:
        raise DatasetNotFoundError(
            "Tiny ImageNet was not found (a folder with train/<wnid>/... and val/ sub-folders) and "
            f"cannot be downloaded by drive_lab. Download {TINY_IMAGENET_URL}, unzip it, then pass "
            f"root=<path to tiny-imagenet-200> or set {DATA_ENV_VAR} to the folder containing it.\n"
            + folders_searched(folders)
        )
    return found


def _read_tiny_imagenet(name: str, root: str | os.PathLike | None, download: bool) -> RawSplit:
    """Tiny ImageNet as uint8 ``(N, 3, 64, 64)`` images (values 0..255) and int64 labels.

    Labels are indices into the sorted ``train/`` class folders; ``num_classes`` is how
    many there are (a :class:`UserWarning` when not 200).  ``download`` is ignored:
    there is nothing to download it with.
    """
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
        x_train, y_train = _decode_images(train, INFO.image_size)
        x_test, y_test = _decode_images(val, INFO.image_size)
        arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
        _write_cache(cache, fingerprint=np.array(fingerprint), **arrays)

    if len(classes) != INFO.num_classes:
        warnings.warn(
            f"Tiny ImageNet at {folder} has {len(classes)} class folders, not {INFO.num_classes}; "
            f"using num_classes={len(classes)}",
            UserWarning,
            stacklevel=3,
        )
    return RawSplit(
        arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"],
        max_value=255, num_classes=len(classes),
    )


# Not kept in memory: the folder may change between loads, and the disk cache above
# already makes a reload cheap.
register_dataset("tiny_imagenet", INFO, _read_tiny_imagenet, keep_in_memory=False)
