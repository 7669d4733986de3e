"""The explorers of notebooks 02-03: callbacks over sweeps (diverging settings included)
with warnings turned into errors, presets, headless rendering, and the race's fast
paths against nblib.optim (1e-12)."""

import warnings

import numpy as np
import pytest

from nblib import gd, optim
from nblib.surfaces import get_surface
from nblib.widgets.gd import (GD_PRESETS, RACE_PRESETS, gd_explorer, gd_run, make_optimizer,
                              optimizer_race, race_path, race_run)


def _no_nan_artists(fig):
    for ax in fig.axes:
        for line in ax.lines:
            xd, yd = (np.asarray(v, dtype=float) for v in line.get_data())
            assert np.all(np.isfinite(xd)) and np.all(np.isfinite(yd)), f"NaN/inf in {line.get_label()}"


def test_gd_explorer_callback_sweep_without_warnings():
    exp = gd_explorer()
    crit = gd.critical_lr(np.linspace(-3, 3, 100))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            for lr in np.linspace(0.005, 0.4, 50):
                for steps, w0, b0 in [(1, -2.0, 7.0), (200, 9.0, -4.0), (37, 3.0, 2.0)]:
                    status = exp.update_fn(lr=float(lr), steps=steps, w0=w0, b0=b0)
                    _no_nan_artists(exp.fig)
                    run = gd_run(float(lr), steps, w0, b0)["history"]
                    if run.diverged:
                        assert "diverg" in status and f"2/λ_max = {crit:.4f}" in status
                    else:
                        assert status.startswith(f"after {steps} steps")
                    if lr > crit and steps == 200:
                        assert run.diverged  # every run above the critical value is caught


def test_gd_explorer_reports_divergence_in_words():
    exp = gd_explorer(preset={"lr": 0.4, "steps": 100})
    assert exp.status_text.count("diverged after") == 1
    assert "lr = 0.4 is above 2/λ_max = 0.3267" in exp.summary()
    exp.preset("good")
    assert "after 60 steps" in exp.status_text and "diverg" not in exp.status_text


def test_gd_presets_apply_and_render():
    for name in GD_PRESETS:
        exp = gd_explorer(preset=name)
        assert exp.values() == {**exp.values(), **GD_PRESETS[name]}
        bundle = exp._repr_mimebundle_()
        assert bundle["image/png"] and bundle["text/plain"].startswith("Gradient descent on the line")
    with pytest.raises(KeyError, match="no preset 'nope'"):
        gd_explorer(preset="nope")
    with pytest.raises(TypeError, match="preset must be a preset name or a dict"):
        gd_explorer(preset=3)


def test_race_callback_sweep_without_warnings():
    exp = optimizer_race()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            for surface in ["ravine", "rosenbrock", "bowl"]:
                for lr in np.geomspace(1e-4, 1.0, 13):
                    for lr_a, b1, rho, b2 in [(1e-3, 0.0, 0.9, 0.9), (0.3, 0.9, 0.99, 0.999), (1.0, 0.99, 0.999, 0.95)]:
                        status = exp.update_fn(surface=surface, optimizers=("SGD", "Momentum", "RMSProp", "Adam"),
                                               lr=float(lr), lr_adaptive=lr_a, beta1=b1, rho=rho, beta2=b2,
                                               steps=200)
                        assert status.count(":") == 4
                        _no_nan_artists(exp.fig)
    # large lr on the ravine (curvature 25): SGD must diverge, and say so
    status = exp.update_fn(surface="ravine", optimizers=("SGD",), lr=0.2, lr_adaptive=0.3, beta1=0.9,
                           rho=0.99, beta2=0.999, steps=100)
    assert status.startswith("SGD: diverged at step") and "(lr 0.2 > 2/λ_max = 0.02)" in status
    assert exp.update_fn(surface="bowl", optimizers=(), lr=0.1, lr_adaptive=0.1, beta1=0.9, rho=0.99,
                         beta2=0.99, steps=10) == "choose at least one optimizer"


def test_race_presets_render():
    for name in RACE_PRESETS:
        exp = optimizer_race(preset=name)
        assert exp._repr_mimebundle_()["image/png"]
        assert exp.values()["surface"] == RACE_PRESETS[name]["surface"]


