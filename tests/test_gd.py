"""nblib.gd and nblib.surfaces against independent references.

References: central finite differences (float64, eps 1e-6; agreement to 1e-6 relative),
torch autograd in float64 (1e-12), numpy.polyfit for least squares (1e-10), explicit
2x2 eigenvalues for the critical learning rate (1e-12).
"""

import warnings

import numpy as np
import pytest

from nblib import gd, optim
from nblib.data import linear_data
from nblib.gradcheck import numerical_gradient
from nblib.surfaces import SURFACES, get_surface, quadratic


@pytest.fixture
def line():
    return linear_data()


def test_loss_and_grad_match_finite_differences(line):
    x, y = line
    for w, b in [(0.0, 0.0), (0.5, -1.0), (3.0, 2.0), (-7.0, 11.0)]:
        num = numerical_gradient(lambda t: np.mean((t[0] * x + t[1] - y) ** 2), np.array([w, b]))
        np.testing.assert_allclose(gd.linreg_grad(w, b, x, y), num, rtol=1e-6, atol=1e-8)
        loss, grad = gd.linreg_objective(x, y)(np.array([w, b]))
        assert loss == pytest.approx(np.mean((w * x + b - y) ** 2), rel=1e-12)
        assert gd.linreg_loss(w, b, x, y) == pytest.approx(loss, rel=1e-12)
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-8)


def test_grad_and_hessian_match_torch(line):
    torch = pytest.importorskip("torch")
    x, y = line
    xt, yt = torch.tensor(x), torch.tensor(y)

    def L(th):
        return torch.mean((th[0] * xt + th[1] - yt) ** 2)

    th = torch.tensor([0.7, -0.3], dtype=torch.float64, requires_grad=True)
    L(th).backward()
    np.testing.assert_allclose(gd.linreg_grad(0.7, -0.3, x, y), th.grad.numpy(), rtol=1e-12, atol=1e-12)
    H = torch.autograd.functional.hessian(L, torch.tensor([0.7, -0.3], dtype=torch.float64)).numpy()
    np.testing.assert_allclose(gd.linreg_hessian(x), H, rtol=1e-12, atol=1e-12)


def test_least_squares_matches_polyfit():
    rng = np.random.default_rng(5)
    x = rng.normal(3, 2, size=40)
    y = -1 + 0.7 * x + rng.normal(size=40)
    w_ref, b_ref = np.polyfit(x, y, 1)
    w, b = gd.least_squares(x, y)
    assert w == pytest.approx(w_ref, rel=1e-10) and b == pytest.approx(b_ref, rel=1e-10)


def test_critical_lr_is_two_over_largest_eigenvalue():
    x = np.array([0.0, 1.0, 2.0, 10.0])
    m2, m1 = np.mean(x * x), np.mean(x)
    # eigenvalues of 2 [[m2, m1], [m1, 1]] by the 2x2 formula
    tr, det = 2 * (m2 + 1), 4 * (m2 - m1 ** 2)
    lam_max = tr / 2 + np.sqrt(tr ** 2 / 4 - det)
    assert gd.critical_lr(x) == pytest.approx(2 / lam_max, rel=1e-12)
    assert gd.critical_lr(hessian=np.diag([4.0, 1.0])) == pytest.approx(0.5)


def test_gd_reaches_closed_form(line):
    x, y = line
    w_star, b_star = gd.least_squares(x, y)
    run = gd.gradient_descent(gd.linreg_objective(x, y), [0.0, 0.0], lr=0.1, steps=200)
    assert not run.diverged and run.cause == ""
    gap = np.hypot(run.path[:, 0] - w_star, run.path[:, 1] - b_star)
    assert gap[-1] < 1e-6
    assert np.all(np.diff(gap[:60]) < 0)  # the gap shrinks every step (lr below 1/λ_max here)
    assert run.path.shape == (201, 2) and run.losses.shape == (201,) and run.lrs.shape == (200,)


@pytest.mark.parametrize("factor", [0.97, 0.999])
def test_below_critical_converges(line, factor):
    x, y = line
    crit = gd.critical_lr(x)
    run = gd.gradient_descent(gd.linreg_objective(x, y), [-2.0, 7.0], lr=factor * crit, steps=20000,
                              critical=crit)
    assert not run.diverged
    assert run.final[0] == pytest.approx(gd.least_squares(x, y)[0], abs=1e-6)


