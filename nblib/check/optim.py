"""Checkers for notebook 03 (mini-batches, momentum, RMSProp, Adam, the cosine schedule).

The references the checks hand out with ``or_reference()`` are ``nblib.optim``'s own step
functions (``momentum_step``, ``rmsprop_step``, ``adam_step``): the rules the course's
optimizers and the optimizer race run. Every hint is a tuple of steps, from the kind of
mistake to the specific line of thought (see ``nblib.check._core``).
"""

from __future__ import annotations

import math

import numpy as np

from .. import optim as O
from ._core import CheckResult, Diagnosis, _call, _to_array, check_function, require_function

__all__ = ["minibatches", "momentum_step", "rmsprop_step", "adam_step", "cosine_lr"]


# ------------------------------------------------------------------------- mini-batches
def reference_minibatches(n, batch_size, rng):
    """One epoch's mini-batches: a shuffled permutation of 0..n-1 cut into pieces."""
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def _batches(value):
    """The learner's batches as a list of arrays, or None."""
    try:
        return [np.asarray(b.detach().cpu() if hasattr(b, "detach") else b) for b in value]
    except (TypeError, ValueError, RuntimeError):
        return None


def minibatches(fn) -> CheckResult:
    """Check ``fn(n, batch_size, rng) -> list of index arrays`` for one epoch.

    Any shuffle is accepted; the batches must (1) cover every index 0..n-1 exactly once,
    (2) have ``batch_size`` entries each except possibly the last, smaller one, (3) come
    from the ``rng`` given (the same rng state gives the same batches), and (4) differ in
    content from epoch to epoch (not fixed blocks 0..b-1, b..2b-1 in a shuffled order).
    """
    name, ref = "minibatches", reference_minibatches
    not_callable = require_function(name, fn, ref)
    if not_callable is not None:
        return not_callable
    orders, aligned = [], []
    for n, bs, seed in [(10, 3, 0), (12, 4, 1), (7, 7, 2), (5, 1, 3), (10, 3, 4), (13, 5, 5)]:
        value, err = _call(fn, (n, bs, np.random.default_rng(seed)))
        where = f"for n={n}, batch_size={bs}"
        if err:
            return CheckResult(name, err[0], err[1] if err[0] == "todo" else f"{err[1]} {where}.", fn, ref)
        batches = _batches(value)
        if batches is None:
            return CheckResult(name, "fail", f"return a list of index arrays, got {type(value).__name__} {where}.",
                               fn, ref, hints=("Build the list with a loop or a comprehension over the batch "
                                               "starts: [order[i:i + batch_size] for i in ...].",))
        if any(b.ndim != 1 or not (b.size == 0 or np.issubdtype(b.dtype, np.integer)) for b in batches):
            return CheckResult(name, "fail", f"each batch must be a 1-D array of integer indices {where}; "
                               f"index the data with it: x[idx].", fn, ref,
                               hints=("rng.permutation(n) gives integer indices; slice that array.",))
        flat = np.concatenate(batches) if batches else np.array([], dtype=int)
        if sorted(flat.tolist()) != list(range(n)):
            if flat.size < n and len(set(flat.tolist())) == flat.size:
                return CheckResult(name, "fail", f"the batches hold {flat.size} indices but there are {n} "
                                   f"samples {where}: some samples are never used.", fn, ref,
                                   hints=("The last batch may be smaller than batch_size; keep it.",
                                          "range(0, n, batch_size) gives every batch start, the last one "
                                          "included; a slice past the end simply stops at the end."))
            return CheckResult(name, "fail", f"the batches must hold every index 0..{n - 1} exactly once {where}; "
                               f"yours repeat some and miss others.", fn, ref,
                               hints=("Draw without replacement: shuffle all n indices once, then cut.",
                                      "rng.permutation(n) is a shuffled copy of 0..n-1; rng.integers draws "
                                      "with replacement."))
        blocks = None if len(batches) < 2 else all(
            set(b.tolist()) == set(range(k * bs, k * bs + b.size))
            for k, b in enumerate(sorted(batches, key=lambda b: b.min() if b.size else -1)))
        sizes = [b.size for b in batches]
        if not blocks and (any(s != bs for s in sizes[:-1]) or sizes[-1] > bs or sizes[-1] == 0):
            return CheckResult(name, "fail", f"batch sizes {sizes} {where}: every batch has batch_size "
                               f"entries except possibly the last.", fn, ref,
                               hints=("np.array_split spreads the remainder over several batches; cut at "
                                      "multiples of batch_size instead.",))
        orders.append(flat.tolist())
        aligned.append(blocks)
    if all(a for a in aligned if a is not None):
        if orders[0] == list(range(10)):
            return CheckResult(name, "fail", "the indices are not shuffled: each epoch must see the samples in a "
                               "new random order.", fn, ref,
                               hints=("Use the rng you are given to shuffle all n indices before cutting them.",))
        return CheckResult(name, "fail", "your batches are always the same blocks (0..b-1, b..2b-1, ...), only "
                           "in another order: the batches themselves must change from epoch to epoch.", fn, ref,
                           hints=("Shuffle the indices first, then cut the shuffled order into batches (not "
                                  "cut first, shuffle second).",))
    if orders[0] == orders[4]:
        return CheckResult(name, "fail", "the indices are not shuffled (or the same for every rng): each epoch "
                           "must see the samples in a new random order.", fn, ref,
                           hints=("Use the rng you are given to shuffle all n indices before cutting them.",))
    again, err = _call(fn, (10, 3, np.random.default_rng(0)))
    again = _batches(again) if not err else None
    if again is None or np.concatenate(again).tolist() != orders[0]:
        return CheckResult(name, "fail", "the same rng state gave different batches: your shuffle does not use "
                           "the rng passed in (a global np.random call, or a new generator inside?).", fn, ref,
                           hints=("Call the generator you are given, rng.permutation(n), so a run can be "
                                  "repeated from its seed.",))
    return CheckResult(name, "pass", "correct: every sample once per epoch, in shuffled batches.", fn, ref)


