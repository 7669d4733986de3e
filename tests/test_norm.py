"""nblib.norm: batch norm against torch.nn.BatchNorm1d (train and eval, running statistics), its
two backward passes against torch autograd and central differences, clipping against
torch.nn.utils.clip_grad_norm_, and DeepMLP's gradients against both references. All float64."""

import warnings

import numpy as np
import pytest
import torch

from nblib import gradcheck, norm as N

torch.set_default_dtype(torch.float64)


def _batches(d=4, seed=0, sizes=(8, 5, 3, 2)):
    rng = np.random.default_rng(seed)
    scale, offset = np.array([1.0, 50.0, 0.02, 5.0])[:d], np.array([0.0, -100.0, 3.0, 7.0])[:d]
    return [rng.normal(size=(n, d)) * scale + offset for n in sizes]


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))


@pytest.mark.parametrize("momentum", [0.1, 0.3])
def test_batchnorm_forward_equals_torch_in_train_and_eval_with_running_stats(momentum):
    d = 4
    rng = np.random.default_rng(1)
    gamma, beta = rng.uniform(0.5, 2, size=d), rng.normal(size=d)
    bt = torch.nn.BatchNorm1d(d, momentum=momentum, dtype=torch.float64)
    with torch.no_grad():
        bt.weight.copy_(torch.tensor(gamma)); bt.bias.copy_(torch.tensor(beta))
    p = N.new_bn_param(d, momentum=momentum)
    for x in _batches():
        p["mode"] = "train"; bt.train()
        out, cache = N.batchnorm_forward(x, gamma, beta, p)
        assert _rel(out, bt(torch.tensor(x)).detach().numpy()) <= 1e-12
        assert _rel(p["running_mean"], bt.running_mean.numpy()) <= 1e-12
        assert _rel(p["running_var"], bt.running_var.numpy()) <= 1e-12      # unbiased, as torch
        assert cache["mode"] == "train"
    p["mode"] = "eval"; bt.eval()
    before = (p["running_mean"].copy(), p["running_var"].copy())
    for x in _batches(seed=5, sizes=(6, 1)):
        out, cache = N.batchnorm_forward(x, gamma, beta, p)
        assert _rel(out, bt(torch.tensor(x)).detach().numpy()) <= 1e-12
    assert np.array_equal(p["running_mean"], before[0]) and np.array_equal(p["running_var"], before[1])


def test_running_variance_is_unbiased_and_normalisation_biased():
    x = np.array([[0.0], [2.0]])
    p = N.new_bn_param(1, momentum=1.0)
    out, cache = N.batchnorm_forward(x, np.ones(1), np.zeros(1), p)
    assert cache["var"][0] == pytest.approx(1.0)               # biased: ((-1)^2 + 1^2) / 2
    assert p["running_var"][0] == pytest.approx(2.0)           # unbiased: / (n - 1)
    np.testing.assert_allclose(out[:, 0], [-1, 1] / np.sqrt(1 + 1e-5), rtol=1e-14)


