"""Notebook 03's checkers as a tutor: for each, plausible wrong answers a learner writes
(each must fail with the hint that names its mistake, and a re-run must give the more
specific second step), and correct answers written differently (loops, other calls) that
must pass."""

import math

import numpy as np
import pytest

from nblib import check, optim
from nblib.check import _core


@pytest.fixture(autouse=True)
def _fresh_streaks():
    """Each test starts as a fresh kernel: no hint streaks, no references handed out by
    or_reference() (checking a handed-out reference says "reference", not ✓)."""
    handed_out = list(_core._HANDED_OUT)
    _core._STREAK.clear()
    _core._HANDED_OUT.clear()
    yield
    _core._STREAK.clear()
    _core._HANDED_OUT[:] = handed_out


def _judge(checker, fn, expected, second=None):
    res = checker(fn)
    if expected is None:
        assert res.passed, res
        return
    assert res.status == "fail" and expected in res.message, res
    if second is not None:                          # the same mistake again: the next, more specific step
        again = checker(fn)
        assert again.status == "fail" and "(hint 2 of" in again.message and second in again.message, again


# ---------------------------------------------------------------------------- mini-batches
def mb_ref(n, bs, rng):
    order = rng.permutation(n)
    return [order[i:i + bs] for i in range(0, n, bs)]


def mb_split(n, bs, rng):       # alternative: shuffle in place, np.array_split at the batch starts
    idx = np.arange(n)
    rng.shuffle(idx)
    return np.array_split(idx, range(bs, n, bs))


def mb_loop(n, bs, rng):        # alternative: rng.choice without replacement, a while loop, lists
    order = list(rng.choice(n, size=n, replace=False))
    out, start = [], 0
    while start < n:
        out.append(np.array(order[start:start + bs]))
        start += bs
    return out


_GLOBAL = np.random.default_rng(123)


def mb_drop_last(n, bs, rng):   # drops the last, smaller batch
    order = rng.permutation(n)
    return [order[i:i + bs] for i in range(0, n - bs + 1, bs)]


