"""Checkers for notebook 01 (loss functions)."""

from __future__ import annotations

import numpy as np

from .. import losses as L
from .._validate import describe
from ._core import CheckResult, Diagnosis, check_function

__all__ = ["mse_grad", "cross_entropy", "cross_entropy_grad", "gradient_signs"]


def _cases_regression():
    rng = np.random.default_rng(11)
    return [
        (rng.normal(size=5), rng.normal(size=5)),
        (rng.normal(size=(4, 3)), rng.normal(size=(4, 3))),
        (np.array([2.0]), np.array([-1.0])),
    ]


def mse_grad(fn) -> CheckResult:
    """Check ``fn(y_pred, y_true) -> dL/dy_pred`` for the *mean* squared error.

    Cases: shapes (5,), (4, 3) and (1,). Recognised mistakes: the sum convention
    (forgot 1/N), the missing 2, a sign error, dividing by the number of rows only.
    """
    return check_function(
        "mse_grad", fn, reference=L.mse_grad, cases=_cases_regression(),
        diagnoses=[
            Diagnosis("no 1/N", lambda p, t: 2 * (p - t),
                      "you forgot the 1/N: the loss is a *mean*, so every gradient entry is divided by "
                      "the number of elements N"),
            Diagnosis("no 2", lambda p, t: (p - t) / p.size,
                      "the factor 2 from differentiating the square is missing: d(u²)/du = 2u"),
            Diagnosis("sign", lambda p, t: -2 * (p - t) / p.size,
                      "sign error: the gradient is 2(ŷ - y)/N, prediction minus target. A prediction that "
                      "is too high must get a positive gradient, so that gradient descent lowers it"),
            Diagnosis("rows only", lambda p, t: 2 * (p - t) / p.shape[0],
                      "you divided by the number of rows n, but the mean runs over all N = n·d elements "
                      "(p.size), as in the definition of the loss"),
        ],
        success="correct: 2(ŷ - y)/N, on 1-D and 2-D inputs.")


def _cases_classification():
    rng = np.random.default_rng(12)
    return [
        (rng.normal(size=(4, 3)), np.array([0, 2, 1, 2])),
        (3 * rng.normal(size=(2, 5)), np.array([4, 0])),
        (rng.normal(size=(6, 2)), np.array([1, 0, 0, 1, 1, 0])),
        (np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0]]), np.array([0, 2])),
    ]


def _softmax_axis0(z):
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


OVERFLOW_HINT = ("exp of a large logit overflows (e^1000 = inf). Subtract each row's max logit before "
                 "exponentiating: log-sum-exp(z) = m + log Σ exp(z - m) with m = max(z). The result is "
                 "the same, and no exp sees a positive number")


def cross_entropy(fn) -> CheckResult:
    """Check ``fn(logits (n, C), labels (n,)) -> mean cross-entropy`` (a float).

    The last case has logits of ±1e4, where a naive ``log(softmax)`` overflows.
    Recognised mistakes: overflow, sum instead of mean, softmax over the wrong axis,
    missing minus sign, a per-sample vector returned instead of the mean.
    """
    def wrong_axis(z, y):
        return -np.log(_softmax_axis0(z)[np.arange(len(y)), y]).mean()

    return check_function(
        "cross_entropy", fn, reference=L.cross_entropy, cases=_cases_classification(), scalar=True,
        diagnoses=[
            Diagnosis("overflow", None, OVERFLOW_HINT),
            Diagnosis("sum", lambda z, y: L.cross_entropy(z, y, reduction="sum"),
                      "you returned the *sum* over the batch; the convention here (and in PyTorch) is the "
                      "mean, so divide by the batch size n"),
            Diagnosis("axis", wrong_axis,
                      "softmax was taken over the wrong axis: normalise each *row* (a sample's C class "
                      "scores), i.e. axis=1 with keepdims=True, not down the columns"),
            Diagnosis("sign", lambda z, y: -L.cross_entropy(z, y),
                      "sign error: cross-entropy is *minus* the mean log-probability of the true class, "
                      "so it is never negative"),
        ],
        success="correct, and stable: logits of ±1e4 give a finite loss.")


