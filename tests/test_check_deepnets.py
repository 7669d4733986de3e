"""Checkers of notebook 07: each accepts the reference and a correct answer written differently,
and rejects the wrong answers a learner would write, with the hint for that mistake.

The wrong answers are written here the way a learner would write them (not generated from the
checker's own variants), so a checker that recognises only its own wrong answers would fail."""

import re

import numpy as np
import pytest
import torch

from nblib import check, norm as N
from nblib.check import _core
from nblib.check import deepnets as D

torch.set_default_dtype(torch.float64)


def fresh(name):
    _core._STREAK.pop(name, None)


def assert_rejects(checker, fn, pattern):
    fresh(checker.__name__)
    result = checker(fn)
    assert result.status == "fail", f"{checker.__name__} accepted a wrong answer: {result!r}"
    assert re.search(pattern, result.message), result.message
    return result


def assert_accepts(checker, fn):
    fresh(checker.__name__)
    result = checker(fn)
    assert result.status == "pass", result.message


# ============================================================ 1. cross-entropy, op by op
def test_ce_forward_steps_and_reference_backward_equal_torch():
    rng = np.random.default_rng(0)
    Z, y = 5 * rng.normal(size=(6, 4)), rng.integers(0, 4, size=6)
    loss, t = D.ce_forward_steps(Z, y)
    Zt = torch.tensor(Z, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(Zt, torch.tensor(y))
    lt.backward()
    assert loss == pytest.approx(lt.item(), rel=1e-13)
    g = D.ce_backward_reference(t, y)
    np.testing.assert_allclose(g["dlogits"], Zt.grad.numpy(), rtol=1e-10, atol=1e-15)
    assert sorted(g) == sorted(D.CE_KEYS)
    for k in D.CE_KEYS:
        assert g[k].shape == np.shape(t[k[1:]]), k


def ce_loops(t, labels):
    """Correct, written with loops and np.tile instead of add.at and keepdims sums."""
    n, C = t["logits"].shape
    dpicked = np.full(n, -1.0 / n)
    dlogp = np.zeros((n, C))
    for i in range(n):
        dlogp[i, labels[i]] += dpicked[i]
    dprobs = dlogp / t["probs"]
    ds_inv = np.array([[sum(dprobs[i, j] * t["e"][i, j] for j in range(C))] for i in range(n)])
    ds = -ds_inv * t["s_inv"] ** 2
    de = dprobs * np.tile(t["s_inv"], (1, C)) + np.tile(ds, (1, C))
    dshifted = de * np.exp(t["shifted"])
    dmaxes = -np.sum(dshifted, axis=1).reshape(n, 1)
    dlogits = dshifted + 0.0
    for i in range(n):
        dlogits[i, int(np.argmax(t["logits"][i]))] += dmaxes[i, 0]
    return dict(dpicked=dpicked, dlogp=dlogp, dprobs=dprobs, ds_inv=ds_inv, ds=ds, de=de, dshifted=dshifted,
                dmaxes=dmaxes, dlogits=dlogits)


def ce_torch(t, labels):
    """Correct, by another library: autograd on the same operations."""
    Zt = torch.tensor(t["logits"], requires_grad=True)
    T = {"maxes": Zt.max(dim=1, keepdim=True).values}
    T["shifted"] = Zt - T["maxes"]; T["e"] = T["shifted"].exp(); T["s"] = T["e"].sum(1, keepdim=True)
    T["s_inv"] = 1 / T["s"]; T["probs"] = T["e"] * T["s_inv"]; T["logp"] = T["probs"].log()
    T["picked"] = T["logp"][torch.arange(len(labels)), torch.tensor(labels)]
    for v in T.values():
        v.retain_grad()
    (-T["picked"].mean()).backward()
    out = {f"d{k}": v.grad.numpy() for k, v in T.items()}
    out["dlogits"] = Zt.grad.numpy()
    return out


def test_ce_checker_accepts_reference_and_alternatives():
    assert_accepts(check.ce_backward_steps, lambda t, y: D.ce_backward_reference(t, y))
    assert_accepts(check.ce_backward_steps, ce_loops)
    assert_accepts(check.ce_backward_steps, ce_torch)


def _ce_wrong(**change):
    def fn(t, labels):
        n = t["logits"].shape[0]
        rows = np.arange(n)
        dpicked = -np.ones(n) / (1 if change.get("no_n") else n)
        if change.get("broadcast_logp"):
            dlogp = np.ones_like(t["logp"]) * dpicked[:, None]
        else:
            dlogp = np.zeros_like(t["logp"])
            dlogp[rows, labels] = dpicked
        dprobs = dlogp * t["probs"] if change.get("times_p") else dlogp / t["probs"]
        if change.get("no_sum"):
            ds_inv = dprobs * t["e"]
        elif change.get("sum_axis0"):
            ds_inv = (dprobs * t["e"]).sum(axis=0, keepdims=True)
        else:
            ds_inv = (dprobs * t["e"]).sum(axis=1, keepdims=True)
        ds = ds_inv / t["s"] ** 2 if change.get("ds_sign") else -ds_inv / t["s"] ** 2
        de = dprobs * t["s_inv"] if change.get("e_once") else dprobs * t["s_inv"] + ds
        dshifted = de * t["e"]
        dmaxes = -dshifted.sum(axis=1, keepdims=True)
        dlogits = dshifted.copy()
        dlogits[rows, t["logits"].argmax(axis=1)] += dmaxes[:, 0]
        if change.get("in_place"):
            t["probs"] -= 0.0 * t["probs"] + 1e-3
        return dict(dpicked=dpicked, dlogp=dlogp, dprobs=dprobs, ds_inv=ds_inv, ds=ds, de=de, dshifted=dshifted,
                    dmaxes=dmaxes, dlogits=dlogits)
    return fn


@pytest.mark.parametrize("change, pattern", [
    (dict(no_sum=True), r"ds_inv has shape \(5, 4\).*broadcast in the forward pass is a sum"),
    (dict(sum_axis0=True), r"ds_inv has shape \(1, 4\).*not over the batch"),
    (dict(broadcast_logp=True), r"dlogp is non-zero where it should be zero"),
    (dict(no_n=True), r"dpicked is off by a factor"),
    (dict(e_once=True), r"de misses a contribution"),
    (dict(ds_sign=True), r"ds has the wrong sign"),
    (dict(times_p=True), r"dprobs uses the wrong local derivative of log"),
    (dict(in_place=True), r"changed a tensor of t in place"),
])
def test_ce_checker_rejects_wrong_answers_with_their_hint(change, pattern):
    assert_rejects(check.ce_backward_steps, _ce_wrong(**change), pattern)


def test_ce_checker_structure_and_generic_messages():
    assert_rejects(check.ce_backward_steps, lambda t, y: [1, 2], r"return a dict with the keys")
    assert_rejects(check.ce_backward_steps, lambda t, y: {k: 0 for k in D.CE_KEYS[:-1]}, r"no key 'dlogits'")

    def two_mistakes(t, y):                      # no 1/n AND e used once: named by the first wrong tensor
        g = D.ce_backward_reference(t, y)
        g = dict(g, de=g["de"] * 1.5)
        return g
    r = assert_rejects(check.ce_backward_steps, two_mistakes, r"de is the first wrong output.*dpicked, dlogp")
    assert "ds are right" in r.message

    def stub(t, y):
        raise NotImplementedError()
    fresh("ce_backward_steps")
    assert check.ce_backward_steps(stub).status == "todo"


def test_ce_hints_come_in_steps():
    fresh("ce_backward_steps")
    first = check.ce_backward_steps(_ce_wrong(e_once=True))
    second = check.ce_backward_steps(_ce_wrong(e_once=True))
    assert "count how many later tensors use e" in first.message
    assert "hint 2 of 2" in second.message and "e is used twice" in second.message
    fresh("ce_backward_steps")


# ============================================================ 2. batch norm forward
def bn_forward_np_var(x, gamma, beta, p):
    """Correct, with np.var and np.average (new arrays assigned to the running keys)."""
    m, eps = p["momentum"], p["eps"]
    if p["mode"] == "train":
        mu, var = np.mean(x, axis=0), np.var(x, axis=0)
        p["running_mean"] = np.average([p["running_mean"], mu], axis=0, weights=[1 - m, m])
        p["running_var"] = np.average([p["running_var"], np.var(x, axis=0, ddof=1)], axis=0, weights=[1 - m, m])
    else:
        mu, var = p["running_mean"], p["running_var"]
    std = np.sqrt(var + eps)
    xhat = (x - mu) / std
    return gamma * xhat + beta, {"xhat": xhat, "std": std, "gamma": gamma, "mode": p["mode"]}


def bn_forward_torch(x, gamma, beta, p):
    """Correct, by another library: torch.nn.functional.batch_norm updates the running stats in place."""
    rm, rv = torch.tensor(p["running_mean"]), torch.tensor(p["running_var"])
    train = p["mode"] == "train"
    out = torch.nn.functional.batch_norm(torch.tensor(x), rm, rv, torch.tensor(gamma), torch.tensor(beta),
                                         training=train, momentum=p["momentum"], eps=p["eps"])
    if train:
        mu, var = x.mean(0), x.var(0)
    else:
        mu, var = p["running_mean"], p["running_var"]
    p["running_mean"], p["running_var"] = rm.numpy(), rv.numpy()
    std = np.sqrt(var + p["eps"])
    return out.numpy(), {"xhat": (x - mu) / std, "std": std, "gamma": gamma, "mode": p["mode"]}


def test_bn_forward_checker_accepts_reference_and_alternatives():
    assert_accepts(check.batchnorm_forward, lambda x, g, b, p: N.batchnorm_forward(x, g, b, p))
    assert_accepts(check.batchnorm_forward, bn_forward_np_var)
    assert_accepts(check.batchnorm_forward, bn_forward_torch)


def _bn_forward_wrong(kind):
    def fn(x, gamma, beta, p):
        mode, m, eps = p["mode"], p["momentum"], p["eps"]
        n = x.shape[0]
        if mode == "train" or kind == "eval uses batch":
            mu = x.mean(axis=0)
            var = x.var(axis=0, ddof=1) if kind == "unbiased norm" else x.var(axis=0)
        else:
            mu, var = p["running_mean"], p["running_var"]
        if mode == "train" or kind == "eval updates":
            bv = x.var(axis=0) if kind == "biased running" or n < 2 else x.var(axis=0, ddof=1)
            if kind == "momentum reversed":
                rm, rv = m * p["running_mean"] + (1 - m) * x.mean(0), m * p["running_var"] + (1 - m) * bv
            else:
                rm, rv = (1 - m) * p["running_mean"] + m * x.mean(0), (1 - m) * p["running_var"] + m * bv
            if kind == "local only":
                running_mean, running_var = rm, rv          # never stored: lost on return
            else:
                p["running_mean"], p["running_var"] = rm, rv
        std = np.sqrt(var) + eps if kind == "eps outside" else np.sqrt(var + eps)
        xhat = (x - mu) / std
        out = xhat if kind == "no gamma beta" else gamma * xhat + beta
        return out, {"xhat": xhat, "std": std, "gamma": gamma, "mode": mode}
    return fn


@pytest.mark.parametrize("kind, pattern", [
    ("unbiased norm", r"look at the variance you normalise with"),
    ("biased running", r"out is right but running_var is not"),
    ("momentum reversed", r"running statistics move too fast"),
    ("eval updates", r"running statistics change during an evaluation-mode call"),
    ("eval uses batch", r"wrong in evaluation mode only"),
    ("eps outside", r"look at where eps goes"),
    ("local only", r"running statistics never change"),
    ("no gamma beta", r"out at call 1 \(train, n=5\) is the first wrong output"),
])
def test_bn_forward_checker_rejects_wrong_answers_with_their_hint(kind, pattern):
    assert_rejects(check.batchnorm_forward, _bn_forward_wrong(kind), pattern)


def test_bn_forward_checker_structure():
    assert_rejects(check.batchnorm_forward, lambda x, g, b, p: g * (x - x.mean(0)) / x.std(0) + b,
                   r"return a tuple \(out, cache\)")
    assert_rejects(check.batchnorm_forward, lambda x, g, b, p: (x, {"xhat": x}), r"cache must be a dict with the keys")

    def mutate(x, g, b, p):
        x -= x.mean(axis=0)
        return N.batchnorm_forward(x, g, b, p)
    assert_rejects(check.batchnorm_forward, mutate, r"changed x, gamma or beta in place")

    def running_in_place(x, g, b, p):            # the exercise: assign new arrays to the two keys
        rm, rv = p["running_mean"], p["running_var"]
        out = N.batchnorm_forward(x, g, b, p)
        if p["mode"] == "train":
            rm[:], rv[:] = p["running_mean"], p["running_var"]
            p["running_mean"], p["running_var"] = rm, rv
        return out
    assert_rejects(check.batchnorm_forward, running_in_place, r"changed the array bn_param\['running_mean'\] in place")


# ============================================================ 3. batch norm backward
def bn_backward_columns(dout, cache):
    """Correct, column by column with means instead of sums."""
    xhat, std, gamma = cache["xhat"], cache["std"], cache["gamma"]
    n, d = dout.shape
    dx = np.empty_like(dout)
    for j in range(d):
        g = dout[:, j] * gamma[j]
        if cache["mode"] == "train":
            dx[:, j] = (g - g.mean() - xhat[:, j] * np.mean(g * xhat[:, j])) / std[j]
        else:
            dx[:, j] = g / std[j]
    return dx, np.einsum("ij,ij->j", dout, xhat), np.einsum("ij->j", dout)


def bn_backward_autograd(dout, cache):
    """Correct, by another library: rebuild x from xhat and differentiate the forward with torch."""
    xhat, std, gamma = cache["xhat"], cache["std"], cache["gamma"]
    x = torch.tensor(xhat * std, requires_grad=True)             # any x with these statistics
    g = torch.tensor(gamma, requires_grad=True)
    b = torch.zeros(len(gamma), requires_grad=True)
    if cache["mode"] == "train":
        mu = x.mean(0); var = ((x - mu) ** 2).mean(0)
        eps = float(std[0] ** 2 - ((xhat[:, 0] * std[0]) ** 2).mean())
        out = g * (x - mu) / torch.sqrt(var + eps) + b
    else:
        out = g * x / torch.tensor(std) + b
    (out * torch.tensor(dout)).sum().backward()
    return x.grad.numpy(), g.grad.numpy(), b.grad.numpy()


def test_bn_backward_checker_accepts_reference_and_alternatives():
    assert_accepts(check.batchnorm_backward, lambda d, c: N.batchnorm_backward(d, c))     # step by step
    assert_accepts(check.batchnorm_backward, lambda d, c: N.batchnorm_backward_compact(d, c))
    assert_accepts(check.batchnorm_backward, bn_backward_columns)
    assert_accepts(check.batchnorm_backward, bn_backward_autograd)


def _bn_backward_wrong(kind):
    def fn(dout, cache):
        xhat, std, gamma, mode = cache["xhat"], cache["std"], cache["gamma"], cache["mode"]
        n = dout.shape[0]
        dxhat = dout * gamma
        dgamma = (dout * xhat).sum(axis=0)
        dbeta = dout.sum(axis=0)
        if kind == "dgamma not summed":
            dgamma = dout * xhat
        if kind == "dbeta mean":
            dbeta = dout.mean(axis=0)
        if kind == "eval formula everywhere" or (mode == "eval" and kind != "train formula in eval"):
            return dxhat / std, dgamma, dbeta
        if kind == "no mean term":
            dx = (n * dxhat - xhat * (dxhat * xhat).sum(0)) / (n * std)
        elif kind == "no var term":
            dx = (n * dxhat - dxhat.sum(0)) / (n * std)
        elif kind == "n-1":
            # the learner differentiates var = sum(xc^2) / (n - 1)
            xc = xhat * std
            dvar = (dxhat * xc).sum(0) * -0.5 * std ** -3
            dxc = dxhat / std + 2 * xc * dvar / (n - 1)
            dx = dxc - dxc.mean(0)
        elif kind == "no gamma":
            dx = (n * dout - dout.sum(0) - xhat * (dout * xhat).sum(0)) / (n * std)
        else:
            dx = (n * dxhat - dxhat.sum(0) - xhat * (dxhat * xhat).sum(0)) / (n * std)
        return dx, dgamma, dbeta
    return fn


@pytest.mark.parametrize("kind, pattern", [
    ("no mean term", r"dx misses one of the paths"),
    ("no var term", r"dx misses one of the paths"),
    ("n-1", r"variance path of dx has the wrong factor"),
    ("eval formula everywhere", r"treats the batch statistics as constants"),
    ("train formula in eval", r"evaluation mode is wrong"),
    ("no gamma", r"off by a per-column factor"),
    ("dgamma not summed", r"dgamma has shape \(5, 3\).*sum over the batch"),
    ("dbeta mean", r"dbeta is too small by a factor n"),
])
def test_bn_backward_checker_rejects_wrong_answers_with_their_hint(kind, pattern):
    assert_rejects(check.batchnorm_backward, _bn_backward_wrong(kind), pattern)


def test_bn_backward_second_hint_names_the_path():
    fresh("batchnorm_backward")
    check.batchnorm_backward(_bn_backward_wrong("no mean term"))
    second = check.batchnorm_backward(_bn_backward_wrong("no mean term"))
    assert "hint 2 of 2" in second.message and "batch mean mu" in second.message
    fresh("batchnorm_backward")


# ============================================================ 4. gradient clipping
def clip_concat(grads, max_norm):
    """Correct, through one concatenated vector and np.linalg.norm."""
    flat = np.concatenate([g.ravel() for g in grads.values()])
    total = np.linalg.norm(flat)
    factor = max_norm / total if total > max_norm else 1.0
    return {k: g * factor for k, g in grads.items()}, total


def clip_torch(grads, max_norm):
    """Correct, by another library."""
    params = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads.values()]
    for p, g in zip(params, grads.values()):
        p.grad = torch.tensor(g)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return {k: p.grad.numpy() for k, p in zip(grads, params)}, total.item()


