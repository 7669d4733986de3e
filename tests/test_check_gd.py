"""check.gradient_descent (notebook 02's main exercise: the GD loop with a stopping rule and
the course's divergence rule): correct answers written differently pass, a bank of plausible
wrong answers fails, each with the hint asserted."""

import numpy as np
import pytest

from nblib import check, gd


def stub(*args):
    raise NotImplementedError()


def loop_while(loss_and_grad, theta0, lr, max_steps, tol):
    theta = np.array(theta0, dtype=float)
    loss, grad = loss_and_grad(theta)
    path, losses = [theta], [loss]
    while True:
        cause = gd.divergence(loss, losses[0])
        if cause is not None:
            return {"path": path, "losses": losses, "steps": len(path) - 1, "stop": cause}
        if np.linalg.norm(grad) < tol:
            return {"path": path, "losses": losses, "steps": len(path) - 1, "stop": "converged"}
        if len(path) - 1 == max_steps:
            return {"path": path, "losses": losses, "steps": len(path) - 1, "stop": "max_steps"}
        theta = theta - lr * grad
        loss, grad = loss_and_grad(theta)
        path.append(theta)
        losses.append(loss)


def loop_for(loss_and_grad, theta0, lr, max_steps, tol):      # a for loop, copies, its own threshold test
    theta = np.asarray(theta0, dtype=np.float64).copy()
    path, losses = [], []
    stop = "max_steps"
    for k in range(max_steps + 1):
        loss, grad = loss_and_grad(theta)
        path.append(theta.copy())
        losses.append(float(loss))
        if not np.isfinite(loss):
            stop = "non-finite"
            break
        if abs(loss) > gd.BLOWUP * max(abs(losses[0]), 1.0):
            stop = "blew up"
            break
        if np.sqrt(np.sum(grad ** 2)) < tol:
            stop = "converged"
            break
        if k < max_steps:
            theta -= lr * np.asarray(grad)
    return {"path": path, "losses": losses, "steps": len(path) - 1, "stop": stop}


@pytest.mark.parametrize("fn", [gd.descend, loop_while, loop_for])
def test_accepts_correct(fn):
    r = check.gradient_descent(fn)
    assert r.passed, r.message
    assert r.or_reference() is fn


def variant(*, ascent=False, no_div=False, prev=False, norm=np.linalg.norm, no_start=False, same=False,
            extra=False, check_after_only=False, in_place=False, rule_order=("div", "tol", "max"), threshold=None):
    """A learner's loop with one slip switched on."""
    def fn(loss_and_grad, theta0, lr, max_steps, tol):
        theta = np.asarray(theta0, dtype=float) if in_place else np.array(theta0, dtype=float)
        loss, grad = loss_and_grad(theta)
        path = [] if no_start else [theta if same else np.array(theta, dtype=float)]
        losses = [] if no_start else [loss]
        start, previous, k = loss, loss, 0
        while True:
            for rule in rule_order:
                if rule == "div" and not no_div:
                    cause = gd.divergence(loss, previous if prev else start) if threshold is None else (
                        "non-finite" if not np.isfinite(loss) else "blew up" if threshold(loss, start) else None)
                    if cause:
                        return {"path": path, "losses": losses, "steps": k, "stop": cause}
                if rule == "tol" and not (check_after_only and k == 0) and norm(grad) < tol:
                    return {"path": path, "losses": losses, "steps": k, "stop": "converged"}
                if rule == "max" and k == max_steps + (1 if extra else 0):
                    return {"path": path, "losses": losses, "steps": k, "stop": "max_steps"}
            previous = loss
            if in_place or same:
                theta -= (-lr if ascent else lr) * grad
            else:
                theta = theta + (lr if ascent else -lr) * grad
            loss, grad = loss_and_grad(theta)
            path.append(theta.copy() if in_place else theta)
            losses.append(loss)
            k += 1
    return fn


def loop_drops_the_diverged_point(loss_and_grad, theta0, lr, max_steps, tol):
    theta = np.array(theta0, dtype=float)
    loss, grad = loss_and_grad(theta)
    path, losses = [theta], [loss]
    for _ in range(max_steps):
        if np.linalg.norm(grad) < tol:
            return {"path": path, "losses": losses, "steps": len(path) - 1, "stop": "converged"}
        theta = theta - lr * grad
        loss, grad = loss_and_grad(theta)
        cause = gd.divergence(loss, losses[0])
        if cause:                                   # stops, but keeps only the finite points
            return {"path": path, "losses": losses, "steps": len(path) - 1, "stop": cause}
        path.append(theta)
        losses.append(loss)
    if np.linalg.norm(grad) < tol:
        return {"path": path, "losses": losses, "steps": len(path) - 1, "stop": "converged"}
    return {"path": path, "losses": losses, "steps": len(path) - 1, "stop": "max_steps"}


