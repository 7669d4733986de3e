"""Checkers for notebook 02 (gradient descent on linear regression)."""

from __future__ import annotations

import numpy as np

from .. import gd as G
from ._core import CheckResult, Diagnosis, _call, check_function, require_function, returned

__all__ = ["linreg_grad", "gd_fit", "gradient_descent", "critical_lr", "least_squares"]


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
                                   "instead of two numbers, the article's mistake.", fn, reference_linreg_grad,
                                   hints=("The loss is the *mean* over the samples, so its gradient is the mean of "
                                          "the per-sample gradients: average them (e.g. `np.mean(2 * r * x)`).",))

    return check_function(
        name, fn, reference=reference_linreg_grad, cases=_line_cases(),
        diagnoses=[
            Diagnosis("sum", lambda x, y, w, b: reference_linreg_grad(x, y, w, b) * x.size,
                      ("you summed over the samples", "the loss is the *mean*, so divide by n")),
            Diagnosis("no 2", lambda x, y, w, b: reference_linreg_grad(x, y, w, b) / 2,
                      ("the factor 2 from differentiating the square is missing", "d(r²)/dr = 2r")),
            Diagnosis("sign", lambda x, y, w, b: -reference_linreg_grad(x, y, w, b),
                      ("sign error: your gradient points downhill",
                       "use the residual r = ŷ - y (prediction minus target); with y - ŷ you get minus the gradient")),
            Diagnosis("no x", lambda x, y, w, b: np.array([2 * np.mean(w * x + b - y)] * 2),
                      ("your dL/dw equals dL/db: dL/dw needs the factor x_i inside the mean",
                       "∂(w x_i + b)/∂w = x_i, so dL/dw = 2·mean(r·x)")),
            Diagnosis("swapped", lambda x, y, w, b: reference_linreg_grad(x, y, w, b)[::-1],
                      ("the two results are swapped", "return (dL/dw, dL/db) in that order")),
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
                      ("you returned 1/λ_max, where GD stops creeping and starts to oscillate",
                       "it still converges up to 2/λ_max, where the factor |1 - lr·λ_max| reaches 1")),
            Diagnosis("lam_min", lambda x: 2 / lam(x, 0),
                      ("you used the smallest eigenvalue",
                       "stability is decided by the *largest* curvature, the direction that overshoots first")),
            Diagnosis("no 2 in H", lambda x: 4 / lam(x),
                      ("your Hessian is missing its factor 2", "H = (2/n) XᵀX, because L has a square")),
            Diagnosis("sum", lambda x: 2 / lam(x) / len(x),
                      ("your Hessian is that of the *sum* of squares (no 1/n)", "the loss is the mean: H = (2/n) XᵀX")),
            Diagnosis("w only", lambda x: 1 / np.mean(x * x),
                      ("you used only ∂²L/∂w² = 2·mean(x²)",
                       "with the intercept b the Hessian is 2×2 and its largest eigenvalue is what counts")),
        ],
        success="correct: 2/λ_max of H = (2/n) XᵀX with X = [x, 1].")


def _ddof_mix(x, y):
    w = np.cov(x, y)[0, 1] / np.var(x)
    return np.array([w, y.mean() - w * x.mean()])


def reference_least_squares(x, y):
    return np.array(G.least_squares(x, y))


def least_squares(fn) -> CheckResult:
    """Check ``fn(x, y) -> (w*, b*)``, the least-squares line (normal equations).

    Recognised mistakes: no intercept column (the line through the origin), the result
    in the order (b, w) (X = [1, x] returned unswapped), x regressed on y, np.cov (n-1)
    over np.var (n), b = mean(y) + w·mean(x).
    """
    rng = np.random.default_rng(24)
    x1 = np.linspace(-3, 3, 50)
    x2 = rng.normal(5, 2, size=12)
    cases = [(x1, 2 + 3 * x1 + 0.5 * rng.normal(size=50)), (x2, -4 + 0.3 * x2 + rng.normal(size=12))]
    return check_function(
        "least_squares", fn, reference=reference_least_squares, cases=cases, atol=1e-8, rtol=1e-8,
        diagnoses=[
            Diagnosis("no intercept", lambda x, y: np.array([x @ y / (x @ x), 0.0]),
                      ("your line goes through the origin",
                       "add a column of ones to X (X = [x, 1], shape (n, 2)) so that the intercept b is fitted too")),
            Diagnosis("order", lambda x, y: reference_least_squares(x, y)[::-1],
                      ("the result is in the order (b, w)", "return (w, b): the column order of X decides")),
            Diagnosis("x on y", lambda x, y: np.array(G.least_squares(y, x)),
                      ("you fitted x as a function of y", "the model predicts y from x: X is built from x, "
                       "the right-hand side is y")),
            Diagnosis("ddof", lambda x, y: _ddof_mix(x, y),
                      ("your slope is off by the factor n/(n-1)",
                       "np.cov divides by n-1 and np.var by n: use one convention for both "
                       "(np.cov(x, y, bias=True), or np.var(x, ddof=1))")),
            Diagnosis("b sign", lambda x, y: np.array([G.least_squares(x, y)[0],
                                                      y.mean() + G.least_squares(x, y)[0] * x.mean()]),
                      ("your slope is right but the intercept is not", "the line passes through the means: "
                       "b* = mean(y) - w* · mean(x)")),
        ],
        success="correct: the normal equations XᵀX θ = Xᵀy with X = [x, 1].")