@pytest.mark.parametrize("surface", ["ravine", "rosenbrock", "bowl"])
@pytest.mark.parametrize("name", ["SGD", "Momentum", "RMSProp", "Adam"])
def test_race_fast_path_equals_nblib_optim(surface, name):
    surf = get_surface(surface)
    for lr, lr_a, b1, rho, b2 in [(1e-3, 0.02, 0.9, 0.99, 0.999), (0.07, 0.3, 0.5, 0.9, 0.9),
                                  (0.5, 1.0, 0.0, 0.999, 0.99)]:
        fast = race_path(name, surface, lr, lr_a, b1, rho, b2, 300)
        slow = gd.run_optimizer(surf.loss_and_grad, surf.start, make_optimizer(name, lr, lr_a, b1, rho, b2), 300)
        assert fast.diverged == slow.diverged and fast.step == slow.step and fast.cause == slow.cause
        assert fast.reason == slow.reason
        assert len(fast.lrs) == len(slow.lrs)
        np.testing.assert_allclose(fast.path, slow.path, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(fast.losses, slow.losses, rtol=1e-12, atol=1e-12)


def test_race_run_and_make_optimizer_validate():
    out = race_run("ravine", ["Adam"], 0.01, 0.1, 0.9, 0.99, 0.999, 20)
    assert set(out) == {"Adam", "status"} and out["Adam"].path.shape == (21, 2)
    assert isinstance(make_optimizer("Momentum", 0.1, 0.2, 0.8, 0.99, 0.9), optim.Momentum)
    rms = make_optimizer("RMSProp", 0.1, 0.2, 0.8, 0.95, 0.9)
    assert rms.alpha == 0.95 and rms.lr == 0.2     # RMSProp reads rho, not beta2
    with pytest.raises(ValueError, match="unknown optimizer 'Nesterov'"):
        make_optimizer("Nesterov", 0.1, 0.1, 0.9, 0.99, 0.9)
    with pytest.raises(ValueError, match="unknown surface 'hill'"):
        race_run("hill", ["SGD"], 0.1, 0.1, 0.9, 0.99, 0.9, 5)


def test_steps_slider_redraws_the_background_only_at_axis_ends():
    exp = gd_explorer()
    keys = {exp.background_key(lr=0.1, steps=k, w0=0.0, b0=0.0) for k in range(1, 201)}
    assert keys == {10, 25, 50, 100, 200}
    exp.set(steps=30)
    assert exp.fig.axes[1].get_xlim() == (0.0, 50.0)
    race = optimizer_race(preset={"steps": 120})
    assert race.fig.axes[1].get_xlim() == (0.0, 200.0)


def test_race_learning_rates_are_slider_options_exactly():
    """The rate sliders offer two-significant-digit values; presets and the notebook's
    static race use values on that grid, so no browser snap changes a result."""
    from nblib.widgets.gd import RACE_RATES, on_rate_grid
    for values in RACE_PRESETS.values():
        for key in ("lr", "lr_adaptive"):
            assert values[key] in RACE_RATES
    assert 0.019 in RACE_RATES and 0.0015 in RACE_RATES and 0.022 in RACE_RATES
    assert on_rate_grid(0.0193) == 0.019 and on_rate_grid(5e-5) == 1e-4
    exp = optimizer_race(preset={"lr": 0.0193, "surface": "bowl"})
    assert exp.values()["lr"] == 0.019
    assert set(RACE_RATES) == {v for _, v in exp.controls["lr"].options}
    with pytest.raises(ValueError, match="control 'lr' must be between 0.0001 and 1"):
        exp.set(lr=3.0)


def test_race_uses_one_rmsprop_setting_with_the_notebook():
    """Issue: the explorer once tied RMSProp's decay to Adam's beta2 and snapped lr, so 'the
    same' race printed another result than notebook 03. The preset now equals the static race."""
    surf = get_surface("rosenbrock")
    exp = optimizer_race(preset="rosenbrock")
    static = gd.run_optimizer(surf.loss_and_grad, surf.start, optim.RMSProp(0.05, alpha=0.99), 1000)
    assert f"RMSProp: loss {static.losses[-1]:.2e}" in exp.status_text
    exp.set(beta2=0.95)                              # Adam's beta2 does not move RMSProp
    assert f"RMSProp: loss {static.losses[-1]:.2e}" in exp.status_text
    exp.set(rho=0.9)
    assert f"RMSProp: loss {static.losses[-1]:.2e}" not in exp.status_text


def test_set_with_a_string_for_optimizers_and_atomic_errors():
    exp = optimizer_race()
    exp.set(surface="rosenbrock", optimizers="Adam")
    assert exp.values()["optimizers"] == ("Adam",) and exp.values()["surface"] == "rosenbrock"
    assert exp.status_text.startswith("Adam: loss")
    before = exp.values()
    with pytest.raises(ValueError, match="control 'optimizers' must be one of"):
        exp.set(surface="bowl", optimizers=("Nope",))
    assert exp.values() == before
    with pytest.raises(ValueError):
        exp.set(surface="bowl", steps=5000)
    assert exp.values() == before and "Paths on the rosenbrock" in exp.fig.axes[0].get_title()


def test_controls_no_selected_optimizer_uses_are_disabled_and_named():
    exp = optimizer_race(preset="ravine, SGD too fast")
    off = {k for k, c in exp.controls.items() if c.disabled}
    assert off == {"lr_adaptive", "rho", "beta2"}
    assert "Greyed out: η RMS/Adam, ρ RMSProp, β₂ Adam" in exp.status_text
    exp.set(optimizers=("RMSProp",))
    assert {k for k, c in exp.controls.items() if c.disabled} == {"lr", "beta1", "beta2"}
    exp.preset("ravine")
    assert not any(c.disabled for c in exp.controls.values())
    assert "Greyed out" not in exp.status_text


def test_every_race_control_changes_the_view():
    exp = optimizer_race(preset="ravine")
    changes = {"surface": "bowl", "optimizers": ("SGD",), "lr": 0.01, "lr_adaptive": 0.05, "beta1": 0.5,
               "rho": 0.9, "beta2": 0.95, "steps": 60}
    for key, value in changes.items():
        exp.preset("ravine")
        before = (exp.status_text, exp._image.value)
        exp.set(**{key: value})
        assert exp.status_text != before[0] and exp._image.value != before[1], key


def test_a_diverging_path_is_cut_where_it_leaves_the_plot():
    exp = optimizer_race(preset="ravine, SGD too fast")
    surf = get_surface("ravine")
    line = next(l for l in exp.fig.axes[0].lines if l.get_label() == "SGD")
    xy = np.column_stack(line.get_data())
    run = race_path("SGD", "ravine", 0.022, 0.1, 0.9, 0.99, 0.999, 150)
    assert run.diverged and run.reason == "blew up" and len(xy) < 10 < len(run.path)
    last = xy[-1]
    on_edge = np.isclose(abs(last), 5.0).any()
    assert on_edge and surf.xlim[0] <= last[0] <= surf.xlim[1] and surf.ylim[0] <= last[1] <= surf.ylim[1]
    marks = [l for l in exp.fig.axes[0].lines if l.get_marker() == "X" and len(l.get_xdata())]
    assert len(marks) == 1 and np.allclose(np.column_stack(marks[0].get_data())[0], last)
    assert "× marks where SGD left the plot for good" in exp.status_text


def test_race_runs_a_learners_rule():
    calls = []

    def my_adam(p, g, m, v, t, lr, beta1, beta2, eps):
        calls.append(t)
        return optim.adam_step(p, g, m, v, t, lr, beta1, beta2, eps)

    mine = race_path("Adam", "rosenbrock", 0.001, 0.05, 0.9, 0.99, 0.999, 200, rule=my_adam)
    ref = race_path("Adam", "rosenbrock", 0.001, 0.05, 0.9, 0.99, 0.999, 200)
    assert sorted(set(calls)) == list(range(1, 201))        # once per coordinate, on floats
    np.testing.assert_allclose(mine.path, ref.path, rtol=1e-12, atol=1e-12)
    def needs_arrays(p, g, s, lr, rho, eps):          # works on arrays only
        out = p.copy()
        s_new = rho * s + (1 - rho) * g ** 2
        out[...] = p - lr * g / (np.sqrt(s_new) + eps)
        return out, s_new

    arr = race_path("RMSProp", "ravine", 0.01, 0.1, 0.9, 0.99, 0.999, 100, rule=needs_arrays)
    np.testing.assert_allclose(arr.path, race_path("RMSProp", "ravine", 0.01, 0.1, 0.9, 0.99, 0.999, 100).path,
                               rtol=1e-12, atol=1e-12)
    exp = optimizer_race(rules={"Adam": my_adam})
    assert exp.status_text.endswith(f"Adam: loss {race_path('Adam', 'ravine', 0.019, 0.1, 0.9, 0.99, 0.999, 150).losses[-1]:.2e}")
    with pytest.raises(ValueError, match="rules must map optimizer names"):
        optimizer_race(rules={"Nadam": my_adam})


def test_race_redraws_once_per_steps_change():
    exp = optimizer_race(preset="rosenbrock")       # the slowest preset: 4 x 1000 steps
    exp.timings.clear()
    seen = []
    for steps in (990, 1000, 980, 1000, 970, 1000):
        exp.set(steps=steps)
        seen.append(exp.status_text)
    assert len(exp.timings) == 6                    # one redraw per change (speed: the benchmark)
    assert seen[1] == seen[3] == seen[5] and len(set(seen)) == 4
