"""analysis (summaries, speed-up, term statistics) against hand computations; plots return labelled figures."""
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from drive_lab import analysis, plots  # noqa: E402
from drive_lab.pruning import exponential_schedule  # noqa: E402


@pytest.fixture(autouse=True)
def no_show(monkeypatch):
    """Fail if any plotting function calls plt.show(); close the test's figures afterwards."""
    def forbidden(*args, **kwargs):
        raise AssertionError("plots must return figures, never call plt.show()")

    monkeypatch.setattr(plt, "show", forbidden)
    yield
    plt.close("all")


def run_row(method, sparsity, seed, accuracy, pruning=1.0, warmup=0.0, scoring=None, model="conv",
            dataset="digits", magnitude=1.0, connection=1.0, convergence=1.0, combine="sum", layers=None):
    """One row of a result frame with the columns the analysis reads."""
    scoring = pruning - warmup if scoring is None else scoring
    return {"method": method, "model": model, "dataset": dataset, "sparsity": sparsity, "seed": seed,
            "magnitude": magnitude, "connection": connection, "convergence": convergence, "combine": combine,
            "final_test_accuracy": accuracy, "best_test_accuracy": accuracy,
            "seconds_warmup": warmup, "seconds_scoring": scoring, "seconds_pruning": pruning,
            "layer_density": layers or {"conv1.weight": 1 - sparsity, "fc.weight": 1 - sparsity}}


@pytest.fixture
def frame():
    rows = []
    for seed, offset in enumerate((0.0, 0.02)):
        for sparsity in (0.9, 0.99):
            rows.append(run_row("drive", sparsity, seed, 0.9 - sparsity / 10 + offset, pruning=4.0, warmup=3.0))
            rows.append(run_row("snip", sparsity, seed, 0.85 - sparsity / 10 + offset, pruning=0.5))
            rows.append(run_row("imp", sparsity, seed, 0.91 - sparsity / 10 + offset, pruning=100.0, warmup=0.0,
                                scoring=0.0))
            rows.append(run_row("drive", sparsity, seed, 0.8, pruning=4.0, warmup=3.0, convergence=0.0))
        rows.append(run_row("dense", 0.0, seed, 0.95, pruning=0.0))
    rows.append(run_row("snip", 0.999, 0, 0.1, pruning=0.5,
                        layers={"conv1.weight": 0.002, "fc.weight": 0.0}))
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- analysis
def test_summarise_mean_std_n_min_max():
    table = analysis.summarise(pd.DataFrame([
        {"method": "drive", "sparsity": 0.9, "final_test_accuracy": 0.8},
        {"method": "drive", "sparsity": 0.9, "final_test_accuracy": 0.9},
        {"method": "snip", "sparsity": 0.9, "final_test_accuracy": 0.7},
    ]))
    assert list(table.columns) == ["method", "sparsity", "mean", "std", "n", "min", "max"]
    drive = table[table.method == "drive"].iloc[0]
    assert drive["mean"] == pytest.approx(0.85)
    assert drive["std"] == pytest.approx(math.sqrt(0.005))  # (0.05² + 0.05²) / (2 - 1)
    assert drive["std"] == pytest.approx(0.0707107, abs=1e-6)
    assert (drive["n"], drive["min"], drive["max"]) == (2, 0.8, 0.9)
    snip = table[table.method == "snip"].iloc[0]
    assert snip["n"] == 1 and math.isnan(snip["std"])
    assert list(table.method) == ["drive", "snip"]  # sorted


def test_summarise_by_label_adds_labels(frame):
    table = analysis.summarise(frame, by=("label", "sparsity"))
    assert {"DRIVE (full)", "without convergence", "SNIP", "IMP", "Dense"} <= set(table.label)
    row = table[(table.label == "without convergence") & (table.sparsity == 0.9)].iloc[0]
    assert row["mean"] == pytest.approx(0.8) and row["std"] == pytest.approx(0.0) and row["n"] == 2


def test_speedup_vs_imp_25x_and_nan_without_imp():
    frame = pd.DataFrame([
        run_row("imp", 0.9, 0, 0.9, pruning=90.0), run_row("imp", 0.9, 1, 0.9, pruning=110.0),
        run_row("drive", 0.9, 0, 0.9, pruning=3.0), run_row("drive", 0.9, 1, 0.9, pruning=5.0),
        run_row("dense", 0.0, 0, 0.9, pruning=0.0),
        run_row("drive", 0.9, 0, 0.9, pruning=4.0, model="vgg16"),  # no IMP for vgg16
    ])
    table = analysis.speedup_vs_imp(frame)
    assert list(table.columns) == ["model", "dataset", "sparsity", "method", "pruning_seconds",
                                   "imp_pruning_seconds", "speedup"]
    assert "dense" not in set(table.method)
    drive = table[(table.method == "drive") & (table.model == "conv")].iloc[0]
    assert drive["pruning_seconds"] == pytest.approx(4.0)
    assert drive["imp_pruning_seconds"] == pytest.approx(100.0)
    assert drive["speedup"] == pytest.approx(25.0)
    assert table[(table.method == "imp")].iloc[0]["speedup"] == pytest.approx(1.0)
    assert math.isnan(table[table.model == "vgg16"].iloc[0]["speedup"])


