"""Checkers for notebook 01 (loss functions and the numerical gradient).

* ``numerical_gradient`` -- the learner's central-difference gradient (the exercise the
  rest of the course's gradient checks run on). Besides the values, it watches every
  call the learner's code makes to ``f``: the shape and dtype of what ``f`` sees, that
  only one entry is moved at a time (each entry restored), and by exactly ``eps``.
* ``mse_grad``, ``cross_entropy``, ``cross_entropy_grad`` -- value checks on batches of
  different shapes, then stability probes at extreme logits that tell apart the three
  ways a "stable" softmax goes wrong: no shift at all (exp overflows), one shift for the
  whole batch (a row far below the batch max underflows), and log(softmax) (a tiny
  true-class probability underflows to 0 before the log).
* ``gradient_signs`` -- four predicted signs.
"""

from __future__ import annotations

import numpy as np

from .. import gradcheck as GC
from .. import losses as L
from .._validate import describe
from ._core import CheckResult, Diagnosis, _call, check_function, low_precision, require_function, returned

__all__ = ["numerical_gradient", "mse_grad", "cross_entropy", "cross_entropy_grad", "gradient_signs"]



# ------------------------------------------------------------------ numerical gradient
class _Spy:
    """A scalar test function ``f`` that records what the learner's code passes to it."""

    def __init__(self, f, shape):
        self.f, self.shape, self.calls = f, shape, []

    def __call__(self, x):
        self.calls.append(np.array(x, copy=True))
        if np.shape(x) != self.shape:
            raise ValueError(f"f was called with an array of shape {np.shape(x)}, but x has shape {self.shape}: "
                             f"always pass f the whole array, shaped like x, with one entry moved")
        return float(self.f(np.asarray(x, dtype=float)))


def _gradient_cases():
    """(name, f, x, kwargs): non-separable functions, so an entry left moved changes the others."""
    rng = np.random.default_rng(13)
    c3 = rng.normal(size=3)
    W = rng.normal(size=(3, 4))
    T = rng.normal(size=(2, 3, 2))
    return [
        ("1-D x of shape (3,)", lambda v: np.sum(v ** 3) + (v @ c3) ** 2, rng.normal(size=3), {}),
        ("2-D x of shape (3, 4)", lambda v: np.sum(np.sin(v) * W) + np.sum(v) ** 2, rng.normal(size=(3, 4)), {}),
        ("3-D x of shape (2, 3, 2), eps=1e-3", lambda v: np.sum(np.exp(v / 2) * T) + np.prod(v[0, 0]),
         rng.normal(size=(2, 3, 2)), {"eps": 1e-3}),
        ("a column-major (Fortran-order) x of shape (4, 3)", lambda v: np.sum(v * W.T) + np.sum(v[:, 0]) ** 2,
         np.asfortranarray(rng.normal(size=(4, 3))), {}),
        ("an integer x = [1, 2, 3]", lambda v: np.sum(v ** 2) + v[0] * v[2], np.array([1, 2, 3]), {}),
    ]


