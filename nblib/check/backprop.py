"""Checkers for notebook 04 (backpropagation by hand).

* ``sigmoid_backward`` -- ``fn(dout, s) -> dx`` where ``s`` is the cached sigmoid output;
* ``affine_backward`` -- ``fn(dout, cache) -> (dx, dW, db)`` with ``cache = (x, W, b)``;
* ``layer_gradcheck`` -- ``fn(forward, backward, inputs, dout) -> [rel_error, ...]``: the
  gradient check of one layer, one relative error per input;
* ``mlp_backprop`` -- ``fn(X, y, params, activation) -> (loss, grads)``: the L-layer
  network's forward and backward loop on a list of ``(W, b)`` pairs (the main exercise);
* ``softmax_ce_backward`` -- ``fn(logits, labels) -> (loss, dlogits)``, mean over the batch
  (not exported: 04 no longer has this exercise, which repeated 01's);
* ``planted_bug`` -- ``fn(X, y, params) -> grads``: the corrected version of
  ``buggy_two_layer_backward``, whose bug a gradient check exposes.
"""

from __future__ import annotations

import numpy as np

from .. import layers as L
from .._validate import as_float_array, class_labels, describe
from ._core import CheckResult, Diagnosis, _call, _fmt_args, check_function, require_function, returned

__all__ = ["sigmoid_backward", "affine_backward", "layer_gradcheck", "mlp_backprop",
           "planted_bug", "buggy_two_layer_backward", "two_layer_backward", "two_layer_loss",
           "reference_layer_gradcheck"]
# softmax_ce_backward (below) is no longer an exercise of notebook 04 (it repeated 01's), so
# it is not exported as one (check.progress() would list it); it stays, tested, as
# nblib.check.backprop.softmax_ce_backward for a course that wants it back.

#: Exported helpers used by the exercises, not checkers: notebook 04 calls them with
#: ``(X, y, params)`` (``check.two_layer_loss(X, y, params)``) rather than passing them a
#: learner's function. Tests that call every checker skip these names.
HELPERS = ("two_layer_loss", "two_layer_backward", "buggy_two_layer_backward", "reference_layer_gradcheck")


def _steps(hint):
    return (hint,) if isinstance(hint, str) else tuple(hint)


def _fail(name, message, fn, reference, hints=()):
    return CheckResult(name, "fail", message, fn, reference, hints=tuple(hints))


# ------------------------------------------------------------------ multi-output helper
def _as_arr(v):
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy()
    try:
        return np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        return None


def _match(got, want, atol=1e-8, rtol=1e-6):
    return [g is not None and g.shape == w.shape and bool(np.all(np.isfinite(g)))
            and np.allclose(g, w, atol=atol, rtol=rtol) for g, w in zip(got, want)]


def _check_outputs(name, fn, *, reference, cases, out_names, diagnoses=(), shape_hints=None,
                   success=None, as_dict=False):
    """Like ``check_function``, for a function returning several arrays (a tuple or a dict).

    ``out_names``: the names of the outputs in order (tuple) or the keys (dict).
    ``shape_hints``: ``{output name: function(expected_shape, got_shape) -> hint or None}``.
    A Diagnosis's ``wrong`` returns the outputs in the same form as the reference.
    """
    not_callable = require_function(name, fn, reference)
    if not_callable is not None:
        return not_callable
    form = "a dict with keys " + ", ".join(out_names) if as_dict else "a tuple (" + ", ".join(out_names) + ")"

    def unpack(value):
        if as_dict:
            if not isinstance(value, dict) or set(value) != set(out_names):
                return None
            return [_as_arr(value[k]) for k in out_names]
        if not isinstance(value, (tuple, list)) or len(value) != len(out_names):
            return None
        return [_as_arr(v) for v in value]

    for k, args in enumerate(cases, 1):
        copies = [np.copy(a) if isinstance(a, np.ndarray) else
                  (tuple(np.copy(x) for x in a) if isinstance(a, tuple) else
                   ({kk: np.copy(vv) for kk, vv in a.items()} if isinstance(a, dict) else a)) for a in args]
        value, err = _call(fn, copies)
        where = f"on test case {k} (inputs: {_fmt_args([a for a in args if not isinstance(a, (tuple, dict))])})"
        if err:
            return CheckResult(name, err[0], err[1] if err[0] == "todo" else f"{err[1]} {where}.", fn, reference)
        for a, c in zip(args, copies):
            same = (np.array_equal(a, c) if isinstance(a, np.ndarray) else
                    all(np.array_equal(x, y) for x, y in zip(a, c)) if isinstance(a, tuple) else
                    all(np.array_equal(a[kk], c[kk]) for kk in a) if isinstance(a, dict) else True)
            if not same:
                return CheckResult(name, "fail", "your function changed one of its inputs in place; compute "
                                   "new arrays instead (e.g. `d = dout * s`, not `dout *= s`).", fn, reference)
        got = unpack(value)
        if got is None:
            return _fail(name, f"return {form}; got {returned(value)} {where}.", fn, reference)
        want = [np.asarray(v, dtype=float) for v in unpack(reference(*args))]
        for nm, g, w in zip(out_names, got, want):
            if g is None:
                return CheckResult(name, "fail", f"{nm} is {describe(g)}, expected numbers {where}.", fn, reference)
            if g.shape != w.shape:
                hint = (shape_hints or {}).get(nm, lambda e, s: None)(w.shape, g.shape)
                steps = _steps(hint) if hint else ("Every gradient has the shape of the thing it is the gradient of.",)
                return _fail(name, f"{nm} has shape {g.shape} but should have shape {w.shape} {where}. {steps[0]}",
                             fn, reference, steps[1:])
        ok = _match(got, want)
        if all(ok):
            continue
        for d in diagnoses:
            try:
                with np.errstate(all="ignore"):
                    wrong = [np.asarray(v, dtype=float) for v in unpack(d.wrong(*args))]
            except Exception:
                continue
            if all(_match(got, wrong)):
                steps = _steps(d.hint)
                return _fail(name, f"{steps[0].rstrip('.')}. Seen {where}.", fn, reference, steps[1:])
        bad = [nm for nm, o in zip(out_names, ok) if not o]
        diff = max(float(np.max(np.abs(g - w))) if np.all(np.isfinite(g)) else float("inf")
                   for g, w, o in zip(got, want, ok) if not o)
        others = "; the other outputs are right" if len(bad) < len(out_names) else ""
        return _fail(name, f"{', '.join(bad)} {'is' if len(bad) == 1 else 'are'} wrong (off by up to {diff:.3g}) "
                     f"{where}{others}.", fn, reference,
                     (f"Re-derive {'it' if len(bad) == 1 else 'them'} with the shape written next to each factor.",))
    return CheckResult(name, "pass", success or f"correct on all {len(cases)} test cases.", fn, reference)


