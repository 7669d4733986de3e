"""Checkers of notebooks 04 and 05: accept right answers (reference and an alternative),
name typical mistakes (the first hint step, and the further steps), and say "not
implemented yet" to a stub. Notebook 04's checkers are called unwrapped (``CB.<name>``) so
that one test's hint streak does not change the next test's message."""


import numpy as np
import pytest

from nblib import check, layers as L
from nblib.check import backprop as CB
from nblib.gradcheck import numerical_gradient, rel_error


def stub(*args):
    raise NotImplementedError()


def _assert_todo(r):
    assert r.status == "todo" and "not implemented yet" in r.message, r.message


def _assert_fails_with(r, hint, later=None):
    assert r.status == "fail", f"a wrong answer passed: {r!r}"
    assert hint in r.message, r.message
    if later is not None:
        assert any(later in h for h in r.hints), (r.message, r.hints)


# ================================================================== notebook 04
# ---- sigmoid_backward
def alt_sigmoid_backward(dout, s):
    return dout * (s - s * s)


@pytest.mark.parametrize("fn", [lambda d, s: L.sigmoid_backward(d, s), alt_sigmoid_backward])
def test_sigmoid_backward_accepts(fn):
    assert CB.sigmoid_backward(fn).passed


@pytest.mark.parametrize("wrong, hint, later", [
    (lambda d, s: s * (1 - s), "local derivative σ(x)(1-σ(x)) alone", "upstream gradient dout"),
    (lambda d, s: d * (1 / (1 + np.exp(-s))) * (1 - 1 / (1 + np.exp(-s))), "not x", "without applying σ again"),
    (lambda d, s: d * (1 - s ** 2), "another activation", "s(1 - s)"),
    (lambda d, s: -d * s * (1 - s), "sign error", "positive everywhere"),
    (lambda d, s: d * s, "one factor of the local derivative is missing", "both s and (1 - s)"),
    (lambda d, s: d * s * (1 - s) * 2, "differs from the expected one", None),
])
def test_sigmoid_backward_names_mistakes(wrong, hint, later):
    _assert_fails_with(CB.sigmoid_backward(wrong), hint, later)


def test_sigmoid_backward_stub():
    _assert_todo(CB.sigmoid_backward(stub))


# ---- affine_backward
def alt_affine_backward(dout, cache):
    x, W, b = cache
    return np.einsum("nh,dh->nd", dout, W), np.einsum("nd,nh->dh", x, dout), np.ones(dout.shape[0]) @ dout


@pytest.mark.parametrize("fn", [L.affine_backward, alt_affine_backward])
def test_affine_backward_accepts(fn):
    r = CB.affine_backward(fn)
    assert r.passed, r.message


def _aff(dx=None, dW=None, db=None):
    def f(dout, cache):
        x, W, b = cache
        return ((dout @ W.T) if dx is None else dx(dout, x, W),
                (x.T @ dout) if dW is None else dW(dout, x, W),
                dout.sum(0) if db is None else db(dout, x, W))
    return f


@pytest.mark.parametrize("wrong, hint, later", [
    (_aff(db=lambda d, x, W: d.mean(0)), "*sum* of dout over the batch", "already inside dout"),
    (_aff(dW=lambda d, x, W: d.T @ x), "W transposed", "x.T @ dout"),
    (_aff(db=lambda d, x, W: d), "summed over the batch", "dout.sum(axis=0)"),
    (_aff(dx=lambda d, x, W: d @ W), "raised ValueError", None),
    (_aff(dW=lambda d, x, W: 2 * x.T @ d), "dW is wrong", "shape written next to each factor"),
    (_aff(dx=lambda d, x, W: d @ W.T / len(d), dW=lambda d, x, W: x.T @ d / len(d),
          db=lambda d, x, W: d.sum(0) / len(d)), "extra 1/n", "adds none"),
    (_aff(dW=lambda d, x, W: np.ones_like(x).T @ d), "must use the layer's input", None),
    (lambda d, c: L.affine_backward(d, c)[:2], "return a tuple (dx, dW, db)", None),
])
def test_affine_backward_names_mistakes(wrong, hint, later):
    _assert_fails_with(CB.affine_backward(wrong), hint, later)


