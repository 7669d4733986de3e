"""The stored outputs do not depend on the CPU they were computed on.

A learner's laptop, the CI machine and the machine that executed the committed notebooks
have different vector units (SSE4, AVX2, AVX-512, NEON). numpy, OpenBLAS and PyTorch pick
their kernels for the CPU at run time, and different kernels round differently in the
last bits (summation order, vectorised exp/log). Anything a notebook prints must not
depend on those bits: either it is rounded well above them, or it is a rounding-level
number that the nbval sanitize patterns leave out of the comparison (see
``tests/nbval_sanitize.cfg``), or it is a verdict.

This module runs every notebook once more, offline, as if on another CPU: numpy's
run-time dispatch limited to its baseline kernels (``NPY_DISABLE_CPU_FEATURES``),
OpenBLAS forced to an old generic core (``OPENBLAS_CORETYPE``), PyTorch on its
non-vectorised kernels (``ATEN_CPU_CAPABILITY=default``) and two BLAS/OpenMP threads
instead of one. The outputs must equal the stored ones, as nbval compares them. This
catches, for instance, a chaotic training run whose printed loss changes with the last
bit of a sum.
"""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from tools.netguard import offline_env
from tools.notebooks import execute_notebook
from notebook_runner import difference_from_stored, notebook_params


def _dispatched_numpy_features() -> list:
    """The SIMD features numpy chose at run time on this CPU beyond its baseline."""
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:      # numpy < 2
        from numpy.core import _multiarray_umath as umath
    features = getattr(umath, "__cpu_features__", {})
    return [f for f in getattr(umath, "__cpu_dispatch__", []) if features.get(f)]


def other_cpu_env() -> dict:
    """A kernel environment that makes numpy, OpenBLAS and PyTorch use other kernels than
    they would on this CPU (see the module docstring), networking blocked."""
    env = offline_env(threads=None)
    disabled = _dispatched_numpy_features()
    if disabled:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(disabled)
    core = {"x86_64": "Nehalem", "AMD64": "Nehalem", "aarch64": "ARMV8", "arm64": "ARMV8"}.get(platform.machine())
    if core:
        env["OPENBLAS_CORETYPE"] = core
    env["ATEN_CPU_CAPABILITY"] = "default"
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = "2"
    return env


PROBE = """
import json, torch
try:
    from numpy._core import _multiarray_umath as umath
except ImportError:      # numpy < 2
    from numpy.core import _multiarray_umath as umath
from threadpoolctl import threadpool_info
blas = [p for p in threadpool_info() if p.get("internal_api") == "openblas"]
print(json.dumps({"numpy_on": [f for f in umath.__cpu_dispatch__ if umath.__cpu_features__.get(f)],
                  "openblas_core": blas[0].get("architecture") if blas else None,
                  "torch": torch.backends.cpu.get_cpu_capability()}))
"""


def test_the_other_cpu_environment_takes_effect():
    """Control: in that environment the libraries really do use other kernels."""
    import json

    out = subprocess.run([sys.executable, "-c", PROBE], env=other_cpu_env(), capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["numpy_on"] == [], seen
    assert seen["torch"] == "DEFAULT", seen
    if "OPENBLAS_CORETYPE" in other_cpu_env() and seen["openblas_core"] is not None:
        assert seen["openblas_core"].lower() == other_cpu_env()["OPENBLAS_CORETYPE"].lower(), seen


@pytest.mark.parametrize("path", notebook_params())
def test_notebook_outputs_are_the_same_on_other_cpu_kernels(path):
    run = execute_notebook(path, env=other_cpu_env(), timeout=300)
    assert run.error is None, f"{path.name} failed on the other kernels:\n{run.error}"
    diff = difference_from_stored(path, run)
    assert diff is None, (f"{path.name}: on other CPU kernels (numpy baseline, OpenBLAS generic core, PyTorch "
                          f"default) an output differs from the stored one: {diff}")