# ------------------------------------------------------------------ 1. sigmoid backward
def _sigmoid_cases():
    rng = np.random.default_rng(41)
    s1 = L.sigmoid_forward(rng.normal(size=(4, 3)))[0]
    s2 = L.sigmoid_forward(3 * rng.normal(size=6))[0]
    return [(rng.normal(size=(4, 3)), s1), (rng.normal(size=6), s2)]


def sigmoid_backward(fn) -> CheckResult:
    """Check ``fn(dout, s) -> dx`` where ``s = sigmoid(x)`` is the cache (the forward *output*).

    Recognised mistakes: forgetting ``dout``; treating the cache as the input x (applying
    sigmoid again); the tanh derivative ``1 - s**2``; a sign error; ``dout * s``.
    """
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))
    return check_function(
        "sigmoid_backward", fn, reference=L.sigmoid_backward, cases=_sigmoid_cases(),
        diagnoses=[
            Diagnosis("no dout", lambda dout, s: s * (1 - s),
                      ("you returned the local derivative σ(x)(1-σ(x)) alone",
                       "the chain rule multiplies the local derivative by the upstream gradient dout")),
            Diagnosis("cache is x", lambda dout, s: dout * sig(s) * (1 - sig(s)),
                      ("the cache holds the sigmoid's *output* s = σ(x), not x",
                       "so the derivative is s(1 - s) directly, without applying σ again")),
            Diagnosis("tanh", lambda dout, s: dout * (1 - s ** 2),
                      ("that is the derivative of another activation (tanh's 1 - s²)",
                       "for the sigmoid, σ'(x) = σ(x)(1 - σ(x)) = s(1 - s)")),
            Diagnosis("sign", lambda dout, s: -dout * s * (1 - s),
                      ("sign error", "σ'(x) = σ(x)(1 - σ(x)) is positive everywhere")),
            Diagnosis("half", lambda dout, s: dout * s,
                      ("one factor of the local derivative is missing",
                       "σ'(x) = s(1 - s): both s and (1 - s)")),
        ],
        success="correct: dx = dout · s(1 - s), computed from the cached output.")


# ------------------------------------------------------------------ 2. affine backward
def _affine_cases():
    rng = np.random.default_rng(42)
    out = []
    for n, d, h in ((4, 3, 5), (2, 6, 2), (1, 2, 3), (3, 2, 2)):
        x, W, b = rng.normal(size=(n, d)), rng.normal(size=(d, h)), rng.normal(size=h)
        out.append((rng.normal(size=(n, h)), (x, W, b)))
    return out


def affine_backward(fn) -> CheckResult:
    """Check ``fn(dout (n, h), cache=(x (n, d), W (d, h), b (h,))) -> (dx, dW, db)``.

    Recognised mistakes: db as a mean instead of a sum over the batch; dW as ``dout.T @ x``
    (the transpose); db not reduced over the batch (shape (n, h)); dx without the transpose;
    dW without x; a factor 1/n added.
    """
    def db_mean(dout, cache):
        dx, dW, db = L.affine_backward(dout, cache)
        return dx, dW, db / dout.shape[0]

    def dw_no_x(dout, cache):
        dx, dW, db = L.affine_backward(dout, cache)
        return dx, np.ones_like(cache[0]).T @ dout, db

    def all_over_n(dout, cache):
        return tuple(g / dout.shape[0] for g in L.affine_backward(dout, cache))

    def dx_uses_b(dout, cache):
        dx, dW, db = L.affine_backward(dout, cache)
        return dout @ cache[1].T + cache[2] @ cache[1].T, dW, db

    hints = {
        "dW": lambda e, s: ("dW has the shape of W transposed",
                            "use x.T @ dout: (d, n) @ (n, h) -> (d, h)") if s == e[::-1] else None,
        "db": lambda e, s: ("db must be summed over the batch (axis=0)",
                            "b was added to every row, so every row's dout flows into it: dout.sum(axis=0)")
        if len(s) == 2 else None,
        "dx": lambda e, s: ("dx must have the shape of x", "dx = dout @ W.T: (n, h) @ (h, d) -> (n, d)"),
    }
    return _check_outputs(
        "affine_backward", fn, reference=L.affine_backward, cases=_affine_cases(), out_names=("dx", "dW", "db"),
        shape_hints=hints,
        diagnoses=[
            Diagnosis("db mean", db_mean,
                      ("db is the *sum* of dout over the batch, not the mean",
                       "the 1/n is already inside dout (it came from the mean in the loss)")),
            Diagnosis("1/n", all_over_n,
                      ("every gradient is n times too small: there is an extra 1/n",
                       "dout already carries the loss's 1/n; the layer adds none")),
            Diagnosis("dW ones", dw_no_x, ("dW must use the layer's input", "dW = x.T @ dout")),
            Diagnosis("dx + b", dx_uses_b, ("dx does not depend on b", "dx = dout @ W.T")),
        ],
        success="correct: dx = dout Wᵀ, dW = xᵀ dout, db = Σ_i dout_i, each with the shape of its variable.")


# ------------------------------------------------------------------ 3. a layer's gradient check
def _sum_out_dout(forward, inputs, dout, k):
    def f(v):
        args = list(inputs)
        args[k] = v
        return float(np.sum(forward(*args)[0] * dout))
    return f


def _numgrad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


def _relerr(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))) if a.size else 0.0


