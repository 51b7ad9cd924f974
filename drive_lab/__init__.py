"""drive_lab: learn, reproduce and extend DRIVE-style early pruning with PyTorch.

DRIVE (Saikumar & Varghese, arXiv 2404.03687) trains a dense network for a few epochs,
then prunes it iteratively by a score with three terms: parameter magnitude, connection
sensitivity and convergence sensitivity. The algorithms are pinned down in method.md.

Ten lines::

    import drive_lab
    result = drive_lab.run(drive_lab.RunConfig(method="drive", dataset="digits", sparsity=0.9))
    print(result.summary())
"""
__version__ = "0.1.0"

from .config import RunConfig
from .masks import Masks
from .pipeline import run, warmed_up
from .progress import set_progress
from .results import RunResult
from .store import ResultStore
from .sweep import expand_grid, load_results, sweep
from . import analysis, exercises, experiments, literature, plots, presets  # noqa: E402  (the course's toolbox)

__all__ = ["RunConfig", "RunResult", "Masks", "ResultStore", "expand_grid", "load_results", "run", "set_progress",
           "sweep", "warmed_up", "analysis", "exercises", "experiments", "literature", "plots", "presets", "__version__"]
