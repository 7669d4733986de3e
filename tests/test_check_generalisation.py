"""Checkers of notebook 08 (generalisation): each rejects plausible wrong answers with the right
hint and accepts correct answers written differently."""

import numpy as np
import pytest

from nblib import check, regularize as R
from nblib.check import _core
from nblib.train import train_early_stopping


@pytest.fixture(autouse=True)
def _fresh_hints():
    _core._STREAK.clear()          # every test sees the first hint step
    yield
    _core._STREAK.clear()


def _stub(*args):
    raise NotImplementedError()


# ------------------------------------------------------------------ l2_penalty
def _l2(decay_b=False, vscale=0.5, gscale=1.0, inplace=False):
    def f(params, lam):
        value, grads = 0.0, {}
        for k, p in params.items():
            if k.startswith("W") or decay_b:
                value += vscale * lam * np.sum(p ** 2)
                if inplace:
                    p *= lam
                    grads[k] = p
                else:
                    grads[k] = gscale * lam * p
            else:
                grads[k] = np.zeros_like(p)
        return value, grads
    return f


def test_l2_penalty_accepts_correct_answers():
    assert check.l2_penalty(R.l2_penalty).passed

    def loops(params, lam):                      # written with loops and np.linalg.norm
        value = sum(lam / 2 * np.linalg.norm(W) ** 2 for k, W in params.items() if k[0] == "W")
        grads = {k: (lam * W if k[0] == "W" else 0 * W) for k, W in params.items()}
        return value, grads

    assert check.l2_penalty(loops).passed
    assert check.l2_penalty(_l2()).passed


@pytest.mark.parametrize("wrong, words", [
    (_l2(decay_b=True), "penalised the biases"),
    (_l2(vscale=1.0), "twice the expected one: the penalty is (λ/2)"),
    (_l2(gscale=2.0), "gradient is twice"),
    (_l2(gscale=0.5), "gradient is half"),
    (lambda P, lam: (lam * sum(np.abs(W).sum() for k, W in P.items() if k[0] == "W"),
                     {k: (lam * np.sign(W) if k[0] == "W" else 0 * W) for k, W in P.items()}), "L1 penalty"),
    (lambda P, lam: (_l2(decay_b=True)(P, lam)[0], R.l2_penalty(P, lam)[1]), "value includes the biases"),
    (lambda P, lam: (R.l2_penalty(P, lam)[0], {k: lam * W for k, W in P.items()}), "gradient decays the biases"),
    (_l2(inplace=True), "changed the parameters in place"),
    (lambda P, lam: (R.l2_penalty(P, lam)[0], {k: lam * W for k, W in P.items() if k[0] == "W"}), "same keys"),
    (lambda P, lam: R.l2_penalty(P, lam)[0], "return a pair"),
    (lambda P, lam: (np.mean([np.mean(W ** 2) for k, W in P.items() if k[0] == "W"]) * lam / 2,
                     R.l2_penalty(P, lam)[1]), "penalty value is"),
])
def test_l2_penalty_rejects_wrong_answers(wrong, words):
    r = check.l2_penalty(wrong)
    assert not r.passed and words in r.message, r.message


def test_l2_penalty_hints_come_in_steps():
    first = check.l2_penalty(_l2(decay_b=True))
    second = check.l2_penalty(_l2(decay_b=True))
    assert "penalised the biases" in first.message and "np.zeros_like" not in first.message
    assert "(hint 2 of 2)" in second.message and "np.zeros_like" in second.message
    assert check.l2_penalty(_stub).status == "todo"
    assert "expected a function" in check.l2_penalty(3.0).message


# ------------------------------------------------------------------ dropout
def _fwd(keep_is_p=False, scale="q", eval_scale=False, eval_drop=False, per_feature=False, own_rng=False):
    def forward(x, p, train, rng):
        q = 1 - p
        if not train:
            if eval_drop:
                return x * (np.random.default_rng(0).random(x.shape) >= p) / q, None
            return (x * q if eval_scale else x.copy()), None
        r = np.random.default_rng(0) if own_rng else rng
        shape = x.shape[-1:] if per_feature else x.shape
        mask = (r.random(shape) < p) if keep_is_p else (r.random(shape) >= p)
        mask = np.broadcast_to(mask, x.shape)
        factor = {"q": 1 / q, "none": 1.0, "p": 1 / p if p else 1.0, "times q": q}[scale]
        return x * mask * factor, (mask, factor)
    return forward


def _bwd(dout, cache):
    if cache is None:
        return dout.copy()
    mask, factor = cache
    return dout * mask * factor


def _bwd_new_mask(dout, cache):
    if cache is None:
        return dout.copy()
    mask, factor = cache
    fresh = np.random.default_rng(99).random(dout.shape) >= 1 - np.mean(mask)
    return dout * fresh * factor


def _bwd_no_scale(dout, cache):
    return dout.copy() if cache is None else dout * cache[0]


def test_dropout_accepts_correct_answers():
    assert check.dropout(R.dropout_forward, R.dropout_backward).passed
    assert check.dropout(_fwd(), _bwd).passed

    def fwd_binomial(x, p, train, rng):          # another way to draw the mask, cache = the multiplier
        if not train:
            return x.copy(), np.ones_like(x)
        m = rng.binomial(1, 1 - p, size=x.shape) / (1 - p)
        return x * m, m

    assert check.dropout(fwd_binomial, lambda dout, m: dout * m).passed