def test_clip_checker_accepts_reference_and_alternatives():
    assert_accepts(check.clip_grad_norm, lambda g, m: N.clip_grad_norm(g, m))
    assert_accepts(check.clip_grad_norm, clip_concat)
    assert_accepts(check.clip_grad_norm, clip_torch)


def _clip_wrong(kind):
    def fn(grads, max_norm):
        total = np.sqrt(sum((g ** 2).sum() for g in grads.values()))
        if kind == "per array":
            out = {}
            for k, g in grads.items():
                nk = np.linalg.norm(g)
                out[k] = g * max_norm / nk if nk > max_norm else g
            return out, total
        if kind == "by value":
            return {k: np.clip(g, -max_norm, max_norm) for k, g in grads.items()}, total
        if kind == "always rescale":
            return {k: g * max_norm / total for k, g in grads.items()}, total
        if kind == "sum of norms":
            total = sum(np.linalg.norm(g) for g in grads.values())
        if kind == "no sqrt":
            total = sum((g ** 2).sum() for g in grads.values())
        factor = min(1.0, max_norm / total)
        if kind == "in place":
            for g in grads.values():
                g *= factor
            return grads, total
        if kind == "norm after":
            return {k: g * factor for k, g in grads.items()}, total * factor
        return {k: g * factor for k, g in grads.items()}, total
    return fn


