"""Bad input to nblib.optim, nblib.surfaces, the optimizer race and notebook 03's checkers:
every error names the function, the argument, what was expected and what came (rows in the
format of tests/test_robustness.py). Also: a learning-rate schedule that goes negative or
NaN is a named error, never silent gradient ascent."""

import numpy as np
import pytest

import test_robustness
from test_robustness import Bad, m

z = np.zeros


def _no_return_v(p, g, v, lr, beta):
    return p - lr * g


def _scalar_p(p, g, lr):
    return float(np.sum(p - lr * g))


ROWS = [
    # ---------------------------------------------------------------- optim: constructors
    Bad("AdamW negative weight_decay", lambda: m("optim").AdamW(0.01, weight_decay=-0.1), ValueError,
        r"^AdamW: weight_decay", r">= 0", r"-0.1"),
    Bad("Adam rule not a function", lambda: m("optim").Adam(0.01, rule="adam"), TypeError,
        r"^Adam: rule", r"step function such as adam_step", r"str 'adam'"),
    Bad("RMSProp alpha = 1", lambda: m("optim").RMSProp(0.01, alpha=1.0), ValueError,
        r"^RMSProp: alpha", r"0 <= alpha < 1", r"1.0"),
    Bad("Momentum beta as a string", lambda: m("optim").Momentum(0.01, beta="0.9"), TypeError,
        r"^Momentum: beta", r"a number", r"str '0.9'"),
    Bad("SGD lr NaN", lambda: m("optim").SGD(float("nan")), ValueError,
        r"^SGD: lr", r"finite number >= 0", r"nan"),
    Bad("Adam lr as a 1-element array", lambda: m("optim").Adam(np.array([0.1])), TypeError,
        r"^Adam: lr", r"a number", r"array of shape \(1,\)"),
    Bad("CosineDecay total_steps 0", lambda: m("optim").CosineDecay(0.1, 0), ValueError,
        r"^CosineDecay: total_steps", r"> 0", r"got 0"),
    Bad("ExponentialDecay negative gamma", lambda: m("optim").ExponentialDecay(0.1, -0.5), ValueError,
        r"^ExponentialDecay: gamma", r"> 0", r"-0.5"),
    # ---------------------------------------------------------------- optim: step
    Bad("step after lr was set negative",
        lambda: (lambda o: (setattr(o, "lr", -0.01), o.step({"w": z(2)}, {"w": z(2)})))(m("optim").SGD(0.1)),
        ValueError, r"^SGD.step: lr", r"finite number >= 0", r"-0.01 \(a negative rate would run gradient ascent\)"),
    Bad("step with a 0-d parameter", lambda: m("optim").SGD(0.1).step({"w": np.float64(1.0)}, {"w": 1.0}),
        TypeError, r"^SGD.step: params\['w'\]", r"float numpy array", r"float64"),
    Bad("step with a gradient of another ndim",
        lambda: m("optim").Adam().step({"W": z((2, 2))}, {"W": z(4)}), ValueError,
        r"^Adam.step: grads\['W'\]", r"2-D", r"shape \(4,\)"),
    Bad("a rule that forgets to return the state",
        lambda: m("optim").Momentum(0.1, rule=_no_return_v).step({"w": z(2)}, {"w": z(2)}), TypeError,
        r"^Momentum.step: the step function _no_return_v", r"a tuple of 2: \(p, velocity\)", r"array of shape"),
    Bad("a rule that returns a number for p",
        lambda: m("optim").SGD(0.1, rule=_scalar_p).step({"w": z(2)}, {"w": z(2)}), ValueError,
        r"^SGD.step: the step function _scalar_p returned p", r"parameter's shape \(2,\)", r"float 0.0"),
    # ---------------------------------------------------------------- schedules
    Bad("scheduled_lr of a schedule going negative", lambda: m("optim").scheduled_lr(lambda t: 0.1 - 0.05 * t, 3),
        ValueError, r"schedule\(3\)", r"finite number >= 0", r"-0.05"),
    Bad("scheduled_lr of a schedule returning None", lambda: m("optim").scheduled_lr(lambda t: None, 0),
        TypeError, r"schedule\(0\)", r"a number >= 0", r"NoneType None"),
    Bad("scheduled_lr of a number", lambda: m("optim").scheduled_lr(0.1, 0), TypeError,
        r"schedule: schedule", r"a function t -> lr", r"float 0.1"),
    Bad("run_optimizer with a schedule going negative",
        lambda: m("gd").run_optimizer(m("surfaces").get_surface("ravine").loss_and_grad, [1.0, 1.0],
                                      m("optim").SGD(0.01), 20, schedule=lambda t: 0.01 - 0.002 * t),
        ValueError, r"SGD.step: lr", r"finite number >= 0", r"gradient ascent"),
    # ---------------------------------------------------------------- surfaces
    Bad("get_surface of a number", lambda: m("surfaces").get_surface(3), ValueError,
        r"^get_surface: unknown surface", r"choose one of \[", r"3"),
    Bad("quadratic with one curvature", lambda: m("surfaces").quadratic(curvatures=(1.0,)), ValueError,
        r"^quadratic: curvatures", r"two positive numbers", r"\[1.0\]"),
    Bad("Surface called on a 3-vector", lambda: m("surfaces").get_surface("ravine")(z(3)), ValueError,
        r"Surface 'ravine': p", r"shape \(2,\)", r"shape \(3,\)"),
    # ---------------------------------------------------------------- the race
    Bad("optimizer_race rules for an unknown optimizer",
        lambda: m("widgets.gd").optimizer_race(rules={"Nadam": np.sum}), ValueError,
        r"optimizer_race: rules", r"optimizer names \['SGD', 'Momentum', 'RMSProp', 'Adam'\]", r"'Nadam'"),
    Bad("optimizer_race rule not a function",
        lambda: m("widgets.gd").optimizer_race(rules={"Adam": "adam"}), ValueError,
        r"optimizer_race: rules", r"step functions", r"str 'adam'"),
    Bad("race set optimizers to an unknown name", lambda: m("widgets.gd").optimizer_race().set(optimizers="Nadam"),
        ValueError, r"control 'optimizers'", r"must be one of \[", r"'Nadam'"),
    Bad("race set lr to 0", lambda: m("widgets.gd").optimizer_race().set(lr=0), ValueError,
        r"Optimizer race: control 'lr'", r"between 0.0001 and 1", r"got 0"),
    Bad("race set lr to a string", lambda: m("widgets.gd").optimizer_race().set(lr_adaptive="0.1"), TypeError,
        r"Optimizer race: control 'lr_adaptive'", r"expects a number", r"str '0.1'"),
    Bad("race_path unknown optimizer",
        lambda: m("widgets.gd").race_path("Nadam", "ravine", 0.1, 0.1, 0.9, 0.99, 0.999, 10), ValueError,
        r"optimizer_race: unknown optimizer", r"choose from \[", r"'Nadam'"),
    Bad("race_run unknown surface",
        lambda: m("widgets.gd").race_run("hill", ["SGD"], 0.1, 0.1, 0.9, 0.99, 0.9, 5), ValueError,
        r"unknown surface", r"choose one of", r"'hill'"),
    Bad("on_rate_grid of a negative rate", lambda: m("widgets.gd").on_rate_grid(-0.1), ValueError,
        r"optimizer_race: a learning rate", r"> 0", r"-0.1"),
    # ---------------------------------------------------------------- checkers (never raise)
    Bad("check.rmsprop_step given an array", lambda: m("check").rmsprop_step(z(3)), TypeError,
        r"rmsprop_step", r"expected a function", r"array of shape \(3,\)", kind="check"),
    Bad("check.rmsprop_step given the call's result",
        lambda: m("check").rmsprop_step(m("optim").rmsprop_step(z(2), z(2), z(2), 0.1, 0.9, 1e-8)), TypeError,
        r"rmsprop_step", r"expected a function", r"tuple", kind="check"),
    Bad("check.adam_step given None", lambda: m("check").adam_step(None), TypeError,
        r"adam_step", r"expected a function", r"None", kind="check"),
    Bad("adam_step t counted from 0", lambda: m("optim").adam_step(z(2), np.ones(2), z(2), z(2), 0, 0.1, 0.9, 0.999, 1e-8),
        ValueError, r"^adam_step: t", r"1 on the first", r"got 0"),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_bad_input_gets_a_named_error(row):
    test_robustness.test_bad_input_gets_a_named_error(row)


def test_a_set_that_fails_changes_nothing():
    race = m("widgets.gd").optimizer_race()
    before = race.values()
    with pytest.raises(ValueError):
        race.set(surface="rosenbrock", optimizers="Nadam")
    assert race.values() == before


@pytest.mark.parametrize("name", ["SGD", "Momentum", "RMSProp", "Adam", "AdamW"])
def test_a_diverging_optimizer_run_is_reported_not_a_nan_flood(name):
    import warnings
    surf = m("surfaces").get_surface("ravine")
    opt = m("optim").OPTIMIZER_CLASSES[name](5.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = m("gd").run_optimizer(surf.loss_and_grad, surf.start, opt, 500)
    if name in ("SGD", "Momentum"):
        assert run.diverged and run.reason in ("non-finite", "blew up") and np.all(np.isfinite(run.path))
