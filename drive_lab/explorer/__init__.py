"""The ablation explorer's logic: control values -> validated run configs -> stored runs -> tables.

Pure functions, no widgets and no figures, so everything the explorer
(:func:`drive_lab.widgets.ablation_explorer`) shows can be reproduced and tested without a
browser::

    from drive_lab import explorer
    controls = explorer.default_controls("smoke")        # DRIVE without convergence vs the full DRIVE
    variants, references = explorer.ablation_configs("smoke", controls, sparsity=0.8)
    outcome = explorer.run_ablation(controls, preset="smoke")   # tables; widgets.run_ablation adds figures

- :mod:`~drive_lab.explorer.controls`: :class:`AblationControls`, their defaults, and the
  configs they stand for, checked by :class:`~drive_lab.config.RunConfig` itself;
- :mod:`~drive_lab.explorer.runs`: names of the runs, :func:`run_ablation` and its
  :class:`AblationOutcome`, summary table and message; per-step progress
  (:class:`RunProgress`), stopping (:class:`RunStopped`) and the committed runs
  (:func:`committed_runs`), in :mod:`~drive_lab.explorer.steps`;
- :mod:`~drive_lab.explorer.findings`: the sentences notebook 06 states about them;
- :mod:`~drive_lab.explorer.widget`: the explorer widget itself (the one module here that
  imports ipywidgets; not imported by this package, use :mod:`drive_lab.widgets`).
"""
from __future__ import annotations

from .controls import (BASELINE_CHOICES, DEFAULT_BASELINES, AblationControls, ablation_configs, as_preset,
                       baseline_choices, control_problem, dataset_choices, default_controls, model_choices,
                       resolve_controls)
from .findings import accuracy_finding, contribution_finding, density_finding, selection_findings
from .runs import (FULL_DRIVE, ROLE_BASELINE, ROLE_BOTH, ROLE_FULL, ROLE_VARIANT, AblationOutcome, ProgressCallback,
                   ablation_message, ablation_summary, committed_runs, describe_run, run_ablation, term_variant,
                   variant_name)
from .steps import CONTRIBUTIONS_RUN, RunProgress, RunStopped, StepProgressCallback, clock, planned_steps

__all__ = [
    "AblationControls", "AblationOutcome", "BASELINE_CHOICES", "DEFAULT_BASELINES", "FULL_DRIVE", "ROLE_VARIANT",
    "ROLE_BOTH", "ROLE_FULL", "ROLE_BASELINE", "ProgressCallback", "as_preset", "baseline_choices", "model_choices",
    "dataset_choices", "default_controls", "resolve_controls", "control_problem", "ablation_configs", "term_variant",
    "variant_name", "describe_run", "run_ablation", "ablation_summary", "ablation_message", "RunProgress",
    "RunStopped", "StepProgressCallback", "CONTRIBUTIONS_RUN", "clock", "committed_runs", "planned_steps",
    "accuracy_finding", "density_finding", "contribution_finding", "selection_findings",
]
