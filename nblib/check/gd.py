"""Checkers for notebook 02 (gradient descent on linear regression)."""

from __future__ import annotations

import numpy as np

from .. import gd as G
from ._core import CheckResult, Diagnosis, _call, check_function

__all__ = ["linreg_grad", "gd_fit", "critical_lr", "least_squares"]


def _line_cases():
    rng = np.random.default_rng(21)
    x1 = np.linspace(-3, 3, 20)
    x2 = rng.normal(2.0, 1.5, size=7)
    return [
        (x1, 2 + 3 * x1 + 0.5 * rng.normal(size=20), 0.5, -1.0),
        (x2, -1 + 0.5 * x2 + rng.normal(size=7), -2.0, 3.0),
        (np.array([1.0, 2.0]), np.array([0.0, 5.0]), 1.0, 1.0),
    ]


def reference_linreg_grad(x, y, w, b):
    return np.array(G.linreg_grad(w, b, x, y))


def linreg_grad(fn) -> CheckResult:
    """Check ``fn(x, y, w, b) -> (dL/dw, dL/db)`` for the mean squared error of ``ŷ = w x + b``.

    Recognised mistakes: per-sample gradients not averaged (the article's bug: arrays of
    shape (n,) come back), the sum instead of the mean, the missing 2, the sign
    (y - ŷ instead of ŷ - y), dL/dw without the factor x, w and b swapped.
    """
    name = "linreg_grad"
    if callable(fn):  # the article's mistake gives arrays, which the generic shape message under-explains
        x, y, w, b = _line_cases()[0]
        value, err = _call(fn, (x.copy(), y.copy(), w, b))
        if err is None:
            try:
                parts = [np.asarray(v, dtype=float) for v in value]
            except Exception:
                parts = []
            if len(parts) == 2 and any(p.shape == x.shape for p in parts):
                return CheckResult(name, "fail", f"you returned per-sample gradients (arrays of shape {x.shape}) "
                                   "instead of two numbers. The loss is the *mean* over the samples, so its "
                                   "gradient is the mean of the per-sample gradients: average them "
                                   "(e.g. `np.mean(2 * r * x)`). The article's code skipped this and crashed "
                                   "on the first update.", fn, reference_linreg_grad)

    return check_function(
        name, fn, reference=reference_linreg_grad, cases=_line_cases(),
        diagnoses=[
            Diagnosis("sum", lambda x, y, w, b: reference_linreg_grad(x, y, w, b) * x.size,
                      "you summed over the samples; the loss is the *mean*, so divide by n"),
            Diagnosis("no 2", lambda x, y, w, b: reference_linreg_grad(x, y, w, b) / 2,
                      "the factor 2 from differentiating the square is missing: d(r²)/dr = 2r"),
            Diagnosis("sign", lambda x, y, w, b: -reference_linreg_grad(x, y, w, b),
                      "sign error: use the residual r = ŷ - y (prediction minus target); "
                      "with y - ŷ you get the direction of steepest *ascent*"),
            Diagnosis("no x", lambda x, y, w, b: np.array([2 * np.mean(w * x + b - y)] * 2),
                      "dL/dw needs the factor x_i inside the mean: ∂(w x_i + b)/∂w = x_i"),
            Diagnosis("swapped", lambda x, y, w, b: reference_linreg_grad(x, y, w, b)[::-1],
                      "the two results are swapped: return (dL/dw, dL/db) in that order"),
        ],
        success="correct: dL/dw = 2·mean(r·x), dL/db = 2·mean(r) with r = w x + b - y.")


def reference_gd_fit(x, y, w0, b0, lr, steps):
    f = G.linreg_objective(x, y)
    return G.gradient_descent(f, [w0, b0], lr, steps).final


def _sequential_fit(x, y, w0, b0, lr, steps):
    """Updates w first, then computes b's gradient with the *new* w (a classic slip)."""
    w, b = w0, b0
    for _ in range(steps):
        dw, _ = G.linreg_grad(w, b, x, y)
        w = w - lr * dw
        _, db = G.linreg_grad(w, b, x, y)
        b = b - lr * db
    return np.array([w, b])


