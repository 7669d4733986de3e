"""Checkers for notebook 07 (backpropagation through everything).

* ``ce_backward_steps`` -- ``fn(t, labels) -> dict`` of the gradient of the mean
  cross-entropy with respect to every intermediate tensor of ``ce_forward_steps``;
* ``batchnorm_forward`` -- ``fn(x, gamma, beta, bn_param) -> (out, cache)``, training and
  evaluation mode, running statistics updated in place (PyTorch's conventions);
* ``batchnorm_backward`` -- ``fn(dout, cache) -> (dx, dgamma, dbeta)`` from the cache keys
  ``xhat``, ``std``, ``gamma``, ``mode``;
* ``clip_grad_norm`` -- ``fn(grads, max_norm) -> (clipped, total_norm)``.

Every checker runs the learner's function on a few cases and compares, output by output, with
the reference; the first output that differs is named, and a known wrong answer that gives the
same outputs is recognised and explained in steps.
"""

from __future__ import annotations

import numpy as np

from .. import norm as N
from .._validate import describe
from ._core import CheckResult, Diagnosis, _call, require_function, returned

__all__ = ["ce_backward_steps", "batchnorm_forward", "batchnorm_backward", "clip_grad_norm",
           "ce_forward_steps", "ce_backward_reference"]

#: Exported helpers, not checkers: the forward pass the exercise differentiates and its reference.
HELPERS = ("ce_forward_steps", "ce_backward_reference")

CE_KEYS = ("dpicked", "dlogp", "dprobs", "ds_inv", "ds", "de", "dshifted", "dmaxes", "dlogits")


class _Stop(Exception):
    """The learner's function failed (its ``_call`` error is in ``args``)."""


def _learner(fn):
    def call(*args):
        value, err = _call(fn, args)
        if err:
            raise _Stop(err)
        return value
    return call


def _arr(v):
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy()
    if v is None or isinstance(v, (str, bytes, dict)):
        return None
    try:
        return np.array(v, dtype=float)   # a copy: a later in-place update must not change what was seen
    except (TypeError, ValueError):
        return None


def _close(a, b, atol=1e-9, rtol=1e-6):
    return (a is not None and a.shape == b.shape and bool(np.all(np.isfinite(a)))
            and np.allclose(a, b, atol=atol, rtol=rtol))


def _same_trace(got, want, atol, rtol):
    return all(_close(g, w, atol, rtol) for (_, g), (_, w) in zip(got, want))


def _judge(name, fn, reference, cases, trace, diagnoses, *, shape_hint=None, atol=1e-9, rtol=1e-6,
           success=None):
    """Run ``trace(call, case)`` for the learner and the reference on every case and compare.

    ``trace(call, case)`` returns ``[(label, value), ...]`` or a str (a structural problem of
    the learner's answer, shown as is); ``call`` is the function to run. A Diagnosis's
    ``wrong`` is traced the same way; if it gives the learner's values everywhere, its hint
    is shown (in steps)."""
    not_callable = require_function(name, fn, reference)
    if not_callable is not None:          # (a failing CheckResult is falsy)
        return not_callable
    for k, (case, where) in enumerate(cases, 1):
        where = f"on test case {k} ({where})"
        try:
            got = trace(_learner(fn), case)
        except _Stop as stop:
            kind, text = stop.args[0]
            return CheckResult(name, kind, text if kind == "todo" else f"{text} {where}.", fn, reference)
        if isinstance(got, str):
            return CheckResult(name, "fail", f"{got} ({where}).", fn, reference)
        want = trace(reference, case)
        for (label, g), (_, w) in zip(got, want):
            if g is None:
                return CheckResult(name, "fail", f"{label} is {describe(g)}; expected numbers {where}.",
                                   fn, reference)
            if g.shape != w.shape:
                hint = (shape_hint(label, w.shape, g.shape) if shape_hint else None) or (
                    "every gradient has the shape of the tensor it is the gradient of")
                return CheckResult(name, "fail", f"{label} has shape {g.shape} but should have shape {w.shape} "
                                   f"{where}: {hint}.", fn, reference)
        if _same_trace(got, want, atol, rtol):
            continue
        for d in diagnoses:
            try:
                with np.errstate(all="ignore"):
                    wrong = trace(d.wrong, case)
            except Exception:
                continue
            if not isinstance(wrong, str) and _same_trace(got, wrong, atol, rtol):
                first = d.steps[0].rstrip(".")
                return CheckResult(name, "fail", f"{first}{'' if first.endswith('?') else '.'} Seen {where}.",
                                   fn, reference,
                                   hints=d.steps[1:])
        labels = [lab for (lab, g), (_, w) in zip(got, want) if not _close(g, w, atol, rtol)]
        first = labels[0]
        g, w = dict(got)[first], dict(want)[first]
        diff = float(np.max(np.abs(g - w))) if np.all(np.isfinite(g)) else float("inf")
        right = [lab for lab, _ in got[:[lab for lab, _ in got].index(first)]]
        before = (f"; {', '.join(right)} {'is' if len(right) == 1 else 'are'} right" if right else "")
        return CheckResult(name, "fail", f"{first} is the first wrong output (off by up to {diff:.3g}) "
                           f"{where}{before}.", fn, reference,
                           hints=(f"Re-derive {first} from the line of the forward pass that made it: which "
                                  f"local derivative, which sum or broadcast, which factor differs?",))
    return CheckResult(name, "pass", success or f"correct on all {len(cases)} test cases.", fn, reference)


