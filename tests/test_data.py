"""Tests for drive_lab.data: loaders (from files made here), normalisation, batching, augmentation."""
from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from drive_lab import data
from drive_lab.data import DATASETS, ImageData, augment_batch, dataset_info, load

VALID_NAMES = ["digits", "fashion_mnist", "cifar10", "cifar100", "tiny_imagenet"]


@pytest.fixture(autouse=True)
def _isolated_search_paths(monkeypatch, tmp_path):
    """No test sees the user's DRIVE_LAB_DATA or a ./data folder in the repo."""
    monkeypatch.delenv(data.DATA_ENV_VAR, raising=False)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


def _unnormalise(images: torch.Tensor, result: ImageData) -> torch.Tensor:
    """Back to pixels in [0, 1]."""
    mean = torch.tensor(result.mean).view(1, -1, 1, 1)
    std = torch.tensor(result.std).view(1, -1, 1, 1)
    return images * std + mean


# --- registry -------------------------------------------------------------------


def test_registry_matches_documented_shapes():
    expected = {
        "digits": (1, 8, 10),
        "fashion_mnist": (1, 28, 10),
        "cifar10": (3, 32, 10),
        "cifar100": (3, 32, 100),
        "tiny_imagenet": (3, 64, 200),
    }
    assert set(DATASETS) == set(expected) | {"ag_news"}
    for name, (channels, size, classes) in expected.items():
        info = dataset_info(name)
        assert (info.in_channels, info.image_size, info.num_classes) == (channels, size, classes)
        assert info.description and not info.is_text
    text = dataset_info("ag_news")  # 4 topics as 64 token ids from a 20,000-id vocabulary
    assert text.is_text and text.num_classes == 4
    assert text.model_inputs() == {"vocab_size": 20_000, "sequence_length": 64}


@pytest.mark.parametrize("call", [lambda: dataset_info("mnist"), lambda: load("imagenet")])
def test_unknown_name_lists_valid_names(call):
    with pytest.raises(ValueError) as error:
        call()
    for name in VALID_NAMES:
        assert name in str(error.value)


# --- digits ---------------------------------------------------------------------


def test_digits_shapes_dtypes_and_split():
    digits = load("digits")
    assert digits.x_train.shape == (1438, 1, 8, 8)
    assert digits.x_test.shape == (359, 1, 8, 8)
    assert digits.y_train.shape == (1438,) and digits.y_test.shape == (359,)
    assert digits.x_train.dtype == torch.float32 and digits.y_train.dtype == torch.int64
    assert digits.device == torch.device("cpu")
    assert (digits.in_channels, digits.image_size, digits.num_classes) == (1, 8, 10)
    assert digits.augment is False
    for labels in (digits.y_train, digits.y_test):
        assert labels.min() >= 0 and labels.max() <= 9
    # The split is a partition of sklearn's 1797 digits.
    from sklearn.datasets import load_digits

    target = load_digits().target
    combined = torch.cat([digits.y_train, digits.y_test])
    assert torch.equal(torch.bincount(combined, minlength=10), torch.from_numpy(np.bincount(target)))


def test_digits_normalised_with_training_statistics():
    digits = load("digits")
    per_channel_mean = digits.x_train.mean(dim=(0, 2, 3))
    per_channel_std = digits.x_train.std(dim=(0, 2, 3), unbiased=False)
    assert torch.allclose(per_channel_mean, torch.zeros(1), atol=1e-5)
    assert torch.allclose(per_channel_std, torch.ones(1), atol=1e-4)
    # Raw digits pixels are integers 0..16, scaled by 1/16.
    for images in (digits.x_train, digits.x_test):
        levels = _unnormalise(images, digits) * 16
        assert torch.allclose(levels, levels.round(), atol=1e-4)
        assert levels.min() > -1e-4 and levels.max() < 16 + 1e-4


def test_digits_deterministic():
    first, second = load("digits"), load("digits")
    for field in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(first, field), getattr(second, field))


