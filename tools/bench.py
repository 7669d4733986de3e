"""Measure the course: ``python -m tools.bench [--repeat N] [--quick] [--json FILE]``.

Prints Markdown tables (paste-ready for the README's performance section):

1. **Machine**: CPU, cores, Python / numpy / torch versions, BLAS and OpenMP libraries
   and their thread counts (threadpoolctl).
2. **Notebooks**: every ``notebooks/NN_*.ipynb`` executed headless with nbclient, a
   fresh kernel each time, the kernel start included in the time (as nbval and
   ``jupyter nbconvert --execute`` do); the median over ``--repeat`` runs, and the total.
   Kernels run with networking blocked (see :mod:`tools.netguard`) and with
   ``OMP_NUM_THREADS=1``, like the test suite. The peak resident memory (``VmHWM``) of
   each kernel is read from ``/proc``. Beside them, the **import floor**: a notebook that
   only imports numpy, matplotlib, torch and nblib, measured the same way in the same run;
   each notebook's time is also given as a multiple of it, with its slowest cells.
3. **Determinism**: the repeated runs of each notebook are compared output by output:
   text outputs (stdout, text/plain, text/html, LaTeX, ...) exactly, after the same
   sanitising patterns nbval uses (``tests/nbval_sanitize.cfg``: wall-clock times);
   images (``image/png``) by the SHA-256 of their bytes; widget model ids (random by
   design) are left out.
4. **Explorers**: every factory named ``*_explorer`` in the ``__all__`` of each module
   of :mod:`nblib.widgets` is built with its defaults; each of its controls is swept
   over its range (sliders: evenly spaced values; dropdowns and toggles: every option),
   one :meth:`~nblib.widgets.Explorer.set` per value. Median and 95th percentile of
   compute + redraw per change, from :attr:`Explorer.timings`.
4b. **In the browser** (``tools.browser``): every notebook run with Run All in JupyterLab in
   headless Chromium (its time as the browser sees it), and every explorer control changed by
   key presses or clicks: the time from the input event to the new figure painted, median and
   p95 per explorer, beside the in-kernel figures (skipped with the reason without Chromium).
5. **Capstone MLP step**: one training step (forward, mean softmax cross-entropy,
   backward, SGD update) of the capstone's architecture, numpy vs PyTorch CPU eager,
   same sizes, batch and dtype, in this process; achieved GFLOP/s of the step (matmul
   FLOPs only) next to a large matmul's GFLOP/s measured here (the physical reference).
5b. **Convolution** (:mod:`tools.bench_conv`): numpy's im2col convolution vs PyTorch's at the
   course's sizes, forward + backward, and a training step of notebook 10's CNN, as ratios.
6. **Autograd**: forward + backward of a 100,000-node graph in :mod:`nblib.autograd`.

Anything that does not exist yet (a module, a notebook) is skipped with the reason
printed. These are measurements, not tests: nothing fails because a machine is slow.

Running and comparing notebooks is :mod:`tools.notebooks` and the network guard is
:mod:`tools.netguard`; the tests use both too.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gc
import hashlib
import importlib
import inspect
import json
import os
import pkgutil
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import repo_root
from .netguard import offline_env
from .notebooks import (comparable_outputs, execute_notebook, find_notebooks, first_difference, load_sanitizers,
                        slowest_cells)

__all__ = ["discover_explorers", "sweep_values", "bench_explorer", "main"]

# ------------------------------------------------------------------------------------
# Explorers
# ------------------------------------------------------------------------------------
def _is_explorer_factory(name, obj) -> bool:
    if not callable(obj) or isinstance(obj, type):
        return False
    if name.endswith("_explorer"):
        return True
    try:
        ann = inspect.signature(obj).return_annotation
    except (TypeError, ValueError):
        return False
    return ann == "Explorer" or getattr(ann, "__name__", None) == "Explorer"


def discover_explorers():
    """Every explorer factory of :mod:`nblib.widgets`: ``(found, skipped)``.

    A factory is a public name (in the module's ``__all__``) of a module
    ``nblib/widgets/<name>.py`` that ends in ``_explorer`` or is annotated
    ``-> Explorer``; it must build an explorer when called without arguments. A module
    may also list its factories in ``EXPLORERS = ["name", ...]``.
    ``found = [(qualified name, factory)]``; ``skipped = [(module, reason)]``.
    """
    import nblib.widgets as pkg

    found, skipped = [], []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        modname = f"nblib.widgets.{info.name}"
        try:
            module = importlib.import_module(modname)
        except Exception as exc:  # report, never crash the benchmark
            skipped.append((modname, f"import failed: {type(exc).__name__}: {exc}"))
            continue
        names = list(getattr(module, "EXPLORERS", ()))
        names += [n for n in getattr(module, "__all__", ())
                  if n not in names and _is_explorer_factory(n, getattr(module, n, None))]
        if not names:
            skipped.append((modname, "no explorer factory in __all__"))
        for name in names:
            factory = getattr(module, name, None)
            if not callable(factory):
                continue
            required = required_arguments(factory)
            if required == ["root"] and _example_root() is not None:
                found.append((f"{info.name}.{name}", lambda f=factory: f(_example_root())))
            elif required:
                skipped.append((f"{info.name}.{name}", f"needs arguments ({', '.join(required)}); "
                                                       f"list a no-argument wrapper in EXPLORERS to include it"))
            else:
                found.append((f"{info.name}.{name}", factory))
    return found, skipped


def _example_root():
    """A small autograd graph (a 2-input tanh neuron, 10 nodes) for explorers that take ``root``."""
    try:
        from nblib.autograd import Value
    except ImportError:
        return None
    x1, x2, w1, w2, b = Value(2.0), Value(0.0), Value(-3.0), Value(1.0), Value(6.8813735870195432)
    return ((x1 * w1 + x2 * w2) + b).tanh()


def required_arguments(fn) -> list:
    """Names of the parameters of ``fn`` that have no default."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.default is p.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def sweep_values(control, k: int) -> list:
    """Values to sweep one ipywidgets control through: ``k`` evenly spaced values of a
    slider (log-spaced for a log slider), every option of a selection, both states of
    a checkbox. ``[]`` for controls without a value range (buttons, text)."""
    import ipywidgets as w

    if isinstance(control, w.FloatLogSlider):
        exps = np.linspace(control.min, control.max, k)
        return [float(control.base ** e) for e in exps]
    if isinstance(control, (w.FloatSlider, w.BoundedFloatText)):
        return [float(v) for v in np.linspace(control.min, control.max, k)]
    if isinstance(control, (w.IntSlider, w.BoundedIntText, w.Play)):
        vals = np.unique(np.linspace(control.min, control.max, k).round().astype(int))
        return [int(v) for v in vals]
    if isinstance(control, (w.Checkbox, w.ToggleButton)):
        return [not control.value, control.value]
    if isinstance(control, (w.SelectionSlider,)):
        opts = list(control.options)
        idx = np.unique(np.linspace(0, len(opts) - 1, k).round().astype(int))
        return [opts[i][1] if isinstance(opts[i], tuple) else opts[i] for i in idx]
    if isinstance(control, w.SelectMultiple):
        opts = [o[1] if isinstance(o, tuple) else o for o in control.options]
        return [(o,) for o in opts] + [tuple(opts)]
    if hasattr(control, "options"):
        opts = list(control.options)
        return [o[1] if isinstance(o, tuple) else o for o in opts]
    return []


def bench_explorer(factory, k: int = 12) -> dict:
    """Build the explorer and sweep each control; milliseconds per change.

    Returns ``{"build_ms", "changes", "median_ms", "p95_ms", "median_compute_ms",
    "median_draw_ms", "worst_control", "worst_ms"}``.
    """
    t0 = time.perf_counter()
    explorer = factory()
    build_ms = (time.perf_counter() - t0) * 1e3
    per_control = {}
    for name, control in explorer.controls.items():
        start = control.value if hasattr(control, "value") else None
        values = sweep_values(control, k)
        n0 = len(explorer.timings)
        for v in values:
            explorer.set(**{name: v})
        if start is not None and values:
            explorer.set(**{name: start})
        per_control[name] = explorer.timings[n0:n0 + len(values)]
    rows = [t for ts in per_control.values() for t in ts]
    if not rows:
        return {"title": explorer.title, "build_ms": build_ms, "changes": 0}
    total = np.array([c + d for c, d in rows])
    worst = max(per_control, key=lambda n: max((c + d for c, d in per_control[n]), default=0.0))
    out = {
        "title": explorer.title, "build_ms": build_ms, "changes": len(rows),
        "median_ms": float(np.median(total)), "p95_ms": float(np.percentile(total, 95)),
        "median_compute_ms": float(np.median([c for c, _ in rows])),
        "median_draw_ms": float(np.median([d for _, d in rows])),
        "worst_control": worst,
        "worst_ms": float(max(c + d for c, d in per_control[worst])),
        "per_control": {n: {"median_ms": float(np.median([c + d for c, d in ts])),
                            "median_compute_ms": float(np.median([c for c, _ in ts])),
                            "median_draw_ms": float(np.median([d for _, d in ts]))}
                        for n, ts in per_control.items() if ts},
    }
    with contextlib.suppress(Exception):
        explorer.close()
    return out


# ------------------------------------------------------------------------------------
# Timing helpers
# ------------------------------------------------------------------------------------
def _calls_per_batch(fn, min_time: float) -> int:
    """Warm ``fn`` up, then find how many calls of it take about ``min_time`` seconds."""
    fn()  # warm-up
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        t = time.perf_counter() - t0
        if t >= min_time / 4:
            break
        n *= 4
    return max(1, int(n * min_time / max(t, 1e-9)))


def _time_per_call(fn, min_time: float = 0.2, repeats: int = 5) -> float:
    """Median seconds per call of ``fn()`` over ``repeats`` batches of >= ``min_time`` s each."""
    n = _calls_per_batch(fn, min_time)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t0) / n)
    return statistics.median(times)


