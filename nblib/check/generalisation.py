"""Checkers for notebook 08 (generalisation): the L2 penalty, inverted dropout, and the
training loop with early stopping that the capstone (notebook 09) reuses."""

from __future__ import annotations

import numpy as np

from .. import regularize as R
from ..train import train_early_stopping as _ref_loop
from . import _core
from ._core import CheckResult, _call, require_function, returned

__all__ = ["l2_penalty", "dropout", "early_stopping_loop"]


def _fail(name, message, fn, ref, hints=()):
    return CheckResult(name, "fail", message, fn, ref, hints=hints)


# ------------------------------------------------------------------ the L2 penalty
def _ref_l2(params, lam):
    return R.l2_penalty(params, lam)


def _l2_cases():
    rng = np.random.default_rng(11)
    big = {"W1": rng.normal(size=(3, 4)), "b1": rng.normal(size=4) + 2.0,
           "W2": 5.0 * rng.normal(size=(4, 2)), "b2": np.array([3.0, -1.0])}
    three = {"W1": rng.normal(size=(5, 3)), "b1": np.array([0.5, -0.2, 1.0]),
             "W2": rng.normal(size=(3, 3)), "b2": np.array([1.0, 2.0, -3.0]),
             "W3": rng.normal(size=(3, 1)), "b3": np.array([4.0])}
    return [(big, 0.1), (three, 0.03), (big, 0.0)]


def _variant(decay_b=False, value_scale=0.5, grad_scale=1.0, l1=False):
    def wrong(params, lam):
        value, grads = 0.0, {}
        for k, p in params.items():
            if R.is_weight(k) or decay_b:
                value += value_scale * lam * float(np.sum(np.abs(p) if l1 else p * p))
                grads[k] = grad_scale * lam * (np.sign(p) if l1 else p)
            else:
                grads[k] = np.zeros_like(p)
        return value, grads
    return wrong


#: (label, wrong function, hint steps)
_L2_DIAGNOSES = [
    ("lam instead of lam/2", _variant(value_scale=1.0),
     ("your penalty value is twice the expected one: the penalty is (λ/2)·‖W‖², with the factor 1/2.",
      "The 1/2 is there so that the gradient is λW without a 2: keep it in the value.")),
    ("gradient 2 lam W", _variant(grad_scale=2.0),
     ("your gradient is twice the expected one: differentiate (λ/2)·Σ w² term by term.",
      "d/dw (λ/2)·w² = λ·w: the 2 from the square cancels the 1/2.")),
    ("gradient lam/2 W", _variant(grad_scale=0.5),
     ("your gradient is half the expected one: the 2 from differentiating the square is missing.",
      "d/dw (λ/2)·w² = λ·w, not (λ/2)·w.")),
    ("L1", _variant(value_scale=1.0, l1=True),
     ("you computed an L1 penalty (absolute values); this exercise is the L2 penalty (squares).",
      "value = (λ/2)·Σ W², gradient λ·W.")),
    ("L1 halved", _variant(l1=True),
     ("you used absolute values |w| where the L2 penalty squares the weights.",
      "value = (λ/2)·Σ W², gradient λ·W.")),
    ("biases in value only", lambda P, lam: (_variant(decay_b=True)(P, lam)[0], _ref_l2(P, lam)[1]),
     ("your value includes the biases although your gradient does not: penalise the weight matrices only.",
      "Sum over the keys that start with 'W' when you add up the squares.")),
    ("biases in gradient only", lambda P, lam: (_ref_l2(P, lam)[0], _variant(decay_b=True)(P, lam)[1]),
     ("your gradient decays the biases although your value does not: the bias gradients must be zero.",
      "For a bias key return np.zeros_like(b).")),
    ("biases decayed", _variant(decay_b=True),
     ("you penalised the biases too: the exercise decays the weight matrices only (names starting with 'W').",
      "For a bias key, add nothing to the value and return a zero gradient of the bias's shape: "
      "np.zeros_like(b).")),
]