def test_digits_subset_size_determinism_and_selection():
    full = load("digits")
    small = load("digits", subset=100, test_subset=50)
    again = load("digits", subset=100, test_subset=50)
    assert small.x_train.shape == (100, 1, 8, 8) and small.y_train.shape == (100,)
    assert small.x_test.shape == (50, 1, 8, 8)
    assert torch.equal(small.x_train, again.x_train) and torch.equal(small.y_test, again.y_test)
    # Not simply the first n examples.
    assert not torch.equal(small.x_train, full.x_train[:100])
    # Every kept example is one of the training examples (statistics stay the full set's).
    assert small.mean == full.mean and small.std == full.std
    rows = small.x_train.flatten(1)
    matches = (rows[:, None, :] == full.x_train.flatten(1)[None, :, :]).all(-1)
    assert matches.any(1).all()
    # Roughly class-balanced (the digit classes are nearly equal in size).
    counts = torch.bincount(small.y_train, minlength=10)
    assert counts.min() >= 8 and counts.max() <= 12
    # A smaller subset is contained in a larger one.
    tiny = load("digits", subset=30)
    assert (tiny.x_train.flatten(1)[:, None, :] == rows[None]).all(-1).any(1).all()


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "100"])
@pytest.mark.parametrize("argument", ["subset", "test_subset"])
def test_bad_subset_raises(argument, bad):
    with pytest.raises(ValueError, match=argument):
        load("digits", **{argument: bad})


def test_subset_larger_than_available_names_size():
    with pytest.raises(ValueError, match="1438"):
        load("digits", subset=5000)
    with pytest.raises(ValueError, match="359"):
        load("digits", test_subset=360)


# --- Fashion-MNIST --------------------------------------------------------------


@pytest.mark.skipif(not data.DEBIAN_FASHION_MNIST_DIR.is_dir(), reason="dataset-fashion-mnist not installed")
def test_fashion_mnist_from_debian_package():
    fashion = load("fashion_mnist", subset=1000, test_subset=500)
    assert fashion.x_train.shape == (1000, 1, 28, 28) and fashion.x_test.shape == (500, 1, 28, 28)
    assert fashion.y_train.min() >= 0 and fashion.y_train.max() <= 9
    assert torch.equal(torch.bincount(fashion.y_train), torch.full((10,), 100))  # stratified, balanced set