# ------------------------------------------------------------------------- shared helpers
def _stacked(fn, n_out):
    """``fn``'s tuple of ``n_out`` arrays stacked into one array (for comparison)."""
    def run(*args):
        out = fn(*args)
        if isinstance(out, (tuple, list)) and len(out) == n_out:
            parts = [_to_array(o) for o in out]
            if any(p is None for p in parts) or len({p.shape for p in parts}) != 1:
                return out
            return np.stack(parts)
        return out
    return run


def _structure(name, fn, args, ref, outputs):
    """A failing result if ``fn`` does not return the tuple ``outputs`` names, or keeps state
    of its own (two calls with the same inputs give two answers); else None."""
    results = []
    for _ in range(2):
        copies = [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]
        value, err = _call(fn, copies)
        if err:
            return None                      # check_function reports the crash or the stub
        if not isinstance(value, (tuple, list)) or len(value) != len(outputs):
            from ._core import returned
            return CheckResult(name, "fail", f"return a tuple of {len(outputs)}: ({', '.join(outputs)}); your "
                               f"function returned {returned(value)}.", fn, ref,
                               hints=(f"The state ({', '.join(outputs[1:])}) goes out with the new parameter, so "
                                      f"the next step can continue from it.",))
        parts = [_to_array(v) for v in value]
        if any(p is None for p in parts):
            return None
        results.append(np.concatenate([np.ravel(p) for p in parts]))
    if results[0].shape == results[1].shape and np.array_equal(results[0], results[1], equal_nan=True):
        return None
    return CheckResult(name, "fail", "called twice with the same inputs, your function gave two different "
                       "answers: it keeps state of its own between calls (a global variable, a default "
                       "argument, an attribute).", fn, ref,
                       hints=("All the state comes in as arguments and goes out in the returned tuple; an "
                              "optimizer keeps one such state per parameter, so a state shared between calls "
                              "mixes the parameters' histories.",))