def reference_layer_gradcheck(forward, backward, inputs, dout):
    """Reference of notebook 04's Exercise 3: one relative error per input of a layer.

    ``forward(*inputs) -> (out, cache)``; ``backward(dout, cache)`` -> a tuple of gradients,
    one per input; ``inputs``: a tuple of float arrays; ``dout``: an array shaped like ``out``.
    Returns a list of floats: for input k, max |a - n| / max(1e-8, |a| + |n|) between
    backward's gradient a and the central difference n (eps = 1e-6) of
    sum(forward(*inputs)[0] * dout) with respect to input k.
    """
    _, cache = forward(*inputs)
    analytic = backward(dout, cache)
    return [_relerr(np.asarray(a, dtype=float), _numgrad(_sum_out_dout(forward, inputs, dout, k), x))
            for k, (a, x) in enumerate(zip(analytic, inputs))]


def _single(backward):
    """An activation's backward as a layer with one input: returns a 1-tuple."""
    return lambda dout, cache: (backward(dout, cache),)


def _gradcheck_cases():
    rng = np.random.default_rng(46)
    x, W, b = rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=4)
    dout = rng.normal(size=(5, 4))

    def affine_db_bug(d, c):                 # one entry of db wrong: only max() sees it
        dx, dW, db = L.affine_backward(d, c)
        db = db.copy()
        db[1] *= 3.0
        return dx, dW, db

    def affine_dw_scale(d, c):
        dx, dW, db = L.affine_backward(d, c)
        return dx, 2.0 * dW, db

    def tanh_no_dout(d, c):
        return (1.0 - c * c,)

    xr = rng.normal(size=(4, 6))
    xr[np.abs(xr) < 0.05] = 0.5              # keep away from the kink at 0
    xr[0] = -np.abs(xr[0])                   # a row whose gradient is exactly 0
    xs = 2.0 * rng.normal(size=(3, 2))
    xc = 1.5 * np.random.default_rng(52).normal(size=(3, 4))
    dc = np.random.default_rng(53).normal(size=(3, 4))
    # (label, forward, backward, inputs, dout, which inputs are wrong)
    return [
        ("a correct affine layer", L.affine_forward, L.affine_backward, (x, W, b), dout, ()),
        ("an affine layer whose db is wrong in one entry", L.affine_forward, affine_db_bug, (x, W, b), dout, (2,)),
        ("an affine layer whose dW is doubled", L.affine_forward, affine_dw_scale, (x, 10 * W, b), 10 * dout, (1,)),
        ("a correct ReLU layer (some gradients exactly 0)", L.relu_forward, _single(L.relu_backward), (xr,),
         rng.normal(size=(4, 6)), ()),
        ("a tanh layer that forgets dout", L.tanh_forward, tanh_no_dout, (xs,), rng.normal(size=(3, 2)), (0,)),
        ("a correct sigmoid layer (curved: a one-sided difference shows)", L.sigmoid_forward,
         _single(L.sigmoid_backward), (xc,), dc, ()),
        ("a sigmoid layer whose gradient is too small everywhere", L.sigmoid_forward,
         lambda d, c: (d * (c * (1.0 - c) - 1.0),), (xc,), np.abs(dc) + 0.1, (0,)),
    ]


#: On the curved case a central difference (eps 1e-7 to 1e-3) gives errors below 5e-8, a
#: one-sided one (eps 1e-6) about 2e-7.
_CURVED_LIMIT = 5e-8