def test_ablation_labels_for_every_variant():
    label = analysis.ablation_label
    assert label({"method": "drive"}) == "DRIVE (full)"
    assert label({"method": "drive", "magnitude": 2.0, "connection": 2.0, "convergence": 2.0}) == "DRIVE (full)"
    assert label({"method": "drive", "convergence": 0.0}) == "without convergence"
    assert label({"method": "drive", "connection": 0.0}) == "without connection"
    assert label({"method": "drive", "magnitude": 0.0}) == "without magnitude"
    assert label({"method": "drive", "connection": 0.0, "convergence": 0.0}) == "magnitude only"
    assert label({"method": "drive", "magnitude": 0.0, "convergence": 0.0}) == "connection only"
    assert label({"method": "drive", "magnitude": 0.0, "connection": 0.0}) == "convergence only"
    assert label({"method": "drive", "combine": "product"}) == "product"
    assert label({"method": "drive", "combine": "product", "magnitude": 3.0}) == "product"  # a only rescales
    assert label({"method": "drive", "combine": "product", "convergence": 0.0}) == "product without convergence"
    assert label({"method": "drive", "convergence": 0.0, "magnitude": 2.0}) == "without convergence (magn=2, conn=1)"
    for method, name in analysis.DISPLAY_NAMES.items():
        if method != "drive":
            assert label({"method": method, "convergence": 0.0}) == name
    frame = pd.DataFrame([run_row("drive", 0.9, 0, 0.9, convergence=0.0), run_row("grasp", 0.9, 0, 0.9)])
    assert list(analysis.add_labels(frame)["label"]) == ["without convergence", "GraSP"]
    assert "label" not in frame.columns  # add_labels copies


def test_rank_correlation_monotone_is_one_and_reversed_is_minus_one():
    magnitude = {"a": torch.tensor([[0.1, 0.5], [0.3, 2.0]]), "b": torch.tensor([0.7, 0.05, 1.1])}
    terms = {
        "magnitude": magnitude,
        "connection": {name: t.exp() * 3 for name, t in magnitude.items()},  # monotone increasing
        "convergence": {name: 1.0 / t for name, t in magnitude.items()},  # monotone decreasing
    }
    corr = analysis.rank_correlation(terms)
    assert list(corr.index) == list(corr.columns) == ["magnitude", "connection", "convergence"]
    assert corr.loc["magnitude", "connection"] == pytest.approx(1.0)
    assert corr.loc["magnitude", "convergence"] == pytest.approx(-1.0)
    assert corr.loc["connection", "convergence"] == pytest.approx(-1.0)
    assert np.allclose(np.diag(corr.to_numpy()), 1.0)
    assert corr.attrs["n"] == 7

    per_layer = analysis.rank_correlation(terms, per_layer=True)
    assert list(per_layer.columns) == ["layer", "term_a", "term_b", "spearman", "n"]
    assert len(per_layer) == 2 * 3
    row = per_layer[(per_layer.layer == "b") & (per_layer.term_b == "convergence") & (per_layer.term_a == "magnitude")]
    assert row.iloc[0]["spearman"] == pytest.approx(-1.0) and row.iloc[0]["n"] == 3


def test_rank_correlation_masks_and_ties():
    # Hand computation: survivors x = [1, 2, 3, 4], y = [1, 3, 2, 4] -> ρ = 1 - 6·Σd²/(n(n²-1)) = 1 - 12/60 = 0.8.
    x = torch.tensor([1.0, 2.0, 3.0, 4.0, 0.0])
    y = torch.tensor([1.0, 3.0, 2.0, 4.0, 9.0])
    masks = {"w": torch.tensor([True, True, True, True, False])}
    corr = analysis.rank_correlation({"x": {"w": x}, "y": {"w": y}}, masks=masks)
    assert corr.loc["x", "y"] == pytest.approx(0.8)
    # Ties share their average rank (scipy.stats.rankdata's "average").
    ranks = analysis.average_ranks(torch.tensor([5.0, 1.0, 5.0, 3.0, 5.0]))
    assert ranks.tolist() == [4.0, 1.0, 4.0, 2.0, 4.0]