# ============================================================ 1. cross-entropy, op by op
def ce_forward_steps(logits, labels):
    """Mean softmax cross-entropy in elementary operations; returns ``(loss, t)``.

    ``logits``: ``(n, C)``; ``labels``: ``(n,)`` int. ``t`` holds every intermediate tensor:
    ``logits``, ``maxes`` (n, 1), ``shifted`` (n, C), ``e`` (n, C), ``s`` (n, 1), ``s_inv`` (n, 1),
    ``probs`` (n, C), ``logp`` (n, C), ``picked`` (n,), ``loss`` (a float).
    """
    logits = np.asarray(logits, dtype=float)
    labels = np.asarray(labels)
    n = logits.shape[0]
    maxes = logits.max(axis=1, keepdims=True)        # (n, 1)
    shifted = logits - maxes                         # (n, C)
    e = np.exp(shifted)                              # (n, C)
    s = e.sum(axis=1, keepdims=True)                 # (n, 1)
    s_inv = 1.0 / s                                  # (n, 1)
    probs = e * s_inv                                # (n, C)
    logp = np.log(probs)                             # (n, C)
    picked = logp[np.arange(n), labels]              # (n,)
    loss = -picked.mean()
    t = dict(logits=logits, maxes=maxes, shifted=shifted, e=e, s=s, s_inv=s_inv, probs=probs, logp=logp,
             picked=picked, loss=float(loss))
    return float(loss), t


def ce_backward_reference(t, labels):
    """The gradient of the loss of ``ce_forward_steps`` with respect to every tensor of ``t``.

    Returns a dict with keys ``dpicked``, ``dlogp``, ``dprobs``, ``ds_inv``, ``ds``, ``de``,
    ``dshifted``, ``dmaxes``, ``dlogits``, each shaped like its tensor."""
    return _ce_backward(t, labels)


