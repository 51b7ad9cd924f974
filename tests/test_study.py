"""The reproduction study's designs: each question varies what it studies and holds the rest."""
from __future__ import annotations

import subprocess
import sys

import pytest

from drive_lab import experiments, study
from drive_lab.presets import PRESETS, get_preset

CPU = get_preset("cpu")
# Fields that identify a cell of a design, besides the factor studied.
PAIRING = ("model", "subset", "test_subset", "epochs", "sparsity", "seed", "lr", "batch_size")


def configs(name, preset=CPU):
    return [c.resolved() for c in experiments.get_experiment(name).configs(preset)]


def test_every_question_is_an_experiment_and_the_study_group_lists_them():
    assert experiments.GROUPS["study"] == tuple(study.QUESTIONS)
    for name in study.QUESTIONS:
        assert name in experiments.EXPERIMENTS


def test_scores_other_things_equal():
    runs = configs("study_scores")
    cells = {}
    published = {(c.model, c.warmup_epochs, c.iterations) for c in runs if c.method == "synflow"}
    assert ("mlp", 0, CPU.study.iterations) in published  # SynFlow as published, beside the design
    dense = [c for c in runs if c.method == "dense"]
    runs = [c for c in runs if c.method != "dense"
            and not (c.method == "synflow" and c.warmup_epochs == 0 and c.iterations > 1)]
    for c in runs:
        setting = (c.warmup_epochs, c.iterations)
        cells.setdefault((setting, *(getattr(c, f) for f in PAIRING)), set()).add(c.method)
    # every cell of the design holds all six scores (and the architecture's extra ones, e.g. ProsPr on
    # the Transformer), at the same E, N, data and training
    extra = {arch.model: set(arch.extra_scores) for arch in CPU.study.architectures}
    assert all(methods == set(study.STUDY_SCORES) | extra[key[1]] for key, methods in cells.items())
    assert extra["transformer"] == {"prospr"}
    for arch in CPU.study.architectures:
        settings = {key[0] for key in cells if key[1] == arch.model}
        assert settings == {(0, 1), (arch.warmup_epochs, CPU.study.iterations_for(arch))}
        # the dense reference: one run per headline seed, trained for the same T on the same data
        reference = [c for c in dense if c.model == arch.model]
        assert sorted(c.seed for c in reference) == sorted(arch.seeds)
        assert {c.epochs for c in reference} == {c.epochs for c in runs if c.model == arch.model}
        assert {c.sparsity for c in reference} == {0.0}
    # the same scoring set for every data-using method
    assert {c.score_per_class for c in runs if c.method in ("drive", "snip", "grasp")} == {10}


def test_decomposition_is_a_full_factorial():
    runs = configs("study_decomposition")
    for model in ("mlp", "conv"):
        cells = {(c.method, c.warmup_epochs, c.iterations) for c in runs if c.model == model}
        arch = next(a for a in CPU.study.architectures if a.model == model)
        e, n_fair = arch.warmup_epochs, CPU.study.iterations_for(arch)
        assert cells == {(m, w, n) for m in ("snip", "drive") for w in (0, e) for n in (1, n_fair)}


def test_budget_holds_e_plus_t_or_t_constant():
    runs = configs("study_budget")
    arch = CPU.study.architectures[0]
    total = arch.warmup_epochs + CPU.run.epochs
    for method in ("drive", "snip"):
        rows = [c for c in runs if c.method == method]
        fixed = {c.warmup_epochs for c in rows if c.epochs == CPU.run.epochs}
        equal = {c.warmup_epochs for c in rows if c.warmup_epochs + c.epochs == total}
        assert fixed == set(CPU.study.budget_warmups) == equal


def test_convergence_map_spans_e_and_lambda():
    runs = configs("study_convergence")
    cells = {(c.warmup_epochs, c.convergence) for c in runs}
    assert cells == {(e, w) for e in CPU.study.warmup_grid for w in CPU.study.convergence_grid}
    assert {c.method for c in runs} == {"drive"}


def test_sanity_design_covers_every_check_per_method():
    runs = configs("study_sanity") + configs("study_sanity_imp")
    assert {c.method for c in configs("study_sanity_imp")} == {"imp"}
    for method in study.SANITY_METHODS:
        checks = {c.sanity for c in runs if c.method == method}
        expected = {"none", "shuffle", "reinit"} | (set() if method == "imp" else {"invert"})
        assert checks == expected


def test_every_preset_sizes_the_study_with_valid_configs():
    for preset in PRESETS.values():
        assert preset.study is not None
        # building the configs validates each one (RunConfig checks itself on construction)
        assert sum(len(experiments.get_experiment(name).configs(preset)) for name in study.QUESTIONS) > 0


def test_a_question_the_preset_leaves_out_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no runs on preset 'gpu_short'"):
        experiments.results("study_terms", "gpu_short", tables_dir=tmp_path, results_dir=tmp_path / "runs")
    # the group runs only what the preset plans: the CLI names the skipped ones nowhere, fails on none
    names = [n for n in experiments.GROUPS["study"] if experiments.get_experiment(n).configs(get_preset("gpu_short"))]
    assert names == ["study_scores", "study_decomposition"]  # gpu_short plans only these