@pytest.mark.parametrize("kind, pattern", [
    ("per array", r"each array was clipped on its own"),
    ("by value", r"clipping by value"),
    ("always rescale", r"small gradients were scaled up"),
    ("sum of norms", r"total_norm is too large"),
    ("no sqrt", r"square root is missing"),
    ("norm after", r"norm before clipping"),
    ("in place", r"changed the input gradients in place"),
])
def test_clip_checker_rejects_wrong_answers_with_their_hint(kind, pattern):
    assert_rejects(check.clip_grad_norm, _clip_wrong(kind), pattern)


def test_clip_checker_structure():
    assert_rejects(check.clip_grad_norm, lambda g, m: g, r"return a tuple \(clipped, total_norm\)")
    assert_rejects(check.clip_grad_norm, lambda g, m: (list(g.values()), 1.0), r"clipped must be a dict")


def test_clip_checker_tries_a_zero_gradient():
    def python_float_factor(grads, max_norm):       # max_norm / total without the + 1e-6: 0 / 0 at a zero gradient
        total = float(np.sqrt(sum(float((g ** 2).sum()) for g in grads.values())))
        factor = min(1.0, max_norm / total)
        return {k: g * factor for k, g in grads.items()}, total
    assert_rejects(check.clip_grad_norm, python_float_factor, r"ZeroDivisionError")