def test_affine_backward_in_place_and_stub():
    def inplace(dout, cache):
        dout *= 1.0
        dout[0, 0] += 1.0
        return L.affine_backward(dout, cache)
    r = CB.affine_backward(inplace)
    assert r.status == "fail" and "in place" in r.message
    _assert_todo(CB.affine_backward(stub))


def test_all_outputs_wrong_is_not_called_partly_right():
    r = CB.affine_backward(lambda d, c: tuple(3 * g for g in L.affine_backward(d, c)))
    assert r.status == "fail" and "dx, dW, db are wrong" in r.message, r.message
    assert "the other outputs are right" not in r.message


# ---- layer_gradcheck
def alt_layer_gradcheck(forward, backward, inputs, dout):
    """Written with nblib.gradcheck, as the notebook allows."""
    from nblib import gradcheck
    _, cache = forward(*inputs)
    errors = []
    for k, (a, x) in enumerate(zip(backward(dout, cache), inputs)):
        f = lambda v: np.sum(forward(*inputs[:k], v, *inputs[k + 1:])[0] * dout)
        errors.append(gradcheck.rel_error(a, gradcheck.numerical_gradient(f, x, eps=1e-5)))
    return errors


def _gradcheck_variant(*, use_dout=True, kind="rel", guard=True, reduce=np.max, order=1, first_only=False,
                       signed=False, one_sided=False, eps=1e-6):
    def fn(forward, backward, inputs, dout):
        _, cache = forward(*inputs)
        analytic = backward(dout, cache)
        out = []
        for k, x in enumerate(inputs):
            num = np.zeros_like(x)
            for i in np.ndindex(x.shape):
                xp, xm = [a.copy() for a in inputs], [a.copy() for a in inputs]
                xp[k][i] += eps
                xm[k][i] -= 0.0 if one_sided else eps
                w = dout if use_dout else np.ones_like(dout)
                num[i] = (np.sum(forward(*xp)[0] * w) - np.sum(forward(*xm)[0] * w)) / ((1 if one_sided else 2) * eps)
            a = np.asarray(analytic[k])
            diff = (a - num) if signed else np.abs(a - num)
            if kind == "abs":
                out.append(float(np.max(diff)))
            else:
                den = np.maximum(1e-8, np.abs(a) + np.abs(num)) if guard else np.abs(a) + np.abs(num)
                with np.errstate(all="ignore"):
                    out.append(float(reduce(diff / den)))
            if first_only:
                break
        return out[::order]
    return fn


@pytest.mark.parametrize("fn", [CB.reference_layer_gradcheck, alt_layer_gradcheck, _gradcheck_variant(),
                                _gradcheck_variant(eps=1e-7), _gradcheck_variant(eps=1e-4), _gradcheck_variant(eps=1e-3)])
def test_layer_gradcheck_accepts(fn):
    r = CB.layer_gradcheck(fn)
    assert r.passed, r.message


@pytest.mark.parametrize("wrong, hint, later", [
    (_gradcheck_variant(use_dout=False), "does not use dout", "sum(out * dout)"),
    (_gradcheck_variant(kind="abs"), "but the relative error of this bug is about", "absolute error grows"),
    (_gradcheck_variant(reduce=np.mean), "smaller than the bug's relative error", "not the mean"),
    (_gradcheck_variant(guard=False), "NaN or inf", "max(1e-8"),
    (_gradcheck_variant(order=-1), "another order than the inputs", "error k belongs to inputs[k]"),
    (_gradcheck_variant(first_only=True), "returned 1 number for a layer with 3 inputs", "one relative error per input"),
    (_gradcheck_variant(signed=True), "negative relative error", "absolute value"),
    (_gradcheck_variant(one_sided=True), "is the difference one-sided?", "order eps²"),
    (lambda f, b, i, d: 0.0, "return a list of", None),
])
def test_layer_gradcheck_names_mistakes(wrong, hint, later):
    _assert_fails_with(CB.layer_gradcheck(wrong), hint, later)


