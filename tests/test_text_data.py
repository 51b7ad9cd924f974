"""Text classification: AG News files, tokens and vocabulary, the text Transformer, a DRIVE run on text.

Everything runs on small local files in AG News's CSV format (no download); the download
path is exercised with a stand-in for Hugging Face ``datasets``.
"""
import csv
import sys
import types

import numpy as np
import pytest
import torch

import drive_lab
from drive_lab import models
from drive_lab.data import DatasetNotFoundError, ag_news, text

TOPICS = {1: "election minister war talks president", 2: "match team season coach goal",
          3: "stocks market profit oil shares", 4: "software internet computer space research"}


def write_ag_news(folder, rows_per_class=(20, 8), seed=0):
    """A tiny AG News in the release's format: train.csv and test.csv under folder/ag_news_csv."""
    rng = np.random.default_rng(seed)
    target = folder / "ag_news_csv"
    target.mkdir(parents=True, exist_ok=True)
    for name, count in zip(ag_news.FILES, rows_per_class):
        with open(target / name, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
            for i in range(4 * count):
                label = i % 4 + 1
                words = TOPICS[label].split()
                title = " ".join(rng.choice(words, 3)).title()
                writer.writerow([label, title, " ".join(rng.choice(words + ["the", "of"], 10)) + ", it&#39;s \\ new"])
    return folder


def test_tokenize_decodes_entities_lowercases_and_splits_on_punctuation_and_backslashes():
    assert text.tokenize("Wall St. Bears Claw Back (Reuters) it&#39;s \\ U.S.-led") == [
        "wall", "st", "bears", "claw", "back", "reuters", "it's", "u", "s", "led"]


def test_vocabulary_keeps_the_most_frequent_words_with_alphabetical_ties():
    # counts: a 3, b 2, c 2, d 1 -> with 2 word slots (vocab_size 4): a, then b before c
    assert text.build_vocabulary(["b a a", "c b a c d"], vocab_size=4) == ("a", "b")
    assert text.build_vocabulary(["y x"], vocab_size=10) == ("x", "y")
    with pytest.raises(ValueError, match="vocab_size must be at least 3"):
        text.build_vocabulary(["a"], vocab_size=2)


def test_encode_maps_words_to_ids_cuts_long_texts_and_pads_short_ones():
    ids = text.encode(["a z b a b", "", "b"], ("a", "b"), sequence_length=4)
    # id 0 padding, 1 unknown, 2 = "a", 3 = "b"
    assert ids.tolist() == [[2, 1, 3, 2], [0, 0, 0, 0], [3, 0, 0, 0]]
    assert ids.dtype == np.int64


def test_read_csv_joins_title_and_description_and_counts_classes_from_zero(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text('"3","Oil rises","Prices, up again"\n"1","Talks","end"\n', encoding="utf-8")
    texts, labels = ag_news.read_csv(path)
    assert texts == ["Oil rises Prices, up again", "Talks end"]
    assert labels.tolist() == [2, 0]
    path.write_text('"3","Oil rises","up"\n"9","bad class","x"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"row 2.*class 1..4"):
        ag_news.read_csv(path)


def test_load_gives_token_ids_with_a_training_vocabulary_and_stratified_subsets(tmp_path):
    root = write_ag_news(tmp_path)
    data = drive_lab.data.load("ag_news", root=root)
    assert isinstance(data, drive_lab.data.TextData)
    assert data.x_train.shape == (80, ag_news.SEQUENCE_LENGTH) and data.x_test.shape == (32, ag_news.SEQUENCE_LENGTH)
    assert data.x_train.dtype == torch.long and data.y_train.tolist()[:4] == [0, 1, 2, 3]
    # 5 topic words x 4 classes + "the", "of", "it's", "new": 24 words, so no unknown id in training
    assert len(data.vocabulary) == 24 and int((data.x_train == text.UNKNOWN).sum()) == 0
    assert data.decode(data.x_train[0]).endswith("it's new")
    subset = drive_lab.data.load("ag_news", root=root, subset=8, test_subset=4)
    assert sorted(subset.y_train.tolist()) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert subset.vocabulary == data.vocabulary  # the full training split decides the ids
    with pytest.raises(ValueError, match="augment=True is for images"):
        drive_lab.data.load("ag_news", root=root, augment=True)


def test_missing_files_say_where_they_were_looked_for_and_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.delenv("DRIVE_LAB_DATA", raising=False)
    with pytest.raises(DatasetNotFoundError, match="ag_news_csv") as caught:
        drive_lab.data.load("ag_news", root=tmp_path / "nothing")
    assert "download=True" in str(caught.value) and "Folders searched" in str(caught.value)
    monkeypatch.setitem(sys.modules, "datasets", None)  # `import datasets` raises ImportError
    with pytest.raises(DatasetNotFoundError, match="pip install datasets"):
        drive_lab.data.load("ag_news", root=tmp_path / "nothing", download=True)


def test_download_writes_the_release_format_that_the_reader_reads(tmp_path, monkeypatch):
    splits = {"train": {"text": ['Oil, "crude" rises', "Team wins", "Stocks fall", "Chips"], "label": [2, 1, 2, 3]},
              "test": {"text": ["Talks end", "Goal!"], "label": [0, 1]}}
    calls = []
    fake = types.ModuleType("datasets")
    fake.load_dataset = lambda name: calls.append(name) or splits
    monkeypatch.setitem(sys.modules, "datasets", fake)
    data = drive_lab.data.load("ag_news", root=tmp_path, download=True)
    assert calls == [ag_news.HF_DATASET]
    texts, labels = ag_news.read_csv(tmp_path / "ag_news_csv" / "train.csv")
    assert texts == splits["train"]["text"] and labels.tolist() == splits["train"]["label"]
    assert data.y_test.tolist() == [0, 1] and data.decode(data.x_train[0]) == "oil crude rises"


def test_the_text_transformer_prunes_every_linear_weight_and_keeps_the_embedding_dense():
    torch.manual_seed(0)
    model = models.build("text_transformer", num_classes=4, vocab_size=100, sequence_length=12)
    width = 64
    # per block: q, k, v, output (w x w each) + MLP (w x 2w, 2w x w) = 8 w^2; two blocks; head w x 4
    assert models.count_prunable(model) == 2 * 8 * width ** 2 + width * 4
    assert torch.count_nonzero(model.embed.weight[0]) == 0  # the padding id
    ids = torch.tensor([[5, 7, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0]])
    assert model(ids).shape == (1, 4)
    with pytest.raises(ValueError, match="int64 token ids"):
        model(torch.zeros(1, 12))


@pytest.mark.parametrize("model, dataset, message", [
    ("mlp", "ag_news", "reads images, not token ids"),
    ("text_transformer", "fashion_mnist", "reads token ids"),
])
def test_a_model_and_data_set_of_different_kinds_are_refused_before_any_work(model, dataset, message):
    with pytest.raises(ValueError, match=message):
        drive_lab.phases.check_model_fits(model, dataset)


def test_synflow_is_refused_on_text_with_the_methods_that_work():
    with pytest.raises(ValueError, match="synflow needs a continuous input.*snip"):
        drive_lab.RunConfig(method="synflow", dataset="ag_news", model="text_transformer")


def test_drive_prunes_and_trains_the_text_transformer_on_a_local_ag_news(tmp_path, monkeypatch):
    monkeypatch.setenv("DRIVE_LAB_RESULTS", str(tmp_path / "results"))
    root = write_ag_news(tmp_path, rows_per_class=(40, 10))
    config = drive_lab.RunConfig(method="drive", dataset="ag_news", model="text_transformer", data_root=str(root),
                                 sparsity=0.8, warmup_epochs=1, iterations=4, epochs=6, batch_size=16, lr=0.05,
                                 device="cpu", seed=0)
    result = drive_lab.run(config)
    assert result.prunable_weights == 2 * 8 * 64 ** 2 + 64 * 4
    assert abs(result.density - 0.2) < 1e-3
    assert "embed.weight" not in result.layer_density
    # Each topic has its own words: a working pipeline separates them well above chance (25%).
    assert result.final_test_accuracy > 0.5
