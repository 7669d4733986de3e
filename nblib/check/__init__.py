"""Exercise checkers: ``check.<exercise>(your_function)`` says ✓ or names the mistake.

Each notebook's checkers live in a module of this package (``losses`` for notebook 01,
and so on); every public name of those modules is available directly as
``nblib.check.<name>``. See :mod:`nblib.check._core` for how a checker is written.
"""

import importlib as _importlib
import pkgutil as _pkgutil

from ._core import CheckResult, Diagnosis, check_function

__all__ = ["CheckResult", "Diagnosis", "check_function"]

#: Names exported here that are helpers used by the exercises, not checkers (each module
#: lists its own in a module-level ``HELPERS`` tuple); every other callable is a checker.
HELPERS: tuple = ()


def _collect():
    for info in sorted(_pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = _importlib.import_module(f"{__name__}.{info.name}")
        global HELPERS
        HELPERS += tuple(getattr(module, "HELPERS", ()))
        for public in getattr(module, "__all__", ()):
            if public in globals() and globals()[public] is not getattr(module, public):
                raise ImportError(f"nblib.check: two checker modules define {public!r}")
            globals()[public] = getattr(module, public)
            __all__.append(public)


_collect()