def test_layer_gradcheck_in_place_and_stub():
    def inplace(forward, backward, inputs, dout):
        x = inputs[0]
        x += 0.0
        x[0] += 1e-6
        return CB.reference_layer_gradcheck(forward, backward, inputs, dout)
    r = CB.layer_gradcheck(inplace)
    assert r.status == "fail" and "in place" in r.message, r.message
    _assert_todo(CB.layer_gradcheck(stub))


# ---- mlp_backprop (the L-layer loop)
def alt_mlp(X, y, params, activation):
    """A correct alternative: plain numpy, no nblib, the per-sample softmax written out."""
    f = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0), "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
         "elu": lambda z: np.where(z > 0, z, np.exp(np.minimum(z, 0)) - 1)}[activation]
    df = {"tanh": lambda z, h: 1 - h * h, "relu": lambda z, h: (z > 0) * 1.0, "sigmoid": lambda z, h: h * (1 - h),
          "elu": lambda z, h: np.where(z > 0, 1.0, h + 1)}[activation]
    hs, zs = [X], []
    for l, (W, b) in enumerate(params):
        zs.append(hs[-1] @ W + b)
        hs.append(f(zs[-1]) if l < len(params) - 1 else zs[-1])
    n = len(y)
    grads, losses = [], []
    d = np.zeros_like(hs[-1])
    for i in range(n):
        row = hs[-1][i] - hs[-1][i].max()
        log_sum = np.log(np.exp(row).sum())
        losses.append(log_sum - row[y[i]])              # -log softmax, without log(0)
        p = np.exp(row - log_sum)
        p[y[i]] -= 1
        d[i] = p / n
    for l in reversed(range(len(params))):
        grads.insert(0, (hs[l].T @ d, np.sum(d, axis=0)))
        if l:
            d = (d @ params[l][0].T) * df(zs[l - 1], hs[l])
    return float(np.mean(losses)), grads


def _learner_mlp(*, reverse=False, skip_layer=None, deriv_at_h=False, no_n=False, db="sum", square_dh=False,
                 square_dw=False, as_dict=False, flat=False, loss_sum=False, act_last=False):
    """A learner's loop written with the nblib layer pairs, with one plausible mistake."""
    def fn(X, y, params, activation):
        act_f, act_b = L.ACTIVATIONS[activation]
        h, caches = X, []
        for l, (W, b) in enumerate(params):
            h, ac = L.affine_forward(h, W, b)
            z, cc = h, None
            if l < len(params) - 1 or act_last:
                h, cc = act_f(h)
            caches.append((ac, cc, z, h))
        loss, d = L.softmax_cross_entropy(h, y)
        if no_n:
            d = d * len(y)
        if loss_sum:
            loss = loss * len(y)
        grads = []
        for l in reversed(range(len(params))):
            ac, cc, z, hout = caches[l]
            if cc is not None:
                d = act_b(d, cc)
            x, W, b = ac
            dW = d.T @ x if square_dw else x.T @ d
            dbv = {"sum": d.sum(0), "mean": d.mean(0), "rows": d}[db]
            d = d @ W if square_dh else d @ W.T
            grads.append((dW, dbv))
            if l and l - 1 != skip_layer and False:
                pass
            if l and l - 1 == skip_layer:
                caches[l - 1] = (caches[l - 1][0], None, None, None)    # skip that layer's derivative
            if l and deriv_at_h and caches[l - 1][1] is not None:
                _, _, z_prev, h_prev = caches[l - 1]
                d = d * act_b(np.ones_like(h_prev), act_f(h_prev)[1])   # f' evaluated at h = f(z)
                caches[l - 1] = (caches[l - 1][0], None, None, None)
        grads = grads if reverse else grads[::-1]
        if as_dict:
            return loss, {f"W{i + 1}": g[0] for i, g in enumerate(grads)}
        if flat:
            return loss, [a for g in grads for a in g]
        return loss, grads
    return fn


@pytest.mark.parametrize("fn", [L.mlp_loss_and_grads, alt_mlp, _learner_mlp()])
def test_mlp_backprop_accepts(fn):
    r = CB.mlp_backprop(fn)
    assert r.passed, r.message