def _ce_backward(t, labels, *, n_factor=True, scatter=True, ds_sign=1.0, e_twice=True, log_div=True,
                 max_path=True, sum_s_inv=True):
    logits, e, s, s_inv, probs = t["logits"], t["e"], t["s"], t["s_inv"], t["probs"]
    n = logits.shape[0]
    rows = np.arange(n)
    dpicked = -np.ones(n) / (n if n_factor else 1)                   # loss = -mean(picked)
    if scatter:
        dlogp = np.zeros_like(t["logp"])
        np.add.at(dlogp, (rows, labels), dpicked)                    # indexing: scatter-add back
    else:
        dlogp = np.broadcast_to(dpicked[:, None], t["logp"].shape).copy()
    dprobs = dlogp / probs if log_div else dlogp * probs             # d log p = dp / p
    ds_inv = (dprobs * e).sum(axis=1, keepdims=True) if sum_s_inv else dprobs * e
    de = dprobs * s_inv                                              # path 1: probs = e * s_inv
    ds = -ds_sign * ds_inv / s ** 2                                  # d(1/s) = -1/s^2
    if e_twice:
        de = de + ds                                                 # path 2: s = sum(e): broadcast back
    dshifted = de * e                                                # d exp = exp
    dmaxes = -dshifted.sum(axis=1, keepdims=True)                    # maxes was broadcast: sum back
    dlogits = dshifted.copy()
    if max_path:
        np.add.at(dlogits, (rows, logits.argmax(axis=1)), dmaxes[:, 0])   # max: to the argmax only
    return dict(dpicked=dpicked, dlogp=dlogp, dprobs=dprobs, ds_inv=ds_inv, ds=ds, de=de,
                dshifted=dshifted, dmaxes=dmaxes, dlogits=dlogits)


def _ce_cases():
    rng = np.random.default_rng(70)
    z1 = rng.normal(size=(5, 4))
    z2 = np.array([[30.0, 0.0, -30.0], [0.0, 1.0, 2.0], [-5.0, 4.0, 3.5], [0.1, 0.2, 0.3]])   # mixed scales
    z3 = 3.0 * rng.normal(size=(7, 6))
    return [((z1, np.array([0, 3, 1, 1, 2])), "logits (5, 4)"),
            ((z2, np.array([2, 0, 1, 1])), "logits (4, 3) with rows of very different scale"),
            ((z3, np.array([5, 0, 0, 2, 4, 1, 3])), "logits (7, 6)")]


def ce_backward_steps(fn) -> CheckResult:
    """Check ``fn(t, labels) -> dict`` (keys ``CE_KEYS``) for the tensors of ``ce_forward_steps``.

    Recognised mistakes: a broadcast of the forward pass not summed back (``ds_inv`` of shape
    (n, C)); the indexing's backward not scattered into place; ``e``'s second path (through
    ``s``) missing; the 1/n of the mean missing; the sign of d(1/s); multiplying by ``probs``
    where ``log``'s derivative divides.
    """
    def trace(call, case):
        logits, labels = case
        _, t = ce_forward_steps(logits, labels)
        copies = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in t.items()}
        out = call(copies, labels.copy())
        if not all(np.array_equal(copies[k], t[k]) for k in t if isinstance(t[k], np.ndarray)):
            return ("your function changed a tensor of t in place; compute new arrays instead "
                    "(e.g. `dlogits = dshifted.copy()` before adding into it)")
        if not isinstance(out, dict):
            return f"return a dict with the keys {', '.join(CE_KEYS)}; got {returned(out)}"
        missing = [k for k in CE_KEYS if k not in out]
        if missing:
            return f"the dict you returned has no key {', '.join(map(repr, missing))} (keys needed: {', '.join(CE_KEYS)})"
        return [(k, _arr(out[k])) for k in CE_KEYS]

    def shape_hint(label, want, got):
        if len(want) == 2 and want[1] == 1 and len(got) == 2 and got[0] == 1 and want[0] > 1:
            return "sum over the columns (axis=1, keepdims=True), not over the batch: each row has its own value"
        if len(want) == 2 and want[1] == 1 and len(got) == 2 and got[1] > 1:
            return (f"in the forward pass this (n, 1) tensor was broadcast across the C columns; a broadcast "
                    f"in the forward pass is a sum in the backward pass: sum over axis 1 with keepdims=True")
        if len(want) == 2 and len(got) == 1:
            return "keep the (n, 1) column shape: use keepdims=True in the sum"
        return None

    ref = ce_backward_reference
    return _judge(
        "ce_backward_steps", fn, ref, _ce_cases(), trace, shape_hint=shape_hint, success=(
            "correct: every tensor's gradient, from dpicked back to dlogits; sums became broadcasts and "
            "broadcasts sums, and the indexing scattered its gradient back into place."),
        diagnoses=[
            Diagnosis("no 1/n", lambda t, y: _ce_backward(t, y, n_factor=False),
                      ("dpicked is off by a factor: look at how the loss is made from picked",
                       "loss = -picked.mean() = -(1/n) Σ picked_i, so dpicked_i = -1/n for every i")),
            Diagnosis("no scatter", lambda t, y: _ce_backward(t, y, scatter=False),
                      ("dlogp is non-zero where it should be zero: only some entries of logp reached the loss",
                       "picked = logp[rows, labels] uses one entry per row; the backward of indexing puts "
                       "dpicked back into those positions of a zero array (a scatter) and leaves the rest 0")),
            Diagnosis("log times", lambda t, y: _ce_backward(t, y, log_div=False),
                      ("dprobs uses the wrong local derivative of log",
                       "d log(p)/dp = 1/p, so dprobs = dlogp / probs")),
            Diagnosis("e once", lambda t, y: _ce_backward(t, y, e_twice=False),
                      ("de misses a contribution: count how many later tensors use e",
                       "e is used twice, in probs = e * s_inv and in s = e.sum(1): de is the sum of both paths, "
                       "dprobs * s_inv plus ds broadcast over the columns")),
            Diagnosis("ds sign", lambda t, y: _ce_backward(t, y, ds_sign=-1.0),
                      ("ds has the wrong sign", "d(1/s)/ds = -1/s², so ds = -ds_inv / s**2")),
        ])


