"""The registry of data sets: what each one is and which function reads it.

Each source module (:mod:`~drive_lab.data.digits`, :mod:`~drive_lab.data.fashion_mnist`,
:mod:`~drive_lab.data.cifar`, :mod:`~drive_lab.data.tiny_imagenet`) calls
:func:`register_dataset` once per data set at import time with its
:class:`DatasetInfo` and its reader.  A reader returns the undecoded integer
pixels as a :class:`RawSplit`; :func:`drive_lab.data.load` does the rest
(caching, statistics, subsets, normalisation, moving to the device).

:data:`DATASETS` maps each name to its :class:`DatasetInfo`, in registration
order (which is the order of the choices shown to users).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class DatasetInfo:
    """Static description of a supported data set.

    Images: ``in_channels`` and ``image_size`` (height = width in pixels).
    ``default_augment`` is whether :func:`load` turns on crop+flip augmentation when
    ``augment`` is not given. Text (``vocab_size`` set): every example is
    ``sequence_length`` token ids in ``0 .. vocab_size - 1``; ``in_channels`` and
    ``image_size`` are 0 there.
    """

    in_channels: int
    image_size: int
    num_classes: int
    description: str
    default_augment: bool = False
    vocab_size: int | None = None
    sequence_length: int | None = None

    @property
    def is_text(self) -> bool:
        """Whether the examples are token-id sequences (else images)."""
        return self.vocab_size is not None

    def model_inputs(self) -> dict:
        """The input-size arguments of :func:`drive_lab.models.build` for this data set."""
        if self.is_text:
            return {"vocab_size": self.vocab_size, "sequence_length": self.sequence_length}
        return {"in_channels": self.in_channels, "image_size": self.image_size}


class DatasetNotFoundError(FileNotFoundError):
    """The data set's files are not on this machine (and were not downloaded)."""


@dataclass
class RawSplit:
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


#: ``reader(name, root, download) -> RawSplit`` (a text data set's: ``RawText``): ``name`` is the registered name (one
#: reader may serve several data sets), ``root`` the caller's folder or ``None``,
#: ``download`` whether fetching missing files is allowed.
Reader = Callable[[str, str | os.PathLike | None, bool], RawSplit]


def _no_cache_key() -> tuple:
    return ()


@dataclass(frozen=True)
class DataSource:
    """A registered data set: its :class:`DatasetInfo`, its reader and how to cache it.

    ``keep_in_memory``: whether :func:`load` may keep the decoded arrays for later
    calls in this process.  ``cache_key()``: extra values (besides the name and the
    search folders) that decide which files the reader reads, so the in-process cache
    is not reused when they change.
    """

    name: str
    info: DatasetInfo
    read: Reader
    keep_in_memory: bool = True
    cache_key: Callable[[], tuple] = _no_cache_key


#: name -> :class:`DatasetInfo` of every registered data set, in registration order.
DATASETS: dict[str, DatasetInfo] = {}
_SOURCES: dict[str, DataSource] = {}


def register_dataset(
    name: str,
    info: DatasetInfo,
    reader: Reader,
    *,
    keep_in_memory: bool = True,
    cache_key: Callable[[], tuple] | None = None,
) -> DataSource:
    """Make data set ``name`` known to :func:`dataset_info` and :func:`load`.

    ``keep_in_memory`` (default ``True``) and ``cache_key`` (default: no extra
    values) are described in :class:`DataSource`.  ``ValueError`` if ``name`` is
    already registered.  Returns the new :class:`DataSource`.
    """
    if name in _SOURCES:
        raise ValueError(f"data set {name!r} is already registered")
    source = DataSource(name, info, reader, keep_in_memory, cache_key or _no_cache_key)
    _SOURCES[name] = source
    DATASETS[name] = info
    return source


def dataset_info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` for ``name``; ``ValueError`` for an unknown name."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown data set {name!r}; valid choices: {', '.join(repr(n) for n in DATASETS)}"
        ) from None


def dataset_source(name: str) -> DataSource:
    """The :class:`DataSource` registered for ``name``; ``ValueError`` for an unknown name."""
    dataset_info(name)  # the error listing the valid names
    return _SOURCES[name]
