"""nblib.digits: the bundled 8x8 digits, stratified split, standardisation fitted on train only."""

import numpy as np
import pytest

from nblib import digits


def test_split_is_disjoint_complete_and_stratified():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), [50, 30, 20, 100])
    rng.shuffle(y)
    tr, va, te = digits.stratified_split(y, val_size=0.2, test_size=0.1, seed=3)
    allidx = np.concatenate([tr, va, te])
    assert len(allidx) == len(y) and len(np.unique(allidx)) == len(y)
    for c, n in zip(range(4), [50, 30, 20, 100]):
        assert np.sum(y[te] == c) == round(0.1 * n)
        assert np.sum(y[va] == c) == round(0.2 * n)
        assert np.sum(y[tr] == c) == n - round(0.1 * n) - round(0.2 * n)


def test_split_depends_on_seed_only():
    y = np.repeat(np.arange(3), 20)
    a = digits.stratified_split(y, seed=1)
    b = digits.stratified_split(y, seed=1)
    c = digits.stratified_split(y, seed=2)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_split_validation():
    y = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="leaves nothing to train on"):
        digits.stratified_split(y, val_size=0.5, test_size=0.5)
    with pytest.raises(ValueError, match="fraction strictly between 0 and 1"):
        digits.stratified_split(y, val_size=1.5)
    with pytest.raises(TypeError, match="integer class ids"):
        digits.stratified_split(np.array([0.5, 1.0]))


def test_standardizer_uses_training_statistics_with_a_floor():
    rng = np.random.default_rng(1)
    Xtr = rng.normal(5, 3, size=(200, 3))
    Xtr[:, 2] = 0.0                                     # a blank pixel
    Xte = rng.normal(5, 3, size=(10, 3))
    s = digits.Standardizer().fit(Xtr)
    out = s.transform(Xte)
    np.testing.assert_allclose(out[:, :2], (Xte[:, :2] - Xtr[:, :2].mean(0)) / Xtr[:, :2].std(0), rtol=1e-12)
    np.testing.assert_allclose(out[:, 2], Xte[:, 2], rtol=1e-12)      # centred at 0, divided by the floor 1
    with pytest.raises(ValueError, match="has 2 features"):
        s.transform(np.zeros((4, 2)))
    with pytest.raises(RuntimeError, match="call fit"):
        digits.Standardizer().transform(Xte)


def test_load_digits_split_matches_sklearn_and_leaks_nothing():
    from sklearn.datasets import load_digits

    raw = load_digits()
    X_all, y_all = digits._bundled_digits()
    np.testing.assert_array_equal(X_all, raw.data)          # exactly scikit-learn's data
    np.testing.assert_array_equal(y_all, raw.target)
    d = digits.load_digits_split(val_size=0.2, test_size=0.2, seed=0)
    n = len(d.y_train) + len(d.y_val) + len(d.y_test)
    assert n == 1797 and d.X_train.shape[1] == 64
    assert d.images_test.shape[1:] == (8, 8)
    # each split's counts per class follow the rounding rule on sklearn's own class counts
    per_class = np.bincount(raw.target, minlength=10)
    counts = d.class_counts()
    np.testing.assert_array_equal(counts["test"], np.round(0.2 * per_class))
    # standardisation: statistics of the training images only
    flat_train = d.images_train.reshape(-1, 64)
    np.testing.assert_allclose(d.scaler.mean, flat_train.mean(0), rtol=1e-12)
    np.testing.assert_allclose(d.X_test, (d.images_test.reshape(-1, 64) - flat_train.mean(0))
                               / np.maximum(flat_train.std(0), 1.0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(d.X_train.mean(0), 0, atol=1e-12)
    assert np.max(np.abs(d.X_val.mean(0))) > 1e-3                       # not refitted on validation
    raw_split = digits.load_digits_split(seed=0, normalize=False)
    np.testing.assert_array_equal(raw_split.X_test, d.images_test.reshape(-1, 64))
    assert "train 1079" in repr(d)
