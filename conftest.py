"""Shared test setup (at the repository root, so it also applies to `pytest notebooks/NN.ipynb`).

Every process this test session starts (nbval's notebook kernels, the student-edition
runs, JupyterLab in the browser tests, pytest-xdist workers) inherits this environment:

* one BLAS/OpenMP thread per kernel, which keeps PyTorch fast on small CPUs and makes
  float results reproducible;
* the network guard of :func:`tools.netguard.offline_env`: a ``sitecustomize`` module that
  refuses every non-loopback connection and name lookup. So nbval's own run of each
  notebook is also the proof that the course runs offline (``tests/test_no_network.py``
  checks the guard itself and then relies on this).
"""

import os

from tools.netguard import offline_env

os.environ.update(offline_env(threads=1))
