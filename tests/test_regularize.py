"""nblib.regularize and nblib.sanity (notebook 08): the penalty and dropout against finite differences
and PyTorch (float64), the network with dropout, polynomial fits, and each sanity check firing on a
broken set-up and staying quiet on a good one."""

import numpy as np
import pytest
import torch

from nblib import layers, optim, regularize as R, sanity
from nblib.gradcheck import numerical_gradient


def _params(seed=0):
    r = np.random.default_rng(seed)
    return {"W1": r.normal(size=(4, 3)), "b1": r.normal(size=3), "W2": r.normal(size=(3, 2)), "b2": r.normal(size=2)}


# ------------------------------------------------------------------ L2 penalty
def test_l2_penalty_matches_finite_differences_and_torch():
    P, lam = _params(), 0.37
    value, grads = R.l2_penalty(P, lam)
    for k in P:
        def f(a, k=k):
            return R.l2_penalty({**P, k: a}, lam)[0]
        np.testing.assert_allclose(grads[k], numerical_gradient(f, P[k]), atol=1e-8)
    T = {k: torch.tensor(v, requires_grad=True) for k, v in P.items()}
    pen = lam / 2 * sum((T[k] ** 2).sum() for k in T if k.startswith("W"))
    pen.backward()
    assert value == pytest.approx(pen.item(), rel=1e-12)
    for k in ("W1", "W2"):
        np.testing.assert_allclose(grads[k], T[k].grad.numpy(), rtol=1e-12)
    assert np.all(grads["b1"] == 0) and np.all(grads["b2"] == 0)
    v_all, g_all = R.l2_penalty(P, lam, decay_biases=True)
    assert v_all > value and np.allclose(g_all["b1"], lam * P["b1"])


def test_penalty_in_fit_equals_the_mlps_built_in_weight_decay():
    from nblib.data import blobs
    from nblib.train import fit
    X, y = blobs(n_per_class=30, seed=0)
    a, b = layers.MLP([2, 6, 3], seed=0), layers.MLP([2, 6, 3], seed=0)
    fit(a, optim.SGD(0.1), X, y, X, y, epochs=3, batch_size=16, weight_decay=0.05, progress=False)
    # the same updates written with MLP.loss_and_grads(weight_decay=...) (weights only, as l2_penalty)
    from nblib.train import minibatches
    rng, opt = np.random.default_rng(0), optim.SGD(0.1)
    snaps = []
    for _ in range(3):
        for idx in minibatches(len(y), 16, rng):
            _, g = b.loss_and_grads(X[idx], y[idx], weight_decay=0.05)
            opt.step(b.params, g)
        snaps.append((b.loss_and_grads(X, y)[0], {k: v.copy() for k, v in b.params.items()}))
    best = min(snaps, key=lambda s: s[0])[1]
    for k in a.params:
        np.testing.assert_allclose(a.params[k], best[k], rtol=1e-12)


# ------------------------------------------------------------------ dropout
def test_dropout_matches_torch_on_the_same_mask():
    torch.manual_seed(1)
    x = torch.randn(30, 40, dtype=torch.float64, requires_grad=True)
    out = torch.nn.functional.dropout(x, p=0.4, training=True)
    mask = (out != 0).detach().numpy()
    ours, cache = R.dropout_forward(x.detach().numpy(), 0.4, mask=mask)
    np.testing.assert_allclose(ours, out.detach().numpy(), rtol=1e-15)
    g = np.random.default_rng(0).normal(size=(30, 40))
    out.backward(torch.tensor(g))
    np.testing.assert_allclose(R.dropout_backward(g, cache), x.grad.numpy(), rtol=1e-15)


def test_dropout_statistics_and_modes():
    x = np.ones((400, 500))
    out, (mask, q) = R.dropout_forward(x, 0.3, rng=0)
    assert abs(mask.mean() - 0.7) < 0.01 and q == pytest.approx(0.7)
    assert set(np.unique(out)) == {0.0, 1 / 0.7}
    assert abs(out.mean() - 1.0) < 0.01                      # inverted: the expectation is kept
    same, _ = R.dropout_forward(x, 0.3, rng=0)
    assert np.array_equal(same, out)                          # the mask comes from the seed
    ev, cache = R.dropout_forward(x, 0.3, train=False)
    assert np.array_equal(ev, x) and ev is not x
    assert np.array_equal(R.dropout_backward(x, cache), x)
    with pytest.raises(ValueError, match="probability of dropping"):
        R.dropout_forward(x, 1.0)


def test_dropout_mlp_gradient_with_a_fixed_mask_and_modes():
    net = R.DropoutMLP([5, 7, 6, 3], dropout=0.3, seed=0, dropout_seed=3)
    X, y = np.random.default_rng(1).normal(size=(9, 5)), np.arange(9) % 3

    def frozen(seed):          # the same masks on every call: dropout becomes a fixed linear map
        def forward(h, p, train, rng):
            return R.dropout_forward(h, p, train, np.random.default_rng(seed + h.shape[1]))
        return forward

    net.dropout_fns = (frozen(5), R.dropout_backward)
    _, grads = net.loss_and_grads(X, y)
    for k in ("W1", "b2", "W3"):
        def f(a, k=k):
            saved = net.params[k]
            net.params[k] = a
            try:
                return net.loss_and_grads(X, y)[0]
            finally:
                net.params[k] = saved
        np.testing.assert_allclose(grads[k], numerical_gradient(f, net.params[k]), atol=1e-7)
    plain = layers.MLP([5, 7, 6, 3], seed=0)
    net.eval()
    np.testing.assert_allclose(net.forward(X), plain.forward(X), rtol=1e-15)     # eval mode: no dropout
    net.train()
    assert net.training and "mode=train" in repr(net)


