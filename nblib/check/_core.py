"""The machinery behind every exercise checker.

A checker takes the learner's function, runs it on a few fixed cases, and returns a
``CheckResult`` that shows as ``✓ ...`` or ``✗ ...`` with the *specific* mistake
(forgot the 1/n, sign error, overflow, wrong axis...). A stub that still raises
``NotImplementedError`` gets a friendly "not implemented yet", never a traceback.

``result.or_reference()`` returns the learner's function when it passed and the
reference implementation otherwise, so the rest of a notebook keeps working.

What every checker gets from here (through the wrappers of ``nblib.check``):

* hints in steps: a diagnosis may carry several hints, from the kind of mistake to the
  specific line of thought; each re-run with the same mistake shows the next one, and
  after the last, ``check.reference("name")`` shows the reference on request;
* a time limit on the learner's code (an endless loop is stopped and named; Ctrl-C/
  "Interrupt" gives a one-line message, not a traceback through the checker);
* a check of the course's own reference (what ``or_reference()`` put in place) says so,
  instead of a ✓ the learner did not earn;
* ``check.progress()``: which exercises pass in this kernel;
* under nbgrader's autograder (``NBGRADER_EXECUTION`` set) a check that does not pass
  raises ``AssertionError``, so the graded test cell fails; a learner's own Run All
  never stops.

Writing a checker (see ``nblib/check/losses.py``)::

    def my_thing(fn):
        return check_function("my_thing", fn, reference=ref, cases=[(args...), ...],
                              diagnoses=[Diagnosis("sum instead of mean", wrong_fn, "hint")])
"""

from __future__ import annotations

import inspect
import os
import signal
import sysconfig
import threading
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
    reference : the reference implementation (used by ``or_reference``).
    """

    symbols = {"pass": "✓", "fail": "✗", "todo": "…", "reference": "↺"}

    def __init__(self, name, status, message, candidate=None, reference=None, hints=()):
        if status not in self.symbols:
            raise ValueError(f"CheckResult: status must be one of {sorted(self.symbols)}, got {status!r}")
        if isinstance(hints, str):
            hints = (hints,)
        self.name, self.status, self.message = name, status, message
        self.candidate, self.reference = candidate, reference
        #: further hints, each more specific, shown one per re-run with the same mistake
        self.hints = tuple(hints)

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def __bool__(self):
        return self.passed

    def __repr__(self):
        return f"{self.symbols[self.status]} {self.name}: {self.message}"

    def or_reference(self):
        """The learner's answer if it passed, else the reference (with a one-line note)."""
        latest = _LATEST.get("result")
        if (os.environ.get("NBGRADER_EXECUTION") and latest is not None and latest is not self
                and latest.name != self.name):
            # Under the autograder a failing check raises, so `feedback = check.x(...)` was never
            # assigned and `feedback` is still an earlier exercise's result: use the latest check.
            return latest.or_reference()
        if self.passed:
            return self.candidate
        ref_name = getattr(self.reference, "__qualname__", "the reference")
        module = getattr(self.reference, "__module__", "")
        where = f"{module}.{ref_name}" if module and module.startswith("nblib") else ref_name
        print(f"Using the reference `{where}` for the rest of this notebook "
              f"(your {self.name} is kept in its cell; fix it and re-run the check).")
        if not any(self.reference is r for r in _HANDED_OUT):
            _HANDED_OUT.append(self.reference)
        return self.reference


@dataclass
class Diagnosis:
    """A typical wrong answer: if the learner's output matches ``wrong(*case)``, say ``hint``.

    ``hint``: one sentence, or a tuple of steps from the kind of mistake to the specific
    line of thought (each re-run with the same mistake shows the next step)."""
    label: str
    wrong: Callable
    hint: str | tuple

    @property
    def steps(self) -> tuple:
        return (self.hint,) if isinstance(self.hint, str) else tuple(self.hint)


#: Seconds the learner's code may run per call before the checker stops it.
TIME_LIMIT = 10.0


class _TimeLimit(BaseException):
    """Raised inside the learner's code when it runs past ``TIME_LIMIT``."""


def _limited(fn, args, seconds):
    """``fn(*args)``, stopped after ``seconds`` (main thread on Unix only; elsewhere unlimited)."""
    if (seconds is None or not hasattr(signal, "setitimer")
            or threading.current_thread() is not threading.main_thread()):
        return fn(*args)

    def stop(signum, frame):
        raise _TimeLimit()

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def require_function(name, fn, reference=None, what="a function"):
    """The one "not a function" guard of every checker: ``None`` when ``fn`` is callable,
    else the failing ``CheckResult`` that says what came instead."""
    if callable(fn):
        return None
    return CheckResult(name, "fail", f"expected {what}, got {describe(fn)}. Pass the function itself, "
                       f"without calling it: check.{name}(my_function)", fn, reference)


