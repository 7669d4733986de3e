"""The machinery behind every exercise checker.

A checker takes the learner's function, runs it on a few fixed cases, and returns a
:class:`CheckResult` that shows as ``✓ ...`` or ``✗ ...`` with the *specific* mistake
(forgot the 1/n, sign error, overflow, wrong axis...). A stub that still raises
``NotImplementedError`` gets a friendly "not implemented yet", never a traceback.

``result.or_reference()`` returns the learner's function when it passed and the
reference implementation otherwise, so the rest of a notebook keeps working.

Writing a checker (see ``nblib/check/losses.py``)::

    def my_thing(fn):
        return check_function("my_thing", fn, reference=ref, cases=[(args...), ...],
                              diagnoses=[Diagnosis("sum instead of mean", wrong_fn, "hint")])
"""

from __future__ import annotations

import sysconfig
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .._validate import describe

_LIBRARY_DIRS = tuple({Path(__file__).resolve().parent.parent,                      # nblib itself
                       *(Path(sysconfig.get_paths()[k]).resolve() for k in ("stdlib", "purelib", "platlib"))})


def _is_library(filename: str) -> bool:
    """True for a file of nblib, the standard library or an installed package (numpy, torch...)."""
    try:
        path = Path(filename).resolve()
    except (OSError, ValueError):
        return False
    return any(path.is_relative_to(d) for d in _LIBRARY_DIRS)

TODO_MESSAGE = ("not implemented yet: replace the `raise NotImplementedError()` line with your code, "
                "then run this cell again. The notebook continues with the reference version meanwhile.")


class CheckResult:
    """Outcome of one exercise check.

    Attributes
    ----------
    name : the exercise name.
    status : ``"pass"``, ``"fail"`` or ``"todo"`` (stub not implemented yet).
    message : one or more sentences for the learner.
    candidate : what the learner gave (usually a function).
    reference : the reference implementation (used by :meth:`or_reference`).
    """

    symbols = {"pass": "✓", "fail": "✗", "todo": "…"}

    def __init__(self, name, status, message, candidate=None, reference=None):
        if status not in self.symbols:
            raise ValueError(f"CheckResult: status must be pass/fail/todo, got {status!r}")
        self.name, self.status, self.message = name, status, message
        self.candidate, self.reference = candidate, reference

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def __bool__(self):
        return self.passed

    def __repr__(self):
        return f"{self.symbols[self.status]} {self.name}: {self.message}"

    def or_reference(self):
        """The learner's answer if it passed, else the reference (with a one-line note)."""
        if self.passed:
            return self.candidate
        ref_name = getattr(self.reference, "__qualname__", "the reference")
        module = getattr(self.reference, "__module__", "")
        where = f"{module}.{ref_name}" if module and module.startswith("nblib") else ref_name
        print(f"Using the reference `{where}` for the rest of this notebook "
              f"(your {self.name} is kept in its cell; fix it and re-run the check).")
        return self.reference


@dataclass
class Diagnosis:
    """A typical wrong answer: if the learner's output matches ``wrong(*case)``, say ``hint``."""
    label: str
    wrong: Callable
    hint: str


def _call(fn, args):
    """Run the learner's fn; return (value, None) or (None, (kind, text))."""
    try:
        # Overflow in the learner's code is diagnosed from the result (inf/NaN),
        # so numpy's warnings would only add noise.
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return fn(*args), None
    except NotImplementedError:
        return None, ("todo", TODO_MESSAGE)
    except Exception as exc:  # the learner's code failed: report it kindly and precisely
        # the last line of the learner's own code (not a line of nblib, numpy... that it called)
        own = [f for f in traceback.extract_tb(exc.__traceback__) if f.line and not _is_library(f.filename)]
        line = f" (line: `{own[-1].line}`)" if own else ""
        return None, ("fail", f"your function raised {type(exc).__name__}: {exc}{line}")


def returned(value) -> str:
    """What a learner's function gave back, for a message; ``None`` (the most common slip,
    a missing ``return``) is named as such."""
    if value is None:
        return "None: the function has no `return` statement (or returns nothing on this path)"
    return describe(value)


