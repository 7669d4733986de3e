"""nblib.conv: every layer against PyTorch (float64, <= 1e-12), central differences, the loop versions."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nblib import conv as C
from nblib.gradcheck import numerical_gradient

# (N, C, H, W, F, HH, WW, stride, pad): odd sizes, non-square kernels, sizes the stride does not divide
SHAPES = [(2, 3, 5, 7, 4, 3, 2, 2, 1), (3, 1, 8, 8, 5, 3, 3, 1, 1), (1, 2, 6, 6, 3, 3, 3, 1, 0),
          (2, 2, 9, 7, 3, 4, 3, 3, 2), (1, 1, 4, 4, 1, 1, 1, 1, 0), (2, 3, 7, 5, 2, 5, 5, 2, 2)]
TOL = 1e-12


def _case(shape, seed=0):
    N, Cc, H, W, Fn, HH, WW, s, p = shape
    rng = np.random.default_rng(seed)
    return rng.normal(size=(N, Cc, H, W)), rng.normal(size=(Fn, Cc, HH, WW)), rng.normal(size=Fn), s, p


def _torch_conv(x, W, b, s, p, dout):
    xt, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    out = F.conv2d(xt, Wt, bt, stride=s, padding=p)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy(), Wt.grad.numpy(), bt.grad.numpy()


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_conv_forward_backward_equal_torch(shape):
    x, W, b, s, p = _case(shape)
    out, cache = C.conv_forward(x, W, b, s, p)
    dout = np.random.default_rng(1).normal(size=out.shape)
    ref, dx, dW, db = _torch_conv(x, W, b, s, p, dout)
    assert out.shape == ref.shape and np.abs(out - ref).max() <= TOL
    assert np.abs(C.conv_forward_naive(x, W, b, s, p) - ref).max() <= TOL
    assert np.abs(C.conv2d(x, W, b, s, p) - ref).max() <= TOL
    for got in (C.conv_backward(dout, cache), C.conv_backward_naive(dout, x, W, s, p),
                C.conv2d_backward(dout, x, W, s, p)):
        for g, r in zip(got, (dx, dW, db)):
            assert g.shape == r.shape and np.abs(g - r).max() <= TOL


def test_output_size_formula_matches_torch():
    for H in range(3, 12):
        for k in (1, 2, 3, 5):
            for s in (1, 2, 3):
                for p in (0, 1, 2):
                    if k > H + 2 * p:
                        continue
                    t = F.conv2d(torch.zeros(1, 1, H, H), torch.zeros(1, 1, k, k), stride=s, padding=p)
                    assert C.output_size(H, k, s, p) == t.shape[-1]


def test_conv_gradients_by_central_differences():
    x, W, b, s, p = _case((1, 2, 5, 4, 2, 3, 2, 2, 1), seed=3)
    out, cache = C.conv_forward(x, W, b, s, p)
    dout = np.random.default_rng(4).normal(size=out.shape)
    dx, dW, db = C.conv_backward(dout, cache)
    L = lambda xx, WW, bb: float(np.sum(C.conv2d(xx, WW, bb, s, p) * dout))
    assert np.allclose(dx, numerical_gradient(lambda v: L(v, W, b), x), atol=1e-7)
    assert np.allclose(dW, numerical_gradient(lambda v: L(x, v, b), W), atol=1e-7)
    assert np.allclose(db, numerical_gradient(lambda v: L(x, W, v), b), atol=1e-7)


def test_dx_is_a_full_convolution_with_the_flipped_kernel():
    """Stride 1, no padding: dx = correlate(pad(dout, K-1), W flipped, in/out channels swapped)."""
    x, W, b, _, _ = _case((2, 3, 6, 5, 4, 3, 2, 1, 0), seed=5)
    out, cache = C.conv_forward(x, W, b, 1, 0)
    dout = np.random.default_rng(6).normal(size=out.shape)
    dx, dW, _ = C.conv_backward(dout, cache)
    HH, WW = W.shape[2:]
    dpad = np.pad(dout, ((0, 0), (0, 0), (HH - 1, HH - 1), (WW - 1, WW - 1)))
    flipped = W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    assert np.abs(C.conv2d(dpad, flipped, np.zeros(W.shape[1])) - dx).max() < 1e-12
    # dW: correlation of the input with dout, channel by channel
    dW2 = np.stack([C.conv2d(x[:, c:c + 1].transpose(1, 0, 2, 3), dout.transpose(1, 0, 2, 3),
                             np.zeros(W.shape[0]))[0] for c in range(W.shape[1])], axis=1)
    assert np.abs(dW2 - dW).max() < 1e-12


@pytest.mark.parametrize("shape", [(2, 3, 8, 8, 2, 2), (2, 2, 7, 9, 3, 2), (1, 1, 5, 5, 2, 1), (1, 2, 6, 7, 3, 3)],
                         ids=str)
def test_pooling_equal_torch_with_ties(shape):
    N, Cc, H, W, k, s = shape
    rng = np.random.default_rng(7)
    x = rng.integers(0, 3, size=(N, Cc, H, W)).astype(float)        # many ties
    xt = torch.tensor(x, requires_grad=True)
    out = F.max_pool2d(xt, k, s)
    dout = rng.normal(size=out.shape)
    out.backward(torch.tensor(dout))
    got, cache = C.maxpool_forward(x, k, s)
    assert np.array_equal(got, out.detach().numpy())
    assert np.array_equal(C.maxpool_forward_naive(x, k, s), got)
    assert np.abs(C.maxpool_backward(dout, cache) - xt.grad.numpy()).max() <= TOL
    assert np.abs(C.maxpool_backward_naive(dout, x, k, s) - xt.grad.numpy()).max() <= TOL
    assert np.abs(C.maxpool2d_backward(dout, x, k, s) - xt.grad.numpy()).max() <= TOL
    xt = torch.tensor(x, requires_grad=True)
    out = F.avg_pool2d(xt, k, s)
    out.backward(torch.tensor(dout))
    a, cache = C.avgpool_forward(x, k, s)
    assert np.abs(a - out.detach().numpy()).max() <= TOL
    assert np.abs(C.avgpool_backward(dout, cache) - xt.grad.numpy()).max() <= TOL


def test_torch_sends_a_tied_gradient_to_the_first_maximum():
    """The convention nblib documents, measured on PyTorch's CPU kernel."""
    for window in ([[1.0, 1.0], [1.0, 1.0]], [[0.0, 2.0], [2.0, 0.0]], [[0.0, 0.0], [3.0, 3.0]]):
        x = np.array([[window]])
        xt = torch.tensor(x, requires_grad=True)
        F.max_pool2d(xt, 2).sum().backward()
        first = np.zeros(4)
        first[np.argmax(x.ravel())] = 1
        assert np.array_equal(xt.grad.numpy().ravel(), first)
        assert np.array_equal(C.maxpool_backward_naive(np.ones((1, 1, 1, 1)), x).ravel(), first)


