"""Checkers for notebook 09 (the capstone on handwritten digits). The capstone's training loop with
early stopping is notebook 08's exercise, checked by ``nblib.check.generalisation.early_stopping_loop``."""

from __future__ import annotations

import numpy as np

from ._core import CheckResult, Diagnosis, check_function

__all__ = ["standardize", "confusion", "confident_mistakes"]


# ------------------------------------------------------------------ standardisation
def _ref_standardize(X_train, X):
    mean = X_train.mean(axis=0)
    std = np.maximum(X_train.std(axis=0), 1.0)
    return (X - mean) / std


def _std_cases():
    rng = np.random.default_rng(7)
    A = rng.integers(0, 17, size=(40, 6)).astype(float)
    A[:, 0] = 0.0                                    # a pixel that is always blank in training
    B = rng.integers(0, 17, size=(10, 6)).astype(float)
    B[0, 0] = 5.0                                    # ... but not in this image
    C = 3.0 * rng.normal(size=(30, 4)) + 10
    D = 3.0 * rng.normal(size=(7, 4)) + 12
    return [(A, B), (C, D), (C, C)]


def standardize(fn) -> CheckResult:
    """Check ``fn(X_train (n, d), X (m, d)) -> (m, d)``: ``(X - mean) / max(std, 1)``, with the
    mean and std of each column of **X_train** (never of ``X``).

    Recognised mistakes: statistics of ``X`` instead of ``X_train`` (leakage), no floor on
    the std (division by 0 for a blank pixel), one global mean/std for all pixels.
    """
    def own_stats(Xtr, X):
        return (X - X.mean(axis=0)) / np.maximum(X.std(axis=0), 1.0)

    def global_stats(Xtr, X):
        return (X - Xtr.mean()) / max(Xtr.std(), 1.0)

    def no_floor(Xtr, X):
        return (X - Xtr.mean(axis=0)) / Xtr.std(axis=0)

    return check_function(
        "standardize", fn, reference=_ref_standardize, cases=_std_cases(),
        diagnoses=[
            Diagnosis("overflow", None, "a pixel that is blank in every training image has std 0, and dividing by "
                      "it gives inf/NaN. Use np.maximum(std, 1.0)"),
            Diagnosis("own stats", own_stats, "you used the mean/std of X itself. Statistics come from the training "
                      "split only; otherwise the validation and test sets leak into preprocessing"),
            Diagnosis("global", global_stats, "you used one mean and std for all pixels; standardise each column "
                      "(pixel) separately: axis=0"),
            Diagnosis("no floor", no_floor, "divide by np.maximum(std, 1.0), so nearly blank pixels are not blown up"),
        ],
        success="correct: per-pixel statistics from the training split, applied to any split.")


# ------------------------------------------------------------------ confusion matrix
def _ref_confusion(y_true, y_pred, num_classes):
    M = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(M, (y_true, y_pred), 1)
    return M


def _conf_cases():
    rng = np.random.default_rng(8)
    t = rng.integers(0, 4, size=30)
    p = np.where(rng.random(30) < 0.7, t, rng.integers(0, 4, size=30))
    return [(t, p, 4), (np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]), 3),
            (np.array([1, 1]), np.array([1, 1]), 3)]


def confusion(fn) -> CheckResult:
    """Check ``fn(y_true (n,), y_pred (n,), num_classes) -> (C, C)`` counts, rows = true class."""
    return check_function(
        "confusion", fn, reference=_ref_confusion, cases=_conf_cases(),
        diagnoses=[
            Diagnosis("transposed", lambda t, p, c: _ref_confusion(t, p, c).T,
                      "rows and columns are swapped: row i is the true class, column j the predicted one"),
            Diagnosis("normalised", lambda t, p, c: _ref_confusion(t, p, c) / max(len(t), 1),
                      "return counts, not fractions"),
            Diagnosis("row-normalised", lambda t, p, c: _ref_confusion(t, p, c)
                      / np.maximum(_ref_confusion(t, p, c).sum(axis=1, keepdims=True), 1),
                      "return counts, not per-row fractions"),
        ],
        success="correct: M[i, j] counts images of digit i predicted as j; the diagonal holds the hits.")


# ------------------------------------------------------------------ confident mistakes
def _ref_confident_mistakes(probs, y, k):
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y)
    conf = probs[wrong, pred[wrong]]
    return wrong[np.argsort(-conf, kind="stable")][:k]


def _cm_cases():
    rng = np.random.default_rng(9)
    z = 2 * rng.normal(size=(40, 5))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    P = e / e.sum(axis=1, keepdims=True)
    y = rng.integers(0, 5, size=40)
    return [(P, y, 3), (P, y, 6), (P[:10], y[:10], 2)]


def confident_mistakes(fn) -> CheckResult:
    """Check ``fn(probs (n, C), y (n,), k) -> indices (k,)``: the k misclassified samples with the
    highest predicted-class probability, most confident first."""
    def any_samples(P, y, k):
        return np.argsort(-P.max(axis=1), kind="stable")[:k]

    def ascending(P, y, k):
        pred = P.argmax(axis=1)
        wrong = np.flatnonzero(pred != y)
        return wrong[np.argsort(P[wrong, pred[wrong]], kind="stable")][:k]

    def true_class(P, y, k):
        pred = P.argmax(axis=1)
        wrong = np.flatnonzero(pred != y)
        return wrong[np.argsort(P[wrong, y[wrong]], kind="stable")][:k]

    return check_function(
        "confident_mistakes", fn, reference=_ref_confident_mistakes, cases=_cm_cases(),
        diagnoses=[
            Diagnosis("all", any_samples, "keep only the misclassified samples (argmax != y) before ranking"),
            Diagnosis("ascending", ascending, "you returned the *least* confident mistakes: sort by descending "
                      "confidence"),
            Diagnosis("true class", true_class, "rank by the probability of the *predicted* class (how sure the "
                      "model was of its wrong answer), not of the true class"),
        ],
        success="correct: the misclassified samples, most confident first.")
