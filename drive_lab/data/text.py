"""Text classification data as token-id tensors on the compute device.

A text data set's reader returns the raw strings (:class:`RawText`); :func:`load_text`
turns them into fixed-length sequences of token ids, the way a bag-of-words-to-sequence
baseline does (no external tokeniser, so the result depends on nothing but the files):

1. :func:`tokenize`: HTML entities decoded, lower case, words ``[a-z0-9]+`` (with inner
   apostrophes); everything else separates words.
2. :func:`build_vocabulary`: the ``vocab_size - 2`` most frequent words of the *full*
   training split (ties broken alphabetically), whatever ``subset`` is, so a subset sees the
   same ids as the full data. Id 0 is :data:`PAD` (padding), id 1 :data:`UNKNOWN`.
3. :func:`encode`: each text's first ``sequence_length`` words as ids, padded with 0.

The result is a :class:`TextData`: int64 ``(N, sequence_length)`` inputs, batched like
images (:class:`~drive_lab.data.tensor_data.TensorData`), never augmented.
"""
from __future__ import annotations

import collections
import html
import os
import re
from dataclasses import dataclass

import numpy as np
import torch

from ..runtime import resolve_device
from .tensor_data import TensorData, check_positive_int

#: Id of the padding token (an all-padding position carries no word).
PAD = 0
#: Id of every word outside the vocabulary.
UNKNOWN = 1

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")


@dataclass
class RawText:
    """Texts and labels as read from disk: ``texts_*`` lists of str, ``y_*`` int64 ``(N,)``."""

    texts_train: list[str]
    y_train: np.ndarray
    texts_test: list[str]
    y_test: np.ndarray
    num_classes: int


@dataclass(repr=False)
class TextData(TensorData):
    """Token ids of a training and a test split on one device.

    Attributes (besides :class:`~drive_lab.data.tensor_data.TensorData`'s):
        x_train, x_test: int64 ``(N, sequence_length)`` token ids, :data:`PAD` after the text.
        vocabulary: the words of ids ``2 ..`` in order (``vocabulary[i - 2]`` is id ``i``).
    """

    vocabulary: tuple[str, ...]

    @property
    def vocab_size(self) -> int:
        """Number of ids, padding and unknown included."""
        return len(self.vocabulary) + 2

    @property
    def sequence_length(self) -> int:
        """Tokens per example."""
        return int(self.x_train.shape[1])

    def decode(self, ids: torch.Tensor) -> str:
        """The words of one ``(sequence_length,)`` id row (``<unk>`` for unknown, padding dropped)."""
        words = []
        for i in ids.tolist():
            if i == PAD:
                continue
            words.append("<unk>" if i == UNKNOWN else self.vocabulary[i - 2])
        return " ".join(words)


def tokenize(text: str) -> list[str]:
    """The lower-case words of ``text`` (HTML entities decoded; ``\\`` and punctuation separate words)."""
    return _WORD.findall(html.unescape(text.replace("\\", " ")).lower())


def build_vocabulary(texts: list[str], vocab_size: int) -> tuple[str, ...]:
    """The ``vocab_size - 2`` most frequent words of ``texts``, most frequent first, ties alphabetical."""
    vocab_size = check_positive_int(vocab_size, "vocab_size")
    if vocab_size < 3:
        raise ValueError(f"vocab_size must be at least 3 (padding, unknown and one word); got {vocab_size}")
    counts = collections.Counter(word for text in texts for word in tokenize(text))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return tuple(word for word, _ in ranked[: vocab_size - 2])


def encode(texts: list[str], vocabulary: tuple[str, ...], sequence_length: int) -> np.ndarray:
    """int64 ``(len(texts), sequence_length)``: each text's first words as ids, then :data:`PAD`."""
    sequence_length = check_positive_int(sequence_length, "sequence_length")
    index = {word: i + 2 for i, word in enumerate(vocabulary)}
    ids = np.full((len(texts), sequence_length), PAD, dtype=np.int64)
    for row, text in enumerate(texts):
        words = tokenize(text)[:sequence_length]
        ids[row, : len(words)] = [index.get(word, UNKNOWN) for word in words]
    return ids


# Encoded data sets of this process: (ids, labels, vocabulary) per key; at most two kept.
_ENCODED_CACHE: dict[tuple, tuple] = {}
_CACHE_SIZE = 2


def encoded(name: str, root: str | os.PathLike | None, download: bool) -> tuple:
    """``(train ids, train labels, test ids, test labels, num_classes, vocabulary)`` of ``name``, cached."""
    from .registry import dataset_info, dataset_source
    from .search import search_key

    info, source = dataset_info(name), dataset_source(name)
    key = (name, *search_key(root), *source.cache_key())
    if key in _ENCODED_CACHE:
        return _ENCODED_CACHE[key]
    raw = source.read(name, root, download)
    for split, labels in (("training", raw.y_train), ("test", raw.y_test)):
        if labels.shape[0] == 0:
            raise ValueError(f"the {split} split of {name} is empty; check the data set's files")
        if labels.min() < 0 or labels.max() >= raw.num_classes:
            raise ValueError(f"{name} {split} labels must lie in 0..{raw.num_classes - 1}; "
                             f"found {int(labels.min())}..{int(labels.max())}")
    vocabulary = build_vocabulary(raw.texts_train, info.vocab_size)
    result = (encode(raw.texts_train, vocabulary, info.sequence_length), raw.y_train.astype(np.int64),
              encode(raw.texts_test, vocabulary, info.sequence_length), raw.y_test.astype(np.int64),
              raw.num_classes, vocabulary)
    if source.keep_in_memory:
        while len(_ENCODED_CACHE) >= _CACHE_SIZE:
            _ENCODED_CACHE.pop(next(iter(_ENCODED_CACHE)))
        _ENCODED_CACHE[key] = result
    return result


def to_text_data(name: str, encoded_split: tuple, train_index, test_index, device: str | torch.device) -> TextData:
    """A :class:`TextData` of the chosen examples of ``encoded_split`` (see :func:`encoded`) on ``device``."""
    x_train, y_train, x_test, y_test, num_classes, vocabulary = encoded_split
    target = resolve_device(device)
    as_tensor = lambda array: torch.from_numpy(np.ascontiguousarray(array)).to(target)  # noqa: E731
    return TextData(name=name, x_train=as_tensor(x_train[train_index]), y_train=as_tensor(y_train[train_index]),
                    x_test=as_tensor(x_test[test_index]), y_test=as_tensor(y_test[test_index]),
                    num_classes=num_classes, augment=False, vocabulary=vocabulary)