def _time_interleaved(fns: dict, min_time: float = 0.1, repeats: int = 7) -> dict:
    """Median seconds per call of each function of ``fns``, measured in turns (a batch of
    calls of each in every round), so that a change in the machine's load hits all alike."""
    counts = {name: _calls_per_batch(fn, min_time) for name, fn in fns.items()}
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            n = counts[name]
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            times[name].append((time.perf_counter() - t0) / n)
    return {name: statistics.median(ts) for name, ts in times.items()}



def _fmt_bytes(n) -> str:
    return "n/a" if n is None else f"{n / 2**20:.0f} MiB"


# ------------------------------------------------------------------------------------
# Machine
# ------------------------------------------------------------------------------------
def machine_info() -> dict:
    """CPU, core count, versions and the BLAS/OpenMP libraries with their thread counts."""
    info = {"python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform(),
            "nproc": os.cpu_count()}
    with contextlib.suppress(OSError, ValueError):
        affinity = len(os.sched_getaffinity(0))
        info["nproc"] = affinity
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        cpu = fields.get("Model name", cpu)
        info["lscpu"] = {k: fields[k] for k in ("Model name", "CPU(s)", "Thread(s) per core", "Core(s) per socket",
                                                "L2 cache", "L3 cache", "Hypervisor vendor", "Flags")
                         if k in fields}
        flags = fields.get("Flags", "").split()
        info["simd"] = " ".join(f for f in ("avx2", "fma", "avx512f") if f in flags)
    info["cpu"] = cpu
    try:
        import torch
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        info["torch"] = None
    try:
        from threadpoolctl import threadpool_info
        info["threadpools"] = [f"{p.get('internal_api')} {p.get('version') or ''} ({p.get('user_api')}, "
                               f"{p.get('num_threads')} threads, {Path(p.get('filepath', '')).name})"
                               for p in threadpool_info()]
    except ImportError:
        info["threadpools"] = ["threadpoolctl not installed"]
    info["env_threads"] = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                       "OPENBLAS_NUM_THREADS") if k in os.environ}
    return info