@pytest.mark.parametrize("wrong, hint, later", [
    (_learner_mlp(reverse=True), "reversed order", "grads[::-1]"),
    (_learner_mlp(skip_layer=0), "activation derivative is missing at one layer", "its own f'(z)"),
    (_learner_mlp(deriv_at_h=True), "post-activation h = f(z), not at the pre-activation z", "own activation cache"),
    (_learner_mlp(no_n=True), "the 1/n of the mean loss is missing", "/ n"),
    (_learner_mlp(square_dh=True), "not square, so a missing or extra transpose", "delta @ W.T"),
    (_learner_mlp(square_dw=True), "transposed", "h_prev.T @ delta"),
    (_learner_mlp(db="rows"), "not reduced over the batch", "delta.sum(axis=0)"),
    (_learner_mlp(db="mean"), "db is the mean of delta", "already in dlogits"),
    (_learner_mlp(as_dict=True), "grads is a dict", None),
    (_learner_mlp(flat=True), "flat list of 6 arrays; pair them", None),
    (_learner_mlp(loss_sum=True), "loss is the sum over the batch", "divide"),
    (_learner_mlp(act_last=True), "the last layer has an activation", "except the last"),
])
def test_mlp_backprop_names_mistakes(wrong, hint, later):
    _assert_fails_with(CB.mlp_backprop(wrong), hint, later)


def test_mlp_backprop_derivative_at_the_wrong_variable_and_stub():
    def tanh_from_z(X, y, params, activation):          # 1 - z² with z the affine output (the planted bug)
        hs, zs = [X], []
        for l, (W, b) in enumerate(params):
            zs.append(hs[-1] @ W + b)
            hs.append(np.tanh(zs[-1]) if l < len(params) - 1 else zs[-1])
        loss, d = L.softmax_cross_entropy(hs[-1], y)
        grads = []
        for l in reversed(range(len(params))):
            grads.insert(0, (hs[l].T @ d, d.sum(0)))
            if l:
                d = (d @ params[l][0].T) * (1 - zs[l - 1] ** 2)
        return loss, grads
    _assert_fails_with(CB.mlp_backprop(tanh_from_z), "given the pre-activation z", "not the affine output")
    _assert_todo(CB.mlp_backprop(stub))
    r = CB.mlp_backprop(lambda X, y, p, a: None)
    assert r.status == "fail" and "no `return`" in r.message


def naive_ce_mlp(X, y, params, activation):
    """The loop with its own softmax, without subtracting the max: fine on small logits."""
    hs = [X]
    for l, (W, b) in enumerate(params):
        z = hs[-1] @ W + b
        hs.append(L.ACTIVATIONS[activation][0](z)[0] if l < len(params) - 1 else z)
    p = np.exp(hs[-1])
    p /= p.sum(axis=1, keepdims=True)
    n = len(y)
    loss = -np.log(p[np.arange(n), y]).mean()
    d = p.copy()
    d[np.arange(n), y] -= 1
    d /= n
    grads = []
    for l in reversed(range(len(params))):
        grads.insert(0, (hs[l].T @ d, d.sum(0)))
        if l:
            _, cache = L.ACTIVATIONS[activation][0](hs[l - 1] @ params[l - 1][0] + params[l - 1][1])
            d = L.ACTIVATIONS[activation][1](d @ params[l][0].T, cache)
    return loss, grads


def test_mlp_backprop_rejects_an_unstable_softmax():
    _assert_fails_with(CB.mlp_backprop(naive_ce_mlp), "inf or NaN", "subtract each row's max")


