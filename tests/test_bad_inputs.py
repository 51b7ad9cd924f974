"""Bad inputs end in a clear error before any work; faults never lose or corrupt a result.

Each case asserts the error type, that the message names the field (or flag) and what is
allowed, and that nothing was trained (training is made to fail loudly if it starts).
"""
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest
import torch

import drive_lab
from drive_lab import phases
from drive_lab.config import RunConfig
from drive_lab.store import ResultStore
from drive_lab.sweep import load_results, sweep
from drive_lab.training import TrainingDiverged

TINY = dict(method="drive", model="mlp", dataset="digits", epochs=0, warmup_epochs=0, iterations=1,
            subset=100, test_subset=50, device="cpu")


@pytest.fixture(autouse=True)
def quiet():
    drive_lab.set_progress(False)


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if any training step starts."""
    def forbidden(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(phases, "train", forbidden)


# ----------------------------------------------------------------------------- 1. types where the config is made
@pytest.mark.parametrize("changes,error,words", [
    ({"lr": "0.1"}, TypeError, ["lr", "a number"]),
    ({"augment": "no"}, TypeError, ["augment", "true or false"]),
    ({"download": "no"}, TypeError, ["download", "true or false"]),
    ({"nesterov": "yes"}, TypeError, ["nesterov", "true or false"]),
    ({"batch_size": True}, TypeError, ["batch_size", "an integer"]),
    ({"device": 0}, TypeError, ["device", "a string"]),
    ({"iterations": 2.5}, TypeError, ["iterations", "an integer"]),
    ({"threads": 1.0}, TypeError, ["threads", "an integer"]),
    ({"lr": math.inf}, ValueError, ["lr", "finite"]),
    ({"weight_decay": math.inf}, ValueError, ["weight_decay", "finite"]),
    ({"convergence": math.inf}, ValueError, ["convergence", "finite"]),
    ({"magnitude": math.nan}, ValueError, ["magnitude", "finite"]),
    ({"seed": 2**64 - 1}, ValueError, ["seed", "2**62"]),
    ({"seed": -1}, ValueError, ["seed", "from 0"]),
    ({"method": "drvie"}, ValueError, ["method", "did you mean 'drive'", "snip"]),
    ({"model": "vgg"}, ValueError, ["model", "did you mean 'vgg16'", "resnet18"]),
    ({"dataset": "fashion-mnist"}, ValueError, ["dataset", "did you mean 'fashion_mnist'"]),
    ({"device": "mps"}, ValueError, ["device", "cpu, cuda"]),
    ({"threads": 0}, ValueError, ["threads", ">= 1"]),
])
def test_config_rejects_wrong_types_and_values_naming_the_field(changes, error, words):
    with pytest.raises(error) as raised:
        RunConfig(**changes)
    for word in words:
        assert word in str(raised.value), f"{word!r} missing from {raised.value}"


# ----------------------------------------------------------------------------- 2. a grid checked before its first run
@pytest.mark.parametrize("grid,words", [
    ({"model": ["mlp", "vgg16"]}, ["vgg16", "cannot take input", "mlp, conv, resnet18"]),
    ({"subset": [100, 5000]}, ["subset=5000", "choose 1..1438"]),
    ({"dataset": ["digits", "cifar10"], "model": ["conv"]}, ["cifar10 was not found", "download"]),
])
def test_sweep_checks_every_point_before_computing(tmp_path, no_training, grid, words):
    calls = []
    base = RunConfig(**{**TINY, "data_root": str(tmp_path / "no-data")})
    with pytest.raises((ValueError, FileNotFoundError)) as raised:
        sweep(base, grid, results_dir=tmp_path, runner=lambda config: calls.append(config))
    for word in words:
        assert word in str(raised.value)
    assert calls == [] and not list(tmp_path.glob("runs/*.json"))


def test_check_names_every_bad_point(tmp_path, no_training):
    with pytest.raises(ValueError) as raised:
        sweep(RunConfig(**TINY), {"model": ["mlp", "vgg16", "alexnet"], "subset": [100, 9999]}, results_dir=tmp_path)
    message = str(raised.value)
    assert "vgg16" in message and "alexnet" in message and "subset=9999" in message and "nothing was computed" in message


# ----------------------------------------------------------------------------- 3. the store: checked before compute, never blocks
@pytest.mark.parametrize("where", ["file", "proc", "too long"])
def test_unwritable_results_folder_fails_before_compute(tmp_path, no_training, where):
    if where == "file":
        folder = tmp_path / "results"
        folder.write_text("not a folder")
    elif where == "proc":  # not writable even for root
        folder = Path("/proc/drive_lab_results")
    else:
        folder = tmp_path / ("x" * 300)
    with pytest.raises(ValueError, match="cannot be written|cannot read the results folder"):
        sweep(RunConfig(**TINY), {"seed": [0]}, results_dir=folder)


def test_read_only_folder_for_a_normal_user(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; the /proc case covers the same check")
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(ValueError, match="cannot be written"):
            ResultStore(tmp_path / "store").check_writable()
    finally:
        tmp_path.chmod(0o755)


def _store_one(folder: Path) -> Path:
    result, computed = ResultStore(folder).get_or_run(RunConfig(**TINY))
    assert computed
    return ResultStore(folder).path(result.key)


def test_unreadable_records_are_quarantined_and_named(tmp_path):
    good = _store_one(tmp_path)
    runs = tmp_path / "runs"
    (runs / ("a" * 16 + ".json")).write_bytes(b"\xff\xfe not utf-8 \x00")
    (runs / ("b" * 16 + ".json")).write_text("[" * 100_000 + "]" * 100_000)  # deeper than any decoder allows
    (runs / ("c" * 16 + ".json")).write_text('{"key": "cccccccccccccccc"')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = load_results(tmp_path)
    assert list(frame.key) == [good.stem]
    messages = " ".join(str(w.message) for w in caught)
    for name, reason in (("a", "not UTF-8"), ("b", "nested too deeply"), ("c", "invalid JSON")):
        assert f"{name * 16}.json" in messages and reason in messages
    assert sorted(p.name.split(".")[0] for p in (runs / "corrupt").iterdir()) == ["a" * 16, "b" * 16, "c" * 16]


def test_store_whose_quarantine_cannot_be_written_still_loads(tmp_path):
    good = _store_one(tmp_path)
    runs = tmp_path / "runs"
    (runs / "corrupt").write_text("a file where the quarantine folder would go")
    bad = runs / ("d" * 16 + ".json")
    bad.write_text("{")
    with pytest.warns(UserWarning, match="could not be moved"):
        frame = load_results(tmp_path)
    assert list(frame.key) == [good.stem] and bad.exists()


def test_records_of_a_newer_version_are_kept(tmp_path):
    path = _store_one(tmp_path)
    record = json.loads(path.read_text())
    record["new_result_field"] = [1, 2, 3]
    record["config"]["future_field"] = "eval"  # a config field this version does not know
    newer = path.with_name("e" * 16 + ".json")
    record["key"] = newer.stem
    newer.write_text(json.dumps(record))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither is corrupt
        frame = load_results(tmp_path)
    assert set(frame.key) == {path.stem, newer.stem}
    assert not (tmp_path / "runs" / "corrupt").exists()


def test_records_are_strict_json(tmp_path):
    path = _store_one(tmp_path)
    text = path.read_text()
    json.loads(text, parse_constant=lambda name: pytest.fail(f"bare {name} in a record"))


def test_output_that_is_a_folder_fails_before_compute(tmp_path):
    completed = _cli("run", "--model", "mlp", "--epochs", "0", "--output", str(tmp_path), env={"DRIVE_LAB_RESULTS": str(tmp_path)})
    assert completed.returncode == 2 and "--output" in completed.stderr and "is a folder" in completed.stderr
    assert list(tmp_path.iterdir()) == []  # no temporary fragment, no record


# ----------------------------------------------------------------------------- 4. nothing non-finite stored
def test_divergence_on_the_last_step_is_caught_and_nothing_stored(tmp_path):
    config = RunConfig(**{**TINY, "epochs": 1, "weight_decay": 1e30})
    with pytest.raises(TrainingDiverged, match="weight_decay"):
        ResultStore(tmp_path).get_or_run(config)
    # the very last step: the per-step losses were all finite, the trained weights are not
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight[0, 0] = float("inf")
    with pytest.raises(TrainingDiverged, match="weights"):
        phases.check_finite_outcome(model, 0.5, config)
    with pytest.raises(TrainingDiverged, match="test loss"):
        phases.check_finite_outcome(torch.nn.Linear(2, 2), float("nan"), config)
    assert not list(tmp_path.glob("runs/*.json"))


def test_non_finite_accuracy_in_a_record_is_flagged(tmp_path):
    path = _store_one(tmp_path)
    record = json.loads(path.read_text())
    record["final_test_loss"] = float("nan")
    path.write_text(json.dumps(record))
    with pytest.warns(UserWarning, match="not a finite number"):
        assert len(load_results(tmp_path)) == 0


# ----------------------------------------------------------------------------- 5. the CLI: one line, never a traceback
def _cli(*argv, env=None, timeout=120, **kwargs):
    full_env = {**os.environ, "DRIVE_LAB_PROGRESS": "0", **(env or {})}
    return subprocess.run([sys.executable, "-m", "drive_lab", *argv], capture_output=True, text=True,
                          env=full_env, timeout=timeout, **kwargs)


@pytest.mark.parametrize("argv,code,words", [
    (["run", "--lr", "abc"], 2, ["--lr", "invalid float"]),
    (["run", "--method", "drvie"], 2, ["--method", "did you mean 'drive'"]),
    (["run", "--device", "mps"], 2, ["--device", "cpu, cuda"]),
    (["run", "--seed", "-5"], 2, ["--seed", "from 0"]),
    (["run", "--dataset", "cifar10", "--data-root", "/nonexistent"], 2, ["cifar10 was not found", "--download", "--data-root"]),
    (["run", "--model", "mlp", "--epochs", "1", "--weight-decay", "1e30"], 1, ["diverged", "--weight-decay"]),
    (["sweep", "--grid", "model=mlp,vgg16", "--epochs", "0"], 2, ["vgg16", "nothing was computed"]),
    (["sweep", "--jobs", "0"], 2, ["--jobs"]),
])
def test_cli_errors_are_one_line_with_a_remedy(tmp_path, argv, code, words):
    completed = _cli(*argv, env={"DRIVE_LAB_RESULTS": str(tmp_path)})
    assert completed.returncode == code, completed.stderr
    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    assert "Traceback" not in completed.stderr
    assert len(lines) == 1, completed.stderr
    for word in words:
        assert word in completed.stderr, f"{word!r} not in {completed.stderr}"
    assert lines[-1].startswith(f"python -m drive_lab {argv[0]}:"), "errors name the subcommand's usage"
    assert not list(tmp_path.glob("runs/*.json"))


def test_debug_shows_the_traceback(tmp_path):
    completed = _cli("--debug", "run", "--device", "mps", env={"DRIVE_LAB_RESULTS": str(tmp_path)})
    assert "Traceback" in completed.stderr or completed.returncode == 2  # argparse-level errors have no traceback
    completed = _cli("--debug", "run", "--dataset", "cifar10", "--data-root", "/nonexistent",
                     env={"DRIVE_LAB_RESULTS": str(tmp_path)})
    assert "Traceback" in completed.stderr and "DatasetNotFoundError" in completed.stderr


def test_ctrl_c_says_what_is_stored_and_that_the_command_resumes(tmp_path):
    argv = [sys.executable, "-m", "drive_lab", "sweep", "--model", "mlp", "--epochs", "3", "--warmup-epochs", "0",
            "--iterations", "1", "--grid", "seed=" + ",".join(map(str, range(60))), "--results-dir", str(tmp_path), "--quiet"]
    # 60 runs: far more than can finish between the first stored run and the signal
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("runs/*.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    line = stderr.strip().splitlines()[-1]
    stored = len(list(tmp_path.glob("runs/*.json")))
    assert line.startswith("interrupted:") and f"{stored} of 60 runs are stored" in line and "resumes" in line


# ----------------------------------------------------------------------------- 6. overlapping sweeps compute each run once
def test_overlapping_sweeps_never_compute_a_run_twice(tmp_path):
    grids = ["seed=0,1,2,3", "seed=2,3,4,5", "seed=0,3,5"]  # 6 configurations in all
    common = ["--model", "mlp", "--epochs", "1", "--warmup-epochs", "0", "--iterations", "1", "--subset", "300",
              "--test-subset", "100", "--results-dir", str(tmp_path), "--quiet"]
    processes = [subprocess.Popen([sys.executable, "-m", "drive_lab", "sweep", *common, "--grid", grid],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "OMP_NUM_THREADS": "1"}) for grid in grids]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert all(process.returncode == 0 for process in processes), [err for _, err in outputs]
    computed = sum(int(out.split(" computed")[0].split()[-1]) for out, _ in outputs)
    assert computed == 6 and len(list(tmp_path.glob("runs/*.json"))) == 6


def test_a_lock_left_by_a_killed_process_does_not_block(tmp_path):
    config = RunConfig(**TINY)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from drive_lab.store import ResultStore
        with ResultStore({str(tmp_path)!r}).claim([{config.key()!r}]):
            print("holding", flush=True)
            time.sleep(600)
        """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    holder.kill()
    holder.wait(timeout=30)
    start = time.monotonic()
    _, computed = ResultStore(tmp_path).get_or_run(config)
    assert computed and time.monotonic() - start < 60


