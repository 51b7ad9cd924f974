"""The ablation explorer and the results browser: pure functions against hand computations,
and the widgets driven like a user would (set controls, press Run) on the smoke preset."""
import base64
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from drive_lab import ResultStore, widgets  # noqa: E402
from drive_lab.masks import Masks  # noqa: E402
from drive_lab.presets import get_preset  # noqa: E402

SMOKE = get_preset("smoke")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def pngs(widget):
    """The PNG images the widget's output area shows."""
    return [base64.b64decode(item["data"]["image/png"]) for item in widget.output.outputs
            if "image/png" in item.get("data", {})]


def press_run(explorer):
    """Press Run like a user (the run computes in a background thread) and wait for it; any error the
    callback shows makes the test fail with its message."""
    explorer.run_button.click()
    explorer.wait(timeout=300)
    assert explorer.error is None, explorer.error


# ============================================================================ term contributions
def hand_terms():
    """Two layers: a = 2 weights, b = 1 weight. ΣM = 8, ΣC = 4, ΣV = 4."""
    terms = {
        "magnitude": {"a": torch.tensor([1.0, 3.0]), "b": torch.tensor([4.0])},
        "connection": {"a": torch.tensor([2.0, 0.0]), "b": torch.tensor([2.0])},
        "convergence": {"a": torch.tensor([1.0, 1.0]), "b": torch.tensor([2.0])},
    }
    kept = Masks({"a": torch.tensor([True, False]), "b": torch.tensor([True])})
    return terms, kept


def shares(table, layer):
    rows = table[table["layer"] == layer].set_index("term")
    return {term: rows.loc[term, "share"] for term in ("magnitude", "connection", "convergence")}


def test_term_contributions_sum_by_hand():
    terms, kept = hand_terms()
    table = widgets.term_contributions(terms, kept)
    # layer a keeps weight 0: parts M̂ = 1/8, Ĉ = 2/4, V̂ = 1/4 -> total 7/8 -> shares 1/7, 4/7, 2/7
    assert shares(table, "a") == pytest.approx({"magnitude": 1 / 7, "connection": 4 / 7, "convergence": 2 / 7})
    # layer b: M̂ = 4/8, Ĉ = 2/4, V̂ = 2/4 -> one third each
    assert shares(table, "b") == pytest.approx({"magnitude": 1 / 3, "connection": 1 / 3, "convergence": 1 / 3})
    # all kept: 5/8, 1, 3/4 -> total 19/8 -> 5/19, 8/19, 6/19
    assert shares(table, widgets.ALL_KEPT) == pytest.approx(
        {"magnitude": 5 / 19, "connection": 8 / 19, "convergence": 6 / 19})
    a = table[table["layer"] == "a"].set_index("term")
    assert a.loc["connection", "contribution"] == pytest.approx(0.5)
    assert list(a["kept"]) == [1, 1, 1] and list(a["weights"]) == [2, 2, 2]
    assert table[table["layer"] == widgets.ALL_KEPT]["kept"].iloc[0] == 2


def test_term_contributions_weights_and_product_by_hand():
    terms, kept = hand_terms()
    # convergence switched off: layer a parts 1/8, 1/2, 0 -> shares 1/5, 4/5, 0
    off = widgets.term_contributions(terms, kept, convergence=0.0)
    assert shares(off, "a") == pytest.approx({"magnitude": 0.2, "connection": 0.8, "convergence": 0.0})
    # weights a = 2, b = 1, c = 1: layer a parts 2/8, 1/2, 1/4 -> total 1 -> 1/4, 1/2, 1/4
    weighted = widgets.term_contributions(terms, kept, magnitude=2.0)
    assert shares(weighted, "a") == pytest.approx({"magnitude": 0.25, "connection": 0.5, "convergence": 0.25})
    # product: parts M·Ĉ = 1·1/2 and M·V̂ = 1·1/4 in layer a -> 2/3, 1/3; magnitude has no part of its own
    product = widgets.term_contributions(terms, kept, combine="product")
    assert shares(product, "a") == pytest.approx({"magnitude": 0.0, "connection": 2 / 3, "convergence": 1 / 3})
    # layer b: 4·1/2 and 4·1/2 -> one half each
    assert shares(product, "b") == pytest.approx({"magnitude": 0.0, "connection": 0.5, "convergence": 0.5})
    assert product.attrs["combine"] == "product"


