"""Drive the course notebooks in a real browser: JupyterLab + headless Chromium (Playwright).

Used by ``tests/test_browser.py`` and by the benchmark's in-browser section
(:func:`measure_latencies`); also runnable by hand to get screenshots::

    python -m tools.browser [notebooks/02_gradient_descent.ipynb ...] [--out build/screenshots]

What happens
    * The notebooks are copied into a temporary folder and JupyterLab serves that copy on
      127.0.0.1 with a random token (autosave off), so running them in the browser never
      touches the files in ``notebooks/``. JupyterLab is stopped by its PID at the end.
    * Each notebook is opened in Debian's Chromium (``/usr/bin/chromium``) driven by the
      Python ``playwright`` package, run with *Run > Run All Cells*, and waited on until
      every code cell shows its execution count.
    * Every explorer (an ``nblib.widgets.Explorer``: a VBox with a controls row, a status
      line and a figure) is found in the output areas, and each of its controls is changed
      once from the keyboard or the mouse: a slider's handle gets an arrow key, a toggle
      button group a click on another button, a dropdown another option, a checkbox a
      click. After each change the explorer's status text or its figure must change.
    * A screenshot per notebook (the first explorer in view) and one per explorer go to
      the screenshot folder.
    * For the benchmark, :func:`measure_latencies` times what a learner feels: from the
      key press (or click) on a control to the explorer's new figure being painted (the
      ``<img>`` gets its new ``src``, the image is decoded, and the next frame is painted),
      measured in the page with ``performance.now()``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from . import repo_root

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 900}

# JupyterLab user settings for the test server: no autosave, no news / update pop-ups, every
# cell attached to the page (Lab otherwise renders only the cells in view), no kernel dialog.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none",
                                                                   "autoStartDefaultKernel": True},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"checkForUpdates": False,
                                                                        "fetchNews": "false"},
}


def why_no_browser() -> str | None:
    """None when the browser tests can run here, otherwise the reason they cannot."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package 'playwright' is not installed (pip install playwright)"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)"
    if shutil.which("jupyter-lab", path=str(Path(sys.executable).parent)) is None and shutil.which("jupyter-lab") is None:
        return "jupyter-lab is not installed in this environment"
    return None