def _idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_tiny_fashion_mnist(folder: Path) -> dict[str, np.ndarray]:
    """20 train / 10 test 28x28 images; train files gzipped, test files plain."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    arrays = {
        "x_train": rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8),
        "y_train": np.arange(20, dtype=np.uint8) % 10,
        "x_test": rng.integers(0, 256, size=(10, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(10, dtype=np.uint8) * 3) % 10,
    }
    arrays["x_train"][0] = 255  # a known all-white image
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(arrays["x_train"], 2051)))
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(arrays["y_train"], 2049)))
    (folder / "t10k-images-idx3-ubyte").write_bytes(_idx_bytes(arrays["x_test"], 2051))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(_idx_bytes(arrays["y_test"], 2049))
    return arrays


def _check_tiny_fashion(result: ImageData, arrays: dict[str, np.ndarray]):
    assert result.x_train.shape == (20, 1, 28, 28) and result.x_test.shape == (10, 1, 28, 28)
    assert result.y_train.tolist() == arrays["y_train"].tolist()
    assert result.y_test.tolist() == arrays["y_test"].tolist()
    pixels = arrays["x_train"] / 255.0
    assert result.mean[0] == pytest.approx(pixels.mean(), abs=1e-9)
    assert result.std[0] == pytest.approx(pixels.std(), abs=1e-9)
    expected_train = torch.from_numpy(pixels[:, None]).float()
    expected_test = torch.from_numpy(arrays["x_test"][:, None] / 255.0).float()
    assert torch.allclose(_unnormalise(result.x_train, result), expected_train, atol=1e-5)
    assert torch.allclose(_unnormalise(result.x_test, result), expected_test, atol=1e-5)
    assert torch.allclose(_unnormalise(result.x_train[:1], result), torch.ones(1, 1, 28, 28), atol=1e-5)


def test_fashion_mnist_from_root(tmp_path, monkeypatch):
    monkeypatch.setattr(data.fashion_mnist, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-such-dir")
    arrays = _write_tiny_fashion_mnist(tmp_path / "fm")
    _check_tiny_fashion(load("fashion_mnist", root=tmp_path / "fm"), arrays)


def test_fashion_mnist_torchvision_layout(tmp_path, monkeypatch):
    monkeypatch.setattr(data.fashion_mnist, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-such-dir")
    arrays = _write_tiny_fashion_mnist(tmp_path / "root" / "FashionMNIST" / "raw")
    _check_tiny_fashion(load("fashion_mnist", root=str(tmp_path / "root")), arrays)


def test_fashion_mnist_from_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setattr(data.fashion_mnist, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-such-dir")
    arrays = _write_tiny_fashion_mnist(tmp_path / "store" / "fashion_mnist")
    monkeypatch.setenv(data.DATA_ENV_VAR, str(tmp_path / "store"))
    _check_tiny_fashion(load("fashion_mnist"), arrays)


def test_fashion_mnist_missing_offline_explains_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(data.fashion_mnist, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-such-dir")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError) as error:
        load("fashion_mnist", root=empty)
    message = str(error.value)
    for hint in ("apt-get install dataset-fashion-mnist", "root=", "DRIVE_LAB_DATA", "download=True", str(empty)):
        assert hint in message


def test_malformed_idx_file_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(data.fashion_mnist, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-such-dir")
    folder = tmp_path / "fm"
    _write_tiny_fashion_mnist(folder)
    bad = folder / "t10k-labels-idx1-ubyte"
    bad.write_bytes(_idx_bytes(np.zeros(10, dtype=np.uint8), 2051))  # image magic in a label file
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte"):
        load("fashion_mnist", root=folder)
    bad.write_bytes(_idx_bytes(np.zeros(10, dtype=np.uint8), 2049)[:-3])  # truncated
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte"):
        load("fashion_mnist", root=folder)


# --- CIFAR ----------------------------------------------------------------------


@pytest.fixture
def no_torchvision_download(monkeypatch):
    import torchvision

    def refuse(*args, **kwargs):
        raise AssertionError("torchvision download must not be used when files exist")

    for name in ("CIFAR10", "CIFAR100", "FashionMNIST"):
        monkeypatch.setattr(torchvision.datasets, name, refuse)


def _cifar_images(count: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 (count, 3072) rows; image 0 has a saturated red plane, others stay in 0..100."""
    images = rng.integers(0, 101, size=(count, 3, 32, 32), dtype=np.uint8)
    if count:
        images[0, 0] = 255
        images[0, 1] = np.arange(32, dtype=np.uint8)[None, :]  # green varies along width
    return images.reshape(count, -1)


def _write_pickle(path: Path, content: dict) -> None:
    with open(path, "wb") as handle:
        pickle.dump(content, handle)


