"""Readable names of runs: method display names and the labels of DRIVE's term-weight variants.

Method names, colours and schedules come from the registry (:mod:`drive_lab.methods`);
this module only turns a run's config into the label tables and figures group by.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import pandas as pd

from ..methods import DRIVE_VARIANTS, METHODS, TERMS, display_name

__all__ = ["ABLATION_LABELS", "DISPLAY_NAMES", "MethodAttribute", "ablation_label", "add_labels", "display_name"]


class MethodAttribute(Mapping):
    """A read-only, live ``{method key: attribute}`` view of the registered methods.

    ``MethodAttribute("color")["drive"]`` is ``METHODS["drive"].color``; a method
    registered later (``register_method``) appears at once.

    Args:
        attribute: a :class:`~drive_lab.methods.MethodSpec` field (``"display_name"``,
            ``"color"``, ``"marker"``, ...).
        order: ``() -> method keys``, the iteration order (default: registration order);
            keys it names that are not registered are skipped.
    """

    def __init__(self, attribute: str, order: Callable[[], Iterable[str]] | None = None) -> None:
        self.attribute = attribute
        self._order = order

    def __getitem__(self, method: str) -> Any:
        if method not in METHODS:
            raise KeyError(method)
        return getattr(METHODS[method], self.attribute)

    def __iter__(self) -> Iterator[str]:
        keys = list(METHODS) if self._order is None else list(self._order())
        return iter([key for key in keys if key in METHODS])

    def __len__(self) -> int:
        return len(list(iter(self)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.attribute!r}: {dict(self)!r})"


# ``{method key: printed name}`` of every registered method ("grasp" -> "GraSP").
DISPLAY_NAMES: Mapping[str, str] = MethodAttribute("display_name")

# The DRIVE term-weight variants that :func:`ablation_label` names, in teaching order.
ABLATION_LABELS: tuple[str, ...] = tuple(DRIVE_VARIANTS)


def _field(row: Mapping[str, Any], name: str, default: Any) -> Any:
    """``row[name]``, or ``default`` when the field is missing or NaN (frames written by older versions)."""
    value = row.get(name, default) if hasattr(row, "get") else default
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return default
    return value


def _weights_text(names: Sequence[str], weights: Sequence[float]) -> str:
    return ", ".join(f"{name[:4]}={weight:g}" for name, weight in zip(names, weights))


def ablation_label(row_or_frame: Mapping[str, Any] | pd.DataFrame) -> str | pd.Series:
    """A readable name for a run, naming DRIVE's term-weight variants.

    Args:
        row_or_frame: one run (a frame row, a dict, or a ``RunResult.config``) with the
            fields ``method`` and, for DRIVE, ``magnitude``, ``connection``,
            ``convergence`` (term weights a, b, c) and ``combine``; or a whole result
            frame. Missing term fields count as the defaults (1, 1, 1, ``"sum"``); a
            missing ``method`` counts as ``"drive"``.

    Returns:
        For a row, a string; for a frame, a Series of strings named ``label``, aligned
        with its index.

        - non-DRIVE methods: the method's display name (``"SNIP"``, ``"IMP"``, ...);
        - ``combine="sum"``: ``"DRIVE (full)"`` when a = b = c > 0 (equal positive weights
          rank exactly like a = b = c = 1); ``"without convergence"`` (etc.) when exactly
          one weight is 0; ``"magnitude only"`` (etc.) when two are 0. Unequal non-zero
          weights are appended, e.g. ``"without convergence (magn=2, conn=1)"``;
        - ``combine="product"`` (S = M·(b·C/ΣC + c·V/ΣV); a only rescales): ``"product"``
          when b = c > 0, ``"product without connection"`` / ``"product without
          convergence"`` when one is 0, otherwise ``"product (conn=…, conv=…)"``;
        - a run whose ``iterations`` departs from its method's usual schedule
          (``METHODS[method].iterations``) gets ``" (one-shot)"`` or ``" (iterative)"``;
        - a sanity-checked run (``sanity`` other than ``"none"``) gets ``" [shuffle]"``,
          ``" [reinit]"`` or ``" [invert]"``, so it is never mistaken for the method's own run.
    """
    if isinstance(row_or_frame, pd.DataFrame):
        if len(row_or_frame) == 0:
            return pd.Series([], index=row_or_frame.index, dtype=object, name="label")
        return row_or_frame.apply(ablation_label, axis=1).rename("label")  # rows are runs, not weights
    row = row_or_frame
    method = str(_field(row, "method", "drive"))
    name = _drive_label(row) if method == "drive" else display_name(method)
    sanity = _field(row, "sanity", "none")
    checked = f" [{sanity}]" if isinstance(sanity, str) and sanity not in ("none", "") else ""
    return name + _schedule_suffix(row, method) + checked


def _schedule_suffix(row: Mapping[str, Any], method: str) -> str:
    """" (one-shot)" / " (iterative)" when a run departs from its method's usual schedule."""
    spec = METHODS.get(method)
    iterations = _field(row, "iterations", None)
    if spec is None or not spec.takes_iterations or iterations is None or pd.isna(iterations):
        return ""
    if int(iterations) == 1 and spec.iterations > 1:
        return " (one-shot)"
    if int(iterations) > 1 and spec.iterations == 1:
        return " (iterative)"
    return ""


def _drive_label(row: Mapping[str, Any]) -> str:
    combine = str(_field(row, "combine", "sum"))
    weights = {name: float(_field(row, name, 1.0)) for name in TERMS}
    if combine == "product":
        active = {name: weights[name] for name in ("connection", "convergence")}
        dropped = [name for name, weight in active.items() if weight == 0]
        kept = {name: weight for name, weight in active.items() if weight != 0}
        label = "product" + (f" without {dropped[0]}" if len(dropped) == 1 else "")
    else:
        dropped = [name for name in TERMS if weights[name] == 0]
        kept = {name: weights[name] for name in TERMS if weights[name] != 0}
        if not dropped:
            label = "DRIVE (full)"
        elif len(dropped) == 1:
            label = f"without {dropped[0]}"
        elif len(kept) == 1:
            label = f"{next(iter(kept))} only"
        else:  # all three dropped: not a valid config, named anyway
            label = "DRIVE (no term)"
    if len(set(kept.values())) > 1:
        label += f" ({_weights_text(list(kept), list(kept.values()))})"
    return label


def add_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of the result ``frame`` (one row per run) with a ``label`` column from :func:`ablation_label`."""
    labelled = frame.copy()
    labelled["label"] = ablation_label(frame) if len(frame) else pd.Series(dtype=object)
    return labelled