def layer_gradcheck(fn) -> CheckResult:
    """Check ``fn(forward, backward, inputs, dout) -> list of floats``, one relative error per input.

    Run on correct layers (every error must be below 1e-6) and on layers with a planted bug
    (the buggy input's error must be large, about the reference's, the others small).
    Recognised mistakes: sum(out) instead of sum(out * dout); the absolute instead of the
    relative error; the mean instead of the max; no 1e-8 guard (0/0 = NaN where both
    gradients are 0); the errors in another order; only the first input checked; a signed
    difference (no abs); a one-sided difference (seen on a curved layer).
    """
    name, ref = "layer_gradcheck", reference_layer_gradcheck
    not_callable = require_function(name, fn, ref)
    if not_callable is not None:
        return not_callable
    for k, (label, fwd, bwd, inputs, dout, wrong_inputs) in enumerate(_gradcheck_cases(), 1):
        copies = tuple(np.copy(a) for a in inputs)
        dcopy = np.copy(dout)
        value, err = _call(fn, (fwd, bwd, copies, dcopy))
        where = f"on test case {k} ({label}, {len(inputs)} input{'s' if len(inputs) > 1 else ''})"
        if err:
            return CheckResult(name, err[0], err[1] if err[0] == "todo" else f"{err[1]} {where}.", fn, ref)
        if any(not np.array_equal(a, c) for a, c in zip(inputs, copies)) or not np.array_equal(dout, dcopy):
            return _fail(name, f"your function changed one of the layer's inputs in place {where}",
                         fn, ref, ("perturb a copy: xp = x.copy(); xp[i] += eps (or use gradcheck.numerical_gradient)",))
        want = ref(fwd, bwd, inputs, dout)
        try:
            got = [float(v) for v in value] if isinstance(value, (list, tuple, np.ndarray)) else None
        except (TypeError, ValueError):
            got = None
        if got is None or len(got) != len(inputs):
            if got is not None and len(got) == 1 and len(inputs) > 1:
                return _fail(name, f"returned 1 number for a layer with {len(inputs)} inputs {where}",
                             fn, ref, ("return one relative error per input, in the order of `inputs`: "
                                       "loop over k, perturbing input k while the others stay fixed",))
            return _fail(name, f"return a list of {len(inputs)} floats (one relative error per input); "
                         f"got {returned(value)} {where}.", fn, ref)
        if not all(np.isfinite(got)):
            return _fail(name, f"returned NaN or inf {where}",
                         fn, ref, ("where both gradients are exactly 0, |a - n| / (|a| + |n|) is 0/0",
                                   "divide by max(1e-8, |a| + |n|), as in the formula"))
        if any(g < 0 for g in got):
            return _fail(name, f"returned a negative relative error {where}",
                         fn, ref, ("take the absolute value of a - n before the maximum",))
        ok = all((g < 1e-5) if w < 1e-6 else (0.5 * w <= g <= 2 * w) for g, w in zip(got, want))
        if ok and "curved" in label and max(got) > _CURVED_LIMIT:
            return _fail(name, f"your check gives {max(got):.1e} on a correct curved layer {where}, where a central "
                         f"difference gives below {_CURVED_LIMIT:.0e}: is the difference one-sided?", fn, ref,
                         ("(f(x + eps) - f(x)) / eps has an error of order eps; the central "
                          "(f(x + eps) - f(x - eps)) / (2 eps) one of order eps²",))
        if ok:
            continue
        bad_correct = [i for i, (g, w) in enumerate(zip(got, want)) if w < 1e-6 and g >= 1e-5]
        if not wrong_inputs and bad_correct:
            ones = np.ones_like(dout)
            _, cache = fwd(*inputs)
            sum_only = [_relerr(np.asarray(a, dtype=float), _numgrad(_sum_out_dout(fwd, inputs, ones, j), x))
                        for j, (a, x) in enumerate(zip(bwd(dout, cache), inputs))]
            if np.allclose(got, sum_only, rtol=0.2, atol=1e-9):
                return _fail(name, f"your check reports a correct layer as wrong {where}: the numerical side "
                             f"does not use dout", fn, ref,
                             ("the scalar to differentiate is sum(out * dout), whose gradient w.r.t. out is dout: "
                              "exactly what backward was given",))
            return _fail(name, f"your check reports a correct layer as wrong (errors {_fmt(got)}) {where}",
                         fn, ref, ("compare, input by input, backward's gradient with the central difference "
                                   "(f(x + eps e_i) - f(x - eps e_i)) / (2 eps) of f = sum(forward(...)[0] * dout)",))
        if list(got[::-1]) != list(got) and all(((g < 1e-5) if w < 1e-6 else (0.5 * w <= g <= 2 * w))
                                                for g, w in zip(got[::-1], want)):
            return _fail(name, f"the errors come in another order than the inputs {where}",
                         fn, ref, ("return them in the order of `inputs`: error k belongs to inputs[k]",))
        missed = [i for i in wrong_inputs if got[i] < 1e-3]
        if missed:
            return _fail(name, f"your check misses the bug in input {missed[0]} (your error {got[missed[0]]:.2g}, "
                         f"the bug gives about {want[missed[0]]:.2g}) {where}",
                         fn, ref, ("is every input checked, each with its own perturbation, and is the error the "
                                   "*maximum* over the entries (a bug in one entry must show)?",
                                   "error_k = max over entries of |a - n| / max(1e-8, |a| + |n|)"))
        too_big = [i for i in wrong_inputs if got[i] > 2 * want[i]]
        if too_big:
            return _fail(name, f"the error for input {too_big[0]} is {got[too_big[0]]:.3g}, but the relative error "
                         f"of this bug is about {want[too_big[0]]:.3g} {where}",
                         fn, ref, ("an absolute error grows with the size of the gradient; the relative one does not",
                                   "divide |a - n| by max(1e-8, |a| + |n|), entry by entry, then take the max"))
        i = next(i for i, (g, w) in enumerate(zip(got, want)) if not ((g < 1e-5) if w < 1e-6 else (0.5 * w <= g <= 2 * w)))
        if got[i] < 0.5 * want[i]:
            return _fail(name, f"input {i}: your error {got[i]:.3g} is smaller than the bug's relative error, about "
                         f"{want[i]:.3g} {where}", fn, ref,
                         ("a bug in a few entries must show in full: take the maximum over the entries, not the mean",
                          "error_k = max over entries of |a - n| / max(1e-8, |a| + |n|)"))
        return _fail(name, f"input {i}: your error is {got[i]:.3g}, expected about {want[i]:.3g} {where}",
                     fn, ref, ("relative error = max over entries of |a - n| / max(1e-8, |a| + |n|)",))
    return CheckResult(name, "pass", "correct: a small error for each input of the correct layers, and each planted "
                       "bug found in the right input.", fn, ref)


def _fmt(vals):
    return "[" + ", ".join(f"{v:.2g}" for v in vals) + "]"


# ------------------------------------------------------------------ 4. the L-layer network
_ACT = {   # activation: (f, f' from the pre-activation z)
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float)),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "sigmoid": (lambda z: 1.0 / (1.0 + np.exp(-z)), lambda z: np.exp(-z) / (1.0 + np.exp(-z)) ** 2),
    "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))), lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0)))),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1.0, 0.01)),
    "linear": (lambda z: z, lambda z: np.ones_like(z)),
}


def _mlp_variant(X, y, params, activation, *, skip=(), deriv="z", grad_n=True, loss_mean=True, db="sum",
                 dW_from="input", act_last=False):
    """The L-layer loop with one switch per plausible mistake (the checker's wrong answers).

    skip: layers (0-based) whose activation derivative is left out; deriv: "z" (right),
    "h" (f' evaluated at the post-activation h = f(z)) or "h_as_output" (the tanh/sigmoid
    formula written with the output but fed z); grad_n: the 1/n in dlogits; db: "sum",
    "mean" or "rows" (not reduced); dW_from: "input" or "output" (the layer's own output).
    """
    f, fprime = _ACT[activation]
    hs, zs = [X], []
    nl = len(params)
    for l, (W, b) in enumerate(params):
        z = hs[-1] @ W + b
        zs.append(z)
        if l < nl - 1 or act_last:
            hs.append(f(z))
        else:
            hs.append(z)
    logits = hs[-1]
    n = X.shape[0]
    log_p = logits - logits.max(axis=1, keepdims=True)
    log_p = log_p - np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    loss = -log_p[np.arange(n), y].sum() / (n if loss_mean else 1)
    d = np.exp(log_p)
    d[np.arange(n), y] -= 1.0
    if grad_n:
        d = d / n
    if act_last:
        d = d * fprime(zs[-1])
    grads = [None] * nl
    for l in range(nl - 1, -1, -1):
        W, _ = params[l]
        src = hs[l] if dW_from == "input" else hs[l + 1]
        dW = src.T @ d if src.shape[1] == W.shape[0] else np.full(W.shape, np.nan)
        dbv = {"sum": d.sum(axis=0), "mean": d.mean(axis=0), "rows": d}[db]
        grads[l] = (dW, dbv)
        if l:
            d = d @ W.T
            if l - 1 not in skip:
                if deriv == "z":
                    d = d * fprime(zs[l - 1])
                elif deriv == "h":
                    d = d * fprime(hs[l])
                else:   # the output formula fed the pre-activation: 1 - z² (tanh), z(1 - z) (sigmoid)
                    zz = zs[l - 1]
                    d = d * {"tanh": 1 - zz ** 2, "sigmoid": zz * (1 - zz)}.get(activation, fprime(zz))
    return loss, grads