# ------------------------------------------------------------------------- momentum
def _momentum_cases():
    rng = np.random.default_rng(31)
    return [
        (rng.normal(size=(2, 3)), rng.normal(size=(2, 3)), rng.normal(size=(2, 3)), 0.05, 0.8),
        (rng.normal(size=3), rng.normal(size=3), np.zeros(3), 0.1, 0.9),
        (np.array([1.0, -2.0]), np.array([0.5, 0.5]), np.array([1.0, 1.0]), 0.5, 0.5),
        (np.array([3.0, 1e3]), np.array([-1e-3, 20.0]), np.array([2.0, -4.0]), 0.01, 0.99),
    ]


def momentum_step(fn) -> CheckResult:
    """Check ``fn(p, g, v, lr, beta) -> (p_new, v_new)``, PyTorch's momentum convention.

    ``v_new = beta * v + g``; ``p_new = p - lr * v_new``. Recognised mistakes: the
    dampened (EMA) form, updating p with the *old* velocity, the sign, lr folded into v
    (``v = βv + lr g; p -= v``, another convention), lr applied twice, β forgotten,
    the outputs swapped, state kept between calls.
    """
    name, ref = "momentum_step", O.momentum_step
    not_callable = require_function(name, fn, ref)
    if not_callable is not None:
        return not_callable
    cases = _momentum_cases()
    own = _structure(name, fn, cases[0], ref, ("p_new", "v_new"))
    if own is not None:
        return own

    def wrong(update_p, update_v):
        return lambda p, g, v, lr, b: np.stack([update_p(p, g, v, lr, b), update_v(p, g, v, lr, b)])

    res = check_function(
        name, _stacked(fn, 2), reference=_stacked(ref, 2), cases=cases, atol=1e-12, rtol=1e-10,
        diagnoses=[
            Diagnosis("ema", wrong(lambda p, g, v, lr, b: p - lr * (b * v + (1 - b) * g),
                                   lambda p, g, v, lr, b: b * v + (1 - b) * g),
                      ("you used the dampened form v = βv + (1-β)g: a valid variant, but not the one asked for",
                       "this course follows PyTorch: the new gradient enters v with weight 1, not (1-β)")),
            Diagnosis("old v", wrong(lambda p, g, v, lr, b: p - lr * v, lambda p, g, v, lr, b: b * v + g),
                      ("your step uses the velocity from before this step",
                       "update v first; then move p with the new velocity")),
            Diagnosis("sign", wrong(lambda p, g, v, lr, b: p + lr * (b * v + g), lambda p, g, v, lr, b: b * v + g),
                      ("sign error: your step goes uphill", "descent subtracts: p_new = p - (a positive step)")),
            Diagnosis("lr in v", wrong(lambda p, g, v, lr, b: p - (b * v + lr * g),
                                       lambda p, g, v, lr, b: b * v + lr * g),
                      ("your v already contains the learning rate (v = βv + lr·g, p -= v): another convention",
                       "here v holds gradients only (it has the units of g); lr multiplies it when p moves")),
            Diagnosis("lr twice", wrong(lambda p, g, v, lr, b: p - lr * (b * v + lr * g),
                                        lambda p, g, v, lr, b: b * v + lr * g),
                      ("the learning rate is applied twice: once inside v and once when p moves",
                       "keep lr out of v: v_new = βv + g")),
            Diagnosis("no beta", wrong(lambda p, g, v, lr, b: p - lr * (v + g), lambda p, g, v, lr, b: v + g),
                      ("β is missing: your velocity never forgets old gradients",
                       "the old velocity is multiplied by β before the new gradient is added")),
            Diagnosis("swapped", wrong(lambda p, g, v, lr, b: b * v + g, lambda p, g, v, lr, b: p - lr * (b * v + g)),
                      ("your outputs are in the wrong order", "return (p_new, v_new): the parameter first")),
        ],
        success="correct: v = βv + g, then p -= lr·v (PyTorch's convention).")
    res.candidate, res.reference = fn, ref
    return res


