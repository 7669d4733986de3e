"""Helpers for the tests that execute notebooks (no-network, determinism).

The execution and comparison code lives in :mod:`tools.bench` (the benchmark uses the
same functions); this module only adds the list of notebooks and a per-process cache,
so that one test session executes each notebook at most once outside nbval.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from tools.netguard import offline_env
from tools.notebooks import comparable_outputs, execute_notebook, find_notebooks, first_difference

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = find_notebooks(REPO / "notebooks")


def notebook_params():
    """``pytest.param`` per course notebook."""
    assert NOTEBOOKS, f"no notebooks/NN_*.ipynb in {REPO}"
    return [pytest.param(p, id=p.stem) for p in NOTEBOOKS]


@functools.lru_cache(maxsize=None)
def run_offline(path: Path):
    """Execute ``path`` once in a fresh kernel with non-loopback networking blocked."""
    return execute_notebook(path, env=offline_env(), timeout=300)


def difference_from_stored(path: Path, run) -> str | None:
    """Compare a fresh run with the outputs stored in the file, the way nbval strict does:
    text outputs after the sanitize patterns, images and widget ids left out, cells
    tagged nbval-ignore-output/nbval-skip left out. ``None`` when equal."""
    import nbformat

    stored = comparable_outputs(nbformat.read(path, as_version=4), images="skip", respect_tags=True)
    fresh = comparable_outputs(run.nb, images="skip", respect_tags=True)
    return first_difference(stored, fresh)


def kernels_offline() -> bool:
    """True when this process's environment already blocks the network in the kernels it
    starts (``PYTHONPATH`` holds the guard of :func:`tools.netguard.offline_env` and
    ``NBLIB_OFFLINE=1``), e.g. because ``tests/conftest.py`` applied it: then nbval's own
    run of each notebook is an offline run."""
    if os.environ.get("NBLIB_OFFLINE") != "1":
        return False
    for folder in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        guard = Path(folder) / "sitecustomize.py" if folder else None
        if guard and guard.is_file() and "NetworkBlockedError" in guard.read_text(encoding="utf-8"):
            return True
    return False


def nbval_runs(request, path: Path) -> bool:
    """True when nbval executes ``path`` in this session (its cells were collected)."""
    return any(Path(str(item.fspath)).resolve() == path.resolve() for item in request.session.items)
