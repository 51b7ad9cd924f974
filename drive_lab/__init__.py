"""drive_lab: learn, reproduce and extend DRIVE-style early pruning with PyTorch.

DRIVE (Saikumar & Varghese, arXiv 2404.03687) trains a dense network for a few epochs,
then prunes it iteratively by a score with three terms: parameter magnitude, connection
sensitivity and convergence sensitivity. The algorithms are pinned down in method.md.

Ten lines::

    import drive_lab
    result = drive_lab.run(drive_lab.RunConfig(method="drive", dataset="digits", sparsity=0.9))
    print(result.summary())

Submodules and the names below load on first use (PEP 562), so ``import drive_lab`` is
quick and pulls in neither torch, pandas nor matplotlib; ``drive_lab.widgets``,
``drive_lab.plots`` and every other submodule are reachable as attributes (except that
``drive_lab.sweep`` is the function; its module is ``from drive_lab.sweep import ...``).
"""
from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING

from .version import RESULTS_SCHEMA, __version__

# public name -> the module that defines it
_API = {
    "RunConfig": "config",
    "RunResult": "results",
    "Masks": "masks",
    "ResultStore": "store",
    "expand_grid": "sweep",
    "load_results": "sweep",
    "sweep": "sweep",
    "run": "pipeline",
    "warmed_up": "pipeline",
    "set_progress": "progress",
    "register_method": "methods",
}

# Every submodule and subpackage, in layer order (README "What is where").
_SUBMODULES = (
    "version", "paths", "progress", "runtime",
    "data", "models", "masks", "scores",
    "pruning", "training",
    "methods", "config", "results", "phases", "imp", "pipeline",
    "store", "sweep", "presets", "experiments",
    "analysis", "plots", "exercises", "literature", "term_contributions", "explorer", "browser", "widgets",
    "cli",
)

__all__ = [*_API, *_SUBMODULES, "__version__", "RESULTS_SCHEMA"]


def __getattr__(name: str):
    if name in _API:
        value = getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'drive_lab' has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """``drive_lab.sweep`` is the function ``sweep`` (the README's API), although a submodule
    of that name exists: importing the submodule binds it on the package, which would hide
    the function. The submodule stays reachable as ``from drive_lab.sweep import ...``."""

    @property
    def sweep(self):
        return importlib.import_module(".sweep", __name__).sweep

    @sweep.setter
    def sweep(self, value) -> None:
        pass  # the import system binding the submodule: the name keeps meaning the function


sys.modules[__name__].__class__ = _Package


if TYPE_CHECKING:  # for type checkers and IDEs: the names above, eagerly
    from . import analysis, exercises, experiments, literature, plots, presets, widgets  # noqa: F401
    from .config import RunConfig  # noqa: F401
    from .masks import Masks  # noqa: F401
    from .methods import register_method  # noqa: F401
    from .pipeline import run, warmed_up  # noqa: F401
    from .progress import set_progress  # noqa: F401
    from .results import RunResult  # noqa: F401
    from .store import ResultStore  # noqa: F401
    from .sweep import expand_grid, load_results, sweep  # noqa: F401