def _make_cifar10(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(2)
    train_x, train_y = [], []
    for batch in range(1, 6):
        images = _cifar_images(2, rng)
        labels = [(2 * batch) % 10, (2 * batch + 1) % 10]
        _write_pickle(folder / f"data_batch_{batch}", {b"data": images, b"labels": labels})
        train_x.append(images)
        train_y += labels
    test_x = _cifar_images(3, rng)
    test_y = [7, 8, 9]
    _write_pickle(folder / "test_batch", {b"data": test_x, b"labels": test_y})
    return np.concatenate(train_x), np.array(train_y), test_x, np.array(test_y)


def test_cifar10_from_pickles(tmp_path, no_torchvision_download):
    train_x, train_y, test_x, test_y = _make_cifar10(tmp_path / "cifar-10-batches-py")
    for root in (tmp_path, tmp_path / "cifar-10-batches-py"):
        cifar = load("cifar10", root=root, download=True)  # files exist: no download attempted
        assert cifar.x_train.shape == (10, 3, 32, 32) and cifar.x_test.shape == (3, 3, 32, 32)
        assert cifar.y_train.tolist() == train_y.tolist() and cifar.y_test.tolist() == test_y.tolist()
        assert cifar.num_classes == 10 and cifar.augment is True
        pixels = _unnormalise(cifar.x_train, cifar)
        assert torch.allclose(pixels[0, 0], torch.ones(32, 32), atol=1e-5)
        expected_green = (torch.arange(32.0) / 255).expand(32, 32)
        assert torch.allclose(pixels[0, 1], expected_green, atol=1e-5)
        expected = torch.from_numpy(train_x.reshape(-1, 3, 32, 32) / 255.0).float()
        assert torch.allclose(pixels, expected, atol=1e-5)
        channel_means = train_x.reshape(-1, 3, 1024).transpose(1, 0, 2).reshape(3, -1).mean(1) / 255
        assert np.allclose(cifar.mean, channel_means)


def test_cifar100_from_pickles(tmp_path, no_torchvision_download):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(3)
    train_x, test_x = _cifar_images(6, rng), _cifar_images(4, rng)
    train_y, test_y = [0, 99, 50, 3, 4, 98], [1, 2, 97, 99]
    _write_pickle(folder / "train", {b"data": train_x, b"fine_labels": train_y, b"coarse_labels": [0] * 6})
    _write_pickle(folder / "test", {b"data": test_x, b"fine_labels": test_y, b"coarse_labels": [0] * 4})
    cifar = load("cifar100", root=tmp_path)
    assert cifar.x_train.shape == (6, 3, 32, 32) and cifar.x_test.shape == (4, 3, 32, 32)
    assert cifar.y_train.tolist() == train_y and cifar.y_test.tolist() == test_y
    assert cifar.num_classes == 100
    assert torch.allclose(_unnormalise(cifar.x_train, cifar)[0, 0], torch.ones(32, 32), atol=1e-5)


def test_cifar_missing_offline(tmp_path, no_torchvision_download):
    with pytest.raises(FileNotFoundError) as error:
        load("cifar10", root=tmp_path)
    message = str(error.value)
    for hint in ("cifar-10-batches-py", "download=True", "DRIVE_LAB_DATA"):
        assert hint in message


def test_cifar_found_through_environment_variable(tmp_path, monkeypatch, no_torchvision_download):
    _, train_y, _, _ = _make_cifar10(tmp_path / "store" / "cifar-10-batches-py")
    monkeypatch.setenv(data.DATA_ENV_VAR, str(tmp_path / "store"))
    assert load("cifar10").y_train.tolist() == train_y.tolist()


# --- Tiny ImageNet --------------------------------------------------------------

TINY_COLOURS = {  # (class, index) -> solid RGB colour
    ("n001", 0): (255, 0, 0), ("n001", 1): (200, 10, 10), ("n001", 2): (150, 20, 20),
    ("n002", 0): (0, 0, 255), ("n002", 1): (10, 10, 200), ("n002", 2): (20, 20, 150),
}


def _make_tiny_imagenet(root: Path) -> None:
    """2 classes x 3 train PNGs (one class in images/, one flat) and 2 annotated val images."""
    for (wnid, index), colour in TINY_COLOURS.items():
        folder = root / "train" / wnid / ("images" if wnid == "n001" else "")
        folder.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64, 64), colour).save(folder / f"{wnid}_{index}.png")
    val_images = root / "val" / "images"
    val_images.mkdir(parents=True)
    Image.new("RGB", (64, 64), (0, 255, 0)).save(val_images / "val_0.png")
    Image.new("L", (32, 32), 128).save(val_images / "val_1.png")  # grey and small: converted + resized
    (root / "val" / "val_annotations.txt").write_text("val_0.png\tn002\t0\t0\t64\t64\nval_1.png\tn001\t0\t0\t64\t64\n")


