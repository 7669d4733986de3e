"""The network guard: an environment in which a Python process cannot leave this machine.

:func:`offline_env` returns an environment whose ``PYTHONPATH`` starts with the folder
``tools/netguard/site/``; its ``sitecustomize.py`` (a plain Python file, read it there) runs
when an interpreter starts and refuses every connection and name lookup that is not to
loopback. ``conftest.py`` applies it to every process a test session starts (so nbval's run
is the offline run), and the benchmark runs its notebooks with it.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The folder put on ``PYTHONPATH``: it holds only ``sitecustomize.py``.
SITE_DIR = Path(__file__).resolve().parent / "site"
GUARD_FILE = SITE_DIR / "sitecustomize.py"

__all__ = ["SITE_DIR", "GUARD_FILE", "offline_env"]


def offline_env(base=None, threads: int | None = 1) -> dict:
    """Environment for a process with networking blocked (see ``site/sitecustomize.py``).

    ``base``: the environment to start from (default ``os.environ``). ``threads``: sets
    ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` (as the test suite does) unless already set;
    ``None`` leaves them alone. Also sets ``NBLIB_OFFLINE=1`` so a notebook can tell.
    """
    env = dict(os.environ if base is None else base)
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(SITE_DIR)]
    env["PYTHONPATH"] = os.pathsep.join([str(SITE_DIR), *rest])
    env["NBLIB_OFFLINE"] = "1"
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    env.pop("MPLBACKEND", None)  # let the kernel pick its inline backend, as in Jupyter
    if threads is not None:
        env.setdefault("OMP_NUM_THREADS", str(threads))
        env.setdefault("MKL_NUM_THREADS", str(threads))
    return env