def test_kept_overlap_exact_jaccard():
    # 6 weights, density 0.5 keeps 3 per term:
    # a keeps {0, 1, 2}; b keeps {1, 2, 3}; c keeps {3, 4, 5}.
    terms = {
        "a": {"w": torch.tensor([6.0, 5.0, 4.0, 3.0, 2.0, 1.0])},
        "b": {"w": torch.tensor([1.0, 6.0, 5.0, 4.0, 2.0, 0.5])},
        "c": {"w": torch.tensor([0.1, 0.2, 0.3, 4.0, 5.0, 6.0])},
    }
    overlap = analysis.kept_overlap(terms, density=0.5)
    assert overlap.loc["a", "b"] == pytest.approx(2 / 4)
    assert overlap.loc["a", "c"] == pytest.approx(0.0)
    assert overlap.loc["b", "c"] == pytest.approx(1 / 5)
    assert np.allclose(np.diag(overlap.to_numpy()), 1.0)
    assert overlap.attrs["kept"] == 3
    # With masks: weight 1 is already pruned, so a keeps {0, 2}, b keeps {2, 3} at density 2/6.
    masks = {"w": torch.tensor([True, False, True, True, True, True])}
    overlap = analysis.kept_overlap(terms, density=2 / 6, masks=masks)
    assert overlap.loc["a", "b"] == pytest.approx(1 / 3)


def test_term_statistics_and_change():
    before = {"magnitude": {"l1": torch.tensor([1.0, 3.0]), "l2": torch.tensor([2.0, 2.0, 8.0])}}
    after = {"magnitude": {"l1": torch.tensor([2.0, 6.0]), "l2": torch.tensor([2.0, 2.0, 8.0])}}
    stats = analysis.term_statistics(before).set_index("layer")
    assert stats.loc["l1", "mean"] == pytest.approx(2.0) and stats.loc["l1", "max"] == pytest.approx(3.0)
    assert stats.loc["l2", "median"] == pytest.approx(2.0)
    assert stats.loc["l1", "share"] == pytest.approx(4 / 16) and stats.loc["l2", "share"] == pytest.approx(12 / 16)
    masked = analysis.term_statistics(before, masks={"l1": torch.tensor([True, False]),
                                                     "l2": torch.tensor([True, True, True])}).set_index("layer")
    assert masked.loc["l1", "mean"] == pytest.approx(1.0) and masked.loc["l1", "n"] == 1
    change = analysis.term_change(before, after).set_index("layer")
    assert change.loc["l1", "mean_before"] == pytest.approx(2.0)
    assert change.loc["l1", "mean_after"] == pytest.approx(4.0)
    assert change.loc["l1", "ratio"] == pytest.approx(2.0) and change.loc["l2", "ratio"] == pytest.approx(1.0)


def test_first_collapse():
    history = [
        {"iteration": 1, "density": 0.5, "layer_density": {"a": 0.5, "b": 0.5}, "collapsed": []},
        {"iteration": 2, "density": 0.2, "layer_density": {"a": 0.3, "b": 0.1}, "collapsed": []},
        {"iteration": 3, "density": 0.1, "layer_density": {"a": 0.0, "b": 0.0}, "collapsed": ["a", "b"]},
        {"iteration": 4, "density": 0.05, "layer_density": {"a": 0.0, "b": 0.0}, "collapsed": ["a", "b"]},
    ]
    assert analysis.first_collapse(history) == (3, "a")
    assert analysis.first_collapse(history[:2]) is None
    assert analysis.first_collapse([]) is None
    # Without "collapsed", a layer density of 0 counts.
    assert analysis.first_collapse([{"iteration": 7, "layer_density": {"a": 0.1, "b": 0.0}}]) == (7, "b")


def test_layer_density_table(frame):
    table = analysis.layer_density_table(frame)
    assert list(table.columns) == ["conv1.weight", "fc.weight"]
    assert table.index.names == ["label", "sparsity", "seed"]
    assert table.loc[("SNIP", 0.999, 0), "fc.weight"] == 0.0
    averaged = analysis.layer_density_table(frame, average_seeds=True)
    assert averaged.index.names == ["label", "sparsity"]
    assert averaged.loc[("DRIVE (full)", 0.9), "conv1.weight"] == pytest.approx(0.1)


# ----------------------------------------------------------------------------- plots
def small_terms():
    generator = torch.Generator().manual_seed(0)
    layers = {f"layer{i}.weight": torch.randn(20, 5, generator=generator) for i in range(8)}
    return {
        "magnitude": {n: w.abs() for n, w in layers.items()},
        "connection": {n: (w * 0.1 * w.roll(1)).abs() for n, w in layers.items()},
        "convergence": {n: (0.1 * w.roll(1)).abs() for n, w in layers.items()},
    }


