"""nblib.optim against torch.optim, step by step, in float64.

Tolerance: every parameter of every step agrees with torch.optim to 1e-12 absolute
(float64 rounding of a few operations per step; both follow the same equations).
Schedules agree with torch.optim.lr_scheduler to 1e-15 relative.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nblib import optim  # noqa: E402
from nblib.surfaces import get_surface  # noqa: E402

TOL = 1e-12


def _problem():
    """A least-squares problem with two named parameters (a matrix and a bias)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    Y = rng.normal(size=(20, 2))
    W0 = rng.normal(size=(3, 2))
    b0 = rng.normal(size=2)
    return X, Y, W0, b0


def _np_grads(X, Y, W, b):
    R = X @ W + b - Y
    return {"W": 2 * X.T @ R / R.size, "b": 2 * R.sum(0) / R.size}


def _torch_pair(name, hyper, wd):
    """(our optimizer, a function making the equivalent torch optimizer)."""
    if name == "SGD":
        return optim.SGD(hyper["lr"], weight_decay=wd), lambda p: torch.optim.SGD(p, lr=hyper["lr"],
                                                                                  weight_decay=wd)
    if name == "Momentum":
        return (optim.Momentum(hyper["lr"], beta=hyper["beta"], weight_decay=wd),
                lambda p: torch.optim.SGD(p, lr=hyper["lr"], momentum=hyper["beta"], weight_decay=wd))
    if name == "RMSProp":
        return (optim.RMSProp(hyper["lr"], alpha=hyper["alpha"], eps=hyper["eps"], weight_decay=wd),
                lambda p: torch.optim.RMSprop(p, lr=hyper["lr"], alpha=hyper["alpha"], eps=hyper["eps"],
                                              weight_decay=wd))
    if name == "AdamW":
        return (optim.AdamW(hyper["lr"], betas=hyper["betas"], eps=hyper["eps"], weight_decay=wd),
                lambda p: torch.optim.AdamW(p, lr=hyper["lr"], betas=hyper["betas"], eps=hyper["eps"],
                                            weight_decay=wd))
    return (optim.Adam(hyper["lr"], betas=hyper["betas"], eps=hyper["eps"], weight_decay=wd),
            lambda p: torch.optim.Adam(p, lr=hyper["lr"], betas=hyper["betas"], eps=hyper["eps"],
                                       weight_decay=wd))


