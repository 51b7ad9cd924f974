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
    """Press Run like a user; any error the callback shows makes the test fail with its message."""
    explorer.run_button.click()
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
    ({"model": "transformer"}, "unknown model"),
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
    assert calls[-1] == 4 and explorer.progress.max == 4  # progress counted every computed run
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
        explorer.run_button.click()
        assert "all three DRIVE terms" in explorer.error
        assert "all three DRIVE terms" in explorer.status.value and "<details>" not in explorer.status.value
        assert "Traceback" not in explorer.status.value
        assert explorer.outcome is before and not explorer.run_button.disabled
        explorer.controls["magnitude_on"].value = True
        explorer.controls["sparsity"].value = 1.0
        explorer.run_button.click()
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

    monkeypatch.setattr(widgets, "run_ablation", broken)
    explorer = widgets.ablation_explorer(SMOKE, results_dir=tmp_path)
    explorer.run_button.click()
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
