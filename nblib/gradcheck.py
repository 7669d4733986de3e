"""Numerical gradients and readable comparisons (notebook 01, used everywhere after).

* numerical_gradient() -- central differences of a scalar function of an array.
* rel_error() -- the relative error CS231n-style checks use.
* compare() -- a small report (exact / close / MISMATCH, max abs diff, rel. error)
  for one or many pairs of arrays, e.g. our gradient vs. a numerical one or vs. PyTorch.
* check_gradient() -- both steps at once for ``f`` and its claimed gradient.

Work in float64: with eps=1e-6 the central difference has error O(eps^2) from
truncation and O(1e-16/eps) from rounding, so about 1e-10 relative is the floor.
"""

from __future__ import annotations

import html

import numpy as np

from ._validate import NonFiniteError, as_float_array, callable_arg, describe, positive_number

__all__ = ["numerical_gradient", "rel_error", "compare", "Comparison", "check_gradient"]


def numerical_gradient(f, x, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of a scalar function ``f`` at ``x``.

        ∂f/∂x_i ≈ (f(x + eps·e_i) - f(x - eps·e_i)) / (2·eps),   e_i: 1 at entry i, 0 elsewhere.

    The reference of notebook 01's exercise; every gradient check of the course uses it.

    Parameters
    ----------
    f : a function taking an array shaped like ``x`` and returning one number.
    x : an array of any shape, a list or a number (converted to a float64 copy; the
        caller's array is untouched).
    eps : the step, > 0.

    Returns a float64 array of the same shape as ``x``. Costs ``2 * x.size`` calls of ``f``.
    Raises TypeError when f returns None (a forgotten ``return``) or something that is
    not one number, and NonFiniteError (a ValueError) when f returns NaN or inf.
    """
    callable_arg(f, "f", "numerical_gradient")
    positive_number(eps, "eps", "numerical_gradient")
    x = as_float_array(x, "x", "numerical_gradient").copy()
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = _scalar(f(x))
        flat[i] = old - eps
        fm = _scalar(f(x))
        flat[i] = old
        gflat[i] = (fp - fm) / (2.0 * eps)
    return grad


def _scalar(v, where="numerical_gradient") -> float:
    """What f returned, as a float: a number, or an array/tensor holding exactly one number."""
    if v is None:
        raise TypeError(f"{where}: f returned None: it has no `return` statement (or returns nothing on "
                        f"this path); f must return the loss, one number")
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy()
    arr = np.asarray(v)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{where}: f must return a number, got {describe(v)}")
    if arr.size != 1:
        raise ValueError(f"{where}: f must return a scalar, got {describe(v)}")
    value = float(arr.reshape(()))
    if not np.isfinite(value):
        raise NonFiniteError(f"{where}: f returned {value} at a perturbed x; the gradient is not defined "
                             f"there (is f finite near x?)")
    return value


def rel_error(a, b) -> float:
    """Largest elementwise relative error  |a - b| / max(1e-8, |a| + |b|).

    ``a`` and ``b``: arrays of the same shape. Rules of thumb in float64: < 1e-7 fine,
    1e-7..1e-4 look closer (kinks?), > 1e-4 almost certainly a bug.
    """
    a = as_float_array(a, "a", "rel_error", allow_empty=True, finite=False)
    b = as_float_array(b, "b", "rel_error", allow_empty=True, finite=False)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: a has shape {a.shape} but b has shape {b.shape}; they must match")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


class Comparison:
    """The result of compare(): one row per named pair.

    Attributes: ``rows`` (list of dicts with name, shape, max_abs_diff, rel_error, verdict)
    and ``ok`` (True when every row is exact or close). Shows as a table in a notebook.
    """

    def __init__(self, rows, atol, rtol):
        self.rows, self.atol, self.rtol = rows, atol, rtol

    @property
    def ok(self) -> bool:
        return all(r["verdict"] != "MISMATCH" for r in self.rows)

    @property
    def max_abs_diff(self) -> float:
        return max((r["max_abs_diff"] for r in self.rows), default=0.0)

    def __bool__(self):
        return self.ok

    def __repr__(self):
        w = max([len(r["name"]) for r in self.rows] + [4])
        lines = [f"{'name':<{w}}  {'shape':<12}  {'max abs diff':>12}  {'rel error':>9}  verdict"]
        for r in self.rows:
            lines.append(f"{r['name']:<{w}}  {str(r['shape']):<12}  {r['max_abs_diff']:>12.2e}  "
                         f"{r['rel_error']:>9.1e}  {r['verdict']}")
        lines.append(f"{'all match' if self.ok else 'MISMATCH found'} "
                     f"(close means |a-b| <= {self.atol:g} + {self.rtol:g}*|b|)")
        return "\n".join(lines)

    def _repr_html_(self):
        head = "".join(f"<th>{h}</th>" for h in ("name", "shape", "max abs diff", "rel error", "verdict"))
        body = "".join(
            f"<tr><td><code>{html.escape(r['name'])}</code></td><td>{r['shape']}</td>"
            f"<td>{r['max_abs_diff']:.2e}</td><td>{r['rel_error']:.1e}</td>"
            f"<td>{'✓ ' if r['verdict'] != 'MISMATCH' else '✗ '}{r['verdict']}</td></tr>"
            for r in self.rows)
        return f"<table><tr>{head}</tr>{body}</table>"


def compare(a, b=None, name: str = "value", atol: float = 1e-8, rtol: float = 1e-6) -> Comparison:
    """Compare arrays and return a readable Comparison report.

    Two call forms:

    * ``compare(a, b, name="dW")`` -- one pair of same-shape arrays (numpy or torch);
    * ``compare({"dW": (a, b), "db": (a2, b2)})`` -- many named pairs, one row each.

    Each row's verdict is ``exact`` (bitwise equal), ``close`` (``|a-b| <= atol + rtol*|b|``
    everywhere) or ``MISMATCH`` (different values or shapes).
    """
    if isinstance(a, dict):
        if b is not None:
            raise TypeError("compare: when the first argument is a dict of pairs, do not pass b")
        pairs = a
    else:
        if b is None:
            raise TypeError("compare: pass two arrays, compare(a, b), or a dict {name: (a, b)}")
        pairs = {name: (a, b)}
    rows = []
    for key, pair in pairs.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"compare: the value for {key!r} must be a pair (a, b), got {describe(pair)}")
        x = as_float_array(pair[0], f"{key} (first)", "compare", allow_empty=True, finite=False)
        y = as_float_array(pair[1], f"{key} (second)", "compare", allow_empty=True, finite=False)
        if x.shape != y.shape:
            rows.append(dict(name=str(key), shape=f"{x.shape}≠{y.shape}", max_abs_diff=float("inf"),
                             rel_error=float("inf"), verdict="MISMATCH"))
            continue
        diff = float(np.max(np.abs(x - y))) if x.size else 0.0
        if np.array_equal(x, y):
            verdict = "exact"
        elif np.allclose(x, y, atol=atol, rtol=rtol):
            verdict = "close"
        else:
            verdict = "MISMATCH"
        rows.append(dict(name=str(key), shape=x.shape, max_abs_diff=diff,
                         rel_error=rel_error(x, y), verdict=verdict))
    return Comparison(rows, atol, rtol)


def check_gradient(f, grad_f, x, eps: float = 1e-6, atol: float = 1e-8, rtol: float = 1e-6,
                   name: str = "gradient") -> Comparison:
    """Compare an analytic gradient with the central-difference one at ``x``.

    ``f``: scalar function of an array shaped like ``x``; ``grad_f``: returns an array
    shaped like ``x``. Returns a Comparison (truthy when they agree).
    """
    callable_arg(f, "f", "check_gradient")
    callable_arg(grad_f, "grad_f", "check_gradient")
    x = as_float_array(x, "x", "check_gradient")
    claimed = grad_f(x.copy())
    if claimed is None:
        raise TypeError("check_gradient: grad_f returned None: it has no `return` statement; it must return "
                        f"the gradient, an array of shape {x.shape}")
    analytic = as_float_array(claimed, "grad_f(x)", "check_gradient", finite=False)
    numeric = numerical_gradient(f, x, eps=eps)
    return compare(analytic, numeric, name=name, atol=atol, rtol=rtol)
