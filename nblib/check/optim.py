"""Checkers for notebook 03 (SGD, momentum, RMSProp, Adam, schedules)."""

from __future__ import annotations

import math

import numpy as np

from .. import optim as O
from .._validate import describe
from ._core import CheckResult, Diagnosis, _call, check_function

__all__ = ["minibatches", "momentum_step", "adam_step", "cosine_lr"]


# ------------------------------------------------------------------------- mini-batches
def minibatches(fn) -> CheckResult:
    """Check ``fn(n, batch_size, rng) -> list of index arrays`` for one epoch.

    Any shuffle is accepted; the batches must (1) cover every index 0..n-1 exactly once,
    (2) have ``batch_size`` entries each except possibly the last, smaller one, and
    (3) come in a different order for a different ``rng`` (the data are shuffled).
    """
    name = "minibatches"
    if not callable(fn):
        return CheckResult(name, "fail", f"expected a function, got {describe(fn)}. Pass the function itself, "
                           f"without calling it: check.minibatches(my_minibatches)", fn, reference_minibatches)
    orders = []
    for n, bs, seed in [(10, 3, 0), (12, 4, 1), (7, 7, 2), (5, 1, 3), (10, 3, 4)]:
        value, err = _call(fn, (n, bs, np.random.default_rng(seed)))
        where = f"for n={n}, batch_size={bs}"
        if err:
            return CheckResult(name, err[0], err[1] if err[0] == "todo" else f"{err[1]} {where}.", fn,
                               reference_minibatches)
        try:
            batches = [np.asarray(b) for b in value]
        except TypeError:
            return CheckResult(name, "fail", f"return a list of index arrays, got {type(value).__name__} {where}.",
                               fn, reference_minibatches)
        if any(b.ndim != 1 or not (b.size == 0 or np.issubdtype(b.dtype, np.integer)) for b in batches):
            return CheckResult(name, "fail", f"each batch must be a 1-D array of integer indices {where}; "
                               f"index the data with it: x[idx]", fn, reference_minibatches)
        flat = np.concatenate(batches) if batches else np.array([], dtype=int)
        if sorted(flat.tolist()) != list(range(n)):
            if flat.size < n:
                msg = (f"the batches hold {flat.size} indices but there are {n} samples {where}: the last, "
                       f"smaller batch is missing (range(0, n, batch_size) gives every batch start)")
            else:
                msg = (f"the batches must hold every index 0..{n - 1} exactly once {where}; shuffle a "
                       f"permutation (rng.permutation(n)) and cut it into pieces, do not draw with replacement")
            return CheckResult(name, "fail", msg, fn, reference_minibatches)
        sizes = [b.size for b in batches]
        if any(s != bs for s in sizes[:-1]) or sizes[-1] > bs or sizes[-1] == 0:
            return CheckResult(name, "fail", f"batch sizes {sizes} {where}: every batch has batch_size "
                               f"entries except possibly the last", fn, reference_minibatches)
        orders.append(flat.tolist())
    if orders[0] == list(range(10)) or orders[0] == orders[-1]:
        return CheckResult(name, "fail", "the indices are not shuffled (or the same for every rng): use the rng "
                           "you are given, e.g. order = rng.permutation(n), so each epoch sees a new order",
                           fn, reference_minibatches)
    return CheckResult(name, "pass", "correct: every sample once per epoch, in shuffled batches.", fn,
                       reference_minibatches)


def reference_minibatches(n, batch_size, rng):
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


# ------------------------------------------------------------------------- momentum
def _ref_momentum(p, g, v, lr, beta):
    """(p_new, v_new) stacked: v_new = beta v + g, p_new = p - lr v_new."""
    v_new = beta * v + g
    return np.stack([p - lr * v_new, v_new])


def _momentum_cases():
    rng = np.random.default_rng(31)
    return [
        (rng.normal(size=3), rng.normal(size=3), np.zeros(3), 0.1, 0.9),
        (rng.normal(size=(2, 3)), rng.normal(size=(2, 3)), rng.normal(size=(2, 3)), 0.05, 0.8),
        (np.array([1.0, -2.0]), np.array([0.5, 0.5]), np.array([1.0, 1.0]), 0.5, 0.5),
    ]