def labelled(figure):
    assert isinstance(figure, Figure)
    axes = [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]
    assert axes and all(ax.get_xlabel() and ax.get_ylabel() for ax in axes[:1])
    assert all(ax.get_xlabel() for ax in axes)
    return axes[0]


def line_color(ax, label):
    return next(to_hex(line.get_color()) for line in ax.get_lines() if line.get_label() == label)


def test_accuracy_vs_sparsity(frame):
    with pytest.warns(UserWarning, match="hue='label'"):  # DRIVE and its ablation would be averaged
        plots.accuracy_vs_sparsity(frame)
    figure = plots.accuracy_vs_sparsity(frame[frame.convergence == 1.0], title="acc")
    ax = labelled(figure)
    assert ax.get_title() == "acc" and "%" in ax.get_ylabel()
    assert line_color(ax, "DRIVE") == plots.METHOD_COLORS["drive"]
    drive_line = next(line for line in ax.get_lines() if line.get_label() == "DRIVE")
    assert np.allclose(drive_line.get_ydata(), [100 * (0.81 + 0.01), 100 * (0.801 + 0.01)])  # mean of 2 seeds, in %
    assert any(line.get_linestyle() == "--" and line.get_label().startswith("Dense") for line in ax.get_lines())
    assert "2 seeds" in ax.get_legend().get_title().get_text()
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert "90%" in ticks and "99%" in ticks and "99.9%" in ticks
    by_label = plots.accuracy_vs_sparsity(frame, hue="label", log_density=False, band="minmax")
    ax = labelled(by_label)
    assert line_color(ax, "without convergence") == plots.ABLATION_COLORS["without convergence"]
    assert line_color(ax, "DRIVE (full)") == plots.METHOD_COLORS["drive"]


def test_layer_density_marks_collapse(frame):
    figure = plots.layer_density({"conv1.weight": 0.4, "fc.weight": 0.0})
    ax = labelled(figure)
    assert any(text.get_text() == "collapsed" for text in ax.texts)
    table = analysis.layer_density_table(frame[frame.method.isin(["drive", "snip"])], average_seeds=True)
    ax = labelled(plots.layer_density(table, log=True, title="layers"))
    assert ax.get_yscale() == "log" and ax.get_title() == "layers"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["conv1", "fc"]
    assert sum(text.get_text() == "collapsed" for text in ax.texts) == 1
    assert ax.patches[0].get_facecolor()[:3] == pytest.approx(matplotlib.colors.to_rgb(plots.METHOD_COLORS["drive"]))


def test_term_plots():
    terms = small_terms()
    figure = plots.term_histograms(terms, bins=10)
    axes = figure.axes
    assert len(axes) == 3 * 6  # 8 layers -> 6 evenly chosen, first and last included
    assert axes[0].get_title() == "layer0" and axes[5].get_title() == "layer7"
    assert all(ax.get_xlabel().startswith("log10") for ax in axes)
    correlation = plots.term_correlation(analysis.rank_correlation(terms), title="ρ")
    ax = labelled(correlation)
    assert ax.get_title() == "ρ" and len(ax.texts) == 9
    labelled(plots.term_correlation(analysis.kept_overlap(terms, 0.1)))
    labelled(plots.term_correlation(analysis.rank_correlation(terms, per_layer=True)))


def test_taylor_check_draws_one_point_per_weight_and_the_diagonal():
    table = pd.DataFrame(dict(estimate=[-0.2, 0.1, 0.3], actual=[-0.1, 0.12, 0.5]))
    ax = labelled(plots.taylor_check(table))
    assert ax.collections[0].get_offsets().tolist() == table[["estimate", "actual"]].values.tolist()
    diagonal = ax.lines[0]
    assert list(diagonal.get_xdata()) == list(diagonal.get_ydata()) == [-0.2, 0.5]


def test_time_and_speedup_plots(frame):
    ax = labelled(plots.time_bars(frame, log=True))
    assert "(s)" in ax.get_ylabel()
    drive_colour = to_hex(plots.METHOD_COLORS["drive"])
    bar_colours = {to_hex(patch.get_facecolor()[:3]) for patch in ax.patches}
    assert drive_colour in bar_colours  # the same colour as DRIVE's line in accuracy_vs_sparsity
    one_sparsity = frame[frame.sparsity == 0.9]
    ax = labelled(plots.time_bars(one_sparsity, hue="label"))
    assert "DRIVE (full)" in [t.get_text() for t in ax.get_xticklabels()]
    ax = labelled(plots.speedup_vs_imp(analysis.speedup_vs_imp(frame)))
    assert ax.get_yscale() == "log"
    drive = next(line for line in ax.get_lines() if line.get_label() == "DRIVE")
    assert np.allclose(drive.get_ydata(), [25.0, 25.0])
    assert to_hex(drive.get_color()) == drive_colour
    labelled(plots.speedup_vs_imp(frame))  # a raw result frame is converted