# ============================================================ 2. batch norm forward
def _bn_sequence():
    rng = np.random.default_rng(71)
    scale, shift = np.array([1.0, 30.0, 0.01]), np.array([0.0, -50.0, 4.0])
    d = 3
    gamma, beta = np.array([1.5, 0.5, 2.0]), np.array([0.1, -1.0, 3.0])
    batches = [("train", rng.normal(size=(5, d)) * scale + shift),
               ("train", rng.normal(size=(3, d)) * scale + shift + 1.0),
               ("eval", rng.normal(size=(4, d)) * scale + shift),
               ("train", rng.normal(size=(2, d)) * scale + shift),
               ("eval", rng.normal(size=(1, d)) * scale + shift)]
    return gamma, beta, batches


def _bn_forward_variant(*, ddof_norm=0, ddof_running=1, momentum_new=True, eval_updates=False,
                        eval_batch=False, eps_inside=True, swap=False, in_place=True):
    def forward(x, gamma, beta, p):
        mode, m, eps = p.get("mode", "train"), p.get("momentum", 0.1), p.get("eps", 1e-5)
        n = x.shape[0]
        if mode == "train" or eval_batch:
            mu = x.mean(axis=0)
            var = x.var(axis=0, ddof=ddof_norm) if n > ddof_norm else x.var(axis=0)
        else:
            mu, var = p["running_mean"].copy(), p["running_var"].copy()
        if mode == "train" or eval_updates:
            bm = x.mean(axis=0)
            bv = x.var(axis=0, ddof=ddof_running) if n > ddof_running else x.var(axis=0)
            w = m if momentum_new else 1 - m
            rm = (1 - w) * p["running_mean"] + w * bm
            rv = (1 - w) * p["running_var"] + w * bv
            if in_place:
                p["running_mean"], p["running_var"] = rm, rv
        std = np.sqrt(var + eps) if eps_inside else np.sqrt(var) + eps
        xhat = (x - mu) / std
        out = beta * xhat + gamma if swap else gamma * xhat + beta
        return out, dict(xhat=xhat, std=std, gamma=gamma, mode=mode)
    return forward


