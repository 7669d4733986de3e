"""Checkers of notebooks 02-03: each accepts the reference and an alternative correct
answer, rejects typical mistakes with the right hint, and calls a stub "not implemented yet"."""

import numpy as np
import pytest

from nblib import check


def stub(*args):
    raise NotImplementedError()


# ----------------------------------------------------------------- notebook 02
def grad_mean(x, y, w, b):
    r = w * x + b - y
    return 2 * np.mean(r * x), 2 * np.mean(r)


def grad_matrix(x, y, w, b):  # alternative: with X = [x, 1]
    X = np.column_stack([x, np.ones_like(x)])
    return 2 / len(x) * X.T @ (X @ np.array([w, b]) - y)


@pytest.mark.parametrize("fn, expected", [
    (grad_mean, None), (grad_matrix, None),
    (lambda x, y, w, b: (2 * (w * x + b - y) * x, 2 * (w * x + b - y)), "per-sample gradients"),
    (lambda x, y, w, b: tuple(len(x) * g for g in grad_mean(x, y, w, b)), "you summed over the samples"),
    (lambda x, y, w, b: tuple(g / 2 for g in grad_mean(x, y, w, b)), "factor 2"),
    (lambda x, y, w, b: tuple(-g for g in grad_mean(x, y, w, b)), "sign error"),
    (lambda x, y, w, b: (2 * np.mean(w * x + b - y),) * 2, "needs the factor x_i"),
    (lambda x, y, w, b: grad_mean(x, y, w, b)[::-1], "swapped"),
])
def test_linreg_grad(fn, expected):
    res = check.linreg_grad(fn)
    if expected is None:
        assert res.passed, res
    else:
        assert res.status == "fail" and expected in res.message, res


def gd_fit_ref(x, y, w, b, lr, steps):
    for _ in range(steps):
        dw, db = grad_mean(x, y, w, b)
        w, b = w - lr * dw, b - lr * db
    return w, b


def gd_fit_vec(x, y, w, b, lr, steps):  # alternative: a parameter vector
    theta = np.array([w, b], dtype=float)
    for _ in range(steps):
        theta = theta - lr * grad_matrix(x, y, *theta)
    return theta


def gd_fit_sequential(x, y, w, b, lr, steps):
    for _ in range(steps):
        w = w - lr * grad_mean(x, y, w, b)[0]
        b = b - lr * grad_mean(x, y, w, b)[1]
    return w, b


def gd_fit_extra(x, y, w, b, lr, steps):
    return gd_fit_ref(x, y, w, b, lr, steps + 1)


def gd_fit_ascent(x, y, w, b, lr, steps):
    for _ in range(steps):
        dw, db = grad_mean(x, y, w, b)
        w, b = w + lr * dw, b + lr * db
    return w, b


@pytest.mark.parametrize("fn, expected", [
    (gd_fit_ref, None), (gd_fit_vec, None),
    (gd_fit_sequential, "*new* w"), (gd_fit_extra, "one step too many"), (gd_fit_ascent, "*added*"),
])
def test_gd_fit(fn, expected):
    res = check.gd_fit(fn)
    assert res.passed if expected is None else (res.status == "fail" and expected in res.message), res


def _H(x):
    X = np.column_stack([x, np.ones_like(x)])
    return 2 / len(x) * X.T @ X


def crit_closed_form(x):  # alternative: the 2x2 eigenvalue formula
    a, b = 2 * np.mean(x * x), 2 * np.mean(x)
    lam = (a + 2) / 2 + np.sqrt((a - 2) ** 2 / 4 + b * b)
    return 2 / lam


@pytest.mark.parametrize("fn, expected", [
    (lambda x: 2 / np.linalg.eigvalsh(_H(x))[-1], None), (crit_closed_form, None),
    (lambda x: 1 / np.linalg.eigvalsh(_H(x))[-1], "1/λ_max"),
    (lambda x: 2 / np.linalg.eigvalsh(_H(x))[0], "smallest eigenvalue"),
    (lambda x: 2 / np.linalg.eigvalsh(_H(x) / 2)[-1], "missing its factor 2"),
    (lambda x: 2 / np.linalg.eigvalsh(_H(x) * len(x))[-1], "*sum*"),
    (lambda x: 2 / (2 * np.mean(x * x)), "only ∂²L/∂w²"),
])
def test_critical_lr(fn, expected):
    res = check.critical_lr(fn)
    assert res.passed if expected is None else (res.status == "fail" and expected in res.message), res


@pytest.mark.parametrize("fn, expected", [
    (lambda x, y: tuple(np.linalg.lstsq(np.column_stack([x, np.ones_like(x)]), y, rcond=None)[0]), None),
    (lambda x, y: tuple(np.polyfit(x, y, 1)), None),
    (lambda x, y: (x @ y / (x @ x), 0.0), "through the origin"),
    (lambda x, y: tuple(np.polyfit(x, y, 1)[::-1]), "order (b, w)"),
])
def test_least_squares(fn, expected):
    res = check.least_squares(fn)
    assert res.passed if expected is None else (res.status == "fail" and expected in res.message), res


# notebook 03's checkers (mini-batches, momentum, RMSProp, Adam, cosine) are tested in test_check_optim.py


@pytest.mark.parametrize("checker", [check.linreg_grad, check.gd_fit, check.critical_lr, check.least_squares,
                                     check.minibatches, check.momentum_step, check.rmsprop_step, check.adam_step,
                                     check.cosine_lr])
def test_stub_is_not_implemented_yet_and_reference_works(checker, capsys):
    res = checker(stub)
    assert res.status == "todo" and "not implemented yet" in res.message
    ref = res.or_reference()
    assert callable(ref) and ref is not stub
    assert "Using the reference" in capsys.readouterr().out
    again = checker(ref)  # re-checking what or_reference() handed out: said to be the reference, not a ✓
    assert again.status == "reference" and "not your own function" in again.message
    assert not again.passed


@pytest.mark.parametrize("checker", [check.linreg_grad, check.momentum_step, check.rmsprop_step, check.adam_step,
                                     check.minibatches, check.cosine_lr])
def test_not_a_function(checker):
    res = checker(np.zeros(3))
    assert res.status == "fail" and "function itself" in res.message


def test_references_take_keywords_like_the_exercises():
    p, g, v = np.ones(2), np.ones(2), np.zeros(2)
    ref = check.momentum_step(stub).reference
    p_new, v_new = ref(p, g, v, 0.1, beta=0.9)
    np.testing.assert_allclose(p_new, [0.9, 0.9])
    np.testing.assert_allclose(v_new, [1.0, 1.0])
    ref = check.adam_step(stub).reference
    p_new, m_new, v_new = ref(p, g, v, v, t=1, lr=0.1, beta1=0.9, beta2=0.999, eps=0.0)
    np.testing.assert_allclose(p_new, [0.9, 0.9], atol=1e-15)
    assert check.linreg_grad(stub).reference.__name__ == "reference_linreg_grad"
