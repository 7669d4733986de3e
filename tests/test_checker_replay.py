"""A replay of learners' answers against the exercise checkers of notebooks 01-03, 05-07 and 10.

For every checker: plausible WRONG answers, written from the exercise text as a learner
would (each must be rejected, status "fail", with a hint that names its mistake: the regex),
and correct answers written differently from the reference (each must pass). The bank is
data: add a row when a learner's answer fools a checker.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from nblib import check
from nblib.check import _core

BANK: dict[str, list] = {}


def wrong(checker, hint):
    """Register a wrong answer that ``check.<checker>`` must reject with a message matching ``hint``."""
    def register(fn):
        BANK.setdefault(checker, []).append(("fail", hint, fn))
        return fn
    return register


def right(checker):
    """Register a correct alternative that ``check.<checker>`` must accept."""
    def register(fn):
        BANK.setdefault(checker, []).append(("pass", None, fn))
        return fn
    return register


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch):
    for store in (_core._RESULTS, _core._STREAK, _core._LATEST):
        store.clear()
    monkeypatch.setattr(_core, "_HANDED_OUT", [])
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    yield


def pytest_generate_tests(metafunc):
    """One test per answer of the bank (collected after the whole module has registered its rows)."""
    if "answer" in metafunc.fixturenames:
        rows = [(checker, *row) for checker, answers in BANK.items() for row in answers]
        metafunc.parametrize("answer", rows, ids=[f"{c}-{'wrong' if s == 'fail' else 'right'}-{fn.__name__}"
                                                  for c, s, _, fn in rows])


def test_replay(answer):
    checker, status, hint, fn = answer
    result = getattr(check, checker)(fn)
    assert result.status == status, f"{checker}({fn.__name__}) gave {result!r}"
    if hint is not None:
        assert re.search(hint, result.message, re.S | re.I), f"{checker}({fn.__name__}): hint {result.message!r}"


def test_every_checker_of_these_notebooks_is_replayed():
    from nblib.check import autograd, conv, deepnets, gd, losses, optim, pytorch
    exported = {n for m in (losses, gd, optim, autograd, pytorch, deepnets, conv)
                for n in m.__all__ if n not in getattr(m, "HELPERS", ())}
    missing = sorted(n for n in exported if n not in BANK)
    assert not missing, f"no replayed answers for {missing}"
    for name in exported & set(BANK):
        statuses = [s for s, _, _ in BANK[name]]
        assert statuses.count("fail") >= 5 and statuses.count("pass") >= 1, name


# ===================================================================== 01 numerical_gradient
@wrong("numerical_gradient", r"one-sided|forward difference|central")
def ng_forward(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    g = np.zeros_like(x)
    f0 = f(x)
    for i in np.ndindex(x.shape):
        old = x[i]; x[i] = old + eps; g[i] = (f(x) - f0) / eps; x[i] = old
    return g


@wrong("numerical_gradient", r"restore|put back|one entry")
def ng_no_restore(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        x[i] += eps; fp = f(x); x[i] -= 2 * eps; fm = f(x)
        g[i] = (fp - fm) / (2 * eps)
    return g


@wrong("numerical_gradient", r"integer")
def ng_no_float_copy(f, x, eps=1e-6):
    x = x.copy()
    g = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        old = x[i]; x[i] = old + eps; fp = f(x); x[i] = old - eps; fm = f(x); x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


@wrong("numerical_gradient", r"in place|caller|changed")
def ng_mutates_caller(f, x, eps=1e-6):
    g = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        x[i] = x[i] + eps; fp = f(x); x[i] = x[i] - 2 * eps; fm = f(x)
        g[i] = (fp - fm) / (2 * eps)
    return g


@wrong("numerical_gradient", r"several entries|one entry at a time|row|shape")
def ng_rows(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    g = np.zeros_like(x)
    for i in range(len(x)):
        old = x[i].copy(); x[i] = old + eps; fp = f(x); x[i] = old - eps; fm = f(x); x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


@wrong("numerical_gradient", r"2|eps|step")
def ng_no_half(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]; x[i] = old + eps; fp = f(x); x[i] = old - eps; fm = f(x); x[i] = old
        g[i] = (fp - fm) / eps
    return g


@wrong("numerical_gradient", r"shape")
def ng_flat(f, x, eps=1e-6):
    x = np.array(x, dtype=float).ravel()
    g = np.zeros(x.size)
    shape = x.shape
    for i in range(x.size):
        old = x[i]; x[i] = old + eps; fp = f(x); x[i] = old - eps; fm = f(x); x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


@wrong("numerical_gradient", r"float32|precision|float64")
def ng_float32(f, x, eps=1e-6):
    x = np.array(x, dtype=np.float32)
    g = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        old = x[i]; x[i] = old + eps; fp = f(x); x[i] = old - eps; fm = f(x); x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


@wrong("numerical_gradient", r"eps|step")
def ng_fixed_eps(f, x, eps=1e-6):
    h = 1e-5
    x = np.array(x, dtype=float)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]; x[i] = old + h; fp = f(x); x[i] = old - h; fm = f(x); x[i] = old
        g[i] = (fp - fm) / (2 * h)
    return g


@wrong("numerical_gradient", r"several|one entry|all")
def ng_whole_array(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    return np.full(x.shape, (f(x + eps) - f(x - eps)) / (2 * eps))


@wrong("numerical_gradient", r"integers|rounded|float")
def ng_int_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    x = np.array(x, dtype=float)
    for i in np.ndindex(x.shape):
        old = x[i]; x[i] = old + eps; fp = f(x); x[i] = old - eps; fm = f(x); x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


@wrong("numerical_gradient", r"list|array|type")
def ng_list(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    out = []
    for i in np.ndindex(x.shape):
        old = x[i]; x[i] = old + eps; fp = f(x); x[i] = old - eps; fm = f(x); x[i] = old
        out.append((fp - fm) / (2 * eps))
    return out


@right("numerical_gradient")
def ng_eye(f, x, eps=1e-6):
    x = np.asarray(x, dtype=float)
    E = np.eye(x.size).reshape((x.size,) + x.shape) * eps
    return np.array([(f(x + e) - f(x - e)) / (2 * eps) for e in E]).reshape(x.shape)


@right("numerical_gradient")
def ng_flat_view(f, x, eps=1e-6):
    x = np.array(x, dtype=np.float64, order="C")
    flat = x.reshape(-1)          # a view of x
    g = np.empty(x.size)
    for k in range(x.size):
        keep = flat[k]
        flat[k] = keep + eps; a = f(x)
        flat[k] = keep - eps; b = f(x)
        flat[k] = keep
        g[k] = (a - b) / (2 * eps)
    return g.reshape(x.shape)


# ===================================================================== 01 mse_grad
@wrong("mse_grad", r"1/N|mean|size")
def mse_no_n(p, t):
    return 2 * (p - t)


@wrong("mse_grad", r"2|factor")
def mse_no_2(p, t):
    return (p - t) / p.size


@wrong("mse_grad", r"sign")
def mse_sign(p, t):
    return 2 * (t - p) / p.size


@wrong("mse_grad", r"rows|n \* d|all|entries|N")
def mse_len(p, t):
    return 2 * (p - t) / len(p)


@wrong("mse_grad", r"columns|entries|N")
def mse_last(p, t):
    return 2 * (p - t) / p.shape[-1]


@wrong("mse_grad", r"shape|single number|mean")
def mse_mean_returned(p, t):
    return np.mean(2 * (p - t))


@wrong("mse_grad", r"in place|changed")
def mse_inplace(p, t):
    p -= t
    p *= 2.0 / p.size
    return p


@wrong("mse_grad", r"differs|factor|1/N")
def mse_int_div(p, t):
    return 2 * (p - t) / (p.size - 1)


@wrong("mse_grad", r"shape|broadcast")
def mse_flat(p, t):
    return (2 * (p - t) / p.size).ravel()


@wrong("mse_grad", r"float32 numbers")
def mse_float32(p, t):
    return (2 * (p - t) / p.size).astype(np.float32)


@right("mse_grad")
def mse_loop(p, t):
    out = np.empty(p.shape)
    for i in np.ndindex(p.shape):
        out[i] = 2.0 * (p[i] - t[i]) / p.size
    return out


@right("mse_grad")
def mse_mean_like(p, t):
    return np.subtract(p, t) * (2.0 / np.prod(np.shape(p)))


# ===================================================================== 01 cross_entropy
def _rows(z):
    return np.arange(len(z))


@wrong("cross_entropy", r"overflow")
def ce_no_shift(z, y):
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[_rows(z), y]))


@wrong("cross_entropy", r"one number for the whole batch|each row's own max")
def ce_global_max(z, y):
    s = z - z.max()
    return float(-np.mean(s[_rows(z), y] - np.log(np.exp(s).sum(axis=1))))


@wrong("cross_entropy", r"log\(softmax\) underflows")
def ce_log_softmax(z, y):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(p[_rows(z), y])))


@wrong("cross_entropy", r"clip|epsilon")
def ce_eps_in_log(z, y):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(p[_rows(z), y] + 1e-12)))


@wrong("cross_entropy", r"sum|mean")
def ce_sum(z, y):
    s = z - z.max(axis=1, keepdims=True)
    return float(-np.sum(s[_rows(z), y] - np.log(np.exp(s).sum(axis=1))))


@wrong("cross_entropy", r"single number|mean over the batch")
def ce_per_sample(z, y):
    s = z - z.max(axis=1, keepdims=True)
    return -(s[_rows(z), y] - np.log(np.exp(s).sum(axis=1)))


@wrong("cross_entropy", r"axis|column|class")
def ce_axis0(z, y):
    s = z - z.max(axis=0, keepdims=True)
    lp = s - np.log(np.exp(s).sum(axis=0, keepdims=True))
    return float(-np.mean(lp[_rows(z), y]))


@wrong("cross_entropy", r"sign")
def ce_sign(z, y):
    s = z - z.max(axis=1, keepdims=True)
    return float(np.mean(s[_rows(z), y] - np.log(np.exp(s).sum(axis=1))))


@wrong("cross_entropy", r"block|row i|\[:, labels\]|label")
def ce_block(z, y):
    s = z - z.max(axis=1, keepdims=True)
    lp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    return float(-np.mean(lp[:, y]))


@wrong("cross_entropy", r"log2|base|natural")
def ce_log2(z, y):
    s = z - z.max(axis=1, keepdims=True)
    return float(-np.mean(s[_rows(z), y] - np.log(np.exp(s).sum(axis=1))) / np.log(2))


@wrong("cross_entropy", r"differs")
def ce_max_only(z, y):                 # logsumexp approximated by the max
    return float(np.mean(z.max(axis=1) - z[_rows(z), y]))


@wrong("cross_entropy", r"one number for the whole batch|overflow|differs|wrong")
def ce_no_axis_in_sum(z, y):
    s = z - z.max(axis=1, keepdims=True)
    return float(-np.mean(s[_rows(z), y] - np.log(np.exp(s).sum())))


@wrong("cross_entropy", r"overflow|extreme|row")
def ce_mean_shift(z, y):
    s = z - z.mean(axis=1, keepdims=True)
    return float(-np.mean(s[_rows(z), y] - np.log(np.exp(s).sum(axis=1))))


@wrong("cross_entropy", r"all n·C entries")
def ce_all_entries(z, y):
    s = z - z.max(axis=1, keepdims=True)
    lp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    return float(-lp[_rows(z), y].sum() / z.size)


@right("cross_entropy")
def ce_scipy(z, y):
    from scipy.special import logsumexp
    return float(np.mean(logsumexp(z, axis=1) - z[np.arange(len(y)), y]))


@right("cross_entropy")
def ce_loop(z, y):
    total = 0.0
    for row, label in zip(z, y):
        m = max(row)
        total += m + math.log(sum(math.exp(v - m) for v in row)) - row[label]
    return total / len(y)


@right("cross_entropy")
def ce_torch(z, y):
    import torch
    return torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor(y)).item()


# ===================================================================== 01 cross_entropy_grad
def _onehot(z, y):
    o = np.zeros_like(z, dtype=float)
    o[np.arange(len(y)), y] = 1.0
    return o


def _sm(z, axis=1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@wrong("cross_entropy_grad", r"1/n|mean")
def ceg_no_n(z, y):
    return _sm(z) - _onehot(z, y)


@wrong("cross_entropy_grad", r"sign")
def ceg_sign(z, y):
    return (_onehot(z, y) - _sm(z)) / len(y)


@wrong("cross_entropy_grad", r"softmax / n")
def ceg_no_onehot(z, y):
    return _sm(z) / len(y)


@wrong("cross_entropy_grad", r"bracket|paren|only the one.hot")
def ceg_brackets(z, y):
    return _sm(z) - _onehot(z, y) / len(y)


@wrong("cross_entropy_grad", r"divided by n·C")
def ceg_size(z, y):
    return (_sm(z) - _onehot(z, y)) / z.size


@wrong("cross_entropy_grad", r"axis|row")
def ceg_axis0(z, y):
    return (_sm(z, axis=0) - _onehot(z, y)) / len(y)


@wrong("cross_entropy_grad", r"overflow")
def ceg_no_shift(z, y):
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True) - _onehot(z, y)) / len(y)


@wrong("cross_entropy_grad", r"one number for the whole batch|each row's own max")
def ceg_global_max(z, y):
    e = np.exp(z - z.max())
    return (e / e.sum(axis=1, keepdims=True) - _onehot(z, y)) / len(y)


@wrong("cross_entropy_grad", r"in place")
def ceg_inplace(z, y):
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    z[np.arange(len(y)), y] -= 1
    return z / len(y)


@wrong("cross_entropy_grad", r"subtracted at the wrong places")
def ceg_block(z, y):
    p = _sm(z)
    p[:, y] -= 1
    return p / len(y)


@wrong("cross_entropy_grad", r"differs")
def ceg_logit_minus(z, y):               # z - onehot: forgot the softmax
    return (z - _onehot(z, y)) / len(y)


@wrong("cross_entropy_grad", r"shape|returned")
def ceg_true_column_only(z, y):
    return (_sm(z)[np.arange(len(y)), y] - 1) / len(y)


@wrong("cross_entropy_grad", r"float32 numbers")
def ceg_torch_float32(z, y):
    t = torch.tensor(z, dtype=torch.float32, requires_grad=True)
    torch.nn.functional.cross_entropy(t, torch.tensor(y)).backward()
    return t.grad.numpy()


@right("cross_entropy_grad")
def ceg_torch(z, y):
    import torch
    t = torch.tensor(z, requires_grad=True)
    torch.nn.functional.cross_entropy(t, torch.tensor(y)).backward()
    return t.grad.numpy()


@right("cross_entropy_grad")
def ceg_loop(z, y):
    n, c = z.shape
    g = np.zeros((n, c))
    for i in range(n):
        m = z[i].max()
        e = [math.exp(v - m) for v in z[i]]
        s = sum(e)
        for k in range(c):
            g[i, k] = (e[k] / s - (1.0 if k == y[i] else 0.0)) / n
    return g


# ===================================================================== 01 gradient_signs
@wrong("gradient_signs", r"4 of 4 wrong")
def signs_all_flipped():
    return {"a": "+", "b": "-", "c": "+", "d": "-"}


@wrong("gradient_signs", r"1 of 4 wrong.*\(a\)")
def signs_a_wrong():
    return {"a": "+", "b": "+", "c": "-", "d": "+"}


@wrong("gradient_signs", r"1 of 4 wrong.*\(c\)")
def signs_c_wrong():
    return ["-", "+", "+", "+"]


@wrong("gradient_signs", r"2 of 4 wrong.*\(b\).*\(d\)")
def signs_b_d_wrong():
    return ("-", "-", "-", "-")


@wrong("gradient_signs", r"'\+' or '-'")
def signs_numbers():
    return {"a": -1, "b": 1, "c": -1, "d": 1}


@wrong("gradient_signs", r"'\+' or '-'")
def signs_words():
    return {"a": "negative", "b": "positive", "c": "negative", "d": "positive"}


@wrong("gradient_signs", r"no answer for d")
def signs_missing():
    return {"a": "-", "b": "+", "c": "-"}


@wrong("gradient_signs", r"returned|dict")
def signs_string():
    return "-+-+"


@wrong("gradient_signs", r"no `return`|None")
def signs_none():
    {"a": "-", "b": "+", "c": "-", "d": "+"}


@wrong("gradient_signs", r"returned|dict|four")
def signs_three_list():
    return ["-", "+", "-"]


@right("gradient_signs")
def signs_full_width():                      # a Chinese input method's ＋ and －, and the minus sign −
    return {"a": "－", "b": "＋", "c": "−", "d": "+"}


@right("gradient_signs")
def signs_list():
    return ["-", "+", "-", "+"]


@right("gradient_signs")
def signs_upper_keys():
    return {"A": "-", "B": "+", "C": "-", "D": "+"}


# ===================================================================== 02 linreg_grad
@wrong("linreg_grad", r"per-sample")
def lg_per_sample(x, y, w, b):
    r = w * x + b - y
    return 2 * r * x, 2 * r


@wrong("linreg_grad", r"summed")
def lg_sum(x, y, w, b):
    r = w * x + b - y
    return 2 * np.sum(r * x), 2 * np.sum(r)


@wrong("linreg_grad", r"factor 2")
def lg_no_2(x, y, w, b):
    r = w * x + b - y
    return np.mean(r * x), np.mean(r)


@wrong("linreg_grad", r"sign")
def lg_sign(x, y, w, b):
    r = y - (w * x + b)
    return 2 * np.mean(r * x), 2 * np.mean(r)


@wrong("linreg_grad", r"needs the factor x")
def lg_no_x(x, y, w, b):
    r = w * x + b - y
    return 2 * np.mean(r), 2 * np.mean(r)


@wrong("linreg_grad", r"swapped")
def lg_swapped(x, y, w, b):
    r = w * x + b - y
    return 2 * np.mean(r), 2 * np.mean(r * x)


@wrong("linreg_grad", r"differs")
def lg_x_in_db(x, y, w, b):
    r = w * x + b - y
    return 2 * np.mean(r * x), 2 * np.mean(r * x) / np.mean(x)


@wrong("linreg_grad", r"differs")
def lg_n_minus_1(x, y, w, b):
    r = w * x + b - y
    return 2 * np.sum(r * x) / (len(x) - 1), 2 * np.sum(r) / (len(x) - 1)


@wrong("linreg_grad", r"differs")
def lg_dw_x_squared(x, y, w, b):
    r = w * x + b - y
    return 2 * np.mean(r * x * x), 2 * np.mean(r)


@right("linreg_grad")
def lg_matrix(x, y, w, b):
    X = np.column_stack([x, np.ones_like(x)])
    g = 2 / len(x) * X.T @ (X @ np.array([w, b]) - y)
    return g[0], g[1]


@right("linreg_grad")
def lg_loop(x, y, w, b):
    dw = db = 0.0
    for xi, yi in zip(x, y):
        r = w * xi + b - yi
        dw += 2 * r * xi / len(x)
        db += 2 * r / len(x)
    return dw, db


# ===================================================================== 02 gd_fit (exported, not in a notebook)
def _lg(x, y, w, b):
    r = w * x + b - y
    return 2 * np.mean(r * x), 2 * np.mean(r)


@wrong("gd_fit", r"new\* w|same point")
def gf_sequential(x, y, w0, b0, lr, steps):
    w, b = w0, b0
    for _ in range(steps):
        w = w - lr * _lg(x, y, w, b)[0]
        b = b - lr * _lg(x, y, w, b)[1]
    return w, b


@wrong("gd_fit", r"too many")
def gf_plus_one(x, y, w0, b0, lr, steps):
    w, b = w0, b0
    for _ in range(steps + 1):
        dw, db = _lg(x, y, w, b)
        w, b = w - lr * dw, b - lr * db
    return w, b


@wrong("gd_fit", r"too few")
def gf_minus_one(x, y, w0, b0, lr, steps):
    w, b = w0, b0
    for _ in range(1, steps):
        dw, db = _lg(x, y, w, b)
        w, b = w - lr * dw, b - lr * db
    return w, b


@wrong("gd_fit", r"added")
def gf_ascent(x, y, w0, b0, lr, steps):
    w, b = w0, b0
    for _ in range(steps):
        dw, db = _lg(x, y, w, b)
        w, b = w + lr * dw, b + lr * db
    return w, b


@wrong("gd_fit", r"differs")
def gf_no_b(x, y, w0, b0, lr, steps):
    w, b = w0, b0
    for _ in range(steps):
        w = w - lr * _lg(x, y, w, b)[0]
    return w, b


@right("gd_fit")
def gf_matrix(x, y, w0, b0, lr, steps):
    X = np.column_stack([x, np.ones_like(x)])
    th = np.array([w0, b0], dtype=float)
    for _ in range(steps):
        th = th - lr * 2 / len(x) * X.T @ (X @ th - y)
    return tuple(th)


# ===================================================================== 02 gradient_descent
from nblib import gd as _gd  # noqa: E402  (the notebook's `gd`)


def _result(path, losses, stop):
    return {"path": path, "losses": losses, "steps": len(path) - 1, "stop": stop}


@wrong("gradient_descent", r"more steps than|took more|late|max_steps|differ")
def gdl_no_final_test(loss_and_grad, theta0, lr, max_steps, tol):
    theta = np.array(theta0, dtype=float)
    path, losses = [theta], []
    for k in range(max_steps):
        L, g = loss_and_grad(theta)
        losses.append(L)
        c = _gd.divergence(L, losses[0])
        if c:
            return _result(path, losses, c)
        if np.linalg.norm(g) < tol:
            return _result(path, losses, "converged")
        theta = theta - lr * g
        path.append(theta)
    losses.append(loss_and_grad(theta)[0])
    return _result(path, losses, "max_steps")


def _loop(norm=np.linalg.norm, against_previous=False, check_div=True, order=("div", "tol", "max"),
          inplace=False, ascent=False, copy=True, lr_scale=1.0, stop_names=None, name="gd_loop"):
    def run(loss_and_grad, theta0, lr, max_steps, tol):
        theta = (np.array(theta0, dtype=float) if copy is True else np.asarray(theta0, dtype=float)
                 if copy == "asarray" else theta0)
        L, g = loss_and_grad(theta)
        path, losses = [theta.copy() if inplace == "first copied" else theta], [L]
        while True:
            k = len(path) - 1
            stop = None
            for rule in order:
                if stop is not None:
                    break
                if rule == "div" and check_div:
                    stop = _gd.divergence(L, losses[-2] if against_previous and k > 0 else losses[0])
                    stop = stop if stop != "non-finite" or not against_previous else stop
                elif rule == "tol" and norm(g) < tol:
                    stop = "converged"
                elif rule == "max" and k == max_steps:
                    stop = "max_steps"
            if stop is not None:
                return _result(path, losses, (stop_names or {}).get(stop, stop))
            if inplace:
                theta -= lr * g
                L, g = loss_and_grad(theta)
                path.append(theta if copy is True else theta.copy())
                losses.append(L)
                continue
            else:
                theta = theta + lr * g if ascent else theta - lr * lr_scale * g
            L, g = loss_and_grad(theta)
            path.append(theta)
            losses.append(L)
    run.__name__ = name
    return run


BANK.setdefault("gradient_descent", []).extend([
    ("fail", r"stopped before", _loop(norm=lambda g: np.max(np.abs(g)), name="max_abs_norm")),
    ("fail", r"stopped before", _loop(norm=lambda g: float(g @ g), name="squared_norm")),
    ("fail", r"did not stop when the run diverged|another step than", _loop(against_previous=True, name="vs_previous_loss")),
    ("fail", r"did not stop when the run diverged", _loop(check_div=False, name="no_divergence")),
    ("fail", r"tested in order|divergence first", _loop(order=("div", "max", "tol"), name="max_before_tol")),
    ("fail", r"same array", _loop(inplace=True, name="inplace_same_array")),
    ("fail", r"same array", _loop(inplace="first copied", name="inplace_after_a_copied_start")),
    ("fail", r"uphill", _loop(ascent=True, name="ascent")),
    ("fail", r"not θ_0 - lr", _loop(lr_scale=0.5, name="half_lr")),
    ("fail", r"first point of your path is not θ_0", _loop(copy="asarray", inplace=True, name="start_changed_in_place")),
    ("fail", r'"stop" is|one of', _loop(stop_names={"blew up": "diverged"}, name="own_stop_word")),
    ("fail", r"had also diverged", _loop(order=("tol", "max", "div"), name="divergence_last")),
])


@wrong("gradient_descent", r"start with θ_0")
def gdl_no_start(loss_and_grad, theta0, lr, max_steps, tol):
    theta = np.array(theta0, dtype=float)
    L0, g = loss_and_grad(theta)
    path, losses = [], []
    k = 0
    while True:
        if _gd.divergence(loss_and_grad(theta)[0], L0):
            return {"path": path, "losses": losses, "steps": k, "stop": _gd.divergence(loss_and_grad(theta)[0], L0)}
        if np.linalg.norm(g) < tol:
            return {"path": path, "losses": losses, "steps": k, "stop": "converged"}
        if k == max_steps:
            return {"path": path, "losses": losses, "steps": k, "stop": "max_steps"}
        theta = theta - lr * g
        L, g = loss_and_grad(theta)
        path.append(theta); losses.append(L); k += 1


@wrong("gradient_descent", r'"steps" is the number of points')
def gdl_steps_is_len_path(loss_and_grad, theta0, lr, max_steps, tol):
    result = _loop()(loss_and_grad, theta0, lr, max_steps, tol)
    result["steps"] = len(result["path"])
    return result


@wrong("gradient_descent", r"divergence|blew up|another step")
def gdl_own_threshold(loss_and_grad, theta0, lr, max_steps, tol):
    theta = np.array(theta0, dtype=float)
    L, g = loss_and_grad(theta)
    path, losses = [theta], [L]
    while True:
        if not np.isfinite(L):
            stop = "non-finite"
        elif abs(L) > 1e12:
            stop = "blew up"
        elif np.linalg.norm(g) < tol:
            stop = "converged"
        elif len(path) - 1 == max_steps:
            stop = "max_steps"
        else:
            stop = None
        if stop:
            return _result(path, losses, stop)
        theta = theta - lr * g
        L, g = loss_and_grad(theta)
        path.append(theta); losses.append(L)


BANK["gradient_descent"].append(("pass", None, _loop(name="reference_like")))


@right("gradient_descent")
def gdl_for_loop(loss_and_grad, theta0, lr, max_steps, tol):
    thetas = [np.asarray(theta0, dtype=np.float64).copy()]
    losses = []
    for k in range(max_steps + 1):
        loss, grad = loss_and_grad(thetas[-1])
        losses.append(float(loss))
        why = _gd.divergence(loss, losses[0])
        if why is None and np.sqrt(np.sum(grad ** 2)) < tol:
            why = "converged"
        if why is None and k == max_steps:
            why = "max_steps"
        if why is not None:
            return {"path": thetas, "losses": losses, "steps": k, "stop": why}
        thetas.append(thetas[-1] - lr * grad)


# ===================================================================== 02 least_squares
@wrong("least_squares", r"origin")
def ls_no_ones(x, y):
    return float(x @ y / (x @ x)), 0.0


@wrong("least_squares", r"order \(b, w\)")
def ls_order(x, y):
    X = np.column_stack([np.ones_like(x), x])
    return tuple(np.linalg.solve(X.T @ X, X.T @ y))


@wrong("least_squares", r"x as a function of y")
def ls_swapped_xy(x, y):
    X = np.column_stack([y, np.ones_like(y)])
    return tuple(np.linalg.solve(X.T @ X, X.T @ x))


@wrong("least_squares", r"n/\(n-1\)")
def ls_cov_var(x, y):
    w = np.cov(x, y)[0, 1] / np.var(x)
    return w, y.mean() - w * x.mean()


@wrong("least_squares", r"intercept is not")
def ls_b_plus(x, y):
    w = np.cov(x, y, bias=True)[0, 1] / np.var(x)
    return w, y.mean() + w * x.mean()


@wrong("least_squares", r"differs")
def ls_ratio_of_means(x, y):
    w = np.mean(x * y) / np.mean(x * x)
    return w, y.mean() - w * x.mean()


@wrong("least_squares", r"differs")
def ls_one_gd_step(x, y):
    X = np.column_stack([x, np.ones_like(x)])
    return tuple(X.T @ y / len(x))


@wrong("least_squares", r"differs|returned")
def ls_no_transpose_solve(x, y):
    X = np.column_stack([x, np.ones_like(x)])
    return tuple(np.linalg.solve(X.T @ X, y[:2]))


@right("least_squares")
def ls_lstsq(x, y):
    X = np.column_stack([x, np.ones_like(x)])
    return tuple(np.linalg.lstsq(X, y, rcond=None)[0])


@right("least_squares")
def ls_polyfit(x, y):
    w, b = np.polyfit(x, y, 1)
    return float(w), float(b)


@right("least_squares")
def ls_cov(x, y):
    w = np.cov(x, y, bias=True)[0, 1] / np.var(x)
    return w, np.mean(y) - w * np.mean(x)


# ===================================================================== 02 critical_lr
def _H(x):
    X = np.column_stack([x, np.ones_like(x)])
    return 2 / len(x) * X.T @ X


@wrong("critical_lr", r"1/λ_max")
def cl_one_over(x):
    return 1 / np.linalg.eigvalsh(_H(x))[-1]


@wrong("critical_lr", r"smallest eigenvalue")
def cl_min(x):
    return 2 / np.linalg.eigvalsh(_H(x))[0]


@wrong("critical_lr", r"factor 2")
def cl_no_2(x):
    return 2 / np.linalg.eigvalsh(_H(x) / 2)[-1]


@wrong("critical_lr", r"\*sum\*")
def cl_sum(x):
    return 2 / np.linalg.eigvalsh(_H(x) * len(x))[-1]


@wrong("critical_lr", r"only ∂²L/∂w²")
def cl_w_only(x):
    return 2 / (2 * np.mean(x * x))


@wrong("critical_lr", r"smallest eigenvalue|differs")
def cl_first_eig(x):                      # eigvalsh is ascending: [0] is the smallest
    return 2 / np.linalg.eigvalsh(_H(x))[0]


@wrong("critical_lr", r"differs|trace")
def cl_trace(x):
    return 2 / np.trace(_H(x))


@wrong("critical_lr", r"differs|only ∂²L/∂w²")
def cl_variance(x):                       # centred x: right only when mean(x) = 0
    return 2 / (2 * np.var(x) + 2)


@wrong("critical_lr", r"shape|single number")
def cl_all(x):
    return 2 / np.linalg.eigvalsh(_H(x))


@right("critical_lr")
def cl_eig(x):
    return float(2 / max(np.linalg.eigvals(_H(x)).real))


@right("critical_lr")
def cl_closed_form(x):
    a, c, d = 2 * np.mean(x * x), 2 * np.mean(x), 2.0
    lam = (a + d) / 2 + math.sqrt(((a - d) / 2) ** 2 + c * c)
    return 2 / lam


# ===================================================================== 03 minibatches
@wrong("minibatches", r"shuffl|order")
def mb_no_shuffle(n, batch_size, rng):
    idx = np.arange(n)
    return [idx[i:i + batch_size] for i in range(0, n, batch_size)]


@wrong("minibatches", r"never used")
def mb_drop_last(n, batch_size, rng):
    p = rng.permutation(n)
    return [p[k * batch_size:(k + 1) * batch_size] for k in range(n // batch_size)]


@wrong("minibatches", r"batch_size|size")
def mb_array_split(n, batch_size, rng):
    return list(np.array_split(rng.permutation(n), max(1, n // batch_size)))


@wrong("minibatches", r"exactly once|repeat|twice|replacement|every index")
def mb_with_replacement(n, batch_size, rng):
    p = rng.integers(0, n, size=n)
    return [p[i:i + batch_size] for i in range(0, n, batch_size)]


@wrong("minibatches", r"rng|generator")
def mb_global_rng(n, batch_size, rng):
    p = np.random.permutation(n)
    return [p[i:i + batch_size] for i in range(0, n, batch_size)]


@wrong("minibatches", r"never used")
def mb_range_short(n, batch_size, rng):
    p = rng.permutation(n)
    return [p[i:i + batch_size] for i in range(0, n - batch_size, batch_size)]


@wrong("minibatches", r"shuffl|order|batches")
def mb_shuffle_batch_order_only(n, batch_size, rng):
    idx = np.arange(n)
    batches = [idx[i:i + batch_size] for i in range(0, n, batch_size)]
    return [batches[k] for k in rng.permutation(len(batches))]


@wrong("minibatches", r"0\.\.n-1|range|index|every index")
def mb_one_based(n, batch_size, rng):
    p = rng.permutation(n) + 1
    return [p[i:i + batch_size] for i in range(0, n, batch_size)]


@wrong("minibatches", r"list|returned|shape|reshape")
def mb_reshape(n, batch_size, rng):
    return rng.permutation(n).reshape(-1, batch_size)


@wrong("minibatches", r"shuffl|same|epoch|rng")
def mb_fixed_seed(n, batch_size, rng):
    p = np.random.default_rng(0).permutation(n)
    return [p[i:i + batch_size] for i in range(0, n, batch_size)]


@right("minibatches")
def mb_shuffle_while(n, batch_size, rng):
    order = np.arange(n)
    rng.shuffle(order)
    out, start = [], 0
    while start < n:
        out.append(order[start:start + batch_size])
        start += batch_size
    return out


@right("minibatches")
def mb_split_points(n, batch_size, rng):
    return np.split(rng.permutation(n), range(batch_size, n, batch_size))


# ===================================================================== 03 momentum_step
@wrong("momentum_step", r"1\s*-\s*β|1 - beta|\(1-β\)|convention")
def mom_ema(p, g, v, lr, beta):
    v = beta * v + (1 - beta) * g
    return p - lr * v, v


@wrong("momentum_step", r"velocity from before this step")
def mom_old_v(p, g, v, lr, beta):
    return p - lr * v, beta * v + g


@wrong("momentum_step", r"in place")
def mom_inplace(p, g, v, lr, beta):
    v *= beta
    v += g
    return p - lr * v, v


@wrong("momentum_step", r"sign|uphill|add")
def mom_sign(p, g, v, lr, beta):
    v = beta * v + g
    return p + lr * v, v


@wrong("momentum_step", r"lr|learning rate|velocity")
def mom_lr_inside(p, g, v, lr, beta):
    v = beta * v + lr * g
    return p - v, v


@wrong("momentum_step", r"order|swapped|\(p, v\)")
def mom_swapped(p, g, v, lr, beta):
    v = beta * v + g
    return v, p - lr * v


@wrong("momentum_step", r"Nesterov|differs")
def mom_nesterov(p, g, v, lr, beta):
    v = beta * v + g
    return p - lr * (g + beta * v), v


@wrong("momentum_step", r"β|beta|differs")
def mom_no_beta(p, g, v, lr, beta):
    v = v + g
    return p - lr * v, v


@wrong("momentum_step", r"β|beta|swapped|differs")
def mom_beta_on_g(p, g, v, lr, beta):
    v = v + beta * g
    return p - lr * v, v


@right("momentum_step")
def mom_torch(p, g, v, lr, beta):
    import torch
    buf = torch.tensor(v) * beta + torch.tensor(g)
    return (torch.tensor(p) - lr * buf).numpy(), buf.numpy()


@right("momentum_step")
def mom_np_funcs(p, g, v, lr, beta):
    v_new = np.add(np.multiply(beta, v), g)
    return np.subtract(p, lr * v_new), v_new


# ===================================================================== 03 rmsprop_step
@wrong("rmsprop_step", r"ε is in the wrong place")
def rms_eps_inside(p, g, s, lr, rho, eps):
    s = rho * s + (1 - rho) * g * g
    return p - lr * g / np.sqrt(s + eps), s


@wrong("rmsprop_step", r"average from before this step")
def rms_old_s(p, g, s, lr, rho, eps):
    s_new = rho * s + (1 - rho) * g * g
    return p - lr * g / (np.sqrt(s) + eps), s_new


@wrong("rmsprop_step", r"weight 1")
def rms_no_one_minus(p, g, s, lr, rho, eps):
    s = rho * s + g * g
    return p - lr * g / (np.sqrt(s) + eps), s


@wrong("rmsprop_step", r"differs")
def rms_g_not_squared(p, g, s, lr, rho, eps):
    s = rho * s + (1 - rho) * g
    return p - lr * g / (np.sqrt(np.abs(s)) + eps), s


@wrong("rmsprop_step", r"root|sqrt")
def rms_no_sqrt(p, g, s, lr, rho, eps):
    s = rho * s + (1 - rho) * g * g
    return p - lr * g / (s + eps), s


@wrong("rmsprop_step", r"in place")
def rms_inplace(p, g, s, lr, rho, eps):
    s *= rho
    s += (1 - rho) * g * g
    p -= lr * g / (np.sqrt(s) + eps)
    return p, s


@wrong("rmsprop_step", r"swapped|ρ|rho")
def rms_rho_swapped(p, g, s, lr, rho, eps):
    s = (1 - rho) * s + rho * g * g
    return p - lr * g / (np.sqrt(s) + eps), s


@wrong("rmsprop_step", r"state|s_new|return|root")
def rms_returns_root(p, g, s, lr, rho, eps):
    s = rho * s + (1 - rho) * g * g
    r = np.sqrt(s)
    return p - lr * g / (r + eps), r


@wrong("rmsprop_step", r"sign|uphill|add")
def rms_sign(p, g, s, lr, rho, eps):
    s = rho * s + (1 - rho) * g * g
    return p + lr * g / (np.sqrt(s) + eps), s


@right("rmsprop_step")
def rms_torch(p, g, s, lr, rho, eps):
    import torch
    P = torch.tensor(p, requires_grad=True)
    opt = torch.optim.RMSprop([P], lr=lr, alpha=rho, eps=eps)
    opt.state[P] = {"step": torch.tensor(0.0), "square_avg": torch.tensor(s).clone()}
    P.grad = torch.tensor(g)
    opt.step()
    return P.detach().numpy(), opt.state[P]["square_avg"].numpy()


@right("rmsprop_step")
def rms_np(p, g, s, lr, rho, eps):
    s_new = np.add(rho * s, (1 - rho) * np.square(g))
    return np.subtract(p, lr * np.divide(g, np.sqrt(s_new) + eps)), s_new


# ===================================================================== 03 adam_step
def _adam(p, g, m, v, t, lr, b1, b2, eps, *, correct_m=True, correct_v=True, eps_in=False, tt=None,
          ret_hat=False, v_of_g=False):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * (g if v_of_g else g * g)
    tt = t if tt is None else tt
    mh = m / (1 - b1 ** tt) if correct_m else m
    vh = v / (1 - b2 ** tt) if correct_v else v
    step = mh / (np.sqrt(vh + eps) if eps_in else np.sqrt(np.abs(vh)) + eps)
    return (p - lr * step, mh, vh) if ret_hat else (p - lr * step, m, v)


def _named(fn, name):
    fn.__name__ = name
    return fn


BANK.setdefault("adam_step", []).extend([
    ("fail", r"bias correction|correct", _named(lambda *a: _adam(*a, correct_m=False, correct_v=False), "no_correction")),
    ("fail", r"both|v̂|v_hat|second|correct", _named(lambda *a: _adam(*a, correct_v=False), "only_m_corrected")),
    ("fail", r"both|m̂|m_hat|first|correct", _named(lambda *a: _adam(*a, correct_m=False), "only_v_corrected")),
    ("fail", r"ε is in the wrong place", _named(lambda *a: _adam(*a, eps_in=True), "eps_inside")),
    ("fail", r"uncorrected|state|m̂|hat", _named(lambda *a: _adam(*a, ret_hat=True), "returns_corrected_state")),
    ("fail", r"t\b|step number|incremented|t - 1|t \+ 1|β\^t", _named(lambda *a: _adam(*a, tt=a[4] + 1), "t_plus_one")),
    ("fail", r"t\b|step number|incremented|t - 1|t \+ 1|β\^t", _named(lambda *a: _adam(*a, tt=a[4] - 1 if a[4] > 1 else 1), "t_minus_one")),
    ("fail", r"differs", _named(lambda *a: _adam(*a, v_of_g=True), "v_of_g")),
])


@wrong("adam_step", r"inf or NaN|differs")
def adam_beta_times_t(p, g, m, v, t, lr, b1, b2, eps):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    return p - lr * (m / (1 - b1 * t)) / (np.sqrt(v / (1 - b2 * t)) + eps), m, v


@wrong("adam_step", r"in place")
def adam_inplace(p, g, m, v, t, lr, b1, b2, eps):
    m *= b1; m += (1 - b1) * g
    v *= b2; v += (1 - b2) * g * g
    return p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps), m, v


@wrong("adam_step", r"differs|correct|β")
def adam_one_minus_beta_power(p, g, m, v, t, lr, b1, b2, eps):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    return p - lr * (m / (1 - b1) ** t) / (np.sqrt(v / (1 - b2) ** t) + eps), m, v


@wrong("adam_step", r"differs")
def adam_swapped_state(p, g, m, v, t, lr, b1, b2, eps):
    new_p, m, v = _adam(p, g, m, v, t, lr, b1, b2, eps)
    return new_p, v, m


@right("adam_step")
def adam_torch(p, g, m, v, t, lr, b1, b2, eps):
    import torch
    P = torch.tensor(p, requires_grad=True)
    opt = torch.optim.Adam([P], lr=lr, betas=(b1, b2), eps=eps)
    opt.state[P] = {"step": torch.tensor(float(t - 1)), "exp_avg": torch.tensor(m).clone(),
                    "exp_avg_sq": torch.tensor(v).clone()}
    P.grad = torch.tensor(g)
    opt.step()
    return P.detach().numpy(), opt.state[P]["exp_avg"].numpy(), opt.state[P]["exp_avg_sq"].numpy()


@right("adam_step")
def adam_folded(p, g, m, v, t, lr, b1, b2, eps):
    m2 = m + (1 - b1) * (g - m)              # = b1 m + (1 - b1) g, written as a move towards g
    v2 = v + (1 - b2) * (g ** 2 - v)
    return p - lr * (m2 / (1 - b1 ** t)) / (np.sqrt(v2 / (1 - b2 ** t)) + eps), m2, v2


# ===================================================================== 03 cosine_lr
@wrong("cosine_lr", r"\(1 \+ cos|1 \+|half|/ 2|differs")
def cos_no_one_plus(t, lr0, T, lr_min):
    return lr_min + (lr0 - lr_min) * math.cos(math.pi * t / T)


@wrong("cosine_lr", r"lr_min|η_min|floor|minimum")
def cos_no_min(t, lr0, T, lr_min):
    return lr0 * (1 + math.cos(math.pi * t / T)) / 2


@wrong("cosine_lr", r"differs")
def cos_no_pi(t, lr0, T, lr_min):
    return lr_min + (lr0 - lr_min) * (1 + math.cos(t / T)) / 2


@wrong("cosine_lr", r"integer division|//|float")
def cos_int_div(t, lr0, T, lr_min):
    return lr_min + (lr0 - lr_min) * (1 + math.cos(math.pi * (t // T))) / 2


@wrong("cosine_lr", r"minus|η_0 - η_min|lr0 - lr_min|differs|sign")
def cos_plus(t, lr0, T, lr_min):
    return lr_min + (lr0 + lr_min) * (1 + math.cos(math.pi * t / T)) / 2


@wrong("cosine_lr", r"full cosine period")
def cos_two_pi(t, lr0, T, lr_min):
    return lr_min + (lr0 - lr_min) * (1 + math.cos(2 * math.pi * t / T)) / 2


@wrong("cosine_lr", r"T - 1|total_steps - 1|off|differs")
def cos_t_minus_1(t, lr0, T, lr_min):
    return lr_min + (lr0 - lr_min) * (1 + math.cos(math.pi * t / (T - 1))) / 2 if T > 1 else lr_min


@wrong("cosine_lr", r"differs|quarter|π")
def cos_quarter(t, lr0, T, lr_min):
    return lr_min + (lr0 - lr_min) * math.cos(math.pi * t / (2 * T))


@wrong("cosine_lr", r"swapped|lr_min|η_0|differs")
def cos_swapped(t, lr0, T, lr_min):
    return lr0 + (lr_min - lr0) * (1 + math.cos(math.pi * t / T)) / 2


@wrong("cosine_lr", r"more than lr0")
def cos_sin(t, lr0, T, lr_min):
    return lr_min + (lr0 - lr_min) * (1 + math.sin(math.pi * t / T)) / 2


@right("cosine_lr")
def cos_numpy(t, lr0, T, lr_min):
    return float(lr_min + 0.5 * (lr0 - lr_min) * (1 + np.cos(np.pi * t / T)))


@right("cosine_lr")
def cos_half_angle(t, lr0, T, lr_min):
    return lr_min + (lr0 - lr_min) * math.cos(math.pi * t / (2 * T)) ** 2


# ===================================================================== 05 value_ops / value_engine
class MV:
    """A correct learner's MyValue (the notebook's class, written out)."""

    def __init__(self, data, _children=(), _op=""):
        self.data = float(data)
        self.grad = 0.0
        self._prev = tuple(_children)
        self._op = _op
        self._backward = lambda: None

    def _wrap(self, other):
        return other if isinstance(other, MV) else type(self)(other)

    def __add__(self, other):
        other = self._wrap(other)
        out = type(self)(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = self._wrap(other)
        out = type(self)(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, k):
        out = type(self)(self.data ** k, (self,), "**")

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = type(self)(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t ** 2) * out.grad
        out._backward = _backward
        return out

    def relu(self):
        out = type(self)(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward():
            self.grad += (1.0 if self.data > 0 else 0.0) * out.grad
        out._backward = _backward
        return out

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-other)

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return (-self) + other

    def __truediv__(self, other):
        return self * other ** -1 if isinstance(other, MV) else self * (1.0 / other)

    def __rtruediv__(self, other):
        return self ** -1 * other


def _variant(name, **methods):
    return type(name, (MV,), methods)


def _op(self, data, children, op, back):
    out = type(self)(data, children, op)
    out._backward = lambda: back(out)
    return out


def _mul_no_children(self, other):
    other = self._wrap(other)
    out = type(self)(self.data * other.data, (), "*")

    def _backward():
        self.grad += other.data * out.grad
        other.grad += self.data * out.grad
    out._backward = _backward
    return out


def _mul_only_self_child(self, other):
    other = self._wrap(other)
    out = type(self)(self.data * other.data, (self,), "*")

    def _backward():
        self.grad += other.data * out.grad
        other.grad += self.data * out.grad
    out._backward = _backward
    return out


def _mul_assign(self, other):
    other = self._wrap(other)
    out = type(self)(self.data * other.data, (self, other), "*")

    def _backward():
        self.grad = other.data * out.grad
        other.grad = self.data * out.grad
    out._backward = _backward
    return out


def _mul_no_upstream(self, other):
    other = self._wrap(other)
    out = type(self)(self.data * other.data, (self, other), "*")

    def _backward():
        self.grad += other.data
        other.grad += self.data
    out._backward = _backward
    return out


def _mul_own_data(self, other):
    other = self._wrap(other)
    out = type(self)(self.data * other.data, (self, other), "*")

    def _backward():
        self.grad += self.data * out.grad
        other.grad += other.data * out.grad
    out._backward = _backward
    return out


def _mul_no_wrap(self, other):
    out = type(self)(self.data * other.data, (self, other), "*")

    def _backward():
        self.grad += other.data * out.grad
        other.grad += self.data * out.grad
    out._backward = _backward
    return out


def _mul_eager(self, other):                    # adds the local derivative at once, in the forward pass
    other = self._wrap(other)
    out = type(self)(self.data * other.data, (self, other), "*")
    self.grad += other.data
    other.grad += self.data
    return out


def _add_no_wrap(self, other):
    out = type(self)(self.data + other.data, (self, other), "+")

    def _backward():
        self.grad += out.grad
        other.grad += out.grad
    out._backward = _backward
    return out


def _add_assign(self, other):
    other = self._wrap(other)
    out = type(self)(self.data + other.data, (self, other), "+")

    def _backward():
        self.grad = out.grad
        other.grad = out.grad
    out._backward = _backward
    return out


def _add_in_place(self, other):
    other = self._wrap(other)
    self.data += other.data
    return self


def _add_reads_self_grad(self, other):
    other = self._wrap(other)
    out = type(self)(self.data + other.data, (self, other), "+")

    def _backward():
        self.grad += out.grad
        other.grad += self.grad          # right only while self had no gradient before
    out._backward = _backward
    return out


def _pow_wrong(self, k):
    out = type(self)(self.data ** k, (self,), "**")

    def _backward():
        self.grad += k * self.data ** k * out.grad
    out._backward = _backward
    return out


def _tanh_input(self):
    t = math.tanh(self.data)
    out = type(self)(t, (self,), "tanh")
    x = self.data

    def _backward():
        self.grad += (1 - x ** 2) * out.grad
    out._backward = _backward
    return out


def _tanh_no_upstream(self):
    t = math.tanh(self.data)
    out = type(self)(t, (self,), "tanh")

    def _backward():
        self.grad += 1 - t ** 2
    out._backward = _backward
    return out


def _relu_kink_one(self):
    out = type(self)(max(0.0, self.data), (self,), "relu")

    def _backward():
        self.grad += (1.0 if self.data >= 0 else 0.0) * out.grad
    out._backward = _backward
    return out


def _relu_output_grad(self):                     # derivative read from out.data > 0 is right; this one not
    out = type(self)(max(0.0, self.data), (self,), "relu")

    def _backward():
        self.grad += out.data * out.grad
    out._backward = _backward
    return out


VALUE_WRONG = [
    (r"children|_prev|record", _variant("MulNoChildren", __mul__=_mul_no_children)),
    (r"children|_prev|record|other", _variant("MulOnlySelf", __mul__=_mul_only_self_child)),
    (r"\+=|adds|add into|used twice|overwr", _variant("MulAssign", __mul__=_mul_assign)),
    (r"out\.grad|from above|upstream", _variant("MulNoUpstream", __mul__=_mul_no_upstream)),
    (r"other|swapped|the other input|own", _variant("MulOwnData", __mul__=_mul_own_data)),
    (r"number|MyValue\(other\)|wrap", _variant("MulNoWrap", __mul__=_mul_no_wrap)),
    (r"_backward|backward|forward|at once|eager", _variant("MulEager", __mul__=_mul_eager)),
    (r"number|MyValue\(other\)|wrap", _variant("AddNoWrap", __add__=_add_no_wrap)),
    (r"\+=|adds|add into|used twice|overwr", _variant("AddAssign", __add__=_add_assign)),
    (r"one of the inputs.*in place", _variant("AddInPlace", __add__=_add_in_place)),
    (r"b got a's gradient", _variant("AddReadsSelfGrad", __add__=_add_reads_self_grad)),
    (r"k - 1|k·a\^\(k-1\)|power|\*\*", _variant("PowWrong", __pow__=_pow_wrong)),
    (r"output|t = tanh|1 - t|tanh", _variant("TanhOfInput", tanh=_tanh_input)),
    (r"out\.grad|from above|upstream", _variant("TanhNoUpstream", tanh=_tanh_no_upstream)),
    (r"a = 0|kink|0 at|exactly", _variant("ReluKinkOne", relu=_relu_kink_one)),
    (r"relu|1\[a ?> ?0\]|indicator|differs|expected", _variant("ReluOutputGrad", relu=_relu_output_grad)),
]
for _hint, _cls in VALUE_WRONG:
    BANK.setdefault("value_ops", []).append(("fail", _hint, _cls))
BANK["value_ops"].append(("pass", None, MV))


class MVGeneric(MV):
    """Correct, written differently: one generic node maker; relu through max and a comparison."""

    def _node(self, data, parents, op, locals_):
        out = type(self)(data, parents, op)

        def _backward():
            for p, d in zip(parents, locals_):
                p.grad += d * out.grad
        out._backward = _backward
        return out

    def __add__(self, other):
        other = other if isinstance(other, MV) else type(self)(other)
        return self._node(self.data + other.data, (self, other), "+", (1.0, 1.0))

    def __mul__(self, other):
        other = other if isinstance(other, MV) else type(self)(other)
        return self._node(self.data * other.data, (self, other), "*", (other.data, self.data))

    def __pow__(self, k):
        return self._node(self.data ** k, (self,), "**", (k * self.data ** (k - 1),))

    def tanh(self):
        t = (math.exp(2 * self.data) - 1) / (math.exp(2 * self.data) + 1) if abs(self.data) < 300 \
            else math.copysign(1.0, self.data)
        return self._node(t, (self,), "tanh", (1 - t * t,))

    def relu(self):
        return self._node(max(self.data, 0.0), (self,), "relu", (float(self.data > 0),))


BANK["value_ops"].append(("pass", None, MVGeneric))


# ===================================================================== 05 topo_order
def topo_bfs_reversed(root):
    order, seen, queue = [], {id(root)}, [root]
    while queue:
        node = queue.pop(0)
        order.append(node)
        for c in node._prev:
            if id(c) not in seen:
                seen.add(id(c)); queue.append(c)
    return order[::-1]


def topo_recursive(root):
    order, seen = [], set()

    def visit(v):
        if id(v) not in seen:
            seen.add(id(v))
            for c in v._prev:
                visit(c)
            order.append(v)
    visit(root)
    return order


def topo_no_visited(root):
    order, stack = [], [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in node._prev)
    return order


def topo_root_first(root):
    return topo_ref_like(root)[::-1]


def topo_no_root(root):
    return topo_ref_like(root)[:-1]


def topo_preorder_reversed(root):
    order, seen, stack = [], set(), [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node)
        stack.extend(node._prev)
    return order[::-1]


def topo_dedup_by_data(root):
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            if node.data not in seen:
                seen.add(node.data); order.append(node)
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in node._prev)
    return order


def topo_leaves_only(root):
    return [n for n in topo_ref_like(root) if not n._prev] + [root]


def topo_sorted_by_id(root):
    nodes, stack, seen = [], [root], set()
    while stack:
        n = stack.pop()
        if id(n) not in seen:
            seen.add(id(n)); nodes.append(n); stack.extend(n._prev)
    nodes.sort(key=id)
    nodes.remove(root)
    return nodes + [root]


def topo_ref_like(root):
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in node._prev if id(c) not in visited)
    return order


def topo_kahn(root):
    nodes, stack, seen = [], [root], {id(root)}
    while stack:
        n = stack.pop()
        nodes.append(n)
        for c in n._prev:
            if id(c) not in seen:
                seen.add(id(c)); stack.append(c)
    consumers = {id(n): 0 for n in nodes}
    for n in nodes:
        for c in n._prev:
            consumers[id(c)] += 1
    ready, out = [root], []
    while ready:
        n = ready.pop()
        out.append(n)
        for c in n._prev:
            consumers[id(c)] -= 1
            if consumers[id(c)] == 0:
                ready.append(c)
    return out[::-1]


def topo_iterators(root):
    """Correct, differently: a stack of (node, iterator over its inputs), as in an iterative DFS."""
    order, seen, stack = [], {id(root)}, [(root, iter(root._prev))]
    while stack:
        node, children = stack[-1]
        for child in children:
            if id(child) not in seen:
                seen.add(id(child))
                stack.append((child, iter(child._prev)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


for _hint, _fn in [(r"before|input|order|after", topo_bfs_reversed),
                   (r"recursion|recursive", topo_recursive),
                   (r"once|twice|more than once|duplicate", topo_no_visited),
                   (r"root last|last|before|order", topo_root_first),
                   (r"root|every node|missing", topo_no_root),
                   (r"before|input|order|after", topo_preorder_reversed),
                   (r"distinct nodes but the graph has", topo_dedup_by_data),
                   (r"distinct nodes but the graph has", topo_leaves_only),
                   (r"before|input|order|after", topo_sorted_by_id)]:
    BANK.setdefault("topo_order", []).append(("fail", _hint, _fn))
BANK["topo_order"] += [("pass", None, topo_ref_like), ("pass", None, topo_kahn), ("pass", None, topo_iterators)]


# ===================================================================== 05 value_backward
def bw_no_reset(root):
    order = topo_ref_like(root)
    root.grad = 1.0
    for n in reversed(order):
        n._backward()
    return order


def bw_no_seed(root):
    order = topo_ref_like(root)
    for n in order:
        n.grad = 0.0
    for n in reversed(order):
        n._backward()
    return order


def bw_forward_order(root):
    order = topo_ref_like(root)
    for n in order:
        n.grad = 0.0
    root.grad = 1.0
    for n in order:
        n._backward()
    return order


def bw_reset_after_seed(root):
    order = topo_ref_like(root)
    root.grad = 1.0
    for n in order:
        n.grad = 0.0
    for n in reversed(order):
        n._backward()
    return order


def bw_no_return(root):
    order = topo_ref_like(root)
    for n in order:
        n.grad = 0.0
    root.grad = 1.0
    for n in reversed(order):
        n._backward()


def bw_reset_leaves_only(root):
    order = topo_ref_like(root)
    for n in order:
        if not n._prev:
            n.grad = 0.0
    root.grad = 1.0
    for n in reversed(order):
        n._backward()
    return order


def bw_root_only(root):
    order = topo_ref_like(root)
    for n in order:
        n.grad = 0.0
    root.grad = 1.0
    root._backward()
    return order


def bw_seed_add(root):
    order = topo_ref_like(root)
    root.grad += 1.0
    for n in reversed(order):
        n._backward()
    return order


def bw_bfs(root):
    order = topo_bfs_reversed(root)
    for n in order:
        n.grad = 0.0
    root.grad = 1.0
    for n in reversed(order):
        n._backward()
    return order


def bw_recursive_topo(root):
    order = topo_recursive(root)
    for n in order:
        n.grad = 0.0
    root.grad = 1.0
    for n in reversed(order):
        n._backward()
    return order


def bw_kahn(root):
    order = topo_kahn(root)
    for n in order:
        n.grad = 0
    root.grad = 1
    for i in range(len(order) - 1, -1, -1):
        order[i]._backward()
    return list(order)


for _hint, _fn in [(r"reset|accumulat|0\.0|twice|again", bw_no_reset),
                   (r"seed|1\.0|root\.grad", bw_no_seed),
                   (r"leaves first instead of root first", bw_forward_order),
                   (r"seed|1\.0|root\.grad|after", bw_reset_after_seed),
                   (r"return|None", bw_no_return),
                   (r"second call gave", bw_reset_leaves_only),
                   (r"every node|each node|root", bw_root_only),
                   (r"reset|accumulat|0\.0|twice|again", bw_seed_add),
                   (r"after every node that uses it", bw_bfs),
                   (r"recursion|recursive", bw_recursive_topo)]:
    BANK.setdefault("value_backward", []).append(("fail", _hint, _fn))
BANK["value_backward"] += [("pass", None, bw_kahn)]


def _engine(cls, topo=topo_ref_like, backward=None):
    def method_backward(self):
        order = self.topological_order()
        for n in order:
            n.grad = 0.0
        self.grad = 1.0
        for n in reversed(order):
            n._backward()
        return order
    return type(cls.__name__ + "Engine", (cls,), {"topological_order": topo, "backward": backward or method_backward})


BANK["value_engine"] = [("fail", h, _engine(c)) for h, c in VALUE_WRONG[:6]] + [
    ("fail", r"topological_order|order|backward", _engine(MV, topo=topo_bfs_reversed)),
    ("fail", r"recursion", _engine(MV, topo=topo_recursive)),
    ("fail", r"topological_order|backward|reset", _engine(MV, backward=lambda self: bw_no_reset(self))),
    ("fail", r"no method", MV),
    ("pass", None, _engine(MV)),
    ("pass", None, _engine(MVGeneric, topo=topo_kahn)),
]


# ===================================================================== 05 value_mul / value_tanh (methods of nblib's Value)
def _w(self, other):
    return other if hasattr(other, "data") else type(self)(other)


def _mk_mul(local_self, local_other, children=True, assign=False, wrap=True):
    def mul(self, other):
        other = _w(self, other) if wrap else other
        out = type(self)(self.data * other.data, (self, other) if children else (), "*")

        def _backward():
            if assign:
                self.grad = local_self(self, other) * out.grad
                other.grad = local_other(self, other) * out.grad
            else:
                self.grad += local_self(self, other) * out.grad
                other.grad += local_other(self, other) * out.grad
        out._backward = _backward
        return out
    return mul


def _mul_no_up(self, other):
    other = _w(self, other)
    out = type(self)(self.data * other.data, (self, other), "*")

    def _backward():
        self.grad += other.data
        other.grad += self.data
    out._backward = _backward
    return out


_OTHER, _SELF = (lambda s, o: o.data), (lambda s, o: s.data)
BANK["value_mul"] = [
    ("fail", r"record|children|_prev", _named(_mk_mul(_OTHER, _SELF, children=False), "mul_no_children")),
    ("fail", r"used twice|overwrite|=", _named(_mk_mul(_OTHER, _SELF, assign=True), "mul_assign")),
    ("fail", r"swapped", _named(_mk_mul(_SELF, _OTHER), "mul_swapped")),
    ("fail", r"plain number|wrap|data", _named(_mk_mul(_OTHER, _SELF, wrap=False), "mul_no_wrap")),
    ("fail", r"from above|out\.grad|upstream", _named(_mul_no_up, "mul_no_upstream")),
    ("fail", r"gradients|expected|differ", _named(_mk_mul(lambda s, o: 1.0, lambda s, o: 1.0), "mul_like_add")),
    ("pass", None, _named(_mk_mul(_OTHER, _SELF), "mul_right")),
    ("pass", None, _named(lambda self, other: (lambda o: (lambda out: (setattr(out, "_backward", lambda: (
        setattr(self, "grad", self.grad + o.data * out.grad), setattr(o, "grad", o.grad + self.data * out.grad)))
        or out))(type(self)(self.data * o.data, (self, o), "*")))(_w(self, other)), "mul_one_liner")),
]


def _mk_tanh(local, upstream=True, children=True):
    def tanh(self):
        t = math.tanh(self.data)
        out = type(self)(t, (self,) if children else (), "tanh")

        def _backward():
            self.grad += local(self.data, t) * (out.grad if upstream else 1.0)
        out._backward = _backward
        return out
    return tanh


BANK["value_tanh"] = [
    ("fail", r"input|output", _named(_mk_tanh(lambda x, t: 1 - x * x), "tanh_of_input")),
    ("fail", r"from above|out\.grad|upstream", _named(_mk_tanh(lambda x, t: 1 - t * t, upstream=False), "tanh_no_up")),
    ("fail", r"record|children|_prev", _named(_mk_tanh(lambda x, t: 1 - t * t, children=False), "tanh_no_children")),
    ("fail", r"gradient|expected|differ|sech|square", _named(_mk_tanh(lambda x, t: 1 - t), "tanh_no_square")),
    ("fail", r"gradient|expected|differ|sign", _named(_mk_tanh(lambda x, t: t * t - 1), "tanh_sign")),
    ("fail", r"gradient|expected|differ", _named(_mk_tanh(lambda x, t: 1 / math.cosh(x)), "tanh_sech_not_squared")),
    ("pass", None, _named(_mk_tanh(lambda x, t: 1 / math.cosh(x) ** 2), "tanh_sech2")),
]


# ===================================================================== 06 affine_module
from torch import nn  # noqa: E402


def _affine(init_W, init_b=lambda h: torch.zeros(h, dtype=torch.float64), forward=None, name="Affine",
            plain=False):
    class Affine(nn.Module):
        def __init__(self, d, h):
            super().__init__()
            W, b = init_W(d, h), init_b(h)
            if plain:
                self.W, self.b = W, b
            else:
                self.W, self.b = nn.Parameter(W), nn.Parameter(b)

        def forward(self, x):
            return forward(self, x) if forward else x @ self.W + self.b
    Affine.__name__ = Affine.__qualname__ = name
    return Affine


def _he(d, h, dtype=torch.float64):
    return torch.randn(d, h, dtype=dtype) * math.sqrt(2.0 / d)


def _kaiming_default(d, h):
    W = torch.empty(d, h, dtype=torch.float64)
    nn.init.kaiming_normal_(W)                   # fan_in of a (d, h) tensor is h to torch
    return W


def _kaiming_fan_out(d, h):
    W = torch.empty(d, h, dtype=torch.float64)
    nn.init.kaiming_normal_(W, mode="fan_out", nonlinearity="relu")   # fan_out = size(0) = d
    return W


class AffineLinearInside(nn.Module):              # nn.Linear's (h, d) weight exposed as W
    def __init__(self, d, h):
        super().__init__()
        self.lin = nn.Linear(d, h, dtype=torch.float64)
        self.W, self.b = self.lin.weight, self.lin.bias

    def forward(self, x):
        return self.lin(x)


BANK["affine_module"] = [
    ("fail", r"float32|float64|dtype", _affine(lambda d, h: _he(d, h, torch.float32),
                                               lambda h: torch.zeros(h), name="AffineFloat32")),
    ("fail", r"float32|float64|dtype", _affine(lambda d, h: _he(d, h, torch.float32), name="AffineWFloat32")),
    ("fail", r"std|standard deviation|He|sqrt\(2/d\)|scale", _affine(lambda d, h: torch.randn(d, h, dtype=torch.float64),
                                                                     name="AffineStd1")),
    ("fail", r"std|standard deviation|He|sqrt\(2/d\)|1/d|scale",
     _affine(lambda d, h: torch.randn(d, h, dtype=torch.float64) * math.sqrt(1.0 / d), name="AffineLeCun")),
    ("fail", r"std|standard deviation|He|fan|h\b|scale",
     _affine(lambda d, h: torch.randn(d, h, dtype=torch.float64) * math.sqrt(2.0 / h), name="AffineFanOut")),
    ("fail", r"std|standard deviation|He|fan|h\b|scale", _affine(_kaiming_default, name="AffineKaimingDefault")),
    ("fail", r"std|standard deviation|variance|2/d|scale",
     _affine(lambda d, h: torch.randn(d, h, dtype=torch.float64) * (2.0 / d), name="AffineVarianceAsStd")),
    ("fail", r"b\b|bias|zero", _affine(_he, lambda h: torch.randn(h, dtype=torch.float64), name="AffineRandomBias")),
    ("fail", r"Parameter|parameters", _affine(_he, plain=True, name="AffinePlainTensors")),
    ("fail", r"bias|b\b|differs|output", _affine(_he, forward=lambda self, x: x @ self.W, name="AffineNoBias")),
    ("fail", r"shape|layout|\(d, h\)", _affine(lambda d, h: torch.randn(h, d, dtype=torch.float64) * math.sqrt(2.0 / d),
                                                forward=lambda self, x: x @ self.W.T + self.b, name="AffineTransposed")),
    ("fail", r"shape|layout|\(d, h\)|nn\.Linear", AffineLinearInside),
    ("fail", r"mean|centred|uniform|std|scale",
     _affine(lambda d, h: torch.rand(d, h, dtype=torch.float64) * math.sqrt(2.0 / d), name="AffineUniform01")),
    ("pass", None, _affine(_he, name="AffineHe")),
    ("pass", None, _affine(_kaiming_fan_out, forward=lambda self, x: torch.addmm(self.b, x, self.W),
                           name="AffineKaimingFanOut")),
    ("pass", None, _affine(lambda d, h: torch.empty(d, h, dtype=torch.float64).normal_(0.0, math.sqrt(2 / d)),
                           forward=lambda self, x: torch.einsum("nd,dh->nh", x, self.W) + self.b, name="AffineEinsum")),
]


class AffineNumpyForward(nn.Module):             # the right numbers, computed outside autograd
    def __init__(self, d, h):
        super().__init__()
        self.W = nn.Parameter(_he(d, h))
        self.b = nn.Parameter(torch.zeros(h, dtype=torch.float64))

    def forward(self, x):
        return torch.tensor(x.detach().numpy() @ self.W.detach().numpy() + self.b.detach().numpy())


class AffineReluInside(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.W = nn.Parameter(_he(d, h))
        self.b = nn.Parameter(torch.zeros(h, dtype=torch.float64))

    def forward(self, x):
        return torch.relu(x @ self.W + self.b)


class AffineDoubleAfter(nn.Module):              # float32 parameters, then .double() on the module: correct
    def __init__(self, d, h):
        super().__init__()
        self.W = nn.Parameter(torch.randn(d, h) * math.sqrt(2.0 / d))
        self.b = nn.Parameter(torch.zeros(h))
        self.double()

    def forward(self, x):
        return torch.matmul(x, self.W) + self.b


BANK["affine_module"] += [
    ("fail", r"requires_grad is False|left the graph", AffineNumpyForward),
    ("fail", r"does not compute x @ W \+ b", AffineReluInside),
    ("fail", r"no parameters", _affine(lambda d, h: (torch.randn(d, h) * math.sqrt(2 / d)), plain=True,
                                        name="AffineParameterThenDouble")),
    ("pass", None, AffineDoubleAfter),
]


# ===================================================================== 06 train_step
def _step(order=("zero", "forward", "loss", "backward", "step"), swap_args=False, ret="item", twice=False):
    def step(model, optimizer, loss_fn, X, y):
        loss = None
        for what in order:
            if what == "zero":
                optimizer.zero_grad()
            elif what == "mzero":
                model.zero_grad()
            elif what == "forward":
                out = model(X)
            elif what == "nograd_forward":
                with torch.no_grad():
                    out = model(X)
            elif what == "loss":
                loss = loss_fn(y, out) if swap_args else loss_fn(out, y)
            elif what == "backward":
                loss.backward()
                if twice:
                    out2 = model(X)
                    loss_fn(out2, y).backward()
            elif what == "step":
                optimizer.step()
        if ret == "item":
            return loss.item()
        if ret == "tensor":
            return loss
        if ret == "after":
            with torch.no_grad():
                return loss_fn(model(X), y).item()
        return None
    return step


BANK["train_step"] = [
    ("fail", r"never reset", _named(_step(order=("forward", "loss", "backward", "step")), "no_zero_grad")),
    ("fail", r"zero_grad|after backward|erase", _named(_step(order=("forward", "loss", "backward", "zero", "step")),
                                                       "zero_grad_between_backward_and_step")),
    ("fail", r"step\(\)|never|update", _named(_step(order=("zero", "forward", "loss", "backward")), "no_step")),
    ("fail", r"integer labels where", _named(_step(swap_args=True), "loss_args_swapped")),
    ("fail", r"float|item|tensor", _named(_step(ret="tensor"), "returns_tensor")),
    ("fail", r"before the update|after|loss", _named(_step(ret="after"), "loss_after_update")),
    ("fail", r"step\(\)|backward|order|before", _named(_step(order=("zero", "forward", "loss", "step", "backward")),
                                                      "step_before_backward")),
    ("fail", r"no_grad|grad|backward|graph", _named(_step(order=("zero", "nograd_forward", "loss", "backward", "step")),
                                                   "forward_under_no_grad")),
    ("fail", r"backward|twice|once|differ", _named(_step(twice=True), "backward_twice")),
    ("fail", r"no `return`", _named(_step(ret=None), "no_return")),
    ("fail", r"only after the update", _named(_step(order=("forward", "loss", "backward", "step", "zero")),
                                             "zero_grad_at_the_end")),
    ("pass", None, _named(_step(order=("mzero", "forward", "loss", "backward", "step")), "model_zero_grad")),
]


@right("train_step")
def ts_set_to_none_and_float(model, optimizer, loss_fn, X, y):
    for p in model.parameters():
        p.grad = None
    loss = loss_fn(model(X), y)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


# ===================================================================== 06 evaluate_accuracy
def _ev(eval_mode=True, no_grad=True, dim=1, reduce="mean", ret="item"):
    def evaluate(model, X, y):
        if eval_mode:
            model.eval()
        ctx = torch.no_grad() if no_grad else torch.enable_grad()
        with ctx:
            pred = model(X).argmax(dim=dim)
        hits = pred == y if pred.shape == y.shape else pred[: len(y)] == y
        if reduce == "mean":
            acc = hits.float().mean()
        elif reduce == "sum":
            acc = hits.sum()
        elif reduce == "floordiv":
            acc = hits.sum() // len(y)
        elif reduce == "percent":
            acc = 100 * hits.float().mean()
        return acc.item() if ret == "item" else acc
    return evaluate


BANK["evaluate_accuracy"] = [
    ("fail", r"eval\(\)|dropout|train", _named(_ev(eval_mode=False), "no_eval")),
    ("fail", r"gradient tracking on", _named(_ev(no_grad=False), "no_no_grad")),
    ("fail", r"number of correct predictions", _named(_ev(reduce="sum"), "count_not_fraction")),
    ("fail", r"integer|//|fraction|0\b|float", _named(_ev(reduce="floordiv"), "floor_division")),
    ("fail", r"percent|\[0, 1\]|100|fraction", _named(_ev(reduce="percent"), "percent")),
    ("fail", r"Python float", _named(_ev(ret="tensor"), "returns_tensor")),
    ("fail", r"dim|axis|argmax", _named(_ev(dim=0), "argmax_dim0")),
    ("pass", None, _named(_ev(), "ev_reference_like")),
]


@wrong("evaluate_accuracy", r"argmax|threshold|differs|expected|accuracy")
def ev_softmax_threshold(model, X, y):
    model.eval()
    with torch.no_grad():
        p = torch.softmax(model(X), dim=1)
    return float((p[torch.arange(len(y)), y] > 0.5).double().mean())


@right("evaluate_accuracy")
def ev_inference_mode(model, X, y):
    was = model.training
    model.train(False)
    with torch.inference_mode():
        correct = sum(int(row.argmax()) == int(label) for row, label in zip(model(X), y))
    model.train(was)
    return correct / len(y)


# ===================================================================== 06 fit_loop
def _ts(model, optimizer, loss_fn, X, y):
    optimizer.zero_grad()
    loss = loss_fn(model(X), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def _evaluate(model, X, y):
    model.eval()
    with torch.no_grad():
        return (model(X).argmax(dim=1) == y).double().mean().item()


def _fit(weighting="per sample", train_each_epoch=True, val="each epoch", epochs_shift=0, ret_tensor=False,
         val_on_train=False, keep_train=False):
    def fit(model, optimizer, loss_fn, loader, epochs, X_val, y_val):
        hist = {"train_loss": [], "val_acc": []}
        if not train_each_epoch:
            model.train()
        for _ in range(epochs + epochs_shift):
            if train_each_epoch:
                model.train()
            total, count, losses = 0.0, 0, []
            for Xb, yb in loader:
                loss = _ts(model, optimizer, loss_fn, Xb, yb)
                losses.append(loss)
                total += loss * len(yb)
                count += len(yb)
                if val == "each batch":
                    hist["val_acc"].append(_evaluate(model, X_val, y_val))
            if weighting == "per sample":
                hist["train_loss"].append(total / count)
            elif weighting == "per batch":
                hist["train_loss"].append(sum(losses) / len(losses))
            elif weighting == "sum":
                hist["train_loss"].append(total)
            elif weighting == "fixed batch size":
                hist["train_loss"].append(sum(l * loader.batch_size for l in losses) / (loader.batch_size * len(losses)))
            elif weighting == "last batch":
                hist["train_loss"].append(losses[-1])
            if val == "each epoch":
                if val_on_train:
                    Xa = torch.cat([Xb for Xb, _ in loader]); ya = torch.cat([yb for _, yb in loader])
                    acc = _evaluate(model, Xa, ya)
                else:
                    acc = _evaluate(model, X_val, y_val)
                if keep_train:
                    model.train()
                hist["val_acc"].append(torch.tensor(acc) if ret_tensor else acc)
        if val == "end":
            hist["val_acc"].append(_evaluate(model, X_val, y_val))
        return hist
    return fit


BANK["fit_loop"] = [
    ("fail", r"per sample|mean of the batch|last batch|n_b|weigh", _named(_fit(weighting="per batch"), "mean_of_batch_losses")),
    ("fail", r"train\(\)|eval|dropout|training mode", _named(_fit(train_each_epoch=False), "train_mode_once")),
    ("fail", r"sum|mean|per sample", _named(_fit(weighting="sum"), "summed_losses")),
    ("fail", r"per sample|mean of the batch|last batch|n_b|weigh", _named(_fit(weighting="fixed batch size"), "weights_by_batch_size")),
    ("fail", r"per sample|mean|last batch|epoch", _named(_fit(weighting="last batch"), "last_batch_loss")),
    ("fail", r"val|one per epoch|epoch|entries", _named(_fit(val="end"), "val_once_at_end")),
    ("fail", r"val|one per epoch|epoch|entries", _named(_fit(val="each batch"), "val_every_batch")),
    ("fail", r"epoch|one per epoch|entries|parameters", _named(_fit(epochs_shift=-1), "one_epoch_short")),
    ("fail", r"epoch|one per epoch|entries|parameters", _named(_fit(epochs_shift=1), "one_epoch_too_many")),
    ("fail", r"float|tensor", _named(_fit(ret_tensor=True), "val_acc_tensors")),
    ("fail", r"parameters differ|val", _named(_fit(val_on_train=True), "val_on_training_data")),
    ("pass", None, _named(_fit(), "fit_reference_like")),
    ("pass", None, _named(_fit(keep_train=True), "fit_back_to_train_after_eval")),
]


@right("fit_loop")
def fit_dataset_len(model, optimizer, loss_fn, loader, epochs, X_val, y_val):
    history = {"train_loss": [], "val_acc": []}
    for _ in range(epochs):
        model.train()
        running = 0.0
        for Xb, yb in loader:
            running += _ts(model, optimizer, loss_fn, Xb, yb) * yb.shape[0]
        history["train_loss"].append(running / len(loader.dataset))
        history["val_acc"].append(float(_evaluate(model, X_val, y_val)))
    return history


# ===================================================================== 07 ce_backward_steps
def _ce_bw(**override):
    def steps(t, labels):
        n = t["logits"].shape[0]
        rows = np.arange(n)
        d = {}
        d["dpicked"] = override["dpicked"](t) if "dpicked" in override else -np.ones(n) / n

        def dlogp():
            g = np.zeros_like(t["logp"])
            g[rows, labels] = d["dpicked"]
            return g
        d["dlogp"] = override.get("dlogp", dlogp)() if "dlogp" not in override else override["dlogp"](t, labels, d)
        d["dprobs"] = override["dprobs"](t, d) if "dprobs" in override else d["dlogp"] / t["probs"]
        d["ds_inv"] = override["ds_inv"](t, d) if "ds_inv" in override else \
            (d["dprobs"] * t["e"]).sum(axis=1, keepdims=True)
        d["ds"] = override["ds"](t, d) if "ds" in override else -d["ds_inv"] / t["s"] ** 2
        d["de"] = override["de"](t, d) if "de" in override else d["dprobs"] * t["s_inv"] + d["ds"]
        d["dshifted"] = override["dshifted"](t, d) if "dshifted" in override else d["de"] * t["e"]
        d["dmaxes"] = override["dmaxes"](t, d) if "dmaxes" in override else -d["dshifted"].sum(axis=1, keepdims=True)
        if "dlogits" in override:
            d["dlogits"] = override["dlogits"](t, d)
        else:
            g = d["dshifted"].copy()
            g[rows, t["logits"].argmax(axis=1)] += d["dmaxes"][:, 0]
            d["dlogits"] = g
        return d
    return steps


def _ce_mutating(t, labels):
    d = _ce_bw()(t, labels)
    t["probs"] *= 1.0 + 1e-3                    # "scratch work" in the caller's dict
    return d


def _block_dlogp(t, labels, d):
    g = np.zeros_like(t["logp"])
    g[:, labels] = d["dpicked"][:, None] if False else d["dpicked"][0]
    return g


BANK["ce_backward_steps"] = [
    ("fail", r"dpicked", _named(_ce_bw(dpicked=lambda t: -np.ones(len(t["logits"]))), "dpicked_no_mean")),
    ("fail", r"dpicked", _named(_ce_bw(dpicked=lambda t: np.ones(len(t["logits"])) / len(t["logits"])), "dpicked_sign")),
    ("fail", r"dlogp|label|picked|column|scatter", _named(_ce_bw(dlogp=_block_dlogp), "dlogp_block")),
    ("fail", r"dprobs|log|1/p|divid", _named(_ce_bw(dprobs=lambda t, d: d["dlogp"] * t["probs"]), "dprobs_times_p")),
    ("fail", r"ds_inv|sum|broadcast|shape", _named(_ce_bw(ds_inv=lambda t, d: d["dprobs"] * t["e"]), "ds_inv_no_sum")),
    ("fail", r"ds_inv|keepdims|shape|\(n, 1\)|broadcast", _named(_ce_bw(ds_inv=lambda t, d: (d["dprobs"] * t["e"]).sum(axis=1)),
                                                       "ds_inv_no_keepdims")),
    ("fail", r"ds\b|1/s|s\^2|s²|square", _named(_ce_bw(ds=lambda t, d: -d["ds_inv"] / t["s"]), "ds_not_squared")),
    ("fail", r"ds\b|sign", _named(_ce_bw(ds=lambda t, d: d["ds_inv"] / t["s"] ** 2), "ds_sign")),
    ("fail", r"de\b|twice|both|ds|two paths|used", _named(_ce_bw(de=lambda t, d: d["dprobs"] * t["s_inv"]), "de_one_path")),
    ("fail", r"dshifted|exp|e\b", _named(_ce_bw(dshifted=lambda t, d: d["de"]), "dshifted_no_exp")),
    ("fail", r"dlogits", _named(_ce_bw(dlogits=lambda t, d: d["de"].copy()), "dlogits_skips_exp")),
    ("fail", r"dlogits|dmaxes", _named(_ce_bw(dlogits=lambda t, d: d["dmaxes"] * np.ones_like(t["logits"])),
                                      "dlogits_max_path_only")),
    ("fail", r"in place|changed|t\b", _named(_ce_mutating, "changes_t")),
    ("fail", r"dict|returned", _named(lambda t, labels: tuple(_ce_bw()(t, labels).values()), "returns_tuple")),
    ("fail", r"key|missing|dmaxes", _named(lambda t, labels: {k: v for k, v in _ce_bw()(t, labels).items() if k != "dmaxes"},
                                           "missing_key")),
    ("pass", None, _named(_ce_bw(), "ce_bw_index_assign")),
]


@right("ce_backward_steps")
def ce_bw_torch(t, labels):
    names = ["logits", "maxes", "shifted", "e", "s", "s_inv", "probs", "logp", "picked"]
    logits = torch.tensor(t["logits"], requires_grad=True)
    maxes = logits.max(dim=1, keepdim=True).values
    shifted = logits - maxes
    e = shifted.exp()
    s = e.sum(dim=1, keepdim=True)
    s_inv = 1.0 / s
    probs = e * s_inv
    logp = probs.log()
    picked = logp[torch.arange(len(labels)), torch.as_tensor(labels)]
    tensors = dict(zip(names, [logits, maxes, shifted, e, s, s_inv, probs, logp, picked]))
    for v in tensors.values():
        v.retain_grad()
    (-picked.mean()).backward()
    return {"d" + k: v.grad.numpy().copy() for k, v in tensors.items()}


# ===================================================================== 07 batchnorm_forward
def _bnf(unbiased_running=True, momentum_swapped=False, eval_uses_batch=False, eval_updates=False, inplace=False,
         eps_outside=False, ddof1=False, axis=0, cache_var=False, no_mode=False, no_store=False, swap_gb=False):
    def forward(x, gamma, beta, bn_param):
        mode, m, eps = bn_param["mode"], bn_param["momentum"], bn_param["eps"]
        n = x.shape[0]
        if mode == "train" or eval_uses_batch:
            mu = x.mean(axis=axis, keepdims=axis == 1)
            var = x.var(axis=axis, ddof=1 if ddof1 else 0, keepdims=axis == 1)
            if mode == "train" or eval_updates:
                run_var = var * n / (n - 1) if unbiased_running and not ddof1 else var
                a, b_ = (m, 1 - m) if momentum_swapped else (1 - m, m)
                mu_r, var_r = np.ravel(mu)[: x.shape[1]], np.ravel(run_var)[: x.shape[1]]
                if inplace:
                    bn_param["running_mean"] *= a; bn_param["running_mean"] += b_ * mu_r
                    bn_param["running_var"] *= a; bn_param["running_var"] += b_ * var_r
                elif not no_store:
                    bn_param["running_mean"] = a * bn_param["running_mean"] + b_ * mu_r
                    bn_param["running_var"] = a * bn_param["running_var"] + b_ * var_r
        else:
            mu, var = bn_param["running_mean"], bn_param["running_var"]
        if mode == "eval" and eval_updates and not eval_uses_batch:
            bn_param["running_mean"] = 0.9 * bn_param["running_mean"] + 0.1 * x.mean(axis=0)
        std = np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)
        xhat = (x - mu) / std
        out = beta * xhat + gamma if swap_gb else gamma * xhat + beta
        cache = {"xhat": xhat, "std": var if cache_var else std, "gamma": gamma, "mode": mode}
        if no_mode:
            del cache["mode"]
        return out, cache
    return forward


BANK["batchnorm_forward"] = [
    ("fail", r"unbiased|n/\(n-1\)|n / \(n - 1\)|running_var", _named(_bnf(unbiased_running=False), "biased_running_var")),
    ("fail", r"momentum|weight of the new|0\.1|swapped", _named(_bnf(momentum_swapped=True), "momentum_swapped")),
    ("fail", r"eval|running statistics|batch", _named(_bnf(eval_uses_batch=True), "eval_uses_batch_stats")),
    ("fail", r"eval|unchanged|changed|running", _named(_bnf(eval_updates=True), "eval_updates_running")),
    ("fail", r"in place.*assign a new array", _named(_bnf(inplace=True), "running_in_place")),
    ("fail", r"eps|ε|inside|square root", _named(_bnf(eps_outside=True), "eps_outside_sqrt")),
    ("fail", r"variance you normalise with", _named(_bnf(ddof1=True), "normalise_with_unbiased_var")),
    ("fail", r"axis|batch|column|feature|shape", _named(_bnf(axis=1), "normalise_over_features")),
    ("fail", r"std|cache", _named(_bnf(cache_var=True), "cache_holds_var")),
    ("fail", r"mode|cache|key", _named(_bnf(no_mode=True), "cache_without_mode")),
    ("fail", r"store|running|bn_param", _named(_bnf(no_store=True), "running_not_stored")),
    ("fail", r"gamma|beta|γ|β|swapped|scale", _named(_bnf(swap_gb=True), "gamma_beta_swapped")),
    ("pass", None, _named(_bnf(), "bn_forward_reference_like")),
]


@right("batchnorm_forward")
def bnf_torch(x, gamma, beta, bn_param):
    bn = torch.nn.BatchNorm1d(x.shape[1], momentum=bn_param["momentum"], eps=bn_param["eps"], dtype=torch.float64)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(gamma)); bn.bias.copy_(torch.tensor(beta))
        bn.running_mean.copy_(torch.tensor(bn_param["running_mean"]))
        bn.running_var.copy_(torch.tensor(bn_param["running_var"]))
        bn.train(bn_param["mode"] == "train")
        X = torch.tensor(x)
        out = bn(X).numpy()
    if bn_param["mode"] == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = bn.running_mean.numpy().copy()
        bn_param["running_var"] = bn.running_var.numpy().copy()
    else:
        mu, var = bn_param["running_mean"], bn_param["running_var"]
    std = np.sqrt(var + bn_param["eps"])
    return out, {"xhat": (x - mu) / std, "std": std, "gamma": gamma, "mode": bn_param["mode"]}


# ===================================================================== 07 batchnorm_backward
def _bnb(eval_as_train=False, train_as_eval=False, no_mean=False, no_var=False, swap_dg_db=False, no_sum_dgamma=False,
         std_squared=False, no_gamma=False, n_from_d=False):
    def backward(dout, cache):
        xhat, std, gamma, mode = cache["xhat"], cache["std"], cache["gamma"], cache["mode"]
        n = dout.shape[1] if n_from_d else dout.shape[0]
        dbeta = dout.sum(axis=0)
        dgamma = dout * xhat if no_sum_dgamma else (dout * xhat).sum(axis=0)
        if swap_dg_db:
            dgamma, dbeta = dbeta, dgamma
        dxhat = dout if no_gamma else dout * gamma
        s = std ** 2 if std_squared else std
        if (mode == "eval" and not eval_as_train) or train_as_eval:
            return dxhat / s, dgamma, dbeta
        mean_term = 0 if no_mean else dxhat.sum(axis=0)
        var_term = 0 if no_var else xhat * (dxhat * xhat).sum(axis=0)
        return (n * dxhat - mean_term - var_term) / (n * s), dgamma, dbeta
    return backward


BANK["batchnorm_backward"] = [
    ("fail", r"eval", _named(_bnb(eval_as_train=True), "eval_uses_train_formula")),
    ("fail", r"train|mean|variance|statistics|paths", _named(_bnb(train_as_eval=True), "train_uses_eval_formula")),
    ("fail", r"mean|μ|path", _named(_bnb(no_mean=True), "no_mean_path")),
    ("fail", r"varian|σ|path", _named(_bnb(no_var=True), "no_variance_path")),
    ("fail", r"swapped|dgamma|dbeta", _named(_bnb(swap_dg_db=True), "dgamma_dbeta_swapped")),
    ("fail", r"shape|sum|dgamma", _named(_bnb(no_sum_dgamma=True), "dgamma_not_summed")),
    ("fail", r"std|square|differs|dx", _named(_bnb(std_squared=True), "divides_by_variance")),
    ("fail", r"per-column factor", _named(_bnb(no_gamma=True), "no_gamma_factor")),
    ("fail", r"\bn\b|batch size|differs|dx|rows", _named(_bnb(n_from_d=True), "n_from_columns")),
    ("pass", None, _named(_bnb(), "bn_backward_reference_like")),
]


@right("batchnorm_backward")
def bnb_staged(dout, cache):
    xhat, std, gamma, mode = cache["xhat"], cache["std"], cache["gamma"], cache["mode"]
    n = dout.shape[0]
    dgamma = np.einsum("nd,nd->d", dout, xhat)
    dbeta = np.einsum("nd->d", dout)
    dxhat = dout * gamma
    if mode == "eval":
        return dxhat / std, dgamma, dbeta
    # the long way: through xhat = xc / std, std = sqrt(var + eps), var = mean(xc²), xc = x - mu
    xc = xhat * std
    dstd = -(dxhat * xc).sum(axis=0) / std ** 2
    dvar = dstd / (2 * std)
    dxc = dxhat / std + 2 * xc * dvar / n
    dx = dxc - dxc.mean(axis=0)
    return dx, dgamma, dbeta


# ===================================================================== 07 clip_grad_norm
def _clip(per_array=False, by_value=False, no_min=False, no_eps=False, inplace=False, norm_after=False,
          norm="l2", ret="dict"):
    def clip(grads, max_norm):
        norms = {k: float(np.sqrt(np.sum(g ** 2))) for k, g in grads.items()}
        if norm == "l2":
            total = math.sqrt(sum(v ** 2 for v in norms.values()))
        elif norm == "sum":
            total = sum(norms.values())
        elif norm == "squared":
            total = sum(v ** 2 for v in norms.values())
        elif norm == "max":
            total = max(norms.values())
        out = {}
        for k, g in grads.items():
            if by_value:
                out[k] = np.clip(g, -max_norm, max_norm)
                continue
            t = norms[k] if per_array else total
            f = max_norm / (t + (0 if no_eps else 1e-6))
            f = f if no_min else min(1.0, f)
            if inplace:
                g *= f
                out[k] = g
            else:
                out[k] = g * f
        if norm_after:
            total = math.sqrt(sum(float(np.sum(g ** 2)) for g in out.values()))
        return (list(out.values()) if ret == "list" else out), total
    return clip


BANK["clip_grad_norm"] = [
    ("fail", r"each array|separately|per|global|direction", _named(_clip(per_array=True), "per_array")),
    ("fail", r"value|direction|np\.clip|entry", _named(_clip(by_value=True), "by_value")),
    ("fail", r"min|below|small|never|up|larger|1\b", _named(_clip(no_min=True), "always_rescaled")),
    ("fail", r"without the \+ 1e-6|ZeroDivisionError", _named(_clip(no_eps=True), "no_eps")),
    ("fail", r"in place|changed|new dict", _named(_clip(inplace=True), "in_place")),
    ("fail", r"before clipping|norm|after", _named(_clip(norm_after=True), "norm_after_clipping")),
    ("fail", r"norm|sum|square|√|sqrt|global", _named(_clip(norm="sum"), "sum_of_norms")),
    ("fail", r"norm|sum|square|√|sqrt|global", _named(_clip(norm="squared"), "squared_norm")),
    ("fail", r"norm|max|global", _named(_clip(norm="max"), "max_of_norms")),
    ("fail", r"dict|returned|keys", _named(_clip(ret="list"), "returns_list")),
    ("pass", None, _named(_clip(), "clip_reference_like")),
]


@right("clip_grad_norm")
def clip_torch(grads, max_norm):
    ts = {k: torch.tensor(g).clone() for k, g in grads.items()}
    params = []
    for k, t in ts.items():
        p = torch.zeros_like(t, requires_grad=True)
        p.grad = t
        params.append(p)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return {k: p.grad.numpy() for k, p in zip(ts, params)}, float(total)


@right("clip_grad_norm")
def clip_flat(grads, max_norm):
    flat = np.concatenate([np.ravel(g) for g in grads.values()])
    total = float(np.linalg.norm(flat))
    scale = max_norm / (total + 1e-6)
    return {k: (g * scale if scale < 1 else g.copy()) for k, g in grads.items()}, total


# ===================================================================== 10 conv_forward
def _convf(out_size=lambda H, p, k, s: (H + 2 * p - k) // s + 1, flip=False, no_bias=False, pad_mode="constant",
           one_channel=False, stride_in_window=True, bias_per_channel=False, square=False, swap_hw=False):
    def forward(x, W, b, stride, pad):
        N, C, H, Wd = x.shape
        F_, _, HH, WW = W.shape
        if square:
            WW = HH
        Ho = int(out_size(H, pad, HH, stride))
        Wo = int(out_size(Wd, pad, WW, stride))
        if swap_hw:
            Ho, Wo = Wo, Ho
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode=pad_mode)
        K = W[:, :, ::-1, ::-1] if flip else W
        out = np.zeros((N, F_, Ho, Wo))
        for n in range(N):
            for f in range(F_):
                for i in range(Ho):
                    for j in range(Wo):
                        r, c = (i * stride, j * stride) if stride_in_window else (i, j)
                        win = xp[n, :, r:r + HH, c:c + WW]
                        if one_channel:
                            out[n, f, i, j] = np.sum(win[0] * K[f, 0])
                        else:
                            out[n, f, i, j] = np.sum(win * K[f, :, :HH, :WW])
                        if not no_bias:
                            out[n, f, i, j] += b[f]
        return out
    return forward


BANK["conv_forward"] = [
    ("fail", r"shape|floor|H'|output size|round", _named(_convf(out_size=lambda H, p, k, s: math.ceil((H + 2 * p - k) / s) + 1),
                                                        "ceil_output_size")),
    ("fail", r"shape|H'|output size|2 \* pad|pad", _named(_convf(out_size=lambda H, p, k, s: (H + p - k) // s + 1),
                                                         "pad_once_in_size")),
    ("fail", r"shape|H'|\+ 1|output size", _named(_convf(out_size=lambda H, p, k, s: (H + 2 * p - k) // s),
                                                 "no_plus_one")),
    ("fail", r"flip|convolution|correlation", _named(_convf(flip=True), "flipped_kernel")),
    ("fail", r"bias|b\b", _named(_convf(no_bias=True), "no_bias")),
    ("fail", r"differs", _named(_convf(pad_mode="edge"), "edge_padding")),
    ("fail", r"channel|C\b|sum over", _named(_convf(one_channel=True), "first_channel_only")),
    ("fail", r"differs", _named(_convf(stride_in_window=False), "window_not_strided")),
    ("fail", r"square|HH|WW|kernel|shape|width", _named(_convf(square=True), "square_kernel_assumed")),
    ("fail", r"shape|H'|W'|height|width|swap", _named(_convf(swap_hw=True), "h_w_swapped")),
    ("pass", None, _named(_convf(), "conv_loops")),
]


@wrong("conv_forward", r"in place|changed")
def convf_pads_in_place(x, W, b, stride, pad):
    x -= x.mean()                              # "centre the input first": changes the caller's array
    return _convf()(x, W, b, stride, pad) + 0.0


@right("conv_forward")
def convf_torch(x, W, b, stride, pad):
    out = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(W), torch.tensor(b), stride=stride, padding=pad)
    return out.numpy()


@right("conv_forward")
def convf_im2col(x, W, b, stride, pad):
    N, C, H, Wd = x.shape
    F_, _, HH, WW = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("ncijab,fcab->nfij", win, W) + b[None, :, None, None]


# ===================================================================== 10 conv_backward
def _convb(db_axes=(0, 2, 3), no_crop=False, assign=False, dx_unflipped_shortcut=False, dW_no_n=False,
           crop_wrong=False, dW_from_unpadded=False):
    def backward(dout, x, W, stride, pad):
        N, C, H, Wd = x.shape
        F_, _, HH, WW = W.shape
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        src = x if dW_from_unpadded else xp
        dxp, dW = np.zeros_like(xp), np.zeros_like(W)
        for n in range(1 if dW_no_n else N):
            for f in range(F_):
                for i in range(dout.shape[2]):
                    for j in range(dout.shape[3]):
                        r = slice(i * stride, i * stride + HH)
                        c = slice(j * stride, j * stride + WW)
                        win = src[n, :, r, c]
                        if win.shape[1:] == (HH, WW):
                            dW[f] += dout[n, f, i, j] * win
                        if assign:
                            dxp[n, :, r, c] = dout[n, f, i, j] * W[f]
                        else:
                            dxp[n, :, r, c] += dout[n, f, i, j] * W[f]
        if dW_no_n:
            # the other images' dx anyway
            for n in range(1, N):
                for f in range(F_):
                    for i in range(dout.shape[2]):
                        for j in range(dout.shape[3]):
                            dxp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW] += dout[n, f, i, j] * W[f]
        db = dout.sum(axis=db_axes)
        if no_crop:
            return dxp, dW, db
        if crop_wrong:
            return dxp[:, :, :H, :Wd], dW, db
        return dxp[:, :, pad:pad + H, pad:pad + Wd], dW, db
    return backward


BANK["conv_backward"] = [
    ("fail", r"db|shape|axis|sum", _named(_convb(db_axes=(2, 3)), "db_not_summed_over_batch")),
    ("fail", r"db|shape|axis|sum", _named(_convb(db_axes=(0,)), "db_only_over_batch")),
    ("fail", r"pad|shape|cut|crop", _named(_convb(no_crop=True), "dx_not_cropped")),
    ("fail", r"\+=|overlap|accumulat|assign", _named(_convb(assign=True), "dx_assigned_not_added")),
    ("fail", r"dW|images|batch|sum over n|every image", _named(_convb(dW_no_n=True), "dW_first_image_only")),
    ("fail", r"pad|crop|offset|dx", _named(_convb(crop_wrong=True), "crop_wrong_side")),
    ("fail", r"dW|pad|padded", _named(_convb(dW_from_unpadded=True), "dW_from_unpadded_x")),
    ("pass", None, _named(_convb(), "conv_backward_loops")),
]


@wrong("conv_backward", r"flip|dW|convolution|correlation|dx")
def convb_flipped_dx(dout, x, W, stride, pad):
    dx, dW, db = _convb()(dout, x, W[:, :, ::-1, ::-1].copy(), stride, pad)
    return dx, _convb()(dout, x, W, stride, pad)[1], db


@wrong("conv_backward", r"order|tuple|shape|dx|dW")
def convb_order_swapped(dout, x, W, stride, pad):
    dx, dW, db = _convb()(dout, x, W, stride, pad)
    return dW, dx, db


@right("conv_backward")
def convb_torch(dout, x, W, stride, pad):
    xt = torch.tensor(x, requires_grad=True)
    Wt = torch.tensor(W, requires_grad=True)
    bt = torch.zeros(W.shape[0], dtype=torch.float64, requires_grad=True)
    torch.nn.functional.conv2d(xt, Wt, bt, stride=stride, padding=pad).backward(torch.tensor(dout))
    return xt.grad.numpy(), Wt.grad.numpy(), bt.grad.numpy()


# ===================================================================== 10 maxpool_backward
def _pool(last_max=False, assign=False, all_max=False, mean=False, no_stride=False, argmax_axis0=False):
    def backward(dout, x, size, stride):
        dx = np.zeros_like(x)
        N, C, Ho, Wo = dout.shape
        for n in range(N):
            for c in range(C):
                for i in range(Ho):
                    for j in range(Wo):
                        r0, c0 = (i, j) if no_stride else (i * stride, j * stride)
                        win = x[n, c, r0:r0 + size, c0:c0 + size]
                        if mean:
                            dx[n, c, r0:r0 + size, c0:c0 + size] += dout[n, c, i, j] / win.size
                            continue
                        if all_max:
                            dx[n, c, r0:r0 + size, c0:c0 + size] += (win == win.max()) * dout[n, c, i, j]
                            continue
                        if last_max:
                            k = win.size - 1 - np.argmax(win.ravel()[::-1])
                        elif argmax_axis0:          # first maximum in column-major order
                            k = int(np.argmax(win.T.ravel()))
                            k = (k % win.shape[0]) * win.shape[1] + k // win.shape[0]
                        else:
                            k = np.argmax(win)
                        a, b_ = np.unravel_index(k, win.shape)
                        if assign:
                            dx[n, c, r0 + a, c0 + b_] = dout[n, c, i, j]
                        else:
                            dx[n, c, r0 + a, c0 + b_] += dout[n, c, i, j]
        return dx
    return backward


BANK["maxpool_backward"] = [
    ("fail", r"first|tie|last", _named(_pool(last_max=True), "last_maximum")),
    ("fail", r"\+=|overlap|add|assign", _named(_pool(assign=True), "assigned_not_added")),
    ("fail", r"tie|every|all|first|each maximum", _named(_pool(all_max=True), "every_tied_maximum")),
    ("fail", r"average|mean|max", _named(_pool(mean=True), "average_pool_backward")),
    ("fail", r"differs", _named(_pool(no_stride=True), "windows_not_strided")),
    ("fail", r"differs", _named(_pool(argmax_axis0=True), "column_major_first")),
    ("pass", None, _named(_pool(), "pool_loops")),
]


@wrong("maxpool_backward", r"dout|gradient|1\b|ones|value")
def pool_mask_only(dout, x, size, stride):
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(dout.shape):
        win = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
        a, b_ = np.unravel_index(np.argmax(win), win.shape)
        dx[n, c, i * stride + a, j * stride + b_] += 1.0
    return dx


@wrong("maxpool_backward", r"float32 numbers")
def pool_torch_float32(dout, x, size, stride):
    xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    torch.nn.functional.max_pool2d(xt, size, stride).backward(torch.tensor(dout, dtype=torch.float32))
    return xt.grad.numpy()


@right("maxpool_backward")
def pool_torch(dout, x, size, stride):
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(xt, size, stride).backward(torch.tensor(dout))
    return xt.grad.numpy()


# ===================================================================== 10 flatten_size
def _flat(div="floor", pool_pad=False, conv_keeps_channels=False, ret=int, square=False, no_plus_one=False):
    def size(in_shape, layers):
        c, h, w = in_shape
        for layer in layers:
            if layer[0] == "conv":
                _, oc, k, s, p = layer
                c = c if conv_keeps_channels else oc
            else:
                _, k, s = layer
                p = 1 if pool_pad else 0
            def one(n):
                if div == "floor":
                    return (n + 2 * p - k) // s + (0 if no_plus_one else 1)
                if div == "true":
                    return (n + 2 * p - k) / s + 1
                if div == "ceil":
                    return -(-(n + 2 * p - k) // s) + 1
                if div == "round":
                    return round((n + 2 * p - k) / s) + 1
            h = one(h)
            w = h if square else one(w)
        return ret(c * h * w)
    return size


BANK["flatten_size"] = [
    ("fail", r"float|int|floor|//", _named(_flat(div="true", ret=lambda v: v), "float_division")),
    ("fail", r"floor|round|ceil|up", _named(_flat(div="ceil"), "rounds_up")),
    ("fail", r"floor|round|ceil|up|nearest", _named(_flat(div="round"), "rounds_to_nearest")),
    ("fail", r"pool|padding|pad", _named(_flat(pool_pad=True), "pool_with_padding")),
    ("fail", r"channel|out_channels", _named(_flat(conv_keeps_channels=True), "conv_keeps_channels")),
    ("fail", r"int|float|type", _named(_flat(ret=float), "returns_float")),
    ("fail", r"square|H|W|width|height", _named(_flat(square=True), "assumes_square")),
    ("fail", r"not the right size", _named(_flat(no_plus_one=True), "no_plus_one")),
    ("pass", None, _named(_flat(), "flatten_loops")),
]


@wrong("flatten_size", r"int|float|type|truncat|floor|//")
def flat_int_of_float(in_shape, layers):     # truncates only at the end
    return int(_flat(div="true", ret=lambda v: v)(in_shape, layers))


@wrong("flatten_size", r"divides the size by its kernel")
def flat_pool_by_kernel(in_shape, layers):
    c, h, w = in_shape
    for layer in layers:
        if layer[0] == "conv":
            _, c, k, s, p = layer
            h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        else:
            h, w = h // layer[1], w // layer[1]          # "a 2x2 pool halves the size"
    return c * h * w


@wrong("minibatches", r"except possibly the last")
def mb_last_merged(n, batch_size, rng):
    p = rng.permutation(n)
    k = n // batch_size
    out = [p[i * batch_size:(i + 1) * batch_size] for i in range(k)]
    if n % batch_size:
        out[-1] = np.concatenate([out[-1], p[k * batch_size:]])
    return out


@right("flatten_size")
def flat_torch(in_shape, layers):
    mods = []
    c = in_shape[0]
    for layer in layers:
        if layer[0] == "conv":
            _, oc, k, s, p = layer
            mods.append(torch.nn.Conv2d(c, oc, k, s, p)); c = oc
        else:
            mods.append(torch.nn.MaxPool2d(layer[1], layer[2]))
    with torch.no_grad():
        out = torch.nn.Sequential(*mods)(torch.zeros(1, *in_shape))
    return int(out.numel())


@wrong("minibatches", r"list of index arrays|1-D array of integer")
def mb_tensor_with_grad(n, batch_size, rng):     # a tensor that records gradients: the checker must not crash
    return torch.tensor([1.0], requires_grad=True)


@right("minibatches")
def mb_torch_tensors(n, batch_size, rng):        # index tensors work as indices too
    return list(torch.as_tensor(rng.permutation(n)).split(batch_size))


# ------------------------------------------------ more rows for the smaller banks (gd_fit, value_*)
def _gf(grad, steps_shift=0, ret=tuple):
    def fit(x, y, w0, b0, lr, steps):
        w, b = w0, b0
        for _ in range(steps + steps_shift):
            dw, db = grad(x, y, w, b)
            w, b = w - lr * dw, b - lr * db
        return ret((w, b))
    return fit


BANK["gd_fit"] += [
    ("fail", r"differs|summed", _named(_gf(lambda x, y, w, b: tuple(len(x) * np.array(_lg(x, y, w, b)))), "gf_sum_gradient")),
    ("fail", r"differs", _named(_gf(lambda x, y, w, b: tuple(np.array(_lg(x, y, w, b)) / 2)), "gf_no_2")),
    ("fail", r"differs", _named(_gf(lambda x, y, w, b: _lg(x, y, w, b)[::-1]), "gf_swapped_gradients")),
    ("fail", r"returned|numbers|shape", _named(lambda x, y, w0, b0, lr, steps: None, "gf_no_return")),
    ("pass", None, _named(_gf(_lg, ret=list), "gf_list_result")),
]


def bw_iterators(root):
    order = topo_iterators(root)
    for node in order:
        node.grad = 0.0
    root.grad = 1.0
    for node in order[::-1]:
        node._backward()
    return order


BANK["value_backward"].append(("pass", None, bw_iterators))


def _mul_returns_float(self, other):
    return self.data * _w(self, other).data


def _mul_eager_value(self, other):
    other = _w(self, other)
    out = type(self)(self.data * other.data, (self, other), "*")
    self.grad += other.data
    other.grad += self.data
    return out


def _tanh_float(self):
    return math.tanh(self.data)


BANK["value_mul"] += [
    ("fail", r"record|children|_prev", _named(lambda self, other: (lambda o: (lambda out: (setattr(out, "_backward", lambda: (
        setattr(self, "grad", self.grad + o.data * out.grad), setattr(o, "grad", o.grad + self.data * out.grad)))
        or out))(type(self)(self.data * o.data, (self,), "*")))(_w(self, other)), "mul_only_self_recorded")),
    ("fail", r"returned|Value|float", _named(_mul_returns_float, "mul_returns_float")),
    ("fail", r"gradients|0\b|never|expected", _named(_mul_eager_value, "mul_eager_grads")),
]
BANK["value_tanh"] += [
    ("fail", r"returned|Value|float", _named(_tanh_float, "tanh_returns_float")),
    ("fail", r"gradients|expected|differ", _named(_mk_tanh(lambda x, t: (1 - t) ** 2), "tanh_one_minus_t_squared")),
    ("pass", None, _named(_mk_tanh(lambda x, t: (1 - t) * (1 + t)), "tanh_factored")),
]