# ------------------------------------------------------------------------------------
# Capstone MLP: numpy vs torch
# ------------------------------------------------------------------------------------
DEFAULT_SIZES = (64, 128, 10)


def capstone_architecture():
    """``(sizes, activation, batch, source)`` of the capstone MLP.

    Looked up in :mod:`nblib.train` / :mod:`nblib.digits` (a ``CAPSTONE`` dict with
    ``sizes``, ``activation`` and ``batch_size``); else read from the code of notebook 07
    (its ``MLP([...], activation=...)`` and ``batch_size=``); else 64-128-10, ReLU.
    ``batch`` is None when not found.
    """
    for modname in ("nblib.train", "nblib.digits"):
        try:
            module = importlib.import_module(modname)
        except Exception:
            continue
        spec = getattr(module, "CAPSTONE", None)
        if isinstance(spec, dict) and "sizes" in spec:
            return (tuple(int(s) for s in spec["sizes"]), spec.get("activation", "relu"),
                    spec.get("batch_size"), f"{modname}.CAPSTONE")
    for path in sorted((repo_root() / "notebooks").glob("*_capstone_*.ipynb")):
        try:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError):
            continue
        code = "\n".join("".join(c.get("source", "")) for c in cells if c.get("cell_type") == "code")
        found = re.search(r"MLP\(\s*\[([\d,\s]+)\]([^)]*)\)", code)
        if found:
            sizes = tuple(int(v) for v in found.group(1).split(",") if v.strip())
            act = re.search(r"activation\s*=\s*[\"'](\w+)[\"']", found.group(2))
            batch = re.search(r"batch_size\s*=\s*(\d+)", code)
            return (sizes, act.group(1) if act else "relu", int(batch.group(1)) if batch else None,
                    f"notebooks/{path.name}")
    return DEFAULT_SIZES, "relu", None, "default (64-128-10, ReLU)"


def mlp_flops(sizes, batch) -> float:
    """Matmul FLOPs of one training step (2 per multiply-add): forward ``X W`` per layer,
    backward ``dW = Aᵀ dZ`` per layer and ``dA = dZ Wᵀ`` for every layer but the first."""
    fwd = sum(2 * batch * a * b for a, b in zip(sizes[:-1], sizes[1:]))
    dx = sum(2 * batch * a * b for a, b in list(zip(sizes[:-1], sizes[1:]))[1:])
    return 2 * fwd + dx


def _data(sizes, batch, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], size=batch)
    params = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
        params[f"W{i}"] = (rng.standard_normal((a, b)) * np.sqrt(2.0 / a)).astype(dtype)
        params[f"b{i}"] = np.zeros(b, dtype=dtype)
    return X, y, params


def numpy_reference_step(params, X, y, lr=0.01):
    """One SGD step of a ReLU MLP written as tightly as numpy allows (no validation),
    in the dtype of the inputs. The reference the course's numpy MLP is compared with."""
    L = len(params) // 2
    acts = [X]
    h = X
    for i in range(1, L + 1):
        h = h @ params[f"W{i}"]
        h += params[f"b{i}"]
        if i < L:
            np.maximum(h, 0, out=h)
            acts.append(h)
    z = h
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    n = X.shape[0]
    rows = np.arange(n)
    loss = -np.log(z[rows, y]).mean()
    z[rows, y] -= 1
    z /= n
    dz = z
    for i in range(L, 0, -1):
        a = acts[i - 1]
        dW = a.T @ dz
        db = dz.sum(axis=0)
        if i > 1:
            dz = dz @ params[f"W{i}"].T
            dz *= a > 0
        params[f"W{i}"] -= lr * dW
        params[f"b{i}"] -= lr * db
    return loss


@contextlib.contextmanager
def _threads(n):
    """Limit numpy's BLAS and torch to ``n`` threads inside the block (None: leave as is)."""
    if n is None:
        yield
        return
    try:
        import torch
        before = torch.get_num_threads()
    except ImportError:
        torch, before = None, None
    try:
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(limits=n)
    except ImportError:
        limiter = contextlib.nullcontext()
    with limiter:
        if torch is not None:
            torch.set_num_threads(n)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(before)