def batchnorm_forward(fn) -> CheckResult:
    """Check ``fn(x (n, d), gamma (d,), beta (d,), bn_param) -> (out, cache)``.

    One ``bn_param`` goes through a sequence of batches (train, train, eval, train, eval;
    columns of very different scale and offset; batch sizes 5, 3, 4, 2, 1). After each call
    the checker compares ``out``, ``cache["xhat"]``, ``cache["std"]`` and the running statistics
    with ``nblib.norm.batchnorm_forward``. Recognised mistakes: the unbiased variance in the
    normalisation; the biased variance in the running variance; the momentum the wrong way
    round; running statistics updated in evaluation mode; batch statistics in evaluation mode;
    eps outside the square root; gamma and beta swapped; running statistics not stored in
    ``bn_param``.
    """
    def trace(call, case):
        gamma, beta, batches = _bn_sequence()
        p = {"momentum": 0.1, "eps": 1e-5, "running_mean": np.zeros(3), "running_var": np.ones(3)}
        rows = []
        for k, (mode, x) in enumerate(batches, 1):
            p["mode"] = mode
            xc, gc, bc = x.copy(), gamma.copy(), beta.copy()
            held = {key: p[key] for key in ("running_mean", "running_var")}     # arrays the caller still holds
            saved = {key: np.array(v, copy=True) for key, v in held.items()}
            value = call(xc, gc, bc, p)
            if not (np.array_equal(xc, x) and np.array_equal(gc, gamma) and np.array_equal(bc, beta)):
                return "your function changed x, gamma or beta in place; compute new arrays instead"
            for key, arr in held.items():
                if isinstance(arr, np.ndarray) and not np.array_equal(arr, saved[key]):
                    return (f"your function changed the array bn_param[{key!r}] in place (call {k}, {mode} mode): "
                            f"assign a new array to the key instead, bn_param[{key!r}] = (1 - m) * ... + m * ..., "
                            f"so that an array the caller still holds (e.g. one shared by two layers) keeps its "
                            f"values")
            if not isinstance(value, (tuple, list)) or len(value) != 2:
                return f"return a tuple (out, cache); got {returned(value)} at call {k}"
            out, cache = value
            if not isinstance(cache, dict) or not all(key in cache for key in ("xhat", "std", "gamma", "mode")):
                return (f"cache must be a dict with the keys 'xhat', 'std', 'gamma' and 'mode' (the backward "
                        f"pass needs them); got {describe(cache)} at call {k}")
            if cache["mode"] != mode:
                return f"cache['mode'] should be {mode!r} (the mode of this call), got {cache['mode']!r}"
            tag = f"call {k} ({mode}, n={x.shape[0]})"
            rows += [(f"out at {tag}", _arr(out)), (f"cache['xhat'] at {tag}", _arr(cache["xhat"])),
                     (f"cache['std'] at {tag}", _arr(cache["std"])),
                     (f"running_mean after {tag}", _arr(p.get("running_mean"))),
                     (f"running_var after {tag}", _arr(p.get("running_var")))]
        return rows

    return _judge(
        "batchnorm_forward", fn, N.batchnorm_forward,
        [(None, "one bn_param through train n=5, train n=3, eval n=4, train n=2, eval n=1")], trace,
        atol=1e-10, rtol=1e-8, success=(
            "correct: batch statistics with the biased variance in training mode, running statistics "
            "with momentum 0.1 and the unbiased variance (as torch.nn.BatchNorm1d), untouched in evaluation "
            "mode."),
        diagnoses=[
            Diagnosis("unbiased norm", _bn_forward_variant(ddof_norm=1),
                      ("out differs in training mode although the mean is right: look at the variance you "
                       "normalise with",
                       "the normalisation uses the biased batch variance, mean((x - mu)**2) (divided by n, "
                       "np.var's default); only the running variance uses n - 1")),
            Diagnosis("biased running", _bn_forward_variant(ddof_running=0),
                      ("out is right but running_var is not: look at which variance you average into it",
                       "PyTorch's running_var averages the unbiased batch variance, var * n / (n - 1) "
                       "(np.var(x, axis=0, ddof=1)), although the normalisation uses the biased one")),
            Diagnosis("momentum reversed", _bn_forward_variant(momentum_new=False),
                      ("the running statistics move too fast: check which term momentum weighs",
                       "momentum = 0.1 is the weight of the *new* batch: running = 0.9 * running + 0.1 * batch")),
            Diagnosis("eval updates", _bn_forward_variant(eval_updates=True),
                      ("the running statistics change during an evaluation-mode call",
                       "in 'eval' mode batch norm only reads running_mean and running_var; update them only "
                       "in 'train' mode")),
            Diagnosis("eval batch stats", _bn_forward_variant(eval_batch=True),
                      ("out is wrong in evaluation mode only: which statistics does evaluation normalise with?",
                       "in 'eval' mode use running_mean and running_var, not the statistics of the batch: "
                       "a single test sample must get a well-defined output")),
            Diagnosis("eps outside", _bn_forward_variant(eps_inside=False),
                      ("out is slightly off where a column has a small variance: look at where eps goes",
                       "eps goes inside the square root: std = sqrt(var + eps)")),
            Diagnosis("swap", _bn_forward_variant(swap=True),
                      ("out is wrong though the normalisation is right: check the scale and shift",
                       "out = gamma * xhat + beta: gamma scales, beta shifts")),
            Diagnosis("not stored", _bn_forward_variant(in_place=False),
                      ("the running statistics never change: are they stored back into bn_param?",
                       "assign the new values to bn_param['running_mean'] and bn_param['running_var']; "
                       "a local variable is lost when the function returns")),
        ])