def _mlp_cases():
    out = []
    # sizes that are not square and do not divide one another; every class present
    for seed, sizes, n, act in ((47, [3, 7, 5, 4], 9, "tanh"), (48, [5, 4, 7, 2, 3], 7, "sigmoid"),
                                (49, [2, 9, 4], 11, "relu"), (50, [4, 3], 5, "tanh"),
                                (51, [3, 8, 5, 2], 8, "elu")):
        rng = np.random.default_rng(seed)
        params = [(rng.normal(size=(a, b)) / np.sqrt(a) * 1.5, 0.2 * rng.normal(size=b))
                  for a, b in zip(sizes[:-1], sizes[1:])]
        X = rng.normal(size=(n, sizes[0]))
        y = np.r_[np.arange(sizes[-1]), rng.integers(0, sizes[-1], size=n - sizes[-1])]
        out.append((X, y, params, act))
    # large logits (hundreds): an unstable softmax overflows here
    X, y, params, act = out[0]
    out.append((X, y, params[:-1] + [(400.0 * params[-1][0], params[-1][1])], act))
    return out


def _pairs(value, L_):
    """The learner's grads as a list of L (dW, db) float arrays, or a reason why not."""
    if isinstance(value, dict):
        return None, ("grads is a dict; return a list of (dW, db) pairs, one per layer, in the order of params",)
    if not isinstance(value, (list, tuple)):
        return None, (f"grads must be a list of {L_} (dW, db) pairs; got {describe(value)}",)
    if len(value) == 2 * L_ and all(not isinstance(v, (list, tuple)) for v in value):
        return None, (f"grads is a flat list of {len(value)} arrays; pair them: [(dW1, db1), (dW2, db2), ...]",)
    if len(value) != L_:
        return None, (f"grads must hold one (dW, db) pair per layer: {L_} pairs for {L_} layers, got {len(value)}",
                      "append one pair per layer of the backward loop, then put them in the order of params "
                      "(first layer first)")
    out = []
    for l, pair in enumerate(value):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            return None, (f"grads[{l}] must be a pair (dW, db); got {describe(pair)}",)
        arrs = [_as_arr(v) for v in pair]
        if any(a is None for a in arrs):
            return None, (f"grads[{l}] holds something that is not numbers: {describe(pair)}",)
        out.append(arrs)
    return out, None


def _same(a_list, b_list):
    return all(ga.shape == wa.shape and bool(np.all(np.isfinite(ga))) and np.allclose(ga, wa, atol=1e-9, rtol=1e-6)
               for g, w in zip(a_list, b_list) for ga, wa in zip(g, w))