def test_term_contributions_collapsed_layer_is_nan_and_invalid_weights_raise():
    terms, _ = hand_terms()
    nothing_in_b = Masks({"a": torch.tensor([True, True]), "b": torch.tensor([False])})
    table = widgets.term_contributions(terms, nothing_in_b)
    assert all(math.isnan(v) for v in shares(table, "b").values())
    assert sum(shares(table, "a").values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="switched off"):
        widgets.term_contributions(terms, nothing_in_b, 0.0, 0.0, 0.0)


def test_contribution_figure_draws_every_layer():
    terms, kept = hand_terms()
    figure = widgets.contribution_figure(widgets.term_contributions(terms, kept))
    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert labels == [widgets.ALL_KEPT, "a", "b"]


# ============================================================================ controls -> configs
def test_default_controls_are_concrete_and_within_the_preset():
    controls = widgets.default_controls(SMOKE)
    assert None not in controls.to_dict().values()
    assert controls.convergence == 0.0 and controls.magnitude == controls.connection == 1.0
    assert controls.sparsity in SMOKE.sparsities and controls.model in SMOKE.models
    assert controls.warmup_epochs == SMOKE.warmup_epochs and controls.iterations == SMOKE.iterations


def test_ablation_configs_variant_and_references():
    variants, references = widgets.ablation_configs(
        SMOKE, widgets.default_controls(SMOKE), connection=2.0, warmup_epochs=0, sparsity=0.8, seeds=(0, 1),
        baselines=("snip", "random"))
    assert [(c.method, c.seed, c.connection, c.convergence, c.warmup_epochs, c.sparsity) for c in variants] == [
        ("drive", 0, 2.0, 0.0, 0, 0.8), ("drive", 1, 2.0, 0.0, 0, 0.8)]
    assert [(c.method, c.seed) for c in references] == [("drive", 0), ("drive", 1), ("snip", 0), ("snip", 1),
                                                         ("random", 0), ("random", 1)]
    full = references[0]
    assert (full.magnitude, full.connection, full.convergence, full.combine) == (1.0, 1.0, 1.0, "sum")
    assert (full.warmup_epochs, full.iterations) == (SMOKE.warmup_epochs, SMOKE.iterations)
    assert all(c.sparsity == 0.8 and c.epochs == SMOKE.run.epochs and c.dataset == "digits" for c in references)
    snip = references[2].resolved()
    assert (snip.warmup_epochs, snip.iterations) == (0, 1)  # the baseline's own defaults


@pytest.mark.parametrize("changes, words", [
    ({"magnitude": 0.0, "connection": 0.0, "convergence": 0.0}, "all three DRIVE terms"),
    ({"sparsity": 1.0}, "strictly between 0 and 1"),
    ({"sparsity": 0.0}, "strictly between 0 and 1"),
    ({"sparsity": 0.9999999}, "rounds to 1.0"),
    ({"combine": "product", "magnitude": 0.0}, "magnitude cannot be switched off"),
    ({"combine": "product", "connection": 0.0, "convergence": 0.0}, "connection or convergence"),
    ({"combine": "mean"}, "combination must be one of"),
    ({"magnitude": -1.0}, "number >= 0"),
    ({"seeds": ()}, "at least one seed"),
    ({"warmup_epochs": -1}, "warm-up epochs"),
    ({"iterations": 0}, "iterations N"),
    ({"baselines": ("snip", "lottery")}, "unknown baseline"),
    ({"model": "perceptron-xl"}, "unknown model"),
])
def test_invalid_controls_give_readable_messages(changes, words):
    with pytest.raises(ValueError, match=words):
        widgets.ablation_configs(SMOKE, widgets.default_controls(SMOKE), **changes)


def test_variant_names():
    config = SMOKE.config(convergence=0.0)
    assert widgets.variant_name(config, SMOKE) == "without convergence"
    assert widgets.variant_name(config.replace(warmup_epochs=0), SMOKE) == "without convergence (E=0)"
    assert widgets.variant_name(SMOKE.config(iterations=1), SMOKE) == "DRIVE with N=1"
    assert widgets.variant_name(SMOKE.config(), SMOKE) == "DRIVE (full)"
    assert widgets.variant_name(config.replace(iterations=1), SMOKE) == "without convergence (N=1)"


