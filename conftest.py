"""Shared test setup (at the repository root, so it also applies to `pytest notebooks/NN.ipynb`).

Notebook kernels (nbval) inherit this environment: one BLAS/OpenMP thread each, which
keeps PyTorch fast on small CPUs and makes float results reproducible.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
