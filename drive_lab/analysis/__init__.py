"""Tables for the course: summaries over seeds, speed-up against IMP, and how DRIVE's terms relate.

Two kinds of input:

- *result frames*, one row per run, from :func:`drive_lab.sweep.load_results` or
  :func:`drive_lab.sweep.results_frame` (accuracies are fractions in [0, 1], times in
  seconds, densities are fractions of prunable weights kept);
- *terms*, ``{"magnitude" | "connection" | "convergence": {param_name: Tensor}}`` from
  :func:`drive_lab.scores.drive.drive_terms` (pruned weights are 0 in every term).

Every function returns a :class:`pandas.DataFrame` (or a plain value) and never plots:
:mod:`drive_lab.plots` draws these tables. Work over weights is vectorised in torch;
Python loops run over runs, layers and terms only. Method names come from the registry
(:mod:`drive_lab.methods`). This package needs pandas and torch, never matplotlib.

Modules, one concept each:

- :mod:`.labels`: display names of methods, labels of DRIVE's term-weight variants;
- :mod:`.tables`: summaries, paired differences, trade-offs, rankings, speed-up vs IMP,
  comparison with the dense network, ``format_mean`` and :func:`require_columns`;
- :mod:`.terms`: rank correlation, kept-set overlaps, per-layer term statistics;
- :mod:`.costs`: layer sizes and MACs, what pruning saves, layer densities, collapse;
- :mod:`.stored`: the stored ``RunResult`` records behind a table's rows;
- :mod:`.findings`: the sentences stating what a table shows (who is ahead, by how much, with the interval);
- :mod:`.claims`: the paper's claims tested on the reproduction study, verdicts and the sentences stating them;
- :mod:`.warmup`: what the warm-up buys and costs (paired gains, gain per second with its uncertainty, equal budgets);
- :mod:`.references`: DRIVE against IMP (epochs, speed-up sentences) and the sanity checks in sentences;
- :mod:`.study_sentences`: the reproduction study's tables in sentences (equal-setting scores, terms, the E x λ map);
- :mod:`.score_modes`: the masks one score keeps in BatchNorm train and eval mode, and how many weights they share;
- :mod:`.taylor`: SNIP's first-order derivation checked: the actual loss change of removing a weight vs −g·θ.
"""
from . import claims, findings, references, score_modes, study_sentences, taylor, term_findings, warmup
from .costs import emptying_sparsity, first_collapse, layer_costs, layer_density_table, pruning_savings
from .labels import ABLATION_LABELS, DISPLAY_NAMES, MethodAttribute, ablation_label, add_labels, display_name
from .stored import stored_results
from .tables import (format_mean, paired_difference, ranking, require_columns, speedup_vs_imp, summarise, tradeoff,
                     versus_dense)
from .terms import (Terms, average_ranks, flat_term, kept_overlap, layer_names, rank_correlation, term_change,
                    term_product, term_statistics)

__all__ = [
    # labels
    "ABLATION_LABELS", "DISPLAY_NAMES", "MethodAttribute", "ablation_label", "add_labels", "display_name",
    # tables
    "format_mean", "paired_difference", "ranking", "require_columns", "speedup_vs_imp", "summarise", "tradeoff",
    "versus_dense",
    # terms
    "Terms", "average_ranks", "flat_term", "kept_overlap", "layer_names", "rank_correlation", "term_change",
    "term_product", "term_statistics",
    # costs
    "emptying_sparsity", "first_collapse", "layer_costs", "layer_density_table", "pruning_savings",
    # stored runs
    "stored_results",
    # claims
    "claims",
]
