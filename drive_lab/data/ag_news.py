"""``"ag_news"``: the AG News topic classification set (Zhang, Zhao and LeCun, 2015).

120,000 training and 7,600 test news items in 4 balanced classes (World, Sports, Business,
Sci/Tech). The files are the CSV release of the paper (``ag_news_csv/train.csv`` and
``test.csv``): no header, one row per item, ``"class","title","description"`` with the
class counted from 1. They are looked for in every search folder (see
:mod:`~drive_lab.data.search`) and its ``ag_news_csv/`` and ``ag_news/`` sub-folders.

With ``download=True`` they are fetched through Hugging Face ``datasets``
(``pip install datasets``; the ``fancyzhx/ag_news`` data set, the same items with the title
and description joined in one ``text`` column, classes from 0) and written in the CSV
format above into ``<root>/ag_news_csv/`` (title = the joined text, description empty), so
the reader sees one format either way. The text becomes token ids as
:mod:`~drive_lab.data.text` describes: :data:`VOCAB_SIZE` ids, :data:`SEQUENCE_LENGTH`
tokens per item (title then description; the median item has about 38 words).
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from ..paths import DATA_ENV_VAR
from .registry import DatasetInfo, DatasetNotFoundError, register_dataset
from .search import download_root, folders_searched, search_roots
from .text import RawText

#: Ids in the vocabulary (padding and unknown included).
VOCAB_SIZE = 20_000
#: Tokens per item (longer items are cut, shorter ones padded).
SEQUENCE_LENGTH = 64
#: The class names, in label order.
CLASSES = ("World", "Sports", "Business", "Sci/Tech")
#: The Hugging Face data set that ``download=True`` reads.
HF_DATASET = "fancyzhx/ag_news"

FOLDER = "ag_news_csv"
FILES = ("train.csv", "test.csv")

INFO = DatasetInfo(
    0, 0, len(CLASSES),
    f"AG News topic classification (120000 train / 7600 test news items, 4 classes), "
    f"as {SEQUENCE_LENGTH} token ids from a {VOCAB_SIZE}-id vocabulary",
    vocab_size=VOCAB_SIZE, sequence_length=SEQUENCE_LENGTH,
)


def read_csv(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """``(texts, labels)`` of one AG News CSV file: text = title + " " + description, labels from 0.

    ``ValueError`` naming the file and row for a row that is not ``class,title,description``
    with a class in 1..4.
    """
    path = Path(path)
    texts, labels = [], []
    with open(path, newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if len(row) != 3 or not row[0].strip().isdigit() or not 1 <= int(row[0]) <= len(CLASSES):
                raise ValueError(f"malformed AG News file {path}, row {number}: expected "
                                 f'"class","title","description" with class 1..{len(CLASSES)}; got {row[:3]!r}')
            labels.append(int(row[0]) - 1)
            texts.append(f"{row[1]} {row[2]}".strip())
    return texts, np.asarray(labels, dtype=np.int64)


def download(target: Path) -> Path:
    """Fetch AG News through Hugging Face ``datasets`` into ``target/ag_news_csv`` (the CSV format)."""
    try:
        import datasets
    except ImportError:
        raise DatasetNotFoundError(
            "ag_news: download=True fetches AG News through Hugging Face datasets, which is not "
            "installed; pip install datasets (or get ag_news_csv/train.csv and test.csv yourself)"
        ) from None
    try:
        splits = datasets.load_dataset(HF_DATASET)
    except Exception as error:  # noqa: BLE001  (offline, hub errors: all mean "no files")
        raise DatasetNotFoundError(f"ag_news: downloading {HF_DATASET!r} through Hugging Face datasets "
                                   f"failed ({type(error).__name__}: {error}); it needs internet") from error
    folder = target / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for split, file in zip(("train", "test"), FILES):
        partial = folder / f".{file}.partial"
        with open(partial, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
            for text, label in zip(splits[split]["text"], splits[split]["label"]):
                writer.writerow([int(label) + 1, text, ""])
        partial.replace(folder / file)  # a file that exists is complete
    return folder


def _read_ag_news(name: str, root: str | os.PathLike | None, download_allowed: bool) -> RawText:
    """The registry reader: AG News texts and labels; downloads when allowed and not found."""
    folders = []
    for base in search_roots(root):
        folders += [base / FOLDER, base / "ag_news", base]
    found = next((f for f in folders if all((f / n).is_file() for n in FILES)), None)
    if found is None and download_allowed:
        found = download(download_root(root))
    if found is None:
        where = download_root(root)
        raise DatasetNotFoundError(
            f"ag_news was not found: expected the folder {where / FOLDER} with {', '.join(FILES)} "
            '(rows "class","title","description", class 1..4). Get it by one of:\n'
            "  * pass download=True to fetch it through Hugging Face datasets "
            "(pip install datasets; needs internet)\n"
            f"  * pass root=<folder containing {FOLDER}>\n"
            f"  * set the environment variable {DATA_ENV_VAR}=<folder containing {FOLDER}>\n"
            + folders_searched(folders)
        )
    texts_train, y_train = read_csv(found / FILES[0])
    texts_test, y_test = read_csv(found / FILES[1])
    return RawText(texts_train, y_train, texts_test, y_test, num_classes=len(CLASSES))


register_dataset("ag_news", INFO, _read_ag_news)