def _l2_parts(out):
    """(value, grads) from a learner's return value, or an error message."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        return None, f"returned {returned(out)}; return a pair (value, grads): a float and a dict"
    value, grads = out
    try:
        value = float(np.asarray(value, dtype=float).reshape(()))
    except (TypeError, ValueError):
        return None, f"the value (first item) is {returned(value)}; expected one number"
    if not isinstance(grads, dict):
        return None, f"the gradients (second item) are {returned(grads)}; expected a dict name -> array"
    return (value, grads), None


def _grads_close(a, b, keys):
    for k in keys:
        ga = np.asarray(a.get(k, np.nan), dtype=float) if k in a else None
        if ga is None or ga.shape != np.shape(b[k]) or not np.allclose(ga, b[k], rtol=1e-7, atol=1e-10):
            return False
    return True


def l2_penalty(fn) -> CheckResult:
    """Check ``fn(params, lam) -> (value, grads)``: ``(λ/2)·Σ_W ‖W‖²`` over the weight matrices
    (keys starting with ``"W"``), ``grads[k] = λ·W`` for weights and zeros for biases."""
    name = "l2_penalty"
    bad = require_function(name, fn, _ref_l2)
    if bad is not None:
        return bad
    for k, (params, lam) in enumerate(_l2_cases(), 1):
        copies = {key: v.copy() for key, v in params.items()}
        out, err = _call(fn, (copies, lam))
        where = f"on test case {k} (λ = {lam}, parameters {', '.join(params)})"
        if err:
            return CheckResult(name, err[0], err[1] if err[0] == "todo" else f"{err[1]} {where}.", fn, _ref_l2)
        if any(not np.array_equal(copies[key], params[key]) for key in params):
            return _fail(name, "your function changed the parameters in place; compute the penalty and new "
                               "gradient arrays without modifying params.", fn, _ref_l2,
                         ("Use `lam * W` (a new array), not `W *= lam`.",))
        parts, msg = _l2_parts(out)
        if msg:
            return _fail(name, f"{msg} {where}.", fn, _ref_l2)
        value, grads = parts
        if set(grads) != set(params):
            missing, extra = sorted(set(params) - set(grads)), sorted(set(grads) - set(params))
            return _fail(name, f"grads must have the same keys as params {where}; missing: {missing}, extra: {extra}.",
                         fn, _ref_l2, ("Return a gradient for every parameter, zeros for those not penalised "
                                       "(np.zeros_like(b)), so that the gradients can be added to the loss's.",))
        for key in params:
            if np.shape(grads[key]) != params[key].shape:
                return _fail(name, f"grads[{key!r}] has shape {np.shape(grads[key])} but params[{key!r}] has shape "
                                   f"{params[key].shape} {where}.", fn, _ref_l2)
        ref_value, ref_grads = _ref_l2(params, lam)
        value_ok = np.isclose(value, ref_value, rtol=1e-9, atol=1e-12)
        grads_ok = _grads_close(grads, ref_grads, params)
        if value_ok and grads_ok:
            continue
        for label, wrong, hint in _L2_DIAGNOSES:
            w_value, w_grads = wrong(params, lam)
            same_value = np.isclose(value, w_value, rtol=1e-9, atol=1e-12)
            same_grads = _grads_close(grads, w_grads, params)
            if (value_ok or same_value) and (grads_ok or same_grads) and not (
                    np.isclose(w_value, ref_value) and _grads_close(w_grads, ref_grads, params)):
                if (not value_ok and same_value) or (not grads_ok and same_grads):
                    return _fail(name, f"{hint[0]} Seen {where}.", fn, _ref_l2, hint[1:])
        if not value_ok:
            return _fail(name, f"your penalty value is {value:.6g}, expected {ref_value:.6g} {where}.", fn, _ref_l2,
                         ("Add up (λ/2)·Σ w² over each weight matrix: np.sum(W * W) sums every entry.",))
        wrong_keys = [key for key in params if not _grads_close(grads, ref_grads, [key])]
        return _fail(name, f"your gradients of {wrong_keys} differ from the expected ones {where}.", fn, _ref_l2,
                     ("The gradient of (λ/2)·‖W‖² with respect to W is λ·W; of a bias (not penalised), zero.",))
    return CheckResult(name, "pass", "correct: (λ/2)·Σ‖W‖² over the weights, gradient λ·W, biases untouched.",
                       fn, _ref_l2)


# ------------------------------------------------------------------ dropout
def _ref_dropout():
    return (R.dropout_forward, R.dropout_backward)


class _DropoutReference:
    """Both reference functions, shown by ``check.reference("dropout")``."""
    forward = staticmethod(R.dropout_forward)
    backward = staticmethod(R.dropout_backward)


def _array(value):
    """A learner's returned array as float64, or None when it is not one (None, a dict, text...)."""
    if value is None or isinstance(value, (str, bytes, dict)):
        return None
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return arr if arr.ndim else None