def test_readable_error():
    assert widgets.readable_error(ValueError("sparsity must be < 1")) == "sparsity must be < 1"
    assert widgets.readable_error(FileNotFoundError("no folder x")) == "no folder x"
    assert widgets.readable_error(KeyError("no column 'acc'")) == "no column 'acc'"
    assert widgets.readable_error(RuntimeError("boom")) == "RuntimeError: boom"


# ============================================================================ the explorer, run for real
@pytest.fixture(scope="module")
def explored(tmp_path_factory):
    """One explorer, controls changed like a user would, Run pressed once (smoke preset: seconds)."""
    store_dir = tmp_path_factory.mktemp("widget_store")
    explorer = widgets.ablation_explorer(SMOKE, results_dir=store_dir, raise_errors=True)
    assert explorer.control_values() == widgets.default_controls(SMOKE)  # what the notebook renders statically
    explorer.controls["connection"].value = 2.0
    explorer.controls["warmup_epochs"].value = 0
    explorer.controls["baselines"].value = ("snip", "random")
    calls = []
    explorer.progress.observe(lambda change: calls.append(change["new"]), names="value")
    press_run(explorer)
    first = explorer.outcome
    yield explorer, store_dir, first, calls
    plt.close("all")


def test_explorer_run_holds_the_outcome(explored):
    explorer, _, outcome, _ = explored
    assert outcome.controls.connection == 2.0 and outcome.controls.convergence == 0.0
    assert outcome.controls.warmup_epochs == 0
    frame = outcome.frame
    assert list(frame["role"]) == ["your setting", "full DRIVE", "baseline", "baseline"]
    assert list(frame["method"]) == ["drive", "drive", "snip", "random"]
    assert frame["name"].iloc[0] == "without convergence (magn=1, conn=2) (E=0)"
    assert (frame["sparsity"] == SMOKE.sparsities[-1]).all()
    assert frame["final_test_accuracy"].between(0, 1).all()
    assert list(outcome.summary["name"]) == list(frame["name"])
    assert set(outcome.figures) == {"accuracy", "layer_density", "contributions"}
    shares = outcome.contributions[outcome.contributions["layer"] == widgets.ALL_KEPT].set_index("term")["share"]
    assert shares["convergence"] == 0.0 and shares.sum() == pytest.approx(1.0)
    assert "your setting" in outcome.message and "SNIP" in outcome.message
    # the widget shows it: sentence, table, three figures; nothing left open in pyplot
    assert len(pngs(explorer)) == 3 and all(png.startswith(b"\x89PNG") for png in pngs(explorer))
    assert "Done" in explorer.status.value and explorer.error is None
    assert plt.get_fignums() == []


def test_explorer_runs_are_stored_and_reused(explored):
    explorer, store_dir, first, calls = explored
    assert (first.computed, first.cached) == (4, 0)
    # the bar counts training steps in permille of the planned steps: it only grows, and reaches the end
    assert calls == sorted(calls) and calls[-1] == explorer.progress.max == 1000
    store = ResultStore(store_dir)
    for key in first.frame["key"]:
        assert store.path(key).exists()
    variants, references = widgets.ablation_configs(SMOKE, first.controls)
    assert all(store.get(config) is not None for config in variants + references)
    press_run(explorer)  # same setting again: from the store, same numbers
    again = explorer.outcome
    assert (again.computed, again.cached) == (0, 4)
    pd.testing.assert_series_equal(again.frame["final_test_accuracy"], first.frame["final_test_accuracy"])


def test_explorer_invalid_settings_show_messages_not_tracebacks(explored):
    explorer, _, _, _ = explored
    before = explorer.outcome
    explorer.raise_errors = False
    try:
        for term in ("magnitude", "connection", "convergence"):
            explorer.controls[f"{term}_on"].value = False
        assert explorer.controls["magnitude"].disabled
        # live validation: the message shows before Run, which is disabled; the old results are cleared
        assert "all three DRIVE terms" in explorer.check.value and explorer.run_button.disabled
        assert explorer.output.outputs == () and "no longer match" in explorer.status.value
        explorer.run_button.click()  # a click that gets through anyway (e.g. from code) shows the message
        explorer.wait()
        assert "all three DRIVE terms" in explorer.error
        assert "all three DRIVE terms" in explorer.status.value and "<details>" not in explorer.status.value
        assert "Traceback" not in explorer.status.value
        assert explorer.outcome is before and explorer.run_button.disabled and not explorer.running
        explorer.controls["magnitude_on"].value = True
        explorer.controls["sparsity"].value = 1.0
        assert "strictly between 0 and 1" in explorer.check.value
        explorer.run_button.click()
        explorer.wait()
        assert "strictly between 0 and 1" in explorer.error and "strictly between" in explorer.status.value
        explorer.raise_errors = True
        with pytest.raises(ValueError, match="strictly between 0 and 1"):
            explorer.run()
    finally:
        explorer.raise_errors = True
        explorer.controls["sparsity"].value = SMOKE.sparsities[-1]
        explorer.controls["convergence_on"].value = False