def bench_mlp(sizes, activation, batches=(64, 128), dtypes=("float64", "float32"), min_time=0.2,
              threads=(None, 1)) -> dict:
    """Time per SGD step: the course's numpy MLP (``nblib.layers.MLP`` + ``nblib.optim.SGD``,
    float64 only: it converts its inputs to float64), the bench's reference numpy step,
    and PyTorch CPU eager (``nn.Linear``/``ReLU``, ``F.cross_entropy``, ``torch.optim.SGD``)."""
    results = {"rows": [], "skipped": []}
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        torch = None
        results["skipped"].append("torch not installed: no PyTorch column")
    course = None
    try:
        from nblib.layers import MLP
        from nblib.optim import SGD
        course = (MLP, SGD)
    except Exception as exc:
        results["skipped"].append(f"course numpy MLP unavailable ({type(exc).__name__}: {exc})")
    for nthreads, dtype, batch in [(t, d, b) for t in threads for d in dtypes for b in batches]:
        with _threads(nthreads):
            X, y, params = _data(sizes, batch, dtype)
            row = {"threads": "default" if nthreads is None else nthreads, "dtype": dtype, "batch": batch,
                   "flops": mlp_flops(sizes, batch)}
            p = {k: v.copy() for k, v in params.items()}
            fns = {"numpy_ref": lambda: numpy_reference_step(p, X, y)}
            if course is not None and dtype == "float64":
                MLP, SGD = course
                net = MLP(list(sizes), activation=activation, init="he", seed=0)
                opt = SGD(lr=0.01)

                def course_step():
                    loss, grads = net.loss_and_grads(X, y)
                    opt.step(net.params, grads)
                    return loss

                fns["numpy_course"] = course_step
            if torch is not None:
                tdtype = getattr(torch, dtype)
                layers = []
                for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
                    lin = torch.nn.Linear(a, b, dtype=tdtype)
                    with torch.no_grad():
                        lin.weight.copy_(torch.from_numpy(params[f"W{i}"].T.copy()))
                        lin.bias.zero_()
                    layers.append(lin)
                    if i < len(sizes) - 1:
                        layers.append(torch.nn.ReLU())
                model = torch.nn.Sequential(*layers)
                topt = torch.optim.SGD(model.parameters(), lr=0.01)
                tX, ty = torch.from_numpy(X), torch.from_numpy(y)

                def torch_step():
                    topt.zero_grad(set_to_none=True)
                    loss = F.cross_entropy(model(tX), ty)
                    loss.backward()
                    topt.step()
                    return loss

                fns["torch"] = torch_step
            row.update(_time_interleaved(fns, min_time))
            results["rows"].append(row)
    return results


def bench_matmul(n: int = 2048) -> dict:
    """GFLOP/s of an ``(n, n) @ (n, n)`` matmul (2 n^3 FLOPs), numpy and torch, float64/float32."""
    out = {"n": n}
    rng = np.random.default_rng(0)
    for dtype in ("float64", "float32"):
        A = rng.standard_normal((n, n)).astype(dtype)
        B = rng.standard_normal((n, n)).astype(dtype)
        t = _time_per_call(lambda: A @ B, min_time=0.3, repeats=3)
        out[f"numpy_{dtype}"] = 2 * n ** 3 / t / 1e9
        try:
            import torch
            tA, tB = torch.from_numpy(A), torch.from_numpy(B)
            t = _time_per_call(lambda: tA @ tB, min_time=0.3, repeats=3)
            out[f"torch_{dtype}"] = 2 * n ** 3 / t / 1e9
        except ImportError:
            pass
    return out


def profile_course_step(sizes, activation, batch=64, seconds=1.0) -> str | None:
    """A pyinstrument profile (text) of the course's numpy step, or None if unavailable."""
    try:
        from pyinstrument import Profiler
        from nblib.layers import MLP
        from nblib.optim import SGD
    except ImportError:
        return None
    X, y, _ = _data(sizes, batch, "float64")
    net = MLP(list(sizes), activation=activation, init="he", seed=0)
    opt = SGD(lr=0.01)
    profiler = Profiler(interval=0.0001)
    profiler.start()
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        loss, grads = net.loss_and_grads(X, y)
        opt.step(net.params, grads)
    profiler.stop()
    return profiler.output_text(unicode=False, color=False, show_all=False)


