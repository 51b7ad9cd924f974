"""Checkers for the course's exercises: a learner writes an answer, a checker verifies it.

Every checker prints a short verdict and returns a :class:`Verdict` (truthy when correct).
An answer that still raises ``NotImplementedError`` counts as "not attempted yet", so a
notebook with untouched exercise stubs runs from top to bottom. A wrong answer gets a hint
that names the mistake it matches (per-layer instead of global normalisation, pruned weights
not at −inf, ties kept at a threshold, momentum reviving pruned weights, ...), found by
recomputing the usual wrong versions beside the right one.

* :mod:`.scores`: the three DRIVE terms and their combination (build the score).
* :mod:`.pruning`: schedule, global top-k, the iterative loop, an IMP round, a masked SGD
  step, the within-layer shuffle, kept counts and collapse (build the pruner).
* :mod:`.tables`: reading result tables (speed-ups, gaps, warm-up trade-offs, intervals).
"""
from .pruning import (check_first_collapse, check_imp_round, check_keep_top, check_kept_count,
                      check_masked_sgd_step, check_prune_loop, check_schedule, check_shuffle_within_layers,
                      reference_keep_top)
from .scores import check_connection_sensitivity, check_convergence_sensitivity, check_drive_score, exercise_network
from .tables import (check_best_warmup, check_epoch_ratio, check_gain_per_second, check_largest_gap,
                     check_paired_interval, check_product_ranks_like_snip, check_speedup)
from .verdicts import Verdict

__all__ = [
    "Verdict", "exercise_network", "reference_keep_top",
    "check_convergence_sensitivity", "check_connection_sensitivity", "check_drive_score",
    "check_schedule", "check_keep_top", "check_prune_loop", "check_imp_round", "check_masked_sgd_step",
    "check_shuffle_within_layers", "check_kept_count", "check_first_collapse",
    "check_speedup", "check_product_ranks_like_snip", "check_largest_gap", "check_best_warmup",
    "check_gain_per_second", "check_epoch_ratio", "check_paired_interval",
]