def test_unexpected_errors_are_shown_with_details_and_raised_when_asked(monkeypatch, tmp_path):
    def broken(*args, **kwargs):
        raise RuntimeError("the GPU caught fire")

    import drive_lab.explorer.widget

    monkeypatch.setattr(drive_lab.explorer.widget, "run_ablation", broken)  # what the explorer's Run calls
    explorer = widgets.ablation_explorer(SMOKE, results_dir=tmp_path)
    explorer.run_button.click()
    explorer.wait()
    assert explorer.error == "RuntimeError: the GPU caught fire"
    assert "the GPU caught fire" in explorer.status.value and "<details>" in explorer.status.value
    explorer.raise_errors = True
    with pytest.raises(RuntimeError, match="caught fire"):
        explorer.run()
    assert explorer.error == "RuntimeError: the GPU caught fire"


def test_run_ablation_reports_progress(tmp_path):
    seen = []
    outcome = widgets.run_ablation(widgets.default_controls(SMOKE), preset=SMOKE, results_dir=tmp_path,
                                   on_progress=lambda done, total, config: seen.append((done, total, config)),
                                   contributions=False, baselines=(), warmup_epochs=0, iterations=2)
    assert [(done, total) for done, total, _ in seen] == [(0, 2), (1, 2), (2, 2)]
    assert seen[0][2] is None and seen[1][2].method == "drive"
    assert set(outcome.figures) == {"accuracy", "layer_density"} and outcome.contributions is None
    # the full DRIVE setting: one run that is both "your setting" and the reference
    same = widgets.run_ablation(preset=SMOKE, results_dir=tmp_path, contributions=False, baselines=(),
                                convergence=1.0, warmup_epochs=0, iterations=2)
    assert list(same.frame["role"]) == ["your setting", "full DRIVE"]  # different E/N from the preset's
    assert same.frame["name"].iloc[0] == "DRIVE with E=0, N=2"


# ============================================================================ browser: pure functions
def row(method, sparsity, seed, accuracy, pruning=1.0, warmup_epochs=0, iterations=1, convergence=1.0, combine="sum",
        dataset="digits", epochs=2):
    return {"key": f"{method}{sparsity}{seed}{warmup_epochs}{convergence}{combine}{dataset}", "method": method,
            "model": "conv", "dataset": dataset, "sparsity": sparsity, "seed": seed, "warmup_epochs": warmup_epochs,
            "iterations": iterations, "epochs": epochs, "magnitude": 1.0, "connection": 1.0,
            "convergence": convergence, "combine": combine, "final_test_accuracy": accuracy,
            "seconds_warmup": 0.5 if method == "drive" else 0.0, "seconds_scoring": pruning / 2,
            "seconds_pruning": pruning, "collapsed_layers": "",
            "layer_density": {"conv.weight": 1 - sparsity, "fc.weight": 1 - sparsity}}


@pytest.fixture
def stored():
    rows = []
    for seed in (0, 1):
        for sparsity in (0.9, 0.99):
            rows += [row("drive", sparsity, seed, 0.9, 2.0, warmup_epochs=1, iterations=10),
                     row("drive", sparsity, seed, 0.8, 2.0, warmup_epochs=1, iterations=10, convergence=0.0),
                     row("drive", sparsity, seed, 0.85, 1.0, warmup_epochs=0, iterations=10),
                     row("snip", sparsity, seed, 0.7, 0.1),
                     row("imp", sparsity, seed, 0.95, 100.0, iterations=11 if sparsity == 0.9 else 21)]
    rows.append(row("snip", 0.9, 0, 0.5, 0.1, dataset="fashion_mnist"))
    return pd.DataFrame(rows)