@pytest.mark.parametrize("wrong, hint", [
    (loop_drops_the_diverged_point, "one point short"),
    (variant(ascent=True), "went uphill"),
    (variant(no_div=True), "did not stop when the run diverged"),
    (variant(prev=True), "compares each loss with the starting loss"),
    (variant(norm=lambda g: np.max(np.abs(g))), "stopped before ‖∇L‖₂ fell below tol"),
    (variant(norm=lambda g: g @ g), "stopped before ‖∇L‖₂ fell below tol"),
    (variant(no_start=True), "must start with θ_0 and L(θ_0)"),
    (variant(same=True), "every point in your path is the same array"),
    (variant(extra=True), "different number of updates than max_steps"),
    (variant(check_after_only=True), "more steps than the stopping rule allows"),
    (variant(in_place=True), "changed the caller's theta0"),
    (variant(rule_order=("div", "max", "tol")), "tested in order"),
    (variant(threshold=lambda loss, start: abs(loss) > gd.BLOWUP * abs(start)), "another step"),
    (lambda f, t, lr, m, tol: (t, [], 0, "converged"), "return a dict"),
    (lambda f, t, lr, m, tol: {"path": [t], "losses": [0.0], "steps": 0, "stop": "done"}, "one of 'converged'"),
    (lambda f, t, lr, m, tol: None, "no `return` statement"),
])
def test_names_the_mistake(wrong, hint):
    r = check.gradient_descent(wrong)
    assert r.status == "fail" and hint in r.message, r.message
    assert r.or_reference() is check.gradient_descent(gd.descend).reference


def test_the_second_hint_for_an_early_stop_names_the_norm():
    wrong = variant(norm=lambda g: np.max(np.abs(g)))
    check.gradient_descent(wrong)
    assert "not the largest entry" in check.gradient_descent(wrong).message


def test_hints_come_in_steps():
    wrong = variant(no_div=True)
    first = check.gradient_descent(wrong).message
    assert "gd.divergence" not in first
    second = check.gradient_descent(wrong).message
    assert "(hint 2 of 2)" in second and "gd.divergence(loss, losses[0])" in second


def test_stub_and_not_a_function():
    assert check.gradient_descent(stub).status == "todo"
    assert "expected a function" in check.gradient_descent({"path": []}).message


def test_an_endless_loop_is_stopped(monkeypatch):
    from nblib.check import _core
    monkeypatch.setattr(_core, "TIME_LIMIT", 0.5)

    def forever(loss_and_grad, theta0, lr, max_steps, tol):
        while True:
            pass
    assert "still running after 0.5 s" in check.gradient_descent(forever).message


# ---- the short exercises of 02: more wrong answers and correct ones written differently
def grad_loop(x, y, w, b):
    dw = db = 0.0
    for xi, yi in zip(x, y):
        dw += 2 * (w * xi + b - yi) * xi
        db += 2 * (w * xi + b - yi)
    return dw / len(x), db / len(x)


def grad_matrix(x, y, w, b):
    X = np.column_stack([x, np.ones_like(x)])
    return tuple(2 / len(x) * X.T @ (X @ np.array([w, b]) - y))


@pytest.mark.parametrize("fn", [grad_loop, grad_matrix])
def test_linreg_grad_accepts_correct(fn):
    assert check.linreg_grad(fn).passed


def test_linreg_grad_per_sample_hint_in_steps():
    per_sample = lambda x, y, w, b: (2 * (w * x + b - y) * x, 2 * (w * x + b - y))
    first = check.linreg_grad(per_sample).message
    assert "per-sample gradients" in first and "np.mean" not in first
    assert "np.mean(2 * r * x)" in check.linreg_grad(per_sample).message


def ls_polyfit(x, y):
    w, b = np.polyfit(x, y, 1)
    return w, b


def ls_moments(x, y):
    w = np.mean((x - x.mean()) * (y - y.mean())) / np.var(x)
    return w, y.mean() - w * x.mean()


@pytest.mark.parametrize("fn", [ls_polyfit, ls_moments])
def test_least_squares_accepts_correct(fn):
    assert check.least_squares(fn).passed


@pytest.mark.parametrize("wrong, hint", [
    (lambda x, y: (x @ y / (x @ x), 0.0), "through the origin"),
    (lambda x, y: tuple(np.polyfit(x, y, 1)[::-1]), "order (b, w)"),
    (lambda x, y: tuple(np.polyfit(y, x, 1)), "x as a function of y"),
    (lambda x, y: (np.cov(x, y)[0, 1] / np.var(x), y.mean() - np.cov(x, y)[0, 1] / np.var(x) * x.mean()), "n/(n-1)"),
    (lambda x, y: (ls_moments(x, y)[0], y.mean() + ls_moments(x, y)[0] * x.mean()), "intercept is not"),
    (lambda x, y: np.linalg.lstsq(np.column_stack([x, np.ones_like(x)]), y, rcond=None), "could not"),
])
def test_least_squares_names_the_mistake(wrong, hint):
    r = check.least_squares(wrong)
    assert r.status == "fail", r.message
    assert hint in r.message or (hint == "could not" and "returned" in r.message), r.message


def lr_by_hand(x):
    a, c = 2 * np.mean(x * x), 2 * np.mean(x)       # H = [[a, c], [c, 2]]
    lam = (a + 2) / 2 + np.sqrt(((a - 2) / 2) ** 2 + c * c)
    return 2 / lam


@pytest.mark.parametrize("fn", [lr_by_hand, lambda x: 2 / np.max(np.linalg.eigvals(gd.linreg_hessian(x)).real)])
def test_critical_lr_accepts_correct(fn):
    assert check.critical_lr(fn).passed


def test_critical_lr_hints_in_steps():
    wrong = lambda x: 1 / np.linalg.eigvalsh(gd.linreg_hessian(x))[-1]
    assert "1/λ_max" in check.critical_lr(wrong).message
    assert "|1 - lr·λ_max| reaches 1" in check.critical_lr(wrong).message