def _call(fn, args, time_limit=None):
    """Run the learner's fn; return (value, None) or (None, (kind, text)).

    Every checker calls the learner's code through here: a stub's ``NotImplementedError``
    becomes "not implemented yet", a crash quotes the learner's own line, a run longer than
    ``time_limit`` seconds (default ``TIME_LIMIT``) or an interrupt is stopped and named."""
    limit = TIME_LIMIT if time_limit is None else time_limit
    try:
        # Overflow in the learner's code is diagnosed from the result (inf/NaN),
        # so numpy's warnings would only add noise.
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return _limited(fn, args, limit), None
    except NotImplementedError as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        if not (frames and frames[-1].filename and _is_library(frames[-1].filename)):
            return None, ("todo", TODO_MESSAGE)  # the stub's own `raise NotImplementedError()`
        # raised inside numpy/torch/nblib: a real crash of the learner's call (e.g. torch's loss
        # given its arguments swapped), not an exercise left to do
        own = [f for f in frames if f.line and not _is_library(f.filename)]
        line = f" (line: `{own[-1].line}`)" if own else ""
        return None, ("fail", f"your function raised NotImplementedError inside {Path(frames[-1].filename).name}: "
                              f"{exc}{line}. This is not the exercise's stub: a library refused what your code "
                              f"passed it")
    except _TimeLimit:
        return None, ("fail", f"your function was still running after {limit:g} s, so the check stopped it: "
                              f"look for a loop that never ends (a `while` whose condition never changes, "
                              f"a counter that is never increased)")
    except KeyboardInterrupt:
        return None, ("fail", "you interrupted your function while the check was running it: if it seemed "
                              "stuck, look for a loop that never ends")
    except Exception as exc:  # the learner's code failed: report it kindly and precisely
        # the last line of the learner's own code (not a line of nblib, numpy... that it called)
        own = [f for f in traceback.extract_tb(exc.__traceback__) if f.line and not _is_library(f.filename)]
        line = f" (line: `{own[-1].line}`)" if own else ""
        return None, ("fail", f"your function raised {type(exc).__name__}: {exc}{line}")