def test_browser_options_and_default_filters(stored):
    options = widgets.browser_options(stored)
    assert options["methods"] == [("DRIVE", "drive"), ("IMP", "imp"), ("SNIP", "snip")]
    assert options["sparsities"] == [("90%", 0.9), ("99%", 0.99)]
    assert options["term_weights"] == [("DRIVE (full)", "DRIVE (full)"), ("without convergence", "without convergence")]
    assert [value for _, value in options["warmup_epochs"]] == [0, 1]
    defaults = widgets.default_filters(stored, SMOKE)
    assert defaults["datasets"] == ("digits",)  # the preset's data only, at first
    assert defaults["methods"] == ("drive", "imp", "snip")
    assert widgets.browser_options(stored.iloc[:0]) == {name: [] for name in widgets.FILTER_COLUMNS}


def test_filter_results(stored):
    everything = widgets.filter_results(stored)
    assert len(everything) == len(stored) and "label" in everything
    assert set(widgets.filter_results(stored, methods=["snip"])["method"]) == {"snip"}
    assert len(widgets.filter_results(stored, sparsities=[0.9 + 1e-12], datasets=["digits"])) == 10
    without = widgets.filter_results(stored, term_weights=["without convergence"], datasets=["digits"])
    assert set(without["label"]) == {"without convergence", "SNIP", "IMP"}  # other methods are not filtered
    by_tuple = widgets.filter_results(stored, term_weights=[(1, 1, 0, "sum")], methods=["drive"])
    assert set(by_tuple["label"]) == {"without convergence"}
    assert set(widgets.filter_results(stored, warmup_epochs=[1])["label"]) == {"DRIVE (full)", "without convergence"}
    assert set(widgets.filter_results(stored, seeds=[1])["seed"]) == {1}
    assert widgets.filter_results(stored, methods=[]).empty
    one_shot = pd.concat([stored, pd.DataFrame([row("drive", 0.9, 0, 0.6, iterations=1)])], ignore_index=True)
    assert "DRIVE (full) (one-shot)" in set(widgets.filter_results(one_shot, term_weights=["DRIVE (full)"])["label"])
    assert [v for _, v in widgets.browser_options(one_shot)["term_weights"]] == ["DRIVE (full)", "without convergence"]
    with pytest.raises(ValueError, match="term-weight filter"):
        widgets.filter_results(stored, term_weights=[(1, 1)])


def test_label_runs_names_only_the_settings_that_differ(stored):
    selection = widgets.filter_results(stored, datasets=["digits"])
    names = set(widgets.label_runs(selection))
    assert names == {"DRIVE (full) (E=0)", "DRIVE (full) (E=1)", "without convergence (E=1)", "SNIP", "IMP"}
    one_e = widgets.filter_results(stored, warmup_epochs=[1], datasets=["digits"])
    assert set(widgets.label_runs(one_e)) == {"DRIVE (full)", "without convergence"}
    both = widgets.filter_results(stored, methods=["snip"])
    assert set(widgets.label_runs(both)) == {"SNIP (data=digits)", "SNIP (data=fashion_mnist)"}


def test_browser_summary_and_figures(stored):
    selection = widgets.filter_results(stored, datasets=["digits"])
    summary = widgets.browser_summary(selection)
    full = summary[(summary["name"] == "DRIVE (full) (E=1)") & (summary["sparsity %"] == 90)].iloc[0]
    assert (full["accuracy mean %"], full["runs"], full["pruning s"]) == (90.0, 2, 2.0)
    figures = widgets.browser_figures(selection)
    assert set(figures) == {"accuracy", "time", "speedup"}
    legend = [t.get_text() for t in figures["accuracy"].axes[0].get_legend().get_texts()]
    assert "DRIVE (full) (E=0)" in legend and "without convergence (E=1)" in legend
    speedup_lines = [line.get_label() for line in figures["speedup"].axes[0].get_lines()]
    assert any("SNIP" in label for label in speedup_lines)
    no_imp = widgets.browser_figures(widgets.filter_results(stored, methods=["drive", "snip"]))
    assert "No IMP run" in no_imp["speedup"].axes[0].texts[0].get_text()
    with pytest.raises(ValueError, match="no stored run matches"):
        widgets.browser_figures(selection.iloc[:0])


