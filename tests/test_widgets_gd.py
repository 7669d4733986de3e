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
                    for lr_a, b1, b2 in [(1e-3, 0.0, 0.9), (0.3, 0.9, 0.999), (1.0, 0.99, 0.95)]:
                        status = exp.update_fn(surface=surface, optimizers=("SGD", "Momentum", "RMSProp", "Adam"),
                                               lr=float(lr), lr_adaptive=lr_a, beta1=b1, beta2=b2, steps=200)
                        assert status.count(":") == 4
                        _no_nan_artists(exp.fig)
    # large lr on the ravine (curvature 25): SGD must diverge, and say so
    status = exp.update_fn(surface="ravine", optimizers=("SGD",), lr=0.2, lr_adaptive=0.3, beta1=0.9,
                           beta2=0.999, steps=100)
    assert status.startswith("SGD: diverged at step") and "(lr 0.2 > 2/λ_max = 0.02)" in status
    assert exp.update_fn(surface="bowl", optimizers=(), lr=0.1, lr_adaptive=0.1, beta1=0.9, beta2=0.99,
                         steps=10) == "choose at least one optimizer"


def test_race_presets_render():
    for name in RACE_PRESETS:
        exp = optimizer_race(preset=name)
        assert exp._repr_mimebundle_()["image/png"]
        assert exp.values()["surface"] == RACE_PRESETS[name]["surface"]


@pytest.mark.parametrize("surface", ["ravine", "rosenbrock", "bowl"])
@pytest.mark.parametrize("name", ["SGD", "Momentum", "RMSProp", "Adam"])
def test_race_fast_path_equals_nblib_optim(surface, name):
    surf = get_surface(surface)
    for lr, lr_a, b1, b2 in [(1e-3, 0.02, 0.9, 0.999), (0.07, 0.3, 0.5, 0.9), (0.5, 1.0, 0.0, 0.99)]:
        fast = race_path(name, surface, lr, lr_a, b1, b2, 300)
        slow = gd.run_optimizer(surf.loss_and_grad, surf.start, make_optimizer(name, lr, lr_a, b1, b2), 300)
        assert fast.diverged == slow.diverged and fast.step == slow.step and fast.cause == slow.cause
        np.testing.assert_allclose(fast.path, slow.path, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(fast.losses, slow.losses, rtol=1e-12, atol=1e-12)


def test_race_run_and_make_optimizer_validate():
    out = race_run("ravine", ["Adam"], 0.01, 0.1, 0.9, 0.999, 20)
    assert set(out) == {"Adam", "status"} and out["Adam"].path.shape == (21, 2)
    assert isinstance(make_optimizer("Momentum", 0.1, 0.2, 0.8, 0.9), optim.Momentum)
    with pytest.raises(ValueError, match="unknown optimizer 'Nesterov'"):
        make_optimizer("Nesterov", 0.1, 0.1, 0.9, 0.9)
    with pytest.raises(ValueError, match="unknown surface 'hill'"):
        race_run("hill", ["SGD"], 0.1, 0.1, 0.9, 0.9, 5)


def test_steps_slider_redraws_the_background_only_at_axis_ends():
    exp = gd_explorer()
    keys = {exp.background_key(lr=0.1, steps=k, w0=0.0, b0=0.0) for k in range(1, 201)}
    assert keys == {10, 25, 50, 100, 200}
    exp.set(steps=30)
    assert exp.fig.axes[1].get_xlim() == (0.0, 50.0)
    race = optimizer_race(preset={"steps": 120})
    assert race.fig.axes[1].get_xlim() == (0.0, 200.0)


def test_race_learning_rates_sit_on_the_slider_grid():
    """A browser snaps a FloatLogSlider's value onto its grid; presets must already be there."""
    from nblib.widgets.gd import RACE_LOG_STEP, on_log_grid
    for values in RACE_PRESETS.values():
        for key in ("lr", "lr_adaptive"):
            k = np.log10(values[key]) / RACE_LOG_STEP
            assert abs(k - round(k)) < 1e-9
    assert on_log_grid(0.019) == pytest.approx(10 ** -1.72, rel=1e-12)
    exp = optimizer_race(preset={"lr": 0.019, "surface": "bowl"})
    assert exp.values()["lr"] == pytest.approx(10 ** -1.72, rel=1e-12)
    assert exp.controls["lr"].step == RACE_LOG_STEP