def test_pool_gradients_by_central_differences():
    x = np.random.default_rng(8).normal(size=(2, 2, 5, 6))           # no ties
    for fwd, bwd in ((C.maxpool_forward, C.maxpool_backward), (C.avgpool_forward, C.avgpool_backward)):
        out, cache = fwd(x, 3, 2)
        dout = np.random.default_rng(9).normal(size=out.shape)
        num = numerical_gradient(lambda v: float(np.sum(fwd(v, 3, 2)[0] * dout)), x)
        assert np.allclose(bwd(dout, cache), num, atol=1e-7)


def test_flatten_and_its_size():
    x = np.arange(2 * 3 * 4 * 5, dtype=float).reshape(2, 3, 4, 5)
    out, cache = C.flatten_forward(x)
    assert out.shape == (2, 60) and np.array_equal(out, torch.flatten(torch.tensor(x), 1).numpy())
    assert np.array_equal(C.flatten_backward(out, cache), x)
    assert C.flatten_size((1, 28, 28), [("conv", 32, 3, 1, 1), ("conv", 64, 3, 1, 1)]) == 64 * 28 * 28
    fixed = [("conv", 32, 3, 1, 1), ("pool", 2, 2), ("conv", 64, 3, 1, 1), ("pool", 2, 2)]
    assert C.flatten_size((1, 28, 28), fixed) == 64 * 7 * 7
    assert C.flatten_size((1, 8, 8), fixed) == 64 * 2 * 2
    assert C.flatten_size((3, 7, 9), [("pool", 2, 2)]) == 3 * 3 * 4           # floor, as torch
    t = F.max_pool2d(F.conv2d(torch.zeros(1, 3, 11, 10), torch.zeros(5, 3, 3, 3), stride=2, padding=1), 2, 2)
    assert C.flatten_size((3, 11, 10), [("conv", 5, 3, 2, 1), ("pool", 2, 2)]) == t[0].numel()