def gd_fit(fn) -> CheckResult:
    """Check ``fn(x, y, w0, b0, lr, steps) -> (w, b)`` after ``steps`` GD steps.

    Recognised mistakes: one step too few or too many, updating b with the gradient
    at the *new* w (the updates must be simultaneous), gradient *ascent*.
    """
    rng = np.random.default_rng(22)
    x = np.linspace(-3, 3, 30)
    y = 2 + 3 * x + 0.5 * rng.normal(size=30)
    cases = [(x, y, 0.0, 0.0, 0.05, 1), (x, y, -1.0, 4.0, 0.1, 25), (x[:9], y[:9], 2.0, -1.0, 0.02, 40)]

    def plus_one(x, y, w0, b0, lr, steps):
        return reference_gd_fit(x, y, w0, b0, lr, steps + 1)

    def minus_one(x, y, w0, b0, lr, steps):
        return reference_gd_fit(x, y, w0, b0, lr, steps - 1) if steps > 1 else np.array([w0, b0])

    def ascent(x, y, w0, b0, lr, steps):
        w, b = w0, b0
        for _ in range(steps):
            dw, db = G.linreg_grad(w, b, x, y)
            w, b = w + lr * dw, b + lr * db
        return np.array([w, b])

    return check_function(
        "gd_fit", fn, reference=reference_gd_fit, cases=cases, atol=1e-9, rtol=1e-9,
        diagnoses=[
            Diagnosis("sequential", _sequential_fit,
                      "you updated w and then used the *new* w to compute b's gradient. Both gradients "
                      "must come from the same point (w, b): compute dw and db first, then update both"),
            Diagnosis("plus one", plus_one, "you took one step too many: run exactly `steps` updates"),
            Diagnosis("minus one", minus_one, "you took one step too few: run exactly `steps` updates"),
            Diagnosis("ascent", ascent, "you *added* lr × gradient: descent subtracts it (θ ← θ - lr ∇L)"),
        ],
        success="correct: simultaneous updates of w and b, `steps` times.")


def reference_critical_lr(x):
    return G.critical_lr(x)


def critical_lr(fn) -> CheckResult:
    """Check ``fn(x) -> 2/λ_max`` of the MSE Hessian for the line ``ŷ = w x + b`` on feature ``x``.

    Recognised mistakes: 1/λ_max (the fastest rate, not the stability limit), 2/λ_min,
    the Hessian without its factor 2 (of XᵀX/n), the Hessian of the *sum* (no 1/n), the
    Hessian of the slope alone (2 mean(x²), forgetting b).
    """
    rng = np.random.default_rng(23)
    cases = [(np.linspace(-3, 3, 100),), (rng.normal(3.0, 2.0, size=40),), (np.array([0.0, 1.0, 2.0, 10.0]),)]

    def H(x):
        return G.linreg_hessian(x)

    def lam(x, which=-1):
        return np.linalg.eigvalsh(H(x))[which]

    return check_function(
        "critical_lr", fn, reference=reference_critical_lr, cases=cases, scalar=True,
        diagnoses=[
            Diagnosis("1/lam", lambda x: 1 / lam(x),
                      "1/λ_max is where GD stops creeping and starts to oscillate; it still converges up "
                      "to 2/λ_max, where the factor |1 - lr·λ_max| reaches 1"),
            Diagnosis("lam_min", lambda x: 2 / lam(x, 0),
                      "you used the smallest eigenvalue; stability is decided by the *largest* curvature, "
                      "the direction that overshoots first"),
            Diagnosis("no 2 in H", lambda x: 4 / lam(x),
                      "your Hessian is missing its factor 2: H = (2/n) XᵀX, because L has a square"),
            Diagnosis("sum", lambda x: 2 / lam(x) / len(x),
                      "your Hessian is that of the *sum* of squares (no 1/n); the loss is the mean"),
            Diagnosis("w only", lambda x: 1 / np.mean(x * x),
                      "you used only ∂²L/∂w² = 2·mean(x²); with the intercept b the Hessian is 2×2 and "
                      "its largest eigenvalue is what counts"),
        ],
        success="correct: 2/λ_max of H = (2/n) XᵀX with X = [x, 1].")


def reference_least_squares(x, y):
    return np.array(G.least_squares(x, y))


def least_squares(fn) -> CheckResult:
    """Check ``fn(x, y) -> (w*, b*)``, the least-squares line (normal equations).

    Recognised mistakes: no intercept column (the line through the origin), the result
    in the order (b, w), ``(XᵀX)⁻¹ Xᵀ y`` with X = [1, x] but returned unswapped.
    """
    rng = np.random.default_rng(24)
    x1 = np.linspace(-3, 3, 50)
    x2 = rng.normal(5, 2, size=12)
    cases = [(x1, 2 + 3 * x1 + 0.5 * rng.normal(size=50)), (x2, -4 + 0.3 * x2 + rng.normal(size=12))]
    return check_function(
        "least_squares", fn, reference=reference_least_squares, cases=cases, atol=1e-8, rtol=1e-8,
        diagnoses=[
            Diagnosis("no intercept", lambda x, y: np.array([x @ y / (x @ x), 0.0]),
                      "your line goes through the origin: add a column of ones to X (X = [x, 1], shape "
                      "(n, 2)) so that the intercept b is fitted too"),
            Diagnosis("order", lambda x, y: reference_least_squares(x, y)[::-1],
                      "the result is in the order (b, w); return (w, b): the column order of X decides"),
        ],
        success="correct: the normal equations XᵀX θ = Xᵀy with X = [x, 1].")
