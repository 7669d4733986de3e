"""The notebook-01 checkers: accept right answers, name typical mistakes, greet stubs kindly."""

import numpy as np
import pytest

from nblib import check, losses as L


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
    (lambda z, y: L.softmax(z) / len(y), "subtract the one-hot"),
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
    assert "must be '+' or '-'" in check.gradient_signs(lambda: {"a": "up", "b": "+", "c": "-", "d": "+"}).message
    assert check.gradient_signs(stub).status == "todo"
    assert "dict" in check.gradient_signs(lambda: ["-"]).message