# ============================================================ 3. batch norm backward
def _bn_backward_cases():
    rng = np.random.default_rng(72)
    out = []
    for n, d, mode, scale in ((5, 3, "train", (1.0, 20.0, 0.05)), (7, 4, "train", (2.0, 0.3, 1.0, 8.0)),
                              (2, 3, "train", (1.0, 1.0, 1.0)), (4, 3, "eval", (1.0, 5.0, 0.2))):
        x = rng.normal(size=(n, d)) * np.array(scale) + rng.normal(size=d)
        gamma, beta = rng.uniform(0.5, 2.0, size=d), rng.normal(size=d)
        p = N.new_bn_param(d)
        if mode == "eval":
            p["running_mean"], p["running_var"] = rng.normal(size=d), rng.uniform(0.5, 3.0, size=d)
            p["mode"] = "eval"
        _, cache = N.batchnorm_forward(x, gamma, beta, p)
        out.append(((rng.normal(size=(n, d)), cache), f"{mode} mode, x of shape ({n}, {d})"))
    return out


def _bn_backward_variant(kind):
    def backward(dout, cache):
        xhat, std, gamma, mode = cache["xhat"], cache["std"], cache["gamma"], cache["mode"]
        n = dout.shape[0]
        dbeta = dout.sum(axis=0)
        dgamma = (dout * xhat).sum(axis=0)
        dxhat = dout if kind == "no gamma" else dout * gamma
        if kind == "dbeta mean":
            dbeta = dbeta / n
        if kind == "dgamma no xhat":
            dgamma = dout.sum(axis=0)
        if mode == "eval" and kind != "train formula in eval":
            return dxhat / std, dgamma, dbeta
        if kind == "constants":
            return dxhat / std, dgamma, dbeta
        mean_term = dxhat.sum(axis=0)
        var_term = xhat * (dxhat * xhat).sum(axis=0)
        if kind == "no mean term":
            mean_term = 0.0
        if kind == "no var term":
            var_term = 0.0
        if kind == "unbiased":
            var_term = var_term * n / (n - 1)
        return (n * dxhat - mean_term - var_term) / (n * std), dgamma, dbeta
    return backward


