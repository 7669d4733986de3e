"""Real-browser tests: every notebook run in JupyterLab in headless Chromium, every explorer driven.

For each ``notebooks/NN_*.ipynb``: JupyterLab (127.0.0.1, random token, serving a temporary
copy of the notebooks) opens it in Debian's Chromium through Playwright; the stored outputs
are cleared and all cells are run; each explorer's controls are changed once each (slider:
arrow key on the handle; toggle buttons: click another; dropdown: another option; checkbox:
click) and its status line or figure must change. Screenshots go to ``build/screenshots/``
(one per notebook, one per explorer); the folder is printed at the end of the run.

Skips, with the reason, when ``/usr/bin/chromium`` or the ``playwright`` package is missing.
See ``tools/browser.py`` for the mechanics (also runnable by hand: ``python -m tools.browser``).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest

from tools import browser as bh

pytestmark = pytest.mark.browser  # deselect with -m 'not browser'

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SHOTS = ROOT / "build" / "screenshots"


@pytest.fixture(scope="module")
def results(request):
    """Run every notebook once (two at a time) and keep the results for the tests below."""
    reason = bh.why_no_browser()
    if reason:
        pytest.skip(f"browser tests need a real browser: {reason}")
    lab = bh.start_lab(NOTEBOOKS)
    browser = None
    lines = []
    t0 = time.monotonic()
    try:
        browser = bh.Browser()
        out = bh.run_notebooks(browser, lab, NOTEBOOKS, SHOTS, parallel=2,
                               on_result=lambda r: lines.extend(bh.report_lines(r)))
    finally:
        if browser is not None:
            browser.close()
        lab.stop()  # by PID; its kernels go with it
        lines.append(f"{len(NOTEBOOKS)} notebooks in the browser in {time.monotonic() - t0:.0f} s; "
                     f"screenshots in {SHOTS}")
        _show(request, lines)
    return out


def _show(request, lines):
    """Print past pytest's output capture (the screenshot folder must be visible in CI logs)."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        reporter.write_line("")
        for line in lines:
            reporter.write_line(line)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_explorers_respond(path, results):
    result = results[path.name]
    text = "\n".join(bh.report_lines(result))
    assert result.problems == [], f"errors or warnings in the browser run:\n{text}"
    assert len(result.explorers) >= result.expected_explorers, \
        f"{result.expected_explorers} explorers in the stored notebook, {len(result.explorers)} rendered in the browser:\n{text}"
    if result.expected_explorers:
        assert result.controls, f"no controls found in the explorers:\n{text}"
    assert result.unresponsive_explorers == [], f"explorers that no control changed:\n{text}"
    assert result.dead_controls == [], f"controls that changed nothing on screen in any explorer:\n{text}"
    assert result.screenshots and all(s.exists() and s.stat().st_size > 10_000 for s in result.screenshots)
