"""nblib.losses against finite differences, PyTorch (float64) and closed forms.

Tolerances: analytic vs PyTorch 1e-12 absolute (same formula, float64 rounding only);
analytic vs central differences (eps=1e-6): |a - n| <= 1e-8 + 1e-6 |n| (the difference
quotient's rounding error is about 1e-16 |L| / eps, up to ~3e-9 for these sums; entries near zero make a purely relative test
meaningless).
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nblib import gradcheck, losses as L

RNG = np.random.default_rng(2024)
TORCH_TOL = 1e-12
FD_ATOL, FD_RTOL = 1e-8, 1e-6


def assert_fd_close(analytic, numeric):
    np.testing.assert_allclose(analytic, numeric, rtol=FD_RTOL, atol=FD_ATOL)


def t64(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


# ---------------------------------------------------------------------- MSE
@pytest.mark.parametrize("shape", [(7,), (4, 3), (1,)])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_and_grad_match_torch_and_finite_differences(shape, reduction):
    p, t = RNG.normal(size=shape), RNG.normal(size=shape)
    pt = t64(p, grad=True)
    loss_t = F.mse_loss(pt, t64(t), reduction=reduction)
    loss_t.backward()
    assert abs(L.mse(p, t, reduction) - loss_t.item()) < TORCH_TOL
    np.testing.assert_allclose(L.mse_grad(p, t, reduction), pt.grad.numpy(), rtol=0, atol=TORCH_TOL)
    num = gradcheck.numerical_gradient(lambda v: L.mse(v, t, reduction), p)
    assert_fd_close(L.mse_grad(p, t, reduction), num)


def test_mse_zero_at_target_and_sum_is_n_times_mean():
    p = RNG.normal(size=10)
    assert L.mse(p, p) == 0.0
    t = RNG.normal(size=10)
    assert L.mse(p, t, "sum") == pytest.approx(10 * L.mse(p, t))


# ------------------------------------------------------------------ sigmoid/BCE
def test_sigmoid_stable_and_symmetric():
    z = np.array([-1e4, -50.0, -1.0, 0.0, 1.0, 50.0, 1e4])
    s = L.sigmoid(z)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s + L.sigmoid(-z), 1.0, atol=1e-15)
    np.testing.assert_allclose(s, torch.sigmoid(t64(z)).numpy(), atol=1e-15)
    assert s[3] == 0.5 and s[0] == 0.0 and s[-1] == 1.0


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_matches_torch_including_extreme_logits(reduction):
    z = np.r_[RNG.normal(scale=4, size=9), 1e4, -1e4, 800.0]
    y = np.r_[RNG.integers(0, 2, size=9), 0.0, 1.0, 1.0].astype(float)
    zt = t64(z, grad=True)
    lt = F.binary_cross_entropy_with_logits(zt, t64(y), reduction=reduction)
    lt.backward()
    assert np.isfinite(L.binary_cross_entropy(z, y, reduction))
    assert L.binary_cross_entropy(z, y, reduction) == pytest.approx(lt.item(), rel=1e-12)
    np.testing.assert_allclose(L.binary_cross_entropy_grad(z, y, reduction), zt.grad.numpy(), atol=TORCH_TOL)


def test_bce_grad_finite_differences_and_soft_targets():
    z, y = RNG.normal(size=6), RNG.uniform(size=6)
    num = gradcheck.numerical_gradient(lambda v: L.binary_cross_entropy(v, y), z)
    assert_fd_close(L.binary_cross_entropy_grad(z, y), num)


def test_bce_value_closed_form():
    # z = 0 means p = 1/2, so each sample costs log 2 whatever its label
    assert L.binary_cross_entropy(np.zeros(4), np.array([0.0, 1.0, 1.0, 0.0])) == pytest.approx(np.log(2))


# -------------------------------------------------------------- softmax / CE
def test_softmax_and_log_softmax_match_torch_and_survive_1e4():
    z = np.r_[RNG.normal(size=(3, 4)), [[1e4, -1e4, 0.0, 1e4]]]
    np.testing.assert_allclose(L.softmax(z), torch.softmax(t64(z), 1).numpy(), atol=1e-15)
    np.testing.assert_allclose(L.log_softmax(z), torch.log_softmax(t64(z), 1).numpy(), atol=1e-9)
    np.testing.assert_allclose(L.softmax(z).sum(axis=1), 1.0, atol=1e-15)
    np.testing.assert_allclose(L.softmax(z)[-1], [0.5, 0.0, 0.0, 0.5])
    # axis=0 normalises columns
    np.testing.assert_allclose(L.softmax(z, axis=0).sum(axis=0), 1.0, atol=1e-15)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_matches_torch(reduction):
    z = RNG.normal(scale=3, size=(6, 5))
    y = RNG.integers(0, 5, size=6)
    zt = t64(z, grad=True)
    lt = F.cross_entropy(zt, torch.tensor(y), reduction=reduction)
    lt.backward()
    assert L.cross_entropy(z, y, reduction) == pytest.approx(lt.item(), rel=1e-12)
    np.testing.assert_allclose(L.cross_entropy_grad(z, y, reduction), zt.grad.numpy(), atol=TORCH_TOL)
    num = gradcheck.numerical_gradient(lambda v: L.cross_entropy(v, y, reduction), z)
    assert_fd_close(L.cross_entropy_grad(z, y, reduction), num)


def test_cross_entropy_extreme_logits_finite_and_correct():
    z = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0]])
    y = np.array([2, 1])
    # sample 1: margin 2e4 against the true class; sample 2: correct with margin 1e4 -> loss 0
    assert L.cross_entropy(z, y, "sum") == pytest.approx(2e4)
    g = L.cross_entropy_grad(z, y)
    assert np.all(np.isfinite(g))
    # closed form: softmax rows are [1, 0, 0] and [0, 1, 0]; minus one-hot, over n = 2
    np.testing.assert_allclose(g, [[0.5, 0.0, -0.5], [0.0, 0.0, 0.0]], atol=1e-15)
    zt = t64(z, grad=True)
    F.cross_entropy(zt, torch.tensor(y)).backward()
    np.testing.assert_allclose(g, zt.grad.numpy(), atol=1e-15)


def test_cross_entropy_one_hot_and_soft_targets_match_ids_and_torch():
    z = RNG.normal(size=(4, 3))
    y = np.array([0, 2, 1, 2])
    onehot = L.one_hot(y, 3)
    assert L.cross_entropy(z, onehot) == pytest.approx(L.cross_entropy(z, y), rel=1e-14)
    np.testing.assert_allclose(L.cross_entropy_grad(z, onehot), L.cross_entropy_grad(z, y))
    soft = np.full((4, 3), 0.2) + 0.4 * onehot
    assert L.cross_entropy(z, soft) == pytest.approx(F.cross_entropy(t64(z), t64(soft)).item(), rel=1e-12)


def test_one_hot():
    np.testing.assert_array_equal(L.one_hot(np.array([1, 0, 2]), 3), np.eye(3)[[1, 0, 2]])


# ---------------------------------------------------------------- bad input
BAD = [
    (lambda: L.mse(np.zeros((5, 1)), np.zeros(5)), ValueError, r"mse: y_pred has shape \(5, 1\) but y_true has shape \(5,\)"),
    (lambda: L.mse(np.zeros(3), np.zeros(4)), ValueError, r"y_pred has shape \(3,\) but y_true has shape \(4,\)"),
    (lambda: L.mse_grad([1.0, np.nan], [0.0, 0.0]), ValueError, r"mse_grad: y_pred contains 1 NaN"),
    (lambda: L.mse([], []), ValueError, r"mse: y_pred is empty"),
    (lambda: L.mse("abc", [1.0]), TypeError, r"mse: y_pred must be a number or an array of numbers, got str"),
    (lambda: L.mse([1.0], [1.0], reduction="avg"), ValueError, r"reduction must be 'mean' or 'sum', got 'avg'"),
    (lambda: L.cross_entropy(np.zeros((5, 3)), np.zeros((5, 1), int)), ValueError,
     r"cross_entropy: labels has shape \(5, 1\) but logits has batch size 5; pass labels as shape \(5,\) integer"),
    (lambda: L.cross_entropy(np.zeros((5, 3)), np.zeros(4, int)), ValueError,
     r"labels has shape \(4,\) but logits has batch size 5; pass labels as shape \(5,\) integer class ids"),
    (lambda: L.cross_entropy(np.zeros((2, 3)), np.array([0, 3])), ValueError,
     r"labels must lie in \[0, 2\] for 3 classes, got \[3\]"),
    (lambda: L.cross_entropy(np.zeros((2, 3)), np.array([-1, 0])), ValueError, r"got \[-1\]"),
    (lambda: L.cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])), TypeError,
     r"labels must be integer class ids, got dtype float64; .*astype\(int\)"),
    (lambda: L.cross_entropy(np.zeros(3), np.array([0])), ValueError,
     r"logits must be 2-D \(batch n, classes C\), got shape \(3,\); for a single sample use logits\[None, :\]"),
    (lambda: L.cross_entropy(np.array([[np.inf, 0.0]]), np.array([0])), ValueError, r"logits contains 1 NaN or infinite"),
    (lambda: L.cross_entropy(np.zeros((2, 2)), np.array([[0.7, 0.7], [0.5, 0.5]])), ValueError,
     r"2-D labels must be one-hot or probabilities"),
    (lambda: L.binary_cross_entropy(np.zeros(3), np.array([0.0, 1.0, 2.0])), ValueError,
     r"targets must lie in \[0, 1\].*got values from 0 to 2"),
    (lambda: L.binary_cross_entropy(np.zeros((3, 1)), np.zeros(3)), ValueError, r"logits has shape \(3, 1\) but targets has shape \(3,\)"),
    (lambda: L.softmax(np.zeros((2, 3)), axis=2), ValueError, r"softmax: axis=2 is not valid for an array of shape \(2, 3\)"),
    (lambda: L.one_hot(np.array([0, 1]), 0), ValueError, r"one_hot: num_classes must be a positive int, got 0"),
    (lambda: L.one_hot(np.array([[0, 1]]), 2), ValueError, r"one_hot: labels must be 1-D integer class ids"),
    (lambda: L.sigmoid(None), TypeError, r"sigmoid: z must be a number or an array of numbers, got NoneType"),
]


@pytest.mark.parametrize("call, exc, pattern", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_gives_named_error(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()