# ============================================================================ the browser widget
def test_results_browser_on_the_explorers_store(explored):
    explorer, store_dir, _, _ = explored
    browser = widgets.results_browser(store_dir, preset=SMOKE, raise_errors=True)
    assert browser.error is None and len(browser.selection) == len(browser.all_runs) == 4
    assert len(pngs(browser)) == 3 and "4 of 4" in browser.status.value
    browser.filters["methods"].value = ("drive",)
    assert set(browser.selection["method"]) == {"drive"} and "2 of 4" in browser.status.value
    browser.filters["term_weights"].value = ("DRIVE (full)",)
    assert list(browser.selection["label"]) == ["DRIVE (full)"]
    # a new run of the explorer shows up after Reload, selected
    explorer.controls["seeds"].value = (1,)
    explorer.controls["baselines"].value = ()
    explorer.contributions = False
    try:
        press_run(explorer)
    finally:
        explorer.controls["seeds"].value = (0,)
        explorer.contributions = True
    browser.reload_button.click()
    assert browser.error is None and len(browser.all_runs) == 6
    assert set(browser.filters["seeds"].value) == {0, 1}
    assert browser.filters["methods"].value == ("drive",)  # the user's selection is kept
    browser.raise_errors = False
    browser.filters["methods"].value = ()
    assert "no stored run matches" in browser.error and browser.output.outputs == ()
    assert plt.get_fignums() == []


def test_results_browser_messages(tmp_path, stored):
    missing = widgets.results_browser(tmp_path / "nowhere")
    assert "does not exist" in missing.error and "does not exist" in missing.status.value
    with pytest.raises(FileNotFoundError):
        widgets.results_browser(tmp_path / "nowhere", raise_errors=True)
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    empty = widgets.results_browser(empty_dir)
    assert "no stored runs yet" in empty.error
    table = widgets.results_browser(frame=stored, preset=SMOKE, raise_errors=True)
    assert table.filters["datasets"].value == ("digits",) and len(table.selection) == len(stored) - 1


def test_control_problem_is_the_explorers_message():
    assert widgets.control_problem(SMOKE) is None
    assert "all three DRIVE terms" in widgets.control_problem(SMOKE, magnitude=0, connection=0, convergence=0)
    assert "strictly between 0 and 1" in widgets.control_problem(SMOKE, sparsity=1.0)


def test_controls_default_to_the_explorers_and_dicts_change_single_fields():
    assert widgets.resolve_controls(SMOKE) == widgets.default_controls(SMOKE)
    assert widgets.resolve_controls(SMOKE, {"sparsity": 0.5}) == widgets.default_controls(SMOKE).replace(sparsity=0.5)
    full = widgets.resolve_controls(SMOKE, widgets.AblationControls())  # the dataclass itself: full DRIVE
    assert (full.convergence, full.sparsity, full.seeds) == (1.0, max(SMOKE.sparsities), SMOKE.seeds[:1])
    with pytest.raises(ValueError, match="unknown control"):
        widgets.resolve_controls(SMOKE, {"temperature": 2})


# ============================================================================ steps, Stop, checkboxes, static view
def test_watching_steps_sees_every_training_step_and_can_stop_it():
    import threading

    from drive_lab.data import load
    from drive_lab.progress import watching_steps
    from drive_lab.training import Optimisation, train

    data = load("digits", subset=100, test_subset=50)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    steps = []
    with watching_steps(steps.append):
        train(model, data, 2, Optimisation(batch_size=32), desc="warm-up", evaluate_every_epoch=False)
    assert [s.n for s in steps] == list(range(1, 2 * 4 + 1))  # ceil(100 / 32) = 4 steps per epoch, 2 epochs
    assert {s.total for s in steps} == {8} and {s.desc for s in steps} == {"warm-up"}

    class Stop(Exception):
        pass

    def stop_at_3(step):
        if step.n == 3:
            raise Stop

    other_thread = []
    with watching_steps(stop_at_3), pytest.raises(Stop):
        worker = threading.Thread(target=lambda: other_thread.append(
            train(model, data, 1, Optimisation(batch_size=32))))  # another thread: not watched, not stopped
        worker.start()
        worker.join()
        train(model, data, 2, Optimisation(batch_size=32))
    assert len(other_thread) == 1