def test_tiny_imagenet_folder_and_cache(tmp_path, monkeypatch):
    root = tmp_path / "tiny-imagenet-200"
    _make_tiny_imagenet(root)
    with pytest.warns(UserWarning, match="2 class folders"):
        tiny = load("tiny_imagenet", root=tmp_path)  # finds the tiny-imagenet-200 sub-folder
    assert tiny.x_train.shape == (6, 3, 64, 64) and tiny.x_test.shape == (2, 3, 64, 64)
    assert tiny.num_classes == 2 and tiny.augment is True
    assert tiny.y_train.tolist() == [0, 0, 0, 1, 1, 1] and tiny.y_test.tolist() == [1, 0]
    pixels = _unnormalise(tiny.x_train, tiny)
    expected = torch.tensor([colour for _, colour in sorted(TINY_COLOURS.items())], dtype=torch.float32) / 255
    assert torch.allclose(pixels.mean(dim=(2, 3)), expected, atol=1e-5)
    test_pixels = _unnormalise(tiny.x_test, tiny)
    assert torch.allclose(test_pixels[0].mean(dim=(1, 2)), torch.tensor([0.0, 1.0, 0.0]), atol=1e-5)
    assert torch.allclose(test_pixels[1], torch.full((3, 64, 64), 128 / 255), atol=1e-5)

    assert (root / data.TINY_IMAGENET_CACHE_NAME).is_file()

    def refuse(*args, **kwargs):
        raise AssertionError("images must come from the cache")

    with monkeypatch.context() as patch:
        patch.setattr(data.tiny_imagenet, "_read_image", refuse)
        with pytest.warns(UserWarning):
            cached = load("tiny_imagenet", root=root)
    assert torch.equal(cached.x_train, tiny.x_train) and torch.equal(cached.y_test, tiny.y_test)

    # A changed folder invalidates the cache.
    Image.new("RGB", (64, 64), (1, 2, 3)).save(root / "train" / "n002" / "n002_3.png")
    with pytest.warns(UserWarning):
        grown = load("tiny_imagenet", root=root)
    assert grown.x_train.shape == (7, 3, 64, 64)


