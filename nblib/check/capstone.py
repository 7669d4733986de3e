"""Checkers for notebook 09 (the capstone on handwritten digits)."""

from __future__ import annotations

import numpy as np

from ._core import CheckResult, Diagnosis, check_function

__all__ = ["standardize", "confusion", "early_stopping", "confident_mistakes"]


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


# ------------------------------------------------------------------ early stopping
def _ref_early_stopping(val_losses, patience):
    best, best_loss, waited = 0, np.inf, 0
    for epoch, loss in enumerate(val_losses):
        if loss < best_loss:
            best, best_loss, waited = epoch, loss, 0
        else:
            waited += 1
            if waited >= patience:
                return np.array([best, epoch])
    return np.array([best, len(val_losses) - 1])


def _es_cases():
    return [
        (np.array([1.0, 0.8, 0.7, 0.72, 0.71, 0.75, 0.6, 0.5]), 3),
        (np.array([1.0, 0.9, 0.8, 0.7]), 2),
        (np.array([0.5, 0.6, 0.7, 0.4, 0.3]), 2),
        (np.array([0.5, 0.5, 0.5, 0.5]), 1),
    ]


def early_stopping(fn) -> CheckResult:
    """Check ``fn(val_losses (E,), patience) -> (best_epoch, stop_epoch)`` (0-based).

    Training stops at the first epoch that makes ``patience`` epochs in a row without a
    strictly lower validation loss; ``best_epoch`` is the best epoch *seen up to then*
    (whose parameters are restored). Without stopping, ``stop_epoch`` is the last epoch.
    """
    def hindsight(v, k):
        r = _ref_early_stopping(v, k)
        return np.array([int(np.argmin(v)), r[1]])

    def one_late(v, k):
        r = _ref_early_stopping(v, k + 1)
        return r

    def one_early(v, k):
        return _ref_early_stopping(v, max(k - 1, 1)) if k > 1 else np.array([0, 0])

    def le(v, k):
        best, best_loss, waited = 0, np.inf, 0
        for e, loss in enumerate(v):
            if loss <= best_loss:
                best, best_loss, waited = e, loss, 0
            else:
                waited += 1
                if waited >= k:
                    return np.array([best, e])
        return np.array([best, len(v) - 1])

    return check_function(
        "early_stopping", fn, reference=_ref_early_stopping, cases=_es_cases(),
        diagnoses=[
            Diagnosis("hindsight", hindsight, "the best epoch must be the best one seen *before stopping*: the "
                      "epochs after the stop never happen, so np.argmin over the whole list uses the future"),
            Diagnosis("late", one_late, "you stopped one epoch late: stop as soon as `patience` epochs in a row "
                      "brought no improvement"),
            Diagnosis("early", one_early, "you stopped one epoch early: wait for `patience` epochs without "
                      "improvement, not patience - 1"),
            Diagnosis("<=", le, "an equal loss is not an improvement: use a strict < when comparing with the best"),
        ],
        success="correct: the best epoch as known at the time, and the stop after `patience` epochs without "
                "improvement.")


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