def test_above_critical_diverges_with_a_reason_and_no_warnings(line):
    x, y = line
    crit = gd.critical_lr(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        blown = gd.gradient_descent(gd.linreg_objective(x, y), [-2.0, 7.0], lr=1.0, steps=500, critical=crit)
        rising = gd.gradient_descent(gd.linreg_objective(x, y), [-2.0, 7.0], lr=1.02 * crit, steps=50,
                                     critical=crit)
    assert blown.diverged and 1 <= blown.step < 500
    assert f"at step {blown.step}: lr=1 above 2/λ_max = {crit:.4g}" in blown.cause
    assert np.all(np.isfinite(blown.path)) and np.all(np.isfinite(blown.losses))
    assert len(blown.path) == blown.step  # rows before the step that blew up
    assert rising.diverged and rising.step == 50 and rising.cause.startswith("loss is growing")


def test_inf_loss_is_reported_as_inf():
    def f(theta):
        return (np.inf if abs(theta[0]) > 10 else theta[0] ** 2), np.array([2 * theta[0]])
    run = gd.gradient_descent(f, [1.0], lr=5.0, steps=20)
    assert run.diverged and "loss became inf at step" in run.cause


def test_run_optimizer_equals_plain_gd_for_sgd(line):
    x, y = line
    f = gd.linreg_objective(x, y)
    a = gd.gradient_descent(f, [1.0, 1.0], lr=0.05, steps=30)
    b = gd.run_optimizer(f, [1.0, 1.0], optim.SGD(0.05), 30)
    np.testing.assert_allclose(a.path, b.path, rtol=0, atol=1e-14)


def test_run_optimizer_applies_schedule(line):
    x, y = line
    sched = optim.StepDecay(0.2, step_size=5, gamma=0.5)
    run = gd.run_optimizer(gd.linreg_objective(x, y), [0.0, 0.0], optim.SGD(1.0), 12, schedule=sched)
    np.testing.assert_allclose(run.lrs, [sched(t) for t in range(12)])


def test_minibatch_sgd_full_batch_equals_gd_and_shuffles(line):
    x, y = line
    full = gd.minibatch_sgd(x, y, [0.0, 0.0], lr=0.1, epochs=10, batch_size=100, seed=0)
    plain = gd.gradient_descent(gd.linreg_objective(x, y), [0.0, 0.0], lr=0.1, steps=10)
    np.testing.assert_allclose(full["epoch_path"], plain.path, atol=1e-12)
    sgd = gd.minibatch_sgd(x, y, [0.0, 0.0], lr=0.01, epochs=3, batch_size=7, seed=0)
    assert sgd["updates_per_epoch"] == 15 and sgd["path"].shape == (46, 2)
    other = gd.minibatch_sgd(x, y, [0.0, 0.0], lr=0.01, epochs=3, batch_size=7, seed=1)
    assert not np.allclose(sgd["path"], other["path"])  # a different shuffle
    again = gd.minibatch_sgd(x, y, [0.0, 0.0], lr=0.01, epochs=3, batch_size=7, seed=0)
    np.testing.assert_array_equal(sgd["path"], again["path"])  # deterministic given the seed


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_surface_gradients_and_hessians(name):
    surf = get_surface(name)
    for p in [surf.start, np.array([0.3, -0.7]), np.array([1.2, 0.9])]:
        num = numerical_gradient(surf, p)
        np.testing.assert_allclose(surf.loss_and_grad(p)[1], num, rtol=1e-6, atol=1e-6)
        H_num = np.stack([numerical_gradient(lambda q: surf.loss_and_grad(q)[1][i], p) for i in range(2)])
        np.testing.assert_allclose(surf.hessian_at(p), H_num, rtol=1e-5, atol=1e-5)
    assert surf(surf.minimum) == pytest.approx(0.0, abs=1e-15)


def test_quadratic_condition_number():
    surf = quadratic((2.0, 50.0), 40.0)
    lam = np.linalg.eigvalsh(surf.hessian_at(np.zeros(2)))
    np.testing.assert_allclose(lam, [2.0, 50.0], rtol=1e-12)


@pytest.mark.parametrize("call, message", [
    (lambda: gd.linreg_grad(1.0, 0.0, np.zeros(3), np.zeros(4)), "linreg_grad: x has shape (3,) but y has shape (4,)"),
    (lambda: gd.linreg_loss(1.0, 0.0, np.zeros((3, 1)), np.zeros(3)), "linreg_loss: x must be 1-D"),
    (lambda: gd.linreg_grad("1", 0.0, np.zeros(3), np.zeros(3)), "linreg_grad: w must be a number"),
    (lambda: gd.least_squares(np.ones(5), np.arange(5.0)), "least_squares: x needs at least two different values"),
    (lambda: gd.critical_lr(), "critical_lr: pass exactly one of x"),
    (lambda: gd.critical_lr(hessian=-np.eye(2)), "the loss is not a bowl"),
    (lambda: gd.gradient_descent(lambda t: (0.0, t), [0.0], lr=0.0, steps=3), "gradient_descent: lr must be > 0"),
    (lambda: gd.gradient_descent(lambda t: (0.0, t), [[0.0]], lr=0.1, steps=3), "theta0 must be 1-D"),
    (lambda: gd.gradient_descent(lambda t: (np.inf, t), [1.0], lr=0.1, steps=3), "the loss at theta0 is inf"),
    (lambda: gd.run_optimizer(lambda t: (0.0, t), [1.0], "adam", 3), "optimizer must be an nblib.optim optimizer"),
    (lambda: gd.minibatch_sgd(np.zeros(5), np.zeros(5), [0.0, 0.0], 0.1, 1, batch_size=6), "batch_size=6 is larger"),
    (lambda: gd.gradient_descent(lambda t: (0.0, np.zeros(3)), [1.0, 1.0], 0.1, 3),
     "gradient_descent: the gradient from loss_and_grad has shape (3,) but the parameters have shape (2,)"),
    (lambda: gd.gradient_descent(lambda t: 1.0, [1.0, 1.0], 0.1, 3),
     "gradient_descent: loss_and_grad must return a pair (loss, grad), got float 1.0"),
    (lambda: gd.run_optimizer(lambda t: ("a", t), [1.0], optim.SGD(0.1), 3), "loss a number, got loss = str 'a'"),
    (lambda: get_surface("bowl").loss_and_grad(np.zeros(3)),
     "Surface 'bowl'.loss_and_grad: p must be a point (x, y) of shape (2,), got shape (3,)"),
    (lambda: get_surface("banana"), "unknown surface 'banana'"),
    (lambda: get_surface("bowl")([1.0, 2.0, 3.0]), "p must be a point (x, y) of shape (2,)"),
])
def test_bad_input_is_explained(call, message):
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    assert message in str(info.value)


def test_minibatch_sgd_stops_and_reports_divergence(line):
    x, y = line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = gd.minibatch_sgd(x, y, [0.0, 0.0], lr=10.0, epochs=20, batch_size=5)
    assert out["diverged"] is True and 1 <= out["step"] <= 20 * out["updates_per_epoch"]
    assert f"at step {out['step']}" in out["cause"] and "lr=10" in out["cause"]
    assert len(out["path"]) == out["step"]  # the rows before the blow-up, all finite
    for key in ("path", "epoch_path", "epoch_loss"):
        assert np.all(np.isfinite(out[key]))
    fine = gd.minibatch_sgd(x, y, [0.0, 0.0], lr=0.01, epochs=2, batch_size=5)
    assert fine["diverged"] is False and fine["step"] is None and fine["cause"] == ""


# --- the course's one divergence rule ------------------------------------------------------

def test_divergence_rule_threshold_and_causes():
    assert gd.BLOWUP == 1e12 and gd.DIVERGENCE_CAUSES == ("non-finite", "blew up")
    assert gd.divergence(3.0, 10.0) is None
    assert gd.divergence(float("nan"), 10.0) == "non-finite"
    assert gd.divergence(-np.inf, 10.0) == "non-finite"
    # the limit is BLOWUP * max(|start|, 1): exactly at it is fine, just above is not
    assert gd.divergence(1e13, 10.0) is None and gd.divergence(1.0000001e13, 10.0) == "blew up"
    assert gd.divergence(1e12, 1e-3) is None and gd.divergence(1.1e12, 1e-3) == "blew up"
    assert gd.divergence(-2e13, -10.0) == "blew up"                 # |loss| counts (log-likelihoods)
    assert gd.divergence(5.0, np.inf) is None and gd.divergence(2e12, np.nan) == "blew up"
    # a loss held in an array or a tensor is a number too
    assert gd.divergence(np.array(2e13), np.array([10.0])) == "blew up"
    torch = pytest.importorskip("torch")
    assert gd.divergence(torch.tensor(float("inf")), torch.tensor(1.0)) == "non-finite"


@pytest.mark.parametrize("bad", ["1.0", None, [1.0, 2.0], np.zeros(3), True])
def test_divergence_names_a_loss_that_is_not_a_number(bad):
    with pytest.raises(TypeError, match=r"^divergence: loss must be a number"):
        gd.divergence(bad, 1.0)


def test_loops_report_the_structured_reason(line):
    x, y = line
    f = gd.linreg_objective(x, y)
    lr_c = gd.critical_lr(x)
    assert gd.gradient_descent(f, [0.0, 0.0], 0.5 * lr_c, 50).reason is None
    blown = gd.gradient_descent(f, [0.0, 0.0], 3 * lr_c, 500)
    assert blown.reason in gd.DIVERGENCE_CAUSES
    assert gd.gradient_descent(f, [0.0, 0.0], 1.05 * lr_c, 50).reason == "still rising"
    # gradient ascent on t² from 0.45 crosses 0.5 at step 1, where this loss turns NaN
    nan = gd.gradient_descent(lambda t: (float("nan") if t[0] > 0.5 else float(t @ t), -2 * t), [0.45], 0.1, 5)
    assert nan.reason == "non-finite" and nan.step == 1
    out = gd.minibatch_sgd(x, y, [0.0, 0.0], 10.0, 20, 4)
    assert out["diverged"] and out["reason"] in gd.DIVERGENCE_CAUSES
    assert gd.minibatch_sgd(x, y, [0.0, 0.0], 0.01, 2, 4)["reason"] is None


def test_divergence_fast_path_agrees_with_the_full_rule():
    """Two floats take a fast path; 0-d arrays take the full rule. They must agree everywhere."""
    values = [0.0, -0.0, 1.0, -1.0, 0.5, 3.0, -7.0, 1e12, 1e13, -2e13, 1e300, np.inf, -np.inf, np.nan]
    for loss in values:
        for start in values:
            assert gd.divergence(float(loss), float(start)) == gd.divergence(np.array(loss), np.array(start)), \
                (loss, start)
