"""Small, deterministic data sets made by code (no downloads).

Every function takes ``seed``: an ``int`` or a ``numpy.random.Generator``. The same
seed always gives the same data; nothing touches numpy's global random state.

Introduced in notebook 01 (losses) and 02 (the line y = 2 + 3x + noise of the source article
《Python 梯度下降》).
"""

from __future__ import annotations

import numpy as np

from ._validate import describe, positive_number

__all__ = ["make_rng", "linear_data", "blobs", "moons", "spirals", "xor"]


def make_rng(seed, where: str = "make_rng") -> np.random.Generator:
    """Return a ``numpy.random.Generator`` from an int seed (or pass a Generator through).

    ``where`` names the calling function in the error message.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        return np.random.default_rng(int(seed))
    raise TypeError(f"{where}: seed must be a non-negative int or a numpy.random.Generator, got {describe(seed)}")


def _number(v, name, where) -> float:
    """Any real number (a slope or an intercept may be negative)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not np.isfinite(v):
        raise TypeError(f"{where}: {name} must be a finite number, got {describe(v)}")
    return float(v)


def _interval(v, name, where):
    """A pair (lo, hi) of numbers with lo < hi."""
    if isinstance(v, (str, bytes)) or np.ndim(v) != 1 or np.size(v) != 2:
        raise TypeError(f"{where}: {name} must be a pair (lo, hi), got {describe(v)}")
    lo, hi = (_number(t, name, where) for t in v)
    if not lo < hi:
        raise ValueError(f"{where}: {name} must have lo < hi, got ({lo:g}, {hi:g})")
    return lo, hi


def linear_data(n: int = 100, w: float = 3.0, b: float = 2.0, noise: float = 0.5,
                x_range: tuple = (-3.0, 3.0), seed=1):
    """The running regression example: ``y = b + w x + noise``.

    x is evenly spaced over ``x_range`` (as in the source article), noise is Gaussian
    with standard deviation ``noise``.

    Returns ``(x, y)``, both of shape ``(n,)``, float64.
    """
    n = positive_number(n, "n", "linear_data", integer=True)
    positive_number(noise, "noise", "linear_data", allow_zero=True)
    w, b = _number(w, "w", "linear_data"), _number(b, "b", "linear_data")
    lo, hi = _interval(x_range, "x_range", "linear_data")
    rng = make_rng(seed, "linear_data")
    x = np.linspace(lo, hi, n)
    y = b + w * x + noise * rng.standard_normal(n)
    return x, y


def blobs(n_per_class: int = 50, centers=((-1.5, -1.0), (1.5, 1.0)), std: float = 0.8, seed=0):
    """Gaussian blobs in 2-D, one per centre.

    Returns ``X`` of shape ``(k * n_per_class, 2)`` and integer labels ``y`` of shape
    ``(k * n_per_class,)`` with values in ``0..k-1`` (k = number of centres), shuffled.
    """
    n_per_class = positive_number(n_per_class, "n_per_class", "blobs", integer=True)
    positive_number(std, "std", "blobs")
    centers = np.asarray(centers, dtype=float)
    if centers.ndim != 2 or centers.shape[1] != 2:
        raise ValueError(f"blobs: centers must have shape (k, 2), got {centers.shape}")
    rng = make_rng(seed, "blobs")
    X = np.concatenate([c + std * rng.standard_normal((n_per_class, 2)) for c in centers])
    y = np.repeat(np.arange(len(centers)), n_per_class)
    order = rng.permutation(len(y))
    return X[order], y[order]


def moons(n: int = 200, noise: float = 0.15, seed=0):
    """Two interleaving half circles (a non-linear binary problem).

    Returns ``X`` of shape ``(n, 2)`` and labels ``y`` of shape ``(n,)`` in {0, 1}, shuffled.
    """
    n = positive_number(n, "n", "moons", integer=True)
    positive_number(noise, "noise", "moons", allow_zero=True)
    rng = make_rng(seed, "moons")
    n0 = n // 2
    n1 = n - n0
    t0 = np.linspace(0, np.pi, n0)
    t1 = np.linspace(0, np.pi, n1)
    X = np.concatenate([np.c_[np.cos(t0), np.sin(t0)],
                        np.c_[1 - np.cos(t1), 0.5 - np.sin(t1)]])
    X = X + noise * rng.standard_normal(X.shape)
    y = np.r_[np.zeros(n0, dtype=np.int64), np.ones(n1, dtype=np.int64)]
    order = rng.permutation(n)
    return X[order], y[order]


def spirals(n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2, seed=0):
    """Interleaved spiral arms, one per class (the CS231n toy problem).

    Returns ``X`` of shape ``(n_classes * n_per_class, 2)`` and labels ``y`` of shape
    ``(n_classes * n_per_class,)`` in ``0..n_classes-1``, shuffled.
    """
    n_per_class = positive_number(n_per_class, "n_per_class", "spirals", integer=True)
    n_classes = positive_number(n_classes, "n_classes", "spirals", integer=True)
    positive_number(noise, "noise", "spirals", allow_zero=True)
    rng = make_rng(seed, "spirals")
    X, y = [], []
    for k in range(n_classes):
        r = np.linspace(0.0, 1.0, n_per_class)
        t = np.linspace(k * 4.0, (k + 1) * 4.0, n_per_class) + noise * rng.standard_normal(n_per_class)
        X.append(np.c_[r * np.sin(t), r * np.cos(t)])
        y.append(np.full(n_per_class, k, dtype=np.int64))
    X, y = np.concatenate(X), np.concatenate(y)
    order = rng.permutation(len(y))
    return X[order], y[order]


def xor(n: int = 200, noise: float = 0.1, seed=0):
    """Four clusters at the corners of a square, labelled by XOR of the quadrant signs.

    Returns ``X`` of shape ``(n, 2)`` and labels ``y`` of shape ``(n,)`` in {0, 1}.
    """
    n = positive_number(n, "n", "xor", integer=True)
    positive_number(noise, "noise", "xor", allow_zero=True)
    rng = make_rng(seed, "xor")
    corners = rng.integers(0, 2, size=(n, 2))
    X = (2.0 * corners - 1.0) + noise * rng.standard_normal((n, 2))
    y = (corners[:, 0] ^ corners[:, 1]).astype(np.int64)
    return X, y