# ------------------------------------------------------------------ the whole GD loop
def _bowl(A, b):
    """f(θ) = ½ θᵀAθ - bᵀθ and its gradient Aθ - b."""
    A, b = np.asarray(A, dtype=float), np.asarray(b, dtype=float)
    return lambda th: (float(0.5 * th @ A @ th - b @ th), A @ th - b)


def _edge(radius):
    """θ·θ inside a ball, NaN outside it (a loss that turns NaN when the run leaves its domain)."""
    return lambda th: (float(th @ th) if th @ th < radius ** 2 else float("nan"), 2 * th)


def _loop_cases():
    """(description, loss_and_grad, theta0, lr, max_steps, tol): every way the loop can end."""
    A, b = [[3.0, 1.0], [1.0, 2.0]], [1.0, -1.0]
    star = np.linalg.solve(A, b)
    return [
        ("a tilted bowl, theta0 = [2, -3] (a list of ints), lr=0.2, max_steps=500, tol=1e-6",
         _bowl(A, b), [2, -3], 0.2, 500, 1e-6),
        ("the same bowl stopped early: max_steps=7", _bowl(A, b), np.array([2.0, -3.0]), 0.2, 7, 1e-6),
        ("a round bowl, theta0 = [3, 3], lr=0.05, tol=1e-3 (the gradient points along (1, 1))",
         _bowl(np.eye(2), [0.0, 0.0]), np.array([3.0, 3.0]), 0.05, 1000, 1e-3),
        ("a start already at the minimum (the gradient is ~1e-16 there)", _bowl(A, b), star, 0.2, 50, 1e-6),
        ("a start at the minimum with max_steps=0", _bowl(A, b), star, 0.2, 0, 1e-6),
        ("lr=1.5, above 2/λ_max: the loss grows ~19× per step", _bowl(A, b), np.array([1.0, 2.0]), 1.5, 100, 1e-6),
        ("lr=0.6, just above 2/λ_max = 0.553, from next to the minimum, where the loss is -0.7 (|L_0| < 1)",
         _bowl(A, b), star + np.array([1e-3, 0.0]), 0.6, 500, 1e-6),
        ("a loss that turns NaN when ‖θ‖ ≥ 5, lr=1.2 (each step multiplies θ by -1.4)",
         _edge(5.0), np.array([1.0, 1.0]), 1.2, 100, 1e-6),
        ("a loss that turns NaN when ‖θ‖ ≥ 5, lr=1.2, max_steps=4: the NaN comes at the last point",
         _edge(5.0), np.array([1.0, 1.0]), 1.2, 4, 1e-6),
        ("three parameters, max_steps=0", _bowl(np.diag([1.0, 2.0, 4.0]), [1.0, 0.0, -1.0]),
         np.array([0.5, 0.5, 0.5]), 0.1, 0, 1e-6),
    ]


LOOP_KEYS = ("path", "losses", "steps", "stop")
LOOP_FORMAT = ('return a dict {"path": [θ_0, ..., θ_k], "losses": [L_0, ..., L_k], "steps": k, "stop": why}, '
               'with "stop" one of ' + ", ".join(repr(s) for s in G.STOP_REASONS))

