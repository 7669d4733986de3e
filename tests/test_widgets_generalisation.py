"""Notebook 08's explorer: the compute function against nblib.regularize, every control changes the
view, presets, redraw time, static rendering."""

import base64
import warnings

import numpy as np
import pytest

from nblib import regularize as R
from nblib.widgets.generalisation import (GENERALISATION_PRESETS, LAMBDAS, MAX_DEGREE, generalisation_curves,
                                          generalisation_explorer)


def test_curves_equal_fit_polynomial():
    (x, y), (xv, yv) = R.poly_data(15, seed=0), R.poly_data(200, seed=1)
    for degree, lam, p in [(3, 0.0, 0.0), (12, 1e-2, 0.0), (9, 0.0, 0.3), (15, 1.0, 0.5), (0, 10.0, 0.2)]:
        c = generalisation_curves(degree, lam, p)
        w = R.fit_polynomial(x, y, degree, lam=lam, dropout=p)
        np.testing.assert_allclose(c["w"], w, rtol=1e-7, atol=1e-9)
        assert c["train"][degree] == pytest.approx(R.mse(x, y, w), rel=1e-7)
        assert c["val"][degree] == pytest.approx(R.mse(xv, yv, w), rel=1e-7)
        assert c["train"].shape == (MAX_DEGREE + 1,)


def test_the_story_the_presets_tell():
    over = generalisation_curves(**GENERALISATION_PRESETS["overfitting"])
    decay = generalisation_curves(**GENERALISATION_PRESETS["too much decay"])
    right = generalisation_curves(**GENERALISATION_PRESETS["just right"])
    d = 12
    assert over["val"][d] > 100 * over["train"][d]                            # overfitting: a huge gap
    assert decay["train"][d] > 0.15                                           # too much decay underfits
    assert right["val"][d] < min(over["val"][d], decay["val"][d])
    assert 2 <= over["best_degree"] <= 5                                      # the U's bottom
    ex = generalisation_explorer(preset="too much decay")
    assert "underfitting" in ex.status_text
    ex.preset("overfitting")
    assert "overfitting" in ex.status_text


def test_every_control_changes_the_view_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ex = generalisation_explorer()
        for name, value in [("degree", 5), ("lam", 1e-3), ("dropout", 0.3)]:
            before_png, before_status = ex._image.value, ex.status_text
            ex.set(**{name: value})
            assert ex._image.value != before_png and ex.status_text != before_status, name
        for lam in LAMBDAS:
            for degree in (0, 7, MAX_DEGREE):
                ex.set(lam=lam, degree=degree, dropout=0.8)
                assert "nan" not in ex.status_text


def test_every_degree_and_lambda_redraws_the_figure():
    """(How fast is the benchmark's business: python -m tools.bench.)"""
    ex = generalisation_explorer()
    images = {bytes(ex._image.value)}
    for degree in range(MAX_DEGREE + 1):
        ex.set(degree=degree)
        images.add(bytes(ex._image.value))
    for lam in LAMBDAS:
        ex.set(lam=lam)
        images.add(bytes(ex._image.value))
    assert len(ex.timings) == 1 + MAX_DEGREE + 1 + len(LAMBDAS)
    assert len(images) >= MAX_DEGREE + len(LAMBDAS) - 1


def test_presets_errors_and_static_rendering():
    for name, values in GENERALISATION_PRESETS.items():
        assert generalisation_explorer(preset=name).values() == values
    ex = generalisation_explorer(preset={"degree": 4})
    assert ex.values()["degree"] == 4
    with pytest.raises(KeyError, match="no control named"):
        ex.set(width=3)
    with pytest.raises(TypeError, match="preset must be"):
        generalisation_explorer(preset=3)
    bundle = ex._repr_mimebundle_()
    assert bundle["text/plain"].startswith("Generalisation explorer [degree=4")
    assert base64.b64decode(bundle["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