def low_precision(name, fn, reference, args):
    """The failing CheckResult when ``fn(*args)`` returns floats of less precision than the
    float64 the exercise asks for (float32 keeps ~7 digits; values within the tolerance would
    otherwise pass), else None. Other failures are left to the full check."""
    value, err = _call(fn, [np.copy(a) if isinstance(a, np.ndarray) else a for a in args])
    dtype = str(getattr(value, "dtype", "")) if err is None else ""
    if dtype.replace("torch.", "") in ("float32", "float16", "bfloat16"):
        return CheckResult(name, "fail", f"your function returned {dtype} numbers; the exercise asks for a float64 "
                           f"array (float32 keeps about 7 digits, and the rest of the notebook computes in float64).",
                           fn, reference, hints=("Compute in float64, NumPy's default for float arrays: drop the "
                                                 "astype(np.float32) or dtype=torch.float32.",))
    return None


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
    diagnoses : list of ``Diagnosis``; the first whose output matches the learner's
        explains the mistake.
    scalar : the expected output is a single number; an array of another size is
        explained as "return the mean over the batch (a single number)".
    """
    not_callable = require_function(name, fn, reference)
    if not_callable is not None:
        return not_callable
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
                    return CheckResult(name, "fail", f"returned inf or NaN {where}. {d.steps[0]}", fn, reference,
                                       hints=d.steps[1:])
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
                return CheckResult(name, "fail", f"{d.steps[0].rstrip('.')}. Seen {where}.", fn, reference,
                                   hints=d.steps[1:])
        diff = float(np.max(np.abs(got - expected)))
        return CheckResult(name, "fail", f"your result differs from the expected one by up to {diff:.3g} "
                           f"{where}.", fn, reference,
                           hints=("Compare your formula with the one derived above, term by term: which factor, "
                                  "sign or axis differs? Try your function on this small case by hand.",))
    return CheckResult(name, "pass", success or f"correct on all {len(cases)} test cases.", fn, reference)


# ------------------------------------------------------------------------------------
# What every exported checker does after it has judged (wrapped in nblib.check)
# ------------------------------------------------------------------------------------
_LATEST: dict = {}                 # "result": the last CheckResult shown
_RESULTS: dict = {}                # exercise name -> its last CheckResult in this kernel
_STREAK: dict = {}                 # exercise name -> (first step of the failure, times seen in a row)


_HANDED_OUT: list = []            # references that or_reference() put in place of a learner's answer


def _is_course_reference(fn, result) -> bool:
    """Whether ``fn`` is a reference that ``or_reference()`` handed out in this kernel."""
    return fn is not None and any(fn is r for r in _HANDED_OUT)


def _stepped(result, exercise):
    """Show the hint step that matches how often this mistake has been seen in a row."""
    steps = (result.message, *result.hints)
    key = result.message
    previous, count = _STREAK.get(exercise, (None, 0))
    count = count + 1 if previous == key else 1
    _STREAK[exercise] = (key, count)
    step = min(count, len(steps))
    shown = steps[step - 1]
    if step > 1:
        shown = f"(hint {step} of {len(steps)}) {shown}"
    if count < len(steps):
        shown += " Run the check again after another try for a more specific hint."
    elif count > len(steps) and result.reference is not None:
        shown += f" Still stuck? `check.reference({exercise!r})` shows the reference solution."
    result.message = shown
    return result


def finish(result, candidate=None, exercise=None):
    """Everything a checker's result gets before the learner sees it (see the module docstring).
    Called by the wrappers in ``nblib.check`` (``exercise``: the checker's name there);
    returns the result."""
    if not isinstance(result, CheckResult):
        return result
    exercise = exercise or result.name
    if result.status == "pass" and _is_course_reference(candidate, result):
        where = getattr(candidate, "__qualname__", "the reference")
        result = CheckResult(result.name, "reference",
                             f"this is the course's reference `{where}`, not your own function: "
                             f"`or_reference()` put it in place because your version did not pass yet. "
                             f"Re-run the cell that defines your function, then this check.",
                             candidate, result.reference)
    if result.status == "fail":
        _stepped(result, exercise)
    else:
        _STREAK.pop(exercise, None)
    _RESULTS[exercise] = result
    _LATEST["result"] = result
    if os.environ.get("NBGRADER_EXECUTION") and not result.passed:
        raise AssertionError(repr(result))
    return result


def reference(name: str):
    """Print the reference solution of exercise ``name`` (after at least one check of it)."""
    result = _RESULTS.get(name)
    if result is None or result.reference is None:
        print(f"No reference to show for {name!r} yet: run its check first (check.{name}(your_function)).")
        return None
    try:
        source = inspect.getsource(result.reference)
    except (OSError, TypeError):
        source = f"{getattr(result.reference, '__module__', '')}.{getattr(result.reference, '__qualname__', '')}"
    print(source)
    return None


class Progress:
    """Which exercises have been checked in this kernel, and how (``check.progress()``)."""

    def __init__(self, rows):
        self.rows = rows  # [(exercise, status)]

    def _summary(self):
        done = sum(1 for _, s in self.rows if s == "pass")
        return f"{done} of {len(self.rows)} exercises pass"

    def __repr__(self):
        if not self.rows:
            return "No exercise checked in this kernel yet."
        width = max(len(n) for n, _ in self.rows)
        lines = [f"{CheckResult.symbols.get(s, ' ')} {n:<{width}}  {_STATUS_WORDS[s]}" for n, s in self.rows]
        return "\n".join([self._summary() + " in this kernel:"] + lines)


_STATUS_WORDS = {"pass": "correct", "fail": "not right yet", "todo": "not implemented yet",
                 "reference": "checking the course's reference, not yours", "unchecked": "not checked yet"}


def progress(modules=None):
    """A ``Progress`` listing the exercises of the notebooks worked on in this kernel.

    ``modules``: the checker modules to list (default: those whose checkers have run);
    exercises of those modules that were not run yet are listed as "not checked yet"."""
    by_module = {}
    for name, result in _RESULTS.items():
        by_module.setdefault(_MODULE_OF.get(name, ""), []).append(name)
    wanted = modules if modules is not None else [m for m in by_module if m]
    rows = []
    for module in wanted:
        for name in _EXERCISES.get(module, ()):
            rows.append((name, _RESULTS[name].status if name in _RESULTS else "unchecked"))
    rows += [(n, r.status) for n, r in _RESULTS.items() if _MODULE_OF.get(n, "") not in wanted]
    return Progress(rows)


_MODULE_OF: dict = {}              # exercise name -> checker module (filled by nblib.check)
_EXERCISES: dict = {}              # checker module -> its exercise names, in order