def test_run_ablation_counts_steps_and_stops_between_them(tmp_path):
    import threading

    from drive_lab.data import load

    controls = widgets.default_controls(SMOKE).replace(baselines=("random",), seeds=(0,))
    reports = []
    outcome = widgets.run_ablation(controls, SMOKE, tmp_path, contributions=False, on_step=reports.append)
    config = SMOKE.config()
    steps_per_epoch = math.ceil(len(load(config.dataset, subset=config.subset).x_train) / config.batch_size)
    # by hand: DRIVE variant and full DRIVE: E + T epochs and N iterations each; Random: T epochs and 1 iteration
    e, t, n = SMOKE.warmup_epochs, SMOKE.run.epochs, SMOKE.iterations
    want = 2 * (steps_per_epoch * (e + t) + n) + steps_per_epoch * t + 1
    assert reports[-1].done_steps == reports[-1].planned_steps == want
    assert [r.run for r in reports] == sorted(r.run for r in reports) and reports[-1].runs == 3
    assert all(r.remaining is None or r.remaining >= 0 for r in reports) and reports[-1].remaining == 0
    assert outcome.computed == 3
    # stop during the second run: the first stays stored, the second is not stored, the third never starts
    stop = threading.Event()

    def stop_in_run_2(report):
        if report.run == 2 and report.phase == "training":
            stop.set()

    store = ResultStore(tmp_path / "second")
    variants, references = widgets.ablation_configs(SMOKE, controls.replace(seeds=(1,)))
    with pytest.raises(widgets.RunStopped, match="stopped after 1 of 3"):
        widgets.run_ablation(controls.replace(seeds=(1,)), SMOKE, store.root, contributions=False,
                             on_step=stop_in_run_2, stop=stop)
    assert [store.get(c) is not None for c in variants + references] == [True, False, False]


def test_known_runs_are_read_not_computed(tmp_path, explored):
    _, _, first, _ = explored
    again = widgets.run_ablation(first.controls, SMOKE, tmp_path, contributions=False, known=first.frame)
    assert (again.computed, again.cached, again.known) == (0, 0, 4)
    assert list(again.frame["final_test_accuracy"]) == list(first.frame["final_test_accuracy"])
    assert not ResultStore(tmp_path).runs_dir.exists() or not any(ResultStore(tmp_path).runs_dir.glob("*.json"))
    assert widgets.committed_runs("smoke", tables_dir=tmp_path).empty  # nothing committed there: nothing computed


def test_planned_steps_by_hand():
    from drive_lab.explorer import planned_steps

    drive = SMOKE.config(warmup_epochs=2, iterations=5, epochs=3)
    assert planned_steps(drive, 10) == 10 * (2 + 3) + 5
    assert planned_steps(drive, 10, warmup_only=True) == 20
    imp = SMOKE.config(method="imp", warmup_epochs=1, epochs=3, sparsity=0.9).resolved()
    assert planned_steps(imp, 10) == 10 * (1 + 3 * imp.iterations)  # T epochs per round, no scoring iterations


def test_stop_button_ends_a_background_run_early(tmp_path):
    import time

    explorer = widgets.ablation_explorer(SMOKE, results_dir=tmp_path, seeds=(0, 1), baselines=("snip", "random"))
    explorer.run_button.click()
    deadline = time.monotonic() + 120
    while "step" not in explorer.progress_text.value and time.monotonic() < deadline:
        time.sleep(0.02)
    assert explorer.running and not explorer.stop_button.disabled and explorer.controls["sparsity"].disabled
    explorer.stop_button.click()
    assert explorer.wait(timeout=120) is None
    assert explorer.stopped is not None and explorer.stopped.finished < explorer.stopped.total == 8
    assert "Stopped" in explorer.status.value and explorer.output.outputs == () and explorer.error is None
    stored = list(ResultStore(tmp_path).runs_dir.glob("*.json")) if ResultStore(tmp_path).runs_dir.exists() else []
    assert len(stored) == explorer.stopped.finished  # the interrupted run is not stored
    assert not explorer.running and not explorer.run_button.disabled and explorer.stop_button.disabled
    assert not explorer.controls["sparsity"].disabled