@pytest.mark.parametrize("name", ["ce_backward_steps", "batchnorm_forward", "batchnorm_backward", "clip_grad_norm"])
def test_every_checker_handles_non_functions_stubs_and_crashes(name):
    checker = getattr(check, name)
    fresh(name)
    r = checker(42)
    assert r.status == "fail" and "int 42" in r.message

    def stub(*args):
        raise NotImplementedError()

    def crash(*args):
        return 1 / 0
    assert checker(stub).status == "todo"
    r = checker(crash)
    assert r.status == "fail" and "ZeroDivisionError" in r.message and "return 1 / 0" in r.message
    fresh(name)


def test_checking_the_reference_handed_out_says_so(capsys):
    def stub(dout, cache):
        raise NotImplementedError()
    fresh("batchnorm_backward")
    ref = check.batchnorm_backward(stub).or_reference()
    assert ref is N.batchnorm_backward_compact
    assert check.batchnorm_backward(ref).status == "reference"


def test_ce_reference_backward_against_central_differences():
    rng = np.random.default_rng(9)
    Z, y = rng.normal(size=(5, 3)) * np.array([[1.0], [10.0], [0.1], [3.0], [1.0]]), np.array([2, 0, 1, 1, 0])
    g = D.ce_backward_reference(D.ce_forward_steps(Z, y)[1], y)
    from nblib import gradcheck
    num = gradcheck.numerical_gradient(lambda v: D.ce_forward_steps(v, y)[0], Z)
    np.testing.assert_allclose(g["dlogits"], num, rtol=1e-6, atol=1e-9)