def _torch_bn_grads(x, gamma, beta, dout, p):
    d = x.shape[1]
    bt = torch.nn.BatchNorm1d(d, dtype=torch.float64)
    with torch.no_grad():
        bt.weight.copy_(torch.tensor(gamma)); bt.bias.copy_(torch.tensor(beta))
        bt.running_mean.copy_(torch.tensor(p["running_mean"])); bt.running_var.copy_(torch.tensor(p["running_var"]))
    bt.train(p["mode"] == "train")
    xt = torch.tensor(x, requires_grad=True)
    (bt(xt) * torch.tensor(dout)).sum().backward()
    return xt.grad.numpy(), bt.weight.grad.numpy(), bt.bias.grad.numpy()


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("backward", [N.batchnorm_backward, N.batchnorm_backward_compact])
def test_batchnorm_backward_against_torch_and_central_differences(mode, backward):
    rng = np.random.default_rng(2)
    x = _batches(sizes=(7,))[0]
    d = x.shape[1]
    gamma, beta, dout = rng.uniform(0.5, 2, size=d), rng.normal(size=d), rng.normal(size=x.shape)
    p = N.new_bn_param(d, mode=mode)
    p["running_mean"], p["running_var"] = rng.normal(size=d), rng.uniform(0.5, 3, size=d)

    def fresh():
        return dict(p, running_mean=p["running_mean"].copy(), running_var=p["running_var"].copy())

    _, cache = N.batchnorm_forward(x, gamma, beta, fresh())
    dx, dg, db = backward(dout, cache)
    tx, tg, tb = _torch_bn_grads(x, gamma, beta, dout, p)
    for ours, theirs in ((dx, tx), (dg, tg), (db, tb)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    f = lambda x_, g_, b_: np.sum(N.batchnorm_forward(x_, g_, b_, fresh())[0] * dout)
    for ours, num in ((dx, gradcheck.numerical_gradient(lambda v: f(v, gamma, beta), x)),
                      (dg, gradcheck.numerical_gradient(lambda v: f(x, v, beta), gamma)),
                      (db, gradcheck.numerical_gradient(lambda v: f(x, gamma, v), beta))):
        np.testing.assert_allclose(ours, num, rtol=1e-5, atol=1e-6)


def test_step_by_step_and_compact_backward_agree():
    rng = np.random.default_rng(3)
    for n, d in ((2, 3), (5, 1), (33, 7)):
        x = rng.normal(size=(n, d)) * rng.uniform(0.01, 100, size=d)
        _, cache = N.batchnorm_forward(x, rng.normal(size=d), rng.normal(size=d), N.new_bn_param(d))
        dout = rng.normal(size=(n, d))
        for a, b in zip(N.batchnorm_backward(dout, cache), N.batchnorm_backward_compact(dout, cache)):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("max_norm", [0.5, 5.0, 1e6])
def test_clip_grad_norm_equals_torch(max_norm):
    rng = np.random.default_rng(4)
    grads = {"W1": 3 * rng.normal(size=(3, 4)), "b1": rng.normal(size=4), "W2": rng.normal(size=(4, 2))}
    originals = {k: v.copy() for k, v in grads.items()}
    clipped, total = N.clip_grad_norm(grads, max_norm)
    params = [torch.nn.Parameter(torch.zeros(v.shape)) for v in grads.values()]
    for p, v in zip(params, grads.values()):
        p.grad = torch.tensor(v)
    total_t = torch.nn.utils.clip_grad_norm_(params, max_norm)
    assert total == pytest.approx(float(total_t), rel=1e-14)
    for (k, v), p in zip(clipped.items(), params):
        np.testing.assert_allclose(v, p.grad.numpy(), rtol=1e-14, atol=0)
    for k in grads:
        assert np.array_equal(grads[k], originals[k])         # the input is not changed
    new_norm = np.sqrt(sum(np.sum(v ** 2) for v in clipped.values()))
    assert new_norm <= max_norm * (1 + 1e-12) or max_norm > total


def _torch_deep_loss(net, X, y, training=True):
    """The same network as DeepMLP, in torch (F.batch_norm), returning (loss, {name: tensor})."""
    P = {k: torch.tensor(v, requires_grad=True) for k, v in net.params.items()}
    h = torch.tensor(X)
    act = {"relu": torch.relu, "tanh": torch.tanh}[net.activation]
    for i in range(1, net.L + 1):
        h = h @ P[f"W{i}"]
        if f"b{i}" in P:
            h = h + P[f"b{i}"]
        if i < net.L:
            if net.batchnorm:
                bp = net.bn_params[i]
                rm, rv = torch.tensor(bp["running_mean"]), torch.tensor(bp["running_var"])
                h = torch.nn.functional.batch_norm(h, rm, rv, P[f"gamma{i}"], P[f"beta{i}"], training=training,
                                                   momentum=0.1, eps=1e-5)
            h = act(h)
    loss = torch.nn.functional.cross_entropy(h, torch.tensor(y))
    return loss, P


@pytest.mark.parametrize("batchnorm", [False, True])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_deep_mlp_gradients_against_torch_and_central_differences(batchnorm, activation):
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(9, 3)), rng.integers(0, 3, size=9)
    net = N.DeepMLP([3, 5, 4, 3], activation=activation, batchnorm=batchnorm, gain=1.0, seed=1)
    start = {i: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in bp.items()}
             for i, bp in net.bn_params.items()}
    loss_t, P = _torch_deep_loss(net, X, y)
    loss, grads = net.loss_and_grads(X, y)
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    loss_t.backward()
    for k in net.params:
        np.testing.assert_allclose(grads[k], P[k].grad.numpy(), rtol=1e-9, atol=1e-12)

    def loss_with(k, v):
        old = net.params[k]
        net.params[k] = v
        for i, bp in start.items():                     # the same running stats every call
            net.bn_params[i] = {kk: (vv.copy() if isinstance(vv, np.ndarray) else vv) for kk, vv in bp.items()}
        try:
            return net.loss_and_grads(X, y)[0]
        finally:
            net.params[k] = old
    for k, v in net.params.items():
        num = gradcheck.numerical_gradient(lambda w, k=k: loss_with(k, w), v, eps=1e-6)
        np.testing.assert_allclose(grads[k], num, rtol=1e-5, atol=1e-7)