# -------------------------------------------------------------------------------------
# JupyterLab
# -------------------------------------------------------------------------------------
@dataclass
class Lab:
    proc: subprocess.Popen
    base: str
    token: str
    root: Path
    log: Path
    _tmp: tempfile.TemporaryDirectory = field(repr=False, default=None)

    def url(self, notebook: str) -> str:
        return f"{self.base}/lab/tree/{notebook}?reset&token={self.token}"

    def api(self, path: str, method: str = "GET"):
        req = urllib.request.Request(f"{self.base}/api/{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self, path: str | None = None) -> None:
        """Shut down the session of notebook ``path`` (all sessions when None)."""
        for session in self.api("sessions") or []:
            if path is None or session.get("path") == path:
                self.api(f"sessions/{session['id']}", "DELETE")

    def stop(self) -> None:
        """Stop JupyterLab (and with it its kernels) by PID; escalate if it does not exit."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(notebooks: list[Path], timeout: float = 90.0) -> Lab:
    """Copy ``notebooks`` into a temporary ``notebooks/`` folder and serve it with JupyterLab."""
    tmp = tempfile.TemporaryDirectory(prefix="course-lab-")
    root = Path(tmp.name)
    (root / "notebooks").mkdir()
    for nb in notebooks:
        shutil.copy2(nb, root / "notebooks" / Path(nb).name)
    settings = root / ".lab-settings"
    for rel, value in LAB_SETTINGS.items():
        path = settings / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    token, port = secrets.token_hex(16), _free_port()
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(root / ".lab-workspaces"),
               JUPYTER_RUNTIME_DIR=str(root / ".runtime"), OMP_NUM_THREADS="1")
    lab_exe = shutil.which("jupyter-lab", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-lab")
    log = root / "jupyterlab.log"
    proc = subprocess.Popen(
        [lab_exe, "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0",
         "--LabApp.news_url=", "--ServerApp.terminals_enabled=False"],
        cwd=root, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    lab = Lab(proc, f"http://127.0.0.1:{port}", token, root, log, tmp)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = log.read_text(errors="replace")[-3000:]
            lab.stop()
            raise RuntimeError(f"JupyterLab exited with code {proc.returncode}:\n{text}")
        try:
            with urllib.request.urlopen(f"{lab.base}/api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    return lab
        except OSError:
            time.sleep(0.3)
    text = log.read_text(errors="replace")[-3000:]
    lab.stop()
    raise RuntimeError(f"JupyterLab did not answer on {lab.base} within {timeout:.0f} s:\n{text}")


# -------------------------------------------------------------------------------------
# the browser
# -------------------------------------------------------------------------------------
class Browser:
    """A headless Chromium (persistent profile in a temporary folder) and one page."""

    def __init__(self):
        from playwright.sync_api import sync_playwright

        self._tmp = tempfile.TemporaryDirectory(prefix="course-chromium-")
        self._pw = sync_playwright().start()
        self.ctx = self._pw.chromium.launch_persistent_context(
            self._tmp.name, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport=VIEWPORT, device_scale_factor=1)
        self.js_errors: list[str] = []
        self.ctx.on("page", lambda page: page.on("pageerror", lambda e: self.js_errors.append(str(e))))

    def close(self):
        try:
            self.ctx.close()
        finally:
            self._pw.stop()
            self._tmp.cleanup()


# JavaScript run in the page -----------------------------------------------------------
_JS_PROMPTS = """() => {
  const cells = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')];
  return cells.map(c => (c.querySelector('.jp-InputArea-prompt') || {}).textContent || '');
}"""

_JS_PROBLEMS = """() => {
  const out = [];
  document.querySelectorAll('.jp-Notebook .jp-OutputArea-output').forEach(o => {
    const mime = o.getAttribute('data-mime-type') || '';
    if (mime.includes('error') || mime.includes('stderr')) out.push(mime + ': ' + o.innerText.slice(0, 600));
    if (/Error displaying widget|Loading widget\\.\\.\\.|Failed to load model/.test(o.innerText || '')) out.push('widget: ' + o.innerText.slice(0, 300));
  });
  return out;
}"""

# An explorer: a VBox with a direct <img> child (the figure) and a direct box child holding
# controls. Each gets data-explorer=<index> so Playwright can address it.
_JS_MARK_EXPLORERS = """() => {
  const boxes = [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output .widget-vbox')];
  let n = 0;
  const titles = [];
  for (const b of boxes) {
    const kids = [...b.children];
    const img = kids.find(k => k.tagName === 'IMG' || k.querySelector(':scope > img'));
    const row = kids.find(k => k.classList.contains('widget-box') &&
        k.querySelector('.widget-hslider, .widget-toggle-buttons, .widget-dropdown, .widget-checkbox, .widget-radio-box, .widget-select-multiple'));
    if (img && row) {
      b.setAttribute('data-explorer', String(n++));
      const head = kids.find(k => k.classList.contains('widget-html'));
      titles.push(head ? head.innerText.trim() : '');
    }
  }
  return titles;
}"""

_JS_STATE = """(root) => {
  const kids = [...root.children];
  const texts = kids.filter(k => k.classList.contains('widget-html')).map(k => k.innerText).join(' | ');
  const img = root.querySelector(':scope > img, :scope > * > img');
  return {text: texts, img: img ? img.getAttribute('src') : null};
}"""

_JS_CONTROLS = """(root) => {
  const row = [...root.children].find(k => k.classList.contains('widget-box') &&
        k.querySelector('.widget-hslider, .widget-toggle-buttons, .widget-dropdown, .widget-checkbox, .widget-radio-box, .widget-select-multiple'));
  const out = [];
  row.querySelectorAll('.widget-hslider, .widget-toggle-buttons, .widget-dropdown, .widget-checkbox, .widget-radio-box, .widget-select-multiple')
     .forEach((el, i) => {
        el.setAttribute('data-control', String(i));
        const label = el.querySelector('.widget-label');
        let kind = 'slider';
        if (el.classList.contains('widget-toggle-buttons')) kind = 'toggle';
        else if (el.classList.contains('widget-dropdown')) kind = 'dropdown';
        else if (el.classList.contains('widget-checkbox')) kind = 'checkbox';
        else if (el.classList.contains('widget-radio-box')) kind = 'radio';
        else if (el.classList.contains('widget-select-multiple')) kind = 'multiselect';
        out.push({index: i, kind: kind, label: label ? label.innerText.trim() : '',
                  disabled: !!el.querySelector('[disabled]') || el.classList.contains('mod-disabled')});
  });
  return out;
}"""


@dataclass
class ControlResult:
    explorer_index: int
    explorer: str
    control: str
    kind: str
    changed: bool
    detail: str


@dataclass
class NotebookResult:
    name: str
    seconds_run: float = 0.0
    seconds_total: float = 0.0
    cells: int = 0
    problems: list = field(default_factory=list)
    explorers: list = field(default_factory=list)
    controls: list = field(default_factory=list)
    screenshots: list = field(default_factory=list)
    expected_explorers: int = 0

    @property
    def dead_controls(self):
        """Controls that changed nothing on screen in every explorer of the same title.

        (An explorer shown with a preset may legitimately ignore a control, e.g. the
        race's "lr RMS/Adam" when only SGD and Momentum run; the same control must then
        work in another instance of that explorer.)"""
        works = {(c.explorer, c.control) for c in self.controls if c.changed}
        return [c for c in self.controls if not c.changed and (c.explorer, c.control) not in works]

    @property
    def unresponsive_explorers(self):
        """Explorers in which no control changed the status text or the figure."""
        changed = {c.explorer_index for c in self.controls if c.changed}
        return [t for i, t in enumerate(self.explorers) if i not in changed]


def expected_explorers(path: Path) -> int:
    """Stored outputs that are explorers: a live widget view that also carries a PNG
    (``Explorer._repr_mimebundle_`` adds the static figure next to the widget)."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    return sum(1 for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
               if {"application/vnd.jupyter.widget-view+json", "image/png"} <= set(o.get("data", {})))


def _menu(page, menu: str, item: str):
    """Click ``menu`` in Lab's menu bar, then its entry ``item`` (waits for both)."""
    page.keyboard.press("Escape")
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    entry = page.locator(".lm-Menu-item:not(.lm-mod-disabled) .lm-Menu-itemLabel", has_text=item).first
    entry.wait_for(state="visible", timeout=10000)
    entry.click()
    page.locator(".lm-Menu").first.wait_for(state="hidden", timeout=10000)


def _start_run(page, n_code: int):
    """Wait until all ``n_code`` code cells are on the page, clear the stored outputs (so
    that nothing old is mistaken for new) and start *Run All Cells*."""
    page.wait_for_function(f"({_JS_PROMPTS})().length >= {n_code}", timeout=60000)
    _menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function(f"({_JS_PROMPTS})().every(p => !/\\d/.test(p))", timeout=10000)
    for attempt in range(3):
        _menu(page, "Run", "Run All Cells")
        try:  # the first cell gets [*] or a number once the run has started
            page.wait_for_function(f"({_JS_PROMPTS})().some(p => /[*\\d]/.test(p))", timeout=10000)
            return
        except Exception:
            if attempt == 2:
                raise


def _run_finished(page):
    """The prompts when every code cell shows its execution count and the kernel is idle, else None."""
    prompts = page.evaluate(_JS_PROMPTS)
    if prompts and all(p.strip().startswith("[") and p.strip()[1:2].isdigit() for p in prompts) and \
            page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count():
        return prompts
    return None


def _wait_state_change(explorer, before, timeout_ms=6000):
    page = explorer.page
    deadline = time.monotonic() + timeout_ms / 1000
    now = before
    while time.monotonic() < deadline:
        now = explorer.evaluate(_JS_STATE)
        if now != before:
            # let a burst of updates settle before the next control
            page.wait_for_timeout(150)
            return explorer.evaluate(_JS_STATE)
        page.wait_for_timeout(50)
    return now


def _change(control, kind, page):
    """Change one control once. Returns a short description of what was done."""
    if kind == "slider":
        handle = control.locator(".noUi-handle").first
        handle.scroll_into_view_if_needed()
        now, top = handle.get_attribute("aria-valuenow"), handle.get_attribute("aria-valuemax")
        key = "ArrowLeft" if now is not None and top is not None and float(now) >= float(top) else "ArrowRight"
        handle.focus()
        page.keyboard.press(key)
        readout = control.locator(".widget-readout").first
        return f"{key} ({now} -> {readout.inner_text() if readout.count() else '?'})"
    if kind in ("toggle", "radio"):
        selector = "button:not(.mod-active)" if kind == "toggle" else "input[type=radio]:not(:checked)"
        target = control.locator(selector).first
        label = target.inner_text() if kind == "toggle" else target.get_attribute("value")
        target.scroll_into_view_if_needed()
        target.click()
        return f"clicked {label!r}"
    if kind == "dropdown":
        select = control.locator("select").first
        options = select.locator("option").all_inner_texts()
        current = select.evaluate("s => s.selectedIndex")
        pick = 1 if current == 0 and len(options) > 1 else 0
        select.select_option(index=pick)
        return f"chose {options[pick]!r}"
    if kind == "multiselect":  # drop the last selected option (or select all if one is left)
        select = control.locator("select").first
        options = select.locator("option").all_inner_texts()
        chosen = select.evaluate("s => [...s.options].filter(o => o.selected).map(o => o.index)")
        keep = chosen[:-1] if len(chosen) > 1 else list(range(len(options)))
        select.select_option(index=keep)
        return f"selected {[options[k] for k in keep]}"
    if kind == "checkbox":
        control.locator("input[type=checkbox]").first.click()
        return "toggled"
    raise ValueError(kind)


def drive_explorers(page, name: str, result: NotebookResult):
    titles = page.evaluate(_JS_MARK_EXPLORERS)
    result.explorers = titles
    for i, title in enumerate(titles):
        explorer = page.locator(f"[data-explorer='{i}']")
        explorer.scroll_into_view_if_needed()
        controls = explorer.evaluate(_JS_CONTROLS)
        for c in controls:
            control = explorer.locator(f"[data-control='{c['index']}']")
            label = c["label"] or f"{c['kind']} {c['index']}"
            if c["disabled"]:
                result.controls.append(ControlResult(i, title, label, c["kind"], True, "disabled; skipped"))
                continue
            before = explorer.evaluate(_JS_STATE)
            try:
                action = _change(control, c["kind"], page)
            except Exception as e:  # report, do not stop the other controls
                result.controls.append(ControlResult(i, title, label, c["kind"], False, f"could not change it: {e}"))
                continue
            after = _wait_state_change(explorer, before)
            changed = after != before
            what = []
            if after["text"] != before["text"]:
                what.append("status text")
            if after["img"] != before["img"]:
                what.append("figure")
            result.controls.append(ControlResult(i, title, label, c["kind"], changed,
                                                 f"{action}: {' and '.join(what) or 'nothing'} changed"))


# -------------------------------------------------------------------------------------
# latency: from the input event to the new figure on screen (the benchmark)
# -------------------------------------------------------------------------------------
# Arms one measurement: the next keydown/click/change on the page starts the clock; the
# explorer's <img> getting a new src, decoded, and the next frame painted stops it.
_JS_ARM = """(root) => {
  window.__latency = undefined;
  const img = root.querySelector(':scope > img, :scope > * > img');
  if (!img) { window.__latency = -1; return; }
  const before = img.getAttribute('src');
  let t0 = null;
  const start = (e) => { if (t0 === null) t0 = e.timeStamp || performance.now(); };
  for (const kind of ['keydown', 'pointerdown', 'change']) document.addEventListener(kind, start, {capture: true, once: true});
  const observer = new MutationObserver(() => {
    if (img.getAttribute('src') === before) return;
    observer.disconnect();
    // after the next frame is painted: a task queued from that frame's animation callback runs
    // once the frame is on screen ("after next paint")
    const painted = () => requestAnimationFrame(() => setTimeout(() => {
      window.__latency = performance.now() - (t0 === null ? performance.now() : t0);
    }, 0));
    (img.decode ? img.decode() : Promise.resolve()).then(painted, painted);
  });
  observer.observe(img, {attributes: true, attributeFilter: ['src']});
  window.__latencyObserver = observer;
}"""


def _one_latency(page, explorer, control, kind, timeout_ms=5000):
    """Milliseconds from the input event on ``control`` to the new figure painted; ``None``
    when the figure did not change within ``timeout_ms`` (e.g. a status-only control)."""
    explorer.evaluate(_JS_ARM)
    _change(control, kind, page)
    try:
        page.wait_for_function("window.__latency !== undefined", timeout=timeout_ms)
    except Exception:
        page.evaluate("() => window.__latencyObserver && window.__latencyObserver.disconnect()")
        return None
    value = page.evaluate("window.__latency")
    page.wait_for_timeout(60)  # let a burst of updates settle before the next press
    return None if value is None or value < 0 else float(value)


def measure_latencies(page, presses: int = 4) -> dict:
    """Every explorer on ``page`` (already run): each enabled control changed ``presses`` times
    (sliders by arrow keys, the others by clicks), the latency of each change in ms.
    Returns ``{explorer title: {"latencies": [...], "static": [controls that changed no figure]}}``."""
    titles = page.evaluate(_JS_MARK_EXPLORERS)
    out = {}
    for i, title in enumerate(titles):
        explorer = page.locator(f"[data-explorer='{i}']")
        explorer.scroll_into_view_if_needed()
        entry = out.setdefault(title or f"explorer {i + 1}", {"latencies": [], "static": []})
        for c in explorer.evaluate(_JS_CONTROLS):
            if c["disabled"]:
                continue
            control = explorer.locator(f"[data-control='{c['index']}']")
            got = [_one_latency(page, explorer, control, c["kind"]) for _ in range(presses)]
            if all(g is None for g in got):
                entry["static"].append(c["label"] or c["kind"])
            entry["latencies"] += [g for g in got if g is not None]
    return out


def browser_timings(paths, presses: int = 4, timeout_s: float = 300.0, log=print) -> dict:
    """Run-All time of each notebook as the browser sees it, and the explorers' latencies
    (:func:`measure_latencies`), one notebook at a time so that the timings do not compete.
    ``{"notebooks": {name: {"run_all_s": s, "explorers": {...}}}, "skipped": [reason]}``."""
    reason = why_no_browser()
    if reason:
        return {"notebooks": {}, "skipped": [reason]}
    paths = [Path(p) for p in paths]
    lab = start_lab(paths)
    result = {"notebooks": {}, "skipped": []}
    try:
        browser = Browser()
        try:
            for path in paths:
                job = _start(browser, lab, path)
                while _run_finished(job.page) is None:
                    if time.monotonic() - job.t_run > timeout_s:
                        raise TimeoutError(f"{path.name}: not finished after {timeout_s:.0f} s")
                    job.page.wait_for_timeout(100)
                run_all = time.monotonic() - job.t_run
                if job.result.expected_explorers:
                    job.page.wait_for_function(f"({_JS_MARK_EXPLORERS})().length >= {job.result.expected_explorers}",
                                               timeout=30000)
                explorers = measure_latencies(job.page, presses) if job.result.expected_explorers else {}
                result["notebooks"][path.name] = {"run_all_s": run_all, "explorers": explorers}
                log(f"  {path.name}: Run All {run_all:.1f} s in the browser, {len(explorers)} explorers timed")
                job.page.close()
                lab.shutdown_kernels(f"notebooks/{path.name}")
        finally:
            browser.close()
    finally:
        lab.stop()
    return result


@dataclass
class _Job:
    path: Path
    page: object
    result: NotebookResult
    t0: float
    t_run: float = 0.0


def _start(browser: Browser, lab: Lab, path: Path) -> _Job:
    name = Path(path).name
    page = browser.ctx.new_page()
    job = _Job(Path(path), page, NotebookResult(name, expected_explorers=expected_explorers(path)), time.monotonic())
    page.goto(lab.url(f"notebooks/{name}"))
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60000)
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    _start_run(page, sum(c["cell_type"] == "code" for c in nb["cells"]))
    job.t_run = time.monotonic()
    return job