# ----------------------------------------------------------------------------- 7. low-level functions validate their inputs
def test_training_on_an_empty_set_or_wrong_labels_fails_before_a_step():
    from drive_lab.data import ImageData
    from drive_lab.models import build
    from drive_lab.training import train

    model = build("mlp", num_classes=10, in_channels=1, image_size=8)
    stats = dict(augment=False, mean=(0.0,), std=(1.0,))
    empty = ImageData("digits", torch.zeros(0, 1, 8, 8), torch.zeros(0, dtype=torch.long),
                      torch.zeros(4, 1, 8, 8), torch.zeros(4, dtype=torch.long), 10, **stats)
    with pytest.raises(ValueError, match="training set is empty"):
        train(model, empty, 1)
    wrong = ImageData("digits", torch.zeros(4, 1, 8, 8), torch.tensor([0, 1, 2, 12]),
                      torch.zeros(4, 1, 8, 8), torch.zeros(4, dtype=torch.long), 13, **stats)
    before = {name: p.clone() for name, p in model.named_parameters()}
    with pytest.raises(ValueError, match="labels span 0..12.*10 outputs"):
        train(model, wrong, 1)
    assert all(torch.equal(before[name], p) for name, p in model.named_parameters())


def test_undecodable_tiny_imagenet_image_is_named(tmp_path):
    from drive_lab.data.tiny_imagenet import _read_image

    broken = tmp_path / "n01443537_0.JPEG"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="n01443537_0.JPEG"):
        _read_image(broken, 64)