def test_fit_uses_train_mode_for_updates_and_eval_mode_for_measuring():
    from nblib.data import blobs
    from nblib.train import fit
    X, y = blobs(n_per_class=40, seed=0)
    net = R.DropoutMLP([2, 32, 3], dropout=0.5, seed=0)
    modes = []
    fwd = net.dropout_fns[0]

    def spy(h, p, train, rng):
        modes.append(train)
        return fwd(h, p, train, rng)

    net.dropout_fns = (spy, net.dropout_fns[1])
    h = fit(net, optim.Adam(0.01), X, y, X, y, epochs=2, batch_size=40, progress=False)
    assert True in modes and False in modes and not net.training
    assert h.val_loss[h.best_epoch] == pytest.approx(net.loss_and_grads(X, y)[0], rel=1e-12)


# ------------------------------------------------------------------ polynomials
def test_fit_polynomial_is_least_squares_and_the_dropout_penalty_is_the_expected_loss():
    x, y = R.poly_data(20, seed=2)
    w = R.fit_polynomial(x, y, 3)
    np.testing.assert_allclose(w, np.linalg.lstsq(R.poly_features(x, 3), y, rcond=None)[0], rtol=1e-9)
    # the average over many dropout masks of the gradient of the dropout loss vanishes at the closed-form solution
    p, Phi = 0.3, R.poly_features(x, 4)
    wd = R.fit_polynomial(x, y, 4, dropout=p)
    r = np.random.default_rng(0)
    g = np.zeros(5)
    for _ in range(20000):
        M = r.random(Phi.shape) >= p
        A = Phi * M / (1 - p)
        g += A.T @ (A @ wd - y)
    assert np.max(np.abs(g / 20000)) < 0.05 * np.max(np.abs(Phi.T @ y))
    w_ridge = R.fit_polynomial(x, y, 9, lam=1.0)
    assert np.linalg.norm(w_ridge[1:]) < np.linalg.norm(R.fit_polynomial(x, y, 9)[1:])


# ------------------------------------------------------------------ sanity checks
@pytest.fixture(scope="module")
def digits():
    from nblib.digits import load_digits_split
    d = load_digits_split(seed=0)
    return d.X_train[:300], d.y_train[:300]


def test_initial_loss(digits):
    X, y = digits
    good = layers.MLP([64, 32, 10], seed=0)
    assert sanity.initial_loss(good, X, y).ok
    bad = layers.MLP([64, 32, 10], seed=0)
    bad.params["W2"] *= 10
    r = sanity.initial_loss(bad, X, y)
    assert not r.ok and "too large" in r.message and repr(r).startswith("⚠")


def test_overfit_small_batch(digits):
    X, y = digits[0][:20], digits[1][:20]
    net = layers.MLP([64, 32, 10], seed=0)
    assert sanity.overfit_small_batch(net, optim.Adam(0.01), X, y).ok
    assert not sanity.overfit_small_batch(net, optim.SGD(1e-5), X, y).ok            # learning rate far too low
    r = sanity.overfit_small_batch(layers.MLP([64, 32, 10], init="zeros", seed=0), optim.Adam(0.01), X, y)
    assert not r.ok
    before = {k: v.copy() for k, v in net.params.items()}
    sanity.overfit_small_batch(net, optim.Adam(0.01), X, y)
    assert all(np.array_equal(before[k], net.params[k]) for k in before)            # works on a copy


def test_update_ratio(digits):
    X, y = digits
    net = layers.MLP([64, 32, 10], seed=0)
    assert sanity.update_ratio(net, optim.SGD(0.01), X[:50], y[:50]).ok
    big = sanity.update_ratio(net, optim.SGD(10.0), X[:50], y[:50])
    small = sanity.update_ratio(net, optim.SGD(1e-6), X[:50], y[:50])
    assert not big.ok and "lower the learning rate" in big.message
    assert not small.ok and "raise the learning rate" in small.message


def test_layer_statistics(digits):
    X, y = digits
    assert sanity.layer_statistics(layers.MLP([64, 32, 16, 10], seed=0), X, y).ok
    dead = layers.MLP([64, 32, 10], seed=0)
    dead.params["b1"] -= 5.0
    assert "dead" in sanity.layer_statistics(dead, X, y).message
    sat = layers.MLP([64, 32, 10], activation="tanh", seed=0)
    sat.params["W1"] *= 100
    assert "saturated" in sanity.layer_statistics(sat, X, y).message


def test_lr_range_test(digits):
    X, y = digits
    net = layers.MLP([64, 32, 10], seed=0)
    r = sanity.lr_range_test(net, lambda lr: optim.SGD(lr), X, y)
    assert r.ok and 1e-4 < r.values["suggested"] < 1.0
    assert len(r.values["lrs"]) < 100                                                # it stopped at the blow-up
    frozen = layers.MLP([64, 32, 10], init="zeros", seed=0)
    frozen.params["b2"][...] = 0
    broken = sanity.lr_range_test(frozen, lambda lr: optim.SGD(lr), X, y, lr_max=1e-3)
    assert not broken.ok
