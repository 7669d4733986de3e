"""The notebook-01 checkers: accept right answers, name typical mistakes, greet stubs kindly.

Each checker has a bank of plausible wrong answers (each must fail with the hint asserted)
and correct answers written differently (loops, another library call) that must pass."""

import numpy as np
import pytest

from nblib import check, gradcheck, losses as L


def stub(*args):
    raise NotImplementedError()


# ---- mse_grad
def alt_mse_grad(p, t):  # a different but correct implementation
    return np.multiply(2.0 / np.size(p), np.subtract(p, t))


@pytest.mark.parametrize("fn", [L.mse_grad, alt_mse_grad])
def test_mse_grad_accepts_correct(fn):
    r = check.mse_grad(fn)
    assert r.passed and repr(r).startswith("✓")
    assert r.or_reference() is fn


@pytest.mark.parametrize("wrong, hint", [
    (lambda p, t: 2 * (p - t), "forgot the 1/N"),
    (lambda p, t: (p - t) / p.size, "factor 2"),
    (lambda p, t: 2 * (t - p) / p.size, "sign error"),
    (lambda p, t: 2 * (p - t) / p.shape[0], "number of rows"),
    (lambda p, t: p * 0 + 1, "differs from the expected one"),
    (lambda p, t: (2 * (p - t) / p.size).reshape(-1, 1), "returned shape"),
    (lambda p, t: [1, 2], "returned shape"),
])
def test_mse_grad_names_the_mistake(wrong, hint):
    r = check.mse_grad(wrong)
    assert r.status == "fail" and hint in r.message, r.message
    assert r.or_reference() is L.mse_grad


def test_stub_gets_not_implemented_yet_and_fallback(capsys):
    r = check.mse_grad(stub)
    assert r.status == "todo" and "not implemented yet" in repr(r)
    assert r.or_reference() is L.mse_grad
    assert "Using the reference `nblib.losses.mse_grad`" in capsys.readouterr().out


def test_not_a_function_and_crashing_function():
    r = check.mse_grad(np.zeros(3))
    assert r.status == "fail" and "expected a function" in r.message
    r = check.mse_grad(lambda p: p)
    assert "raised TypeError" in r.message


def test_a_missing_return_is_named():
    def forgot_return(y_hat, y):
        g = 2 * (y_hat - y) / y.size          # computed, never returned
    r = check.mse_grad(forgot_return)
    assert r.status == "fail" and "returned None: the function has no `return` statement" in r.message


def test_a_crash_shows_the_learners_line_not_numpys():
    def wrong_axis(y_hat, y):
        return np.mean(y_hat - y, axis=3)
    r = check.mse_grad(wrong_axis)
    assert "raised AxisError" in r.message
    assert "(line: `return np.mean(y_hat - y, axis=3)`)" in r.message     # not a line inside numpy


def test_in_place_modification_is_reported():
    def sneaky(p, t):
        p -= t
        return 2 * p / p.size
    assert "changed its input array in place" in check.mse_grad(sneaky).message


# ---- cross_entropy
def alt_ce(z, y):
    m = z.max(axis=1)
    lse = m + np.log(np.exp(z - m[:, None]).sum(axis=1))
    return float(np.mean(lse - z[np.arange(len(y)), y]))


def naive_ce(z, y):
    e = np.exp(z)
    return -np.log(e[np.arange(len(y)), y] / e.sum(axis=1)).mean()


@pytest.mark.parametrize("fn", [L.cross_entropy, alt_ce])
def test_cross_entropy_accepts_correct(fn):
    assert check.cross_entropy(fn).passed


def wrong_axis_ce(z, y):
    s = z - z.max(axis=0, keepdims=True)
    logp = s - np.log(np.exp(s).sum(axis=0, keepdims=True))
    return -logp[np.arange(len(y)), y].mean()


@pytest.mark.parametrize("wrong, hint", [
    (naive_ce, "overflows"),
    (lambda z, y: L.cross_entropy(z, y, reduction="sum"), "sum"),
    (wrong_axis_ce, "wrong axis"),
    (lambda z, y: -L.cross_entropy(z, y), "sign error"),
    (lambda z, y: -L.log_softmax(z)[np.arange(len(y)), y], "single number"),
])
def test_cross_entropy_names_the_mistake(wrong, hint):
    r = check.cross_entropy(wrong)
    assert r.status == "fail" and hint in r.message, r.message


