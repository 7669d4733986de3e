"""Exercise checkers: ``check.<exercise>(your_function)`` says ✓ or names the mistake.

Each notebook's checkers live in a module of this package (``losses`` for notebook 01,
and so on); every public name of those modules is available directly as
``nblib.check.<name>``. See ``nblib.check._core`` for how a checker is written.
"""

import functools as _functools
import importlib as _importlib
import pkgutil as _pkgutil

from . import _core
from ._core import CheckResult, Diagnosis, check_function, progress, reference

__all__ = ["CheckResult", "Diagnosis", "check_function", "progress", "reference"]

#: Names exported here that are helpers used by the exercises, not checkers (each module
#: lists its own in a module-level ``HELPERS`` tuple); every other callable is a checker.
HELPERS: tuple = ()

#: The names of every exercise checker exported here, in notebook order.
CHECKERS: tuple = ()


def _collect():
    for info in sorted(_pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = _importlib.import_module(f"{__name__}.{info.name}")
        global HELPERS
        HELPERS += tuple(getattr(module, "HELPERS", ()))
        helpers = set(getattr(module, "HELPERS", ()))
        for public in getattr(module, "__all__", ()):
            obj = getattr(module, public)
            if public in globals() and getattr(globals()[public], "__wrapped__", globals()[public]) is not obj:
                raise ImportError(f"nblib.check: two checker modules define {public!r}")
            if callable(obj) and not isinstance(obj, type) and public not in helpers:
                _core._MODULE_OF[public] = info.name
                _core._EXERCISES.setdefault(info.name, []).append(public)
                global CHECKERS
                CHECKERS += (public,)
                obj = _as_checker(obj, public)
            globals()[public] = obj
            __all__.append(public)


def _as_checker(checker, exercise):
    """``checker`` with what every check gets (hint steps, reference detection, progress,
    nbgrader mode: see ``nblib.check._core``)."""
    @_functools.wraps(checker)
    def run(*args, **kwargs):
        candidate = args[0] if args else next(iter(kwargs.values()), None)
        return _core.finish(checker(*args, **kwargs), candidate, exercise)
    return run


_collect()
