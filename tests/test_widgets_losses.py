"""Notebook 01's explorer: the plain update function over a sweep, presets, static rendering."""

import warnings

import numpy as np
import pytest

from nblib import losses as L
from nblib.widgets.losses import LOSS_PRESETS, loss_explorer, loss_values


def test_loss_values_agree_with_nblib_losses_and_closed_forms():
    v = loss_values(y_hat=0.5, y=2.0, z=-4.0, label=1)
    assert v["mse"] == pytest.approx(2.25) and v["mse_grad"] == pytest.approx(-3.0)
    p = 1 / (1 + np.exp(4.0))
    assert v["p"] == pytest.approx(p)
    assert v["bce"] == pytest.approx(-np.log(p))
    assert v["bce_grad"] == pytest.approx(p - 1)
    assert v["sq_sigmoid_grad"] == pytest.approx(2 * (p - 1) * p * (1 - p))
    assert v["bce"] == pytest.approx(L.binary_cross_entropy(np.array([-4.0]), np.array([1.0])))


def test_explorer_sweep_without_warnings_and_status_changes():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ex = loss_explorer()
        seen = set()
        for label in (0, 1):
            for z in np.linspace(-8, 8, 17):
                ex.set(z=float(z), label=label)
                seen.add(ex.status_text)
        for y_hat in np.linspace(-3, 5, 9):
            ex.set(y_hat=float(y_hat))
            seen.add(ex.status_text)
    assert len(seen) == 17 * 2 + 9
    assert len(ex.timings) == 1 + 17 * 2 + 9


def test_saturation_is_reported_only_when_confidently_wrong():
    ex = loss_explorer(preset="confident and wrong")
    assert "saturated" in ex.status_text
    ex.preset("confident and right")
    assert "saturated" not in ex.status_text


def test_presets_and_errors():
    for name, values in LOSS_PRESETS.items():
        ex = loss_explorer(preset=name)
        assert ex.values() == values
    ex = loss_explorer(preset={"z": 2.0})
    assert ex.values()["z"] == 2.0
    with pytest.raises(KeyError, match="no control named"):
        ex.set(lr=1.0)
    with pytest.raises(KeyError, match="no preset 'nope'"):
        ex.preset("nope")


def test_static_rendering_for_headless_runs():
    ex = loss_explorer()
    bundle = ex._repr_mimebundle_()
    assert bundle["text/plain"].startswith("Loss explorer [y_hat=0.5, y=2, z=-4, label=1]: MSE = 2.250")
    assert "application/vnd.jupyter.widget-view+json" in bundle
    import base64
    png = base64.b64decode(bundle["image/png"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    before = ex._image.value
    ex.set(z=3.0)
    assert ex._image.value != before  # the picture follows the slider