def mlp_backprop(fn) -> CheckResult:
    """Check ``fn(X, y, params, activation) -> (loss, grads)``: the L-layer forward and backward loop.

    ``X`` (n, d); ``y`` (n,) int; ``params`` a list of L pairs (W_l (d_{l-1}, d_l), b_l
    (d_l,)); ``grads`` a list of L pairs (dW_l, db_l) in the same order and shapes. The
    cases have non-square layers of sizes that do not divide one another, 1 to 4 layers and
    four activations. Recognised mistakes: gradients in reversed order; the activation
    derivative left out at one layer or at all; f' taken at the post-activation; the
    output-form derivative fed the pre-activation; the 1/n missing; the loss summed; db not
    reduced or averaged; dW from the layer's output; an activation after the last layer;
    a transpose that only fits square layers (a crash or a transposed shape).
    """
    name, ref = "mlp_backprop", L.mlp_loss_and_grads
    not_callable = require_function(name, fn, ref)
    if not_callable is not None:
        return not_callable
    for k, (X, y, params, act) in enumerate(_mlp_cases(), 1):
        nl = len(params)
        sizes = [params[0][0].shape[0]] + [W.shape[1] for W, _ in params]
        where = f"on test case {k} (sizes {sizes}, {act}, n = {X.shape[0]})"
        copies = [(W.copy(), b.copy()) for W, b in params]
        Xc, yc = X.copy(), y.copy()
        value, err = _call(fn, (Xc, yc, copies, act))
        if err:
            if err[0] == "todo":
                return CheckResult(name, "todo", err[1], fn, ref)
            if "matmul" in err[1] or "shapes" in err[1] or "broadcast" in err[1]:
                return _fail(name, f"{err[1]} {where}. The layers here are not square, so a missing or extra "
                             f"transpose shows as a shape error: write the shape next to each factor.", fn, ref,
                             ("forward: h @ W is (n, d_in) @ (d_in, d_out); backward: delta @ W.T is "
                              "(n, d_out) @ (d_out, d_in) and h_prev.T @ delta is (d_in, n) @ (n, d_out)",))
            return _fail(name, f"{err[1]} {where}.", fn, ref)
        if (not np.array_equal(X, Xc) or not np.array_equal(y, yc)
                or any(not (np.array_equal(W, Wc) and np.array_equal(b, bc)) for (W, b), (Wc, bc) in zip(params, copies))):
            return _fail(name, f"your function changed X, y or params in place {where}",
                         fn, ref, ("compute new arrays (`h = h @ W + b`, not `h += ...`); leave params unchanged",))
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            return _fail(name, f"return a tuple (loss, grads); got {returned(value)} {where}.", fn, ref)
        loss_got, grads_value = value
        loss_arr = _as_arr(loss_got)
        if loss_arr is None or loss_arr.size != 1:
            return _fail(name, f"loss must be one number (the mean over the batch); got {describe(loss_got)} {where}.",
                         fn, ref)
        want_loss, want = ref(X, y, params, act)
        want = [(np.asarray(a), np.asarray(b)) for a, b in want]
        got, why = _pairs(grads_value, nl)
        if got is None:
            return _fail(name, f"{why[0]} {where}.", fn, ref, why[1:])
        if nl > 1 and all(g[0].shape == w[0].shape and g[1].shape == w[1].shape for g, w in zip(got[::-1], want)) \
                and _same(got[::-1], want):
            return _fail(name, f"your gradients are right but in reversed order (last layer first) {where}",
                         fn, ref, ("the backward loop meets the layers last to first; return them first to first",
                                   "collect them and reverse the list (grads[::-1]), or fill grads[l] by index"))
        for l, ((gW, gb), (wW, wb)) in enumerate(zip(got, want)):
            if gW.shape != wW.shape:
                steps = (f"dW{l + 1} has shape {gW.shape} but W{l + 1} has shape {wW.shape}",)
                if gW.shape == wW.shape[::-1]:
                    steps = (f"dW{l + 1} has the shape of W{l + 1} transposed, {gW.shape} instead of {wW.shape}",
                             "dW = h_prev.T @ delta: (d_in, n) @ (n, d_out)")
                elif nl > 1 and any(gW.shape == w[0].shape for w in want):
                    steps = (f"dW{l + 1} has the shape of another layer's weights: are the gradients in the order of params?",)
                return _fail(name, f"{steps[0]} {where}.", fn, ref, steps[1:])
            if gb.shape != wb.shape:
                steps = (f"db{l + 1} has shape {gb.shape} but b{l + 1} has shape {wb.shape}",)
                if gb.ndim == 2:
                    steps = (f"db{l + 1} is not reduced over the batch (shape {gb.shape})",
                             "b was added to every row: db = delta.sum(axis=0), shape (d_out,)")
                return _fail(name, f"{steps[0]} {where}.", fn, ref, steps[1:])
        loss_ok = np.isfinite(loss_arr).all() and np.isclose(float(loss_arr.reshape(())), want_loss, rtol=1e-7, atol=1e-10)
        grads_ok = _same(got, want)
        if loss_ok and grads_ok:
            continue
        hidden = list(range(nl - 1))
        variants = [
            ("loss summed", dict(loss_mean=False),
             ("the loss is the sum over the batch; it should be the mean", "divide the summed loss by n")),
            ("no 1/n", dict(grad_n=False),
             ("every gradient is n times too large: the 1/n of the mean loss is missing",
              "dlogits = (softmax(z) - one_hot(y)) / n; softmax_cross_entropy returns it with the 1/n")),
            ("act last", dict(act_last=True),
             ("the last layer has an activation: the logits must be the last affine output",
              "apply the activation after every layer except the last")),
            ("db mean", dict(db="mean"),
             ("db is the mean of delta over the batch; it is the sum", "the 1/n is already in dlogits")),
            ("dW from output", dict(dW_from="output"),
             ("dW uses the layer's output instead of its input", "dW_l = h_{l-1}.T @ delta_l, h_0 = X")),
            ("no derivative", dict(skip=tuple(hidden)),
             ("the activation's derivative is missing in the backward pass",
              "after delta @ W.T, multiply by f'(z) of the layer below: act_backward(dh, act_cache)")),
            ("deriv at h", dict(deriv="h"),
             ("the activation derivative is taken at the post-activation h = f(z), not at the pre-activation z",
              "pass each layer's own activation cache to its backward (it holds what f' needs)")),
            ("output form at z", dict(deriv="h_as_output"),
             ("the derivative is written for the activation's output but given the pre-activation z "
              "(e.g. 1 - z² for tanh)",
              "use the cache that act_forward returned for that layer, not the affine output")),
        ] + [(f"skip {l}", dict(skip=(l,)),
              (f"the activation derivative is missing at one layer (hidden layer {l + 1})",
               "every hidden layer multiplies delta by its own f'(z) on the way back")) for l in hidden if len(hidden) > 1]
        got_loss = float(loss_arr.reshape(()))
        for label, kw, steps in variants:
            try:
                with np.errstate(all="ignore"):
                    wl, wg = _mlp_variant(X, y, params, act, **kw)
            except Exception:
                continue
            if (np.isclose(got_loss, wl, rtol=1e-7, atol=1e-10)
                    and all(a.shape == b.shape for g, w in zip(got, wg) for a, b in zip(g, w)) and _same(got, wg)):
                return _fail(name, f"{steps[0]} {where}.", fn, ref, steps[1:])
        if not np.isfinite(got_loss) or not all(np.all(np.isfinite(a)) for g in got for a in g):
            return _fail(name, f"your loss or gradients contain inf or NaN {where}, where the logits reach "
                         f"{np.abs(L.mlp_forward(X, params, act)[0]).max():.0f}", fn, ref,
                         ("either exp of a large logit overflows (subtract each row's max before exp) or "
                          "log(softmax) of a tiny probability is log(0) = -inf: use layers.softmax_cross_entropy",
                          "log softmax(z) = (z - max z) - log(sum(exp(z - max z))), per row"))
        if not loss_ok:
            return _fail(name, f"the loss is {float(loss_arr.reshape(())):.6g}, expected {want_loss:.6g} {where}.",
                         fn, ref, ("the forward pass: affine, then the activation after every layer but the last, "
                                   "then the mean softmax cross-entropy of the logits",))
        wrong = [f"{kind}{l + 1}" for l, (g, w) in enumerate(zip(got, want))
                 for kind, a, b in (("dW", g[0], w[0]), ("db", g[1], w[1]))
                 if not (np.all(np.isfinite(a)) and np.allclose(a, b, atol=1e-9, rtol=1e-6))]
        right = "; the others are right" if len(wrong) < 2 * nl else ""
        return _fail(name, f"the loss is right, but {', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} wrong "
                     f"{where}{right}.", fn, ref,
                     ("start at the last layer and walk back: which is the first wrong gradient? The mistake is "
                      "in the step that produced it",
                      "delta_L = dlogits; dW_l = h_{l-1}.T @ delta_l; db_l = delta_l.sum(0); "
                      "delta_{l-1} = (delta_l @ W_l.T) * f'(z_{l-1})"))
    return CheckResult(name, "pass", f"correct on all {len(_mlp_cases())} networks (1 to 4 layers, non-square, four "
                       f"activations, logits up to hundreds): loss and every (dW, db) in the order of params.", fn, ref)