LOOP_HINTS = {
    "ascent": ("your first step went uphill.", "Descent subtracts: θ_{k+1} = θ_k - lr · ∇L(θ_k)."),
    "update": ("your first update θ_1 is not θ_0 - lr · ∇L(θ_0).",
               "Take the gradient that loss_and_grad returned at θ_0, multiply by lr, subtract it from θ_0."),
    "same array": ("every point in your path is the same array: θ was changed in place after being appended.",
                   "Append a new array each step: `theta = theta - lr * grad` creates one; `theta -= lr * grad` "
                   "changes the one already in the list (or append `theta.copy()`)."),
    "steps count": ('"steps" is the number of points in your path, one more than the number of updates.',
                    '"steps" counts the updates: k updates give the k+1 points θ_0 … θ_k, so "steps" is '
                    'len(path) - 1.'),
    "first point": ("the first point of your path is not θ_0: the array you appended first was changed "
                    "afterwards (an in-place update such as `theta -= lr * grad`).",
                    "Append a new array each step: `theta = theta - lr * grad` creates one (or append "
                    "`theta.copy()`)."),
    "no start": ("path and losses must start with θ_0 and L(θ_0): k updates give k+1 entries.",
                 "Append θ_0 and its loss before the first update, then one entry after each update."),
    "caller": ("your function changed the caller's theta0.",
               "Start from a float copy: `theta = np.array(theta0, dtype=float)`."),
    "no divergence": ("your loop did not stop when the run diverged (by the course's rule, which compares "
                      "each loss with the starting loss).",
                      "At every point, right after computing the loss, call `gd.divergence(loss, losses[0])`; if "
                      "it returns a cause (not None), stop with \"stop\" set to that cause."),
    "divergence start": ("your loop noticed the divergence at another step than the course's rule does.",
                         "Compare each loss with the *starting* loss, losses[0] (not the previous one), through "
                         "`gd.divergence(loss, losses[0])`, and test it at every point before anything else."),
    "last point": ("your path stops one point short: the point at which a stopping test fires belongs to the result.",
                   "Append θ_k and L_k as soon as they are computed, then test; \"steps\" is then len(path) - 1."),
    "cause": ("your loop stopped at the right step but with another cause.",
              "Use the string gd.divergence returns (\"non-finite\" or \"blew up\") as \"stop\"."),
    "early": ("your loop stopped before ‖∇L‖₂ fell below tol.",
              "The rule is the Euclidean norm, `np.linalg.norm(grad) < tol`: not the largest entry, not the "
              "squared norm, not the change of the loss."),
    "late": ("your loop took more steps than the stopping rule allows.",
             "Test the rule at every point θ_k, including θ_0 and the point right after the last update, "
             "before taking another step."),
    "max_steps": ("your loop made a different number of updates than max_steps.",
                  "Exactly max_steps updates when nothing stops it earlier: path then holds max_steps + 1 points."),
    "order": ("with max_steps reached and the gradient below tol at the same point, the rules are tested in order.",
              "At each point: divergence first, then the gradient norm, then the step count."),
    "order divergence": ("at the point where your loop stopped, the run had also diverged: the rules are tested "
                         "in order, and divergence comes first.",
                         "At each point: `gd.divergence(loss, losses[0])` first, then the gradient norm, then "
                         "the step count."),
}


def reference_gradient_descent(loss_and_grad, theta0, lr, max_steps, tol):
    return G.descend(loss_and_grad, theta0, lr, max_steps, tol)