def cross_entropy_grad(fn) -> CheckResult:
    """Check ``fn(logits (n, C), labels (n,)) -> dL/dlogits (n, C)`` for the mean cross-entropy.

    Recognised mistakes: forgot 1/n, one-hot minus softmax (sign), softmax over the wrong
    axis, overflow at extreme logits, forgetting to subtract the one-hot.
    """
    def onehot(z, y):
        return L.one_hot(y, z.shape[1])

    return check_function(
        "cross_entropy_grad", fn, reference=L.cross_entropy_grad, cases=_cases_classification(),
        diagnoses=[
            Diagnosis("overflow", None, OVERFLOW_HINT),
            Diagnosis("no 1/n", lambda z, y: L.softmax(z) - onehot(z, y),
                      "you forgot the 1/n: the loss is the mean over n samples, so the gradient is "
                      "(softmax - one-hot) / n"),
            Diagnosis("sign", lambda z, y: (onehot(z, y) - L.softmax(z)) / len(y),
                      "sign error: it is softmax minus one-hot (prediction minus target), not the reverse"),
            Diagnosis("no onehot", lambda z, y: L.softmax(z) / len(y),
                      "you returned softmax / n: subtract the one-hot target (1 at the true class) as well"),
            Diagnosis("axis", lambda z, y: (_softmax_axis0(z) - onehot(z, y)) / len(y),
                      "softmax was taken over the wrong axis: normalise each row (axis=1), not each column"),
        ],
        success="correct: (softmax(z) - one_hot(y)) / n, stable at extreme logits.")


# ------------------------------------------------------------------ sign prediction
SIGN_QUESTIONS = {
    "a": ("MSE, prediction ŷ = 3, target y = 5: sign of dL/dŷ",
          lambda: L.mse_grad(np.array([3.0]), np.array([5.0]))[0]),
    "b": ("BCE, logit z = 2, target y = 0: sign of dL/dz",
          lambda: L.binary_cross_entropy_grad(np.array([2.0]), np.array([0.0]))[0]),
    "c": ("cross-entropy, logits z = [1, 2, 3], true class 2: sign of dL/dz for class 2",
          lambda: L.cross_entropy_grad(np.array([[1.0, 2.0, 3.0]]), np.array([2]))[0, 2]),
    "d": ("cross-entropy, logits z = [1, 2, 3], true class 2: sign of dL/dz for class 0",
          lambda: L.cross_entropy_grad(np.array([[1.0, 2.0, 3.0]]), np.array([2]))[0, 0]),
}

SIGN_WHY = {
    "a": "ŷ - y = -2 < 0: the prediction is too low, so the gradient is negative and a descent step raises it",
    "b": "σ(2) - 0 ≈ 0.88 > 0: the model says class 1 while the target is 0, so descent lowers z",
    "c": "softmax(z)_2 - 1 < 0 (a probability is below 1): descent always raises the true class's logit",
    "d": "softmax(z)_0 - 0 > 0: descent lowers every wrong class's logit",
}


def gradient_signs(fn) -> CheckResult:
    """Check ``fn() -> {"a": "+" or "-", ...}``: predicted signs of four gradients.

    The questions are in ``SIGN_QUESTIONS``; each wrong answer is explained.
    """
    if not callable(fn):
        return CheckResult("gradient_signs", "fail", f"expected a function, got {describe(fn)}. Pass the function "
                           "itself, without calling it: check.gradient_signs(my_signs)",
                           fn, None)
    from ._core import _call
    value, err = _call(fn, ())
    if err:
        return CheckResult("gradient_signs", err[0], err[1], fn, None)
    if not isinstance(value, dict):
        return CheckResult("gradient_signs", "fail", f"return a dict like {{'a': '+', 'b': '-', ...}}, "
                           f"got {type(value).__name__}", fn, None)
    wrong, missing = [], [k for k in SIGN_QUESTIONS if k not in value]
    if missing:
        return CheckResult("gradient_signs", "fail", f"no answer for {', '.join(missing)}; "
                           f"answer every question with '+' or '-'", fn, None)
    for key, (question, compute) in SIGN_QUESTIONS.items():
        answer = str(value[key]).strip()
        if answer not in ("+", "-"):
            return CheckResult("gradient_signs", "fail", f"answer {key} must be '+' or '-', got {value[key]!r}",
                               fn, None)
        truth = "+" if compute() > 0 else "-"
        if answer != truth:
            wrong.append(f"({key}) {question}: it is '{truth}', because {SIGN_WHY[key]}")
    if wrong:
        return CheckResult("gradient_signs", "fail", f"{len(wrong)} of {len(SIGN_QUESTIONS)} wrong. "
                           + " ".join(wrong), fn, None)
    return CheckResult("gradient_signs", "pass", "all four signs right: a gradient points toward *more* "
                       "loss, so descent moves each input against it.", fn, None)