# ------------------------------------------------------------------ 5. softmax-CE backward
def _ce_cases():
    rng = np.random.default_rng(43)
    return [
        (rng.normal(size=(5, 3)), np.array([0, 2, 1, 1, 2])),
        (2 * rng.normal(size=(3, 4)), np.array([3, 0, 1])),
        # rows of very different scale: a *global* max leaves row 2 at exp(-1e4) = 0
        (np.array([[1e4, 0.0, -1e4], [0.0, 1.0, 2.0]]), np.array([0, 2])),
        (np.array([[800.0, 0.0, -800.0], [0.0, 900.0, 1.0]]), np.array([1, 1])),
    ]


def softmax_ce_backward(fn) -> CheckResult:
    """Check ``fn(logits (n, C), labels (n,)) -> (loss, dlogits)`` for the mean softmax cross-entropy.

    Case 3 mixes a row of ±1e4 with a row of small logits (subtracting the batch's global max
    instead of each row's max underflows to 0/0); case 4 has logits of ±800 (a naive exp overflows).
    Recognised mistakes: no 1/n in the gradient, sum instead of mean in the loss, one-hot
    minus softmax (sign), overflow, the global max, log(softmax) underflowing to log(0).
    """
    ref = L.softmax_cross_entropy

    def no_n(z, y):
        loss, dz = ref(z, y)
        return loss, dz * z.shape[0]

    def loss_sum(z, y):
        loss, dz = ref(z, y)
        return loss * z.shape[0], dz

    def both_sum(z, y):
        loss, dz = ref(z, y)
        return loss * z.shape[0], dz * z.shape[0]

    def sign(z, y):
        loss, dz = ref(z, y)
        return loss, -dz

    res = _check_outputs(
        "softmax_ce_backward", fn, reference=ref, cases=_ce_cases(), out_names=("loss", "dlogits"),
        diagnoses=[
            Diagnosis("both sum", both_sum, ("you used the sum over the batch for both the loss and its gradient",
                                             "the convention here is the mean: divide both by n")),
            Diagnosis("no 1/n", no_n, ("the 1/n is missing in the gradient",
                                       "the loss is a mean over n samples, so dlogits = (softmax - one_hot) / n")),
            Diagnosis("loss sum", loss_sum, ("the loss should be the mean over the batch, not the sum",)),
            Diagnosis("sign", sign, ("sign error", "dlogits = softmax(z) - one_hot(y), prediction minus target")),
        ],
        success="correct: mean loss and (softmax - one_hot)/n, stable at logits of ±800 and with rows of "
                "very different scale.")
    if res.status == "fail" and ("inf" in res.message.lower() or "nan" in res.message.lower()):
        res.message, res.hints = _ce_instability(fn, res.message)
    return res


def _ce_instability(fn, message):
    """Name the instability behind an inf/NaN: overflow, the global max, or log(softmax) underflowing."""
    mixed = (np.array([[1000.0, 0.0, 0.0], [0.0, 1.0, 2.0]]), np.array([0, 2]))   # each row fine on its own
    same_row = (np.array([[0.0, 800.0, 0.0]]), np.array([1]))       # one row: its max is the global max
    far = (np.array([[0.0, 800.0, 0.0]]), np.array([0]))            # the true class 800 below the max
    def finite(case):
        v, e = _call(fn, tuple(np.copy(a) for a in case))
        return e is None and isinstance(v, (tuple, list)) and all(
            a is not None and np.all(np.isfinite(a)) for a in (_as_arr(x) for x in v))

    if finite(same_row) and not finite(mixed):
        return (message + " On a batch such as [[1e4, 0, -1e4], [0, 1, 2]] the second row becomes exp(0 - 1e4) = 0 "
                "everywhere: the max you subtract is the batch's, not each row's."), \
               ("subtract each row's own max: z - z.max(axis=1, keepdims=True)",)
    if not finite(same_row):
        return message + " A logit of 800 overflows exp: subtract each row's max before exp.", \
               ("softmax(z) = softmax(z - max z); do it per row: z.max(axis=1, keepdims=True)",)
    if not finite(far):
        return (message + " The row max is subtracted, but the probability of a class 800 below the max "
                "underflows to 0 and log(0) = -inf."), \
               ("compute log-softmax directly: log p = (z - max) - log(sum(exp(z - max))), instead of log(softmax(z))",)
    return message + " Look for an exp that overflows or a log of 0.", ()


# ------------------------------------------------------------------ 6. the planted bug
_PARAM_SHAPES = (("W1", "(d, h)"), ("b1", "(h,)"), ("W2", "(h, C)"), ("b2", "(C,)"))


def _two_layer_inputs(where, X, y, params):
    """Check the ``(X, y, params)`` of the two-layer helpers; return them as float arrays / int labels.

    ``X``: (n, d); ``y``: (n,) integer class ids in [0, C); ``params``: a dict with
    ``W1`` (d, h), ``b1`` (h,), ``W2`` (h, C), ``b2`` (C,).
    """
    keys = ", ".join(k for k, _ in _PARAM_SHAPES)
    if not isinstance(params, dict):
        raise TypeError(f"{where}: params must be a dict with keys {keys}, got {describe(params)}")
    missing = [k for k, _ in _PARAM_SHAPES if k not in params]
    if missing:
        raise ValueError(f"{where}: params must be a dict with keys {keys}; "
                         f"missing {missing}, got keys {sorted(params)}")
    X = as_float_array(X, "X", where, ndim=2, finite=False)
    p = {k: as_float_array(params[k], f"params[{k!r}]", where, finite=False) for k, _ in _PARAM_SHAPES}
    d = X.shape[1]
    h = p["W1"].shape[1] if p["W1"].ndim == 2 else None
    C = p["W2"].shape[1] if p["W2"].ndim == 2 else None
    want = {"W1": (d, h), "b1": (h,), "W2": (h, C), "b2": (C,)}
    for k, shape in _PARAM_SHAPES:
        if p[k].shape != want[k] or None in want[k]:
            expected = "(" + ", ".join("?" if v is None else str(v) for v in want[k]) + ("," if len(want[k]) == 1 else "") + ")"
            raise ValueError(f"{where}: params[{k!r}] must have shape {shape} = {expected} "
                             f"(X has {d} features), got shape {p[k].shape}")
    y = class_labels(y, X.shape[0], C, where, name="y", batch_name="X")
    return X, y, p