def batchnorm_backward(fn) -> CheckResult:
    """Check ``fn(dout (n, d), cache) -> (dx (n, d), dgamma (d,), dbeta (d,))``.

    ``cache`` is the dict of ``nblib.norm.batchnorm_forward`` (the function may use its keys
    ``xhat``, ``std``, ``gamma``, ``mode``). Cases: training mode with columns of very different
    scale and a batch of 2, and evaluation mode. Recognised mistakes: the mean term or the
    variance term of dx missing; n - 1 in the variance path; the statistics treated as
    constants in training mode; the training formula in evaluation mode; dxhat without gamma;
    dgamma without xhat; dbeta as a mean; dgamma or dbeta not summed over the batch (shape).
    """
    def trace(call, case):
        dout, cache = case
        dc = dout.copy()
        cc = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in cache.items()}
        value = call(dc, cc)
        if not np.array_equal(dc, dout) or not all(np.array_equal(cc[k], cache[k]) for k in cache
                                                    if isinstance(cache[k], np.ndarray)):
            return "your function changed dout or the cache in place; compute new arrays instead"
        if not isinstance(value, (tuple, list)) or len(value) != 3:
            return f"return a tuple (dx, dgamma, dbeta); got {returned(value)}"
        return [(k, _arr(v)) for k, v in zip(("dx", "dgamma", "dbeta"), value)]

    def shape_hint(label, want, got):
        if label in ("dgamma", "dbeta") and len(got) == 2:
            return (f"{label[1:]} was broadcast over the n rows in the forward pass, so its gradient is a sum "
                    f"over the batch (axis=0)")
        return None

    return _judge(
        "batchnorm_backward", fn, N.batchnorm_backward_compact, _bn_backward_cases(), trace,
        shape_hint=shape_hint, success=(
            "correct: dx = (n·dxhat - Σdxhat - xhat·Σ(dxhat·xhat)) / (n·std) in training mode, "
            "dout·gamma/std in evaluation mode; dgamma and dbeta summed over the batch."),
        diagnoses=[
            Diagnosis("no mean term", _bn_backward_variant("no mean term"),
                      ("dx misses one of the paths from x to the loss in training mode",
                       "x also reaches the loss through the batch mean mu: that path gives the term "
                       "-Σ_i dxhat_i (sum over the batch) inside the bracket")),
            Diagnosis("no var term", _bn_backward_variant("no var term"),
                      ("dx misses one of the paths from x to the loss in training mode",
                       "x also reaches the loss through the batch variance: that path gives the term "
                       "-xhat · Σ_i (dxhat_i · xhat_i) inside the bracket")),
            Diagnosis("unbiased", _bn_backward_variant("unbiased"),
                      ("the variance path of dx has the wrong factor",
                       "the normalisation used the biased variance mean((x - mu)**2), so its derivative carries "
                       "1/n, not 1/(n - 1)")),
            Diagnosis("constants", _bn_backward_variant("constants"),
                      ("in training mode dx treats the batch statistics as constants",
                       "in training mode mu and var are computed from this batch, so they depend on x: "
                       "dx has two more terms (through the mean and through the variance); only evaluation "
                       "mode gives dout * gamma / std")),
            Diagnosis("train formula in eval", _bn_backward_variant("train formula in eval"),
                      ("evaluation mode is wrong: what do the statistics depend on there?",
                       "in evaluation mode the running statistics are constants (they do not depend on this "
                       "batch), so dx = dout * gamma / std; branch on cache['mode']")),
            Diagnosis("no gamma", _bn_backward_variant("no gamma"),
                      ("dx is off by a per-column factor",
                       "out = gamma * xhat + beta, so dxhat = dout * gamma before anything else")),
            Diagnosis("dgamma no xhat", _bn_backward_variant("dgamma no xhat"),
                      ("dgamma is wrong: what multiplies gamma in the forward pass?",
                       "out = gamma * xhat + beta, so dgamma = Σ_i dout_i * xhat_i (sum over the batch)")),
            Diagnosis("dbeta mean", _bn_backward_variant("dbeta mean"),
                      ("dbeta is too small by a factor n",
                       "beta was broadcast over the n rows: its gradient is the sum over the batch, not the mean")),
        ])


# ============================================================ 4. gradient clipping
def _clip_cases():
    rng = np.random.default_rng(73)
    big = {"W1": 40.0 * rng.normal(size=(3, 4)), "b1": 5.0 * rng.normal(size=4), "W2": rng.normal(size=(4, 2))}
    small = {"W1": 0.01 * rng.normal(size=(2, 2)), "b1": 0.02 * rng.normal(size=2)}
    mixed = {"W": 3.0 * rng.normal(size=(5, 3)), "b": np.array([0.5, -0.25, 0.1])}
    zero = {"W": np.zeros((2, 3)), "b": np.zeros(3)}
    return [((big, 5.0), "gradients of norm ~140, max_norm 5"), ((small, 1.0), "gradients of norm ~0.03, max_norm 1"),
            ((mixed, 2.0), "gradients of norm ~10, max_norm 2"),
            ((zero, 1.0), "all gradients zero (norm 0)")]


