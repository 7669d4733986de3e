"""Checkers of notebook 09 (capstone)."""

import numpy as np

from nblib import check
from nblib.check.capstone import (_ref_confident_mistakes, _ref_confusion, _ref_early_stopping,
                                  _ref_standardize)
from nblib.digits import Standardizer
from nblib.train import confusion_matrix


def _stub(*args):
    raise NotImplementedError()


def test_standardize():
    assert check.standardize(_ref_standardize).passed
    assert check.standardize(lambda A, X: Standardizer(min_std=1.0).fit(A).transform(X)).passed
    r = check.standardize(lambda A, X: (X - A.mean(0)) / A.std(0))
    assert "std 0" in r.message
    assert "leak" in check.standardize(lambda A, X: (X - X.mean(0)) / np.maximum(X.std(0), 1)).message
    assert "each column" in check.standardize(lambda A, X: (X - A.mean()) / max(A.std(), 1)).message
    assert check.standardize(_stub).status == "todo"


def test_confusion():
    assert check.confusion(_ref_confusion).passed
    assert check.confusion(confusion_matrix).passed      # nblib.train's version is another correct answer

    def loops(t, p, c):
        return np.array([[np.sum((t == i) & (p == j)) for j in range(c)] for i in range(c)])

    assert check.confusion(loops).passed
    assert "swapped" in check.confusion(lambda t, p, c: _ref_confusion(t, p, c).T).message
    assert "counts" in check.confusion(lambda t, p, c: _ref_confusion(t, p, c) / len(t)).message
    assert check.confusion(_stub).status == "todo"


def test_early_stopping():
    assert check.early_stopping(_ref_early_stopping).passed

    def alt(v, k):                                       # index arithmetic instead of a counter
        best = 0
        for e in range(1, len(v)):
            if v[e] < v[best]:
                best = e
            elif e - best >= k:
                return best, e
        return best, len(v) - 1

    assert check.early_stopping(alt).passed
    hind = check.early_stopping(lambda v, k: (int(np.argmin(v)), _ref_early_stopping(v, k)[1]))
    assert "future" in hind.message
    late = check.early_stopping(lambda v, k: _ref_early_stopping(v, k + 1))
    assert "one epoch late" in late.message
    assert check.early_stopping(_stub).status == "todo"


def test_confident_mistakes():
    assert check.confident_mistakes(_ref_confident_mistakes).passed

    def alt(P, y, k):
        order = sorted(range(len(y)), key=lambda i: -P[i].max())
        return np.array([i for i in order if P[i].argmax() != y[i]][:k])

    assert check.confident_mistakes(alt).passed
    assert "misclassified" in check.confident_mistakes(lambda P, y, k: np.argsort(-P.max(1))[:k]).message

    def ascending(P, y, k):
        return _ref_confident_mistakes(P, y, len(y))[::-1][:k]

    assert "least" in check.confident_mistakes(ascending).message
    assert check.confident_mistakes(_stub).status == "todo"