def test_cli_lists_the_study_group():
    out = subprocess.run([sys.executable, "-m", "drive_lab", "experiment", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "study" in out.stdout


def test_cuda_without_committed_gpu_tables_shows_cpu_and_says_how(monkeypatch, tmp_path):
    from drive_lab import presets

    monkeypatch.delenv(presets.PRESET_ENV_VAR, raising=False)
    monkeypatch.setattr(presets.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(presets, "default_tables_dir", lambda: tmp_path)
    with pytest.warns(UserWarning, match="experiment all --preset gpu"):
        assert presets.default_preset_name() == "cpu"
    (tmp_path / "gpu").mkdir()
    (tmp_path / "gpu" / "baselines.csv").write_text("key\n")
    assert presets.default_preset_name() == "gpu"
    monkeypatch.setenv(presets.PRESET_ENV_VAR, "gpu_short")
    assert presets.default_preset_name() == "gpu_short"


def _table_with_keys(path, keys):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("key,method,collapsed_layers\n" + "".join(f"{k},drive,\n" for k in keys))


def test_a_committed_table_that_no_longer_matches_its_plan_says_so(tmp_path):
    import warnings

    smoke = get_preset("smoke")
    planned = [c.key() for c in experiments.get_experiment("overview").configs(smoke)]
    path = tmp_path / "smoke" / "overview.csv"
    _table_with_keys(path, planned)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the plan's own table: no warning
        frame = experiments.results("overview", smoke, tables_dir=tmp_path)
    assert "does not match" not in frame.attrs["source"]
    _table_with_keys(path, planned[1:] + ["0123456789abcdef"])
    with pytest.warns(UserWarning, match="1 planned runs missing, 1 runs not in the plan"):
        frame = experiments.results("overview", smoke, tables_dir=tmp_path)
    assert "--recompute" in frame.attrs["source"]


def test_table_sidecar_records_the_source_revision(tmp_path):
    import json

    import pandas as pd

    from drive_lab.runtime import source_revision

    frame = pd.DataFrame({"key": ["a"], "seconds_total": [1.0], "device": ["cpu"]})
    path = tmp_path / "cpu" / "t.csv"
    experiments.write_table(frame, "overview", CPU, path)
    meta = json.loads(path.with_suffix(".json").read_text())
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                          cwd=experiments.__file__.rsplit("/", 1)[0])
    if head.returncode == 0:  # a checkout: the commit in use, and whether drive_lab's files differ from it
        assert meta["source_revision"]["commit"] == head.stdout.strip()
        assert isinstance(meta["source_revision"]["modified"], bool)
    else:  # an installed copy outside any checkout
        assert meta["source_revision"] is None and source_revision() is None


def test_records_name_the_cpu_kernels_that_computed_them(tmp_path):
    """CPU results depend on the instruction set torch dispatches to: forcing its generic
    kernels (ATEN_CPU_CAPABILITY=default) must show in the record and the table's hardware."""
    import json
    import os
    import sys

    script = (
        "import json, torch, pandas as pd\n"
        "from drive_lab import experiments\n"
        "from drive_lab.presets import get_preset\n"
        "from drive_lab.runtime import environment\n"
        f"path = {str(tmp_path / 't.csv')!r}\n"
        "frame = pd.DataFrame({'key': ['a'], 'seconds_total': [1.0], 'device': ['cpu']})\n"
        "experiments.write_table(frame, 'overview', get_preset('cpu'), path)\n"
        "print(json.dumps(environment(torch.device('cpu'))))\n"
    )
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    record = json.loads(out.stdout.strip().splitlines()[-1])
    assert record["cpu_capability"] == "DEFAULT"
    assert isinstance(record["cpu_model"], str) and record["cpu_model"]
    meta = json.loads((tmp_path / "t.json").read_text())
    assert "DEFAULT" in meta["hardware"] and meta["environment"]["cpu_capability"] == "DEFAULT"


def test_spot_check_recomputes_table_rows_and_finds_a_changed_number(tmp_path):
    """Runs recomputed in a fresh store equal the table they came from (same machine and code);
    a number edited in the CSV is reported, and neither the table nor any store is written."""
    import pandas as pd

    from drive_lab.sweep import run_configs

    smoke = get_preset("smoke")
    configs = experiments.get_experiment("overview").configs(smoke)
    frame = run_configs(configs, results_dir=tmp_path / "store")
    path = experiments.table_path("overview", smoke, tmp_path / "tables")
    experiments.write_table(frame, "overview", smoke, path)
    checked = experiments.spot_check("overview", smoke, rows=2, seed=1, tables_dir=tmp_path / "tables")
    assert len(checked) == 2 and checked["identical"].all()
    assert set(checked["key"]) <= {c.key() for c in configs}
    assert "now:" in checked.attrs["hardware"]

    table = pd.read_csv(path)
    edited = checked["key"].iloc[0]
    table.loc[table["key"] == edited, "final_test_accuracy"] += 0.01
    table.to_csv(path, index=False)
    before = path.read_text()
    again = experiments.spot_check("overview", smoke, rows=2, seed=1, tables_dir=tmp_path / "tables")
    assert list(again["key"]) == list(checked["key"])  # the same draw
    assert dict(zip(again["key"], again["identical"])) == {k: k != edited for k in again["key"]}
    assert path.read_text() == before and not (tmp_path / "tables" / "runs").exists()

    with pytest.raises(ValueError, match="rows must be an integer >= 1"):
        experiments.spot_check("overview", smoke, rows=0, tables_dir=tmp_path / "tables")
    with pytest.raises(ValueError, match="no committed table to check"):
        experiments.spot_check("baselines", smoke, tables_dir=tmp_path / "tables")