# ----------------------------------------------------------------------------- 8. same key, same result
def test_results_do_not_depend_on_the_callers_thread_count():
    config = RunConfig(**{**TINY, "model": "conv", "epochs": 1, "subset": 300})
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = drive_lab.run(config)
        torch.set_num_threads(2)
        two = drive_lab.run(config)
        assert torch.get_num_threads() == 2  # restored after the run
    finally:
        torch.set_num_threads(previous)
    assert one.key == two.key and one.final_test_loss == two.final_test_loss
    assert one.environment["torch_threads"] == two.environment["torch_threads"] == config.threads


def test_thread_count_is_part_of_the_key():
    assert RunConfig(threads=2).key() != RunConfig(threads=1).key() == RunConfig().key()


def test_low_level_functions_name_what_is_wrong(tmp_path):
    from drive_lab import scores
    from drive_lab.masks import Masks, keep_top, load, save
    from drive_lab.models import build
    from drive_lab.pruning import prune

    model = build("mlp", num_classes=10, in_channels=1, image_size=8)
    masks = Masks.ones(model)
    wrong_shapes = Masks({name: torch.ones(3, 3, dtype=torch.bool) for name in masks})
    with pytest.raises(ValueError, match="fc1.weight: mask \\(3, 3\\), weight"):
        wrong_shapes.apply(model)
    with pytest.raises(ValueError, match="fc1.weight"):
        keep_top({name: torch.zeros(2) for name in masks}, masks, 0.5)
    with pytest.raises(ValueError, match="needs training batches"):
        scores.snip(model, None, masks)
    with pytest.raises(ValueError, match="at least one batch"):
        scores.snip(model, [], masks)
    with pytest.raises(ValueError, match="iterations must be an integer"):
        prune(model, scores.magnitude, None, 0.5, 2.5)
    path = tmp_path / "mlp.pt"
    save(path, model, masks)
    with pytest.raises(ValueError, match="another network"):
        load(path, build("conv", num_classes=10, in_channels=1, image_size=8))
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="truncated"):
        load(truncated, model)