def momentum_step(fn) -> CheckResult:
    """Check ``fn(p, g, v, lr, beta) -> (p_new, v_new)``, PyTorch's momentum convention.

    ``v_new = beta * v + g``; ``p_new = p - lr * v_new``. Recognised mistakes: the
    dampened (EMA) form ``beta v + (1 - beta) g`` (a different convention), updating p
    with the *old* velocity, the sign of the step, forgetting beta.
    """
    def ema(p, g, v, lr, beta):
        v_new = beta * v + (1 - beta) * g
        return np.stack([p - lr * v_new, v_new])

    def old_v(p, g, v, lr, beta):
        return np.stack([p - lr * v, beta * v + g])

    def sign(p, g, v, lr, beta):
        v_new = beta * v + g
        return np.stack([p + lr * v_new, v_new])

    if not callable(fn):
        return check_function("momentum_step", fn, cases=[],
                              reference=_tuple(_ref_momentum, "reference_momentum_step"))

    def run(p, g, v, lr, beta):
        out = fn(p, g, v, lr, beta)
        if isinstance(out, tuple) and len(out) == 2:
            return np.stack([np.asarray(out[0], dtype=float), np.asarray(out[1], dtype=float)])
        return out

    res = check_function(
        "momentum_step", run, reference=_ref_momentum, cases=_momentum_cases(), atol=1e-12, rtol=1e-10,
        diagnoses=[
            Diagnosis("ema", ema, "you used the dampened form v = βv + (1-β)g. That is a valid variant (it "
                      "shrinks the steps by (1-β)), but this course follows PyTorch: v = βv + g, p -= lr·v"),
            Diagnosis("old v", old_v, "you moved p with the *old* velocity; update v first, then p -= lr·v_new"),
            Diagnosis("sign", sign, "sign error: p_new = p - lr·v (descent)"),
        ],
        success="correct: v = βv + g, then p -= lr·v (PyTorch's convention).")
    res.candidate, res.reference = fn, _tuple(_ref_momentum, "reference_momentum_step")
    return res


def _tuple(ref, name):
    """``ref`` (which stacks its results for comparison) returning a tuple, as the learner's does."""
    def as_tuple(*args, **kwargs):
        return tuple(ref(*args, **kwargs))
    as_tuple.__name__ = as_tuple.__qualname__ = name
    as_tuple.__module__ = __name__
    as_tuple.__doc__ = ref.__doc__
    return as_tuple


# ------------------------------------------------------------------------- Adam
def _ref_adam(p, g, m, v, t, lr, beta1, beta2, eps):
    """(p_new, m_new, v_new) stacked; t is the number of this step (1 on the first)."""
    m_new = beta1 * m + (1 - beta1) * g
    v_new = beta2 * v + (1 - beta2) * g * g
    m_hat = m_new / (1 - beta1 ** t)
    v_hat = v_new / (1 - beta2 ** t)
    return np.stack([p - lr * m_hat / (np.sqrt(v_hat) + eps), m_new, v_new])


def _adam_cases():
    rng = np.random.default_rng(32)
    return [
        (rng.normal(size=4), rng.normal(size=4), np.zeros(4), np.zeros(4), 1, 0.1, 0.9, 0.999, 1e-8),
        (rng.normal(size=4), rng.normal(size=4), 0.1 * rng.normal(size=4), 0.1 * rng.random(4), 3, 0.01,
         0.9, 0.999, 1e-8),
        # tiny gradients and a large eps: where eps goes matters here
        (rng.normal(size=3), 1e-3 * rng.normal(size=3), np.zeros(3), np.zeros(3), 1, 0.1, 0.8, 0.99, 1e-3),
        (rng.normal(size=(2, 2)), rng.normal(size=(2, 2)), rng.normal(size=(2, 2)), rng.random((2, 2)), 10,
         0.05, 0.5, 0.9, 1e-8),
    ]