def test_mlp_reference_matches_finite_differences_and_torch():
    torch = pytest.importorskip("torch")
    for X, y, params, act in CB._mlp_cases():
        loss, grads = L.mlp_loss_and_grads(X, y, params, act)
        wl, wg = CB._mlp_variant(X, y, params, act)                    # the checker's own loop agrees
        assert loss == pytest.approx(wl, rel=1e-12)
        for (a, b), (c, d) in zip(grads, wg):
            np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-14)
            np.testing.assert_allclose(b, d, rtol=1e-10, atol=1e-14)
        for l, (W, b) in enumerate(params):
            for j, p in enumerate((W, b)):
                def f(v, l=l, j=j):
                    q = [list(pp) for pp in params]
                    q[l][j] = v
                    return L.mlp_loss_and_grads(X, y, [tuple(pp) for pp in q], act)[0]
                # the verdict of gradcheck.compare: |a - n| <= 1e-8 + 1e-6 |n| (central differences, float64)
                np.testing.assert_allclose(grads[l][j], numerical_gradient(f, p), rtol=1e-6, atol=1e-8)
        tp = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)) for W, b in params]
        fns = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "elu": torch.nn.functional.elu}
        h = torch.tensor(X)
        for l, (W, b) in enumerate(tp):
            h = h @ W + b
            h = fns[act](h) if l < len(tp) - 1 else h
        lt = torch.nn.functional.cross_entropy(h, torch.tensor(y))
        lt.backward()
        assert lt.item() == pytest.approx(loss, rel=1e-12)
        for (gW, gb), (W, b) in zip(grads, tp):
            np.testing.assert_allclose(gW, W.grad.numpy(), rtol=1e-9, atol=1e-14)
            np.testing.assert_allclose(gb, b.grad.numpy(), rtol=1e-9, atol=1e-14)


def test_mlp_cases_are_not_square_and_do_not_divide():
    for X, y, params, act in CB._mlp_cases()[:-1]:          # the last: the first with large logits
        for W, b in params:
            a, c = W.shape
            assert a != c and a % c and c % a, W.shape
        assert set(y) == set(range(params[-1][0].shape[1]))


# ---- softmax_ce_backward
def alt_softmax_ce(z, y):
    n = z.shape[0]
    m = z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    loss = np.mean(lse - z[np.arange(n), y])
    p = np.exp(z - lse[:, None])
    p[np.arange(n), y] -= 1
    return loss, p / n


def naive_softmax_ce(z, y):
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    n = len(y)
    g = p.copy()
    g[np.arange(n), y] -= 1
    return -np.log(p[np.arange(n), y]).mean(), g / n


def global_max_softmax_ce(z, y):
    e = np.exp(z - z.max())                 # the batch's max, not each row's
    p = e / e.sum(axis=1, keepdims=True)
    n = len(y)
    g = p.copy()
    g[np.arange(n), y] -= 1
    return -np.log(p[np.arange(n), y]).mean(), g / n


def log_of_softmax_ce(z, y):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    n = len(y)
    g = p.copy()
    g[np.arange(n), y] -= 1
    return -np.log(p[np.arange(n), y]).mean(), g / n


def test_global_max_goes_wrong_on_the_mixed_batch():
    z, y = np.array([[1e4, 0.0, -1e4], [0.0, 1.0, 2.0]]), np.array([0, 2])
    with np.errstate(all="ignore"):
        assert not np.isfinite(global_max_softmax_ce(z, y)[0])
    assert np.isfinite(L.softmax_cross_entropy(z, y)[0])


@pytest.mark.parametrize("fn", [L.softmax_cross_entropy, alt_softmax_ce])
def test_softmax_ce_accepts(fn):
    r = CB.softmax_ce_backward(fn)
    assert r.passed, r.message


@pytest.mark.parametrize("wrong, hint, later", [
    (lambda z, y: (L.softmax_cross_entropy(z, y)[0], L.softmax_cross_entropy(z, y)[1] * len(y)), "1/n is missing",
     "(softmax - one_hot) / n"),
    (lambda z, y: (L.softmax_cross_entropy(z, y)[0] * len(y), L.softmax_cross_entropy(z, y)[1]), "not the sum", None),
    (lambda z, y: (L.softmax_cross_entropy(z, y)[0] * len(y), L.softmax_cross_entropy(z, y)[1] * len(y)),
     "sum over the batch for both", "divide both by n"),
    (lambda z, y: (L.softmax_cross_entropy(z, y)[0], -L.softmax_cross_entropy(z, y)[1]), "sign error",
     "prediction minus target"),
    (naive_softmax_ce, "overflows exp", "per row"),
    (global_max_softmax_ce, "the max you subtract is the batch's, not each row's", "each row's own max"),
    (log_of_softmax_ce, "log(0) = -inf", "log-softmax directly"),
])
def test_softmax_ce_names_mistakes(wrong, hint, later):
    _assert_fails_with(CB.softmax_ce_backward(wrong), hint, later)