def two_layer_loss(X, y, params):
    """Mean softmax cross-entropy of the net ``tanh(X W1 + b1) W2 + b2`` (the exercise's network).

    ``X``: (n, d); ``y``: (n,) integer class ids; ``params``: a dict with ``W1`` (d, h),
    ``b1`` (h,), ``W2`` (h, C), ``b2`` (C,). Bad input raises a named ``TypeError``/``ValueError``.
    """
    X, y, params = _two_layer_inputs("two_layer_loss", X, y, params)
    h = np.tanh(X @ params["W1"] + params["b1"])
    return L.softmax_cross_entropy(h @ params["W2"] + params["b2"], y)[0]


def two_layer_backward(X, y, params):
    """Reference gradients of ``two_layer_loss``: ``{"W1", "b1", "W2", "b2"}``, each shaped like its parameter."""
    X, y, params = _two_layer_inputs("two_layer_backward", X, y, params)
    z1 = X @ params["W1"] + params["b1"]          # (n, h)
    h = np.tanh(z1)                               # (n, h)
    scores = h @ params["W2"] + params["b2"]      # (n, C)
    _, dscores = L.softmax_cross_entropy(scores, y)
    dW2 = h.T @ dscores                           # (h, C)
    db2 = dscores.sum(axis=0)                     # (C,)
    dh = dscores @ params["W2"].T                 # (n, h)
    dz1 = dh * (1 - h ** 2)                       # tanh'(z1) = 1 - tanh(z1)^2
    dW1 = X.T @ dz1                               # (d, h)
    db1 = dz1.sum(axis=0)                         # (h,)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def buggy_two_layer_backward(X, y, params):
    """Gradients of ``two_layer_loss`` with ONE planted bug. Find it with a gradient check."""
    X, y, params = _two_layer_inputs("buggy_two_layer_backward", X, y, params)
    z1 = X @ params["W1"] + params["b1"]
    h = np.tanh(z1)
    scores = h @ params["W2"] + params["b2"]
    _, dscores = L.softmax_cross_entropy(scores, y)
    dW2 = h.T @ dscores
    db2 = dscores.sum(axis=0)
    dh = dscores @ params["W2"].T
    dz1 = dh * (1 - z1 ** 2)
    dW1 = X.T @ dz1
    db1 = dz1.sum(axis=0)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def _bug_cases():
    out = []
    for seed, (n, d, h, C) in ((44, (6, 2, 5, 3)), (45, (4, 3, 4, 2))):
        rng = np.random.default_rng(seed)
        params = {"W1": rng.normal(size=(d, h)), "b1": 0.1 * rng.normal(size=h),
                  "W2": rng.normal(size=(h, C)), "b2": 0.1 * rng.normal(size=C)}
        out.append((rng.normal(size=(n, d)), rng.integers(0, C, size=n), params))
    return out


def planted_bug(fn) -> CheckResult:
    """Check ``fn(X, y, params) -> {"W1", "b1", "W2", "b2"}``: the corrected backward pass.

    Recognised: the untouched planted bug; the ReLU derivative put in place of tanh's; a
    sign error in the tanh derivative.
    """
    def relu_mask(X, y, p):
        g = two_layer_backward(X, y, p)
        z1 = X @ p["W1"] + p["b1"]
        dz1 = (L.softmax_cross_entropy(np.tanh(z1) @ p["W2"] + p["b2"], y)[1] @ p["W2"].T) * (z1 > 0)
        return dict(g, W1=X.T @ dz1, b1=dz1.sum(axis=0))

    def plus(X, y, p):
        g = two_layer_backward(X, y, p)
        h = np.tanh(X @ p["W1"] + p["b1"])
        dz1 = (L.softmax_cross_entropy(h @ p["W2"] + p["b2"], y)[1] @ p["W2"].T) * (1 + h ** 2)
        return dict(g, W1=X.T @ dz1, b1=dz1.sum(axis=0))

    def no_deriv(X, y, p):
        g = two_layer_backward(X, y, p)
        h = np.tanh(X @ p["W1"] + p["b1"])
        dz1 = L.softmax_cross_entropy(h @ p["W2"] + p["b2"], y)[1] @ p["W2"].T
        return dict(g, W1=X.T @ dz1, b1=dz1.sum(axis=0))

    return _check_outputs(
        "planted_bug", fn, reference=two_layer_backward, cases=_bug_cases(), out_names=("W1", "b1", "W2", "b2"),
        as_dict=True,
        diagnoses=[
            Diagnosis("unchanged", buggy_two_layer_backward,
                      ("these are still the buggy gradients: dW1 and db1 disagree with the numerical ones",
                       "look at the line that multiplies by the derivative of tanh: which variable should it use?")),
            Diagnosis("relu", relu_mask, ("(z1 > 0) is the derivative of ReLU, but this layer is tanh",
                                          "tanh'(z1) = 1 - tanh(z1)² = 1 - h²")),
            Diagnosis("plus", plus, ("sign error in the derivative of tanh", "tanh' = 1 - h², with a minus")),
            Diagnosis("no derivative", no_deriv, ("the tanh derivative is gone altogether",
                                                  "dz1 = dh * (1 - h²)")),
        ],
        success="fixed: tanh'(z1) = 1 - h² uses the layer's output h, not z1. All four gradients now pass "
                "the gradient check.")
