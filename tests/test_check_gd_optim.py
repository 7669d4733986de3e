"""Checkers of notebooks 02-03: each accepts the reference and an alternative correct
answer, rejects typical mistakes with the right hint, and calls a stub "not implemented yet"."""

import math

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


# ----------------------------------------------------------------- notebook 03
def mb_ref(n, bs, rng):
    order = rng.permutation(n)
    return [order[i:i + bs] for i in range(0, n, bs)]


def mb_split(n, bs, rng):  # alternative: shuffle in place, np.array_split by count
    idx = np.arange(n)
    rng.shuffle(idx)
    return np.array_split(idx, range(bs, n, bs))


@pytest.mark.parametrize("fn, expected", [
    (mb_ref, None), (mb_split, None),
    (lambda n, bs, rng: [np.arange(n)[i:i + bs] for i in range(0, n, bs)], "not shuffled"),
    (lambda n, bs, rng: [rng.integers(0, n, bs) for _ in range(0, n, bs)], "exactly once"),
    (lambda n, bs, rng: [rng.permutation(n)[i:i + bs] for i in range(0, n - bs + 1, bs)], "last, smaller batch"),
])
def test_minibatches(fn, expected):
    res = check.minibatches(fn)
    assert res.passed if expected is None else (res.status == "fail" and expected in res.message), res


def mom_ref(p, g, v, lr, beta):
    v = beta * v + g
    return p - lr * v, v


def mom_list(p, g, v, lr, beta):  # alternative: returns a list, computes in another order
    v_new = g + v * beta
    return [p - v_new * lr, v_new]


@pytest.mark.parametrize("fn, expected", [
    (mom_ref, None), (mom_list, None),
    (lambda p, g, v, lr, b: (p - lr * (b * v + (1 - b) * g), b * v + (1 - b) * g), "dampened form"),
    (lambda p, g, v, lr, b: (p - lr * v, b * v + g), "*old* velocity"),
    (lambda p, g, v, lr, b: (p + lr * (b * v + g), b * v + g), "sign error"),
])
def test_momentum_step(fn, expected):
    res = check.momentum_step(fn)
    assert res.passed if expected is None else (res.status == "fail" and expected in res.message), res


def adam_variant(correct_m=True, correct_v=True, shift=0, eps_inside=False):
    def f(p, g, m, v, t, lr, b1, b2, eps):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        m_hat = m / (1 - b1 ** (t + shift)) if correct_m else m
        v_hat = v / (1 - b2 ** (t + shift)) if correct_v else v
        denom = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        return p - lr * m_hat / denom, m, v
    return f


def adam_torch_style(p, g, m, v, t, lr, b1, b2, eps):  # alternative: PyTorch's step_size form
    m = m + (1 - b1) * (g - m)
    v = b2 * v + (1 - b2) * g * g
    step_size = lr / (1 - b1 ** t)
    denom = np.sqrt(v) / math.sqrt(1 - b2 ** t) + eps
    return p - step_size * m / denom, m, v


@pytest.mark.parametrize("fn, expected", [
    (adam_variant(), None), (adam_torch_style, None),
    (adam_variant(False, False), "no bias correction"),
    (adam_variant(True, False), "corrected m but not v"),
    (adam_variant(False, True), "corrected v but not m"),
    (adam_variant(shift=1), "t + 1"),
    (adam_variant(eps_inside=True), "inside the square root"),
])
def test_adam_step(fn, expected):
    res = check.adam_step(fn)
    assert res.passed if expected is None else (res.status == "fail" and expected in res.message), res


def test_adam_t_minus_one_is_explained():
    # t - 1 divides by zero on the first step: the learner sees inf/NaN or the t-1 hint
    res = check.adam_step(adam_variant(shift=-1))
    assert res.status == "fail" and ("t - 1" in res.message or "inf or NaN" in res.message), res


@pytest.mark.parametrize("fn, expected", [
    (lambda t, a, T, m: m + 0.5 * (a - m) * (1 + math.cos(math.pi * t / T)), None),
    (lambda t, a, T, m: a - (a - m) * math.sin(math.pi * t / (2 * T)) ** 2, None),
    (lambda t, a, T, m: m + (a - m) * (1 + math.cos(2 * math.pi * t / T)) / 2, "full cosine period"),
    (lambda t, a, T, m: a * (1 + math.cos(math.pi * t / T)) / 2, "lr_min is missing"),
    (lambda t, a, T, m: m + (a - m) * (1 - math.cos(math.pi * t / T)) / 2, "rises"),
])
def test_cosine_lr(fn, expected):
    res = check.cosine_lr(fn)
    assert res.passed if expected is None else (res.status == "fail" and expected in res.message), res


@pytest.mark.parametrize("checker", [check.linreg_grad, check.gd_fit, check.critical_lr, check.least_squares,
                                     check.minibatches, check.momentum_step, check.adam_step, check.cosine_lr])
def test_stub_is_not_implemented_yet_and_reference_works(checker, capsys):
    res = checker(stub)
    assert res.status == "todo" and "not implemented yet" in res.message
    ref = res.or_reference()
    assert callable(ref) and ref is not stub
    assert "Using the reference" in capsys.readouterr().out
    again = checker(ref)  # re-checking what or_reference() handed out: said to be the reference, not a ✓
    assert again.status == "reference" and "not your own function" in again.message
    assert not again.passed


@pytest.mark.parametrize("checker", [check.linreg_grad, check.momentum_step, check.adam_step, check.minibatches])
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