def _finish(job: _Job, lab: Lab, prompts, shots: Path) -> NotebookResult:
    page, result = job.page, job.result
    result.seconds_run = time.monotonic() - job.t_run
    result.cells = len(prompts)
    if result.expected_explorers:  # widget views render shortly after the kernel goes idle
        try:
            page.wait_for_function(f"({_JS_MARK_EXPLORERS})().length >= {result.expected_explorers}",
                                   timeout=30000)
        except Exception:
            pass  # reported: fewer explorers than expected
    page.wait_for_timeout(300)
    result.problems = page.evaluate(_JS_PROBLEMS)
    page.bring_to_front()
    drive_explorers(page, result.name, result)
    stem = job.path.stem
    shots.mkdir(parents=True, exist_ok=True)
    for i in range(len(result.explorers)):
        el = page.locator(f"[data-explorer='{i}']")
        el.scroll_into_view_if_needed()
        shot = shots / f"{stem}-explorer{i + 1}.png"
        el.screenshot(path=str(shot))
        result.screenshots.append(shot)
    if result.explorers:
        page.locator("[data-explorer='0']").scroll_into_view_if_needed()
    else:  # the first figure, rather than wherever Run All left the view
        figure = page.locator(".jp-Notebook .jp-RenderedImage img").first
        if figure.count():
            figure.scroll_into_view_if_needed()
    shot = shots / f"{stem}.png"
    page.screenshot(path=str(shot))
    result.screenshots.insert(0, shot)
    page.close()
    lab.shutdown_kernels(f"notebooks/{result.name}")  # give the CPU to the next notebook
    result.seconds_total = time.monotonic() - job.t0
    return result