# ------------------------------------------------------------------------- RMSProp
def _rmsprop_cases():
    rng = np.random.default_rng(33)
    return [
        # s far from 0 and coordinates of very different scale: where s, rho and eps go shows
        (rng.normal(size=4), np.array([3.0, -0.02, 40.0, 1e-3]), np.array([4.0, 1e-4, 900.0, 1e-6]),
         0.01, 0.9, 1e-8),
        (rng.normal(size=(2, 3)), rng.normal(size=(2, 3)), rng.random((2, 3)), 0.05, 0.99, 1e-8),
        (rng.normal(size=3), rng.normal(size=3), np.zeros(3), 0.1, 0.99, 1e-8),
        # tiny gradients and a large eps: eps inside or outside the root differ a lot
        (rng.normal(size=3), 1e-3 * rng.normal(size=3), 1e-6 * rng.random(3), 0.1, 0.8, 1e-3),
    ]


def rmsprop_step(fn) -> CheckResult:
    """Check ``fn(p, g, s, lr, rho, eps) -> (p_new, s_new)``, PyTorch's RMSProp.

    ``s_new = rho * s + (1 - rho) * g**2``; ``p_new = p - lr * g / (sqrt(s_new) + eps)``.
    Recognised mistakes: eps inside the square root, the step taken with the old average
    (s updated after use), the (1 - rho) factor missing, rho and 1 - rho swapped, no square
    root, the sign, sqrt(s) returned as the state, state kept between calls.
    """
    name, ref = "rmsprop_step", O.rmsprop_step
    not_callable = require_function(name, fn, ref)
    if not_callable is not None:
        return not_callable
    cases = _rmsprop_cases()
    own = _structure(name, fn, cases[0], ref, ("p_new", "s_new"))
    if own is not None:
        return own

    def wrong(new_s, step, state=None):
        def f(p, g, s, lr, rho, eps):
            s_new = new_s(g, s, rho)
            return np.stack([p - lr * step(g, s, s_new, eps), s_new if state is None else state(s_new)])
        return f

    good_s = lambda g, s, rho: rho * s + (1 - rho) * g * g  # noqa: E731
    good_step = lambda g, s, s_new, eps: g / (np.sqrt(s_new) + eps)  # noqa: E731
    res = check_function(
        name, _stacked(fn, 2), reference=_stacked(ref, 2), cases=cases, atol=1e-12, rtol=1e-10,
        diagnoses=[
            Diagnosis("eps inside", wrong(good_s, lambda g, s, s_new, eps: g / np.sqrt(s_new + eps)),
                      ("ε is in the wrong place", "PyTorch adds ε after the square root, to √s, not to s")),
            Diagnosis("old s", wrong(good_s, lambda g, s, s_new, eps: g / (np.sqrt(s) + eps)),
                      ("your step divides by the average from before this step",
                       "update the squared-gradient average first, then use the new one in the step")),
            Diagnosis("no 1-rho", wrong(lambda g, s, rho: rho * s + g * g, good_step),
                      ("your running average does not average: the new g² enters with weight 1",
                       "weights ρ and (1-ρ) add up to 1: that makes s an average of g²")),
            Diagnosis("swapped rho", wrong(lambda g, s, rho: (1 - rho) * s + rho * g * g, good_step),
                      ("ρ and 1-ρ are swapped: your average forgets almost everything each step",
                       "ρ (about 0.99) multiplies the old average; the new g² gets the small weight")),
            Diagnosis("no sqrt", wrong(good_s, lambda g, s, s_new, eps: g / (s_new + eps)),
                      ("you divide by the mean square, not by its root: the step has the wrong units",
                       "RMS means root of the mean square: divide by √s + ε")),
            Diagnosis("sign", wrong(good_s, lambda g, s, s_new, eps: -g / (np.sqrt(s_new) + eps)),
                      ("sign error: your step goes uphill", "descent subtracts lr·g/(√s + ε) from p")),
            Diagnosis("sqrt state", wrong(good_s, good_step, state=np.sqrt),
                      ("the state you return is not the average of g² itself",
                       "return s_new (the average of squares), not its square root: the next step squares nothing")),
        ],
        success="correct: s = ρs + (1-ρ)g², then p -= lr·g/(√s + ε) (PyTorch's RMSprop).")
    res.candidate, res.reference = fn, ref
    return res