def adam_step(fn) -> CheckResult:
    """Check ``fn(p, g, m, v, t, lr, beta1, beta2, eps) -> (p_new, m_new, v_new)``.

    ``t`` is the number of this step, already incremented (1 on the first step).
    Recognised mistakes: no bias correction, correcting with ``t - 1`` or ``t + 1``
    (the counter incremented after use, or twice), eps inside the square root,
    correcting m but not v (or v but not m).
    """
    def variant(correct_m=True, correct_v=True, shift=0, eps_inside=False):
        def f(p, g, m, v, t, lr, b1, b2, eps):
            m_new = b1 * m + (1 - b1) * g
            v_new = b2 * v + (1 - b2) * g * g
            tt = t + shift
            m_hat = m_new / (1 - b1 ** tt) if correct_m else m_new
            v_hat = v_new / (1 - b2 ** tt) if correct_v else v_new
            denom = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
            return np.stack([p - lr * m_hat / denom, m_new, v_new])
        return f

    if not callable(fn):
        return check_function("adam_step", fn, cases=[],
                              reference=_tuple(_ref_adam, "reference_adam_step"))

    def run(*args):
        out = fn(*args)
        if isinstance(out, tuple) and len(out) == 3:
            return np.stack([np.asarray(o, dtype=float) for o in out])
        return out

    res = check_function(
        "adam_step", run, reference=_ref_adam, cases=_adam_cases(), atol=1e-12, rtol=1e-10,
        diagnoses=[
            Diagnosis("no correction", variant(False, False),
                      "no bias correction: m and v start at 0, so early on they are too small by the factor "
                      "(1 - β^t); divide m by (1 - β1^t) and v by (1 - β2^t)"),
            Diagnosis("m only", variant(True, False), "you corrected m but not v: divide v by (1 - β2^t) too"),
            Diagnosis("v only", variant(False, True), "you corrected v but not m: divide m by (1 - β1^t) too"),
            Diagnosis("t-1", variant(shift=-1),
                      "the correction uses t - 1: here t is already the number of this step (1 on the first "
                      "step), as in PyTorch where the counter is incremented *before* use"),
            Diagnosis("t+1", variant(shift=+1),
                      "the correction uses t + 1: t is already incremented for this step; use β^t as given"),
            Diagnosis("eps inside", variant(eps_inside=True),
                      "eps went inside the square root; PyTorch adds it after: sqrt(v̂) + eps"),
        ],
        success="correct: m̂ = m/(1-β1^t), v̂ = v/(1-β2^t), p -= lr·m̂/(√v̂ + ε).")
    res.candidate, res.reference = fn, _tuple(_ref_adam, "reference_adam_step")
    return res


# ------------------------------------------------------------------------- cosine schedule
def reference_cosine_lr(t, lr0, total_steps, lr_min):
    return O.CosineDecay(lr0, total_steps, lr_min)(t)


def cosine_lr(fn) -> CheckResult:
    """Check ``fn(t, lr0, total_steps, lr_min) -> lr`` for cosine decay, 0 <= t <= total_steps.

    Recognised mistakes: a full cosine period (2π instead of π), forgetting lr_min,
    the curve going up instead of down.
    """
    cases = [(0, 0.1, 100, 0.0), (25, 0.1, 100, 0.0), (50, 0.1, 100, 0.001), (80, 1.0, 90, 0.1),
             (100, 0.1, 100, 0.001)]
    return check_function(
        "cosine_lr", fn, reference=reference_cosine_lr, cases=cases, scalar=True, atol=1e-12, rtol=1e-10,
        diagnoses=[
            Diagnosis("full period", lambda t, a, T, m: m + (a - m) * (1 + math.cos(2 * math.pi * t / T)) / 2,
                      "that is a full cosine period (2π t/T), which comes back up; use half of one: π t/T"),
            Diagnosis("no min", lambda t, a, T, m: a * (1 + math.cos(math.pi * t / T)) / 2,
                      "lr_min is missing: lr = lr_min + (lr0 - lr_min)(1 + cos(π t/T))/2"),
            Diagnosis("up", lambda t, a, T, m: m + (a - m) * (1 - math.cos(math.pi * t / T)) / 2,
                      "your schedule rises from lr_min to lr0; it must start at lr0: use 1 + cos, not 1 - cos"),
        ],
        success="correct: lr0 at t = 0, lr_min at t = total_steps, half a cosine between.")
