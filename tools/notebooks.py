"""Run a notebook headless and compare its outputs: shared by the tests and the benchmark.

* :func:`execute_notebook` runs a notebook top to bottom in a fresh kernel (nbclient) and
  returns a :class:`NotebookRun` (the executed notebook, wall time, kernel start, peak memory).
* :func:`comparable_outputs` turns a notebook's outputs into a plain list, sanitized by the
  same rules as nbval (``tests/nbval_sanitize.cfg``, read by :func:`load_sanitizers`), and
  :func:`first_difference` says where two such lists part.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from . import repo_root

__all__ = ["NotebookRun", "execute_notebook", "slowest_cells", "find_notebooks", "load_sanitizers",
           "sanitize", "comparable_outputs", "first_difference"]


@dataclass
class NotebookRun:
    """One headless execution of a notebook.

    ``nb``: the executed notebook (nbformat node); ``seconds``: wall time from starting
    the kernel to the last cell's reply (the kernel is then shut down immediately);
    ``kernel_start_s``: the part spent starting the kernel;
    ``peak_rss``: the kernel's peak resident memory in bytes (``VmHWM``; ``None`` where
    ``/proc`` is not available); ``error``: ``None`` or the error text of a failing cell.
    """
    path: Path
    nb: object
    seconds: float
    kernel_start_s: float
    peak_rss: int | None
    error: str | None = None


def _vm_hwm(pid) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, TypeError):
        return None
    return None


def execute_notebook(path, env=None, timeout: int = 300) -> NotebookRun:
    """Execute ``path`` top to bottom in a fresh ``python3`` kernel, cwd = its folder.

    ``env``: the kernel's environment (e.g. :func:`offline_env`). The file is not
    modified. A failing cell does not raise: the run comes back with ``error`` set.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    marks = {}
    peak = {"rss": None}
    # "immediate": the kernel is discarded after the run; a graceful shutdown only adds
    # 1-2 s of waiting for the kernel process to exit, which a learner never sees.
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(path.parent)}})

    def on_start(**_):
        marks["started"] = time.perf_counter()

    def on_cell(**_):
        marks["last_cell"] = time.perf_counter()
        pid = getattr(getattr(client.km, "provisioner", None), "pid", None)
        rss = _vm_hwm(pid)
        if rss is not None:
            peak["rss"] = max(rss, peak["rss"] or 0)

    client.on_notebook_start = on_start
    client.on_cell_executed = on_cell
    error = None
    t0 = time.perf_counter()
    try:
        client.execute(env=env if env is not None else dict(os.environ), cwd=str(path.parent))
    except (CellExecutionError, CellTimeoutError, DeadKernelError, RuntimeError) as exc:
        error = f"{type(exc).__name__}: {str(exc)[-2000:]}"
    seconds = marks.get("last_cell", time.perf_counter()) - t0
    return NotebookRun(path, nb, seconds, marks.get("started", t0) - t0, peak["rss"], error)


