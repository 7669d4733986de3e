"""Handwritten digits for the capstone (notebook 09): real data, no download.

scikit-learn ships the UCI "optical recognition of handwritten digits" test set inside
the package: 1,797 grey-scale images of 8×8 pixels (values 0..16), classes 0..9, about
180 per class, written by 13 people (43 wrote the whole UCI collection). The split below
is by image, not by writer: the same writers appear in every split, so a test accuracy
measures new images of known writers, not new writers. ``load_digits_split`` reads it from the package's data folder (the
file ``sklearn.datasets.load_digits`` reads; never a download), splits it **stratified**
(every split keeps the class proportions) with a fixed seed, and standardises the 64 pixel
features with statistics fitted on the **training split only**, so nothing about the
validation or test images leaks into training.

* ``stratified_split`` -- index arrays for train / val / test, class by class.
* ``Standardizer`` -- per-feature ``(x - mean) / std``, ``fit`` on train, ``transform`` any split.
* ``load_digits_split`` -- all of it at once, returns a ``DigitsSplit``.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._validate import as_float_array, class_labels, describe, positive_number
from .data import make_rng

__all__ = ["stratified_split", "Standardizer", "DigitsSplit", "load_digits_split", "CAPSTONE"]

#: The capstone's settings (notebook 09), in one place for tests and benchmarks.
CAPSTONE = {
    "sizes": (64, 128, 10), "activation": "relu", "init": "he", "seed": 0,
    "batch_size": 32, "lr": 0.01, "weight_decay": 1e-4, "step_size": 10, "gamma": 0.5,
    "patience": 5, "max_epochs": 60, "val_size": 0.2, "test_size": 0.2,
}


def _fraction(x, name, where):
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 < x < 1:
        raise ValueError(f"{where}: {name} must be a fraction strictly between 0 and 1, got {describe(x)}")
    return float(x)


def stratified_split(y, val_size: float = 0.2, test_size: float = 0.2, seed=0):
    """Split sample indices into train / validation / test, class by class.

    For each class c with n_c samples, ``round(test_size * n_c)`` go to test,
    ``round(val_size * n_c)`` to validation, the rest to train, chosen at random with
    ``seed``. ``y``: (n,) integer labels. Returns three sorted-then-shuffled int arrays
    ``(train_idx, val_idx, test_idx)`` that are disjoint and together cover ``0..n-1``.
    """
    where = "stratified_split"
    arr = np.asarray(y) if isinstance(y, (np.ndarray, list, tuple)) else None
    if arr is None or arr.ndim != 1:
        raise TypeError(f"{where}: y must be a 1-D array of integer class ids, got {describe(y)}")
    y = class_labels(arr, None, int(np.nanmax(arr)) + 1 if arr.size and arr.dtype.kind in "iu" else 1, where,
                     name="y")
    val_size, test_size = _fraction(val_size, "val_size", where), _fraction(test_size, "test_size", where)
    if val_size + test_size >= 1:
        raise ValueError(f"{where}: val_size + test_size = {val_size + test_size:g} leaves nothing to train on; "
                         f"keep the sum below 1")
    rng = make_rng(seed)
    parts = ([], [], [])
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test, n_val = int(round(test_size * idx.size)), int(round(val_size * idx.size))
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test:n_test + n_val])
        parts[0].append(idx[n_test + n_val:])
    return tuple(rng.permutation(np.concatenate(p)) for p in parts)


class Standardizer:
    r"""Per-feature standardisation ``(x - \mu) / \sigma``, fitted on training data only.

    ``fit(X_train)`` stores ``mean`` and ``std`` (each of shape (d,)) of ``X_train`` (n, d);
    ``transform(X)`` applies them to any split. Features whose training standard deviation
    is below ``min_std`` (pixels that are (almost) always blank) are divided by ``min_std``
    instead, so a rare stroke in a test image cannot become a huge input.
    """

    def __init__(self, min_std: float = 1.0):
        self.min_std = positive_number(min_std, "min_std", "Standardizer")
        self.mean = self.std = None

    def fit(self, X_train):
        X = as_float_array(X_train, "X_train", "Standardizer.fit", ndim=2)
        self.mean = X.mean(axis=0)
        self.std = np.maximum(X.std(axis=0), self.min_std)
        return self

    def transform(self, X):
        if self.mean is None:
            raise RuntimeError("Standardizer.transform: call fit(X_train) first")
        X = as_float_array(X, "X", "Standardizer.transform", ndim=2)
        if X.shape[1] != self.mean.shape[0]:
            raise ValueError(f"Standardizer.transform: X has {X.shape[1]} features (shape {X.shape}) but the "
                             f"standardizer was fitted on {self.mean.shape[0]}")
        return (X - self.mean) / self.std

    def fit_transform(self, X_train):
        return self.fit(X_train).transform(X_train)


@dataclass
class DigitsSplit:
    """The digits, split and standardised.

    ``X_*``: (n_*, 64) float64, standardised with the training statistics;
    ``y_*``: (n_*,) int64 labels 0..9; ``images_*``: (n_*, 8, 8) raw pixel values 0..16
    (for plotting); ``scaler``: the fitted ``Standardizer``.
    """
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    images_train: np.ndarray
    images_val: np.ndarray
    images_test: np.ndarray
    scaler: Standardizer

    def __repr__(self):
        counts = " / ".join(f"{name} {len(getattr(self, 'y_' + name))}" for name in ("train", "val", "test"))
        return f"DigitsSplit({counts} images of 8×8 = 64 pixels, 10 classes)"

    def class_counts(self) -> dict:
        """``{"train": counts (10,), "val": ..., "test": ...}``: images per class in each split."""
        return {name: np.bincount(getattr(self, "y_" + name), minlength=10) for name in ("train", "val", "test")}


def _bundled_digits():
    """The 1,797 digits as ``(X (1797, 64) float64, y (1797,) int64)``, read from scikit-learn's data folder.

    This reads the same file, the same way, as ``sklearn.datasets.load_digits`` (a gzipped CSV
    shipped inside the package), without importing the rest of scikit-learn (about 2 s).
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise ImportError("load_digits_split needs scikit-learn (it ships the data): pip install scikit-learn")
    for folder in spec.submodule_search_locations or ():
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.exists():
            table = np.loadtxt(path, delimiter=",")
            return table[:, :-1].astype(np.float64), table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits  # pragma: no cover - another layout of the package

    digits = load_digits()  # pragma: no cover
    return digits.data.astype(np.float64), digits.target.astype(np.int64)  # pragma: no cover


def load_digits_split(val_size: float = 0.2, test_size: float = 0.2, seed=0, normalize: bool = True) -> DigitsSplit:
    """Load scikit-learn's bundled 8×8 digits (no download), split stratified, standardise.

    Returns a ``DigitsSplit``. With ``normalize=False`` the ``X_*`` are the raw pixel
    values 0..16 (the scaler is still fitted, for inspection).
    """
    X_all, y_all = _bundled_digits()
    tr, va, te = stratified_split(y_all, val_size=val_size, test_size=test_size, seed=seed)
    scaler = Standardizer().fit(X_all[tr])
    conv = scaler.transform if normalize else (lambda X: X.copy())
    images = X_all.reshape(-1, 8, 8)
    return DigitsSplit(conv(X_all[tr]), y_all[tr], conv(X_all[va]), y_all[va], conv(X_all[te]), y_all[te],
                       images[tr], images[va], images[te], scaler)