def _dropout_fail(message, fns, hints=()):
    return _fail("dropout", message, fns, _ref_dropout(), hints)


def dropout(forward, backward=None) -> CheckResult:
    """Check inverted dropout: ``forward(x, p, train, rng) -> (out, cache)`` and
    ``backward(dout, cache) -> dx``.

    ``p`` is the probability of dropping a unit (PyTorch's); in training mode each unit is
    kept with probability ``1 - p`` (a mask drawn from ``rng``) and the kept ones are divided
    by ``1 - p``; in evaluation mode ``out = x``. The backward pass uses the forward's mask:
    ``dx = dout * mask / (1 - p)`` (``dx = dout`` in evaluation mode).
    """
    name = "dropout"
    ref = _ref_dropout()
    fns = (forward, backward)
    for fn, what in ((forward, "your dropout forward function"), (backward, "your dropout backward function")):
        bad = require_function(name, fn, ref, what=what)
        if bad is not None:
            return bad
    if any(isinstance(r, tuple) and len(r) == 2 and r[0] is forward and r[1] is backward for r in _core._HANDED_OUT):
        return CheckResult(name, "reference", "these are the course's reference functions "
                           "(nblib.regularize.dropout_forward / dropout_backward), not your own: `or_reference()` put "
                           "them in place because your version did not pass yet. Re-run the cell that defines your "
                           "functions, then this check.", fns, ref)
    rng0 = np.random.default_rng(21)
    x = rng0.normal(size=(200, 50)) + 0.1          # no exact zeros, so kept units are visible
    dout = rng0.normal(size=(200, 50))
    p, q = 0.3, 0.7
    xc = x.copy()
    res, err = _call(forward, (xc, p, True, np.random.default_rng(1)))
    where = "in training mode (x of shape (200, 50), p = 0.3)"
    if err:
        return CheckResult(name, err[0], err[1] if err[0] == "todo" else f"{err[1]} {where}.", fns, ref)
    if not np.array_equal(xc, x):
        return _dropout_fail("your forward changed x in place; return a new array (x * mask / q, not x *= ...).", fns)
    if not isinstance(res, (tuple, list)) or len(res) != 2:
        return _dropout_fail(f"forward returned {returned(res)} {where}; return a pair (out, cache).", fns,
                             ("The cache is whatever backward needs: at least the mask (and the keep probability).",))
    out, cache = res
    out = _array(out)
    if out is None or out.shape != x.shape:
        return _dropout_fail(f"out has {'no value' if out is None else 'shape ' + str(out.shape)}, expected "
                             f"{x.shape} {where}.", fns)
    kept = out != 0
    frac = kept.mean()
    ratio = np.where(kept, out / x, 0.0)
    if np.allclose(out, x):
        return _dropout_fail(f"out equals x {where}: nothing was dropped.", fns,
                             ("In training mode draw a random keep-mask: rng.random(x.shape) >= p keeps each unit "
                              "with probability 1 - p.",))
    if np.all(kept == kept[:1]):
        return _dropout_fail(f"every row has the same mask {where}: draw one independent decision per entry, a "
                             f"mask of x's full shape, not one per feature.", fns,
                             ("rng.random(x.shape), not rng.random(x.shape[1]).",))
    if abs(frac - p) < 0.03 and abs(p - q) > 0.1:
        return _dropout_fail(f"you kept {frac:.0%} of the units {where}: p is the probability of DROPPING a unit "
                             f"(as in PyTorch's nn.Dropout(p)), so about {q:.0%} should be kept.", fns,
                             ("Keep a unit when rng.random(...) >= p (or < 1 - p), not when it is < p.",))
    if abs(frac - q) > 0.03:
        return _dropout_fail(f"you kept {frac:.1%} of the units {where}; expected about {q:.0%} (each unit kept "
                             f"independently with probability 1 - p).", fns)
    scales = ratio[kept]
    for factor, hint in ((1.0, ("the kept units are not rescaled: inverted dropout divides them by the keep "
                                "probability 1 - p, so that the expected output equals x.",
                                "out = x * mask / (1 - p); then evaluation mode needs no change at all.")),
                         (1 / p, ("you divided by p; divide by the keep probability 1 - p.",
                                  "p is the drop probability: with p = 0.3, kept units are multiplied by 1/0.7.")),
                         (q, ("you multiplied the kept units by 1 - p; inverted dropout divides by it.",
                              "out = x * mask / (1 - p): E[out] = x only with the division.")),
                         (p, ("you multiplied the kept units by p; inverted dropout divides by the keep "
                              "probability 1 - p.", "out = x * mask / (1 - p)."))):
        if np.allclose(scales, factor):
            return _dropout_fail(f"{hint[0]} Seen {where}.", fns, hint[1:])
    if not np.allclose(scales, 1 / q, rtol=1e-9):
        return _dropout_fail(f"the kept units are multiplied by {np.median(scales):.4g} {where}; expected "
                             f"1 / (1 - p) = {1 / q:.4g}.", fns)
    # the same rng seed must give the same mask (the mask comes from the rng passed in)
    again, err = _call(forward, (x.copy(), p, True, np.random.default_rng(1)))
    if err:
        return CheckResult(name, err[0], f"{err[1]} {where}.", fns, ref)
    if not isinstance(again, (tuple, list)) or _array(again[0]) is None or \
            not np.array_equal(_array(again[0]) != 0, kept):
        return _dropout_fail("two calls with the same seeded rng gave different masks: draw the mask from the rng "
                             "argument (rng.random(x.shape)), not from np.random or a generator of your own.", fns)
    rng = np.random.default_rng(2)
    first, err1 = _call(forward, (x.copy(), p, True, rng))
    second, err2 = _call(forward, (x.copy(), p, True, rng))
    if err1 or err2:
        return CheckResult(name, "fail", f"{(err1 or err2)[1]} {where}.", fns, ref)
    if np.array_equal(_array(first[0]) != 0, _array(second[0]) != 0):
        return _dropout_fail("two forward passes with the same rng object drew the same mask: each forward pass "
                             "needs a new mask (do not re-seed inside the function).", fns)
    # backward: the forward's mask, the same scale
    dx, err = _call(backward, (dout.copy(), cache))
    bwhere = "in the backward pass after that forward pass"
    if err:
        return CheckResult(name, err[0], err[1] if err[0] == "todo" else f"{err[1]} {bwhere}.", fns, ref)
    dx = _array(dx)
    if dx is None or dx.shape != x.shape:
        return _dropout_fail(f"backward returned {returned(dx) if dx is None else 'shape ' + str(dx.shape)} "
                             f"{bwhere}; expected an array shaped like dout {x.shape}.", fns)
    expected = dout * kept / q
    if not np.allclose(dx, expected, rtol=1e-9, atol=1e-12):
        passed = dx != 0
        if np.allclose(dx, dout):
            return _dropout_fail(f"backward returned dout unchanged {bwhere}: the dropped units had no effect on the "
                                 f"loss, so their gradient is 0.", fns,
                                 ("dx = dout * mask / (1 - p), with the mask of the forward pass (from the cache).",))
        if not np.array_equal(passed, kept):
            return _dropout_fail(f"backward lets the gradient through different units than the forward pass kept "
                                 f"{bwhere} ({np.mean(passed != kept):.0%} of the entries differ): did you draw a "
                                 f"new mask in backward?", fns,
                                 ("The gradient flows only through the units the forward pass kept: store the "
                                  "forward's mask in the cache and reuse it.",))
        if np.allclose(dx, dout * kept):
            return _dropout_fail(f"backward uses the right mask but forgets the 1 / (1 - p) scale {bwhere}.", fns,
                                 ("out = x * mask / q, so d out / d x = mask / q.",))
        return _dropout_fail(f"backward differs from dout * mask / (1 - p) by up to "
                             f"{np.max(np.abs(dx - expected)):.3g} {bwhere}.", fns)
    # evaluation mode: the identity
    xe = rng0.normal(size=(7, 3, 5)) + 0.1
    res, err = _call(forward, (xe.copy(), 0.5, False, np.random.default_rng(3)))
    ewhere = "in evaluation mode (train=False, x of shape (7, 3, 5), p = 0.5)"
    if err:
        return CheckResult(name, "fail", f"{err[1]} {ewhere}.", fns, ref)
    if not isinstance(res, (tuple, list)) or len(res) != 2:
        return _dropout_fail(f"forward returned {returned(res)} {ewhere}; return a pair (out, cache).", fns)
    oute = _array(res[0])
    if oute is None:
        return _dropout_fail(f"out is {returned(res[0])} {ewhere}; expected an array shaped like x.", fns)
    if oute.shape != xe.shape or not np.allclose(oute, xe, rtol=1e-12, atol=0):
        if oute.shape == xe.shape and np.allclose(oute, 0.5 * xe):
            hint = ("you multiplied by 1 - p in evaluation mode: that is the old, non-inverted dropout; with the "
                    "1 / (1 - p) scale in training mode, evaluation mode is the identity.",)
        elif oute.shape == xe.shape and np.any(oute == 0):
            hint = ("some units are still dropped in evaluation mode: with train=False return x unchanged (a copy); "
                    "this is what model.eval() switches in PyTorch.",)
        else:
            hint = ("in evaluation mode dropout must return x unchanged.",)
        return _dropout_fail(f"{hint[0]} Seen {ewhere}.", fns)
    dxe, err = _call(backward, (np.ones_like(xe), res[1]))
    dxe = None if err else _array(dxe)
    if dxe is None or dxe.shape != xe.shape or not np.allclose(dxe, 1.0):
        return _dropout_fail(f"backward after an evaluation-mode forward must return dout unchanged "
                             f"({err[1] if err else 'it did not'}).", fns,
                             ("Remember in the cache that nothing was dropped (e.g. a mask of ones and q = 1).",))
    # p = 0 in training mode: the identity as well
    res, err = _call(forward, (xe.copy(), 0.0, True, np.random.default_rng(4)))
    out0 = _array(res[0]) if not err and isinstance(res, (tuple, list)) and len(res) == 2 else None
    if err or out0 is None or out0.shape != xe.shape or not np.allclose(out0, xe):
        return _dropout_fail(f"with p = 0 nothing is dropped and nothing rescaled, but your forward "
                             f"{err[1] if err else 'returned ' + returned(res) if out0 is None else 'changed x'}.", fns)
    return CheckResult(name, "pass", "correct: each unit kept with probability 1 - p and divided by it; the backward "
                       "pass reuses the mask; evaluation mode is the identity.", fns, ref)