def run_notebooks(browser: Browser, lab: Lab, paths, shots: Path, parallel: int = 2,
                  timeout_s: float = 300.0, on_result=None) -> dict[str, NotebookResult]:
    """Run, drive and photograph every notebook in ``paths``; ``parallel`` notebooks run at
    once, each in its own tab and kernel (while one is driven, the next one computes).
    Returns ``{file name: NotebookResult}``; a notebook that cannot be run gets a problem."""
    pending, active, results = [Path(p) for p in paths], [], {}
    while pending or active:
        while pending and len(active) < parallel:
            path = pending.pop(0)
            try:
                active.append(_start(browser, lab, path))
            except Exception as e:
                r = NotebookResult(path.name, expected_explorers=expected_explorers(path))
                r.problems.append(f"could not open and start the notebook: {e}")
                results[path.name] = r
        progressed = False
        for job in list(active):
            prompts = None
            try:
                prompts = _run_finished(job.page)
                if prompts is None and time.monotonic() - job.t_run > timeout_s:
                    raise TimeoutError(f"cells still not finished after {timeout_s:.0f} s: "
                                       f"{job.page.evaluate(_JS_PROMPTS)}")
                if prompts is not None:
                    results[job.result.name] = _finish(job, lab, prompts, shots)
            except Exception as e:
                job.result.problems.append(f"{type(e).__name__}: {e}")
                results[job.result.name] = job.result
                try:
                    job.page.close()
                except Exception:
                    pass
                prompts = True
            if prompts is not None:
                active.remove(job)
                progressed = True
                if on_result:
                    on_result(results[job.result.name])
        if not progressed and active:
            active[0].page.wait_for_timeout(250)
    return results