def test_cross_entropy_stub():
    assert check.cross_entropy(stub).status == "todo"


# ---- cross_entropy_grad
def alt_ce_grad(z, y):
    p = L.softmax(z)
    p[np.arange(len(y)), y] -= 1
    return p / len(y)


@pytest.mark.parametrize("fn", [L.cross_entropy_grad, alt_ce_grad])
def test_ce_grad_accepts_correct(fn):
    assert check.cross_entropy_grad(fn).passed


@pytest.mark.parametrize("wrong, hint", [
    (lambda z, y: L.softmax(z) - L.one_hot(y, z.shape[1]), "forgot the 1/n"),
    (lambda z, y: (L.one_hot(y, z.shape[1]) - L.softmax(z)) / len(y), "sign error"),
    (lambda z, y: L.softmax(z) / len(y), "you returned softmax / n"),
    (lambda z, y: (np.exp(z) / np.exp(z).sum(1, keepdims=True) - L.one_hot(y, z.shape[1])) / len(y), "overflows"),
])
def test_ce_grad_names_the_mistake(wrong, hint):
    r = check.cross_entropy_grad(wrong)
    assert r.status == "fail" and hint in r.message, r.message


# ---- gradient_signs
def test_gradient_signs():
    assert check.gradient_signs(lambda: {"a": "-", "b": "+", "c": "-", "d": "+"}).passed
    r = check.gradient_signs(lambda: {"a": "+", "b": "+", "c": "-", "d": "-"})
    assert r.status == "fail" and "2 of 4 wrong" in r.message and "(a)" in r.message and "(d)" in r.message
    assert "no answer for c, d" in check.gradient_signs(lambda: {"a": "-", "b": "+"}).message
    assert "must be the string '+' or '-'" in check.gradient_signs(lambda: {"a": "up", "b": "+", "c": "-", "d": "+"}).message
    assert check.gradient_signs(stub).status == "todo"
    assert "dict" in check.gradient_signs(lambda: ["-"]).message


def test_gradient_signs_states_and_accepts_its_format():
    right = {"a": "-", "b": "+", "c": "-", "d": "+"}
    assert check.gradient_signs(lambda: ("-", "+", "-", "+")).passed          # in the order a, b, c, d
    assert check.gradient_signs(lambda: ["-", "+", "-", "+"]).passed
    assert check.gradient_signs(lambda: {" A ": " - ", "b": "+", "c": "-", "d": "+"}).passed
    for bad in (lambda: "-+-+", lambda: None, lambda: ("-", "+")):
        msg = check.gradient_signs(bad).message
        assert "return a dict with the keys 'a', 'b', 'c', 'd'" in msg and "list or tuple" in msg, msg
    assert check.gradient_signs(lambda: right).passed


def test_gradient_signs_hints_come_in_steps_without_the_answer_first():
    wrong = lambda: {"a": "+", "b": "+", "c": "-", "d": "+"}
    r = check.gradient_signs(wrong)
    assert r.status == "fail" and "1 of 4 wrong" in r.message and "too high or too low" in r.message
    assert "it is '-'" not in r.message                     # the first step does not give the answer away
    r2 = check.gradient_signs(wrong)
    assert "(hint 2 of 2)" in r2.message and "it is '-'" in r2.message and "too low" in r2.message