def test_checkbox_list_and_switched_off_terms():
    boxes = widgets.CheckboxList([("seed 0", 0), ("seed 1", 1), ("seed 2", 2)], (2, 0))
    assert boxes.value == (0, 2) and [b.value for b in boxes.boxes] == [True, False, True]  # option order
    boxes.boxes[1].value = True
    assert boxes.value == (0, 1, 2)
    boxes.value = (1,)
    assert [b.value for b in boxes.boxes] == [False, True, False]
    boxes.options = [("seed 1", 1), ("seed 3", 3)]
    assert boxes.value == (1,) and len(boxes.boxes) == 2
    import traitlets

    with pytest.raises(traitlets.TraitError):
        boxes.value = (7,)
    explorer = widgets.ablation_explorer(SMOKE)
    assert isinstance(explorer.controls["seeds"], widgets.CheckboxList)
    assert explorer.controls["convergence"].disabled and "OFF" in explorer.term_states["convergence"].value
    explorer.controls["convergence_on"].value = True
    assert not explorer.controls["convergence"].disabled and "on" in explorer.term_states["convergence"].value


def test_static_view_without_a_kernel(explored):
    _, store_dir, first, _ = explored
    explorer = widgets.ablation_explorer(SMOKE, results_dir=store_dir, raise_errors=True, background=False,
                                         **first.controls.to_dict())
    press_run(explorer)  # every run from the store
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle  # a live kernel still gets the widget
    assert "children=" not in bundle["text/plain"] and "warm-up E = 0" in bundle["text/plain"]
    assert bundle["text/html"].count("<img") == 3 and "DRIVE ablation explorer" in bundle["text/html"]
    fresh = widgets.ablation_explorer(SMOKE)._repr_mimebundle_()
    assert "press Run" in fresh["text/plain"] and "<img" not in fresh["text/html"]


def test_one_colour_per_name_in_every_figure(explored):
    from drive_lab.plots.explorer import name_colors
    from drive_lab.plots.style import TERM_COLORS, color

    colors = name_colors(["DRIVE with E=0", "DRIVE (full)", "SNIP", "odd name"])
    assert colors["SNIP"] == color("SNIP") and colors["DRIVE (full)"] == color("drive")
    assert len(set(colors.values())) == 4 and not set(colors.values()) & set(TERM_COLORS.values())
    _, _, outcome, _ = explored
    names = list(outcome.summary["name"])
    want = name_colors(names)
    accuracy = outcome.figures["accuracy"].axes[0]
    bar_colors = [matplotlib.colors.to_hex(p.get_facecolor()) for p in accuracy.patches]
    assert bar_colors == [want[name] for name in names]  # one bar per name, top to bottom
    density = outcome.figures["layer_density"].axes[0]
    for bars in density.containers:
        assert {matplotlib.colors.to_hex(p.get_facecolor()) for p in bars} == {want[bars.get_label()]}


def test_progress_and_stop_count_the_same_runs_when_term_contributions_follow():
    import threading

    from drive_lab.explorer import CONTRIBUTIONS_RUN
    from drive_lab.explorer.steps import StepTracker
    from drive_lab.progress import Step

    config = SMOKE.config()
    todo = [(config, "DRIVE, seed 0", False), (config.replace(seed=1), "DRIVE, seed 1", False),
            (config, CONTRIBUTIONS_RUN, True)]
    reports, stop = [], threading.Event()
    tracker = StepTracker(todo, reports.append, stop)
    for index in range(3):
        tracker.begin(index)
        tracker(Step("training", 1, 10, "step"))
        tracker.end(counts=index < 2)
    assert [(r.run, r.runs) for r in reports] == [(1, 2), (2, 2), (2, 2)]
    assert reports[-1].text().startswith(f"{CONTRIBUTIONS_RUN}, after the 2 run(s): training step 1/10")
    stop.set()
    with pytest.raises(widgets.RunStopped, match="stopped after 2 of 2 run"):
        tracker.check()


def test_selection_findings_compare_by_means_when_a_name_mixes_settings():
    import pandas as pd

    from drive_lab.explorer import selection_findings

    rows = [{"label": "SNIP", "method": "snip", "sparsity": 0.9, "seed": s, "final_test_accuracy": a,
             "seconds_warmup": 0.0, "seconds_pruning": 0.1} for s, a in ((0, 0.80), (1, 0.82))]
    rows += [{"label": "Random", "method": "random", "sparsity": 0.9, "seed": 0, "final_test_accuracy": a,
              "seconds_warmup": 0.0, "seconds_pruning": 0.1} for a in (0.50, 0.60)]  # two settings, one seed
    sentences = selection_findings(pd.DataFrame(rows))
    assert sentences and "SNIP leads with 81.00%" in sentences[0] and "95% CI" not in sentences[0]