def test_training_curves_and_schedule():
    history = [{"epoch": e, "test_accuracy": 0.5 + 0.1 * e, "train_loss": 1.0 / e} for e in (1, 2, 3)]
    ax = labelled(plots.training_curves([("DRIVE", history), ("SNIP", history)]))
    assert np.allclose(ax.get_lines()[0].get_ydata(), [60.0, 70.0, 80.0])
    assert line_color(ax, "DRIVE") == plots.METHOD_COLORS["drive"]
    labelled(plots.training_curves({"drive": history}, value="train_loss"))
    densities = exponential_schedule(0.01, 10)
    ax = labelled(plots.schedule(densities))
    line = ax.get_lines()[0]
    assert line.get_xdata()[0] == 0 and line.get_ydata()[0] == 1.0 and line.get_ydata()[-1] == pytest.approx(0.01)
    assert ax.get_yscale() == "log"
    labelled(plots.schedule({"N = 10": densities, "N = 100": exponential_schedule(0.01, 100)}, log=False))


def test_colors_are_fixed_and_distinct():
    assert plots.color("drive") == plots.color("DRIVE") == plots.color("DRIVE (full)") == plots.METHOD_COLORS["drive"]
    assert plots.color("GraSP") == plots.METHOD_COLORS["grasp"]
    colours = list(plots.METHOD_COLORS.values()) + [c for name, c in plots.ABLATION_COLORS.items() if name != "DRIVE (full)"]
    assert len(set(colours)) == len(colours)
    assert set(plots.ABLATION_COLORS) == set(analysis.ABLATION_LABELS)
    assert plots.color("something else") == plots.color("something else")


def test_run_results_are_accepted_directly():
    from drive_lab.results import RunResult

    def result(method, sparsity, convergence=1.0):
        density = 1 - sparsity
        return RunResult(
            key=f"{method}-{sparsity}-{convergence}", config={"method": method, "sparsity": sparsity, "seed": 0,
                                                              "convergence": convergence, "combine": "sum"},
            final_test_accuracy=0.8, best_test_accuracy=0.8, final_test_loss=0.5, density=density,
            kept_weights=int(1000 * density), prunable_weights=1000,
            layer_density={"conv.weight": density, "fc.weight": 0.0}, collapsed_layers=["fc.weight"],
            seconds={"warmup": 1.0, "scoring": 1.0, "pruning": 2.0, "training": 3.0, "total": 5.0},
            environment={"device": "cpu"},
            training_history=[{"epoch": 1, "test_accuracy": 0.7}, {"epoch": 2, "test_accuracy": 0.8}],
            pruning_history=[{"iteration": 1, "target_density": 0.5, "density": 0.5, "kept": 500,
                              "layer_density": {"conv.weight": 0.5, "fc.weight": 0.5}, "collapsed": [], "seconds": 0.1},
                             {"iteration": 2, "target_density": density, "density": density, "kept": 100,
                              "layer_density": {"conv.weight": 0.2, "fc.weight": 0.0}, "collapsed": ["fc.weight"],
                              "seconds": 0.1}])

    runs = [result("drive", 0.9), result("drive", 0.9, convergence=0.0), result("snip", 0.9)]
    table = analysis.layer_density_table(runs)
    assert list(table.index.get_level_values("label")) == ["DRIVE (full)", "without convergence", "SNIP"]
    assert (table["fc.weight"] == 0).all()
    assert analysis.first_collapse(runs[0].pruning_history) == (2, "fc.weight")
    ax = labelled(plots.training_curves(runs))
    assert [line.get_label() for line in ax.get_lines()] == ["DRIVE (full), 90%", "without convergence, 90%", "SNIP, 90%"]
    assert line_color(ax, "SNIP, 90%") == plots.METHOD_COLORS["snip"]


def test_metric_vs_plots_means_over_seeds():
    import matplotlib.pyplot as plt
    import pandas as pd

    from drive_lab import plots

    frame = pd.DataFrame({"method": ["drive"] * 4, "warmup_epochs": [0, 0, 2, 2], "sparsity": [0.9] * 4,
                          "seed": [0, 1, 0, 1], "final_test_accuracy": [0.5, 0.7, 0.8, 0.9]})
    fig = plots.metric_vs(frame, x="warmup_epochs")
    ax = fig.axes[0]
    line = ax.get_lines()[0]
    assert list(line.get_xdata()) == [0, 2]
    assert list(line.get_ydata()) == pytest.approx([60.0, 85.0])
    assert "warm-up epochs" in ax.get_xlabel() and "%" in ax.get_ylabel()
    plt.close(fig)


