"""Checkers of notebook 11 (bug zoo): each rejects the wrong answers a learner would write, with
the right first hint, and accepts a correct answer written differently."""

import math

import numpy as np
import pytest

from nblib import check
from nblib.check import _core
from nblib.check.bugzoo import (BUGS, NUDGES, SNIPPETS, _divergence_cases, _ref_first_divergence,
                                _ref_flat_features, _ref_looks_like_probs)


@pytest.fixture(autouse=True)
def _fresh_hints():
    _core._STREAK.clear()          # every test sees the first hint step
    yield
    _core._STREAK.clear()


def _stub(*args):
    raise NotImplementedError()


# ------------------------------------------------------------------------------ which_bug
RIGHT = {k: v[1] for k, v in SNIPPETS.items()}


def test_which_bug_accepts_the_answers_built_another_way():
    assert check.which_bug(lambda: RIGHT).passed
    assert set(RIGHT.values()) <= set(BUGS) and set(NUDGES) == set(SNIPPETS)

    def built():                                  # a loop over label -> snippets, not a literal
        by_label = {"no_zero_grad": "A", "double_softmax": "B", "no_average": "C", "none": "D",
                    "flatten_size": "E", "relu_logits": "F", "true_function_plot": "G"}
        return {snippet: label for label, snippet in by_label.items()}

    assert check.which_bug(built).passed


@pytest.mark.parametrize("answer, first", [
    (dict(RIGHT, D="no_zero_grad"), "1 of 7 wrong: snippet D."),            # the correct snippet called buggy
    (dict(RIGHT, B="relu_logits", F="double_softmax"), "2 of 7 wrong: snippets B, F."),   # swapped
    (dict(RIGHT, C="none"), "1 of 7 wrong: snippet C."),
    (dict(RIGHT, E="no_average"), "1 of 7 wrong: snippet E."),
    ({k: "none" for k in SNIPPETS}, "6 of 7 wrong"),
    ({k: "no_zero_grad" for k in SNIPPETS}, "one snippet has no bug at all"),
])
def test_which_bug_wrong_answers_get_stepped_hints_without_the_answer(answer, first):
    r = check.which_bug(lambda: answer)
    assert r.status == "fail" and first in r.message
    wrong = [k for k in SNIPPETS if answer[k] != RIGHT[k]]
    assert not any(f"it is {RIGHT[k]!r}" in r.message for k in wrong)      # step 1 does not give it away
    assert NUDGES[wrong[0]] in check.which_bug(lambda: answer).message    # step 2: where to look
    assert f"{wrong[0]}: it is {RIGHT[wrong[0]]!r}" in check.which_bug(lambda: answer).message   # step 3: why


@pytest.mark.parametrize("fn, msg", [
    (lambda: dict(RIGHT, A="typo"), "'typo' is not a bug label"),
    (lambda: dict(RIGHT, B="Double_Softmax"), "exactly as written, lower case"),
    (lambda: {"A": "none"}, "no answer for snippet(s) B, C"),
    (lambda: list(RIGHT.values()), "return a dict"),
    (RIGHT, "expected a function"),
])
def test_which_bug_malformed_answers(fn, msg):
    assert msg in check.which_bug(fn).message


def test_which_bug_stub():
    assert check.which_bug(_stub).status == "todo"


# ----------------------------------------------------------------------- first_divergence
def alt_first_divergence(reference, mine, rtol=1e-4, atol=1e-6):
    """Written with an index loop, an explicit NaN test and the allclose formula by hand."""
    for i in range(len(reference)):
        name, ref = reference[i]
        out = np.asarray(mine[i][1], dtype=float)
        ref = np.asarray(ref, dtype=float)
        if out.shape != ref.shape:
            return name
        if np.isnan(out).any() or np.any(np.abs(out - ref) > atol + rtol * np.abs(ref)):
            return name
    return None