# ------------------------------------------------------------------ the training loop with early stopping
_LOOP_CASES = [
    # (validation losses the fake model will show, max_epochs, patience)
    ([1.0, 0.8, 0.7, 0.72, 0.71, 0.75, 0.6, 0.5], 8, 3),
    ([1.0, 1.1, 0.9, 1.0, 0.8, 0.9, 1.0, 0.7], 8, 2),
    ([1.0, 0.9, 0.8, 0.7], 4, 2),
    ([0.5, 0.6, 0.7, 0.4, 0.3], 5, 2),
    ([0.5, 0.5, 0.5, 0.5, 0.5], 5, 2),
    ([0.9, 0.3, 0.5, 0.6, 0.7, 0.8], 6, None),
    ([0.9, 0.8, 0.85, 0.1, 0.05, 0.01], 4, 5),
    ([0.9, 0.8, 0.85, 0.1], 4, 1),
]


class _FakeModel:
    """Parameters that change in place each epoch, and a scripted validation loss."""

    def __init__(self, losses):
        self.losses = list(losses)
        self.params = {"W1": np.zeros((2, 3)), "b1": np.zeros(3)}
        self.arrays = dict(self.params)
        self.calls = []

    def train_epoch(self, epoch):
        self.calls.append(epoch)
        self.params["W1"] += 1.0        # after epoch e (0-based) W1 holds e + 1 (in place)
        self.params["b1"] -= 2.0

    def evaluate(self):
        if not self.calls:
            return 10.0
        return self.losses[min(len(self.calls), len(self.losses)) - 1]