def gradient_descent(fn) -> CheckResult:
    """Check ``fn(loss_and_grad, theta0, lr, max_steps, tol) -> dict``: the loop of ``nblib.gd.descend``.

    Ten cases that end in every way (converged, max_steps, converged at the start, blew
    up, non-finite, non-finite exactly at max_steps, max_steps=0), with 2 and 3 parameters,
    one where the max-abs and the Euclidean norm cross tol many steps apart, one that
    diverges from a negative loss (a threshold without max(|L_0|, 1) or without abs() stops
    at another step). Compared: "stop", "steps", every point of "path" and every loss.
    Recognised mistakes: ascent, a wrong update, a path of one array appended repeatedly or
    a start point changed in place, path/losses without the start, "steps" = len(path),
    changing the caller's theta0, no divergence check, divergence judged against the
    previous loss or tested after the other rules, another cause, stopping early (max-abs or
    squared norm, loss change), stopping late (no test at θ_0 or after the last update),
    max_steps off by one, the rules' order.
    """
    name, ref = "gradient_descent", reference_gradient_descent
    bad = require_function(name, fn, ref)
    if bad is not None:
        return bad

    def fail(key, where, prefix=""):
        steps = LOOP_HINTS[key]
        return CheckResult(name, "fail", f"{prefix}{steps[0]} Seen on {where}.", fn, ref, hints=steps[1:])

    for where, f, theta0, lr, max_steps, tol in _loop_cases():
        given = np.array(theta0, dtype=float)
        arg = list(theta0) if isinstance(theta0, list) else given.copy()
        calls = []

        def counted(theta, f=f):
            calls.append(1)
            return f(theta)
        value, err = _call(fn, (counted, arg, lr, max_steps, tol))
        if err:
            return CheckResult(name, err[0], err[1] if err[0] == "todo" else f"{err[1]} on {where}.", fn, ref)
        if not np.array_equal(np.array(arg, dtype=float), given):
            return fail("caller", where)
        if not isinstance(value, dict) or any(k not in value for k in LOOP_KEYS):
            have = f"a dict with the keys {sorted(map(str, value))}" if isinstance(value, dict) else returned(value)
            return CheckResult(name, "fail", f"returned {have} on {where}; {LOOP_FORMAT}.", fn, ref)
        want = G.descend(f, theta0, lr, max_steps, tol)
        stop, steps = value["stop"], value["steps"]
        if not isinstance(stop, str) or stop not in G.STOP_REASONS:
            return CheckResult(name, "fail", f'"stop" is {stop!r} on {where}; {LOOP_FORMAT}.', fn, ref)
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
            return CheckResult(name, "fail", f'"steps" is {returned(steps)} on {where}; it must be an int, the '
                               f'number of updates made.', fn, ref)
        try:
            path = np.array([np.asarray(p, dtype=float).reshape(-1) for p in value["path"]])
            losses = np.array([float(v) for v in value["losses"]])
        except (TypeError, ValueError) as exc:
            return CheckResult(name, "fail", f'"path" must be a list of (p,) arrays and "losses" a list of '
                               f'numbers; on {where} they could not be read ({exc}).', fn, ref)
        if len(path) != len(losses) or len(path) != steps + 1:
            if (steps > 0 and len(path) == len(losses) == steps and path.ndim == 2 and path.shape[1] == given.size
                    and np.allclose(path[0], given, rtol=1e-12, atol=0)):
                return fail("steps count", where)
            key = "no start" if steps > 0 and len(path) == steps else None
            return fail(key, where) if key else CheckResult(
                name, "fail", f'on {where}: "steps" is {steps} but "path" has {len(path)} entries and "losses" '
                f'{len(losses)}; k updates give k+1 points and k+1 losses.', fn, ref)
        if path.ndim != 2 or path.shape[1] != given.size:
            return CheckResult(name, "fail", f'each point of "path" must be a ({given.size},) array like theta0; '
                               f"got points of shape {path.shape[1:]} on {where}.", fn, ref)
        ref_path = np.array(want["path"])
        if steps > 1 and np.all(path[1:] == path[-1]) and not np.all(ref_path[1: steps + 1] == ref_path[1]):
            return fail("same array", where)
        if not np.allclose(path[0], given, rtol=1e-12, atol=0):
            return fail("first point", where)
        if steps >= 1 and len(ref_path) > 1 and not np.allclose(path[1], ref_path[1], rtol=1e-10, atol=1e-12):
            ascent = given + lr * f(given)[1]
            return fail("ascent" if np.allclose(path[1], ascent, rtol=1e-10) else "update", where)
        if stop == want["stop"] and steps == want["steps"]:
            if (np.allclose(path, ref_path, rtol=1e-10, atol=1e-12, equal_nan=True)
                    and np.allclose(losses, want["losses"], rtol=1e-10, atol=1e-12, equal_nan=True)):
                continue
            return CheckResult(name, "fail", f'your "path" or "losses" differ from the expected ones on {where}, '
                               f'although "stop" and "steps" are right.', fn, ref,
                               hints=('Each loss must be the one loss_and_grad returned at the point with the '
                                      'same index: L_k = L(θ_k).',))
        diverged = want["stop"] in G.DIVERGENCE_CAUSES
        if diverged and stop not in G.DIVERGENCE_CAUSES and steps == want["steps"]:
            return fail("order divergence", where)
        if diverged and stop not in G.DIVERGENCE_CAUSES:
            return fail("no divergence", where)
        if diverged and steps == want["steps"]:
            return fail("cause", where)
        if stop == want["stop"] and steps == want["steps"] - 1 and len(calls) > len(path) and \
                np.allclose(path, ref_path[: steps + 1], rtol=1e-10, atol=1e-12):
            return fail("last point", where)
        if diverged or stop in G.DIVERGENCE_CAUSES:
            return fail("divergence start", where)
        if want["stop"] == "converged" and stop == "max_steps" and steps == want["steps"]:
            return fail("order", where)
        if steps < want["steps"] and stop == "converged":
            return fail("early", where)
        if steps > want["steps"] and want["stop"] == "converged":
            return fail("late", where)
        if want["stop"] == "max_steps" and stop == "max_steps":
            return fail("max_steps", where)
        return CheckResult(name, "fail", f'on {where} your loop stopped with "{stop}" after {steps} steps; the '
                           f'expected result is "{want["stop"]}" after {want["steps"]}.', fn, ref,
                           hints=("Check the three stopping tests at every point, in order: divergence, "
                                  "gradient norm < tol, steps == max_steps.",))
    return CheckResult(name, "pass", "correct: the update, the stopping rule (‖∇L‖₂ < tol, max_steps) and the "
                       "course's divergence rule, on runs that end in each of the four ways.", fn, ref)