def test_first_divergence_accepts_the_reference_and_an_alternative():
    assert check.first_divergence(_ref_first_divergence).passed
    assert check.first_divergence(alt_first_divergence).passed
    expected = [_ref_first_divergence(r, m) for r, m, _ in _divergence_cases()]
    assert expected == [None, "relu", "fc2", "softmax", "relu", "softmax", "fc2", None]   # the cases mean what they say


def _pairs(r, m):
    return zip(r, m)


WRONG_DIVERGENCE = {
    "last layer that differs": (
        lambda r, m, rtol=1e-4, atol=1e-6: ([n for (n, a), (_, b) in _pairs(r, m)
                                             if a.shape != b.shape or not np.allclose(b, a, rtol=rtol, atol=atol)]
                                            or [None])[-1],
        "later layer than the first"),
    "exact equality": (
        lambda r, m, rtol=1e-4, atol=1e-6: next((n for (n, a), (_, b) in _pairs(r, m)
                                                 if a.shape != b.shape or not (a == b).all()), None),
        "agree up to rounding"),
    "absolute tolerance only": (
        lambda r, m, rtol=1e-4, atol=1e-6: next((n for (n, a), (_, b) in _pairs(r, m)
                                                 if a.shape != b.shape or np.abs(a - b).max() > 1e-6
                                                 or np.isnan(b).any()), None),
        "absolute tolerance alone"),
    "ravel hides the shape": (
        lambda r, m, rtol=1e-4, atol=1e-6: next((n for (n, a), (_, b) in _pairs(r, m)
                                                 if a.size != b.size or not np.allclose(b.ravel(), a.ravel(),
                                                                                        rtol=rtol, atol=atol)), None),
        "right values in another shape"),
    "allclose broadcasts": (
        lambda r, m, rtol=1e-4, atol=1e-6: next((n for (n, a), (_, b) in _pairs(r, m)
                                                 if a.size == b.size and a.shape != b.shape
                                                 or not np.allclose(b, a, rtol=rtol, atol=atol)), None),
        "np.allclose broadcasts"),
    "max-difference test hides NaN": (
        lambda r, m, rtol=1e-4, atol=1e-6: next((n for (n, a), (_, b) in _pairs(r, m)
                                                 if a.shape != b.shape
                                                 or np.max(np.abs(b - a)) > atol + rtol * np.max(np.abs(a))), None),
        "you miss a NaN"),
    "compares the means": (
        lambda r, m, rtol=1e-4, atol=1e-6: next((n for (n, a), (_, b) in _pairs(r, m)
                                                 if a.shape != b.shape or not math.isclose(b.mean(), a.mean(),
                                                                                           rel_tol=rtol, abs_tol=atol)),
                                                None),
        "right but in the wrong places"),
    "tolerance too loose": (
        lambda r, m, rtol=1e-4, atol=1e-6: next((n for (n, a), (_, b) in _pairs(r, m)
                                                 if a.shape != b.shape or not np.allclose(b, a, atol=1e-3)), None),
        "too loose for small values"),
    "returns the index": (
        lambda r, m, rtol=1e-4, atol=1e-6: next((i for i, ((n, a), (_, b)) in enumerate(_pairs(r, m))
                                                 if a.shape != b.shape or not np.allclose(b, a, rtol=rtol, atol=atol)),
                                                None),
        "not its position"),
    "False when all agree": (
        lambda r, m, rtol=1e-4, atol=1e-6: _ref_first_divergence(r, m, rtol, atol) or False,
        "return None (not False"),
}


@pytest.mark.parametrize("label", list(WRONG_DIVERGENCE))
def test_first_divergence_rejects_plausible_wrong_answers(label):
    fn, hint = WRONG_DIVERGENCE[label]
    r = check.first_divergence(fn)
    assert r.status == "fail", label
    assert hint in r.message, (label, r.message)


def test_first_divergence_second_hint_and_stub():
    fn, _ = WRONG_DIVERGENCE["exact equality"]
    check.first_divergence(fn)
    assert "np.allclose(mine, ref, rtol=rtol, atol=atol)" in check.first_divergence(fn).message
    assert check.first_divergence(_stub).status == "todo"
    assert check.first_divergence(_stub).or_reference() is _ref_first_divergence
    assert "expected a function" in check.first_divergence("fc2").message