def _outcome(fn, losses, max_epochs, patience):
    model = _FakeModel(losses)
    value, err = _call(fn, (model.train_epoch, model.evaluate, model.params, max_epochs, patience))
    return model, value, err


def _wrong_loop(le=False, off=0, restore="best", no_reset=False, no_patience=False):
    """A loop with one typical mistake (for diagnosis: its outcome is compared with the learner's)."""
    def loop(train_epoch, evaluate, params, max_epochs, patience):
        best_epoch, best_loss, best, waited, vals = 0, np.inf, None, 0, []
        for epoch in range(max_epochs):
            train_epoch(epoch)
            vals.append(float(evaluate()))
            if vals[-1] < best_loss or (le and vals[-1] == best_loss):
                best_epoch, best_loss = epoch, vals[-1]
                waited = waited if no_reset else 0
                best = dict(params) if restore == "shallow" else {k: v.copy() for k, v in params.items()}
            else:
                waited += 1
                if not no_patience and patience is not None and waited >= max(patience + off, 1):
                    break
        if restore != "none":
            for k in params:
                params[k][...] = best[k]
        return best_epoch, vals
    return loop


_LOOP_DIAGNOSES = [
    (_wrong_loop(le=True), ("an equal validation loss is not an improvement: on a tie keep the earlier epoch and "
                            "count the epoch as one without improvement.",
                            "Compare with a strict `<` when you test for a new best loss.")),
    (_wrong_loop(off=1), ("your loop stops one epoch late: patience off by one.",
                          "Stop as soon as `patience` epochs in a row brought no improvement: with patience = 2 and "
                          "losses 0.5, 0.6, 0.7 the loop stops right after the 0.7 epoch.")),
    (_wrong_loop(off=-1), ("your loop stops one epoch early: patience off by one.",
                           "Wait for `patience` epochs without improvement, not patience - 1: increase the count, "
                           "then compare it with `>= patience`.")),
    (_wrong_loop(no_reset=True), ("your loop stops too early: the count of epochs without improvement must be of "
                                  "epochs *in a row*.", "Reset the count to 0 whenever the loss improves.")),
    (_wrong_loop(no_patience=True), ("your loop never stops early: it ran every epoch although patience ran out.",
                                     "Count the epochs in a row without improvement and `break` when the count "
                                     "reaches patience.")),
]


