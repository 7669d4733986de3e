"""Notebook 07's explorer: its compute (layer_stats) against DeepMLP and clip_grad_norm, its
presets, every control changing the view, and the redraw time, all without a browser."""

import warnings

import numpy as np
import pytest

from nblib import norm as N
from nblib.widgets import deepnets as W
from nblib.widgets.backprop import make_dataset


def test_layer_stats_are_the_statistics_of_the_network():
    X, y = make_dataset("spirals")
    s = W.layer_stats(depth=6, activation="tanh", gain=1.3, batchnorm=True, clip="1")
    net = N.DeepMLP([2] + [W.WIDTH] * 6 + [3], activation="tanh", batchnorm=True, gain=1.3, seed=0)
    loss, grads = net.loss_and_grads(X, y)
    assert s["loss"] == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(s["act_std"], [h.std() for h in net.hidden], rtol=1e-12)
    np.testing.assert_allclose(s["grad_norm"], [np.linalg.norm(grads[f"W{i}"]) for i in range(1, 8)], rtol=1e-12)
    clipped, total = N.clip_grad_norm(grads, 1.0)
    assert s["total"] == pytest.approx(total, rel=1e-12)
    np.testing.assert_allclose(s["clipped_norm"], [np.linalg.norm(clipped[f"W{i}"]) for i in range(1, 8)],
                               rtol=1e-12)
    assert s["factor"] == pytest.approx(1.0 / total, rel=1e-5) and s["factor"] < 1


def test_the_statistics_show_vanishing_exploding_and_the_fixes():
    plain = {g: W.layer_stats(depth=10, gain=g) for g in (0.5, 1.0, 2.0)}
    bn = {g: W.layer_stats(depth=10, gain=g, batchnorm=True) for g in (0.5, 1.0, 2.0)}
    assert plain[0.5]["act_std"][-1] < 1e-2 < 1e2 < plain[2.0]["act_std"][-1]
    assert plain[0.5]["total"] < 0.1 and plain[2.0]["total"] > 1e3
    for g in bn:                                    # batch norm: the same activations whatever the gain
        np.testing.assert_allclose(bn[g]["act_std"], bn[1.0]["act_std"], rtol=1e-3)   # eps: 1e-5 vs var
        assert 0.3 < bn[g]["act_std"][-1] < 1.0
    clipped = W.layer_stats(depth=10, gain=2.0, clip="10")
    assert np.sqrt(np.sum(clipped["clipped_norm"] ** 2)) <= 10.0 * (1 + 1e-9)


def test_presets_and_every_control_change_the_view():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ex = W.deepnet_explorer()
        for name, values in W.DEEPNET_PRESETS.items():
            ex.preset(name)
            assert ex.values() == values
        base = dict(depth=10, activation="relu", gain=2.0, batchnorm=False, clip="off")
        changes = dict(depth=12, activation="tanh", gain=1.5, batchnorm=True, clip="10")
        for name, value in changes.items():
            ex.set(**base)
            before = (ex.status_text, [np.array(a.get_ydata(), dtype=float).copy() for a in ex.dynamic])
            ex.set(**{name: value})
            after = (ex.status_text, [np.array(a.get_ydata(), dtype=float) for a in ex.dynamic])
            moved = before[0] != after[0] or any(
                a.shape != b.shape or not np.allclose(a, b, equal_nan=True) for a, b in zip(before[1], after[1]))
            assert moved, f"control {name!r} changed nothing"


def test_status_names_the_problem_and_clipping():
    ex = W.deepnet_explorer(preset="exploding, clipped at 10")
    assert "exploding" in ex.status_text and "clipped at 10" in ex.status_text
    ex.preset("vanishing (gain 0.5)")
    assert "vanishing" in ex.status_text
    ex.set(clip="100")
    assert "below max_norm 100" in ex.status_text
    assert "Deep network" in repr(ex)


def test_every_depth_and_batchnorm_change_redraws_once():
    ex = W.deepnet_explorer()
    n = len(ex.timings)
    depths = list(range(2, W.MAX_DEPTH + 1, 3))
    for depth in depths:
        ex.set(depth=depth)
    ex.set(batchnorm=True)
    assert len(ex.timings) == n + len(depths) + 1   # speed is the benchmark's job


def test_preset_of_the_wrong_kind_is_named():
    with pytest.raises(TypeError, match=r"deepnet_explorer: preset must be a preset name or a dict"):
        W.deepnet_explorer(preset=3)
    with pytest.raises(KeyError, match=r"no preset"):
        W.deepnet_explorer(preset="nope")
