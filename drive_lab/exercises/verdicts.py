"""The verdict every checker prints and returns, and the validation of learners' answers."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    correct: bool
    message: str
    attempted: bool = True

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:
        return ("✔ " if self.correct else ("… " if not self.attempted else "✘ ")) + self.message

    def _ipython_display_(self) -> None:
        """Jupyter shows nothing more: the checker has already printed the verdict."""


def _verdict(correct: bool, message: str, attempted: bool = True) -> Verdict:
    verdict = Verdict(correct, message, attempted)
    print(repr(verdict))
    return verdict


def _not_attempted(what: str, value_answer: bool = False) -> Verdict:
    how = "fill in your answer" if value_answer else "replace `raise NotImplementedError` with your code"
    return _verdict(False, f"{what}: not attempted yet ({how})", False)


def _whole_number(what: str, answer) -> tuple[int | None, "Verdict | None"]:
    """``(int(answer), None)`` for a whole number (int, or a float/NumPy value equal to one),
    else ``(None, verdict)`` saying what to give instead. Booleans and strings are refused."""
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        return None, _verdict(False, f"{what}: give a whole number (an int), got {type(answer).__name__} {answer!r}")
    if not math.isfinite(float(answer)) or float(answer) != int(answer):
        return None, _verdict(False, f"{what}: a count of weights is a whole number, got {answer!r}")
    return int(answer), None


def _true_or_false(what: str, answer) -> tuple[bool | None, "Verdict | None"]:
    """``(answer, None)`` for a bool (Python or NumPy), else ``(None, verdict)``; the string "True" is refused."""
    if isinstance(answer, bool) or type(answer).__name__ == "bool_":
        return bool(answer), None
    return None, _verdict(False, f"{what}: answer True or False (a bool, without quotes), got "
                                 f"{type(answer).__name__} {answer!r}")