def report_lines(r: NotebookResult) -> list[str]:
    lines = [f"{r.name}: {r.cells} code cells run in {r.seconds_run:.1f} s, {len(r.explorers)} explorers "
             f"({r.expected_explorers} expected), {len(r.controls)} controls driven, {r.seconds_total:.1f} s in all"]
    for c in r.controls:
        dead = c in r.dead_controls
        mark = "ok" if c.changed else ("DEAD" if dead else "no change here (works in another instance)")
        lines.append(f"    [{mark}] {c.explorer} #{c.explorer_index + 1} / {c.control} ({c.kind}): {c.detail}")
    for p in r.problems:
        lines.append(f"    problem: {p}")
    return lines


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--out", type=Path, default=None, help="screenshot folder (default build/screenshots)")
    ap.add_argument("--parallel", type=int, default=2, help="notebooks running at once")
    args = ap.parse_args(argv)
    reason = why_no_browser()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    root = repo_root()
    args.out = args.out or root / "build" / "screenshots"
    paths = args.notebooks or sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    lab = start_lab(paths)
    bad = 0
    try:
        browser = Browser()
        try:
            t0 = time.monotonic()
            results = run_notebooks(browser, lab, paths, args.out, parallel=args.parallel,
                                    on_result=lambda r: print("\n".join(report_lines(r)), flush=True))
            print(f"{len(results)} notebooks in {time.monotonic() - t0:.0f} s")
            bad = sum(bool(r.problems or r.dead_controls or r.unresponsive_explorers
                           or len(r.explorers) < r.expected_explorers) for r in results.values())
        finally:
            browser.close()
    finally:
        lab.stop()
    print(f"screenshots in {args.out}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