def slowest_cells(nb, top: int = 3) -> list:
    """``[(seconds, cell index, first line)]`` of the slowest code cells of an executed
    notebook, from the timestamps nbclient records in each cell's ``metadata.execution``."""
    from datetime import datetime

    out = []
    for index, cell in enumerate(nb.cells):
        ex = cell.get("metadata", {}).get("execution", {})
        start, end = ex.get("iopub.execute_input"), ex.get("shell.execute_reply")
        if cell.cell_type != "code" or not start or not end:
            continue
        try:
            secs = (datetime.fromisoformat(end.replace("Z", "+00:00"))
                    - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
        except ValueError:
            continue
        first = next((line for line in cell.source.splitlines() if line.strip() and not line.startswith("#")), "")
        out.append((secs, index, first.strip()[:60]))
    return sorted(out, reverse=True)[:top]


def find_notebooks(folder=None) -> list[Path]:
    """The course notebooks ``NN_*.ipynb`` in ``folder`` (default: the checkout's notebooks/), sorted."""
    folder = Path(folder) if folder else repo_root() / "notebooks"
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


# ------------------------------------------------------------------------------------
# Comparing outputs (determinism)
# ------------------------------------------------------------------------------------
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_IGNORE_TAGS = {"nbval-ignore-output", "nbval-skip"}


def load_sanitizers(cfg=None) -> list:
    """``[(compiled regex, replacement)]`` from an nbval sanitize file (default: the repo's),
    read by the same rule as nbval: a ``regex: ...`` line directly followed by ``replace: ...``,
    everything after the label and its one space taken as is, applied in file order."""
    cfg = Path(cfg) if cfg else repo_root() / "tests" / "nbval_sanitize.cfg"
    if not cfg.exists():
        return []
    pairs = re.findall(r"^regex: (.*)$\n^replace: (.*)$", cfg.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return [(re.compile(regex), replace) for regex, replace in pairs]


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def sanitize(text: str, sanitizers) -> str:
    for rx, rep in sanitizers:
        text = rx.sub(rep, text)
    return text


def comparable_outputs(nb, images: str = "hash", sanitizers=None, respect_tags: bool = False) -> list:
    """A plain, comparable form of every code cell's outputs.

    Returns ``[(cell_index, tags, [output, ...])]`` where each output is a tuple
    ``(kind, key, text)``: streams merged per name as nbval does; rich outputs one entry
    per MIME type. ``images``: ``"hash"`` (compare PNG/JPEG by SHA-256 of the bytes) or
    ``"skip"`` (leave them out, as nbval does). Widget model ids are always left out.
    Error outputs are kept (name and value). With ``respect_tags``, cells tagged
    ``nbval-ignore-output``/``nbval-skip`` are left out.
    """
    if images not in ("hash", "skip"):
        raise ValueError(f"comparable_outputs: images must be 'hash' or 'skip', got {images!r}")
    sanitizers = load_sanitizers() if sanitizers is None else sanitizers
    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tags = set(cell.get("metadata", {}).get("tags", []))
        if respect_tags and tags & _IGNORE_TAGS:
            continue
        outs = []
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "stream":
                text = sanitize(_text(out.get("text", "")), sanitizers)
                if outs and outs[-1][0] == "stream" and outs[-1][1] == out.get("name"):
                    outs[-1] = ("stream", out.get("name"), outs[-1][2] + text)
                else:
                    outs.append(("stream", out.get("name"), text))
            elif kind == "error":
                outs.append(("error", out.get("ename"), str(out.get("evalue"))))
            else:
                for mime, value in sorted(out.get("data", {}).items()):
                    if mime == _WIDGET_VIEW:
                        continue
                    if mime.startswith("image/") and mime != "image/svg+xml":
                        if images == "skip":
                            continue
                        raw = base64.b64decode(_text(value)) if isinstance(value, (str, list)) else b""
                        outs.append((kind, mime, "sha256:" + hashlib.sha256(raw).hexdigest()[:16]))
                    else:
                        text = value if isinstance(value, (str, list)) else json.dumps(value, sort_keys=True)
                        outs.append((kind, mime, sanitize(_text(text), sanitizers)))
        cells.append((index, sorted(tags), outs))
    return cells


def first_difference(a, b) -> str | None:
    """``None`` if two :func:`comparable_outputs` lists are equal, else where they differ first."""
    if len(a) != len(b):
        return f"different numbers of code cells ({len(a)} vs {len(b)})"
    for (ia, tags, oa), (_, _, ob) in zip(a, b):
        if oa == ob:
            continue
        tag = f" (tagged {', '.join(tags)})" if tags else ""
        for k, (x, y) in enumerate(zip(oa, ob)):
            if x != y:
                what = f"{x[0]} {x[1]}" if x[:2] == y[:2] else f"{x[:2]} vs {y[:2]}"
                at = next((i for i, (c, d) in enumerate(zip(x[2], y[2])) if c != d), min(len(x[2]), len(y[2])))
                start = max(0, at - 40)          # show where the texts part, not just how they begin
                dots = "..." if start else ""
                return (f"cell {ia}{tag}, output {k}: {what}, from character {at}: "
                        f"{dots}{x[2][start:at + 60]!r} vs {dots}{y[2][start:at + 60]!r}")
        return f"cell {ia}{tag}: {len(oa)} outputs vs {len(ob)}"
    return None
