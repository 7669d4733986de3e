"""Each bug-zoo diagnostic fires on the buggy code and stays silent on the fixed code."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from nblib import diagnose  # noqa: E402
from nblib.data import linear_data  # noqa: E402


# --------------------------------------------------------------------------- check_grads
@pytest.fixture
def line():
    X, Y = linear_data(seed=1)
    W, b = np.array([0.5]), np.array([0.1])

    def loss(p):
        return float(np.mean((X * p["W"] + p["b"] - Y) ** 2))
    return X, Y, {"W": W, "b": b}, loss


def test_check_grads_fires_on_per_sample_gradients(line):
    X, Y, params, loss = line
    err = X * params["W"] + params["b"] - Y
    f = diagnose.check_grads(loss, params, {"W": 2 * err * X, "b": 2 * err}, batch_size=100)
    assert f.found
    assert "shape (100,) but W has shape (1,)" in f.message and "one gradient per sample" in f.message


def test_check_grads_fires_on_sum_instead_of_mean(line):
    X, Y, params, loss = line
    err = X * params["W"] + params["b"] - Y
    f = diagnose.check_grads(loss, params, {"W": np.array([np.sum(2 * err * X)]),
                                            "b": np.array([np.sum(2 * err)])}, batch_size=100)
    assert f.found and "100×" in f.message and "*summed*" in f.message
    assert f.details["W"]["ratio"] == pytest.approx(100, rel=1e-6)


def test_check_grads_names_a_sign_error(line):
    X, Y, params, loss = line
    err = X * params["W"] + params["b"] - Y
    f = diagnose.check_grads(loss, params, {"W": np.array([-np.mean(2 * err * X)]),
                                            "b": np.array([np.mean(2 * err)])})
    assert f.found and "wrong sign" in f.message and "of W" in f.message and "of b" not in f.message


def test_check_grads_silent_on_averaged_gradients_also_at_the_minimum(line):
    X, Y, params, loss = line
    err = X * params["W"] + params["b"] - Y
    ok = {"W": np.array([np.mean(2 * err * X)]), "b": np.array([np.mean(2 * err)])}
    assert not diagnose.check_grads(loss, params, ok, batch_size=100).found
    # at the least-squares solution both gradients are ~0: relative noise must not fire
    w, b = np.polyfit(X, Y, 1)
    p = {"W": np.array([w]), "b": np.array([b])}
    err = X * w + b - Y
    ok = {"W": np.array([np.mean(2 * err * X)]), "b": np.array([np.mean(2 * err)])}
    assert not diagnose.check_grads(loss, p, ok, batch_size=100).found


def test_check_grads_validates(line):
    X, Y, params, loss = line
    with pytest.raises(ValueError, match="grads has no entry for"):
        diagnose.check_grads(loss, params, {"W": np.zeros(1)})
    with pytest.raises(TypeError, match="loss_fn must be a function"):
        diagnose.check_grads(3, params, params)


def test_finding_refuses_truthiness():
    with pytest.raises(TypeError, match="finding.found"):
        bool(diagnose.Finding("x", True, "m"))


# -------------------------------------------------------------------------- check_logits
def test_check_logits_fires_on_softmax_output_silent_on_logits():
    torch.manual_seed(0)
    z = torch.randn(16, 10) * 3
    buggy = diagnose.check_logits(torch.softmax(z, dim=1))
    assert buggy.found and buggy.details["kind"] == "probabilities"
    # the floor stated in the message is the loss of perfect one-hot "probabilities"
    assert buggy.details["floor"] == pytest.approx(F.cross_entropy(torch.eye(10), torch.arange(10)).item(), abs=1e-6)
    assert not diagnose.check_logits(z).found


def test_check_logits_fires_on_relu_head():
    torch.manual_seed(0)
    z = torch.randn(16, 10)
    f = diagnose.check_logits(F.relu(z))
    assert f.found and f.details["kind"] == "relu"
    assert f.details["zero_fraction"] == pytest.approx(float((z <= 0).float().mean()))


def test_check_logits_on_real_models():
    torch.manual_seed(0)
    body = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 4))
    x = torch.randn(20, 5)
    with torch.no_grad():
        assert diagnose.check_logits(body(x)).found is False
        assert diagnose.check_logits(torch.softmax(body(x), 1)).found is True
        assert diagnose.check_logits(F.relu(body(x))).found is True


def test_check_logits_batch_mismatch_and_validation():
    f = diagnose.check_logits(np.zeros((4, 3)) + 0.5, labels=np.zeros(5, dtype=int))
    assert f.found and "batch size 4" in f.message
    with pytest.raises(ValueError, match="must be 2-D"):
        diagnose.check_logits(np.zeros(3))


def test_looks_like_probabilities():
    assert diagnose.looks_like_probabilities(np.array([[0.7, 0.2, 0.1]]))
    assert not diagnose.looks_like_probabilities(np.array([[2.0, -1.0]]))
    assert not diagnose.looks_like_probabilities(np.array([[0.5, 0.6]]))


# ------------------------------------------------------------------------------ flatten
class Seed004(nn.Module):
    def __init__(self, pool):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 8, 3, padding=1)
        self.pool = nn.MaxPool2d(2) if pool else nn.Identity()
        self.fc = nn.Linear(8 * 7 * 7, 10)

    def features(self, x):
        return self.pool(F.relu(self.conv2(self.pool(F.relu(self.conv1(x))))))

    def forward(self, x):
        return self.fc(self.features(x).view(-1, 8 * 7 * 7))


def test_explain_flatten_fires_without_pooling_and_predicts_the_wrong_batch():
    torch.manual_seed(0)
    x = torch.randn(3, 1, 28, 28)
    net = Seed004(pool=False)
    with torch.no_grad():
        feats = net.features(x)
        out = net(x)                                # view(-1, 392) silently makes more rows
    f = diagnose.explain_flatten(feats, 8 * 7 * 7)
    assert f.found
    assert f.details["rows"] == out.shape[0] == 48  # the message's prediction is what torch did
    assert f.details["missing_pools"] == 2 and "MaxPool2d" in f.message


def test_explain_flatten_silent_with_pooling():
    torch.manual_seed(0)
    net = Seed004(pool=True)
    with torch.no_grad():
        feats = net.features(torch.randn(3, 1, 28, 28))
    f = diagnose.explain_flatten(feats, 8 * 7 * 7)
    assert not f.found and f.details["per_sample"] == 392


def test_explain_flatten_view_that_would_crash():
    f = diagnose.explain_flatten((2, 3, 5, 5), 7)
    assert f.found and "fails" in f.message and "set in_features = 75" in f.message
    with pytest.raises(RuntimeError):                # and torch agrees that it fails
        torch.zeros(2, 3, 5, 5).view(-1, 7)
    with pytest.raises(ValueError, match="batch axis"):
        diagnose.explain_flatten((5,), 5)
    with pytest.raises(TypeError, match="in_features must be a positive int"):
        diagnose.explain_flatten((2, 3), 0)


def test_trace_shapes_lists_layers_and_reports_errors_without_raising():
    torch.manual_seed(0)
    text = diagnose.trace_shapes(Seed004(pool=False), torch.randn(2, 1, 28, 28))
    assert "fc         Linear     (32, 392)" in text and "model output: (32, 10)" in text
    broken = nn.Sequential(nn.Linear(3, 4), nn.Linear(5, 2))
    text = diagnose.trace_shapes(broken, torch.randn(2, 3))
    assert text.splitlines()[-1].startswith("stopped with RuntimeError")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        diagnose.trace_shapes(lambda x: x, torch.zeros(1))


# ---------------------------------------------------------------------------- zero_grad
def _loop(zero_grad, steps=5):
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(10, 3), torch.randint(0, 2, (10,))
    watch = diagnose.ZeroGradWatch(model)
    grads = []
    for _ in range(steps):
        if zero_grad:
            opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]).norm().item())
        opt.step()
    watch.remove()
    return watch, grads


def test_zero_grad_watch_fires_when_zero_grad_is_forgotten():
    watch, grads = _loop(zero_grad=False)
    f = watch.report()
    assert f.found and f.details["stale"] == 4 and f.details["backward_passes"] == 5
    # the norms it records are those of the accumulated .grad the optimizer used
    assert np.allclose(watch.grad_norms, grads, rtol=1e-6)


def test_zero_grad_watch_silent_with_zero_grad():
    watch, grads = _loop(zero_grad=True)
    f = watch.report()
    assert not f.found and f.details["backward_passes"] == 5
    assert np.allclose(watch.grad_norms, grads, rtol=1e-6)


def test_zero_grad_watch_also_accepts_set_to_zero_and_removes_hooks():
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    with diagnose.ZeroGradWatch(model) as watch:
        for _ in range(3):
            model.zero_grad(set_to_none=False)      # zeros, not None
            model(torch.randn(4, 2)).sum().backward()
    assert not watch.report().found
    model(torch.randn(4, 2)).sum().backward()       # after removal nothing is recorded
    assert watch.backward_passes == 3
    assert "no backward pass" in diagnose.ZeroGradWatch(model).report().message


# ----------------------------------------------------------------------------- fit plot
def test_check_fit_plot_fires_on_true_function_silent_on_model():
    X, Y = linear_data(seed=1)
    w, b = np.polyfit(X, Y, 1)
    fig, (ax1, ax2) = plt.subplots(1, 2)
    ax1.scatter(X, Y, label="data")
    ax1.plot(X, 2 + 3 * X, label="model")
    ax2.plot(X, w * X + b, label="model")
    try:
        assert diagnose.check_fit_plot(ax1, lambda x: 2 + 3 * x).found
        f = diagnose.check_fit_plot(ax2, lambda x: 2 + 3 * x)
        assert not f.found
        assert f.details["max_abs_diff"] == pytest.approx(np.max(np.abs(w * X + b - (2 + 3 * X))))
        assert "no line labelled" in diagnose.check_fit_plot(ax2, lambda x: x, label="fit").message
    finally:
        plt.close(fig)