def test_tiny_imagenet_read_only_root_skips_cache(tmp_path, monkeypatch):
    _make_tiny_imagenet(tmp_path)

    def read_only(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(data.tiny_imagenet, "atomic_write", read_only)
    with pytest.warns(UserWarning):
        tiny = load("tiny_imagenet", root=tmp_path)
    assert tiny.x_train.shape == (6, 3, 64, 64)
    assert not (tmp_path / data.TINY_IMAGENET_CACHE_NAME).exists()


def test_tiny_imagenet_missing_says_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        load("tiny_imagenet", root=tmp_path)
    assert "tiny-imagenet-200.zip" in str(error.value) and "root=" in str(error.value)


# --- augmentation ---------------------------------------------------------------


def _column_images(batch: int = 64, size: int = 16) -> torch.Tensor:
    """(batch, 2, size, size); every column and every sample distinct, all values > 0."""
    columns = torch.arange(1, size + 1, dtype=torch.float32)
    samples = 100 * torch.arange(batch, dtype=torch.float32)
    channels = torch.tensor([0.0, 1000.0])
    return (samples[:, None, None, None] + channels[None, :, None, None] + columns).expand(-1, -1, size, -1).clone()


def test_flip_reverses_width_for_exactly_the_flipped_samples():
    images = _column_images()
    out = augment_batch(images, torch.Generator().manual_seed(0), padding=0)
    same = (out == images).flatten(1).all(1)
    mirrored = (out == images.flip(-1)).flatten(1).all(1)
    assert torch.all(same ^ mirrored)  # each sample is exactly one of the two
    assert 10 < int(mirrored.sum()) < 54  # both happen, about half the time


def test_crop_keeps_shape_and_shifts_within_padding():
    batch, size, pad = 32, 16, 4
    constant = torch.arange(1, batch + 1, dtype=torch.float32)[:, None, None, None].expand(batch, 3, size, size)
    out = augment_batch(constant, torch.Generator().manual_seed(1))
    assert out.shape == constant.shape
    # The centre is never outside any crop window; elsewhere a pixel is the sample's value or padding.
    assert torch.equal(out[..., pad:-pad, pad:-pad], constant[..., pad:-pad, pad:-pad])
    assert torch.all((out == constant) | (out == 0))

    images = _column_images(batch, size)
    out = augment_batch(images, torch.Generator().manual_seed(2))
    padded = torch.nn.functional.pad(images, (pad,) * 4)
    shifts = set()
    for i in range(batch):  # brute-force reference: some window (maybe mirrored) matches
        matches = [
            (dy, dx)
            for dy in range(2 * pad + 1)
            for dx in range(2 * pad + 1)
            for window in [padded[i, :, dy:dy + size, dx:dx + size]]
            if torch.equal(out[i], window) or torch.equal(out[i], window.flip(-1))
        ]
        assert matches, f"sample {i} is not a crop of its padded image"
        shifts.add(matches[0])
    assert len(shifts) > 5  # offsets vary per sample


def test_augmentation_is_seeded():
    images = _column_images()
    first = augment_batch(images, torch.Generator().manual_seed(7))
    second = augment_batch(images, torch.Generator().manual_seed(7))
    other = augment_batch(images, torch.Generator().manual_seed(8))
    assert torch.equal(first, second) and not torch.equal(first, other)

    digits = load("digits", subset=200, augment=True)
    run = [torch.cat([x for x, _ in digits.epoch(64, torch.Generator().manual_seed(3))]) for _ in range(2)]
    assert torch.equal(run[0], run[1])


def test_epoch_augments_only_training_batches():
    digits = load("digits", subset=100, test_subset=50, augment=True)
    x, y = next(digits.epoch(50, None, train=False, shuffle=False))
    assert torch.equal(x, digits.x_test) and torch.equal(y, digits.y_test)
    x, _ = next(digits.epoch(100, torch.Generator().manual_seed(0), shuffle=False))
    assert x.shape == digits.x_train.shape and not torch.equal(x, digits.x_train)


# --- batching -------------------------------------------------------------------


def _indexed_data(train: int = 10, test: int = 7) -> ImageData:
    """Images whose pixel value and label are the example's index."""
    def images(n):
        return torch.arange(n, dtype=torch.float32)[:, None, None, None].expand(n, 1, 4, 4).clone()

    return ImageData(
        name="digits", x_train=images(train), y_train=torch.arange(train), x_test=images(test),
        y_test=torch.arange(test), num_classes=train, augment=False, mean=(0.0,), std=(1.0,),
    )


def test_epoch_covers_every_example_once_with_right_batch_sizes():
    indexed = _indexed_data()
    batches = list(indexed.epoch(4, torch.Generator().manual_seed(0)))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    order = torch.cat([y for _, y in batches])
    assert sorted(order.tolist()) == list(range(10)) and order.tolist() != list(range(10))
    for x, y in batches:  # images travel with their labels
        assert torch.equal(x[:, 0, 0, 0].long(), y)
    assert [len(y) for _, y in indexed.epoch(4, torch.Generator(), drop_last=True)] == [4, 4]
    again = torch.cat([y for _, y in indexed.epoch(4, torch.Generator().manual_seed(0))])
    assert torch.equal(order, again)
    unshuffled = torch.cat([y for _, y in indexed.epoch(3, None, shuffle=False)])
    assert unshuffled.tolist() == list(range(10))
    test_order = torch.cat([y for _, y in indexed.epoch(5, torch.Generator(), train=False)])
    assert sorted(test_order.tolist()) == list(range(7))


def test_epoch_rejects_bad_arguments():
    indexed = _indexed_data()
    for bad in (0, -1, 2.0):
        with pytest.raises(ValueError, match="batch_size"):
            next(indexed.epoch(bad, torch.Generator()))
    with pytest.raises(ValueError, match="generator"):
        next(indexed.epoch(4, None))


def test_stream_goes_past_one_epoch():
    indexed = _indexed_data()
    stream = indexed.stream(4, torch.Generator().manual_seed(0))
    batches = [next(stream)[1] for _ in range(6)]  # 2 full batches per epoch -> 3 epochs
    assert all(len(y) == 4 for y in batches)
    assert len(set(torch.cat(batches[:2]).tolist())) == 8  # no repeats within an epoch
    whole = indexed.stream(25, torch.Generator())
    assert [len(next(whole)[1]) for _ in range(3)] == [10, 10, 10]


def test_to_device_and_repr():
    digits = load("digits", subset=20)
    moved = digits.to("cpu")
    assert moved.device == torch.device("cpu") and torch.equal(moved.x_train, digits.x_train)
    assert "1, 8, 8" in repr(digits) and "tensor(" not in repr(digits)


def test_digits_file_reader_matches_scikit_learn():
    """drive_lab reads the bundled CSV itself (fast); it must equal sklearn's own loader."""
    from sklearn.datasets import load_digits

    from drive_lab.data import _digits_table

    table, bunch = _digits_table(), load_digits()
    np.testing.assert_array_equal(table[:, :64], bunch.data)
    np.testing.assert_array_equal(table[:, 64], bunch.target)
