"""nblib.data: shapes, determinism, explicit seeds."""

import numpy as np
import pytest

from nblib import data


@pytest.mark.parametrize("make", [
    lambda s: data.linear_data(seed=s), lambda s: data.blobs(seed=s), lambda s: data.moons(seed=s),
    lambda s: data.spirals(seed=s), lambda s: data.xor(seed=s)])
def test_same_seed_same_data_other_seed_other_data(make):
    a, b, c = make(3), make(3), make(4)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[1] if a[1].dtype.kind == "f" else a[0], c[1] if c[1].dtype.kind == "f" else c[0])


def test_linear_data_is_the_seed_line():
    x, y = data.linear_data(n=100, noise=0.0)
    np.testing.assert_allclose(x, np.linspace(-3, 3, 100))
    np.testing.assert_allclose(y, 2 + 3 * x)
    x, y = data.linear_data(n=2000, seed=0)
    assert np.std(y - (2 + 3 * x)) == pytest.approx(0.5, rel=0.05)


def test_classification_sets_shapes_and_labels():
    X, y = data.spirals(n_per_class=20, n_classes=4, seed=0)
    assert X.shape == (80, 2) and y.shape == (80,) and set(y) == {0, 1, 2, 3}
    X, y = data.moons(n=51, seed=0)
    assert X.shape == (51, 2) and np.bincount(y).tolist() == [25, 26]
    X, y = data.blobs(n_per_class=10, centers=[(0, 0), (5, 5), (-5, 5)], seed=0)
    assert X.shape == (30, 2) and np.bincount(y).tolist() == [10, 10, 10]
    X, y = data.xor(n=400, noise=0.0, seed=0)
    assert np.all(y == ((X[:, 0] > 0) ^ (X[:, 1] > 0)))


def test_generator_accepted_and_global_state_untouched():
    np.random.seed(0)
    before = np.random.random()
    np.random.seed(0)
    data.moons(seed=np.random.default_rng(1))
    assert np.random.random() == before


@pytest.mark.parametrize("call, exc, pattern", [
    (lambda: data.linear_data(seed="1"), TypeError, r"linear_data: seed must be a non-negative int or a numpy.random.Generator, got str"),
    (lambda: data.linear_data(seed=-1), TypeError, r"seed must be a non-negative int"),
    (lambda: data.linear_data(n=0), ValueError, r"linear_data: n must be > 0, got 0"),
    (lambda: data.moons(n=2.5), TypeError, r"moons: n must be an integer, got float"),
    (lambda: data.spirals(noise=-1.0), ValueError, r"spirals: noise must be >= 0, got -1.0"),
    (lambda: data.blobs(centers=[1, 2, 3]), ValueError, r"blobs: centers must have shape \(k, 2\), got \(3,\)"),
])
def test_bad_input(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()
