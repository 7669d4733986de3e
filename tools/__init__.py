"""The course's machinery: what builds, checks and measures the course, not what it teaches.

The learner's library is :mod:`nblib`; nothing there (and no notebook) imports from here.

* :mod:`tools.edition`   - the student edition (``python -m tools.edition [--check]``)
* :mod:`tools.slides`    - the offline reveal.js decks (``python -m tools.slides``)
* :mod:`tools.nbgrader`  - nbgrader cell metadata for the worked notebooks (``python -m tools.nbgrader --stamp``)
* :mod:`tools.browser`   - JupyterLab in headless Chromium: the browser tests and the benchmark's latencies
* :mod:`tools.bench`     - the benchmark (``python -m tools.bench``; ``tools.bench_conv``: its convolution part)
* :mod:`tools.notebooks` - run a notebook headless and compare its outputs (tests and benchmark)
* :mod:`tools.netguard`  - the network guard that makes a run offline (``conftest.py``, benchmark)

The commands find the repository from the working directory (see :func:`repo_root`), so they
work from a checkout whether or not ``nblib`` is installed.
"""

from __future__ import annotations

from pathlib import Path


def repo_root(start=None) -> Path:
    """The course checkout holding ``start`` (default: the working directory): the nearest
    folder, going up, that has both ``notebooks/`` and ``nblib/``. Raises ``FileNotFoundError``
    naming where it looked when there is none (e.g. a command run outside the checkout)."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir() and (folder / "nblib").is_dir():
            return folder
    raise FileNotFoundError(f"no course checkout (a folder with notebooks/ and nblib/) at or above {here}; "
                            f"run the command from inside the repository")