@pytest.mark.parametrize("fn, expected, second", [
    (mb_ref, None, None), (mb_split, None, None), (mb_loop, None, None),
    (lambda n, bs, rng: [np.arange(n)[i:i + bs] for i in range(0, n, bs)], "not shuffled", None),
    (lambda n, bs, rng: [rng.integers(0, n, bs) for _ in range(0, n, bs)], "exactly once", "Draw without replacement"),
    (mb_drop_last, "never used", "last batch may be smaller"),
    # shuffle the order of fixed blocks: the batches never change
    (lambda n, bs, rng: [np.arange(n)[i:i + bs] for i in rng.permutation(range(0, n, bs))], "same blocks", None),
    # shuffle inside fixed blocks
    (lambda n, bs, rng: [rng.permutation(np.arange(n)[i:i + bs]) for i in range(0, n, bs)], "same blocks", None),
    # ignores the rng it is given: a global generator
    (lambda n, bs, rng: mb_ref(n, bs, _GLOBAL), "does not use the rng", None),
    (lambda n, bs, rng: np.array_split(rng.permutation(n), -(-n // bs)), "batch sizes", None),
])
def test_minibatches(fn, expected, second):
    _judge(check.minibatches, fn, expected, second)


# ---------------------------------------------------------------------------- momentum
def mom_list(p, g, v, lr, beta):  # alternative: returns a list, computes in another order
    v_new = g + v * beta
    return [p - v_new * lr, v_new]


def mom_loop(p, g, v, lr, beta):  # alternative: element by element
    p_new, v_new = np.empty_like(p), np.empty_like(v)
    for i in np.ndindex(p.shape):
        v_new[i] = beta * v[i] + g[i]
        p_new[i] = p[i] - lr * v_new[i]
    return p_new, v_new


_STATE = {"v": 0.0}


def mom_global(p, g, v, lr, beta):  # keeps its own velocity: shared by every parameter
    _STATE["v"] = beta * _STATE["v"] + g
    return p - lr * _STATE["v"], _STATE["v"]


def mom_inplace(p, g, v, lr, beta):
    v *= beta
    v += g
    return p - lr * v, v


@pytest.mark.parametrize("fn, expected, second", [
    (optim.momentum_step, None, None), (mom_list, None, None), (mom_loop, None, None),
    (lambda p, g, v, lr, b: (p - lr * (b * v + (1 - b) * g), b * v + (1 - b) * g), "dampened form",
     "weight 1, not (1-β)"),
    (lambda p, g, v, lr, b: (p - lr * v, b * v + g), "from before this step", "update v first"),
    (lambda p, g, v, lr, b: (p + lr * (b * v + g), b * v + g), "sign error", "descent subtracts"),
    (lambda p, g, v, lr, b: (p - (b * v + lr * g), b * v + lr * g), "already contains the learning rate",
     "units of g"),
    (lambda p, g, v, lr, b: (p - lr * (b * v + lr * g), b * v + lr * g), "applied twice", "keep lr out of v"),
    (lambda p, g, v, lr, b: (p - lr * (v + g), v + g), "β is missing", "multiplied by β"),
    (lambda p, g, v, lr, b: (b * v + g, p - lr * (b * v + g)), "wrong order", "parameter first"),
    (mom_global, "keeps state of its own", "one such state per parameter"),
    (mom_inplace, "changed its input array in place", None),
    (lambda p, g, v, lr, b: p - lr * (b * v + g), "return a tuple of 2: (p_new, v_new)", "goes out with"),
])
def test_momentum_step(fn, expected, second):
    _STATE["v"] = 0.0
    _judge(check.momentum_step, fn, expected, second)


# ---------------------------------------------------------------------------- RMSProp
def rms_loop(p, g, s, lr, rho, eps):  # alternative: element by element with math.sqrt
    p_new, s_new = p.astype(float).copy(), s.astype(float).copy()
    for i in np.ndindex(p.shape):
        s_new[i] = rho * s[i] + (1 - rho) * g[i] ** 2
        p_new[i] = p[i] - lr * g[i] / (math.sqrt(s_new[i]) + eps)
    return p_new, s_new


def rms_power(p, g, s, lr, rho, eps):  # alternative: np.square, ** 0.5, a list
    s_new = s + (1 - rho) * (np.square(g) - s)
    return [p - lr * g / (s_new ** 0.5 + eps), s_new]


def rms(update_s, step, state=None):
    def f(p, g, s, lr, rho, eps):
        s_new = update_s(g, s, rho)
        return p - lr * step(g, s, s_new, eps), s_new if state is None else state(s_new)
    return f


good_s = lambda g, s, rho: rho * s + (1 - rho) * g * g  # noqa: E731
good_step = lambda g, s, s_new, eps: g / (np.sqrt(s_new) + eps)  # noqa: E731
_RMS = {"s": 0.0}


def rms_global(p, g, s, lr, rho, eps):
    _RMS["s"] = rho * _RMS["s"] + (1 - rho) * g * g
    return p - lr * g / (np.sqrt(_RMS["s"]) + eps), _RMS["s"]


@pytest.mark.parametrize("fn, expected, second", [
    (optim.rmsprop_step, None, None), (rms_loop, None, None), (rms_power, None, None),
    (rms(good_s, lambda g, s, s_new, eps: g / np.sqrt(s_new + eps)), "ε is in the wrong place", "after the square root"),
    (rms(good_s, lambda g, s, s_new, eps: g / (np.sqrt(s) + eps)), "from before this step", "update the squared"),
    (rms(lambda g, s, rho: rho * s + g * g, good_step), "does not average", "add up to 1"),
    (rms(lambda g, s, rho: (1 - rho) * s + rho * g * g, good_step), "swapped", "multiplies the old average"),
    (rms(good_s, lambda g, s, s_new, eps: g / (s_new + eps)), "not by its root", "root of the mean square"),
    (rms(good_s, lambda g, s, s_new, eps: -g / (np.sqrt(s_new) + eps)), "sign error", None),
    (rms(good_s, good_step, state=np.sqrt), "not the average of g² itself", "return s_new"),
    (rms_global, "keeps state of its own", None),
    (lambda p, g, s, lr, rho, eps: rms(good_s, good_step)(p, g, s, lr, rho, eps)[0], "return a tuple of 2", None),
])
def test_rmsprop_step(fn, expected, second):
    _RMS["s"] = 0.0
    _judge(check.rmsprop_step, fn, expected, second)


def test_rmsprop_g_not_squared_is_not_passed():
    # s = rho s + (1 - rho) g: the root of a negative number -> NaN: never a pass
    res = check.rmsprop_step(rms(lambda g, s, rho: rho * s + (1 - rho) * g, good_step))
    assert res.status == "fail" and ("inf or NaN" in res.message or "differs" in res.message), res


# ---------------------------------------------------------------------------- Adam
def adam_variant(correct_m=True, correct_v=True, shift=0, eps_inside=False, old_v=False, corrected_state=False):
    def f(p, g, m, v, t, lr, b1, b2, eps):
        m_new = b1 * m + (1 - b1) * g
        v_new = b2 * v + (1 - b2) * g ** 2
        v_use = v if old_v else v_new
        m_hat = m_new / (1 - b1 ** (t + shift)) if correct_m else m_new
        v_hat = v_use / (1 - b2 ** (t + shift)) if correct_v else v_use
        denom = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        if corrected_state:
            return p - lr * m_hat / denom, m_hat, v_hat
        return p - lr * m_hat / denom, m_new, v_new
    return f


def adam_torch_style(p, g, m, v, t, lr, b1, b2, eps):  # alternative: PyTorch's step_size form
    m = m + (1 - b1) * (g - m)
    v = b2 * v + (1 - b2) * g * g
    step_size = lr / (1 - b1 ** t)
    denom = np.sqrt(v) / math.sqrt(1 - b2 ** t) + eps
    return p - step_size * m / denom, m, v


def adam_loop(p, g, m, v, t, lr, b1, b2, eps):  # alternative: element by element, math.sqrt
    out = [np.array(p, dtype=float), np.array(m, dtype=float), np.array(v, dtype=float)]
    for i in np.ndindex(np.shape(p)):
        mi = b1 * m[i] + (1 - b1) * g[i]
        vi = b2 * v[i] + (1 - b2) * g[i] * g[i]
        out[0][i] = p[i] - lr * (mi / (1 - b1 ** t)) / (math.sqrt(vi / (1 - b2 ** t)) + eps)
        out[1][i], out[2][i] = mi, vi
    return tuple(out)


_ADAM = {"m": 0.0, "v": 0.0}


def adam_global(p, g, m, v, t, lr, b1, b2, eps):
    _ADAM["m"] = b1 * _ADAM["m"] + (1 - b1) * g
    _ADAM["v"] = b2 * _ADAM["v"] + (1 - b2) * g * g
    return optim.adam_step(p, g, m, v, t, lr, b1, b2, eps)[0] + 0 * _ADAM["m"] + 1e-3 * _ADAM["v"], _ADAM["m"], \
        _ADAM["v"]


@pytest.mark.parametrize("fn, expected, second", [
    (optim.adam_step, None, None), (adam_variant(), None, None), (adam_torch_style, None, None),
    (adam_loop, None, None),
    (adam_variant(False, False), "no bias correction", "(1 - β^t)"),
    (adam_variant(True, False), "corrected m but not v", "with β2"),
    (adam_variant(False, True), "corrected v but not m", "with β1"),
    (adam_variant(shift=-1), "t - 1, as if the counter started at 0", "1 on the first step"),
    (adam_variant(shift=1), "t + 1", "already incremented"),
    (adam_variant(eps_inside=True), "ε is in the wrong place", "after the square root"),
    (adam_variant(old_v=True), "squared-gradient average from before this step", "update v with this g²"),
    (adam_variant(corrected_state=True), "the state you return is bias-corrected", "return the running averages"),
    (lambda *a: (2 * a[0] - optim.adam_step(*a)[0],) + optim.adam_step(*a)[1:], "sign error", None),
    (adam_global, "keeps state of its own", None),
    (lambda *a: optim.adam_step(*a)[:2], "return a tuple of 3: (p_new, m_new, v_new)", None),
])
def test_adam_step(fn, expected, second):
    _ADAM.update(m=0.0, v=0.0)
    _judge(check.adam_step, fn, expected, second)


def test_first_hint_does_not_give_the_formula_away():
    res = check.adam_step(adam_variant(False, False))
    assert "1 - β" not in res.message and "/(1" not in res.message


def test_after_the_last_hint_the_reference_is_offered():
    fn = adam_variant(eps_inside=True)
    for _ in range(3):
        res = check.adam_step(fn)
    assert "check.reference('adam_step')" in res.message


def test_references_are_nblib_optim_step_functions():
    """or_reference() hands out the rules nblib.optim's classes and the race run."""
    def stub(*args):
        raise NotImplementedError()
    assert check.momentum_step(stub).reference is optim.momentum_step
    assert check.rmsprop_step(stub).reference is optim.rmsprop_step
    assert check.adam_step(stub).reference is optim.adam_step


# ---------------------------------------------------------------------------- cosine
@pytest.mark.parametrize("fn, expected, second", [
    (lambda t, a, T, m: m + 0.5 * (a - m) * (1 + math.cos(math.pi * t / T)), None, None),
    (lambda t, a, T, m: a - (a - m) * math.sin(math.pi * t / (2 * T)) ** 2, None, None),
    (lambda t, a, T, m: float(np.interp(0, [0], [m + (a - m) * (1 + np.cos(np.pi * t / T)) / 2])), None, None),
    (lambda t, a, T, m: m + (a - m) * (1 + math.cos(2 * math.pi * t / T)) / 2, "full cosine period", "π t/T"),
    (lambda t, a, T, m: a * (1 + math.cos(math.pi * t / T)) / 2, "lr_min is missing", "on top of lr_min"),
    (lambda t, a, T, m: m + (a - m) * (1 - math.cos(math.pi * t / T)) / 2, "rises", "cos(0) = 1"),
    (lambda t, a, T, m: m + (a - m) * (1 + math.cos(math.pi * t / T)), "more than lr0", "halve it"),
    (lambda t, a, T, m: a - (a - m) * t / T, "straight line", None),
    (lambda t, a, T, m: m + (a - m) * (1 + math.cos(math.pi * (t // T))) / 2, "integer division", None),
])
def test_cosine_lr(fn, expected, second):
    _judge(check.cosine_lr, fn, expected, second)


def test_cosine_reference_equals_nblib_schedule():
    ref = check.cosine_lr(lambda *a: 0.0).reference
    for t in range(31):
        assert ref(t, 0.1, 30, 0.001) == pytest.approx(optim.CosineDecay(0.1, 30, 0.001)(t), rel=1e-15)
