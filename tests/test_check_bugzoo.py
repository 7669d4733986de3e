"""Checkers of notebook 11 (bug zoo)."""

import numpy as np

from nblib import check
from nblib.check.bugzoo import BUGS, SNIPPETS, _ref_averaged, _ref_flat_features, _ref_looks_like_probs


def _stub(*args):
    raise NotImplementedError()


def test_which_bug():
    right = {k: v[1] for k, v in SNIPPETS.items()}
    assert check.which_bug(lambda: right).passed
    assert set(right.values()) <= set(BUGS)
    wrong = dict(right, D="no_zero_grad")
    r = check.which_bug(lambda: wrong)
    assert r.status == "fail" and "1 of 7 wrong" in r.message and "D: it is 'none'" in r.message
    assert "not a bug label" in check.which_bug(lambda: dict(right, A="typo")).message
    assert "no answer for snippet" in check.which_bug(lambda: {"A": "none"}).message
    assert check.which_bug(_stub).status == "todo"


def test_averaged_gradients():
    assert check.averaged_gradients(_ref_averaged).passed

    def alt(X, Y, W, b):                      # keepdims form, written differently
        r = (X * W + b - Y)
        return 2 * (r * X).mean(keepdims=True), 2 * r.mean(keepdims=True)

    assert check.averaged_gradients(alt).passed
    per_sample = check.averaged_gradients(lambda X, Y, W, b: (2 * (X * W + b - Y) * X, 2 * (X * W + b - Y)))
    assert per_sample.status == "fail" and "one gradient per sample" in per_sample.message
    summed = check.averaged_gradients(lambda X, Y, W, b: (np.array([np.sum(2 * (X * W + b - Y) * X)]),
                                                          np.array([np.sum(2 * (X * W + b - Y))])))
    assert "summed" in summed.message
    no2 = check.averaged_gradients(lambda X, Y, W, b: tuple(g / 2 for g in _ref_averaged(X, Y, W, b)))
    assert "factor 2" in no2.message
    sign = check.averaged_gradients(lambda X, Y, W, b: tuple(-g for g in _ref_averaged(X, Y, W, b)))
    assert "sign error" in sign.message
    assert check.averaged_gradients(_stub).status == "todo"
    assert check.averaged_gradients(_stub).or_reference() is _ref_averaged


def test_looks_like_probs():
    assert check.looks_like_probs(_ref_looks_like_probs).passed

    def alt(z):                               # rounding-tolerant via isclose and min/max
        z = np.asarray(z)
        return bool(z.min() >= 0 and z.max() <= 1 and np.isclose(z.sum(1), 1).all())

    assert check.looks_like_probs(alt).passed
    assert "[2, -1]" in check.looks_like_probs(lambda z: bool(np.allclose(z.sum(1), 1))).message
    assert "sigmoid" in check.looks_like_probs(lambda z: bool(np.all((z >= 0) & (z <= 1)))).message
    exact = check.looks_like_probs(lambda z: bool(np.all((z >= 0) & (z <= 1)) and np.all(z.sum(1) == 1.0)))
    assert "rounding" in exact.message
    assert check.looks_like_probs(_stub).status == "todo"


def test_flat_features():
    assert check.flat_features(_ref_flat_features).passed
    assert check.flat_features(lambda c, h, w, k: int(c * h * w / 4 ** k)).passed
    assert "ignored the pooling" in check.flat_features(lambda c, h, w, k: c * h * w).message
    assert "channels" in check.flat_features(lambda c, h, w, k: (h // 2 ** k) * (w // 2 ** k)).message
    assert "halved only once" in check.flat_features(lambda c, h, w, k: c * (h // 2) * (w // 2)).message
    assert "area" in check.flat_features(lambda c, h, w, k: c * h * w // 2 ** k).message
    assert check.flat_features(_stub).status == "todo"