CASES = [
    ("SGD", {"lr": 0.05}),
    ("Momentum", {"lr": 0.02, "beta": 0.9}),
    ("Momentum", {"lr": 0.05, "beta": 0.5}),
    ("RMSProp", {"lr": 0.01, "alpha": 0.99, "eps": 1e-8}),
    ("RMSProp", {"lr": 0.003, "alpha": 0.9, "eps": 1e-3}),
    ("Adam", {"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8}),
    ("Adam", {"lr": 0.05, "betas": (0.5, 0.9), "eps": 1e-4}),
    ("AdamW", {"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8}),
    ("AdamW", {"lr": 0.05, "betas": (0.5, 0.9), "eps": 1e-4}),
]


@pytest.mark.parametrize("wd", [0.0, 0.1, 1.5])
@pytest.mark.parametrize("name,hyper", CASES)
def test_trajectory_matches_torch(name, hyper, wd):
    X, Y, W0, b0 = _problem()
    ours, make_torch = _torch_pair(name, hyper, wd)
    params = {"W": W0.copy(), "b": b0.copy()}
    Wt = torch.tensor(W0, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(b0, dtype=torch.float64, requires_grad=True)
    topt = make_torch([Wt, bt])
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    for step in range(60):
        ours.step(params, _np_grads(X, Y, params["W"], params["b"]))
        topt.zero_grad()
        loss = torch.mean((Xt @ Wt + bt - Yt) ** 2)
        loss.backward()
        topt.step()
        np.testing.assert_allclose(params["W"], Wt.detach().numpy(), rtol=0, atol=TOL,
                                   err_msg=f"{name} step {step + 1}")
        np.testing.assert_allclose(params["b"], bt.detach().numpy(), rtol=0, atol=TOL,
                                   err_msg=f"{name} step {step + 1}")
    assert ours.state_dict()["t"] == 60


@pytest.mark.parametrize("name", ["SGD", "Momentum", "RMSProp", "Adam", "AdamW"])
def test_rosenbrock_trajectory_matches_torch(name):
    """A non-quadratic surface: the path on Rosenbrock agrees with torch.optim step by step."""
    surf = get_surface("rosenbrock")
    hyper = {"SGD": {"lr": 1e-3}, "Momentum": {"lr": 1e-3, "beta": 0.9},
             "RMSProp": {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8},
             "Adam": {"lr": 2e-2, "betas": (0.9, 0.999), "eps": 1e-8},
             "AdamW": {"lr": 2e-2, "betas": (0.9, 0.999), "eps": 1e-8}}[name]
    ours, make_torch = _torch_pair(name, hyper, 0.05 if name == "AdamW" else 0.0)
    p = {"xy": surf.start.copy()}
    pt = torch.tensor(surf.start, requires_grad=True)
    topt = make_torch([pt])
    for step in range(200):
        ours.step(p, {"xy": surf.loss_and_grad(p["xy"])[1]})
        topt.zero_grad()
        loss = (1 - pt[0]) ** 2 + 100 * (pt[1] - pt[0] ** 2) ** 2
        loss.backward()
        topt.step()
        np.testing.assert_allclose(p["xy"], pt.detach().numpy(), rtol=0, atol=1e-10,
                                   err_msg=f"{name} step {step + 1}")


def test_momentum_first_step_is_sgd_and_state_is_per_name():
    opt = optim.Momentum(0.1, beta=0.9)
    a, b = np.array([1.0, 2.0]), np.array([3.0])
    opt.step({"a": a, "b": b}, {"a": np.array([1.0, 1.0]), "b": np.array([2.0])})
    np.testing.assert_allclose(a, [0.9, 1.9], atol=1e-15)
    np.testing.assert_allclose(b, [2.8], atol=1e-15)
    opt.step({"a": a, "b": b}, {"a": np.array([1.0, 1.0]), "b": np.array([0.0])})
    # v_a = 0.9 * 1 + 1 = 1.9; v_b = 0.9 * 2 + 0 = 1.8
    np.testing.assert_allclose(a, [0.9 - 0.19, 1.9 - 0.19], atol=1e-15)
    np.testing.assert_allclose(b, [2.8 - 0.18], atol=1e-15)
    sd = opt.state_dict()
    assert sd["t"] == 2 and set(sd["velocity"]) == {"a", "b"}
    sd["velocity"]["a"][:] = 99  # a copy: the optimizer is unaffected
    assert opt.state_dict()["velocity"]["a"][0] == pytest.approx(1.9)


def test_adam_first_step_has_size_lr():
    """With bias correction (t incremented before use), Adam's first step is lr * sign(g) (up to eps)."""
    opt = optim.Adam(0.1, eps=0.0)
    p = np.array([1.0, -1.0, 5.0])
    opt.step({"p": p}, {"p": np.array([1e-3, -20.0, 3.0])})
    np.testing.assert_allclose(p, [0.9, -0.9, 4.9], atol=1e-14)
    assert opt.state_dict()["t"] == 1


def test_lr_can_change_between_steps():
    opt = optim.SGD(0.1)
    p = np.array([1.0])
    opt.step({"p": p}, {"p": np.array([1.0])})
    opt.lr = 0.01
    opt.step({"p": p}, {"p": np.array([1.0])})
    np.testing.assert_allclose(p, [1.0 - 0.1 - 0.01], atol=1e-15)


def _torch_lrs(make_sched, steps):
    p = torch.zeros(1, requires_grad=True)
    o = torch.optim.SGD([p], lr=0.1)
    s = make_sched(o)
    lrs = []
    for _ in range(steps):
        lrs.append(o.param_groups[0]["lr"])
        o.step()
        s.step()
    return np.array(lrs)


def test_schedules_match_torch():
    sched = torch.optim.lr_scheduler
    ours = np.array([optim.StepDecay(0.1, step_size=7, gamma=0.5)(t) for t in range(40)])
    np.testing.assert_allclose(ours, _torch_lrs(lambda o: sched.StepLR(o, 7, 0.5), 40), rtol=1e-15)
    ours = np.array([optim.ExponentialDecay(0.1, gamma=0.93)(t) for t in range(40)])
    np.testing.assert_allclose(ours, _torch_lrs(lambda o: sched.ExponentialLR(o, 0.93), 40), rtol=1e-13)
    # CosineAnnealingLR is computed recursively in torch; equal to the closed form to rounding
    ours = np.array([optim.CosineDecay(0.1, total_steps=30, lr_min=0.001)(t) for t in range(31)])
    np.testing.assert_allclose(ours, _torch_lrs(lambda o: sched.CosineAnnealingLR(o, T_max=30, eta_min=0.001), 31),
                               rtol=1e-12, atol=1e-15)


def test_cosine_stays_at_minimum_after_total_steps():
    c = optim.CosineDecay(1.0, total_steps=10, lr_min=0.1)
    assert c(0) == 1.0 and c(10) == pytest.approx(0.1) and c(25) == pytest.approx(0.1)
    assert c(5) == pytest.approx(0.55)


@pytest.mark.parametrize("call, message", [
    (lambda: optim.SGD(-0.1), "SGD: lr must be a finite number >= 0, got -0.1"),
    (lambda: optim.AdamW(0.1, weight_decay=-1), "AdamW: weight_decay must be >= 0"),
    (lambda: optim.Adam(0.1, rule="adam"), "Adam: rule must be a step function such as adam_step"),
    (lambda: optim.Momentum(0.1, beta=1.0), "Momentum: beta must satisfy 0 <= beta < 1"),
    (lambda: optim.Adam(0.1, betas=0.9), "Adam: betas must be a pair"),
    (lambda: optim.RMSProp("0.1"), "RMSProp: lr must be a number"),
    (lambda: optim.SGD(0.1).step({"w": np.zeros(3)}, {"v": np.zeros(3)}), "missing in grads: ['w']"),
    (lambda: optim.SGD(0.1).step({"w": np.zeros(3)}, {"w": np.zeros(4)}),
     "grads['w'] has shape (4,) but params['w'] has shape (3,)"),
    (lambda: optim.SGD(0.1).step({"w": np.zeros(3, dtype=int)}, {"w": np.zeros(3)}),
     "params['w'] must be a float numpy array"),
    (lambda: optim.SGD(0.1).step([np.zeros(3)], [np.zeros(3)]), "params and grads must be dicts"),
    (lambda: optim.StepDecay(0.1, step_size=0), "StepDecay: step_size must be > 0"),
    (lambda: optim.CosineDecay(0.1, 10, lr_min=0.5), "lr_min=0.5 must not exceed lr0=0.1"),
    (lambda: optim.ExponentialDecay(0.1, 0.9)(-1), "ExponentialDecay: t must be >= 0"),
    (lambda: optim.StepDecay(0.1, 3)(1.5), "StepDecay: t must be a step or epoch index"),
])
def test_bad_input_is_explained(call, message):
    with pytest.raises((TypeError, ValueError), match=None) as info:
        call()
    assert message in str(info.value)


def test_lr_set_to_nan_is_refused_at_step():
    opt = optim.SGD(0.1)
    opt.lr = float("nan")
    with pytest.raises(ValueError, match="SGD.step: lr must be a finite number"):
        opt.step({"p": np.zeros(1)}, {"p": np.zeros(1)})


def test_adamw_default_decay_matches_torch_default():
    """AdamW() and torch.optim.AdamW() share their default weight_decay (0.01)."""
    X, Y, W0, b0 = _problem()
    ours = optim.AdamW(0.05)
    params = {"W": W0.copy(), "b": b0.copy()}
    Wt = torch.tensor(W0, requires_grad=True)
    bt = torch.tensor(b0, requires_grad=True)
    topt = torch.optim.AdamW([Wt, bt], lr=0.05)
    assert ours.weight_decay == topt.param_groups[0]["weight_decay"]
    for step in range(30):
        ours.step(params, _np_grads(X, Y, params["W"], params["b"]))
        topt.zero_grad()
        torch.mean((torch.tensor(X) @ Wt + bt - torch.tensor(Y)) ** 2).backward()
        topt.step()
        np.testing.assert_allclose(params["W"], Wt.detach().numpy(), rtol=0, atol=TOL)


def test_adamw_decay_differs_from_l2_in_adam():
    """Decoupled decay and L2-in-the-gradient are different methods for Adam (not for SGD)."""
    X, Y, W0, b0 = _problem()
    runs = {}
    for name, opt in {"L2": optim.Adam(0.05, weight_decay=0.5), "AdamW": optim.AdamW(0.05, weight_decay=0.5),
                      "none": optim.Adam(0.05)}.items():
        params = {"W": W0.copy(), "b": b0.copy()}
        for _ in range(40):
            opt.step(params, _np_grads(X, Y, params["W"], params["b"]))
        runs[name] = params["W"]
    assert np.max(np.abs(runs["L2"] - runs["AdamW"])) > 1e-3
    assert np.max(np.abs(runs["AdamW"] - runs["none"])) > 1e-3


def test_adamw_step_is_decay_then_adam():
    rng = np.random.default_rng(3)
    p, g, m, v = rng.normal(size=(4, 5))
    v = v ** 2
    got = optim.adamw_step(p, g, m, v, 3, 0.1, 0.9, 0.99, 1e-8, 0.2)
    want = optim.adam_step(p * (1 - 0.1 * 0.2), g, m, v, 3, 0.1, 0.9, 0.99, 1e-8)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    # decay 0 is exactly Adam
    for a, b in zip(optim.adamw_step(p, g, m, v, 3, 0.1, 0.9, 0.99, 1e-8, 0.0),
                    optim.adam_step(p, g, m, v, 3, 0.1, 0.9, 0.99, 1e-8)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("rule, args, n_out", [
    (optim.sgd_step, (0.1,), 1),
    (optim.momentum_step, (np.ones(4), 0.1, 0.9), 2),
    (optim.rmsprop_step, (np.ones(4), 0.1, 0.9, 1e-8), 2),
    (optim.adam_step, (np.ones(4), np.ones(4), 2, 0.1, 0.9, 0.99, 1e-8), 3),
    (optim.adamw_step, (np.ones(4), np.ones(4), 2, 0.1, 0.9, 0.99, 1e-8, 0.1), 3),
])
def test_step_functions_do_not_modify_their_inputs(rule, args, n_out):
    p, g = np.arange(4.0), np.linspace(-1, 1, 4)
    before = [p.copy(), g.copy()] + [a.copy() for a in args if isinstance(a, np.ndarray)]
    out = rule(p, g, *args)
    after = [p, g] + [a for a in args if isinstance(a, np.ndarray)]
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    assert (len(out) if n_out > 1 else 1) == n_out


def test_step_functions_work_on_floats_like_arrays():
    """The race widget calls the rules on plain floats per coordinate: same numbers as arrays."""
    p, g, m, v = np.array([0.3, -1.2]), np.array([2.0, -0.5]), np.array([0.1, 0.2]), np.array([0.4, 0.01])
    arr = optim.adam_step(p, g, m, v, 4, 0.05, 0.9, 0.999, 1e-8)
    for i in range(2):
        fl = optim.adam_step(float(p[i]), float(g[i]), float(m[i]), float(v[i]), 4, 0.05, 0.9, 0.999, 1e-8)
        for a, b in zip(arr, fl):
            assert float(a[i]) == float(b)


def test_classes_call_the_step_functions():
    """A rule= passed to a class is what the class runs (each rule written once)."""
    calls = []

    def spy(p, g, m, v, t, lr, beta1, beta2, eps):
        calls.append(t)
        return optim.adam_step(p, g, m, v, t, lr, beta1, beta2, eps)

    ours, ref = optim.Adam(0.1, rule=spy), optim.Adam(0.1)
    assert optim.Adam.rule is optim.adam_step and optim.AdamW.rule is optim.adamw_step
    assert optim.RMSProp.rule is optim.rmsprop_step and optim.Momentum.rule is optim.momentum_step
    a, b = {"w": np.ones(3)}, {"w": np.ones(3)}
    for _ in range(3):
        ours.step(a, {"w": a["w"] * 2})
        ref.step(b, {"w": b["w"] * 2})
    assert calls == [1, 2, 3]
    np.testing.assert_array_equal(a["w"], b["w"])


def test_a_wrong_rule_is_reported_by_name():
    def bad(p, g, v, lr, beta):
        return p - lr * g                          # forgot to return v
    with pytest.raises(TypeError, match="the step function bad must return a tuple of 2"):
        optim.Momentum(0.1, rule=bad).step({"w": np.ones(2)}, {"w": np.ones(2)})

    def wrong_shape(p, g, lr):
        return np.sum(p - lr * g)
    with pytest.raises(ValueError, match="must have the parameter's shape"):
        optim.SGD(0.1, rule=wrong_shape).step({"w": np.ones(2)}, {"w": np.ones(2)})


@pytest.mark.parametrize("bad", [-0.01, float("nan"), float("inf")])
def test_a_schedule_that_goes_negative_is_a_named_error(bad):
    from nblib import gd
    surf = get_surface("ravine")
    with pytest.raises(optim.LearningRateError, match=r"SGD.step: lr must be a finite number >= 0"):
        gd.run_optimizer(surf.loss_and_grad, surf.start, optim.SGD(0.01), 20,
                         schedule=lambda t: 0.01 if t < 5 else bad)
    with pytest.raises(optim.LearningRateError, match=r"schedule\(3\) must be a finite number >= 0"):
        optim.scheduled_lr(lambda t: bad, 3)
    assert optim.scheduled_lr(optim.StepDecay(0.1, 2), 3) == pytest.approx(0.01)
    assert issubclass(optim.LearningRateError, ValueError)


def test_what_a_learner_plausibly_passes_works():
    """Lists and tensors as gradients, numpy scalars and arrays as hyper-parameters: a correct result."""
    p = {"w": np.ones(2)}
    optim.Adam(0.1, betas=np.array([0.9, 0.99])).step(p, {"w": torch.ones(2, dtype=torch.float64)})
    np.testing.assert_allclose(p["w"], [0.9, 0.9], atol=1e-12)
    optim.Momentum(np.float32(0.5), beta=np.float64(0.0)).step(p, {"w": [1.0, 2.0]})
    np.testing.assert_allclose(p["w"], [0.4, -0.1], atol=1e-7)