# ----------------------------------------------------------------------- looks_like_probs
def test_looks_like_probs_accepts_an_alternative():
    assert check.looks_like_probs(_ref_looks_like_probs).passed

    def alt(z):                               # rounding-tolerant via isclose and min/max
        z = np.asarray(z)
        return bool(z.min() >= 0 and z.max() <= 1 and np.isclose(z.sum(1), 1).all())

    assert check.looks_like_probs(alt).passed


@pytest.mark.parametrize("fn, hint", [
    (lambda z: bool(np.allclose(z.sum(1), 1)), "[2, -1]"),                              # only the sums
    (lambda z: bool(np.all((z >= 0) & (z <= 1))), "sigmoid"),                            # only the range
    (lambda z: bool(np.all((z >= 0) & (z <= 1)) and np.all(z.sum(1) == 1.0)), "rounding"),   # exact ==
    (lambda z: bool(np.all((z >= 0) & (z <= 1)) and np.allclose(z.sum(0), 1)), "wrong axis"),  # wrong axis
    (lambda z: bool(np.all((z >= 0) & (z <= 1)) and np.isclose(z.sum(), len(z))), "each row"),  # total only
])
def test_looks_like_probs_rejects_plausible_wrong_answers(fn, hint):
    r = check.looks_like_probs(fn)
    assert r.status == "fail" and hint in r.message, r.message


def test_looks_like_probs_stub_and_non_bool():
    assert check.looks_like_probs(_stub).status == "todo"
    r = check.looks_like_probs(lambda z: np.isclose(z.sum(1), 1))        # an array of row verdicts
    assert r.status == "fail" and "return True or False" in r.message


# -------------------------------------------------------------------------- flat_features
def test_flat_features_accepts_alternatives():
    assert check.flat_features(_ref_flat_features).passed
    assert check.flat_features(lambda c, h, w, k: c * (h >> k) * (w >> k)).passed       # bit shifts

    def step_by_step(c, h, w, k):                                                       # one pooling at a time
        for _ in range(k):
            h, w = h // 2, w // 2
        return c * h * w

    assert check.flat_features(step_by_step).passed
    assert check.flat_features(lambda c, h, w, k: int(c * math.floor(h / 2 ** k) * math.floor(w / 2 ** k))).passed


@pytest.mark.parametrize("fn, hint", [
    (lambda c, h, w, k: c * h * w, "ignored the pooling"),
    (lambda c, h, w, k: (h // 2 ** k) * (w // 2 ** k), "forgot the channels"),
    (lambda c, h, w, k: c * (h // 2) * (w // 2), "halved only once"),
    (lambda c, h, w, k: c * h * w // 2 ** k, "shrinks too slowly"),
    (lambda c, h, w, k: c * (h / 2 ** k) * (w / 2 ** k), "not a whole number"),                 # float division
    (lambda c, h, w, k: int(c * h * w / 4 ** k), "too large when height or width"),             # area / 4**k
    (lambda c, h, w, k: c * math.ceil(h / 2 ** k) * math.ceil(w / 2 ** k), "round up"),         # ceil_mode
    (lambda c, h, w, k: c * round(h / 2 ** k) * round(w / 2 ** k), "nearest whole number"),
    (lambda c, h, w, k: float(c * (h // 2 ** k) * (w // 2 ** k)), "return an int"),            # right value, float
])
def test_flat_features_rejects_plausible_wrong_answers(fn, hint):
    r = check.flat_features(fn)
    assert r.status == "fail" and hint in r.message, r.message


def test_flat_features_second_hint_and_stub():
    fn = lambda c, h, w, k: c * math.ceil(h / 2 ** k) * math.ceil(w / 2 ** k)   # noqa: E731
    check.flat_features(fn)
    assert "(hint 2 of 2)" in check.flat_features(fn).message
    assert check.flat_features(_stub).status == "todo"
