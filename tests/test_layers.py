"""nblib.layers against independent references.

* every backward pass against numerical gradients in float64: relative error (nblib.gradcheck.rel_error,
  the largest elementwise |a-b|/(|a|+|b|)) < 1e-8. The numerical gradient is the fourth-order central
  difference (f(x-2h) - 8f(x-h) + 8f(x+h) - f(x+2h)) / 12h, whose O(h^4) truncation error lets h be
  1e-3 so that rounding (~1e-16/h) stays far below 1e-8 even for small gradient entries; the plain
  two-point difference of nblib.gradcheck (eps=1e-6) reaches only ~1e-7 on the smallest entries.
  Inputs are kept away from the kinks of relu-type activations by more than 2h;
* the MLP's gradients against the same numerical gradients (relative error < 1e-7 for the
  whole composed network) and against torch.autograd (float64, rtol 1e-10);
* bad input raises ValueError/TypeError naming the function and the shapes.
"""

import numpy as np
import pytest

from nblib import layers as L
from nblib.gradcheck import numerical_gradient, rel_error  # noqa: F401

torch = pytest.importorskip("torch")

REL = 1e-8
H = 1e-3


def numgrad(f, x, h=H):
    """Fourth-order central-difference gradient of the scalar function f at x (float64)."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        vals = []
        for step in (2, 1, -1, -2):
            flat[i] = old + step * h
            vals.append(float(f(x)))
        flat[i] = old
        gflat[i] = (8 * (vals[1] - vals[2]) - (vals[0] - vals[3])) / (12 * h)  # differences first
    return grad


def test_numgrad_helper_on_a_closed_form():
    x = np.array([0.3, -1.2, 2.0])
    assert rel_error(numgrad(lambda v: np.sum(np.sin(v) * v ** 2), x), np.cos(x) * x ** 2 + 2 * x * np.sin(x)) < 1e-10


def _rng(seed=0):
    return np.random.default_rng(seed)


def _away_from_zero(x, margin=0.05):
    """Push entries out of (-margin, margin) so finite differences never straddle a kink."""
    return np.where(np.abs(x) < margin, np.sign(x + 1e-12) * (margin + np.abs(x)), x)


# ----------------------------------------------------------------------------- affine
def test_affine_forward_matches_matmul():
    rng = _rng(1)
    x, W, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=5)
    out, cache = L.affine_forward(x, W, b)
    expected = np.array([[sum(x[i, k] * W[k, j] for k in range(3)) + b[j] for j in range(5)] for i in range(4)])
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    assert out.shape == (4, 5) and out.dtype == np.float64


def test_affine_backward_numerical():
    rng = _rng(2)
    x, W, b = rng.normal(size=(6, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)
    dout = rng.normal(size=(6, 3))
    _, cache = L.affine_forward(x, W, b)
    dx, dW, db = L.affine_backward(dout, cache)
    f = lambda x_, W_, b_: float(np.sum(L.affine_forward(x_, W_, b_)[0] * dout))
    assert rel_error(dx, numgrad(lambda v: f(v, W, b), x)) < REL
    assert rel_error(dW, numgrad(lambda v: f(x, v, b), W)) < REL
    assert rel_error(db, numgrad(lambda v: f(x, W, v), b)) < REL
    assert dx.shape == x.shape and dW.shape == W.shape and db.shape == b.shape


@pytest.mark.parametrize("name", ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu"])
def test_activation_backward_numerical(name):
    fwd, bwd = L.ACTIVATIONS[name]
    rng = _rng(3)
    x = _away_from_zero(1.5 * rng.normal(size=(5, 4)))  # |x| <~ 4: no derivative below ~1e-3
    dout = rng.normal(size=(5, 4))
    out, cache = fwd(x)
    dx = bwd(dout, cache)
    num = numgrad(lambda v: float(np.sum(fwd(v)[0] * dout)), x)
    assert rel_error(dx, num) < REL, name


@pytest.mark.parametrize("name,tfun", [
    ("sigmoid", "sigmoid"), ("tanh", "tanh"), ("relu", "relu"),
    ("leaky_relu", "leaky_relu"), ("elu", "elu")])
def test_activation_forward_and_grad_vs_torch(name, tfun):
    fwd, bwd = L.ACTIVATIONS[name]
    rng = _rng(4)
    x = _away_from_zero(4 * rng.normal(size=(7, 3)))
    dout = rng.normal(size=(7, 3))
    out, cache = fwd(x)
    xt = torch.tensor(x, requires_grad=True)
    ot = getattr(torch.nn.functional, tfun)(xt)
    ot.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, ot.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(bwd(dout, cache), xt.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_relu_kink_uses_zero_like_torch():
    x = np.array([-1.0, 0.0, 2.0])
    out, cache = L.relu_forward(x)
    np.testing.assert_array_equal(L.relu_backward(np.ones(3), cache), [0.0, 0.0, 1.0])


def test_sigmoid_no_overflow():
    out, cache = L.sigmoid_forward(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(out, [0.0, 0.5, 1.0], atol=1e-300)
    assert np.all(np.isfinite(L.sigmoid_backward(np.ones(3), cache)))


# ----------------------------------------------------------------------------- heads
def test_softmax_cross_entropy_numerical_and_torch():
    rng = _rng(5)
    z, y = rng.normal(size=(6, 4)), np.array([0, 3, 1, 1, 2, 3])
    loss, dz = L.softmax_cross_entropy(z, y)
    num = numgrad(lambda v: L.softmax_cross_entropy(v, y)[0], z)
    assert rel_error(dz, num) < REL
    zt = torch.tensor(z, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(zt, torch.tensor(y))
    lt.backward()
    assert abs(loss - lt.item()) < 1e-12
    np.testing.assert_allclose(dz, zt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_softmax_cross_entropy_extreme_logits_finite():
    loss, dz = L.softmax_cross_entropy(np.array([[1e4, 0.0, -1e4]]), np.array([2]))
    assert np.isfinite(loss) and abs(loss - 2e4) < 1e-6
    np.testing.assert_allclose(dz, [[1.0, 0.0, -1.0]], atol=1e-12)


@pytest.mark.parametrize("shape", [(8,), (8, 1)])
def test_sigmoid_bce_numerical_and_torch(shape):
    rng = _rng(6)
    z = 3 * rng.normal(size=shape)
    t = (rng.random(size=shape) > 0.5).astype(float)
    loss, dz = L.sigmoid_bce(z, t)
    assert dz.shape == shape
    assert rel_error(dz, numgrad(lambda v: L.sigmoid_bce(v, t)[0], z)) < REL
    zt = torch.tensor(z, requires_grad=True)
    lt = torch.nn.functional.binary_cross_entropy_with_logits(zt, torch.tensor(t))
    lt.backward()
    assert abs(loss - lt.item()) < 1e-12
    np.testing.assert_allclose(dz, zt.grad.numpy(), rtol=1e-10, atol=1e-14)


# ----------------------------------------------------------------------------- MLP
def _torch_mlp_grads(net, X, y, weight_decay=0.0):
    act = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
           "leaky_relu": torch.nn.functional.leaky_relu, "elu": torch.nn.functional.elu,
           "linear": lambda v: v}[net.activation]
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in net.params.items()}
    h = torch.tensor(X)
    for i in range(1, net.num_layers + 1):
        h = h @ tp[f"W{i}"] + tp[f"b{i}"]
        if i < net.num_layers:
            h = act(h)
    if net.head == "softmax":
        loss = torch.nn.functional.cross_entropy(h, torch.tensor(y))
    else:
        loss = torch.nn.functional.binary_cross_entropy_with_logits(h[:, 0], torch.tensor(y, dtype=torch.float64))
    loss = loss + 0.5 * weight_decay * sum((tp[f"W{i}"] ** 2).sum() for i in range(1, net.num_layers + 1))
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in tp.items()}


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "leaky_relu", "elu", "linear"])
def test_mlp_grads_vs_numerical_and_torch(activation):
    rng = _rng(7)
    X, y = rng.normal(size=(10, 3)), rng.integers(0, 4, size=10)
    net = L.MLP([3, 6, 5, 4], activation=activation, init="xavier", seed=1)
    for k in net.params:  # non-zero biases so every path is exercised
        if k.startswith("b"):
            net.params[k] += 0.1 * rng.normal(size=net.params[k].shape)
    loss, grads = net.loss_and_grads(X, y, weight_decay=0.1)
    # step small enough that no hidden pre-activation crosses a kink during the check
    pre, h_ = [], X
    for i in range(1, net.num_layers):
        h_ = h_ @ net.params[f"W{i}"] + net.params[f"b{i}"]
        pre.append(np.abs(h_).min())
        h_ = L.ACTIVATIONS[activation][0](h_)[0]
    h = min(H, 0.02 * min(pre))
    assert set(grads) == set(net.params)
    for k, p in net.params.items():
        assert grads[k].shape == p.shape

        def f(v, k=k):
            old = net.params[k]
            net.params[k] = v
            try:
                return net.loss_and_grads(X, y, weight_decay=0.1)[0]
            finally:
                net.params[k] = old
        num = numgrad(f, p, h=h)
        # whole network: 1e-7 (a composition of ~8 layers; its smallest entries are ~1e-4, where the
        # finite difference's own error is ~1e-12 absolute). torch below checks to 1e-10.
        assert rel_error(grads[k], num) < 1e-7, (k, rel_error(grads[k], num))
    t_loss, t_grads = _torch_mlp_grads(net, X, y, weight_decay=0.1)
    assert abs(loss - t_loss) < 1e-12
    for k in grads:
        np.testing.assert_allclose(grads[k], t_grads[k], rtol=1e-10, atol=1e-13, err_msg=k)


def test_mlp_bce_head_vs_torch_and_predict():
    rng = _rng(8)
    X, y = rng.normal(size=(12, 2)), rng.integers(0, 2, size=12)
    net = L.MLP([2, 5, 1], activation="sigmoid", init="xavier", seed=2, head="bce")
    loss, grads = net.loss_and_grads(X, y)
    t_loss, t_grads = _torch_mlp_grads(net, X, y)
    assert abs(loss - t_loss) < 1e-12
    for k in grads:
        np.testing.assert_allclose(grads[k], t_grads[k], rtol=1e-10, atol=1e-13)
    pred = net.predict(X)
    assert pred.shape == (12,) and set(np.unique(pred)) <= {0, 1}
    np.testing.assert_array_equal(pred, (net.forward(X)[:, 0] > 0).astype(int))


def test_mlp_shapes_and_inits():
    for init in L.INITS:
        net = L.MLP([2, 8, 8, 3], activation="tanh", init=init, seed=0)
        assert [net.params[k].shape for k in ("W1", "b1", "W2", "b2", "W3", "b3")] == \
            [(2, 8), (8,), (8, 8), (8,), (8, 3), (3,)]
        assert net.forward(np.zeros((5, 2))).shape == (5, 3)
        assert net.predict(np.zeros((5, 2))).shape == (5,)
    assert np.all(L.MLP([2, 3], init="zeros").params["W1"] == 0)
    he = L.MLP([400, 300], init="he", seed=0).params["W1"]
    assert abs(he.std() - np.sqrt(2 / 400)) < 0.02 * np.sqrt(2 / 400) * 5
    un = L.MLP([400, 300], init="uniform", seed=0).params["W1"]
    assert np.abs(un).max() <= 1 / 20 and np.abs(un).max() > 0.049


def test_mlp_same_seed_same_weights():
    a, b = L.MLP([2, 4, 2], seed=3), L.MLP([2, 4, 2], seed=3)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


def test_mlp_gradient_descent_learns_xor():
    from nblib.data import xor
    X, y = xor(n=200, noise=0.1, seed=0)
    net = L.MLP([2, 8, 2], activation="tanh", init="xavier", seed=0)
    first, _ = net.loss_and_grads(X, y)
    for _ in range(500):
        loss, grads = net.loss_and_grads(X, y)
        for k in net.params:
            net.params[k] -= 0.5 * grads[k]
    assert loss < 0.1 * first
    assert (net.predict(X) == y).mean() > 0.97


# ----------------------------------------------------------------------------- bad input
def test_affine_bad_shapes():
    with pytest.raises(ValueError, match=r"affine_forward: x has shape \(4, 3\).*W has shape \(2, 5\)"):
        L.affine_forward(np.zeros((4, 3)), np.zeros((2, 5)), np.zeros(5))
    with pytest.raises(ValueError, match=r"affine_forward: W has shape \(3, 5\).*b has shape \(4,\)"):
        L.affine_forward(np.zeros((4, 3)), np.zeros((3, 5)), np.zeros(4))
    with pytest.raises(ValueError, match=r"affine_forward: x must be 2-D"):
        L.affine_forward(np.zeros(3), np.zeros((3, 5)), np.zeros(5))
    _, cache = L.affine_forward(np.zeros((4, 3)), np.zeros((3, 5)), np.zeros(5))
    with pytest.raises(ValueError, match=r"affine_backward: dout has shape \(5, 4\).*\(4, 5\)"):
        L.affine_backward(np.zeros((5, 4)), cache)
    with pytest.raises(TypeError, match="affine_backward: cache must be the tuple returned by affine_forward"):
        L.affine_backward(np.zeros((4, 5)), None)
    with pytest.raises(TypeError, match="affine_forward: x must hold numbers"):
        L.affine_forward(np.array([["a"]]), np.zeros((1, 1)), np.zeros(1))


def test_activation_and_head_bad_input():
    _, cache = L.relu_forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"relu_backward: dout has shape \(3, 2\)"):
        L.relu_backward(np.zeros((3, 2)), cache)
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: labels has shape \(3, 1\)"):
        L.softmax_cross_entropy(np.zeros((3, 2)), np.zeros((3, 1), dtype=int))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: labels must lie in \[0, 1\]"):
        L.softmax_cross_entropy(np.zeros((2, 2)), np.array([0, 2]))
    with pytest.raises(ValueError, match=r"sigmoid_bce: logits has shape \(4,\) but targets has shape \(4, 1\)"):
        L.sigmoid_bce(np.zeros(4), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="sigmoid_bce: logits must have shape"):
        L.sigmoid_bce(np.zeros((4, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"sigmoid_bce: targets must lie in \[0, 1\]"):
        L.sigmoid_bce(np.zeros(2), np.array([0.0, 2.0]))


def test_mlp_bad_input():
    with pytest.raises(ValueError, match="MLP: sizes must be a list of at least two positive ints"):
        L.MLP([2])
    with pytest.raises(ValueError, match="MLP: activation must be one of"):
        L.MLP([2, 3], activation="swish")
    with pytest.raises(ValueError, match="MLP: init must be one of"):
        L.MLP([2, 3], init="orthogonal")
    with pytest.raises(ValueError, match="MLP: head='bce' needs one output unit"):
        L.MLP([2, 3, 2], head="bce")
    net = L.MLP([2, 3, 2])
    with pytest.raises(ValueError, match=r"MLP.forward: X has shape \(5, 3\) but the network expects 2 features"):
        net.forward(np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: labels has shape \(4,\) but logits has batch size 5"):
        net.loss_and_grads(np.zeros((5, 2)), np.zeros(4, dtype=int))
    with pytest.raises(RuntimeError, match="MLP.backward: call forward"):
        L.MLP([2, 3]).backward(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="MLP.loss_and_grads: weight_decay must be >= 0"):
        net.loss_and_grads(np.zeros((5, 2)), np.zeros(5, dtype=int), weight_decay=-1.0)
