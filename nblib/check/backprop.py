"""Checkers for notebook 04 (backpropagation by hand).

* :func:`sigmoid_backward` -- ``fn(dout, s) -> dx`` where ``s`` is the cached sigmoid output;
* :func:`affine_backward` -- ``fn(dout, cache) -> (dx, dW, db)`` with ``cache = (x, W, b)``;
* :func:`softmax_ce_backward` -- ``fn(logits, labels) -> (loss, dlogits)``, mean over the batch;
* :func:`planted_bug` -- ``fn(X, y, params) -> grads``: the corrected version of
  :func:`buggy_two_layer_backward`, whose bug a gradient check exposes.
"""

from __future__ import annotations

import numpy as np

from .. import layers as L
from .._validate import as_float_array, class_labels, describe
from ._core import CheckResult, Diagnosis, _call, _fmt_args, check_function, returned

__all__ = ["sigmoid_backward", "affine_backward", "softmax_ce_backward", "planted_bug",
           "buggy_two_layer_backward", "two_layer_backward", "two_layer_loss"]

#: Exported helpers used by the exercises, not checkers: notebook 04 calls them with
#: ``(X, y, params)`` (``check.two_layer_loss(X, y, params)``) rather than passing them a
#: learner's function. Tests that call every checker skip these names.
HELPERS = ("two_layer_loss", "two_layer_backward", "buggy_two_layer_backward")


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
    """Like :func:`check_function`, for a function returning several arrays (a tuple or a dict).

    ``out_names``: the names of the outputs in order (tuple) or the keys (dict).
    ``shape_hints``: ``{output name: function(expected_shape, got_shape) -> hint or None}``.
    A Diagnosis's ``wrong`` returns the outputs in the same form as the reference.
    """
    if not callable(fn):
        return CheckResult(name, "fail", f"expected a function, got {describe(fn)}. Pass the function itself: "
                           f"check.{name}(my_function)", fn, reference)
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
            return CheckResult(name, "fail", f"return {form}; got {returned(value)} {where}.", fn, reference)
        want = [np.asarray(v, dtype=float) for v in unpack(reference(*args))]
        for nm, g, w in zip(out_names, got, want):
            if g is None:
                return CheckResult(name, "fail", f"{nm} is {describe(g)}, expected numbers {where}.", fn, reference)
            if g.shape != w.shape:
                hint = (shape_hints or {}).get(nm, lambda e, s: None)(w.shape, g.shape)
                return CheckResult(name, "fail", f"{nm} has shape {g.shape} but should have shape {w.shape} "
                                   f"{where}. " + (hint or "Every gradient has the shape of the thing it is the "
                                                           "gradient of."), fn, reference)
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
                return CheckResult(name, "fail", f"{d.hint}. Seen {where}.", fn, reference)
        bad = [nm for nm, o in zip(out_names, ok) if not o]
        diff = max(float(np.max(np.abs(g - w))) for g, w, o in zip(got, want, ok) if not o)
        return CheckResult(name, "fail", f"{', '.join(bad)} {'is' if len(bad) == 1 else 'are'} wrong (off by up "
                           f"to {diff:.3g}) {where}; the other outputs are right. Re-derive "
                           f"{'it' if len(bad) == 1 else 'them'} with the shapes written next to each "
                           f"factor.", fn, reference)
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
    sigmoid again); the tanh derivative ``1 - s**2``; a sign error.
    """
    ref = L.sigmoid_backward
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))
    return check_function(
        "sigmoid_backward", fn, reference=ref, cases=_sigmoid_cases(),
        diagnoses=[
            Diagnosis("no dout", lambda dout, s: s * (1 - s),
                      "you returned the local derivative σ(x)(1-σ(x)) alone: the chain rule multiplies it "
                      "by the upstream gradient dout"),
            Diagnosis("cache is x", lambda dout, s: dout * sig(s) * (1 - sig(s)),
                      "the cache holds the sigmoid's *output* s = σ(x), not x: the derivative is s(1-s) "
                      "directly, without applying σ again"),
            Diagnosis("tanh", lambda dout, s: dout * (1 - s ** 2),
                      "1 - s² is the derivative of tanh; for the sigmoid it is s(1 - s)"),
            Diagnosis("sign", lambda dout, s: -dout * s * (1 - s),
                      "sign error: σ'(x) = σ(x)(1 - σ(x)) is positive everywhere"),
        ],
        success="correct: dx = dout · s(1 - s), computed from the cached output.")


# ------------------------------------------------------------------ 2. affine backward
def _affine_cases():
    rng = np.random.default_rng(42)
    out = []
    for n, d, h in ((4, 3, 5), (2, 6, 2), (1, 2, 3)):
        x, W, b = rng.normal(size=(n, d)), rng.normal(size=(d, h)), rng.normal(size=h)
        out.append((rng.normal(size=(n, h)), (x, W, b)))
    return out


def affine_backward(fn) -> CheckResult:
    """Check ``fn(dout (n, h), cache=(x (n, d), W (d, h), b (h,))) -> (dx, dW, db)``.

    Recognised mistakes: db as a mean instead of a sum over the batch; dW as ``dout.T @ x``
    (the transpose); db not reduced over the batch (shape (n, h)); dx without the transpose
    (caught by shape).
    """
    def db_mean(dout, cache):
        dx, dW, db = L.affine_backward(dout, cache)
        return dx, dW, db / dout.shape[0]

    def dw_no_x(dout, cache):
        dx, dW, db = L.affine_backward(dout, cache)
        return dx, np.ones_like(cache[0]).T @ dout, db

    hints = {
        "dW": lambda e, s: ("dW has the shape of W transposed: dout.T @ x is (h, d); use x.T @ dout, "
                            "(d, n) @ (n, h) -> (d, h)") if s == e[::-1] else None,
        "db": lambda e, s: ("db must be summed over the batch (axis=0): b was added to every row, so every "
                            "row's dout flows into it") if len(s) == 2 else None,
        "dx": lambda e, s: "dx = dout @ W.T: (n, h) @ (h, d) -> (n, d), the shape of x",
    }
    return _check_outputs(
        "affine_backward", fn, reference=L.affine_backward, cases=_affine_cases(), out_names=("dx", "dW", "db"),
        shape_hints=hints,
        diagnoses=[
            Diagnosis("db mean", db_mean,
                      "db is the *sum* of dout over the batch, not the mean: the 1/n is already inside dout "
                      "(it came from the mean in the loss)"),
            Diagnosis("dW ones", dw_no_x, "dW must use the layer's input: dW = x.T @ dout"),
        ],
        success="correct: dx = dout Wᵀ, dW = xᵀ dout, db = Σ_i dout_i, each with the shape of its variable.")


# ------------------------------------------------------------------ 3. softmax-CE backward
def _ce_cases():
    rng = np.random.default_rng(43)
    return [
        (rng.normal(size=(5, 3)), np.array([0, 2, 1, 1, 2])),
        (2 * rng.normal(size=(3, 4)), np.array([3, 0, 1])),
        (np.array([[800.0, 0.0, -800.0], [0.0, 900.0, 1.0]]), np.array([1, 1])),
    ]


def softmax_ce_backward(fn) -> CheckResult:
    """Check ``fn(logits (n, C), labels (n,)) -> (loss, dlogits)`` for the mean softmax cross-entropy.

    The last case has logits of ±800 (a naive exp overflows). Recognised mistakes: no 1/n in
    the gradient, sum instead of mean in the loss, one-hot minus softmax (sign), overflow.
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
            Diagnosis("both sum", both_sum, "you used the sum over the batch for both the loss and its gradient; "
                      "the convention here is the mean: divide both by n"),
            Diagnosis("no 1/n", no_n, "the loss is a mean over n samples, so dlogits = (softmax - one_hot) / n: "
                      "the 1/n is missing"),
            Diagnosis("loss sum", loss_sum, "the loss should be the mean over the batch, not the sum"),
            Diagnosis("sign", sign, "sign error: dlogits = softmax(z) - one_hot(y), prediction minus target"),
        ],
        success="correct: mean loss and (softmax - one_hot)/n, stable at logits of ±800.")
    if res.status == "fail" and ("inf" in res.message.lower() or "nan" in res.message.lower()
                                 or "test case 3" in res.message):
        res.message += (" (Case 3 has logits of ±800: subtract each row's max before exp, "
                        "softmax(z) = softmax(z - max z).)")
    return res


# ------------------------------------------------------------------ 4. the planted bug
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
    """Reference gradients of :func:`two_layer_loss`: ``{"W1", "b1", "W2", "b2"}``, each shaped like its parameter."""
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
    """Gradients of :func:`two_layer_loss` with ONE planted bug. Find it with a gradient check."""
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

    return _check_outputs(
        "planted_bug", fn, reference=two_layer_backward, cases=_bug_cases(), out_names=("W1", "b1", "W2", "b2"),
        as_dict=True,
        diagnoses=[
            Diagnosis("unchanged", buggy_two_layer_backward,
                      "these are still the buggy gradients: dW1 and db1 disagree with the numerical ones. "
                      "Look at the line that multiplies by the derivative of tanh: which variable should it use?"),
            Diagnosis("relu", relu_mask, "(z1 > 0) is the derivative of ReLU; this layer is tanh, whose derivative "
                      "is 1 - tanh(z1)² = 1 - h²"),
            Diagnosis("plus", plus, "the derivative of tanh is 1 - h², with a minus"),
        ],
        success="fixed: tanh'(z1) = 1 - h² uses the layer's output h, not z1. All four gradients now pass "
                "the gradient check.")