def test_softmax_ce_stub():
    _assert_todo(CB.softmax_ce_backward(stub))


# ---- planted bug
def _bug_setup(seed=0):
    rng = np.random.default_rng(seed)
    params = {"W1": rng.normal(size=(2, 4)), "b1": rng.normal(size=4),
              "W2": rng.normal(size=(4, 3)), "b2": rng.normal(size=3)}
    return rng.normal(size=(5, 2)), rng.integers(0, 3, size=5), params


def test_reference_two_layer_backward_is_right_and_the_bug_is_detectable():
    X, y, params = _bug_setup()
    good = check.two_layer_backward(X, y, params)
    bad = check.buggy_two_layer_backward(X, y, params)
    for k in params:
        def f(v, k=k):
            return check.two_layer_loss(X, y, dict(params, **{k: v}))
        num = numerical_gradient(f, params[k])
        # two-point differences (eps=1e-6), as in the notebook: 1e-6 is "right", 1e-2 "a bug"
        assert rel_error(good[k], num) < 1e-6, k
        if k in ("W1", "b1"):
            assert rel_error(bad[k], num) > 1e-2, k
        else:
            assert rel_error(bad[k], num) < 1e-6, k


def alt_fixed(X, y, p):
    h = np.tanh(X @ p["W1"] + p["b1"])
    _, ds = L.softmax_cross_entropy(h @ p["W2"] + p["b2"], y)
    dz1 = (ds @ p["W2"].T) / np.cosh(X @ p["W1"] + p["b1"]) ** 2
    return {"W2": h.T @ ds, "b2": ds.sum(0), "W1": X.T @ dz1, "b1": dz1.sum(0)}


@pytest.mark.parametrize("fn", [check.two_layer_backward, alt_fixed])
def test_planted_bug_accepts(fn):
    assert CB.planted_bug(fn).passed


def _fixed_variant(dz):
    def fn(X, y, p):
        z1 = X @ p["W1"] + p["b1"]
        h = np.tanh(z1)
        _, ds = L.softmax_cross_entropy(h @ p["W2"] + p["b2"], y)
        dh = ds @ p["W2"].T
        dz1 = dz(dh, z1, h)
        return {"W1": X.T @ dz1, "b1": dz1.sum(0), "W2": h.T @ ds, "b2": ds.sum(0)}
    return fn


@pytest.mark.parametrize("wrong, hint, later", [
    (check.buggy_two_layer_backward, "still the buggy gradients", "which variable"),
    (_fixed_variant(lambda dh, z1, h: dh * (z1 > 0)), "derivative of ReLU", "1 - h²"),
    (_fixed_variant(lambda dh, z1, h: dh * (1 + h ** 2)), "sign error", "with a minus"),
    (_fixed_variant(lambda dh, z1, h: dh), "gone altogether", "dz1 = dh * (1 - h²)"),
    (_fixed_variant(lambda dh, z1, h: dh * (1 - np.tanh(h) ** 2)), "W1, b1 are wrong", None),
    (lambda X, y, p: {k: v for k, v in check.two_layer_backward(X, y, p).items() if k != "b2"},
     "return a dict with keys", None),
])
def test_planted_bug_names_mistakes(wrong, hint, later):
    _assert_fails_with(CB.planted_bug(wrong), hint, later)


def test_planted_bug_stub():
    _assert_todo(CB.planted_bug(stub))


def test_wrapped_checker_steps_its_hints():
    """Through nblib.check, the same mistake twice shows the next, more specific step."""
    wrong = _learner_mlp(reverse=True)
    first = check.mlp_backprop(wrong)
    second = check.mlp_backprop(wrong)
    assert "reversed order" in first.message and "hint 2 of" in second.message and "last to first" in second.message
    assert check.mlp_backprop(L.mlp_loss_and_grads).passed


def test_affine_backward_names_a_missing_return():
    r = check.affine_backward(lambda dout, cache: None)
    assert r.status == "fail" and "got None: the function has no `return` statement" in r.message