@pytest.mark.parametrize("forward, backward, words", [
    (_fwd(scale="none"), _bwd, "not rescaled"),
    (_fwd(scale="p"), _bwd, "divided by p"),
    (_fwd(scale="times q"), _bwd, "multiplied the kept units by 1 - p"),
    (_fwd(keep_is_p=True), _bwd, "probability of DROPPING"),
    (_fwd(), _bwd_new_mask, "new mask in backward"),
    (_fwd(), _bwd_no_scale, "forgets the 1 / (1 - p) scale"),
    (_fwd(), lambda dout, cache: dout.copy(), "dout unchanged"),
    (_fwd(eval_scale=True), _bwd, "non-inverted"),
    (_fwd(eval_drop=True), _bwd, "still dropped in evaluation mode"),
    (_fwd(per_feature=True), _bwd, "same mask"),
    (_fwd(own_rng=True), _bwd, "same rng object drew the same mask"),
    (lambda x, p, train, rng: (x.copy(), None), _bwd, "nothing was dropped"),
])
def test_dropout_rejects_wrong_answers(forward, backward, words):
    r = check.dropout(forward, backward)
    assert not r.passed and words in r.message, r.message


def test_dropout_odd_returns_are_failures_not_crashes():
    def none_at_p0(x, p, train, rng):
        return None if p == 0 else _fwd()(x, p, train, rng)

    def eval_none(x, p, train, rng):
        return (None, None) if not train else _fwd()(x, p, train, rng)

    def backward_dict(dout, cache):
        return {"dx": dout} if cache is None else _bwd(dout, cache)

    for fwd, bwd in [(none_at_p0, _bwd), (eval_none, _bwd), (_fwd(), backward_dict),
                     (lambda x, p, train, rng: "out", _bwd)]:
        r = check.dropout(fwd, bwd)
        assert r.status == "fail", r


def test_dropout_stub_and_reference():
    assert check.dropout(_stub, _stub).status == "todo"
    assert "backward" in check.dropout(_fwd(), None).message
    handed = check.dropout(_stub, _stub).or_reference()
    assert handed == (R.dropout_forward, R.dropout_backward)
    assert check.dropout(*handed).status == "reference"


# ------------------------------------------------------------------ early_stopping_loop
def _loop(le=False, off=0, restore="best", one_based=False, no_reset=False, no_patience=False):
    def loop(train_epoch, evaluate, params, max_epochs, patience):
        best_epoch, best_loss, best, waited, vals = 0, np.inf, None, 0, []
        for epoch in range(max_epochs):
            train_epoch(epoch)
            loss = evaluate()
            vals.append(loss)
            if loss < best_loss or (le and loss == best_loss):
                best_epoch, best_loss = epoch, loss
                if not no_reset:
                    waited = 0
                best = dict(params) if restore == "shallow" else {k: v.copy() for k, v in params.items()}
            else:
                waited += 1
                if not no_patience and patience is not None and waited >= patience + off:
                    break
        if restore in ("best", "shallow"):
            for k in params:
                params[k][...] = best[k]
        elif restore == "rebind":
            params = best  # noqa: F841  (the caller's dict is unchanged)
        return best_epoch + (1 if one_based else 0), vals
    return loop


def test_early_stopping_loop_accepts_correct_answers():
    assert check.early_stopping_loop(train_early_stopping).passed
    assert check.early_stopping_loop(_loop()).passed

    def while_loop(train_epoch, evaluate, params, max_epochs, patience):   # a while loop, dict entries replaced
        epoch, vals, best = 0, [], (None, float("inf"), None)
        while epoch < max_epochs:
            train_epoch(epoch)
            vals.append(evaluate())
            if vals[-1] < best[1]:
                best = (epoch, vals[-1], {k: np.array(v) for k, v in params.items()})
            elif patience and epoch - best[0] >= patience:
                break
            epoch += 1
        params.update(best[2])
        return best[0], vals

    assert check.early_stopping_loop(while_loop).passed


@pytest.mark.parametrize("wrong, words", [
    (_loop(restore="none"), "last epoch's values"),
    (_loop(restore="shallow"), "last epoch's values"),
    (_loop(restore="rebind"), "last epoch's values"),
    (_loop(off=1), "one epoch late"),
    (_loop(off=-1), "one epoch early"),
    (_loop(le=True), "equal validation loss is not an improvement"),
    (_loop(one_based=True), "one too high"),
    (_loop(no_reset=True), "in a row"),
    (_loop(no_patience=True), "never stops early"),
])
def test_early_stopping_loop_rejects_wrong_answers(wrong, words):
    r = check.early_stopping_loop(wrong)
    assert not r.passed and words in r.message, r.message


def test_early_stopping_loop_hints_in_steps_and_stub():
    first = check.early_stopping_loop(_loop(restore="shallow"))
    second = check.early_stopping_loop(_loop(restore="shallow"))
    third = check.early_stopping_loop(_loop(restore="shallow"))
    assert "last epoch's values" in first.message and "copy" not in first.message
    assert "really a copy" in second.message and "v.copy()" in third.message
    assert check.early_stopping_loop(_stub).status == "todo"

    def no_return(train_epoch, evaluate, params, max_epochs, patience):
        for e in range(max_epochs):
            train_epoch(e)
            evaluate()

    r = check.early_stopping_loop(no_return)
    assert not r.passed