def test_deep_mlp_eval_mode_uses_running_statistics_like_torch():
    rng = np.random.default_rng(6)
    X, y = rng.normal(size=(12, 3)), rng.integers(0, 3, size=12)
    net = N.DeepMLP([3, 6, 3], batchnorm=True, seed=2)
    for _ in range(3):
        net.forward(X + rng.normal(size=X.shape), training=True)
    loss_t, _ = _torch_deep_loss(net, X[:1], y[:1], training=False)
    logits = net.forward(X[:1], training=False)
    loss = float(-np.log(np.exp(logits[0, y[0]]) / np.exp(logits[0]).sum()))
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)


def test_custom_batchnorm_pair_is_used():
    calls = []

    def fwd(x, g, b, p):
        calls.append("f")
        return N.batchnorm_forward(x, g, b, p)

    def bwd(d, c):
        calls.append("b")
        return N.batchnorm_backward_compact(d, c)

    net = N.DeepMLP([2, 4, 4, 2], batchnorm=True, bn_forward=fwd, bn_backward=bwd)
    net.loss_and_grads(np.random.default_rng(0).normal(size=(5, 2)), np.array([0, 1, 0, 1, 1]))
    assert calls == ["f", "f", "b", "b"]


def test_train_sgd_reports_divergence_and_clipping_without_warnings():
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(30, 2)), rng.integers(0, 3, size=30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net = N.DeepMLP([2, 16, 16, 3], activation="linear", gain=3.0, seed=0)
        run = N.train_sgd(net, X, y, lr=1e150, steps=50)
        assert run["diverged_at"] is not None and len(run["losses"]) == run["diverged_at"]
        assert all(np.isfinite(v).all() for v in net.params.values())
        assert np.isfinite(net.loss_and_grads(X, y)[0])          # put back to the last finite state
        assert net.loss_and_grads(X, y)[0] == pytest.approx(run["losses"][-1], rel=1e-12)
        net = N.DeepMLP([2, 16, 16, 3], gain=3.0, seed=0)
        run = N.train_sgd(net, X, y, lr=0.01, steps=20, max_norm=1.0)
        assert run["diverged_at"] is None and run["clipped"] == int(np.sum(run["grad_norms"] > 1.0)) > 0


def test_batch_norm_rescues_a_deep_exploding_net():
    """The notebook's claim, on a smaller budget: gain 2 without help dies, with batch norm it learns."""
    from nblib.widgets.backprop import make_dataset
    X, y = make_dataset("spirals")
    sizes = [2] + [32] * 10 + [3]
    plain = N.DeepMLP(sizes, gain=2.0, seed=0)
    run_plain = N.train_sgd(plain, X, y, lr=0.1, steps=30)
    bn = N.DeepMLP(sizes, gain=2.0, batchnorm=True, seed=0)
    run_bn = N.train_sgd(bn, X, y, lr=0.1, steps=30)
    assert run_plain["losses"][-1] == pytest.approx(np.log(3), abs=1e-3)
    assert run_bn["losses"][-1] < 0.5 * run_bn["losses"][0]
