"""nblib.torchbridge: the numpy MLP and its PyTorch twin agree number for number (float64)."""

import numpy as np
import pytest
import torch

from nblib import layers, optim, train
from nblib import torchbridge as tb
from nblib.data import spirals
from nblib.gradcheck import numerical_gradient


@pytest.fixture
def problem():
    X, y = spirals(n_per_class=20, n_classes=3, seed=0)
    return X, y


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu", "linear"])
def test_forward_backward_table_within_1e12(problem, activation):
    X, y = problem
    net = layers.MLP([2, 7, 5, 3], activation=activation, seed=2)
    table = tb.forward_backward_table(net, X, y)
    names = [r["name"] for r in table.rows]
    assert names[:6] == ["z1", "a1", "z2", "a2", "z3", "loss"]
    assert {"dW1", "db1", "dW2", "db2", "dW3", "db3", "dz3", "da2", "da1"} <= set(names)
    assert table.ok and table.max_abs_diff <= 1e-12, table


def test_traces_against_finite_differences(problem):
    """A third, independent reference: central differences of the numpy loss."""
    X, y = problem
    net = layers.MLP([2, 6, 3], activation="tanh", seed=1)
    theirs = tb.torch_trace(tb.to_torch(net), X, y)
    for key in ("W1", "b1", "W2", "b2"):
        def f(v, key=key):
            old = net.params[key].copy()
            net.params[key][...] = v
            loss = layers.softmax_cross_entropy(net.forward(X), y)[0]
            net.params[key][...] = old
            return loss
        num = numerical_gradient(f, net.params[key])
        np.testing.assert_allclose(theirs["d" + key], num, rtol=1e-6, atol=1e-9)


def test_a_real_difference_is_reported(problem):
    X, y = problem
    net = layers.MLP([2, 6, 3], seed=1)
    module = tb.to_torch(net)
    with torch.no_grad():
        module.fc2.weight[0, 0] += 1e-6                 # a tiny discrepancy must not pass
    ours, theirs = tb.numpy_trace(net, X, y), tb.torch_trace(module, X, y)
    table = tb.compare({k: (ours[k], theirs[k]) for k in ours}, atol=1e-12, rtol=0)
    assert not table.ok
    bad = {r["name"] for r in table.rows if r["verdict"] == "MISMATCH"}
    assert {"z2", "loss", "dW1", "dW2"} <= bad and "z1" not in bad and "a1" not in bad


def test_weight_layout_and_round_trip(problem):
    X, _ = problem
    net = layers.MLP([2, 4, 3], seed=0)
    module = tb.to_torch(net)
    assert tuple(module.fc1.weight.shape) == (4, 2)                  # nn.Linear stores W transposed
    manual = np.maximum(X @ net.params["W1"] + net.params["b1"], 0) @ net.params["W2"] + net.params["b2"]
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.from_numpy(X)).numpy(), manual, rtol=1e-13, atol=1e-13)
        for p in module.parameters():
            p.mul_(2.0)
    other = layers.MLP([2, 4, 3], seed=5)
    tb.copy_from_torch(module, other)
    for k in net.params:
        np.testing.assert_array_equal(other.params[k], 2.0 * net.params[k])
    with pytest.raises(ValueError, match="sizes"):
        tb.copy_to_torch(net, tb.TorchMLP([2, 5, 3]))
    with pytest.raises(TypeError, match="nblib.layers.MLP"):
        tb.to_torch(object())


@pytest.mark.parametrize("name, lr, hyper", [
    ("sgd", 0.5, {}),
    ("momentum", 0.05, {"beta": 0.9}),
    ("rmsprop", 0.01, {"alpha": 0.9}),
    ("adam", 0.01, {"betas": (0.8, 0.99)}),
    ("adam", 0.01, {"weight_decay": 1e-2}),
    ("adamw", 0.01, {"weight_decay": 0.1}),
])
def test_step_matched_training_stays_together(problem, name, lr, hyper):
    X, y = problem
    net = layers.MLP([2, 8, 3], seed=0)
    before = {k: v.copy() for k, v in net.params.items()}
    r = tb.step_matched(net, X, y, optimizer=name, lr=lr, steps=60, batch_size=16, seed=1, **hyper)
    assert np.max(r["param_diff"]) < 1e-10
    np.testing.assert_allclose(r["loss_numpy"], r["loss_torch"], rtol=0, atol=1e-10)
    assert r["loss_numpy"][-5:].mean() < r["loss_numpy"][:5].mean()          # it did train
    for k in net.params:                                                    # the caller's net is untouched
        np.testing.assert_array_equal(net.params[k], before[k])


def test_step_matched_first_sgd_step_is_p_minus_lr_g(problem):
    X, y = problem
    net = layers.MLP([2, 5, 3], seed=0)
    r = tb.step_matched(net, X, y, optimizer="sgd", lr=0.3, steps=1, batch_size=1000, seed=0)
    _, g = net.loss_and_grads(X, y)                     # one full batch: order does not matter
    for k in net.params:
        np.testing.assert_allclose(r["net"].params[k], net.params[k] - 0.3 * g[k], rtol=1e-13, atol=1e-15)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        tb.step_matched(net, X, y, optimizer="lbfgs")