# ----------------------------------------------------------------------------- what pruning buys, M·C·V
def test_layer_costs_counts_weights_and_macs_by_hand():
    from torch import nn

    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, bias=False), nn.BatchNorm2d(2), nn.Flatten(),
                          nn.Linear(2 * 5 * 5, 3))
    running_mean = model[1].running_mean.clone()
    costs = analysis.layer_costs(model, torch.randn(4, 1, 5, 5))
    assert list(costs["layer"]) == ["0.weight", "3.weight"]
    assert list(costs["type"]) == ["Conv2d", "Linear"]
    assert list(costs["weights"]) == [2 * 9, 50 * 3]
    # conv: 2 output maps of 5×5 positions, 9 multiply-accumulates each; linear: one per weight
    assert list(costs["macs"]) == [2 * 25 * 9, 150]
    assert costs["weight_share"].tolist() == pytest.approx([18 / 168, 150 / 168])
    assert costs["mac_share"].tolist() == pytest.approx([450 / 600, 150 / 600])
    assert model.training and torch.equal(model[1].running_mean, running_mean)  # mode and buffers restored


def test_pruning_savings_scales_each_layer_by_its_density():
    costs = pd.DataFrame({"layer": ["conv1.weight", "fc.weight"], "weights": [100, 1000], "macs": [6400, 1000]})
    frame = pd.DataFrame([run_row("dense", 0.0, 0, 0.9, layers={"conv1.weight": 1.0, "fc.weight": 1.0}),
                          run_row("drive", 0.9, 0, 0.8, layers={"conv1.weight": 0.5, "fc.weight": 0.05})])
    table = analysis.pruning_savings(costs, frame)
    assert list(table["label"]) == ["Dense", "DRIVE (full)"]
    assert list(table["weights"]) == [1100, 50 + 50]
    assert list(table["macs"]) == [7400, 3200 + 50]
    assert table["mac_fraction"].tolist() == pytest.approx([1.0, 3250 / 7400])
    assert table["weight_fraction"].tolist() == pytest.approx([1.0, 100 / 1100])
    with pytest.raises(KeyError, match="conv1.weight"):
        analysis.pruning_savings(costs[costs["layer"] == "fc.weight"], frame)


def test_versus_dense_compares_every_group_with_the_dense_mean(frame):
    table = analysis.versus_dense(frame)
    assert "dense" not in set(table["method"])
    assert np.allclose(table["dense_mean"], 0.95) and (table["dense_n"] == 2).all()
    snip = table[(table["method"] == "snip") & (table["sparsity"] == 0.9)].iloc[0]
    assert snip["mean"] == pytest.approx(0.85 - 0.09 + 0.01)
    assert snip["change"] == pytest.approx(snip["mean"] - 0.95)
    no_dense = analysis.versus_dense(frame[frame["method"] != "dense"])
    assert no_dense["change"].isna().all() and (no_dense["dense_n"] == 0).all()


def test_stored_results_reads_the_records_of_a_frame_and_skips_missing_ones(tmp_path):
    from drive_lab import RunConfig, ResultStore
    from drive_lab.results import RunResult

    config = RunConfig(method="snip", sparsity=0.5)
    record = RunResult(key=config.key(), config=config.to_dict(), final_test_accuracy=0.8, best_test_accuracy=0.8,
                       final_test_loss=0.5, density=0.5, kept_weights=5, prunable_weights=10,
                       layer_density={"fc.weight": 0.5}, collapsed_layers=[], seconds={"pruning": 1.0},
                       environment={"device": "cpu"}, training_history=[{"epoch": 1, "test_accuracy": 0.8}])
    record.save(ResultStore(tmp_path).path(config))
    found = analysis.stored_results(pd.DataFrame({"key": ["0123456789abcdef", config.key()]}), results_dir=tmp_path)
    assert [r.key for r in found] == [config.key()]
    assert found[0].training_history == [{"epoch": 1, "test_accuracy": 0.8}]
    assert analysis.stored_results(pd.DataFrame({"key": ["0123456789abcdef"]}), results_dir=tmp_path) == []


