"""Checkers of notebook 09 (capstone)."""

import numpy as np

from nblib import check
from nblib.check.capstone import _ref_confident_mistakes, _ref_confusion, _ref_standardize
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


# More plausible wrong answers: each checker rejects at least five (with the hint where it names one).
def test_standardize_rejects_more_wrong_answers():
    wrong = {
        "ddof=1": lambda A, X: (X - A.mean(0)) / np.maximum(A.std(0, ddof=1), 1),
        "mean only": lambda A, X: X - A.mean(0),
        "floor added": lambda A, X: (X - A.mean(0)) / (A.std(0) + 1),
        "train mean, own std": lambda A, X: (X - A.mean(0)) / np.maximum(X.std(0), 1),
        "min-max": lambda A, X: (X - A.min(0)) / np.maximum(A.max(0) - A.min(0), 1),
    }
    for name, fn in wrong.items():
        assert not check.standardize(fn).passed, name


def test_confusion_rejects_more_wrong_answers():
    wrong = {
        "row-normalised": lambda t, p, c: _ref_confusion(t, p, c) / np.maximum(_ref_confusion(t, p, c).sum(1, keepdims=True), 1),
        "diagonal only": lambda t, p, c: np.diag(np.diag(_ref_confusion(t, p, c))),
        "classes seen only": lambda t, p, c: _ref_confusion(t, p, int(max(t.max(), p.max())) + 1),
        "bincount transposed": lambda t, p, c: np.bincount(p * c + t, minlength=c * c).reshape(c, c),
    }
    for name, fn in wrong.items():
        r = check.confusion(fn)
        assert not r.passed, name
    assert "per-row fractions" in check.confusion(wrong["row-normalised"]).message
    assert "swapped" in check.confusion(wrong["bincount transposed"]).message


def test_confident_mistakes_rejects_more_wrong_answers():
    def true_class(P, y, k):
        pred = P.argmax(1)
        wrong = np.flatnonzero(pred != y)
        return wrong[np.argsort(P[wrong, y[wrong]])][:k]

    def all_mistakes(P, y, k):
        return _ref_confident_mistakes(P, y, len(y))

    def probabilities(P, y, k):
        idx = _ref_confident_mistakes(P, y, k)
        return P[idx].max(1)

    assert "predicted" in check.confident_mistakes(true_class).message
    assert not check.confident_mistakes(all_mistakes).passed
    assert not check.confident_mistakes(probabilities).passed