def test_fit_torch_float64_reproduces_numpy_fit(problem):
    X, y = problem
    Xtr, ytr, Xva, yva = X[:40], y[:40], X[40:], y[40:]
    net = layers.MLP([2, 8, 3], seed=3)
    module = tb.to_torch(net)
    kw = dict(epochs=6, batch_size=8, seed=2, schedule=optim.ExponentialDecay(0.02, 0.9), progress=False)
    h_np = train.fit(net, optim.Adam(0.02, weight_decay=1e-3), Xtr, ytr, Xva, yva, **kw)
    h_t = tb.fit_torch(module, torch.optim.Adam(module.parameters(), lr=0.02, weight_decay=1e-3),
                       Xtr, ytr, Xva, yva, **kw)
    np.testing.assert_allclose(h_t.val_loss, h_np.val_loss, rtol=1e-10)
    np.testing.assert_allclose(h_t.train_acc, h_np.train_acc)
    assert h_t.lr == h_np.lr and h_t.best_epoch == h_np.best_epoch
    assert tb.param_diff(net, module) < 1e-10           # both restored the same best epoch
    assert not module.training


def test_fit_torch_validates():
    module = tb.TorchMLP([2, 3])
    with pytest.raises(TypeError, match="torch.optim optimizer"):
        tb.fit_torch(module, optim.SGD(0.1), np.zeros((2, 2)), np.zeros(2, int), np.zeros((2, 2)), np.zeros(2, int))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        tb.fit_torch(object(), None, None, None, None, None)


def test_pick_device(capsys):
    dev = tb.pick_device()
    out = capsys.readouterr().out
    assert out.startswith("Using device: ")
    assert dev.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert tb.pick_device("cpu", verbose=False).type == "cpu"
    with pytest.raises(ValueError, match="prefer must be"):
        tb.pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="is_available"):
            tb.pick_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_table_on_gpu(problem):
    X, y = problem
    net = layers.MLP([2, 7, 3], seed=2)
    assert tb.forward_backward_table(net, X, y, device=torch.device("cuda")).ok


def test_fit_torch_diverging_run_keeps_last_parameters(problem):
    X, y = problem
    module = tb.TorchMLP([2, 8, 3]).double()
    with torch.no_grad():
        module.fc1.weight[0, 0] = float("nan")        # the validation loss is never finite
    hist = tb.fit_torch(module, torch.optim.SGD(module.parameters(), lr=0.1), X, y, X, y,
                        epochs=3, batch_size=8, progress=False)
    assert hist.epochs == 3 and hist.best_epoch == 2 and np.isnan(hist.val_loss).all()
    assert "best epoch 3" in repr(hist)


# ------------------------------------------------------------------ numpy_trace is the lesson MLP
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "elu", "linear"])
def test_numpy_trace_equals_the_lesson_mlp_bit_for_bit_step_by_step(problem, activation):
    """numpy_trace is a second path through nblib.layers (it keeps every intermediate):
    its logits, loss and parameter gradients are exactly those of MLP.forward/loss_and_grads,
    and SGD driven by either stays identical for 20 steps."""
    X, y = problem
    a = layers.MLP([2, 7, 5, 3], activation=activation, seed=4)
    b = layers.MLP([2, 7, 5, 3], activation=activation, seed=4)
    opt_a, opt_b = optim.SGD(0.3), optim.SGD(0.3)
    for step in range(20):
        trace = tb.numpy_trace(a, X, y)
        assert np.array_equal(trace["z3"], b.forward(X))
        loss, grads = b.loss_and_grads(X, y)
        assert trace["loss"] == loss
        for k in grads:
            assert np.array_equal(trace["d" + k], grads[k]), (step, k)
        opt_a.step(a.params, {k: trace["d" + k] for k in grads})
        opt_b.step(b.params, grads)
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k])


def test_torch_optimizers_is_the_only_name_for_the_twin_table():
    """nblib.optim.OPTIMIZERS (display name -> class) and this table are different things."""
    assert set(tb.TORCH_OPTIMIZERS) == {"sgd", "momentum", "rmsprop", "adam", "adamw"}
    assert not hasattr(tb, "OPTIMIZERS")
    assert "TORCH_OPTIMIZERS" in tb.__all__


def test_fit_torch_accepts_lists_and_tensors_and_names_bad_labels(problem):
    X, y = problem
    module = tb.TorchMLP([2, 8, 3]).double()
    opt = torch.optim.SGD(module.parameters(), lr=0.1)
    hist = tb.fit_torch(module, opt, X.tolist(), torch.as_tensor(y), torch.as_tensor(X), list(y), epochs=2,
                        batch_size=16, progress=False)
    assert hist.epochs == 2 and np.all(np.isfinite(hist.train_loss))
    with pytest.raises(ValueError, match=r"fit_torch: y_val"):
        tb.fit_torch(module, opt, X, y, X, y + 3, epochs=1, progress=False)       # class 5 for a 3-output module