# ------------------------------------------------------------------------- Adam
def _adam_cases():
    rng = np.random.default_rng(32)
    return [
        # t = 3 first, with non-zero state: t - 1 / t + 1 and a corrected state are told apart here
        (rng.normal(size=4), np.array([2.0, -0.01, 30.0, 1e-3]), 0.1 * rng.normal(size=4),
         np.array([3.0, 1e-4, 500.0, 1e-6]), 3, 0.01, 0.9, 0.999, 1e-8),
        (rng.normal(size=4), rng.normal(size=4), np.zeros(4), np.zeros(4), 1, 0.1, 0.9, 0.999, 1e-8),
        # tiny gradients and a large eps: where eps goes matters here
        (rng.normal(size=3), 1e-3 * rng.normal(size=3), np.zeros(3), np.zeros(3), 1, 0.1, 0.8, 0.99, 1e-3),
        (rng.normal(size=(2, 2)), rng.normal(size=(2, 2)), rng.normal(size=(2, 2)), rng.random((2, 2)), 10,
         0.05, 0.5, 0.9, 1e-8),
    ]


def _adam_variant(correct_m=True, correct_v=True, shift=0, eps_inside=False, old_v=False, old_m=False,
                  corrected_state=False, sign=1.0):
    def f(p, g, m, v, t, lr, b1, b2, eps):
        m_new = b1 * m + (1 - b1) * g
        v_new = b2 * v + (1 - b2) * g * g
        tt = t + shift
        m_use, v_use = (m if old_m else m_new), (v if old_v else v_new)
        m_hat = m_use / (1 - b1 ** tt) if correct_m else m_use
        v_hat = v_use / (1 - b2 ** tt) if correct_v else v_use
        denom = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        p_new = p - sign * lr * m_hat / denom
        if corrected_state:
            return np.stack([p_new, m_new / (1 - b1 ** t), v_new / (1 - b2 ** t)])
        return np.stack([p_new, m_new, v_new])
    return f


def adam_step(fn) -> CheckResult:
    """Check ``fn(p, g, m, v, t, lr, beta1, beta2, eps) -> (p_new, m_new, v_new)``.

    ``t`` is the number of this step, already incremented (1 on the first step).
    Recognised mistakes: no bias correction, correcting only m or only v, correcting with
    ``t - 1`` (a counter starting at 0) or ``t + 1``, eps inside the square root, the
    squared-gradient average updated after its use, the bias-corrected m̂, v̂ returned as
    the state, the sign, state kept between calls.
    """
    name, ref = "adam_step", O.adam_step
    not_callable = require_function(name, fn, ref)
    if not_callable is not None:
        return not_callable
    cases = _adam_cases()
    own = _structure(name, fn, cases[0], ref, ("p_new", "m_new", "v_new"))
    if own is not None:
        return own
    res = check_function(
        name, _stacked(fn, 3), reference=_stacked(ref, 3), cases=cases, atol=1e-12, rtol=1e-10,
        diagnoses=[
            Diagnosis("no correction", _adam_variant(False, False),
                      ("no bias correction: m and v start at 0, so early on they are too small",
                       "the factor they are too small by is (1 - β^t), computed in the cell above")),
            Diagnosis("m only", _adam_variant(True, False),
                      ("you corrected m but not v", "v started at 0 too: it needs its own factor, with β2")),
            Diagnosis("v only", _adam_variant(False, True),
                      ("you corrected v but not m", "m started at 0 too: it needs its own factor, with β1")),
            Diagnosis("t-1", _adam_variant(shift=-1),
                      ("the correction uses t - 1, as if the counter started at 0",
                       "t is already the number of this step (1 on the first step): use β^t as given")),
            Diagnosis("t+1", _adam_variant(shift=+1),
                      ("the correction uses t + 1", "t is already incremented for this step: use β^t as given")),
            Diagnosis("eps inside", _adam_variant(eps_inside=True),
                      ("ε is in the wrong place", "PyTorch adds ε after the square root: to √v̂, not to v̂")),
            Diagnosis("old v", _adam_variant(old_v=True),
                      ("your step uses the squared-gradient average from before this step",
                       "update v with this g² first, then correct it and use it")),
            Diagnosis("old m", _adam_variant(old_m=True),
                      ("your step uses the gradient average from before this step",
                       "update m with this g first, then correct it and use it")),
            Diagnosis("corrected state", _adam_variant(corrected_state=True),
                      ("the state you return is bias-corrected",
                       "m̂ and v̂ are used for this step only; return the running averages m_new, v_new, so the "
                       "next step can update them")),
            Diagnosis("sign", _adam_variant(sign=-1.0),
                      ("sign error: your step goes uphill", "descent subtracts lr·m̂/(√v̂ + ε) from p")),
        ],
        success="correct: m̂ = m/(1-β1^t), v̂ = v/(1-β2^t), p -= lr·m̂/(√v̂ + ε).")
    res.candidate, res.reference = fn, ref
    return res