# ---- numerical_gradient: the learner's central difference
def ng_ndindex(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        fp = f(x)
        x[idx] = old - eps
        fm = f(x)
        x[idx] = old
        g[idx] = (fp - fm) / (2 * eps)
    return g


def ng_flat_view(f, x, eps=1e-6):          # correct: a C-ordered copy and a flat view into it
    x = np.array(x, dtype=float, order="C")
    g, flat = np.empty(x.size), x.reshape(-1)
    for i in range(x.size):
        o = flat[i]
        flat[i] = o + eps
        a = f(x)
        flat[i] = o - eps
        b = f(x)
        flat[i] = o
        g[i] = (a - b) / eps / 2
    return g.reshape(x.shape)


def ng_fresh_copies(f, x, eps=1e-6):       # correct: a fresh copy per evaluation, nditer
    x = np.asarray(x, dtype=float)
    g = np.empty(x.shape)
    for idx in np.ndindex(*x.shape):
        e = np.zeros(x.shape)
        e[idx] = eps
        g[idx] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


@pytest.mark.parametrize("fn", [gradcheck.numerical_gradient, ng_ndindex, ng_flat_view, ng_fresh_copies])
def test_numerical_gradient_accepts_correct(fn):
    r = check.numerical_gradient(fn)
    assert r.passed, r.message
    assert r.or_reference() is fn


def ng_ravel_copy(f, x, eps=1e-6):         # x.ravel() of a Fortran-ordered array is a copy
    x = x.astype(float)
    g = np.zeros(x.shape)
    fl, gf = x.ravel(), g.ravel()
    for i in range(x.size):
        o = fl[i]
        fl[i] = o + eps
        a = f(x)
        fl[i] = o - eps
        b = f(x)
        fl[i] = o
        gf[i] = (a - b) / (2 * eps)
    return g


def ng_no_float(f, x, eps=1e-6):
    g = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        a = f(x)
        x[idx] = old - eps
        b = f(x)
        x[idx] = old
        g[idx] = (a - b) / (2 * eps)
    return g


def ng_no_restore(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        x[idx] += eps
        a = f(x)
        x[idx] -= 2 * eps
        b = f(x)
        g[idx] = (a - b) / (2 * eps)
    return g


def ng_forward(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    g, f0 = np.zeros_like(x), f(x)
    for idx in np.ndindex(x.shape):
        xp = x.copy()
        xp[idx] += eps
        g[idx] = (f(xp) - f0) / eps
    return g


def ng_rows(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    g = np.zeros_like(x)
    for i in range(x.shape[0]):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


def ng_flat_call(f, x, eps=1e-6):
    x = np.array(x, dtype=float).ravel()
    g = np.zeros_like(x)
    for i in range(x.size):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


def ng_in_place_on_caller(f, x, eps=1e-6):
    g = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        x[idx] = x[idx] + eps          # never put back
        g[idx] = (f(x) - f(x - 0)) / eps
    return g


def ng_float32(f, x, eps=1e-6):
    x = np.array(x, dtype=np.float32)
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        a = f(x)
        x[idx] = old - eps
        b = f(x)
        x[idx] = old
        g[idx] = (a - b) / (2 * eps)
    return g


def ng_int_result(f, x, eps=1e-6):
    g = np.zeros(x.shape, dtype=int)
    x = np.array(x, dtype=float)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        g[idx] = (f(xp) - f(xm)) / (2 * eps)
    return g


@pytest.mark.parametrize("wrong, hint", [
    (ng_forward, "one-sided difference"),
    (lambda f, x, eps=1e-6: 2 * ng_ndindex(f, x, eps), "exactly twice the slope"),
    (lambda f, x, eps=1e-6: -ng_ndindex(f, x, eps), "wrong sign"),
    (ng_no_restore, "must be put back"),
    (ng_rows, "several entries of x moved by the same step at once"),
    (lambda f, x, eps=1e-6: ng_ndindex(f, x), "does not use its eps argument"),
    (ng_no_float, "integer array"),
    (ng_ravel_copy, "return a *copy* for such an array"),
    (lambda f, x, eps=1e-6: ng_ndindex(f, x, eps).ravel(), "with the shape of x"),
    (lambda f, x, eps=1e-6: ng_ndindex(f, x, eps).tolist(), "return a NumPy array of float64"),
    (ng_flat_call, "f was called with an array of shape (12,)"),
    (ng_in_place_on_caller, "changed the caller's array"),
    (lambda f, x, eps=1e-6: None, "no `return` statement"),
    (ng_float32, "lower precision than float64"),
    (ng_int_result, "holds integers"),
])
def test_numerical_gradient_names_the_mistake(wrong, hint):
    r = check.numerical_gradient(wrong)
    assert r.status == "fail" and hint in r.message, r.message
    assert r.or_reference() is gradcheck.numerical_gradient


def test_numerical_gradient_hints_come_in_steps():
    r1 = check.numerical_gradient(ng_forward)
    assert "central difference" not in r1.message            # step 1 names the kind of mistake
    r2 = check.numerical_gradient(ng_forward)
    assert "(hint 2 of 2)" in r2.message and "(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)" in r2.message


def test_numerical_gradient_stub_and_not_a_function():
    assert check.numerical_gradient(stub).status == "todo"
    assert "expected a function" in check.numerical_gradient("numerical_gradient").message


# ---- the stability probes: which of the three "stable" mistakes it was
def ce_global_max(z, y):
    s = z - z.max()                                   # one shift for the whole batch
    lp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    return -lp[np.arange(len(y)), y].mean()


def ce_log_of_softmax(z, y):
    s = z - z.max(axis=1, keepdims=True)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    return -np.log(p[np.arange(len(y)), y]).mean()


def ce_clipped(z, y):
    p = L.softmax(z)
    return -np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0)).mean()


def ce_loop(z, y):
    total = 0.0
    for row, k in zip(z, y):
        m = max(row)
        total += m + np.log(sum(np.exp(v - m) for v in row)) - row[k]
    return total / len(y)


def ce_logaddexp(z, y):
    return float(np.mean(np.logaddexp.reduce(z, axis=1) - z[np.arange(len(y)), y]))


def ce_torch(z, y):
    import torch
    return torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor(y)).item()


@pytest.mark.parametrize("fn", [ce_loop, ce_logaddexp, ce_torch])
def test_cross_entropy_accepts_more_correct_answers(fn):
    assert check.cross_entropy(fn).passed


@pytest.mark.parametrize("wrong, hint", [
    (ce_global_max, "one number for the whole batch"),
    (ce_log_of_softmax, "log(softmax) underflows"),
    (ce_clipped, "a clip or an epsilon inside the log"),
    (naive_ce, "e^1000 is inf"),
    (lambda z, y: -L.log_softmax(z)[:, y].mean(), "(n, n) block"),
    (lambda z, y: -(L.one_hot(y, z.shape[1]) * L.log_softmax(z)).mean(), "all n·C entries"),
    (lambda z, y: L.cross_entropy(z, y) / np.log(10), "wrong base"),
])
def test_cross_entropy_names_more_mistakes(wrong, hint):
    r = check.cross_entropy(wrong)
    assert r.status == "fail" and hint in r.message, r.message


def test_global_max_is_not_told_to_subtract_the_max_and_underflow_is_not_told_either():
    r = check.cross_entropy(ce_log_of_softmax)
    assert "Subtract each row's" not in r.message and "The shift is right" in r.message
    r = check.cross_entropy(ce_global_max)
    assert "[[1e4, 0, -1e4], [0, 1, 2]]" in r.message
    r = check.cross_entropy(ce_global_max)
    assert "(hint 2 of 2)" in r.message and "z.max(axis=1, keepdims=True), not z.max()" in r.message


def ce_grad_global_max(z, y):
    p = np.exp(z - z.max())
    p = p / p.sum(axis=1, keepdims=True)
    return (p - L.one_hot(y, z.shape[1])) / len(y)


def ce_grad_column_block(z, y):
    p = L.softmax(z)
    p[:, y] -= 1
    return p / len(y)


def ce_grad_loop(z, y):
    out = np.zeros_like(z)
    for i in range(len(y)):
        e = np.exp(z[i] - np.max(z[i]))
        out[i] = e / e.sum()
        out[i, y[i]] -= 1
    return out / len(y)


def ce_grad_torch(z, y):
    import torch
    zt = torch.tensor(z, requires_grad=True)
    torch.nn.functional.cross_entropy(zt, torch.tensor(y)).backward()
    return zt.grad.numpy()


@pytest.mark.parametrize("fn", [ce_grad_loop, ce_grad_torch])
def test_ce_grad_accepts_more_correct_answers(fn):
    assert check.cross_entropy_grad(fn).passed


@pytest.mark.parametrize("wrong, hint", [
    (ce_grad_global_max, "one number for the whole batch"),
    (ce_grad_column_block, "subtracted at the wrong places"),
    (lambda z, y: L.softmax(z) - L.one_hot(y, z.shape[1]) / len(y), "only the one-hot part"),
    (lambda z, y: (L.softmax(z) - L.one_hot(y, z.shape[1])) / z.size, "divided by n·C"),
    (lambda z, y: (L.softmax(z, axis=0) - L.one_hot(y, z.shape[1])) / len(y), "wrong axis"),
])
def test_ce_grad_names_more_mistakes(wrong, hint):
    r = check.cross_entropy_grad(wrong)
    assert r.status == "fail" and hint in r.message, r.message


@pytest.mark.parametrize("wrong, hint", [
    (lambda p, t: 2 * (p - t) / p.shape[-1], "number of columns"),
    (lambda p, t: np.mean((p - t) ** 2), "returned shape ()"),
])
def test_mse_grad_names_more_mistakes(wrong, hint):
    r = check.mse_grad(wrong)
    assert r.status == "fail" and hint in r.message, r.message