NG_HINTS = {
    "type": ("return a NumPy array of float64 with the shape of x (e.g. `grad = np.zeros_like(x, dtype=float)`, "
             "filled entry by entry).",),
    "shape": ("return the gradient with the shape of x, one partial derivative per entry of x.",
              "If you looped over a flattened copy, reshape at the end: `grad.reshape(x.shape)`; "
              "or loop with `np.ndindex(x.shape)` and write `grad[idx]` directly."),
    "integer": ("your function passed f an integer array: `x[i] += eps` on integers rounds the step away, "
                "so every difference is 0.",
                "Work on a float64 copy first: `x = np.array(x, dtype=float)` (this also leaves the caller's "
                "array untouched)."),
    "float32": ("your function passed f an array of lower precision than float64: float32 keeps about 7 "
                "digits, so a step of 1e-6 is lost in its rounding.",
                "Work on a float64 copy: `x = np.array(x, dtype=float)` (Python's float is float64)."),
    "int result": ("your gradient array holds integers, so every slope was rounded to a whole number.",
                   "Create it as floats, e.g. `np.zeros(x.shape)` or `np.zeros_like(x)` *after* converting x "
                   "to float64."),
    "restore": ("one call of f saw more than one entry of x moved: each entry must be put back to its value "
                "before the next one is perturbed.",
                "After the two calls for entry i, restore it: `x[i] = old` (save `old = x[i]` first), or "
                "perturb a fresh copy of x each time."),
    "several": ("one call of f saw several entries of x moved by the same step at once (a whole row?): "
                "a partial derivative moves one entry at a time.",
                "Loop over every index of x, `for idx in np.ndindex(x.shape):`, and move only x[idx]."),
    "eps": ("your function does not use its eps argument: the checker called it with eps=1e-3 and f saw steps "
            "of another size.",
            "Perturb each entry by exactly +eps and -eps, and divide by 2*eps."),
    "caller": ("your function changed the caller's array x: compute on a copy, `x = np.array(x, dtype=float)`.",),
    "ravel": ("for a column-major (Fortran-order) x your perturbations never reached f: "
              "`x.ravel()` / `x.reshape(-1)` return a *copy* for such an array, so writing into it changes nothing.",
              "Loop with `for idx in np.ndindex(x.shape):` and write into your float copy of x itself "
              "(`x[idx] = old + eps`), or make the copy C-ordered: `np.array(x, dtype=float, order=\"C\")`."),
    "forward": ("you used a one-sided difference (f(x + eps) - f(x)) / eps: its error shrinks only like eps, "
                "not like eps².",
                "Use the central difference (f(x + eps e_i) - f(x - eps e_i)) / (2 eps): both sides of x, "
                "divided by 2 eps."),
    "factor": ("your values are exactly twice the slope: the two points x ± eps are 2 eps apart.",
               "Divide the difference f(x + eps e_i) - f(x - eps e_i) by 2*eps, not by eps."),
    "sign": ("your gradient has the wrong sign: f(x + eps e_i) - f(x - eps e_i) is positive where f increases.",),
}


def _one_sided(f, x, eps):
    x = np.array(x, dtype=float)
    g = np.zeros_like(x)
    f0 = f(x)
    for idx in np.ndindex(x.shape):
        xp = x.copy()
        xp[idx] += eps
        g[idx] = (f(xp) - f0) / eps
    return g


def numerical_gradient(fn) -> CheckResult:
    """Check ``fn(f, x, eps=1e-6) -> float64 array shaped like x``: central differences.

    Cases: 1-D, 2-D, 3-D (called with eps=1e-3), a Fortran-ordered 2-D and an integer
    x, each with a non-separable f. Watches every call to f (shape, dtype, one entry
    moved at a time, by eps) and that the caller's x is unchanged. Recognised mistakes:
    one-sided differences, dividing by eps (a factor 2), the sign, not restoring an entry,
    ignoring eps, integer arithmetic, writing into a ravel() copy, a flattened result.
    """
    name, ref = "numerical_gradient", GC.numerical_gradient
    bad = require_function(name, fn, ref)
    if bad is not None:
        return bad

    def fail(key, where):
        steps = NG_HINTS[key]
        return CheckResult(name, "fail", f"{steps[0]} Seen on {where}.", fn, ref, hints=steps[1:])

    for where, f, x0, kw in _gradient_cases():
        spy, x = _Spy(f, x0.shape), x0.copy(order="K")
        value, err = _call(fn if not kw else (lambda g, v: fn(g, v, **kw)), (spy, x))
        if err:
            return CheckResult(name, err[0], err[1] if err[0] == "todo" else f"{err[1]} on {where}.", fn, ref)
        if not np.array_equal(x, x0):
            return fail("caller", where)
        eps = kw.get("eps", 1e-6)
        expected = ref(f, x0, **kw)
        if not isinstance(value, np.ndarray) or value.dtype == object:
            got = "None: the function has no `return` statement" if value is None else describe(value)
            return CheckResult(name, "fail", f"returned {got} on {where}. {NG_HINTS['type'][0]}", fn, ref)
        if value.shape != x0.shape:
            return fail("shape", where) if value.size == x0.size else CheckResult(
                name, "fail", f"returned shape {value.shape}, expected {x0.shape} on {where}: one partial "
                f"derivative per entry of x.", fn, ref)
        # what f saw: the shape, float, one entry moved at a time, by eps
        base = x0.astype(float)
        if any(not np.issubdtype(seen.dtype, np.floating) for seen in spy.calls):
            return fail("integer", where)
        if any(seen.dtype != np.float64 for seen in spy.calls):
            return fail("float32", where)
        if not np.issubdtype(value.dtype, np.floating):
            return fail("int result", where)
        moved = [np.abs(seen - base) > 1e-12 * (1 + np.abs(base)) for seen in spy.calls]
        for seen, m in zip(spy.calls, moved):
            if m.sum() > 1:
                shifts = (seen - base)[m]
                return fail("several" if np.allclose(shifts, shifts[0], rtol=1e-6) else "restore", where)
        steps_seen = [float(np.abs(seen - base)[m][0]) for seen, m in zip(spy.calls, moved) if m.any()]
        if not steps_seen and np.any(expected != 0):
            return fail("ravel", where) if not x0.flags.c_contiguous else CheckResult(
                name, "fail", f"f never saw a perturbed x on {where}: move one entry by ±eps before each call.",
                fn, ref)
        if any(abs(s - eps) > 1e-9 * (1 + eps) for s in steps_seen):
            return fail("eps", where)
        got = value.astype(float)
        if np.allclose(got, expected, rtol=1e-7, atol=1e-9):
            continue
        for key, wrong in (("forward", lambda: _one_sided(f, x0, eps)), ("forward", lambda: _one_sided(f, x0, -eps)),
                           ("factor", lambda: 2 * expected), ("sign", lambda: -expected)):
            if np.allclose(got, wrong(), rtol=1e-7, atol=1e-9):
                return fail(key, where)
        if len(spy.calls) <= x0.size + 1:
            return fail("forward", where)
        diff = float(np.max(np.abs(got - expected)))
        return CheckResult(name, "fail", f"your gradient differs from the central difference by up to {diff:.3g} "
                           f"on {where}.", fn, ref,
                           hints=("Write out one entry: g_i = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps), where "
                                  "e_i moves only entry i. Print your g and the pieces for the small 1-D case.",))
    return CheckResult(name, "pass", "correct: central differences over every entry of x, each entry restored, "
                       "float64, for 1-D, 2-D and 3-D x.", fn, ref)