def _torch_loss(model, X, y):
    return F.cross_entropy(model(torch.tensor(X)), torch.tensor(y))


def test_small_cnn_gradients_equal_torch_and_differences():
    rng = np.random.default_rng(10)
    X, y = rng.normal(size=(5, 1, 8, 8)), rng.integers(0, 10, size=5)
    net = C.SmallCNN((3, 4), 6, seed=1)
    model = C.to_torch(net)
    loss, g = net.loss_and_grads(X, y)
    lt = _torch_loss(model, X, y)
    lt.backward()
    assert abs(loss - lt.item()) < 1e-12
    tg = {"W1": model[0].weight.grad, "b1": model[0].bias.grad, "W2": model[3].weight.grad,
          "b2": model[3].bias.grad, "W3": model[7].weight.grad.T, "b3": model[7].bias.grad,
          "W4": model[9].weight.grad.T, "b4": model[9].bias.grad}
    for k in net.params:
        assert np.abs(g[k] - tg[k].numpy()).max() < 1e-12, k
    for k in ("W1", "b2", "W3"):
        p = net.params[k]
        orig = p.copy()

        def f(v):
            p[...] = v
            return net.loss_and_grads(X, y)[0]
        num = numerical_gradient(f, orig.copy())
        p[...] = orig
        assert np.allclose(g[k], num, atol=1e-6), k


def test_small_cnn_on_loop_layers_equals_fast_layers():
    rng = np.random.default_rng(11)
    X, y = rng.normal(size=(3, 8, 8)), rng.integers(0, 10, size=3)
    fast = C.SmallCNN(seed=2)
    slow = C.SmallCNN(seed=2, conv=C.conv_forward_naive, conv_backward=C.conv_backward_naive,
                      pool_backward=C.maxpool_backward_naive)
    lf, gf = fast.loss_and_grads(X, y)
    ls, gs = slow.loss_and_grads(X.reshape(3, 64), y)
    assert abs(lf - ls) < 1e-12 and all(np.abs(gf[k] - gs[k]).max() < 1e-12 for k in gf)
    assert fast.predict(X).shape == (3,)
    keep = {}
    fast.forward(X, keep=keep)
    assert keep["conv1"].shape == (3, 8, 8, 8) and keep["pool2"].shape == (3, 16, 2, 2)


def test_mnist_sized_network_has_the_article_flatten():
    net = C.SmallCNN((32, 64), 128, image_size=(28, 28))
    assert net.flat == 64 * 7 * 7 and net.params["W3"].shape == (3136, 128)
    assert C.to_torch(net)(torch.zeros(2, 1, 28, 28, dtype=torch.float64)).shape == (2, 10)


def test_bench_conv_table_formats_a_result():
    from tools.bench_conv import SIZES, table
    assert any("notebook 10" in s[0] for s in SIZES) and any("MNIST" in s[0] for s in SIZES)
    row = {"size": "x", "numpy_ms": 2.0, "torch64_ms": 1.0, "torch32_ms": 0.5, "ratio64": 2.0, "ratio32": 4.0}
    text = table({"threads": 1, "rows": [row]})
    assert "| x | 2.000 | 1.000 | 0.500 | 2.00 | 4.00 |" in text