# ------------------------------------------------------------------------- cosine schedule
def reference_cosine_lr(t, lr0, total_steps, lr_min):
    """Half a cosine from lr0 (t = 0) down to lr_min (t = total_steps)."""
    return lr_min + (lr0 - lr_min) * (1 + math.cos(math.pi * t / total_steps)) / 2


def cosine_lr(fn) -> CheckResult:
    """Check ``fn(t, lr0, total_steps, lr_min) -> lr`` for cosine decay, 0 <= t <= total_steps.

    Recognised mistakes: a full cosine period (2π instead of π), forgetting lr_min,
    the curve going up instead of down, the /2 missing, a straight line instead of a
    cosine, integer division t // total_steps.
    """
    cases = [(25, 0.1, 100, 0.0), (50, 0.1, 100, 0.001), (80, 1.0, 90, 0.1), (7, 0.5, 30, 0.05),
             (0, 0.1, 100, 0.0), (100, 0.1, 100, 0.001)]
    return check_function(
        "cosine_lr", fn, reference=reference_cosine_lr, cases=cases, scalar=True, atol=1e-12, rtol=1e-10,
        diagnoses=[
            Diagnosis("full period", lambda t, a, T, m: m + (a - m) * (1 + math.cos(2 * math.pi * t / T)) / 2,
                      ("that is a full cosine period, which comes back up", "use half of one: π t/T, not 2π t/T")),
            Diagnosis("no min", lambda t, a, T, m: a * (1 + math.cos(math.pi * t / T)) / 2,
                      ("lr_min is missing", "the cosine part spans lr0 - lr_min, on top of lr_min")),
            Diagnosis("up", lambda t, a, T, m: m + (a - m) * (1 - math.cos(math.pi * t / T)) / 2,
                      ("your schedule rises from lr_min to lr0; it must start at lr0",
                       "at t = 0, cos(0) = 1: which sign in front of the cosine gives lr0 there?")),
            Diagnosis("no half", lambda t, a, T, m: m + (a - m) * (1 + math.cos(math.pi * t / T)),
                      ("at t = 0 your schedule gives more than lr0", "1 + cos runs from 2 to 0: halve it")),
            Diagnosis("linear", lambda t, a, T, m: a - (a - m) * t / T,
                      ("that is a straight line from lr0 to lr_min, not a cosine",
                       "the shape comes from (1 + cos(π t/T))/2")),
            Diagnosis("int div", lambda t, a, T, m: m + (a - m) * (1 + math.cos(math.pi * (t // T))) / 2,
                      ("t // total_steps is integer division: it is 0 until the very end",
                       "use true division t / total_steps")),
        ],
        success="correct: lr0 at t = 0, lr_min at t = total_steps, half a cosine between.")