# --------------------------------------------------------------------------- MSE
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
    (forgot 1/N), the missing 2, a sign error, dividing by the number of rows or of
    columns only, the loss instead of its gradient.
    """
    if callable(fn):
        low = low_precision("mse_grad", fn, L.mse_grad, _cases_regression()[1])
        if low is not None:
            return low
    return check_function(
        "mse_grad", fn, reference=L.mse_grad, cases=_cases_regression(),
        diagnoses=[
            Diagnosis("no 1/N", lambda p, t: 2 * (p - t),
                      ("you forgot the 1/N: the loss is a *mean*",
                       "every gradient entry is divided by the number of elements N = y_pred.size")),
            Diagnosis("no 2", lambda p, t: (p - t) / p.size,
                      ("the factor 2 from differentiating the square is missing",
                       "d(u²)/du = 2u, so the gradient is 2(ŷ - y)/N")),
            Diagnosis("sign", lambda p, t: -2 * (p - t) / p.size,
                      ("sign error: a prediction that is too high must get a positive gradient",
                       "use prediction minus target, ŷ - y, so that gradient descent lowers a prediction "
                       "that is too high")),
            Diagnosis("rows only", lambda p, t: 2 * (p - t) / p.shape[0],
                      ("you divided by the number of rows n only",
                       "the mean runs over all N = n·d elements (y_pred.size), as in the definition of the loss")),
            Diagnosis("columns only", lambda p, t: 2 * (p - t) / p.shape[-1],
                      ("you divided by the number of columns only",
                       "the mean runs over all N = n·d elements (y_pred.size)")),
        ],
        success="correct: 2(ŷ - y)/N, on 1-D and 2-D inputs.")


# ------------------------------------------------------------------ cross-entropy
def _cases_classification():
    """Moderate logits (the values), non-square, rows of different scale; extremes come later."""
    rng = np.random.default_rng(12)
    return [
        (rng.normal(size=(4, 3)), np.array([0, 2, 1, 2])),
        (3 * rng.normal(size=(2, 5)), np.array([4, 0])),
        (rng.normal(size=(6, 2)), np.array([1, 0, 0, 1, 1, 0])),
        (np.array([[8.0, 0.0, -8.0], [0.1, 0.2, 0.3], [-3.0, 5.0, 1.0]]), np.array([1, 2, 0])),
    ]


#: Stability probes, in order: (name, logits, labels, mistake it exposes)
PROBES = [
    ("logits [[1000, 0, -1000]], label 0", np.array([[1000.0, 0.0, -1000.0]]), np.array([0]), "overflow"),
    ("the batch [[1e4, 0, -1e4], [0, 1, 2]], labels [0, 2]", np.array([[1e4, 0.0, -1e4], [0.0, 1.0, 2.0]]),
     np.array([0, 2]), "global max"),
    ("logits [[1e4, 0, -1e4]], label 2 (loss 2e4)", np.array([[1e4, 0.0, -1e4]]), np.array([2]), "underflow"),
]

STABILITY_HINTS = {
    "overflow": ("exp of a large logit overflows: e^1000 is inf in float64, and inf/inf is NaN.",
                 "Softmax does not change when one number is subtracted from every logit of a row: subtract "
                 "each row's largest logit, m = z.max(axis=1, keepdims=True), before exponentiating; then no "
                 "exp sees a positive number."),
    "global max": ("you subtracted one number for the whole batch: a row whose logits all lie far below it "
                   "gets exp(...) = 0 for every class, and 0/0 or log(0) follows.",
                   "Subtract each row's own max, z.max(axis=1, keepdims=True), not z.max(): the shift must be "
                   "the same within a row, and may differ between rows."),
    "underflow": ("the shift is right, but log(softmax) underflows: the true class's probability e^-20000 "
                  "is 0 in float64, and log(0) = -inf.",
                  "Never take the log of the softmax: compute log-softmax directly, "
                  "log_p = shifted - log(sum(exp(shifted))) with shifted = z - max. Then this sample's loss "
                  "is exactly 2e4."),
    "clip": ("your loss is finite but too small at extreme logits: a clip or an epsilon inside the log "
             "(e.g. log(p + 1e-12)) caps each sample's loss (at 27.6 for 1e-12).",
             "Compute log-softmax directly, shifted - log(sum(exp(shifted))), with no epsilon: it needs none."),
}


def _probe(name, fn, reference, scalar):
    """Run the stability probes; a failing CheckResult, or None when all pass."""
    for where, z, y, mistake in PROBES:
        if mistake == "underflow" and not scalar:
            continue  # the gradient needs no log
        value, err = _call(fn, (z.copy(), y.copy()))
        if err:
            return CheckResult(name, err[0], f"{err[1]} on {where}.", fn, reference)
        try:
            got = np.asarray(value.detach().numpy() if hasattr(value, "detach") else value, dtype=float)
        except (TypeError, ValueError):
            return CheckResult(name, "fail", f"returned {returned(value)} on {where}.", fn, reference)
        expected = np.asarray(reference(z, y), dtype=float)
        got = got.reshape(expected.shape) if got.size == expected.size else got
        if got.shape == expected.shape and np.all(np.isfinite(got)) and np.allclose(got, expected, rtol=1e-9):
            continue
        key = mistake if not np.all(np.isfinite(got)) else ("clip" if scalar and np.all(got < expected) else None)
        if key is None:
            return CheckResult(name, "fail", f"your result is finite but wrong at extreme logits, on {where}.",
                               fn, reference, hints=("Work with shifted = z - z.max(axis=1, keepdims=True) only, "
                                                     "and derive everything (softmax, log-softmax) from it.",))
        steps = STABILITY_HINTS[key]
        return CheckResult(name, "fail", f"returned {'inf or NaN' if key != 'clip' else 'a wrong value'} on "
                           f"{where}. {steps[0][0].upper()}{steps[0][1:]}", fn, reference, hints=steps[1:])
    return None


def _softmax_axis0(z):
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def cross_entropy(fn) -> CheckResult:
    """Check ``fn(logits (n, C), labels (n,)) -> mean cross-entropy`` (a float).

    First the values on four moderate batches, then three probes at extreme logits that
    separate no shift (overflow), one shift for the whole batch, and log(softmax)
    (underflow); a finite but too-small loss there is an epsilon/clip in the log.
    Recognised value mistakes: sum instead of mean, mean over all n·C entries, softmax
    over the wrong axis, missing minus sign, ``log_p[:, labels]`` (an (n, n) block),
    log base 2 or 10, a per-sample vector returned instead of the mean.
    """
    def ce(z, y):
        return L.cross_entropy(z, y)

    def pick_block(z, y):
        return -L.log_softmax(z)[:, y].mean()

    result = check_function(
        "cross_entropy", fn, reference=L.cross_entropy, cases=_cases_classification(), scalar=True,
        diagnoses=[
            Diagnosis("sum", lambda z, y: L.cross_entropy(z, y, reduction="sum"),
                      ("you returned the *sum* over the batch",
                       "the convention here (and in PyTorch) is the mean over the n samples: divide by n")),
            Diagnosis("all entries", lambda z, y: ce(z, y) / z.shape[1],
                      ("you averaged over all n·C entries of an (n, C) array",
                       "pick one log-probability per sample (its true class), then average those n numbers")),
            Diagnosis("axis", lambda z, y: -np.log(_softmax_axis0(z)[np.arange(len(y)), y]).mean(),
                      ("softmax was taken over the wrong axis",
                       "normalise each *row* (a sample's C class scores): axis=1 with keepdims=True")),
            Diagnosis("sign", lambda z, y: -ce(z, y),
                      ("sign error: cross-entropy is never negative",
                       "it is *minus* the mean log-probability of the true class")),
            Diagnosis("block", pick_block,
                      ("you picked an (n, n) block of log-probabilities",
                       "`log_p[:, labels]` takes every row at every label; `log_p[np.arange(n), labels]` takes "
                       "row i at its own label y_i")),
            Diagnosis("log2", lambda z, y: ce(z, y) / np.log(2),
                      ("your logarithm has the wrong base", "use the natural log, np.log")),
            Diagnosis("log10", lambda z, y: ce(z, y) / np.log(10),
                      ("your logarithm has the wrong base", "use the natural log, np.log, not np.log10")),
        ],
        success="correct on moderate logits.")
    if not result.passed:
        return result
    unstable = _probe("cross_entropy", fn, L.cross_entropy, scalar=True)
    return unstable if unstable is not None else CheckResult(
        "cross_entropy", "pass", "correct, and stable: logits of ±1e4 give a finite, exact loss, row by row.",
        fn, L.cross_entropy)


def cross_entropy_grad(fn) -> CheckResult:
    """Check ``fn(logits (n, C), labels (n,)) -> dL/dlogits (n, C)`` for the mean cross-entropy.

    Values on four moderate batches, then the overflow and whole-batch-shift probes.
    Recognised mistakes: forgot 1/n, one-hot minus softmax (sign), softmax over the wrong
    axis, forgetting the one-hot, ``softmax - onehot / n`` (brackets), dividing by n·C,
    ``p[:, labels] -= 1`` (every row loses 1 at every label).
    """
    def onehot(z, y):
        return L.one_hot(y, z.shape[1])

    def column_block(z, y):
        p = L.softmax(z)
        p[:, y] -= 1.0
        return p / len(y)

    if callable(fn):
        low = low_precision("cross_entropy_grad", fn, L.cross_entropy_grad, _cases_classification()[0])
        if low is not None:
            return low
    result = check_function(
        "cross_entropy_grad", fn, reference=L.cross_entropy_grad, cases=_cases_classification(),
        diagnoses=[
            Diagnosis("no 1/n", lambda z, y: L.softmax(z) - onehot(z, y),
                      ("you forgot the 1/n: the loss is the mean over n samples",
                       "the gradient is (softmax - one-hot) / n")),
            Diagnosis("sign", lambda z, y: (onehot(z, y) - L.softmax(z)) / len(y),
                      ("sign error", "it is softmax minus one-hot (prediction minus target), not the reverse")),
            Diagnosis("no onehot", lambda z, y: L.softmax(z) / len(y),
                      ("you returned softmax / n", "subtract the one-hot target (1 at the true class) as well")),
            Diagnosis("brackets", lambda z, y: L.softmax(z) - onehot(z, y) / len(y),
                      ("only the one-hot part was divided by n",
                       "put brackets around the difference: (softmax - one_hot) / n")),
            Diagnosis("n*C", lambda z, y: (L.softmax(z) - onehot(z, y)) / z.size,
                      ("you divided by n·C", "the loss averages over the n samples only: divide by n = z.shape[0]")),
            Diagnosis("axis", lambda z, y: (_softmax_axis0(z) - onehot(z, y)) / len(y),
                      ("softmax was taken over the wrong axis", "normalise each row (axis=1), not each column")),
            Diagnosis("column block", column_block,
                      ("the 1 was subtracted at the wrong places",
                       "`p[:, labels] -= 1` hits every row at every label; `p[np.arange(n), labels] -= 1` "
                       "hits row i at its own label only")),
        ],
        success="correct on moderate logits.")
    if not result.passed:
        return result
    unstable = _probe("cross_entropy_grad", fn, L.cross_entropy_grad, scalar=False)
    return unstable if unstable is not None else CheckResult(
        "cross_entropy_grad", "pass", "correct: (softmax(z) - one_hot(y)) / n, stable at extreme logits, row by row.",
        fn, L.cross_entropy_grad)


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

#: first step: a question to think about (no answer); second step: the answer with its reason
SIGN_THINK = {
    "a": "is the prediction too high or too low? Descent moves ŷ against the gradient",
    "b": "what probability does z = 2 give class 1, and what is the target? dℓ/dz = σ(z) - y",
    "c": "dℓ/dz_k = softmax(z)_k - [k = y]: can a probability exceed 1?",
    "d": "dℓ/dz_k = softmax(z)_k - [k = y] for a class k that is not the true one",
}

SIGN_WHY = {
    "a": "ŷ - y = -2 < 0: the prediction is too low, so the gradient is negative and a descent step raises it",
    "b": "σ(2) - 0 ≈ 0.88 > 0: the model says class 1 while the target is 0, so descent lowers z",
    "c": "softmax(z)_2 - 1 < 0 (a probability is below 1): descent always raises the true class's logit",
    "d": "softmax(z)_0 - 0 > 0: descent lowers every wrong class's logit",
}

SIGN_FORMAT = ("return a dict with the keys 'a', 'b', 'c', 'd' and the strings '+' or '-' as values, "
               "e.g. {'a': '+', 'b': '-', 'c': '+', 'd': '-'} (a list or tuple of four strings in the order "
               "a, b, c, d works too)")


def gradient_signs(fn) -> CheckResult:
    """Check ``fn() -> {"a": "+" or "-", ..., "d": ...}``: predicted signs of four gradients.

    A list or tuple of four answers in the order a, b, c, d is accepted too. The
    questions are in ``SIGN_QUESTIONS``. A wrong answer first gets a question to think
    about (``SIGN_THINK``), then, on a repeat, the answer with its reason (``SIGN_WHY``).
    """
    name = "gradient_signs"
    bad = require_function(name, fn)
    if bad is not None:
        return bad
    value, err = _call(fn, ())
    if err:
        return CheckResult(name, err[0], err[1], fn, None)
    if isinstance(value, (list, tuple)) and len(value) == len(SIGN_QUESTIONS):
        value = dict(zip(SIGN_QUESTIONS, value))
    if not isinstance(value, dict):
        return CheckResult(name, "fail", f"returned {returned(value)}; {SIGN_FORMAT}.", fn, None)
    value = {str(k).strip().strip("()").lower(): v for k, v in value.items()}
    missing = [k for k in SIGN_QUESTIONS if k not in value]
    if missing:
        return CheckResult(name, "fail", f"no answer for {', '.join(missing)}; {SIGN_FORMAT}.", fn, None)
    wrong = []
    for key, (question, compute) in SIGN_QUESTIONS.items():
        # the minus sign (U+2212) and the full-width ＋ － of a Chinese input method mean the same
        answer = str(value[key]).strip().translate({0x2212: "-", 0xFF0D: "-", 0xFF0B: "+"})
        if answer not in ("+", "-"):
            return CheckResult(name, "fail", f"answer {key} must be the string '+' or '-', got {value[key]!r}",
                               fn, None)
        value[key] = answer
        if answer != ("+" if compute() > 0 else "-"):
            wrong.append(key)
    if wrong:
        n = f"{len(wrong)} of {len(SIGN_QUESTIONS)} wrong"
        think = " ".join(f"({k}) {SIGN_QUESTIONS[k][0]}: {SIGN_THINK[k]}." for k in wrong)
        why = " ".join(f"({k}) it is '{'+' if value[k].strip() == '-' else '-'}': {SIGN_WHY[k]}." for k in wrong)
        return CheckResult(name, "fail", f"{n}. {think}", fn, None, hints=(f"{n}. {why}",))
    return CheckResult(name, "pass", "all four signs right: a gradient points toward *more* "
                       "loss, so descent moves each input against it.", fn, None)