def _clip_variant(kind):
    def clip(grads, max_norm):
        norms = {k: float(np.linalg.norm(g)) for k, g in grads.items()}
        total = float(np.sqrt(sum(v ** 2 for v in norms.values())))
        if kind == "per tensor":
            return {k: g * min(1.0, max_norm / (norms[k] + 1e-6)) for k, g in grads.items()}, total
        if kind == "by value":
            return {k: np.clip(g, -max_norm, max_norm) for k, g in grads.items()}, total
        if kind == "always":
            return {k: g * max_norm / total for k, g in grads.items()}, total
        if kind == "sum of norms":
            total = sum(norms.values())
        if kind == "squared":
            total = total ** 2
        coef = min(1.0, max_norm / (total + 1e-6))
        if kind == "norm after":
            return {k: g * coef for k, g in grads.items()}, total * coef
        return {k: g * coef for k, g in grads.items()}, total
    return clip


def clip_grad_norm(fn) -> CheckResult:
    """Check ``fn(grads: dict name -> array, max_norm) -> (clipped dict, total_norm float)``.

    Cases: a large gradient (clipped), a small one (left as it is), a middle one, all zeros (a
    factor max_norm / norm without the + 1e-6 divides by zero there). Recognised
    mistakes: clipping each array separately; clipping each entry (by value); scaling every
    gradient to max_norm, small ones up too; the total norm as the sum of the per-array norms,
    or squared; returning the norm after clipping; changing the input arrays in place.
    """
    def trace(call, case):
        grads, max_norm = case
        copies = {k: v.copy() for k, v in grads.items()}
        value = call(copies, max_norm)
        if not all(np.array_equal(copies[k], grads[k]) for k in grads):
            return ("your function changed the input gradients in place; return new arrays "
                    "(e.g. `{k: g * coef for k, g in grads.items()}`)")
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            return f"return a tuple (clipped, total_norm); got {returned(value)}"
        clipped, total = value
        if not isinstance(clipped, dict) or set(clipped) != set(grads):
            return (f"clipped must be a dict with the same keys as grads ({', '.join(grads)}); "
                    f"got {describe(clipped)}")
        return [("total_norm", _arr(total))] + [(f"clipped[{k!r}]", _arr(clipped[k])) for k in grads]

    return _judge(
        "clip_grad_norm", fn, N.clip_grad_norm, _clip_cases(), trace, atol=1e-9, rtol=1e-5, success=(
            "correct: one norm over all the gradients together, and one factor min(1, max_norm / norm) for "
            "all of them: the direction is kept, only the length is capped."),
        diagnoses=[
            Diagnosis("per tensor", _clip_variant("per tensor"),
                      ("each array was clipped on its own: the direction of the whole gradient changed",
                       "compute one norm over all arrays together, sqrt(Σ_k Σ g_k²), and scale every "
                       "array by the same factor")),
            Diagnosis("by value", _clip_variant("by value"),
                      ("that is clipping by value (each entry cut to ±max_norm), which changes the direction",
                       "clipping by norm rescales the whole gradient: g · min(1, max_norm / ‖g‖)")),
            Diagnosis("always", _clip_variant("always"),
                      ("small gradients were scaled up: clipping only ever shrinks",
                       "the factor is min(1, max_norm / ‖g‖): a gradient already shorter than max_norm is "
                       "left as it is")),
            Diagnosis("sum of norms", _clip_variant("sum of norms"),
                      ("total_norm is too large: how do the norms of the parts combine?",
                       "the norm of all gradients together is sqrt(Σ_k ‖g_k‖²), not Σ_k ‖g_k‖")),
            Diagnosis("squared", _clip_variant("squared"),
                      ("total_norm is the square of the norm: the square root is missing",
                       "‖g‖ = sqrt(Σ_k Σ g_k²)")),
            Diagnosis("norm after", _clip_variant("norm after"),
                      ("total_norm should be the norm before clipping (what PyTorch returns, useful to log)",
                       "return the norm you computed from the input gradients, not the clipped one")),
        ])