def _fmt_args(args):
    parts = []
    for a in args:
        arr = np.asarray(a) if not callable(a) else None
        if arr is not None and arr.dtype != object and arr.ndim >= 1:
            parts.append(f"shape {arr.shape}")
        else:
            parts.append(repr(a))
    return ", ".join(parts)


def _to_array(value):
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return arr


def _close(a, b, atol, rtol):
    return a.shape == b.shape and bool(np.all(np.isfinite(a))) and np.allclose(a, b, atol=atol, rtol=rtol)


def check_function(name, fn, *, reference, cases, diagnoses=(), atol=1e-8, rtol=1e-6,
                   success=None, scalar=False):
    """Run ``fn`` on each case of ``cases`` and compare with ``reference``.

    Parameters
    ----------
    name : exercise name shown to the learner.
    fn : the learner's function.
    reference : the correct function, called with the same arguments.
    cases : list of argument tuples. Put the hardest (e.g. extreme logits) last.
    diagnoses : list of :class:`Diagnosis`; the first whose output matches the learner's
        explains the mistake.
    scalar : the expected output is a single number; an array of another size is
        explained as "return the mean over the batch (a single number)".
    """
    if not callable(fn):
        return CheckResult(name, "fail", f"expected a function, got {describe(fn)}. Pass the function "
                           f"itself, without calling it: check.{name}(my_function)", fn, reference)
    for k, args in enumerate(cases, 1):
        copies = [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]
        value, err = _call(fn, copies)
        if err:
            return CheckResult(name, err[0], err[1] if err[0] == "todo" else
                               f"{err[1]} on test case {k} (inputs: {_fmt_args(args)}).", fn, reference)
        for a, c in zip(args, copies):
            if isinstance(a, np.ndarray) and not np.array_equal(a, c, equal_nan=True):
                return CheckResult(name, "fail", "your function changed its input array in place; "
                                   "compute a new array instead (e.g. `x - m`, not `x -= m`).", fn, reference)
        expected = np.asarray(reference(*args), dtype=float)
        got = None if value is None else _to_array(value)
        where = f"on test case {k} (inputs: {_fmt_args(args)})"
        if got is None:
            return CheckResult(name, "fail", f"returned {returned(value)}; expected numbers {where}.",
                               fn, reference)
        if scalar and got.size != 1:
            return CheckResult(name, "fail", f"returned an array of shape {got.shape} {where}; "
                               f"return the mean over the batch (a single number).", fn, reference)
        if scalar:
            got = got.reshape(expected.shape)
        if got.shape != expected.shape:
            return CheckResult(name, "fail", f"returned shape {got.shape}, expected {expected.shape} {where}. "
                               f"Check which axis you reduce over and that no broadcasting crept in.",
                               fn, reference)
        if _close(got, expected, atol, rtol):
            continue
        if not np.all(np.isfinite(got)) and np.all(np.isfinite(expected)):
            for d in diagnoses:
                if d.label == "overflow":
                    return CheckResult(name, "fail", f"returned inf or NaN {where}. {d.hint}", fn, reference)
            return CheckResult(name, "fail", f"returned inf or NaN {where}, but the right answer is finite.",
                               fn, reference)
        for d in diagnoses:
            try:
                with np.errstate(all="ignore"):
                    wrong = np.asarray(d.wrong(*args), dtype=float)
            except Exception:
                continue
            if scalar and wrong.size == 1:
                wrong = wrong.reshape(expected.shape)
            if _close(got, wrong, atol, rtol):
                return CheckResult(name, "fail", f"{d.hint}. Seen {where}.", fn, reference)
        diff = float(np.max(np.abs(got - expected)))
        return CheckResult(name, "fail", f"your result differs from the expected one by up to {diff:.3g} "
                           f"{where}. Compare your formula with the one derived above, term by term.",
                           fn, reference)
    return CheckResult(name, "pass", success or f"correct on all {len(cases)} test cases.", fn, reference)