def test_term_product_is_theta_g_squared_and_ranks_exactly_like_snip():
    from drive_lab import exercises, scores

    terms = {"magnitude": {"w": torch.tensor([2.0, 1.0])}, "connection": {"w": torch.tensor([6.0, 0.5])},
             "convergence": {"w": torch.tensor([3.0, 0.5])}}
    product = analysis.term_product(terms)
    assert product["w"].dtype == torch.float64 and product["w"].tolist() == [36.0, 0.25]
    assert analysis.term_product(terms, ["magnitude", "convergence"])["w"].tolist() == [6.0, 0.5]
    model, batches, _ = exercises.exercise_network()
    terms = scores.drive_terms(model, batches)
    theta_g_squared = {name: (terms["connection"][name].double()) ** 2 for name in terms["connection"]}
    for name, value in analysis.term_product(terms).items():
        assert torch.allclose(value, theta_g_squared[name], rtol=1e-5, atol=0)
    table = analysis.rank_correlation({"M·C·V": analysis.term_product(terms), "SNIP": scores.snip(model, batches),
                                       "DRIVE": scores.drive(model, batches)})
    assert table.loc["M·C·V", "SNIP"] == pytest.approx(1.0, abs=1e-12)
    assert table.loc["M·C·V", "DRIVE"] < 0.999  # the normalised sum is a different ranking


def test_paired_difference_pairs_runs_by_seed_against_hand_values():
    rows = []
    for seed, (full, without) in enumerate([(0.80, 0.70), (0.75, 0.77), (0.90, 0.81)]):
        rows.append({"method": "drive", "sparsity": 0.9, "seed": seed, "convergence": 1.0, "final_test_accuracy": full})
        rows.append({"method": "drive", "sparsity": 0.9, "seed": seed, "convergence": 0.0,
                     "final_test_accuracy": without})
    rows.append({"method": "drive", "sparsity": 0.99, "seed": 0, "convergence": 1.0, "final_test_accuracy": 0.5})
    rows.append({"method": "drive", "sparsity": 0.99, "seed": 0, "convergence": 0.0, "final_test_accuracy": 0.5})
    rows.append({"method": "drive", "sparsity": 0.99, "seed": 7, "convergence": 1.0, "final_test_accuracy": 0.9})  # no partner
    frame = pd.DataFrame(rows)
    table = analysis.paired_difference(frame, "DRIVE (full)", "without convergence")  # labels added
    assert list(table["sparsity"]) == [0.9, 0.99]
    first, second = table.iloc[0], table.iloc[1]
    differences = [0.10, -0.02, 0.09]
    assert first["n"] == 3 and first["difference"] == pytest.approx(sum(differences) / 3)
    assert first["std"] == pytest.approx(float(np.std(differences, ddof=1)))
    assert first["sem"] == pytest.approx(float(np.std(differences, ddof=1)) / math.sqrt(3))
    assert (first["a_wins"], first["b_wins"], first["ties"]) == (2, 1, 0)
    t_975_2 = 4.302652729911275  # Student t quantile, 2 degrees of freedom (tables)
    half = t_975_2 * float(np.std(differences, ddof=1)) / math.sqrt(3)
    assert (first["ci_low"], first["ci_high"]) == (pytest.approx(first["difference"] - half),
                                                   pytest.approx(first["difference"] + half))
    assert first["mean_a"] == pytest.approx(2.45 / 3) and first["mean_b"] == pytest.approx(0.76)
    assert second["n"] == 1 and second["difference"] == 0 and math.isnan(second["std"]) and second["ties"] == 1
    assert math.isnan(second["ci_low"]) and math.isnan(second["ci_high"])
    overall = analysis.paired_difference(frame, "DRIVE (full)", "without convergence", by=(),
                                         pair_on=("sparsity", "seed"))
    assert len(overall) == 1 and overall["n"].iloc[0] == 4
    assert overall.attrs["a"] == "DRIVE (full)" and overall.attrs["b"] == "without convergence"
    with pytest.raises(KeyError, match="available"):
        analysis.paired_difference(frame, "DRIVE (full)", "without magnitude")
    with pytest.raises(ValueError, match="cannot pair"):
        analysis.paired_difference(pd.concat([frame, frame]), "DRIVE (full)", "without convergence")