# ------------------------------------------------------------------------------------
# Autograd
# ------------------------------------------------------------------------------------
def bench_autograd(nodes: int = 100_000, repeats: int = 3) -> dict:
    """Forward + backward of graphs of about ``nodes`` nodes in :mod:`nblib.autograd`.

    Two shapes: a chain (depth = nodes: tests that backward needs no recursion) and a
    wide graph (a sum of products of a few hundred leaves); the chain once more with
    Python's cyclic garbage collector paused (each node's backward closure refers to the
    node itself, a reference cycle, so building a big graph triggers many collections that
    walk every live object, torch's included). Times are medians of ``repeats``;
    ``nodes`` counts the nodes of the graph (leaves included).
    """
    try:
        ag = importlib.import_module("nblib.autograd")
    except ImportError as exc:
        return {"skipped": f"nblib.autograd not found ({exc})"}
    Value = getattr(ag, "Value", None)
    if Value is None:
        return {"skipped": "nblib.autograd has no Value class"}
    out = {}

    def chain():
        # one new node per operation (the constants are shared leaves): depth ~ nodes
        x, w, c = Value(0.5), Value(0.9999), Value(1e-4)
        y = x
        for i in range(nodes - 3):
            y = y * w if i % 2 == 0 else y + c
        return y

    def wide():
        # a sum of products of 300 shared leaves: 2 new nodes per term, depth ~ nodes / 2
        leaves = [Value(float(i % 7) / 7.0) for i in range(300)]
        total = leaves[0] * leaves[1]
        for i in range(1, (nodes - 301) // 2 + 1):
            total = total + leaves[i % 300] * leaves[(7 * i + 3) % 300]
        return total

    for name, build, paused in (("chain", chain, False), ("wide", wide, False),
                                ("chain, gc paused", chain, True)):
        fwd, bwd = [], []
        for _ in range(repeats):
            gc.collect()
            if paused:
                gc.disable()
            t0 = time.perf_counter()
            y = build()
            t1 = time.perf_counter()
            try:
                order = y.backward()
            except RecursionError as exc:
                gc.enable()
                out[name] = {"error": f"RecursionError in backward ({exc})"}
                break
            t2 = time.perf_counter()
            gc.enable()
            fwd.append(t1 - t0)
            bwd.append(t2 - t1)
            count = len(order) if isinstance(order, list) else None
            del order, y
        else:
            out[name] = {"forward_s": statistics.median(fwd), "backward_s": statistics.median(bwd),
                         "nodes": count or nodes}
    out["nodes"] = nodes
    return out


# ------------------------------------------------------------------------------------
# The command
# ------------------------------------------------------------------------------------
def _table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


#: What every notebook pays before its first lesson cell: a kernel and the course's imports.
FLOOR_IMPORTS = "import numpy\nimport matplotlib.pyplot\nimport torch\nimport nblib\n"


def import_floor(repeat: int, env=None, timeout: int = 120) -> dict:
    """Median seconds (``repeat`` runs, fresh kernel each, as the notebooks are run) of a
    notebook with one cell that imports numpy, matplotlib, torch and nblib: the floor that no
    notebook of the course can go below."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(FLOOR_IMPORTS)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    with tempfile.TemporaryDirectory(prefix="course-floor-") as tmp:
        path = Path(tmp) / "floor.ipynb"
        nbformat.write(nb, path)
        runs = [execute_notebook(path, env=env or offline_env(), timeout=timeout) for _ in range(repeat)]
    errors = [r.error for r in runs if r.error]
    return {"median_s": statistics.median(r.seconds for r in runs), "seconds": [r.seconds for r in runs],
            "kernel_start_s": statistics.median(r.kernel_start_s for r in runs), "errors": errors}


def run_notebooks(repeat: int, timeout: int = 300, log=print) -> dict:
    """Execute every notebook ``repeat`` times (offline, fresh kernel each); times, memory, determinism."""
    notebooks = find_notebooks()
    result = {"notebooks": [], "skipped": []}
    try:
        import nbclient  # noqa: F401
    except ImportError:
        result["skipped"].append("nbclient not installed")
        return result
    if not notebooks:
        result["skipped"].append(f"no notebooks/NN_*.ipynb in {repo_root() / 'notebooks'}")
        return result
    env = offline_env()
    sanitizers = load_sanitizers()
    import nbformat
    result["floor"] = import_floor(repeat, env=env)
    log(f"  import floor: {result['floor']['median_s']:.2f} s")
    for path in notebooks:
        runs = []
        for r in range(repeat):
            run = execute_notebook(path, env=env, timeout=timeout)
            runs.append(run)
            log(f"  {path.name} run {r + 1}/{repeat}: {run.seconds:.2f} s"
                + (f"  ERROR {run.error.splitlines()[0][:200]}" if run.error else ""))
        stored = comparable_outputs(nbformat.read(path, as_version=4), images="skip",
                                    sanitizers=sanitizers, respect_tags=True)
        hashed = [comparable_outputs(r.nb, images="hash", sanitizers=sanitizers, respect_tags=True) for r in runs]
        diffs = [first_difference(hashed[0], h) for h in hashed[1:]]
        every = [comparable_outputs(r.nb, images="hash", sanitizers=sanitizers) for r in runs]
        ignored_diffs = [first_difference(every[0], h) for h in every[1:]]
        vs_stored = first_difference(stored, comparable_outputs(runs[0].nb, images="skip", sanitizers=sanitizers,
                                                                respect_tags=True))
        result["notebooks"].append({
            "name": path.name,
            "seconds": [r.seconds for r in runs],
            "median_s": statistics.median(r.seconds for r in runs),
            "kernel_start_s": statistics.median(r.kernel_start_s for r in runs),
            "peak_rss": max((r.peak_rss or 0) for r in runs) or None,
            "errors": [r.error for r in runs if r.error],
            "identical": all(d is None for d in diffs) if diffs else None,
            "difference": next((d for d in diffs if d), None),
            "ignored_cell_difference": next((d for d in ignored_diffs if d), None),
            "matches_stored": vs_stored is None,
            "stored_difference": vs_stored,
            "images": sum(1 for _, _, outs in hashed[0] for o in outs if o[1].startswith("image/")),
            "slowest_cells": slowest_cells(runs[0].nb),
        })
    return result


def _targets(report) -> list:
    """``[target, measured, met]`` rows for the figures of this run."""
    rows = []
    nbs = report.get("notebooks", {}).get("notebooks", [])
    if nbs:
        worst = max(nbs, key=lambda r: r["median_s"])
        rows.append(["each notebook ≤ 15 s (kernel start included)",
                     f"slowest {worst['name']}: {worst['median_s']:.1f} s; total {sum(r['median_s'] for r in nbs):.1f} s",
                     "yes" if worst["median_s"] <= 15 else "no"])
        floor = report["notebooks"].get("floor", {}).get("median_s")
        if floor:
            total = sum(r["median_s"] for r in nbs)
            rows.append([f"whole course headless ≤ 2× its import floor ({len(nbs)} × {floor:.2f} s)",
                         f"{total:.1f} s = {total / (floor * len(nbs)):.2f}× the floor",
                         "yes" if total <= 2 * floor * len(nbs) else "no"])
        same = [r for r in nbs if r["identical"] is not None]
        if same:
            ok = all(r["identical"] for r in same)
            rows.append([f"identical outputs on {report['repeat']} runs", f"{sum(r['identical'] for r in same)} of "
                         f"{len(same)} notebooks", "yes" if ok else "no"])
    for qual, r in report.get("explorers", {}).items():
        if r.get("changes"):
            rows.append([f"explorer median ≤ 50 ms: {qual}", f"{r['median_ms']:.0f} ms (p95 {r['p95_ms']:.0f} ms)",
                         "yes" if r["median_ms"] <= 50 else "no"])
    for label, pick in (("1 thread", lambda r: r["threads"] == 1), ("default threads", lambda r: r["threads"] != 1)):
        ratios = [(r["numpy_course"] / r["torch"], r) for r in report.get("mlp", {}).get("rows", [])
                  if pick(r) and r.get("numpy_course") and r.get("torch")]
        if ratios:
            worst, r = max(ratios, key=lambda t: t[0])
            rows.append([f"numpy MLP step ≤ 1.1× PyTorch ({label}, float64)",
                         f"worst ratio {worst:.2f} (batch {r['batch']}); best "
                         f"{min(t[0] for t in ratios):.2f}", "yes" if worst <= 1.1 else "no"])
    for nb, entry in report.get("browser", {}).get("notebooks", {}).items():
        for title, r in entry.get("explorers", {}).items():
            if r.get("latencies"):
                p95 = float(np.percentile(r["latencies"], 95))
                rows.append([f"slider to new picture in the browser ≤ 100 ms p95: {title}",
                             f"p95 {p95:.0f} ms (median {np.median(r['latencies']):.0f} ms)",
                             "yes" if p95 <= 100 else "no"])
    chain = report.get("autograd", {}).get("chain", {})
    if "backward_s" in chain:
        rows.append([f"autograd: backward of a {chain['nodes']:,}-node graph ≤ 1 s (target: 100,000)",
                     f"{chain['backward_s']:.2f} s "
                     f"(forward {chain['forward_s']:.2f} s)", "yes" if chain["backward_s"] <= 1 else "no"])
    return rows


def main(argv=None) -> int:
    """The command line ``python -m tools.bench`` (``argv``: its arguments); prints the tables, returns 0."""
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3,
                        help="notebook executions per notebook (median; >= 3 also proves determinism)")
    parser.add_argument("--quick", action="store_true",
                        help="one notebook run, short sweeps and timings (a smoke test of the command)")
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE as JSON")
    parser.add_argument("--skip", action="append", default=[],
                        choices=["notebooks", "explorers", "browser", "mlp", "conv", "autograd"], help="leave a section out")
    parser.add_argument("--profile", action="store_true",
                        help="always print a pyinstrument profile of the course's numpy MLP step")
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else args.repeat
    if repeat < 1:
        parser.error(f"--repeat must be >= 1, got {repeat}")
    k = 5 if args.quick else 12
    min_time = 0.05 if args.quick else 0.1
    started = time.perf_counter()
    report = {"repeat": repeat}
    out = []

    def say(text=""):
        print(text, flush=True)
        out.append(text)

    # 1. machine ------------------------------------------------------------------
    info = machine_info()
    report["machine"] = info
    say("## Machine")
    say(f"- CPU: {info['cpu']} ({info['nproc']} cores available; SIMD: {info.get('simd') or 'n/a'}); "
        f"{info['platform']}")
    say(f"- Python {info['python']}, numpy {info['numpy']}, torch {info.get('torch') or 'not installed'}"
        + (f" ({info['torch_threads']} intra-op threads)" if info.get("torch") else ""))
    for pool in info["threadpools"]:
        say(f"- thread pool: {pool}")
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    report["load_at_start"] = load
    if load:
        say(f"- load average at start (1/5/15 min): {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"
            + ("  (other work is running: timings are inflated)" if load[0] > 0.5 * info["nproc"] else ""))
    say(f"- thread variables in this process: {info['env_threads'] or 'none set'}; "
        f"notebook kernels run with OMP_NUM_THREADS=1 as in the test suite")
    say()

    # 2. notebooks ----------------------------------------------------------------
    if "notebooks" not in args.skip:
        say(f"## Notebooks (headless, fresh kernel each, kernel start included; median of {repeat})")
        nbres = run_notebooks(repeat, log=lambda s: print(s, file=sys.stderr, flush=True))
        report["notebooks"] = nbres
        for reason in nbres["skipped"]:
            say(f"- skipped: {reason}")
        rows = []
        for r in nbres["notebooks"]:
            det = ("n/a (1 run)" if r["identical"] is None else
                   f"identical ×{repeat}" if r["identical"] else f"DIFFERS: {r['difference']}")
            if r["identical"] and r["ignored_cell_difference"]:
                cell = re.match(r"cell \d+", r["ignored_cell_difference"])
                det += f" (except {cell.group(0) if cell else 'a cell'}, tagged nbval-ignore-output: it prints timings)"
            floor = nbres.get("floor", {}).get("median_s")
            rows.append([r["name"], f"{r['median_s']:.2f}", f"{r['median_s'] / floor:.1f}×" if floor else "n/a",
                         f"{r['kernel_start_s']:.2f}", _fmt_bytes(r["peak_rss"]),
                         det, "yes" if r["matches_stored"] else f"NO: {r['stored_difference']}",
                         "ok" if not r["errors"] else f"ERROR: {r['errors'][0].splitlines()[0][:120]}"])
        if rows:
            total = sum(r["median_s"] for r in nbres["notebooks"])
            heaviest = max(nbres["notebooks"], key=lambda r: r["peak_rss"] or 0)
            floor = nbres.get("floor", {}).get("median_s")
            n = len(nbres["notebooks"])
            rows.append(["**total**", f"**{total:.1f}**", f"{total / (floor * n):.2f}× ({n} floors)" if floor else "",
                         "", f"max {_fmt_bytes(heaviest['peak_rss'])} ({heaviest['name']})", "", "", ""])
            say(_table(["notebook", "time (s)", "× import floor", "of which kernel start (s)", "kernel peak RSS",
                        "outputs over runs", "= stored outputs", "status"], rows))
            if floor:
                say(f"\nImport floor: {floor:.2f} s (a fresh kernel running only `{FLOOR_IMPORTS.strip().replace(chr(10), '; ')}`,"
                    f" median of {repeat}); the course's {n} notebooks cost {total:.1f} s, {n} floors are "
                    f"{floor * n:.1f} s.")
            say("\nSlowest cells of each notebook (seconds, cell index, first line):")
            for r in nbres["notebooks"]:
                say(f"- {r['name']}: " + "; ".join(f"{t:.2f} s cell {i} `{src}`" for t, i, src in r["slowest_cells"]))
            say("Time: from starting the kernel to the last cell's reply (nbclient; the kernel shutdown "
                "afterwards is not counted). Outputs compared over the runs: text exactly after the nbval "
                "sanitize patterns, images by SHA-256, widget model ids left out, cells tagged "
                "nbval-ignore-output reported apart. '= stored outputs': as nbval strict compares (images and "
                "nbval-ignore-output cells left out). Kernels ran with non-loopback networking blocked.")
        say()

    # 3. explorers ----------------------------------------------------------------
    if "explorers" not in args.skip:
        say(f"## Explorers (one control change = compute + redraw; each control swept over {k} values)")
        found, skipped = discover_explorers()
        rows = []
        report["explorers"] = {}
        for qual, factory in found:
            try:
                r = bench_explorer(factory, k=k)
            except Exception as exc:
                skipped.append((qual, f"failed: {type(exc).__name__}: {exc}"))
                continue
            report["explorers"][qual] = r
            if not r["changes"]:
                skipped.append((qual, "no sweepable control"))
                continue
            rows.append([qual, r["changes"], f"{r['median_ms']:.1f}", f"{r['p95_ms']:.1f}",
                         f"{r['median_compute_ms']:.1f} / {r['median_draw_ms']:.1f}",
                         f"{r['worst_control']} ({r['worst_ms']:.0f})", f"{r['build_ms']:.0f}"])
        if rows:
            say(_table(["explorer", "changes", "median ms", "p95 ms", "median compute / draw ms",
                        "slowest control (max ms)", "build ms"], rows))
            slow = {q: r for q, r in report["explorers"].items() if r.get("median_ms", 0) > 50}
            if slow:
                say("\nPer control, for explorers above the 50 ms target (median ms: compute / draw):")
                for q, r in slow.items():
                    parts = ", ".join(f"{n} {v['median_compute_ms']:.0f} / {v['median_draw_ms']:.0f}"
                                      for n, v in r["per_control"].items())
                    say(f"- {q}: {parts}")
        for mod, reason in skipped:
            say(f"- skipped {mod}: {reason}")
        say()

    # 3b. in the browser ---------------------------------------------------------
    if "browser" not in args.skip:
        say("## In the browser (JupyterLab in headless Chromium: what a learner feels)")
        from .browser import browser_timings

        paths = [r for r in find_notebooks()]
        br = browser_timings(paths, presses=2 if args.quick else 4, log=lambda s: print(s, file=sys.stderr, flush=True))
        report["browser"] = br
        for reason in br["skipped"]:
            say(f"- skipped: {reason}")
        headless = {r["name"]: r["median_s"] for r in report.get("notebooks", {}).get("notebooks", [])}
        rows = [[name, f"{e['run_all_s']:.1f}", f"{headless[name]:.1f}" if name in headless else "n/a"]
                for name, e in br["notebooks"].items()]
        if rows:
            say(_table(["notebook", "Run All in the browser (s)", "headless (s)"], rows))
            say()
        in_kernel = {r.get("title"): r for r in report.get("explorers", {}).values() if r.get("changes")}
        rows = []
        for name, e in br["notebooks"].items():
            for title, r in e["explorers"].items():
                lat = r["latencies"]
                k = in_kernel.get(title)
                rows.append([name[:2], title, len(lat),
                             f"{np.median(lat):.0f}" if lat else "n/a", f"{np.percentile(lat, 95):.0f}" if lat else "n/a",
                             f"{k['median_ms']:.0f} / {k['p95_ms']:.0f}" if k else "n/a",
                             ", ".join(r["static"]) or "-"])
        if rows:
            say(_table(["nb", "explorer", "changes", "browser median ms", "browser p95 ms",
                        "in-kernel median / p95 ms", "controls that redraw no figure"], rows))
            say("Browser latency: from the key press (sliders: arrow keys) or click to the explorer's new image "
                "decoded and the next frame painted, measured in the page; it includes the kernel round "
                "trip, the PNG transfer and the widget's rendering. In-kernel: compute + draw from the Explorers "
                "section (a sweep over each control's range).")
        say()

    # 4. MLP ------------------------------------------------------------------------
    if "mlp" not in args.skip:
        sizes, activation, cap_batch, source = capstone_architecture()
        batches = tuple(sorted({64, 128} | ({cap_batch} if cap_batch else set())))
        say(f"## Capstone MLP training step ({'-'.join(map(str, sizes))}, {activation}"
            + (f", trained with batch {cap_batch}" if cap_batch else "") + f"; read from {source})")
        mm = bench_matmul(1024 if args.quick else 2048)
        mlp = bench_mlp(sizes, activation, batches=batches, min_time=min_time)
        report["matmul"], report["mlp"] = mm, {"sizes": sizes, "activation": activation, "batch": cap_batch,
                                               "source": source, **mlp}
        rows = []
        for r in mlp["rows"]:
            gf = lambda s: f"{r['flops'] / s / 1e9:.1f}"  # noqa: E731
            course = r.get("numpy_course")
            t = r.get("torch")
            rows.append([r["threads"], r["dtype"], r["batch"], f"{r['flops'] / 1e6:.2f}",
                         f"{course * 1e6:.0f} ({gf(course)})" if course else "n/a (float64 only)",
                         f"{r['numpy_ref'] * 1e6:.0f} ({gf(r['numpy_ref'])})",
                         f"{t * 1e6:.0f} ({gf(t)})" if t else "n/a",
                         f"{course / t:.2f}" if course and t else "n/a",
                         f"{r['numpy_ref'] / t:.2f}" if t else "n/a"])
        for reason in mlp["skipped"]:
            say(f"- {reason}")
        say(_table(["threads", "dtype", "batch", "MFLOP/step", "course numpy µs (GFLOP/s)", "minimal numpy µs (GFLOP/s)",
                    "torch eager µs (GFLOP/s)", "course / torch", "minimal / torch"], rows))
        peak = ", ".join(f"{k.replace('_', ' ')} {v:.1f}" for k, v in mm.items() if k != "n")
        say(f"Reference: a {mm['n']}×{mm['n']} matmul reaches {peak} GFLOP/s on this machine. "
            f"FLOPs count the matmuls only (2 per multiply-add). threads 'default': torch's "
            f"{info.get('torch_threads')} intra-op threads and numpy's BLAS pool as the machine gives them "
            f"(see Machine); '1': both limited to one thread (threadpoolctl, torch.set_num_threads).")
        ratios = [r["numpy_course"] / r["torch"] for r in mlp["rows"] if r.get("numpy_course") and r.get("torch")]
        report["mlp"]["worst_course_over_torch"] = max(ratios) if ratios else None
        if args.profile or (ratios and max(ratios) > 1.1):
            prof = profile_course_step(sizes, activation, seconds=0.5 if args.quick else 1.5)
            if prof is None:
                say("- course step slower than 1.1× torch; install pyinstrument to profile it "
                    "(`pip install pyinstrument`)")
            else:
                say("\nProfile of the course's numpy step (pyinstrument, batch 64, float64):\n```")
                say(prof.strip())
                say("```")
        say()

    # 4b. convolution ----------------------------------------------------------------
    if "conv" not in args.skip:
        from .bench_conv import bench_conv, table as conv_table

        say("## Convolution: numpy (nblib.conv, im2col) vs PyTorch, forward + backward, one thread")
        conv = bench_conv(repeats=3 if args.quick else 7, min_time=min_time / 2)
        report["conv"] = conv
        say(conv_table(conv))
        say()

    # 5. autograd -----------------------------------------------------------------
    if "autograd" not in args.skip:
        say("## Autograd engine (nblib.autograd)")
        ag = bench_autograd(100_000 if not args.quick else 20_000, repeats=1 if args.quick else 3)
        report["autograd"] = ag
        if "skipped" in ag:
            say(f"- skipped: {ag['skipped']}")
        else:
            rows = []
            for shape in ("chain", "wide", "chain, gc paused"):
                r = ag.get(shape, {})
                if "error" in r:
                    rows.append([shape, ag["nodes"], "", r["error"], ""])
                elif r:
                    rows.append([shape, r["nodes"], f"{r['forward_s']:.3f}", f"{r['backward_s']:.3f}",
                                 f"{r['forward_s'] + r['backward_s']:.3f}"])
            say(_table(["graph", "nodes", "forward s", "backward s", "total s"], rows))
        say()

    # 6. targets -------------------------------------------------------------------
    rows = _targets(report)
    if rows:
        say("## Targets of the issue")
        say(_table(["target", "measured", "met"], rows))
        say()

    elapsed = time.perf_counter() - started
    report["elapsed_s"] = elapsed
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    report["load_at_end"] = load
    say(f"Benchmark finished in {elapsed:.0f} s" + (f"; load average at the end {load[0]:.2f} / {load[1]:.2f} / "
                                                     f"{load[2]:.2f}." if load else "."))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