def _observed(model, value):
    """What a loop did on the fake model: (epochs run, reported best epoch, epoch whose values params hold)."""
    best = value[0] if isinstance(value, (tuple, list)) and len(value) == 2 else None
    W = np.asarray(model.params.get("W1", np.nan), dtype=float)
    held = int(W.flat[0]) - 1 if W.shape == (2, 3) and np.all(W == W.flat[0]) else None
    return len(model.calls), best, held


def early_stopping_loop(fn) -> CheckResult:
    """Check ``fn(train_epoch, evaluate, params, max_epochs, patience) -> (best_epoch, val_losses)``:
    the training loop with early stopping of ``nblib.train.train_early_stopping``.

    Run on scripted models: how many epochs it trains, which epoch it reports, the list of
    validation losses, and whether ``params`` hold the best epoch's values at the end.
    """
    name = "early_stopping_loop"
    bad = require_function(name, fn, _ref_loop)
    if bad is not None:
        return bad
    runs = []
    for k, (losses, max_epochs, patience) in enumerate(_LOOP_CASES, 1):
        model, value, err = _outcome(fn, losses, max_epochs, patience)
        where = (f"on test case {k} (validation losses {losses[:max_epochs]}, max_epochs={max_epochs}, "
                 f"patience={patience})")
        if err:
            return CheckResult(name, err[0], err[1] if err[0] == "todo" else f"{err[1]} {where}.", fn, _ref_loop)
        if model.calls != list(range(len(model.calls))):
            return _fail(name, f"train_epoch was called with {model.calls[:8]} {where}; call it once per epoch "
                               f"with the epoch number 0, 1, 2, ...", fn, _ref_loop)
        runs.append((model, value, where))
    learner = [_observed(m, v)[:2] for m, v, _ in runs]
    expected = [_observed(*_outcome(_ref_loop, *case)[:2])[:2] for case in _LOOP_CASES]
    if learner != expected:
        for wrong, hint in _LOOP_DIAGNOSES:
            if [_observed(*_outcome(wrong, *case)[:2])[:2] for case in _LOOP_CASES] == learner:
                k = next(i for i, (a, b) in enumerate(zip(learner, expected)) if a != b)
                return _fail(name, f"{hint[0]} Seen {runs[k][2]}: it ran {learner[k][0]} epochs and reported epoch "
                                   f"{learner[k][1]}; expected {expected[k][0]} epochs and epoch {expected[k][1]}.",
                             fn, _ref_loop, hint[1:])
    for k, (losses, max_epochs, patience) in enumerate(_LOOP_CASES, 1):
        ref_model, (ref_best, ref_vals), _ = _outcome(_ref_loop, losses, max_epochs, patience)
        model, value, where = runs[k - 1]
        ran, expected_run = len(model.calls), len(ref_model.calls)
        observed = _observed(model, value)
        if ran != expected_run:
            return _fail(name, f"your loop ran {ran} epochs {where}, expected {expected_run}.", fn, _ref_loop,
                         ("Stop once `patience` epochs in a row brought no strictly lower validation loss than the "
                          "best so far.",))
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            return _fail(name, f"returned {returned(value)} {where}; return a pair (best_epoch, val_losses).",
                         fn, _ref_loop)
        best, vals = value
        try:
            vals = [float(v) for v in vals]
        except (TypeError, ValueError):
            return _fail(name, f"val_losses is {returned(vals)} {where}; return the list of validation losses, "
                               f"one per epoch run.", fn, _ref_loop)
        if not np.allclose(vals, ref_vals):
            return _fail(name, f"val_losses is {vals} {where}, expected {ref_vals}: one evaluate() after each "
                               f"epoch's training.", fn, _ref_loop)
        if isinstance(best, bool) or not isinstance(best, (int, np.integer)):
            return _fail(name, f"best_epoch is {returned(best)} {where}; return the epoch number (an int).",
                         fn, _ref_loop)
        if best != ref_best:
            if best == ref_best + 1:
                hint = ("best_epoch is one too high: report it 0-based (the first epoch is 0).",)
            elif best == ran - 1:
                hint = ("you reported the last epoch run, not the best one.",
                        "Remember the epoch whenever the validation loss improves on the best so far.")
            else:
                hint = ("best_epoch is not the epoch with the lowest validation loss.",)
            return _fail(name, f"best_epoch is {best}, expected {ref_best} {where}. {hint[0]}", fn, _ref_loop,
                         hint[1:])
        held = observed[2]
        if held != ref_best or not np.all(model.params["b1"] == -2.0 * (ref_best + 1)):
            if held == ran - 1:
                return _fail(name, f"after your loop, params hold the last epoch's values (epoch {ran - 1}), not the "
                                   f"best epoch's ({ref_best}) {where}.", fn, _ref_loop,
                             ("Did you put the saved best parameters back into params at the end? And is your saved "
                              "copy really a copy?", "dict(params) or params.copy() copy the dict but share the "
                              "arrays, which train_epoch keeps changing: save {k: v.copy() for k, v in "
                              "params.items()} and restore with params[k][...] = best[k]."))
            return _fail(name, f"after your loop, params do not hold the best epoch's values {where}.", fn, _ref_loop,
                         ("Restore in place: `for k in params: params[k][...] = best[k]` (rebinding a local name, "
                          "`params = best`, changes nothing for the caller).",))
    return CheckResult(name, "pass", "correct: it stops after `patience` epochs without improvement and puts the "
                       "best epoch's parameters back.", fn, _ref_loop)