def test_tradeoff_gain_per_extra_second_against_hand_values():
    rows = []
    for method, accuracies, seconds in [("drive", {0: (0.50, 0.60), 1: (0.70, 0.70), 2: (0.80, 0.76)},
                                         {0: (1.0, 3.0), 1: (6.0, 6.0), 2: (11.0, 11.0)}),
                                        ("snip", {0: (0.40, 0.40), 1: (0.40, 0.40)}, {0: (0.5, 0.5), 1: (0.5, 0.5)})]:
        for warmup, values in accuracies.items():
            for seed, accuracy in enumerate(values):
                rows.append({"method": method, "sparsity": 0.9, "warmup_epochs": warmup, "seed": seed,
                             "final_test_accuracy": accuracy, "seconds_pruning": seconds[warmup][seed],
                             "seconds_warmup": seconds[warmup][seed] - 0.5})
    table = analysis.tradeoff(pd.DataFrame(rows).sample(frac=1.0, random_state=0))  # row order must not matter
    assert list(table["method"]) == ["drive"] * 3 + ["snip"] * 2 and list(table["warmup_epochs"]) == [0, 1, 2, 0, 1]
    drive = table[table["method"] == "drive"].set_index("warmup_epochs")
    assert drive.loc[0, "mean"] == pytest.approx(0.55) and drive.loc[0, "n"] == 2
    assert drive.loc[0, "seconds"] == pytest.approx(2.0) and drive.loc[2, "seconds_warmup"] == pytest.approx(10.5)
    assert math.isnan(drive.loc[0, "seconds_scoring"])  # not in the frame
    assert drive.loc[1, "gain_points"] == pytest.approx(15.0) and drive.loc[1, "extra_seconds"] == pytest.approx(4.0)
    assert drive.loc[1, "points_per_second"] == pytest.approx(15.0 / 4.0)
    assert drive.loc[2, "gain_points"] == pytest.approx(23.0)
    assert drive.loc[2, "points_per_second"] == pytest.approx(23.0 / 9.0)
    assert drive.loc[0, "gain_points"] == 0 and math.isnan(drive.loc[0, "points_per_second"])
    snip = table[table["method"] == "snip"].set_index("warmup_epochs")
    assert snip.loc[1, "extra_seconds"] == 0
    assert math.isnan(snip.loc[1, "points_per_second"])  # no extra cost: undefined
    with pytest.raises(KeyError, match="seconds_pruning"):
        analysis.tradeoff(pd.DataFrame(rows).drop(columns="seconds_pruning"))


def test_ranking_names_the_best_method_and_where_drive_ranks():
    rows = []
    for seed in (0, 1):
        for method, accuracies in {"drive": (0.80, 0.90), "snip": (0.70, 0.70), "synflow": (0.90, 0.92),
                                   "dense": (0.99, 0.99)}.items():
            rows.append({"model": "mlp", "method": method, "sparsity": 0.9, "seed": seed,
                         "final_test_accuracy": accuracies[0]})
            rows.append({"model": "mlp", "method": method, "sparsity": 0.99, "seed": seed,
                         "final_test_accuracy": accuracies[1] - (0.3 if method == "synflow" else 0.0)})
    table = analysis.ranking(pd.DataFrame(rows)).set_index("sparsity")
    assert list(table.index) == [0.9, 0.99] and (table["methods"] == 3).all()  # dense left out
    first, second = table.loc[0.9], table.loc[0.99]
    assert first["best"] == "synflow" and first["best_mean"] == pytest.approx(0.90) and first["best_n"] == 2
    assert first["focus_rank"] == 2 and first["focus_mean"] == pytest.approx(0.80) and first["focus_std"] == 0
    assert first["runner_up"] == "synflow" and first["gap_points"] == pytest.approx(-10.0)
    assert second["best"] == "drive" and second["focus_rank"] == 1
    assert second["runner_up"] == "snip" and second["gap_points"] == pytest.approx(20.0)
    assert second["runner_up_mean"] == pytest.approx(0.70) and second["runner_up_n"] == 2
    without_drive = analysis.ranking(pd.DataFrame(rows).query("method != 'drive'"))
    assert without_drive["focus_n"].eq(0).all() and without_drive["focus_rank"].isna().all()


def test_format_mean_drops_the_spread_of_a_single_run():
    assert analysis.format_mean(0.98333, 0.00123, 3) == "98.33 ± 0.12% (n = 3)"
    assert analysis.format_mean(0.5, float("nan"), 1) == "50.00% (n = 1)"
    assert analysis.format_mean(0.5, 0.1, 1) == "50.00% (n = 1)"
    assert analysis.format_mean(12.345, 1.0, 2, percent=False, digits=1) == "12.3 ± 1.0 (n = 2)"


def test_labels_name_departures_from_a_methods_schedule():
    from drive_lab import analysis

    rows = [{"method": "snip", "iterations": 1}, {"method": "snip", "iterations": 10},
            {"method": "synflow", "iterations": 1}, {"method": "synflow", "iterations": 100},
            {"method": "drive", "iterations": 1, "magnitude": 1, "connection": 1, "convergence": 1, "combine": "sum"},
            {"method": "imp", "iterations": 11}]
    assert [analysis.ablation_label(r) for r in rows] == [
        "SNIP", "SNIP (iterative)", "SynFlow (one-shot)", "SynFlow", "DRIVE (full) (one-shot)", "IMP"]


def test_a_sanity_checked_run_is_labelled_apart_from_the_method_itself():
    from drive_lab.analysis.labels import ablation_label

    assert ablation_label({"method": "imp", "sanity": "shuffle"}) == "IMP [shuffle]"
    assert ablation_label({"method": "imp", "sanity": "none"}) == "IMP"
    assert ablation_label({"method": "drive", "convergence": 0, "sanity": "invert"}) == "without convergence [invert]"
